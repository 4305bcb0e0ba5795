"""``SmoothieSelector``: a LlamaIndex selector that pre-routes with Smoothie (route mode).

A LlamaIndex selector sees only the choices' metadata and the query, never the
candidates' answers, so it has to be calibrated in advance: every tool answers a set
of unlabeled calibration queries once (:meth:`SmoothieSelector.fit`), and Smoothie keeps
per-query statistics of how the answers agree. A new query is embedded, its nearest
calibration queries' statistics are averaged, and the tool with the highest weight is
selected; only that tool is then called (by ``RouterQueryEngine`` or ``RouterRetriever``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from llama_index.core.base.base_selector import BaseSelector, SelectorResult, SingleSelection
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.schema import QueryBundle
from llama_index.core.tools.query_engine import QueryEngineTool
from llama_index.core.tools.retriever_tool import RetrieverTool
from llama_index.core.tools.types import ToolMetadata

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
    check_names,
    not_fitted,
    options_of,
    reason,
    router_level,
)
from llamaindex_smoothie._texts import asettle_response, nodes_text, settle_response
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_TIMEOUT,
)
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.exceptions import NotFittedError
from smoothie_core.orchestration import to_thread
from smoothie_core.router import CalibrationReport, Decision, Router
from smoothie_core.scorers import Scorer

__all__ = ["SmoothieSelector", "SmoothieSelectorResult"]

Tool = QueryEngineTool | RetrieverTool | str


class SmoothieSelectorResult(SelectorResult):
    """A :class:`SelectorResult` with one selection plus every choice's Smoothie weight.

    Attributes
    ----------
    weights : dict of str to float
        Weight per offered choice, by tool name.
    selected : str
        Name of the selected tool.
    decision : dict
        The full :class:`smoothie_core.Decision` as a dict (mode, n_neighbors, failed, ...),
        plus ``scores`` and ``prices`` when prices are set.
    """

    weights: dict[str, float] = Field(default_factory=dict)
    selected: str = ""
    decision: dict[str, Any] = Field(default_factory=dict)


def result_from_decision(
    names: Sequence[str], decision: Decision, extra: Mapping[str, Any] | None = None
) -> SmoothieSelectorResult:
    """The selector result for ``decision`` over the choices ``names`` (in order)."""
    index = list(names).index(decision.selected)
    return SmoothieSelectorResult(
        selections=[SingleSelection(index=index, reason=reason(decision, len(names), extra))],
        weights={n: decision.weights[n] for n in names if n in decision.weights},
        selected=decision.selected,
        decision={**decision.to_dict(), **(extra or {})},
    )


def _tool_name(tool: Any) -> str | None:
    if isinstance(tool, str):
        return tool
    if isinstance(tool, QueryEngineTool | RetrieverTool):
        return tool.metadata.name
    raise TypeError(
        "`tools` must hold QueryEngineTool or RetrieverTool objects (or plain tool names, "
        f"to fit from precomputed answers); got {type(tool).__name__}."
    )


class SmoothieSelector(Calibrated, BaseSelector):
    """Select one tool per query by Smoothie weights from a calibration run (route mode).

    Give it the tools (or just their names) and :meth:`fit` it on unlabeled queries, as
    with LangChain's ``SmoothieRouter``; or use the one-call constructors
    :meth:`from_query_engine_tools`, :meth:`from_retriever_tools`, :meth:`from_answers`
    (precomputed answers); or :meth:`load` a saved one. Choices are matched to
    calibrated candidates by tool name (a plain-str choice by its text); the choices
    offered to :meth:`select` may be a subset of them (the best offered choice wins); an
    unknown name raises ``ValueError``.

    Parameters
    ----------
    router : smoothie_core.Router, optional
        A ready (calibrated or loaded) router whose candidates are the tool names; it
        carries its own ``scorer``, ``n_neighbors``, ``default``, ``abstain_below`` and
        ``max_pool_size``. Leave it out to build one from ``tools`` and the options.
    tools : sequence of QueryEngineTool, RetrieverTool or str
        The candidates (at least 3, distinct names). :meth:`fit` calls a
        ``QueryEngineTool``'s query engine and a ``RetrieverTool``'s retriever (its
        "answer" is the retrieved text); plain names need ``fit(..., answers=...)``.
    scorer : str or smoothie_core.scorers.Scorer, optional
        What compares the candidates' answers (``"consensus"``, ``"answer"``,
        ``"coverage"``, ...; :mod:`smoothie_core.scorers`). Default: the Router's,
        :data:`smoothie_core.defaults.DEFAULT_SCORER`.
    n_neighbors : int, None or "auto", default=smoothie_core.defaults.DEFAULT_N_NEIGHBORS
        None: Smoothie-Global (the same choice for every query); ``k``: the ``k``
        nearest calibration queries; ``"auto"``: ``min(10, complete calibration queries)``.
    embedder : Embedder or BaseEmbedding, optional
        Default: the offline all-MiniLM-L6-v2.
    default : str or None
        Trusted tool: chosen when nothing distinguishes the tools, and the target of
        abstention.
    abstain_below : float or None
        Choose ``default`` when a decision's reliability score is below this (see
        :class:`smoothie_core.Router`).
    prices : dict of str to float or None
        Cost per call of each tool (any unit). With ``cost_tradeoff > 0`` the selector
        picks the highest ``weight - cost_tradeoff * price / max(prices)``
        (:func:`smoothie_core.cost.cost_scores`); an abstained decision keeps its
        fallback.
    cost_tradeoff : float, default=0.0
    max_pool_size : int or None, default=smoothie_core.defaults.DEFAULT_MAX_POOL_SIZE
        Calibration queries kept (oldest dropped first).
    max_concurrency : int, default=smoothie_core.defaults.DEFAULT_MAX_CONCURRENCY
        Calibration calls in flight at once.
    timeout : float or None, default=smoothie_core.defaults.DEFAULT_TIMEOUT
        Seconds one calibration call may take (a late call counts as failed).
    max_retries : int, default=smoothie_core.defaults.DEFAULT_MAX_RETRIES
        Further attempts after a failed calibration call.
    calibration_report, calibration_errors
        Older spelling: the report and errors of a calibration done elsewhere, kept
        with a ready ``router``.

    Attributes
    ----------
    calibration_report_ : smoothie_core.CalibrationReport
        What the last :meth:`fit` used and dropped.
    calibration_errors_ : list of dict
        ``calibration_errors_[s][tool]``: why ``tool`` failed on calibration query ``s``
        (an empty or whitespace-only answer is a failure).

    Examples
    --------
    >>> from smoothie_core import HashingEmbedder
    >>> queries = ["capital of France", "capital of Italy", "boiling point of water"]
    >>> answers = [
    ...     {"a": "Paris", "b": "Paris is the capital", "c": "Lyon"},
    ...     {"a": "Rome", "b": "Rome is the capital", "c": "Milan"},
    ...     {"a": "100 C", "b": "100 degrees", "c": "100 degrees Celsius"},
    ... ]
    >>> sel = SmoothieSelector(tools=["a", "b", "c"], n_neighbors=2, embedder=HashingEmbedder())
    >>> sel = sel.fit(queries, answers=answers)
    >>> sel.calibration_report_.n_used
    3
    >>> result = sel.select(["a", "b", "c"], "capital of Spain")
    >>> result.selected in {"a", "b", "c"}, round(sum(result.weights.values()), 6)
    (True, 1.0)
    """

    _fit_hint: ClassVar[str] = "fit(queries)"
    _no_report_because: ClassVar[str] = "a loaded or ready-made router keeps no report"

    scorer: str | Scorer | None
    n_neighbors: NNeighbors
    default: str | None
    abstain_below: float | None
    max_pool_size: int | None

    def __init__(
        self,
        router: Router | None = None,
        *,
        tools: Sequence[Tool] | None = None,
        scorer: str | Scorer | None = None,
        n_neighbors: NNeighbors = DEFAULT_N_NEIGHBORS,  # type: ignore[assignment]
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        abstain_below: float | None = None,
        prices: Mapping[str, float] | None = None,
        cost_tradeoff: float = 0.0,
        max_pool_size: int | None = DEFAULT_MAX_POOL_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        calibration_report: CalibrationReport | None = None,
        calibration_errors: Errors | None = None,
    ) -> None:
        if router is not None and not isinstance(router, Router):
            raise TypeError(
                f"`router` must be a smoothie_core.Router; got {type(router).__name__}."
            )
        if router is None and tools is None:
            raise ValueError(
                "SmoothieSelector needs `tools=` (the candidates, to fit) or a ready `router=`."
            )
        if isinstance(tools, str):
            raise TypeError("`tools` must be a list of tools or names, not a single str.")
        self._tools: dict[str, Tool] = {}
        if tools is not None:
            tool_list = list(tools)
            names = check_names([_tool_name(t) for t in tool_list], "tool")
            self._tools = dict(zip(names, tool_list, strict=True))
        if router is not None:
            if embedder is not None:
                raise ValueError(
                    "`router=` carries its own embedder; got also `embedder=`. Load the router "
                    "with that embedder instead."
                )
            if self._tools and list(self._tools) != list(router.candidates):
                raise ValueError(
                    f"`router` candidates {router.candidates} must equal the tool names "
                    f"{list(self._tools)} (same order)."
                )
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
        for name, value in level.items():
            setattr(self, name, value)
        self.prices = None if prices is None else dict(prices)
        self.cost_tradeoff = cost_tradeoff
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self._embedder = as_embedder(embedder)  # None with router=: it has its own
        names = list(router.candidates) if router is not None else list(self._tools)
        self._names = names
        options = self._options()  # validates every option now, with a clear message
        self._router = router if router is not None else options.new_router(self._embedder)
        self._report = calibration_report
        self._errors: Errors | None = (
            None if calibration_errors is None and calibration_report is None else []
        )
        if calibration_errors is not None:
            self._errors = [dict(e) for e in calibration_errors]

    def _options(self) -> Options:
        return options_of(self, self._names)

    # ------------------------------------------------------------------ fit
    def _callers(self) -> tuple[Callable[[str, str], str], Callable[[str, str], Awaitable[str]]]:
        names_only = [n for n, t in self._tools.items() if isinstance(t, str)]
        if not self._tools or names_only:
            raise ValueError(
                f"fit needs the tools themselves to call them; {names_only or self._names} "
                "are names only. Pass QueryEngineTool/RetrieverTool objects as `tools=`, or "
                "fit(queries, answers=...) with precomputed answers."
            )
        tools = self._tools

        def call(name: str, query: str) -> str:
            tool = tools[name]
            if isinstance(tool, QueryEngineTool):
                return settle_response(tool.query_engine.query(query))[1]
            assert isinstance(tool, RetrieverTool)
            return nodes_text(tool.retriever.retrieve(query))

        async def acall(name: str, query: str) -> str:
            tool = tools[name]
            if isinstance(tool, QueryEngineTool):
                return (await asettle_response(await tool.query_engine.aquery(query)))[1]
            assert isinstance(tool, RetrieverTool)
            return nodes_text(await tool.retriever.aretrieve(query))

        return call, acall

    def fit(
        self,
        calibration_queries: Sequence[str],
        *,
        answers: Sequence[Mapping[str, str | None]] | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Calibrate on unlabeled queries: every tool answers each one, then Smoothie is fitted.

        Calls go through :func:`smoothie_core.orchestration.call_grid` (at most
        ``max_concurrency`` at once, per-call ``timeout`` and ``max_retries``, a tqdm bar
        unless ``show_progress=False``). A failed call, or an empty answer, is recorded in
        :attr:`calibration_errors_` and its query left out (:attr:`calibration_report_`);
        it never stops the run. With ``answers`` (``answers[s][tool]`` for query ``s``;
        None or missing = failed) no tool is called. Returns ``self``.
        """
        queries = check_prompts(calibration_queries)
        options = self._options()
        errors: Errors | None = None
        if answers is None:
            call, _ = self._callers()
            answers, errors = collect(self._names, call, queries, options, show_progress)
        router, report, errs = fit_router(options, self._fit_embedder(), queries, answers, errors)
        self._set_fitted(router, report, errs)
        return self

    async def afit(
        self,
        calibration_queries: Sequence[str],
        *,
        answers: Sequence[Mapping[str, str | None]] | None = None,
        show_progress: bool = True,
    ) -> Self:
        """Async :meth:`fit` (``aquery``/``aretrieve``; embedding runs in a worker thread)."""
        queries = check_prompts(calibration_queries)
        options = self._options()
        errors: Errors | None = None
        if answers is None:
            _, acall = self._callers()
            answers, errors = await acollect(self._names, acall, queries, options, show_progress)
        router, report, errs = await afit_router(
            options, self._fit_embedder(), queries, answers, errors
        )
        self._set_fitted(router, report, errs)
        return self

    def _fit_embedder(self) -> Embedder:
        # the router's (given, loaded, or the default created once), so refits compare alike
        return self._embedder if self._embedder is not None else self._router.embedder

    @property
    def calibration_report(self) -> CalibrationReport | None:
        """Older spelling of :attr:`calibration_report_` (None before any calibration)."""
        return self._report

    @property
    def calibration_errors(self) -> Errors:
        """Older spelling of :attr:`calibration_errors_` (empty before any calibration)."""
        return [dict(e) for e in self._errors or []]

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_answers(
        cls,
        tool_names: Sequence[str],
        calibration_queries: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        *,
        calibration_errors: Errors | None = None,
        **options: Any,
    ) -> SmoothieSelector:
        """Calibrate from precomputed answers: ``answers[s][tool]`` answers ``calibration_queries[s]``.

        Same as ``SmoothieSelector(tools=tool_names, **options).fit(calibration_queries,
        answers=answers)``; ``calibration_errors`` (why a precomputed answer is missing)
        are kept beside the empty answers found here.
        """
        selector = cls(tools=list(tool_names), **options)
        queries = check_prompts(calibration_queries)
        router, report, errs = fit_router(
            selector._options(), selector._fit_embedder(), queries, answers, calibration_errors
        )
        selector._set_fitted(router, report, errs)
        return selector

    @classmethod
    def from_query_engine_tools(
        cls,
        query_engine_tools: Sequence[QueryEngineTool],
        calibration_queries: Sequence[str],
        *,
        show_progress: bool = True,
        **options: Any,
    ) -> SmoothieSelector:
        """``SmoothieSelector(tools=query_engine_tools, **options).fit(calibration_queries)``."""
        return cls(tools=list(query_engine_tools), **options).fit(
            calibration_queries, show_progress=show_progress
        )

    @classmethod
    async def afrom_query_engine_tools(
        cls,
        query_engine_tools: Sequence[QueryEngineTool],
        calibration_queries: Sequence[str],
        *,
        show_progress: bool = True,
        **options: Any,
    ) -> SmoothieSelector:
        """Async :meth:`from_query_engine_tools` (:meth:`afit`)."""
        return await cls(tools=list(query_engine_tools), **options).afit(
            calibration_queries, show_progress=show_progress
        )

    @classmethod
    def from_retriever_tools(
        cls,
        retriever_tools: Sequence[RetrieverTool],
        calibration_queries: Sequence[str],
        *,
        show_progress: bool = True,
        **options: Any,
    ) -> SmoothieSelector:
        """Calibrate for a ``RouterRetriever``: each tool's "answer" is its retrieved text."""
        return cls(tools=list(retriever_tools), **options).fit(
            calibration_queries, show_progress=show_progress
        )

    @classmethod
    async def afrom_retriever_tools(
        cls,
        retriever_tools: Sequence[RetrieverTool],
        calibration_queries: Sequence[str],
        *,
        show_progress: bool = True,
        **options: Any,
    ) -> SmoothieSelector:
        """Async :meth:`from_retriever_tools` (:meth:`afit`)."""
        return await cls(tools=list(retriever_tools), **options).afit(
            calibration_queries, show_progress=show_progress
        )

    # ------------------------------------------------------------------ state
    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router` (a new one after each :meth:`fit`)."""
        return self._router

    @property
    def candidates(self) -> list[str]:
        """Calibrated tool names, in order."""
        return list(self._router.candidates)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the calibration (``.npz`` + JSON header, no pickle, atomic)."""
        return self._router.save(path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        embedder: Embedder | BaseEmbedding | None = None,
        **options: Any,
    ) -> SmoothieSelector:
        """Load a selector saved by :meth:`save`; ``embedder`` must be the one it was calibrated with.

        ``options`` are the selector's (``tools``, ``prices``, ``timeout``, ...). The
        router-level ones (``n_neighbors``, ``default``, ``abstain_below``,
        ``max_pool_size``) are saved with the state; given here, they override it.
        """
        emb = as_embedder(embedder) or default_embedder()
        overrides = {k: options.pop(k) for k in LOAD_OVERRIDES if k in options}
        return cls(Router.load(path, embedder=emb, **overrides), **options)

    # -------------------------------------------------------------- selection
    def _get_prompts(self) -> dict[str, Any]:
        """Get prompts (none: Smoothie uses no prompt)."""
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        """Update prompts (none)."""

    def _choice_names(self, choices: Sequence[ToolMetadata]) -> list[str]:
        # A plain-str choice arrives as ToolMetadata(description=str, name=None): match its text.
        raw = [
            c.name if c.name or c.description not in self._router.candidates else c.description
            for c in choices
        ]
        names = check_names(raw, "choice")
        unknown = [n for n in names if n not in self._router.candidates]
        if unknown:
            raise ValueError(
                f"Choices {unknown} are not calibrated candidates of this SmoothieSelector; "
                f"calibrated tool names: {self._router.candidates}. Calibrate with the same tools "
                "(matched by ToolMetadata.name)."
            )
        return names

    def _route(self, query: str) -> Decision:
        try:
            return self._router.route(query)
        except NotFittedError as err:
            raise not_fitted("SmoothieSelector", err) from err

    def _decide(self, names: list[str], decision: Decision, query: str) -> SmoothieSelectorResult:
        decision, extra = self._options().choose(decision)
        if decision.selected not in names:
            ranking: Mapping[str, float] = extra.get("scores", decision.weights)
            best = max(names, key=lambda n: (ranking[n], -names.index(n)))
            decision = dataclasses.replace(decision, selected=best)
        emit_decision(type(self).__name__, query, decision)
        return result_from_decision(names, decision, extra)

    def _select(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        names = self._choice_names(choices)
        return self._decide(names, self._route(query.query_str), query.query_str)

    async def _aselect(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        names = self._choice_names(choices)
        decision = await to_thread(self._route, query.query_str)
        return self._decide(names, decision, query.query_str)

    def __repr__(self) -> str:
        return (
            f"SmoothieSelector(candidates={self._router.candidates}, "
            f"n_neighbors={self._router.n_neighbors})"
        )
