"""What LangChain users asked for (issue 15): empty answers fail, fit takes chain inputs,
``"provider:model"`` candidates, forwarded settings, token counts, ``__version__``."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from langchain_core.prompts import ChatPromptTemplate
from pydantic import Field

import langchain_smoothie
import smoothie_core
from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder
from smoothie_core.router import EMPTY_ANSWER  # what the core records for an empty answer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _router(models: Any, **kwargs: Any) -> SmoothieRouter:
    return SmoothieRouter(models=models, embedder=HashingEmbedder(), **kwargs)


def _three(**answers: str) -> dict[str, ScriptedChatModel]:
    return {n: ScriptedChatModel(model_name=n, default_answer=a) for n, a in answers.items()}


# ------------------------------------------------------------ empty answers (item 5)
def test_empty_answers_count_as_failed_in_select_mode() -> None:
    models = _three(blank="", spaces=" \n\t ", good="Paris is the capital of France.")
    msg = _router(models).invoke("Capital of France?")
    meta = msg.response_metadata["smoothie"]
    assert msg.content == "Paris is the capital of France."
    assert meta["selected"] == "good" and meta["failed"] == ["blank", "spaces"]
    assert meta["errors"] == {"blank": EMPTY_ANSWER, "spaces": EMPTY_ANSWER}


def test_an_empty_answer_is_retried() -> None:
    state = {"n": 0}

    def blank_once(messages: list[BaseMessage], tools: Any) -> str:
        state["n"] += 1
        return "" if state["n"] == 1 else "Paris, the capital."

    models = _three(a="Paris is the capital.", b="The capital is Paris.")
    models["c"] = ScriptedChatModel(model_name="c", script=blank_once)
    meta = _router(models, max_retries=1).invoke("Capital?").response_metadata["smoothie"]
    assert meta["failed"] == [] and state["n"] == 2


def test_two_empty_of_four_are_failures_not_a_winning_pair() -> None:
    models = _three(
        blank="", also_blank="", good="Paris is the capital.", fine="The capital is Paris."
    )
    meta = _router(models).invoke("Capital of France?").response_metadata["smoothie"]
    assert meta["failed"] == ["blank", "also_blank"] and meta["selected"] in {"good", "fine"}


def test_empty_answers_count_as_failed_in_fit() -> None:
    models = _three(a="Paris.", b="Paris is it.", c="Lima.")
    models["c"].answers = {"peru": "   "}
    router = _router(models, mode="route").fit(
        ["Capital of France?", "Capital of Peru?", "Capital of Japan?"], show_progress=False
    )
    assert list(router.fit_errors) == [(1, "c")]
    assert router.fit_errors[(1, "c")] == EMPTY_ANSWER
    assert router.calibration_errors_ == [{}, {"c": EMPTY_ANSWER}, {}]
    assert router.calibration_report_.dropped == [1]


def test_a_tool_call_without_text_is_not_empty() -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add.",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
        },
    }
    models = [ScriptedChatModel(model_name=n) for n in "abc"]
    msg = _router(models).bind_tools([tool], tool_choice="any").invoke("add 2")
    assert msg.tool_calls and msg.response_metadata["smoothie"]["failed"] == []


# ------------------------------------------------------------------ fit inputs
def test_fit_without_prompts_says_so() -> None:
    router = _router(_three(a="x", b="y", c="z"), mode="route")
    with pytest.raises(ValueError, match="No prompts: `prompts` is empty"):
        router.fit([], show_progress=False)
    with pytest.raises(TypeError, match="wrap it in a list"):
        router.fit("Capital of France?", show_progress=False)  # type: ignore[arg-type]


def test_fit_accepts_a_chains_inputs_with_its_prompt_template() -> None:
    def capital(messages: list[BaseMessage], tools: Any) -> str:
        return f"The answer to '{messages[-1].text}' is Paris."

    models = {
        n: ScriptedChatModel(model_name=n, script=capital if n != "c" else None)
        for n in ("a", "b", "c")
    }
    template = ChatPromptTemplate.from_messages(
        [("system", "Answer briefly."), ("human", "What is the capital of {country}?")]
    )
    countries = ["France", "Peru", "Japan", "Chile"]
    by_template = _router(models, mode="route", n_neighbors=2).fit(
        [{"country": c} for c in countries], prompt=template, show_progress=False
    )
    by_text = _router(models, mode="route", n_neighbors=2).fit(
        [f"What is the capital of {c}?" for c in countries], show_progress=False
    )
    assert models["a"].calls[0] == "What is the capital of France?"
    chain = template | by_template
    msg = chain.invoke({"country": "Kenya"})
    assert msg.response_metadata["smoothie"]["mode"] == "route"
    probe = "What is the capital of Kenya?"
    assert by_template.route(probe).weights == pytest.approx(by_text.route(probe).weights)
    with pytest.raises(TypeError, match=r"prompts\[0\] is a dict .* pass the prompt template"):
        by_text.fit([{"country": "France"}], show_progress=False)
    with pytest.raises(TypeError, match="`prompt` must be a prompt template"):
        by_text.fit(["x"], prompt="What is {x}?", show_progress=False)  # type: ignore[arg-type]


async def test_afit_accepts_a_prompt_template_too() -> None:
    template = ChatPromptTemplate.from_messages([("human", "Capital of {country}?")])
    router = await _router(_three(a="Paris.", b="Paris!", c="Lima."), mode="route").afit(
        [{"country": "France"}, {"country": "Peru"}], prompt=template, show_progress=False
    )
    assert router.calibration_report_.n_used == 2


def test_calibration_report_underscore_is_the_fitted_attribute() -> None:
    router = _router(_three(a="Paris.", b="Paris!", c="Lima."), mode="route")
    assert router.calibration_report is None and not hasattr(router, "calibration_report_")
    assert router.fit_errors == {} and not hasattr(router, "calibration_errors_")
    assert router.fit(["x", "y"], show_progress=False) is router
    assert router.calibration_report_ is router.calibration_report
    assert router.calibration_report_.n_prompts == 2


# ------------------------------------------------------- "provider:model" strings
class _FakeOpenAI(ScriptedChatModel):
    """Stands in for langchain_openai.ChatOpenAI (no provider package is installed here)."""

    temperature: float | None = None


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from langchain.chat_models import base

    module = types.ModuleType("langchain_openai")
    module.ChatOpenAI = _FakeOpenAI  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain_openai", module)
    base._get_chat_model_creator.cache_clear()  # it caches the provider class it imported
    yield
    base._get_chat_model_creator.cache_clear()


@pytest.mark.usefixtures("fake_openai")
def test_models_accept_provider_model_strings_through_init_chat_model() -> None:
    router = _router(["openai:gpt-a", ("openai:gpt-b", {"temperature": 0.2}), "openai:gpt-c"])
    assert router.candidate_names == ["openai:gpt-a", "openai:gpt-b", "openai:gpt-c"]
    built = router.models["openai:gpt-b"]
    assert isinstance(built, _FakeOpenAI) and built.model_name == "gpt-b"
    assert built.temperature == 0.2
    named = _router({"x": "openai:gpt-a", "y": ("openai:gpt-b", {}), "z": ScriptedChatModel()})
    assert named.candidate_names == ["x", "y", "z"]
    assert named.invoke("hi").response_metadata["smoothie"]["mode"] == "select"


def test_a_provider_string_without_its_package_is_a_clear_error() -> None:
    if importlib.util.find_spec("langchain_anthropic") is not None:  # pragma: no cover
        pytest.skip("langchain-anthropic is installed here")
    with pytest.raises(ImportError, match=r"models\[2\] = 'anthropic:claude-x' cannot be built"):
        _router([ScriptedChatModel(model_name="a"), ScriptedChatModel(model_name="b"),
                 "anthropic:claude-x"])  # fmt: skip


def test_a_providers_own_error_names_the_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    """ChatOpenAI raises openai.OpenAIError (not a ValueError) without an api key."""
    pytest.importorskip("langchain_openai")
    from langchain.chat_models import base

    base._get_chat_model_creator.cache_clear()
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(
        ValueError,
        match=r"models\[1\] = 'openai:x' cannot be built by init_chat_model: OpenAIError: "
        r".*api_key.*\('openai:x', \{\"api_key\": \.\.\., \"base_url\": \.\.\.\}\)",
    ):
        _router([ScriptedChatModel(model_name="a"), "openai:x", ScriptedChatModel(model_name="c")])


# ------------------------------------------------ router-level settings (forwarded)
class _Tunable(ScriptedChatModel):
    """Records the temperature and max_tokens it answered with."""

    temperature: float = 0.7
    max_tokens: int | None = None
    seen: list[tuple[float, int | None]] = Field(default_factory=list)

    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> Any:
        self.seen.append((self.temperature, self.max_tokens))
        return super()._answer(messages, **kwargs)


@pytest.mark.parametrize("mode", ["select", "route"])
def test_temperature_and_max_tokens_reach_the_candidates_that_take_them(mode: str) -> None:
    models = {n: _Tunable(model_name=n, default_answer=f"Paris {n}", seen=[]) for n in "ab"}
    plain = ScriptedChatModel(model_name="plain", default_answer="Paris c")
    router = _router({**models, "plain": plain}, mode=mode, temperature=0.0, max_tokens=5)
    if mode == "route":
        router.fit(["x", "y"], show_progress=False)
        assert all(seen == [(0.0, 5)] * 2 for seen in (m.seen for m in models.values()))
    router.invoke("Capital?")
    list(router.stream("Capital?"))
    used = [pair for m in models.values() for pair in m.seen]
    assert used and set(used) == {(0.0, 5)}
    assert all(m.temperature == 0.7 and m.max_tokens is None for m in models.values())
    unset = _router({**models, "plain": plain}, mode="select")
    for m in models.values():
        m.seen.clear()
    unset.invoke("Capital?")
    assert {pair for m in models.values() for pair in m.seen} == {(0.7, None)}


def test_token_counts_are_the_largest_candidates() -> None:
    class Chars(ScriptedChatModel):
        def get_num_tokens(self, text: str) -> int:
            return len(text)

    models = [ScriptedChatModel(model_name="a"), ScriptedChatModel(model_name="b")]
    router = _router([*models, Chars(model_name="c")])
    assert router.get_num_tokens("four words in here") == len("four words in here")
    words = _router([*models, ScriptedChatModel(model_name="c")])
    assert words.get_num_tokens("four words in here") == 4
    from langchain_core.messages import HumanMessage

    assert words.get_num_tokens_from_messages([HumanMessage("one two")]) > 0


def test_version() -> None:
    assert langchain_smoothie.__version__ == smoothie_core.__version__
    assert langchain_smoothie.__version__ == importlib.metadata.version("smoothie-router")
