"""langchain-tests' ChatModelUnitTests against routers of scripted candidates (both modes)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_smoothie import SmoothieRouter
from smoothie_core import HashingEmbedder
from tests.support.langchain import greeting_candidates

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class TestSmoothieRouterSelectUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": greeting_candidates(), "embedder": HashingEmbedder(), "mode": "select"}


class TestSmoothieRouterRouteUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": greeting_candidates(), "embedder": HashingEmbedder(), "mode": "route"}
