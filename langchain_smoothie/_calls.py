"""Call several candidates on one input, concurrently, recording failures and timeouts.

Sync calls run on a bounded thread pool (contextvars copied, so tracing context
follows); async calls use ``asyncio.gather`` under a semaphore. A candidate that
raises is retried ``max_retries`` times; one that exceeds ``timeout`` seconds is
recorded as timed out (a sync call cannot be interrupted: its thread finishes in the
background and its result is discarded). No answer that arrived is ever dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ContextThreadPoolExecutor

__all__ = ["CallOutcome", "acall_all", "call_all"]

ConfigFor = Callable[[str], RunnableConfig]


@dataclass
class CallOutcome:
    """Answers (name -> message, in candidate order) and errors (name -> message)."""

    messages: dict[str, AIMessage] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_message(name: str, out: Any) -> AIMessage:
    if not isinstance(out, AIMessage):
        raise TypeError(f"candidate {name!r} returned {type(out).__name__}, expected an AIMessage")
    return out


def _invoke_with_retries(
    name: str,
    runnable: Runnable[Any, Any],
    messages: list[BaseMessage],
    config: RunnableConfig,
    stop: list[str] | None,
    max_retries: int,
) -> AIMessage:
    for attempt in range(max_retries + 1):
        try:
            return _check_message(name, runnable.invoke(messages, config, stop=stop))
        except Exception:
            if attempt == max_retries:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def call_all(
    runnables: Mapping[str, Runnable[Any, Any]],
    messages: list[BaseMessage],
    *,
    config_for: ConfigFor,
    stop: list[str] | None = None,
    max_concurrency: int | None = None,
    timeout: float | None = None,
    max_retries: int = 0,
) -> CallOutcome:
    """Invoke every runnable on ``messages`` on a bounded thread pool."""
    names = list(runnables)
    workers = max(1, min(max_concurrency or len(names), len(names)))
    started: dict[str, float] = {}
    outcome = CallOutcome()
    results: dict[str, AIMessage] = {}

    def run(name: str) -> AIMessage:
        started[name] = time.monotonic()
        return _invoke_with_retries(
            name, runnables[name], messages, config_for(name), stop, max_retries
        )

    executor = ContextThreadPoolExecutor(max_workers=workers)
    try:
        futures: dict[Future[AIMessage], str] = {executor.submit(run, n): n for n in names}
        pending = set(futures)
        while pending:
            wait_for = None
            if timeout is not None:
                now = time.monotonic()
                left = [
                    started[futures[f]] + timeout - now for f in pending if futures[f] in started
                ]
                wait_for = max(0.0, min(left)) if left else 0.01
            done, pending = wait(pending, timeout=wait_for, return_when=FIRST_COMPLETED)
            for f in done:
                exc = f.exception()
                if exc is None:
                    results[futures[f]] = f.result()
                else:
                    outcome.errors[futures[f]] = _describe(exc)
            if timeout is not None:
                now = time.monotonic()
                for f in list(pending):
                    t0 = started.get(futures[f])
                    if t0 is not None and now - t0 >= timeout:
                        pending.discard(f)
                        outcome.errors[futures[f]] = f"TimeoutError: no answer within {timeout} s"
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
    outcome.messages = {n: results[n] for n in names if n in results}
    outcome.errors = {n: outcome.errors[n] for n in names if n in outcome.errors}
    return outcome


async def acall_all(
    runnables: Mapping[str, Runnable[Any, Any]],
    messages: list[BaseMessage],
    *,
    config_for: ConfigFor,
    stop: list[str] | None = None,
    max_concurrency: int | None = None,
    timeout: float | None = None,
    max_retries: int = 0,
) -> CallOutcome:
    """Await every runnable on ``messages`` (``asyncio.gather`` under a semaphore)."""
    names = list(runnables)
    semaphore = asyncio.Semaphore(max(1, max_concurrency or len(names)))

    async def one(name: str) -> AIMessage | str:
        async with semaphore:
            for attempt in range(max_retries + 1):
                try:
                    out = await asyncio.wait_for(
                        runnables[name].ainvoke(messages, config_for(name), stop=stop), timeout
                    )
                    return _check_message(name, out)
                except TimeoutError:
                    return f"TimeoutError: no answer within {timeout} s"
                except Exception as exc:
                    if attempt == max_retries:
                        return _describe(exc)
        raise AssertionError("unreachable")  # pragma: no cover

    results = await asyncio.gather(*(one(n) for n in names))
    outcome = CallOutcome()
    for name, res in zip(names, results, strict=True):
        if isinstance(res, AIMessage):
            outcome.messages[name] = res
        else:
            outcome.errors[name] = res
    return outcome
