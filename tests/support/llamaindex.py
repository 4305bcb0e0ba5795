"""Scripted LlamaIndex engines, retrievers and LLMs for the llamaindex_smoothie tests.

A small "world" of four topics with templated questions and known answers. Every
scripted candidate answers correctly (in its own style) except on one topic, where it
rambles about something unrelated. Smoothie never sees these labels; the tests use
them to check its choices. tests/unit/llamaindex/test_fakes.py checks the fakes themselves.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.tools import QueryEngineTool, RetrieverTool
from pydantic import Field, PrivateAttr

COUNTRIES = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Germany", "Berlin"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Canada", "Ottawa"),
    ("Kenya", "Nairobi"),
]
SUMS = [(12, 7), (25, 17), (40, 2), (13, 29), (8, 88), (61, 14), (33, 33), (70, 5)]
FOODS = [
    ("eggs", 9),
    ("rice", 18),
    ("pasta", 11),
    ("potatoes", 20),
    ("broccoli", 4),
    ("carrots", 7),
    ("quinoa", 15),
    ("lentils", 25),
]
EVENTS = [
    ("the Berlin Wall fall", 1989),
    ("the Titanic sink", 1912),
    ("World War I begin", 1914),
    ("the Moon landing happen", 1969),
    ("the French Revolution begin", 1789),
    ("Columbus reach the Americas", 1492),
    ("the printing press appear", 1440),
    ("the Roman Empire split", 395),
]


def _world() -> dict[str, tuple[str, str]]:
    """question -> (topic, correct answer)."""
    out: dict[str, tuple[str, str]] = {}
    for country, capital in COUNTRIES:
        out[f"What is the capital city of {country}?"] = (
            "geography",
            f"The capital city of {country} is {capital}.",
        )
    for a, b in SUMS:
        out[f"What is {a} plus {b} in arithmetic?"] = ("math", f"{a} plus {b} equals {a + b}.")
    for food, minutes in FOODS:
        out[f"How many minutes should I boil {food} when cooking?"] = (
            "cooking",
            f"Boil the {food} for about {minutes} minutes when cooking.",
        )
    for event, year in EVENTS:
        out[f"In which year did {event} in history?"] = (
            "history",
            f"In history, {event} in the year {year}.",
        )
    return out


WORLD = _world()
TOPICS = ["geography", "math", "cooking", "history"]
QUESTIONS = {t: [q for q, (topic, _) in WORLD.items() if topic == t] for t in TOPICS}
#: First 6 questions per topic calibrate, the last 2 test.
CALIBRATION = [q for t in TOPICS for q in QUESTIONS[t][:6]]
HELD_OUT = [q for t in TOPICS for q in QUESTIONS[t][6:]]

STYLES = {"alpha": "{}", "beta": "Sure! {}", "gamma": "Answer: {}", "delta": "In short, {}"}
BAD_TOPIC = {"alpha": "geography", "beta": "math", "gamma": "cooking", "delta": "history"}
RAMBLES = {
    "alpha": "Bananas grow in bunches and are rich in potassium, I think.",
    "beta": "My favourite colour is turquoise, like a calm tropical lagoon.",
    "gamma": "Jazz saxophone solos from the fifties sound wonderful at night.",
    "delta": "Penguins waddle across the Antarctic ice in long neat lines.",
}


def scripted_answer(name: str, question: str) -> str:
    """What candidate ``name`` answers to ``question``."""
    if question not in WORLD:
        return STYLES[name].format("I do not know that one.")
    topic, correct = WORLD[question]
    if BAD_TOPIC[name] == topic:
        return RAMBLES[name]
    return STYLES[name].format(correct)


def topic_of(question: str) -> str:
    return WORLD[question][0]


def _question_in(text: str) -> str:
    """The known question contained in a prompt (prompts may wrap it)."""
    for q in WORLD:
        if q in text:
            return q
    return text


class ScriptedEngine(CustomQueryEngine):
    """A query engine answering from the script; counts its calls; can be made to fail."""

    name: str
    fail: bool = False
    delay: float = 0.0
    calls: list[str] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def custom_query(self, query_str: str) -> str:
        with self._lock:
            self.calls.append(query_str)
        if self.fail:
            raise ConnectionError(f"{self.name} is down")
        return scripted_answer(self.name, _question_in(query_str))

    async def acustom_query(self, query_str: str) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.custom_query(query_str)


def engine_tools(
    names: Sequence[str] = tuple(STYLES), *, failing: Sequence[str] = ()
) -> tuple[list[QueryEngineTool], dict[str, ScriptedEngine]]:
    engines = {n: ScriptedEngine(name=n, fail=n in failing) for n in names}
    tools = [
        QueryEngineTool.from_defaults(engines[n], name=n, description=f"scripted engine {n}")
        for n in names
    ]
    return tools, engines


class ScriptedRetriever(BaseRetriever):
    """Retrieves one node holding the scripted answer."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []
        super().__init__()

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.calls.append(query_bundle.query_str)
        text = scripted_answer(self.name, _question_in(query_bundle.query_str))
        return [NodeWithScore(node=TextNode(text=text, id_=f"{self.name}:{text}"), score=1.0)]


def retriever_tools() -> tuple[list[RetrieverTool], dict[str, ScriptedRetriever]]:
    retrievers = {n: ScriptedRetriever(n) for n in STYLES}
    tools = [
        RetrieverTool.from_defaults(retrievers[n], name=n, description=f"scripted retriever {n}")
        for n in STYLES
    ]
    return tools, retrievers


def word_chunks(text: str) -> Iterator[CompletionResponse]:
    """``text`` streamed word by word: each chunk carries the text so far and its delta."""
    so_far = ""
    for word in text.split(" "):
        delta = word if not so_far else " " + word
        so_far += delta
        yield CompletionResponse(text=so_far, delta=delta)


class ScriptedLLM(CustomLLM):
    """A completion LLM answering from the script (streams word by word)."""

    name: str
    fail: bool = False
    calls: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            model_name=f"scripted-{self.name}",
            context_window=4096 if self.name == "alpha" else 8192,
            num_output=256,
        )

    def _answer(self, prompt: str) -> str:
        self.calls.append(prompt)
        if self.fail:
            raise ConnectionError(f"{self.name} is down")
        return scripted_answer(self.name, _question_in(prompt))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._answer(prompt)

        def gen() -> CompletionResponseGen:
            yield from word_chunks(text)

        return gen()


def scripted_chat_llm(name: str, calls: list[str] | None = None) -> MockFunctionCallingLLM:
    """``MockFunctionCallingLLM`` whose chat answers come from the script."""

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        text = "\n".join(m.content or "" for m in messages)
        if calls is not None:
            calls.append(text)
        return ChatMessage(role="assistant", content=scripted_answer(name, _question_in(text)))

    return MockFunctionCallingLLM(response_generator=respond)


# ------------------------------------------------------------ option probes
class Gauge:
    """Counts calls in flight. With ``target``, each call waits (up to ``wait`` s) until
    ``target`` calls are in flight, so the peak shows the bound deterministically."""

    def __init__(self, target: int | None = None, wait: float = 1.0) -> None:
        self.target, self.wait = target, wait
        self.now = self.peak = 0
        self.cond = threading.Condition()

    def __enter__(self) -> Gauge:
        with self.cond:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.cond.notify_all()
            if self.target is not None:
                self.cond.wait_for(lambda: self.now >= (self.target or 0), timeout=self.wait)
        return self

    def __exit__(self, *exc: object) -> None:
        with self.cond:
            self.now -= 1
            self.cond.notify_all()


class GaugedEngine(ScriptedEngine):
    """A scripted engine whose calls are counted by a shared :class:`Gauge`."""

    gauge: Any = None

    def custom_query(self, query_str: str) -> str:
        with self.gauge:
            return super().custom_query(query_str)


class FlakyEngine(ScriptedEngine):
    """Fails the first ``failures`` attempts on each query, then answers from the script."""

    failures: int = 1
    _attempts: dict[str, int] = PrivateAttr(default_factory=dict)

    def custom_query(self, query_str: str) -> str:
        with self._lock:
            n = self._attempts[query_str] = self._attempts.get(query_str, 0) + 1
        if n <= self.failures:
            raise ConnectionError(f"{self.name} flaked on attempt {n}")
        return super().custom_query(query_str)


class FixedEngine(CustomQueryEngine):
    """Answers every query with ``text`` (after ``delay`` seconds)."""

    text: str
    delay: float = 0.0

    def custom_query(self, query_str: str) -> str:
        time.sleep(self.delay)
        return self.text

    async def acustom_query(self, query_str: str) -> str:
        await asyncio.sleep(self.delay)
        return self.text


def fixed_tools(texts: dict[str, str], delays: dict[str, float] | None = None) -> list[Any]:
    return [
        QueryEngineTool.from_defaults(
            FixedEngine(text=t, delay=(delays or {}).get(n, 0.0)), name=n, description=n
        )
        for n, t in texts.items()
    ]


class FixedLLM(CustomLLM):
    """A completion LLM answering ``text``; can be slow, fail, or fail before its first chunk."""

    text: str
    delay: float = 0.0
    fail: bool = False
    stream_fails_first: bool = False
    calls: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="fixed")

    def _answer(self, prompt: str) -> str:
        self.calls.append(prompt)
        time.sleep(self.delay)
        if self.fail:
            raise ConnectionError("fixed LLM is down")
        return self.text

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        await asyncio.sleep(self.delay)
        self.calls.append(prompt)
        if self.fail:
            raise ConnectionError("fixed LLM is down")
        return CompletionResponse(text=self.text)

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._answer(prompt)

        def gen() -> CompletionResponseGen:
            if self.stream_fails_first:
                raise ConnectionError("stream broke before its first chunk")
            yield from word_chunks(text)

        return gen()

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        text = self._answer(prompt)

        async def gen() -> CompletionResponseAsyncGen:
            if self.stream_fails_first:
                raise ConnectionError("stream broke before its first chunk")
            for chunk in word_chunks(text):
                yield chunk

        return gen()
