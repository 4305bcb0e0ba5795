"""Planted structure (issue 8): the diagnostics fire on a correlated weak crowd around a
strong outlier, and stay quiet (accuracy unchanged) when errors are independent."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smoothie_core import Router, Smoothie
from smoothie_core.diagnostics import ReliabilityWarning, diagnose_outputs
from tests.support.planted import as_texts, crowd_pool, independent_pool

NAMES = ["m0", "m1", "m2", "m3", "m4"]
SEEDS = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS, strong_at=st.integers(0, 4))
def test_crowd_around_strong_outlier_fires(seed: int, strong_at: int) -> None:
    outs, strong = crowd_pool(seed, n=120, dim=128, strong_at=strong_at)
    # the failure: the paper's estimator ranks the strong candidate last
    assert int(np.argmax(Smoothie().fit(outs).global_weights_)) != strong
    rep = diagnose_outputs(outs, candidate_names=NAMES)
    assert rep.score < 0.5
    assert rep.checks["outlier"] == 0.0
    assert rep.details["farthest"] == NAMES[strong]
    assert any("far from a tight group" in r for r in rep.reasons)


@settings(max_examples=12, deadline=None)
@given(seed=SEEDS)
def test_independent_errors_do_not_fire(seed: int) -> None:
    outs, best = independent_pool(seed, n=200, dim=128)
    assert int(np.argmax(Smoothie().fit(outs).global_weights_)) == best
    rep = diagnose_outputs(outs, candidate_names=NAMES)
    assert rep.score >= 0.5
    assert rep.checks["outlier"] is not None and rep.checks["outlier"] >= 0.5


def _route_all(router: Router, prompts: list[str]) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        return [d.selected for d in router.route_many(prompts)]


def test_router_abstains_on_crowd_and_recovers_declared_default() -> None:
    outs, strong = crowd_pool(3, n=80, dim=64)
    prompts, answers, emb = as_texts(outs, NAMES)
    plain = Router(NAMES, scorer="consensus", embedder=emb)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = plain.calibrate(prompts, answers)
    assert report.reliability is not None and report.reliability.score < 0.5
    assert [w.category for w in caught] == [ReliabilityWarning]
    d = plain.route("prompt 1")
    assert d.selected != NAMES[strong] and not d.abstained and d.reliability < 0.5
    guarded = Router(
        NAMES, scorer="consensus", embedder=emb, default=NAMES[strong], abstain_below=0.5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        guarded.calibrate(prompts, answers)
        d = guarded.route("prompt 1")
    assert d.abstained and d.selected == NAMES[strong]
    assert d.diagnostics["smoothie_choice"] != NAMES[strong]
    assert "abstained" in (d.fallback or "")


def test_router_accuracy_unchanged_with_independent_errors() -> None:
    outs, best = independent_pool(5, n=120, dim=384)
    prompts, answers, emb = as_texts(outs, NAMES)
    picks = {}
    for k in (None, 60):
        for abstain in (None, 0.5):
            router = Router(
                NAMES,
                scorer="consensus",
                embedder=emb,
                n_neighbors=k,
                default=NAMES[0],
                abstain_below=abstain,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("error", ReliabilityWarning)  # no warning either
                router.calibrate(prompts, answers)
                decisions = router.route_many(prompts[:30])
            assert not any(d.abstained for d in decisions)
            picks[k, abstain] = [d.selected for d in decisions]
        assert picks[k, None] == picks[k, 0.5]
    assert picks[None, None] == [NAMES[best]] * 30
