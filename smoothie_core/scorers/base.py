"""The scorer interface: what is compared between candidates' answers.

A :class:`Scorer` turns each input's candidate answers (and optionally the input) into
one row of numbers, its per-sample statistic; its :attr:`Scorer.statistic` says how the
rows of a neighbourhood become weights (:mod:`smoothie_core.statistics`). Smoothie-Global
and Smoothie-Local smoothing (:class:`~smoothie_core.Smoothie`) work on any scorer's
rows, so the router, both integrations, ``smoothie select --scorer`` and the evaluation
harness take any scorer, by name or as an object.

Writing a scorer: subclass :class:`Scorer`, set ``name``, return a statistic from
:attr:`Scorer.statistic` and rows from :meth:`Scorer.score`. Keep parameters
JSON-serialisable (:meth:`Scorer.config`): a saved router records them and
:func:`~smoothie_core.scorers.get_scorer` rebuilds the scorer from them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder
from smoothie_core.orchestration import CallPolicy
from smoothie_core.statistics import Statistic

__all__ = ["JudgeFn", "Scored", "Scorer", "ScoringContext"]

#: ``judge(judge_name, prompt) -> text``: how a scorer asks a judge model (peer review).
JudgeFn = Callable[[str, str], str]


@dataclass(frozen=True)
class ScoringContext:
    """Resources a scorer may use besides the embedder, given by the front door.

    Attributes
    ----------
    judge : callable or None
        ``judge(judge_name, prompt) -> text`` for scorers that ask models (peer review);
        the front door makes each call a child run of its own trace.
    judges : list of str
        Names the judge callable accepts (default: the candidates).
    candidates : list of str
        The candidates' names, in the order of the answers (a router fills it in).
    policy : CallPolicy
        Timeout, retries and concurrency for judge calls.
    """

    judge: JudgeFn | None = None
    judges: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    policy: CallPolicy = field(default_factory=CallPolicy)


@dataclass
class Scored:
    """A scorer's output for ``n`` inputs.

    Attributes
    ----------
    rows : ndarray of shape (n_samples, width)
        The per-sample statistics.
    pairwise : ndarray of shape (n_samples, m, m) or None
        Squared distances between the candidates' output embeddings where the scorer
        has them (enables the reliability check for near-duplicate candidates).
    details : list of dict
        Per input, what the decision metadata should show (e.g. extracted answers,
        judges' grades); JSON-serialisable.
    """

    rows: NDArray[np.float64]
    pairwise: NDArray[np.float64] | None = None
    details: list[dict[str, Any]] = field(default_factory=list)


class Scorer(ABC):
    """What is compared: one input's candidate answers -> a per-candidate statistic row.

    Subclasses set :attr:`name` and implement :attr:`statistic` and :meth:`score`.
    """

    #: Registry name (``get_scorer(name)``, ``--scorer name``, state files).
    name: ClassVar[str]
    #: True when :meth:`score` accepts ``None`` for a candidate that failed (its row
    #: then still joins the pool); False: a router scores the answering candidates alone.
    handles_missing: ClassVar[bool] = False

    @property
    @abstractmethod
    def statistic(self) -> Statistic:
        """How this scorer's rows become weights."""

    def config(self) -> dict[str, Any]:
        """JSON-serialisable parameters (``get_scorer(name, **config())`` rebuilds it)."""
        return {}

    def bind(self, candidates: Sequence[str]) -> Scorer:
        """Adapt to a router's candidates (most scorers need nothing); returns the scorer."""
        return self

    @property
    def id(self) -> str:
        """``name`` plus parameters: two scorers with equal ids give comparable rows."""
        params = ",".join(f"{k}={v}" for k, v in sorted(self.config().items()))
        return f"{self.name}[{params}]" if params else self.name

    @abstractmethod
    def score(
        self,
        answers: Sequence[Sequence[str | None]],
        inputs: Sequence[str] | None = None,
        *,
        embedder: Embedder,
        context: ScoringContext | None = None,
    ) -> Scored:
        """Rows for ``answers[s][j]`` (candidate ``j`` on input ``s``).

        ``None`` marks a candidate that failed; only scorers with
        :attr:`handles_missing` accept it.
        """

    def statistics(
        self,
        answers: Sequence[Sequence[str | None]],
        inputs: Sequence[str] | None = None,
        *,
        embedder: Embedder,
        context: ScoringContext | None = None,
    ) -> NDArray[np.float64]:
        """Only the rows of :meth:`score`."""
        return self.score(answers, inputs, embedder=embedder, context=context).rows

    # -------------------------------------------------------------- helpers
    def _check_answers(
        self, answers: Sequence[Sequence[str | None]], inputs: Sequence[str] | None
    ) -> list[list[str | None]]:
        rows = [list(r) for r in answers]
        if not rows:
            raise ValueError("`answers` must hold at least one input's answers; got none.")
        m = len(rows[0])
        if any(len(r) != m for r in rows):
            raise ValueError(
                "`answers` must have the same number of candidates on every input; got "
                f"row lengths {sorted({len(r) for r in rows})}."
            )
        for s, r in enumerate(rows):
            for j, a in enumerate(r):
                if a is None and not self.handles_missing:
                    raise ValueError(
                        f"answers[{s}][{j}] is None, but the {self.name!r} scorer needs every "
                        "candidate's answer; score the answering candidates alone."
                    )
                if a is not None and not isinstance(a, str):
                    raise TypeError(
                        f"answers[{s}][{j}] must be a str (or None for a failed candidate); "
                        f"got {type(a).__name__}."
                    )
        if inputs is not None and len(inputs) != len(rows):
            raise ValueError(
                f"`inputs` and `answers` must have the same length; got {len(inputs)} and "
                f"{len(rows)}."
            )
        return rows

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({params})"
