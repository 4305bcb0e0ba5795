"""Nearest-neighbour search behind a small interface.

Smoothie-Local needs, for each query input, the ``k`` nearest fitted inputs
(Euclidean). Three indexes implement :class:`NeighborIndex`:

* :class:`ExactNeighbors` (numpy, chunked, ``argpartition``): exact, no extra
  dependency, O(n d) per query.
* :class:`ApproximateNeighbors`: an HNSW graph from ``faiss-cpu`` (the optional
  ``ann`` extra, ``pip install smoothie-router[ann]``), well under a millisecond per
  query at 200,000 rows.
* :class:`AutoNeighbors`: exact below :data:`AUTO_THRESHOLD` rows (or when faiss is not
  installed), approximate above. This is what :class:`~smoothie_core.Smoothie` uses by
  default, so small pools are always searched exactly.

For n queries against the same n rows (test-time Smoothie-Local, ``Smoothie.weights_``)
:func:`exact_self_neighbors` is the exact all-pairs search: float32 screening on half of
the symmetric distance matrix with a rigorous error bound, near-ties decided exactly.

``AUTO_THRESHOLD`` was measured with ``benchmarks/bench_scale.py`` (see ``docs/scale.md``,
"Scale"): from 10,000 samples (d = 384) exact float64 search of one query takes
more than a millisecond on a busy 2-core machine (1.5 ms; 6 ms at 20,000, 26 ms at
100,000) while HNSW stays at 0.2-0.3 ms and agrees with exact search on >= 99% of
decisions; below it the HNSW build (seconds) is not worth it.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "AUTO_THRESHOLD",
    "ApproximateNeighbors",
    "AutoNeighbors",
    "ExactNeighbors",
    "NeighborIndex",
    "ann_available",
    "exact_self_neighbors",
]

#: Distance-matrix entries computed per chunk (bounds the extra memory to ~64 MB).
_CHUNK_ENTRIES = 1 << 23


@runtime_checkable
class NeighborIndex(Protocol):
    """What Smoothie needs from a neighbour index.

    Rows are identified by their insertion position ``0 .. len(index) - 1``.
    """

    def add(self, vectors: NDArray[np.floating[Any]]) -> None:
        """Append rows to the index."""
        ...

    def search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        """Return the ``(n_queries, k)`` row indices of the k nearest rows, nearest first."""
        ...

    def __len__(self) -> int: ...


class ExactNeighbors:
    """Exact Euclidean k-nearest-neighbour search in numpy.

    Distances are computed in chunks of queries (``|x|^2 - 2 q.x``, a BLAS matrix
    product), the ``k`` smallest are found with ``argpartition``, then re-ranked on
    ``|x - q|^2`` computed row by row (with every row within rounding error of the
    k-th distance), so a query's neighbours are the same whether it is searched alone
    or with others. Equal distances are ordered by row index.

    Parameters
    ----------
    vectors : array of shape (n, dim), optional
        Initial rows.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the stored rows and of the distance computation. ``float32``
        halves the memory and roughly doubles the speed; neighbours can differ from
        ``float64`` only where two distances agree to about 1e-7 relative.

    Examples
    --------
    >>> import numpy as np
    >>> index = ExactNeighbors(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]))
    >>> index.search(np.array([[0.9, 0.1]]), k=2)
    array([[1, 0]])
    """

    def __init__(self, vectors: ArrayLike | None = None, *, dtype: Any = np.float64) -> None:
        self.dtype = _check_dtype(dtype)
        # rows augmented with their squared norm, [x, |x|^2]: one matrix product with
        # [-2 q, 1] gives |x|^2 - 2 q.x with no extra pass over the distance block
        self._aug: NDArray[np.floating[Any]] = np.empty((0, 1), dtype=self.dtype)
        if vectors is not None:
            self.add(np.asarray(vectors))

    @property
    def _data(self) -> NDArray[np.floating[Any]]:
        return self._aug[:, :-1]

    @property
    def _sq_norms(self) -> NDArray[np.floating[Any]]:
        return self._aug[:, -1]

    def __len__(self) -> int:
        return int(self._data.shape[0])

    @property
    def vectors(self) -> NDArray[np.floating[Any]]:
        """The indexed rows (read-only view)."""
        view = self._data.view()
        view.flags.writeable = False
        return view

    def add(self, vectors: NDArray[np.floating[Any]]) -> None:
        """Append rows (``(n, dim)``) to the index."""
        x = np.asarray(vectors, dtype=self.dtype)
        if x.ndim != 2:
            raise ValueError(f"`vectors` must have shape (n, dim); got shape {x.shape}.")
        if len(self) and x.shape[1] != self._data.shape[1]:
            raise ValueError(
                f"`vectors` must have dim {self._data.shape[1]} like the indexed rows; got {x.shape[1]}."
            )
        aug = np.empty((x.shape[0], x.shape[1] + 1), dtype=self.dtype)
        aug[:, :-1] = x
        aug[:, -1] = np.einsum("nd,nd->n", x, x)
        self._aug = aug if not len(self) else np.concatenate([self._aug, aug])

    def drop_first(self, count: int) -> None:
        """Remove the ``count`` oldest rows (used to bound an online pool)."""
        self._aug = self._aug[count:].copy()

    def search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        """Indices ``(n_queries, k)`` of the ``k`` nearest rows, nearest first."""
        q = np.asarray(queries, dtype=self.dtype)
        if q.ndim != 2 or (len(self) and q.shape[1] != self._data.shape[1]):
            raise ValueError(
                f"`queries` must have shape (n_queries, {self._data.shape[1]}); got shape {q.shape}."
            )
        n = len(self)
        if not 1 <= k <= n:
            raise ValueError(f"`k` must be in [1, {n}] (the number of indexed rows); got {k}.")
        out = np.empty((q.shape[0], k), dtype=np.intp)
        step = max(1, _CHUNK_ENTRIES // max(n, 1))
        # |x|^2 - 2 q.x has a rounding error that depends on how BLAS blocks the product
        # (so on how many queries come together); rows within `tol` of the k-th distance
        # are re-ranked on (x - q)^2 computed row by row, so a query's neighbours do not
        # depend on the other queries searched with it (batching, map_batches).
        x_max = float(np.sqrt(self._sq_norms.max()))
        eps = float(np.finfo(self.dtype).eps)
        dim = self._aug.shape[1] - 1
        for start in range(0, q.shape[0], step):
            block = q[start : start + step]
            # squared distance up to the per-query constant |q|^2 (irrelevant for ranking),
            # as one product: [-2 q, 1] . [x, |x|^2]
            q_aug = np.empty((block.shape[0], dim + 1), dtype=self.dtype)
            np.multiply(block, -2.0, out=q_aug[:, :dim])
            q_aug[:, dim] = 1.0
            dist = q_aug @ self._aug.T
            q_norm = np.sqrt(np.einsum("qd,qd->q", block, block))
            tol = 4.0 * (dim + 2) * eps * (x_max * x_max + 2.0 * q_norm * x_max)
            if k < n:
                # kth=k also places the (k+1)-th smallest at column k: a near-tie at the
                # k-th place exists iff it is within `tol` of the k-th smallest
                full = np.argpartition(dist, k, axis=1)
                part = full[:, :k]
                part_dist = np.take_along_axis(dist, part, axis=1)
                kth = part_dist.max(axis=1)
                following = np.take_along_axis(dist, full[:, k : k + 1], axis=1)[:, 0]
                near = np.flatnonzero(following <= kth + tol)
            else:
                part = np.broadcast_to(np.arange(n), (block.shape[0], n)).copy()
                near = np.empty(0, dtype=np.intp)
            out[start : start + step] = self._rerank(block, part, k)
            for r in near:  # near-ties at the k-th place: re-rank every row within tol
                cand = np.flatnonzero(dist[r] <= kth[r] + tol[r])
                out[start + r] = self._rerank(block[r : r + 1], cand[None, :], k)[0]
        return out

    def _rerank(
        self, queries: NDArray[np.floating[Any]], cand: NDArray[np.intp], k: int
    ) -> NDArray[np.intp]:
        """The k nearest of each row's candidates by (x - q)^2, ties by row index."""
        out = np.empty((queries.shape[0], k), dtype=np.intp)
        rows = max(1, _CHUNK_ENTRIES // max(cand.shape[1] * self._data.shape[1], 1))
        for s in range(0, queries.shape[0], rows):
            c = cand[s : s + rows]
            diff = self._data[c] - queries[s : s + rows, None, :]
            exact = np.square(diff).sum(axis=-1)
            order = np.lexsort((c, exact), axis=1)[:, :k]
            out[s : s + rows] = np.take_along_axis(c, order, axis=1)
        return out


def exact_self_neighbors(
    vectors: ArrayLike, k: int, *, dtype: Any = np.float64
) -> NDArray[np.intp]:
    """The exact ``k`` nearest rows of every row of ``vectors``, among those rows.

    This is the search behind test-time Smoothie-Local (``Smoothie(k).weights_``): n
    queries against the same n rows. It returns the same neighbour sets as
    ``ExactNeighbors(vectors, dtype=dtype).search(vectors, k)`` (a row is its own
    nearest neighbour unless exact duplicates with a lower index tie with it), but from
    4,096 rows on it screens distances in float32 on half of the (symmetric) distance
    matrix and decides only the near-ties at the k-th place in ``dtype``; see
    :mod:`smoothie_core._self_knn`. About 3-4x faster than the query-by-query search
    (``benchmarks/bench_estimator.py``). Within a row, neighbours come nearest first
    (up to float32 rounding for large inputs).

    Parameters
    ----------
    vectors : array of shape (n, dim)
    k : int
        Neighbours per row, ``1 <= k <= n``.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the distances that decide near-ties (as in :class:`ExactNeighbors`).

    Returns
    -------
    ndarray of shape (n, k)

    Examples
    --------
    >>> import numpy as np
    >>> exact_self_neighbors(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [5.0, 6.0]]), 2)
    array([[0, 1],
           [1, 0],
           [2, 3],
           [3, 2]])
    """
    from smoothie_core import _self_knn

    dt = _check_dtype(dtype)
    x = np.asarray(vectors)
    # float32 rows are used as they are under dtype=float64 (exact), else converted
    keep = x.dtype == np.float32 and dt == np.float64
    x = np.ascontiguousarray(x, dtype=np.float32 if keep else dt)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"`vectors` must have shape (n, dim) with dim >= 1; got shape {x.shape}.")
    n = x.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"`k` must be an int in [1, {n}] (the number of rows); got {k!r}.")
    if not np.isfinite(x).all():
        raise ValueError("`vectors` must be finite; got NaN or inf.")
    if n < _self_knn.MIN_ROWS:
        return ExactNeighbors(x, dtype=dt).search(x, int(k))
    return _self_knn.exact_self_neighbors(x, int(k), dtype=dt)


#: Pool size (rows) from which :class:`AutoNeighbors` switches from exact to approximate
#: search, when ``faiss`` is installed. Measured by ``benchmarks/bench_scale.py``.
AUTO_THRESHOLD = 10_000


def ann_available() -> bool:
    """Whether the approximate backend (``faiss-cpu``, the ``ann`` extra) is installed."""
    return importlib.util.find_spec("faiss") is not None


def _check_dtype(dtype: Any) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"`dtype` must be numpy.float64 or numpy.float32; got {dt}.")
    return dt


def _import_faiss() -> Any:
    try:
        import faiss
    except ImportError as err:
        raise ImportError(
            "ApproximateNeighbors needs faiss-cpu: pip install 'smoothie-router[ann]' "
            "(or use ExactNeighbors / AutoNeighbors, which fall back to exact search)."
        ) from err
    return faiss


class ApproximateNeighbors:
    """Approximate Euclidean k-nearest-neighbour search with an HNSW graph (faiss).

    Needs the optional ``ann`` extra (``pip install smoothie-router[ann]``, which
    installs ``faiss-cpu``). Rows are stored in float32 inside the faiss index. Results
    are re-sorted by (distance, row index) so equal distances come out in a
    deterministic order, as with :class:`ExactNeighbors`.

    Parameters
    ----------
    vectors : array of shape (n, dim), optional
        Initial rows.
    m : int, default=16
        HNSW graph degree (faiss ``M``): more is more accurate, slower to build, bigger.
    ef_construction : int, default=200
        Candidate list size while building.
    ef_search : int, default=128
        Candidate list size while searching (raised to ``k`` when ``k`` is larger).
        The default gives >= 99% recall@20 on MiniLM embeddings of real texts (see
        ``benchmarks/bench_scale.py``).

    Examples
    --------
    >>> import numpy as np
    >>> index = ApproximateNeighbors(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]))
    >>> index.search(np.array([[0.9, 0.1]]), k=2)
    array([[1, 0]])
    """

    def __init__(
        self,
        vectors: ArrayLike | None = None,
        *,
        m: int = 16,
        ef_construction: int = 200,
        ef_search: int = 128,
    ) -> None:
        for name, value in (
            ("m", m),
            ("ef_construction", ef_construction),
            ("ef_search", ef_search),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
        self._faiss = _import_faiss()
        self.m = int(m)
        self.ef_construction = int(ef_construction)
        self.ef_search = int(ef_search)
        self._index: Any = None
        self._dim = 0
        if vectors is not None:
            self.add(np.asarray(vectors))

    def __len__(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def add(self, vectors: NDArray[np.floating[Any]]) -> None:
        """Append rows (``(n, dim)``) to the index."""
        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if x.ndim != 2:
            raise ValueError(f"`vectors` must have shape (n, dim); got shape {x.shape}.")
        if self._index is None:
            self._dim = int(x.shape[1])
            self._index = self._faiss.IndexHNSWFlat(self._dim, self.m)
            self._index.hnsw.efConstruction = self.ef_construction
        elif x.shape[1] != self._dim:
            raise ValueError(
                f"`vectors` must have dim {self._dim} like the indexed rows; got {x.shape[1]}."
            )
        if not np.isfinite(x).all():
            raise ValueError("`vectors` must be finite; got NaN or inf.")
        if x.shape[0]:
            self._index.add(x)

    def search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        """Indices ``(n_queries, k)`` of (approximately) the ``k`` nearest rows, nearest first."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        n = len(self)
        if not 1 <= k <= n:
            raise ValueError(f"`k` must be in [1, {n}] (the number of indexed rows); got {k}.")
        if q.ndim != 2 or q.shape[1] != self._dim:
            raise ValueError(
                f"`queries` must have shape (n_queries, {self._dim}); got shape {q.shape}."
            )
        self._index.hnsw.efSearch = max(self.ef_search, k)
        dist, idx = self._index.search(q, k)
        missing = (idx < 0).any(axis=1)
        if missing.any():  # the graph walk found fewer than k rows: search those exactly
            exact = ExactNeighbors(self._index.reconstruct_n(0, n), dtype=np.float32)
            rows = np.flatnonzero(missing)
            idx[rows] = exact.search(q[rows], k)
            d = exact.vectors[idx[rows]] - q[rows][:, None, :]
            dist[rows] = np.einsum("qkd,qkd->qk", d, d)
        order = np.lexsort((idx, dist), axis=1)
        return np.take_along_axis(idx, order, axis=1).astype(np.intp)


class AutoNeighbors:
    """Exact search for small pools, approximate (HNSW) search for large ones.

    Searches exactly while the index holds fewer than ``threshold`` rows or when faiss
    is not installed; from ``threshold`` rows on (and faiss installed) it builds an
    :class:`ApproximateNeighbors` on first search and keeps adding to it. Use
    ``threshold=None`` for the measured default :data:`AUTO_THRESHOLD`.

    Parameters
    ----------
    vectors : array of shape (n, dim), optional
    threshold : int or None, default=None
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the exact path (see :class:`ExactNeighbors`).
    **ann_params
        Passed to :class:`ApproximateNeighbors` (``m``, ``ef_construction``, ``ef_search``).

    Examples
    --------
    >>> import numpy as np
    >>> index = AutoNeighbors(np.eye(3))
    >>> index.search(np.array([[0.9, 0.1, 0.0]]), k=1), index.backend
    (array([[0]]), 'exact')
    """

    def __init__(
        self,
        vectors: ArrayLike | None = None,
        *,
        threshold: int | None = None,
        dtype: Any = np.float64,
        **ann_params: int,
    ) -> None:
        t = AUTO_THRESHOLD if threshold is None else threshold
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
            raise ValueError(f"`threshold` must be None or a positive int; got {threshold!r}.")
        self.threshold = int(t)
        self.ann_params = dict(ann_params)
        self._exact = ExactNeighbors(dtype=dtype)
        self._ann: ApproximateNeighbors | None = None
        if vectors is not None:
            self.add(np.asarray(vectors))

    @property
    def backend(self) -> str:
        """``"approximate"`` once the HNSW index is in use, else ``"exact"``."""
        return "exact" if self._ann is None else "approximate"

    def __len__(self) -> int:
        return len(self._exact) if self._ann is None else len(self._ann)

    def add(self, vectors: NDArray[np.floating[Any]]) -> None:
        """Append rows (``(n, dim)``) to the index."""
        if self._ann is not None:
            self._ann.add(vectors)
        else:
            self._exact.add(vectors)

    def search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        """Indices ``(n_queries, k)`` of the ``k`` nearest rows, nearest first."""
        if self._ann is None and len(self._exact) >= self.threshold and ann_available():
            self._ann = ApproximateNeighbors(self._exact.vectors, **self.ann_params)
            self._exact = ExactNeighbors(dtype=self._exact.dtype)  # free the exact copy
        if self._ann is not None:
            return self._ann.search(queries, k)
        return self._exact.search(queries, k)
