"""smoothie_core.textviews: which part of a long output the embedder reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from smoothie_core.embedders import CachedEmbedder, Embedder, HashingEmbedder
from smoothie_core.textviews import DEFAULT_APPROX_WINDOW, VIEWS, ViewEmbedder, view_embedder

LONG = " ".join(f"step{i} computes value{i}." for i in range(400)) + " Finally the answer is 42."


class Recording:
    """An embedder that records what it reads; vector = (number of words, 1, 0, ...)."""

    id = "recording"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, 0] = len(t.split())
            out[i, 1] = 1.0
        return out


def test_is_an_embedder_and_ids_name_the_view() -> None:
    base = HashingEmbedder(dim=16)
    ids = {v: ViewEmbedder(base, v).id for v in VIEWS}
    assert all(isinstance(ViewEmbedder(base, v), Embedder) for v in VIEWS)
    assert len(set(ids.values())) == len(VIEWS)
    for view, ident in ids.items():
        assert ident.startswith(base.id) and f"view={view}" in ident
    assert "approx-window=256" in ids["first"]
    assert "window=7" in ViewEmbedder(base, "last", window=7).id
    assert ViewEmbedder(base, "answer", fallback="windows").id != ids["answer"]


def test_cached_view_embedder_caches_per_view(tmp_path: Path) -> None:
    base = HashingEmbedder(dim=16)
    first = CachedEmbedder(ViewEmbedder(base, "first"), tmp_path)
    last = CachedEmbedder(ViewEmbedder(base, "last"), tmp_path)
    a = first.embed([LONG])
    b = last.embed([LONG])
    assert first.misses == 1 and last.misses == 1  # same text, two cache entries
    assert not np.allclose(a, b)
    again = CachedEmbedder(ViewEmbedder(base, "last"), tmp_path)
    np.testing.assert_array_equal(again.embed([LONG]), b)
    assert again.hits == 1 and again.misses == 0


def test_approximate_windows_cover_the_whole_text() -> None:
    emb = ViewEmbedder(HashingEmbedder(dim=8), "windows", window=50)
    (windows,) = emb.view_texts([LONG])
    pieces = [len(re.findall(r"\w+|[^\w\s]", w)) for w in windows]
    assert all(p <= 50 for p in pieces)
    assert sum(pieces) == len(re.findall(r"\w+|[^\w\s]", LONG))
    assert "".join(windows) == LONG  # consecutive, nothing dropped
    assert len(windows) == -(-sum(pieces) // 50)


def test_first_and_last_approximate_views() -> None:
    base = HashingEmbedder(dim=8)
    (first,) = ViewEmbedder(base, "first", window=10).view_texts([LONG])[0:1]
    (last,) = ViewEmbedder(base, "last", window=10).view_texts([LONG])
    assert LONG.startswith(first[0]) and len(re.findall(r"\w+|[^\w\s]", first[0])) == 10
    assert LONG.endswith(last[0]) and last[0].endswith("the answer is 42.")
    assert len(re.findall(r"\w+|[^\w\s]", last[0])) <= 10
    # the default approximate window: 256 pieces
    (default_first,) = ViewEmbedder(base, "first").view_texts([LONG])
    assert len(re.findall(r"\w+|[^\w\s]", default_first[0])) == DEFAULT_APPROX_WINDOW


def test_short_texts_are_the_same_under_every_text_view() -> None:
    base = HashingEmbedder(dim=32)
    short = ["a short answer", ""]
    plain = base.embed(short)
    for view in ("first", "last", "windows"):
        np.testing.assert_allclose(ViewEmbedder(base, view).embed(short), plain, atol=1e-6)


def test_windows_vector_is_the_token_weighted_normalised_mean() -> None:
    rec = Recording()
    emb = ViewEmbedder(rec, "windows", window=4)
    text = "a b c d e f"  # windows "a b c d " (4 pieces) and "e f" (2 pieces)
    vec = emb.embed([text])
    assert rec.calls == [["a b c d ", "e f"]]
    mean = (4 * np.array([4.0, 1, 0, 0]) + 2 * np.array([2.0, 1, 0, 0])) / 6
    np.testing.assert_allclose(vec[0], mean / np.linalg.norm(mean), rtol=1e-6)
    assert vec.dtype == np.float32


def test_answer_view_embeds_the_normalised_answer_or_falls_back() -> None:
    rec = Recording()
    outputs = [
        '```json\n{"reasoning": "9 eggs at $2", "answer": "$1,000.00"}\n```',
        "reasoning that stops without a conclusion " * 30,
        "The answer is (c).",
    ]
    emb = ViewEmbedder(rec, "answer", window=5)
    vecs = emb.embed(outputs)
    (texts,) = rec.calls  # all short: one call
    assert texts[0] == "1000" and texts[2] == "C"
    assert outputs[1].rstrip().endswith(texts[1].rstrip())  # fallback "last": the end
    assert len(texts[1].split()) <= 5
    np.testing.assert_array_equal(vecs[:, 0], [1, 5, 1])  # rows stay in order
    # a long fallback is embedded in its own call (batches pad to their longest text)
    rec.calls.clear()
    vecs = ViewEmbedder(rec, "answer").embed(outputs)
    assert rec.calls == [["1000", "C"], [outputs[1]]]
    np.testing.assert_array_equal(vecs[:, 0], [1, len(outputs[1].split()), 1])
    first = ViewEmbedder(Recording(), "answer", window=5, fallback="first")
    assert outputs[1].startswith(first.view_texts(outputs)[1][0])


def test_view_embedder_helper_and_empty_input() -> None:
    base = HashingEmbedder(dim=8)
    assert view_embedder(base, None) is base
    assert isinstance(view_embedder(base, "windows"), ViewEmbedder)
    assert ViewEmbedder(base, "windows").embed([]).shape == (0, 8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"view": "middle"}, "`view` must be one of first, last, windows, answer; got 'middle'"),
        ({"view": "answer", "fallback": "answer"}, "`fallback` must be one of first, last"),
        ({"window": 0}, "`window` must be a positive int or None; got 0"),
        ({"window": 2.5}, "`window` must be a positive int"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ViewEmbedder(HashingEmbedder(dim=8), **kwargs)  # type: ignore[arg-type]


def test_a_single_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        ViewEmbedder(HashingEmbedder(dim=8), "last").embed("one text")


@pytest.mark.minilm
def test_minilm_tokenizer_path(minilm: Embedder, tmp_path: Path) -> None:
    tok = minilm.model.tokenizer  # type: ignore[attr-defined]
    n_pieces = len(tok(LONG, add_special_tokens=False, verbose=False)["input_ids"])
    assert n_pieces > 3 * 254
    plain = minilm.embed([LONG])
    first = ViewEmbedder(minilm, "first")
    assert first.window == 254  # max_seq_length 256 minus [CLS] and [SEP]
    np.testing.assert_array_equal(first.embed([LONG]), plain)  # exactly today's vector
    last = ViewEmbedder(CachedEmbedder(minilm, tmp_path), "last")  # found through the cache
    assert last.window == 254
    (last_text,) = last.view_texts([LONG])[0]
    ids = tok(last_text, add_special_tokens=False, verbose=False)["input_ids"]
    full_ids = tok(LONG, add_special_tokens=False, verbose=False)["input_ids"]
    assert 250 <= len(ids) <= 254 and ids == full_ids[-len(ids) :]  # the end, unchanged
    assert last_text.endswith("the answer is 42.")
    vec = last.embed([LONG])
    np.testing.assert_allclose(vec, minilm.embed([last_text]), atol=1e-6)
    assert float(vec[0] @ plain[0]) < 0.999  # it reads something else than "first"
    windows = ViewEmbedder(minilm, "windows")
    (parts,) = windows.view_texts([LONG])
    counts = [len(tok(p, add_special_tokens=False, verbose=False)["input_ids"]) for p in parts]
    assert all(c <= 254 for c in counts) and sum(counts) == n_pieces
    assert abs(float(np.linalg.norm(windows.embed([LONG])[0])) - 1.0) < 1e-5
