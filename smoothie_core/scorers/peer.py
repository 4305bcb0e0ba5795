"""Peer review: judge models grade the candidates' answers; judges are weighted without labels.

Each judge (by default every candidate, grading the *other* candidates' answers) is
shown the input and the answers in an order that varies with the input and the judge
(rotated, and reversed for every other judge), so a judge's preference for the first
or last position averages out, and grades each answer from 1 to 10.

How much to trust each judge is estimated without labels with Smoothie's own
latent-variable idea, applied to judges instead of answers
(:func:`judge_reliabilities`): after removing each judge's leniency on each input
(centring its grades), judge ``j``'s grade of an answer is ``a_j * q + noise_j``,
where ``q`` is the answer's unobserved quality. For three judges the covariances
give ``a_j^2 var(q) = cov(j, k) cov(j, l) / cov(k, l)`` (the triplet identity); the sign
of ``a_j`` is the sign of the judge's agreement with the other judges (an honest
majority is assumed). Grades are then combined with weights ``a_j / noise_j^2``: a judge
who grades at random gets a weight near zero, one who grades inversely a negative
weight (its grades are used, inverted).

:func:`aggregate_grades` is the pure function (arrays in, weights out), usable offline
on released judge data; :class:`PeerReviewScorer` asks the judges through a callable
the front door provides (each call a child run of the router's trace).
"""

from __future__ import annotations

import itertools
import re
import warnings
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core.diagnostics import Reliability
from smoothie_core.embedders import Embedder
from smoothie_core.orchestration import call_each
from smoothie_core.scorers.base import Scored, Scorer, ScoringContext
from smoothie_core.statistics import Statistic

__all__ = [
    "PeerReviewScorer",
    "PeerStatistic",
    "aggregate_grades",
    "grade_prompt",
    "judge_options",
    "judge_reliabilities",
    "parse_grades",
    "with_judges",
]

#: Graded cells needed before judges' reliabilities are estimated (else equal weights).
MIN_CELLS = 12
#: Characters of a judge's reply kept in the decision when not every grade could be read.
_KEEP_REPLY = 300


def _check_grades(grades: ArrayLike) -> NDArray[np.float64]:
    g = np.asarray(grades, dtype=np.float64)
    if g.ndim != 3 or g.shape[1] < 1 or g.shape[2] < 2:
        raise ValueError(
            "`grades` must have shape (n_samples, n_judges, n_candidates >= 2); got shape "
            f"{g.shape}."
        )
    if np.isinf(g).any():
        raise ValueError("`grades` must be finite numbers or NaN (not graded); got inf.")
    return g


def _centred(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each judge's grades on each input minus their mean (leniency removed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a judge who graded nothing here
        mean = np.nanmean(g, axis=2, keepdims=True)
    out: NDArray[np.float64] = g - mean
    return out


def judge_reliabilities(grades: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Loadings ``a_j`` and noise variances of each judge, from grades alone.

    Parameters
    ----------
    grades : array of shape (n_samples, n_judges, n_candidates)
        Higher is better; NaN where a judge did not grade an answer.

    Returns
    -------
    loading, noise : ndarrays of shape (n_judges,)
        ``loading`` is positive for judges who agree with the others, negative for
        inverted ones, near zero for judges who grade at random (in grade units:
        ``loading**2`` is the variance of a judge's centred grades explained by answer
        quality, ``noise`` the rest). With fewer than three judges, or too few graded
        answers, every loading is 1 and every noise 1 (the plain mean).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q = rng.normal(size=(200, 1, 4))
    >>> honest = q + 0.5 * rng.normal(size=(200, 3, 4))
    >>> inverse = -q + 0.5 * rng.normal(size=(200, 1, 4))
    >>> loading, noise = judge_reliabilities(np.concatenate([honest, inverse], axis=1))
    >>> bool((loading[:3] > 0).all()), bool(loading[3] < 0)
    (True, True)
    """
    g = _centred(_check_grades(grades))
    n, judges, m = g.shape
    x = g.transpose(1, 0, 2).reshape(judges, n * m)  # judge x cell
    ones = np.ones(judges)
    if judges < 3:
        return ones, ones.copy()
    ok = ~np.isnan(x)
    if (ok.sum(axis=1) < MIN_CELLS).any():
        return ones, ones.copy()
    xz = np.where(ok, x, 0.0)
    both = ok.astype(np.float64) @ ok.T.astype(np.float64)
    cov = np.divide(xz @ xz.T, both, out=np.zeros((judges, judges)), where=both > 0)
    var = np.diag(cov).copy()
    a2 = np.zeros(judges)  # a_j^2 var(q): the judge's share of variance that is signal
    sign = np.ones(judges)
    for j in range(judges):
        est = []
        others = [k for k in range(judges) if k != j]
        for k, k2 in itertools.combinations(others, 2):
            if min(both[j, k], both[j, k2], both[k, k2]) >= MIN_CELLS and abs(cov[k, k2]) > 1e-12:
                est.append(cov[j, k] * cov[j, k2] / cov[k, k2])
        a2[j] = min(max(float(np.median(est)), 0.0), var[j]) if est else 0.0
        mean_others = xz[others].sum(axis=0) / np.maximum(ok[others].sum(axis=0), 1)
        sign[j] = 1.0 if float(np.sum(xz[j] * mean_others * ok[j])) >= 0 else -1.0
    if not np.any(a2 > 0):
        return ones, ones.copy()
    loading = sign * np.sqrt(a2)
    noise = np.maximum(var - a2, 0.05 * np.maximum(var, 1e-12))
    return loading, noise


def _combine(
    g: NDArray[np.float64], loading: NDArray[np.float64], noise: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Combined quality score ``(n, m)`` of centred grades with judge weights."""
    x = _centred(g)
    w = loading / noise  # (J,)
    ok = ~np.isnan(x)
    num = np.einsum("njm,j->nm", np.where(ok, x, 0.0), w)
    den = np.einsum("njm,j->nm", ok.astype(np.float64), np.abs(w))
    out: NDArray[np.float64] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


def _softmax(z: NDArray[np.float64]) -> NDArray[np.float64]:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: NDArray[np.float64] = e / e.sum(axis=-1, keepdims=True)
    return out


def aggregate_grades(grades: ArrayLike) -> NDArray[np.float64]:
    """Weights ``(n_samples, n_candidates)`` from judges' grades, judges weighted without labels.

    Parameters
    ----------
    grades : array of shape (n_samples, n_judges, n_candidates)
        Higher is better; NaN where a judge did not grade an answer (e.g. its own).

    Returns
    -------
    ndarray of shape (n_samples, n_candidates)
        Rows sum to 1; the argmax is the answer with the best combined grade.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> q = rng.normal(size=(300, 1, 4))
    >>> honest = q + 0.7 * rng.normal(size=(300, 3, 4))
    >>> liar = -q + 0.3 * rng.normal(size=(300, 2, 4))  # two judges who grade inversely
    >>> g = np.concatenate([honest, liar], axis=1)
    >>> best = q[:, 0].argmax(axis=1)
    >>> plain = (np.nanmean(g, axis=1).argmax(axis=1) == best).mean()
    >>> weighted = (aggregate_grades(g).argmax(axis=1) == best).mean()
    >>> bool(weighted > plain)
    True
    """
    g = _check_grades(grades)
    loading, noise = judge_reliabilities(g)
    score = _combine(g, loading, noise)
    spread = float(np.nanstd(score)) or 1.0
    return _softmax(score / spread)


# ------------------------------------------------------------------ prompts
_LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: ``<label> <separator> <grade>`` as judges write it: ``A: 7``, ``A) 7``, ``**A:** 7``,
#: ``Answer A - 7/10``, ``"A": 7`` (JSON), ``A: <7>``. The label must stand alone (the
#: ``e`` of ``grade: 7`` is no label); the rest of the line is kept to spot echoed answers.
_GRADE = re.compile(
    r"""(?<![A-Za-z0-9_])
        (?:answer\s+|response\s+)?
        [(\[\"'*]*([A-Z])[)\]\"'*]*         # the label, maybe bracketed, quoted or bold
        \s*(?:[:=)\u2013\u2014-]|\bis\b)      # a separator
        [\s*<\[(\"']*(\d+(?:\.\d+)?)          # the grade, maybe bold, bracketed or quoted
        (?=([^\n]*))                           # the rest of the line (not consumed)
    """,
    re.I | re.X,
)


def grade_prompt(question: str | None, answers: Sequence[str]) -> str:
    """The grading prompt for ``answers`` (already in presentation order).

    Examples
    --------
    >>> print(grade_prompt("2+2?", ["4", "5"]).splitlines()[-1])
    B: <grade>
    """
    parts = [
        "You are grading answers to a question. Grade each answer from 1 (useless or "
        "wrong) to 10 (correct and complete), independently of the order they are shown in.",
        "",
    ]
    if question:
        parts += ["Question:", question.strip(), ""]
    for label, ans in zip(_LABELS, answers, strict=False):
        parts += [f"Answer {label}:", ans.strip(), ""]
    parts.append("Reply with one line per answer and nothing else, exactly in this form:")
    parts += [f"{label}: <grade>" for label in _LABELS[: len(answers)]]
    return "\n".join(parts)


def _norm(text: str) -> str:
    return " ".join(text.strip().strip("*").strip().rstrip(".").lower().split())


def parse_grades(text: str, n_answers: int, answers: Sequence[str] | None = None) -> list[float]:
    """Grades by presentation position from a judge's reply (NaN where missing or invalid).

    Reads one grade per label (the first one found) in the forms judges write
    (``A: 7``, ``A) 7``, ``**A:** 7``, ``Answer A - 7/10``, ``{"A": 7}``, ``A: <7>``);
    grades outside 1-10 are invalid. With ``answers`` (the answers as shown, in
    order), a reply that repeats an answer after its label (``A: Paris is the
    capital.``: small models often echo instead of grading) is read as no grades at
    all, and a "grade" equal to the answer it labels (``A: 4`` for the answer ``4``) is
    not trusted.

    Examples
    --------
    >>> parse_grades("A: 7\\nB: 10\\nC: banana", 3)
    [7.0, 10.0, nan]
    >>> parse_grades('{"A": 8, "B": 3}', 2), parse_grades("**A:** 9/10\\n(B) - 2", 2)
    ([8.0, 3.0], [9.0, 2.0])
    >>> parse_grades("A: 12\\nB: 4", 2, answers=["12", "4"])  # answers echoed, not graded
    [nan, nan]
    """
    out = [float("nan")] * n_answers
    shown = None if answers is None else [_norm(a) for a in answers]
    for line in (text or "").splitlines():
        if shown is None:
            break
        m = re.match(r"\W*(?:answer\s+)?([A-Z])\W*\s*[:)\u2013\u2014-]\s*(.+)$", line.strip(), re.I)
        if m is not None:
            pos = _LABELS.find(m.group(1).upper())
            said = _norm(m.group(2))
            if 0 <= pos < len(shown) and said == shown[pos] and not _is_number(said):
                return out  # an echo of the answers, not grades
    for label, value, rest in _GRADE.findall(text or ""):
        pos = _LABELS.find(label.upper())
        v = float(value)
        if not (0 <= pos < n_answers and 1.0 <= v <= 10.0 and np.isnan(out[pos])):
            continue
        if shown is not None and pos < len(shown) and _norm(value + rest) == shown[pos]:
            continue  # the answer itself ("A: 4" for the answer "4")
        out[pos] = v
    return out


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------- statistic
class PeerStatistic(Statistic):
    """Judges' grades, weighted by their label-free reliabilities.

    A row is ``n_judges * n_candidates`` grades (judge-major; NaN = not graded).
    Judges' reliabilities are estimated over the Global pool (the first ``base`` rows
    and the focus row): judging skill belongs to the judge, not to the input. Select
    mode weights the focus row's combined grades; route mode the neighbourhood's mean
    combined grade per candidate. A decision's reliability is the share of judge weight
    that ranked the pick first, on what decided: this input's grades in select mode,
    the neighbourhood's in route mode (:meth:`decide`).
    """

    name: ClassVar[str] = "peer"
    pooled_select: ClassVar[bool] = True
    no_information_reason: ClassVar[str] = (
        "no judge graded the answers differently (or none could be read): no information"
    )

    def __init__(self, n_judges: int) -> None:
        if isinstance(n_judges, bool) or not isinstance(n_judges, int) or n_judges < 1:
            raise ValueError(f"`n_judges` must be a positive int; got {n_judges!r}.")
        self.n_judges = n_judges

    def config(self) -> dict[str, Any]:
        return {"n_judges": self.n_judges}

    def width(self, n_candidates: int) -> int:
        return self.n_judges * n_candidates

    def n_candidates(self, width: int) -> int:
        if width % self.n_judges:
            raise ValueError(
                f"peer rows of width {width} do not split into {self.n_judges} judges."
            )
        return width // self.n_judges

    def check_rows(self, rows: ArrayLike, n_candidates: int) -> NDArray[np.float64]:
        arr = np.asarray(rows, dtype=np.float64)
        w = self.width(n_candidates)
        if arr.ndim != 2 or arr.shape[1] != w:
            raise ValueError(
                f"'peer' statistics must have shape (n_samples, {w}) for {n_candidates} "
                f"candidates and {self.n_judges} judges; got shape {arr.shape}."
            )
        if np.isinf(arr).any():
            raise ValueError("'peer' statistics hold inf.")
        return arr

    def _grades(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        m = self.n_candidates(rows.shape[-1])
        return rows.reshape(rows.shape[0], self.n_judges, m)

    def no_information(self, row: NDArray[np.float64]) -> bool:
        """True when no judge told this input's answers apart (every judge gave them
        all the same grade, or no grade could be read): its combined grades are all 0."""
        x = _centred(self._grades(np.asarray(row, dtype=np.float64)[None, :]))
        return not bool(np.any(np.nan_to_num(x) != 0))

    @staticmethod
    def _pool(
        g: NDArray[np.float64], base: int, focus: NDArray[np.intp] | None
    ) -> NDArray[np.float64]:
        """The grades judges are weighed on: every row in route mode; in select mode the
        Global pool (the first ``base`` rows) and the focus rows outside it."""
        if focus is None:
            return g
        return np.concatenate([g[:base], g[focus[focus >= base]]])

    @staticmethod
    def _weights_with(
        g: NDArray[np.float64],
        base: int,
        neighbors: NDArray[np.intp] | None,
        focus: NDArray[np.intp] | None,
        loading: NDArray[np.float64],
        noise: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        score = _combine(g, loading, noise)  # (N, m)
        spread = float(np.nanstd(score[:base])) or 1.0
        if focus is not None:
            return _softmax(score[np.asarray(focus, dtype=np.intp)] / spread)
        if neighbors is None:
            return _softmax(score[:base].mean(axis=0, keepdims=True) / spread)
        idx = np.asarray(neighbors, dtype=np.intp)
        return _softmax(score[idx].mean(axis=1) / spread)

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
        g = self._grades(rows)
        nb = rows.shape[0] if base is None else int(base)
        f = None if focus is None else np.asarray(focus, dtype=np.intp)
        loading, noise = judge_reliabilities(self._pool(g, nb, f))
        return self._weights_with(g, nb, neighbors, f, loading, noise)

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
        """One decision and its reliability, about what decided it: in select mode
        (``focus``) this input's grades alone (the pick is its combined grades' best);
        in route mode the neighbourhood's. Judges are weighted as for the weights."""
        rows = np.asarray(rows, dtype=np.float64)
        g = self._grades(rows)
        nb = rows.shape[0] if base is None else int(base)
        f = None if focus is None else np.array([focus], dtype=np.intp)
        pool = self._pool(g, nb, f)
        loading, noise = judge_reliabilities(pool)
        nb_arr = None if neighbors is None else np.asarray(neighbors, dtype=np.intp)[None, :]
        w = self._weights_with(g, nb, nb_arr, f, loading, noise)[0]
        if f is not None:
            hood = g[f]
        elif neighbors is not None:
            hood = g[np.asarray(neighbors, dtype=np.intp)]
        else:
            hood = g[:nb]
        rep = self._report(
            hood, loading, noise, w, candidate_names, this_input=f is not None, n_pool=len(pool)
        )
        return w, rep

    def _assess(
        self,
        hood: NDArray[np.float64],
        candidate_names: Sequence[str],
        *,
        pairwise: NDArray[np.float64] | None = None,
    ) -> Reliability:
        g = self._grades(np.asarray(hood, dtype=np.float64))
        loading, noise = judge_reliabilities(g)
        w = _softmax(_combine(g, loading, noise).mean(axis=0))
        return self._report(g, loading, noise, w, candidate_names, this_input=False, n_pool=len(g))

    @staticmethod
    def _report(
        hood: NDArray[np.float64],
        loading: NDArray[np.float64],
        noise: NDArray[np.float64],
        w: NDArray[np.float64],
        candidate_names: Sequence[str],
        *,
        this_input: bool,
        n_pool: int,
    ) -> Reliability:
        """The share of judge weight behind the pick, over the grades in ``hood``
        ``(n, judges, m)``: each judge's vote on each input goes to the answers it graded
        highest (split on a tie), weighed by ``|a_j| / noise_j`` over the judges that
        graded the pick there."""
        names = list(candidate_names)
        x = _centred(hood)
        graded = ~np.isnan(x)
        m = x.shape[2]
        was_graded = np.asarray(graded.any(axis=(0, 1))).tolist()
        # the pick of the weights among the graded answers (ties to the first, as a router)
        shown = [i for i in range(m) if was_graded[i]] or list(range(m))
        order = sorted(shown, key=lambda i: (-w[i], i))
        best = order[0]
        runner = names[order[1]] if len(order) > 1 else None
        top = np.max(np.where(graded, x, -np.inf), axis=2, keepdims=True)
        at_top = graded & (x >= top - 1e-9)
        graded_best = graded[:, :, best]
        votes = np.where(at_top[:, :, best], 1.0 / np.maximum(at_top.sum(axis=2), 1), 0.0)
        jw = np.abs(loading / noise)[None, :]
        denom = float((jw * graded_best).sum())
        support = float((jw * votes).sum()) / denom if denom > 0 else 0.0
        combined = _combine(hood, loading, noise).mean(axis=0)
        if this_input:
            reason = (
                f"On this input, judges weighted by their estimated reliability ranked "
                f"{names[best]!r} first: {100 * support:.0f}% of the weight of the judges who "
                f"graded it (runner-up {runner!r})."
            )
        else:
            reason = (
                f"Judges weighted by their estimated reliability ranked {names[best]!r} first "
                f"{100 * support:.0f}% of the time over the {hood.shape[0]} inputs this "
                f"decision averaged (runner-up {runner!r})."
            )
        return Reliability(
            support,
            [reason],
            {"judge_support": support},
            {
                "n_samples": int(hood.shape[0]),
                "n_judge_samples": int(n_pool),
                "best": names[best],
                "runner_up": runner,
                "combined_grades": {n: float(v) for n, v in zip(names, combined, strict=True)},
                "judge_loadings": [float(v) for v in loading],
            },
        )


# ------------------------------------------------------------------- scorer
class PeerReviewScorer(Scorer):
    """Candidates (or given judge models) grade each other's answers (see the module docstring).

    Needs a judge: ``ScoringContext(judge=fn, judges=[names], candidates=[names])`` where
    ``fn(judge_name, prompt) -> text``; the LangChain and LlamaIndex front doors build it
    from their models, so each judge call is a child run with its usage counted once.

    Parameters
    ----------
    judges : list of str or None
        Judge names (None: the candidates, each grading the others' answers). The
        number of judges fixes the width of the per-sample rows.
    max_judge_calls : int or None
        Judge calls per input at most (None: every judge); the judges used rotate from
        input to input so all of them are calibrated over time.
    """

    name: ClassVar[str] = "peer_review"
    handles_missing: ClassVar[bool] = True

    def __init__(
        self, judges: Sequence[str] | None = None, *, max_judge_calls: int | None = None
    ) -> None:
        if judges is not None and (
            isinstance(judges, str) or not all(isinstance(j, str) for j in judges) or not judges
        ):
            raise ValueError(f"`judges` must be None or a non-empty list of names; got {judges!r}.")
        if max_judge_calls is not None and (
            isinstance(max_judge_calls, bool)
            or not isinstance(max_judge_calls, int)
            or max_judge_calls < 1
        ):
            raise ValueError(
                f"`max_judge_calls` must be None or a positive int; got {max_judge_calls!r}."
            )
        self.judges = None if judges is None else list(judges)
        self.max_judge_calls = max_judge_calls
        self._n_judges: int | None = None if judges is None else len(judges)

    @property
    def statistic(self) -> Statistic:
        if self._n_judges is None:
            raise ValueError(
                "peer review with judges=None (the candidates) learns its width from the first "
                "scored input; score once, or pass judges=[...]."
            )
        return PeerStatistic(self._n_judges)

    def bind(self, candidates: Sequence[str]) -> PeerReviewScorer:
        """Fix the judges to ``candidates`` when ``judges=None`` (a router does this)."""
        if self._n_judges is None:
            self._n_judges = len(candidates)
        return self

    def config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.judges is not None:
            out["judges"] = list(self.judges)
        if self.max_judge_calls is not None:
            out["max_judge_calls"] = self.max_judge_calls
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
        if context is None or context.judge is None:
            raise ValueError(
                "the peer_review scorer needs a judge: pass context=ScoringContext(judge=..., "
                "judges=[...], candidates=[...]) (the LangChain and LlamaIndex front doors "
                "build it from their models)."
            )
        m = len(rows[0])
        cands = list(context.candidates) or [str(i) for i in range(m)]
        judges = self.judges or list(context.judges) or cands
        if self._n_judges is None:
            self._n_judges = len(judges)
        if len(judges) != self._n_judges:
            raise ValueError(
                f"this peer_review scorer was set up for {self._n_judges} judges; got {len(judges)}."
            )
        n_j = len(judges)
        out = np.full((len(rows), n_j * m), np.nan)
        details: list[dict[str, Any]] = []
        judge = context.judge
        for s, row in enumerate(rows):
            question = None if inputs is None else inputs[s]
            order_j = list(range(n_j))
            # rotate which judges are asked with the input, so a budget still calibrates
            # every judge over time; and the order answers are shown in, with the input and
            # the judge (a single judge too), so a preference for a position averages out
            h = zlib.crc32((question or str(s)).encode("utf-8"))
            start = h % n_j
            order_j = order_j[start:] + order_j[:start]
            if self.max_judge_calls is not None:
                order_j = order_j[: self.max_judge_calls]
            plans: dict[str, tuple[int, list[int]]] = {}
            for j in order_j:
                own = cands.index(judges[j]) if judges[j] in cands else None
                shown = [i for i in range(m) if row[i] is not None and i != own]
                if len(shown) < 1:
                    continue
                rot = (h + j) % len(shown)
                shown = shown[rot:] + shown[:rot]
                if (h // len(shown) + j) % 2:
                    shown = shown[::-1]
                plans[judges[j]] = (j, shown)
            q_text = question

            def ask(
                name: str,
                plans: dict[str, tuple[int, list[int]]] = plans,
                row: list[str | None] = row,
                q: str | None = q_text,
            ) -> str:
                _j, shown = plans[name]
                return judge(name, grade_prompt(q, [str(row[i]) for i in shown]))

            res = call_each(list(plans), ask, context.policy)
            details.append(
                self._details(res.results, res.errors, plans, judges, cands, row, out[s])
            )
        return Scored(out, details=details)

    @staticmethod
    def _details(
        replies: dict[str, str],
        errors: dict[str, str],
        plans: dict[str, tuple[int, list[int]]],
        judges: Sequence[str],
        cands: Sequence[str],
        answers: Sequence[str | None],
        row: NDArray[np.float64],
    ) -> dict[str, Any]:
        """What the decision shows for one input (judges in judge order, candidates in
        candidate order); fills ``row`` with the parsed grades."""
        grades: dict[str, dict[str, float]] = {}
        shown_to: dict[str, list[str]] = {}
        unparsed: dict[str, str] = {}
        for name in judges:
            if name not in plans:
                continue
            j, shown = plans[name]
            shown_to[name] = [cands[i] for i in shown]
            if name not in replies:
                continue
            parsed = parse_grades(replies[name], len(shown), [str(answers[i]) for i in shown])
            for pos, i in enumerate(shown):
                row[j * len(answers) + i] = parsed[pos]
            by_cand = {cands[i]: parsed[pos] for pos, i in enumerate(shown)}
            read = {c: by_cand[c] for c in cands if c in by_cand and not np.isnan(by_cand[c])}
            if read:
                grades[name] = read
            if len(read) < len(shown):
                unparsed[name] = replies[name][:_KEEP_REPLY]
        return {
            "grades": grades,
            "shown": shown_to,
            "judge_calls": len(plans),
            "judge_errors": {n: errors[n] for n in judges if n in errors},
            "unparsed": unparsed,
        }


def with_judges(
    scorer: str | Scorer | None,
    judges: Sequence[str] | None = None,
    max_judge_calls: int | None = None,
) -> str | Scorer | None:
    """A front door's ``scorer=`` with its ``judges=`` / ``max_judge_calls=`` options applied.

    ``judges`` are the names of the judge models given to the front door (None: the
    candidates grade each other). With ``scorer="peer_review"`` they build a
    :class:`PeerReviewScorer`; a :class:`PeerReviewScorer` object (e.g. a loaded
    router's) must name the same judges, and a ``max_judge_calls`` given with it must
    be its own. Other scorers take neither option and are returned as they are.

    Raises
    ------
    ValueError
        When the options do not apply to ``scorer`` or disagree with it.

    Examples
    --------
    >>> with_judges("peer_review", ["j1", "j2", "j3"], max_judge_calls=2)
    PeerReviewScorer(judges=['j1', 'j2', 'j3'], max_judge_calls=2)
    >>> with_judges("consensus")
    'consensus'
    >>> with_judges(PeerReviewScorer(["j1", "j2"]), None)
    Traceback (most recent call last):
    ...
    ValueError: The peer-review scorer uses judges named ['j1', 'j2']; got no judges. Pass the same judge models, with the same names, in the same order.
    """
    names = None if judges is None else list(judges)
    if isinstance(scorer, PeerReviewScorer):
        if scorer.judges != names:
            expected = (
                "judges=None (the candidates)"
                if scorer.judges is None
                else f"judges named {scorer.judges}"
            )
            got = "no judges" if names is None else f"judges named {names}"
            raise ValueError(
                f"The peer-review scorer uses {expected}; got {got}. Pass the same judge "
                "models, with the same names, in the same order."
            )
        if max_judge_calls is not None and scorer.max_judge_calls != max_judge_calls:
            raise ValueError(
                f"`max_judge_calls`={max_judge_calls!r} differs from the peer-review scorer's "
                f"{scorer.max_judge_calls!r} (a loaded router keeps its own); leave it unset."
            )
        return scorer
    if names is None and max_judge_calls is None:
        return scorer
    if scorer != PeerReviewScorer.name:
        shown = scorer.id if isinstance(scorer, Scorer) else scorer
        raise ValueError(
            "`judges` and `max_judge_calls` apply to scorer='peer_review' only; got "
            f'scorer={shown!r}. Pass scorer="peer_review", or drop them.'
        )
    return PeerReviewScorer(names, max_judge_calls=max_judge_calls)


def judge_options(scorer: Scorer) -> tuple[list[str] | None, int | None]:
    """``(judges, max_judge_calls)`` of a peer-review scorer (``(None, None)`` otherwise).

    A front door adopting a ready router (e.g. a loaded one) reads its options with this.
    """
    if isinstance(scorer, PeerReviewScorer):
        return (None if scorer.judges is None else list(scorer.judges)), scorer.max_judge_calls
    return None, None
