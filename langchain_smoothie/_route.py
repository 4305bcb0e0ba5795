"""Route mode: Smoothie's calibrated weights pick one candidate; only it is called.

The winner is called directly (its ``_generate``/``_stream``) inside the router's own
run, so its tokens stream through as the router's and its usage is counted once. If it
fails, the next-best candidate is tried (``fallback_on_error``), through
:func:`smoothie_core.orchestration.call_first` (per-attempt ``timeout`` and
``max_retries``; a streamed answer's ``timeout`` bounds the wait for its first chunk,
since a started stream cannot be restarted without repeating tokens). Sync and async
share everything but the call.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable

from langchain_smoothie._callbacks import aemit, as_chunk, child_config, emit
from langchain_smoothie._candidates import bound_runnable, direct_kwargs, for_call
from smoothie_core import Decision
from smoothie_core.cost import choose
from smoothie_core.orchestration import acall_first, call_first, fallback_order

if TYPE_CHECKING:
    from langchain_smoothie.chat_models import SmoothieRouter

__all__ = ["Chain", "decide"]

RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun
Started = tuple[ChatGenerationChunk, Iterator[ChatGenerationChunk]]
AStarted = tuple[ChatGenerationChunk, AsyncIterator[ChatGenerationChunk]]


def decide(owner: SmoothieRouter, text: str) -> tuple[Decision, dict[str, Any]]:
    """The route decision for ``text``, cost-aware when ``prices`` and ``cost_tradeoff``
    are set (:func:`smoothie_core.cost.choose`), and the extra metadata (``scores``,
    ``prices``)."""
    decision = owner._core_route(text)
    return choose(decision, owner.prices, owner.cost_tradeoff, owner.candidate_names)


def _streams(model: BaseChatModel, *, async_api: bool) -> bool:
    """Whether ``model`` implements token streaming (and does not disable it)."""
    native = type(model)._stream is not BaseChatModel._stream
    if async_api:
        native = native or type(model)._astream is not BaseChatModel._astream
    return native and model.disable_streaming is not True


async def _no_more() -> AsyncIterator[ChatGenerationChunk]:
    return
    yield  # pragma: no cover - makes this an async generator


class Chain:
    """One route-mode request: the decision, the order to try candidates in, and how to
    call one of them (directly when possible, else as a child run)."""

    def __init__(
        self,
        owner: SmoothieRouter,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: RunManager | None,
        kwargs: Mapping[str, Any],
        decided: tuple[Decision, dict[str, Any]],
    ) -> None:
        self.owner = owner
        self.messages = messages
        self.stop = stop if stop is not None else owner.stop
        self.run_manager = run_manager
        self.kwargs = kwargs
        self.decision, self.extra = decided
        scores: Mapping[str, float] = self.extra.get("scores", self.decision.weights)
        order = fallback_order(self.decision.selected, scores, owner.candidate_names)
        self.order = order if owner.fallback_on_error else order[:1]

    # ------------------------------------------------------------- targets
    def _target(self, name: str) -> tuple[BaseChatModel, Runnable[Any, Any], dict[str, Any] | None]:
        model = for_call(self.owner.models[name], self.owner.forwarded_settings, child=False)
        runnable = bound_runnable(model, self.kwargs)
        return model, runnable, direct_kwargs(model, runnable)

    def _child(self, name: str) -> Runnable[Any, Any]:
        """Candidate ``name`` prepared to run as a child run (when it cannot be called
        directly: a provider's ``bind_tools`` returned more than a plain binding)."""
        model = for_call(self.owner.models[name], self.owner.forwarded_settings, child=True)
        return bound_runnable(model, self.kwargs)

    def meta(self, name: str, errors: Mapping[str, str]) -> dict[str, Any]:
        """The decision as answered by ``name`` after ``errors`` (the ones tried before)."""
        final = dataclasses.replace(
            self.decision,
            selected=name,
            failed=list(errors),
            errors=dict(errors),
            fallback=(
                f"{self.order[0]!r} failed; answered by the next best, {name!r}"
                if errors
                else self.decision.fallback
            ),
        )
        return {**final.to_dict(), **self.extra}

    # ---------------------------------------------------------------- calls
    @property
    def _sync_manager(self) -> CallbackManagerForLLMRun | None:
        assert self.run_manager is None or isinstance(self.run_manager, CallbackManagerForLLMRun)
        return self.run_manager

    @property
    def _async_manager(self) -> AsyncCallbackManagerForLLMRun | None:
        rm = self.run_manager
        assert rm is None or isinstance(rm, AsyncCallbackManagerForLLMRun)
        return rm

    def call(self, name: str, *, in_stream: bool = False) -> ChatResult:
        """``name``'s answer. ``in_stream``: the answer becomes a stream chunk whose token
        event the caller sends, so the winner gets no run manager to send tokens with."""
        model, _, kw = self._target(name)
        if kw is None:
            out = self._child(name).invoke(
                self.messages, child_config(self.run_manager, name), stop=self.stop
            )
            return _child_result(name, out)
        if model.rate_limiter:
            model.rate_limiter.acquire(blocking=True)
        manager = None if in_stream else self._sync_manager
        if manager is not None and "run_manager" in inspect.signature(model._generate).parameters:
            return model._generate(self.messages, stop=self.stop, run_manager=manager, **kw)
        return model._generate(self.messages, stop=self.stop, **kw)

    async def acall(self, name: str, *, in_stream: bool = False) -> ChatResult:
        """Async :meth:`call`."""
        model, _, kw = self._target(name)
        if kw is None:
            out = await self._child(name).ainvoke(
                self.messages, child_config(self.run_manager, name), stop=self.stop
            )
            return _child_result(name, out)
        if model.rate_limiter:
            await model.rate_limiter.aacquire(blocking=True)
        manager = None if in_stream else self._async_manager
        return await model._agenerate(self.messages, stop=self.stop, run_manager=manager, **kw)

    def start(self, name: str) -> Started:
        """Start ``name``'s answer: its first chunk and the rest of its stream."""
        model, _, kw = self._target(name)
        if kw is None or not _streams(model, async_api=False):
            message = self.call(name, in_stream=True).generations[0].message
            assert isinstance(message, AIMessage)
            return ChatGenerationChunk(message=as_chunk(message)), iter(())
        if model.rate_limiter:
            model.rate_limiter.acquire(blocking=True)
        rest = iter(model._stream(self.messages, stop=self.stop, **kw))
        first = next(rest, None)
        if first is None:
            raise ValueError("the stream ended before its first chunk")
        return first, rest

    async def astart(self, name: str) -> AStarted:
        """Async :meth:`start`."""
        model, _, kw = self._target(name)
        if kw is None or not _streams(model, async_api=True):
            message = (await self.acall(name, in_stream=True)).generations[0].message
            assert isinstance(message, AIMessage)
            return ChatGenerationChunk(message=as_chunk(message)), _no_more()
        if model.rate_limiter:
            await model.rate_limiter.aacquire(blocking=True)
        rest = model._astream(self.messages, stop=self.stop, **kw).__aiter__()
        try:
            first = await rest.__anext__()
        except StopAsyncIteration:
            raise ValueError("the stream ended before its first chunk") from None
        return first, rest

    # ------------------------------------------------------------- pipelines
    def generate(self) -> ChatResult:
        """The first candidate in :attr:`order` that answers; the decision event is sent."""
        name, result, errors = call_first(self.order, self.call, self.owner.call_policy)
        meta = self.meta(name, errors)
        emit(self._sync_manager, meta)
        return _with_meta(result, meta)

    async def agenerate(self) -> ChatResult:
        name, result, errors = await acall_first(self.order, self.acall, self.owner.call_policy)
        meta = self.meta(name, errors)
        await aemit(self._async_manager, meta)
        return _with_meta(result, meta)

    def stream(self) -> Iterator[ChatGenerationChunk]:
        """The first candidate that starts answering, chunk by chunk; the decision is in
        the first chunk's ``response_metadata["smoothie"]`` (and sent as the event when
        this run's manager is known). A failure after the first chunk is raised: a
        restart on another candidate would repeat tokens already delivered."""
        name, (first, rest), errors = call_first(self.order, self.start, self.owner.call_policy)
        meta = self.meta(name, errors)
        emit(self._sync_manager, meta)
        first.message.response_metadata = {**first.message.response_metadata, "smoothie": meta}
        yield first
        yield from rest

    async def astream(self) -> AsyncIterator[ChatGenerationChunk]:
        """Async :meth:`stream`."""
        name, (first, rest), errors = await acall_first(
            self.order, self.astart, self.owner.call_policy
        )
        meta = self.meta(name, errors)
        await aemit(self._async_manager, meta)
        first.message.response_metadata = {**first.message.response_metadata, "smoothie": meta}
        yield first
        async for chunk in rest:
            yield chunk


def _with_meta(result: ChatResult, meta: dict[str, Any]) -> ChatResult:
    gen = result.generations[0]
    gen.message.response_metadata = {**gen.message.response_metadata, "smoothie": meta}
    return ChatResult(generations=[gen, *result.generations[1:]], llm_output=result.llm_output)


def _child_result(name: str, out: Any) -> ChatResult:
    """The answer of a candidate called as a child run (its usage was reported by that run)."""
    if not isinstance(out, AIMessage):
        raise TypeError(f"candidate {name!r} returned {type(out).__name__}, expected an AIMessage")
    return ChatResult(
        generations=[ChatGeneration(message=out.model_copy(update={"usage_metadata": None}))]
    )
