"""Scripted judges for the peer-review tests of both front doors.

A judge reads the grading prompt the core scorer writes
(:func:`smoothie_core.scorers.peer.grade_prompt`), finds the answers shown in it and
grades them from a known quality, in one of these manners:

``honest``
    the answer's quality (1-10);
``lenient``
    biased upwards: quality + 4, capped at 10;
``random``
    a random grade (seeded by the prompt, so runs are reproducible);
``inverse``
    11 - quality;
``position``
    position-biased: 10 for whatever answer is shown first, 2 for the others;
``mute``
    replies with text that holds no grade.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping

import numpy as np

KINDS = ("honest", "lenient", "random", "inverse", "position", "mute")
GRADING = "You are grading answers"
_ANSWER = re.compile(r"Answer ([A-Z]):\n(.*?)\n\n", re.S)


def is_grading(prompt: str) -> bool:
    """Whether ``prompt`` is (or wraps) a grading prompt, not a question to answer."""
    return GRADING in prompt


def shown(prompt: str) -> list[tuple[str, str]]:
    """``(label, answer text)`` in the order the prompt shows them."""
    return [(label, text.strip()) for label, text in _ANSWER.findall(prompt)]


def grade(kind: str, prompt: str, quality: Callable[[str], float]) -> str:
    """The reply of a ``kind`` judge to a grading ``prompt``."""
    if kind not in KINDS:
        raise ValueError(f"unknown judge kind {kind!r}; expected one of {KINDS}")
    if kind == "mute":
        return "These answers all look reasonable to me."
    rng = np.random.default_rng(zlib.crc32(prompt.encode()))
    lines = []
    for pos, (label, text) in enumerate(shown(prompt)):
        q = quality(text)
        g = {
            "honest": q,
            "lenient": min(10.0, q + 4),
            "random": float(rng.integers(1, 11)),
            "inverse": 11 - q,
            "position": 10.0 if pos == 0 else 2.0,
        }[kind]
        lines.append(f"{label}: {g:.0f}")
    return "\n".join(lines)


def by_prefix(qualities: Mapping[str, float]) -> Callable[[str], float]:
    """``quality(text)`` from the first word of an answer (e.g. ``"good ..."`` -> 9)."""

    def quality(text: str) -> float:
        return float(qualities[text.split()[0]])

    return quality


# ------------------------------------------------ the scenario both front doors test
#: Answer quality by the answer's first word.
QUALITY = by_prefix({"good": 9, "ok": 6, "bad": 2})
CANDIDATES = ("a", "b", "c", "d")
#: Inputs before judges' weights are estimated: 12 grades in common per pair of judges
#: (candidates judging each other share 2 answers per input).
WARM_UP = 6


def best(i: int) -> str:
    """``a`` answers input ``i`` best when ``i`` is even, ``c`` when it is odd."""
    return "a" if i % 2 == 0 else "c"


def answer(name: str, i: int) -> str:
    """Candidate ``name``'s answer to input ``i``: good from the best, ok from ``b``, else bad."""
    word = "good" if name == best(i) else "ok" if name == "b" else "bad"
    return f"{word} answer {i} from {name}"
