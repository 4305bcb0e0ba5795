"""The Smoothie estimator as pure functions (arrays in, arrays out).

The paper's estimator (Guha et al., NeurIPS 2024) is linear in the squared pairwise
distances between candidate outputs, so it collapses to one ``m``-vector per sample,
``delta_s`` (the estimated squared distance of each candidate's output from the latent
true output, up to the factor ``d`` that cancels in the normalised weights)::

    mu_s[i]    = lam[s, i] - mean_j lam[s, j]                (centre the m outputs)
    delta_s[i] = (m (m - 1) |mu_s[i]|^2 - sum_j |mu_s[j]|^2) / ((m - 1)(m - 2))

which equals the paper's ``mean over pairs {j, k} not containing i of
1/2 (P_ij + P_ik - P_jk)``. Smoothie-Global averages ``delta_s`` over all samples,
Smoothie-Local over the ``k`` nearest inputs; the weights are ``theta = d / (2 delta)``
normalised, i.e. ``(1 / delta) / sum(1 / delta)``.

Numerics the paper's reference code does not handle (see :func:`weights_from_deltas`):
non-positive estimates, identical outputs and ties are handled without NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smoothie_core._parallel import for_row_blocks
from smoothie_core._validation import check_finite, check_output_embeddings, check_scale

__all__ = [
    "sample_deltas",
    "neighbor_mean",
    "weights_from_deltas",
    "select_best",
    "FLOOR_RTOL",
]

#: A ``delta`` at or below ``FLOOR_RTOL * mean(delta)`` counts as non-positive (see
#: :func:`weights_from_deltas`).
FLOOR_RTOL = 1e-9

#: Rows whose mean ``delta`` is below this take the log-space path of
#: :func:`weights_from_deltas` (``1 / delta`` could overflow there).
_MIN_FAST_SCALE = float(np.finfo(np.float64).tiny) * 1e20

#: Outputs whose spread is below this (relative to their squared norms) count as identical.
_IDENTICAL_RTOL = 1e-24

#: Per-sample statistics below this suggest squared distances that underflowed.
_UNDERFLOW = 1e-200

#: Inputs up to this size are assumed to sit in the CPU cache (see _sample_deltas_into).
_CACHE_RESIDENT_BYTES = 8 << 20

#: Samples processed per chunk are chosen so a chunk holds about this many floats
#: (1 MiB of float64: the chunk stays in cache across the passes over it, which made
#: ``sample_deltas`` 2-3x faster than 32 MiB chunks in ``benchmarks/bench_estimator.py``).
_CHUNK_FLOATS = 1 << 18


def sample_deltas(output_embeddings: ArrayLike) -> NDArray[np.float64]:
    """Per-sample triplet estimates ``delta_s`` of every candidate's error.

    Parameters
    ----------
    output_embeddings : array of shape (n_samples, n_candidates, dim)
        Embedding of candidate ``i``'s output on sample ``s`` at ``[s, i]``.

    Returns
    -------
    deltas : ndarray of shape (n_samples, n_candidates), float64
        Smaller is better. Rows where all outputs are identical are exactly zero.

    Notes
    -----
    O(n * m * d) time, computed in chunks so the extra memory is bounded (float32
    input is not copied to float64 as a whole).

    Examples
    --------
    >>> import numpy as np
    >>> lam = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]]])
    >>> sample_deltas(lam).round(3)  # candidate 0 sits between the others
    array([[0., 1., 9.]])
    """
    lam = check_output_embeddings(output_embeddings, finite=False)
    with np.errstate(over="ignore", invalid="ignore"):
        deltas = _sample_deltas(lam)
    if not np.isfinite(deltas).all():  # NaN/inf in, or overflow: one pass less when clean
        check_finite(lam, "output_embeddings")
        raise ValueError(
            "`output_embeddings` are too large: their squared distances overflow float64; "
            "normalise the embeddings (e.g. to unit length) first."
        )
    if deltas.size:
        top = np.abs(deltas).max(axis=1)
        if (top < _UNDERFLOW).any():  # tiny or zero rows: underflow, or identical outputs
            check_scale(lam, "output_embeddings")  # one extra pass, only in this case
    return deltas


def _sample_deltas(lam: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
    """:func:`sample_deltas` on already validated ``(n, m, d)`` embeddings.

    Large inputs are split into row blocks computed by a few threads (numpy releases
    the GIL in these passes); every sample's result is the same either way.
    """
    n, m, _ = lam.shape
    out = np.empty((n, m), dtype=np.float64)

    def work(start: int, stop: int) -> None:
        # errstate is per thread (a context variable): set it where the work runs
        with np.errstate(over="ignore", invalid="ignore"):
            _sample_deltas_into(lam[start:stop], out[start:stop])

    for_row_blocks(work, n, lam.size)
    return out


def _sample_deltas_into(lam: NDArray[np.floating[Any]], out: NDArray[np.float64]) -> None:
    """Write the per-sample statistics of ``lam`` (``(n, m, d)``) into ``out`` (``(n, m)``).

    Two layouts of the same arithmetic (bitwise-equal results): inputs that fit in the
    CPU cache are copied candidate-major, ``(m, c, d)``, so the mean and the centring
    run on contiguous ``(c, d)`` slabs (about 15% faster); larger inputs are streamed
    sample-major, ``(c, m, d)``, which reads memory in order (about 20% faster there).
    """
    n, m, d = lam.shape
    step = max(1, _CHUNK_FLOATS // (m * d))
    candidate_major = lam.nbytes <= _CACHE_RESIDENT_BYTES
    shape = (m, min(step, n), d) if candidate_major else (min(step, n), m, d)
    buf = np.empty(shape, dtype=np.float64)  # reused: no allocation per chunk
    mean_buf = np.empty((min(step, n), d), dtype=np.float64)
    for start in range(0, n, step):
        src = lam[start : start + step]
        c = src.shape[0]
        mean = mean_buf[:c]
        if candidate_major:
            mu = buf[:, :c]
            mu[...] = src.transpose(1, 0, 2)  # float64 copy, centred in place
            np.add(mu[0], mu[1], out=mean)
            for j in range(2, m):
                np.add(mean, mu[j], out=mean)
            mean *= 1.0 / m
            np.subtract(mu, mean, out=mu)
            sq = np.einsum("mcd,mcd->cm", mu, mu)
        else:
            mu = buf[:c]
            mu[...] = src  # float64 copy, centred in place
            np.sum(mu, axis=1, out=mean)
            mean *= 1.0 / m
            np.subtract(mu, mean[:, None, :], out=mu)
            sq = np.einsum("cmd,cmd->cm", mu, mu)
        total = sq.sum(axis=1, keepdims=True)
        delta = (m * (m - 1) * sq - total) / ((m - 1) * (m - 2))
        # sum_i |lam_i|^2 = sum_i |mu_i|^2 + m |mean|^2 (saves a pass over the chunk)
        norms = total[:, 0] + m * np.einsum("cd,cd->c", mean, mean)
        identical = (total[:, 0] <= _IDENTICAL_RTOL * np.maximum(norms, np.finfo(float).tiny)) & (
            np.isfinite(total[:, 0])  # overflow is not "identical": the caller reports it
        )
        delta[identical] = 0.0
        out[start : start + step] = delta


def neighbor_mean(deltas: ArrayLike, neighbors: ArrayLike) -> NDArray[np.float64]:
    """Average ``deltas`` over each query's neighbours (Smoothie-Local, uniform kernel).

    Parameters
    ----------
    deltas : array of shape (n_samples, n_candidates)
    neighbors : int array of shape (n_queries, k)
        Row ``q`` lists the sample indices whose statistics are averaged for query ``q``.

    Returns
    -------
    ndarray of shape (n_queries, n_candidates)

    Examples
    --------
    >>> import numpy as np
    >>> neighbor_mean(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]), np.array([[0, 1], [1, 1]]))
    array([[2., 2., 2.],
           [3., 2., 1.]])
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    idx = np.asarray(neighbors, dtype=np.intp)
    if idx.ndim != 2:
        raise ValueError(f"`neighbors` must have shape (n_queries, k); got shape {idx.shape}.")
    if idx.shape[1] == 1:
        return deltas[idx[:, 0]].copy()
    out = np.empty((idx.shape[0], deltas.shape[1]), dtype=np.float64)
    step = max(1, _CHUNK_FLOATS // (idx.shape[1] * deltas.shape[1]))
    for start in range(0, idx.shape[0], step):
        out[start : start + step] = deltas[idx[start : start + step]].mean(axis=1)
    return out


def weights_from_deltas(deltas: ArrayLike) -> NDArray[np.float64]:
    """Normalised quality weights ``theta / sum(theta)`` with ``theta = d / (2 delta)``.

    Rows are independent. Where every ``delta`` of a row is positive, the weights are
    exactly the paper's normalised ``theta`` (``d`` cancels). Otherwise:

    * **Non-positive estimates** (noise, near-duplicate outputs, tiny samples): a
      ``delta`` at or below ``floor = FLOOR_RTOL * mean(delta)`` is replaced by
      ``floor * exp((delta - floor) / mean(delta))`` before inverting. This is positive
      and strictly increasing in ``delta``, so the weights rank candidates exactly as
      ``delta`` does (smaller ``delta`` = larger weight) and never overflow: weights
      are computed in log space.
    * **No information** (all outputs identical, every ``delta`` zero): uniform
      weights; :func:`select_best` then picks the lowest index.

    Weights are therefore always finite, non-negative and sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> weights_from_deltas(np.array([1.0, 2.0, 4.0])).round(4)
    array([0.5714, 0.2857, 0.1429])
    >>> weights_from_deltas(np.zeros(3)).round(4)
    array([0.3333, 0.3333, 0.3333])
    """
    delta = np.asarray(deltas, dtype=np.float64)
    if delta.ndim == 0 or delta.shape[-1] == 0:
        raise ValueError(f"`deltas` must have shape (..., n_candidates); got shape {delta.shape}.")
    scale = np.maximum(delta.mean(axis=-1, keepdims=True), 0.0)
    floor = FLOOR_RTOL * scale
    if delta.ndim == 2 and delta.size:
        # fast path for the usual case, rows whose estimates are all positive: the
        # paper's normalised 1 / delta, computed directly (no log / exp)
        # (scale bounded away from 0 so that 1 / delta cannot overflow)
        positive = (delta > floor).all(axis=-1) & (scale[:, 0] > _MIN_FAST_SCALE)
        if positive.all():
            return _normalised_inverse(delta)
        w = np.empty_like(delta)
        w[positive] = _normalised_inverse(delta[positive])
        rest = ~positive
        w[rest] = _weights_log_space(delta[rest], scale[rest])
        return w
    return _weights_log_space(delta, scale)


def _normalised_inverse(delta: NDArray[np.float64]) -> NDArray[np.float64]:
    inv = np.reciprocal(delta)
    inv /= inv.sum(axis=-1, keepdims=True)
    return inv


def _weights_log_space(
    delta: NDArray[np.float64], scale: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Weights with the order-preserving floor, in log space (see :func:`weights_from_deltas`)."""
    informative = scale > 0
    safe_scale = np.where(informative, scale, 1.0)
    floor = FLOOR_RTOL * safe_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c = np.where(
            delta > floor,
            np.log(np.maximum(delta, floor)),
            np.log(floor) + (delta - floor) / safe_scale,
        )
    logits = np.where(informative, -log_c, 0.0)
    logits = logits - logits.max(axis=-1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=-1, keepdims=True)
    return w


def select_best(weights: ArrayLike) -> NDArray[np.intp]:
    """Index of the best candidate per row: argmax of the weights, ties to the lowest index.

    Examples
    --------
    >>> import numpy as np
    >>> select_best(np.array([[0.2, 0.4, 0.4], [1 / 3, 1 / 3, 1 / 3]]))
    array([1, 0])
    """
    w: NDArray[Any] = np.asarray(weights)
    return np.argmax(w, axis=-1).astype(np.intp)  # numpy's argmax returns the first maximum
