"""Small labelled-generations folders (<task>/<model>.jsonl[.gz]) written to temp dirs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

WORDS = {
    "alpha": "apples bananas cherries dates figs grapes lemons mangos",
    "beta": "rockets planets stars moons comets orbits galaxies nebulae",
}


def write_file(path: Path, rows: list[dict[str, Any]]) -> Path:
    """One model's lines (gzip when the name ends with .gz)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def question(task: str, i: int) -> str:
    return f"{task} question {i}: {WORDS[task]} number {i}?"


def specialists(
    root: Path,
    n: int = 20,
    *,
    flip_labels: bool = False,
    gz: bool = True,
) -> Path:
    """Two tasks, four models: ``a1``/``a2`` answer task alpha right, ``b1``/``b2`` task beta.

    Right answers are the same text for both specialists of a task; wrong answers are
    each model's own gibberish. Smoothie-Local (neighbours within a task) should find
    the specialists; Smoothie-Global, one model for both tasks, gets half right.
    ``flip_labels`` writes 1 - label (adversarial labels: a label-free method's picks
    must not change).
    """
    rng = np.random.default_rng(0)
    vocab = [f"w{j}" for j in range(400)]
    suffix = ".jsonl.gz" if gz else ".jsonl"
    for task, good in (("alpha", {"a1", "a2"}), ("beta", {"b1", "b2"})):
        for model in ("a1", "a2", "b1", "b2"):
            rows = []
            for i in range(n):
                right = model in good
                text = (
                    f"The {task} answer to question {i} is {17 * i + len(task)}."
                    if right
                    else " ".join(rng.choice(vocab, size=12))
                )
                label = int(right)
                rows.append(
                    {
                        "id": f"{task}-{i}",
                        "input": question(task, i),
                        "output": text,
                        "reference": str(17 * i + len(task)),
                        "label": 1 - label if flip_labels else label,
                    }
                )
            write_file(root / task / f"{model}{suffix}", rows)
    return root


def simple(
    root: Path,
    labels: dict[str, list[float | None]],
    *,
    task: str = "t",
    outputs: dict[str, list[str | None]] | None = None,
) -> Path:
    """One task: model -> labels per prompt (None = unlabelled); outputs default to text."""
    for model, labs in labels.items():
        outs = (outputs or {}).get(model) or [f"{model} says {i}" for i in range(len(labs))]
        rows = [
            {"id": i, "input": f"prompt {i}", "output": o, "reference": "x", "label": lab}
            for i, (o, lab) in enumerate(zip(outs, labs, strict=True))
        ]
        write_file(root / task / f"{model}.jsonl", rows)
    return root
