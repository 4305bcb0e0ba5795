"""SmoothieSelector: calibration, pre-routing in RouterQueryEngine / RouterRetriever, persistence."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from llama_index.core.base.base_selector import SelectorResult
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.query_engine import RouterQueryEngine
from llama_index.core.retrievers import RouterRetriever
from llama_index.core.tools import QueryEngineTool, ToolMetadata
from pydantic import Field

from llamaindex_smoothie import (
    LlamaIndexEmbedder,
    SmoothieDecisionEvent,
    SmoothieSelector,
    SmoothieSelectorResult,
)
from smoothie_core import HashingEmbedder, NotFittedError
from smoothie_core.defaults import AUTO_NEIGHBORS_CAP, DEFAULT_MAX_CONCURRENCY, DEFAULT_N_NEIGHBORS
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
    retriever_tools,
    scripted_answer,
    scripted_chat_llm,
    topic_of,
)

NAMES = list(STYLES)

# smoothie_core may warn that 24 scripted calibration queries are few; not under test here.
pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")


@pytest.fixture(scope="module")
def calibrated() -> tuple[SmoothieSelector, list[QueryEngineTool], dict[str, ScriptedEngine]]:
    tools, engines = engine_tools()
    selector = SmoothieSelector.from_query_engine_tools(
        tools, CALIBRATION, n_neighbors=5, embedder=HashingEmbedder(), show_progress=False
    )
    return selector, tools, engines


class Collect(BaseEventHandler):
    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: Any, **kwargs: Any) -> None:
        if isinstance(event, SmoothieDecisionEvent):
            self.events.append(event)


@pytest.fixture
def smoothie_events() -> Any:
    root = get_dispatcher()
    handler = Collect(events=[])
    root.add_event_handler(handler)
    yield handler.events
    root.event_handlers.remove(handler)


def test_calibration_runs_every_engine_on_every_query(calibrated: Any) -> None:
    selector, _, engines = calibrated
    for engine in engines.values():
        assert sorted(engine.calls) == sorted(CALIBRATION)
    report = selector.calibration_report
    assert (report.n_prompts, report.n_used, report.dropped) == (24, 24, [])
    assert selector.calibration_errors == [{} for _ in CALIBRATION]
    assert selector.candidates == NAMES
    assert selector.router.n_neighbors == 5


def test_router_query_engine_avoids_the_bad_engine_and_calls_one(calibrated: Any) -> None:
    selector, tools, engines = calibrated
    router = RouterQueryEngine(selector, tools, llm=scripted_chat_llm("alpha"))
    for q in HELD_OUT:
        for engine in engines.values():
            engine.calls.clear()
        response = router.query(q)
        result = response.metadata["selector_result"]
        assert isinstance(result, SmoothieSelectorResult)
        chosen = result.selected
        assert BAD_TOPIC[chosen] != topic_of(q), (q, result.weights)
        assert str(response) == scripted_answer(chosen, q)
        assert {n: len(e.calls) for n, e in engines.items()} == {n: int(n == chosen) for n in NAMES}


async def test_router_query_engine_async(calibrated: Any) -> None:
    selector, tools, engines = calibrated
    router = RouterQueryEngine(selector, tools, llm=scripted_chat_llm("alpha"))
    for q in HELD_OUT[:4]:
        for engine in engines.values():
            engine.calls.clear()
        response = await router.aquery(q)
        chosen = response.metadata["selector_result"].selected
        assert chosen == selector.select(tools_metadata(tools), q).selected
        assert BAD_TOPIC[chosen] != topic_of(q)
        assert sum(len(e.calls) for e in engines.values()) == 1


def tools_metadata(tools: list[QueryEngineTool]) -> list[ToolMetadata]:
    return [t.metadata for t in tools]


def test_select_result_carries_all_weights_and_the_weight_in_the_reason(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    result = selector.select(tools_metadata(tools), HELD_OUT[0])
    assert isinstance(result, SelectorResult)
    assert list(result.weights) == NAMES
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.selected == NAMES[result.ind]
    assert result.selected == max(result.weights, key=result.weights.__getitem__)
    assert f"{result.weights[result.selected]:.3f}" in result.reason
    assert result.decision["mode"] == "route"
    assert result.decision["n_neighbors"] == 5


async def test_aselect_matches_select(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    for q in HELD_OUT:
        sync = selector.select(tools_metadata(tools), q)
        asy = await selector.aselect(tools_metadata(tools), q)
        assert asy.selected == sync.selected
        assert asy.weights == pytest.approx(sync.weights)


def test_choices_matched_by_name_not_position(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    q = HELD_OUT[0]
    full = selector.select(tools_metadata(tools), q)
    reordered = list(reversed(tools_metadata(tools)))
    result = selector.select(reordered, q)
    assert result.selected == full.selected
    assert reordered[result.ind].name == full.selected


def test_subset_of_choices_picks_the_best_offered(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    q = HELD_OUT[0]
    full = selector.select(tools_metadata(tools), q)
    offered = [m for m in tools_metadata(tools) if m.name != full.selected]
    result = selector.select(offered, q)
    best = max((m.name for m in offered), key=lambda n: full.weights[n])
    assert result.selected == best
    assert offered[result.ind].name == best
    assert set(result.weights) == {m.name for m in offered}


def test_unknown_or_unnamed_choice_is_a_clear_error(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    stranger = ToolMetadata(name="epsilon", description="not calibrated")
    with pytest.raises(ValueError, match=r"\['epsilon'\] are not calibrated candidates"):
        selector.select([*tools_metadata(tools), stranger], "hi")
    with pytest.raises(ValueError, match="needs a name"):
        selector.select([ToolMetadata(description="no name here")], "hi")
    # a plain string choice is matched by its text
    assert selector.select(["alpha", "beta"], HELD_OUT[0]).selected in {"alpha", "beta"}


def test_decision_event_is_dispatched(calibrated: Any, smoothie_events: list[Any]) -> None:
    selector, tools, _ = calibrated
    result = selector.select(tools_metadata(tools), HELD_OUT[1])
    assert len(smoothie_events) == 1
    event = smoothie_events[0]
    assert event.component == "SmoothieSelector"
    assert event.selected == result.selected
    assert event.query == HELD_OUT[1]
    assert event.weights == pytest.approx(result.weights)
    assert event.model_dump()["class_name"] == "SmoothieDecisionEvent"


def test_failures_are_recorded_and_do_not_stop_calibration() -> None:
    class Flaky(ScriptedEngine):
        def custom_query(self, query_str: str) -> str:
            if "Egypt" in query_str or "rice" in query_str:
                raise TimeoutError("upstream timed out")
            return super().custom_query(query_str)

    tools, _ = engine_tools()
    tools[2] = QueryEngineTool.from_defaults(Flaky(name="gamma"), name="gamma", description="g")
    selector = SmoothieSelector.from_query_engine_tools(
        tools, CALIBRATION, n_neighbors=3, embedder=HashingEmbedder(), show_progress=False
    )
    bad = [i for i, q in enumerate(CALIBRATION) if "Egypt" in q or "rice" in q]
    assert len(bad) == 2
    assert selector.calibration_report.dropped == bad
    assert selector.calibration_report.n_used == 22
    assert selector.calibration_report.failures["gamma"] == 2
    for i, errs in enumerate(selector.calibration_errors):
        assert list(errs) == (["gamma"] if i in bad else [])
    assert "TimeoutError" in selector.calibration_errors[bad[0]]["gamma"]


def test_engine_that_always_fails_makes_calibration_impossible() -> None:
    tools, _ = engine_tools(failing=["delta"])
    with pytest.raises(
        ValueError, match="No calibration prompt has an answer from every candidate"
    ):
        SmoothieSelector.from_query_engine_tools(
            tools, CALIBRATION[:4], embedder=HashingEmbedder(), show_progress=False
        )


@pytest.mark.parametrize("max_concurrency", [1, 3])
def test_concurrency_is_bounded(max_concurrency: int) -> None:
    gauge = Gauge(target=max_concurrency + 1, wait=0.05)
    tools = [
        QueryEngineTool.from_defaults(GaugedEngine(name=n, gauge=gauge), name=n, description=n)
        for n in NAMES
    ]
    SmoothieSelector.from_query_engine_tools(
        tools,
        CALIBRATION[:4],
        n_neighbors=3,
        embedder=HashingEmbedder(),
        max_concurrency=max_concurrency,
        show_progress=False,
    )
    assert gauge.peak == max_concurrency


async def test_async_calibration_is_bounded_and_matches_sync() -> None:
    in_flight = {"now": 0, "max": 0}

    class AsyncGauge(ScriptedEngine):
        async def acustom_query(self, query_str: str) -> str:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            import asyncio

            await asyncio.sleep(0.002)
            in_flight["now"] -= 1
            return self.custom_query(query_str)

    tools = [
        QueryEngineTool.from_defaults(AsyncGauge(name=n), name=n, description=n) for n in NAMES
    ]
    asel = await SmoothieSelector.afrom_query_engine_tools(
        tools,
        CALIBRATION,
        n_neighbors=5,
        embedder=HashingEmbedder(),
        max_concurrency=2,
        show_progress=False,
    )
    assert in_flight["max"] == 2
    sync_tools, _ = engine_tools()
    sel = SmoothieSelector.from_query_engine_tools(
        sync_tools, CALIBRATION, n_neighbors=5, embedder=HashingEmbedder(), show_progress=False
    )
    for q in HELD_OUT:
        assert asel.select(NAMES, q).weights == pytest.approx(sel.select(NAMES, q).weights)


def test_progress_bar_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    tools, _ = engine_tools()
    SmoothieSelector.from_query_engine_tools(
        tools, CALIBRATION[:6], n_neighbors=2, embedder=HashingEmbedder(), show_progress=True
    )
    err = capsys.readouterr().err
    assert "Smoothie calibration" in err
    assert "24/24" in err


def test_from_answers_equals_running_the_engines(calibrated: Any) -> None:
    selector, _, _ = calibrated
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    pre = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, n_neighbors=5, embedder=HashingEmbedder()
    )
    for q in HELD_OUT:
        assert pre.select(NAMES, q).weights == pytest.approx(selector.select(NAMES, q).weights)


def test_auto_neighbors_is_bounded_by_complete_queries() -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]

    def used(selector: SmoothieSelector) -> int:
        return int(selector.select(NAMES, HELD_OUT[0]).decision["n_neighbors"])

    auto = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, n_neighbors="auto", embedder=HashingEmbedder()
    )
    assert auto.n_neighbors == auto.router.n_neighbors == "auto"
    assert used(auto) == AUTO_NEIGHBORS_CAP == 10
    few = SmoothieSelector.from_answers(
        NAMES, CALIBRATION[:4], answers[:4], n_neighbors="auto", embedder=HashingEmbedder()
    )
    assert used(few) == 4
    # only queries every tool answered count: 2 of the 4 have an empty answer
    answers[1]["beta"] = answers[2]["gamma"] = "  "
    partial = SmoothieSelector.from_answers(
        NAMES, CALIBRATION[:4], answers[:4], n_neighbors="auto", embedder=HashingEmbedder()
    )
    assert used(partial) == 2


def test_n_neighbors_defaults_to_the_library_default() -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    selector = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, embedder=HashingEmbedder()
    )
    assert selector.n_neighbors == selector.router.n_neighbors == DEFAULT_N_NEIGHBORS


def test_duplicate_tool_names_rejected() -> None:
    tools, _ = engine_tools()
    tools[1] = QueryEngineTool.from_defaults(
        ScriptedEngine(name="beta"), name="alpha", description="x"
    )
    with pytest.raises(
        ValueError, match=r"tool names .* must be unique; got duplicates \['alpha'\]"
    ):
        SmoothieSelector.from_query_engine_tools(tools, CALIBRATION, show_progress=False)


def test_router_retriever_calls_only_the_selected_retriever() -> None:
    tools, retrievers = retriever_tools()
    selector = SmoothieSelector.from_retriever_tools(
        tools, CALIBRATION, n_neighbors=5, embedder=HashingEmbedder(), show_progress=False
    )
    router = RouterRetriever(selector, tools, llm=scripted_chat_llm("alpha"))
    for q in HELD_OUT:
        for r in retrievers.values():
            r.calls.clear()
        nodes = router.retrieve(q)
        called = [n for n, r in retrievers.items() if r.calls]
        assert len(called) == 1
        assert BAD_TOPIC[called[0]] != topic_of(q)
        assert [n.node.get_content() for n in nodes] == [scripted_answer(called[0], q)]


def test_save_load_roundtrip_without_pickle(calibrated: Any, tmp_path: Any) -> None:
    selector, _, _ = calibrated
    path = selector.save(tmp_path / "selector.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert npz.files
    loaded = SmoothieSelector.load(path, embedder=HashingEmbedder())
    assert loaded.candidates == NAMES
    assert loaded.router.n_neighbors == 5
    for q in HELD_OUT:
        assert loaded.select(NAMES, q).weights == pytest.approx(selector.select(NAMES, q).weights)


def test_load_rejects_a_different_embedder(calibrated: Any, tmp_path: Any) -> None:
    selector, _, _ = calibrated
    path = selector.save(tmp_path / "selector.npz")
    with pytest.raises(ValueError, match="calibrated with embedder 'hashing-v1\\|dim=256'"):
        SmoothieSelector.load(path, embedder=HashingEmbedder(dim=64))
    with pytest.raises(ValueError, match="calibrated with embedder"):
        SmoothieSelector.load(path)  # the default MiniLM is not what it was calibrated with


class HashingLlamaEmbedding(BaseEmbedding):
    """A LlamaIndex embedding model backed by the hashing embedder (text-dependent)."""

    def _vec(self, text: str) -> list[float]:
        return HashingEmbedder(dim=128).embed([text])[0].tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)


def test_llamaindex_base_embedding_is_accepted(calibrated: Any) -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    embed_model = HashingLlamaEmbedding(model_name="hash128")
    selector = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, n_neighbors=5, embedder=embed_model
    )
    assert selector.router.embedder.id == "llama_index:HashingLlamaEmbedding:hash128"
    assert isinstance(selector.router.embedder, LlamaIndexEmbedder)
    for q in HELD_OUT:
        assert BAD_TOPIC[selector.select(NAMES, q).selected] != topic_of(q)


def test_bad_embedder_type_is_rejected() -> None:
    with pytest.raises(TypeError, match="`embedder` must be a smoothie_core Embedder"):
        SmoothieSelector.from_answers(NAMES, ["q"], [{}], embedder="minilm")  # type: ignore[arg-type]


@pytest.mark.minilm
def test_pre_routing_with_the_real_minilm(minilm: Any) -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    selector = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, n_neighbors=5, embedder=minilm
    )
    for q in HELD_OUT:
        result = selector.select(NAMES, q)
        assert BAD_TOPIC[result.selected] != topic_of(q), (q, result.weights)


async def test_async_retriever_calibration_and_aretrieve() -> None:
    tools, retrievers = retriever_tools()
    selector = await SmoothieSelector.afrom_retriever_tools(
        tools, CALIBRATION, n_neighbors=5, embedder=HashingEmbedder(), show_progress=False
    )
    assert all(len(r.calls) == len(CALIBRATION) for r in retrievers.values())
    router = RouterRetriever(selector, tools, llm=scripted_chat_llm("alpha"))
    for q in HELD_OUT[::2]:
        for r in retrievers.values():
            r.calls.clear()
        nodes = await router.aretrieve(q)
        called = [n for n, r in retrievers.items() if r.calls]
        assert len(called) == 1
        assert BAD_TOPIC[called[0]] != topic_of(q)
        assert nodes[0].node.get_content() == scripted_answer(called[0], q)


# ------------------------------------------------------ fit, the shared verb
def test_fit_returns_self_and_matches_the_older_constructor(calibrated: Any) -> None:
    old, _, _ = calibrated
    tools, engines = engine_tools()
    selector = SmoothieSelector(tools=tools, n_neighbors=5, embedder=HashingEmbedder())
    with pytest.raises(NotFittedError, match=r"call fit\(queries\) first"):
        selector.calibration_report_  # noqa: B018
    assert not hasattr(selector, "calibration_errors_")  # NotFittedError is an AttributeError
    assert selector.calibration_report is None and selector.calibration_errors == []
    with pytest.raises(NotFittedError, match=r"call fit\(prompts\) first"):
        selector.select(NAMES, HELD_OUT[0])
    assert selector.fit(CALIBRATION, show_progress=False) is selector
    assert all(sorted(e.calls) == sorted(CALIBRATION) for e in engines.values())
    assert selector.calibration_report_ == old.calibration_report_ == old.calibration_report
    assert selector.calibration_errors_ == old.calibration_errors == [{} for _ in CALIBRATION]
    for q in HELD_OUT:
        assert selector.select(NAMES, q).weights == pytest.approx(old.select(NAMES, q).weights)


async def test_afit_returns_self_and_matches_fit(calibrated: Any) -> None:
    old, _, _ = calibrated
    tools, _ = engine_tools()
    selector = SmoothieSelector(tools=tools, n_neighbors=5, embedder=HashingEmbedder())
    assert await selector.afit(CALIBRATION, show_progress=False) is selector
    assert selector.calibration_report_ == old.calibration_report_
    for q in HELD_OUT:
        assert selector.select(NAMES, q).weights == pytest.approx(old.select(NAMES, q).weights)


def test_fit_needs_the_tools_or_answers_and_some_queries() -> None:
    names_only = SmoothieSelector(tools=NAMES, embedder=HashingEmbedder())
    with pytest.raises(ValueError, match=r"are names only.*answers="):
        names_only.fit(CALIBRATION)
    with pytest.raises(ValueError, match="no calibration prompts"):
        SmoothieSelector(tools=engine_tools()[0], embedder=HashingEmbedder()).fit([])
    with pytest.raises(TypeError, match="not a single str"):
        names_only.fit("What is 2 plus 2?", answers=[{}])
    with pytest.raises(ValueError, match="needs `tools=`"):
        SmoothieSelector()
    with pytest.raises(TypeError, match="QueryEngineTool or RetrieverTool"):
        SmoothieSelector(tools=[object(), object(), object()])


def test_calibration_calls_time_out_and_are_retried() -> None:
    class Slow(ScriptedEngine):
        def custom_query(self, query_str: str) -> str:
            if "Egypt" in query_str:
                time.sleep(1.0)
            return super().custom_query(query_str)

    tools, _ = engine_tools()
    tools[0] = QueryEngineTool.from_defaults(
        FlakyEngine(name="alpha", failures=1), name="alpha", description="a"
    )
    tools[1] = QueryEngineTool.from_defaults(Slow(name="beta"), name="beta", description="b")
    queries = CALIBRATION[:6]  # geography; Egypt is the 6th
    selector = SmoothieSelector(
        tools=tools, n_neighbors=2, timeout=0.3, max_retries=1, embedder=HashingEmbedder()
    ).fit(queries, show_progress=False)
    # alpha failed once per query and was retried; beta timed out twice on Egypt
    assert selector.calibration_report_.dropped == [5]
    assert selector.calibration_errors_[5] == {"beta": "TimeoutError: no answer within 0.3 s"}
    assert all(errors == {} for errors in selector.calibration_errors_[:5])
    no_retry = SmoothieSelector(
        tools=[
            *engine_tools()[0][1:],
            QueryEngineTool.from_defaults(
                FlakyEngine(name="alpha", failures=1), name="alpha", description="a"
            ),
        ],
        n_neighbors=2,
        embedder=HashingEmbedder(),
    )
    with pytest.raises(ValueError, match=r"No calibration prompt .*'alpha': 6"):
        no_retry.fit(queries, show_progress=False)


def test_default_calibration_concurrency_is_eight() -> None:
    gauge = Gauge(target=9, wait=0.3)  # waits for a 9th call that the bound never lets in
    tools = [
        QueryEngineTool.from_defaults(GaugedEngine(name=n, gauge=gauge), name=n, description=n)
        for n in NAMES
    ]
    SmoothieSelector(tools=tools, n_neighbors=2, embedder=HashingEmbedder()).fit(
        CALIBRATION[:3], show_progress=False
    )
    assert gauge.peak == DEFAULT_MAX_CONCURRENCY == 8


def test_abstention_falls_back_to_the_default_and_ignores_prices(calibrated: Any) -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    kwargs: dict[str, Any] = {"n_neighbors": 5, "embedder": HashingEmbedder()}
    cautious = SmoothieSelector.from_answers(
        NAMES,
        CALIBRATION,
        answers,
        default="delta",
        abstain_below=1.0,  # nothing is that reliable: always abstain
        prices={"alpha": 0.0, "beta": 0.0, "gamma": 0.0, "delta": 100.0},
        cost_tradeoff=10.0,
        **kwargs,
    )
    plain = SmoothieSelector.from_answers(NAMES, CALIBRATION, answers, **kwargs)
    for q in HELD_OUT:
        result = cautious.select(NAMES, q)
        assert result.selected == "delta", result.decision["fallback"]
        assert result.decision["abstained"] is True
        assert "scores" not in result.decision  # the abstained decision keeps its fallback
        assert result.decision["diagnostics"]["smoothie_choice"] == plain.select(NAMES, q).selected
        assert "abstained" in result.reason


def test_prices_trade_quality_for_cost(calibrated: Any) -> None:
    selector, tools, _ = calibrated
    q = HELD_OUT[0]
    best = selector.select(NAMES, q)
    prices = {n: (100.0 if n == best.selected else 1.0) for n in NAMES}
    cheap = SmoothieSelector(selector.router, prices=prices, cost_tradeoff=1.0)
    result = cheap.select(NAMES, q)
    scores = result.decision["scores"]
    assert result.weights == pytest.approx(best.weights)  # the quality estimate is unchanged
    assert scores == pytest.approx({n: best.weights[n] - prices[n] / 100.0 for n in NAMES})
    assert result.selected == max(scores, key=scores.__getitem__) != best.selected
    assert result.decision["prices"] == prices
    assert "cost-adjusted score" in result.reason
    # zero trade-off: prices are recorded nowhere and change nothing
    free = SmoothieSelector(selector.router, prices=prices, cost_tradeoff=0.0)
    assert free.select(NAMES, q).selected == best.selected
    # a subset of choices: the best offered by score
    offered = [n for n in NAMES if n != result.selected]
    sub = cheap.select(offered, q)
    assert sub.selected == max(offered, key=scores.__getitem__)
    # in a RouterQueryEngine the cheap tool is the one called
    router = RouterQueryEngine(cheap, tools, llm=scripted_chat_llm("alpha"))
    assert router.query(q).metadata["selector_result"].selected == result.selected


def test_load_takes_the_selectors_own_options(calibrated: Any, tmp_path: Any) -> None:
    selector, tools, _ = calibrated
    path = selector.save(tmp_path / "selector.npz")
    prices = dict.fromkeys(NAMES, 1.0)
    loaded = SmoothieSelector.load(
        path, embedder=HashingEmbedder(), tools=tools, prices=prices, cost_tradeoff=0.5
    )
    assert loaded.prices == prices and loaded.n_neighbors == 5
    # a saved router-level option can be overridden at load time
    wider = SmoothieSelector.load(path, embedder=HashingEmbedder(), n_neighbors=3)
    assert wider.n_neighbors == 3
    assert wider.select(NAMES, HELD_OUT[0]).decision["n_neighbors"] == 3
    with pytest.raises(NotFittedError, match="keeps no report"):
        loaded.calibration_report_  # noqa: B018
    # a loaded selector with its tools can be refitted with the same embedder
    loaded.fit(CALIBRATION[:8], show_progress=False)
    assert loaded.calibration_report_.n_used == 8
    assert loaded.router.embedder.id == "hashing-v1|dim=256"
