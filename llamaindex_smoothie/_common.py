"""Shared checks and conversions for the selector, the query engine and the LLM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from smoothie_core.router import Decision

#: ``n_neighbors="auto"`` uses this many nearest calibration queries (fewer if fewer exist).
AUTO_NEIGHBORS = 10

NNeighbors = int | None | Literal["auto"]


def resolve_auto_neighbors(
    n_neighbors: NNeighbors, answers: Sequence[dict[str, str | None]]
) -> int | None:
    """``"auto"`` -> ``min(AUTO_NEIGHBORS, complete calibration rows)``; anything else unchanged."""
    if n_neighbors != "auto":
        return n_neighbors
    complete = sum(1 for row in answers if all(isinstance(v, str) for v in row.values()))
    return max(1, min(AUTO_NEIGHBORS, complete))


def unique_names(names: Sequence[str | None], what: str) -> list[str]:
    """Check that every ``what`` has a distinct, non-empty name."""
    missing = [i for i, n in enumerate(names) if not n]
    if missing:
        raise ValueError(
            f"Every {what} needs a name (Smoothie matches candidates by name); {what} "
            f"{missing[0]} has none. Give each one a name, e.g. ToolMetadata(name=...)."
        )
    dups = sorted({str(n) for n in names if names.count(n) > 1})
    if dups:
        raise ValueError(f"{what} names must be distinct; got duplicates {dups} in {list(names)}.")
    return [str(n) for n in names]


def reason(decision: Decision, n_choices: int) -> str:
    """Human-readable reason carrying the selected candidate's weight."""
    w = decision.weights.get(decision.selected, float("nan"))
    if decision.mode == "route":
        how = f"route mode, {decision.n_neighbors} nearest calibration queries"
    else:
        how = f"select mode, {n_choices - len(decision.failed)} answers scored"
    text = f"Smoothie weight {w:.3f} for {decision.selected!r}, highest of {n_choices} ({how})"
    if decision.fallback:
        text += f"; fallback: {decision.fallback}"
    return text
