"""The engine on planted generations: specialists, label isolation, route mode, laziness."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from smoothie_core.embedders import HashingEmbedder
from smoothie_core.evaluation import (
    EnsembleData,
    GenerationsData,
    RouteData,
    TextEmbeddings,
    get_route_method,
    register_method,
    register_route_method,
    route_methods,
    run_generations,
    select_methods,
    split_methods,
)
from smoothie_core.evaluation.engine import route_split_rows
from tests.unit.evaluation.layout import simple, specialists

POOL = [("specialists", ["a1", "a2", "b1", "b2"])]


def _run(root: Path, **kwargs: Any) -> dict[str, Any]:
    source = TextEmbeddings(HashingEmbedder(dim=512), progress=False)
    return run_generations(GenerationsData(root), POOL, source, **kwargs)


def test_local_beats_global_on_planted_task_specialists(tmp_path: Path) -> None:
    res = _run(specialists(tmp_path, n=20), methods=select_methods([1, 5]), route_split=0.5)
    (pool,) = res["pools"]
    s = pool["score"]
    assert (s["random"], s["best_single"], s["best_per_task"], s["oracle"]) == (50, 50, 100, 100)
    assert s["smoothie_global"] == 50.0  # one model for both tasks
    assert s["smoothie_local_k1"] == s["smoothie_local_k5"] == 100.0
    assert s["smoothie_global_per_task"] == 100.0
    assert pool["tasks_best_identified"] == "2/2"
    assert pool["per_task"]["alpha"]["global_model"] in {"a1", "a2"}
    assert pool["per_task"]["beta"]["global_model"] in {"b1", "b2"}
    r = pool["route"]
    assert (r["n_calibration"], r["n_routed"]) == (20, 20)
    assert r["score"]["best_single"] == 50.0 and r["score"]["oracle"] == 100.0
    assert r["score"]["calibrated_best_single"] == 50.0  # supervised, one model
    assert r["score"]["calibrated_best_per_task"] == 100.0  # supervised, per task
    assert r["score"]["route_global"] == 50.0
    assert r["score"]["route_local_k1"] == r["score"]["route_local_k5"] == 100.0
    assert r["per_task"]["alpha"] == {
        "n_calibration": 10,
        "n_routed": 10,
        "score": pytest.approx(r["per_task"]["alpha"]["score"]),
    }
    assert res["summary"]["route_beats_best_single"]["route_local_k5"] == 1


def test_labels_never_reach_a_label_free_method(tmp_path: Path) -> None:
    seen: list[Any] = []

    def spy(data: EnsembleData) -> NDArray[np.intp]:
        seen.append(data)
        from smoothie_core.evaluation import get_method

        return get_method("smoothie_local_k5")(data)

    def route_spy(data: RouteData) -> NDArray[np.intp]:
        seen.append(data)
        return get_route_method("route_local_k5")(data)

    register_method("test_spy_select", spy, overwrite=True)
    register_route_method("test_spy_route", route_spy, overwrite=True)
    honest = _run(
        specialists(tmp_path / "honest", n=12),
        methods=["test_spy_select"],
        route=["test_spy_route"],
    )
    flipped = _run(  # adversarial labels: 1 - label everywhere
        specialists(tmp_path / "flipped", n=12, flip_labels=True),
        methods=["test_spy_select"],
        route=["test_spy_route"],
    )
    data, rdata, data2, rdata2 = seen
    # the same texts reach the methods, and they pick the same outputs ...
    assert data.outputs == data2.outputs and rdata.inputs == rdata2.inputs
    for key, rkey in (("score", "test_spy_select"), ("route", "test_spy_route")):
        a = honest["pools"][0][key] if key == "score" else honest["pools"][0]["route"]["score"]
        b = flipped["pools"][0][key] if key == "score" else flipped["pools"][0]["route"]["score"]
        assert a[rkey] == pytest.approx(100.0 - b[rkey])  # ... scored with flipped labels
        assert a[rkey] == 100.0
    # nothing a method holds is a label
    for obj in (data, rdata, rdata.calibration):
        held = {name: getattr(obj, name) for name in dir(obj) if not name.startswith("__")}
        assert not any("label" in name or "reference" in name for name in held)
        assert not hasattr(obj, "__dict__")  # slots only: nothing can be attached
    assert not hasattr(rdata, "outputs")  # routed inputs only: no answers
    assert len(rdata.inputs) == 12 and len(rdata.calibration.inputs) == 12
    assert set(rdata.inputs).isdisjoint(rdata.calibration.inputs)


class Refusing:
    id = "refusing"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        raise AssertionError("no method needed embeddings; nothing should be embedded")


def test_embeddings_are_computed_only_when_a_method_needs_them(tmp_path: Path) -> None:
    def first(data: EnsembleData) -> NDArray[np.intp]:
        return np.zeros(data.n_inputs, dtype=np.intp)

    def route_first(data: RouteData) -> NDArray[np.intp]:
        return np.zeros(data.n_inputs, dtype=np.intp)

    register_method("test_first", first, overwrite=True)
    register_route_method("test_route_first", route_first, overwrite=True)
    root = specialists(tmp_path, n=6)
    res = run_generations(
        GenerationsData(root),
        POOL,
        TextEmbeddings(Refusing(), progress=False),
        methods=["test_first"],
        route=["test_route_first"],
    )
    pool = res["pools"][0]
    assert pool["score"]["test_first"] == 50.0
    assert pool["route"]["score"]["test_route_first"] == 50.0
    assert pool["tasks_best_identified"] is None and pool["global_weights"] is None
    assert res["config"]["embedding_seconds"] == {"inputs": 0.0, "outputs": 0.0}


def test_real_valued_labels_are_scored_as_100_times_the_mean(tmp_path: Path) -> None:
    root = simple(
        tmp_path,
        {"a": [0.2, 0.4, 0.6, 0.8], "b": [0.1, 0.1, 0.1, 0.1], "c": [0.9, 0.0, 0.3, 0.3]},
    )
    res = run_generations(
        GenerationsData(root),
        [("p", ["a", "b", "c"])],
        TextEmbeddings(HashingEmbedder(dim=64), progress=False),
        methods=["smoothie_global"],
        route_split=None,
    )
    s = res["pools"][0]["score"]
    assert s["best_single"] == pytest.approx(50.0)
    assert s["random"] == pytest.approx(100 * (2.0 + 0.4 + 1.5) / 12)
    assert s["oracle"] == pytest.approx(100 * (0.9 + 0.4 + 0.6 + 0.8) / 4)
    assert "route" not in res["pools"][0] and res["mean_route"] == {}


def test_method_returning_bad_picks_gets_a_clear_error(tmp_path: Path) -> None:
    register_method("test_bad", lambda d: np.full(d.n_inputs, 9), overwrite=True)
    register_method("test_short", lambda d: np.zeros(2, dtype=np.intp), overwrite=True)
    root = specialists(tmp_path, n=4)
    for name, message in [
        ("test_bad", r"method 'test_bad' returned candidate indices outside \[0, 3\]"),
        ("test_short", r"method 'test_short' must return 8 integer candidate indices"),
    ]:
        with pytest.raises(ValueError, match=message):
            _run(root, methods=[name], route_split=None)


def test_route_split_rows() -> None:
    cal, routed = route_split_rows(["a"] * 10 + ["b"] * 3 + ["c"], 0.3)
    assert cal.tolist() == [0, 1, 2, 10, 13] and routed.tolist() == [*range(3, 10), 11, 12]
    cal, routed = route_split_rows(["a", "a"], 0.01)  # at least one on each side
    assert cal.tolist() == [0] and routed.tolist() == [1]
    with pytest.raises(ValueError, match=r"`route_split` must be in \(0, 1\); got 1.0"):
        route_split_rows(["a"], 1.0)


def test_method_names_and_registries() -> None:
    assert route_methods([1, 20]) == ["route_global", "route_local_k1", "route_local_k20"]
    register_route_method(
        "test_route_only", lambda d: np.zeros(d.n_inputs, np.intp), overwrite=True
    )
    select, route = split_methods(
        [
            "smoothie_kernel",
            "route_local_k7",
            "test_route_only",
            "route:smoothie_core.evaluation.methods:route_global",
            "smoothie_core.evaluation.methods:smoothie_global",
        ]
    )
    assert select == ["smoothie_kernel", "smoothie_core.evaluation.methods:smoothie_global"]
    assert route == [
        "route_local_k7",
        "test_route_only",
        "smoothie_core.evaluation.methods:route_global",
    ]
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        split_methods(["nope"])
    with pytest.raises(ValueError, match="a route-mode method named 'route_global' is already"):
        register_route_method("route_global", lambda d: d)
    with pytest.raises(ValueError, match="unknown route-mode method 'nope'"):
        get_route_method("nope")
    with pytest.raises(TypeError, match="must be callable"):
        register_route_method("test_not_callable", 3)  # type: ignore[arg-type]


def test_ensemble_data_is_lazy_and_read_only() -> None:
    calls: list[int] = []

    def make() -> NDArray[np.float64]:
        calls.append(1)
        return np.zeros((2, 3, 4))

    data = EnsembleData(["a", "b", "c"], ["q1", "q2"], [["x", "y", "z"]] * 2, make)
    assert not data.output_embeddings_computed and calls == []
    emb = data.output_embeddings
    assert data.output_embeddings is emb and calls == [1]
    with pytest.raises(ValueError, match="read-only"):
        emb[0, 0, 0] = 1.0
    with pytest.raises(ValueError, match="no input embeddings were given"):
        _ = data.input_embeddings
    with pytest.raises(ValueError, match="one entry per input"):
        EnsembleData(["a", "b", "c"], ["q1"], [["x", "y", "z"]], tasks=["t", "u"])
