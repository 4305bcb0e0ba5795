"""smoothie_core.orchestration: fan-out, route chain and calibration grid, sync and async."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from smoothie_core.exceptions import AllCandidatesFailedError
from smoothie_core.orchestration import (
    CallPolicy,
    acall_each,
    acall_first,
    acall_grid,
    call_each,
    call_first,
    call_grid,
    call_on_loop,
    describe_error,
    fallback_order,
)

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


class Flaky:
    """Fails the first ``fails[name]`` attempts of each name, then answers."""

    def __init__(self, fails: dict[str, int] | None = None, sleep: dict[str, float] | None = None):
        self.fails = dict(fails or {})
        self.sleep = dict(sleep or {})
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.live = 0
        self.peak = 0

    def __call__(self, name: str) -> str:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            n = self.calls[name]
            self.live += 1
            self.peak = max(self.peak, self.live)
        try:
            time.sleep(self.sleep.get(name, 0.0))
            if n <= self.fails.get(name, 0):
                raise ConnectionError(f"{name} attempt {n} failed")
            return f"{name}:{VAR.get()}"
        finally:
            with self.lock:
                self.live -= 1

    async def acall(self, name: str) -> str:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            n = self.calls[name]
            self.live += 1
            self.peak = max(self.peak, self.live)
        try:
            await asyncio.sleep(self.sleep.get(name, 0.0))
            if n <= self.fails.get(name, 0):
                raise ConnectionError(f"{name} attempt {n} failed")
            return f"{name}:{VAR.get()}"
        finally:
            with self.lock:
                self.live -= 1


def test_policy_validation_messages() -> None:
    with pytest.raises(ValueError, match="`max_retries` must be an int >= 0; got -1"):
        CallPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="`max_concurrency` must be a positive int; got 0"):
        CallPolicy(max_concurrency=0)
    with pytest.raises(ValueError, match="`timeout` must be None or a positive number"):
        CallPolicy(timeout=True)  # type: ignore[arg-type]
    assert CallPolicy(timeout=2).timeout == 2.0


def test_fan_out_keeps_order_records_failures_and_carries_context() -> None:
    fn = Flaky(fails={"b": 5})
    token = VAR.set("caller")
    try:
        out = call_each(["c", "b", "a"], fn, CallPolicy(max_retries=1))
    finally:
        VAR.reset(token)
    assert list(out.results) == ["c", "a"]
    assert out.results["a"] == "a:caller"  # the caller's contextvars reach the threads
    assert out.errors == {"b": "ConnectionError: b attempt 2 failed"}
    assert fn.calls == {"a": 1, "b": 2, "c": 1}


def test_retries_recover_a_flaky_candidate() -> None:
    fn = Flaky(fails={"a": 2})
    out = call_each(["a", "b", "c"], fn, CallPolicy(max_retries=2))
    assert set(out.results) == {"a", "b", "c"} and not out.errors
    assert fn.calls["a"] == 3


def test_timeout_is_per_attempt_and_late_answers_are_discarded() -> None:
    fn = Flaky(sleep={"slow": 1.0})
    t0 = time.monotonic()
    out = call_each(["fast", "slow"], fn, CallPolicy(timeout=0.2))
    assert time.monotonic() - t0 < 0.9  # did not wait for the slow thread
    assert out.results == {"fast": "fast:unset"}
    assert out.errors == {"slow": "TimeoutError: no answer within 0.2 s"}
    time.sleep(1.0)  # the abandoned attempt finishes in the background, harmlessly
    assert "slow" not in out.results


def test_concurrency_is_bounded() -> None:
    fn = Flaky(sleep={n: 0.05 for n in "abcdefgh"})
    out = call_each(list("abcdefgh"), fn, CallPolicy(max_concurrency=3))
    assert len(out.results) == 8
    assert fn.peak <= 3


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="keys must be distinct"):
        call_each(["a", "a"], Flaky())


def test_keyboard_interrupt_in_a_call_is_not_swallowed() -> None:
    def fn(name: str) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call_each(["a"], fn)


def test_route_chain_falls_back_in_order_and_raises_when_all_fail() -> None:
    fn = Flaky(fails={"b": 9})
    name, value, errors = call_first(["b", "a", "c"], fn)
    assert (name, value) == ("a", "a:unset")
    assert errors == {"b": "ConnectionError: b attempt 1 failed"}
    with pytest.raises(AllCandidatesFailedError) as info:
        call_first(["b"], fn)
    assert list(info.value.errors) == ["b"]


def test_fallback_order_ranks_by_score_then_candidate_order() -> None:
    assert fallback_order("c", {"a": 0.3, "b": 0.3, "c": 0.1}) == ["c", "a", "b"]
    assert fallback_order("a", {"b": 0.3, "a": 0.5, "c": 0.3}, names=["a", "c", "b"]) == [
        "a",
        "c",
        "b",
    ]


def test_grid_fills_answers_and_errors() -> None:
    def fn(name: str, prompt: str) -> str:
        if name == "b" and prompt == "q2":
            raise RuntimeError("boom")
        return f"{name}/{prompt}"

    grid = call_grid(["q1", "q2"], ["a", "b"], fn, CallPolicy(max_concurrency=2), progress=False)
    assert grid.answers == [{"a": "a/q1", "b": "b/q1"}, {"a": "a/q2", "b": None}]
    assert grid.errors == [{}, {"b": "RuntimeError: boom"}]
    assert grid.failures == {"a": 0, "b": 1}


def test_describe_error() -> None:
    assert describe_error(KeyError("x")) == "KeyError: 'x'"
    assert describe_error(RuntimeError()) == "RuntimeError"


async def test_async_fan_out_retries_timeouts_and_bound() -> None:
    fn = Flaky(fails={"b": 1}, sleep={"slow": 1.0, "a": 0.02, "c": 0.02, "d": 0.02})
    token = VAR.set("async-caller")
    try:
        out = await acall_each(
            ["a", "b", "slow", "c", "d"],
            fn.acall,
            CallPolicy(timeout=0.3, max_retries=1, max_concurrency=2),
        )
    finally:
        VAR.reset(token)
    assert out.results == {
        "a": "a:async-caller",
        "b": "b:async-caller",
        "c": "c:async-caller",
        "d": "d:async-caller",
    }
    assert out.errors == {"slow": "TimeoutError: no answer within 0.3 s"}
    assert fn.calls["slow"] == 2  # a timeout is retried like any failure
    assert fn.peak <= 2


async def test_async_chain_and_grid() -> None:
    fn = Flaky(fails={"a": 9})
    assert (await acall_first(["a", "b"], fn.acall))[:2] == ("b", "b:unset")
    with pytest.raises(AllCandidatesFailedError):
        await acall_first(["a"], fn.acall)

    async def answer(name: str, prompt: str) -> str:
        return name + prompt

    grid = await acall_grid(["x", "y"], ["a", "b"], answer, progress=False)
    assert grid.answers == [{"a": "ax", "b": "bx"}, {"a": "ay", "b": "by"}]


async def test_async_cancellation_propagates() -> None:
    async def hang(name: str) -> str:
        await asyncio.sleep(10)
        return name

    task = asyncio.create_task(acall_each(["a", "b"], hang))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_call_on_loop_runs_on_the_loop_with_the_callers_context() -> None:
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    async def where() -> tuple[int, str]:
        await asyncio.sleep(0)
        return threading.get_ident(), VAR.get()

    def worker() -> tuple[int, str]:
        VAR.set("worker")  # the worker thread's context follows the call onto the loop
        return call_on_loop(loop, where)

    # many workers at once (a judge fan-out): each sees its own context
    results = await asyncio.gather(*(asyncio.to_thread(worker) for _ in range(4)))
    assert results == [(loop_thread, "worker")] * 4


async def test_call_on_loop_timeout_cancels_on_the_loop_and_refuses_the_loop_thread() -> None:
    loop = asyncio.get_running_loop()
    cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.to_thread(call_on_loop, loop, slow, 0.1)
    assert time.monotonic() - t0 < 2 and cancelled.is_set()

    async def fine() -> str:
        return "ok"

    with pytest.raises(RuntimeError, match="own thread, which it would block"):
        call_on_loop(loop, fine)
    stopped = asyncio.new_event_loop()
    try:
        with pytest.raises(RuntimeError, match="needs a running event loop"):
            await asyncio.to_thread(call_on_loop, stopped, fine)
    finally:
        stopped.close()
