"""Statistics smoothed by Smoothie: triplet, score and answer agreement, through the estimator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smoothie_core import Smoothie
from smoothie_core.labelmodel import answer_classes_from_ids
from smoothie_core.statistics import (
    AnswerStatistic,
    ScoreStatistic,
    TripletStatistic,
    get_statistic,
)
from smoothie_core.triplet import sample_deltas, weights_from_deltas


def specialists(seed: int, n: int = 400, m: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Answer rows of two tasks, each with its own specialist; returns rows, inputs, right."""
    rng = np.random.default_rng(seed)
    task = np.arange(n) % 2
    acc = np.array([[0.9, 0.3, 0.5, 0.45, 0.4], [0.3, 0.9, 0.5, 0.45, 0.4]])[:, :m]
    right = rng.random((n, m)) < acc[task]
    ids = np.where(right, 1000, rng.integers(0, 5, (n, m)))
    classes = answer_classes_from_ids(ids).astype(float)
    rows = np.hstack([classes, np.full((n, m), np.nan), np.full((n, m), np.nan)])
    inputs = (task[:, None] * 5.0 + rng.normal(0, 0.1, (n, 3))).astype(np.float32)
    return rows, inputs, right


def test_generic_triplet_path_equals_the_embedding_path() -> None:
    rng = np.random.default_rng(0)
    lam = rng.normal(size=(60, 4, 8))
    inputs = rng.normal(size=(60, 3))
    for k in (None, 1, 5):
        a = Smoothie(k).fit(lam, inputs)
        b = Smoothie(k, statistic=TripletStatistic()).fit(
            sample_statistics=sample_deltas(lam), input_embeddings=inputs
        )
        np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
        np.testing.assert_allclose(a.global_weights_, b.global_weights_, rtol=1e-12)
        np.testing.assert_allclose(
            a.predict_weights(inputs[:7]), b.predict_weights(inputs[:7]), rtol=1e-12
        )


def test_global_select_uses_the_pool_plus_the_query() -> None:
    rows = np.array([[1.0, 2.0, 4.0], [1.0, 4.0, 2.0]])
    new = np.array([[4.0, 1.0, 2.0]])
    est = Smoothie(statistic=TripletStatistic()).fit(sample_statistics=rows)
    w = est.predict_weights(np.zeros((1, 1)), sample_statistics=new)
    np.testing.assert_allclose(w[0], weights_from_deltas(np.vstack([rows, new]).mean(axis=0)))


def test_score_statistic_is_a_softmax_of_the_mean() -> None:
    rows = np.array([[0.0, 1.0, -1.0], [0.0, 3.0, -3.0]])
    w = ScoreStatistic(temperature=2.0).weights(rows, None, None)[0]
    z = rows.mean(axis=0) / 2.0
    np.testing.assert_allclose(w, np.exp(z) / np.exp(z).sum())
    with pytest.raises(ValueError, match="`temperature` must be a positive number"):
        ScoreStatistic(temperature=0)


def test_answer_statistic_local_routing_finds_the_specialists() -> None:
    rows, inputs, right = specialists(0)
    n = len(rows)
    glob = Smoothie(statistic=AnswerStatistic()).fit(sample_statistics=rows)
    local = Smoothie(20, statistic=AnswerStatistic()).fit(
        sample_statistics=rows, input_embeddings=inputs
    )
    # route mode: one candidate per input, from its neighbourhood's accuracies
    route_local = local.predict(inputs)
    route_global = glob.predict(inputs)
    acc_local = right[np.arange(n), route_local].mean()
    acc_global = right[np.arange(n), route_global].mean()
    best_single = right.mean(axis=0).max()
    assert acc_local > best_single + 0.15
    assert acc_global <= best_single + 1e-9
    # select mode (its own answers voted on) also beats every single candidate
    assert right[np.arange(n), local.weights_.argmax(axis=1)].mean() > best_single + 0.15


def test_answer_statistic_votes_and_reports_the_posterior() -> None:
    rows, inputs, _ = specialists(1)
    est = Smoothie(statistic=AnswerStatistic()).fit(sample_statistics=rows, input_embeddings=inputs)
    own = np.array([[0, 0, 2, 3, 0, *([np.nan] * 10)]], dtype=float)
    w, rep, used = est.decide(inputs[0], own, n_neighbors=None)
    assert used == len(rows) + 1
    assert int(np.argmax(w)) in (0, 1, 4) and abs(w.sum() - 1) < 1e-12
    assert rep.details["agreeing"] == ["0", "1", "4"]
    assert 0.5 < rep.score <= 1.0
    # route-mode reliability: the routed candidate's estimated accuracy
    _w, rep_r, _n = est.decide(None, None, n_neighbors=None)
    assert rep_r.score == pytest.approx(float(np.max(list(rep_r.details["accuracies"].values()))))


def test_answerless_inputs_use_the_fallback_rows() -> None:
    m = 3
    cls = np.full((4, m), -1.0)
    tie = np.full((4, m), np.nan)
    fb = np.array([[1.0, 2.0, 4.0]] * 4)  # triplet deltas: candidate 0 best
    rows = np.hstack([cls, tie, fb])
    st = AnswerStatistic()
    w = st.weights(rows, None, np.arange(4))
    assert (w.argmax(axis=1) == 0).all()
    _, rep = st.decide(rows, None, 0, ["a", "b", "c"])
    assert rep.details["fallback"] == "triplet"
    assert any("Fewer than two answers" in r for r in rep.reasons)


def test_ties_between_equal_answers_use_the_tiebreak_column() -> None:
    # no pool: equal accuracies; candidates 0 and 1 agree, 2 and 3 agree: a 2-2 tie
    row = np.array([[0, 0, 2, 2, 5.0, 5.0, 1.0, 3.0, *([np.nan] * 4)]])
    w = AnswerStatistic().weights(row, np.array([[0]]), np.array([0]))[0]
    assert int(np.argmax(w)) == 2  # the smallest tie-break statistic
    assert (np.sort(w)[-1] > np.sort(w)[-2]) and abs(w.sum() - 1) < 1e-12


def test_state_round_trip_keeps_the_statistic(tmp_path: Path) -> None:
    rows, inputs, _ = specialists(2, n=80)
    est = Smoothie(10, statistic=AnswerStatistic(prior_strength=4.0)).fit(
        sample_statistics=rows, input_embeddings=inputs, candidate_names=list("abcde")
    )
    path = est.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["__header__"].tobytes())
    assert header["statistic"]["name"] == "answer"
    back = Smoothie.load(path)
    assert back.statistic == est.statistic
    np.testing.assert_array_equal(back.predict_weights(inputs[:5]), est.predict_weights(inputs[:5]))
    np.testing.assert_array_equal(back.weights_, est.weights_)


def test_fitted_weights_are_read_only() -> None:
    est = Smoothie(3).fit(np.random.default_rng(3).normal(size=(10, 3, 4)), np.eye(10))
    for arr in (est.weights_, est.global_weights_, est.sample_statistics_):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0


def test_statistic_validation_messages() -> None:
    with pytest.raises(ValueError, match="pass exactly one of `output_embeddings`"):
        Smoothie().fit()
    with pytest.raises(ValueError, match="smooths the 'answer' statistic"):
        Smoothie(statistic=AnswerStatistic()).fit(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="classes must lie in"):
        Smoothie(statistic=AnswerStatistic()).fit(
            sample_statistics=np.array([[0, 0, 7, *([np.nan] * 6)]], dtype=float)
        )
    with pytest.raises(ValueError, match="unknown statistic 'nope'"):
        get_statistic("nope")
    with pytest.raises(ValueError, match="`fallback` must be a mean statistic"):
        AnswerStatistic(AnswerStatistic())


def test_label_model_summary_is_reused_and_refreshed_as_the_pool_grows() -> None:
    rows, inputs, _ = specialists(4, n=300)
    stat = AnswerStatistic()
    calls: list[int] = []
    original = stat.summarize

    def spy(r, warm=None):  # type: ignore[no-untyped-def]
        calls.append(len(r))
        return original(r, warm)

    stat.summarize = spy  # type: ignore[method-assign]
    est = Smoothie(statistic=stat).fit(sample_statistics=rows[:200], input_embeddings=inputs[:200])
    for i in range(5):
        est.decide(inputs[i], rows[i])
    assert calls == [200]  # one fit serves every decision
    est.partial_fit(sample_statistics=rows[200:201], input_embeddings=inputs[200:201])
    est.decide(inputs[0], rows[0])
    assert calls == [200]  # 1 new row < 1% of 201: not refreshed yet
    est.partial_fit(sample_statistics=rows[201:203], input_embeddings=inputs[201:203])
    est.decide(inputs[0], rows[0])
    assert calls == [200, 203]  # refreshed (warm-started) once the pool grew by 1%
