"""Turn LlamaIndex objects (responses, nodes, messages) into the texts Smoothie embeds.

Texts are returned as they are, empty ones included: whether an empty answer counts as
a failure is decided in one place (:func:`llamaindex_smoothie._common.drop_empty` and
the select paths), not by each converter.
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.base.response.schema import (
    RESPONSE_TYPE,
    AsyncStreamingResponse,
    PydanticResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.schema import NodeWithScore

Answered = Response | PydanticResponse


def _text(response: Answered) -> str:
    if isinstance(response, PydanticResponse):
        return str(response)
    return "" if response.response is None else str(response.response)


def settle_response(response: RESPONSE_TYPE) -> tuple[Answered, str]:
    """A complete response (streams are drained) and its text."""
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
    return "\n\n".join(n.node.get_content() for n in nodes)


def messages_text(messages: Sequence[ChatMessage]) -> str:
    """The messages' text contents joined by newlines (the input Smoothie routes on)."""
    return "\n".join(m.content for m in messages if m.content)


def llm_text(response: ChatResponse | CompletionResponse) -> str:
    """The text of an LLM's chat or completion response ("" when it has none)."""
    if isinstance(response, ChatResponse):
        return response.message.content or ""
    return response.text or ""
