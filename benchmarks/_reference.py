"""Smoothie the way the authors' public code computes it: the baseline of ``bench_estimator.py``.

Written after the structure of the reference implementation published with the paper
(Guha et al., NeurIPS 2024; HazyResearch/smoothie, ``src/model.py`` and ``src/run_smoothie.py``),
not copied from it:

* a ``Smoothie``-like class with ``fit(lambda_arr)`` that, for every candidate ``i``, loops
  in Python over the unordered pairs ``{j, k}`` of the other candidates and calls a
  ``triplet`` function, which computes the three mean squared distances
  ``mean_s ||lam_i - lam_j||^2`` etc. over the samples it is given (numpy over samples,
  Python over candidates, so O(|N| m^3 d) per fit); then ``theta = d / (2 * diff)``,
  normalised (no handling of non-positive estimates);
* Smoothie-Global = one fit on all samples;
* Smoothie-Local (test-time selection) = scikit-learn ``NearestNeighbors`` on the input
  embeddings, then one fresh fit per sample on the outputs of its ``k`` nearest inputs
  (a per-sample refit). For ``k = 1`` the sample's own outputs are used.

It is deliberately as slow as the original; it exists to be timed against
``smoothie_core.Smoothie`` and to check that both select the same candidates. The lead's
tests may import it (it only needs numpy, and scikit-learn for ``k > 1``).

One difference from the authors' script, in the reference's favour: their script runs the
``NearestNeighbors`` search even for ``k = 1`` (and then ignores it); here ``k = 1`` skips it,
so the ``k = 1`` speed-ups measured against this baseline are conservative.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ReferenceSmoothie",
    "triplet",
    "reference_global_weights",
    "fit_reference_neighbors",
    "reference_local_weights",
]


def triplet(i_arr: NDArray[Any], j_arr: NDArray[Any], k_arr: NDArray[Any]) -> float:
    """``1/2 (D_ij + D_ik - D_jk)`` with ``D_ab`` the mean squared distance over samples.

    Each argument has shape ``(n_samples, dim)`` (one candidate's outputs).
    """
    d_ij = (np.linalg.norm(i_arr - j_arr, axis=1, ord=2) ** 2).mean()
    d_ik = (np.linalg.norm(i_arr - k_arr, axis=1, ord=2) ** 2).mean()
    d_jk = (np.linalg.norm(j_arr - k_arr, axis=1, ord=2) ** 2).mean()
    return float(0.5 * (d_ij + d_ik - d_jk))


class ReferenceSmoothie:
    """The triplet estimator with the reference code's loops.

    Parameters
    ----------
    n_voters : int
        Number of candidates ``m``.
    dim : int
        Output embedding dimension ``d``.

    Examples
    --------
    >>> import numpy as np
    >>> lam = np.array([[[0.0, 0.0], [2.0, 0.0], [1.0, 3.0]]])
    >>> ref = ReferenceSmoothie(n_voters=3, dim=2)
    >>> ref.fit(lam)
    >>> ref.theta.round(4)  # delta = (2, 2, 8): theta proportional to 1 / delta
    array([0.4444, 0.4444, 0.1111])
    """

    def __init__(self, n_voters: int, dim: int) -> None:
        self.n_voters = n_voters
        self.dim = dim
        self.theta: NDArray[np.float64] = np.ones(n_voters)

    def fit(self, lambda_arr: NDArray[Any]) -> None:
        """Fit ``theta`` from ``lambda_arr`` of shape ``(n_samples, n_voters, dim)``."""
        _, n_voters, dim = lambda_arr.shape
        diff = np.zeros(n_voters)
        for i in range(n_voters):
            other = np.delete(np.arange(n_voters), i)
            rows, cols = np.triu_indices(len(other), k=1)
            pairs = np.vstack((other[rows], other[cols])).T
            estimates = [
                triplet(lambda_arr[:, i, :], lambda_arr[:, j, :], lambda_arr[:, k, :])
                for j, k in pairs
            ]
            diff[i] = np.mean(estimates)
        theta = dim / (2 * diff)
        self.theta = theta / theta.sum()

    def predict(self, lambda_arr: NDArray[Any]) -> NDArray[np.float64]:
        """Weighted mean of the candidates' embeddings ``(n_voters, dim) -> (dim,)``."""
        return np.asarray(lambda_arr.T.dot(self.theta) / self.theta.sum(), dtype=np.float64)


def reference_global_weights(outputs: NDArray[Any]) -> NDArray[np.float64]:
    """Smoothie-Global weights ``(m,)``: one reference fit on all samples."""
    _, m, d = outputs.shape
    model = ReferenceSmoothie(n_voters=m, dim=d)
    model.fit(outputs)
    return model.theta


def fit_reference_neighbors(inputs: NDArray[Any], k: int) -> Any:
    """scikit-learn ``NearestNeighbors(n_neighbors=k)`` fitted on the input embeddings."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k, algorithm="auto").fit(inputs)


def reference_local_weights(
    outputs: NDArray[Any],
    inputs: NDArray[Any] | None,
    k: int,
    queries: Sequence[int] | NDArray[np.integer[Any]] | None = None,
    *,
    neighbors: Any | None = None,
    timings: dict[str, float] | None = None,
) -> NDArray[np.float64]:
    """Test-time Smoothie-Local weights for the fitted samples ``queries`` (default: all).

    For each query sample: find its ``k`` nearest inputs (scikit-learn, the query itself
    included), fit a fresh :class:`ReferenceSmoothie` on their outputs, keep ``theta``.
    ``k = 1`` fits on the sample's own outputs without a search. ``neighbors`` is an
    already fitted ``NearestNeighbors`` (see :func:`fit_reference_neighbors`). If
    ``timings`` is given, the seconds spent in the search and in the refits are added to
    its ``"search"`` and ``"refit"`` entries.

    Returns
    -------
    ndarray of shape (len(queries), m)
    """
    n, m, d = outputs.shape
    rows = np.arange(n) if queries is None else np.asarray(queries, dtype=np.intp)
    t0 = time.perf_counter()
    if k == 1:
        neighbor_rows = rows[:, None]
    else:
        if neighbors is None:
            if inputs is None:
                raise ValueError("Smoothie-Local with k > 1 needs input embeddings.")
            neighbors = fit_reference_neighbors(inputs, k)
        if inputs is None:
            raise ValueError("Smoothie-Local with k > 1 needs input embeddings.")
        _, neighbor_rows = neighbors.kneighbors(inputs[rows])
    t1 = time.perf_counter()
    weights = []
    for idx in neighbor_rows:
        model = ReferenceSmoothie(n_voters=m, dim=d)
        model.fit(outputs[idx])
        weights.append(model.theta)
    if timings is not None:
        timings["search"] = timings.get("search", 0.0) + t1 - t0
        timings["refit"] = timings.get("refit", 0.0) + time.perf_counter() - t1
    return np.asarray(weights, dtype=np.float64).reshape(len(rows), m)
