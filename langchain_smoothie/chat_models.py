"""``SmoothieRouter``: a LangChain chat model that picks among candidate chat models, label-free.

Two modes (see ``ARCHITECTURE.md``):

* ``mode="select"`` (test-time, the paper's strongest regime): every candidate answers
  every input, concurrently; the answers are embedded and scored with Smoothie and the
  best one is returned. Costs one call per candidate per input.
* ``mode="route"`` (train-time): :meth:`SmoothieRouter.fit` calibrates on unlabeled
  prompts; afterwards each input is embedded, its nearest calibration prompts give
  the candidates' weights, and only the winner is called (it streams natively).

All estimator logic lives in :class:`smoothie_core.Router`; this module translates
LangChain messages, tools, callbacks and runs into texts and back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any, Literal, Self

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import ContextThreadPoolExecutor
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from langchain_smoothie._calls import CallOutcome, acall_all, call_all
from langchain_smoothie._embeddings import as_embedder
from langchain_smoothie._render import answer_text, input_text
from smoothie_core import CalibrationReport, Decision, NotFittedError, Router
from smoothie_core.cost import check_prices, cost_scores
from smoothie_core.embedders import default_embedder
from smoothie_core.exceptions import AllCandidatesFailedError

__all__ = ["AllCandidatesFailedError", "SmoothieRouter"]

#: Name of the custom callback event that carries each decision.
DECISION_EVENT = "smoothie_decision"
#: Tag on candidate child runs. ``nostream`` keeps LangGraph's ``stream_mode="messages"``
#: from interleaving the candidates' tokens with the router's answer.
CANDIDATE_TAGS = ("smoothie:candidate", "nostream")


def _model_name(model: BaseChatModel) -> str | None:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(model, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def normalize_models(models: Any) -> dict[str, BaseChatModel]:
    """Candidates as an ordered dict name -> chat model (see :class:`SmoothieRouter`)."""
    if isinstance(models, Mapping):
        items = list(models.items())
    elif isinstance(models, Sequence) and not isinstance(models, str):
        items = []
        for i, model in enumerate(models):
            name = _model_name(model) if isinstance(model, BaseChatModel) else None
            if isinstance(model, BaseChatModel) and name is None:
                raise ValueError(
                    f"models[{i}] ({type(model).__name__}) has no `model_name`/`model` to name it "
                    "by; pass a dict name -> model instead."
                )
            items.append((name, model))
    else:
        raise ValueError(
            "`models` must be a list of chat models or a dict name -> chat model; got "
            f"{type(models).__name__}."
        )
    out: dict[str, BaseChatModel] = {}
    for name, model in items:
        if not isinstance(model, BaseChatModel):
            raise ValueError(
                f"Every candidate must be a langchain_core BaseChatModel; {name!r} is "
                f"{type(model).__name__}."
            )
        if not isinstance(name, str) or not name:
            raise ValueError(f"Candidate names must be non-empty strings; got {name!r}.")
        if name in out:
            raise ValueError(
                f"Duplicate candidate name {name!r}; names must be unique. Pass a dict "
                "name -> model to name candidates that share a model name."
            )
        out[name] = model
    return out


def _child_manager(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
    tags: Sequence[str] = (),
) -> CallbackManager | AsyncCallbackManager | None:
    """A callback manager whose runs nest under ``run_manager``'s run (LLM run managers
    have no ``get_child``; this mirrors ``ParentRunManager.get_child``)."""
    if run_manager is None:
        return None
    cls = (
        AsyncCallbackManager
        if isinstance(run_manager, AsyncCallbackManagerForLLMRun)
        else (CallbackManager)
    )
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    if tags:
        manager.add_tags(list(tags), inherit=False)
    return manager


def _as_chunk(message: AIMessage) -> AIMessageChunk:
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        tool_call_chunks=[
            {
                "name": tc["name"],
                "args": json.dumps(tc["args"]),
                "id": tc.get("id"),
                "index": i,
                "type": "tool_call_chunk",
            }
            for i, tc in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        id=message.id,
        chunk_position="last",
    )


class SmoothieRouter(BaseChatModel):
    """A chat model that answers with the best of several candidate chat models, label-free.

    Drop-in for any chat model: ``invoke``/``ainvoke``/``batch``/``stream``, chains
    (``router | parser``), ``bind_tools``, ``with_structured_output``, agents, callbacks
    and tracing all work. Every answer is the chosen candidate's own ``AIMessage``
    (content, tool calls, ``model_name``) with the decision in
    ``response_metadata["smoothie"]``: ``selected``, ``weights`` (name -> weight, sums
    to 1), ``mode``, ``failed``, ``errors``, ``n_neighbors``, ``fallback``; select mode
    adds ``usage`` (name -> that candidate's ``usage_metadata``), route mode adds
    ``scores`` when prices are set. The same dict is sent as the custom callback event
    ``"smoothie_decision"``.

    **select mode** calls every candidate concurrently (a bounded thread pool in sync
    code, ``asyncio.gather`` under a semaphore in async code) as child runs of the
    router's run, tagged ``smoothie:candidate``. A candidate that raises (after
    ``max_retries`` retries) or exceeds ``timeout`` is recorded in ``failed``/``errors``
    and the others still answer; with fewer than 3 answers the
    :meth:`smoothie_core.Router.select` fallbacks apply (one answer is returned as is;
    two: the pool's route-mode weights if there is a pool, else ``default``, else the
    first in candidate order); with none, :class:`AllCandidatesFailedError`. Token
    usage: each candidate's child run reports its own usage to callbacks and LangSmith,
    so the router's message carries ``usage_metadata=None`` (reporting the winner's
    usage again on the router's own run would count it twice, e.g. in
    ``get_usage_metadata_callback``); every candidate's usage is kept in
    ``response_metadata["smoothie"]["usage"]``. Select mode cannot stream token by
    token (it needs all answers first): ``disable_streaming`` defaults to True and
    ``stream`` yields the chosen answer as one chunk.

    **route mode** needs :meth:`fit` (or :meth:`load`). The winner is called directly
    through its ``_generate``/``_agenerate``/``_stream``/``_astream`` inside the
    router's run, so the router's run *is* the winner's call: its tokens stream
    through, and its ``usage_metadata`` stays on the message and is counted once. If
    the winner raises or times out, the next-best candidate is tried
    (``fallback_on_error``).

    Parameters
    ----------
    models : list of BaseChatModel or dict of str to BaseChatModel
        At least 3 candidates. From a list, names come from each model's
        ``model_name``/``model``; duplicate or missing names are an error (use a dict).
    mode : {"select", "route"}, default="select"
    n_neighbors : int or None, default=None
        route mode: None is Smoothie-Global (one weight vector for all inputs), ``k``
        averages the ``k`` nearest calibration prompts (Smoothie-Local). select mode:
        None/1 scores each input's answers on their own; ``k > 1`` adds the ``k - 1``
        nearest pooled inputs (from :meth:`fit` or ``update_pool``).
    embedder : smoothie_core Embedder, LangChain Embeddings, or None
        Embeds inputs and answers. None: the offline all-MiniLM-L6-v2 (loaded lazily).
    max_concurrency : int or None
        Candidate calls in flight at once: per input in select mode (None: all), and in
        :meth:`fit` (None: 8).
    timeout : float or None
        Seconds allowed per candidate call (a timed-out sync call finishes in a
        background thread; its result is discarded).
    max_retries : int, default=0
        Retries per failing candidate call (timeouts are not retried).
    default : str or None
        Candidate chosen when nothing distinguishes the candidates.
    abstain_below : float or None
        Fall back to ``default`` when a decision's reliability score is below this
        (see :class:`smoothie_core.Router`; each decision carries ``reliability``).
    update_pool : bool, default=False
        select mode: add every fully answered input to the pool (online Smoothie-Local;
        needs ``n_neighbors``), bounded by ``max_pool_size`` (oldest dropped first).
    max_pool_size : int or None, default=10_000
    prices : dict of str to float or None
        Cost per call of each candidate (any unit). With ``cost_tradeoff > 0``, route
        mode picks the highest ``weight - cost_tradeoff * price / max(prices)``
        (:func:`smoothie_core.cost.cost_scores`); an abstained decision (see
        ``abstain_below``) keeps its fallback. Select mode has already paid for every
        call and ignores prices.
    cost_tradeoff : float, default=0.0
    fallback_on_error : bool, default=True
        route mode: try the next-best candidate when the chosen one fails.
    model_name : str, default="smoothie-router"
        Reported as ``ls_model_name`` in traces.
    temperature, max_tokens, stop, streaming
        Standard chat-model parameters. ``stop`` is passed to every candidate;
        ``temperature``/``max_tokens`` are reported in traces only (set them on the
        candidates, whose providers interpret them).

    Examples
    --------
    >>> from langchain_smoothie import ScriptedChatModel, SmoothieRouter
    >>> from smoothie_core import HashingEmbedder
    >>> models = [
    ...     ScriptedChatModel(model_name="a", default_answer="Paris is the capital of France."),
    ...     ScriptedChatModel(model_name="b", default_answer="The capital of France is Paris."),
    ...     ScriptedChatModel(model_name="c", default_answer="Bananas are rich in potassium."),
    ... ]
    >>> router = SmoothieRouter(models=models, embedder=HashingEmbedder())
    >>> message = router.invoke("What is the capital of France?")
    >>> message.response_metadata["smoothie"]["selected"] in {"a", "b"}
    True
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    models: dict[str, BaseChatModel]
    mode: Literal["select", "route"] = "select"
    n_neighbors: int | None = None
    embedder: Any = Field(default=None, exclude=True)
    max_concurrency: int | None = None
    timeout: float | None = None
    max_retries: int = 0
    default: str | None = None
    abstain_below: float | None = None
    update_pool: bool = False
    max_pool_size: int | None = 10_000
    prices: dict[str, float] | None = None
    cost_tradeoff: float = 0.0
    fallback_on_error: bool = True
    model_name: str = Field(default="smoothie-router", alias="model")
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    streaming: bool = False

    _router: Router = PrivateAttr()
    _lock: threading.RLock = PrivateAttr(default_factory=threading.RLock)
    _fit_errors: dict[tuple[int, str], str] = PrivateAttr(default_factory=dict)
    _calibration: CalibrationReport | None = PrivateAttr(default=None)

    # ------------------------------------------------------------ validation
    @field_validator("models", mode="before")
    @classmethod
    def _normalize_models(cls, value: Any) -> dict[str, BaseChatModel]:
        return normalize_models(value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        names = list(self.models)
        if len(names) < 3:
            raise ValueError(
                f"SmoothieRouter needs at least 3 candidates (Smoothie compares each answer "
                f"with two others); got {len(names)}: {names}."
            )
        if self.default is not None and self.default not in self.models:
            raise ValueError(f"`default` must be one of {names}; got {self.default!r}.")
        for field, value, low in (
            ("max_concurrency", self.max_concurrency, 1),
            ("n_neighbors", self.n_neighbors, 1),
            ("max_pool_size", self.max_pool_size, 1),
        ):
            if value is not None and value < low:
                raise ValueError(f"`{field}` must be None or an int >= {low}; got {value}.")
        if self.timeout is not None and not self.timeout > 0:
            raise ValueError(f"`timeout` must be None or > 0 seconds; got {self.timeout}.")
        if self.max_retries < 0:
            raise ValueError(f"`max_retries` must be >= 0; got {self.max_retries}.")
        if self.cost_tradeoff < 0:
            raise ValueError(f"`cost_tradeoff` must be >= 0; got {self.cost_tradeoff}.")
        if self.update_pool and self.n_neighbors is None:
            raise ValueError(
                "`update_pool=True` builds a pool for Smoothie-Local, which needs `n_neighbors` "
                "(e.g. n_neighbors=20); got n_neighbors=None."
            )
        if self.prices is not None:
            self.prices = check_prices(self.prices, names)
        elif self.cost_tradeoff > 0:
            raise ValueError("`cost_tradeoff` > 0 needs `prices` (one price per candidate).")
        if self.mode == "select" and "disable_streaming" not in self.model_fields_set:
            self.disable_streaming = True
        return self

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._router = Router(
            list(self.models),
            embedder=as_embedder(self.embedder),
            n_neighbors=self.n_neighbors,
            max_pool_size=self.max_pool_size,
            default=self.default,
            abstain_below=self.abstain_below,
        )

    # ------------------------------------------------------------ properties
    @property
    def candidate_names(self) -> list[str]:
        """Candidate names, in order."""
        return list(self.models)

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (estimator state, pool)."""
        return self._router

    @property
    def calibration_report(self) -> CalibrationReport | None:
        """What the last :meth:`fit` used and dropped (None before any fit)."""
        return self._calibration

    @property
    def fit_errors(self) -> dict[tuple[int, str], str]:
        """Errors of the last :meth:`fit`: (prompt index, candidate) -> message."""
        return dict(self._fit_errors)

    @property
    def _llm_type(self) -> str:
        return "smoothie-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "mode": self.mode,
            "candidates": self.candidate_names,
            "n_neighbors": self.n_neighbors,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="smoothie",
            ls_model_name=kwargs.get("model", self.model_name),
            ls_model_type="chat",
        )
        if self.temperature is not None:
            params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        if self.max_tokens is not None:
            params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # ----------------------------------------------------------------- tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` on every candidate (each through its own ``bind_tools``).

        Tools are converted to the OpenAI tool format, which every LangChain provider
        accepts. ``with_structured_output`` (inherited from ``BaseChatModel``) goes
        through this method, i.e. function calling on every candidate; its ``method``
        argument is ignored. In select mode candidates are compared on a text rendering of their
        tool calls (:func:`langchain_smoothie._render.answer_text`).

        Raises
        ------
        NotImplementedError
            If a candidate's class does not implement ``bind_tools``.
        """
        unsupported = [
            n for n, m in self.models.items() if type(m).bind_tools is BaseChatModel.bind_tools
        ]
        if unsupported:
            raise NotImplementedError(
                f"bind_tools/with_structured_output need every candidate to support tool "
                f"calling; {unsupported} do not (their class does not implement bind_tools). "
                "Use candidates with tool calling, or route without tools."
            )
        if tool_choice is not None:
            no_choice = [
                n
                for n, m in self.models.items()
                if "tool_choice" not in inspect.signature(m.bind_tools).parameters
            ]
            if no_choice:
                raise NotImplementedError(
                    f"`tool_choice` was given but {no_choice} do not accept it in bind_tools."
                )
        formatted = [convert_to_openai_tool(t) for t in tools]
        extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
        return self.bind(tools=formatted, **extra, **kwargs)

    def _candidate_runnable(self, name: str, kwargs: Mapping[str, Any]) -> Runnable[Any, Any]:
        model = self.models[name]
        rest = dict(kwargs)
        tools = rest.pop("tools", None)
        tool_choice = rest.pop("tool_choice", None)
        runnable: Runnable[Any, Any] = model
        if tools is not None:
            extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
            runnable = model.bind_tools(tools, **extra)
        if rest:
            runnable = runnable.bind(**rest)
        return runnable

    def _direct_call(self, name: str, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The kwargs to call candidate ``name``'s ``_generate`` with, or None if its
        bound runnable is not a plain binding of the model (then it is invoked)."""
        runnable = self._candidate_runnable(name, kwargs)
        model = self.models[name]
        if runnable is model:
            return {}
        if isinstance(runnable, RunnableBinding) and runnable.bound is model:
            return dict(runnable.kwargs)
        return None

    # -------------------------------------------------------------- decisions
    def _decide(self, text: str) -> tuple[Decision, dict[str, Any]]:
        with self._lock:
            try:
                decision = self._router.route(text)
            except NotFittedError as exc:
                raise NotFittedError(
                    "SmoothieRouter in route mode needs a calibration: call "
                    "router.fit(prompts) (or SmoothieRouter.load(path, models=...)) first."
                ) from exc
        extra: dict[str, Any] = {}
        if self.prices is not None and self.cost_tradeoff > 0 and not decision.abstained:
            scores = cost_scores(decision.weights, self.prices, self.cost_tradeoff)
            extra = {"scores": scores, "prices": dict(self.prices)}
            best = max(scores, key=lambda n: (scores[n], -self.candidate_names.index(n)))
            decision = dataclasses.replace(decision, selected=best)
        return decision, extra

    def _ranking(self, decision: Decision, extra: Mapping[str, Any]) -> list[str]:
        scores: Mapping[str, float] = extra.get("scores", decision.weights)
        rest = sorted(
            (n for n in scores if n != decision.selected),
            key=lambda n: (-scores[n], self.candidate_names.index(n)),
        )
        order = [decision.selected, *rest]
        return order if self.fallback_on_error else order[:1]

    def route(self, input: LanguageModelInput) -> Decision:
        """The candidate route mode would call for ``input``, without calling any model.

        Needs a calibration (:meth:`fit`/:meth:`load`) or a select-mode pool. The
        returned :class:`smoothie_core.Decision` has the cost-aware choice in
        ``selected`` and the quality weights in ``weights``.
        """
        return self._decide(input_text(self._convert_input(input).to_messages()))[0]

    def as_decision_runnable(self) -> Runnable[LanguageModelInput, dict[str, Any]]:
        """A runnable mapping an input to its route decision (``Decision.to_dict()``)."""
        return RunnableLambda(lambda x: self.route(x).to_dict(), name="SmoothieDecision")

    def as_decision_model(self) -> Any:
        """This router as a LangChain ``BaseDecisionModel``
        (:class:`langchain_smoothie.decision.SmoothieDecisionModel`)."""
        from langchain_smoothie.decision import SmoothieDecisionModel

        return SmoothieDecisionModel(router=self)

    def _metadata(self, decision: Decision, extra: Mapping[str, Any]) -> dict[str, Any]:
        return {**decision.to_dict(), **extra}

    def _selected_message(self, outcome: CallOutcome, decision: Decision) -> AIMessage:
        chosen = outcome.messages[decision.selected]
        usage = {
            n: (dict(m.usage_metadata) if m.usage_metadata else None)
            for n, m in outcome.messages.items()
        }
        meta = self._metadata(decision, {"usage": usage})
        return chosen.model_copy(
            update={
                "usage_metadata": None,
                "response_metadata": {**chosen.response_metadata, "smoothie": meta},
            }
        )

    def _select(self, text: str, outcome: CallOutcome) -> Decision:
        if not outcome.messages:
            raise AllCandidatesFailedError(outcome.errors)
        answers = {n: answer_text(m) for n, m in outcome.messages.items()}
        with self._lock:
            return self._router.select(
                text, answers, errors=outcome.errors, update_pool=self.update_pool
            )

    def _child_config(
        self, run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
    ) -> Callable[[str], RunnableConfig]:
        def config_for(name: str) -> RunnableConfig:
            config: RunnableConfig = {"run_name": name, "metadata": {"smoothie_candidate": name}}
            manager = _child_manager(run_manager, CANDIDATE_TAGS)
            if manager is not None:
                config["callbacks"] = manager
            return config

        return config_for

    @staticmethod
    def _emit(run_manager: CallbackManagerForLLMRun | None, data: dict[str, Any]) -> None:
        manager = _child_manager(run_manager)
        if isinstance(manager, CallbackManager) and run_manager is not None:
            manager.on_custom_event(DECISION_EVENT, data, run_id=run_manager.run_id)

    @staticmethod
    async def _aemit(
        run_manager: AsyncCallbackManagerForLLMRun | None, data: dict[str, Any]
    ) -> None:
        manager = _child_manager(run_manager)
        if isinstance(manager, AsyncCallbackManager) and run_manager is not None:
            await manager.on_custom_event(DECISION_EVENT, data, run_id=run_manager.run_id)

    def _stop(self, stop: list[str] | None) -> list[str] | None:
        return stop if stop is not None else self.stop

    # ------------------------------------------------------------ select mode
    def _select_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> AIMessage:
        runnables = {n: self._candidate_runnable(n, kwargs) for n in self.models}
        outcome = call_all(
            runnables,
            messages,
            config_for=self._child_config(run_manager),
            stop=self._stop(stop),
            max_concurrency=self.max_concurrency,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        decision = self._select(input_text(messages), outcome)
        message = self._selected_message(outcome, decision)
        self._emit(run_manager, message.response_metadata["smoothie"])
        return message

    async def _aselect_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> AIMessage:
        runnables = {n: self._candidate_runnable(n, kwargs) for n in self.models}
        outcome = await acall_all(
            runnables,
            messages,
            config_for=self._child_config(run_manager),
            stop=self._stop(stop),
            max_concurrency=self.max_concurrency,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        decision = await asyncio.to_thread(self._select, input_text(messages), outcome)
        message = self._selected_message(outcome, decision)
        await self._aemit(run_manager, message.response_metadata["smoothie"])
        return message

    # ------------------------------------------------------------- route mode
    def _route_result(
        self, decision: Decision, extra: Mapping[str, Any], name: str, errors: dict[str, str]
    ) -> dict[str, Any]:
        weights_order = self._ranking(decision, extra)
        final = dataclasses.replace(
            decision,
            selected=name,
            failed=list(errors),
            errors=dict(errors),
            fallback=(
                f"{weights_order[0]!r} failed; answered by the next best, {name!r}"
                if errors
                else decision.fallback
            ),
        )
        return self._metadata(final, extra)

    @staticmethod
    def _with_meta(result: ChatResult, meta: dict[str, Any]) -> ChatResult:
        gen = result.generations[0]
        message = gen.message
        message.response_metadata = {**message.response_metadata, "smoothie": meta}
        return ChatResult(generations=[gen, *result.generations[1:]], llm_output=result.llm_output)

    def _call_one_sync(
        self,
        name: str,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> ChatResult:
        model = self.models[name]
        call_kwargs = self._direct_call(name, kwargs)
        if call_kwargs is None:  # not a plain binding: invoke it as a child run
            outcome = call_all(
                {name: self._candidate_runnable(name, kwargs)},
                messages,
                config_for=self._child_config(run_manager),
                stop=stop,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
            return _child_result(outcome, name)

        def run() -> ChatResult:
            if model.rate_limiter:
                model.rate_limiter.acquire(blocking=True)
            if "run_manager" in inspect.signature(model._generate).parameters:
                return model._generate(messages, stop=stop, run_manager=run_manager, **call_kwargs)
            return model._generate(messages, stop=stop, **call_kwargs)

        last: Exception | None = None
        for _ in range(self.max_retries + 1):
            if self.timeout is None:
                try:
                    return run()
                except Exception as exc:
                    last = exc
                    continue
            executor = ContextThreadPoolExecutor(max_workers=1)
            try:
                return executor.submit(run).result(timeout=self.timeout)
            except TimeoutError as exc:
                raise TimeoutError(f"no answer within {self.timeout} s") from exc
            except Exception as exc:
                last = exc
            finally:
                executor.shutdown(wait=False)
        assert last is not None
        raise last

    async def _call_one_async(
        self,
        name: str,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> ChatResult:
        model = self.models[name]
        call_kwargs = self._direct_call(name, kwargs)
        if call_kwargs is None:
            outcome = await acall_all(
                {name: self._candidate_runnable(name, kwargs)},
                messages,
                config_for=self._child_config(run_manager),
                stop=stop,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
            return _child_result(outcome, name)
        last: Exception | None = None
        for _ in range(self.max_retries + 1):
            try:
                if model.rate_limiter:
                    await model.rate_limiter.aacquire(blocking=True)
                return await asyncio.wait_for(
                    model._agenerate(messages, stop=stop, run_manager=run_manager, **call_kwargs),
                    self.timeout,
                )
            except TimeoutError as exc:
                raise TimeoutError(f"no answer within {self.timeout} s") from exc
            except Exception as exc:
                last = exc
        assert last is not None
        raise last

    def _route_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> ChatResult:
        decision, extra = self._decide(input_text(messages))
        errors: dict[str, str] = {}
        for name in self._ranking(decision, extra):
            try:
                result = self._call_one_sync(name, messages, self._stop(stop), run_manager, kwargs)
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            meta = self._route_result(decision, extra, name, errors)
            self._emit(run_manager, meta)
            return self._with_meta(result, meta)
        raise AllCandidatesFailedError(errors)

    async def _aroute_generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> ChatResult:
        decision, extra = await asyncio.to_thread(self._decide, input_text(messages))
        errors: dict[str, str] = {}
        for name in self._ranking(decision, extra):
            try:
                result = await self._call_one_async(
                    name, messages, self._stop(stop), run_manager, kwargs
                )
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                continue
            meta = self._route_result(decision, extra, name, errors)
            await self._aemit(run_manager, meta)
            return self._with_meta(result, meta)
        raise AllCandidatesFailedError(errors)

    # ----------------------------------------------------- BaseChatModel hooks
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.mode == "route":
            return self._route_generate(messages, stop, run_manager, kwargs)
        message = self._select_generate(messages, stop, run_manager, kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.mode == "route":
            return await self._aroute_generate(messages, stop, run_manager, kwargs)
        message = await self._aselect_generate(messages, stop, run_manager, kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    @staticmethod
    def _streams(model: BaseChatModel, *, async_api: bool) -> bool:
        sync = type(model)._stream is not BaseChatModel._stream
        if async_api:
            sync = sync or type(model)._astream is not BaseChatModel._astream
        return sync and model.disable_streaming is not True

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if self.mode == "select":
            message = self._select_generate(messages, stop, run_manager, kwargs)
            yield ChatGenerationChunk(message=_as_chunk(message))
            return
        decision, extra = self._decide(input_text(messages))
        errors: dict[str, str] = {}
        for name in self._ranking(decision, extra):
            model = self.models[name]
            call_kwargs = self._direct_call(name, kwargs)
            meta = self._route_result(decision, extra, name, errors)
            first = True
            try:
                if call_kwargs is None or not self._streams(model, async_api=False):
                    result = self._call_one_sync(
                        name, messages, self._stop(stop), run_manager, kwargs
                    )
                    chunk = ChatGenerationChunk(
                        message=_as_chunk(self._with_meta(result, meta).generations[0].message)  # type: ignore[arg-type]
                    )
                    self._emit(run_manager, meta)
                    yield chunk
                    return
                if model.rate_limiter:
                    model.rate_limiter.acquire(blocking=True)
                for chunk in model._stream(messages, stop=self._stop(stop), **call_kwargs):
                    if first:
                        self._emit(run_manager, meta)
                        chunk.message.response_metadata = {
                            **chunk.message.response_metadata,
                            "smoothie": meta,
                        }
                        first = False
                    yield chunk
                return
            except Exception as exc:
                if not first:  # chunks already went out: a restart would duplicate them
                    raise
                errors[name] = f"{type(exc).__name__}: {exc}"
        raise AllCandidatesFailedError(errors)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.mode == "select":
            message = await self._aselect_generate(messages, stop, run_manager, kwargs)
            yield ChatGenerationChunk(message=_as_chunk(message))
            return
        decision, extra = await asyncio.to_thread(self._decide, input_text(messages))
        errors: dict[str, str] = {}
        for name in self._ranking(decision, extra):
            model = self.models[name]
            call_kwargs = self._direct_call(name, kwargs)
            meta = self._route_result(decision, extra, name, errors)
            first = True
            try:
                if call_kwargs is None or not self._streams(model, async_api=True):
                    result = await self._call_one_async(
                        name, messages, self._stop(stop), run_manager, kwargs
                    )
                    chunk = ChatGenerationChunk(
                        message=_as_chunk(self._with_meta(result, meta).generations[0].message)  # type: ignore[arg-type]
                    )
                    await self._aemit(run_manager, meta)
                    yield chunk
                    return
                if model.rate_limiter:
                    await model.rate_limiter.aacquire(blocking=True)
                async for chunk in model._astream(messages, stop=self._stop(stop), **call_kwargs):
                    if first:
                        await self._aemit(run_manager, meta)
                        chunk.message.response_metadata = {
                            **chunk.message.response_metadata,
                            "smoothie": meta,
                        }
                        first = False
                    yield chunk
                return
            except Exception as exc:
                if not first:
                    raise
                errors[name] = f"{type(exc).__name__}: {exc}"
        raise AllCandidatesFailedError(errors)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """Stream the answer: token by token in route mode, one chunk in select mode."""
        if self.mode == "route" or self.disable_streaming is not True:
            yield from super().stream(input, config, stop=stop, **kwargs)
            return
        yield _as_chunk(self.invoke(input, config, stop=stop, **kwargs))

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream`."""
        if self.mode == "route" or self.disable_streaming is not True:
            async for chunk in super().astream(input, config, stop=stop, **kwargs):
                yield chunk
            return
        yield _as_chunk(await self.ainvoke(input, config, stop=stop, **kwargs))

    # ------------------------------------------------------------ calibration
    def _prompt_messages(self, prompts: Sequence[LanguageModelInput]) -> list[list[BaseMessage]]:
        if isinstance(prompts, str):
            raise TypeError(
                "`prompts` must be a list of prompts, not a single str; wrap it in a list."
            )
        return [self._convert_input(p).to_messages() for p in prompts]

    def _finish_fit(
        self,
        inputs: list[list[BaseMessage]],
        answers: list[dict[str, str | None]],
        errors: dict[tuple[int, str], str],
    ) -> Self:
        with self._lock:
            report = self._router.calibrate([input_text(m) for m in inputs], answers)
        self._calibration = report
        self._fit_errors = dict(sorted(errors.items()))
        return self

    def fit(
        self,
        prompts: Sequence[LanguageModelInput],
        *,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Calibrate on unlabeled ``prompts``: run every candidate on each, then fit Smoothie.

        Calls run on a bounded thread pool (``max_concurrency``, default 8) with a
        progress bar. A failing call is recorded in :attr:`fit_errors` and its prompt
        is left out of the calibration (:attr:`calibration_report`), never fatal unless
        no prompt has every answer. Also gives select mode a pool for Smoothie-Local.
        Returns ``self``.
        """
        from tqdm import tqdm

        inputs = self._prompt_messages(prompts)
        fit_config: RunnableConfig = config or {}
        names = self.candidate_names
        answers: list[dict[str, str | None]] = [{} for _ in inputs]
        errors: dict[tuple[int, str], str] = {}
        workers = self.max_concurrency or 8

        def one(i: int, name: str) -> CallOutcome:
            return call_all(
                {name: self.models[name]},
                inputs[i],
                config_for=lambda _: fit_config,
                stop=self.stop,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )

        with (
            ContextThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(
                total=len(inputs) * len(names), desc="Calibrating", disable=not show_progress
            ) as bar,
        ):
            futures = {pool.submit(one, i, n): (i, n) for i in range(len(inputs)) for n in names}
            for fut in as_completed(futures):
                i, name = futures[fut]
                outcome = fut.result()
                if name in outcome.messages:
                    answers[i][name] = answer_text(outcome.messages[name])
                else:
                    answers[i][name] = None
                    errors[(i, name)] = outcome.errors[name]
                bar.update(1)
        return self._finish_fit(inputs, answers, errors)

    async def afit(
        self,
        prompts: Sequence[LanguageModelInput],
        *,
        config: RunnableConfig | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Async :meth:`fit` (``asyncio.gather`` under a ``max_concurrency`` semaphore)."""
        from tqdm import tqdm

        inputs = self._prompt_messages(prompts)
        fit_config: RunnableConfig = config or {}
        names = self.candidate_names
        answers: list[dict[str, str | None]] = [{} for _ in inputs]
        errors: dict[tuple[int, str], str] = {}
        semaphore = asyncio.Semaphore(self.max_concurrency or 8)
        bar = tqdm(total=len(inputs) * len(names), desc="Calibrating", disable=not show_progress)

        async def one(i: int, name: str) -> None:
            async with semaphore:
                outcome = await acall_all(
                    {name: self.models[name]},
                    inputs[i],
                    config_for=lambda _: fit_config,
                    stop=self.stop,
                    timeout=self.timeout,
                    max_retries=self.max_retries,
                )
            if name in outcome.messages:
                answers[i][name] = answer_text(outcome.messages[name])
            else:
                answers[i][name] = None
                errors[(i, name)] = outcome.errors[name]
            bar.update(1)

        try:
            await asyncio.gather(*(one(i, n) for i in range(len(inputs)) for n in names))
        finally:
            bar.close()
        return await asyncio.to_thread(self._finish_fit, inputs, answers, errors)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibration / pool (``.npz`` + JSON header, no pickle, atomic)."""
        with self._lock:
            return self._router.save(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        models: Sequence[BaseChatModel] | Mapping[str, BaseChatModel],
        embedder: Any = None,
        **kwargs: Any,
    ) -> SmoothieRouter:
        """A route-mode router (unless ``mode`` is given) with the calibration saved at ``path``.

        ``models`` must have the saved candidate names, in the saved order, and
        ``embedder`` the saved embedder's ``id`` (default: the offline MiniLM);
        otherwise a ``ValueError`` says what differs.
        """
        named = normalize_models(models)
        emb = as_embedder(embedder)
        core = Router.load(path, candidates=list(named), embedder=emb or default_embedder())
        kwargs.setdefault("mode", "route")
        router = cls(
            models=named,
            embedder=embedder,
            n_neighbors=None if core.estimator is None else core.estimator.n_neighbors,
            max_pool_size=core.max_pool_size,
            default=core.default,
            **kwargs,
        )
        core.abstain_below = router.abstain_below
        router._router = core
        return router


def _child_result(outcome: CallOutcome, name: str) -> ChatResult:
    """The result of a candidate called as a child run (its usage was reported by that run)."""
    if name in outcome.errors:
        raise RuntimeError(outcome.errors[name])
    msg = outcome.messages[name].model_copy(update={"usage_metadata": None})
    return ChatResult(generations=[ChatGeneration(message=msg)])
