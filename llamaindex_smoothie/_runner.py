"""Call several candidates concurrently, recording failures instead of losing answers."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

Answers = list[dict[str, str | None]]
Errors = list[dict[str, str]]


def describe_error(err: BaseException) -> str:
    """``"TypeName: message"`` (a timeout gets a readable message)."""
    if isinstance(err, TimeoutError | asyncio.TimeoutError | cf.TimeoutError):
        return "TimeoutError: no answer within the timeout"
    return f"{type(err).__name__}: {err}"


def check_concurrency(max_concurrency: int) -> int:
    if (
        not isinstance(max_concurrency, int)
        or isinstance(max_concurrency, bool)
        or max_concurrency < 1
    ):
        raise ValueError(f"`max_concurrency` must be a positive int; got {max_concurrency!r}.")
    return max_concurrency


def call_all(
    names: Sequence[str], fn: Callable[[str], T], *, timeout: float | None = None
) -> tuple[dict[str, T], dict[str, str]]:
    """Run ``fn(name)`` for every name in threads; results and error messages by name."""
    results: dict[str, T] = {}
    errors: dict[str, str] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, len(names)))
    try:
        # each call runs in a copy of the caller's context, so LlamaIndex spans nest under it
        futures = {pool.submit(contextvars.copy_context().run, fn, name): name for name in names}
        done, pending = cf.wait(futures, timeout=timeout)
        for fut in pending:
            fut.cancel()
            errors[futures[fut]] = f"TimeoutError: no answer within {timeout} s"
        for fut in done:
            name = futures[fut]
            try:
                results[name] = fut.result()
            except Exception as err:
                errors[name] = describe_error(err)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results, errors


async def acall_all(
    names: Sequence[str],
    fn: Callable[[str], Awaitable[T]],
    *,
    timeout: float | None = None,
) -> tuple[dict[str, T], dict[str, str]]:
    """Await ``fn(name)`` for every name concurrently; results and error messages by name."""

    async def one(name: str) -> T:
        return await asyncio.wait_for(fn(name), timeout)

    outcomes = await asyncio.gather(*(one(n) for n in names), return_exceptions=True)
    results: dict[str, T] = {}
    errors: dict[str, str] = {}
    for name, out in zip(names, outcomes, strict=True):
        if isinstance(out, asyncio.CancelledError):
            raise out
        if isinstance(out, BaseException):
            errors[name] = describe_error(out)
        else:
            results[name] = out
    return results, errors


def run_grid(
    inputs: Sequence[str],
    names: Sequence[str],
    fn: Callable[[str, str], str],
    *,
    max_concurrency: int = 4,
    show_progress: bool = True,
    desc: str = "Smoothie calibration",
) -> tuple[Answers, Errors]:
    """``fn(name, input)`` for every input and candidate with at most ``max_concurrency`` threads.

    Returns ``answers[s][name]`` (None where the call failed) and ``errors[s][name]``.
    """
    check_concurrency(max_concurrency)
    answers: Answers = [dict.fromkeys(names) for _ in inputs]
    errors: Errors = [{} for _ in inputs]
    total = len(inputs) * len(names)
    with (
        cf.ThreadPoolExecutor(max_workers=max_concurrency) as pool,
        tqdm(total=total, desc=desc, disable=not show_progress) as bar,
    ):
        futures = {
            pool.submit(contextvars.copy_context().run, fn, name, text): (s, name)
            for s, text in enumerate(inputs)
            for name in names
        }
        for fut in cf.as_completed(futures):
            s, name = futures[fut]
            try:
                answers[s][name] = fut.result()
            except Exception as err:
                errors[s][name] = describe_error(err)
            bar.update(1)
    return answers, errors


async def arun_grid(
    inputs: Sequence[str],
    names: Sequence[str],
    fn: Callable[[str, str], Awaitable[str]],
    *,
    max_concurrency: int = 4,
    show_progress: bool = True,
    desc: str = "Smoothie calibration",
) -> tuple[Answers, Errors]:
    """Async :func:`run_grid`: at most ``max_concurrency`` awaits in flight."""
    check_concurrency(max_concurrency)
    answers: Answers = [dict.fromkeys(names) for _ in inputs]
    errors: Errors = [{} for _ in inputs]
    sem = asyncio.Semaphore(max_concurrency)
    with tqdm(total=len(inputs) * len(names), desc=desc, disable=not show_progress) as bar:

        async def one(s: int, name: str) -> None:
            async with sem:
                try:
                    answers[s][name] = await fn(name, inputs[s])
                except Exception as err:
                    errors[s][name] = describe_error(err)
                finally:
                    bar.update(1)

        await asyncio.gather(*(one(s, n) for s in range(len(inputs)) for n in names))
    return answers, errors
