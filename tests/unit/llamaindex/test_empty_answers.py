"""An empty or whitespace-only answer is a failed answer (issue 15, item 5).

It is recorded in ``failed``/``errors`` (select mode) or ``calibration_errors_``
(calibration), never scored: two empty answers and one proper answer return the proper
one. It is a failed attempt, retried while ``max_retries`` allows (as in LangChain).
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, CompletionResponse

from llamaindex_smoothie import SmoothieLLM, SmoothieQueryEngine, SmoothieSelector
from llamaindex_smoothie._common import EMPTY_ANSWER
from smoothie_core import HashingEmbedder
from smoothie_core.exceptions import AllCandidatesFailedError
from tests.support.llamaindex import (
    CALIBRATION,
    HELD_OUT,
    STYLES,
    FixedLLM,
    ScriptedEngine,
    ScriptedLLM,
    engine_tools,
    fixed_tools,
    scripted_answer,
)

NAMES = list(STYLES)
PROPER = "Paris is the capital of France."
TEXTS = {"a": "", "b": "  \n\t", "c": PROPER}
pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")


def empty_llms() -> dict[str, FixedLLM]:
    return {n: FixedLLM(text=t) for n, t in TEXTS.items()}


async def test_query_engine_returns_the_proper_answer() -> None:
    qe = SmoothieQueryEngine(fixed_tools(TEXTS), embedder=HashingEmbedder())
    for response in (qe.query("capital?"), await qe.aquery("capital?")):
        smoothie = response.metadata["smoothie"]
        assert str(response) == PROPER
        assert smoothie["selected"] == "c"
        assert smoothie["failed"] == ["a", "b"]
        assert smoothie["errors"] == {"a": EMPTY_ANSWER, "b": EMPTY_ANSWER}
        assert smoothie["answers"] == {"c": PROPER}


async def test_query_engine_with_only_empty_answers_raises() -> None:
    qe = SmoothieQueryEngine(
        fixed_tools({"a": "", "b": " ", "c": "\n"}), embedder=HashingEmbedder()
    )
    with pytest.raises(AllCandidatesFailedError) as info:
        qe.query("capital?")
    assert info.value.errors == dict.fromkeys("abc", EMPTY_ANSWER)
    with pytest.raises(AllCandidatesFailedError):
        await qe.aquery("capital?")


async def test_llm_select_returns_the_proper_answer() -> None:
    llm = SmoothieLLM(empty_llms(), embedder=HashingEmbedder())
    chat = [ChatMessage(role="user", content="capital?")]
    for response in (
        llm.complete("capital?"),
        llm.chat(chat),
        await llm.acomplete("capital?"),
        await llm.achat(chat),
    ):
        decision = response.additional_kwargs["smoothie"]
        assert decision["selected"] == "c"
        assert decision["failed"] == ["a", "b"]
        assert decision["errors"] == {"a": EMPTY_ANSWER, "b": EMPTY_ANSWER}
    assert llm.complete("capital?").text == PROPER
    with pytest.raises(AllCandidatesFailedError):
        SmoothieLLM({n: FixedLLM(text=" ") for n in "abc"}, embedder=HashingEmbedder()).complete(
            "capital?"
        )


def test_precomputed_empty_answers_fail_in_selector_calibration() -> None:
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION]
    answers[3]["beta"] = ""
    answers[7]["delta"] = " \n "
    selector = SmoothieSelector.from_answers(
        NAMES, CALIBRATION, answers, n_neighbors=5, embedder=HashingEmbedder()
    )
    assert selector.calibration_report is not None  # the older spelling, first
    assert selector.calibration_report.dropped == [3, 7]
    report = selector.calibration_report_
    assert report.dropped == [3, 7]
    assert report.failures == {"alpha": 0, "beta": 1, "gamma": 0, "delta": 1}
    assert selector.calibration_errors_[3] == {"beta": EMPTY_ANSWER}
    assert selector.calibration_errors_[7] == {"delta": EMPTY_ANSWER}
    # the same through fit(answers=) and the LLM's older spelling
    fitted = SmoothieSelector(tools=NAMES, n_neighbors=5, embedder=HashingEmbedder())
    assert fitted.fit(CALIBRATION, answers=answers).calibration_report_.dropped == [3, 7]
    llm = SmoothieLLM(
        {n: ScriptedLLM(name=n) for n in NAMES}, mode="route", embedder=HashingEmbedder()
    )
    report = llm.calibrate_from_answers(CALIBRATION, answers, n_neighbors=5)
    assert report.dropped == [3, 7]
    assert llm.calibration_errors_[3] == {"beta": EMPTY_ANSWER}


class EmptyOnMath(ScriptedEngine):
    """Answers "" to arithmetic questions (and counts its calls)."""

    def custom_query(self, query_str: str) -> str:
        text = super().custom_query(query_str)
        return "" if "plus" in query_str else text


async def test_empty_engine_answers_fail_in_calibration_after_their_retries() -> None:
    math = [i for i, q in enumerate(CALIBRATION) if "plus" in q]
    for run in ("sync", "async"):
        tools, _ = engine_tools()
        engine = EmptyOnMath(name="gamma")
        tools[2] = type(tools[2]).from_defaults(engine, name="gamma", description="g")
        selector = SmoothieSelector(
            tools=tools, n_neighbors=3, max_retries=2, embedder=HashingEmbedder()
        )
        if run == "sync":
            selector.fit(CALIBRATION, show_progress=False)
        else:
            await selector.afit(CALIBRATION, show_progress=False)
        assert selector.calibration_report_.dropped == math
        for i, errors in enumerate(selector.calibration_errors_):
            assert errors == ({"gamma": EMPTY_ANSWER} if i in math else {})
        # an empty answer is a failed attempt: each math query was asked 1 + 2 times
        assert len(engine.calls) == len(CALIBRATION) + 2 * len(math)


def test_empty_llm_answers_fail_in_llm_calibration() -> None:
    llms = {n: ScriptedLLM(name=n) for n in NAMES[:3]} | {"delta": FixedLLM(text="")}
    llm = SmoothieLLM(llms, mode="route", embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="No calibration prompt has an answer from every"):
        llm.fit(CALIBRATION[:4], show_progress=False)
    # the errors of that failed fit are not kept: the LLM stays unfitted
    with pytest.raises(AttributeError):
        llm.calibration_report_  # noqa: B018
    llm = SmoothieLLM({n: ScriptedLLM(name=n) for n in NAMES}, embedder=HashingEmbedder())
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in HELD_OUT]
    answers[0]["alpha"] = "\u3000"  # an ideographic space is whitespace too
    llm.fit(HELD_OUT, answers=answers)
    assert llm.calibration_errors_[0] == {"alpha": EMPTY_ANSWER}


class EmptyOnce(FixedLLM):
    """Answers "" on its first call, then ``text``."""

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        out = super().complete(prompt)
        return CompletionResponse(text="" if len(self.calls) == 1 else out.text)

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        out = await super().acomplete(prompt)
        return CompletionResponse(text="" if len(self.calls) == 1 else out.text)


@pytest.mark.parametrize("run", ["sync", "async"])
async def test_select_mode_retries_an_empty_answer(run: str) -> None:
    flaky = EmptyOnce(text=PROPER)
    llms = {"a": FixedLLM(text="Paris."), "b": FixedLLM(text="It is Paris."), "c": flaky}
    llm = SmoothieLLM(llms, max_retries=1, embedder=HashingEmbedder())
    out = (
        llm.complete("Capital of France?")
        if run == "sync"
        else await llm.acomplete("Capital of France?")
    )
    decision = out.additional_kwargs["smoothie"]
    assert len(flaky.calls) == 2 and decision["failed"] == []
    assert decision["errors"] == {}


async def test_query_engine_records_an_empty_answer_after_its_retries() -> None:
    engine = EmptyOnMath(name="gamma")
    tools, _ = engine_tools()
    tools[2] = type(tools[2]).from_defaults(engine, name="gamma", description="g")
    qe = SmoothieQueryEngine(tools, max_retries=1, embedder=HashingEmbedder())
    response = await qe.aquery("What is 2 plus 2?")
    assert response.metadata["smoothie"]["failed"] == ["gamma"]
    assert response.metadata["smoothie"]["errors"] == {"gamma": EMPTY_ANSWER}
    assert len(engine.calls) == 2
