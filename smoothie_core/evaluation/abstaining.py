"""Evaluation methods with the issue-8 abstention policy (registered on import).

An abstaining method returns a ``numpy.ma.MaskedArray`` of picks: a masked entry means
the method abstained on that instruction and its value is the fallback pick (the
declared default: the first model of the ensemble). ``numpy.asarray`` of it gives the
picks with the fallback applied, so the harness scores it like any other method and
reports the abstention rate from the mask.

``smoothie_global_abstain``
    Smoothie-Global; when the fit's reliability (:func:`~smoothie_core.diagnostics.diagnose_outputs`)
    is below 0.5, every instruction falls back to the first model.
``smoothie_local_abstain_k{K}``
    Smoothie-Local (``K`` nearest instructions); per instruction, when the reliability of
    its neighbourhood's statistics (:func:`~smoothie_core.diagnostics.diagnose_deltas`) is
    below 0.5, fall back to the first model.
``coverage_global`` / ``coverage_local_k{K}``
    Asymmetric coverage (:mod:`smoothie_core.asymmetric`, experimental; embeds 4 chunks of
    15 words per answer with the evaluation's embedder).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from smoothie_core.asymmetric import Coverage
from smoothie_core.diagnostics import diagnose_deltas, diagnose_outputs
from smoothie_core.evaluation.methods import (
    EnsembleData,
    MethodFn,
    register_family,
    register_method,
)
from smoothie_core.neighbors import ExactNeighbors
from smoothie_core.triplet import neighbor_mean, sample_deltas, select_best, weights_from_deltas

__all__ = ["ABSTAIN_BELOW", "DEFAULT_INDEX"]

#: Reliability below which the evaluation's abstaining methods fall back.
ABSTAIN_BELOW = 0.5
#: The declared default of an ensemble in the evaluation: its first model.
DEFAULT_INDEX = 0


def _masked(picks: NDArray[np.intp], abstained: NDArray[np.bool_]) -> NDArray[np.intp]:
    final = np.where(abstained, DEFAULT_INDEX, picks).astype(np.intp)
    out: NDArray[np.intp] = np.ma.MaskedArray(final, mask=abstained.astype(bool))
    return out


def smoothie_global_abstain(data: EnsembleData) -> NDArray[np.intp]:
    """Smoothie-Global, abstaining to the first model when the fit is unreliable."""
    rep = diagnose_outputs(data.output_embeddings)
    deltas = sample_deltas(data.output_embeddings)
    best = int(select_best(weights_from_deltas(deltas.mean(axis=0))))
    n = data.n_instructions
    return _masked(np.full(n, best, dtype=np.intp), np.full(n, rep.score < ABSTAIN_BELOW))


def _neighbors(data: EnsembleData, k: int) -> NDArray[np.intp]:
    x = np.asarray(data.input_embeddings, dtype=np.float64)
    index = ExactNeighbors()
    index.add(x)
    return np.asarray(index.search(x, min(k, len(x))), dtype=np.intp)


def _local_abstain(k: int) -> MethodFn:
    def smoothie_local_abstain(data: EnsembleData) -> NDArray[np.intp]:
        deltas = sample_deltas(data.output_embeddings)
        idx = _neighbors(data, k)
        picks = select_best(weights_from_deltas(neighbor_mean(deltas, idx)))
        abstained = np.array([diagnose_deltas(deltas[row]).score < ABSTAIN_BELOW for row in idx])
        return _masked(picks, abstained)

    return smoothie_local_abstain


def _check_embedder(data: EnsembleData) -> None:
    if data.embedder is None:
        raise ValueError(
            "coverage methods embed answer chunks and need the evaluation's embedder; got None."
        )


def coverage_global(data: EnsembleData) -> NDArray[np.intp]:
    """Asymmetric coverage, Global: the candidate with the best mean score."""
    _check_embedder(data)
    assert data.embedder is not None
    cov = Coverage(data.embedder).fit(data.outputs)
    return cov.predict(n_queries=data.n_instructions)


def _coverage_local(k: int) -> MethodFn:
    def coverage_local(data: EnsembleData) -> NDArray[np.intp]:
        _check_embedder(data)
        assert data.embedder is not None
        kk = min(k, data.n_instructions)
        cov = Coverage(data.embedder, n_neighbors=kk).fit(data.outputs, data.input_embeddings)
        return cov.predict(data.input_embeddings)

    return coverage_local


register_method("smoothie_global_abstain", smoothie_global_abstain, overwrite=True)
register_method("coverage_global", coverage_global, overwrite=True)
register_family("smoothie_local_abstain_k", _local_abstain)
register_family("coverage_local_k", _coverage_local)
