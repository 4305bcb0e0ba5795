"""Every error message of the estimator, pinned."""

from __future__ import annotations

import numpy as np
import pytest

from smoothie_core import Smoothie

rng = np.random.default_rng(0)
LAM = rng.normal(size=(10, 4, 5))
X = rng.normal(size=(10, 3))


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (
            lambda: Smoothie().fit(LAM[:, :2]),
            ValueError,
            r"at least 3 candidates .* got n_candidates=2",
        ),
        (
            lambda: Smoothie().fit(LAM[0]),
            ValueError,
            r"shape \(n_samples, n_candidates, dim\); got shape \(4, 5\)\. Stack",
        ),
        (lambda: Smoothie().fit(LAM[None]), ValueError, r"got shape \(1, 10, 4, 5\)"),
        (lambda: Smoothie().fit(LAM[:0]), ValueError, r"at least one sample"),
        (
            lambda: Smoothie().fit(np.where(np.arange(5) == 2, np.nan, LAM)),
            ValueError,
            r"must be finite; got 40 NaN/inf value\(s\), the first at index \(0, 0, 2\)",
        ),
        (lambda: Smoothie().fit(np.full((2, 3, 2), np.inf)), ValueError, r"must be finite"),
        (
            lambda: Smoothie().fit(np.arange(18.0).reshape(2, 3, 3) * 1e160),
            ValueError,
            r"too large: their squared distances overflow float64",
        ),
        (lambda: Smoothie().fit("abc"), TypeError, r"must be an array of numbers; got str"),
        (
            lambda: Smoothie().fit(np.array([["a"] * 3] * 2)),
            TypeError,
            r"array of real numbers; got dtype <U1",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM),
            ValueError,
            r"Smoothie-Local \(n_neighbors=3\) needs `input_embeddings`.*got None",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X[:9]),
            ValueError,
            r"expected 10 rows to match output_embeddings, got 9",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X[:, 0]),
            ValueError,
            r"shape \(n_samples, dim_in\); got shape \(10,\)",
        ),
        (
            lambda: Smoothie(n_neighbors=11).fit(LAM, X),
            ValueError,
            r"`n_neighbors`=11 is larger than the number of samples n_samples=10",
        ),
        (
            lambda: Smoothie(n_neighbors=0).fit(LAM, X),
            ValueError,
            r"positive int \(Smoothie-Local\); got 0",
        ),
        (lambda: Smoothie(n_neighbors=2.5).fit(LAM, X), TypeError, r"got 2.5 of type float"),
        (lambda: Smoothie(n_neighbors=True).fit(LAM, X), TypeError, r"got True of type bool"),
        (
            lambda: Smoothie(max_samples=0).fit(LAM),
            ValueError,
            r"`max_samples` must be None or a positive int; got 0",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X).predict(X[:, :2]),
            ValueError,
            r"dim_in=3 like the input embeddings seen in fit; got shape \(2\d?, 2\)|dim_in=3 like the input embeddings seen in fit; got shape \(10, 2\)",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X).predict(X[0]),
            ValueError,
            r"Reshape a single embedding with x.reshape\(1, -1\)",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X).predict(X[:2], LAM[:3]),
            ValueError,
            r"must have shape \(2, 4, 5\) to match the queries",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X).partial_fit(LAM[:, :3], X),
            ValueError,
            r"shape \(n_samples, 4, 5\) like the fitted data; got \(10, 3, 5\)",
        ),
        (
            lambda: Smoothie(n_neighbors=3).fit(LAM, X).partial_fit(LAM),
            ValueError,
            r"partial_fit needs `input_embeddings` of shape \(10, 3\)",
        ),
        (
            lambda: Smoothie().fit(LAM).predict_weights(X, n_neighbors=2),
            ValueError,
            r"needs a state fitted with input_embeddings",
        ),
        (
            lambda: Smoothie().fit(LAM, candidate_names=["a", "b", "c"]),
            ValueError,
            r"one name per candidate: expected 4, got 3",
        ),
        (
            lambda: Smoothie().fit(LAM, candidate_names=["a", "b", "a", "c"]),
            ValueError,
            r"must be unique; got duplicates \['a'\]",
        ),
        (
            lambda: Smoothie().fit(LAM, candidate_names="abcd"),
            TypeError,
            r"sequence of str; got the str 'abcd'",
        ),
    ],
)
def test_error_messages(make, exc, match) -> None:
    with pytest.raises(exc, match=match):
        make()


# ------------------------------------------------ numerics (issue 15, item 6)
def test_extreme_scales_are_refused_with_a_clear_error() -> None:
    rng = np.random.default_rng(0)
    lam = rng.normal(size=(6, 3, 4))
    inputs = rng.normal(size=(6, 2))
    with pytest.raises(ValueError, match=r"underflow float64.*Normalise"):
        Smoothie().fit(lam * 1e-160)
    with pytest.raises(ValueError, match="underflow float64"):
        Smoothie().fit(lam * 1e-120)  # below: silently uniform weights before
    for scale in (1e200, 1e-200):
        with pytest.raises(ValueError, match="`input_embeddings` has entries of magnitude"):
            Smoothie(2).fit(lam, inputs * scale)
    est = Smoothie(2).fit(lam, inputs)
    with pytest.raises(ValueError, match="`input_embeddings` has entries of magnitude"):
        est.predict(inputs * 1e200)
    # the accepted range still gives exactly the unscaled neighbours
    assert (Smoothie(2).fit(lam, inputs * 1e90).predict(inputs * 1e90) == est.predict(inputs)).all()


def test_zero_dim_inputs_and_timedelta_arrays_are_refused() -> None:
    lam = np.random.default_rng(1).normal(size=(4, 3, 2))
    with pytest.raises(ValueError, match="dim_in >= 1"):
        Smoothie(2).fit(lam, np.zeros((4, 0)))
    with pytest.raises(TypeError, match="array of real numbers; got dtype timedelta64"):
        Smoothie().fit(lam.astype("timedelta64[s]"))
    with pytest.raises(TypeError, match="array of real numbers"):
        Smoothie(2).fit(lam, np.zeros((4, 2)).astype("timedelta64[s]"))


def test_weights_are_never_nan_near_the_accepted_limits() -> None:
    lam = np.random.default_rng(2).normal(size=(5, 3, 4))
    for scale in (1e-99, 1e99):
        w = Smoothie(1).fit(lam * scale, np.eye(5)).weights_
        assert np.isfinite(w).all() and np.allclose(w.sum(axis=1), 1.0)
        np.testing.assert_allclose(w, Smoothie(1).fit(lam, np.eye(5)).weights_, rtol=1e-9)
