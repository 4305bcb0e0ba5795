"""Neighbour indexes: exact (float64/float32), approximate (faiss HNSW), auto switching."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core import Smoothie
from smoothie_core import neighbors as nb
from smoothie_core.neighbors import AutoNeighbors, ExactNeighbors, NeighborIndex

needs_faiss = pytest.mark.skipif(
    not nb.ann_available(), reason="faiss-cpu not installed (pip install 'smoothie-router[ann]')"
)


def _clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    d = ((queries[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_matches_brute_force(dtype: type) -> None:
    data, queries = _clustered(500), _clustered(40, seed=1)
    index = ExactNeighbors(data, dtype=dtype)
    assert index.vectors.dtype == dtype
    np.testing.assert_array_equal(index.search(queries, 7), _brute_force(data, queries, 7))


def test_exact_float32_halves_memory() -> None:
    data = _clustered(300)
    assert ExactNeighbors(data, dtype=np.float32).vectors.nbytes * 2 == data.nbytes


def test_exact_rejects_bad_dtype_and_query_shape() -> None:
    with pytest.raises(
        ValueError, match=r"`dtype` must be numpy.float64 or numpy.float32; got int64"
    ):
        ExactNeighbors(dtype=np.int64)
    index = ExactNeighbors(np.eye(4))
    with pytest.raises(
        ValueError, match=r"`queries` must have shape \(n_queries, 4\); got shape \(2, 3\)"
    ):
        index.search(np.ones((2, 3)), 1)


def test_protocol_is_satisfied() -> None:
    assert isinstance(ExactNeighbors(), NeighborIndex)
    assert isinstance(AutoNeighbors(), NeighborIndex)


@needs_faiss
def test_approximate_recall_and_order() -> None:
    data, queries = _clustered(3000), _clustered(100, seed=2)
    approx = nb.ApproximateNeighbors(data)
    assert isinstance(approx, NeighborIndex)
    assert len(approx) == 3000
    got, want = approx.search(queries, 10), _brute_force(data, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
    assert recall >= 0.97
    # nearest first: distances along each row are non-decreasing
    dist = ((data[got] - queries[:, None, :]) ** 2).sum(-1)
    assert (np.diff(dist, axis=1) >= -1e-5).all()


@needs_faiss
def test_approximate_incremental_add_and_large_k() -> None:
    data = _clustered(400)
    approx = nb.ApproximateNeighbors(data[:200], ef_search=4)
    approx.add(data[200:])
    got = approx.search(data[:5], 300)  # k far above ef_search
    assert got.shape == (5, 300)
    assert all(len(set(row)) == 300 for row in got)
    np.testing.assert_array_equal(got[:, 0], np.arange(5))  # each row's own vector first


@needs_faiss
def test_approximate_errors() -> None:
    with pytest.raises(ValueError, match=r"`ef_search` must be a positive int; got 0"):
        nb.ApproximateNeighbors(ef_search=0)
    approx = nb.ApproximateNeighbors(np.eye(3))
    with pytest.raises(ValueError, match=r"`k` must be in \[1, 3\]"):
        approx.search(np.eye(3), 4)
    with pytest.raises(ValueError, match=r"must have dim 3"):
        approx.add(np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"must be finite"):
        approx.add(np.full((1, 3), np.nan))


def test_approximate_without_faiss_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError(
            "ApproximateNeighbors needs faiss-cpu: pip install 'smoothie-router[ann]'"
        )

    monkeypatch.setattr(nb, "_import_faiss", missing)
    with pytest.raises(ImportError, match=r"smoothie-router\[ann\]"):
        nb.ApproximateNeighbors()


@needs_faiss
def test_auto_switches_at_threshold() -> None:
    data = _clustered(120)
    small = AutoNeighbors(data[:49], threshold=50)
    small.search(data[:2], 3)
    assert small.backend == "exact"
    small.add(data[49:])
    np.testing.assert_array_equal(small.search(data[:3], 1)[:, 0], np.arange(3))
    assert small.backend == "approximate"
    assert len(small) == 120
    small.add(data[:5])  # keeps adding to the HNSW index
    assert len(small) == 125


def test_auto_stays_exact_without_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nb, "ann_available", lambda: False)
    data = _clustered(100)
    index = AutoNeighbors(data, threshold=10)
    np.testing.assert_array_equal(index.search(data[:4], 5), _brute_force(data, data[:4], 5))
    assert index.backend == "exact"


def test_auto_threshold_validation() -> None:
    with pytest.raises(ValueError, match=r"`threshold` must be None or a positive int; got 0"):
        AutoNeighbors(threshold=0)
    assert AutoNeighbors().threshold == nb.AUTO_THRESHOLD


@needs_faiss
def test_smoothie_decisions_exact_vs_approximate() -> None:
    rng = np.random.default_rng(3)
    inputs = _clustered(2000, seed=3)
    quality = np.abs(inputs[:, :5]) + 0.1  # each candidate's error depends on the input
    outputs = rng.normal(size=(2000, 1, 16)) + rng.normal(size=(2000, 5, 16)) * quality[..., None]
    queries = _clustered(300, seed=4)
    exact = Smoothie(n_neighbors=20, neighbor_index=ExactNeighbors).fit(outputs, inputs)
    approx = Smoothie(n_neighbors=20, neighbor_index=nb.ApproximateNeighbors).fit(outputs, inputs)
    agree = np.mean(exact.predict(queries) == approx.predict(queries))
    assert agree >= 0.99


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_neighbours_do_not_depend_on_the_other_queries(dtype: type) -> None:
    # sparse sign vectors (as from a hashing embedder) give many exactly equal distances,
    # where the BLAS rounding of |x|^2 - 2 q.x depends on how many queries share a product
    rng = np.random.default_rng(5)
    data = rng.choice([-1.0, 0.0, 0.0, 1.0], size=(400, 64))
    data /= np.maximum(np.linalg.norm(data, axis=1, keepdims=True), 1e-12)
    index = ExactNeighbors(data, dtype=dtype)
    together = index.search(data, 9)
    alone = np.concatenate([index.search(data[i : i + 1], 9) for i in range(0, 400, 7)])
    np.testing.assert_array_equal(alone, together[::7])
    for size in (3, 50):
        start = int(rng.integers(0, 400 - size))
        np.testing.assert_array_equal(
            index.search(data[start : start + size], 9), together[start : start + size]
        )
    # equal distances (|x - q|^2 in the index's dtype) are ordered by row index
    x = data.astype(dtype)
    ties = 0
    for i, found in enumerate(together):
        dist = np.square(x[found] - x[i]).sum(axis=-1)
        assert (np.diff(dist) >= 0).all()
        same = np.flatnonzero(np.diff(dist) == 0)
        ties += same.size
        assert all(found[j] < found[j + 1] for j in same)
    assert ties > 0  # the data really has ties
