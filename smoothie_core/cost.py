"""Cost awareness: trade estimated quality for price (a decision rule, no estimation).

Shared by every front door (``prices=`` and ``cost_tradeoff=``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["check_prices", "choose", "cost_scores"]


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


def choose(
    decision: Any,
    prices: Mapping[str, float] | None,
    tradeoff: float,
    names: Sequence[str],
) -> tuple[Any, dict[str, Any]]:
    """Apply the cost rule to a route :class:`~smoothie_core.Decision` (one rule for every
    front door): unless the decision abstained (its fallback stands) or there is no
    price trade-off, the candidate with the best :func:`cost_scores` is selected.

    Returns ``(decision, extra)`` where ``extra`` holds ``scores`` and ``prices`` when the
    rule applied (for decision metadata), else ``{}``. Ties go to candidate order.
    """
    if prices is None or tradeoff <= 0 or getattr(decision, "abstained", False):
        return decision, {}
    scores = cost_scores(decision.weights, prices, tradeoff)
    best = max(scores, key=lambda n: (scores[n], -list(names).index(n)))
    return dataclasses.replace(decision, selected=best), {"scores": scores, "prices": dict(prices)}
