"""``ReliabilityWarning`` must point at the line that called the router (issue 15)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder
from smoothie_core.diagnostics import ReliabilityWarning

# One far outlier among three candidates: the decision's reliability is low (it warns).
ANSWERS = ("Paris is the capital of France.", "The capital of France is Paris.", "Zebra 42!")


def _router(mode: str) -> SmoothieRouter:
    models = [
        ScriptedChatModel(model_name=n, default_answer=a)
        for n, a in zip("abc", ANSWERS, strict=True)
    ]
    return SmoothieRouter(models=models, embedder=HashingEmbedder(), mode=mode, n_neighbors=2)


CALLS: dict[str, Callable[[], Any]] = {
    "select invoke": lambda: _router("select").invoke("Capital of France?"),
    "select ainvoke": lambda: asyncio.run(_router("select").ainvoke("Capital of France?")),
    "fit": lambda: _router("route").fit(["Capital of France?", "Peru?"], show_progress=False),
}


@pytest.mark.xfail(
    strict=True,
    reason="needs smoothie_core: Router._maybe_warn uses a fixed stacklevel, but the depth "
    "from a LangChain caller differs by path (10 frames for invoke, 6 for fit) and async "
    "paths decide in a worker thread with no caller frame; see the langchain branch report",
)
@pytest.mark.parametrize("path", list(CALLS))
def test_reliability_warning_points_at_the_caller(path: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CALLS[path]()
    found = [w for w in caught if issubclass(w.category, ReliabilityWarning)]
    assert found, "expected a ReliabilityWarning"
    assert found[0].filename == __file__, (found[0].filename, found[0].lineno)
