"""Reliability diagnostics: when Smoothie's consensus can be trusted, and when it cannot.

Smoothie's triplet estimator assumes the candidates' errors are independent. When one
candidate sits far from a tight group of others, squared distances cannot tell "one
good answer far from a correlated weak crowd" from "one bad answer far from a good
crowd" (on the AlpacaEval DEV pools the paper's estimator scores *below* random; see
``docs/reliability.md``). This module scores
how much a fit or a decision rests on that assumption, with plain-language reasons.

What it cannot do: tell *which* case a pool is in. A low score means "the pick depends on
an assumption these data do not support", not "the pick is wrong": on the 20 AlpacaEval
pools of ``benchmarks/mixed_pools.py`` the score does not separate pools where Smoothie
beat random from pools where it did not (Spearman -0.17). Pair it with a declared
default (``Router(default=..., abstain_below=0.5)``) or a few labels.

Four checks, each a sub-score in [0, 1] (1 = no concern); the reliability score is the
smallest of them:

``outlier``
    The candidate with the largest estimated error, relative to the median of the
    others: ``z = (delta_max - median(rest)) / median(rest)``. In pools of comparably
    strong candidates with independent errors (error variances within a factor 1.56)
    ``z`` stays below 0.45 in 99% of pools (95%: about 0.36; any ``m`` from 3 to 10, see
    ``benchmarks/diagnostics_null.py``). Sub-score 1 at ``z <= 0.30``, 0.5 at
    ``z = 0.45``, 0 at ``z >= 0.60``.
``nonpositive``
    Non-positive triplet estimates: 0 if an averaged estimate is <= 0 (the estimate is
    invalid), else 1 minus the fraction of samples with some ``delta_s <= 0``.
``duplicates``
    Near-duplicate candidates (they reinforce each other's errors):
    ``r = min_pair D / median_pair D`` over the mean squared distances between
    candidates' outputs; 1 at ``r >= 0.4``, 0 at ``r <= 0.1``. Needs output embeddings
    (not available from a saved state's statistics alone: then "not assessed").
``samples``
    Too few samples to separate the winner from the runner-up: with ``t`` the
    t-statistic of the per-sample difference of their estimates, ``2 Phi(t) - 1``
    (0 = a coin flip, 0.95 at ``t = 2``). A single sample has no noise estimate and
    scores 0.5 ("unknown").

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = rng.normal(size=(300, 1, 32))
>>> good = truth + rng.normal(size=(300, 5, 32)) * np.sqrt([0.8, 0.9, 1.0, 1.1, 1.2])[:, None]
>>> diagnose_outputs(good).score > 0.9
True
>>> shared = rng.normal(size=(300, 1, 32))  # four candidates share one error
>>> crowd = truth + np.concatenate(
...     [0.5 * rng.normal(size=(300, 1, 32)), shared + 0.6 * rng.normal(size=(300, 4, 32))], axis=1)
>>> rep = diagnose_outputs(crowd, candidate_names=["strong", "w1", "w2", "w3", "w4"])
>>> rep.score < 0.5, rep.details["farthest"]
(True, 'strong')
"""

from __future__ import annotations

import contextvars
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core._validation import check_output_embeddings
from smoothie_core.triplet import sample_deltas

__all__ = [
    "Reliability",
    "ReliabilityWarning",
    "capture_warning_origin",
    "diagnose_deltas",
    "diagnose_outputs",
    "diagnose_scores",
    "mean_pairwise_sq_distances",
    "OUTLIER_Z_OK",
    "OUTLIER_Z_BAD",
]

#: Outlier excess ``z`` at or below which the ``outlier`` check scores 1.
OUTLIER_Z_OK = 0.30
#: Outlier excess ``z`` at or above which the ``outlier`` check scores 0 (0.5 at the midpoint,
#: 0.45: the 99th percentile of ``z`` in comparably strong pools with independent errors).
OUTLIER_Z_BAD = 0.60
_DUP_BAD, _DUP_OK = 0.1, 0.4
_SINGLE_SAMPLE_SCORE = 0.5


class ReliabilityWarning(UserWarning):
    """Smoothie's decision rests on an assumption the data do not support (low reliability)."""


@dataclass(frozen=True)
class Reliability:
    """Reliability report of one fit or decision (JSON-serialisable through :meth:`to_dict`).

    Attributes
    ----------
    score : float
        In [0, 1]; the smallest check sub-score. Below 0.5: do not trust the pick.
    reasons : list of str
        Plain-language explanation of every check that scored below 1.
    checks : dict of str to float or None
        Sub-score per check (``outlier``, ``nonpositive``, ``duplicates``,
        ``samples``); None = not assessed.
    details : dict
        Measured quantities: ``z`` (outlier excess), ``farthest``, ``spread_rest``,
        ``n_samples``, ``frac_nonpositive``, ``closest_pair``, ``dup_ratio``, ``margin_t``,
        ``best``, ``runner_up``.
    """

    score: float
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for metadata)."""
        return asdict(self)


def mean_pairwise_sq_distances(output_embeddings: ArrayLike) -> NDArray[np.float64]:
    """Mean over samples of ``||lam[s, i] - lam[s, j]||^2``: an ``(m, m)`` matrix.

    Examples
    --------
    >>> import numpy as np
    >>> mean_pairwise_sq_distances(np.array([[[0.0], [1.0], [3.0]]]))
    array([[0., 1., 9.],
           [1., 0., 4.],
           [9., 4., 0.]])
    """
    lam = check_output_embeddings(output_embeddings)
    n, m, _ = lam.shape
    gram = np.zeros((m, m), dtype=np.float64)
    step = max(1, (1 << 22) // (m * lam.shape[2]))
    for start in range(0, n, step):
        chunk = np.asarray(lam[start : start + step], dtype=np.float64)
        g = np.einsum("smd,skd->mk", chunk, chunk)
        gram += g
    gram /= n
    sq = np.diag(gram)
    out: NDArray[np.float64] = np.maximum(sq[:, None] + sq[None, :] - 2 * gram, 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def _ramp(x: float, bad: float, ok: float) -> float:
    """1 at ``x >= ok`` (or ``<=`` when ``ok < bad``), 0 at ``bad``, linear between."""
    if ok > bad:
        return float(min(1.0, max(0.0, (x - bad) / (ok - bad))))
    return float(min(1.0, max(0.0, (bad - x) / (bad - ok))))


def _phi(t: float) -> float:
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


def diagnose_deltas(
    deltas: ArrayLike,
    *,
    candidate_names: Sequence[str] | None = None,
    pairwise: ArrayLike | None = None,
) -> Reliability:
    """Reliability of the Smoothie decision made from per-sample statistics ``deltas``.

    Parameters
    ----------
    deltas : array of shape (n_samples, n_candidates)
        The per-sample triplet estimates the decision averages (all fitted samples for
        Smoothie-Global, the neighbourhood for Smoothie-Local, one row for one input).
    candidate_names : sequence of str, optional
        Names used in the reasons (default ``"0"``, ``"1"``, ...).
    pairwise : array of shape (n_candidates, n_candidates), optional
        Mean squared distances between candidates' outputs
        (:func:`mean_pairwise_sq_distances`); enables the ``duplicates`` check.

    Returns
    -------
    Reliability

    Examples
    --------
    >>> import numpy as np
    >>> rep = diagnose_deltas(np.array([[1.0, 1.05, 0.95, 2.0]]), candidate_names="abcd")
    >>> round(rep.score, 2), rep.checks["outlier"], rep.details["farthest"]
    (0.0, 0.0, 'd')
    >>> print(rep.reasons[0])  # doctest: +ELLIPSIS
    'd' is far from a tight group of the other candidates ...
    """
    d = np.asarray(deltas, dtype=np.float64)
    if d.ndim == 1:
        d = d[None, :]
    if d.ndim != 2 or d.shape[0] < 1 or d.shape[1] < 3:
        raise ValueError(
            f"`deltas` must have shape (n_samples >= 1, n_candidates >= 3); got shape {d.shape}."
        )
    if not np.isfinite(d).all():
        raise ValueError("`deltas` holds NaN or inf; expected finite per-sample statistics.")
    n, m = d.shape
    names = (
        [str(c) for c in candidate_names]
        if candidate_names is not None
        else [str(i) for i in range(m)]
    )
    if len(names) != m:
        raise ValueError(f"`candidate_names` must have {m} names; got {len(names)}.")
    a = d.mean(axis=0)
    reasons: list[str] = []
    checks: dict[str, float | None] = {}
    details: dict[str, Any] = {"n_samples": int(n)}
    order = np.argsort(a, kind="stable")
    best, runner, far = int(order[0]), int(order[1]), int(order[-1])
    details.update(best=names[best], runner_up=names[runner], farthest=names[far])

    # --- non-positive estimates
    frac_np = float((d <= 0).any(axis=1).mean())
    details["frac_nonpositive"] = frac_np
    all_zero = bool(np.all(a == 0))
    if all_zero:
        checks["nonpositive"] = 0.0
        reasons.append("All answers are identical: the statistics carry no information.")
    elif np.any(a <= 0):
        checks["nonpositive"] = 0.0
        bad = [names[i] for i in np.flatnonzero(a <= 0)]
        reasons.append(
            f"The triplet estimate of {bad} is not positive: an estimated squared error "
            "cannot be <= 0, so the model's assumptions fail here (typically near-duplicate "
            "answers or too few samples)."
        )
    else:
        checks["nonpositive"] = 1.0 - frac_np
        if frac_np >= 0.01:
            reasons.append(
                f"{100 * frac_np:.0f}% of the samples have a non-positive per-sample estimate "
                "(noisy or near-duplicate answers)."
            )

    # --- one candidate far from a tight group
    rest = np.delete(a, far)
    med = float(np.median(rest))
    if med > 0 and not all_zero:
        z = float((a[far] - med) / med)
        spread = float(rest.std() / rest.mean()) if rest.mean() > 0 else 0.0
        details.update(z=z, spread_rest=spread)
        s_out = _ramp(z, OUTLIER_Z_BAD, OUTLIER_Z_OK) if z > OUTLIER_Z_OK else 1.0
        checks["outlier"] = s_out
        if s_out < 1.0:
            reasons.append(
                f"{names[far]!r} is far from a tight group of the other candidates (its estimated "
                f"error is {100 * z:.0f}% above theirs; the others differ by {100 * spread:.0f}%). "
                "Distances cannot tell a bad outlier from a good candidate surrounded by a "
                "crowd that shares its errors (e.g. models trained on the same data); the "
                f"pick {names[best]!r} is only right if the candidates' errors are independent."
            )
    else:
        checks["outlier"] = None
        details.update(z=None, spread_rest=None)

    # --- near-duplicate candidates
    if pairwise is not None:
        pw = np.asarray(pairwise, dtype=np.float64)
        if pw.shape != (m, m):
            raise ValueError(f"`pairwise` must have shape ({m}, {m}); got {pw.shape}.")
        iu = np.triu_indices(m, 1)
        vals = pw[iu]
        medp = float(np.median(vals))
        k = int(np.argmin(vals))
        pair = (names[int(iu[0][k])], names[int(iu[1][k])])
        ratio = float(vals[k] / medp) if medp > 0 else 0.0
        details.update(closest_pair=list(pair), dup_ratio=ratio)
        s_dup = _ramp(ratio, _DUP_BAD, _DUP_OK)
        checks["duplicates"] = s_dup
        if s_dup < 1.0:
            reasons.append(
                f"{pair[0]!r} and {pair[1]!r} are near-duplicates (their answers are "
                f"{100 * ratio:.0f}% as far apart as a typical pair): they vote together and "
                "pull the consensus towards themselves."
            )
    else:
        checks["duplicates"] = None
        details.update(closest_pair=None, dup_ratio=None)

    # --- enough samples to separate the winner from the runner-up
    if all_zero:
        checks["samples"] = None
        details["margin_t"] = None
    else:
        s_samp, t_m, reason = _margin_check(d[:, runner] - d[:, best], names[best], names[runner])
        checks["samples"] = s_samp
        details["margin_t"] = t_m
        if reason:
            reasons.append(reason)

    assessed = [v for v in checks.values() if v is not None]
    score = float(min(assessed)) if assessed else 0.0
    return Reliability(score=score, reasons=reasons, checks=checks, details=details)


def _margin_check(
    diff: NDArray[np.float64], best: str, runner: str
) -> tuple[float, float | None, str | None]:
    """Sub-score, t and reason for per-sample differences ``diff`` (runner-up worse by ``diff``)."""
    n = len(diff)
    if n < 2:
        return (
            _SINGLE_SAMPLE_SCORE,
            None,
            "Decided from one input's answers alone: no estimate of how noisy the scores "
            "are (use a pool / n_neighbors > 1, or calibrate).",
        )
    sd = float(diff.std(ddof=1))
    mean = float(diff.mean())
    t = mean / (sd / math.sqrt(n)) if sd > 0 else (math.inf if mean > 0 else 0.0)
    score = max(0.0, 2.0 * _phi(t) - 1.0) if math.isfinite(t) else 1.0
    reason = None
    if score < 0.95:
        reason = (
            f"Only {n} samples: {best!r} beats the runner-up {runner!r} by {t:.1f} standard "
            "errors, not clearly more than noise."
        )
    return score, (t if math.isfinite(t) else None), reason


def diagnose_scores(
    scores: ArrayLike, *, candidate_names: Sequence[str] | None = None
) -> Reliability:
    """Reliability of a decision from per-sample *higher-is-better* scores (e.g. coverage).

    Only the ``samples`` check applies (the others are about the triplet estimator).

    Examples
    --------
    >>> import numpy as np
    >>> rep = diagnose_scores(np.array([[1.0, 0.0, -1.0]] * 5) + np.arange(5)[:, None] * 0.01)
    >>> rep.score, rep.details["best"]
    (1.0, '0')
    """
    sc = np.asarray(scores, dtype=np.float64)
    if sc.ndim == 1:
        sc = sc[None, :]
    if sc.ndim != 2 or sc.shape[0] < 1 or sc.shape[1] < 2 or not np.isfinite(sc).all():
        raise ValueError(
            "`scores` must be a finite array of shape (n_samples >= 1, n_candidates >= 2); "
            f"got shape {sc.shape}."
        )
    m = sc.shape[1]
    names = (
        [str(c) for c in candidate_names]
        if candidate_names is not None
        else [str(i) for i in range(m)]
    )
    order = np.argsort(-sc.mean(axis=0), kind="stable")
    best, runner = int(order[0]), int(order[1])
    s_samp, t, reason = _margin_check(sc[:, best] - sc[:, runner], names[best], names[runner])
    return Reliability(
        score=float(s_samp),
        reasons=[reason] if reason else [],
        checks={"samples": s_samp},
        details={
            "n_samples": int(sc.shape[0]),
            "best": names[best],
            "runner_up": names[runner],
            "margin_t": t,
        },
    )


def diagnose_outputs(
    output_embeddings: ArrayLike, *, candidate_names: Sequence[str] | None = None
) -> Reliability:
    """Reliability report of a Smoothie-Global fit on ``(n, m, d)`` output embeddings.

    Runs every check, including ``duplicates`` (see :func:`diagnose_deltas`).
    """
    lam = check_output_embeddings(output_embeddings)
    return diagnose_deltas(
        sample_deltas(lam),
        candidate_names=candidate_names,
        pairwise=mean_pairwise_sq_distances(lam),
    )


# ------------------------------------------------- where warnings point
#: Modules whose frames a warning skips to point at the user's code.
_LIBRARY_PREFIXES = (
    "smoothie_core",
    "langchain_smoothie",
    "llamaindex_smoothie",
    "langchain_core",
    "langchain",
    "langgraph",
    "llama_index",
    "pydantic",
    "concurrent",
    "threading",
    "asyncio",
    "contextvars",
)


_ORIGIN: contextvars.ContextVar[tuple[str, int, str] | None] = contextvars.ContextVar(
    "smoothie_warning_origin", default=None
)


def capture_warning_origin() -> contextvars.Token[tuple[str, int, str] | None]:
    """Remember the user's frame for warnings raised later in a worker thread.

    Async front doors call this before ``asyncio.to_thread``: the thread's stack holds no
    frame of the user's code, but the copied context carries this origin, so a
    :class:`~smoothie_core.diagnostics.ReliabilityWarning` still points at the user's
    ``await``. Returns the token for ``_ORIGIN.reset``.
    """
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if not any(name == p or name.startswith(p + ".") for p in _LIBRARY_PREFIXES):
            return _ORIGIN.set((frame.f_code.co_filename, frame.f_lineno, name))
        frame = frame.f_back  # type: ignore[assignment]
    return _ORIGIN.set(None)


def _user_stacklevel() -> int:
    """``stacklevel`` for a warning raised in ``Router._maybe_warn`` so that it points
    at the first frame outside this library and the frameworks around it (the user's call,
    whatever front door and however deep it went); 1 if every frame is library code."""
    frame = sys._getframe(2)  # the caller of _maybe_warn
    level = 2
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if not any(name == p or name.startswith(p + ".") for p in _LIBRARY_PREFIXES):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 1


# ------------------------------------------------- agreement of free-text answers
#: Two answers agree when their squared embedding distance is below this share of the
#: input's median pairwise squared distance.
AGREEMENT_SHARE = 0.5


def agreement_posterior(
    pairwise: ArrayLike, pick: int, *, share: float = AGREEMENT_SHARE
) -> tuple[float, list[int]]:
    """Probability that the picked free-text answer is right, from who agrees with it.

    Answers whose embeddings are closer than ``share`` x the median pairwise squared
    distance of this input agree (connected components); the label model of
    :mod:`smoothie_core.labelmodel` with its starting values (every candidate equally
    accurate, the default collision rate: fixed before any data was seen) then gives the
    posterior that the picked answer's group is right: high when most candidates agree
    with the pick, about chance when nobody does.

    Returns ``(posterior, members of the pick's group)``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [-5.0, 4.0]])
    >>> d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    >>> p, group = agreement_posterior(d2, 0)
    >>> round(p, 2), group
    (0.99, [0, 1, 2])
    >>> round(agreement_posterior(d2, 3)[0], 2)  # nobody agrees with a far answer
    0.0
    """
    from smoothie_core.labelmodel import _P_INIT, _R0, class_posteriors

    pw = np.asarray(pairwise, dtype=np.float64)
    m = pw.shape[0]
    if pw.shape != (m, m) or m < 2:
        raise ValueError(f"`pairwise` must be a square (m, m) array with m >= 2; got {pw.shape}.")
    iu = np.triu_indices(m, 1)
    med = float(np.median(pw[iu]))
    close = pw <= share * med if med > 0 else np.ones((m, m), dtype=bool)
    # connected components of the "close" graph
    label = list(range(m))
    for i in range(m):
        for j in range(i + 1, m):
            if close[i, j]:
                a, b = label[i], label[j]
                if a != b:
                    label = [a if x == b else x for x in label]
    first = {lab: min(k for k in range(m) if label[k] == lab) for lab in set(label)}
    classes = np.array([[first[lab] for lab in label]])
    post, _none = class_posteriors(classes, np.full(m, _P_INIT), _R0)
    group = [k for k in range(m) if label[k] == label[pick]]
    return float(post[0, pick]), group
