"""The all-pairs exact search behind Smoothie-Local's weights_ (float32 screening on half
of the distance matrix, exact decision of near-ties) against ExactNeighbors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from smoothie_core import Smoothie, _self_knn
from smoothie_core.neighbors import ExactNeighbors, exact_self_neighbors

#: tiny blocks, panels, samples and lists, so that small inputs go through every path
#: (many blocks, the diagonal, lists that overflow and are merged or grown)
STRESS = {"block": 16, "panel": 48, "sample": 8, "capacity": 8}


def reference_sets(x: np.ndarray, k: int, dtype: Any = np.float64) -> np.ndarray:
    return np.sort(ExactNeighbors(x, dtype=dtype).search(x, k), axis=1)


def all_pairs(x: np.ndarray, k: int, **params: Any) -> np.ndarray:
    return _self_knn.exact_self_neighbors(x, k, **params)


def check(x: np.ndarray, k: int, **params: Any) -> np.ndarray:
    got = all_pairs(x, k, **params)
    assert got.shape == (x.shape[0], k)
    np.testing.assert_array_equal(np.sort(got, axis=1), reference_sets(x, k, x.dtype))
    return got


def gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d))


@pytest.mark.parametrize("k", [1, 2, 5, 17])
@pytest.mark.parametrize("params", [{}, STRESS], ids=["default", "stress"])
def test_random_data(k: int, params: dict[str, int]) -> None:
    check(gaussian(300, 8), k, **params)


def test_high_dimensional_unit_vectors_like_embeddings() -> None:
    x = gaussian(600, 384, seed=1)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    check(x, 20, block=64, panel=256)


def test_sorted_clusters() -> None:
    # input sorted by topic: the first rows are all far from the later ones
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((6, 5)) * 20
    x = np.concatenate([c + rng.standard_normal((50, 5)) for c in centres])
    check(x, 10, **STRESS)


@pytest.mark.parametrize("k", [3, 7, 12])
def test_exact_duplicates_tie_by_row_index(k: int) -> None:
    # every point five times: ties at the k-th place are decided by the row index
    base = gaussian(40, 3, seed=3)
    x = np.repeat(base, 5, axis=0)[np.random.default_rng(4).permutation(200)]
    check(x, k, **STRESS)


def test_integer_lattice_has_many_equal_distances() -> None:
    g = np.arange(6.0)
    x = np.stack(np.meshgrid(g, g, g), axis=-1).reshape(-1, 3)
    check(x, 9, **STRESS)
    check(x, 9)


def test_all_rows_identical() -> None:
    x = np.ones((100, 4))
    got = check(x, 5, **STRESS)
    np.testing.assert_array_equal(got, np.tile(np.arange(5), (100, 1)))


def test_far_from_the_origin_and_mixed_scales() -> None:
    x = gaussian(250, 6, seed=5) * np.logspace(-3, 1, 6) + 1e4
    check(x, 6, **STRESS)


def test_float32_working_precision() -> None:
    x = gaussian(300, 16, seed=6).astype(np.float32)
    check(x, 8, **STRESS)


@pytest.mark.parametrize("n", [1, 2, 9])
def test_k_equal_to_n_and_tiny_inputs(n: int) -> None:
    check(gaussian(n, 3, seed=7), n, **STRESS)


def test_one_dimension() -> None:
    check(gaussian(200, 1, seed=8), 4, **STRESS)


def test_overflowing_lists_are_merged_and_grown(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"_merge": 0, "_grow": 0}
    for name in calls:
        original = getattr(_self_knn._CandidateLists, name)

        def spy(self: Any, *args: Any, _name: str = name, _orig: Any = original) -> Any:
            calls[_name] += 1
            return _orig(self, *args)

        monkeypatch.setattr(_self_knn._CandidateLists, name, spy)
    # 30 copies of each point: 30 exact ties at the 5th place, more than a list holds
    x = np.repeat(gaussian(10, 2, seed=9), 30, axis=0)
    check(x, 5, **STRESS)
    assert calls["_merge"] > 0 and calls["_grow"] > 0


def test_deterministic_and_nearest_first() -> None:
    x = gaussian(500, 10, seed=10)
    a = all_pairs(x, 7, **STRESS)
    np.testing.assert_array_equal(a, all_pairs(x, 7, **STRESS))
    d = ((x[a] - x[:, None, :]) ** 2).sum(-1)
    assert (np.diff(d, axis=1) >= -1e-9).all()  # nearest first (up to float32 rounding)
    np.testing.assert_array_equal(a[:, 0], np.arange(500))  # each row is its own nearest


@settings(max_examples=60, deadline=None)
@given(
    x=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 60), st.integers(1, 4)),
        elements=st.integers(-3, 3).map(float),  # small integers: ties everywhere
    ),
    k_frac=st.floats(0, 1),
)
def test_property_same_sets_as_exact_neighbors(x: np.ndarray, k_frac: float) -> None:
    k = 1 + int(k_frac * (x.shape[0] - 1))
    check(x, k, **STRESS)


def test_public_function_small_inputs_match_exact_neighbors_exactly() -> None:
    x = gaussian(200, 5, seed=11)
    np.testing.assert_array_equal(exact_self_neighbors(x, 6), ExactNeighbors(x).search(x, 6))


def test_public_function_large_inputs_use_the_all_pairs_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used: list[int] = []
    original = _self_knn.exact_self_neighbors

    def spy(x: np.ndarray, k: int, **kwargs: Any) -> np.ndarray:
        used.append(k)
        return original(x, k, **kwargs)

    monkeypatch.setattr(_self_knn, "exact_self_neighbors", spy)
    x = gaussian(_self_knn.MIN_ROWS, 4, seed=12)
    got = exact_self_neighbors(x, 3)
    assert used == [3]
    np.testing.assert_array_equal(np.sort(got, axis=1), reference_sets(x, 3))


@pytest.mark.parametrize(
    ("vectors", "k", "message"),
    [
        (np.zeros(5), 1, r"shape \(n, dim\) with dim >= 1; got shape \(5,\)"),
        (np.zeros((5, 0)), 1, r"shape \(n, dim\) with dim >= 1; got shape \(5, 0\)"),
        (np.zeros((5, 2)), 0, r"`k` must be an int in \[1, 5\] \(the number of rows\); got 0"),
        (np.zeros((5, 2)), 6, r"got 6"),
        (np.zeros((5, 2)), 2.0, r"got 2.0"),
        (np.array([[0.0, np.nan]]), 1, "must be finite; got NaN or inf"),
    ],
)
def test_public_function_errors(vectors: np.ndarray, k: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exact_self_neighbors(vectors, k)


def test_smoothie_local_weights_agree_with_the_query_by_query_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_self_knn, "MIN_ROWS", 1)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((400, 6))
    lam = x[:, None, :] + rng.standard_normal((400, 4, 6)) * np.array([0.3, 0.6, 1.0, 1.5])[:, None]
    fast = Smoothie(n_neighbors=9).fit(lam, x).weights_
    slow = Smoothie(n_neighbors=9, neighbor_index=ExactNeighbors).fit(lam, x).weights_
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_float32_rows_with_float64_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_self_knn, "MIN_ROWS", 1)
    x = np.round(gaussian(300, 6, seed=14), 1).astype(np.float32)  # ties
    got = exact_self_neighbors(x, 9)  # dtype=float64: rows kept as float32, exact in float64
    np.testing.assert_array_equal(np.sort(got, axis=1), reference_sets(x, 9, np.float64))


@pytest.mark.parametrize("k", [0, 6])
def test_internal_search_checks_k(k: int) -> None:
    with pytest.raises(
        ValueError, match=rf"`k` must be in \[1, 5\] \(the number of rows\); got {k}"
    ):
        _self_knn.exact_self_neighbors(gaussian(5, 2), k)
