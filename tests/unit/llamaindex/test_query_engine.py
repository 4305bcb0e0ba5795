"""SmoothieQueryEngine: ask every engine, return the consensus answer (select mode)."""

from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Any

import pytest
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.tools import QueryEngineTool
from pydantic import Field

from llamaindex_smoothie import (
    SmoothieDecisionEvent,
    SmoothieQueryEngine,
    SmoothieSelector,
    SmoothieSelectorResult,
)
from smoothie_core import HashingEmbedder, Router
from smoothie_core.defaults import AUTO_NEIGHBORS_CAP
from smoothie_core.exceptions import AllCandidatesFailedError
from tests.support.llamaindex import (
    BAD_TOPIC,
    CALIBRATION,
    HELD_OUT,
    STYLES,
    FlakyEngine,
    Gauge,
    GaugedEngine,
    ScriptedEngine,
    engine_tools,
    scripted_answer,
    topic_of,
)

NAMES = list(STYLES)
pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")


def tool(engine: Any, name: str) -> QueryEngineTool:
    return QueryEngineTool.from_defaults(engine, name=name, description=f"engine {name}")


def test_returns_a_consensus_answer_with_metadata() -> None:
    tools, engines = engine_tools()
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), update_pool=False)
    for q in HELD_OUT:
        response = qe.query(q)
        smoothie = response.metadata["smoothie"]
        chosen = smoothie["selected"]
        assert BAD_TOPIC[chosen] != topic_of(q), smoothie["weights"]
        assert str(response) == scripted_answer(chosen, q)
        assert list(smoothie["weights"]) == NAMES
        assert sum(smoothie["weights"].values()) == pytest.approx(1.0)
        assert smoothie["mode"] == "select"
        assert smoothie["failed"] == []
        assert smoothie["answers"] == {n: scripted_answer(n, q) for n in NAMES}
        result = response.metadata["selector_result"]
        assert isinstance(result, SmoothieSelectorResult)
        assert NAMES[result.ind] == chosen
        assert f"{smoothie['weights'][chosen]:.3f}" in result.reason
    assert all(len(e.calls) == len(HELD_OUT) for e in engines.values())


def test_bad_engine_gets_the_lowest_weight() -> None:
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), update_pool=False)
    for q in HELD_OUT:
        weights = qe.query(q).metadata["smoothie"]["weights"]
        bad = next(n for n in NAMES if BAD_TOPIC[n] == topic_of(q))
        assert min(weights, key=weights.__getitem__) == bad


def test_failing_engine_loses_nothing() -> None:
    tools, _ = engine_tools(failing=["beta"])
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
    q = next(q for q in HELD_OUT if topic_of(q) == "geography")  # alpha is bad here
    response = qe.query(q)
    smoothie = response.metadata["smoothie"]
    assert smoothie["failed"] == ["beta"]
    assert smoothie["errors"]["beta"] == "ConnectionError: beta is down"
    assert set(smoothie["weights"]) == {"alpha", "gamma", "delta"}
    assert set(smoothie["answers"]) == {"alpha", "gamma", "delta"}
    assert smoothie["selected"] in {"gamma", "delta"}
    assert str(response) == scripted_answer(smoothie["selected"], q)


def test_two_failures_fall_back_and_all_failing_raises() -> None:
    tools, _ = engine_tools(failing=["beta", "gamma"])
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), default="delta")
    response = qe.query(HELD_OUT[0])
    smoothie = response.metadata["smoothie"]
    assert smoothie["selected"] == "delta"
    assert "only 2 candidates answered" in smoothie["fallback"]
    assert str(response) == scripted_answer("delta", HELD_OUT[0])

    tools, _ = engine_tools(failing=NAMES)
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
    with pytest.raises(
        AllCandidatesFailedError, match=r"No candidate answered.*beta is down"
    ) as info:
        qe.query(HELD_OUT[0])
    assert isinstance(info.value, RuntimeError)  # `except RuntimeError` keeps working
    assert list(info.value.errors) == NAMES


def test_needs_three_distinct_engines() -> None:
    tools, _ = engine_tools()
    with pytest.raises(ValueError, match="at least 3 candidates"):
        SmoothieQueryEngine(tools[:2], embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="must be unique; got duplicates"):
        SmoothieQueryEngine([*tools, tools[0]], embedder=HashingEmbedder())


async def test_aquery_runs_engines_concurrently_and_matches_query() -> None:
    gauge = {"now": 0, "max": 0}

    class Slow(ScriptedEngine):
        async def acustom_query(self, query_str: str) -> str:
            gauge["now"] += 1
            gauge["max"] = max(gauge["max"], gauge["now"])
            await asyncio.sleep(0.01)
            gauge["now"] -= 1
            return self.custom_query(query_str)

    tools = [tool(Slow(name=n), n) for n in NAMES]
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), update_pool=False)
    for q in HELD_OUT[:4]:
        asy = await qe.aquery(q)
        sync = qe.query(q)
        assert asy.metadata["smoothie"]["selected"] == sync.metadata["smoothie"]["selected"]
        assert asy.metadata["smoothie"]["weights"] == pytest.approx(
            sync.metadata["smoothie"]["weights"]
        )
    assert gauge["max"] == len(NAMES)


async def test_timeout_counts_as_failure_sync_and_async() -> None:
    class Sleepy(ScriptedEngine):
        def custom_query(self, query_str: str) -> str:
            time.sleep(0.5)
            return super().custom_query(query_str)

        async def acustom_query(self, query_str: str) -> str:
            await asyncio.sleep(5)
            return super().custom_query(query_str)

    tools, _ = engine_tools()
    tools[3] = tool(Sleepy(name="delta"), "delta")
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), timeout=0.2)
    q = HELD_OUT[0]
    for response in (qe.query(q), await qe.aquery(q)):
        smoothie = response.metadata["smoothie"]
        assert smoothie["failed"] == ["delta"]
        assert smoothie["errors"]["delta"].startswith("TimeoutError")
        assert smoothie["selected"] in {"beta", "gamma"}  # alpha is bad on geography


def test_source_nodes_and_streaming_responses() -> None:
    class WithSources(ScriptedEngine):
        def custom_query(self, query_str: str) -> Any:
            text = super().custom_query(query_str)
            node = NodeWithScore(node=TextNode(text=f"source of {self.name}"), score=0.5)
            return Response(response=text, source_nodes=[node], metadata={"engine": self.name})

    class Streaming(ScriptedEngine):
        def custom_query(self, query_str: str) -> Any:
            text = super().custom_query(query_str)
            return StreamingResponse(response_gen=(w + " " for w in text.split(" ")))

    tools = [
        tool(WithSources(name="alpha"), "alpha"),
        tool(WithSources(name="beta"), "beta"),
        tool(Streaming(name="gamma"), "gamma"),
        tool(WithSources(name="delta"), "delta"),
    ]
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
    q = next(q for q in HELD_OUT if topic_of(q) == "cooking")  # gamma is bad here
    response = qe.query(q)
    chosen = response.metadata["smoothie"]["selected"]
    assert chosen != "gamma"
    assert response.metadata["engine"] == chosen  # the engine's own metadata is kept
    assert [n.node.get_content() for n in response.source_nodes] == [f"source of {chosen}"]
    assert response.metadata["smoothie"]["answers"]["gamma"].strip() == scripted_answer("gamma", q)


def test_pool_grows_and_enables_smoothie_local() -> None:
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), n_neighbors=3, update_pool=True)
    first = qe.query(CALIBRATION[0]).metadata["smoothie"]
    assert first["n_neighbors"] == 1
    for q in CALIBRATION[1:6]:
        qe.query(q)
    assert qe.router.pool_size == 6
    later = qe.query(HELD_OUT[0]).metadata["smoothie"]
    assert later["n_neighbors"] == 3
    assert BAD_TOPIC[later["selected"]] != topic_of(HELD_OUT[0])


def test_router_from_a_selector_calibration_is_used() -> None:
    tools, _ = engine_tools()
    selector = SmoothieSelector.from_query_engine_tools(
        tools, CALIBRATION, n_neighbors=5, embedder=HashingEmbedder(), show_progress=False
    )
    qe = SmoothieQueryEngine(tools, router=selector.router)
    smoothie = qe.query(HELD_OUT[0]).metadata["smoothie"]
    assert smoothie["n_neighbors"] == 5
    with pytest.raises(ValueError, match="must equal the tool names"):
        SmoothieQueryEngine(list(reversed(tools)), router=selector.router)


class Collect(BaseEventHandler):
    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, SmoothieDecisionEvent):
            self.events.append(event)


def test_decision_event_per_query() -> None:
    handler = Collect()
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        tools, _ = engine_tools()
        qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
        selected = [qe.query(q).metadata["smoothie"]["selected"] for q in HELD_OUT[:3]]
    finally:
        root.event_handlers.remove(handler)
    assert [e.selected for e in handler.events] == selected
    assert {e.component for e in handler.events} == {"SmoothieQueryEngine"}
    assert {e.mode for e in handler.events} == {"select"}


class Echo(CustomQueryEngine):
    """Every engine answers the same: no information to choose from."""

    def custom_query(self, query_str: str) -> str:
        return "same answer"


def test_identical_answers_fall_back_to_default() -> None:
    tools = [tool(Echo(), n) for n in NAMES]
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), default="gamma")
    smoothie = qe.query("anything").metadata["smoothie"]
    assert smoothie["selected"] == "gamma"
    assert "identical" in smoothie["fallback"]


REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def test_engines_run_in_the_callers_context() -> None:
    """Context variables (LlamaIndex's active span and tags among them) reach the engines."""
    seen: list[str | None] = []

    class Spy(ScriptedEngine):
        def custom_query(self, query_str: str) -> str:
            seen.append(REQUEST_ID.get())
            return super().custom_query(query_str)

    tools = [tool(Spy(name=n), n) for n in NAMES]
    token = REQUEST_ID.set("req-42")
    try:
        SmoothieQueryEngine(tools, embedder=HashingEmbedder()).query(HELD_OUT[0])
    finally:
        REQUEST_ID.reset(token)
    assert seen == ["req-42"] * len(NAMES)


async def test_concurrent_aqueries_grow_the_pool_safely() -> None:
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), n_neighbors=3, update_pool=True)
    responses = await asyncio.gather(*(qe.aquery(q) for q in CALIBRATION[:12]))
    assert qe.router.pool_size == 12
    for q, response in zip(CALIBRATION[:12], responses, strict=True):
        assert BAD_TOPIC[response.metadata["smoothie"]["selected"]] != topic_of(q)


# ------------------------------------------------ calling engines: the shared policy
async def test_retries_recover_a_flaky_engine_sync_and_async() -> None:
    tools, _ = engine_tools()
    tools[1] = tool(FlakyEngine(name="beta", failures=1), "beta")
    q = HELD_OUT[0]
    flaky = SmoothieQueryEngine(tools, embedder=HashingEmbedder())
    first = flaky.query(q).metadata["smoothie"]  # attempt 1 on q fails, no retry
    assert first["errors"] == {"beta": "ConnectionError: beta flaked on attempt 1"}
    retried = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), max_retries=1)
    q2, q3 = HELD_OUT[1], HELD_OUT[2]
    assert retried.query(q2).metadata["smoothie"]["failed"] == []  # attempt 2 answers
    assert (await retried.aquery(q3)).metadata["smoothie"]["failed"] == []


def test_engine_calls_are_bounded_by_max_concurrency() -> None:
    for bound, expected in ((2, 2), (None, len(NAMES))):
        gauge = Gauge(target=len(NAMES), wait=0.2)
        tools = [tool(GaugedEngine(name=n, gauge=gauge), n) for n in NAMES]
        options = {} if bound is None else {"max_concurrency": bound}
        SmoothieQueryEngine(tools, embedder=HashingEmbedder(), **options).query(HELD_OUT[0])
        assert gauge.peak == expected  # default 8: all four engines at once


def test_abstention_chooses_the_default_when_it_answered() -> None:
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), default="alpha", abstain_below=1.0)
    q = next(q for q in HELD_OUT if topic_of(q) == "math")
    response = qe.query(q)
    smoothie = response.metadata["smoothie"]
    assert smoothie["abstained"] is True
    assert smoothie["selected"] == "alpha"
    assert str(response) == scripted_answer("alpha", q)
    assert "abstained" in smoothie["fallback"]


def test_auto_neighbors_in_select_mode_grows_with_the_pool() -> None:
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(
        tools, embedder=HashingEmbedder(), n_neighbors="auto", update_pool=True
    )
    assert qe.n_neighbors == qe.router.n_neighbors == "auto"
    used = [qe.query(q).metadata["smoothie"]["n_neighbors"] for q in CALIBRATION[:12]]
    assert used == [*range(1, AUTO_NEIGHBORS_CAP + 1), AUTO_NEIGHBORS_CAP, AUTO_NEIGHBORS_CAP]


async def test_engine_spans_nest_under_the_query_span() -> None:
    handler = SimpleSpanHandler()
    root = get_dispatcher()
    root.add_span_handler(handler)
    try:
        tools, _ = engine_tools()
        qe = SmoothieQueryEngine(tools, embedder=HashingEmbedder(), timeout=5.0)
        qe.query(HELD_OUT[0])
        await qe.aquery(HELD_OUT[1])
    finally:
        root.span_handlers.remove(handler)
    spans = {s.id_: s for s in handler.completed_spans}
    for method in ("_query", "_aquery"):
        outer = [i for i in spans if i.startswith(f"SmoothieQueryEngine.{method}-")]
        assert len(outer) == 1
        inner = [
            s
            for s in spans.values()
            if s.id_.startswith("ScriptedEngine.") and s.parent_id == outer[0]
        ]
        assert len(inner) == len(NAMES), (method, list(spans))


def test_two_engines_sharing_one_router_lose_no_pool_update() -> None:
    """Issue 15 item 1, the LlamaIndex case: the lock lives in the core Router."""
    from concurrent.futures import ThreadPoolExecutor

    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=3)
    engines = [
        SmoothieQueryEngine(engine_tools()[0], router=router, update_pool=True) for _ in range(2)
    ]
    jobs = [(engines[i % 2], q) for i, q in enumerate(CALIBRATION * 5)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda job: job[0].query(job[1]), jobs))
    assert len(responses) == len(jobs) == 120
    assert router.pool_size == 120
    est = router.estimator
    assert est is not None and est.input_embeddings_ is not None
    assert len(est.input_embeddings_) == est.n_samples_ == 120
