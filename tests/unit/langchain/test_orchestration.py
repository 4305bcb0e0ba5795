"""Issue 14 item 1: every path calls candidates through smoothie_core.orchestration, so
``timeout`` (per attempt), ``max_retries`` and ``max_concurrency`` mean the same in select
mode, route mode and fit, sync and async."""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pytest
from langchain_core.messages import BaseMessage

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder
from smoothie_core.defaults import DEFAULT_MAX_CONCURRENCY

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PARIS = ["Paris is the capital.", "The capital is Paris.", "It is Paris, the capital."]


class SlowFirst:
    """A script whose first ``slow`` calls take ``seconds`` (then it answers at once)."""

    def __init__(self, answer: str, *, slow: int = 1, seconds: float = 1.5) -> None:
        self.answer, self.slow, self.seconds = answer, slow, seconds
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, messages: list[BaseMessage], tools: Any) -> str:
        with self.lock:
            self.calls += 1
            n = self.calls
        if n <= self.slow:
            time.sleep(self.seconds)
        return self.answer


def _models(**scripts: SlowFirst) -> dict[str, ScriptedChatModel]:
    out = {}
    for i, name in enumerate(("a", "b", "c")):
        script = scripts.get(name)
        out[name] = ScriptedChatModel(model_name=name, default_answer=PARIS[i], script=script)
    return out


def test_select_retries_a_timed_out_attempt() -> None:
    slow = SlowFirst(PARIS[1])
    router = SmoothieRouter(
        models=_models(b=slow), embedder=HashingEmbedder(), timeout=0.4, max_retries=1
    )
    meta = router.invoke("Capital of France?").response_metadata["smoothie"]
    assert meta["failed"] == [] and slow.calls == 2


def test_route_retries_a_timed_out_winner_before_falling_back() -> None:
    router = SmoothieRouter(
        models=_models(), embedder=HashingEmbedder(), mode="route", timeout=0.4, max_retries=1
    ).fit(["Capital of France?", "Capital of Peru?"], show_progress=False)
    winner = router.route("Capital of Spain?").selected
    slow = SlowFirst(PARIS[0])
    router.models[winner].script = slow
    meta = router.invoke("Capital of Spain?").response_metadata["smoothie"]
    assert meta["selected"] == winner and meta["failed"] == [] and slow.calls == 2
    router.max_retries = 0
    slow.calls = 0
    meta = router.invoke("Capital of Spain?").response_metadata["smoothie"]
    assert meta["failed"] == [winner] and "TimeoutError" in meta["errors"][winner]


def test_fit_retries_a_timed_out_attempt() -> None:
    slow = SlowFirst(PARIS[2])
    router = SmoothieRouter(
        models=_models(c=slow), embedder=HashingEmbedder(), mode="route", timeout=0.4,
        max_retries=1, max_concurrency=1,
    ).fit(["Capital of France?"], show_progress=False)  # fmt: skip
    assert router.fit_errors == {} and slow.calls == 2


class Counting(ScriptedChatModel):
    """Tracks how many calls of all instances are in flight at once."""

    live: ClassVar[list[int]] = [0, 0]  # [in flight, peak], shared by every instance
    guard: ClassVar[threading.Lock] = threading.Lock()

    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> Any:
        with self.guard:
            self.live[0] += 1
            self.live[1] = max(self.live[1], self.live[0])
        try:
            time.sleep(0.1)
            return super()._answer(messages, **kwargs)
        finally:
            with self.guard:
                self.live[0] -= 1


def test_max_concurrency_bounds_select_and_fit() -> None:
    live = Counting.live
    live[:] = [0, 0]
    models = {f"m{i}": Counting(model_name=f"m{i}", default_answer=PARIS[i % 3]) for i in range(5)}
    router = SmoothieRouter(models=models, embedder=HashingEmbedder(), max_concurrency=2)
    router.invoke("Capital of France?")
    assert live[1] == 2
    live[1] = 0
    router.fit(["Capital of France?", "Capital of Peru?"], show_progress=False)
    assert live[1] == 2
    default = SmoothieRouter(models=models, embedder=HashingEmbedder())
    assert default.max_concurrency == DEFAULT_MAX_CONCURRENCY
    live[1] = 0
    default.invoke("Capital of France?")
    assert live[1] == 5


def test_policy_options_are_checked_by_the_core() -> None:
    models = _models()
    with pytest.raises(ValueError, match="`timeout` must be None or a positive number"):
        SmoothieRouter(models=models, timeout=0)
    with pytest.raises(ValueError, match="`max_retries` must be an int >= 0"):
        SmoothieRouter(models=models, max_retries=-1)
    with pytest.raises(ValueError, match="`max_concurrency` must be a positive int"):
        SmoothieRouter(models=models, max_concurrency=0)
