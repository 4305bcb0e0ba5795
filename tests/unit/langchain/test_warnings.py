"""``ReliabilityWarning`` must point at the line that called the router (issue 15)."""

from __future__ import annotations

import asyncio
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
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
    # the consensus scorer: its diagnostics flag this crowd-shaped pool (low reliability)
    return SmoothieRouter(
        models=models, scorer="consensus", embedder=HashingEmbedder(), mode=mode, n_neighbors=2
    )


def _loaded() -> SmoothieRouter:
    """A calibrated route-mode router that has not shown its one warning yet."""
    router = _router("route")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        router.fit(["Capital of France?", "Capital of Peru?"], show_progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = router.save(Path(tmp) / "router.npz")
        return SmoothieRouter.load(path, models=router.models, embedder=HashingEmbedder())


CALLS: dict[str, Callable[[], Any]] = {
    "select invoke": lambda: _router("select").invoke("Capital of France?"),
    "select stream": lambda: list(_router("select").stream("Capital of France?")),
    "select batch": lambda: _router("select").batch(["Capital of France?"]),
    "fit": lambda: _router("route").fit(["Capital of France?", "Peru?"], show_progress=False),
    "route invoke": lambda: _loaded().invoke("Capital of France?"),
}
ASYNC_CALLS: dict[str, Callable[[], Any]] = {
    "select ainvoke": lambda: asyncio.run(_router("select").ainvoke("Capital of France?")),
    "afit": lambda: asyncio.run(
        _router("route").afit(["Capital of France?", "Peru?"], show_progress=False)
    ),
}


def _check(call: Callable[[], Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    found = [w for w in caught if issubclass(w.category, ReliabilityWarning)]
    assert found, "expected a ReliabilityWarning"
    assert found[0].filename == __file__, (found[0].filename, found[0].lineno)


@pytest.mark.parametrize("path", list(CALLS))
def test_reliability_warning_points_at_the_caller(path: str) -> None:
    _check(CALLS[path])


@pytest.mark.parametrize("path", list(ASYNC_CALLS))
def test_reliability_warning_points_at_the_async_caller(path: str) -> None:
    _check(ASYNC_CALLS[path])
