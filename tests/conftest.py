"""Shared fixtures: embedders, the shared evaluation data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smoothie_core.embedders import HashingEmbedder

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def shared_data_dir() -> Path:
    """``$SMOOTHIE_SHARED_DATA`` or ``../shared/data`` next to the repository."""
    return Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def alpaca_eval_dir() -> Path:
    """The AlpacaEval DEV data folder; skips the test when it is not there."""
    path = shared_data_dir() / "alpaca_eval"
    if not (path / "results").is_dir():
        pytest.skip(
            f"shared AlpacaEval data not found at {path} (set SMOOTHIE_SHARED_DATA to the "
            "folder holding alpaca_eval/)"
        )
    return path


@pytest.fixture
def hashing_embedder() -> HashingEmbedder:
    """A fast deterministic text-dependent embedder (no model)."""
    return HashingEmbedder(dim=256)


@pytest.fixture(scope="session")
def minilm():
    """The real offline all-MiniLM-L6-v2 (loaded once per session)."""
    from smoothie_core.embedders import default_embedder

    emb = default_embedder()
    emb.embed(["warm up"])
    return emb
