"""Scripted LangChain candidates shared by the tests (the langchain-tests suites, unit and integration)."""

from __future__ import annotations

from langchain_smoothie import ScriptedChatModel


def greeting_candidates() -> list[ScriptedChatModel]:
    """Three offline candidates that greet in slightly different words."""
    return [
        ScriptedChatModel(model_name="a", default_answer="Hello! How can I help you today?"),
        ScriptedChatModel(model_name="b", default_answer="Hi! How can I help you?"),
        ScriptedChatModel(model_name="c", default_answer="Hello there, what do you need?"),
    ]
