"""scorer="peer_review" in SmoothieLLM and SmoothieQueryEngine: scripted judges, spans, budget."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent
from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
from llama_index.core.llms import CustomLLM
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.tools import QueryEngineTool
from pydantic import Field, PrivateAttr

from llamaindex_smoothie import SmoothieLLM, SmoothieQueryEngine
from smoothie_core import HashingEmbedder, Router
from tests.support.judges import (
    CANDIDATES,
    QUALITY,
    WARM_UP,
    answer,
    best,
    grade,
    is_grading,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def question_number(prompt: str) -> int:
    found = re.search(r"question (\d+)", prompt)
    assert found, prompt
    return int(found.group(1))


class Player(CustomLLM):
    """Answers ``question <i>`` and grades like a ``kind`` judge (tests.support.judges)."""

    name: str
    kind: str = "honest"
    fail_grading: bool = False
    grading_calls: list[str] = Field(default_factory=list)
    async_threads: list[int] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.name)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        if is_grading(prompt):
            with self._lock:
                self.grading_calls.append(prompt)
            if self.fail_grading:
                raise RuntimeError(f"{self.name} cannot grade")
            return CompletionResponse(text=grade(self.kind, prompt, QUALITY))
        return CompletionResponse(text=answer(self.name, question_number(prompt)))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        response = self.complete(prompt)

        def gen() -> Iterator[CompletionResponse]:
            yield CompletionResponse(text=response.text, delta=response.text)

        return gen()

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        with self._lock:
            self.async_threads.append(threading.get_ident())
        await asyncio.sleep(0)
        return self.chat(messages, **kwargs)


def players(adversary: str = "honest") -> dict[str, Player]:
    return {n: Player(name=n, kind=adversary if n == "d" else "honest") for n in CANDIDATES}


def extra_judges(*kinds: str) -> dict[str, Player]:
    return {f"{k}{i}": Player(name=f"{k}{i}", kind=k) for i, k in enumerate(kinds)}


def smoothie_llm(judges: Any = None, adversary: str = "honest", **kw: Any) -> SmoothieLLM:
    return SmoothieLLM(
        players(adversary), scorer="peer_review", judges=judges, embedder=HashingEmbedder(), **kw
    )


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


class Engine(CustomQueryEngine):
    name: str

    def custom_query(self, query_str: str) -> str:
        return answer(self.name, question_number(query_str))


def engine(judges: Any, **kw: Any) -> SmoothieQueryEngine:
    tools = [
        QueryEngineTool.from_defaults(Engine(name=n), name=n, description=n) for n in CANDIDATES
    ]
    if "router" not in kw:  # a given router carries its own scorer
        kw = {"scorer": "peer_review", "embedder": HashingEmbedder(), **kw}
    return SmoothieQueryEngine(tools, judges=judges, **kw)


def plain_choice(grades: dict[str, dict[str, float]]) -> str:
    """The candidate with the best plain mean of the judges' centred grades."""
    centred: dict[str, list[float]] = {c: [] for c in CANDIDATES}
    for row in grades.values():
        mean = float(np.mean(list(row.values())))
        for c, g in row.items():
            centred[c].append(g - mean)
    return max(CANDIDATES, key=lambda c: float(np.mean(centred[c])) if centred[c] else -np.inf)


# ------------------------------------------------------------------ decisions
@pytest.mark.parametrize("front_door", ["llm-extra", "llm-self-position", "engine-extra"])
def test_biased_random_and_position_judges_do_not_flip_decisions(front_door: str) -> None:
    judges = extra_judges("honest", "honest", "honest", "lenient", "random", "position")
    if front_door == "llm-extra":
        door: Any = smoothie_llm(judges, update_pool=True)
    elif front_door == "llm-self-position":
        door = smoothie_llm(None, "position", update_pool=True)
    else:
        door = engine(judges, update_pool=True)
    n, right, plain_right = 30, 0, 0
    for i in range(n):
        if front_door.startswith("llm"):
            meta = door.chat(user(f"question {i}")).additional_kwargs["smoothie"]
        else:
            meta = door.query(f"question {i}").metadata["smoothie"]
        # judges count the same until the pool holds enough grades to weigh them
        right += i >= WARM_UP and meta["selected"] == best(i)
        plain_right += i >= WARM_UP and plain_choice(meta["diagnostics"]["grades"]) == best(i)
    assert right == n - WARM_UP
    assert plain_right < n - WARM_UP  # the adversaries do flip a plain mean of the grades


def test_decision_shows_grades_order_and_budget() -> None:
    judges = extra_judges("honest", "honest", "position")
    meta = smoothie_llm(judges).complete("question 4").additional_kwargs["smoothie"]
    diag = meta["diagnostics"]
    assert meta["selected"] == "a"
    assert list(diag["grades"]) == list(judges)
    assert diag["grades"]["honest0"] == {"a": 9.0, "b": 6.0, "c": 2.0, "d": 2.0}
    first = diag["shown"]["position2"][0]
    assert diag["grades"]["position2"] == {c: 10.0 if c == first else 2.0 for c in CANDIDATES}
    assert diag["judge_calls"] == 3


# ----------------------------------------------------------------- spans
class ChatEnds(BaseEventHandler):
    """Every LLM chat end event, with its span."""

    events: list[LLMChatEndEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "ChatEnds"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent):
            self.events.append(event)


@pytest.fixture
def traced() -> Iterator[tuple[SimpleSpanHandler, ChatEnds]]:
    spans, ends = SimpleSpanHandler(), ChatEnds()
    root = get_dispatcher()
    root.add_span_handler(spans)
    root.add_event_handler(ends)
    try:
        yield spans, ends
    finally:
        root.span_handlers.remove(spans)
        root.event_handlers.remove(ends)


def _judge_spans(spans: SimpleSpanHandler, outer_prefix: str, fn: str) -> list[Any]:
    done = spans.completed_spans
    (outer,) = [s.id_ for s in done if s.id_.startswith(outer_prefix)]
    judge_spans = [s for s in done if s.id_.startswith(f"{fn}-")]
    assert judge_spans and all(s.parent_id == outer for s in judge_spans)
    for js in judge_spans:  # each wraps exactly one LLM call of the judge
        inner = [s for s in done if s.parent_id == js.id_]
        assert len(inner) == 1 and inner[0].id_.startswith("Player.")
    return judge_spans


@pytest.mark.parametrize("judges", [None, "extra"])
async def test_judge_calls_nest_under_the_llms_span_and_are_reported_once(
    traced: tuple[SimpleSpanHandler, ChatEnds], judges: Any
) -> None:
    spans, ends = traced
    judges = extra_judges("honest", "honest", "honest") if judges else None
    llm = smoothie_llm(judges)
    llm.chat(user("question 2"))
    sync_spans = _judge_spans(spans, "SmoothieLLM.chat-", "smoothie_judge")
    await llm.achat(user("question 3"))
    async_spans = _judge_spans(spans, "SmoothieLLM.achat-", "asmoothie_judge")
    assert len(sync_spans) == len(async_spans) == (4 if judges is None else 3)
    # usage counted once: each judge reply ends exactly one chat event (the judge's own),
    # inside that judge's span; no other event repeats it
    parent = {s.id_: s.parent_id for s in spans.completed_spans}
    judge_ids = {j.id_ for j in sync_spans + async_spans}

    def judge_of(span_id: str | None) -> str | None:
        while span_id is not None and span_id not in judge_ids:
            span_id = parent.get(span_id)
        return span_id

    replies = [e for e in ends.events if e.response and "A: " in (e.response.message.content or "")]
    assert len(replies) == len(judge_ids)
    assert {judge_of(e.span_id) for e in replies} == judge_ids


async def test_async_judges_are_asked_with_achat_on_the_callers_loop() -> None:
    judges = extra_judges("honest", "honest", "honest")
    loop_thread = threading.get_ident()
    meta = (await smoothie_llm(judges).achat(user("question 5"))).additional_kwargs["smoothie"]
    assert meta["selected"] == "c" and meta["diagnostics"]["judge_errors"] == {}
    for j in judges.values():
        assert j.async_threads == [loop_thread] and len(j.grading_calls) == 1


async def test_query_engine_judge_spans(traced: tuple[SimpleSpanHandler, ChatEnds]) -> None:
    spans, _ends = traced
    qe = engine(extra_judges("honest", "honest", "honest"))
    qe.query("question 2")
    assert len(_judge_spans(spans, "SmoothieQueryEngine._query-", "smoothie_judge")) == 3
    response = await qe.aquery("question 3")
    assert len(_judge_spans(spans, "SmoothieQueryEngine._aquery-", "asmoothie_judge")) == 3
    assert response.metadata["smoothie"]["selected"] == "c"


# ------------------------------------------------------------ failures, budget
def test_judge_failures_are_recorded_and_do_not_break_the_decision() -> None:
    judges = extra_judges("honest", "honest", "mute")
    judges["broken"] = Player(name="broken", fail_grading=True)
    meta = smoothie_llm(judges, max_retries=1).complete("question 1").additional_kwargs["smoothie"]
    diag = meta["diagnostics"]
    assert meta["selected"] == "c"
    assert diag["judge_errors"] == {"broken": "RuntimeError: broken cannot grade"}
    assert len(judges["broken"].grading_calls) == 2  # max_retries applies to judges
    assert "mute2" in diag["unparsed"] and set(diag["grades"]) == {"honest0", "honest1"}


def test_budget_caps_judge_calls_per_input() -> None:
    judges = extra_judges("honest", "honest", "honest", "lenient", "random", "position")
    qe = engine(judges, max_judge_calls=2)
    for i in range(6):
        qe.query(f"question {i}")
    calls = {n: len(j.grading_calls) for n, j in judges.items()}
    assert sum(calls.values()) == 12 and all(c >= 1 for c in calls.values())


# --------------------------------------------------------- route, save/load
def test_route_mode_fits_with_judges_and_save_load_keeps_them(tmp_path: Any) -> None:
    judges = extra_judges("honest", "honest", "honest")
    llm = smoothie_llm(judges, mode="route", max_judge_calls=2, n_neighbors=None)
    llm.fit([f"question {i}" for i in range(10)], show_progress=False)
    assert sum(len(j.grading_calls) for j in judges.values()) == 20
    assert llm.complete("question 40").additional_kwargs["smoothie"]["selected"] == "b"
    assert sum(len(j.grading_calls) for j in judges.values()) == 20  # none at route time
    path = llm.save(tmp_path / "peer.npz")
    back = SmoothieLLM.load(path, players(), judges=judges, embedder=HashingEmbedder())
    assert back.max_judge_calls == 2 and back.judge_names == tuple(judges)
    assert back.router.scorer.id == llm.router.scorer.id
    assert back.router.route("question 7").weights == llm.router.route("question 7").weights
    with pytest.raises(ValueError, match=r"judges named \['honest0', 'honest1', 'honest2'\]"):
        SmoothieLLM.load(path, players(), embedder=HashingEmbedder())
    # a query engine can take the loaded router, with the same judges
    router = Router.load(path, embedder=HashingEmbedder())
    qe = engine(judges, router=router)
    assert qe.max_judge_calls == 2
    assert qe.query("question 8").metadata["smoothie"]["diagnostics"]["judge_calls"] == 2


async def test_async_fit_with_candidates_as_judges() -> None:
    cands = players()
    llm = SmoothieLLM(cands, mode="route", scorer="peer_review", embedder=HashingEmbedder())
    await llm.afit([f"question {i}" for i in range(6)], show_progress=False)
    assert all(len(p.grading_calls) == 6 for p in cands.values())
    weights = llm.router.route("question 9").weights
    assert min(weights, key=lambda c: weights[c]) == "d"  # the one always bad


# ---------------------------------------------------------------------- errors
def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match=r"needs judges=\[llm, \.\.\.\]"):
        engine(None)
    with pytest.raises(ValueError, match="apply to scorer='peer_review' only"):
        SmoothieLLM(players(), judges=extra_judges("honest"), embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="`judges` is empty"):
        smoothie_llm([])
    with pytest.raises(ValueError, match="`max_judge_calls` must be None or a positive int"):
        smoothie_llm(None, max_judge_calls=0)
    with pytest.raises(TypeError, match="Every judge must be a llama_index LLM"):
        smoothie_llm({"x": "not an llm"})
