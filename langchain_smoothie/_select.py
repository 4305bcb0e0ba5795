"""Select mode: every candidate answers (concurrently), Smoothie picks the best answer.

The calls go through :func:`smoothie_core.orchestration.call_each` /
:func:`~smoothie_core.orchestration.acall_each` (per-attempt ``timeout``,
``max_retries``, ``max_concurrency``); a :class:`~langchain_smoothie._adapters.Request`
says how each candidate is called on the input (a chat model on messages, or any
runnable on its input) and how its answer reads. ``SmoothieRouter`` and
``SmoothieRunnable`` share this module. Sync and async share everything but the call.
With ``scorer="peer_review"`` the scorer also asks the judges (``_judges``), as child
runs of the request's run.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from langchain_smoothie import _judges
from langchain_smoothie._adapters import Request
from langchain_smoothie._callbacks import aemit, emit
from smoothie_core.exceptions import AllCandidatesFailedError
from smoothie_core.orchestration import CallResults, acall_each, call_each, to_thread

if TYPE_CHECKING:
    from langchain_smoothie._base import SmoothieBase

__all__ = ["agenerate", "generate"]


def _finish(
    owner: SmoothieBase,
    request: Request,
    out: CallResults[str, Any],
    loop: asyncio.AbstractEventLoop | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Score the answers (Smoothie); the chosen one, annotated, and the decision.

    ``loop``: the caller's event loop on the async path (judges are ``ainvoke``-d on it
    from this worker thread)."""
    if not out.results:
        raise AllCandidatesFailedError(out.errors)
    answers: dict[str, str | None] = {n: request.answer_text(a) for n, a in out.results.items()}
    judging = _judges.for_request(owner, request, loop)  # None unless scorer="peer_review"
    context = None if judging is None else judging.context
    decision = owner._core_select(request.text, answers, errors=out.errors, context=context)
    usage = {n: request.usage(a) for n, a in out.results.items()}
    meta = {**decision.to_dict(), "usage": usage}
    if judging is not None:
        # each judge's child run reported its own usage: shown here, never re-reported
        meta["judge_usage"] = judging.usage
    return request.selected(out.results[decision.selected], meta), meta


def generate(owner: SmoothieBase, request: Request) -> Any:
    """Call every candidate, pick the best answer, send the decision event."""
    out = call_each(owner.candidate_names, request.call, owner.call_policy)
    answer, meta = _finish(owner, request, out)
    emit(request.sync_manager, meta)
    return answer


async def agenerate(owner: SmoothieBase, request: Request) -> Any:
    """Async :func:`generate` (embedding and scoring run in a worker thread)."""
    out = await acall_each(owner.candidate_names, request.acall, owner.call_policy)
    loop = asyncio.get_running_loop()
    answer, meta = await to_thread(_finish, owner, request, out, loop)
    await aemit(request.async_manager, meta)
    return answer
