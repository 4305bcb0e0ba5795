"""Win-rate metrics for per-instruction picks (AlpacaEval: ``100 * mean(preference - 1)``)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "win_rate",
    "random_win_rate",
    "best_single",
    "oracle_win_rate",
    "model_win_rates",
    "spearman",
]


def _wins(wins: ArrayLike) -> NDArray[np.float64]:
    w = np.asarray(wins, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(
            f"`wins` must have shape (n_instructions, n_models) with n >= 1; got {w.shape}."
        )
    return w


def win_rate(wins: ArrayLike, picks: ArrayLike) -> float:
    """Win rate (0-100) of picking candidate ``picks[i]`` on instruction ``i``.

    Examples
    --------
    >>> win_rate([[0.0, 1.0], [1.0, 0.0]], [1, 0])
    100.0
    """
    w = _wins(wins)
    p = np.asarray(picks)
    if p.shape != (w.shape[0],) or not np.issubdtype(p.dtype, np.integer):
        raise ValueError(
            f"`picks` must be {w.shape[0]} integer candidate indices; got shape {p.shape} "
            f"and dtype {p.dtype}."
        )
    if p.size and (p.min() < 0 or p.max() >= w.shape[1]):
        raise ValueError(f"`picks` must lie in [0, {w.shape[1] - 1}]; got {p.min()}..{p.max()}.")
    return float(100.0 * w[np.arange(w.shape[0]), p].mean())


def model_win_rates(wins: ArrayLike) -> NDArray[np.float64]:
    """Each model's win rate (0-100) over the instructions, shape ``(m,)``."""
    return 100.0 * _wins(wins).mean(axis=0)


def random_win_rate(wins: ArrayLike) -> float:
    """Expected win rate of a uniform random pick per instruction (mean of the models').

    Examples
    --------
    >>> random_win_rate([[0.0, 1.0], [0.5, 0.5]])
    50.0
    """
    return float(model_win_rates(wins).mean())


def best_single(wins: ArrayLike) -> tuple[int, float]:
    """Index and win rate of the best single model (needs labels: a reference, not a method).

    Examples
    --------
    >>> best_single([[0.0, 1.0], [0.5, 0.5]])
    (1, 75.0)
    """
    rates = model_win_rates(wins)
    i = int(np.argmax(rates))
    return i, float(rates[i])


def oracle_win_rate(wins: ArrayLike) -> float:
    """Win rate of the per-instruction best pick (an upper bound for any selector).

    Examples
    --------
    >>> oracle_win_rate([[0.0, 1.0], [0.5, 0.25]])
    75.0
    """
    return float(100.0 * _wins(wins).max(axis=1).mean())


def spearman(a: ArrayLike, b: ArrayLike) -> float | None:
    """Spearman rank correlation (scipy), or None when undefined (a constant input).

    Examples
    --------
    >>> spearman([0.1, 0.2, 0.7], [3.0, 5.0, 9.0])
    1.0
    >>> spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None
    True
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"spearman needs two 1-d arrays of equal length >= 2; got {x.shape}, {y.shape}."
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rho = float(spearmanr(x, y).statistic)
    return None if math.isnan(rho) else rho
