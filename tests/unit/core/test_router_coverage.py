"""Router(signal="coverage"): the asymmetric coverage option in route and select mode."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from smoothie_core import HashingEmbedder, Router
from smoothie_core.diagnostics import ReliabilityWarning

NAMES = ["partial_a", "full", "partial_b", "partial_c"]
WORDS = [
    "river",
    "copper",
    "baker",
    "comet",
    "valley",
    "lamp",
    "oven",
    "orbit",
    "fish",
    "switch",
    "bread",
    "tail",
    "rain",
    "fuse",
    "yeast",
    "ice",
]


def _fact(t: int, j: int) -> str:
    """A 15-word fact (one coverage window), distinct per topic ``t`` and fact ``j``."""
    rng = np.random.default_rng(100 * t + j)
    return " ".join(rng.choice(WORDS, size=15))


TOPICS = [[_fact(t, j) for j in range(4)] for t in range(4)]


def _answers(t: int) -> dict[str, str | None]:
    facts = TOPICS[t % len(TOPICS)]
    return {
        "partial_a": facts[0],
        "full": " ".join(facts[:3]),
        "partial_b": facts[1],
        "partial_c": facts[2],
    }


def _router(**kwargs: object) -> tuple[Router, list[str]]:
    prompts = [f"question {t} about topic {t % 4}" for t in range(12)]
    router = Router(NAMES, embedder=HashingEmbedder(dim=512), signal="coverage", **kwargs)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        router.calibrate(prompts, [_answers(t) for t in range(12)])
    return router, prompts


def test_signal_is_validated() -> None:
    with pytest.raises(ValueError, match="`signal` must be 'smoothie' or 'coverage'; got 'nli'"):
        Router(NAMES, embedder=HashingEmbedder(), signal="nli")  # type: ignore[arg-type]


def test_route_global_picks_the_covering_answer() -> None:
    router, prompts = _router()
    assert router.coverage_scores_ is not None and router.coverage_scores_.shape == (12, 4)
    d = router.route(prompts[0])
    assert d.selected == "full"
    assert sum(d.weights.values()) == pytest.approx(1.0)
    assert max(d.weights, key=d.weights.__getitem__) == "full"
    assert d.diagnostics["signal"] == "coverage"
    assert d.reliability == pytest.approx(1.0)
    assert json.loads(json.dumps(d.to_dict()))["diagnostics"]["signal"] == "coverage"


def test_route_local_uses_neighbourhoods() -> None:
    router, prompts = _router(n_neighbors=3)
    d = router.route(prompts[1])
    assert d.selected == "full" and d.n_neighbors == 3
    assert d.diagnostics["details"]["n_samples"] == 3


def test_select_per_input_and_pool_alignment() -> None:
    router = Router(
        NAMES, embedder=HashingEmbedder(dim=512), signal="coverage", n_neighbors=3, max_pool_size=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        first = router.select("q0", _answers(0), update_pool=True)
        assert first.selected == "full" and first.reliability == 0.5
        for t in range(1, 8):
            router.select(f"q{t}", _answers(t), update_pool=True)
    assert router.estimator is not None and router.coverage_scores_ is not None
    assert len(router.coverage_scores_) == router.estimator.n_samples_ == 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        d = router.select("q9", _answers(9))
    assert d.selected == "full" and d.n_neighbors == 3
    assert d.diagnostics["details"]["n_samples"] == 3


def test_save_load_keeps_signal_and_scores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    router, prompts = _router(default="partial_a")
    path = router.save(tmp_path / "cov.npz")
    loaded = Router.load(path, embedder=router.embedder)
    assert loaded.signal == "coverage"
    assert router.coverage_scores_ is not None and loaded.coverage_scores_ is not None
    np.testing.assert_allclose(loaded.coverage_scores_, router.coverage_scores_)
    assert loaded.route(prompts[2]).selected == router.route(prompts[2]).selected


def test_smoothie_signal_routers_do_not_compute_coverage() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(dim=64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)
        router.calibrate([f"p{t}" for t in range(6)], [_answers(t) for t in range(6)])
        d = router.route("p1")
    assert router.coverage_scores_ is None and d.diagnostics["signal"] == "smoothie"
