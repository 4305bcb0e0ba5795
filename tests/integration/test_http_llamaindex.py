"""The LlamaIndex front doors over real HTTP: ``OpenAILike`` clients of local llama.cpp servers.

Same servers as ``test_http_langchain.py`` (SmolLM2-135M under three aliases, see
``tests/support/http.py``): ``SmoothieLLM`` (select, route, streaming),
``SmoothieQueryEngine`` over query engines that ask an ``OpenAILike`` LLM, and
``SmoothieSelector`` in a ``RouterQueryEngine``.
"""

from __future__ import annotations

from typing import Any

import pytest

from smoothie_core import HashingEmbedder
from tests.support.http import (
    ALIASES,
    CALIBRATION,
    MAX_TOKENS,
    QUESTIONS,
    SAMPLING,
    RequestLog,
    closed_port,
    port_of,
)

pytestmark = [
    pytest.mark.http_server,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::smoothie_core.diagnostics.ReliabilityWarning"),
]


def openai_like(base_url: str, alias: str, log: RequestLog | None = None, **options: Any) -> Any:
    """An ``OpenAILike`` chat LLM of one server, with its own httpx clients and no retries
    of its own (the front door's ``max_retries`` applies)."""
    from llama_index.llms.openai_like import OpenAILike

    sync, async_ = (log if log is not None else RequestLog()).clients()
    sampling = dict(SAMPLING.get(alias, {}))
    settings: dict[str, Any] = {
        "model": alias,
        "api_base": base_url,
        "api_key": "not-needed",
        "is_chat_model": True,
        "context_window": 2048,
        "max_tokens": MAX_TOKENS,
        "temperature": sampling.pop("temperature", 0.0),
        "additional_kwargs": sampling,  # the seed
        "max_retries": 0,
        "http_client": sync,
        "async_http_client": async_,
        **options,
    }
    return OpenAILike(**settings)


def llms(servers, log: RequestLog | None = None) -> dict[str, Any]:
    return {alias: openai_like(s.base_url, alias, log) for alias, s in servers.items()}


def _engine_tools(servers, log: RequestLog | None = None) -> list[Any]:
    """One QueryEngineTool per server: a query engine that asks that server's LLM."""
    from llama_index.core.llms import LLM
    from llama_index.core.query_engine import CustomQueryEngine
    from llama_index.core.tools import QueryEngineTool

    class AskLLM(CustomQueryEngine):
        llm: LLM

        def custom_query(self, query_str: str) -> str:
            return self.llm.complete(query_str).text

        async def acustom_query(self, query_str: str) -> str:
            return (await self.llm.acomplete(query_str)).text

    return [
        QueryEngineTool.from_defaults(AskLLM(llm=llm), name=alias, description=f"{alias} answers")
        for alias, llm in llms(servers, log).items()
    ]


def test_smoothie_llm_select_mode_over_openai_like(smollm_servers) -> None:
    from llama_index.core.llms import ChatMessage

    from llamaindex_smoothie import SmoothieLLM

    log = RequestLog()
    llm = SmoothieLLM(llms(smollm_servers, log), embedder=HashingEmbedder(dim=256))
    response = llm.chat([ChatMessage(role="user", content=QUESTIONS[0])])
    meta = response.additional_kwargs["smoothie"]
    assert meta["mode"] == "select" and meta["failed"] == []
    assert set(meta["weights"]) == set(ALIASES)
    assert response.message.content.strip()
    assert dict(log.requests) == {port_of(s.base_url): 1 for s in smollm_servers.values()}


async def test_smoothie_llm_route_mode_streams_over_sse(smollm_servers) -> None:
    from llamaindex_smoothie import SmoothieLLM

    llm = SmoothieLLM(llms(smollm_servers), mode="route", embedder=HashingEmbedder(dim=256))
    await llm.afit(list(CALIBRATION), show_progress=False)
    log = RequestLog()
    routed = SmoothieLLM(
        llms(smollm_servers, log),
        mode="route",
        embedder=HashingEmbedder(dim=256),
        router=llm.router,
    )
    chunks = [c async for c in await routed.astream_complete(QUESTIONS[1])]
    deltas = [c.delta for c in chunks if c.delta]
    assert len(deltas) >= 3, f"expected token-by-token chunks, got {deltas}"
    assert chunks[-1].text.strip()
    assert log.total() == 1 and sum(log.streamed.values()) == 1
    assert sum(log.event_streams.values()) == 1


def test_smoothie_llm_records_a_down_server_as_failed(smollm_servers) -> None:
    from llamaindex_smoothie import SmoothieLLM

    candidates = llms(smollm_servers)
    candidates["down"] = openai_like(f"http://127.0.0.1:{closed_port()}/v1", "down")
    llm = SmoothieLLM(candidates, embedder=HashingEmbedder(dim=256))
    response = llm.complete(QUESTIONS[2])
    meta = response.additional_kwargs["smoothie"]
    assert meta["failed"] == ["down"] and "Connection" in meta["errors"]["down"]
    assert meta["selected"] in ALIASES and response.text.strip()


def test_smoothie_query_engine_over_openai_like_engines(smollm_servers) -> None:
    from llamaindex_smoothie import SmoothieQueryEngine

    log = RequestLog()
    engine = SmoothieQueryEngine(
        _engine_tools(smollm_servers, log), embedder=HashingEmbedder(dim=256)
    )
    response = engine.query(QUESTIONS[3])
    meta = response.metadata["smoothie"]
    assert meta["failed"] == [] and meta["selected"] in ALIASES
    assert str(response).strip()
    assert log.total() == 3


async def test_smoothie_selector_in_a_router_query_engine(smollm_servers) -> None:
    from llama_index.core.query_engine import RouterQueryEngine

    from llamaindex_smoothie import SmoothieSelector

    selector = await SmoothieSelector.afrom_query_engine_tools(
        _engine_tools(smollm_servers),
        list(CALIBRATION),
        embedder=HashingEmbedder(dim=256),
        n_neighbors=2,
        show_progress=False,
    )
    assert selector.calibration_report_.n_used == len(CALIBRATION)
    log = RequestLog()
    tools = _engine_tools(smollm_servers, log)
    # `llm` only summarises several selections (never here), but must not default to OpenAI
    engine = RouterQueryEngine(
        selector=selector, query_engine_tools=tools, llm=tools[0].query_engine.llm
    )
    response = await engine.aquery(QUESTIONS[0])
    assert str(response).strip()
    chosen = selector.select([t.metadata for t in tools], QUESTIONS[0]).selected
    assert dict(log.requests) == {port_of(smollm_servers[chosen].base_url): 1}
