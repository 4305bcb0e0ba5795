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


# --------------------------------------------------------------------------------------
# CachedEmbedder: damaged, read-only and tampered caches; embed([]); threads (issue 15, 9)
# --------------------------------------------------------------------------------------
import os  # noqa: E402
import threading  # noqa: E402
import warnings  # noqa: E402

TEXTS = ["the cat sat", "a dog barked", "rain in spain", "quantum chromodynamics"]


def _cache_warnings(record: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in record if "embedding cache" in str(w.message)]


def test_damaged_cache_file_degrades_to_computing_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "embeddings.sqlite3").write_bytes(b"this is not a database" * 100)
    emb = HashingEmbedder(dim=16)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        cached = CachedEmbedder(emb, tmp_path)
        first = cached.embed(TEXTS)
        again = cached.embed(TEXTS)
    found = _cache_warnings(record)
    assert len(found) == 1
    assert found[0].category is RuntimeWarning
    assert found[0].filename == __file__  # points at the caller, not at embedders.py
    assert "cannot be used" in str(found[0].message)
    np.testing.assert_array_equal(first, emb.embed(TEXTS))
    np.testing.assert_array_equal(again, first)


def test_cache_dir_that_is_a_file_degrades(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.warns(RuntimeWarning, match="cannot be used"):
        cached = CachedEmbedder(HashingEmbedder(dim=8), blocker)
    assert cached.embed(["a"]).shape == (1, 8)


def _read_only_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Open every SQLite database read-only (root ignores file permissions)."""
    real = sqlite3.connect

    def connect(path, *args, **kwargs):
        return real(f"file:{os.fspath(path)}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)


def test_read_only_cache_is_read_but_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb = HashingEmbedder(dim=16)
    CachedEmbedder(emb, tmp_path).embed(TEXTS[:2])
    _read_only_connect(monkeypatch)
    cached = CachedEmbedder(emb, tmp_path)
    with pytest.warns(RuntimeWarning, match="is read-only") as record:
        got = cached.embed(TEXTS)
    assert len(_cache_warnings(list(record))) == 1
    assert record[0].filename == __file__
    np.testing.assert_array_equal(got, emb.embed(TEXTS))
    assert (cached.hits, cached.misses) == (2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning
        cached.embed([*TEXTS[2:], "something new"])


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_cache_for_real(tmp_path: Path) -> None:
    emb = HashingEmbedder(dim=16)
    CachedEmbedder(emb, tmp_path).embed(TEXTS[:2])
    (tmp_path / "embeddings.sqlite3").chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.warns(RuntimeWarning, match="embedding cache"):
            got = CachedEmbedder(emb, tmp_path).embed(TEXTS)
        np.testing.assert_array_equal(got, emb.embed(TEXTS))
    finally:
        tmp_path.chmod(0o755)


def _tamper(path: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(path / "embeddings.sqlite3") as con:
        con.execute(sql, params)


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("UPDATE emb SET vec = substr(vec, 1, 20)", ()),  # wrong byte length
        ("UPDATE emb SET dim = 32, vec = ?", (np.full(32, 32**-0.5, np.float32).tobytes(),)),
        ("UPDATE emb SET vec = vec || vec", ()),  # TEXT, not valid UTF-8
        ("UPDATE emb SET vec = ?", (np.full(16, np.nan, np.float32).tobytes(),)),
        ("UPDATE emb SET vec = ?", (np.zeros(16, np.float32).tobytes(),)),  # zeros
        ("UPDATE emb SET vec = ?", (np.full(16, 3.0, np.float32).tobytes(),)),  # not unit
        ("UPDATE emb SET vec = ?", (np.full(8, 0.25, np.float64).tobytes(),)),  # float64
        ("UPDATE emb SET vec = 'text', dim = 1", ()),  # not a blob
        ("UPDATE emb SET dim = 'sixteen'", ()),
    ],
)
def test_tampered_rows_are_never_returned(tmp_path: Path, sql: str, params: tuple) -> None:
    emb = HashingEmbedder(dim=16)
    CachedEmbedder(emb, tmp_path).embed(TEXTS)
    _tamper(tmp_path, sql, *params)
    cached = CachedEmbedder(emb, tmp_path)
    with pytest.warns(RuntimeWarning, match="invalid vector") as record:
        got = cached.embed(TEXTS)
    assert record[0].filename == __file__
    np.testing.assert_array_equal(got, emb.embed(TEXTS))
    assert (cached.rejected, cached.misses) == (4, 4)
    again = CachedEmbedder(emb, tmp_path)  # the bad rows were replaced
    np.testing.assert_array_equal(again.embed(TEXTS), got)
    assert (again.hits, again.rejected) == (4, 0)


def test_tampered_dimension_with_an_embedder_of_unknown_dim(tmp_path: Path) -> None:
    inner = CountingEmbedder()  # no `dim` attribute, does not normalise
    CachedEmbedder(inner, tmp_path).embed(["aa", "bbb", "c"])
    key = CachedEmbedder(inner, tmp_path)._key("aa")
    _tamper(
        tmp_path, "UPDATE emb SET dim = 3, vec = ? WHERE key = ?",
        np.ones(3, np.float32).tobytes(), key,
    )  # fmt: skip
    # every text cached, but the vectors disagree on the dimension: none is trusted
    cached = CachedEmbedder(inner, tmp_path)
    with pytest.warns(RuntimeWarning, match="invalid vector"):
        got = cached.embed(["aa", "bbb", "c"])
    np.testing.assert_array_equal(got, inner.embed(["aa", "bbb", "c"]))
    # one text to compute: the embedder's own dimension decides
    _tamper(
        tmp_path, "UPDATE emb SET dim = 3, vec = ? WHERE key = ?",
        np.ones(3, np.float32).tobytes(), key,
    )  # fmt: skip
    cached = CachedEmbedder(inner, tmp_path)
    with pytest.warns(RuntimeWarning, match="invalid vector"):
        got = cached.embed(["aa", "dddd"])
    np.testing.assert_array_equal(got, inner.embed(["aa", "dddd"]))


def test_embed_nothing_has_the_embedder_dimension(tmp_path: Path) -> None:
    assert CachedEmbedder(HashingEmbedder(dim=12), tmp_path).embed([]).shape == (0, 12)

    class LazyDim:
        """Like SentenceTransformerEmbedder: ``dim`` is a property (it may load a model)."""

        id = "lazy"
        calls = 0

        @property
        def dim(self) -> int:
            raise AssertionError("CachedEmbedder must not read a lazy `dim` property")

        def embed(self, texts):
            LazyDim.calls += 1
            return np.ones((len(texts), 5), dtype=np.float32)

    cached = CachedEmbedder(LazyDim(), tmp_path)  # type: ignore[arg-type]
    assert cached.embed([]).shape == (0, 5)  # asks the embedder
    assert cached.embed([]).shape == (0, 5)  # then remembers
    assert LazyDim.calls == 1


def test_cache_is_safe_under_threads(tmp_path: Path) -> None:
    emb = HashingEmbedder(dim=32)
    pool = [f"text number {i} with words {i % 13}" for i in range(120)]
    want = dict(zip(pool, emb.embed(pool), strict=True))
    cached = CachedEmbedder(emb, tmp_path)
    errors: list[BaseException] = []
    calls = 0
    count = threading.Lock()

    def work(seed: int) -> None:
        nonlocal calls
        rng = np.random.default_rng(seed)
        try:
            for _ in range(25):
                texts = [pool[i] for i in rng.choice(len(pool), size=12, replace=False)]
                got = cached.embed(texts)
                np.testing.assert_array_equal(got, np.stack([want[t] for t in texts]))
                with count:
                    calls += len(texts)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cache warning either
        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert cached.hits + cached.misses == calls == 8 * 25 * 12
    assert len(pool) <= cached.misses
    with sqlite3.connect(tmp_path / "embeddings.sqlite3") as con:
        assert con.execute("SELECT COUNT(*) FROM emb").fetchone()[0] == len(pool)
