"""Reliability diagnostics (issue 8): each check, its score and its reason."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smoothie_core.diagnostics import (
    OUTLIER_Z_BAD,
    OUTLIER_Z_OK,
    Reliability,
    diagnose_deltas,
    diagnose_outputs,
    mean_pairwise_sq_distances,
)
from smoothie_core.triplet import sample_deltas
from tests.support.planted import crowd_pool, independent_pool


def test_outlier_score_follows_the_documented_ramp() -> None:
    def at(z: float) -> float:
        rep = diagnose_deltas(np.array([1.0, 1.0, 1.0, 1.0 + z]))
        assert rep.details["z"] == pytest.approx(z)
        assert rep.checks["outlier"] is not None
        return rep.checks["outlier"]

    assert at(0.1) == 1.0
    assert at(OUTLIER_Z_OK) == pytest.approx(1.0)
    assert at((OUTLIER_Z_OK + OUTLIER_Z_BAD) / 2) == pytest.approx(0.5)
    assert at(OUTLIER_Z_BAD) == pytest.approx(0.0)
    assert at(3.0) == 0.0


def test_outlier_reason_names_the_far_candidate_and_the_pick() -> None:
    rep = diagnose_deltas(
        np.array([[1.0, 1.1, 0.9, 2.5]] * 3), candidate_names=["a", "b", "c", "d"]
    )
    assert rep.score == 0.0
    assert rep.details["farthest"] == "d" and rep.details["best"] == "c"
    assert "'d' is far from a tight group" in rep.reasons[0]
    assert "'c' is only right if" in rep.reasons[0]


def test_nonpositive_average_is_invalid() -> None:
    rep = diagnose_deltas(np.array([[-0.1, 1.0, 1.2], [0.05, 1.0, 1.1]]), candidate_names="xyz")
    assert rep.checks["nonpositive"] == 0.0 and rep.score == 0.0
    assert any("['x'] is not positive" in r for r in rep.reasons)


def test_nonpositive_fraction_of_samples() -> None:
    d = np.ones((10, 3))
    d[0, 1] = -0.5
    rep = diagnose_deltas(d)
    assert rep.details["frac_nonpositive"] == pytest.approx(0.1)
    assert rep.checks["nonpositive"] == pytest.approx(0.9)
    assert any("10% of the samples" in r for r in rep.reasons)


def test_identical_answers_have_no_information() -> None:
    outs = np.ones((4, 3, 5))
    rep = diagnose_outputs(outs)
    assert rep.score == 0.0
    assert "identical" in rep.reasons[0]
    assert rep.checks["samples"] is None


def test_near_duplicates_are_flagged() -> None:
    outs, _ = independent_pool(0, n=100, dim=64)
    outs[:, 3] = outs[:, 1] + 0.01 * np.random.default_rng(1).normal(size=outs[:, 1].shape)
    rep = diagnose_outputs(outs, candidate_names=["a", "b", "c", "d", "e"])
    assert rep.checks["duplicates"] == 0.0
    assert rep.details["closest_pair"] == ["b", "d"]
    assert any("'b' and 'd' are near-duplicates" in r for r in rep.reasons)
    clean = diagnose_outputs(independent_pool(0, n=100, dim=64)[0])
    assert clean.checks["duplicates"] == 1.0


def test_duplicates_not_assessed_without_pairwise() -> None:
    rep = diagnose_deltas(np.ones((5, 3)) + np.arange(3) * 0.01)
    assert rep.checks["duplicates"] is None and rep.details["closest_pair"] is None


def test_single_sample_is_unknown_not_failed() -> None:
    rep = diagnose_deltas(np.array([1.0, 1.05, 1.1]))
    assert rep.checks["samples"] == 0.5 and rep.details["margin_t"] is None
    assert any("one input's answers alone" in r for r in rep.reasons)


def test_too_few_samples_to_separate_winner_from_runner_up() -> None:
    rng = np.random.default_rng(0)
    base = np.array([1.0, 1.02, 1.1, 1.1])
    noisy = diagnose_deltas(base + rng.normal(scale=0.3, size=(5, 4)))
    many = diagnose_deltas(base + rng.normal(scale=0.3, size=(5000, 4)))
    assert noisy.checks["samples"] is not None and many.checks["samples"] is not None
    assert noisy.checks["samples"] < 0.95 < many.checks["samples"]
    assert any("standard errors" in r for r in noisy.reasons)


def test_crowd_and_independent_pools() -> None:
    crowd, strong = crowd_pool(0, n=200, dim=64)
    assert diagnose_outputs(crowd).details["farthest"] == str(strong)
    assert diagnose_outputs(crowd).score < 0.5
    assert diagnose_outputs(independent_pool(0, n=200, dim=64)[0]).score >= 0.5


def test_pairwise_matches_naive_loop() -> None:
    rng = np.random.default_rng(2)
    lam = rng.normal(size=(7, 4, 3))
    naive = np.array(
        [[np.mean(((lam[:, i] - lam[:, j]) ** 2).sum(-1)) for j in range(4)] for i in range(4)]
    )
    np.testing.assert_allclose(mean_pairwise_sq_distances(lam), naive, rtol=1e-9, atol=1e-12)


def test_diagnose_outputs_equals_deltas_path() -> None:
    lam, _ = independent_pool(1, n=50, dim=16)
    a = diagnose_outputs(lam)
    b = diagnose_deltas(sample_deltas(lam), pairwise=mean_pairwise_sq_distances(lam))
    assert a == b


def test_report_is_json_serialisable() -> None:
    rep = diagnose_outputs(crowd_pool(0, n=30, dim=16)[0])
    assert isinstance(rep, Reliability)
    assert json.loads(json.dumps(rep.to_dict()))["score"] == rep.score
    assert 0.0 <= rep.score <= 1.0


@pytest.mark.parametrize(
    ("deltas", "match"),
    [
        (np.ones((2, 2)), r"shape \(n_samples >= 1, n_candidates >= 3\); got shape \(2, 2\)"),
        (np.ones((0, 3)), r"got shape \(0, 3\)"),
        (np.array([[1.0, np.nan, 1.0]]), "NaN or inf"),
    ],
)
def test_bad_deltas(deltas: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        diagnose_deltas(deltas)


def test_bad_names_and_pairwise() -> None:
    with pytest.raises(ValueError, match="`candidate_names` must have 3 names; got 2"):
        diagnose_deltas(np.ones((2, 3)), candidate_names=["a", "b"])
    with pytest.raises(ValueError, match=r"`pairwise` must have shape \(3, 3\); got \(2, 2\)"):
        diagnose_deltas(np.ones((2, 3)), pairwise=np.ones((2, 2)))
