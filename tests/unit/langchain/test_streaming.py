"""Streaming (issue 15 item 7): candidates never stream into the router's event stream; the
router's own answer does; the decision event reaches the router's run on every path."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PARIS = "Paris is the capital of France."


def _models() -> dict[str, ScriptedChatModel]:
    return {
        "a": ScriptedChatModel(model_name="a", default_answer=PARIS),
        "b": ScriptedChatModel(model_name="b", default_answer="The capital of France is Paris."),
        "c": ScriptedChatModel(model_name="c", default_answer="Bananas are rich in potassium."),
    }


def _router(mode: str, **kwargs: Any) -> SmoothieRouter:
    router = SmoothieRouter(models=_models(), embedder=HashingEmbedder(), mode=mode, **kwargs)
    if mode == "route":
        router.fit(["Capital of France?", "Capital of Peru?", "Hello"], show_progress=False)
    return router


class Recorder(BaseCallbackHandler):
    """Every chat-model start, token and custom event, in order, with run ids."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any, UUID, UUID | None]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self.log.append(("start", kw.get("name"), kw["run_id"], kw.get("parent_run_id")))

    def on_llm_new_token(self, token: str, **kw: Any) -> None:
        self.log.append(("token", token, kw["run_id"], kw.get("parent_run_id")))

    def on_custom_event(self, name: str, data: Any, **kw: Any) -> None:
        self.log.append(("event", name, kw["run_id"], None))


async def test_select_astream_events_show_only_the_routers_answer() -> None:
    router = _router("select")
    events = [e async for e in router.astream_events("Capital of France?", version="v2")]
    streams = [e for e in events if e["event"] == "on_chat_model_stream"]
    # one stream event, from the router, with the chosen answer (no candidate tokens)
    assert [e["name"] for e in streams] == ["SmoothieRouter"]
    chosen = streams[0]["data"]["chunk"]
    assert chosen.content in {PARIS, "The capital of France is Paris."}
    assert chosen.response_metadata["smoothie"]["selected"] in {"a", "b"}
    # the candidates are still visible, as child runs of the router's run
    root = next(e for e in events if e["event"] == "on_chat_model_start")
    starts = [e for e in events if e["event"] == "on_chat_model_start" and e is not root]
    assert sorted(e["name"] for e in starts) == ["a", "b", "c"]
    assert all(e["parent_ids"] == [root["run_id"]] for e in starts)
    assert all("smoothie:candidate" in e["tags"] for e in starts)
    [custom] = [e for e in events if e["event"] == "on_custom_event"]
    assert custom["name"] == "smoothie_decision" and custom["run_id"] == root["run_id"]


@pytest.mark.parametrize("mode", ["select", "route"])
def test_stream_sends_the_decision_event_on_the_routers_run_before_tokens(mode: str) -> None:
    rec = Recorder()
    chunks = list(_router(mode).stream("Capital of France?", config={"callbacks": [rec]}))
    kinds = [k for k, *_ in rec.log]
    root = rec.log[0]
    assert root[0] == "start" and root[3] is None
    events = [x for x in rec.log if x[0] == "event"]
    assert [(name, run) for _, name, run, _ in events] == [("smoothie_decision", root[2])]
    first_token = kinds.index("token")
    assert kinds.index("event") < first_token
    # every token is the router's: candidate children (select mode) never stream
    assert {run for k, _, run, _ in rec.log if k == "token"} == {root[2]}
    children = [x for x in rec.log if x[0] == "start" and x is not root]
    assert all(parent == root[2] for *_, parent in children)
    assert len(children) == (3 if mode == "select" else 0)
    assert chunks[0].response_metadata["smoothie"]["mode"] == mode


async def test_route_astream_events_carry_the_decision_and_the_winners_tokens() -> None:
    router = _router("route")
    events = [e async for e in router.astream_events("Capital of France?", version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds.count("on_custom_event") == 1
    assert kinds.index("on_custom_event") < kinds.index("on_chat_model_stream")
    streams = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert len(streams) > 3 and {e["name"] for e in streams} == {"SmoothieRouter"}


@pytest.mark.parametrize("mode", ["select", "route"])
async def test_invoke_under_a_stream_handler_streams_the_answer_not_the_candidates(
    mode: str,
) -> None:
    """An agent node calls invoke() while the graph is streamed: the answer must still
    stream (as the router's tokens) and the decision event reach the router's run."""
    agents = pytest.importorskip("langchain.agents")
    agent = agents.create_agent(_router(mode), tools=[])
    state = {"messages": [HumanMessage("Capital of France?")]}
    events = [e async for e in agent.astream_events(state, version="v2")]
    streams = [e for e in events if e["event"] == "on_chat_model_stream"]
    assert streams and {e["name"] for e in streams} == {"SmoothieRouter"}
    text = "".join(str(e["data"]["chunk"].content) for e in streams)
    assert text in {PARIS, "The capital of France is Paris."}
    router_run = next(
        e["run_id"]
        for e in events
        if e["event"] == "on_chat_model_start" and e["name"] == "SmoothieRouter"
    )
    customs = [e for e in events if e["event"] == "on_custom_event"]
    assert [(e["name"], e["run_id"]) for e in customs] == [("smoothie_decision", router_run)]
    messages = [
        (msg.content, meta["langgraph_node"])
        for msg, meta in agent.stream(state, stream_mode="messages")
    ]
    assert "".join(c for c, _ in messages) == text  # no candidate text in the graph's stream


def test_route_stream_timeout_bounds_the_first_chunk_and_falls_back() -> None:
    router = _router("route", timeout=0.5)
    winner = router.route("Capital of France?").selected
    router.models[winner].delay = 3.0
    t0 = time.monotonic()
    chunks = list(router.stream("Capital of France?"))
    assert time.monotonic() - t0 < 2.5
    meta = chunks[0].response_metadata["smoothie"]
    assert meta["failed"] == [winner] and "TimeoutError" in meta["errors"][winner]
    assert meta["selected"] != winner and "next best" in meta["fallback"]


def test_route_stream_retries_a_failed_start_on_the_same_candidate() -> None:
    router = _router("route", max_retries=1)
    winner = router.route("Capital of France?").selected
    state = {"calls": 0}
    model = router.models[winner]

    def flaky(messages: list[BaseMessage], tools: Any) -> str:
        state["calls"] += 1
        if state["calls"] == 1:
            raise ConnectionError("transient")
        return PARIS

    model.script = flaky
    chunks = list(router.stream("Capital of France?"))
    meta = chunks[0].response_metadata["smoothie"]
    assert meta["selected"] == winner and meta["failed"] == [] and state["calls"] == 2


class EnvTracer(BaseCallbackHandler):
    """Like LangSmith's env-var tracer: LangChain creates one per callback configuration."""

    def __init__(self) -> None:
        self.runs: set[UUID] = set()
        self.orphans: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        parent = kw.get("parent_run_id")
        if parent is not None and parent not in self.runs:
            self.orphans.append(str(kw.get("name")))
        self.runs.add(kw["run_id"])


@pytest.fixture
def env_tracers(monkeypatch: pytest.MonkeyPatch) -> Any:
    from contextvars import ContextVar

    from langchain_core.tracers import context

    made: list[EnvTracer] = []

    class Made(EnvTracer):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    var: ContextVar[Any] = ContextVar("smoothie_test_env_tracer", default=None)
    context.register_configure_hook(var, True, Made, "SMOOTHIE_TEST_ENV_TRACER")
    monkeypatch.setenv("SMOOTHIE_TEST_ENV_TRACER", "1")
    yield made
    context._configure_hooks[:] = [h for h in context._configure_hooks if h[0] is not var]


@pytest.mark.parametrize("mode", ["select", "route"])
def test_stream_children_nest_under_the_run_a_tracer_saw(mode: str, env_tracers: Any) -> None:
    router = _router(mode)
    env_tracers.clear()
    list(router.stream("Capital of France?"))
    assert env_tracers, "the configure hook made no tracer"
    assert all(t.orphans == [] for t in env_tracers), [t.orphans for t in env_tracers]
    if mode == "select":
        assert sum(len(t.runs) for t in env_tracers) == 4  # the router and 3 children


class StreamsItself(ScriptedChatModel):
    """Like ChatOpenAI(streaming=True): its own _generate streams and sends tokens."""

    streaming: bool = True

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Any:
        from langchain_core.language_models.chat_models import generate_from_stream

        if not self.streaming:
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        chunks = list(self._stream(messages, stop=stop, **kwargs))
        for chunk in chunks:
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        return generate_from_stream(iter(chunks))


async def test_candidates_streaming_on_their_own_do_not_stream_into_the_router() -> None:
    models = {
        n: StreamsItself(model_name=n, default_answer=a)
        for n, a in (("a", PARIS), ("b", "The capital of France is Paris."), ("c", "Bananas."))
    }
    router = SmoothieRouter(models=models, embedder=HashingEmbedder())
    events = [e async for e in router.astream_events("Capital of France?", version="v2")]
    streams = [e["name"] for e in events if e["event"] == "on_chat_model_stream"]
    assert streams == ["SmoothieRouter"]
    assert all(m.streaming for m in models.values())  # the user's models are untouched
