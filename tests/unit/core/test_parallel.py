"""Row-block threads: same results as one call, errors surface, the env knob is checked."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from typing import Any

import numpy as np
import pytest

from smoothie_core import Smoothie, _parallel
from smoothie_core.triplet import sample_deltas, weights_from_deltas
from tests.support.oracle import oracle_weights


@pytest.fixture
def force_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_parallel, "MIN_PARALLEL_ELEMENTS", 1)
    monkeypatch.setenv("SMOOTHIE_NUM_THREADS", "3")


def test_threaded_deltas_equal_single_thread(
    force_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    lam = rng.standard_normal((1001, 4, 7)).astype(np.float32)
    threaded = sample_deltas(lam)
    monkeypatch.setenv("SMOOTHIE_NUM_THREADS", "1")
    single = sample_deltas(lam)
    np.testing.assert_array_equal(threaded, single)


def test_threaded_fit_matches_the_oracle(force_threads: None) -> None:
    rng = np.random.default_rng(1)
    lam = rng.standard_normal((300, 3, 5))
    sm = Smoothie().fit(lam)
    np.testing.assert_allclose(sm.global_weights_, oracle_weights(lam), rtol=1e-9)


def test_threaded_overflow_is_reported_without_warnings(force_threads: None) -> None:
    lam = np.full((64, 3, 2), 1e200)
    lam[:, 1] = -1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from a worker thread would raise
        with pytest.raises(ValueError, match="overflow float64"):
            sample_deltas(lam)


def test_worker_errors_propagate(force_threads: None) -> None:
    def boom(start: int, stop: int) -> None:
        raise RuntimeError(f"block {start}:{stop}")

    with pytest.raises(RuntimeError, match="block 0:"):
        _parallel.for_row_blocks(boom, 10, 10)


def test_copy_as_copies(force_threads: None) -> None:
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = _parallel.copy_as(x, np.float64)
    assert y.dtype == np.float64 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, x)
    x[0, 0] = 99
    assert y[0, 0] == 0


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_bad_thread_count_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SMOOTHIE_NUM_THREADS", value)
    with pytest.raises(
        ValueError, match=f"SMOOTHIE_NUM_THREADS must be a positive integer; got '{value}'"
    ):
        _parallel.n_threads()


def test_weights_fast_path_agrees_with_log_space_path() -> None:
    rng = np.random.default_rng(2)
    delta = rng.uniform(0.1, 3.0, size=(50, 4))
    mixed = delta.copy()
    mixed[::7, 1] = -0.5  # non-positive estimates take the log-space path
    mixed[3] = 0.0  # no information: uniform
    fast = weights_from_deltas(delta)
    np.testing.assert_allclose(
        fast, (1 / delta) / (1 / delta).sum(axis=1, keepdims=True), rtol=1e-15
    )
    w = weights_from_deltas(mixed)
    ok = np.ones(50, dtype=bool)
    ok[::7] = False
    ok[3] = False
    np.testing.assert_array_equal(w[ok], weights_from_deltas(mixed[ok]))
    for row in np.flatnonzero(~ok):  # each row as computed alone
        np.testing.assert_allclose(w[row], weights_from_deltas(mixed[row]), rtol=1e-15)
    np.testing.assert_allclose(w[3], 0.25)
    # the smallest (non-positive) estimate ranks first, as its delta says
    assert (w[::7, 1] > w[::7][:, [0, 2, 3]].max(axis=1)).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


def test_the_pool_is_shared_between_calls(force_threads: None) -> None:
    lam = np.random.default_rng(3).standard_normal((64, 3, 4))
    sample_deltas(lam)
    first = _parallel._pool
    sample_deltas(lam)
    assert first is not None and _parallel._pool is first


def _deltas_in_child(queue: Any) -> None:
    _parallel.MIN_PARALLEL_ELEMENTS = 1
    lam = np.random.default_rng(4).standard_normal((64, 3, 4))
    queue.put(sample_deltas(lam).sum())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_fresh_pool(force_threads: None) -> None:
    lam = np.random.default_rng(4).standard_normal((64, 3, 4))
    expected = sample_deltas(lam).sum()  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_deltas_in_child, args=(queue,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the child hung or failed using the thread pool"
    assert queue.get(timeout=5) == expected


@pytest.mark.parametrize("m", [3, 4, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_both_chunk_layouts_give_the_same_bits(
    monkeypatch: pytest.MonkeyPatch, m: int, dtype: type
) -> None:
    from smoothie_core import triplet

    lam = np.random.default_rng(m).standard_normal((700, m, 33)).astype(dtype)
    lam[5] = lam[5, 0]  # identical outputs: exactly zero either way
    monkeypatch.setattr(triplet, "_CACHE_RESIDENT_BYTES", 1 << 62)
    candidate_major = sample_deltas(lam)
    monkeypatch.setattr(triplet, "_CACHE_RESIDENT_BYTES", 0)
    sample_major = sample_deltas(lam)
    np.testing.assert_array_equal(candidate_major, sample_major)
    assert (candidate_major[5] == 0).all()
