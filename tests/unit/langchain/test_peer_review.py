"""scorer="peer_review" in LangChain: scripted judges, child runs, usage, budget, persistence.

``SmoothieRouter`` (candidates judge each other, or given judges) and ``SmoothieRunnable``
(runnable candidates, judged by given chat models).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from langchain_core.callbacks import BaseCallbackHandler, get_usage_metadata_callback
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import BaseMessage
from langchain_core.messages.ai import add_usage
from langchain_core.prompts import ChatPromptTemplate

from langchain_smoothie import ScriptedChatModel, SmoothieRouter, SmoothieRunnable
from langchain_smoothie._render import input_text
from smoothie_core import HashingEmbedder
from tests.support.judges import (
    CANDIDATES,
    QUALITY,
    WARM_UP,
    answer,
    best,
    grade,
    is_grading,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def player(name: str, kind: str = "honest", *, fail_grading: bool = False) -> ScriptedChatModel:
    """A model that answers ``question <i>`` and grades like a ``kind`` judge."""

    def script(messages: list[BaseMessage], tools: Any) -> str:
        text = input_text(messages)
        if is_grading(text):
            if fail_grading:
                raise RuntimeError(f"{name} cannot grade")
            return grade(kind, text, QUALITY)
        return answer(name, int(text.split()[-1]))

    return ScriptedChatModel(model_name=name, script=script)


def router(judges: Any = None, adversary: str = "honest", **kwargs: Any) -> SmoothieRouter:
    models = [player(n, adversary if n == "d" else "honest") for n in CANDIDATES]
    return SmoothieRouter(
        models=models, scorer="peer_review", judges=judges, embedder=HashingEmbedder(), **kwargs
    )


def extra_judges(*kinds: str) -> dict[str, ScriptedChatModel]:
    return {f"{kind}{i}": player(f"{kind}{i}", kind) for i, kind in enumerate(kinds)}


def plain_choice(grades: dict[str, dict[str, float]]) -> str:
    """The candidate with the best plain mean of the judges' centred grades."""
    centred: dict[str, list[float]] = {c: [] for c in CANDIDATES}
    for row in grades.values():
        mean = float(np.mean(list(row.values())))
        for c, g in row.items():
            centred[c].append(g - mean)
    return max(CANDIDATES, key=lambda c: float(np.mean(centred[c])) if centred[c] else -np.inf)


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kw: Any) -> None:
        self.starts.append(
            {
                "run_id": kw["run_id"],
                "parent": kw.get("parent_run_id"),
                "name": kw.get("name"),
                "tags": kw.get("tags") or [],
                "metadata": kw.get("metadata") or {},
            }
        )

    def judges(self) -> list[dict[str, Any]]:
        return [s for s in self.starts if "smoothie:judge" in s["tags"]]


# ------------------------------------------------------------------ decisions
@pytest.mark.parametrize(
    ("judges", "adversary"),
    [
        (extra_judges("honest", "honest", "honest", "lenient", "random", "position"), "honest"),
        (None, "position"),
        (None, "random"),
        (None, "lenient"),
    ],
    ids=["extra-lenient-random-position", "self-position", "self-random", "self-lenient"],
)
def test_biased_random_and_position_judges_do_not_flip_decisions(
    judges: Any, adversary: str
) -> None:
    r = router(judges, adversary, update_pool=True)
    right = plain_right = 0
    n = 30
    for i in range(n):
        meta = r.invoke(f"question {i}").response_metadata["smoothie"]
        # judges count the same until the pool holds enough grades to weigh them
        right += i >= WARM_UP and meta["selected"] == best(i)
        plain_right += i >= WARM_UP and plain_choice(meta["diagnostics"]["grades"]) == best(i)
        json.dumps(meta)
    assert right == n - WARM_UP
    if adversary in ("position", "honest"):  # these adversaries do flip the plain mean
        assert plain_right < n - WARM_UP


def test_decision_shows_the_grades_readably() -> None:
    judges = extra_judges("honest", "honest", "position")
    meta = router(judges).invoke("question 4").response_metadata["smoothie"]
    diag = meta["diagnostics"]
    assert (
        meta["selected"] == "a"
        and diag["scorer"] == "peer_review[judges=" + str(list(judges)) + "]"
    )
    assert list(diag["grades"]) == list(judges)  # judges in judge order
    assert diag["grades"]["honest0"] == {"a": 9.0, "b": 6.0, "c": 2.0, "d": 2.0}
    for order in diag["shown"].values():  # the order each judge saw the answers in
        assert sorted(order) == sorted(CANDIDATES)
    first = diag["shown"]["position2"][0]
    assert diag["grades"]["position2"] == {c: 10.0 if c == first else 2.0 for c in CANDIDATES}
    assert diag["judge_calls"] == 3 and diag["judge_errors"] == {} and diag["unparsed"] == {}


def test_candidates_as_judges_do_not_grade_their_own_answer() -> None:
    meta = router().invoke("question 2").response_metadata["smoothie"]
    grades = meta["diagnostics"]["grades"]
    assert set(grades) == set(CANDIDATES)
    assert all(name not in row and len(row) == 3 for name, row in grades.items())


# ------------------------------------------------------------- runs and usage
def _check_runs_and_usage(rec: Recorder, usage: Any, meta: dict[str, Any], judges: Any) -> None:
    root = rec.starts[0]
    assert root["parent"] is None
    judge_runs = rec.judges()
    names = list(judges) if judges is not None else list(CANDIDATES)
    assert sorted(s["name"] for s in judge_runs) == sorted(f"judge:{n}" for n in names)
    assert all(s["parent"] == root["run_id"] for s in rec.starts[1:])  # all children
    assert all("nostream" in s["tags"] for s in judge_runs)
    assert {s["metadata"]["smoothie_judge"] for s in judge_runs} == set(names)
    # usage counted once: every candidate and judge run reported its own, nothing more
    expected: dict[str, Any] = {}
    for part in (meta["usage"], meta["judge_usage"]):
        for name, u in part.items():
            expected[name] = add_usage(expected.get(name), u)
    assert set(meta["judge_usage"]) == set(names)
    assert usage.usage_metadata == expected


@pytest.mark.parametrize("judges", [None, "extra"])
def test_judge_calls_are_child_runs_with_usage_counted_once(judges: Any) -> None:
    judges = extra_judges("honest", "honest", "honest") if judges else None
    rec = Recorder()
    with get_usage_metadata_callback() as usage:
        msg = router(judges).invoke("question 6", config={"callbacks": [rec]})
    assert msg.usage_metadata is None
    _check_runs_and_usage(rec, usage, msg.response_metadata["smoothie"], judges)


class AsyncOnlyJudge(ScriptedChatModel):
    """Fails when called synchronously: the async path must ``ainvoke`` its judges."""

    def _generate(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a sync call on the async path")


@pytest.mark.parametrize("judges", [None, "extra"])
async def test_async_judge_calls_are_async_child_runs_with_usage_counted_once(
    judges: Any,
) -> None:
    if judges:

        def script(messages: list[BaseMessage], tools: Any) -> str:
            return grade("honest", input_text(messages), QUALITY)

        judges = {f"j{i}": AsyncOnlyJudge(model_name=f"j{i}", script=script) for i in range(3)}
    rec = Recorder()
    with get_usage_metadata_callback() as usage:
        msg = await router(judges).ainvoke("question 6", config={"callbacks": [rec]})
    meta = msg.response_metadata["smoothie"]
    assert meta["diagnostics"]["judge_errors"] == {}
    assert meta["selected"] == "a"
    _check_runs_and_usage(rec, usage, meta, judges)


async def test_async_stream_in_select_mode_carries_the_grades() -> None:
    chunks = [c async for c in router().astream("question 3")]
    assert len(chunks) == 1
    meta = chunks[0].response_metadata["smoothie"]
    assert meta["selected"] == "c" and len(meta["diagnostics"]["grades"]) == 4


# ------------------------------------------------------------ failures, budget
def test_judge_failures_are_recorded_and_do_not_break_the_decision() -> None:
    judges = extra_judges("honest", "honest", "mute")
    judges["broken"] = player("broken", fail_grading=True)
    meta = router(judges).invoke("question 1").response_metadata["smoothie"]
    diag = meta["diagnostics"]
    assert meta["selected"] == "c"
    assert diag["judge_errors"] == {"broken": "RuntimeError: broken cannot grade"}
    assert "mute2" in diag["unparsed"] and "mute2" not in diag["grades"]
    assert set(diag["grades"]) == {"honest0", "honest1"}


def test_every_judge_failing_still_decides() -> None:
    judges = {n: player(n, fail_grading=True) for n in ("x", "y", "z")}
    r = router(judges, max_retries=1, default="b")
    meta = r.invoke("question 1").response_metadata["smoothie"]
    assert meta["selected"] == "b" and meta["failed"] == []  # the declared default
    assert meta["fallback"].startswith("no judge graded the answers differently")
    assert set(meta["diagnostics"]["judge_errors"]) == {"x", "y", "z"}
    assert meta["diagnostics"]["grades"] == {} and meta["reliability"] == 0.0
    assert meta["judge_usage"] == {}
    assert all(j.call_count == 2 for j in judges.values())  # max_retries applies to judges


def test_budget_caps_judge_calls_per_input_and_rotates_judges() -> None:
    judges = extra_judges("honest", "honest", "honest", "lenient", "random", "position")
    r = router(judges, max_judge_calls=2)
    asked: set[str] = set()
    for i in range(8):
        rec = Recorder()
        meta = r.invoke(f"question {i}", config={"callbacks": [rec]}).response_metadata
        assert len(rec.judges()) == 2 and meta["smoothie"]["diagnostics"]["judge_calls"] == 2
        assert len(meta["smoothie"]["judge_usage"]) == 2
        asked |= set(meta["smoothie"]["diagnostics"]["grades"])
    assert asked == set(judges)
    assert r.max_judge_calls == 2


# ------------------------------------------------------------------ route mode
def test_route_mode_calibrates_with_judges_and_routes_by_the_grades() -> None:
    judges = extra_judges("honest", "honest", "honest")
    # "b" is the only candidate that is never bad; by mean grade it is the best overall
    r = router(judges, mode="route")
    rec = Recorder()
    r.fit([f"question {i}" for i in range(12)], show_progress=False, config={"callbacks": [rec]})
    judge_runs = rec.judges()
    assert len(judge_runs) == 12 * 3 and all(s["parent"] is None for s in judge_runs)
    assert r.calibration_report_.n_used == 12
    calls = {n: j.call_count for n, j in judges.items()}
    msg = r.invoke("question 40")
    meta = msg.response_metadata["smoothie"]
    assert meta["mode"] == "route" and meta["selected"] == "b"
    assert {n: j.call_count for n, j in judges.items()} == calls  # no judge at route time


async def test_async_fit_with_judges() -> None:
    judges = extra_judges("honest", "honest", "honest")
    r = router(judges, mode="route")
    await r.afit([f"question {i}" for i in range(8)], show_progress=False)
    assert all(j.call_count == 8 for j in judges.values())
    assert r.route("question 9").selected == "b"


# ---------------------------------------------------------------- persistence
def test_save_load_keeps_judges_and_budget(tmp_path: Any) -> None:
    judges = extra_judges("honest", "honest", "honest")
    r = router(judges, mode="route", max_judge_calls=2, n_neighbors=3)
    r.fit([f"question {i}" for i in range(10)], show_progress=False)
    path = r.save(tmp_path / "peer.npz")
    models = [player(n) for n in CANDIDATES]
    back = SmoothieRouter.load(path, models=models, judges=judges, embedder=HashingEmbedder())
    assert back.max_judge_calls == 2 and list(back.judges or {}) == list(judges)
    assert back.router.scorer.id == r.router.scorer.id
    assert back.route("question 3").weights == r.route("question 3").weights
    with pytest.raises(ValueError, match=r"judges named \['honest0', 'honest1', 'honest2'\]"):
        SmoothieRouter.load(path, models=models, embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="same judge models"):
        SmoothieRouter.load(
            path, models=models, judges=extra_judges("honest"), embedder=HashingEmbedder()
        )
    # candidates as judges round-trip too
    r2 = router(mode="route")
    r2.fit([f"question {i}" for i in range(6)], show_progress=False)
    back2 = SmoothieRouter.load(
        r2.save(tmp_path / "self.npz"), models=models, embedder=HashingEmbedder()
    )
    assert back2.judges is None and back2.router.scorer.id == "peer_review"


# ---------------------------------------------------------------------- errors
def test_judge_options_are_checked() -> None:
    models = [player(n) for n in CANDIDATES]
    with pytest.raises(
        ValueError, match="apply to scorer='peer_review' only; got scorer='consensus'"
    ):
        SmoothieRouter(models=models, scorer="consensus", judges=extra_judges("honest"))
    with pytest.raises(ValueError, match="apply to scorer='peer_review' only"):
        SmoothieRouter(models=models, max_judge_calls=2)
    with pytest.raises(ValueError, match="`judges` is empty"):
        SmoothieRouter(models=models, scorer="peer_review", judges=[])
    with pytest.raises(ValueError, match="`max_judge_calls` must be None or a positive int"):
        SmoothieRouter(models=models, scorer="peer_review", max_judge_calls=0)
    nameless = [FakeListChatModel(responses=["x"])]
    with pytest.raises(ValueError, match=r"judges\[0\] .* has no `model_name`"):
        SmoothieRouter(models=models, scorer="peer_review", judges=nameless)


def test_candidate_and_judge_runs_are_told_apart_by_their_tags() -> None:
    rec = Recorder()
    router().invoke("question 0", config={"callbacks": [rec]})
    candidate_runs = [s for s in rec.starts if "smoothie:candidate" in s["tags"]]
    assert len(candidate_runs) == 4 and len(rec.judges()) == 4
    assert not {s["run_id"] for s in candidate_runs} & {s["run_id"] for s in rec.judges()}
    assert all(isinstance(s["run_id"], UUID) for s in rec.starts)


# ------------------------------------------------------------ SmoothieRunnable
def chains() -> dict[str, Any]:
    """Runnable candidates: a prompt template before each player (they cannot grade)."""
    template = ChatPromptTemplate.from_template("{question}")
    return {n: template | player(n) for n in CANDIDATES}


def runnable(judges: Any, **kwargs: Any) -> SmoothieRunnable:
    return SmoothieRunnable(
        candidates=chains(),
        scorer="peer_review",
        judges=judges,
        embedder=HashingEmbedder(),
        include_decision=True,
        **kwargs,
    )


class ChainRecorder(Recorder):
    """Also records the chain runs (a ``SmoothieRunnable``'s own run is one)."""

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        if kw.get("parent_run_id") is None:
            self.root = kw["run_id"]


def _check_runnable_runs(rec: ChainRecorder, usage: Any, meta: dict[str, Any], names: Any) -> None:
    judge_runs = rec.judges()
    assert sorted(s["name"] for s in judge_runs) == sorted(f"judge:{n}" for n in names)
    assert all(s["parent"] == rec.root for s in judge_runs)  # children of the runnable's run
    assert all("nostream" in s["tags"] for s in judge_runs)
    # usage counted once: each candidate's model run and each judge run reported its own
    expected: dict[str, Any] = {}
    for part in (meta["usage"], meta["judge_usage"]):
        for name, u in part.items():
            expected[name] = add_usage(expected.get(name), u)
    assert set(meta["judge_usage"]) == set(names)
    assert usage.usage_metadata == expected


def test_runnable_candidates_are_judged_by_chat_model_judges() -> None:
    judges = extra_judges("honest", "honest", "position")
    r = runnable(judges)
    rec = ChainRecorder()
    with get_usage_metadata_callback() as usage:
        out = r.invoke({"question": "question 4"}, config={"callbacks": [rec]})
    meta = out["smoothie"]
    assert meta["selected"] == "a" and out["output"].content == answer("a", 4)
    assert list(meta["diagnostics"]["grades"]) == list(judges)
    assert meta["diagnostics"]["grades"]["honest0"] == {"a": 9.0, "b": 6.0, "c": 2.0, "d": 2.0}
    _check_runnable_runs(rec, usage, meta, list(judges))


async def test_runnable_async_judges_run_on_the_callers_loop() -> None:
    def script(messages: list[BaseMessage], tools: Any) -> str:
        return grade("honest", input_text(messages), QUALITY)

    judges = {f"j{i}": AsyncOnlyJudge(model_name=f"j{i}", script=script) for i in range(3)}
    rec = ChainRecorder()
    with get_usage_metadata_callback() as usage:
        out = await runnable(judges).ainvoke(
            {"question": "question 3"}, config={"callbacks": [rec]}
        )
    meta = out["smoothie"]
    assert meta["diagnostics"]["judge_errors"] == {} and meta["selected"] == "c"
    _check_runnable_runs(rec, usage, meta, list(judges))


def test_runnable_fits_with_judges_and_saves_their_names(tmp_path: Any) -> None:
    judges = extra_judges("honest", "honest", "honest")
    r = runnable(judges, mode="route", max_judge_calls=2)
    r.fit([{"question": f"question {i}"} for i in range(12)], show_progress=False)
    assert r.calibration_report_.n_used == 12
    assert sum(j.call_count for j in judges.values()) == 12 * 2  # the budget applies in fit
    assert r.route({"question": "question 40"}).selected == "b"  # the best on average
    path = r.save(tmp_path / "runnable_peer.npz")
    back = SmoothieRunnable.load(
        path, candidates=chains(), judges=judges, embedder=HashingEmbedder()
    )
    assert back.max_judge_calls == 2 and list(back.judges or {}) == list(judges)
    assert (
        back.route({"question": "question 3"}).weights
        == r.route({"question": "question 3"}).weights
    )
    with pytest.raises(ValueError, match="same judge models"):
        SmoothieRunnable.load(path, candidates=chains(), embedder=HashingEmbedder())


def test_runnable_candidates_cannot_judge_each_other(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match=r"candidates are runnables.*Pass judges=\[chat models\]"):
        runnable(None)
    # nor through a saved router whose candidates judged each other
    r = router(mode="route")
    r.fit([f"question {i}" for i in range(6)], show_progress=False)
    path = r.save(tmp_path / "self.npz")
    with pytest.raises(ValueError, match="candidates are runnables"):
        SmoothieRunnable.load(path, candidates=chains(), embedder=HashingEmbedder())
