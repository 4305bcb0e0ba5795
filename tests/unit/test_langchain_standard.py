"""langchain-tests' ChatModelUnitTests against routers of scripted candidates (both modes)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _candidates() -> list[ScriptedChatModel]:
    return [
        ScriptedChatModel(model_name="a", default_answer="Hello! How can I help you today?"),
        ScriptedChatModel(model_name="b", default_answer="Hi! How can I help you?"),
        ScriptedChatModel(model_name="c", default_answer="Hello there, what do you need?"),
    ]


class TestSmoothieRouterSelectUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": _candidates(), "embedder": HashingEmbedder(), "mode": "select"}


class TestSmoothieRouterRouteUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": _candidates(), "embedder": HashingEmbedder(), "mode": "route"}
