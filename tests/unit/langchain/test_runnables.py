"""SmoothieRunnable (issue 16): any runnables as candidates, one model under several prompts.

The world: one scripted chat model answering geography and cooking questions. Under the
"poet" prompt it is wrong on geography, under the "joker" prompt wrong on cooking; the
"brief" and "careful" prompts are right on both (in different words). Smoothie never
sees these labels; the tests use them to check its choices.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.runnables import RunnableLambda

from langchain_smoothie import (
    AllCandidatesFailedError,
    ScriptedChatModel,
    SmoothieRouter,
    SmoothieRunnable,
)
from smoothie_core import HashingEmbedder, NotFittedError
from tests.support.langchain import COUNTRIES, DISHES

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROMPTS = {
    "brief": "Answer briefly. {question}",
    "careful": "Answer carefully. {question}",
    "poet": "Answer as a poet. {question}",
    "joker": "Answer as a joker. {question}",
}
#: The prompt that makes the model wrong on each topic.
BAD = {"geo": "poet", "cook": "joker"}


def _topic(text: str) -> tuple[str, str, str] | None:
    for country, capital in COUNTRIES.items():
        if country.lower() in text.lower():
            return "geo", country, capital
    for dish, how in DISHES.items():
        if dish in text.lower():
            return "cook", dish, how
    return None


def _script(messages: list[BaseMessage], tools: Any) -> str:
    text = messages[-1].text
    style = next(name for name in PROMPTS if name in text.lower())
    topic = _topic(text)
    if topic is None:
        return "Hello! How can I help you today?"
    kind, key, value = topic
    if BAD[kind] == style:
        return f"Skateboards have {len(key) + 2} wheels and turtles sleep in winter."
    if kind == "geo":
        return {
            "brief": f"The capital of {key} is {value}.",
            "careful": f"{value} is the capital of {key}.",
            "poet": f"{key}'s capital city is {value}.",
            "joker": f"Ha! {value} is the capital of {key}.",
        }[style]
    return {
        "brief": f"To cook {key}, {value}.",
        "careful": f"For {key}: {value}.",
        "poet": f"Cooking {key}? Simply {value}.",
        "joker": f"Ha! {key}: {value}.",
    }[style]


def geo(country: str) -> dict[str, str]:
    return {"question": f"What is the capital of {country}?"}


def cook(dish: str) -> dict[str, str]:
    return {"question": f"How should I cook {dish}?"}


CALIBRATION = [geo(c) for c in list(COUNTRIES)[:6]] + [cook(d) for d in list(DISHES)[:6]]
HELD_OUT = [(geo(c), BAD["geo"]) for c in list(COUNTRIES)[6:]] + [
    (cook(d), BAD["cook"]) for d in list(DISHES)[6:]
]


@pytest.fixture
def llm() -> ScriptedChatModel:
    return ScriptedChatModel(model_name="llm", script=_script)


def prompted(llm: Any, **kwargs: Any) -> SmoothieRunnable:
    return SmoothieRunnable.from_prompts(llm, PROMPTS, embedder=HashingEmbedder(), **kwargs)


@pytest.fixture
def fitted(llm: ScriptedChatModel) -> SmoothieRunnable:
    return prompted(llm, mode="route", n_neighbors=4).fit(CALIBRATION, show_progress=False)


def lambdas(**answers: Any) -> dict[str, RunnableLambda[Any, Any]]:
    """Candidates answering with fixed texts (or calling a function of the input)."""
    return {
        name: RunnableLambda(a if callable(a) else (lambda _x, a=a: a), name=name)
        for name, a in answers.items()
    }


PARIS = {
    "a": "Paris is the capital of France.",
    "b": "The capital of France is Paris.",
    "c": "Bananas are rich in potassium.",
}


class Recorder(BaseCallbackHandler):
    """Runs (chain and chat model) with their parents and tags, tokens and custom events."""

    def __init__(self) -> None:
        self.runs: dict[UUID, tuple[str, UUID | None, list[str]]] = {}
        self.log: list[tuple[str, Any, UUID]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.runs[kw["run_id"]] = (kw.get("name") or "", kw.get("parent_run_id"), kw["tags"])
        self.log.append(("chain", kw.get("name"), kw["run_id"]))

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self.runs[kw["run_id"]] = ("<chat model>", kw.get("parent_run_id"), kw["tags"])
        self.log.append(("model", kw.get("name"), kw["run_id"]))

    def on_llm_new_token(self, token: str, **kw: Any) -> None:
        self.log.append(("token", token, kw["run_id"]))

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.log.append(("event", (name, data), kw["run_id"]))

    def root(self) -> UUID:
        [root] = [r for r, (_, parent, _) in self.runs.items() if parent is None]
        return root

    def ancestors(self, run: UUID) -> list[UUID]:
        out = []
        parent = self.runs[run][1]
        while parent is not None:
            out.append(parent)
            parent = self.runs[parent][1]
        return out


# ----------------------------------------------------------------- construction
def test_candidates_are_named_runnables_and_checked() -> None:
    runnable = SmoothieRunnable(candidates=lambdas(**PARIS), embedder=HashingEmbedder())
    assert runnable.candidate_names == ["a", "b", "c"]
    plain = SmoothieRunnable(candidates={n: (lambda x: x) for n in "xyz"})
    assert all(isinstance(r, RunnableLambda) for r in plain.candidates.values())
    with pytest.raises(ValueError, match="`candidates` must be a dict name -> runnable"):
        SmoothieRunnable(candidates=list(lambdas(**PARIS).values()))
    with pytest.raises(ValueError, match=r"candidates\['c'\] must be a Runnable"):
        SmoothieRunnable(candidates={"a": lambda x: x, "b": lambda x: x, "c": 42})
    with pytest.raises(ValueError, match="at least 3 candidates"):
        SmoothieRunnable(candidates=lambdas(a="x", b="y"))
    with pytest.raises(ValueError, match="`default` must be one of"):
        SmoothieRunnable(candidates=lambdas(**PARIS), default="z")
    with pytest.raises(ValueError, match="`cost_tradeoff` > 0 needs `prices`"):
        SmoothieRunnable(candidates=lambdas(**PARIS), cost_tradeoff=1.0)
    with pytest.raises(ValueError, match="`input_text` must be None, a function"):
        SmoothieRunnable(candidates=lambdas(**PARIS), input_text=42)
    with pytest.raises(ValueError, match="`timeout` must be None or a positive number"):
        SmoothieRunnable(candidates=lambdas(**PARIS), timeout=0)


def test_from_prompts_builds_template_then_model(llm: ScriptedChatModel) -> None:
    runnable = prompted(llm)
    assert runnable.candidate_names == list(PROMPTS)
    assert runnable.get_input_schema().model_json_schema()["required"] == ["question"]
    with pytest.raises(TypeError, match="`llm` must be a Runnable"):
        SmoothieRunnable.from_prompts("gpt", PROMPTS)
    with pytest.raises(TypeError, match=r"prompts\['x'\] must be a prompt template or a str"):
        SmoothieRunnable.from_prompts(llm, {"x": 3, "y": "{q}", "z": "{q}"})
    with pytest.raises(TypeError, match="`prompts` must be a dict"):
        SmoothieRunnable.from_prompts(llm, ["{q}", "{q}", "{q}"])  # type: ignore[arg-type]


# ------------------------------------------------------------------ select mode
def test_select_returns_the_agreeing_answer_as_the_candidates_own_output() -> None:
    runnable = SmoothieRunnable(candidates=lambdas(**PARIS), embedder=HashingEmbedder())
    rec = Recorder()
    out = runnable.invoke("Capital of France?", config={"callbacks": [rec]})
    assert out in {PARIS["a"], PARIS["b"]}  # a str output stays a str
    [(name, data)] = [x[1] for x in rec.log if x[0] == "event"]
    assert name == "smoothie_decision" and data["selected"] in {"a", "b"}
    assert data["mode"] == "select" and out == PARIS[data["selected"]]
    json.dumps(data)
    with_decision = runnable.with_config(callbacks=[]).invoke("Capital of France?")
    assert with_decision == out
    full = SmoothieRunnable(
        candidates=lambdas(**PARIS), embedder=HashingEmbedder(), include_decision=True
    ).invoke("Capital of France?")
    assert full["output"] == PARIS[full["smoothie"]["selected"]]


def test_select_with_message_outputs_carries_the_decision(llm: ScriptedChatModel) -> None:
    runnable = prompted(llm)
    rec = Recorder()
    msg = runnable.invoke(geo("Peru"), config={"callbacks": [rec]})
    assert isinstance(msg, AIMessage)
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] != "poet" and "Lima" in msg.content
    assert set(meta["usage"]) == set(PROMPTS) and meta["usage"]["brief"]["output_tokens"] > 0
    assert msg.usage_metadata is not None  # the candidate's own output, as it was
    [(_, data)] = [x[1] for x in rec.log if x[0] == "event"]
    assert data == meta
    assert llm.call_count == 4  # one call per prompt


def test_select_children_nest_and_carry_inherited_candidate_tags(llm: ScriptedChatModel) -> None:
    rec = Recorder()
    prompted(llm).invoke(geo("Peru"), config={"callbacks": [rec]})
    root = rec.root()
    assert rec.runs[root][0] == "SmoothieRunnable"
    children = [r for r, (_, parent, _) in rec.runs.items() if parent == root]
    assert sorted(rec.runs[r][0] for r in children) == sorted(PROMPTS)
    models = [r for r, (name, _, _) in rec.runs.items() if name == "<chat model>"]
    assert len(models) == 4
    for run in [*children, *models]:  # the model inside each candidate is tagged too
        assert {"smoothie:candidate", "nostream"} <= set(rec.runs[run][2])
        assert root in rec.ancestors(run)
    event_runs = [run for kind, _, run in rec.log if kind == "event"]
    assert event_runs == [root]


def test_failures_timeouts_and_empty_answers_lose_no_answer() -> None:
    def boom(_x: Any) -> str:
        raise ConnectionError("down")

    def slow(_x: Any) -> str:
        time.sleep(3)
        return "late"

    candidates = lambdas(**PARIS, boom=boom, slow=slow, empty="   ", odd=lambda _x: {"x": 1})
    runnable = SmoothieRunnable(
        candidates=candidates, embedder=HashingEmbedder(), timeout=0.5, include_decision=True
    )
    t0 = time.monotonic()
    out = runnable.invoke("Capital of France?")
    assert time.monotonic() - t0 < 2.5
    meta = out["smoothie"]
    assert sorted(meta["failed"]) == ["boom", "empty", "odd", "slow"]
    assert meta["errors"]["boom"] == "ConnectionError: down"
    assert "TimeoutError" in meta["errors"]["slow"]
    assert "EmptyAnswerError" in meta["errors"]["empty"]
    assert (
        "returned dict; a SmoothieRunnable's candidates must return a message or a str"
        in (meta["errors"]["odd"])
    )
    assert meta["selected"] in {"a", "b"}


async def test_async_select_matches_sync_and_reports_failures() -> None:
    async def boom(_x: Any) -> str:
        raise ConnectionError("down")

    async def slow(_x: Any) -> str:
        await asyncio.sleep(3)
        return "late"

    candidates = {**lambdas(**PARIS), "boom": RunnableLambda(boom), "slow": RunnableLambda(slow)}
    runnable = SmoothieRunnable(
        candidates=candidates, embedder=HashingEmbedder(), timeout=0.5, include_decision=True
    )
    out = await runnable.ainvoke("Capital of France?")
    assert sorted(out["smoothie"]["failed"]) == ["boom", "slow"]
    assert out["output"] == runnable.invoke("Capital of France?")["output"]


def test_retries_recover_a_flaky_candidate() -> None:
    state = {"calls": 0}

    def flaky(_x: Any) -> str:
        state["calls"] += 1
        if state["calls"] == 1:
            raise ConnectionError("transient")
        return "Paris, France's capital."

    runnable = SmoothieRunnable(
        candidates={**lambdas(**PARIS), "flaky": RunnableLambda(flaky)},
        embedder=HashingEmbedder(),
        max_retries=1,
        include_decision=True,
    )
    out = runnable.invoke("Capital of France?")
    assert out["smoothie"]["failed"] == [] and state["calls"] == 2


def test_all_failing_raises_with_every_error() -> None:
    def boom(_x: Any) -> str:
        raise ValueError("nope")

    runnable = SmoothieRunnable(candidates={n: boom for n in "abc"}, embedder=HashingEmbedder())
    with pytest.raises(AllCandidatesFailedError) as info:
        runnable.invoke("hi")
    assert set(info.value.errors) == {"a", "b", "c"}


def test_select_stream_yields_the_chosen_answer_once(llm: ScriptedChatModel) -> None:
    chunks = list(prompted(llm).stream(geo("Peru")))
    [chunk] = chunks
    assert isinstance(chunk, AIMessageChunk) and "Lima" in chunk.content
    assert chunk.response_metadata["smoothie"]["mode"] == "select"


async def test_select_astream_events_tag_candidate_tokens_so_they_can_be_hidden(
    llm: ScriptedChatModel,
) -> None:
    runnable = prompted(llm)
    events = [e async for e in runnable.astream_events(geo("Peru"), version="v2")]
    tokens = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert tokens and all("smoothie:candidate" in e["tags"] for e in tokens)
    hidden = [
        e
        async for e in runnable.astream_events(
            geo("Peru"), version="v2", exclude_tags=["smoothie:candidate"]
        )
    ]
    assert not [e for e in hidden if e["event"].startswith("on_chat_model")]
    [out] = [e for e in hidden if e["event"] == "on_chain_stream"]
    assert out["name"] == "SmoothieRunnable" and "Lima" in out["data"]["chunk"].content
    [custom] = [e for e in hidden if e["event"] == "on_custom_event"]
    assert custom["name"] == "smoothie_decision"


def test_select_in_a_langgraph_node_does_not_stream_candidate_tokens(
    llm: ScriptedChatModel,
) -> None:
    graph_mod = pytest.importorskip("langgraph.graph")
    from typing import TypedDict

    class State(TypedDict, total=False):
        question: str
        answer: str

    runnable = prompted(llm)

    def node(state: State) -> State:
        return {"answer": runnable.invoke({"question": state["question"]}).content}

    graph = (
        graph_mod.StateGraph(State)
        .add_node("answer", node)
        .add_edge(graph_mod.START, "answer")
        .add_edge("answer", graph_mod.END)
        .compile()
    )
    streamed = list(graph.stream(geo("Peru"), stream_mode="messages"))
    assert streamed == []  # every candidate's model run is tagged nostream
    assert "Lima" in graph.invoke(geo("Peru"))["answer"]


# ------------------------------------------------------------------- route mode
def test_route_calls_the_model_once_and_avoids_the_bad_prompt_per_topic(
    fitted: SmoothieRunnable, llm: ScriptedChatModel
) -> None:
    assert llm.call_count == len(CALIBRATION) * len(PROMPTS)  # fit ran every prompt
    for inputs, bad in HELD_OUT:
        decision = fitted.route(inputs)
        assert decision.selected != bad, (inputs, decision.weights)
        assert decision.weights[bad] == min(decision.weights.values())
        before = llm.call_count
        msg = fitted.invoke(inputs)
        assert llm.call_count - before == 1  # the model, once, with the chosen prompt
        assert isinstance(msg, AIMessage)
        meta = msg.response_metadata["smoothie"]
        assert meta["selected"] == decision.selected and meta["mode"] == "route"
        assert PROMPTS[meta["selected"]].split(".")[0].lower() in llm.calls[-1].lower()
        assert "Skateboards" not in msg.content


def test_route_runs_the_winner_as_a_child_run_with_the_decision_event(
    fitted: SmoothieRunnable,
) -> None:
    rec = Recorder()
    msg = fitted.invoke(cook("tofu"), config={"callbacks": [rec]})
    root = rec.root()
    children = [r for r, (_, parent, _) in rec.runs.items() if parent == root]
    assert [rec.runs[r][0] for r in children] == [msg.response_metadata["smoothie"]["selected"]]
    assert "smoothie:candidate" in rec.runs[children[0]][2]
    assert "nostream" not in rec.runs[children[0]][2]  # the answer's tokens may stream
    [(name, data)] = [x[1] for x in rec.log if x[0] == "event"]
    assert name == "smoothie_decision" and data == msg.response_metadata["smoothie"]


def test_route_streams_the_winners_chunks_with_the_decision_first(
    fitted: SmoothieRunnable,
) -> None:
    rec = Recorder()
    stream = fitted.stream(cook("potatoes"), config={"callbacks": [rec]})
    first = next(stream)
    # the decision (naming the candidate that answers) is sent before the first chunk
    assert [k for k, *_ in rec.log].count("event") == 1
    chunks = [first, *stream]
    assert len(chunks) > 3 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert chunks[0].response_metadata["smoothie"]["mode"] == "route"
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert "220 C" in full.content


def test_route_str_outputs_stream_and_include_decision(llm: ScriptedChatModel) -> None:
    candidates = {n: ChatPromptTemplate.from_template(t) | llm | StrOutputParser() for n, t in PROMPTS.items()}  # fmt: skip
    runnable = SmoothieRunnable(
        candidates=candidates, mode="route", n_neighbors=4, embedder=HashingEmbedder()
    ).fit(CALIBRATION, show_progress=False)
    text = runnable.invoke(geo("Chile"))
    assert isinstance(text, str) and "Santiago" in text
    chunks = list(runnable.stream(geo("Chile")))
    assert "".join(chunks) == text
    runnable.include_decision = True
    parts = list(runnable.stream(geo("Chile")))
    assert parts[0]["smoothie"]["mode"] == "route"
    assert all("smoothie" not in p for p in parts[1:])
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    assert total["output"] == text


async def test_route_async_and_astream_events(fitted: SmoothieRunnable) -> None:
    msg = await fitted.ainvoke(geo("Chile"))
    assert "Santiago" in msg.content
    chunks = [c async for c in fitted.astream(geo("Chile"))]
    assert "".join(str(c.content) for c in chunks) == msg.content
    events = [e async for e in fitted.astream_events(geo("Chile"), version="v2")]
    kinds = [(e["event"], e["name"]) for e in events]
    [custom] = [i for i, (k, _) in enumerate(kinds) if k == "on_custom_event"]
    assert custom < kinds.index(("on_chain_stream", "SmoothieRunnable"))
    streams = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert len(streams) > 3  # the winner's own tokens, from its model's run


def test_route_falls_back_to_the_next_best_when_the_winner_fails(
    fitted: SmoothieRunnable, llm: ScriptedChatModel
) -> None:
    winner = fitted.route(geo("Chile")).selected
    fail_words = {"brief": "briefly", "careful": "carefully", "poet": "poet", "joker": "joker"}

    def failing(messages: list[BaseMessage], tools: Any) -> str:
        if fail_words[winner] in messages[-1].text.lower():
            raise RuntimeError("this prompt is down")
        return _script(messages, tools)

    llm.script = failing
    msg = fitted.invoke(geo("Chile"))
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] != winner and meta["failed"] == [winner]
    assert "next best" in meta["fallback"] and "Santiago" in msg.content
    chunks = list(fitted.stream(geo("Chile")))  # a failed start falls back too
    assert chunks[0].response_metadata["smoothie"]["failed"] == [winner]


def test_route_stream_timeout_bounds_the_first_chunk(fitted: SmoothieRunnable) -> None:
    winner = fitted.route(geo("Chile")).selected
    slow = {
        n: RunnableLambda(lambda _x: time.sleep(3) or "late") if n == winner else r
        for n, r in fitted.candidates.items()
    }
    runnable = SmoothieRunnable(candidates=slow, router=fitted.router, timeout=0.5)
    t0 = time.monotonic()
    chunks = list(runnable.stream(geo("Chile")))
    assert time.monotonic() - t0 < 2.5
    meta = chunks[0].response_metadata["smoothie"]
    assert meta["failed"] == [winner] and "TimeoutError" in meta["errors"][winner]


def test_route_needs_fit(llm: ScriptedChatModel) -> None:
    with pytest.raises(NotFittedError, match=r"call runnable.fit\(prompts\)"):
        prompted(llm, mode="route").invoke(geo("Peru"))


def test_route_prices_and_abstention(llm: ScriptedChatModel) -> None:
    prices = {"brief": 10.0, "careful": 1.0, "poet": 0.0, "joker": 1.0}
    cheap = prompted(llm, mode="route", n_neighbors=4, prices=prices, cost_tradeoff=0.3)
    cheap.fit(CALIBRATION, show_progress=False)
    meta = cheap.invoke(geo("Chile")).response_metadata["smoothie"]
    assert meta["selected"] == max(meta["scores"], key=meta["scores"].get) != "poet"
    abstaining = prompted(
        llm, mode="route", n_neighbors=4, default="careful", abstain_below=1.0
    ).fit(CALIBRATION, show_progress=False)
    meta = abstaining.invoke(geo("Chile")).response_metadata["smoothie"]
    assert meta["abstained"] and meta["selected"] == "careful"


# ------------------------------------------------------------------ calibration
def test_fit_records_failures_and_afit_matches(llm: ScriptedChatModel) -> None:
    def failing(messages: list[BaseMessage], tools: Any) -> str:
        if "joker" in messages[-1].text.lower() and "rice" in messages[-1].text.lower():
            raise RuntimeError("no jokes about rice")
        return _script(messages, tools)

    llm.script = failing
    runnable = prompted(llm, mode="route", n_neighbors=4).fit(CALIBRATION, show_progress=False)
    rice = CALIBRATION.index(cook("rice"))
    assert runnable.calibration_errors_[rice] == {"joker": "RuntimeError: no jokes about rice"}
    assert runnable.calibration_report_.n_used == len(CALIBRATION) - 1
    again = asyncio.run(
        prompted(llm, mode="route", n_neighbors=4).afit(CALIBRATION, show_progress=False)
    )
    assert again.calibration_errors_ == runnable.calibration_errors_
    assert again.route(geo("Chile")).weights == pytest.approx(runnable.route(geo("Chile")).weights)
    with pytest.raises(TypeError, match="`prompts` must be a list of prompts"):
        runnable.fit(geo("Chile"))
    with pytest.raises(TypeError, match=r"inputs\[0\]: a SmoothieRunnable needs the text"):
        runnable.fit([3.5])


def test_fit_with_a_prompt_runnable_formats_the_inputs(llm: ScriptedChatModel) -> None:
    runnable = SmoothieRunnable(
        candidates={n: llm.with_config(run_name=n) for n in ("x", "y", "z")},
        mode="route",
        embedder=HashingEmbedder(),
    )
    template = ChatPromptTemplate.from_template("Answer briefly. {question}")
    runnable.fit(CALIBRATION[:3], prompt=template, show_progress=False)
    assert runnable.calibration_report_.n_used == 3
    assert llm.calls[0] == "Answer briefly. What is the capital of France?"


# ------------------------------------------------------------- the routed text
def test_input_text_defaults_and_overrides() -> None:
    seen: list[str] = []

    class Spy(HashingEmbedder):
        def embed(self, texts: Any) -> Any:
            seen.extend(texts)
            return super().embed(texts)

    runnable = SmoothieRunnable(candidates=lambdas(**PARIS), embedder=Spy())
    runnable.invoke({"question": "Capital of France?", "lang": "en"})
    assert "Capital of France?\nen" in seen
    assert runnable.text_of([HumanMessage("hi"), AIMessage("yo"), HumanMessage("Capital?")]) == (
        "Capital?"
    )
    by_function = runnable.model_copy(update={"input_text": lambda x: x["question"]})
    assert by_function.text_of({"question": "Q?", "lang": "en"}) == "Q?"
    by_template = runnable.model_copy(
        update={"input_text": PromptTemplate.from_template("Q: {question}")}
    )
    assert by_template.text_of({"question": "Capital?"}) == "Q: Capital?"
    chat_template = ChatPromptTemplate.from_messages([("system", "S"), ("human", "{question}")])
    assert (
        runnable.model_copy(update={"input_text": chat_template}).text_of({"question": "Capital?"})
        == "Capital?"
    )
    with pytest.raises(TypeError, match="`input_text` must return a str; got int"):
        runnable.model_copy(update={"input_text": lambda x: 3}).text_of("x")
    with pytest.raises(TypeError, match="Pass `input_text=`"):
        runnable.text_of(3.5)


# ------------------------------------------------------------------ persistence
def test_save_load_roundtrip_and_name_mismatch(
    fitted: SmoothieRunnable, llm: ScriptedChatModel, tmp_path: Any
) -> None:
    path = fitted.save(tmp_path / "prompts.npz")
    loaded = SmoothieRunnable.load(path, candidates=fitted.candidates, embedder=HashingEmbedder())
    assert loaded.mode == "route" and loaded.n_neighbors == 4
    for inputs, _ in HELD_OUT:
        assert loaded.route(inputs).weights == pytest.approx(fitted.route(inputs).weights)
    again = SmoothieRunnable.load(
        path, candidates=prompted(llm).candidates, embedder=HashingEmbedder(), n_neighbors=2
    )
    assert again.n_neighbors == 2
    renamed = {f"{n}2": r for n, r in fitted.candidates.items()}
    with pytest.raises(ValueError, match="candidate"):
        SmoothieRunnable.load(path, candidates=renamed, embedder=HashingEmbedder())
    with pytest.raises(TypeError, match=r"SmoothieRunnable\.load builds the router"):
        SmoothieRunnable.load(path, candidates=fitted.candidates, router=fitted.router)


def test_one_engine_for_both_front_doors() -> None:
    """SmoothieRunnable reuses SmoothieRouter's engine: it calls no orchestration itself."""
    import inspect

    from langchain_smoothie import _base, _fit, _route, _select, runnables

    source = inspect.getsource(runnables)
    for name in ("call_each", "call_first", "call_grid", "acall_each", "acall_first"):
        assert name not in source
    assert issubclass(SmoothieRunnable, _base.SmoothieBase)
    assert issubclass(SmoothieRouter, _base.SmoothieBase)
    for module in (_select, _route, _fit):  # the engine knows no candidate kind
        code = inspect.getsource(module).split('"""', 2)[2]
        assert "BaseChatModel" not in code and "chat_models" not in code
        assert "langchain_smoothie.runnables" not in code


def test_options_and_defaults_are_the_routers() -> None:
    for field in ("mode", "scorer", "n_neighbors", "max_concurrency", "timeout", "max_retries",
                  "update_pool", "max_pool_size", "fallback_on_error", "cost_tradeoff"):  # fmt: skip
        assert (
            SmoothieRunnable.model_fields[field].default
            == SmoothieRouter.model_fields[field].default
        ), field
    runnable = SmoothieRunnable(
        candidates=lambdas(**PARIS), embedder=HashingEmbedder(), scorer="answer",
        n_neighbors="auto", max_pool_size=50, default="b", abstain_below=0.25, update_pool=False,
    )  # fmt: skip
    core = runnable.router
    assert core.scorer.name == "answer" and core.n_neighbors == "auto"
    assert (core.max_pool_size, core.default, core.abstain_below, core.update_pool) == (
        50, "b", 0.25, False,
    )  # fmt: skip
    runnable.include_decision = True
    out = runnable.invoke("Capital of France?")  # the answer scorer compares stated answers
    assert out["smoothie"]["diagnostics"]["scorer"] == core.scorer.id
