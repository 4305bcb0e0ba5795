"""Text renderings of LangChain inputs and answers, for embedding (no estimator math here)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue

__all__ = ["answer_text", "input_text", "runnable_input_text", "state_text"]


def input_text(messages: Sequence[BaseMessage]) -> str:
    """The text an input is routed on: the latest human message (else the last message).

    Routing on the latest human turn keeps one decision per user turn in an agent loop
    (tool results and intermediate AI turns do not move it), as LangChain's
    ``ModelRouterMiddleware`` does.

    Examples
    --------
    >>> from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
    >>> input_text([SystemMessage("Be brief."), HumanMessage("Capital of France?"),
    ...             AIMessage("Paris.")])
    'Capital of France?'
    """
    if not messages:
        raise ValueError("Expected at least one message to route on; got an empty list.")
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return messages[-1].text


def answer_text(message: BaseMessage) -> str:
    """A candidate's answer as text: its text content followed by its tool calls.

    Tool calls are rendered as ``name({"arg": value})`` with sorted keys, so two
    candidates calling the same tool with the same arguments render identically and
    candidates are compared on what they would do, not on their wording alone.

    Examples
    --------
    >>> from langchain_core.messages import AIMessage
    >>> answer_text(AIMessage("", tool_calls=[{"name": "add", "args": {"b": 2, "a": 1},
    ...                                        "id": "1"}]))
    'add({"a": 1, "b": 2})'
    """
    parts: list[str] = [str(message.text)] if message.text else []
    if isinstance(message, AIMessage):
        for call in message.tool_calls:
            args = json.dumps(call.get("args", {}), sort_keys=True, default=str)
            parts.append(f"{call['name']}({args})")
    return "\n".join(parts)


def runnable_input_text(value: Any) -> str:
    """The text a ``SmoothieRunnable`` routes on for an input (its default ``input_text``).

    A str as it is; a prompt value, a message or a list of messages (or message-like
    tuples) as :func:`input_text` renders them; a dict as its values joined by newlines
    (a message by its text, messages as :func:`input_text`, any other value as JSON).

    Examples
    --------
    >>> runnable_input_text({"question": "Capital of France?", "n": 2})
    'Capital of France?\\n2'
    >>> runnable_input_text([("system", "Be brief."), ("human", "Capital of Peru?")])
    'Capital of Peru?'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, PromptValue):
        return input_text(value.to_messages())
    if isinstance(value, BaseMessage):
        return value.text
    if isinstance(value, Mapping):
        return "\n".join(_value_text(v) for v in value.values())
    if isinstance(value, Sequence) and value:
        try:
            return input_text(convert_to_messages(value))
        except (TypeError, ValueError, NotImplementedError):
            pass
    raise TypeError(
        "a SmoothieRunnable needs the text of each input to route on: a str, messages, a "
        f"prompt value or a dict are read by default; got {type(value).__name__}. Pass "
        "`input_text=` (a function input -> str) to say how."
    )


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, BaseMessage):
        return value.text
    if isinstance(value, Sequence) and value and all(isinstance(m, BaseMessage) for m in value):
        return input_text(list(value))
    return json.dumps(value, sort_keys=True, default=_default)


def state_text(state: Any) -> str:
    """Render a decision-model ``State`` (text, messages, JSON) as the text to route on.

    Examples
    --------
    >>> state_text("hello")
    'hello'
    >>> state_text({"question": "hi"})
    '{"question": "hi"}'
    """
    if isinstance(state, str):
        return state
    if isinstance(state, PromptValue):
        return input_text(state.to_messages())
    if isinstance(state, BaseMessage):
        return state.text
    if isinstance(state, Sequence) and state and all(isinstance(m, BaseMessage) for m in state):
        return input_text(list(state))
    if isinstance(state, Mapping | Sequence):
        return json.dumps(state, sort_keys=True, default=_default)
    raise TypeError(
        f"Expected a str, a message, a list of messages or JSON state; got {type(state).__name__}."
    )


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseMessage):
        return obj.text
    return str(obj)
