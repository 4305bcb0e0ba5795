"""SmoothieRouter inside LangChain agents: ``create_agent`` and ``ModelRouterMiddleware``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder

agents = pytest.importorskip("langchain.agents", reason="langchain (create_agent) not installed")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@tool
def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"It is sunny in {city}."


def _candidates() -> dict[str, ScriptedChatModel]:
    return {n: ScriptedChatModel(model_name=n) for n in ("a", "b", "c")}


@pytest.mark.parametrize("mode", ["select", "route"])
def test_create_agent_runs_the_tool_loop(mode: str) -> None:
    router = SmoothieRouter(models=_candidates(), embedder=HashingEmbedder(), mode=mode)
    if mode == "route":
        router.fit(
            ["What is the weather in Paris?", "Weather in Rome?", "Hello"], show_progress=False
        )
    agent = agents.create_agent(router, tools=[get_weather])
    state = agent.invoke({"messages": [HumanMessage("What is the weather in Lima?")]})
    messages = state["messages"]
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call = messages[1].tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(messages[2], ToolMessage) and "sunny" in messages[2].content
    final = messages[3]
    assert isinstance(final, AIMessage) and "sunny" in final.content
    assert final.response_metadata["smoothie"]["mode"] == mode


async def test_create_agent_async() -> None:
    router = SmoothieRouter(models=_candidates(), embedder=HashingEmbedder())
    agent = agents.create_agent(router, tools=[get_weather])
    state = await agent.ainvoke({"messages": [HumanMessage("weather in Oslo please")]})
    assert "sunny" in state["messages"][-1].content


def test_model_router_middleware_routes_with_smoothie() -> None:
    middleware_mod = pytest.importorskip("langchain.agents.middleware")
    if not hasattr(middleware_mod, "ModelRouterMiddleware"):
        pytest.skip("this langchain has no ModelRouterMiddleware")
    from langchain_smoothie.decision import model_router_middleware

    models = {
        "a": ScriptedChatModel(model_name="a", default_answer="Paris is the capital of France."),
        "b": ScriptedChatModel(model_name="b", default_answer="The capital of France is Paris."),
        "c": ScriptedChatModel(model_name="c", default_answer="Bananas grow in bunches."),
    }
    router = SmoothieRouter(models=models, embedder=HashingEmbedder(), mode="route")
    router.fit(["Capital of France?", "Which city is France's capital?"], show_progress=False)
    expected = router.route("What is the capital of France?").selected
    agent: Any = agents.create_agent(
        ScriptedChatModel(model_name="unused", default_answer="never called"),
        middleware=[model_router_middleware(router)],
    )
    state = agent.invoke({"messages": [HumanMessage("What is the capital of France?")]})
    assert state["model_route"].choice == expected
    assert state["messages"][-1].response_metadata["model_name"] == expected
    assert models[expected].call_count == 3  # two calibration prompts + the agent's call
