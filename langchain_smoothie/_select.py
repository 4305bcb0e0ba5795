"""Select mode: every candidate answers (concurrently), Smoothie picks the best answer.

The calls go through :func:`smoothie_core.orchestration.call_each` /
:func:`~smoothie_core.orchestration.acall_each` (per-attempt ``timeout``,
``max_retries``, ``max_concurrency``); this module only turns candidates into callables
that invoke them as child runs of the router's run, and the answers into a message.
Sync and async share everything but the call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import Runnable

from langchain_smoothie._callbacks import aemit, child_config, emit
from langchain_smoothie._candidates import (
    ainvoke_candidate,
    bound_runnable,
    for_call,
    invoke_candidate,
)
from langchain_smoothie._render import answer_text, input_text
from smoothie_core.exceptions import AllCandidatesFailedError
from smoothie_core.orchestration import CallResults, acall_each, call_each, to_thread

if TYPE_CHECKING:
    from langchain_smoothie.chat_models import SmoothieRouter

__all__ = ["agenerate", "generate"]

RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun


class _FanOut:
    """One select-mode request: what to call, and how to turn the answers into a message."""

    def __init__(
        self,
        owner: SmoothieRouter,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: RunManager | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        self.owner = owner
        self.messages = messages
        self.stop = stop if stop is not None else owner.stop
        self.run_manager = run_manager
        settings = owner.forwarded_settings
        self.runnables: dict[str, Runnable[Any, Any]] = {
            name: bound_runnable(for_call(model, settings, child=True), kwargs)
            for name, model in owner.models.items()
        }

    def call(self, name: str) -> AIMessage:
        config = child_config(self.run_manager, name)
        return invoke_candidate(self.runnables[name], name, self.messages, config, self.stop)

    async def acall(self, name: str) -> AIMessage:
        config = child_config(self.run_manager, name)
        return await ainvoke_candidate(self.runnables[name], name, self.messages, config, self.stop)

    def finish(self, out: CallResults[str, AIMessage]) -> AIMessage:
        """Score the answers (Smoothie) and return the chosen one, annotated."""
        if not out.results:
            raise AllCandidatesFailedError(out.errors)
        answers: dict[str, str | None] = {n: answer_text(m) for n, m in out.results.items()}
        decision = self.owner._core_select(input_text(self.messages), answers, errors=out.errors)
        chosen = out.results[decision.selected]
        usage = {
            n: (dict(m.usage_metadata) if m.usage_metadata else None)
            for n, m in out.results.items()
        }
        meta = {**decision.to_dict(), "usage": usage}
        # Each candidate's child run reported its own usage; repeating the winner's on the
        # router's message would count it twice (e.g. in get_usage_metadata_callback).
        return chosen.model_copy(
            update={
                "usage_metadata": None,
                "response_metadata": {**chosen.response_metadata, "smoothie": meta},
            }
        )


def generate(
    owner: SmoothieRouter,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: CallbackManagerForLLMRun | None,
    kwargs: Mapping[str, Any],
) -> AIMessage:
    """Call every candidate, pick the best answer, send the decision event."""
    job = _FanOut(owner, messages, stop, run_manager, kwargs)
    out = call_each(owner.candidate_names, job.call, owner.call_policy)
    message = job.finish(out)
    emit(run_manager, message.response_metadata["smoothie"])
    return message


async def agenerate(
    owner: SmoothieRouter,
    messages: list[BaseMessage],
    stop: list[str] | None,
    run_manager: AsyncCallbackManagerForLLMRun | None,
    kwargs: Mapping[str, Any],
) -> AIMessage:
    """Async :func:`generate` (embedding and scoring run in a worker thread)."""
    job = _FanOut(owner, messages, stop, run_manager, kwargs)
    out = await acall_each(owner.candidate_names, job.acall, owner.call_policy)
    message = await to_thread(job.finish, out)
    await aemit(run_manager, message.response_metadata["smoothie"])
    return message
