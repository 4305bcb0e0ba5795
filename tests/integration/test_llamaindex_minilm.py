"""End to end with the real offline MiniLM: calibrate, pre-route, ensemble, save and reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llama_index.core.query_engine import RouterQueryEngine

from llamaindex_smoothie import SmoothieQueryEngine, SmoothieSelector
from tests.support.llamaindex import (
    BAD_TOPIC,
    CALIBRATION,
    HELD_OUT,
    STYLES,
    engine_tools,
    scripted_answer,
    scripted_chat_llm,
    topic_of,
)

NAMES = list(STYLES)
pytestmark = [
    pytest.mark.minilm,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability"),
]


async def test_async_calibration_pre_routing_and_reload(minilm: Any, tmp_path: Path) -> None:
    tools, engines = engine_tools()
    selector = await SmoothieSelector.afrom_query_engine_tools(
        tools, CALIBRATION, n_neighbors=5, embedder=minilm, max_concurrency=4, show_progress=False
    )
    router = RouterQueryEngine(selector, tools, llm=scripted_chat_llm("alpha"))
    chosen: dict[str, str] = {}
    for q in HELD_OUT:
        for engine in engines.values():
            engine.calls.clear()
        response = await router.aquery(q)
        name = response.metadata["selector_result"].selected
        assert BAD_TOPIC[name] != topic_of(q), response.metadata["selector_result"].weights
        assert sum(len(e.calls) for e in engines.values()) == 1
        assert str(response) == scripted_answer(name, q)
        chosen[q] = name

    path = selector.save(tmp_path / "selector.npz")
    reloaded = SmoothieSelector.load(path)  # default embedder = the same offline MiniLM
    assert {q: reloaded.select(NAMES, q).selected for q in HELD_OUT} == chosen


def test_ensemble_engine_with_minilm(minilm: Any) -> None:
    tools, _ = engine_tools(failing=["alpha"])
    qe = SmoothieQueryEngine(tools, embedder=minilm)
    for q in HELD_OUT[::2]:  # one query per topic
        smoothie = qe.query(q).metadata["smoothie"]
        assert smoothie["failed"] == ["alpha"]
        assert BAD_TOPIC[smoothie["selected"]] != topic_of(q), smoothie["weights"]
