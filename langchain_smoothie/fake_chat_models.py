"""``ScriptedChatModel``: a deterministic fake chat model with tools and streaming.

Public, like ``langchain_core.language_models.fake_chat_models``: use it to try
``SmoothieRouter`` offline, in tests, notebooks and demos.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from langchain_smoothie._render import input_text
from langchain_smoothie._utils import CopyableLock

__all__ = ["ScriptedChatModel"]

Script = Callable[[list[BaseMessage], list[dict[str, Any]] | None], "AIMessage | str"]
_FORCING = {"any", "required", True}


class ScriptedChatModel(BaseChatModel):
    """A fake chat model whose answers are scripted per input (no network, deterministic).

    Call-time ``stop`` sequences cut the answer at the first one found. Unlike
    langchain-core's fakes it implements ``bind_tools``, streaming (word by word,
    ``chunk_position="last"`` on the final chunk), async with a real ``await`` delay,
    and ``usage_metadata`` (word counts; :meth:`get_num_tokens` counts words too). It
    records every input it was called on, and copies (``copy.deepcopy``, ``pickle``)
    start with their own lock.

    Parameters
    ----------
    model_name : str
    answers : dict of str to str
        Case-insensitive substring of the latest human message -> answer (first match).
    default_answer : str
        Answer when no ``answers`` key matches.
    fail_on : list of str
        Substrings that make a call raise ``RuntimeError`` (``"*"``: every call).
    delay : float
        Seconds each call takes (``time.sleep`` in sync, ``asyncio.sleep`` in async).
    script : callable or None
        ``script(messages, tools) -> AIMessage | str`` overrides everything above.

    With tools bound, the model calls a tool when ``tool_choice`` forces one
    (``"any"``/``"required"``/a tool name), or when a tool's name (or a 4+ letter word
    of it, e.g. ``weather`` for ``get_weather``) appears in the latest human message
    and no tool result has come back yet. Arguments follow the tool's JSON schema:
    numbers from the numbers in the message, in order; strings from its quoted
    phrases, then its capitalised words, else the whole message. After a tool result it answers with the result.

    Examples
    --------
    >>> m = ScriptedChatModel(model_name="m", answers={"france": "Paris."})
    >>> m.invoke("Capital of France?").content
    'Paris.'
    >>> m.call_count
    1
    """

    model_name: str = Field(default="scripted", alias="model")
    answers: dict[str, str] = Field(default_factory=dict)
    default_answer: str = "I do not know."
    fail_on: list[str] = Field(default_factory=list)
    delay: float = 0.0
    script: Script | None = None

    _calls: list[str] = PrivateAttr(default_factory=list)
    _lock: CopyableLock = PrivateAttr(default_factory=CopyableLock)

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    @property
    def calls(self) -> list[str]:
        """The latest human message of every call, in call order."""
        with self._lock:
            return list(self._calls)

    @property
    def call_count(self) -> int:
        """Number of calls so far."""
        with self._lock:
            return len(self._calls)

    def get_token_ids(self, text: str) -> list[int]:
        """One id per whitespace-separated word (offline; no tokenizer download).

        Examples
        --------
        >>> ScriptedChatModel().get_num_tokens("Paris is the capital.")
        4
        """
        return [zlib.crc32(word.encode()) for word in text.split()]

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool format); ``tool_choice`` as in OpenAI's API."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # ---------------------------------------------------------------- answers
    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        text = input_text(messages)
        with self._lock:
            self._calls.append(text)
        low = text.lower()
        if any(s == "*" or s.lower() in low for s in self.fail_on):
            raise RuntimeError(f"{self.model_name} failed (scripted) on {text[:40]!r}")
        tools = kwargs.get("tools")
        if self.script is not None:
            out = self.script(messages, tools)
            message = out if isinstance(out, AIMessage) else AIMessage(content=out)
        else:
            tool_message = self._tool_message(messages, tools, kwargs.get("tool_choice"))
            if tool_message is not None:
                message = tool_message
            else:
                answer = next(
                    (a for k, a in self.answers.items() if k.lower() in low), self.default_answer
                )
                message = AIMessage(content=answer)
        stop = kwargs.get("stop")
        if stop and isinstance(message.content, str):
            cut = min((i for i in (message.content.find(s) for s in stop) if i >= 0), default=-1)
            if cut >= 0:
                message.content = message.content[:cut]
        n_in = sum(len(m.text.split()) for m in messages)
        n_out = len(message.text.split()) + sum(
            len(str(tc["args"])) // 4 for tc in message.tool_calls
        )
        message.usage_metadata = UsageMetadata(
            input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out
        )
        message.response_metadata = {**message.response_metadata, "model_name": self.model_name}
        return message

    def _tool_message(
        self, messages: list[BaseMessage], tools: Any, tool_choice: Any
    ) -> AIMessage | None:
        if not tools:
            return None
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(content=f"The result is {messages[-1].text}.")
        text = input_text(messages)
        by_name = {t["function"]["name"]: t["function"] for t in tools}
        forced: str | None = None
        if isinstance(tool_choice, dict):
            forced = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        elif isinstance(tool_choice, str) and tool_choice in by_name:
            forced = tool_choice
        low = text.lower()
        named = [
            n
            for n in by_name
            if n.lower() in low or any(len(w) >= 4 and w in low for w in n.lower().split("_"))
        ]
        if forced is None and named:
            forced = named[0]
        if forced is None and tool_choice in _FORCING:
            forced = next(iter(by_name))
        if forced is None or forced not in by_name:
            return None
        args = _fill_args(by_name[forced].get("parameters", {}), text)
        call = {
            "name": forced,
            "args": args,
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "tool_call",
        }
        return AIMessage(content="", tool_calls=[call])

    # ----------------------------------------------------------- chat methods
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            time.sleep(self.delay)
        return ChatResult(
            generations=[ChatGeneration(message=self._answer(messages, stop=stop, **kwargs))]
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        return ChatResult(
            generations=[ChatGeneration(message=self._answer(messages, stop=stop, **kwargs))]
        )

    def _chunks(self, message: AIMessage) -> list[ChatGenerationChunk]:
        words = re.findall(r"\S+\s*", message.text) or [""]
        chunks = [AIMessageChunk(content=w) for w in words]
        chunks[-1] = AIMessageChunk(
            content=words[-1],
            tool_call_chunks=[
                {"name": tc["name"], "args": _json(tc["args"]), "id": tc["id"], "index": i}
                for i, tc in enumerate(message.tool_calls)
            ],
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
        return [ChatGenerationChunk(message=c) for c in chunks]

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if self.delay:
            time.sleep(self.delay)
        yield from self._chunks(self._answer(messages, stop=stop, **kwargs))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.delay:
            await asyncio.sleep(self.delay)
        for chunk in self._chunks(self._answer(messages, stop=stop, **kwargs)):
            yield chunk


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj)


_NOT_NAMES = {
    "what", "how", "which", "who", "where", "when", "why", "tell", "please", "use", "create",
    "give", "find", "get", "make", "show", "list", "the", "a", "an", "is", "can",
}  # fmt: skip


def _fill_args(schema: dict[str, Any], text: str) -> dict[str, Any]:
    numbers = iter(re.findall(r"-?\d+(?:\.\d+)?", text))
    quoted = re.findall(r"['\"‘“]([^'\"’”]+)['\"’”]", text)
    capitalised = [w for w in re.findall(r"\b[A-Z][a-zA-Z]+", text) if w.lower() not in _NOT_NAMES]
    names = iter([*quoted, *capitalised])
    args: dict[str, Any] = {}
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", list(props)):
        kind = props.get(name, {}).get("type", "string")
        if kind in ("integer", "number"):
            raw = next(numbers, "0")
            args[name] = int(float(raw)) if kind == "integer" else float(raw)
        elif kind == "boolean":
            args[name] = False
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = next(names, text)
    return args
