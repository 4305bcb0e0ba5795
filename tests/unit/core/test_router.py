"""Router: select and route modes over named candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from smoothie_core import HashingEmbedder, NotFittedError, Router, StateFileError

NAMES = ["a", "b", "c", "d"]


def topic_answers(question: str, bad: str) -> dict[str, str]:
    """Three candidates answer on topic in slightly different words; `bad` rambles."""
    answers = {
        "a": f"The answer to {question} is given here clearly.",
        "b": f"Here is the answer to {question}, given clearly.",
        "c": f"Clearly, the answer to {question} is this one.",
        "d": f"An answer to {question} given here.",
    }
    answers[bad] = "Bananas grow in tropical climates and are rich in potassium."
    return answers


def test_select_picks_from_the_agreeing_candidates() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    for bad in NAMES:
        d = router.select("the capital of France", topic_answers("the capital of France", bad))
        assert d.selected != bad
        assert min(d.weights, key=d.weights.get) == bad
        assert d.mode == "select" and d.failed == [] and d.fallback is None
        assert sum(d.weights.values()) == pytest.approx(1.0)


def test_select_with_failures_keeps_every_answer() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    answers: dict[str, str | None] = dict(topic_answers("x", "d"))
    answers["b"] = None
    d = router.select("x", answers, errors={"b": "TimeoutError: too slow"})
    assert d.failed == ["b"]
    assert set(d.weights) == {"a", "c", "d"}
    assert d.errors == {"b": "TimeoutError: too slow"}
    assert d.selected != "d"


@pytest.mark.parametrize(
    ("present", "default", "expected", "why"),
    [
        (["c"], None, "c", "only one candidate answered"),
        (["b", "c"], None, "b", "first in candidate order"),
        (["b", "c"], "c", "c", "chose the default"),
    ],
)
def test_select_fallbacks_with_fewer_than_three_answers(present, default, expected, why) -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), default=default)
    answers = {n: (f"answer {n}" if n in present else None) for n in NAMES}
    d = router.select("q", answers)
    assert d.selected == expected
    assert why in (d.fallback or "")
    assert sorted(d.failed) == sorted(set(NAMES) - set(present))


def test_select_with_two_answers_uses_the_pool_when_there_is_one() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=2)
    prompts = [f"question about topic {i}" for i in range(6)]
    router.calibrate(prompts, [topic_answers(p, "b") for p in prompts])
    d = router.select("question about topic 1", {"a": None, "b": "x", "c": "y", "d": None})
    assert d.selected == "c"  # b is the bad one in the calibration pool
    assert "route-mode weights" in (d.fallback or "")


def test_select_with_no_answer_raises_with_errors() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    with pytest.raises(ValueError, match=r"No candidate answered.*'a': 'boom'"):
        router.select("q", {}, errors={"a": "boom"})


def test_identical_answers_fall_back_to_default() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), default="c")
    d = router.select("q", {n: "same" for n in NAMES})
    assert d.selected == "c"
    assert "identical" in (d.fallback or "")


def test_select_online_pool_is_bounded_and_used() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=3, max_pool_size=5)
    for i in range(8):
        q = f"question number {i}"
        d = router.select(q, topic_answers(q, "d"), update_pool=True)
        assert d.n_neighbors == min(3, i + 1)
    assert router.pool_size == 5


def test_route_mode_avoids_the_bad_candidate_per_topic() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=3)
    prompts, answers = [], []
    for topic, bad in (("cooking pasta recipes", "a"), ("astronomy planets stars", "c")):
        for i in range(6):
            p = f"{topic} question {i}"
            prompts.append(p)
            answers.append(topic_answers(p, bad))
    report = router.calibrate(prompts, answers)
    assert report.n_used == 12 and report.dropped == []
    assert router.route("cooking pasta recipes question 9").selected != "a"
    assert router.route("astronomy planets stars question 9").selected != "c"
    decisions = router.route_many(["cooking pasta recipes question 7"] * 2)
    assert decisions[0] == decisions[1]
    assert decisions[0].mode == "route" and decisions[0].n_neighbors == 3


def test_calibrate_drops_incomplete_prompts_and_counts_failures() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    answers: list[dict[str, str | None]] = [topic_answers(f"q{i}", "d") for i in range(4)]
    answers[1]["a"] = None
    del answers[2]["b"]
    report = router.calibrate([f"q{i}" for i in range(4)], answers)
    assert report.dropped == [1, 2]
    assert report.failures == {"a": 1, "b": 1, "c": 0, "d": 0}
    assert router.pool_size == 2


def test_calibrate_errors() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=5)
    with pytest.raises(ValueError, match="same length; got 2 and 1"):
        router.calibrate(["a", "b"], [{}])
    with pytest.raises(ValueError, match=r"unknown candidates \['zz'\]"):
        router.calibrate(["a"], [{"zz": "x"}])
    with pytest.raises(
        ValueError, match="No calibration prompt has an answer from every candidate"
    ):
        router.calibrate(["a"], [{"a": "x"}])
    with pytest.raises(ValueError, match="needs at least 5 complete calibration prompts; got 1"):
        router.calibrate(["q"], [topic_answers("q", "a")])


def test_router_construction_errors() -> None:
    with pytest.raises(ValueError, match=r"at least 3 candidates; got 2"):
        Router(["a", "b"])
    with pytest.raises(ValueError, match="duplicates"):
        Router(["a", "a", "b"])
    with pytest.raises(ValueError, match="`default` must be one of the candidates"):
        Router(NAMES, default="zz")
    with pytest.raises(NotFittedError, match="call calibrate"):
        Router(NAMES, embedder=HashingEmbedder()).route("q")


def test_save_load_round_trip(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    router = Router(NAMES, embedder=emb, n_neighbors=2, default="b")
    prompts = [f"prompt {i}" for i in range(5)]
    router.calibrate(prompts, [topic_answers(p, "a") for p in prompts])
    path = router.save(tmp_path / "router.npz")
    loaded = Router.load(path, candidates=NAMES, embedder=HashingEmbedder())
    assert loaded.default == "b" and loaded.n_neighbors == 2
    assert loaded.route("prompt 3") == router.route("prompt 3")
    with pytest.raises(ValueError, match=r"calibrated for candidates \['a', 'b', 'c', 'd'\]; got"):
        Router.load(path, candidates=["a", "b", "c", "x"])
    with pytest.raises(ValueError, match="calibrated with embedder 'hashing-v1\\|dim=256'"):
        Router.load(path, embedder=HashingEmbedder(dim=8))


def test_load_rejects_a_plain_estimator_file(tmp_path: Path) -> None:
    from smoothie_core import Smoothie

    path = Smoothie().fit(np.random.default_rng(0).normal(size=(3, 3, 2))).save(tmp_path / "e.npz")
    with pytest.raises(StateFileError, match="not a Router state"):
        Router.load(path)


def test_decision_to_dict_is_plain() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    d = router.select("q", topic_answers("q", "a")).to_dict()
    assert set(d) >= {"selected", "weights", "mode", "failed"}
    assert isinstance(d["weights"], dict)


def test_select_traffic_with_global_builds_a_pool_that_route_uses() -> None:
    # the consensus scorer scores select inputs alone under n_neighbors=None
    router = Router(NAMES, scorer="consensus", embedder=HashingEmbedder())
    for i in range(4):
        q = f"question {i}"
        d = router.select(q, topic_answers(q, "c"), update_pool=True)
        assert d.n_neighbors == 1  # select itself stays per-sample
    assert router.pool_size == 4
    routed = router.route("question 9")
    assert routed.selected != "c"
    assert routed.n_neighbors == 4


def test_select_with_a_pool_matches_the_estimator() -> None:
    router = Router(NAMES, scorer="consensus", embedder=HashingEmbedder(), n_neighbors=3)
    for i in range(5):
        q = f"question {i}"
        router.select(q, topic_answers(q, "d"), update_pool=True)
    q = "question 2 again"
    answers = topic_answers(q, "a")
    d = router.select(q, answers, update_pool=False)
    emb = router.embed([answers[n] for n in NAMES] + [q])
    expected = router.estimator.predict_weights(emb[4:], emb[None, :4])[0]
    np.testing.assert_allclose([d.weights[n] for n in NAMES], expected, rtol=1e-12)
    assert d.n_neighbors == 3


def test_select_pools_by_default_unless_told_not_to() -> None:
    router = Router(NAMES, embedder=HashingEmbedder())
    router.select("q1", topic_answers("q1", "a"))
    assert router.pool_size == 1
    router.select("q2", topic_answers("q2", "a"), update_pool=False)
    assert router.pool_size == 1
    quiet = Router(NAMES, embedder=HashingEmbedder(), update_pool=False)
    quiet.select("q1", topic_answers("q1", "a"))
    assert quiet.pool_size == 0
