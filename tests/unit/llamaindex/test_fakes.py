"""The scripted LlamaIndex fakes behave as the other tests assume."""

from __future__ import annotations

import pytest
from llama_index.core.llms import ChatMessage

from tests.support.llamaindex import (
    BAD_TOPIC,
    CALIBRATION,
    HELD_OUT,
    QUESTIONS,
    RAMBLES,
    STYLES,
    TOPICS,
    engine_tools,
    scripted_answer,
    scripted_chat_llm,
)


def test_world_has_one_bad_candidate_per_topic() -> None:
    for topic in TOPICS:
        q = QUESTIONS[topic][0]
        bad = [n for n in STYLES if scripted_answer(n, q) == RAMBLES[n]]
        assert bad == [n for n, t in BAD_TOPIC.items() if t == topic]
    assert len(CALIBRATION) == 24
    assert len(HELD_OUT) == 8
    assert not set(CALIBRATION) & set(HELD_OUT)


def test_scripted_engine_counts_and_fails() -> None:
    tools, engines = engine_tools(failing=["beta"])
    q = QUESTIONS["math"][0]
    assert "equals" in str(tools[0].query_engine.query(q))
    assert engines["alpha"].calls == [q]
    with pytest.raises(ConnectionError, match="beta is down"):
        tools[1].query_engine.query(q)


def test_scripted_chat_llm_answers_from_script() -> None:
    llm = scripted_chat_llm("gamma")
    q = QUESTIONS["geography"][0]
    reply = llm.chat([ChatMessage(role="user", content=q)])
    assert reply.message.content == "Answer: The capital city of France is Paris."
