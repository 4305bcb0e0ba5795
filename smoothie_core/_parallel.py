"""Row-block parallelism for the numpy passes that BLAS does not thread.

numpy's element-wise operations and ``einsum`` run on one core but release the GIL, so
splitting a large array into row blocks and handing them to a few Python threads uses
the other cores (1.8x on 2 cores for :func:`smoothie_core.triplet.sample_deltas` at
n = 100,000, m = 3, d = 384; ``benchmarks/bench_estimator.py``). Results do not depend
on the number of threads: every block computes its rows exactly as one call would.

The number of threads is the number of CPUs this process may run on, capped at 8, or
the environment variable ``SMOOTHIE_NUM_THREADS`` (``1`` turns the threads off).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Below this many array elements a pass is not worth a thread.
MIN_PARALLEL_ELEMENTS = 1 << 19

_MAX_THREADS = 8

# One pool for the process, created on first use (starting threads per call costs more
# than the work for inputs of a few thousand samples); dropped in a forked child.
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def pool(workers: int) -> ThreadPoolExecutor:
    """The shared thread pool, with at least ``workers`` threads."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smoothie")
            _pool_size = workers
        return _pool


def n_threads() -> int:
    """Threads for the row-block passes (``SMOOTHIE_NUM_THREADS`` or the usable CPUs, <= 8)."""
    env = os.environ.get("SMOOTHIE_NUM_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(
                f"SMOOTHIE_NUM_THREADS must be a positive integer; got {env!r}."
            ) from None
        if value < 1:
            raise ValueError(f"SMOOTHIE_NUM_THREADS must be a positive integer; got {env!r}.")
        return value
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_THREADS))


def for_row_blocks(fn: Callable[[int, int], None], n_rows: int, elements: int) -> None:
    """Call ``fn(start, stop)`` on contiguous row blocks covering ``range(n_rows)``.

    ``elements`` is the size of the work (array elements touched); small work runs as
    one call in this thread. ``fn`` must write disjoint outputs per block.
    """
    workers = min(n_threads(), n_rows) if elements >= MIN_PARALLEL_ELEMENTS else 1
    if workers <= 1:
        fn(0, n_rows)
        return
    bounds = [int(v) for v in np.linspace(0, n_rows, workers + 1)]
    blocks = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    # the calling thread does the first block itself instead of waiting idle
    executor = pool(workers - 1)
    futures = [executor.submit(fn, a, b) for a, b in blocks[1:]]
    try:
        fn(*blocks[0])
    finally:
        wait(futures)  # every block finishes before an error is raised
    for future in futures:
        future.result()  # re-raise the first error


def copy_as(arr: NDArray[Any], dtype: Any) -> NDArray[Any]:
    """A C-contiguous copy of ``arr`` in ``dtype``, copied by row blocks in parallel."""
    out = np.empty(arr.shape, dtype=dtype)
    if arr.ndim == 0 or arr.shape[0] == 0:
        out[...] = arr
        return out

    def work(start: int, stop: int) -> None:
        out[start:stop] = arr[start:stop]

    for_row_blocks(work, arr.shape[0], arr.size)
    return out
