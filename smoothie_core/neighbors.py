"""Nearest-neighbour search behind a small interface.

Smoothie-Local needs, for each query input, the ``k`` nearest fitted inputs
(Euclidean). :class:`ExactNeighbors` (numpy, chunked, ``argpartition``) is the
default; an approximate index only has to implement :class:`NeighborIndex`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["NeighborIndex", "ExactNeighbors"]

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
    product), the ``k`` smallest are found with ``argpartition`` and sorted. Equal
    distances are ordered by row index.

    Parameters
    ----------
    vectors : array of shape (n, dim), optional
        Initial rows.

    Examples
    --------
    >>> import numpy as np
    >>> index = ExactNeighbors(np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]]))
    >>> index.search(np.array([[0.9, 0.1]]), k=2)
    array([[1, 0]])
    """

    def __init__(self, vectors: ArrayLike | None = None) -> None:
        self._data: NDArray[np.float64] = np.empty((0, 0), dtype=np.float64)
        self._sq_norms: NDArray[np.float64] = np.empty(0, dtype=np.float64)
        if vectors is not None:
            self.add(np.asarray(vectors))

    def __len__(self) -> int:
        return int(self._data.shape[0])

    @property
    def vectors(self) -> NDArray[np.float64]:
        """The indexed rows (read-only view)."""
        view = self._data.view()
        view.flags.writeable = False
        return view

    def add(self, vectors: NDArray[np.floating[Any]]) -> None:
        """Append rows (``(n, dim)``) to the index."""
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"`vectors` must have shape (n, dim); got shape {x.shape}.")
        if len(self) and x.shape[1] != self._data.shape[1]:
            raise ValueError(
                f"`vectors` must have dim {self._data.shape[1]} like the indexed rows; got {x.shape[1]}."
            )
        self._data = x.copy() if not len(self) else np.concatenate([self._data, x])
        self._sq_norms = np.einsum("nd,nd->n", self._data, self._data)

    def drop_first(self, count: int) -> None:
        """Remove the ``count`` oldest rows (used to bound an online pool)."""
        self._data = self._data[count:].copy()
        self._sq_norms = self._sq_norms[count:].copy()

    def search(self, queries: NDArray[np.floating[Any]], k: int) -> NDArray[np.intp]:
        """Indices ``(n_queries, k)`` of the ``k`` nearest rows, nearest first."""
        q = np.asarray(queries, dtype=np.float64)
        n = len(self)
        if not 1 <= k <= n:
            raise ValueError(f"`k` must be in [1, {n}] (the number of indexed rows); got {k}.")
        out = np.empty((q.shape[0], k), dtype=np.intp)
        step = max(1, _CHUNK_ENTRIES // max(n, 1))
        for start in range(0, q.shape[0], step):
            block = q[start : start + step]
            # squared distance up to the per-query constant |q|^2 (irrelevant for ranking)
            dist = self._sq_norms[None, :] - 2.0 * (block @ self._data.T)
            if k < n:
                part = np.argpartition(dist, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(n), (block.shape[0], n)).copy()
            part_dist = np.take_along_axis(dist, part, axis=1)
            order = np.lexsort((part, part_dist), axis=1)
            out[start : start + step] = np.take_along_axis(part, order, axis=1)
        return out
