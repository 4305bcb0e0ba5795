"""Peer review: label-free judge weighting (aggregate_grades) and the scorer with scripted judges."""

from __future__ import annotations

import re
import threading
import warnings

import numpy as np
import pytest

from smoothie_core import HashingEmbedder, Router
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.scorers import ScoringContext, get_scorer
from smoothie_core.scorers.peer import (
    PeerReviewScorer,
    aggregate_grades,
    grade_prompt,
    judge_options,
    judge_reliabilities,
    parse_grades,
    with_judges,
)


def judged(seed: int, n: int = 300, m: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Three honest noisy judges, one inverse judge, one random judge."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, 1, m))
    honest = q + 0.9 * rng.normal(size=(n, 3, m))
    inverse = -q + 0.3 * rng.normal(size=(n, 1, m))
    random_ = rng.normal(size=(n, 1, m)) * 2.0
    return np.concatenate([honest, inverse, random_], axis=1), q[:, 0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_aggregation_beats_the_plain_mean_with_an_inverse_and_a_random_judge(seed: int) -> None:
    grades, q = judged(seed)
    best = q.argmax(axis=1)
    plain = (grades.mean(axis=1).argmax(axis=1) == best).mean()
    weighted = (aggregate_grades(grades).argmax(axis=1) == best).mean()
    assert weighted > plain + 0.1
    loading, _noise = judge_reliabilities(grades)
    assert (loading[:3] > 0).all() and loading[3] < 0
    assert abs(loading[4]) < 0.5 * loading[:3].min()


def test_aggregation_handles_missing_grades_and_lenient_judges() -> None:
    grades, q = judged(4)
    grades[:, 0] += 3.0  # a lenient judge: bias, not information
    mask = np.random.default_rng(5).random(grades.shape) < 0.2
    grades[mask] = np.nan
    w = aggregate_grades(grades)
    assert np.isfinite(w).all() and np.allclose(w.sum(axis=1), 1.0)
    assert (w.argmax(axis=1) == q.argmax(axis=1)).mean() > 0.6


def test_few_judges_fall_back_to_the_plain_mean() -> None:
    g = np.array([[[1.0, 5.0, 9.0], [2.0, 4.0, 8.0]]])
    loading, noise = judge_reliabilities(g)
    assert loading.tolist() == [1.0, 1.0] and noise.tolist() == [1.0, 1.0]
    assert int(aggregate_grades(g)[0].argmax()) == 2
    with pytest.raises(ValueError, match=r"shape \(n_samples, n_judges, n_candidates >= 2\)"):
        aggregate_grades(np.zeros((3, 4)))


def test_prompt_and_parsing() -> None:
    prompt = grade_prompt("What is 2+2?", ["4", "five"])
    assert "Answer A:\n4" in prompt and "Answer B:\nfive" in prompt
    assert parse_grades("A: 9\nB: 2", 2) == [9.0, 2.0]
    assert np.isnan(parse_grades("A: 11", 1)[0])  # out of range


# Replies the demo's local models (smollm2-135m, qwen-0.5b, qwen-1.5b) actually wrote to
# grade_prompt (benchmarks/peer_review_local.py), with the answers they were shown.
REAL_REPLIES = [
    # smollm2-135m repeats the answers instead of grading; "6" must not be read as a grade
    (
        "A: 6 pens cost $24.\nB: 6 pens cost $24.",
        ["6 pens cost $24.", "6 pens cost $24."],
        [None, None],
    ),
    (
        "A: The capital of Australia is Canberra.\n\nB: The capital of Australia is Canberra.",
        ["The capital of Australia is Canberra."] * 2,
        [None, None],
    ),
    ("A: 12", ["12", "144 divided by 12 equals 12."], [None, None]),
    ("The answer is A.", ["x", "y"], [None, None]),
    # qwen-0.5b: echoes numbers out of range, or grades
    ("A: 51\nB: 60", ["17 * 3 + 9 = 51.", "60"], [None, None]),
    ("A: 5\nB: 5", ["Mars.", "Mars is the Red Planet."], [5.0, 5.0]),
    ('{"A": 10, "B": 5}', ["60", "42"], [10.0, 5.0]),
    # qwen-1.5b: grades, sometimes inside the template's brackets
    ("A: 10\nB: 1", ["Canberra.", "Sydney."], [10.0, 1.0]),
    ("A: <10>\nB: <10>", ["one", "two"], [10.0, 10.0]),
]


@pytest.mark.parametrize(("reply", "answers", "expected"), REAL_REPLIES)
def test_parse_grades_reads_what_small_models_write(
    reply: str, answers: list[str], expected: list[float | None]
) -> None:
    got = parse_grades(reply, len(answers), answers)
    assert [None if np.isnan(g) else g for g in got] == expected


def test_parse_grades_forms_and_standalone_labels() -> None:
    forms = ["A) 7", "**A:** 7", "Answer A - 7/10", "(A): 7", '"A": 7', "A: [7]", "a = 7", "A – 7"]
    for form in forms:
        assert parse_grades(form, 1) == [7.0], form
    # the "e" of "grade" is no label (it used to be read as the 5th answer's grade)
    assert all(np.isnan(parse_grades("My grade: 7", 5)))
    assert all(np.isnan(parse_grades("Score 7 for both", 2)))
    # several grades on one line; the first grade of a label wins
    assert parse_grades("A: 3, B: 9, A: 8", 2) == [3.0, 9.0]
    # an answer that is a number equal to its "grade" is not trusted, others are
    assert parse_grades("A: 4\nB: 9", 2, ["4", "four"])[1] == 9.0
    assert np.isnan(parse_grades("A: 4\nB: 9", 2, ["4", "four"])[0])


# -------------------------------------------------------------- with a router
TRUTH = {"good": 9.0, "ok": 6.0, "bad": 1.0}


class Judges:
    """Scripted judges: honest, lenient-biased, random, inverse, position-biased."""

    def __init__(self, kinds: dict[str, str], seed: int = 0) -> None:
        self.kinds = kinds
        self.rng = np.random.default_rng(seed)
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, judge: str, prompt: str) -> str:
        with self.lock:
            self.calls.append(judge)
            answers = re.findall(r"Answer ([A-Z]):\n(.*?)\n", prompt)
            lines = []
            for pos, (label, text) in enumerate(answers):
                quality = next(v for k, v in TRUTH.items() if text.startswith(k))
                kind = self.kinds[judge]
                if kind == "honest":
                    g = quality + self.rng.normal(0, 0.5)
                elif kind == "lenient":
                    g = min(10.0, quality + 3)
                elif kind == "random":
                    g = float(self.rng.integers(1, 11))
                elif kind == "inverse":
                    g = 11 - quality
                else:  # position-biased: loves whatever is shown first
                    g = 10.0 if pos == 0 else 2.0
                lines.append(f"{label}: {min(10.0, max(1.0, g)):.0f}")
            return "\n".join(lines)


NAMES = ["m1", "m2", "m3", "m4"]


def answers_for(i: int) -> dict[str, str]:
    """m1 is good, m2 ok, m3 and m4 bad on even inputs; m3 good on odd ones."""
    if i % 2:
        return {"m1": f"ok {i}", "m2": f"ok {i}.", "m3": f"good {i}", "m4": f"bad {i}"}
    return {"m1": f"good {i}", "m2": f"ok {i}", "m3": f"bad {i}", "m4": f"bad {i}."}


@pytest.mark.parametrize("adversary", ["random", "inverse", "position", "lenient"])
def test_a_bad_judge_does_not_flip_decisions(adversary: str) -> None:
    kinds = {"m1": "honest", "m2": "honest", "m3": "honest", "m4": adversary}
    judges = Judges(kinds)
    ctx = ScoringContext(judge=judges)
    router = Router(NAMES, scorer="peer_review", embedder=HashingEmbedder())
    right = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        for i in range(40):
            d = router.select(f"question {i}", answers_for(i), update_pool=True, context=ctx)
            right += d.selected == ("m3" if i % 2 else "m1")
            assert "grades" in d.diagnostics
    assert right >= 36
    assert len(judges.calls) == 40 * 4


def test_budget_caps_judge_calls_and_rotates_judges() -> None:
    judges = Judges(dict.fromkeys(NAMES, "honest"))
    scorer = PeerReviewScorer(max_judge_calls=2)
    router = Router(NAMES, scorer=scorer, embedder=HashingEmbedder())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        for i in range(4):
            router.select(f"q{i}", answers_for(i), context=ScoringContext(judge=judges))
    assert len(judges.calls) == 8
    assert set(judges.calls) == set(NAMES)


def test_peer_review_needs_a_judge() -> None:
    router = Router(NAMES, scorer="peer_review", embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="needs a judge"):
        router.select("q", answers_for(0))


def test_peer_router_state_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    judges = Judges(dict.fromkeys(NAMES, "honest"))
    router = Router(NAMES, scorer="peer_review", embedder=HashingEmbedder(), n_neighbors=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        router.calibrate(
            [f"q{i}" for i in range(10)],
            [answers_for(i) for i in range(10)],
            context=ScoringContext(judge=judges),
        )
        back = Router.load(router.save(tmp_path / "peer.npz"), embedder=HashingEmbedder())
        assert back.scorer.id == router.scorer.id
        assert back.route("q2").weights == router.route("q2").weights


def test_with_judges_builds_and_checks_the_front_doors_options() -> None:
    built = with_judges("peer_review", ["j1", "j2", "j3"], 2)
    assert isinstance(built, PeerReviewScorer)
    assert judge_options(built) == (["j1", "j2", "j3"], 2)
    assert with_judges("peer_review") == "peer_review"  # the candidates judge
    assert with_judges(built, ["j1", "j2", "j3"]) is built
    assert with_judges(built, ["j1", "j2", "j3"], 2) is built
    with pytest.raises(
        ValueError, match=r"uses judges named \['j1', 'j2', 'j3'\]; got judges named \['j1'\]"
    ):
        with_judges(built, ["j1"])
    with pytest.raises(ValueError, match=r"uses judges named .*; got no judges"):
        with_judges(built, None)
    with pytest.raises(ValueError, match=r"uses judges=None \(the candidates\); got judges named"):
        with_judges(PeerReviewScorer(), ["j1"])
    with pytest.raises(ValueError, match=r"`max_judge_calls`=3 differs .* 2"):
        with_judges(built, ["j1", "j2", "j3"], 3)
    with pytest.raises(ValueError, match="apply to scorer='peer_review' only; got scorer='answer'"):
        with_judges("answer", None, 2)
    assert judge_options(get_scorer("consensus")) == (None, None)


@pytest.mark.parametrize("judges", [["outside"], None])
def test_answer_order_varies_for_every_judge_even_a_single_one(judges: list[str] | None) -> None:
    """Each candidate is shown first about equally often, to every judge (a single
    outside judge used to see one fixed order, so its position bias was never cancelled)."""
    names = ["m1", "m2", "m3"]
    seen: dict[str, dict[str, int]] = {}

    def judge(name: str, prompt: str) -> str:
        first = re.search(r"Answer A:\n(\w+)", prompt)
        assert first is not None
        seen.setdefault(name, {}).setdefault(first.group(1), 0)
        seen[name][first.group(1)] += 1
        return "A: 5"

    scorer = PeerReviewScorer(judges)
    ctx = ScoringContext(judge=judge, candidates=names)
    n = 60
    scorer.score(
        [names] * n, [f"question {i}" for i in range(n)], embedder=HashingEmbedder(), context=ctx
    )
    for name, firsts in seen.items():
        shown = len(names) - (name in names)  # a candidate does not see its own answer
        assert len(firsts) == shown, (name, firsts)
        assert min(firsts.values()) >= n / shown / 2, (name, firsts)


def test_judges_that_grade_every_answer_alike_give_no_information() -> None:
    def flat(name: str, prompt: str) -> str:
        return "\n".join(f"{label}: 5" for label in re.findall(r"^Answer ([A-Z]):", prompt, re.M))

    router = Router(NAMES, scorer="peer_review", embedder=HashingEmbedder(), default="m3")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        d = router.select("q", answers_for(0), context=ScoringContext(judge=flat))
    assert d.selected == "m3" and d.fallback is not None
    assert d.fallback.startswith("no judge graded the answers differently")
    assert d.diagnostics["smoothie_choice"] == "m1"  # uniform weights: the first
    # one judge telling the answers apart is information
    stat = router.scorer.statistic
    row = np.full(len(NAMES) * len(NAMES), np.nan)
    row[1:3] = [4.0, 4.0]
    assert stat.no_information(row)
    row[3] = 7.0
    assert not stat.no_information(row)


@pytest.mark.parametrize("n_neighbors", [None, 3])
def test_select_reliability_is_about_this_inputs_grades(n_neighbors: int | None) -> None:
    """m1 is the best answer on every calibration input, m3 on the selected one: the select
    decision's reliability speaks of m3 and of this input's grades, not of the pool's."""
    judges = Judges(dict.fromkeys(NAMES, "honest"))
    ctx = ScoringContext(judge=judges)
    router = Router(
        NAMES, scorer="peer_review", embedder=HashingEmbedder(), n_neighbors=n_neighbors
    )
    even = range(0, 24, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        router.calibrate(
            [f"question {i}" for i in even], [answers_for(i) for i in even], context=ctx
        )
        d = router.select("question 5", answers_for(5), context=ctx)
        routed = router.route("question 5")
    details = d.diagnostics["details"]
    assert d.selected == "m3" and details["best"] == "m3"
    (reason,) = d.diagnostics["reasons"]
    assert reason.startswith("On this input,") and "ranked 'm3' first" in reason
    assert details["n_samples"] == 1 and details["n_judge_samples"] == 13
    assert max(details["combined_grades"], key=details["combined_grades"].get) == "m3"
    assert d.reliability == 1.0  # every judge who graded m3 here ranked it first
    # route mode speaks of the calibration inputs it averaged, where m1 was the best
    assert routed.selected == "m1" and "ranked 'm1' first" in routed.diagnostics["reasons"][0]


def test_select_reliability_is_the_share_of_judge_weight_behind_the_pick() -> None:
    stat = PeerReviewScorer(["j0", "j1", "j2"]).statistic
    # judges j0 and j1 rank c first, j2 ranks a first (too few grades to weigh judges)
    row = np.array([[1.0, 2.0, 9.0, 1.0, 3.0, 8.0, 9.0, 2.0, 1.0]])
    w, rep = stat.decide(row, np.array([0]), 0, ["a", "b", "c"])
    assert int(np.argmax(w)) == 2 and rep.details["best"] == "c"
    assert rep.score == pytest.approx(2 / 3) and rep.details["runner_up"] == "a"
    # a judge torn between two answers at its top grade splits its vote
    row[0, 6:] = [9.0, 1.0, 9.0]
    _, rep = stat.decide(row, np.array([0]), 0, ["a", "b", "c"])
    assert rep.score == pytest.approx((1 + 1 + 0.5) / 3)
