"""The test oracle: Smoothie written straight from the paper's loop formulation.

For a sample set N: D[i, j] = mean_{s in N} ||lam[s,i] - lam[s,j]||^2; delta[i] = mean
over unordered pairs {j, k} not containing i of 1/2 (D[i,j] + D[i,k] - D[j,k]);
theta = d / (2 delta), normalised. Smoothie-Local refits on the k nearest inputs of
each query (brute force, scikit-learn style). Deliberately slow and obvious.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np


def oracle_theta(lam: np.ndarray) -> np.ndarray:
    """theta over all samples of ``lam`` (n, m, d), by loops."""
    n, m, d = lam.shape
    D = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            D[i, j] = np.mean([np.sum((lam[s, i] - lam[s, j]) ** 2) for s in range(n)])
    theta = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        terms = [0.5 * (D[i, j] + D[i, k] - D[j, k]) for j, k in combinations(others, 2)]
        delta = np.mean(terms)
        theta[i] = d / (2 * delta)
    return theta


def oracle_weights(lam: np.ndarray) -> np.ndarray:
    theta = oracle_theta(lam)
    return theta / theta.sum()


def oracle_neighbors(train_x: np.ndarray, query_x: np.ndarray, k: int) -> np.ndarray:
    """k nearest rows of ``train_x`` for each query (Euclidean, brute force)."""
    dist = ((query_x[:, None, :] - train_x[None, :, :]) ** 2).sum(-1)
    return np.argsort(dist, axis=1, kind="stable")[:, :k]


def oracle_local_fitted(lam: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """Test-time Smoothie-Local weights for every sample (refit on its k nearest inputs)."""
    idx = oracle_neighbors(x, x, k)
    return np.stack([oracle_weights(lam[row]) for row in idx])


def oracle_local_predict(lam: np.ndarray, x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    idx = oracle_neighbors(x, q, k)
    return np.stack([oracle_weights(lam[row]) for row in idx])
