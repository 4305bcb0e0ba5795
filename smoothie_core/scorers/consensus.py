"""Embedding consensus (the paper's Smoothie) and asymmetric coverage, as scorers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from smoothie_core.asymmetric import (
    DEFAULT_BUDGET,
    DEFAULT_WINDOW,
    coverage_scores,
    embed_chunks,
    word_chunks,
)
from smoothie_core.embedders import Embedder
from smoothie_core.scorers.base import Scored, Scorer, ScoringContext
from smoothie_core.statistics import ScoreStatistic, Statistic, TripletStatistic
from smoothie_core.textviews import VIEWS, view_embedder
from smoothie_core.triplet import sample_deltas

__all__ = ["ConsensusScorer", "CoverageScorer", "TEXT_VIEWS"]

#: Text views of the embedding step (see :mod:`smoothie_core.textviews`).
TEXT_VIEWS: tuple[str, ...] = tuple(VIEWS)


class ConsensusScorer(Scorer):
    """The paper's estimator: embed each answer, score its distance from the consensus.

    Rows are the triplet statistics ``delta_s`` (:func:`~smoothie_core.triplet.sample_deltas`):
    smaller is better.

    Parameters
    ----------
    view : {"first", "last", "windows", "answer"}, default="first"
        What of each answer is embedded (:mod:`smoothie_core.textviews`): its first 256
        word pieces (what the embedder reads on its own: the paper's setting), its last
        256 pieces, the mean of windows over the whole text, or the stated final answer.

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> scored = ConsensusScorer().score(
    ...     [["Paris is the capital.", "The capital is Paris.", "Bananas are yellow."]],
    ...     embedder=HashingEmbedder())
    >>> int(scored.rows[0].argmin()) in (0, 1), scored.rows.shape
    (True, (1, 3))
    """

    name: ClassVar[str] = "consensus"

    def __init__(self, view: str = "first") -> None:
        if view not in TEXT_VIEWS:
            raise ValueError(f"`view` must be one of {list(TEXT_VIEWS)}; got {view!r}.")
        self.view = view
        self._statistic = TripletStatistic()

    @property
    def statistic(self) -> Statistic:
        return self._statistic

    def config(self) -> dict[str, Any]:
        return {} if self.view == "first" else {"view": self.view}

    def score(
        self,
        answers: Sequence[Sequence[str | None]],
        inputs: Sequence[str] | None = None,
        *,
        embedder: Embedder,
        context: ScoringContext | None = None,
    ) -> Scored:
        rows = self._check_answers(answers, inputs)
        n, m = len(rows), len(rows[0])
        if m < 3:
            raise ValueError(f"embedding consensus needs >= 3 answers per input; got {m}.")
        texts = [str(a) for r in rows for a in r]
        view = None if self.view == "first" else self.view  # "first" is the embedder itself
        emb = np.asarray(view_embedder(embedder, view).embed(texts), dtype=np.float64)
        outs = emb.reshape(n, m, -1)
        return Scored(sample_deltas(outs), pairwise=_pairwise(outs))


def _pairwise(outs: NDArray[np.float64]) -> NDArray[np.float64]:
    sq = np.einsum("nmd,nmd->nm", outs, outs)
    gram = np.einsum("nid,njd->nij", outs, outs)
    d2: NDArray[np.float64] = np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * gram, 0.0)
    return d2


class CoverageScorer(Scorer):
    """Asymmetric coverage of answer chunks (:mod:`smoothie_core.asymmetric`): higher is better.

    A better answer tends to contain what the others say, not the reverse. Rows are the
    per-input coverage scores; weights are a softmax of their (neighbourhood) mean.
    Cost: ``budget / window`` short chunks embedded per answer.

    Coverage is asymmetric only where the answers differ in length or their chunks do not
    match one to one: short answers (at most one ``window`` of words each) have one chunk,
    and equally long answers whose chunks pair up cover each other exactly as much as
    they are covered. Where every coverage score is 0 (with three or more answers) the row
    is embedding consensus instead (of the chunk means), as a centred score on the same
    scale (``-(delta - mean) / mean``, summing to 0 like coverage), so such answers are
    still compared. Within the budget, a longer answer tends to cover more: coverage
    rewards length up to ``budget`` words (see ``docs/evaluation/defaults.md``).

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> scorer = CoverageScorer(budget=12, window=6)  # chunks of 6 words, 12 at most
    >>> rows = scorer.statistics([["Paris is the capital of France. It lies on the Seine river.",
    ...     "Paris is the capital of France.", "Lyon is a city."]], embedder=HashingEmbedder(dim=64))
    >>> int(rows[0].argmax())  # the answer that covers what the others say
    0
    """

    name: ClassVar[str] = "coverage"

    def __init__(self, budget: int = DEFAULT_BUDGET, window: int = DEFAULT_WINDOW) -> None:
        for label, v in (("budget", budget), ("window", window)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"`{label}` must be a positive int; got {v!r}.")
        self.budget = budget
        self.window = window
        self._statistic = ScoreStatistic()

    @property
    def statistic(self) -> Statistic:
        return self._statistic

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.budget != DEFAULT_BUDGET:
            out["budget"] = self.budget
        if self.window != DEFAULT_WINDOW:
            out["window"] = self.window
        return out

    def score(
        self,
        answers: Sequence[Sequence[str | None]],
        inputs: Sequence[str] | None = None,
        *,
        embedder: Embedder,
        context: ScoringContext | None = None,
    ) -> Scored:
        rows = self._check_answers(answers, inputs)
        m = len(rows[0])
        if m < 2:
            raise ValueError(f"coverage needs >= 2 answers per input; got {m}.")
        chunks = [
            word_chunks(str(a), budget=self.budget, window=self.window) or [str(a)]
            for r in rows
            for a in r
        ]
        emb = embed_chunks(chunks, embedder)
        out = np.empty((len(rows), m))
        pairwise = np.empty((len(rows), m, m))
        for s in range(len(rows)):
            row = emb[s * m : (s + 1) * m]
            means = np.stack([c.mean(axis=0) for c in row]).astype(np.float64)
            means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
            pairwise[s] = _pairwise(means[None])[0]
            if m >= 3 and all(len(c) <= 1 for c in chunks[s * m : (s + 1) * m]):
                out[s] = _consensus_score(np.stack([c[0] for c in row]).astype(np.float64))
                continue
            scores = coverage_scores(row)
            if m >= 3 and not np.any(np.abs(scores) > 1e-9):
                # coverage is symmetric here (e.g. equally long answers whose chunks match
                # one to one): it says nothing, so compare the answers by consensus
                scores = _consensus_score(means)
            out[s] = scores
        return Scored(out, pairwise=pairwise)


def _consensus_score(vectors: NDArray[np.float64]) -> NDArray[np.float64]:
    """Embedding consensus of one input's answers as a centred higher-is-better score."""
    delta = sample_deltas(vectors[None])[0]
    scale = float(np.mean(np.abs(delta)))
    if scale <= 0:
        return np.zeros(len(delta))
    out: NDArray[np.float64] = -(delta - delta.mean()) / scale
    return out
