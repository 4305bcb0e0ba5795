"""A tiny AlpacaEval-layout results folder written to a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"

QUESTIONS = [
    "What is the capital of France?",
    "Name a primary colour.",
    "Who wrote Romeo and Juliet?",
    "What is 12 times 12?",
    "Give a synonym of happy.",
    "What does a thermometer measure?",
]
GOOD = [
    "The capital of France is Paris.",
    "Red is a primary colour.",
    "William Shakespeare wrote Romeo and Juliet.",
    "12 times 12 is 144.",
    "A synonym of happy is joyful.",
    "A thermometer measures temperature.",
]


def write_model(
    root: Path,
    name: str,
    rows: list[tuple[str, str | None, float | None]],
    *,
    annotator: str = ANNOTATOR,
) -> None:
    """rows: (instruction, output, preference); output None -> no output row."""
    folder = root / name
    (folder / annotator).mkdir(parents=True, exist_ok=True)
    outs = [
        {"dataset": "test", "instruction": i, "output": o, "generator": name}
        for i, o, _ in rows
        if o is not None
    ]
    anns = [
        {"instruction": i, "output_1": "base", "output_2": o, "generator_2": name, "preference": p}
        for i, o, p in rows
        if o is not None
    ]
    (folder / "model_outputs.json").write_text(json.dumps(outs))
    (folder / annotator / "annotations.json").write_text(json.dumps(anns))


def make_results(root: Path) -> Path:
    """Four models: 'good' (right, preference 1.9), 'good2' (paraphrase, 1.6),
    'bad' (off-topic, 1.1), 'worse' (off-topic, 1.0; misses the last instruction)."""
    results = root / "results"
    write_model(results, "good", [(q, a, 1.9) for q, a in zip(QUESTIONS, GOOD, strict=True)])
    write_model(
        results,
        "good2",
        [(q, "Answer: " + a.lower(), 1.6) for q, a in zip(QUESTIONS, GOOD, strict=True)],
    )
    write_model(results, "bad", [(q, "I like turtles and sunny days.", 1.1) for q in QUESTIONS])
    write_model(
        results,
        "worse",
        [
            (q, None if i == len(QUESTIONS) - 1 else "Bananas are yellow.", 1.0)
            for i, q in enumerate(QUESTIONS)
        ],
    )
    return results
