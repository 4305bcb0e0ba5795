"""``SmoothieLLM``: a LlamaIndex ``LLM`` that routes each call across candidate LLMs.

* ``mode="select"`` (test-time): every candidate answers, Smoothie scores the answers
  and the best one is returned. Costs one call per candidate; streaming yields the
  selected answer as one chunk (all answers are needed before choosing).
* ``mode="route"`` (train-time): :meth:`SmoothieLLM.fit` once on unlabeled prompts;
  each call is then sent to the one candidate whose nearest calibration prompts score
  best, and streams natively. If that candidate fails before its first token, the
  next-best candidate is tried (``fallback_on_error``).

Candidates are called through :mod:`smoothie_core.orchestration` (per-call ``timeout``
and ``max_retries``, at most ``max_concurrency`` at once), as on every front door. The
decision (a :class:`smoothie_core.Decision` as a dict) is in
``response.additional_kwargs["smoothie"]``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

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
from llama_index.core.bridge.pydantic import (
    Field,
    PrivateAttr,
    SerializeAsAny,
    field_serializer,
    field_validator,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import BasePromptTemplate

from llamaindex_smoothie._calibration import (
    Calibrated,
    acollect,
    afit_router,
    check_prompts,
    collect,
    fit_router,
)
from llamaindex_smoothie._common import (
    LOAD_OVERRIDES,
    Errors,
    NNeighbors,
    Options,
    check_n_neighbors_option,
    check_names,
    not_fitted,
    options_of,
    require_text,
    router_level,
)
from llamaindex_smoothie._judges import judging_for, name_judges
from llamaindex_smoothie._texts import llm_text, messages_text
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from llamaindex_smoothie.prompts import PromptedLLM
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_TIMEOUT,
    DEFAULT_UPDATE_POOL,
)
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.exceptions import NotFittedError
from smoothie_core.orchestration import (
    CallResults,
    acall_each,
    acall_first,
    call_each,
    call_first,
    fallback_order,
    to_thread,
)
from smoothie_core.router import CalibrationReport, Decision, Router
from smoothie_core.scorers import Scorer, ScoringContext
from smoothie_core.scorers.peer import judge_options

__all__ = ["SmoothieLLM"]

R = TypeVar("R", ChatResponse, CompletionResponse)

#: A calibration prompt: a str (sent as one user message) or a list of chat messages.
Prompt = str | Sequence[ChatMessage]


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def _annotated(response: R, meta: Mapping[str, Any]) -> R:
    """A copy of ``response`` with the decision in ``additional_kwargs["smoothie"]``."""
    out = response.model_copy()
    out.additional_kwargs = {**(response.additional_kwargs or {}), "smoothie": dict(meta)}
    return out


def _one_chunk(response: R) -> R:
    """A finished response as a single streaming chunk (delta = whole text)."""
    out = response.model_copy()
    out.delta = llm_text(response)
    return out


def _messages(prompt: Any) -> list[ChatMessage]:
    if isinstance(prompt, str):
        return [ChatMessage(role=MessageRole.USER, content=prompt)]
    messages = list(prompt)
    if not messages or not all(isinstance(m, ChatMessage) for m in messages):
        raise TypeError(
            "each calibration prompt must be a str or a non-empty list of ChatMessage; got "
            f"{type(prompt).__name__}."
        )
    return messages


class SmoothieLLM(Calibrated, LLM):
    """Route LlamaIndex ``chat``/``complete`` calls across candidate LLMs with Smoothie.

    The options are those of LangChain's ``SmoothieRouter``, with the same names and
    defaults (:mod:`smoothie_core.defaults`).

    Parameters
    ----------
    llms : mapping of str to LLM, or sequence of LLM
        At least 3 candidates. A sequence is named by each model's
        ``metadata.model_name`` (which must then be distinct).
    mode : {"select", "route"}, default="select"
        See the module docstring.
    embedder : Embedder or BaseEmbedding, optional
        Default: the offline all-MiniLM-L6-v2.
    scorer : str or smoothie_core.scorers.Scorer, optional
        What compares the candidates' answers (``"consensus"``, ``"answer"``,
        ``"coverage"``, ...; :mod:`smoothie_core.scorers`). Default: the Router's,
        :data:`smoothie_core.defaults.DEFAULT_SCORER`.
    judges : mapping of str to LLM, sequence of LLM, or None
        ``scorer="peer_review"`` only: the LLMs that grade the candidates' answers
        (named like ``llms``). None: the candidates grade each other (each one the
        others' answers). Judges are asked with ``chat`` (``achat`` on the async
        paths), each call in a ``smoothie_judge`` span under this LLM's span, with
        ``timeout``/``max_retries``/``max_concurrency``; route mode asks them during
        :meth:`fit` only. See ``docs/peer_review.md``.
    max_judge_calls : int or None
        ``scorer="peer_review"`` only: judge calls per input at most (None: every judge).
    n_neighbors : int, None or "auto", default=smoothie_core.defaults.DEFAULT_N_NEIGHBORS
        Route mode: None is Smoothie-Global (one choice for all inputs), ``k`` averages
        the ``k`` nearest calibration prompts, ``"auto"`` ``min(10, complete calibration
        prompts)``. Select mode: None/1 scores each call's answers alone, except
        label-model scorers such as the default ``answer_coverage``, which learn every
        candidate's quality over the whole pool (Smoothie-Global) and decide this call's
        answers with it; ``k > 1`` adds the nearest pooled calls (from :meth:`fit` or
        ``update_pool``).
    update_pool : bool, default=smoothie_core.defaults.DEFAULT_UPDATE_POOL
        Select mode: add each scored call to the pool (bounded by ``max_pool_size``), so
        the router learns from traffic.
    max_pool_size : int or None, default=smoothie_core.defaults.DEFAULT_MAX_POOL_SIZE
    default : str or None
        Trusted candidate: chosen when nothing distinguishes the candidates, and the
        target of abstention.
    abstain_below : float or None
        Choose ``default`` when a decision's reliability score is below this (see
        :class:`smoothie_core.Router`).
    timeout : float or None, default=smoothie_core.defaults.DEFAULT_TIMEOUT
        Seconds one candidate call may take (route-mode streaming: until the first
        chunk). A late call counts as failed.
    max_retries : int, default=smoothie_core.defaults.DEFAULT_MAX_RETRIES
        Further attempts after a failed call (an empty answer is not retried).
    max_concurrency : int, default=smoothie_core.defaults.DEFAULT_MAX_CONCURRENCY
        Calls in flight at once (select-mode fan-out and :meth:`fit`).
    prices : dict of str to float or None
        Cost per call of each candidate (any unit). With ``cost_tradeoff > 0``, route
        mode picks the highest ``weight - cost_tradeoff * price / max(prices)``
        (:func:`smoothie_core.cost.cost_scores`); an abstained decision keeps its
        fallback. Select mode has already paid for every call and ignores prices.
    cost_tradeoff : float, default=0.0
    fallback_on_error : bool, default=True
        Route mode: try the next-best candidate when the chosen one fails.
    router : smoothie_core.Router, optional
        A ready router (e.g. from :meth:`load`); its candidates must be the LLM names,
        and it carries its own ``scorer``, ``n_neighbors``, ``default``,
        ``abstain_below`` and ``max_pool_size``.

    Attributes
    ----------
    calibration_report_ : smoothie_core.CalibrationReport
        What the last :meth:`fit` used and dropped.
    calibration_errors_ : list of dict
        ``calibration_errors_[s][name]``: why candidate ``name`` failed on prompt ``s``.

    Notes
    -----
    :attr:`metadata` is the conservative intersection of the candidates' metadata:
    the smallest context window and output budget, ``is_chat_model`` only if all
    candidates are chat models, and ``is_function_calling_model=False`` (tool calls
    are not routed).

    Router-level options (``scorer``, ``n_neighbors``, ``default``, ``abstain_below``,
    ``max_pool_size``) take effect when the router is built: at construction and at
    each :meth:`fit`; the others at each call.

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
    scorer: Any = Field(default=None, description="What compares the answers (name or Scorer).")
    judges: dict[str, SerializeAsAny[LLM]] | None = Field(
        default=None, description="Judge LLMs for scorer='peer_review' (None: the candidates)."
    )
    max_judge_calls: int | None = Field(
        default=None, description="scorer='peer_review': judge calls per input at most."
    )
    n_neighbors: int | Literal["auto"] | None = Field(
        default=DEFAULT_N_NEIGHBORS,  # type: ignore[arg-type]
        description="Smoothie-Local neighbourhood size.",
    )
    update_pool: bool = Field(
        default=DEFAULT_UPDATE_POOL, description="Add select-mode calls to the pool."
    )
    max_pool_size: int | None = Field(
        default=DEFAULT_MAX_POOL_SIZE, description="Samples kept in the pool."
    )
    default: str | None = Field(default=None, description="Trusted fallback candidate.")
    abstain_below: float | None = Field(
        default=None, description="Fall back to `default` below this reliability."
    )
    timeout: float | None = Field(default=DEFAULT_TIMEOUT, description="Seconds per call.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, description="Retries per call.")
    max_concurrency: int = Field(
        default=DEFAULT_MAX_CONCURRENCY, description="Calls in flight at once."
    )
    prices: dict[str, float] | None = Field(default=None, description="Cost per call.")
    cost_tradeoff: float = Field(default=0.0, description="Weight of price in route mode.")
    fallback_on_error: bool = Field(
        default=True, description="Route mode: try the next-best candidate on failure."
    )

    _router: Router = PrivateAttr()
    _embedder: Embedder | None = PrivateAttr(default=None)
    _report: CalibrationReport | None = PrivateAttr(default=None)
    _errors: Errors = PrivateAttr(default_factory=list)

    def __init__(
        self,
        llms: Mapping[str, LLM] | Sequence[LLM],
        *,
        mode: Literal["select", "route"] = "select",
        embedder: Embedder | BaseEmbedding | None = None,
        scorer: str | Scorer | None = None,
        judges: Mapping[str, LLM] | Sequence[LLM] | None = None,
        max_judge_calls: int | None = None,
        n_neighbors: NNeighbors = DEFAULT_N_NEIGHBORS,  # type: ignore[assignment]
        update_pool: bool = DEFAULT_UPDATE_POOL,
        max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE,
        default: str | None = None,
        abstain_below: float | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        prices: Mapping[str, float] | None = None,
        cost_tradeoff: float = 0.0,
        fallback_on_error: bool = True,
        router: Router | None = None,
        **kwargs: Any,
    ) -> None:
        level = router_level(
            router,
            {
                "scorer": scorer,
                "n_neighbors": n_neighbors,
                "default": default,
                "abstain_below": abstain_below,
                "max_pool_size": max_pool_size,
            },
        )
        super().__init__(  # type: ignore[call-arg]
            llms=llms,
            mode=mode,
            update_pool=update_pool,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            prices=None if prices is None else dict(prices),
            cost_tradeoff=cost_tradeoff,
            fallback_on_error=fallback_on_error,
            judges=name_judges(judges),
            max_judge_calls=max_judge_calls,
            **level,
            **kwargs,
        )
        names = list(self.llms)
        self._embedder = as_embedder(embedder)
        options = self._options()  # validates every option now, with a clear message
        if router is None:
            router = options.new_router(self._embedder)
        elif list(router.candidates) != names:
            raise ValueError(
                f"`router` candidates {router.candidates} must equal the LLM names {names} "
                "(same order)."
            )
        self._router = router
        self.max_judge_calls = judge_options(router.scorer)[1]  # a given router's own

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
        check_names(list(items), "candidate LLM")
        return items

    @classmethod
    def from_prompts(
        cls,
        llm: LLM,
        prompts: Mapping[str, BasePromptTemplate | str],
        *,
        variable: str | None = None,
        **kwargs: Any,
    ) -> SmoothieLLM:
        """One LLM under several prompt templates: a :class:`~llamaindex_smoothie.prompts.PromptedLLM`
        candidate per template (the paper's multi-prompt setting).

        Each call's input (a ``complete`` prompt, or the last user message of ``chat``)
        goes into every template's ``variable``; Smoothie routes on the input itself,
        not on the formatted prompts. Select mode calls ``llm`` once per template and
        returns the best answer; route mode, after :meth:`fit` on unlabeled inputs,
        calls it once, with the template chosen for the input. ``kwargs`` are the
        other :class:`SmoothieLLM` options.

        Examples
        --------
        >>> from llama_index.core.llms import CustomLLM, CompletionResponse, LLMMetadata
        >>> from smoothie_core import HashingEmbedder
        >>> class Echo(CustomLLM):
        ...     @property
        ...     def metadata(self) -> LLMMetadata:
        ...         return LLMMetadata(model_name="echo")
        ...     def complete(self, prompt, formatted=False, **kwargs):
        ...         return CompletionResponse(text=prompt.split(":")[0] + ": Paris.")
        ...     def stream_complete(self, prompt, formatted=False, **kwargs):
        ...         yield self.complete(prompt)
        >>> llm = SmoothieLLM.from_prompts(
        ...     Echo(),
        ...     {"terse": "Answer briefly: {query_str}", "stepwise": "Think step by step: "
        ...      "{query_str}", "explained": "Answer, then explain: {query_str}"},
        ...     mode="route", embedder=HashingEmbedder())
        >>> llm = llm.fit(["Capital of France?", "Capital of Peru?"], show_progress=False)
        >>> llm.complete("Capital of Italy?").additional_kwargs["smoothie"]["mode"]
        'route'
        """
        if not isinstance(prompts, Mapping):
            raise TypeError(
                "`prompts` must be a dict name -> prompt template (or template str); got "
                f"{type(prompts).__name__}."
            )
        candidates = {
            name: PromptedLLM(llm, template, variable=variable)
            for name, template in prompts.items()
        }
        return cls(candidates, **kwargs)

    @field_serializer("scorer")
    def _scorer_id(self, scorer: Any) -> str | None:
        """A scorer object serialises as its id (e.g. ``"answer"``)."""
        return scorer.id if isinstance(scorer, Scorer) else scorer

    @field_validator("n_neighbors", mode="before")
    @classmethod
    def _check_n_neighbors(cls, value: Any) -> NNeighbors:
        return check_n_neighbors_option(value)

    def _options(self) -> Options:
        return options_of(self, list(self.llms))

    @property
    def judge_names(self) -> tuple[str, ...] | None:
        """Names of the ``judges`` (None: the candidates judge)."""
        return None if self.judges is None else tuple(self.judges)

    def _judging(self, loop: asyncio.AbstractEventLoop | None = None) -> ScoringContext | None:
        """The judges of one request or fit (``scorer="peer_review"``; ``loop``: async)."""
        return judging_for(self.judges, self.llms, self._options().policy, loop)

    @classmethod
    def class_name(cls) -> str:
        return "SmoothieLLM"

    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (a new one after each :meth:`fit`)."""
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
    def _fit_embedder(self) -> Embedder:
        # the router's (given, loaded, or the default created once), so refits compare alike
        return self._embedder if self._embedder is not None else self._router.embedder

    def fit(
        self,
        prompts: Sequence[Prompt],
        *,
        answers: Sequence[Mapping[str, str | None]] | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Calibrate on unlabeled prompts: every candidate answers each, then Smoothie is fitted.

        A prompt is a str (sent with ``chat`` as one user message) or a list of
        ``ChatMessage``. Calls go through :func:`smoothie_core.orchestration.call_grid`
        (at most ``max_concurrency`` at once, per-call ``timeout`` and ``max_retries``, a
        tqdm bar unless ``show_progress=False``). A failed call, or an empty answer, is
        recorded in :attr:`calibration_errors_` and its prompt left out
        (:attr:`calibration_report_`); it never stops the run. With ``answers``
        (``answers[s][name]`` for prompt ``s``) no candidate is called. Needed by route
        mode; in select mode it gives Smoothie-Local a pool. Returns ``self``.
        """
        return self._fit(prompts, answers, show_progress, self._options())

    async def afit(
        self,
        prompts: Sequence[Prompt],
        *,
        answers: Sequence[Mapping[str, str | None]] | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Async :meth:`fit` (``achat``; embedding runs in a worker thread)."""
        return await self._afit(prompts, answers, show_progress, self._options())

    def _fit(
        self,
        prompts: Sequence[Prompt],
        answers: Sequence[Mapping[str, str | None]] | None,
        show_progress: bool,
        options: Options,
    ) -> Self:
        chats = [_messages(p) for p in check_prompts(prompts)]
        errors: Errors | None = None
        if answers is None:

            def call(name: str, messages: list[ChatMessage]) -> str:
                return llm_text(self.llms[name].chat(messages))

            answers, errors = collect(list(self.llms), call, chats, options, show_progress)
        inputs = [messages_text(m) for m in chats]
        router, report, errs = fit_router(
            options, self._fit_embedder(), inputs, answers, errors, self._judging()
        )
        self._set_fitted(router, report, errs)
        return self

    async def _afit(
        self,
        prompts: Sequence[Prompt],
        answers: Sequence[Mapping[str, str | None]] | None,
        show_progress: bool,
        options: Options,
    ) -> Self:
        chats = [_messages(p) for p in check_prompts(prompts)]
        errors: Errors | None = None
        if answers is None:

            async def call(name: str, messages: list[ChatMessage]) -> str:
                return llm_text(await self.llms[name].achat(messages))

            answers, errors = await acollect(list(self.llms), call, chats, options, show_progress)
        inputs = [messages_text(m) for m in chats]
        router, report, errs = await afit_router(
            options,
            self._fit_embedder(),
            inputs,
            answers,
            errors,
            self._judging(asyncio.get_running_loop()),
        )
        self._set_fitted(router, report, errs)
        return self

    def _older_options(self, max_concurrency: Any) -> Options:
        """The options, with the older spelling's per-call ``max_concurrency`` if given."""
        options = self._options()
        if max_concurrency is _UNSET:
            return options
        return dataclasses.replace(options, max_concurrency=max_concurrency)

    def _set_n_neighbors(self, n_neighbors: Any) -> None:
        if n_neighbors is not _UNSET:
            self.n_neighbors = check_n_neighbors_option(n_neighbors)

    def calibrate_from_answers(
        self,
        prompts: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        *,
        n_neighbors: NNeighbors = _UNSET,
    ) -> CalibrationReport:
        """Older spelling of ``fit(prompts, answers=answers)``; returns the report.

        ``n_neighbors``, if given, sets the option first.
        """
        self._set_n_neighbors(n_neighbors)
        return self.fit(prompts, answers=answers, show_progress=False).calibration_report_

    def calibrate(
        self,
        prompts: Sequence[Prompt],
        *,
        n_neighbors: NNeighbors = _UNSET,
        max_concurrency: int = _UNSET,
        show_progress: bool = True,
    ) -> tuple[CalibrationReport, Errors]:
        """Older spelling of :meth:`fit`; returns ``(calibration_report_, calibration_errors_)``.

        ``n_neighbors``, if given, sets that option first; ``max_concurrency``, if given,
        bounds this calibration only (as before).
        """
        self._set_n_neighbors(n_neighbors)
        self._fit(prompts, None, show_progress, self._older_options(max_concurrency))
        return self.calibration_report_, self.calibration_errors_

    async def acalibrate(
        self,
        prompts: Sequence[Prompt],
        *,
        n_neighbors: NNeighbors = _UNSET,
        max_concurrency: int = _UNSET,
        show_progress: bool = True,
    ) -> tuple[CalibrationReport, Errors]:
        """Older spelling of :meth:`afit` (see :meth:`calibrate`)."""
        self._set_n_neighbors(n_neighbors)
        await self._afit(prompts, None, show_progress, self._older_options(max_concurrency))
        return self.calibration_report_, self.calibration_errors_

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
        """Load a state saved by :meth:`save` for the same candidate names (same order).

        ``kwargs`` are the LLM's own options (``timeout``, ``prices``, ...). The
        router-level ones (``n_neighbors``, ``default``, ``abstain_below``,
        ``max_pool_size``) are saved with the state; given here, they override it.
        """
        emb = as_embedder(embedder) or default_embedder()
        names = list(cls._name_llms(llms))
        overrides = {k: kwargs.pop(k) for k in LOAD_OVERRIDES if k in kwargs}
        router = Router.load(path, candidates=names, embedder=emb, **overrides)
        return cls(llms, mode=mode, embedder=emb, router=router, **kwargs)

    # -------------------------------------------------------------- deciding
    def _route(self, text: str) -> tuple[Decision, dict[str, Any], list[str]]:
        """The route decision (cost rule applied), its extra metadata, and the call order."""
        options = self._options()
        try:
            decision = self._router.route(text)
        except NotFittedError as err:
            raise not_fitted("SmoothieLLM in route mode", err) from err
        decision, extra = options.choose(decision)
        ranking = extra.get("scores", decision.weights)
        order = fallback_order(decision.selected, ranking, list(self.llms))
        return decision, extra, order if self.fallback_on_error else order[:1]

    @staticmethod
    def _rerouted(
        decision: Decision, chosen: str, errors: Mapping[str, str], extra: Mapping[str, Any]
    ) -> Decision:
        if chosen == decision.selected:
            return decision
        by = "cost-adjusted score" if "scores" in extra else "weight"
        return dataclasses.replace(
            decision,
            selected=chosen,
            failed=list(errors),
            errors=dict(errors),
            fallback=f"{list(errors)} failed; used the next-highest {by}",
        )

    def _emit(self, text: str, decision: Decision, extra: Mapping[str, Any]) -> dict[str, Any]:
        emit_decision(type(self).__name__, text, decision)
        return {**decision.to_dict(), **extra}

    def _selected(
        self, text: str, out: CallResults[str, R], context: ScoringContext | None = None
    ) -> R:
        """Select mode: score the answers that arrived.

        The core :meth:`~smoothie_core.Router.select` counts empty answers as failed and
        raises :class:`~smoothie_core.exceptions.AllCandidatesFailedError` when none is left.
        """
        answers: dict[str, str | None] = {n: llm_text(r) for n, r in out.results.items()}
        decision = self._router.select(
            text, answers, errors=out.errors, update_pool=self.update_pool, context=context
        )
        return _annotated(out.results[decision.selected], self._emit(text, decision, {}))

    def _respond(self, text: str, call: Callable[[str], R]) -> R:
        if self.mode == "route":
            decision, extra, order = self._route(text)
            name, response, errors = call_first(order, call, self._options().policy)
            meta = self._emit(text, self._rerouted(decision, name, errors, extra), extra)
            return _annotated(response, meta)

        def answered(name: str) -> R:
            response = call(name)
            require_text(llm_text(response))  # an empty answer is a failed, retried attempt
            return response

        out = call_each(list(self.llms), answered, self._options().policy)
        return self._selected(text, out, self._judging())

    async def _arespond(self, text: str, call: Callable[[str], Awaitable[R]]) -> R:
        if self.mode == "route":
            decision, extra, order = await to_thread(self._route, text)
            name, response, errors = await acall_first(order, call, self._options().policy)
            meta = self._emit(text, self._rerouted(decision, name, errors, extra), extra)
            return _annotated(response, meta)

        async def answered(name: str) -> R:
            response = await call(name)
            require_text(llm_text(response))  # an empty answer is a failed, retried attempt
            return response

        out = await acall_each(list(self.llms), answered, self._options().policy)
        judging = self._judging(asyncio.get_running_loop())
        return await to_thread(self._selected, text, out, judging)

    def _stream(
        self, text: str, call: Callable[[str], Generator[R, None, None]]
    ) -> Generator[R, None, None]:
        """Route mode: the chosen candidate's own stream (the next one if it fails before a chunk).

        Opening a stream and receiving its first chunk is one attempt (``timeout``,
        ``max_retries``); after the first chunk the stream is the candidate's.
        """
        decision, extra, order = self._route(text)

        def open_stream(name: str) -> tuple[Generator[R, None, None], R | None]:
            stream = call(name)
            return stream, next(stream, None)

        name, (stream, first), errors = call_first(order, open_stream, self._options().policy)
        meta = self._emit(text, self._rerouted(decision, name, errors, extra), extra)
        if first is not None:
            yield _annotated(first, meta)
            for chunk in stream:
                yield _annotated(chunk, meta)

    async def _astream(
        self, text: str, call: Callable[[str], Awaitable[AsyncGenerator[R, None]]]
    ) -> AsyncGenerator[R, None]:
        """Async :meth:`_stream`."""
        decision, extra, order = await to_thread(self._route, text)

        async def open_stream(name: str) -> tuple[AsyncGenerator[R, None], R | None]:
            stream = await call(name)
            return stream, await anext(stream, None)

        name, (stream, first), errors = await acall_first(
            order, open_stream, self._options().policy
        )
        meta = self._emit(text, self._rerouted(decision, name, errors, extra), extra)
        if first is not None:
            yield _annotated(first, meta)
            async for chunk in stream:
                yield _annotated(chunk, meta)

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
