"""``smoothie demo --prompts`` (issue 16): one model, three prompt templates, scripted here."""

from __future__ import annotations

import io
from typing import Any

import pytest
from langchain_core.messages import BaseMessage

from langchain_smoothie import ScriptedChatModel
from smoothie_core import HashingEmbedder
from smoothie_core.cli import main
from smoothie_demo.prompts import (
    PROMPT_QUESTIONS,
    PROMPT_TEMPLATES,
    KnownAnswer,
    is_correct,
    run_prompts_demo,
    stated_answer,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _script(messages: list[BaseMessage], tools: Any) -> str:
    """Right under every template, except "direct", which is wrong on arithmetic."""
    system, question = messages[0].text, messages[-1].text
    q = next(q for q in PROMPT_QUESTIONS if q.text == question)
    answer = q.answers[0]
    if system == PROMPT_TEMPLATES["direct"]:
        return str(int(answer) + 7) if q.kind == "number" else answer
    if system == PROMPT_TEMPLATES["step_by_step"]:
        return f"Let me work it out for: {question}\nAnswer: {answer}"
    return f"Answer: {answer}\nThat is the known answer to: {question}"


def test_answers_are_checked_on_the_stated_answer() -> None:
    sum_q = KnownAnswer("arithmetic", "What is 17 * 3 + 9?", ("60",), "number")
    assert is_correct(sum_q, "17 * 3 = 51\n51 + 9 = 60\nAnswer: 60")
    assert not is_correct(sum_q, "17 * 3 = 51\nAnswer: 51")  # 60 nowhere stated
    assert is_correct(sum_q, "60")
    assert is_correct(sum_q, "Answer: 51 + 9 = 60")  # the result, not the first operand
    assert not is_correct(sum_q, "Answer: 61. Check: 17 * 3 + 9 = 60.")  # first sentence only
    pens = KnownAnswer("arithmetic", "7 pens at 4 dollars?", ("28",), "number")
    assert is_correct(pens, "Answer: 7 pens cost $28. Explanation: 7 * 4 is 28.")
    assert not is_correct(sum_q, None) and not is_correct(sum_q, "I cannot say.")
    gold = KnownAnswer("fact", "Chemical symbol for gold?", ("Au",), "symbol")
    assert is_correct(gold, "The chemical symbol for gold is Au.")
    assert not is_correct(gold, "Answer: AU") and not is_correct(gold, "Answer: Aurum")
    city = KnownAnswer("fact", "Capital of Brazil?", ("Brasilia",))
    assert is_correct(city, "Answer: Brasília") and not is_correct(city, "Answer: Rio")
    assert stated_answer("Answer: Canberra\nIt was chosen as a compromise.") == "Canberra"


def test_the_built_in_questions_have_both_topics_in_both_halves() -> None:
    half = len(PROMPT_QUESTIONS) // 2
    for part in (PROMPT_QUESTIONS[:half], PROMPT_QUESTIONS[half:]):
        assert {q.topic for q in part} == {"arithmetic", "fact"}
    for q in PROMPT_QUESTIONS:  # every known answer passes its own check
        assert is_correct(q, f"Answer: {q.answers[0]}")


def test_select_avoids_the_template_that_is_wrong_and_route_calls_once() -> None:
    model = ScriptedChatModel(model_name="one", script=_script)
    out = io.StringIO()
    report = run_prompts_demo(model, embedder=HashingEmbedder(dim=256), out=out)
    text = out.getvalue()
    assert "== prompts, select mode" in text and "== prompts, route mode" in text
    arithmetic = [r for r in report.select_rows if not r["correct"]["direct"]]
    assert len(arithmetic) == 4  # direct is wrong on every arithmetic question
    assert all(r["selected"] != "direct" for r in arithmetic)
    assert all(r["correct"][r["selected"]] for r in report.select_rows)
    half = len(PROMPT_QUESTIONS) // 2
    assert report.model_calls == {"select": 8 * 3, "fit": half * 3, "route": half}
    assert [r["calls"] for r in report.route_rows] == [1] * half
    assert model.call_count == 8 * 3 + half * 3 + half


def test_cli_prompts_mode_end_to_end(capsys: Any, monkeypatch: Any) -> None:
    from smoothie_demo import cli

    loaded: list[tuple[list[str], int]] = []

    def fake_build(names: list[str], *, max_tokens: int, **kwargs: Any) -> dict[str, Any]:
        loaded.append((list(names), max_tokens))
        return {names[0]: ScriptedChatModel(model_name=names[0], script=_script)}

    monkeypatch.setattr(cli, "build_local_models", fake_build)
    assert main(["demo", "--prompts", "--embedder", "hashing"]) == 0
    out = capsys.readouterr().out
    assert loaded == [(["qwen-0.5b"], 192)]
    assert "qwen-0.5b under 3 prompt templates (direct, step_by_step, answer_then_explain)" in out
    assert "route mode: 4 questions, 4 model calls (select mode would make 12)" in out
    assert main(["demo", "--prompts", "--prompt-model", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["demo", "--prompts", "--models", "a:x", "b:y", "c:z"]) == 2
    assert "drop --models/--questions" in capsys.readouterr().err
