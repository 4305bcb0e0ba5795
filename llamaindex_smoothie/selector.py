"""``SmoothieSelector``: a LlamaIndex selector that pre-routes with Smoothie (route mode).

A LlamaIndex selector sees only the choices' metadata and the query, never the
candidates' answers, so it has to be calibrated in advance: every tool answers a set
of unlabeled calibration queries once, and Smoothie keeps per-query statistics of how
the answers agree. A new query is embedded, its nearest calibration queries' statistics
are averaged, and the tool with the highest weight is selected; only that tool is then
called (by ``RouterQueryEngine`` or ``RouterRetriever``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.base_selector import BaseSelector, SelectorResult, SingleSelection
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.schema import QueryBundle
from llama_index.core.tools.query_engine import QueryEngineTool
from llama_index.core.tools.retriever_tool import RetrieverTool
from llama_index.core.tools.types import ToolMetadata

from llamaindex_smoothie._common import NNeighbors, reason, resolve_auto_neighbors, unique_names
from llamaindex_smoothie._runner import Errors, arun_grid, run_grid
from llamaindex_smoothie._texts import asettle_response, nodes_text, settle_response
from llamaindex_smoothie.embeddings import as_embedder
from llamaindex_smoothie.events import emit_decision
from smoothie_core.embedders import Embedder, default_embedder
from smoothie_core.router import CalibrationReport, Decision, Router

__all__ = ["SmoothieSelector", "SmoothieSelectorResult"]


class SmoothieSelectorResult(SelectorResult):
    """A :class:`SelectorResult` with one selection plus every choice's Smoothie weight.

    Attributes
    ----------
    weights : dict of str to float
        Weight per offered choice, by tool name.
    selected : str
        Name of the selected tool.
    decision : dict
        The full :class:`smoothie_core.Decision` as a dict (mode, n_neighbors, failed, ...).
    """

    weights: dict[str, float] = Field(default_factory=dict)
    selected: str = ""
    decision: dict[str, Any] = Field(default_factory=dict)


def result_from_decision(names: Sequence[str], decision: Decision) -> SmoothieSelectorResult:
    """The selector result for ``decision`` over the choices ``names`` (in order)."""
    index = list(names).index(decision.selected)
    return SmoothieSelectorResult(
        selections=[SingleSelection(index=index, reason=reason(decision, len(names)))],
        weights={n: decision.weights[n] for n in names if n in decision.weights},
        selected=decision.selected,
        decision=decision.to_dict(),
    )


class SmoothieSelector(BaseSelector):
    """Select one tool per query by Smoothie weights from a calibration run (route mode).

    Build it with :meth:`from_query_engine_tools`, :meth:`from_retriever_tools` or
    :meth:`from_answers` (precomputed answers), or load a saved one with :meth:`load`.
    Choices are matched to calibrated candidates by tool name (a plain-str choice by
    its text); the choices offered to :meth:`select` may be a subset of them (the best
    offered choice wins); an unknown name raises ``ValueError``.

    Parameters
    ----------
    router : smoothie_core.Router
        A calibrated router whose candidates are the tool names.
    calibration_report : CalibrationReport, optional
    calibration_errors : list of dict, optional
        ``calibration_errors[s][tool]``: why ``tool`` failed on calibration query ``s``.

    Examples
    --------
    >>> from smoothie_core import HashingEmbedder
    >>> queries = ["capital of France", "capital of Italy", "boiling point of water"]
    >>> answers = [
    ...     {"a": "Paris", "b": "Paris is the capital", "c": "Lyon"},
    ...     {"a": "Rome", "b": "Rome is the capital", "c": "Milan"},
    ...     {"a": "100 C", "b": "100 degrees", "c": "100 degrees Celsius"},
    ... ]
    >>> sel = SmoothieSelector.from_answers(["a", "b", "c"], queries, answers,
    ...                                     n_neighbors=2, embedder=HashingEmbedder())
    >>> result = sel.select(["a", "b", "c"], "capital of Spain")
    >>> result.selected in {"a", "b", "c"}, round(sum(result.weights.values()), 6)
    (True, 1.0)
    """

    def __init__(
        self,
        router: Router,
        *,
        calibration_report: CalibrationReport | None = None,
        calibration_errors: Errors | None = None,
    ) -> None:
        if not isinstance(router, Router):
            raise TypeError(
                f"`router` must be a smoothie_core.Router; got {type(router).__name__}."
            )
        self._router = router
        self.calibration_report = calibration_report
        self.calibration_errors: Errors = list(calibration_errors or [])

    # ------------------------------------------------------------ construction
    @classmethod
    def from_answers(
        cls,
        tool_names: Sequence[str],
        calibration_queries: Sequence[str],
        answers: Sequence[Mapping[str, str | None]],
        *,
        n_neighbors: NNeighbors = "auto",
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        calibration_errors: Errors | None = None,
    ) -> SmoothieSelector:
        """Calibrate from precomputed answers: ``answers[s][tool]`` answers ``calibration_queries[s]``.

        A missing or None answer counts as a failure; queries without every tool's
        answer are left out of the calibration (see :attr:`calibration_report`).
        ``n_neighbors="auto"`` averages the ``min(10, n_complete)`` nearest calibration
        queries; an int sets it; None uses Smoothie-Global (same choice for every query).
        """
        names = unique_names(list(tool_names), "tool")
        rows = [dict(row) for row in answers]
        router = Router(
            names,
            embedder=as_embedder(embedder),
            n_neighbors=resolve_auto_neighbors(
                n_neighbors, [{n: r.get(n) for n in names} for r in rows]
            ),
            default=default,
        )
        report = router.calibrate(list(calibration_queries), rows)
        return cls(router, calibration_report=report, calibration_errors=calibration_errors)

    @classmethod
    def from_query_engine_tools(
        cls,
        query_engine_tools: Sequence[QueryEngineTool],
        calibration_queries: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> SmoothieSelector:
        """Run every tool's query engine on every calibration query, then calibrate.

        At most ``max_concurrency`` queries run at once (threads); failures are
        recorded in :attr:`calibration_errors` and never stop the run.
        """
        names = unique_names([t.metadata.name for t in query_engine_tools], "tool")
        engines = {n: t.query_engine for n, t in zip(names, query_engine_tools, strict=True)}

        def call(name: str, query: str) -> str:
            return settle_response(engines[name].query(query))[1]

        return cls._calibrate(
            names,
            call,
            calibration_queries,
            n_neighbors,
            embedder,
            default,
            max_concurrency,
            show_progress,
        )

    @classmethod
    async def afrom_query_engine_tools(
        cls,
        query_engine_tools: Sequence[QueryEngineTool],
        calibration_queries: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> SmoothieSelector:
        """Async :meth:`from_query_engine_tools` (``aquery``, at most ``max_concurrency`` in flight)."""
        names = unique_names([t.metadata.name for t in query_engine_tools], "tool")
        engines = {n: t.query_engine for n, t in zip(names, query_engine_tools, strict=True)}

        async def call(name: str, query: str) -> str:
            return (await asettle_response(await engines[name].aquery(query)))[1]

        return await cls._acalibrate(
            names,
            call,
            calibration_queries,
            n_neighbors,
            embedder,
            default,
            max_concurrency,
            show_progress,
        )

    @classmethod
    def from_retriever_tools(
        cls,
        retriever_tools: Sequence[RetrieverTool],
        calibration_queries: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> SmoothieSelector:
        """Calibrate for a ``RouterRetriever``: each tool's "answer" is its retrieved text."""
        names = unique_names([t.metadata.name for t in retriever_tools], "tool")
        retrievers = {n: t.retriever for n, t in zip(names, retriever_tools, strict=True)}

        def call(name: str, query: str) -> str:
            return nodes_text(retrievers[name].retrieve(query))

        return cls._calibrate(
            names,
            call,
            calibration_queries,
            n_neighbors,
            embedder,
            default,
            max_concurrency,
            show_progress,
        )

    @classmethod
    async def afrom_retriever_tools(
        cls,
        retriever_tools: Sequence[RetrieverTool],
        calibration_queries: Sequence[str],
        *,
        n_neighbors: NNeighbors = "auto",
        embedder: Embedder | BaseEmbedding | None = None,
        default: str | None = None,
        max_concurrency: int = 4,
        show_progress: bool = True,
    ) -> SmoothieSelector:
        """Async :meth:`from_retriever_tools` (``aretrieve``, at most ``max_concurrency`` in flight)."""
        names = unique_names([t.metadata.name for t in retriever_tools], "tool")
        retrievers = {n: t.retriever for n, t in zip(names, retriever_tools, strict=True)}

        async def call(name: str, query: str) -> str:
            return nodes_text(await retrievers[name].aretrieve(query))

        return await cls._acalibrate(
            names,
            call,
            calibration_queries,
            n_neighbors,
            embedder,
            default,
            max_concurrency,
            show_progress,
        )

    @classmethod
    def _calibrate(
        cls,
        names: list[str],
        call: Callable[[str, str], str],
        calibration_queries: Sequence[str],
        n_neighbors: NNeighbors,
        embedder: Embedder | BaseEmbedding | None,
        default: str | None,
        max_concurrency: int,
        show_progress: bool,
    ) -> SmoothieSelector:
        """Collect every tool's answer to every calibration query with ``call``, then
        calibrate (shared by the query-engine and retriever constructors)."""
        answers, errors = run_grid(
            list(calibration_queries),
            names,
            call,
            max_concurrency=max_concurrency,
            show_progress=show_progress,
        )
        return cls.from_answers(
            names,
            calibration_queries,
            answers,
            n_neighbors=n_neighbors,
            embedder=embedder,
            default=default,
            calibration_errors=errors,
        )

    @classmethod
    async def _acalibrate(
        cls,
        names: list[str],
        call: Callable[[str, str], Awaitable[str]],
        calibration_queries: Sequence[str],
        n_neighbors: NNeighbors,
        embedder: Embedder | BaseEmbedding | None,
        default: str | None,
        max_concurrency: int,
        show_progress: bool,
    ) -> SmoothieSelector:
        """Async :meth:`_calibrate` (embedding and fitting run in a worker thread)."""
        answers, errors = await arun_grid(
            list(calibration_queries),
            names,
            call,
            max_concurrency=max_concurrency,
            show_progress=show_progress,
        )
        return await asyncio.to_thread(
            cls.from_answers,
            names,
            calibration_queries,
            answers,
            n_neighbors=n_neighbors,
            embedder=embedder,
            default=default,
            calibration_errors=errors,
        )

    # ------------------------------------------------------------------ state
    @property
    def router(self) -> Router:
        """The underlying :class:`smoothie_core.Router`."""
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
    ) -> SmoothieSelector:
        """Load a selector saved by :meth:`save`; ``embedder`` must be the one it was calibrated with."""
        emb = as_embedder(embedder) or default_embedder()
        return cls(Router.load(path, embedder=emb))

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
        names = unique_names(raw, "choice")
        unknown = [n for n in names if n not in self._router.candidates]
        if unknown:
            raise ValueError(
                f"Choices {unknown} are not calibrated candidates of this SmoothieSelector; "
                f"calibrated tool names: {self._router.candidates}. Calibrate with the same tools "
                "(matched by ToolMetadata.name)."
            )
        return names

    def _decide(self, names: list[str], decision: Decision, query: str) -> SmoothieSelectorResult:
        if decision.selected not in names:
            best = max(names, key=lambda n: (decision.weights[n], -names.index(n)))
            decision = dataclasses.replace(decision, selected=best)
        emit_decision(type(self).__name__, query, decision)
        return result_from_decision(names, decision)

    def _select(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        names = self._choice_names(choices)
        return self._decide(names, self._router.route(query.query_str), query.query_str)

    async def _aselect(self, choices: Sequence[ToolMetadata], query: QueryBundle) -> SelectorResult:
        names = self._choice_names(choices)
        decision = await asyncio.to_thread(self._router.route, query.query_str)
        return self._decide(names, decision, query.query_str)

    def __repr__(self) -> str:
        return (
            f"SmoothieSelector(candidates={self._router.candidates}, "
            f"n_neighbors={self._router.n_neighbors})"
        )
