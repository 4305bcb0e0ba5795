"""Exact k nearest neighbours of every row among the rows themselves (the "all-kNN").

Test-time Smoothie-Local needs the k nearest fitted inputs of every fitted input: n
queries against the same n rows. Brute force is O(n^2 d) and, for high-dimensional
embeddings, nothing exact does better, so this module makes the brute force cheap and
keeps it exact:

1. **Screening in float32 on half the matrix.** Squared distances are symmetric, so
   only the blocks on and above the diagonal are computed, each as one float32 BLAS
   product on rows augmented as ``[x, 1, |x|^2]`` and ``[-2 x, |x|^2, 1]`` (centred
   first). That is a quarter of the float64 work of the full matrix.
2. **A running bound per row.** Each row keeps the screened distances at or below
   ``R + 2 tol``, where ``R`` is an upper bound on its k-th smallest screened distance
   (first from a sample of rows, then the k-th smallest value it has kept, refreshed
   whenever its list has grown by half) and ``tol`` bounds the float32 error. Only a
   handful of entries per block pass, so the cost is the BLAS product plus one
   comparison per entry; the screening of a block runs in a second thread while BLAS
   computes the next one.
3. **Exact decision of the boundary.** A kept entry more than ``2 tol`` below the k-th
   smallest screened distance is certainly a neighbour, one more than ``2 tol`` above
   it certainly not; the few in between are decided on ``|x - y|^2`` computed in the
   working precision exactly as :class:`~smoothie_core.neighbors.ExactNeighbors` does,
   ties by row index. The result is therefore the same neighbour set as
   ``ExactNeighbors(x).search(x, k)``.

``tol`` is a rigorous bound (``2 (d + 8) u (|x_i| + max |x|)^2`` for the float32
product, the standard ``gamma_d`` dot-product bound with a safety factor of 2, plus the
same for the working precision; the factor also covers the float32 rounding of the
bounds themselves), so the screening never drops a neighbour. Measured: 12.4 s for
100,000 rows of d = 384 on 2 cores (``benchmarks/bench_estimator.py``).
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core._parallel import for_row_blocks, n_threads
from smoothie_core._parallel import pool as shared_pool

#: Below this many rows the plain chunked search is as fast (and orders rows exactly).
MIN_ROWS = 512

_U32 = float(np.finfo(np.float32).eps) / 2


def exact_self_neighbors(
    x: NDArray[np.floating[Any]],
    k: int,
    *,
    block: int = 2048,
    panel: int = 4096,
    sample: int = 1024,
    capacity: int = 128,
    seed: int = 0,
    dtype: Any = None,
) -> NDArray[np.intp]:
    """Indices ``(n, k)`` of the ``k`` nearest rows of every row of ``x`` (itself included).

    ``x`` is ``(n, d)`` float32 or float64; ``dtype`` (default ``x.dtype``) is the
    working precision of the exact decision. Neighbour sets equal
    ``ExactNeighbors(x, dtype=dtype).search(x, k)``;
    within a row, neighbours come nearest first up to float32 rounding. ``block``,
    ``panel``, ``sample``, ``capacity`` and ``seed`` only change the speed.
    """
    n, d = x.shape
    if not 1 <= k <= n:
        raise ValueError(f"`k` must be in [1, {n}] (the number of rows); got {k}.")
    work = np.dtype(x.dtype if dtype is None else dtype)
    work_eps = float(np.finfo(work).eps) / 2
    # initial bound on each row's k-th smallest distance, from a random sample of rows;
    # rows are processed in order of that bound, so the rows of a block (and of a
    # panel) have similar bounds and one threshold per block screens them all
    b, centred_norms = _augmented(x, x.mean(axis=0, dtype=np.float64))
    sampled = np.random.default_rng(seed).choice(n, size=min(n, max(2 * k, sample)), replace=False)
    first_bound = _sample_bound(b, np.sort(sampled), k)
    perm = np.argsort(first_bound, kind="stable")
    b, centred_norms, first_bound = b[perm], centred_norms[perm], first_bound[perm]
    raw_norms = np.sqrt(np.einsum("nd,nd->n", x, x, dtype=np.float64))[perm]
    tol = (
        2.0
        * (d + 8)
        * (
            _U32 * (centred_norms + centred_norms.max()) ** 2
            + work_eps * (raw_norms + raw_norms.max()) ** 2
        )
    )
    tol2 = np.nextafter((2.0 * tol).astype(np.float32), np.float32(np.inf))
    # the sample's distances come from another product (within tol of the truth, so
    # within 2 tol of the screened ones): widen by 2 tol to keep a valid bound
    bound = first_bound + tol2
    lists = _CandidateLists(n, k, bound, tol2, capacity)
    _screen(b, lists, block, panel)
    chosen = _decide(x, perm, lists, k, work)
    out = np.empty((n, k), dtype=np.intp)
    out[perm] = perm[chosen]
    return out


def _sample_bound(b: NDArray[np.float32], sampled: NDArray[np.intp], k: int) -> NDArray[np.float32]:
    """Each row's k-th smallest screened squared distance to the rows ``sampled``.

    Computed exactly like the screening (rows ``b`` from :func:`_augmented`), so it is
    within ``tol`` of the true value.
    """
    n = b.shape[0]
    right = b[sampled]
    out = np.empty(n, dtype=np.float32)
    # one chunk at a time: the product already uses every core
    left = np.empty((min(4096, n), b.shape[1]), dtype=np.float32)
    for s in range(0, n, 4096):
        e = min(n, s + 4096)
        rows = _left(b[s:e], left[: e - s])
        out[s:e] = np.partition(rows @ right.T, k - 1, axis=1)[:, k - 1]
    return out


def _augmented(
    x: NDArray[np.floating[Any]], mean: NDArray[np.float64]
) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """Rows of ``x`` as ``[-2 c, |c|^2, 1]`` in float32 (``c`` centred), and ``|c|``.

    The matching left factor ``[c, 1, |c|^2]`` of a block of rows is rebuilt from these
    when needed (:func:`_left`; ``-2 c`` is exact in float32), which halves the memory.
    """
    n, d = x.shape
    b = np.empty((n, d + 2), dtype=np.float32)
    norms = np.empty(n, dtype=np.float64)

    def work(start: int, stop: int) -> None:
        for s in range(start, stop, 4096):
            e = min(stop, s + 4096)
            c = x[s:e].astype(np.float64)
            c -= mean
            norms[s:e] = np.sqrt(np.einsum("nd,nd->n", c, c))
            c32 = c.astype(np.float32)
            c[...] = c32  # the float32 values, for their exact squared norms
            np.multiply(c32, -2.0, out=b[s:e, :d])
            b[s:e, d] = np.einsum("nd,nd->n", c, c)
            b[s:e, d + 1] = 1.0

    for_row_blocks(work, n, n * d * 8)
    return b, norms


def _left(b: NDArray[np.float32], out: NDArray[np.float32]) -> NDArray[np.float32]:
    """``[c, 1, |c|^2]`` for rows given as ``[-2 c, |c|^2, 1]`` (written into ``out``)."""
    d = b.shape[1] - 2
    np.multiply(b[:, :d], -0.5, out=out[:, :d])
    out[:, d] = 1.0
    out[:, d + 1] = b[:, d]
    return out


class _CandidateLists:
    """Per-row lists of (screened distance, row) with a running bound per row."""

    def __init__(
        self,
        n: int,
        k: int,
        bound: NDArray[np.float32],
        tol2: NDArray[np.float32],
        capacity: int,
    ) -> None:
        self.k = k
        self.bound = bound
        self.tol2 = tol2
        self.limit = bound + tol2  # keep screened distances <= limit
        self.cap = max(capacity, 4 * k)
        self.vals = np.full((n, self.cap), np.inf, dtype=np.float32)
        self.idx = np.empty((n, self.cap), dtype=np.int32 if n < 2**31 else np.int64)
        self.count = np.zeros(n, dtype=np.int64)
        self.refresh_at = np.full(n, 2 * k, dtype=np.int64)  # then 1.5x what is kept

    def append(
        self, rows: NDArray[np.intp], cols: NDArray[np.intp], vals: NDArray[np.float32]
    ) -> None:
        """Add entries; ``rows`` must be sorted."""
        if rows.size == 0:
            return
        uniq, first, counts = _runs(rows)
        if int((self.count[uniq] + counts).max()) > self.cap:
            # rows about to overflow: tighten on what they hold, then on the new entries too
            self.refresh(uniq[self.count[uniq] + counts > self.cap])
            keep = vals <= self.limit[rows]
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
            if rows.size == 0:
                return
            uniq, first, counts = _runs(rows)
            full = self.count[uniq] + counts > self.cap
            if full.any():
                merged = np.repeat(full, counts)
                self._merge(uniq[full], first[full], counts[full], rows, cols, vals)
                rows, cols, vals = rows[~merged], cols[~merged], vals[~merged]
                if rows.size == 0:
                    return
                uniq, first, counts = _runs(rows)
        pos = self.count[rows] + (np.arange(rows.size) - np.repeat(first, counts))
        flat = rows * self.cap + pos
        self.vals.reshape(-1)[flat] = vals
        self.idx.reshape(-1)[flat] = cols.astype(self.idx.dtype, copy=False)
        self.count[uniq] += counts
        due = uniq[self.count[uniq] >= self.refresh_at[uniq]]
        if due.size:
            self.refresh(due)

    def _merge(
        self,
        uniq: NDArray[np.intp],
        first: NDArray[np.intp],
        counts: NDArray[np.intp],
        rows: NDArray[np.intp],
        cols: NDArray[np.intp],
        vals: NDArray[np.float32],
    ) -> None:
        """Rows whose new entries do not fit: select from held + new entries together."""
        held = self.count[uniq]
        width = int((held + counts).max())
        allv = np.full((uniq.size, width), np.inf, dtype=np.float32)
        alli = np.zeros((uniq.size, width), dtype=self.idx.dtype)
        hw = int(held.max())
        allv[:, :hw] = self.vals[uniq, :hw]
        alli[:, :hw] = self.idx[uniq, :hw]
        slot = np.repeat(np.arange(uniq.size), counts)
        rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        src = np.repeat(first, counts) + rank  # the new entries of these rows
        pos = held[slot] + rank
        allv[slot, pos] = vals[src]
        alli[slot, pos] = cols[src]
        keep = self._tighten(uniq, allv)
        kept = int(keep.sum(axis=1).max())
        if kept > self.cap:  # many exact ties at the k-th place (duplicates)
            self._grow(max(2 * self.cap, kept))
        if width > self.cap:  # only the first `cap` columns exist in the store
            order = np.argsort(~keep, axis=1, kind="stable")[:, : self.cap]
            allv = np.take_along_axis(allv, order, axis=1)
            alli = np.take_along_axis(alli, order, axis=1)
            keep = np.take_along_axis(keep, order, axis=1)
        self._pack(uniq, allv, alli, keep)

    def refresh(self, rows: NDArray[np.intp]) -> None:
        """Bound = min(bound, k-th smallest held value); drop entries above the new limit."""
        rows = rows[self.count[rows] >= self.k]
        if rows.size == 0:
            return
        width = int(self.count[rows].max())
        vals = self.vals[rows, :width]
        self._pack(rows, vals, self.idx[rows, :width], self._tighten(rows, vals))

    def _tighten(self, rows: NDArray[np.intp], vals: NDArray[np.float32]) -> NDArray[np.bool_]:
        """Lower the rows' bounds to the k-th smallest of ``vals`` (one row per ``rows``);
        return which entries are still within the new limits."""
        kth = np.partition(vals, self.k - 1, axis=1)[:, self.k - 1]
        self.bound[rows] = np.minimum(self.bound[rows], kth)
        limit = self.bound[rows] + self.tol2[rows]
        self.limit[rows] = limit
        keep: NDArray[np.bool_] = vals <= limit[:, None]
        return keep

    def _pack(
        self,
        rows: NDArray[np.intp],
        vals: NDArray[np.float32],
        idx: NDArray[Any],
        keep: NDArray[np.bool_],
    ) -> None:
        """Store the entries ``keep`` of ``vals``/``idx`` (one row per ``rows``) packed left."""
        kept = keep.sum(axis=1)
        flat = np.flatnonzero(keep)  # row-major: each row's kept entries in order
        ri, ci = np.divmod(flat, keep.shape[1])
        starts = np.cumsum(kept) - kept
        slot = np.arange(ri.size) - np.repeat(starts, kept)
        width = vals.shape[1]
        self.vals[rows, :width] = np.inf
        self.vals[rows[ri], slot] = vals[ri, ci]
        self.idx[rows[ri], slot] = idx[ri, ci]
        self.count[rows] = kept
        self.refresh_at[rows] = (3 * np.maximum(kept, self.k)) // 2

    def _grow(self, cap: int) -> None:
        n = self.vals.shape[0]
        vals = np.full((n, cap), np.inf, dtype=np.float32)
        idx = np.empty((n, cap), dtype=self.idx.dtype)
        vals[:, : self.cap] = self.vals
        idx[:, : self.cap] = self.idx
        self.vals, self.idx, self.cap = vals, idx, cap


def _runs(
    sorted_rows: NDArray[np.intp],
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Distinct values of a sorted array, the index of their first entry, their counts."""
    starts = np.flatnonzero(np.concatenate(([True], sorted_rows[1:] != sorted_rows[:-1])))
    counts = np.diff(np.append(starts, sorted_rows.size))
    return sorted_rows[starts], starts, counts


def _screen(
    b: NDArray[np.float32],
    lists: _CandidateLists,
    block: int,
    panel: int,
) -> None:
    """Screen the upper triangle block by block; fill ``lists``.

    This thread computes the BLAS products (every core) into three buffers used in
    turn. One consumer thread screens the blocks in order: the numpy pass that finds
    the few entries under the thresholds (split by rows over the shared pool), then
    adding them to the lists, before the next block's pass starts. So the screening
    overlaps the next products, and the result is the same as one block at a time.
    """
    n = b.shape[0]
    panel = max(panel, block)
    left = np.empty((block, b.shape[1]), dtype=np.float32)
    workers = min(n_threads(), 4)
    executor = shared_pool(workers)
    tiles = [
        (i0, min(n, i0 + block), j0) for i0 in range(0, n, block) for j0 in range(i0, n, panel)
    ]
    buffers = [
        (np.empty(block * panel, dtype=np.float32), np.empty(block * panel, dtype=bool))
        for _ in range(3)
    ]
    done: list[Future[None]] = []

    def consume(
        dist: NDArray[np.float32], i0: int, i1: int, j0: int, mask: NDArray[np.bool_]
    ) -> None:
        futures = _find(dist, i0, i1, j0, lists.limit, mask, executor, workers)
        _add_block(lists, i0, j0, dist.shape[1], futures)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="smoothie-screen") as consumer:
        for t, (i0, i1, j0) in enumerate(tiles):
            if j0 == i0:
                a = _left(b[i0:i1], left[: i1 - i0])
            cols = b[j0 : min(n, j0 + panel)]
            if t >= 3:
                done[t - 3].result()  # its buffer is about to be reused
            dist_buf, mask = buffers[t % 3]
            dist = np.matmul(a, cols.T, out=dist_buf[: (i1 - i0) * len(cols)].reshape(i1 - i0, -1))
            done.append(consumer.submit(consume, dist, i0, i1, j0, mask))
        for f in done:
            f.result()


_Entries = tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]


def _below(
    dist: NDArray[np.float32],
    threshold: float,
    limit: NDArray[np.float32],
    i0: int,
    i1: int,
    j0: int,
    mask: NDArray[np.bool_],
    start: int,
    stop: int,
) -> tuple[_Entries, _Entries]:
    """The entries of rows ``start:stop`` of a block that pass their rows' limits.

    Returns (rows, columns, values) for the row side (rows ``i0 + r``, sorted) and for
    the column side (rows ``j0 + c``, unsorted), in global row numbers.
    """
    w = dist.shape[1]
    part = mask[start * w : stop * w]
    np.less_equal(dist[start:stop], threshold, out=part.reshape(stop - start, w))
    pos = np.flatnonzero(part)
    vals = dist[start:stop].reshape(-1)[pos]
    if w & (w - 1) == 0:  # a power of two (every full panel): shift and mask
        shift = w.bit_length() - 1
        r, c = pos >> shift, pos & (w - 1)
    else:
        r, c = np.divmod(pos, w)
    r += i0 + start
    c += j0
    on_rows = vals <= limit[r]
    on_cols = vals <= limit[c]
    if j0 == i0:  # the diagonal block is done on the row side only
        on_cols &= c >= i1
    return (r[on_rows], c[on_rows], vals[on_rows]), (c[on_cols], r[on_cols], vals[on_cols])


def _find(
    dist: NDArray[np.float32],
    i0: int,
    i1: int,
    j0: int,
    limit: NDArray[np.float32],
    mask: NDArray[np.bool_],
    pool: ThreadPoolExecutor,
    workers: int,
) -> list[Future[tuple[_Entries, _Entries]]]:
    """Start finding the entries of one block of screened distances that can be neighbours.

    Row side: rows ``i0:i1`` against columns ``j0:j0+w``; column side: rows ``j0:j0+w``
    against columns ``i0:i1`` (skipping the diagonal block, done on the row side). One
    scalar threshold (the largest limit of these rows) screens the block; the few
    entries that pass are then tested against their own rows' limits.
    """
    h, w = dist.shape
    threshold = float(max(limit[i0:i1].max(), limit[j0 : j0 + w].max()))
    parts = workers if h * w >= 1 << 20 else 1
    bounds = [int(v) for v in np.linspace(0, h, parts + 1)]
    return [
        pool.submit(_below, dist, threshold, limit, i0, i1, j0, mask, start, stop)
        for start, stop in itertools.pairwise(bounds)
    ]


def _add_block(
    lists: _CandidateLists,
    i0: int,
    j0: int,
    w: int,
    futures: list[Future[tuple[_Entries, _Entries]]],
) -> None:
    """Add one block's entries (row side, then column side sorted by row) to ``lists``."""
    parts = [f.result() for f in futures]
    row_rows, row_cols, row_vals = (np.concatenate([p[0][i] for p in parts]) for i in range(3))
    col_rows, col_cols, col_vals = (np.concatenate([p[1][i] for p in parts]) for i in range(3))
    # a stable sort of small ints is a radix sort in numpy
    order = np.argsort((col_rows - j0).astype(np.int16 if w < 2**15 else np.int64), kind="stable")
    # rows i0:i1 (sorted) come before rows j0 + c (all >= i1): one sorted batch
    lists.append(
        np.concatenate([row_rows, col_rows[order]]),
        np.concatenate([row_cols, col_cols[order]]),
        np.concatenate([row_vals, col_vals[order]]),
    )


def _decide(
    x: NDArray[np.floating[Any]],
    perm: NDArray[np.intp],
    lists: _CandidateLists,
    k: int,
    work: np.dtype[Any],
) -> NDArray[np.intp]:
    """The exact k nearest of each row from its kept candidates (positions in ``perm`` order)."""
    width = int(lists.count.max())
    vals = lists.vals[:, :width]
    idx = lists.idx[:, :width]
    kth = np.partition(vals, k - 1, axis=1)[:, k - 1]
    # certainly closer than the k-th nearest: below kth - 2 tol; certainly not: above
    # kth + 2 tol; in between, too close to the k-th to tell in float32
    need = k - (vals < (kth - lists.tol2)[:, None]).sum(axis=1)
    chosen = vals <= (kth + lists.tol2)[:, None]
    unsure = np.flatnonzero(chosen.sum(axis=1) > k)
    if unsure.size:
        sub = vals[unsure]
        lo = (kth - lists.tol2)[unsure, None]
        band = (sub >= lo) & chosen[unsure]
        hr, hc = np.nonzero(band)
        rows = unsure[hr]
        q, c = perm[rows], perm[idx[rows, hc]]
        exact = np.empty(rows.size, dtype=work)
        step = max(1, (1 << 20) // max(x.shape[1], 1))
        for s in range(0, rows.size, step):
            # the same expression as ExactNeighbors._rerank, so the same rounding
            diff = np.asarray(x[c[s : s + step]], dtype=work) - np.asarray(
                x[q[s : s + step]], dtype=work
            )
            exact[s : s + step] = np.square(diff).sum(axis=-1)
        order = np.lexsort((c, exact, rows))  # by row, then distance, then row index
        rows_sorted = rows[order]
        first = np.searchsorted(rows_sorted, unsure)
        rank = np.arange(rows_sorted.size) - np.repeat(
            first, np.diff(np.append(first, rows_sorted.size))
        )
        drop = rank >= need[rows_sorted]
        chosen[rows_sorted[drop], hc[order][drop]] = False
    # exactly k chosen per row; order them nearest first (screened distance, then index)
    pick = (np.flatnonzero(chosen) % width).reshape(-1, k)
    out = np.take_along_axis(idx, pick, axis=1).astype(np.intp)
    near = np.lexsort((perm[out], np.take_along_axis(vals, pick, axis=1)), axis=1)
    return np.take_along_axis(out, near, axis=1)
