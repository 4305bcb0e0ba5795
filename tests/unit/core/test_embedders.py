"""Embedders: protocol, hashing, cache, and the real offline MiniLM."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from smoothie_core.embedders import (
    DEFAULT_MODEL_ID,
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    load_embedder,
)


class CountingEmbedder:
    id = "counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_hashing_is_deterministic_and_text_dependent() -> None:
    emb = HashingEmbedder(dim=32)
    a = emb.embed(["hello world", "hello world", "something else"])
    assert a.dtype == np.float32 and a.shape == (3, 32)
    assert np.array_equal(a[0], a[1]) and not np.array_equal(a[0], a[2])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)
    assert isinstance(emb, Embedder)


def test_texts_must_be_a_list_of_str() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        HashingEmbedder().embed("abc")
    with pytest.raises(TypeError, match="item 1 is int"):
        HashingEmbedder().embed(["a", 3])


def test_cache_embeds_each_text_once_across_calls_and_instances(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, tmp_path)
    first = cached.embed(["aa", "b", "aa"])
    assert inner.calls == [["aa", "b"]]
    again = CachedEmbedder(inner, tmp_path).embed(["b", "aa", "ccc"])
    assert inner.calls == [["aa", "b"], ["ccc"]]
    np.testing.assert_array_equal(again[:2], first[[1, 0]])
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as con:
        assert con.execute("SELECT COUNT(*) FROM emb").fetchone()[0] == 3


def test_cache_is_keyed_by_embedder_id(tmp_path: Path) -> None:
    a = CachedEmbedder(HashingEmbedder(dim=8), tmp_path).embed(["x"])
    b = CachedEmbedder(HashingEmbedder(dim=16), tmp_path).embed(["x"])
    assert a.shape == (1, 8) and b.shape == (1, 16)


def test_load_embedder_specs() -> None:
    assert isinstance(load_embedder("hashing:12"), HashingEmbedder)
    assert load_embedder("hashing:12").dim == 12
    assert load_embedder("some/local/path").id.startswith("some/local/path")


@pytest.mark.minilm
def test_default_embedder_is_offline_minilm(minilm) -> None:
    assert minilm.id.startswith(DEFAULT_MODEL_ID)
    v = minilm.embed(
        ["The cat sat on the mat.", "A cat is sitting on a mat.", "Stock prices fell."]
    )
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


@pytest.mark.minilm
def test_default_embedder_matches_the_shared_precomputed_embeddings(
    minilm, alpaca_eval_dir
) -> None:
    import json

    first = json.loads((alpaca_eval_dir / "instructions.jsonl").read_text().splitlines()[0])
    ref = np.load(alpaca_eval_dir / "emb" / "instructions.f16.npy")[first["idx"]].astype(np.float32)
    got = minilm.embed([first["instruction"]])[0]
    assert float(got @ ref) > 0.999
