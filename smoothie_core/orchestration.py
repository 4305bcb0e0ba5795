"""Calling candidates: one implementation for every front door (framework-free).

A front door (LangChain, LlamaIndex, the CLI) turns its framework's objects into plain
callables and hands them here; this module decides *how* they are called:

* :func:`call_each` / :func:`acall_each` — the select-mode fan-out: call every candidate
  once, with bounded concurrency, a per-attempt ``timeout`` and ``max_retries``; no
  answer that arrived is ever dropped, and every failure is recorded by name.
* :func:`call_first` / :func:`acall_first` — the route-mode chain: call candidates in
  :func:`fallback_order` until one answers.
* :func:`call_grid` / :func:`acall_grid` — the calibration grid: every candidate on
  every prompt, with the same policy and a progress bar.

The same :class:`CallPolicy` (``timeout``, ``max_retries``, ``max_concurrency``) is the
option set of both front doors, with the same defaults.

A synchronous call cannot be interrupted: an attempt that exceeds ``timeout`` is
abandoned (recorded as a ``TimeoutError``, retried if attempts remain) and its thread
finishes in the background, its result discarded. Async attempts are cancelled.
Each call runs in a copy of the caller's :mod:`contextvars` context, so tracing
context (LangChain run trees, LlamaIndex spans) follows it into the threads.

Examples
--------
>>> policy = CallPolicy(max_retries=1)
>>> attempts = {"b": 0}
>>> def answer(name):
...     if name == "b" and attempts["b"] == 0:
...         attempts["b"] += 1
...         raise ConnectionError("flaky")
...     if name == "c":
...         raise ValueError("always down")
...     return name.upper()
>>> out = call_each(["a", "b", "c"], answer, policy)
>>> out.results, out.errors
({'a': 'A', 'b': 'B'}, {'c': 'ValueError: always down'})
>>> fallback_order("b", {"a": 0.2, "b": 0.5, "c": 0.3})
['b', 'c', 'a']
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from smoothie_core.exceptions import AllCandidatesFailedError

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "CallPolicy",
    "CallResults",
    "GridResults",
    "acall_each",
    "acall_first",
    "acall_grid",
    "call_each",
    "call_first",
    "call_grid",
    "call_on_loop",
    "describe_error",
    "fallback_order",
    "to_thread",
]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

#: Calls in flight at once, unless a front door is given another ``max_concurrency``.
DEFAULT_MAX_CONCURRENCY = 8


@dataclass(frozen=True)
class CallPolicy:
    """How candidates are called: the same options, defaults and meaning on every front door.

    Parameters
    ----------
    timeout : float or None, default=None
        Seconds one attempt may take (None: no limit). A timed-out attempt counts as a
        failure (``"TimeoutError: no answer within ... s"``) and is retried if attempts
        remain, so the worst case is ``(max_retries + 1) * timeout``.
    max_retries : int, default=0
        Further attempts after a failed one (errors and timeouts alike).
    max_concurrency : int, default=8
        Attempts in flight at once, for a fan-out and for a calibration grid.

    Examples
    --------
    >>> CallPolicy(timeout=30, max_retries=2)
    CallPolicy(timeout=30.0, max_retries=2, max_concurrency=8)
    >>> CallPolicy(timeout=0)
    Traceback (most recent call last):
    ...
    ValueError: `timeout` must be None or a positive number of seconds; got 0.
    """

    timeout: float | None = None
    max_retries: int = 0
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY

    def __post_init__(self) -> None:
        t = self.timeout
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0:
                raise ValueError(
                    f"`timeout` must be None or a positive number of seconds; got {t!r}."
                )
            object.__setattr__(self, "timeout", float(t))
        r = self.max_retries
        if isinstance(r, bool) or not isinstance(r, int) or r < 0:
            raise ValueError(f"`max_retries` must be an int >= 0; got {r!r}.")
        c = self.max_concurrency
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"`max_concurrency` must be a positive int; got {c!r}.")


@dataclass
class CallResults(Generic[K, T]):
    """Results and error messages by key, both in the order the keys were given."""

    results: dict[K, T] = field(default_factory=dict)
    errors: dict[K, str] = field(default_factory=dict)


@dataclass
class GridResults(Generic[T]):
    """A calibration grid: ``answers[s][name]`` (None where the call failed) and
    ``errors[s][name]`` (only the failed calls)."""

    answers: list[dict[str, T | None]]
    errors: list[dict[str, str]]

    @property
    def failures(self) -> dict[str, int]:
        """Failed calls per candidate."""
        out: dict[str, int] = {name: 0 for name in (self.answers[0] if self.answers else {})}
        for row in self.errors:
            for name in row:
                out[name] = out.get(name, 0) + 1
        return out


def describe_error(exc: BaseException, timeout: float | None = None) -> str:
    """``"TypeName: message"`` (``"TypeName"`` when there is no message).

    Examples
    --------
    >>> describe_error(ValueError("bad input"))
    'ValueError: bad input'
    >>> describe_error(TimeoutError(), timeout=2.5)
    'TimeoutError: no answer within 2.5 s'
    """
    if isinstance(exc, TimeoutError) and not str(exc):
        return (
            f"TimeoutError: no answer within {timeout:g} s"
            if timeout is not None
            else "TimeoutError"
        )
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def fallback_order(
    selected: str, scores: Mapping[str, float], names: Sequence[str] | None = None
) -> list[str]:
    """``selected`` first, then the others by decreasing score (ties: candidate order).

    ``names`` fixes the candidate order for ties (default: the order of ``scores``);
    candidates absent from ``scores`` are not called.
    """
    order = list(names) if names is not None else list(scores)
    rank = {n: i for i, n in enumerate(order)}
    rest = sorted(
        (n for n in scores if n != selected),
        key=lambda n: (-scores[n], rank.get(n, len(rank))),
    )
    return [selected, *rest]


# ------------------------------------------------------------------ sync engine
def _run_keys(
    keys: Sequence[K],
    fn: Callable[[K], T],
    policy: CallPolicy,
    on_done: Callable[[K], None] | None,
) -> CallResults[K, T]:
    """Every key once (plus retries), at most ``max_concurrency`` live attempts."""
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must be distinct; got {list(keys)}.")
    timeout = policy.timeout
    pending: deque[tuple[K, int]] = deque((k, 0) for k in keys)
    live: dict[K, tuple[object, float, int]] = {}  # key -> (token, start, attempt)
    done: queue.SimpleQueue[tuple[K, object, bool, Any]] = queue.SimpleQueue()
    results: dict[K, T] = {}
    errors: dict[K, str] = {}

    def start(key: K, attempt: int) -> None:
        token = object()
        ctx = contextvars.copy_context()

        def target() -> None:
            try:
                value = ctx.run(fn, key)
            except BaseException as exc:  # recorded, never lost in a thread
                done.put((key, token, False, exc))
            else:
                done.put((key, token, True, value))

        live[key] = (token, time.monotonic(), attempt)
        threading.Thread(target=target, name=f"smoothie-call-{key}", daemon=True).start()

    def finish(key: K, ok: bool, value: Any) -> None:
        _token, _t0, attempt = live.pop(key)
        if ok:
            results[key] = value
        elif attempt < policy.max_retries:
            pending.appendleft((key, attempt + 1))
            return
        else:
            if isinstance(value, (KeyboardInterrupt, SystemExit)):
                raise value
            errors[key] = describe_error(value, timeout)
        if on_done is not None:
            on_done(key)

    while pending or live:
        while pending and len(live) < policy.max_concurrency:
            start(*pending.popleft())
        wait_for: float | None = None
        if timeout is not None:
            now = time.monotonic()
            wait_for = max(0.0, min(t0 + timeout for _, t0, _ in live.values()) - now)
        try:
            key, token, ok, value = done.get(timeout=wait_for)
        except queue.Empty:
            now = time.monotonic()
            assert timeout is not None
            for k in [k for k, (_, t0, _) in live.items() if now - t0 >= timeout]:
                finish(k, False, TimeoutError())  # abandoned: its thread ends on its own
            continue
        if key in live and live[key][0] is token:
            finish(key, ok, value)
        # else: a late answer of an abandoned attempt; discarded
    order = {k: i for i, k in enumerate(keys)}
    return CallResults(
        dict(sorted(results.items(), key=lambda kv: order[kv[0]])),
        dict(sorted(errors.items(), key=lambda kv: order[kv[0]])),
    )


def call_each(
    names: Sequence[K],
    fn: Callable[[K], T],
    policy: CallPolicy | None = None,
    *,
    on_done: Callable[[K], None] | None = None,
) -> CallResults[K, T]:
    """Call ``fn(name)`` for every name concurrently (the select-mode fan-out).

    Returns every result that arrived and an error message for every name that
    failed after its retries (or timed out). Never raises for a failing candidate.
    ``on_done(name)`` is called once per name when it is settled (for progress bars).
    """
    return _run_keys(list(names), fn, policy or CallPolicy(), on_done)


def call_first(
    order: Sequence[str], fn: Callable[[str], T], policy: CallPolicy | None = None
) -> tuple[str, T, dict[str, str]]:
    """Call candidates one at a time in ``order`` until one answers (the route-mode chain).

    Returns ``(name, result, errors of the ones tried before)``.

    Raises
    ------
    AllCandidatesFailedError
        When every candidate in ``order`` failed.
    """
    pol = policy or CallPolicy()
    errors: dict[str, str] = {}
    for name in order:
        out = _run_keys([name], fn, pol, None)
        if name in out.results:
            return name, out.results[name], errors
        errors[name] = out.errors[name]
    raise AllCandidatesFailedError(errors)


def call_grid(
    inputs: Sequence[Any],
    names: Sequence[str],
    fn: Callable[[str, Any], T],
    policy: CallPolicy | None = None,
    *,
    progress: bool = True,
    desc: str = "Smoothie calibration",
) -> GridResults[T]:
    """``fn(name, inputs[s])`` for every prompt and candidate (the calibration grid).

    Bounded by ``policy.max_concurrency`` with the policy's timeout and retries; a tqdm
    progress bar (``progress=False`` hides it). Failures are recorded, not raised.
    """
    keys = [(s, name) for s in range(len(inputs)) for name in names]
    with _bar(len(keys), desc, progress) as bar:
        out = _run_keys(
            keys, lambda k: fn(k[1], inputs[k[0]]), policy or CallPolicy(), lambda _k: bar.update(1)
        )
    return _grid(len(inputs), names, out)


# ----------------------------------------------------------------- async engine
async def _arun(
    keys: Sequence[K],
    fn: Callable[[K], Awaitable[T]],
    policy: CallPolicy,
    on_done: Callable[[K], None] | None,
) -> CallResults[K, T]:
    if len(set(keys)) != len(keys):
        raise ValueError(f"keys must be distinct; got {list(keys)}.")
    sem = asyncio.Semaphore(policy.max_concurrency)

    async def one(key: K) -> T:
        last: BaseException | None = None
        try:
            for _ in range(policy.max_retries + 1):
                async with sem:
                    try:
                        return await asyncio.wait_for(fn(key), policy.timeout)
                    except (TimeoutError, Exception) as exc:
                        last = exc
            assert last is not None
            raise last
        finally:
            if on_done is not None:
                on_done(key)

    settled = await asyncio.gather(*(one(k) for k in keys), return_exceptions=True)
    out: CallResults[K, T] = CallResults()
    for key, res in zip(keys, settled, strict=True):
        if isinstance(res, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            raise res
        if isinstance(res, BaseException):
            out.errors[key] = describe_error(res, policy.timeout)
        else:
            out.results[key] = res
    return out


async def acall_each(
    names: Sequence[K],
    fn: Callable[[K], Awaitable[T]],
    policy: CallPolicy | None = None,
    *,
    on_done: Callable[[K], None] | None = None,
) -> CallResults[K, T]:
    """Async :func:`call_each` (``asyncio.gather`` under a semaphore)."""
    return await _arun(list(names), fn, policy or CallPolicy(), on_done)


async def acall_first(
    order: Sequence[str], fn: Callable[[str], Awaitable[T]], policy: CallPolicy | None = None
) -> tuple[str, T, dict[str, str]]:
    """Async :func:`call_first`."""
    pol = policy or CallPolicy()
    errors: dict[str, str] = {}
    for name in order:
        out = await _arun([name], fn, pol, None)
        if name in out.results:
            return name, out.results[name], errors
        errors[name] = out.errors[name]
    raise AllCandidatesFailedError(errors)


async def acall_grid(
    inputs: Sequence[Any],
    names: Sequence[str],
    fn: Callable[[str, Any], Awaitable[T]],
    policy: CallPolicy | None = None,
    *,
    progress: bool = True,
    desc: str = "Smoothie calibration",
) -> GridResults[T]:
    """Async :func:`call_grid`."""
    keys = [(s, name) for s in range(len(inputs)) for name in names]
    with _bar(len(keys), desc, progress) as bar:
        out = await _arun(
            keys, lambda k: fn(k[1], inputs[k[0]]), policy or CallPolicy(), lambda _k: bar.update(1)
        )
    return _grid(len(inputs), names, out)


# -------------------------------------------------------------------- helpers
async def to_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """:func:`asyncio.to_thread` that keeps library warnings pointing at the caller.

    The worker thread's stack holds no frame of the user's code; the caller's frame is
    captured first (:func:`smoothie_core.diagnostics.capture_warning_origin`) and travels
    in the copied context, so a warning raised in the thread points at the user's ``await``.
    """
    from smoothie_core.diagnostics import _ORIGIN, capture_warning_origin

    token = capture_warning_origin()
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    finally:
        _ORIGIN.reset(token)


def call_on_loop(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[[], Awaitable[T]],
    timeout: float | None = None,
) -> T:
    """``await fn()`` on ``loop`` (running in another thread); this thread waits for it.

    For synchronous code that runs in a worker thread (:func:`to_thread`) during an
    async call and must itself make async calls, e.g. a peer-review scorer asking judge
    models during ``ainvoke``: each call runs on the caller's event loop, with its async
    clients and callback handlers, in a copy of this thread's :mod:`contextvars`
    context (so tracing context follows). With ``timeout`` the call is cancelled on the
    loop once it takes longer (``TimeoutError`` here).

    Raises
    ------
    RuntimeError
        When called on ``loop``'s own thread (waiting would block the loop forever) or
        when ``loop`` is not running.

    Examples
    --------
    >>> async def main():
    ...     loop = asyncio.get_running_loop()
    ...     async def double():
    ...         return 21 * 2
    ...     return await asyncio.to_thread(call_on_loop, loop, double)
    >>> asyncio.run(main())
    42
    """
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError(
            "call_on_loop was called on the event loop's own thread, which it would block "
            "forever; call it from a worker thread (e.g. orchestration.to_thread)."
        )
    if not loop.is_running():
        raise RuntimeError("call_on_loop needs a running event loop; got one that is not running.")

    async def bounded() -> T:
        return await asyncio.wait_for(fn(), timeout)

    # run_coroutine_threadsafe schedules with a copy of this thread's context
    return asyncio.run_coroutine_threadsafe(bounded(), loop).result()


def _bar(total: int, desc: str, progress: bool) -> Any:
    from tqdm import tqdm  # not tqdm.auto: it warns in notebooks without ipywidgets

    return tqdm(total=total, desc=desc, disable=not progress, unit="call")


def _grid(n: int, names: Sequence[str], out: CallResults[tuple[int, str], T]) -> GridResults[T]:
    answers: list[dict[str, T | None]] = [dict.fromkeys(names) for _ in range(n)]
    errors: list[dict[str, str]] = [{} for _ in range(n)]
    for (s, name), value in out.results.items():
        answers[s][name] = value
    for (s, name), msg in out.errors.items():
        errors[s][name] = msg
    return GridResults(answers, errors)
