"""Abstention policy and reliability wiring in Router/Decision (issue 8)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from smoothie_core import HashingEmbedder, Router
from smoothie_core.diagnostics import ReliabilityWarning
from tests.support.planted import as_texts, crowd_pool, independent_pool

NAMES = ["m0", "m1", "m2", "m3", "m4"]


def _calibrated(kind: str, **kwargs: object) -> tuple[Router, list[str]]:
    outs, _ = crowd_pool(1, n=60, dim=64) if kind == "crowd" else independent_pool(1, n=60, dim=384)
    prompts, answers, emb = as_texts(outs, NAMES)
    router = Router(NAMES, scorer="consensus", embedder=emb, **kwargs)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        router.calibrate(prompts, answers)
    return router, prompts


def _quiet(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        return fn(*args, **kwargs)


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5", True])
def test_abstain_below_is_validated(value: object) -> None:
    with pytest.raises(ValueError, match=r"`abstain_below` must be None or a number in \[0, 1\]"):
        Router(NAMES, embedder=HashingEmbedder(), abstain_below=value)  # type: ignore[arg-type]


def test_defaults_do_not_abstain_but_report() -> None:
    router, prompts = _calibrated("crowd")
    d = _quiet(router.route, prompts[0])
    assert not d.abstained and d.fallback is None
    assert d.reliability is not None and d.reliability < 0.5
    assert d.selected == d.diagnostics["smoothie_choice"]
    assert d.diagnostics["reasons"]


def test_route_global_abstains_to_declared_default() -> None:
    router, prompts = _calibrated("crowd", default="m3", abstain_below=0.5)
    d = _quiet(router.route, prompts[0])
    assert d.abstained and d.selected == "m3"
    assert "declared default 'm3'" in (d.fallback or "")
    assert sum(d.weights.values()) == pytest.approx(1.0)  # weights are still Smoothie's


def test_route_global_without_default_falls_back_to_first_candidate() -> None:
    router, prompts = _calibrated("crowd", abstain_below=0.5)
    d = _quiet(router.route, prompts[0])
    assert d.abstained and d.selected == "m0"


def test_route_local_without_default_falls_back_to_global_choice() -> None:
    router, prompts = _calibrated("crowd", n_neighbors=5, abstain_below=0.5)
    assert router.estimator is not None
    global_choice = NAMES[int(np.argmax(router.estimator.global_weights_))]
    d = _quiet(router.route, prompts[0])
    assert d.abstained and d.selected == global_choice
    assert d.diagnostics["details"]["n_samples"] == 5
    assert "calibrated global choice" in (d.fallback or "")


def test_independent_pool_does_not_abstain() -> None:
    router, prompts = _calibrated("independent", default="m0", abstain_below=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        decisions = router.route_many(prompts[:5])
    assert not any(d.abstained for d in decisions)
    assert all(d.reliability is not None and d.reliability >= 0.5 for d in decisions)


def test_select_abstains_to_default_and_to_first_when_default_failed() -> None:
    outs, strong = crowd_pool(2, n=3, dim=384)
    _, answers, emb = as_texts(outs, NAMES)
    router = Router(
        NAMES, scorer="consensus", embedder=emb, default=NAMES[strong], abstain_below=0.6
    )
    d = _quiet(router.select, "q", answers[0])
    assert d.abstained and d.selected == NAMES[strong]
    assert d.diagnostics["smoothie_choice"] != NAMES[strong]
    partial = dict(answers[1])
    partial[NAMES[strong]] = None
    d = _quiet(router.select, "q", partial)
    assert d.abstained and d.selected == next(n for n in NAMES if n != NAMES[strong])
    assert d.failed == [NAMES[strong]]


def test_select_with_too_few_answers_has_no_reliability() -> None:
    router = Router(
        ["a", "b", "c"], scorer="consensus", embedder=HashingEmbedder(), abstain_below=0.5
    )
    d = router.select("q", {"a": "x", "b": "y", "c": None})
    assert d.reliability is None and not d.abstained and d.diagnostics == {}


def test_warns_once_per_router_pointing_at_the_caller() -> None:
    router, prompts = _calibrated("crowd")  # calibration warning swallowed above
    router._warned = False
    with pytest.warns(ReliabilityWarning, match=r"low reliability \(0\.\d\d < 0\.5\)") as record:
        router.route(prompts[0])
    assert record[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReliabilityWarning)
        router.route(prompts[1])  # second time: silent
        router.route_many(prompts[:3])


def test_select_warning_points_at_the_caller() -> None:
    outs, _ = crowd_pool(4, n=2, dim=384)
    _, answers, emb = as_texts(outs, NAMES)
    router = Router(NAMES, scorer="consensus", embedder=emb)
    with pytest.warns(ReliabilityWarning, match="select decision") as record:
        router.select("q", answers[0])
    assert record[0].filename == __file__


def test_calibrate_report_carries_reliability() -> None:
    outs, _ = crowd_pool(1, n=40, dim=64)
    prompts, answers, emb = as_texts(outs, NAMES)
    router = Router(NAMES, scorer="consensus", embedder=emb)
    with pytest.warns(ReliabilityWarning, match="calibration") as record:
        report = router.calibrate(prompts, answers)
    assert record[0].filename == __file__
    assert report.reliability is not None and report.reliability is router.reliability_
    assert report.reliability.checks["duplicates"] is not None


def test_decision_dict_is_json_with_new_fields() -> None:
    router, prompts = _calibrated("crowd", default="m1", abstain_below=0.5)
    d = _quiet(router.route, prompts[0]).to_dict()
    back = json.loads(json.dumps(d))
    assert back["abstained"] is True and 0.0 <= back["reliability"] <= 1.0
    assert set(back["diagnostics"]) == {
        "reasons",
        "checks",
        "details",
        "smoothie_choice",
        "signal",
        "scorer",
    }


def test_loaded_router_recomputes_reliability(tmp_path) -> None:  # type: ignore[no-untyped-def]
    router, prompts = _calibrated("crowd", default="m2", abstain_below=0.5)
    path = router.save(tmp_path / "r.npz")
    loaded = Router.load(path, embedder=router.embedder)
    assert loaded.abstain_below == 0.5 and loaded.default == "m2"
    d = _quiet(loaded.route, prompts[0])
    assert d.abstained and d.selected == "m2"
    assert d.diagnostics["checks"]["duplicates"] is None  # pairwise distances are not saved
