"""SmoothieRouter with the real offline MiniLM: semantic (not lexical) agreement decides."""

from __future__ import annotations

from typing import Any

import pytest

from langchain_smoothie import ScriptedChatModel, SmoothieRouter

pytestmark = [pytest.mark.minilm, pytest.mark.filterwarnings("ignore::UserWarning")]

ANSWERS = {
    # two paraphrases that share few words, and a fluent but off-topic answer
    "careful": {
        "rice": "Simmer the rice with a lid on for about eighteen minutes.",
        "tea": "Steep green tea in water just below boiling for two minutes.",
    },
    "terse": {
        "rice": "Cook it covered on low heat, roughly 18 min.",
        "tea": "Brew it about 2 min in hot, not boiling, water.",
    },
    "drifty": {
        "rice": "The stock market closed higher today after strong earnings.",
        "tea": "The stock market closed lower today after weak earnings.",
    },
}


def _models() -> dict[str, ScriptedChatModel]:
    return {n: ScriptedChatModel(model_name=n, answers=a) for n, a in ANSWERS.items()}


@pytest.mark.parametrize("question", ["How do I cook rice?", "How should I brew green tea?"])
def test_select_with_minilm_picks_the_paraphrasing_pair(minilm: Any, question: str) -> None:
    msg = SmoothieRouter(models=_models(), embedder=minilm).invoke(question)
    meta = msg.response_metadata["smoothie"]
    assert meta["selected"] in {"careful", "terse"}
    assert meta["weights"]["drifty"] == min(meta["weights"].values())


def test_route_with_minilm_avoids_the_drifting_model(minilm: Any) -> None:
    models = _models()
    router = SmoothieRouter(models=models, embedder=minilm, mode="route", n_neighbors=2)
    router.fit(["How do I cook rice?", "How should I brew green tea?"], show_progress=False)
    before = sum(m.call_count for m in models.values())
    msg = router.invoke("Best way to make rice?")
    assert msg.response_metadata["smoothie"]["selected"] != "drifty"
    assert sum(m.call_count for m in models.values()) == before + 1
