"""Layering: smoothie_core never imports the frameworks; __all__ is pinned."""

from __future__ import annotations

import subprocess
import sys

import smoothie_core


def test_core_imports_neither_langchain_nor_llama_index() -> None:
    code = (
        "import sys, smoothie_core, smoothie_core.cli, smoothie_core.router, smoothie_core.embedders;"
        "from smoothie_core.cli import build_parser; build_parser();"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', "
        "'llama_index', 'langchain_smoothie', 'llamaindex_smoothie')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"smoothie_core imported {out.stdout.strip()}"


def test_core_does_not_import_torch_until_embedding() -> None:
    code = "import sys, smoothie_core; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_names_are_pinned() -> None:
    assert sorted(smoothie_core.__all__) == sorted(
        [
            "__version__",
            "CachedEmbedder",
            "CalibrationReport",
            "Decision",
            "Embedder",
            "ExactNeighbors",
            "HashingEmbedder",
            "NeighborIndex",
            "NotFittedError",
            "Router",
            "SentenceTransformerEmbedder",
            "Smoothie",
            "StateFileError",
            "default_embedder",
            "load_embedder",
            "neighbor_mean",
            "sample_deltas",
            "select_best",
            "weights_from_deltas",
        ]
    )
    for name in smoothie_core.__all__:
        assert hasattr(smoothie_core, name)
