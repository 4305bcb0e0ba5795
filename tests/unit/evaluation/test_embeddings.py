"""Embedding sources of an evaluation: live (each text once, cached) and precomputed arrays."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from smoothie_core.embedders import CachedEmbedder, HashingEmbedder
from smoothie_core.evaluation import PrecomputedEmbeddings, TextEmbeddings


class CountingEmbedder(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=16)
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls.append(len(texts))
        return super().embed(texts)


def test_text_embeddings_embed_each_distinct_text_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    src = TextEmbeddings(CachedEmbedder(inner, tmp_path), batch_size=2, progress=False)
    src.prepare([(None, ["q1", "q2"], ["q1", "q2"]), ("m", ["q1", "q2"], ["a", "q1"])])
    assert sum(inner.calls) == 3 and max(inner.calls) <= 2
    np.testing.assert_array_equal(src.outputs("m", ["q2"], ["q1"]), src.instructions(["q1"]))
    src2 = TextEmbeddings(CachedEmbedder(inner, tmp_path), progress=False)
    src2.prepare([(None, [], ["a", "q1", "q2"])])
    assert sum(inner.calls) == 3  # all from the on-disk cache


def _emb_dir(root: Path) -> Path:
    (root / "emb").mkdir(parents=True)
    rows = [{"idx": i, "instruction": q} for i, q in enumerate(["q0", "q1", "q2"])]
    (root / "instructions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    np.save(root / "emb" / "instructions.f16.npy", np.eye(3, 4, dtype=np.float16))
    model = np.eye(3, 4, k=1, dtype=np.float16)
    model[2] = np.nan
    np.save(root / "emb" / "m.f16.npy", model)
    return root


def test_precomputed_looks_rows_up_by_instruction_text(tmp_path: Path) -> None:
    root = _emb_dir(tmp_path)
    for path in (root, root / "emb"):
        src = PrecomputedEmbeddings(path)
        got = src.instructions(["q2", "q0"])
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, np.eye(3, 4)[[2, 0]])
        np.testing.assert_array_equal(src.outputs("m", ["q1"], ["text"]), np.eye(3, 4, k=1)[[1]])


def test_precomputed_errors(tmp_path: Path) -> None:
    root = _emb_dir(tmp_path)
    src = PrecomputedEmbeddings(root)
    with pytest.raises(ValueError, match="is missing \\(NaN\\)"):
        src.outputs("m", ["q2"], ["text"])
    with pytest.raises(FileNotFoundError, match="no precomputed embeddings for 'other'"):
        src.outputs("other", ["q0"], ["text"])
    with pytest.raises(ValueError, match="'unknown' is not in"):
        src.instructions(["unknown"])
    (root / "instructions.jsonl").write_text('{"idx": 0, "instruction": "q0"}\n{"idx": \n')
    with pytest.raises(ValueError, match=r"instructions\.jsonl line 2: expected a JSON object"):
        PrecomputedEmbeddings(root)
    with pytest.raises(FileNotFoundError, match="precomputed embeddings not found"):
        PrecomputedEmbeddings(tmp_path / "nothing")
