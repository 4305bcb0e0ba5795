"""SmoothieRouter behaviour: select and route modes, failures, tools, callbacks, persistence."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import BaseModel

from langchain_smoothie import (
    AllCandidatesFailedError,
    LangChainEmbedder,
    ScriptedChatModel,
    SmoothieRouter,
)
from langchain_smoothie.decision import SmoothieDecisionModel
from smoothie_core import HashingEmbedder, NotFittedError
from tests.support.langchain import COUNTRIES, DISHES

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _topic(text: str) -> tuple[str, str, str] | None:
    for country, capital in COUNTRIES.items():
        if country.lower() in text.lower():
            return "geo", country, capital
    for dish, how in DISHES.items():
        if dish in text.lower():
            return "cook", dish, how
    return None


def _scripted(name: str, style: int, bad_topic: str | None = None) -> ScriptedChatModel:
    """A candidate answering geography and cooking questions; off-topic on ``bad_topic``."""

    def script(messages: list[BaseMessage], tools: Any) -> str:
        topic = _topic(messages[-1].text)
        if topic is None:
            return "Hello! How can I help you today?"
        kind, key, value = topic
        if kind == bad_topic:
            return f"Skateboards have {len(key) + 2} wheels and turtles sleep in winter."
        if kind == "geo":
            return [
                f"The capital of {key} is {value}.",
                f"{value} is the capital of {key}.",
                f"{key}'s capital city is {value}.",
            ][style]
        return [
            f"To cook {key}, {value}.",
            f"For {key}: {value}.",
            f"Cooking {key}? Simply {value}.",
        ][style]

    return ScriptedChatModel(model_name=name, script=script)


def geo_prompt(country: str) -> str:
    return f"What is the capital of {country}?"


def cook_prompt(dish: str) -> str:
    return f"How should I cook {dish}?"


@pytest.fixture
def candidates() -> dict[str, ScriptedChatModel]:
    return {
        "good1": _scripted("good1", 0),
        "good2": _scripted("good2", 1),
        "geo_bad": _scripted("geo_bad", 2, bad_topic="geo"),
        "cook_bad": _scripted("cook_bad", 2, bad_topic="cook"),
    }


def make_router(models: Any, **kwargs: Any) -> SmoothieRouter:
    return SmoothieRouter(models=models, embedder=HashingEmbedder(), **kwargs)


# ----------------------------------------------------------------- construction
def test_names_from_model_name_and_dict() -> None:
    models = [ScriptedChatModel(model_name=n) for n in "abc"]
    assert make_router(models).candidate_names == ["a", "b", "c"]
    assert make_router(dict(zip("xyz", models, strict=True))).candidate_names == ["x", "y", "z"]


def test_bad_candidates_are_clear_errors() -> None:
    a, b = ScriptedChatModel(model_name="a"), ScriptedChatModel(model_name="b")
    with pytest.raises(ValueError, match=r"must be unique; got duplicates \['a'\].*pass a dict"):
        make_router([a, b, ScriptedChatModel(model_name="a")])
    with pytest.raises(ValueError, match="at least 3 candidates"):
        make_router([a, b])
    with pytest.raises(ValueError, match=r"models\[2\] \(FakeListChatModel\) has no"):
        make_router([a, b, FakeListChatModel(responses=["x"])])
    with pytest.raises(ValueError, match=r"models\['c'\] must be a langchain_core BaseChatModel"):
        make_router({"a": a, "b": b, "c": 42})
    with pytest.raises(
        ValueError, match=r"models\['c'\] = 'gpt' cannot be built by init_chat_model"
    ):
        make_router({"a": a, "b": b, "c": "gpt"})
    with pytest.raises(ValueError, match="`default` must be one of"):
        make_router([a, b, ScriptedChatModel(model_name="c")], default="z")
    with pytest.raises(ValueError, match="`cost_tradeoff` > 0 needs `prices`"):
        make_router([a, b, ScriptedChatModel(model_name="c")], cost_tradeoff=1.0)
    with pytest.raises(ValueError, match="missing"):
        make_router([a, b, ScriptedChatModel(model_name="c")], prices={"a": 1.0})


# ------------------------------------------------------------------ select mode
def test_select_picks_from_the_agreeing_candidates(candidates: dict[str, Any]) -> None:
    router = make_router(candidates)
    for country in list(COUNTRIES)[:4]:
        msg = router.invoke(geo_prompt(country))
        meta = msg.response_metadata["smoothie"]
        assert meta["selected"] in {"good1", "good2", "cook_bad"}, meta
        assert meta["weights"]["geo_bad"] == min(meta["weights"].values())
        assert COUNTRIES[country] in msg.content
        assert msg.response_metadata["model_name"] == meta["selected"]
        assert meta["mode"] == "select" and meta["failed"] == []
        assert sum(meta["weights"].values()) == pytest.approx(1.0)
    for model in candidates.values():  # select mode calls every candidate once per input
        assert model.call_count == 4


def test_select_metadata_is_json_serialisable(candidates: dict[str, Any]) -> None:
    msg = make_router(candidates).invoke(geo_prompt("Peru"))
    json.dumps(msg.response_metadata["smoothie"])


def test_children_nest_usage_counted_once_and_decision_event(candidates: dict[str, Any]) -> None:
    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.starts: list[tuple[Any, Any, Any]] = []
            self.events: list[tuple[str, Any, Any]] = []

        def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
            self.starts.append((kw["run_id"], kw.get("parent_run_id"), kw.get("name")))

        def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
            self.events.append((name, data, kw["run_id"]))

    rec = Recorder()
    router = make_router(candidates)
    with get_usage_metadata_callback() as usage:
        msg = router.invoke(geo_prompt("Japan"), config={"callbacks": [rec]})
    root = rec.starts[0]
    assert root[1] is None
    children = rec.starts[1:]
    assert sorted(c[2] for c in children) == sorted(candidates)
    assert all(parent == root[0] for _, parent, _ in children)
    # the router's own message carries no usage: each candidate's child run reported its own
    assert msg.usage_metadata is None
    per_candidate = msg.response_metadata["smoothie"]["usage"]
    assert usage.usage_metadata == per_candidate
    [(name, data, run_id)] = rec.events
    assert name == "smoothie_decision" and run_id == root[0]
    assert data["selected"] == msg.response_metadata["smoothie"]["selected"]


def test_failure_and_timeout_lose_no_answer(candidates: dict[str, Any]) -> None:
    candidates = dict(candidates)
    candidates["broken"] = ScriptedChatModel(model_name="broken", fail_on=["*"])
    candidates["slow"] = ScriptedChatModel(model_name="slow", delay=2.0, default_answer="late")
    router = make_router(candidates, timeout=0.5)
    t0 = time.monotonic()
    msg = router.invoke(geo_prompt("Kenya"))
    assert time.monotonic() - t0 < 1.8
    meta = msg.response_metadata["smoothie"]
    assert meta["failed"] == ["broken", "slow"]
    assert "RuntimeError" in meta["errors"]["broken"]
    assert "TimeoutError" in meta["errors"]["slow"]
    assert set(meta["weights"]) == {"good1", "good2", "geo_bad", "cook_bad"}
    assert set(meta["usage"]) == {"good1", "good2", "geo_bad", "cook_bad"}
    assert "Nairobi" in msg.content


async def test_async_failure_and_timeout(candidates: dict[str, Any]) -> None:
    candidates = dict(candidates)
    candidates["broken"] = ScriptedChatModel(model_name="broken", fail_on=["kenya"])
    candidates["slow"] = ScriptedChatModel(model_name="slow", delay=5.0)
    router = make_router(candidates, timeout=0.3)
    msg = await router.ainvoke(geo_prompt("Kenya"))
    meta = msg.response_metadata["smoothie"]
    assert meta["failed"] == ["broken", "slow"]
    assert "Nairobi" in msg.content


def test_retries_recover_a_flaky_candidate(candidates: dict[str, Any]) -> None:
    state = {"n": 0}

    def flaky(messages: list[BaseMessage], tools: Any) -> str:
        state["n"] += 1
        if state["n"] == 1:
            raise ConnectionError("transient")
        return "The capital of Chile is Santiago."

    candidates = {**candidates, "flaky": ScriptedChatModel(model_name="flaky", script=flaky)}
    meta = make_router(candidates, max_retries=1).invoke(geo_prompt("Chile")).response_metadata
    assert meta["smoothie"]["failed"] == [] and state["n"] == 2


def test_fewer_than_three_answers_fall_back_documented(candidates: dict[str, Any]) -> None:
    models = {
        "a": ScriptedChatModel(model_name="a", default_answer="one"),
        "b": ScriptedChatModel(model_name="b", default_answer="two"),
        "c": ScriptedChatModel(model_name="c", fail_on=["*"]),
    }
    msg = make_router(models, default="b").invoke("hi")
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] == "b" and meta["failed"] == ["c"]
    assert "chose the default" in meta["fallback"]
    models["b"] = ScriptedChatModel(model_name="b", fail_on=["*"])
    msg = make_router(models).invoke("hi")
    assert (
        msg.content == "one"
        and "only one candidate answered" in msg.response_metadata["smoothie"]["fallback"]
    )


def test_all_failing_raises_with_every_error() -> None:
    models = [ScriptedChatModel(model_name=n, fail_on=["*"]) for n in "abc"]
    with pytest.raises(AllCandidatesFailedError, match="Every candidate failed") as info:
        make_router(models).invoke("hi")
    assert set(info.value.errors) == {"a", "b", "c"}


def test_select_stream_yields_the_chosen_answer_once(candidates: dict[str, Any]) -> None:
    chunks = list(make_router(candidates).stream(geo_prompt("Egypt")))
    assert len(chunks) == 1 and chunks[0].chunk_position == "last"
    assert "Cairo" in chunks[0].content


def test_update_pool_grows_bounded_and_local_uses_it(candidates: dict[str, Any]) -> None:
    router = make_router(candidates, update_pool=True, n_neighbors=3, max_pool_size=3)
    for country in list(COUNTRIES)[:5]:
        router.invoke(geo_prompt(country))
    assert router.router.pool_size == 3
    meta = router.invoke(geo_prompt("Chile")).response_metadata["smoothie"]
    assert meta["n_neighbors"] == 3 and meta["selected"] != "geo_bad"


def test_fit_gives_select_mode_a_pool_for_smoothie_local(candidates: dict[str, Any]) -> None:
    router = make_router(candidates, n_neighbors=3).fit(PROMPTS, show_progress=False)
    assert router.router.pool_size == len(PROMPTS)
    meta = router.invoke(cook_prompt("tofu")).response_metadata["smoothie"]
    assert meta["mode"] == "select" and meta["n_neighbors"] == 3
    assert meta["selected"] != "cook_bad"


async def test_thousand_concurrent_ainvokes_no_lost_or_duplicated_results() -> None:
    def echo(tag: str):  # answers carry the input id, so any mix-up is visible
        def script(messages: list[BaseMessage], tools: Any) -> str:
            return f"answer to request {messages[-1].text.split()[-1]} {tag}"

        return script

    models = {
        n: ScriptedChatModel(model_name=n, script=echo(t), delay=0.01)
        for n, t in [("a", "ok"), ("b", "fine"), ("c", "zzz qqq")]
    }
    router = make_router(models)
    ids = [f"id{i:04d}" for i in range(1000)]
    results = await asyncio.gather(*(router.ainvoke(f"please answer {i}") for i in ids))
    got = [r.content.split()[3] for r in results]
    assert got == ids
    assert all(isinstance(r, AIMessage) for r in results)
    assert sum(m.call_count for m in models.values()) == 3000
    assert sorted(models["a"].calls) == sorted(f"please answer {i}" for i in ids)


# --------------------------------------------------------------- tools / schema
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


def test_tools_bound_on_every_candidate_and_compared_on_calls() -> None:
    def wrong(messages: list[BaseMessage], tools: Any) -> AIMessage:
        assert tools and tools[0]["function"]["name"] == "add"
        return AIMessage("", tool_calls=[{"name": "add", "args": {"a": 40, "b": 2}, "id": "w"}])

    models = {
        "a": ScriptedChatModel(model_name="a"),
        "b": ScriptedChatModel(model_name="b"),
        "c": ScriptedChatModel(model_name="c"),
        "wrong": ScriptedChatModel(model_name="wrong", script=wrong),
    }
    msg = make_router(models).bind_tools([ADD_TOOL], tool_choice="any").invoke("add 1 and 2")
    assert msg.tool_calls[0]["args"] == {"a": 1, "b": 2}
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] != "wrong"
    assert meta["weights"]["wrong"] == min(meta["weights"].values())


def test_bind_tools_needs_tool_calling_candidates() -> None:
    class NoTools(FakeListChatModel):
        model_name: str = "plain"

    models = [
        ScriptedChatModel(model_name="a"),
        ScriptedChatModel(model_name="b"),
        NoTools(responses=["x"]),
    ]
    with pytest.raises(NotImplementedError, match=r"\['plain'\] do not"):
        make_router(models).bind_tools([ADD_TOOL])


def test_with_structured_output_returns_the_schema() -> None:
    class Capital(BaseModel):
        country: str
        population_millions: int

    models = [ScriptedChatModel(model_name=n) for n in "abc"]
    out = make_router(models).with_structured_output(Capital).invoke("France has 68 million")
    assert isinstance(out, Capital) and out.population_millions == 68


# ------------------------------------------------------------------- route mode
PROMPTS = [geo_prompt(c) for c in list(COUNTRIES)[:6]] + [cook_prompt(d) for d in list(DISHES)[:6]]


@pytest.fixture
def fitted(candidates: dict[str, Any]) -> SmoothieRouter:
    router = make_router(candidates, mode="route", n_neighbors=4)
    return router.fit(PROMPTS, show_progress=False)


def test_route_calls_exactly_one_model_and_avoids_the_bad_one_per_topic(
    fitted: SmoothieRouter, candidates: dict[str, Any]
) -> None:
    before = {n: m.call_count for n, m in candidates.items()}
    assert all(v == len(PROMPTS) for v in before.values())  # fit ran everyone on everything
    tests = [(geo_prompt(c), "geo_bad") for c in list(COUNTRIES)[6:]] + [
        (cook_prompt(d), "cook_bad") for d in list(DISHES)[6:]
    ]
    for i, (prompt, bad) in enumerate(tests, start=1):
        decision = fitted.route(prompt)
        assert decision.selected != bad, (prompt, decision.weights)
        assert decision.weights[bad] == min(decision.weights.values())
        msg = fitted.invoke(prompt)
        assert msg.response_metadata["smoothie"]["selected"] == decision.selected
        calls = sum(m.call_count for m in candidates.values()) - sum(before.values())
        assert calls == i  # exactly one model per input
        assert msg.usage_metadata is not None  # the winner's usage, counted once


class EventRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.roots: list[Any] = []
        self.events: list[tuple[str, Any, Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        if kw.get("parent_run_id") is None:
            self.roots.append(kw["run_id"])

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.events.append((name, data, kw["run_id"]))


async def test_decision_event_in_route_and_async_modes(
    fitted: SmoothieRouter, candidates: dict[str, Any]
) -> None:
    for router in (fitted, make_router(candidates)):
        for use_async in (False, True):
            rec = EventRecorder()
            config: Any = {"callbacks": [rec]}
            if use_async:
                msg = await router.ainvoke(cook_prompt("tofu"), config=config)
            else:
                msg = router.invoke(cook_prompt("tofu"), config=config)
            [(name, data, run_id)] = rec.events
            assert name == "smoothie_decision" and run_id == rec.roots[0]
            assert data == msg.response_metadata["smoothie"]
            json.dumps(data)


def test_route_streams_the_winners_chunks(fitted: SmoothieRouter) -> None:
    chunks = list(fitted.stream(cook_prompt("potatoes")))
    assert len(chunks) > 3
    assert chunks[0].response_metadata["smoothie"]["mode"] == "route"
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert "220 C" in full.content and chunks[-1].chunk_position == "last"


async def test_route_async_and_astream(fitted: SmoothieRouter) -> None:
    msg = await fitted.ainvoke(geo_prompt("Chile"))
    assert "Santiago" in msg.content
    chunks = [c async for c in fitted.astream(geo_prompt("Chile"))]
    assert "".join(str(c.content) for c in chunks) == msg.content


def test_route_falls_back_to_next_best_when_winner_fails(candidates: dict[str, Any]) -> None:
    router = make_router(candidates, mode="route", n_neighbors=4).fit(PROMPTS, show_progress=False)
    winner = router.route(geo_prompt("Chile")).selected
    candidates[winner].fail_on = ["chile"]
    msg = router.invoke(geo_prompt("Chile"))
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] != winner and meta["failed"] == [winner]
    assert "next best" in meta["fallback"] and "Santiago" in msg.content


def test_stop_reaches_the_candidates(fitted: SmoothieRouter, candidates: dict[str, Any]) -> None:
    full = fitted.invoke(geo_prompt("Chile")).content
    cut = fitted.invoke(geo_prompt("Chile"), stop=["Santiago"]).content
    assert "Santiago" in full and cut == full[: full.index("Santiago")]
    models = [ScriptedChatModel(model_name=n, default_answer="Hi you there") for n in "abc"]
    assert make_router(models, stop=["you"]).invoke("hi").content == "Hi "


def test_route_needs_fit(candidates: dict[str, Any]) -> None:
    with pytest.raises(NotFittedError, match=r"call router.fit\(prompts\)"):
        make_router(candidates, mode="route").invoke("hi")


def test_fit_records_failures_without_failing(candidates: dict[str, Any]) -> None:
    candidates["good2"].fail_on = ["france"]
    router = make_router(candidates, mode="route").fit(PROMPTS, show_progress=False)
    assert router.fit_errors == {(0, "good2"): router.fit_errors[(0, "good2")]}
    report = router.calibration_report
    assert report is not None and report.dropped == [0] and report.n_used == len(PROMPTS) - 1


async def test_afit_matches_fit(candidates: dict[str, Any]) -> None:
    a = make_router(candidates, mode="route", n_neighbors=4).fit(PROMPTS, show_progress=False)
    b = await make_router(candidates, mode="route", n_neighbors=4).afit(
        PROMPTS, show_progress=False
    )
    for prompt in (geo_prompt("Chile"), cook_prompt("tofu")):
        assert a.route(prompt).weights == pytest.approx(b.route(prompt).weights)


def test_save_load_roundtrip_and_name_mismatch(
    fitted: SmoothieRouter, candidates: dict[str, Any], tmp_path: Any
) -> None:
    path = fitted.save(tmp_path / "router.npz")
    loaded = SmoothieRouter.load(path, models=candidates, embedder=HashingEmbedder())
    assert loaded.mode == "route" and loaded.n_neighbors == 4
    prompt = cook_prompt("tofu")
    assert loaded.route(prompt).weights == pytest.approx(fitted.route(prompt).weights)
    renamed = {f"x{n}": m for n, m in candidates.items()}
    with pytest.raises(ValueError, match="calibrated for candidates"):
        SmoothieRouter.load(path, models=renamed, embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="calibrated with embedder"):
        SmoothieRouter.load(path, models=candidates, embedder=HashingEmbedder(dim=8))


def test_cost_tradeoff_prefers_the_cheap_good_candidate(candidates: dict[str, Any]) -> None:
    prices = {"good1": 10.0, "good2": 1.0, "geo_bad": 0.0, "cook_bad": 1.0}
    plain = make_router(candidates, mode="route", n_neighbors=4).fit(PROMPTS, show_progress=False)
    prompt = geo_prompt("Chile")
    base = plain.route(prompt)
    cheap = make_router(
        candidates, mode="route", n_neighbors=4, prices=prices, cost_tradeoff=0.3
    ).fit(PROMPTS, show_progress=False)
    msg = cheap.invoke(prompt)
    meta = msg.response_metadata["smoothie"]
    scores = meta["scores"]
    assert meta["selected"] == max(scores, key=scores.get)
    assert scores["good1"] == pytest.approx(base.weights["good1"] - 0.3)
    assert meta["selected"] != "geo_bad"
    huge = make_router(
        candidates, mode="route", n_neighbors=4, prices=prices, cost_tradeoff=100.0
    ).fit(PROMPTS, show_progress=False)
    assert huge.route(prompt).selected == "geo_bad"  # price dominates: the free one
    abstaining = make_router(
        candidates,
        mode="route",
        n_neighbors=4,
        prices=prices,
        cost_tradeoff=100.0,
        default="good1",
        abstain_below=1.0,
    )
    decision = abstaining.fit(PROMPTS, show_progress=False).route(prompt)
    assert decision.abstained and decision.selected == "good1"  # abstention wins over price


def test_langchain_embeddings_are_accepted(candidates: dict[str, Any]) -> None:
    router = SmoothieRouter(models=candidates, embedder=DeterministicFakeEmbedding(size=16))
    assert isinstance(router.router.embedder, LangChainEmbedder)
    assert router.invoke(geo_prompt("Peru")).response_metadata["smoothie"]["selected"]
    with pytest.raises(TypeError, match="`embedder` must be None"):
        SmoothieRouter(models=candidates, embedder="minilm")


def test_decision_runnable_and_decision_model(fitted: SmoothieRouter) -> None:
    from langchain_core.decisions import Choice, Noul

    as_dict = fitted.as_decision_runnable().invoke(cook_prompt("tofu"))
    assert as_dict["selected"] == fitted.route(cook_prompt("tofu")).selected
    model = SmoothieDecisionModel(router=fitted)
    labels = {"good1": None, "good2": None, "cook_bad": None}
    answer = model.invoke(
        {
            "state": cook_prompt("tofu"),
            "questions": {"route": Choice(instructions="x", criteria=labels)},
        }
    )
    choice = answer.choices["route"]
    assert choice.choice in {"good1", "good2"}
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)
    assert choice.confidence == max(choice.probabilities.values())
    with pytest.raises(ValueError, match="Choice labels must be candidate names"):
        model.invoke(
            {"state": "x", "questions": {"r": Choice(instructions="x", criteria={"gpt": None})}}
        )
    with pytest.raises(ValueError, match="`router` must be a SmoothieRouter"):
        SmoothieDecisionModel(router="gpt")
    with pytest.raises(ValueError, match="Choice questions only"):
        model.invoke({"state": "x", "questions": {"r": Noul(instructions="x")}})
