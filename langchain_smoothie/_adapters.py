"""Candidate adapters: how one input reaches each candidate, and how answers read back.

The engine is shared: ``_select`` (the fan-out), ``_route`` (decision, fallback chain,
streaming) and ``_fit`` (the calibration grid) call candidates only through
:mod:`smoothie_core.orchestration` and only through a :class:`Request`, one input to a
front door. The two front doors differ only here:

* :class:`ChatRequest` (``SmoothieRouter``): candidates are chat models, the input is a
  list of messages; select mode invokes each as a child run with streaming off; route
  mode calls the winner *inside* the router's own LLM run (its ``_generate``/``_stream``),
  so its tokens are the router's.
* :class:`RunnableRequest` (``SmoothieRunnable``): candidates are any runnables whose
  output is a message or a str, the input is whatever they take; every candidate is
  invoked (or, in route mode, streamed) as a child run of the ``SmoothieRunnable``'s run.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    AsyncRunManager,
    CallbackManagerForLLMRun,
    RunManager,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict

from langchain_smoothie._callbacks import ROUTE_TAGS, as_chunk, child_config
from langchain_smoothie._candidates import (
    ainvoke_candidate,
    bound_runnable,
    direct_kwargs,
    for_call,
    invoke_candidate,
)
from langchain_smoothie._render import answer_text
from smoothie_core.exceptions import EmptyAnswerError

if TYPE_CHECKING:
    from langchain_smoothie.chat_models import SmoothieRouter
    from langchain_smoothie.runnables import SmoothieRunnable

__all__ = ["ChatRequest", "Request", "RunnableRequest", "check_output", "fit_config"]

AnyRunManager = RunManager | AsyncRunManager
#: A started route-mode answer: its first chunk and the rest of its stream.
Started = tuple[Any, Iterator[Any]]
AStarted = tuple[Any, AsyncIterator[Any]]


def fit_config(base: RunnableConfig | None, name: str) -> RunnableConfig:
    """A calibration call of candidate ``name``: a run of its own under the caller's config."""
    config: RunnableConfig = dict(base or {})  # type: ignore[assignment]
    config["run_name"] = name
    config["metadata"] = {**(config.get("metadata") or {}), "smoothie_candidate": name}
    return config


async def _no_more() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover - makes this an async generator


class Request(ABC):
    """One input to a front door: the text Smoothie routes on, and the candidate calls.

    ``run_manager`` is the front door's run (candidates become its child runs); without
    one (calibration), each call is a run of its own under ``config``.
    """

    def __init__(
        self, text: str, run_manager: AnyRunManager | None, config: RunnableConfig | None
    ) -> None:
        self.text = text
        self.run_manager = run_manager
        self.config = config

    def candidate_config(self, name: str) -> RunnableConfig:
        """The config of one select-mode or calibration call of candidate ``name``."""
        if self.run_manager is not None:
            return child_config(self.run_manager, name)
        return fit_config(self.config, name)

    @property
    def sync_manager(self) -> RunManager | None:
        assert self.run_manager is None or isinstance(self.run_manager, RunManager)
        return self.run_manager

    @property
    def async_manager(self) -> AsyncRunManager | None:
        assert self.run_manager is None or isinstance(self.run_manager, AsyncRunManager)
        return self.run_manager

    # ------------------------------------------- select mode and calibration
    @abstractmethod
    def call(self, name: str) -> Any:
        """One attempt of candidate ``name`` as a run of its own: a usable answer (an
        empty one raises :class:`~smoothie_core.exceptions.EmptyAnswerError`)."""

    @abstractmethod
    async def acall(self, name: str) -> Any:
        """Async :meth:`call`."""

    @staticmethod
    def answer_text(answer: Any) -> str:
        """What Smoothie compares: a message's text and tool calls, or the str."""
        return answer_text(answer) if isinstance(answer, BaseMessage) else str(answer)

    @staticmethod
    def usage(answer: Any) -> dict[str, Any] | None:
        """The answer's token usage, when it is a message that reports one."""
        usage = getattr(answer, "usage_metadata", None)
        return dict(usage) if usage else None

    @abstractmethod
    def selected(self, answer: Any, meta: dict[str, Any]) -> Any:
        """The select-mode output: the chosen ``answer`` carrying the decision ``meta``."""

    # ------------------------------------------------------------ route mode
    @abstractmethod
    def route_call(self, name: str) -> Any:
        """Candidate ``name``'s route-mode answer (returned as it is, even if empty)."""

    @abstractmethod
    async def aroute_call(self, name: str) -> Any:
        """Async :meth:`route_call`."""

    @abstractmethod
    def route_start(self, name: str) -> Started:
        """Start ``name``'s streamed answer: its first chunk and the rest."""

    @abstractmethod
    async def aroute_start(self, name: str) -> AStarted:
        """Async :meth:`route_start`."""

    @abstractmethod
    def routed(self, result: Any, meta: dict[str, Any]) -> Any:
        """A route-mode result carrying the decision ``meta``."""

    @abstractmethod
    def routed_chunk(self, chunk: Any, meta: dict[str, Any] | None) -> Any:
        """A streamed chunk; the first one (``meta`` given) carries the decision."""


# --------------------------------------------------------------- chat models
class ChatRequest(Request):
    """``SmoothieRouter``'s candidates (chat models) on one list of messages."""

    def __init__(
        self,
        owner: SmoothieRouter,
        messages: list[BaseMessage],
        *,
        text: str,
        stop: list[str] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        config: RunnableConfig | None = None,
    ) -> None:
        super().__init__(text, run_manager, config)
        self.owner = owner
        self.messages = messages
        self.stop = stop if stop is not None else owner.stop
        self.kwargs = dict(kwargs or {})

    def _child(self, name: str) -> Runnable[Any, Any]:
        """Candidate ``name`` prepared to run as a child run: streaming off (its tokens
        must not reach the router's event stream), the router's bound kwargs on."""
        model = for_call(self.owner.models[name], self.owner.forwarded_settings, child=True)
        return bound_runnable(model, self.kwargs)

    def call(self, name: str) -> AIMessage:
        config = self.candidate_config(name)
        return invoke_candidate(self._child(name), name, self.messages, config, self.stop)

    async def acall(self, name: str) -> AIMessage:
        config = self.candidate_config(name)
        return await ainvoke_candidate(self._child(name), name, self.messages, config, self.stop)

    def selected(self, answer: AIMessage, meta: dict[str, Any]) -> AIMessage:
        # Each candidate's child run reported its own usage; repeating the winner's on the
        # router's message would count it twice (e.g. in get_usage_metadata_callback).
        return answer.model_copy(
            update={
                "usage_metadata": None,
                "response_metadata": {**answer.response_metadata, "smoothie": meta},
            }
        )

    # ------------------------------------------------------------ route mode
    def _target(self, name: str) -> tuple[BaseChatModel, dict[str, Any] | None]:
        """The winner as called inside the router's run, and the kwargs to call its
        ``_generate``/``_stream`` with (None: it must run as a child run instead)."""
        model = for_call(self.owner.models[name], self.owner.forwarded_settings, child=False)
        return model, direct_kwargs(model, bound_runnable(model, self.kwargs))

    def _llm_manager(self) -> CallbackManagerForLLMRun | None:
        rm = self.run_manager
        assert rm is None or isinstance(rm, CallbackManagerForLLMRun)
        return rm

    def _allm_manager(self) -> AsyncCallbackManagerForLLMRun | None:
        rm = self.run_manager
        assert rm is None or isinstance(rm, AsyncCallbackManagerForLLMRun)
        return rm

    def route_call(self, name: str, *, in_stream: bool = False) -> ChatResult:
        """``name``'s answer. ``in_stream``: the answer becomes a stream chunk whose token
        event the caller sends, so the winner gets no run manager to send tokens with."""
        model, kw = self._target(name)
        if kw is None:
            out = self._child(name).invoke(
                self.messages, child_config(self.run_manager, name), stop=self.stop
            )
            return _child_result(name, out)
        if model.rate_limiter:
            model.rate_limiter.acquire(blocking=True)
        manager = None if in_stream else self._llm_manager()
        if manager is not None and "run_manager" in inspect.signature(model._generate).parameters:
            return model._generate(self.messages, stop=self.stop, run_manager=manager, **kw)
        return model._generate(self.messages, stop=self.stop, **kw)

    async def aroute_call(self, name: str, *, in_stream: bool = False) -> ChatResult:
        model, kw = self._target(name)
        if kw is None:
            out = await self._child(name).ainvoke(
                self.messages, child_config(self.run_manager, name), stop=self.stop
            )
            return _child_result(name, out)
        if model.rate_limiter:
            await model.rate_limiter.aacquire(blocking=True)
        manager = None if in_stream else self._allm_manager()
        return await model._agenerate(self.messages, stop=self.stop, run_manager=manager, **kw)

    def route_start(self, name: str) -> Started:
        model, kw = self._target(name)
        if kw is None or not _streams(model, async_api=False):
            message = self.route_call(name, in_stream=True).generations[0].message
            assert isinstance(message, AIMessage)
            return ChatGenerationChunk(message=as_chunk(message)), iter(())
        if model.rate_limiter:
            model.rate_limiter.acquire(blocking=True)
        rest = iter(model._stream(self.messages, stop=self.stop, **kw))
        first = next(rest, None)
        if first is None:
            raise ValueError("the stream ended before its first chunk")
        return first, rest

    async def aroute_start(self, name: str) -> AStarted:
        model, kw = self._target(name)
        if kw is None or not _streams(model, async_api=True):
            message = (await self.aroute_call(name, in_stream=True)).generations[0].message
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

    def routed(self, result: ChatResult, meta: dict[str, Any]) -> ChatResult:
        gen = result.generations[0]
        gen.message.response_metadata = {**gen.message.response_metadata, "smoothie": meta}
        return ChatResult(generations=[gen, *result.generations[1:]], llm_output=result.llm_output)

    def routed_chunk(
        self, chunk: ChatGenerationChunk, meta: dict[str, Any] | None
    ) -> ChatGenerationChunk:
        if meta is not None:
            chunk.message.response_metadata = {**chunk.message.response_metadata, "smoothie": meta}
        return chunk


def _streams(model: BaseChatModel, *, async_api: bool) -> bool:
    """Whether ``model`` implements token streaming (and does not disable it)."""
    native = type(model)._stream is not BaseChatModel._stream
    if async_api:
        native = native or type(model)._astream is not BaseChatModel._astream
    return native and model.disable_streaming is not True


def _child_result(name: str, out: Any) -> ChatResult:
    """The answer of a candidate called as a child run (its usage was reported by that run)."""
    if not isinstance(out, AIMessage):
        raise TypeError(f"candidate {name!r} returned {type(out).__name__}, expected an AIMessage")
    return ChatResult(
        generations=[ChatGeneration(message=out.model_copy(update={"usage_metadata": None}))]
    )


# ----------------------------------------------------------------- runnables
def check_output(name: str, out: Any, *, allow_empty: bool = False) -> BaseMessage | str:
    """``out`` if a ``SmoothieRunnable`` can use it: a message or a str, with text (or
    tool calls) unless ``allow_empty`` (route mode returns the winner's answer as it is)."""
    if isinstance(out, BaseMessage):
        text = answer_text(out)
    elif isinstance(out, str):
        text = out
    else:
        raise TypeError(
            f"candidate {name!r} returned {type(out).__name__}; a SmoothieRunnable's "
            "candidates must return a message or a str (end the chain with a chat model, "
            "or an output parser such as StrOutputParser)."
        )
    if not allow_empty and not text.strip():
        raise EmptyAnswerError
    return out


def _with_decision(out: Any, meta: dict[str, Any]) -> Any:
    """A message output carries the decision in ``response_metadata["smoothie"]``."""
    if isinstance(out, BaseMessage):
        return out.model_copy(
            update={"response_metadata": {**out.response_metadata, "smoothie": meta}}
        )
    return out


class RunnableRequest(Request):
    """``SmoothieRunnable``'s candidates (any runnables) on one input.

    Every call is a child run of the ``SmoothieRunnable``'s run (or, in calibration, a
    run of its own under the caller's config), invoked with the caller's ``configurable``
    and other config values.
    """

    def __init__(
        self,
        owner: SmoothieRunnable,
        input: Any,
        *,
        text: str,
        kwargs: Mapping[str, Any] | None = None,
        run_manager: AnyRunManager | None = None,
        config: RunnableConfig | None = None,
    ) -> None:
        super().__init__(text, run_manager, config)
        self.owner = owner
        self.input = input
        self.kwargs = dict(kwargs or {})

    def _config(self, name: str, *, route: bool = False) -> RunnableConfig:
        """``config`` (the caller's, minus its callbacks and run identity) for one call."""
        base = {
            k: v
            for k, v in (self.config or {}).items()
            if k not in ("callbacks", "run_name", "run_id", "tags", "metadata")
        }
        if self.run_manager is None:
            own = fit_config(self.config, name)
        else:
            own = (
                child_config(self.run_manager, name, ROUTE_TAGS)
                if route
                else (child_config(self.run_manager, name))
            )
        return {**base, **own}  # type: ignore[typeddict-item]

    def _runnable(self, name: str) -> Runnable[Any, Any]:
        return self.owner.candidates[name]

    def call(self, name: str) -> BaseMessage | str:
        out = self._runnable(name).invoke(self.input, self._config(name), **self.kwargs)
        return check_output(name, out)

    async def acall(self, name: str) -> BaseMessage | str:
        out = await self._runnable(name).ainvoke(self.input, self._config(name), **self.kwargs)
        return check_output(name, out)

    def _decided(self, out: Any, meta: dict[str, Any]) -> Any:
        out = _with_decision(out, meta)
        return AddableDict(output=out, smoothie=meta) if self.owner.include_decision else out

    def selected(self, answer: Any, meta: dict[str, Any]) -> Any:
        return self._decided(answer, meta)

    def route_call(self, name: str) -> Any:
        out = self._runnable(name).invoke(self.input, self._config(name, route=True), **self.kwargs)
        return check_output(name, out, allow_empty=True)

    async def aroute_call(self, name: str) -> Any:
        config = self._config(name, route=True)
        out = await self._runnable(name).ainvoke(self.input, config, **self.kwargs)
        return check_output(name, out, allow_empty=True)

    def route_start(self, name: str) -> Started:
        config = self._config(name, route=True)
        rest = iter(self._runnable(name).stream(self.input, config, **self.kwargs))
        first = next(rest, None)
        if first is None:
            raise ValueError("the stream ended before its first chunk")
        return check_output(name, first, allow_empty=True), rest

    async def aroute_start(self, name: str) -> AStarted:
        config = self._config(name, route=True)
        rest = self._runnable(name).astream(self.input, config, **self.kwargs).__aiter__()
        try:
            first = await rest.__anext__()
        except StopAsyncIteration:
            raise ValueError("the stream ended before its first chunk") from None
        return check_output(name, first, allow_empty=True), rest

    def routed(self, result: Any, meta: dict[str, Any]) -> Any:
        return self._decided(result, meta)

    def routed_chunk(self, chunk: Any, meta: dict[str, Any] | None) -> Any:
        if meta is not None:
            return self._decided(chunk, meta)
        return AddableDict(output=chunk) if self.owner.include_decision else chunk


def as_output_chunk(out: Any) -> Any:
    """A finished output as one stream chunk (an ``AIMessage`` becomes an
    ``AIMessageChunk``, so chunks add up as a streamed answer's do)."""
    if isinstance(out, AIMessage) and not isinstance(out, BaseMessageChunk):
        return as_chunk(out)
    if isinstance(out, AddableDict):
        return AddableDict({k: as_output_chunk(v) for k, v in out.items()})
    return out
