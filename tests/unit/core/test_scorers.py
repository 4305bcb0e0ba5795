"""Scorers (what is compared) and the Router driving any of them."""

from __future__ import annotations

import copy
import pickle
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from smoothie_core import HashingEmbedder, Router
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.exceptions import AllCandidatesFailedError
from smoothie_core.scorers import (
    AnswerAgreementScorer,
    ConsensusScorer,
    CoverageScorer,
    Scorer,
    available_scorers,
    get_scorer,
    scorer_from_config,
)

NAMES = ["a", "b", "c", "d"]


def quiet() -> warnings.catch_warnings:  # type: ignore[type-arg]
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", ReliabilityWarning)
    return ctx


@pytest.fixture(autouse=True)
def _no_reliability_warnings():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        yield


# ------------------------------------------------------------------ registry
def test_registry_names_and_round_trip() -> None:
    assert {"consensus", "consensus_last", "coverage", "answer", "peer_review"} <= set(
        available_scorers()
    )
    for name in ("consensus", "consensus_windows", "coverage", "answer", "answer_coverage"):
        scorer = get_scorer(name)
        again = scorer_from_config(scorer.name, scorer.config())
        assert again.id == scorer.id and again.statistic == scorer.statistic
    with pytest.raises(ValueError, match="unknown scorer 'nli'"):
        get_scorer("nli")
    with pytest.raises(TypeError, match="scorer name or a Scorer object"):
        get_scorer(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`view` must be one of"):
        ConsensusScorer(view="middle")


def test_consensus_scorer_views_change_what_is_compared() -> None:
    tail_good = "x " * 400 + "the result is forty two"
    tail_bad = "x " * 400 + "bananas grow on trees in warm places"
    answers = [[tail_good, tail_good.replace("forty two", "42 indeed"), tail_bad]]
    emb = HashingEmbedder(dim=256)
    first = ConsensusScorer().statistics(answers, embedder=emb)
    last = ConsensusScorer(view="last").statistics(answers, embedder=emb)
    assert np.ptp(first[0]) < 1e-3  # the openings are identical: no signal
    assert int(np.argmax(last[0])) == 2  # the ends differ: the off-topic end is worst


def test_answer_scorer_extracts_and_classes_answers() -> None:
    scored = AnswerAgreementScorer().score(
        [
            ['{"answer": "1,000"}', "The answer is 1000.", "answer: 999", "no idea, sorry"],
            ["free text one", "free text two", "free text three", "free text four"],
        ],
        embedder=HashingEmbedder(),
    )
    m = 4
    classes = scored.rows[:, :m]
    assert classes[0].tolist()[:3] == [0.0, 0.0, 2.0]
    assert scored.details[0]["answers"][:3] == ["1000", "1000", "999"]
    # no tie-break where an answer is missing, a fallback row only where answers are lacking
    assert np.isnan(scored.rows[0, m : 2 * m]).all()
    assert np.isnan(scored.rows[0, 2 * m :]).all()
    if (classes[1] >= 0).sum() < 2:
        assert np.isfinite(scored.rows[1, 2 * m :]).all()


def test_answer_scorer_on_missing_fallback_decides_by_the_fallback() -> None:
    rows = [['{"answer": "7"}', "The answer is 7.", "I cannot say", "so the answer is 8"]]
    abstain = AnswerAgreementScorer().score(rows, embedder=HashingEmbedder())
    fallback = AnswerAgreementScorer(on_missing="fallback").score(rows, embedder=HashingEmbedder())
    m = 4
    if not np.all(abstain.rows[0, :m] >= 0):
        assert (fallback.rows[0, :m] == -1).all()
        assert np.isfinite(fallback.rows[0, 2 * m :]).all()


def test_scorers_validate_their_input() -> None:
    with pytest.raises(ValueError, match="needs every candidate's answer"):
        ConsensusScorer().score([["a", None, "c"]], embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="same number of candidates"):
        CoverageScorer().score([["a", "b", "c"], ["a", "b"]], embedder=HashingEmbedder())
    with pytest.raises(TypeError, match=r"answers\[0\]\[1\] must be a str"):
        AnswerAgreementScorer().score([["a", 3, "c"]], embedder=HashingEmbedder())  # type: ignore[list-item]


# ------------------------------------------------------------------- router
def math_answers(i: int, bad: str) -> dict[str, str]:
    """Everyone answers ``i * 7`` (in their own words) except ``bad``."""
    out = {
        "a": f'{{"reasoning": "multiply", "answer": "{i * 7}"}}',
        "b": f"Step by step... The answer is {i * 7}.",
        "c": f"We get \\boxed{{{i * 7}}}",
        "d": f"answer: {i * 7}",
    }
    out[bad] = f"The answer is {i * 7 + 1}."
    return out


def test_router_with_answer_scorer_learns_who_is_right_from_traffic() -> None:
    router = Router(NAMES, scorer="answer", embedder=HashingEmbedder())
    for i in range(30):
        router.select(f"what is {i} times 7?", math_answers(i, "d"), update_pool=True)
    assert router.pool_size == 30
    acc = router.route("what is 3 times 7?").diagnostics["details"]["accuracies"]
    assert acc["d"] < min(acc["a"], acc["b"], acc["c"])
    # two agree, two disagree with each other: the learnt accuracies decide
    d = router.select(
        "what is 100 times 7?",
        {"a": "The answer is 700.", "b": "answer: 701", "c": "answer: 702", "d": "answer: 701"},
    )
    assert d.selected == "a" or d.diagnostics["answers"]["a"] == "700"
    assert d.diagnostics["answers"]["b"] == "701"
    assert d.diagnostics["scorer"] == "answer"
    assert 0 <= d.reliability <= 1


def test_router_textbook_case_scores_high_with_answers() -> None:
    router = Router(["x", "y", "z"], scorer="answer", embedder=HashingEmbedder())
    d = router.select(
        "What is 12 times 12?",
        {"x": "12 times 12 is 144. The answer is 144.", "y": "The answer is 144.", "z": "Bananas!"},
    )
    assert d.selected in ("x", "y") and d.reliability is not None and d.reliability > 0.7


def test_empty_answers_count_as_failed() -> None:
    router = Router(["x", "y", "z", "w"], scorer="consensus", embedder=HashingEmbedder())
    d = router.select(
        "q", {"x": "", "y": "   \n", "z": "A real answer here.", "w": "Another real answer."}
    )
    assert d.selected in ("z", "w")
    assert d.failed == ["x", "y"]
    assert "empty" in d.errors["x"]
    with pytest.raises(AllCandidatesFailedError, match="No candidate answered"):
        router.select("q", {"x": "", "y": " ", "z": None})


def test_concurrent_select_with_pool_updates_loses_nothing() -> None:
    router = Router(
        NAMES, scorer="consensus", embedder=HashingEmbedder(), n_neighbors=3, max_pool_size=10_000
    )
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                q = f"thread {t} question {i}"
                router.select(q, {n: f"{n} says {q}" for n in NAMES}, update_pool=True)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    est = router.estimator
    assert est is not None and router.pool_size == 160
    assert est.sample_statistics_.shape[0] == est.input_embeddings_.shape[0] == 160  # type: ignore[union-attr]


def test_router_copies_keep_the_state() -> None:
    router = Router(NAMES, scorer="answer", embedder=HashingEmbedder(), n_neighbors=5)
    for i in range(8):
        router.select(f"q{i}", math_answers(i, "c"), update_pool=True)
    for clone in (copy.deepcopy(router), pickle.loads(pickle.dumps(router))):
        assert clone.pool_size == 8
        assert clone.route("q3").weights == router.route("q3").weights
        clone.select("q9", math_answers(9, "c"), update_pool=True)  # its own working lock
        assert clone.pool_size == 9 and router.pool_size == 8


def test_save_load_round_trip_with_scorer_and_overrides(tmp_path: Path) -> None:
    router = Router(
        NAMES,
        scorer="answer",
        embedder=HashingEmbedder(),
        n_neighbors=4,
        default="a",
        abstain_below=0.3,
    )
    router.calibrate([f"q{i}" for i in range(12)], [math_answers(i, "b") for i in range(12)])
    path = router.save(tmp_path / "r.npz")
    back = Router.load(path, embedder=HashingEmbedder())
    assert isinstance(back.scorer, Scorer) and back.scorer.id == "answer"
    assert (back.n_neighbors, back.default, back.abstain_below) == (4, "a", 0.3)
    assert back.route("q1").weights == router.route("q1").weights
    other = Router.load(path, embedder=HashingEmbedder(), n_neighbors=2, abstain_below=None)
    assert other.n_neighbors == 2 and other.abstain_below is None
    assert other.route("q1").n_neighbors == 2


def test_auto_neighbours_and_signal_alias() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors="auto")
    router.calibrate([f"q{i}" for i in range(4)], [math_answers(i, "b") for i in range(4)])
    assert router.route("q1").n_neighbors == 4
    assert Router(NAMES, signal="coverage", embedder=HashingEmbedder()).scorer.name == "coverage"
    with pytest.raises(ValueError, match="not both"):
        Router(NAMES, signal="coverage", scorer="answer")


class _OneHot:
    """Each distinct text gets its own axis: chunks are exactly orthogonal or equal."""

    name = "one-hot"

    def __init__(self) -> None:
        self.axes: dict[str, int] = {}

    def embed(self, texts):
        import numpy as np

        for t in texts:
            self.axes.setdefault(t, len(self.axes))
        out = np.zeros((len(texts), 32), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, self.axes[t]] = 1.0
        return out


def test_coverage_that_says_nothing_falls_back_to_consensus() -> None:
    """Equally long answers whose chunks match one to one cover each other symmetrically
    (every coverage score 0); the row is then consensus, not 'no information'."""
    from smoothie_core.scorers.consensus import CoverageScorer

    answers = [["p q r s", "p q t u", "v w r s"]]  # the first shares a half with each
    scorer = CoverageScorer(budget=4, window=2)
    row = scorer.statistics(answers, embedder=_OneHot())[0]
    assert row.argmax() == 0 and row[0] > 0
    assert not scorer.statistic.no_information(row)
