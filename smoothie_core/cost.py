"""Cost awareness: trade estimated quality for price (a decision rule, no estimation).

Shared by every front door (``prices=`` and ``cost_tradeoff=``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["check_prices", "cost_scores"]


def check_prices(prices: Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    """Validate ``prices`` (name -> non-negative cost per call, any unit)."""
    unknown = sorted(set(prices) - set(names))
    missing = [n for n in names if n not in prices]
    if unknown or missing:
        raise ValueError(
            f"`prices` must give one price per candidate {list(names)}; unknown names "
            f"{unknown}, missing {missing}."
        )
    bad = {n: p for n, p in prices.items() if not float(p) >= 0.0}
    if bad:
        raise ValueError(f"`prices` must be non-negative numbers; got {bad}.")
    return {n: float(prices[n]) for n in names}


def cost_scores(
    weights: Mapping[str, float], prices: Mapping[str, float], tradeoff: float
) -> dict[str, float]:
    """``score_c = weight_c - tradeoff * price_c / max(prices)`` for each weighted candidate.

    Smoothie weights sum to 1, so with ``tradeoff = 1`` the most expensive candidate
    pays a penalty equal to the whole quality mass; ``tradeoff = 0`` ignores prices.

    Examples
    --------
    >>> cost_scores({"a": 0.5, "b": 0.3}, {"a": 10.0, "b": 1.0}, 0.5)
    {'a': 0.0, 'b': 0.25}
    """
    top = max((prices[n] for n in weights), default=0.0)
    if top <= 0 or tradeoff == 0:
        return dict(weights)
    return {n: w - tradeoff * prices[n] / top for n, w in weights.items()}
