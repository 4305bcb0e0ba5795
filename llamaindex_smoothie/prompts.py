"""``PromptedLLM``: one LLM under one prompt template, itself an ``LLM`` (a routing candidate).

The paper's multi-prompt setting routes among prompt templates for *one* model.
:meth:`SmoothieLLM.from_prompts <llamaindex_smoothie.SmoothieLLM.from_prompts>` builds
one :class:`PromptedLLM` per template and routes among them with the same code as among
different models (select and route mode, calibration, persistence): the candidate
adapter is this class, nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import Field, SerializeAsAny
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate

__all__ = ["PromptedLLM"]


def _free_variable(prompt: BasePromptTemplate, variable: str | None) -> str:
    """The template variable the input goes into (the only one not already filled)."""
    free = [v for v in prompt.template_vars if v not in (prompt.kwargs or {})]
    if variable is None:
        if len(free) != 1:
            raise ValueError(
                f"The prompt template has {len(free)} variables to fill ({free}); the input "
                "goes into one. Name it with `variable=`, and fill the others with "
                "template.partial_format(...)."
            )
        return free[0]
    if variable not in free:
        raise ValueError(f"`variable`={variable!r} is not a variable of the template; got {free}.")
    others = [v for v in free if v != variable]
    if others:
        raise ValueError(
            f"The prompt template also needs {others}; fill them with "
            "template.partial_format(...) (only the input is filled per call)."
        )
    return variable


class PromptedLLM(LLM):
    """``llm`` answering through ``prompt``: the input is put into the template first.

    ``complete(text)`` formats the template with ``text`` in its variable and calls
    ``llm.complete(..., formatted=True)`` (as ``LLM.predict`` does with a template).
    ``chat(messages)`` formats the template with the *last user message* and sends the
    earlier messages unchanged, followed by the template's messages. Streaming and async
    calls do the same. Its ``metadata`` is ``llm``'s, and so are the LLM events and
    spans (it adds none of its own, so usage is counted once).

    Parameters
    ----------
    llm : LLM
    prompt : BasePromptTemplate or str
        A str becomes ``PromptTemplate(prompt)``.
    variable : str or None
        The template variable the input goes into (default: its only unfilled one).

    Examples
    --------
    >>> from llama_index.core.llms import CustomLLM, CompletionResponse, LLMMetadata
    >>> class Echo(CustomLLM):
    ...     @property
    ...     def metadata(self) -> LLMMetadata:
    ...         return LLMMetadata(model_name="echo")
    ...     def complete(self, prompt, formatted=False, **kwargs):
    ...         return CompletionResponse(text=prompt)
    ...     def stream_complete(self, prompt, formatted=False, **kwargs):
    ...         yield CompletionResponse(text=prompt, delta=prompt)
    >>> PromptedLLM(Echo(), "Answer briefly: {question}").complete("Capital of Peru?").text
    'Answer briefly: Capital of Peru?'
    """

    llm: SerializeAsAny[LLM] = Field(description="The model.")
    prompt: SerializeAsAny[BasePromptTemplate] = Field(description="The prompt template.")
    variable: str = Field(description="The template variable the input goes into.")

    def __init__(
        self,
        llm: LLM,
        prompt: BasePromptTemplate | str,
        *,
        variable: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(llm, LLM):
            raise TypeError(f"`llm` must be a llama_index LLM; got {type(llm).__name__}.")
        if isinstance(prompt, str):
            prompt = PromptTemplate(prompt)
        if not isinstance(prompt, BasePromptTemplate):
            raise TypeError(
                f"`prompt` must be a prompt template or a str; got {type(prompt).__name__}."
            )
        super().__init__(  # type: ignore[call-arg]
            llm=llm, prompt=prompt, variable=_free_variable(prompt, variable), **kwargs
        )

    @classmethod
    def class_name(cls) -> str:
        return "PromptedLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """The model's metadata."""
        return self.llm.metadata

    # -------------------------------------------------------------- formatting
    def _text(self, text: str) -> str:
        return self.prompt.format(llm=self.llm, **{self.variable: text})

    def _messages(self, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
        items = list(messages)
        users = [i for i, m in enumerate(items) if m.role == MessageRole.USER]
        if not users:
            raise ValueError(
                "PromptedLLM.chat puts the last user message into the prompt template; the "
                "messages have no user message."
            )
        i = users[-1]
        formatted = self.prompt.format_messages(
            llm=self.llm, **{self.variable: items[i].content or ""}
        )
        return [*items[:i], *formatted, *items[i + 1 :]]

    # ------------------------------------------------------------- LLM methods
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self.llm.chat(self._messages(messages), **kwargs)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.llm.complete(self._text(prompt), formatted=True, **kwargs)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self.llm.stream_chat(self._messages(messages), **kwargs)

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return self.llm.stream_complete(self._text(prompt), formatted=True, **kwargs)

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self.llm.achat(self._messages(messages), **kwargs)

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await self.llm.acomplete(self._text(prompt), formatted=True, **kwargs)

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self.llm.astream_chat(self._messages(messages), **kwargs)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await self.llm.astream_complete(self._text(prompt), formatted=True, **kwargs)
