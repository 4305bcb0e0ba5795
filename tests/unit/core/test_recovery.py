"""Synthetic data drawn from the model: the true quality ranking is recovered as n grows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from smoothie_core import Smoothie


def draw(n: int, sigmas: np.ndarray, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, 1, d))
    return truth + rng.normal(size=(n, len(sigmas), d)) * sigmas[None, :, None]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_global_ranking_recovered_as_n_grows(seed: int) -> None:
    sigmas = np.array([0.5, 0.7, 0.9, 1.1, 1.3, 1.5])
    order = np.argsort(sigmas)  # best (smallest noise) first
    scores = {}
    for n in (2, 20, 2000):
        w = Smoothie().fit(draw(n, sigmas, d=8, seed=seed)).global_weights_
        scores[n] = spearmanr(-w, sigmas).statistic
    assert scores[2000] == pytest.approx(1.0)
    assert scores[2000] >= scores[2]
    w = Smoothie().fit(draw(2000, sigmas, d=8, seed=seed)).global_weights_
    assert list(np.argsort(-w)) == list(order)


def test_weights_approach_true_theta() -> None:
    sigmas = np.array([0.5, 1.0, 2.0])
    w = Smoothie().fit(draw(20000, sigmas, d=16, seed=3)).global_weights_
    theta = 1 / sigmas**2
    np.testing.assert_allclose(w, theta / theta.sum(), rtol=0.05)


def test_local_recovers_input_dependent_quality() -> None:
    # two topics: candidate 0 is best on topic A, candidate 2 on topic B
    rng = np.random.default_rng(4)
    n, d = 400, 16
    topic = rng.integers(0, 2, size=n)
    x = np.where(topic[:, None] == 0, -3.0, 3.0) + rng.normal(size=(n, 2))
    sig = np.where(topic[:, None] == 0, [0.3, 1.0, 1.5], [1.5, 1.0, 0.3])
    truth = rng.normal(size=(n, 1, d))
    lam = truth + rng.normal(size=(n, 3, d)) * sig[:, :, None]
    local = Smoothie(n_neighbors=40).fit(lam, x)
    picks = local.weights_.argmax(axis=1)
    assert (picks == np.where(topic == 0, 0, 2)).mean() > 0.95
    queries = np.array([[-3.0, -3.0], [3.0, 3.0]])
    assert local.predict(queries).tolist() == [0, 2]
    # Global cannot do this: one candidate for both topics
    assert len(set(Smoothie().fit(lam).weights_.argmax(axis=1))) == 1
