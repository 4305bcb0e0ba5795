"""langchain-tests' ChatModelIntegrationTests against routers of scripted candidates.

The candidates are offline :class:`~langchain_smoothie.ScriptedChatModel` fakes, so
these tests check the router's plumbing (invoke/stream/batch/async, tools, structured
output, usage, callbacks) end to end, not answer quality.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_smoothie import SmoothieRouter
from smoothie_core import HashingEmbedder
from tests.support.langchain import greeting_candidates

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CALIBRATION = [
    "Hello",
    "What is the value of magic_function(3)? Use the tool.",
    "Tell me a joke about cats.",
    "What is 1 + 1?",
]


class TestSmoothieRouterSelectIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": greeting_candidates(), "embedder": HashingEmbedder(), "mode": "select"}

    @property
    def returns_usage_metadata(self) -> bool:
        # Select mode: every candidate's child run reports its own usage; the router's
        # message carries none (it would double count) and keeps each candidate's usage
        # in response_metadata["smoothie"]["usage"] (tested in test_langchain_router.py).
        return False

    @pytest.mark.xfail(
        reason="select mode runs every candidate as a nested chat-model child run of the "
        "router's run (so traces show each candidate); the test counts every "
        "on_chat_model_start in the tree and expects exactly one",
        strict=True,
    )
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    def test_structured_output(self, model: BaseChatModel, schema_type: str) -> None:
        super().test_structured_output(model, schema_type)  # type: ignore[arg-type]

    @pytest.mark.xfail(
        reason="same as test_structured_output: 1 + m chat-model runs per call in select mode",
        strict=True,
    )
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    async def test_structured_output_async(self, model: BaseChatModel, schema_type: str) -> None:
        await super().test_structured_output_async(model, schema_type)  # type: ignore[arg-type]


class TestSmoothieRouterRouteIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[SmoothieRouter]:
        return SmoothieRouter

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"models": greeting_candidates(), "embedder": HashingEmbedder(), "mode": "route"}

    @pytest.fixture
    def model(self, request: Any) -> BaseChatModel:
        extra = getattr(request, "param", None) or {}
        router = SmoothieRouter(
            **{**self.standard_chat_model_params, **self.chat_model_params, **extra}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return router.fit(CALIBRATION, show_progress=False)

    @pytest.mark.xfail(
        reason="the second half builds a fresh route-mode router without calibration; route "
        "mode raises NotFittedError until fit()/load() (the first half, stop= on a fitted "
        "router, is covered in test_langchain_router.py)",
        raises=Exception,
        strict=True,
    )
    def test_stop_sequence(self, model: BaseChatModel) -> None:
        super().test_stop_sequence(model)
