"""``SmoothieLLM``: a LlamaIndex ``LLM`` that routes each call across candidate LLMs.

* ``mode="select"`` (test-time): every candidate answers, Smoothie scores the answers
  and the best one is returned. Costs one call per candidate; streaming yields the
  selected answer as one chunk (all answers are needed before choosing).
* ``mode="route"`` (train-time): :meth:`SmoothieLLM.calibrate` once on unlabeled
  prompts; each call is then sent to the one candidate whose nearest calibration
  prompts score best, and streams natively. If that candidate fails before its first
  token, the next-highest-weighted candidate is tried.

The decision (a :class:`smoothie_core.Decision` as a dict) is in
``response.additional_kwargs["smoothie"]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SerializeAsAny, field_validator
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM

from llamaindex_smoothie._common import NNeighbors, resolve_auto_neighbors, unique_names
from llamaindex_smoothie._runner import Errors, acall_all, arun_grid, call_all, run_grid
from llamaindex_smoothie._texts import messages_text
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.router import CalibrationReport, Decision, Router

__all__ = ["SmoothieLLM"]

R = TypeVar("R", ChatResponse, CompletionResponse)


def _text(response: ChatResponse | CompletionResponse) -> str:
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    return response.text or ""


def _annotated(response: R, decision: Decision) -> R:
    """A copy of ``response`` with the decision in ``additional_kwargs["smoothie"]``."""
    out = response.model_copy()
    out.additional_kwargs = {**(response.additional_kwargs or {}), "smoothie": decision.to_dict()}
    return out


def _one_chunk(response: R) -> R:
    """A finished response as a single streaming chunk (delta = whole text)."""
    out = response.model_copy()
    out.delta = _text(response)
    return out


class SmoothieLLM(LLM):
    """Route LlamaIndex ``chat``/``complete`` calls across candidate LLMs with Smoothie.

    Parameters
    ----------
    llms : mapping of str to LLM, or sequence of LLM
        At least 3 candidates. A sequence is named by each model's
        ``metadata.model_name`` (which must then be distinct).
    mode : {"select", "route"}, default="select"
        See the module docstring.
    embedder : Embedder or BaseEmbedding, optional
        Default: the offline all-MiniLM-L6-v2.
    n_neighbors : int or None
        Select mode: None/1 scores each call's answers alone, ``k > 1`` adds the nearest
        pooled calls. Route mode: set by :meth:`calibrate` (``"auto"`` by default).
    update_pool : bool, default=False
        Select mode: add each fully answered call to the pool.
    timeout : float or None
        Seconds to wait for each candidate in select mode.
    router : smoothie_core.Router, optional
        A ready router (e.g. from :meth:`load`); its candidates must be the LLM names.

    Notes
    -----
    :attr:`metadata` is the conservative intersection of the candidates' metadata:
    the smallest context window and output budget, ``is_chat_model`` only if all
    candidates are chat models, and ``is_function_calling_model=False`` (tool calls
    are not routed).

    Examples
    --------
    >>> from llama_index.core.llms import ChatMessage, CustomLLM, LLMMetadata
    >>> from llama_index.core.llms import CompletionResponse
    >>> from smoothie_core import HashingEmbedder
    >>> class Fixed(CustomLLM):
    ...     answer: str
    ...     @property
    ...     def metadata(self) -> LLMMetadata:
    ...         return LLMMetadata(model_name="fixed")
    ...     def complete(self, prompt, formatted=False, **kwargs):
    ...         return CompletionResponse(text=self.answer)
    ...     def stream_complete(self, prompt, formatted=False, **kwargs):
    ...         yield CompletionResponse(text=self.answer, delta=self.answer)
    >>> llm = SmoothieLLM({"a": Fixed(answer="Paris is the capital of France."),
    ...                    "b": Fixed(answer="The capital of France is Paris."),
    ...                    "c": Fixed(answer="Turtles all the way down.")},
    ...                   embedder=HashingEmbedder())
    >>> response = llm.complete("What is the capital of France?")
    >>> response.additional_kwargs["smoothie"]["selected"] in {"a", "b"}
    True
    """

    llms: dict[str, SerializeAsAny[LLM]] = Field(description="Candidate LLMs by name.")
    mode: Literal["select", "route"] = Field(default="select", description="select or route.")
    n_neighbors: int | None = Field(default=None, description="Smoothie-Local neighbourhood size.")
    update_pool: bool = Field(default=False, description="Add select-mode calls to the pool.")
    timeout: float | None = Field(default=None, description="Per-candidate timeout (select mode).")

    _router: Router = PrivateAttr()
    _embedder: Embedder | None = PrivateAttr(default=None)
    _max_pool_size: int | None = PrivateAttr(default=None)
    _default: str | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        llms: Mapping[str, LLM] | Sequence[LLM],
        *,
        mode: Literal["select", "route"] = "select",
        embedder: Embedder | BaseEmbedding | None = None,
        n_neighbors: int | None = None,
        update_pool: bool = False,
        max_pool_size: int | None = None,
        default: str | None = None,
        timeout: float | None = None,
        router: Router | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(  # type: ignore[call-arg]
            llms=llms,
            mode=mode,
            n_neighbors=n_neighbors if router is None else router.n_neighbors,
            update_pool=update_pool,
            timeout=timeout,
            **kwargs,
        )
        names = list(self.llms)
        self._embedder = as_embedder(embedder)
        self._max_pool_size = max_pool_size
        self._default = default
        if router is None:
            router = self._new_router(n_neighbors)
        elif list(router.candidates) != names:
            raise ValueError(
                f"`router` candidates {router.candidates} must equal the LLM names {names} "
                "(same order)."
            )
        self._router = router

    @field_validator("llms", mode="before")
    @classmethod
    def _name_llms(cls, value: Any) -> dict[str, Any]:
        if isinstance(value, Mapping):
            items = dict(value)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            names = [getattr(getattr(v, "metadata", None), "model_name", None) for v in value]
            if len(set(names)) != len(names):
                raise ValueError(
                    f"Candidate LLMs are named by metadata.model_name, which repeats ({names}); "
                    "pass a dict {name: llm} instead."
                )
            items = dict(zip(names, value, strict=True))
        else:
            raise TypeError(
                f"`llms` must be a dict of name -> LLM or a list of LLMs; got {type(value).__name__}."
            )
        bad = {k: type(v).__name__ for k, v in items.items() if not isinstance(v, LLM)}
        if bad:
            raise TypeError(f"Every candidate must be a llama_index LLM; got {bad}.")
        unique_names(list(items), "candidate LLM")
        return items

    def _new_router(self, n_neighbors: int | None) -> Router:
        return Router(
            list(self.llms),
            embedder=self._embedder,
            n_neighbors=n_neighbors,
            max_pool_size=self._max_pool_size,
            default=self._default,
        )

    @classmethod
    def class_name(cls) -> str:
        return "SmoothieLLM"

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router`."""
        return self._router

    @property
    def metadata(self) -> LLMMetadata:
        """Conservative intersection of the candidates' metadata (see Notes)."""
        metas = [llm.metadata for llm in self.llms.values()]
        roles = {m.system_role for m in metas}
        return LLMMetadata(
            context_window=min(m.context_window for m in metas),
            num_output=min(m.num_output for m in metas),
            is_chat_model=all(m.is_chat_model for m in metas),
            is_function_calling_model=False,
            model_name=f"smoothie[{','.join(self.llms)}]",
            system_role=roles.pop() if len(roles) == 1 else MessageRole.SYSTEM,
        )

    # ------------------------------------------------------------ calibration
    def calibrate_from_answers(
        self,
        prompts: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        *,
        n_neighbors: NNeighbors = "auto",
    ) -> CalibrationReport:
        """Fit route mode from precomputed answers (``answers[s][name]`` for ``prompts[s]``)."""
        rows = [dict(r) for r in answers]
        k = resolve_auto_neighbors(n_neighbors, [{n: r.get(n) for n in self.llms} for r in rows])
        router = self._new_router(k)
        report = router.calibrate(list(prompts), rows)
        self._router = router
        self.n_neighbors = k
        return report

    def calibrate(
        self,
        prompts: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> tuple[CalibrationReport, Errors]:
        """Ask every candidate every prompt (as one user message), then fit route mode.

        Returns the calibration report and the per-prompt errors (failures never stop
        the run; prompts missing an answer are left out).
        """
        names = list(self.llms)

        def call(name: str, prompt: str) -> str:
            return self._check_text(
                self.llms[name].chat([ChatMessage(role="user", content=prompt)])
            )

        answers, errors = run_grid(
            list(prompts), names, call, max_concurrency=max_concurrency, show_progress=show_progress
        )
        return self.calibrate_from_answers(prompts, answers, n_neighbors=n_neighbors), errors

    async def acalibrate(
        self,
        prompts: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> tuple[CalibrationReport, Errors]:
        """Async :meth:`calibrate` (at most ``max_concurrency`` calls in flight)."""
        names = list(self.llms)

        async def call(name: str, prompt: str) -> str:
            msg = [ChatMessage(role="user", content=prompt)]
            return self._check_text(await self.llms[name].achat(msg))

        answers, errors = await arun_grid(
            list(prompts), names, call, max_concurrency=max_concurrency, show_progress=show_progress
        )
        report = await asyncio.to_thread(
            self.calibrate_from_answers, prompts, answers, n_neighbors=n_neighbors
        )
        return report, errors

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibrated/pooled state (no pickle, atomic)."""
        return self._router.save(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        llms: Mapping[str, LLM] | Sequence[LLM],
        *,
        embedder: Embedder | BaseEmbedding | None = None,
        mode: Literal["select", "route"] = "route",
        **kwargs: Any,
    ) -> SmoothieLLM:
        """Load a state saved by :meth:`save` for the same candidate names (same order)."""
        emb = as_embedder(embedder) or default_embedder()
        names = list(cls._name_llms(llms))
        router = Router.load(path, candidates=names, embedder=emb)
        return cls(llms, mode=mode, embedder=emb, router=router, **kwargs)

    # -------------------------------------------------------------- deciding
    @staticmethod
    def _check_text(response: ChatResponse | CompletionResponse) -> str:
        text = _text(response)
        if not text.strip():
            raise ValueError("the candidate returned an empty answer")
        return text

    def _order(self, decision: Decision) -> list[str]:
        return sorted(self.llms, key=lambda n: -decision.weights.get(n, 0.0))

    @staticmethod
    def _rerouted(decision: Decision, chosen: str, errors: dict[str, str]) -> Decision:
        if chosen == decision.selected:
            return decision
        return dataclasses.replace(
            decision,
            selected=chosen,
            failed=list(errors),
            errors=dict(errors),
            fallback=f"{list(errors)} failed; used the next-highest weight",
        )

    def _all_failed(self, errors: Mapping[str, str]) -> RuntimeError:
        return RuntimeError(f"Every candidate LLM failed; errors: {dict(errors)}.")

    def _selected(self, text: str, results: dict[str, R], errors: dict[str, str]) -> R:
        answers: dict[str, str | None] = {}
        for name in self.llms:
            if name in results:
                try:
                    answers[name] = self._check_text(results[name])
                except ValueError as err:
                    errors[name] = f"ValueError: {err}"
        if not any(answers.values()):
            raise self._all_failed(errors)
        with self._lock:  # the pool may grow (update_pool): one select at a time
            decision = self._router.select(
                text, answers, errors=errors, update_pool=self.update_pool
            )
        emit_decision(type(self).__name__, text, decision)
        return _annotated(results[decision.selected], decision)

    def _respond(self, text: str, call: Callable[[str], R]) -> R:
        if self.mode == "route":
            decision = self._router.route(text)
            errors: dict[str, str] = {}
            for name in self._order(decision):
                try:
                    response = call(name)
                except Exception as err:
                    errors[name] = f"{type(err).__name__}: {err}"
                    continue
                decision = self._rerouted(decision, name, errors)
                emit_decision(type(self).__name__, text, decision)
                return _annotated(response, decision)
            raise self._all_failed(errors)
        results, errors = call_all(list(self.llms), call, timeout=self.timeout)
        return self._selected(text, results, errors)

    async def _arespond(self, text: str, call: Callable[[str], Awaitable[R]]) -> R:
        if self.mode == "route":
            decision = await asyncio.to_thread(self._router.route, text)
            errors: dict[str, str] = {}
            for name in self._order(decision):
                try:
                    response = await call(name)
                except Exception as err:
                    errors[name] = f"{type(err).__name__}: {err}"
                    continue
                decision = self._rerouted(decision, name, errors)
                emit_decision(type(self).__name__, text, decision)
                return _annotated(response, decision)
            raise self._all_failed(errors)
        results, errors = await acall_all(list(self.llms), call, timeout=self.timeout)
        return await asyncio.to_thread(self._selected, text, results, errors)

    def _stream(
        self, text: str, call: Callable[[str], Generator[R, None, None]]
    ) -> Generator[R, None, None]:
        """Route mode: the chosen candidate's own stream (next candidate if it fails before a chunk)."""
        decision = self._router.route(text)
        errors: dict[str, str] = {}
        for name in self._order(decision):
            try:
                stream = call(name)
                first = next(stream, None)
            except Exception as err:
                errors[name] = f"{type(err).__name__}: {err}"
                continue
            chosen = self._rerouted(decision, name, errors)
            emit_decision(type(self).__name__, text, chosen)
            if first is not None:
                yield _annotated(first, chosen)
                for chunk in stream:
                    yield _annotated(chunk, chosen)
            return
        raise self._all_failed(errors)

    async def _astream(
        self, text: str, call: Callable[[str], Awaitable[AsyncGenerator[R, None]]]
    ) -> AsyncGenerator[R, None]:
        decision = await asyncio.to_thread(self._router.route, text)
        errors: dict[str, str] = {}
        for name in self._order(decision):
            try:
                stream = await call(name)
                first = await anext(stream, None)
            except Exception as err:
                errors[name] = f"{type(err).__name__}: {err}"
                continue
            chosen = self._rerouted(decision, name, errors)
            emit_decision(type(self).__name__, text, chosen)
            if first is not None:
                yield _annotated(first, chosen)
                async for chunk in stream:
                    yield _annotated(chunk, chosen)
            return
        raise self._all_failed(errors)

    # ------------------------------------------------------------ LLM methods
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._respond(
            messages_text(messages), lambda n: self.llms[n].chat(messages, **kwargs)
        )

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._respond(
            prompt, lambda n: self.llms[n].complete(prompt, formatted=formatted, **kwargs)
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        text = messages_text(messages)
        if self.mode == "route":
            return self._stream(text, lambda n: self.llms[n].stream_chat(messages, **kwargs))

        def gen() -> ChatResponseGen:
            yield _one_chunk(self._respond(text, lambda n: self.llms[n].chat(messages, **kwargs)))

        return gen()

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        if self.mode == "route":
            return self._stream(
                prompt,
                lambda n: self.llms[n].stream_complete(prompt, formatted=formatted, **kwargs),
            )

        def gen() -> CompletionResponseGen:
            yield _one_chunk(
                self._respond(
                    prompt, lambda n: self.llms[n].complete(prompt, formatted=formatted, **kwargs)
                )
            )

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._arespond(
            messages_text(messages), lambda n: self.llms[n].achat(messages, **kwargs)
        )

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await self._arespond(
            prompt, lambda n: self.llms[n].acomplete(prompt, formatted=formatted, **kwargs)
        )

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        text = messages_text(messages)
        if self.mode == "route":
            return self._astream(text, lambda n: self.llms[n].astream_chat(messages, **kwargs))

        async def gen() -> ChatResponseAsyncGen:
            response = await self._arespond(text, lambda n: self.llms[n].achat(messages, **kwargs))
            yield _one_chunk(response)

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        if self.mode == "route":
            return self._astream(
                prompt,
                lambda n: self.llms[n].astream_complete(prompt, formatted=formatted, **kwargs),
            )

        async def gen() -> CompletionResponseAsyncGen:
            response = await self._arespond(
                prompt, lambda n: self.llms[n].acomplete(prompt, formatted=formatted, **kwargs)
            )
            yield _one_chunk(response)

        return gen()
