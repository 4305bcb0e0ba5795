"""Callbacks: candidates as child runs of the router's run, and the decision event.

Select mode invokes each candidate as a *child run* of the router's run (so traces show
every candidate), tagged :data:`CANDIDATE_TAGS`; the tags are inherited, so the runs
*inside* a candidate (the chat model of a ``prompt | model`` candidate) carry them too.
``SmoothieRouter``'s route mode calls the winner inside the router's own run;
``SmoothieRunnable``'s runs it as a child run tagged :data:`ROUTE_TAGS` (it streams).
Every decision is also sent as the custom callback event :data:`DECISION_EVENT` on the
router's run. The run managers may be an LLM run's (``SmoothieRouter``) or a chain
run's (``SmoothieRunnable``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    AsyncRunManager,
    CallbackManager,
    CallbackManagerForLLMRun,
    RunManager,
)
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig

__all__ = [
    "CANDIDATE_TAGS",
    "DECISION_EVENT",
    "ROUTE_TAGS",
    "aemit",
    "as_chunk",
    "child_config",
    "emit",
    "opened_run",
    "stream_run_manager",
]

#: Name of the custom callback event that carries each decision.
DECISION_EVENT = "smoothie_decision"
#: Tags on candidate child runs. ``nostream`` keeps LangGraph's ``stream_mode="messages"``
#: from showing the candidates' messages as the graph's output.
CANDIDATE_TAGS = ("smoothie:candidate", "nostream")
#: Tags on a route-mode candidate called as a child run (its tokens are the answer's).
ROUTE_TAGS = ("smoothie:candidate",)

AnyRunManager = RunManager | AsyncRunManager


def _child_manager(
    run_manager: AnyRunManager, tags: Sequence[str] = ()
) -> CallbackManager | AsyncCallbackManager:
    """A callback manager whose runs nest under ``run_manager``'s run (LLM run managers
    have no ``get_child``; this mirrors ``ParentRunManager.get_child``). ``tags`` are
    inherited by the runs inside the child run too."""
    cls = AsyncCallbackManager if isinstance(run_manager, AsyncRunManager) else CallbackManager
    manager = cls(handlers=[], parent_run_id=run_manager.run_id)
    manager.set_handlers(run_manager.inheritable_handlers)
    manager.add_tags(run_manager.inheritable_tags)
    manager.add_metadata(run_manager.inheritable_metadata)
    if tags:
        manager.add_tags(list(tags))
    return manager


def child_config(
    run_manager: AnyRunManager | None, name: str, tags: Sequence[str] = CANDIDATE_TAGS
) -> RunnableConfig:
    """The config that runs candidate ``name`` as a child run of ``run_manager``'s run."""
    config: RunnableConfig = {"run_name": name, "metadata": {"smoothie_candidate": name}}
    if run_manager is not None:
        config["callbacks"] = _child_manager(run_manager, tags)
    return config


def emit(run_manager: RunManager | None, data: dict[str, Any]) -> None:
    """Send the decision event on ``run_manager``'s run."""
    if run_manager is not None:
        manager = _child_manager(run_manager)
        assert isinstance(manager, CallbackManager)
        manager.on_custom_event(DECISION_EVENT, data, run_id=run_manager.run_id)


async def aemit(run_manager: AsyncRunManager | None, data: dict[str, Any]) -> None:
    """Async :func:`emit`."""
    if run_manager is not None:
        manager = _child_manager(run_manager)
        assert isinstance(manager, AsyncCallbackManager)
        await manager.on_custom_event(DECISION_EVENT, data, run_id=run_manager.run_id)


#: The run a ``SmoothieRouter.stream``/``astream`` call opened, while LangChain starts
#: ``_stream`` (which it calls without a run manager).
_OPENED_RUN: ContextVar[tuple[UUID, CallbackManager | AsyncCallbackManager] | None] = ContextVar(
    "smoothie_opened_run", default=None
)


@contextmanager
def opened_run(run_id: UUID, manager: CallbackManager | AsyncCallbackManager) -> Iterator[None]:
    """Tell ``_stream``/``_astream`` which run they belong to (see :func:`stream_run_manager`).

    ``BaseChatModel.stream`` opens the run and calls ``_stream`` without its run
    manager; the router needs it to nest the candidates' runs under its own and to send
    the decision event. ``stream`` chooses the run id, configures the same callback
    manager, and holds this context while LangChain starts ``_stream``.
    """
    token = _OPENED_RUN.set((run_id, manager))
    try:
        yield
    finally:
        _OPENED_RUN.reset(token)


def stream_run_manager(
    run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None, *, async_api: bool
) -> CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None:
    """``run_manager`` if LangChain passed one, else a manager for the run that
    ``SmoothieRouter.stream`` opened (same run id, handlers, tags and metadata)."""
    if run_manager is not None:
        return run_manager
    opened = _OPENED_RUN.get()
    if opened is None:
        return None
    run_id, manager = opened
    cls = AsyncCallbackManagerForLLMRun if async_api else CallbackManagerForLLMRun
    return cls(
        run_id=run_id,
        handlers=manager.handlers,
        inheritable_handlers=manager.inheritable_handlers,
        parent_run_id=manager.parent_run_id,
        tags=manager.tags,
        inheritable_tags=manager.inheritable_tags,
        metadata=manager.metadata,
        inheritable_metadata=manager.inheritable_metadata,
    )


def as_chunk(message: AIMessage) -> AIMessageChunk:
    """A finished message as one final stream chunk (tool calls as tool-call chunks)."""
    return AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        tool_call_chunks=[
            {
                "name": tc["name"],
                "args": json.dumps(tc["args"]),
                "id": tc.get("id"),
                "index": i,
                "type": "tool_call_chunk",
            }
            for i, tc in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        id=message.id,
        chunk_position="last",
    )
