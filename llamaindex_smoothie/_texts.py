"""Turn LlamaIndex objects (responses, nodes, messages) into the texts Smoothie embeds."""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.base.response.schema import (
    RESPONSE_TYPE,
    AsyncStreamingResponse,
    PydanticResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.schema import NodeWithScore

Answered = Response | PydanticResponse


class EmptyAnswerError(ValueError):
    """A candidate returned no text."""


def _text(response: Answered) -> str:
    if isinstance(response, PydanticResponse):
        text = str(response)
    else:
        text = "" if response.response is None else str(response.response)
    if not text.strip():
        raise EmptyAnswerError("the query engine returned an empty response")
    return text


def settle_response(response: RESPONSE_TYPE) -> tuple[Answered, str]:
    """A complete response (streams are drained) and its text; empty text raises."""
    if isinstance(response, AsyncStreamingResponse):
        raise TypeError(
            "got an AsyncStreamingResponse in sync code; call `aquery` instead of `query`."
        )
    if isinstance(response, StreamingResponse):
        response = response.get_response()
    return response, _text(response)


async def asettle_response(response: RESPONSE_TYPE) -> tuple[Answered, str]:
    """Async :func:`settle_response` (also drains async streams)."""
    if isinstance(response, AsyncStreamingResponse):
        response = await response.get_response()
    elif isinstance(response, StreamingResponse):
        response = response.get_response()
    return response, _text(response)


def nodes_text(nodes: Sequence[NodeWithScore]) -> str:
    """The retrieved texts joined by blank lines (what a retriever "answered")."""
    text = "\n\n".join(n.node.get_content() for n in nodes)
    if not text.strip():
        raise EmptyAnswerError("the retriever returned no text")
    return text


def messages_text(messages: Sequence[ChatMessage]) -> str:
    """The messages' text contents joined by newlines (the input Smoothie routes on)."""
    return "\n".join(m.content for m in messages if m.content)
