"""A label model for stated answers: one-coin Dawid-Skene with safeguards, in numpy.

Smoothie is weak supervision: estimate each source's quality from how sources agree,
without labels. Applied to *final answers* (the answer each output states, see
:mod:`smoothie_core.answers`), the classical model is Dawid and Skene's (1979), here in
its "one-coin" form:

* on input ``s`` the true answer ``y_s`` is unknown; candidate ``j`` states answer
  ``c[s, j]`` (or none: ``-1``);
* candidate ``j`` is right with probability ``p_j`` (its accuracy); when wrong, it states
  a specific wrong answer with probability ``r`` (the *collision rate*: how often two
  wrong answers coincide; ``1 / (K - 1)`` for ``K`` equally likely answers).

Then, with ``w_j = logit(p_j) - log(r)``, the posterior that answer ``v`` is right is
``exp(sum_{j: c_j = v} w_j) / Z`` over the answers stated, with the remaining
``K - (#answers stated)`` unstated answers (``K = 1 + 1/r``) each weighing ``1`` in
``Z`` (the "every candidate is wrong" mass). Accuracies and ``r`` are fitted by EM over
many inputs. Free-form answers have no fixed ``K``: estimating ``r`` from the data (the
expected share of wrong-answer pairs that coincide) lets one model serve multiple choice
(wrong answers coincide often) and open answers (they rarely do).

Safeguards against the label-flipped solution and other EM failures (a probe without
them converged to inverted accuracies in one pool of five small models):

1. EM starts from **majority agreement** (equal accuracies, so the first posterior is
   the plain vote);
2. every accuracy is kept **above chance** (``w_j > 0``: agreeing with a candidate can
   never count against an answer);
3. **flip check**: if the fitted weighted vote disagrees with the plain vote on most
   inputs where a strict majority exists, the fit is rejected and equal accuracies are
   used (``LabelModelFit.flipped``);
4. **convergence** is checked and reported (``LabelModelFit.converged``).

Local versions estimate accuracies per neighbourhood of an input with the global
accuracies as a Beta prior (``prior_strength`` pseudo-observations), so a candidate's
local accuracy moves away from its global one only where the neighbourhood says so.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> truth = rng.integers(0, 4, size=400)
>>> acc = np.array([0.9, 0.6, 0.5, 0.4])
>>> right = rng.random((400, 4)) < acc
>>> answers = np.where(right, truth[:, None], (truth[:, None] + rng.integers(1, 4, (400, 4))) % 4)
>>> fit = fit_label_model(answer_classes_from_ids(answers))
>>> fit.accuracies.round(1).tolist(), fit.converged, fit.flipped
([0.9, 0.6, 0.5, 0.4], True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "LabelModelFit",
    "answer_classes_from_ids",
    "class_posteriors",
    "fit_label_model",
    "fit_label_models",
]

#: Accuracies are kept in ``[chance + _MARGIN, 1 - _MARGIN]``.
_MARGIN = 1e-3
#: Collision rate bounds and its weak prior (``_R0`` with ``_R_STRENGTH`` pseudo-pairs).
_R_MIN, _R_MAX, _R0, _R_STRENGTH = 1e-4, 0.5, 0.1, 1.0
#: Initial accuracy of every candidate (equal: the first posterior is the plain vote).
_P_INIT = 0.6
#: Global accuracies' weak prior: ``p = 0.5`` with this many pseudo-observations.
_GLOBAL_PRIOR_STRENGTH = 2.0


@dataclass(frozen=True)
class LabelModelFit:
    """A fitted one-coin label model.

    Attributes
    ----------
    accuracies : ndarray of shape (n_candidates,)
        Estimated probability that each candidate's stated answer is right.
    collision : float
        Estimated probability that a wrong answer equals a given other wrong answer.
    converged : bool
        EM reached ``tol`` within ``max_iter`` iterations.
    flipped : bool
        The flip check rejected the fit; ``accuracies`` are then equal (plain vote).
    n_iter : int
    n_samples : int
        Inputs with at least one stated answer.
    answered : ndarray of shape (n_candidates,)
        Inputs on which each candidate stated an answer.
    """

    accuracies: NDArray[np.float64]
    collision: float
    converged: bool
    flipped: bool
    n_iter: int
    n_samples: int
    answered: NDArray[np.float64] = field(repr=False)

    def vote_weights(self) -> NDArray[np.float64]:
        """``w_j = logit(p_j) - log(r)``: each candidate's vote in the posterior."""
        return _vote_weights(self.accuracies, np.float64(self.collision))

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for decision metadata)."""
        return {
            "accuracies": [float(a) for a in self.accuracies],
            "collision": float(self.collision),
            "converged": bool(self.converged),
            "flipped": bool(self.flipped),
            "n_iter": int(self.n_iter),
            "n_samples": int(self.n_samples),
        }


def answer_classes_from_ids(answer_ids: ArrayLike) -> NDArray[np.int64]:
    """Canonical class array from per-candidate answer ids (any ints; ``-1`` = no answer).

    The class of candidate ``j`` on input ``s`` is the index of the first candidate that
    states the same answer, so equal answers share a class and the array carries nothing
    but the agreement pattern.

    Examples
    --------
    >>> answer_classes_from_ids([[7, 3, 7, -1], [2, 2, 2, 2]]).tolist()
    [[0, 1, 0, -1], [0, 0, 0, 0]]
    """
    ids = np.asarray(answer_ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"`answer_ids` must be an int array of shape (n_samples, n_candidates); got dtype "
            f"{ids.dtype} and shape {ids.shape}."
        )
    valid = ids >= 0
    same = (ids[:, :, None] == ids[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    first = np.argmax(same, axis=2)  # the first candidate with the same answer
    return np.where(valid, first, -1).astype(np.int64)


def _check_classes(classes: ArrayLike) -> NDArray[np.int64]:
    c = np.asarray(classes)
    if c.ndim < 2 or c.shape[-1] < 2:
        raise ValueError(
            f"`classes` must have shape (..., n_samples, n_candidates >= 2); got {c.shape}."
        )
    if c.dtype.kind == "f":
        if not np.isfinite(c).all() or not np.array_equal(c, np.round(c)):
            raise ValueError("`classes` must hold integers (-1 = no answer).")
        c = c.astype(np.int64)
    elif c.dtype.kind not in "iu":
        raise ValueError(f"`classes` must hold integers (-1 = no answer); got dtype {c.dtype}.")
    m = c.shape[-1]
    if c.size and (c.min() < -1 or c.max() >= m):
        raise ValueError(f"`classes` must lie in [-1, {m - 1}]; got {c.min()}..{c.max()}.")
    return c.astype(np.int64, copy=False)


def _agreement(classes: NDArray[np.int64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """``valid (..., n, m)`` and ``same (..., n, m, m)`` (both stated, equal answers)."""
    valid = classes >= 0
    same = (classes[..., :, None] == classes[..., None, :]) & valid[..., :, None]
    same &= valid[..., None, :]
    return valid, same


def _vote_weights(p: NDArray[np.float64], r: NDArray[np.float64] | np.float64) -> Any:
    return (
        np.log(p) - np.log1p(-p) - np.log(r)[..., None]
        if np.ndim(r)
        else (np.log(p) - np.log1p(-p) - np.log(r))
    )


def _posteriors(
    valid: NDArray[np.bool_],
    same: NDArray[np.bool_],
    p: NDArray[np.float64],
    r: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Posterior that each candidate's answer is right ``(..., n, m)`` and the
    every-answer-wrong mass ``(..., n)``; ``p`` is ``(..., m)``, ``r`` is ``(...)``."""
    w = np.log(p) - np.log1p(-p) - np.log(r)[..., None]  # (..., m)
    score = np.einsum("...njl,...l->...nj", same.astype(np.float64), w)  # (..., n, m)
    size = same.sum(axis=-1)  # (..., n, m): members of each candidate's class
    n_obs = np.where(valid, 1.0 / np.maximum(size, 1), 0.0).sum(axis=-1)  # distinct answers
    k_total = 1.0 + 1.0 / r  # (...)
    other = np.maximum(k_total[..., None] - n_obs, 0.0)  # (..., n)
    score = np.where(valid, score, -np.inf)
    top = np.maximum(score.max(axis=-1), np.where(other > 0, 0.0, -np.inf))  # (..., n)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.where(valid, np.exp(score - top[..., None]), 0.0)
    z = (e / np.maximum(size, 1)).sum(axis=-1) + other * np.exp(-top)
    post = e / z[..., None]
    return post, other * np.exp(-top) / z


def class_posteriors(
    classes: ArrayLike, accuracies: ArrayLike, collision: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Posterior that each candidate's stated answer is right, given a fitted model.

    Returns ``(post, none)``: ``post[s, j]`` (0 where ``j`` stated nothing; candidates
    stating the same answer share its posterior) and ``none[s]``, the probability that
    every stated answer is wrong.

    Examples
    --------
    >>> post, none = class_posteriors([[0, 0, 2]], [0.8, 0.8, 0.8], 0.1)
    >>> post.round(3).tolist(), none.round(3).tolist()
    ([[0.97, 0.97, 0.024]], [0.005])
    """
    c = _check_classes(classes)
    p = _clip_accuracies(np.asarray(accuracies, dtype=np.float64), collision)
    valid, same = _agreement(c)
    return _posteriors(valid, same, p, np.asarray(collision, dtype=np.float64))


def _chance(r: NDArray[np.float64]) -> NDArray[np.float64]:
    """Accuracy below which agreeing with a candidate would count against an answer."""
    return r / (1.0 + r)


def _clip_accuracies(p: NDArray[np.float64], r: Any) -> NDArray[np.float64]:
    lo = _chance(np.asarray(r, dtype=np.float64)) + _MARGIN
    return np.clip(p, lo[..., None] if np.ndim(lo) else lo, 1.0 - _MARGIN)


def fit_label_models(
    classes: ArrayLike,
    *,
    prior: ArrayLike | None = None,
    prior_strength: float = _GLOBAL_PRIOR_STRENGTH,
    collision: ArrayLike | None = None,
    init: tuple[ArrayLike, ArrayLike] | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> dict[str, NDArray[Any]]:
    """EM for a batch of independent label models (one per leading index), vectorised.

    Parameters
    ----------
    classes : int array of shape (batch, n_samples, n_candidates)
        Answer classes (:func:`answer_classes_from_ids`; ``-1`` = no answer).
    prior : array of shape (batch, n_candidates) or (n_candidates,), optional
        Beta prior mean of the accuracies (default 0.5), with ``prior_strength``
        pseudo-observations. Local models pass the global accuracies here.
    collision : array of shape (batch,) or float, optional
        Fixed collision rates (not re-estimated); default: estimated by EM.
    init : (accuracies, collision), optional
        Warm start (e.g. the previous fit of a pool that grew by a few rows); default:
        equal accuracies, i.e. the plain vote.

    Returns
    -------
    dict with ``accuracies (batch, m)``, ``collision (batch,)``, ``converged (batch,)``,
    ``flipped (batch,)``, ``n_iter (batch,)``, ``answered (batch, m)``,
    ``n_samples (batch,)``.
    """
    c = _check_classes(classes)
    if c.ndim != 3:
        raise ValueError(
            f"`classes` must have shape (batch, n_samples, n_candidates); got {c.shape}."
        )
    b, _n, m = c.shape
    valid, same = _agreement(c)
    answered = valid.sum(axis=1).astype(np.float64)  # (b, m)
    mu = (
        np.full((b, m), 0.5)
        if prior is None
        else np.broadcast_to(np.asarray(prior, dtype=np.float64), (b, m)).copy()
    )
    fixed_r = collision is not None
    r = (
        np.broadcast_to(np.asarray(collision, dtype=np.float64), (b,)).copy()
        if fixed_r
        else np.full(b, _R0)
    )
    if init is not None and not fixed_r:
        r = np.broadcast_to(np.asarray(init[1], dtype=np.float64), (b,)).copy()
    r = np.clip(r, _R_MIN, _R_MAX)
    p0 = np.full((b, m), _P_INIT) if init is None else np.asarray(init[0], dtype=np.float64)
    p = _clip_accuracies(np.broadcast_to(p0, (b, m)).copy(), r)
    pair_mask = np.triu(np.ones((m, m), dtype=bool), 1)
    # pairs of stated answers, and whether they coincide, per input: fixed by the data
    pairs = valid[..., :, None] & valid[..., None, :] & pair_mask  # (b, n, m, m)
    same_pairs = same & pair_mask
    converged = np.zeros(b, dtype=bool)
    n_iter = np.zeros(b, dtype=np.int64)
    for it in range(1, max_iter + 1):
        post, _none = _posteriors(valid, same, p, r)
        right = np.where(valid, post, 0.0).sum(axis=1)  # (b, m)
        p_new = (right + prior_strength * mu) / (answered + prior_strength)
        if not fixed_r:
            both_wrong_same = (same_pairs * (1.0 - post)[..., :, None]).sum(axis=(1, 2, 3))
            diff_pairs = pairs & ~same_pairs
            both_wrong_diff = (
                diff_pairs * np.maximum(1.0 - post[..., :, None] - post[..., None, :], 0.0)
            ).sum(axis=(1, 2, 3))
            r_new = (both_wrong_same + _R0 * _R_STRENGTH) / (
                both_wrong_same + both_wrong_diff + _R_STRENGTH
            )
            r_new = np.clip(r_new, _R_MIN, _R_MAX)
        else:
            r_new = r
        p_new = _clip_accuracies(p_new, r_new)
        step = np.maximum(np.abs(p_new - p).max(axis=-1), np.abs(r_new - r))
        active = ~converged
        p = np.where(active[:, None], p_new, p)
        r = np.where(active, r_new, r)
        n_iter = np.where(active, it, n_iter)
        converged |= step < tol
        if converged.all():
            break
    flipped = _flip_check(valid, same, p, r)
    if flipped.any():
        p = np.where(flipped[:, None], _clip_accuracies(np.full((b, m), _P_INIT), r), p)
    return {
        "accuracies": p,
        "collision": r,
        "converged": converged,
        "flipped": flipped,
        "n_iter": n_iter,
        "answered": answered,
        "n_samples": valid.any(axis=-1).sum(axis=-1),
    }


def _flip_check(
    valid: NDArray[np.bool_],
    same: NDArray[np.bool_],
    p: NDArray[np.float64],
    r: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """True where the weighted vote overturns the plain vote on most strict-majority inputs."""
    size = same.sum(axis=-1)  # (b, n, m)
    n_valid = valid.sum(axis=-1)  # (b, n)
    strict = (2 * size.max(axis=-1)) > n_valid  # a strict majority exists
    majority = np.argmax(size, axis=-1)
    post, _ = _posteriors(valid, same, p, r)
    weighted = np.argmax(np.where(valid, post, -1.0), axis=-1)
    c_major = np.take_along_axis(same, majority[..., None, None], axis=-2)[..., 0, :]
    agree = np.take_along_axis(c_major, weighted[..., None], axis=-1)[..., 0]
    n_strict = strict.sum(axis=-1)
    kept = np.where(strict, agree, False).sum(axis=-1)
    return (n_strict > 0) & (kept < 0.5 * n_strict)


def fit_label_model(
    classes: ArrayLike,
    *,
    prior: ArrayLike | None = None,
    prior_strength: float = _GLOBAL_PRIOR_STRENGTH,
    collision: float | None = None,
    max_iter: int = 200,
    tol: float = 1e-6,
) -> LabelModelFit:
    """Fit one label model on ``classes`` of shape ``(n_samples, n_candidates)``.

    See the module docstring for the model and its safeguards.
    """
    c = _check_classes(classes)
    if c.ndim != 2:
        raise ValueError(f"`classes` must have shape (n_samples, n_candidates); got {c.shape}.")
    out = fit_label_models(
        c[None],
        prior=None if prior is None else np.asarray(prior, dtype=np.float64)[None],
        prior_strength=prior_strength,
        collision=collision,
        max_iter=max_iter,
        tol=tol,
    )
    return LabelModelFit(
        accuracies=out["accuracies"][0],
        collision=float(out["collision"][0]),
        converged=bool(out["converged"][0]),
        flipped=bool(out["flipped"][0]),
        n_iter=int(out["n_iter"][0]),
        n_samples=int(out["n_samples"][0]),
        answered=out["answered"][0],
    )
