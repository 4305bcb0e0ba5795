"""Final-answer agreement: compare what the candidates answer, weighted by estimated accuracy.

Each output's stated final answer is extracted and normalised
(:func:`smoothie_core.answers.final_answer` with ``strict=True``: a short last line counts
only if it is a number or an option letter, so prose is not mistaken for answers);
candidates stating the same answer agree.
A label model (:mod:`smoothie_core.labelmodel`: one-coin Dawid-Skene with safeguards)
estimates each candidate's accuracy from the agreement pattern over many inputs, without
labels, and the answer with the largest posterior wins (Global: accuracies over the
whole pool; Local: per neighbourhood of the input, shrunk towards the global ones).

Inputs where fewer than two answers can be extracted (free-form text, or a failed
extraction, see ``on_missing``) are decided by a fallback scorer over the same
neighbourhood, and the decision says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder
from smoothie_core.scorers.base import Scored, Scorer, ScoringContext
from smoothie_core.scorers.consensus import ConsensusScorer, CoverageScorer
from smoothie_core.statistics import AnswerStatistic, Statistic
from smoothie_core.triplet import sample_deltas

__all__ = ["AnswerAgreementScorer"]

#: Class id of a candidate that stated no extractable answer / that failed to answer.
NO_ANSWER = -1

_FALLBACKS = {"consensus": ConsensusScorer, "coverage": CoverageScorer}


class AnswerAgreementScorer(Scorer):
    """Agreement of stated final answers under a label model (see the module docstring).

    Parameters
    ----------
    fallback : {"consensus", "coverage"}, default="consensus"
        Decides inputs with fewer than two extractable answers.
    on_missing : {"abstain", "fallback"}, default="abstain"
        A candidate whose answer cannot be extracted: ``"abstain"`` leaves it out of that
        input's vote (the others still vote); ``"fallback"`` decides the whole input by
        the fallback scorer.
    tiebreak : bool, default=True
        Break ties between answers of equal posterior (and between candidates stating
        the same answer) by embedding consensus on the final answers (short texts: cheap).
    prior_strength : float, default=10
        Pseudo-observations of the global accuracies in a Local fit.

    Examples
    --------
    >>> from smoothie_core.embedders import HashingEmbedder
    >>> scorer = AnswerAgreementScorer()
    >>> scored = scorer.score(
    ...     [['{"answer": "42"}', "The answer is 42.", "So the answer is 41."]],
    ...     embedder=HashingEmbedder())
    >>> scored.rows[0, :3].tolist(), scored.details[0]["answers"]
    ([0.0, 0.0, 2.0], ['42', '42', '41'])
    """

    name: ClassVar[str] = "answer"
    # a failed candidate makes the router score the others alone and keep the pool for
    # complete inputs, as for every scorer (calibration keeps complete prompts only)
    handles_missing: ClassVar[bool] = False

    def __init__(
        self,
        fallback: str = "consensus",
        *,
        on_missing: str = "abstain",
        tiebreak: bool = True,
        prior_strength: float = 10.0,
    ) -> None:
        if fallback not in _FALLBACKS:
            raise ValueError(f"`fallback` must be one of {sorted(_FALLBACKS)}; got {fallback!r}.")
        if on_missing not in ("abstain", "fallback"):
            raise ValueError(f"`on_missing` must be 'abstain' or 'fallback'; got {on_missing!r}.")
        self.fallback = fallback
        self.on_missing = on_missing
        self.tiebreak = bool(tiebreak)
        self.prior_strength = float(prior_strength)
        self._fallback: Scorer = _FALLBACKS[fallback]()
        self._statistic = AnswerStatistic(
            self._fallback.statistic, prior_strength=self.prior_strength
        )

    @property
    def statistic(self) -> Statistic:
        return self._statistic

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fallback != "consensus":
            out["fallback"] = self.fallback
        if self.on_missing != "abstain":
            out["on_missing"] = self.on_missing
        if not self.tiebreak:
            out["tiebreak"] = False
        if self.prior_strength != 10.0:
            out["prior_strength"] = self.prior_strength
        return out

    def score(
        self,
        answers: Sequence[Sequence[str | None]],
        inputs: Sequence[str] | None = None,
        *,
        embedder: Embedder,
        context: ScoringContext | None = None,
    ) -> Scored:
        from smoothie_core.answers import final_answer

        rows = self._check_answers(answers, inputs)
        n, m = len(rows), len(rows[0])
        finals = [[None if a is None else final_answer(a, strict=True) for a in r] for r in rows]
        classes = np.full((n, m), NO_ANSWER, dtype=np.float64)
        for s, fr in enumerate(finals):
            if self.on_missing == "fallback" and any(
                a is not None and f is None for a, f in zip(rows[s], fr, strict=True)
            ):
                continue  # decided by the fallback scorer
            first: dict[str, int] = {}
            for j, f in enumerate(fr):
                if f is not None:
                    classes[s, j] = first.setdefault(f, j)
        stated = (classes >= 0).sum(axis=1)
        tie = np.full((n, m), np.nan)
        if self.tiebreak and m >= 3:
            full = [s for s in range(n) if stated[s] == m]
            if full:
                texts = [str(finals[s][j]) for s in full for j in range(m)]
                emb = np.asarray(embedder.embed(texts), dtype=np.float64).reshape(len(full), m, -1)
                tie[full] = sample_deltas(emb)
        fb_w = self._statistic.fallback.width(m)
        fb = np.full((n, fb_w), np.nan)
        need = [s for s in range(n) if stated[s] < 2 and all(a is not None for a in rows[s])]
        pairwise = None
        if need and m >= 2:
            sub = self._fallback.score([rows[s] for s in need], None, embedder=embedder)
            fb[need] = sub.rows
            if sub.pairwise is not None:
                pairwise = np.full((n, m, m), np.nan)
                pairwise[need] = sub.pairwise
        details = [
            {
                "answers": fr,
                "fallback": bool(stated[s] < 2),
            }
            for s, fr in enumerate(finals)
        ]
        return Scored(np.hstack([classes, tie, fb]), pairwise=pairwise, details=details)


def answer_ids(finals: Sequence[str | None]) -> NDArray[np.int64]:
    """Class ids for one input's normalised answers (``-1`` = none).

    Examples
    --------
    >>> answer_ids(["42", None, "42", "7"]).tolist()
    [0, -1, 0, 3]
    """
    first: dict[str, int] = {}
    return np.array(
        [-1 if f is None else first.setdefault(f, j) for j, f in enumerate(finals)],
        dtype=np.int64,
    )
