"""Every scorer as an evaluation method, in both modes, and ``router_default``.

For each registered scorer ``S`` (:func:`smoothie_core.scorers.available_scorers`):

``{S}_global`` / ``{S}_local_k{K}`` (select mode)
    The scorer's per-sample statistics of the whole pool, smoothed by
    :class:`~smoothie_core.Smoothie` (Global, or the ``K`` nearest inputs), then
    ``weights_``: every input decided with the pool as its neighbourhood (batch).
``route_{S}_global`` / ``route_{S}_local_k{K}`` (route mode)
    Calibrated on the calibration part, routing each routed input from the input alone.
``answer_vote`` (select mode)
    Plain majority vote over stated final answers (a baseline).
``longest_answer`` (select mode)
    The answer with the most words (a baseline: how much of a method's score length alone
    explains, e.g. on AlpacaEval, whose judge prefers longer answers).
``router_default`` (both modes)
    Exactly what a :class:`~smoothie_core.Router` built with default arguments picks:
    select mode calls ``Router.select`` on each input in order (so the router learns
    from the traffic before each input, as in production); route mode calls
    ``Router.calibrate`` on the calibration part and ``Router.route_many`` on the rest.
    These are the numbers the project publishes as the product's.

Methods here also return each decision's reliability
(:class:`~smoothie_core.evaluation.methods.MethodResult`), so the harness reports
how well it predicts a good pick and what abstaining to a declared default would give.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.embedders import Embedder, HashingEmbedder
from smoothie_core.estimator import Smoothie
from smoothie_core.evaluation.methods import (
    EnsembleData,
    MethodResult,
    RouteData,
    register_family,
    register_method,
    register_route_family,
    register_route_method,
)
from smoothie_core.router import Router
from smoothie_core.scorers import Scorer, available_scorers, get_scorer

__all__ = [
    "PoolEmbedder",
    "longest_answer",
    "register_scorer_methods",
    "route_router_default",
    "router_default",
]


class PoolEmbedder:
    """An embedder that serves a pool's known vectors and embeds the rest.

    Inputs come from the pool's input embeddings; whole outputs from its output
    embeddings when those are precomputed (or already computed); any other text (final
    answers, chunks, views) from the evaluation's embedder (cached on disk when the
    command has a cache). Its ``id`` is the evaluation embedder's, so vectors are
    comparable with a router's.
    """

    def __init__(self, data: EnsembleData, extra_inputs: Sequence[str] = ()) -> None:
        self.data = data
        self._base: Embedder = data.embedder if data.embedder is not None else HashingEmbedder()
        self.id = self._base.id
        self._inputs: dict[str, int] = {t: i for i, t in enumerate(data.instructions)}
        self._extra: dict[str, NDArray[np.float32]] = {}
        self._outputs: dict[str, tuple[int, int]] = {
            t: (i, j) for i, row in enumerate(data.outputs) for j, t in enumerate(row)
        }

    def add_inputs(self, texts: Sequence[str], vectors: NDArray[np.float32]) -> None:
        """Known vectors of other inputs (e.g. the routed part)."""
        for t, v in zip(texts, vectors, strict=True):
            self._extra[t] = np.asarray(v, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        texts = list(texts)
        out: list[NDArray[np.float32] | None] = [None] * len(texts)
        missing: list[int] = []
        use_outputs = self.data.output_embeddings_cheap or self.data.output_embeddings_computed
        for k, t in enumerate(texts):
            if t in self._extra:
                out[k] = self._extra[t]
            elif t in self._inputs:
                out[k] = self.data.input_embeddings[self._inputs[t]]
            elif use_outputs and t in self._outputs:
                i, j = self._outputs[t]
                out[k] = self.data.output_embeddings[i, j]
            else:
                missing.append(k)
        if missing:
            vecs = np.asarray(self._base.embed([texts[k] for k in missing]), dtype=np.float32)
            for k, v in zip(missing, vecs, strict=True):
                out[k] = v
        if not texts:
            return np.empty((0, 0), dtype=np.float32)
        return np.stack([np.asarray(v, dtype=np.float32) for v in out])


def _quiet() -> warnings.catch_warnings:
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", ReliabilityWarning)
    return ctx


def _rows(scorer: Scorer, data: EnsembleData, embedder: Embedder) -> NDArray[np.float64]:
    if scorer.name == "consensus" and scorer.config() == {}:
        # the paper's setting: the pool's own (first-view) output embeddings, already
        # computed or precomputed by the harness
        from smoothie_core.triplet import sample_deltas

        return sample_deltas(data.output_embeddings)
    return scorer.statistics(data.outputs, data.instructions, embedder=embedder)


def _select(scorer_name: str, k: int | None) -> Any:
    def method(data: EnsembleData) -> MethodResult:
        scorer = get_scorer(scorer_name).bind(data.models)
        emb = PoolEmbedder(data)
        rows = _rows(scorer, data, emb)
        kk = None if k is None else min(k, data.n_inputs)
        inputs = data.input_embeddings if kk is not None else None
        est = Smoothie(kk, statistic=scorer.statistic).fit(
            sample_statistics=rows, input_embeddings=inputs, candidate_names=data.models
        )
        w = est.weights_
        return MethodResult(np.argmax(w, axis=1).astype(np.intp))

    method.__name__ = f"{scorer_name}_{'global' if k is None else f'local_k{k}'}"
    return method


def _route(scorer_name: str, k: int | None) -> Any:
    def method(data: RouteData) -> MethodResult:
        cal = data.calibration
        scorer = get_scorer(scorer_name).bind(cal.models)
        emb = PoolEmbedder(cal)
        rows = _rows(scorer, cal, emb)
        kk = None if k is None else min(k, cal.n_inputs)
        est = Smoothie(kk, statistic=scorer.statistic).fit(
            sample_statistics=rows,
            input_embeddings=cal.input_embeddings if kk is not None else None,
            candidate_names=cal.models,
        )
        if kk is None:
            w = np.tile(est.global_weights_, (data.n_inputs, 1))
        else:
            w = est.predict_weights(data.input_embeddings)
        return MethodResult(np.argmax(w, axis=1).astype(np.intp))

    method.__name__ = f"route_{scorer_name}_{'global' if k is None else f'local_k{k}'}"
    return method


def answer_vote(data: EnsembleData) -> MethodResult:
    """Plain majority vote over the stated final answers (a baseline: every candidate
    counts the same; ties and inputs without two stated answers go to the first candidate)."""
    from smoothie_core.answers import final_answer

    picks = np.zeros(data.n_inputs, dtype=np.intp)
    for s, row in enumerate(data.outputs):
        finals = [final_answer(a, strict=True) for a in row]
        counts: dict[str, int] = {}
        for f in finals:
            if f is not None:
                counts[f] = counts.get(f, 0) + 1
        if counts and max(counts.values()) >= 2:
            top = max(counts.values())
            picks[s] = next(j for j, f in enumerate(finals) if f is not None and counts[f] == top)
    return MethodResult(picks)


def longest_answer(data: EnsembleData) -> MethodResult:
    """The answer with the most words (ties: the first candidate) -- a label-free baseline
    that shows how much of a method's score length alone explains."""
    picks = [int(np.argmax([len(str(a).split()) for a in row])) for row in data.outputs]
    return MethodResult(np.asarray(picks, dtype=np.intp))


def router_default(data: EnsembleData) -> MethodResult:
    """What ``Router(models)`` with default arguments picks, input by input, in order."""
    emb = PoolEmbedder(data)
    router = Router(data.models, embedder=emb)
    picks = np.empty(data.n_inputs, dtype=np.intp)
    rel = np.full(data.n_inputs, np.nan)
    index = {name: j for j, name in enumerate(data.models)}
    ctx = _quiet()
    try:
        for s, (text, row) in enumerate(zip(data.instructions, data.outputs, strict=True)):
            d = router.select(text, dict(zip(data.models, row, strict=True)))
            picks[s] = index[d.selected]
            rel[s] = np.nan if d.reliability is None else d.reliability
    finally:
        ctx.__exit__(None, None, None)
    return MethodResult(picks, reliability=rel)


def route_router_default(data: RouteData) -> MethodResult:
    """What ``Router(models)`` with default arguments routes after calibrating on the
    calibration part."""
    cal = data.calibration
    emb = PoolEmbedder(cal)
    emb.add_inputs(data.inputs, data.input_embeddings)
    router = Router(cal.models, embedder=emb)
    index = {name: j for j, name in enumerate(cal.models)}
    ctx = _quiet()
    try:
        router.calibrate(
            cal.instructions, [dict(zip(cal.models, row, strict=True)) for row in cal.outputs]
        )
        decisions = router.route_many(data.inputs)
    finally:
        ctx.__exit__(None, None, None)
    picks = np.array([index[d.selected] for d in decisions], dtype=np.intp)
    rel = np.array([np.nan if d.reliability is None else d.reliability for d in decisions])
    return MethodResult(picks, reliability=rel)


def register_scorer_methods(names: Sequence[str] | None = None) -> None:
    """Register ``{S}_global``, ``{S}_local_k{K}`` and their ``route_`` forms for scorers.

    Called on import for every registered scorer except ``peer_review`` (it needs judge
    models, which released generations do not have); call it again after
    :func:`smoothie_core.scorers.register_scorer` to evaluate your own scorer.
    """
    for name in names if names is not None else available_scorers():
        if name == "peer_review":
            continue
        register_method(f"{name}_global", _select(name, None), overwrite=True)
        register_family(f"{name}_local_k", functools.partial(_select, name))
        register_route_method(f"route_{name}_global", _route(name, None), overwrite=True)
        register_route_family(f"route_{name}_local_k", functools.partial(_route, name))


register_method("router_default", router_default, overwrite=True)
register_method("answer_vote", answer_vote, overwrite=True)
register_method("longest_answer", longest_answer, overwrite=True)
register_route_method("router_default", route_router_default, overwrite=True)
register_scorer_methods()
