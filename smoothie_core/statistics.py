"""How per-sample statistics become weights: Smoothie-Global / Smoothie-Local for any scorer.

A scorer (:mod:`smoothie_core.scorers`) turns each input's candidate answers into one
row of numbers, its *per-sample statistic*. A :class:`Statistic` says how the rows of a
neighbourhood become weights over the candidates. :class:`~smoothie_core.Smoothie`
owns the rows and the neighbour search and calls :meth:`Statistic.weights`; nothing
else computes weights.

A neighbourhood is either ``neighbors[q]`` (row indices: Smoothie-Local) or, with
``neighbors=None``, the first ``base`` rows (Smoothie-Global). ``focus[q]`` is the row of
query ``q``'s own answers (select mode) and belongs to its neighbourhood; ``focus=None``
means the query has no answers yet (route mode).

Built in:

:class:`TripletStatistic` (``"triplet"``)
    The paper's estimator: rows are ``delta_s`` (smaller is better); weights are the
    normalised ``1 / mean(delta)`` (:func:`~smoothie_core.triplet.weights_from_deltas`).
:class:`ScoreStatistic` (``"score"``)
    Higher-is-better scores (coverage, peer grades); weights are a softmax of the mean.
:class:`AnswerStatistic` (``"answer"``)
    Agreement of stated final answers under a label model
    (:mod:`smoothie_core.labelmodel`): accuracies are estimated over the neighbourhood,
    the focus row's answers are voted on with them.

Examples
--------
>>> import numpy as np
>>> rows = np.array([[1.0, 2.0, 4.0], [1.0, 4.0, 2.0]])
>>> TripletStatistic().weights(rows, None, None).round(3)  # Global, route mode
array([[0.6, 0.2, 0.2]])
>>> TripletStatistic().weights(rows, np.array([[1]]), None).round(3)  # Local, k = 1
array([[0.571, 0.143, 0.286]])
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core.diagnostics import (
    Reliability,
    agreement_posterior,
    diagnose_deltas,
    diagnose_scores,
)
from smoothie_core.labelmodel import class_posteriors, fit_label_models
from smoothie_core.triplet import neighbor_mean, weights_from_deltas

__all__ = [
    "AnswerStatistic",
    "ScoreStatistic",
    "Statistic",
    "TripletStatistic",
    "get_statistic",
]


class Statistic(ABC):
    """How the per-sample rows of a neighbourhood become candidate weights.

    Subclasses set :attr:`name` (stored in state files) and implement :meth:`weights`
    and :meth:`assess`. They hold only JSON-serialisable parameters (:meth:`config`), so a
    state file records them without pickle.
    """

    #: Name in state files and in :func:`get_statistic`.
    name: ClassVar[str]
    #: Select mode with ``n_neighbors=None`` uses the whole pool (True: label models,
    #: where the input's own row is the evidence and the pool estimates the qualities)
    #: or the input's row alone (False: the row is itself the quality estimate).
    pooled_select: ClassVar[bool] = False
    #: What a decision's ``fallback`` says when :meth:`no_information` holds.
    no_information_reason: ClassVar[str] = "all answers identical: no information"

    def width(self, n_candidates: int) -> int:
        """Columns of one row for ``n_candidates`` candidates."""
        return n_candidates

    def config(self) -> dict[str, Any]:
        """JSON-serialisable parameters (``get_statistic(name, **config())`` rebuilds it)."""
        return {}

    def check_rows(self, rows: ArrayLike, n_candidates: int) -> NDArray[np.float64]:
        """Validate a block of rows ``(n, width)``; returns it as float64."""
        arr = np.asarray(rows, dtype=np.float64)
        w = self.width(n_candidates)
        if arr.ndim != 2 or arr.shape[1] != w:
            raise ValueError(
                f"{self.name!r} statistics must have shape (n_samples, {w}) for "
                f"{n_candidates} candidates; got shape {arr.shape}."
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"{self.name!r} statistics hold NaN or inf.")
        return arr

    def n_candidates(self, width: int) -> int:
        """Candidates described by rows of ``width`` columns."""
        return width

    def summarize(self, rows: NDArray[np.float64], warm: Any = None) -> Any:
        """A global summary of ``rows`` reused across decisions (None: nothing to reuse).

        Label models return their fit over the pool, so that a decision need not refit
        it: :class:`~smoothie_core.Smoothie` keeps the summary and refreshes it (warm
        started from ``warm``, the previous one) as the pool grows.
        """
        return None

    @abstractmethod
    def weights(
        self,
        rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: NDArray[np.intp] | None,
        *,
        base: int | None = None,
        summary: Any = None,
    ) -> NDArray[np.float64]:
        """Weights ``(n_queries, n_candidates)`` (rows sum to 1; argmax = the pick).

        Parameters
        ----------
        rows : ndarray of shape (n_rows, width)
        neighbors : int ndarray of shape (n_queries, k), or None
            Each query's neighbourhood (Local), or None: the first ``base`` rows plus the
            focus row (Global).
        focus : int ndarray of shape (n_queries,), or None
            Row of each query's own answers (select mode), None in route mode.
        base : int, optional
            Rows forming the Global neighbourhood (default: all).
        summary : optional
            A :meth:`summarize` of the first ``base`` rows to reuse instead of recomputing.
        """

    def decide(
        self,
        rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: int | None,
        candidate_names: Sequence[str],
        *,
        base: int | None = None,
        pairwise: NDArray[np.float64] | None = None,
        summary: Any = None,
    ) -> tuple[NDArray[np.float64], Reliability]:
        """One decision: its weights ``(m,)`` and reliability report.

        ``neighbors`` is this query's neighbourhood ``(k,)`` (None: Global, the first
        ``base`` rows plus ``focus``); ``pairwise`` (mean squared distances between the
        candidates' output embeddings) enables checks that need it.
        """
        nb_arr = None if neighbors is None else np.asarray(neighbors, dtype=np.intp)[None, :]
        f_arr = None if focus is None else np.array([focus], dtype=np.intp)
        w = self.weights(rows, nb_arr, f_arr, base=base, summary=summary)[0]
        if neighbors is not None:
            hood = rows[np.asarray(neighbors, dtype=np.intp)]
        else:
            n_base = rows.shape[0] if base is None else int(base)
            own = [] if focus is None or focus < n_base else [focus]
            hood = rows[np.r_[np.arange(n_base), own].astype(np.intp)]
        return w, self._assess(hood, candidate_names, pairwise=pairwise)

    def _assess(
        self,
        hood: NDArray[np.float64],
        candidate_names: Sequence[str],
        *,
        pairwise: NDArray[np.float64] | None = None,
    ) -> Reliability:
        """Reliability of a decision from the neighbourhood rows ``hood``."""
        raise NotImplementedError

    def no_information(self, row: NDArray[np.float64]) -> bool:
        """True when an input's own row says nothing (e.g. all answers identical)."""
        return False

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Statistic)
            and type(other) is type(self)
            and other.config() == self.config()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(sorted(self.config().items()))))


class _MeanStatistic(Statistic):
    """Statistics whose neighbourhood summary is the mean row (Smoothie's own kind)."""

    @abstractmethod
    def from_mean(self, mean: NDArray[np.float64]) -> NDArray[np.float64]:
        """Weights ``(q, m)`` from neighbourhood means ``(q, width)``."""

    def weights(
        self,
        rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: NDArray[np.intp] | None,
        *,
        base: int | None = None,
        summary: Any = None,
    ) -> NDArray[np.float64]:
        rows = np.asarray(rows, dtype=np.float64)
        if neighbors is not None:
            return self.from_mean(neighbor_mean(rows, neighbors))
        nb = rows.shape[0] if base is None else int(base)
        total = rows[:nb].sum(axis=0)
        if focus is None:
            return self.from_mean((total / nb)[None, :])
        f = np.asarray(focus, dtype=np.intp)
        extra = f >= nb  # focus rows outside the pool join their own neighbourhood
        means = np.where(
            extra[:, None], (total[None, :] + rows[f]) / (nb + 1), (total / nb)[None, :]
        )
        return self.from_mean(means)


class TripletStatistic(_MeanStatistic):
    """The paper's triplet estimator: rows are ``delta_s``; weights ``1 / mean(delta)``.

    Examples
    --------
    >>> import numpy as np
    >>> TripletStatistic().weights(np.array([[1.0, 2.0, 4.0]]), None, None).round(4)
    array([[0.5714, 0.2857, 0.1429]])
    """

    name: ClassVar[str] = "triplet"

    def check_rows(self, rows: ArrayLike, n_candidates: int) -> NDArray[np.float64]:
        arr = super().check_rows(rows, n_candidates)
        if n_candidates < 3:
            raise ValueError(f"the triplet statistic needs >= 3 candidates; got {n_candidates}.")
        return arr

    def from_mean(self, mean: NDArray[np.float64]) -> NDArray[np.float64]:
        return weights_from_deltas(mean)

    def _assess(
        self,
        hood: NDArray[np.float64],
        candidate_names: Sequence[str],
        *,
        pairwise: NDArray[np.float64] | None = None,
    ) -> Reliability:
        return diagnose_deltas(hood, candidate_names=candidate_names, pairwise=pairwise)

    def no_information(self, row: NDArray[np.float64]) -> bool:
        return not np.any(row)


class ScoreStatistic(_MeanStatistic):
    """Higher-is-better scores (coverage, grades): weights are ``softmax(mean / temperature)``.

    Examples
    --------
    >>> import numpy as np
    >>> ScoreStatistic().weights(np.array([[0.0, 1.0, -1.0]]), None, None).round(3)
    array([[0.245, 0.665, 0.09 ]])
    """

    name: ClassVar[str] = "score"

    def __init__(self, temperature: float = 1.0) -> None:
        if not (isinstance(temperature, (int, float)) and temperature > 0):
            raise ValueError(f"`temperature` must be a positive number; got {temperature!r}.")
        self.temperature = float(temperature)

    def config(self) -> dict[str, Any]:
        return {"temperature": self.temperature}

    def from_mean(self, mean: NDArray[np.float64]) -> NDArray[np.float64]:
        z = mean / self.temperature
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        out: NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
        return out

    def _assess(
        self,
        hood: NDArray[np.float64],
        candidate_names: Sequence[str],
        *,
        pairwise: NDArray[np.float64] | None = None,
    ) -> Reliability:
        return diagnose_scores(hood, candidate_names=candidate_names)

    def no_information(self, row: NDArray[np.float64]) -> bool:
        return not np.any(row)


class AnswerStatistic(Statistic):
    """Agreement of stated final answers, weighted by label-model accuracies.

    A row is ``[classes (m) | tie (m) | fallback (w_f)]``:

    * ``classes``: the answer class of each candidate on this input
      (:func:`~smoothie_core.labelmodel.answer_classes_from_ids`; ``-1`` = no answer);
    * ``tie``: a smaller-is-better tie-breaker per candidate (embedding consensus on the
      final answers), ``NaN`` where unavailable;
    * ``fallback``: the fallback statistic's row for inputs decided without answers
      (fewer than two stated answers), ``NaN`` elsewhere.

    Accuracies come from :func:`~smoothie_core.labelmodel.fit_label_models`: Global over
    the first ``base`` rows; Local per neighbourhood with the global accuracies as a Beta
    prior of ``prior_strength`` pseudo-observations. Select mode (a focus row): each
    candidate's weight is the posterior that its answer is right, normalised over the
    candidates; candidates stating the same answer share it, and the tie-breaker (then
    the estimated accuracy, then candidate order) decides between them and between
    answers of equal posterior. Route mode: weights are the accuracies, normalised.
    Inputs with fewer than two stated answers are decided by the fallback statistic over
    the neighbourhood's fallback rows.

    Parameters
    ----------
    fallback : Statistic
        How answer-less inputs are decided (a mean statistic: ``"triplet"`` or ``"score"``).
    prior_strength : float, default=10
        Pseudo-observations of the global accuracies in a Local fit.
    """

    name: ClassVar[str] = "answer"
    pooled_select: ClassVar[bool] = True

    def __init__(self, fallback: Statistic | None = None, *, prior_strength: float = 10.0) -> None:
        fb = TripletStatistic() if fallback is None else fallback
        if not isinstance(fb, _MeanStatistic):
            raise ValueError(
                f"`fallback` must be a mean statistic ('triplet' or 'score'); got {fb!r}."
            )
        if not (isinstance(prior_strength, (int, float)) and prior_strength >= 0):
            raise ValueError(f"`prior_strength` must be a number >= 0; got {prior_strength!r}.")
        self.fallback = fb
        self.prior_strength = float(prior_strength)

    def config(self) -> dict[str, Any]:
        return {
            "fallback": {"name": self.fallback.name, **self.fallback.config()},
            "prior_strength": self.prior_strength,
        }

    def width(self, n_candidates: int) -> int:
        return 2 * n_candidates + self.fallback.width(n_candidates)

    def n_candidates(self, width: int) -> int:
        m = 1
        while self.width(m) < width:
            m += 1
        if self.width(m) != width:
            raise ValueError(f"no number of candidates gives answer rows of width {width}.")
        return m

    def check_rows(self, rows: ArrayLike, n_candidates: int) -> NDArray[np.float64]:
        arr = np.asarray(rows, dtype=np.float64)
        m = n_candidates
        w = self.width(m)
        if arr.ndim != 2 or arr.shape[1] != w:
            raise ValueError(
                f"'answer' statistics must have shape (n_samples, {w}) for {m} candidates; "
                f"got shape {arr.shape}."
            )
        cls = arr[:, :m]
        if not np.isfinite(cls).all() or not np.array_equal(cls, np.round(cls)):
            raise ValueError("'answer' statistics: the class columns must hold integers.")
        if cls.size and (cls.min() < -1 or cls.max() >= m):
            raise ValueError(f"'answer' statistics: classes must lie in [-1, {m - 1}].")
        if np.isinf(arr[:, m:]).any():
            raise ValueError("'answer' statistics hold inf.")
        return arr

    # -------------------------------------------------------------- pieces
    def _split(
        self, rows: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], int]:
        m = self.n_candidates(rows.shape[-1])
        return rows[..., :m].astype(np.int64), rows[..., m : 2 * m], rows[..., 2 * m :], m

    def summarize(self, rows: NDArray[np.float64], warm: Any = None) -> dict[str, Any]:
        """The label model fitted on ``rows`` (warm-started from a previous summary)."""
        classes = self._split(np.asarray(rows, dtype=np.float64))[0]
        init = None if warm is None else (warm["global_accuracies"], warm["collision"])
        glob = fit_label_models(classes[None], init=init)
        return {
            "global_accuracies": glob["accuracies"][0],
            "collision": float(glob["collision"][0]),
            "converged": bool(glob["converged"][0]),
            "flipped": bool(glob["flipped"][0]),
        }

    def _accuracies(
        self,
        classes: NDArray[np.int64],
        neighbors: NDArray[np.intp] | None,
        n_queries: int,
        base: int,
        summary: Any = None,
    ) -> tuple[NDArray[np.float64], float, dict[str, Any]]:
        """Accuracies ``(q, m)`` per query, the collision rate, and the global fit's flags."""
        m = classes.shape[1]
        if summary is None:
            rows_cls = classes[:base].astype(np.float64)
            summary = self.summarize(
                np.hstack([rows_cls, np.full((base, self.width(m) - m), np.nan)])
            )
        info = summary
        g_acc, g_r = summary["global_accuracies"], float(summary["collision"])
        if neighbors is None:
            return np.tile(g_acc, (n_queries, 1)), g_r, info
        idx = np.asarray(neighbors, dtype=np.intp)
        acc = np.empty((idx.shape[0], m))
        step = max(1, 4096 // max(1, idx.shape[1]))
        for start in range(0, idx.shape[0], step):
            fit = fit_label_models(
                classes[idx[start : start + step]],
                prior=g_acc,
                prior_strength=self.prior_strength,
                collision=g_r,
            )
            acc[start : start + step] = fit["accuracies"]
        return acc, g_r, info

    def weights(
        self,
        rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: NDArray[np.intp] | None,
        *,
        base: int | None = None,
        summary: Any = None,
    ) -> NDArray[np.float64]:
        rows = np.asarray(rows, dtype=np.float64)
        classes, tie, fb_rows, _m = self._split(rows)
        nb = rows.shape[0] if base is None else int(base)
        q = (1 if focus is None else len(focus)) if neighbors is None else len(neighbors)
        acc, r, _info = self._accuracies(classes, neighbors, q, nb, summary)
        if focus is None:
            return self._route_weights(acc, classes, fb_rows, neighbors, nb)
        f = np.asarray(focus, dtype=np.intp)
        w = self._vote(classes[f], tie[f], acc, r)
        answerless = (classes[f] >= 0).sum(axis=1) < 2
        if answerless.any():
            w[answerless] = self._fallback_weights(
                fb_rows, neighbors, f, nb, np.flatnonzero(answerless)
            )
        return w

    def _route_weights(
        self,
        acc: NDArray[np.float64],
        classes: NDArray[np.int64],
        fb_rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        base: int,
    ) -> NDArray[np.float64]:
        """Route mode: the accuracies (normalised) where the neighbourhood's inputs had
        answers, the fallback statistic's weights where they had not, mixed in proportion."""
        q = acc.shape[0]
        out = acc / acc.sum(axis=1, keepdims=True)
        hoods = (
            [np.arange(base)] * q
            if neighbors is None
            else [np.asarray(h, dtype=np.intp) for h in neighbors]
        )
        for j, hood in enumerate(hoods):
            if hood.size == 0:
                continue
            answered = (classes[hood] >= 0).sum(axis=1) >= 2
            share = float(answered.mean())
            if share >= 1.0:
                continue
            fb = fb_rows[hood[~answered]]
            fb = fb[np.isfinite(fb).all(axis=1)]
            if fb.size == 0:
                continue
            fb_w = self.fallback.weights(fb, None, None)[0]
            out[j] = share * out[j] + (1.0 - share) * fb_w
        return out

    def _vote(
        self,
        classes: NDArray[np.int64],
        tie: NDArray[np.float64],
        acc: NDArray[np.float64],
        r: float,
    ) -> NDArray[np.float64]:
        """Weights for focus rows ``classes (q, m)`` given accuracies ``acc (q, m)``."""
        q, m = classes.shape
        post = np.empty((q, m))
        for j in range(q):  # posteriors with each query's own accuracies
            post[j] = class_posteriors(classes[j : j + 1], acc[j], r)[0][0]
        valid = classes >= 0
        # rank: posterior (rounded against float noise), then tie-breaker, accuracy, order
        key_post = np.where(valid, np.round(post, 12), -1.0)
        key_tie = np.where(np.isnan(tie), np.inf, tie)
        order = np.lexsort((np.arange(m)[None, :].repeat(q, 0), -acc, key_tie, -key_post), axis=1)
        choice = order[:, 0]
        w = np.where(valid, post, 0.0)
        total = w.sum(axis=1, keepdims=True)
        w = np.divide(w, total, out=np.full_like(w, 1.0 / m), where=total > 0)
        # make the chosen candidate the strict argmax (ties among equal posteriors)
        rows_ = np.arange(q)
        top = w.max(axis=1)
        bump = (w[rows_, choice] < top) | ((w == top[:, None]).sum(axis=1) > 1)
        if bump.any():
            eps = 1e-9
            w[rows_[bump], choice[bump]] = top[bump] + eps
            w[bump] /= w[bump].sum(axis=1, keepdims=True)
        return w

    def _fallback_weights(
        self,
        fb_rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: NDArray[np.intp],
        base: int,
        which: NDArray[np.intp],
    ) -> NDArray[np.float64]:
        m_w = fb_rows.shape[1]
        if neighbors is None:
            pool = np.flatnonzero(np.isfinite(fb_rows[:base]).all(axis=1))
            out = []
            for qi in which:
                own = int(focus[qi])
                hood = pool if own < base else np.append(pool, own)
                if not np.isfinite(fb_rows[own]).all():
                    hood = hood[hood != own]
                if hood.size == 0:
                    raise ValueError(
                        "an input without stated answers needs fallback statistics "
                        "(the scorer did not compute them)."
                    )
                out.append(self.fallback.weights(fb_rows[hood], None, None)[0])
            return np.array(out).reshape(len(which), -1)
        res = []
        for qi in which:
            hood = neighbors[qi]
            hood = hood[np.isfinite(fb_rows[hood]).all(axis=1)]
            if hood.size == 0:
                raise ValueError(
                    "an input without stated answers needs fallback statistics "
                    "(the scorer did not compute them)."
                )
            res.append(self.fallback.weights(fb_rows[hood], None, None)[0])
        return np.array(res).reshape(len(which), -1) if res else np.empty((0, m_w))

    def decide(
        self,
        rows: NDArray[np.float64],
        neighbors: NDArray[np.intp] | None,
        focus: int | None,
        candidate_names: Sequence[str],
        *,
        base: int | None = None,
        pairwise: NDArray[np.float64] | None = None,
        summary: Any = None,
    ) -> tuple[NDArray[np.float64], Reliability]:
        """Weights and reliability; the reliability is the label model's posterior that the
        picked answer is right (select mode) or the routed candidate's estimated accuracy
        (route mode)."""
        rows = np.asarray(rows, dtype=np.float64)
        classes, tie, fb_rows, m = self._split(rows)
        names = list(candidate_names)
        nb = rows.shape[0] if base is None else int(base)
        hood_idx = None if neighbors is None else np.asarray(neighbors, dtype=np.intp)[None, :]
        acc2, r, info = self._accuracies(classes, hood_idx, 1, nb, summary)
        acc = acc2[0]
        details: dict[str, Any] = {
            "n_samples": int(nb if neighbors is None else len(neighbors)),
            "accuracies": {n: float(a) for n, a in zip(names, acc, strict=True)},
            "collision": r,
            "converged": info["converged"],
            "flipped": info["flipped"],
        }
        reasons: list[str] = []
        if info["flipped"]:
            reasons.append(
                "The label model's fit contradicted the plain majority vote on most inputs "
                "(a label-flipped solution); equal accuracies were used instead."
            )
        if not info["converged"]:
            reasons.append("The label model did not converge; its accuracies are approximate.")
        if focus is None:
            w = self._route_weights(acc[None], classes, fb_rows, hood_idx, nb)[0]
            best = int(np.argmax(w))
            score = float(acc[best])
            details["best"] = names[best]
            reasons.insert(0, f"{names[best]!r} has the highest estimated accuracy ({score:.2f}).")
            return w, Reliability(score, reasons, {"answer_posterior": score}, details)
        own = classes[focus]
        f_arr = np.array([focus], dtype=np.intp)
        if (own >= 0).sum() < 2:
            w = self._fallback_weights(fb_rows, hood_idx, f_arr, nb, np.array([0]))[0]
            if hood_idx is None:
                hood_rows = fb_rows[:nb]
                if focus >= nb:
                    hood_rows = np.vstack([hood_rows, fb_rows[focus]])
            else:
                hood_rows = fb_rows[hood_idx[0]]
            hood_rows = hood_rows[np.isfinite(hood_rows).all(axis=1)]
            rep = self.fallback._assess(hood_rows, names, pairwise=pairwise)
            score, checks, reasons = rep.score, dict(rep.checks), list(rep.reasons)
            if pairwise is not None and np.isfinite(pairwise).all():
                score, group = agreement_posterior(pairwise, int(np.argmax(w)))
                checks["agreement_posterior"] = score
                details["agreeing"] = [names[k] for k in group]
                reasons.insert(
                    0,
                    f"{len(group)} of {len(names)} answers agree with the pick (label-model "
                    f"posterior {score:.2f} with equal accuracies).",
                )
            return w, Reliability(
                score,
                [
                    "Fewer than two answers could be extracted: decided by the fallback "
                    f"statistic ({self.fallback.name}).",
                    *reasons,
                ],
                checks,
                {**details, **rep.details, "fallback": self.fallback.name},
            )
        w = self._vote(own[None], tie[focus][None], acc[None], r)[0]
        pick = int(np.argmax(w))
        post, none = class_posteriors(own[None], acc, r)
        p_pick = float(post[0, pick])
        agreeing = [names[j] for j in range(m) if own[j] >= 0 and own[j] == own[pick]]
        details.update(
            best=names[pick], posterior=p_pick, none_right=float(none[0]), agreeing=agreeing
        )
        reasons.insert(
            0,
            f"The label model gives the picked answer a {p_pick:.2f} probability of being "
            f"right ({len(agreeing)} of {int((own >= 0).sum())} stated answers agree with it).",
        )
        return w, Reliability(p_pick, reasons, {"answer_posterior": p_pick}, details)

    def no_information(self, row: NDArray[np.float64]) -> bool:
        """Every candidate states the same answer, or (without answers) the fallback row
        says nothing: nothing to choose between."""
        row = np.asarray(row, dtype=np.float64)
        classes, _tie, fb, _m = self._split(row[None, :])
        c = classes[0]
        if (c >= 0).all() and (c == c[0]).all():
            return True
        if (c >= 0).sum() < 2 and np.isfinite(fb[0]).all():
            return self.fallback.no_information(fb[0])
        return False


_REGISTRY: dict[str, type[Statistic]] = {
    "triplet": TripletStatistic,
    "score": ScoreStatistic,
    "answer": AnswerStatistic,
}


def get_statistic(name: str, **config: Any) -> Statistic:
    """Rebuild a statistic from its :attr:`~Statistic.name` and :meth:`~Statistic.config`.

    Examples
    --------
    >>> get_statistic("score", temperature=0.5)
    ScoreStatistic(temperature=0.5)
    >>> get_statistic("answer", fallback={"name": "triplet"}, prior_strength=10.0).fallback
    TripletStatistic()
    """
    if name == "peer" and name not in _REGISTRY:
        from smoothie_core.scorers.peer import PeerStatistic

        _REGISTRY["peer"] = PeerStatistic
    if name not in _REGISTRY:
        raise ValueError(f"unknown statistic {name!r}; expected one of {sorted(_REGISTRY)}.")
    cls = _REGISTRY[name]
    if cls is AnswerStatistic:
        fb = config.pop("fallback", None)
        fallback = get_statistic(**fb) if isinstance(fb, dict) else None
        return AnswerStatistic(fallback, **config)
    try:
        return cls(**config)
    except TypeError as err:
        raise ValueError(f"bad parameters for statistic {name!r}: {err}") from err
