"""``smoothie example``: Smoothie selecting among canned candidate answers, offline (no chat model).

This is the core demo (no chat models): a small built-in set of questions, each with
several candidate answers of varying quality, embedded with the offline MiniLM,
scored with per-sample Smoothie and selected.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

from smoothie_core.tables import format_table

#: (question, {candidate: answer}); the last answer of each row is off-topic, the fourth wrong.
EXAMPLES: list[tuple[str, dict[str, str]]] = [
    (
        "What is the capital of France?",
        {
            "model-a": "The capital of France is Paris.",
            "model-b": "Paris is the capital city of France.",
            "model-c": "France's capital is Paris, on the Seine.",
            "model-d": "The capital of France is Lyon.",
            "model-e": "I like turtles and sunny afternoons.",
        },
    ),
    (
        "What is 12 times 12?",
        {
            "model-a": "12 times 12 is 144.",
            "model-b": "12 x 12 = 144.",
            "model-c": "The product of 12 and 12 is 144.",
            "model-d": "12 times 12 equals 124.",
            "model-e": "Twelve is a dozen, like eggs in a carton.",
        },
    ),
    (
        "Summarise: The meeting moved from Monday to Wednesday because the room was booked.",
        {
            "model-a": "The meeting was moved to Wednesday since the room was booked on Monday.",
            "model-b": "Because the room was taken, the meeting is now on Wednesday, not Monday.",
            "model-c": "Room booked Monday, so the meeting moved to Wednesday.",
            "model-d": "The meeting was cancelled.",
            "model-e": "Meetings are a great way to build team spirit.",
        },
    ),
    (
        "Rewrite politely: Send me the report now.",
        {
            "model-a": "Could you please send me the report when you have a moment?",
            "model-b": "Would you mind sending me the report, please?",
            "model-c": "Please send me the report at your earliest convenience.",
            "model-d": "SEND THE REPORT NOW!!!",
            "model-e": "Reports are documents that contain information.",
        },
    ),
    (
        "Name a primary colour.",
        {
            "model-a": "Red is a primary colour.",
            "model-b": "Blue is one of the primary colours.",
            "model-c": "A primary colour is red.",
            "model-d": "Red is a primary colour.",
            "model-e": "The weather today is cloudy.",
        },
    ),
    (
        "Who wrote Romeo and Juliet?",
        {
            "model-a": "Romeo and Juliet was written by William Shakespeare.",
            "model-b": "William Shakespeare wrote Romeo and Juliet.",
            "model-c": "Shakespeare is the author of Romeo and Juliet.",
            "model-d": "It was written by Charles Dickens.",
            "model-e": "Juliet is a popular name for girls.",
        },
    ),
]


def register(sub: Any) -> None:
    p = sub.add_parser(
        "example", help="Smoothie selecting among canned answers (no chat model), offline"
    )
    p.add_argument(
        "--embedder", default=None, help="embedder spec (default: the offline all-MiniLM-L6-v2)"
    )
    p.set_defaults(func=run)


def _rotated(answers: dict[str, str], shift: int) -> dict[str, str]:
    """Hand question ``q``'s answers to the candidates shifted by ``q`` places, so that no
    candidate name is always the good (or the bad) one."""
    names, texts = list(answers), list(answers.values())
    return {names[(i + shift) % len(names)]: text for i, text in enumerate(texts)}


def run(args: argparse.Namespace) -> int:
    from smoothie_core.diagnostics import ReliabilityWarning
    from smoothie_core.embedders import load_embedder
    from smoothie_core.router import Router

    start = time.perf_counter()
    names = list(EXAMPLES[0][1])
    router = Router(names, embedder=load_embedder(args.embedder))
    print(f"Smoothie select mode over {len(names)} candidates: {', '.join(names)}")
    print(f"embedder: {router.embedder.id}\n")
    rows = []
    picks = []
    for q, (question, canned) in enumerate(EXAMPLES):
        answers = _rotated(canned, q)
        with warnings.catch_warnings():  # the table shows each decision's reliability
            warnings.simplefilter("ignore", ReliabilityWarning)
            decision = router.select(question, answers)
        picks.append(decision.selected)
        weights = " ".join(f"{decision.weights[n]:.2f}" for n in names)
        rows.append(
            [
                question,
                weights,
                decision.selected,
                f"{decision.reliability:.2f}",
                answers[decision.selected],
            ]
        )
    print(
        format_table(
            ["question", "weights (" + " ".join(names) + ")", "selected", "reliability", "answer"],
            rows,
            max_width=48,
        )
    )
    counts = {n: picks.count(n) for n in names}
    print(f"\nselected per candidate: {counts}")
    print(
        "reliability: in [0, 1], the label model's probability that the picked answer is "
        "right, from which answers agree with it (low when no clear group agrees; see "
        "docs/reliability.md)."
    )
    print(f"total time: {time.perf_counter() - start:.1f} s")
    return 0
