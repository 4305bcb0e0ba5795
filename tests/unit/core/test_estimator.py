"""The Smoothie estimator against the paper's loop oracle, and its contract."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core import NotFittedError, Smoothie
from smoothie_core.triplet import sample_deltas, select_best, weights_from_deltas
from tests.support.oracle import (
    oracle_local_fitted,
    oracle_local_predict,
    oracle_theta,
    oracle_weights,
)


def positive_data(seed: int, n: int = 40, m: int = 5, d: int = 64, d_in: int = 4):
    """Outputs = truth + noise of distinct scales, so every triplet estimate is positive."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 1, d))
    scales = np.linspace(0.3, 1.5, m)[None, :, None]
    lam = truth + rng.normal(size=(n, m, d)) * scales
    x = rng.normal(size=(n, d_in))
    return lam, x


def assert_matches_where_positive(got: np.ndarray, expected: np.ndarray) -> None:
    """The contract: equal to the paper's normalised theta where all its estimates are positive."""
    ok = (expected > 0).all(axis=-1)
    assert ok.mean() > 0.5, "test data should make most estimates positive"
    np.testing.assert_allclose(got[ok], expected[ok], rtol=1e-9, atol=0)


def test_global_matches_oracle() -> None:
    lam, _ = positive_data(0)
    sm = Smoothie().fit(lam)
    np.testing.assert_allclose(sm.global_weights_, oracle_weights(lam), rtol=1e-9, atol=0)
    np.testing.assert_allclose(sm.weights_, np.tile(oracle_weights(lam), (len(lam), 1)), rtol=1e-9)


@pytest.mark.parametrize("m", [3, 4, 6])
def test_per_sample_delta_is_the_triplet_average(m: int) -> None:
    lam, _ = positive_data(1, n=5, m=m)
    for s in range(len(lam)):
        # the statistic itself matches the paper's delta = d / (2 theta), whatever its sign
        expected = lam.shape[2] / (2 * oracle_theta(lam[s : s + 1]))
        np.testing.assert_allclose(sample_deltas(lam[s : s + 1])[0], expected, rtol=1e-9)


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_local_fitted_matches_oracle(k: int) -> None:
    lam, x = positive_data(2)
    w = Smoothie(n_neighbors=k).fit(lam, x).weights_
    expected = oracle_local_fitted(lam, x, k)
    assert_matches_where_positive(w, expected)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("k", [2, 5, 17])
def test_local_predict_on_new_inputs_matches_oracle(k: int) -> None:
    lam, x = positive_data(3)
    q = np.random.default_rng(4).normal(size=(12, x.shape[1]))
    sm = Smoothie(n_neighbors=k).fit(lam, x)
    assert_matches_where_positive(sm.predict_weights(q), oracle_local_predict(lam, x, q, k))
    np.testing.assert_array_equal(sm.predict(q), sm.predict_weights(q).argmax(axis=1))


def test_predict_with_outputs_counts_the_query_as_its_own_neighbour() -> None:
    lam, x = positive_data(5, n=30)
    new_lam, new_x = positive_data(6, n=4)
    sm = Smoothie(n_neighbors=4).fit(lam, x)
    got = sm.predict_weights(new_x[:, : x.shape[1]], new_lam)
    for r in range(4):
        dist = ((x - new_x[r, : x.shape[1]]) ** 2).sum(1)
        nn = np.argsort(dist)[:3]
        stacked = np.concatenate([new_lam[r : r + 1], lam[nn]])
        assert_matches_where_positive(got[r : r + 1], oracle_weights(stacked)[None])


def test_global_predict_weights_tiles_global() -> None:
    lam, x = positive_data(7)
    sm = Smoothie().fit(lam, x)
    out = sm.predict_weights(x[:3])
    assert out.shape == (3, lam.shape[1])
    np.testing.assert_array_equal(out, np.tile(sm.global_weights_, (3, 1)))


def test_partial_fit_equals_fit_on_concatenation() -> None:
    lam, x = positive_data(8, n=60)
    a = Smoothie(n_neighbors=5).fit(lam[:20], x[:20]).partial_fit(lam[20:], x[20:])
    b = Smoothie(n_neighbors=5).fit(lam, x)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
    np.testing.assert_allclose(a.global_weights_, b.global_weights_, rtol=1e-12)
    np.testing.assert_allclose(a.predict_weights(x[:5]), b.predict_weights(x[:5]), rtol=1e-12)


def test_partial_fit_bounded_pool_keeps_the_newest() -> None:
    lam, x = positive_data(9, n=50)
    sm = Smoothie(n_neighbors=3, max_samples=20)
    for start in range(0, 50, 10):
        sm.partial_fit(lam[start : start + 10], x[start : start + 10])
    ref = Smoothie(n_neighbors=3).fit(lam[30:], x[30:])
    assert sm.n_samples_ == 20
    np.testing.assert_allclose(sm.sample_deltas_, ref.sample_deltas_)
    np.testing.assert_allclose(sm.predict_weights(x[:4]), ref.predict_weights(x[:4]))


def test_partial_fit_on_unfitted_starts_small_pool() -> None:
    lam, x = positive_data(10, n=2)
    sm = Smoothie(n_neighbors=5).partial_fit(lam, x)
    assert sm.n_samples_ == 2
    assert sm.predict_weights(x[:1], lam[:1], n_neighbors=3).shape == (1, lam.shape[1])


def test_identical_outputs_give_uniform_weights_and_first_index() -> None:
    lam = np.repeat(np.random.default_rng(0).normal(size=(6, 1, 5)), 4, axis=1)
    sm = Smoothie().fit(lam)
    np.testing.assert_allclose(sm.global_weights_, 0.25)
    np.testing.assert_allclose(Smoothie(n_neighbors=1).fit(lam, lam[:, 0]).weights_, 0.25)
    assert sm.predict(lam[:2, 0]).tolist() == [0, 0]
    assert np.all(sample_deltas(lam) == 0)


def test_non_positive_estimates_never_nan_and_keep_delta_order() -> None:
    # candidate 2 duplicates candidate 0, so single-sample estimates go non-positive
    rng = np.random.default_rng(1)
    base = rng.normal(size=(200, 3, 6))
    lam = np.concatenate([base, base[:, :1] + 1e-3 * rng.normal(size=(200, 1, 6))], axis=1)
    deltas = sample_deltas(lam)
    assert (deltas <= 0).any()
    w = weights_from_deltas(deltas)
    assert np.isfinite(w).all() and (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    # weights rank exactly as delta does (smaller delta = larger weight)
    np.testing.assert_array_equal(
        np.argsort(-w, axis=1, kind="stable"), np.argsort(deltas, axis=1, kind="stable")
    )
    assert (select_best(w) == deltas.argmin(axis=1)).all()


def test_extreme_negative_delta_does_not_overflow() -> None:
    w = weights_from_deltas(np.array([[-1e300, 1.0, 2.0], [1e-300, 1.0, 1.0]]))
    assert np.isfinite(w).all()
    assert w[0].argmax() == 0 and w[1].argmax() == 0


def test_ties_go_to_the_lowest_index() -> None:
    assert select_best(weights_from_deltas(np.array([2.0, 1.0, 1.0]))) == 1


def test_float32_and_int_inputs_are_accepted() -> None:
    lam, x = positive_data(11)
    a = Smoothie(n_neighbors=3).fit(lam.astype(np.float32), x.astype(np.float32))
    b = Smoothie(n_neighbors=3).fit(lam.astype(np.float32).astype(np.float64), x.astype(np.float32))
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
    Smoothie().fit(np.arange(2 * 3 * 2).reshape(2, 3, 2))


def test_fitted_sample_is_its_own_neighbour_even_with_duplicate_inputs() -> None:
    lam, x = positive_data(12, n=10)
    x[1] = x[0]  # exact duplicate inputs
    sm = Smoothie(n_neighbors=1).fit(lam, x)
    np.testing.assert_allclose(sm.weights_, weights_from_deltas(sample_deltas(lam)))
    k2 = Smoothie(n_neighbors=2).fit(lam, x).weights_
    np.testing.assert_allclose(k2[0], k2[1])  # both average samples 0 and 1


def test_predict_does_not_mutate_state() -> None:
    lam, x = positive_data(13)
    sm = Smoothie(n_neighbors=4).fit(lam, x)
    before = sm.sample_deltas_.copy(), sm.weights_.copy()
    sm.predict(x[:5])
    sm.predict_weights(x[:5], lam[:5])
    np.testing.assert_array_equal(sm.sample_deltas_, before[0])
    np.testing.assert_array_equal(sm.weights_, before[1])
    with pytest.raises(ValueError, match="read-only"):
        sm.sample_deltas_[0, 0] = 1.0


def test_not_fitted_error() -> None:
    sm = Smoothie()
    for attr in ("weights_", "global_weights_", "sample_deltas_", "n_samples_"):
        with pytest.raises(NotFittedError, match="call fit first"):
            getattr(sm, attr)
        assert not hasattr(sm, attr)
    with pytest.raises(NotFittedError, match="call fit first"):
        sm.predict(np.zeros((1, 3)))
    with pytest.raises(NotFittedError):
        sm.save("/tmp/never.npz")
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)


def test_repr_and_params() -> None:
    assert repr(Smoothie(n_neighbors=3, max_samples=9)) == "Smoothie(n_neighbors=3, max_samples=9)"
    assert Smoothie().n_neighbors is None


@pytest.mark.parametrize("all_pairs_from", [None, 1])
def test_fitted_weights_use_the_exact_all_pairs_search(monkeypatch, all_pairs_from) -> None:
    """weights_ never goes through the route-mode index (approximate above
    AUTO_THRESHOLD); with the float32-screened all-pairs search forced on (MIN_ROWS=1)
    it still matches the paper's loops to 1e-9."""
    from smoothie_core import _self_knn

    if all_pairs_from is not None:
        monkeypatch.setattr(_self_knn, "MIN_ROWS", all_pairs_from)
    lam, x = positive_data(14, n=30)

    class Refuse:
        def add(self, vectors):
            pass

        def search(self, queries, k):
            raise AssertionError("the route-mode index must not serve weights_")

    sm = Smoothie(n_neighbors=4).fit(lam, x)
    sm._index = Refuse()  # what AutoNeighbors would have become above the threshold
    np.testing.assert_allclose(sm.weights_, oracle_local_fitted(lam, x, 4), rtol=1e-9)


def test_kneighbors_is_the_route_mode_search() -> None:
    lam, x = positive_data(15, n=25)
    sm = Smoothie(n_neighbors=3).fit(lam, x)
    q = np.random.default_rng(16).normal(size=(4, x.shape[1]))
    idx = sm.kneighbors(q, 3)
    expected = np.argsort(((q[:, None, :] - x[None]) ** 2).sum(-1), axis=1)[:, :3]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(
        weights_from_deltas(sm.sample_deltas_[idx].mean(axis=1)), sm.predict_weights(q), rtol=1e-12
    )
    with pytest.raises(ValueError, match="larger than the number of fitted samples 25"):
        sm.kneighbors(q, 26)
    with pytest.raises(ValueError, match="needs a state fitted with input_embeddings"):
        Smoothie().fit(lam).kneighbors(q, 2)
