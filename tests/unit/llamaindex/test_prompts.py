"""SmoothieLLM over one LLM with several prompt templates (issue 16 item 3).

One scripted LLM answers in the style its prompt asks for (``[alpha] ...``); each style is
right on three topics and rambles on the fourth (tests/support/llamaindex.py). Smoothie
must pick, per question and without labels, a template that is not bad on its topic.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.prompts import ChatPromptTemplate, PromptTemplate
from pydantic import Field, PrivateAttr

from llamaindex_smoothie import PromptedLLM, SmoothieDecisionEvent, SmoothieLLM
from smoothie_core import HashingEmbedder
from tests.support.llamaindex import (
    BAD_TOPIC,
    CALIBRATION,
    HELD_OUT,
    STYLES,
    _question_in,
    scripted_answer,
    topic_of,
    word_chunks,
)

pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")

PROMPTS = {name: f"[{name}] Answer the question. {{query_str}}" for name in STYLES}


def _style(text: str) -> str:
    match = re.search(r"\[(\w+)\]", text)
    assert match is not None, text
    return match.group(1)


class PromptSensitiveLLM(CustomLLM):
    """One model whose answer depends on the style its prompt asks for."""

    calls: list[str] = Field(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="one-model")

    def _answer(self, prompt: str) -> str:
        with self._lock:
            self.calls.append(prompt)
        return scripted_answer(_style(prompt), _question_in(prompt))

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text = self._answer(prompt)

        def gen() -> CompletionResponseGen:
            yield from word_chunks(text)

        return gen()


@pytest.fixture
def model() -> PromptSensitiveLLM:
    return PromptSensitiveLLM()


@pytest.fixture
def routed(model: PromptSensitiveLLM) -> SmoothieLLM:
    llm = SmoothieLLM.from_prompts(
        model, PROMPTS, mode="route", n_neighbors=5, embedder=HashingEmbedder()
    )
    return llm.fit(CALIBRATION, show_progress=False)


# ----------------------------------------------------------------- PromptedLLM
def test_prompted_llm_formats_completions_and_the_last_user_message() -> None:
    seen: list[list[ChatMessage]] = []

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        seen.append(list(messages))
        return ChatMessage(role="assistant", content="ok")

    chat_llm = MockFunctionCallingLLM(response_generator=respond)
    prompted = PromptedLLM(chat_llm, "Be brief. {query_str}")
    assert prompted.variable == "query_str" and prompted.metadata == chat_llm.metadata
    history = [
        ChatMessage(role="system", content="You are helpful."),
        ChatMessage(role="user", content="Hi"),
        ChatMessage(role="assistant", content="Hello!"),
        ChatMessage(role="user", content="Capital of Peru?"),
    ]
    prompted.chat(history)
    assert [m.content for m in seen[-1]] == [
        "You are helpful.",
        "Hi",
        "Hello!",
        "Be brief. Capital of Peru?",
    ]
    template = ChatPromptTemplate.from_messages(
        [("system", "Answer as a geographer."), ("user", "{question}")]
    )
    PromptedLLM(chat_llm, template).chat(history[-1:])
    assert [(m.role.value, m.content) for m in seen[-1]] == [
        ("system", "Answer as a geographer."),
        ("user", "Capital of Peru?"),
    ]
    with pytest.raises(ValueError, match="the messages have no user message"):
        prompted.chat([ChatMessage(role="system", content="S")])


def test_prompted_llm_checks_its_template() -> None:
    llm = PromptSensitiveLLM()
    with pytest.raises(ValueError, match=r"has 2 variables to fill \(\['a', 'b'\]\)"):
        PromptedLLM(llm, "{a} {b}")
    with pytest.raises(ValueError, match="also needs"):
        PromptedLLM(llm, "{a} {b}", variable="a")
    with pytest.raises(ValueError, match="`variable`='c' is not a variable"):
        PromptedLLM(llm, "{a}", variable="c")
    partial = PromptTemplate("[{style}] {q}").partial_format(style="alpha")
    assert PromptedLLM(llm, partial).complete("Q?").text == scripted_answer("alpha", "Q?")
    with pytest.raises(TypeError, match="`llm` must be a llama_index LLM"):
        PromptedLLM("gpt", "{q}")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`prompts` must be a dict"):
        SmoothieLLM.from_prompts(llm, ["{q}"] * 3)  # type: ignore[arg-type]


# ----------------------------------------------------------------- select mode
def test_select_calls_the_model_once_per_prompt_and_returns_a_right_answer(
    model: PromptSensitiveLLM,
) -> None:
    llm = SmoothieLLM.from_prompts(model, PROMPTS, embedder=HashingEmbedder(), update_pool=False)
    for question in HELD_OUT:
        model.calls.clear()
        response = llm.complete(question)
        meta = response.additional_kwargs["smoothie"]
        assert len(model.calls) == len(PROMPTS)
        assert meta["selected"] != next(s for s, t in BAD_TOPIC.items() if t == topic_of(question))
        assert response.text == scripted_answer(meta["selected"], question)


async def test_select_async_and_chat(model: PromptSensitiveLLM) -> None:
    llm = SmoothieLLM.from_prompts(model, PROMPTS, embedder=HashingEmbedder())
    question = HELD_OUT[0]
    sync = llm.complete(question)
    response = await llm.acomplete(question)
    assert response.text == sync.text
    chat = llm.chat([ChatMessage(role="user", content=question)])
    assert chat.message.content == sync.text


# ------------------------------------------------------------------ route mode
def test_route_calls_the_model_once_with_a_template_good_on_the_topic(
    routed: SmoothieLLM, model: PromptSensitiveLLM
) -> None:
    for question in HELD_OUT:
        bad = next(s for s, t in BAD_TOPIC.items() if t == topic_of(question))
        model.calls.clear()
        response = routed.complete(question)
        meta = response.additional_kwargs["smoothie"]
        assert meta["mode"] == "route" and meta["selected"] != bad, (question, meta["weights"])
        assert len(model.calls) == 1 and _style(model.calls[0]) == meta["selected"]
        assert response.text == scripted_answer(meta["selected"], question)


def test_route_streams_the_chosen_templates_answer(
    routed: SmoothieLLM, model: PromptSensitiveLLM
) -> None:
    question = HELD_OUT[-1]
    model.calls.clear()
    chunks = list(routed.stream_complete(question))
    assert len(chunks) > 2 and len(model.calls) == 1
    selected = chunks[0].additional_kwargs["smoothie"]["selected"]
    assert chunks[-1].text == scripted_answer(selected, question)


def test_decision_event_is_about_the_question_not_the_formatted_prompt(
    routed: SmoothieLLM,
) -> None:
    events: list[SmoothieDecisionEvent] = []

    class Collect(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, SmoothieDecisionEvent):
                events.append(event)

    root = get_dispatcher()
    handler = Collect()
    root.add_event_handler(handler)
    try:
        routed.complete(HELD_OUT[0])
    finally:
        root.event_handlers.remove(handler)
    [event] = events
    assert event.query == HELD_OUT[0] and event.mode == "route"


def test_save_and_load_with_the_same_prompts(
    routed: SmoothieLLM, model: PromptSensitiveLLM, tmp_path: Any
) -> None:
    path = routed.save(tmp_path / "prompts.npz")
    candidates = {name: PromptedLLM(model, template) for name, template in PROMPTS.items()}
    loaded = SmoothieLLM.load(path, candidates, embedder=HashingEmbedder())
    for question in HELD_OUT:
        assert (
            loaded.complete(question).additional_kwargs["smoothie"]["selected"]
            == (routed.complete(question).additional_kwargs["smoothie"]["selected"])
        )
