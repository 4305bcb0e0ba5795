"""Shared loaders for the issue-8 benchmarks (AlpacaEval DEV data; never collected by pytest)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np

DATA = (
    Path(
        os.environ.get(
            "SMOOTHIE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
        )
    )
    / "alpaca_eval"
)


def ensembles(data: Path = DATA) -> list[list[str]]:
    return json.loads((data / "ensembles_dev.json").read_text())


def load_outputs(model: str, data: Path = DATA) -> tuple[list[str], np.ndarray]:
    """(texts, labels in [0, 1]) for all 805 instructions; missing -> '' and NaN."""
    texts, labels = [], []
    with gzip.open(data / "outputs" / f"{model}.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            texts.append(row["output"] or "")
            labels.append(np.nan if row["preference"] is None else row["preference"] - 1.0)
    return texts, np.asarray(labels)


def load_emb(model: str, data: Path = DATA) -> np.ndarray:
    return np.load(data / "emb" / f"{model}.f16.npy").astype(np.float32)


def instructions(data: Path = DATA) -> list[str]:
    with open(data / "instructions.jsonl") as fh:
        return [json.loads(line)["instruction"] for line in fh]
