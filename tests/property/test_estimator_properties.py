"""What the math guarantees, stated as hypothesis properties."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import special_ortho_group

from smoothie_core import Smoothie
from smoothie_core.triplet import sample_deltas, weights_from_deltas


@st.composite
def problems(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int | None]:
    n = draw(st.integers(3, 25))
    m = draw(st.integers(3, 7))
    d = draw(st.integers(2, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lam = rng.normal(size=(n, m, d)) * rng.uniform(0.1, 3.0, size=(1, m, 1))
    x = rng.normal(size=(n, 3))
    k = draw(st.one_of(st.none(), st.integers(1, n)))
    return lam, x, k


def fit(lam: np.ndarray, x: np.ndarray, k: int | None) -> Smoothie:
    return Smoothie(n_neighbors=k).fit(lam, x)


@settings(max_examples=60, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_candidates_permutes_weights(problem, rnd) -> None:
    lam, x, k = problem
    perm = list(range(lam.shape[1]))
    rnd.shuffle(perm)
    a = fit(lam, x, k).weights_
    b = fit(lam[:, perm], x, k).weights_
    np.testing.assert_allclose(b, a[:, perm], rtol=1e-7, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_shared_rotation_and_translation_leave_weights_unchanged(problem, seed) -> None:
    lam, x, k = problem
    rng = np.random.default_rng(seed)
    d = lam.shape[2]
    rot = special_ortho_group.rvs(d, random_state=rng) if d > 1 else np.eye(1)
    shift = rng.normal(size=(lam.shape[0], 1, d)) * 5  # may differ per sample: shared by candidates
    moved = lam @ rot.T + shift
    np.testing.assert_allclose(
        fit(moved, x, k).weights_, fit(lam, x, k).weights_, rtol=1e-6, atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(problems())
def test_weights_are_a_distribution(problem) -> None:
    lam, x, k = problem
    sm = fit(lam, x, k)
    for w in (sm.weights_, sm.global_weights_[None], sm.predict_weights(x[:2])):
        assert np.isfinite(w).all()
        assert (w >= 0).all()
        np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_argmax_of_weights_is_argmin_of_delta(problem) -> None:
    lam, _, _ = problem
    deltas = sample_deltas(lam)
    w = weights_from_deltas(deltas)
    assert (w.argmax(axis=1) == deltas.argmin(axis=1)).all()


@settings(max_examples=40, deadline=None)
@given(problems(), st.floats(0.01, 100.0))
def test_scaling_all_embeddings_leaves_weights_unchanged(problem, c) -> None:
    lam, x, k = problem
    np.testing.assert_allclose(
        fit(lam * c, x, k).weights_, fit(lam, x, k).weights_, rtol=1e-6, atol=1e-9
    )
