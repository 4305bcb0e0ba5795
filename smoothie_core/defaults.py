"""The library's defaults, in one place: every front door imports them from here.

``Router``, LangChain's ``SmoothieRouter`` and LlamaIndex's selector, query engine and
LLM all default to these values, so the same option means the same thing, with the
same default, wherever it is spelled. How each default was chosen is in the docs
(``docs/evaluation/``: defaults are chosen from measured evidence, by rules stated
before looking at the results).
"""

from __future__ import annotations

from typing import Final

from smoothie_core.orchestration import DEFAULT_MAX_CONCURRENCY

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_POOL_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_N_NEIGHBORS",
    "DEFAULT_SCORER",
    "DEFAULT_TIMEOUT",
    "DEFAULT_UPDATE_POOL",
    "AUTO_NEIGHBORS_CAP",
]

#: What compares the candidates' answers (a name in :mod:`smoothie_core.scorers`).
DEFAULT_SCORER: Final[str] = "answer_coverage"

#: Smoothing: None = Smoothie-Global, an int k = Smoothie-Local over k inputs, "auto" =
#: ``min(AUTO_NEIGHBORS_CAP, pool size)``.
DEFAULT_N_NEIGHBORS: Final[int | str | None] = None

#: "auto" averages at most this many neighbours.
AUTO_NEIGHBORS_CAP: Final[int] = 10

#: Samples kept for Smoothie-Local / online learning (oldest dropped first).
DEFAULT_MAX_POOL_SIZE: Final[int] = 10_000

#: Select mode adds each scored input to the router's pool (bounded by the pool size), so
#: label models learn every candidate's accuracy from traffic and route mode is
#: calibrated by it.
DEFAULT_UPDATE_POOL: Final[bool] = True

#: Seconds one candidate call may take (None: no limit).
DEFAULT_TIMEOUT: Final[float | None] = None

#: Further attempts after a failed candidate call.
DEFAULT_MAX_RETRIES: Final[int] = 0
