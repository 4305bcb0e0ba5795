"""``smoothie eval generations``: table, JSON schema, route mode, plot, errors, safe writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smoothie_core.cli import main
from tests.unit.evaluation.layout import simple, specialists, write_file


def _run(data: Path, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "eval", "generations", "--data", str(data), "--embedder", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra,
        ]
    )  # fmt: skip


def test_table_json_schema_and_route_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = specialists(tmp_path / "data", n=12)
    out = tmp_path / "out" / "r.json"
    rc = _run(
        data, tmp_path, "--pool", "a1,a2,b1,b2", "--pool", "a1,b1,b2", "--k", "1,5",
        "--methods", "smoothie_kernel,route_local_k3", "--json", str(out),
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(res) == {"pools", "mean", "mean_route", "summary", "config"}
    keys = [
        "random", "best_single", "best_per_task", "oracle", "smoothie_global",
        "smoothie_global_per_task", "smoothie_local_k1", "smoothie_local_k5", "smoothie_kernel",
    ]  # fmt: skip
    assert list(res["mean"]) == keys
    first, second = res["pools"]
    assert (first["name"], second["name"]) == ("pool_0", "pool_1")
    assert first["models"] == ["a1", "a2", "b1", "b2"] and first["n_inputs"] == 24
    assert list(first["score"]) == keys
    assert first["tasks_best_identified"] == "2/2"
    assert set(first["per_task"]) == {"alpha", "beta"}
    task = first["per_task"]["alpha"]
    assert list(task["score"]) == keys and task["n_inputs"] == 12
    assert {"best_model", "global_model", "best_identified", "spearman"} <= set(task)
    assert {"spearman_global", "spearman_per_task_mean", "global_weights"} <= set(first)
    route = first["route"]
    assert route["split"] == 0.5 and route["n_routed"] == 12
    assert list(route["score"]) == [
        "random", "best_single", "best_per_task", "oracle", "calibrated_best_single",
        "calibrated_best_per_task", "route_global", "route_local_k1", "route_local_k5",
        "route_local_k3",
    ]  # fmt: skip
    assert list(res["mean_route"]) == list(route["score"])
    # pool_1 on alpha: a1 alone is right among two wrong models: consensus cannot find it
    assert second["per_task"]["alpha"]["best_identified"] is False
    assert res["summary"]["n_pools"] == 2 and res["summary"]["tasks_best_identified"] == "3/4"
    cfg = res["config"]
    assert cfg["view"] == "first" and cfg["k"] == [1, 5] and cfg["route_split"] == 0.5
    assert cfg["embedding_seconds"]["outputs"] >= 0 and cfg["embedded_texts"]["outputs"] > 0
    text = capsys.readouterr().out
    for needle in ("select mode", "route mode", "per task, mean over pools", "local_k5", "2/2"):
        assert needle in text
    assert f"wrote {out}" in text
    assert [p.name for p in out.parent.iterdir()] == ["r.json"]  # no temporary file left


def test_pools_file_limit_view_no_route_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    data = specialists(tmp_path / "data", n=10)
    pools = tmp_path / "pools.json"
    pools.write_text(json.dumps([{"name": "mixed", "models": ["a1", "b1", "b2"]}]))
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    rc = _run(
        data, tmp_path, "--pools-file", str(pools), "--limit-per-task", "4", "--tasks", "beta",
        "--view", "answer", "--route-split", "0", "--json", str(out), "--plot", str(png),
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    (pool,) = res["pools"]
    assert pool["name"] == "mixed" and pool["n_inputs"] == 4 and list(pool["per_task"]) == ["beta"]
    assert "route" not in pool and res["mean_route"] == {} and res["config"]["view"] == "answer"
    assert res["config"]["pools_file"] == str(pools)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cache_is_reused_across_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = specialists(tmp_path / "data", n=6)
    out = tmp_path / "r.json"
    assert _run(data, tmp_path, "--pool", "a1,a2,b1", "--json", str(out)) == 0
    first = json.loads(out.read_text())["config"]["cache_misses"]
    assert first["output_views"] == 30  # 36 outputs, 6 of them identical to another
    assert _run(data, tmp_path, "--pool", "a1,a2,b1", "--json", str(out)) == 0
    again = json.loads(out.read_text())["config"]["cache_misses"]
    assert again == {"output_views": 0, "model_texts": 0}
    # another view: short outputs fit one window, so the model embeds nothing new for them
    assert _run(data, tmp_path, "--pool", "a1,a2,b1", "--view", "last", "--json", str(out)) == 0
    last = json.loads(out.read_text())["config"]["cache_misses"]
    assert last == {"output_views": 30, "model_texts": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose the pools one way"),
        (["--pool", "a1,b1,b2", "--pools-file", "x.json"], "choose the pools one way"),
        (["--pool", "a1,b1"], "at least 3 model names"),
        (["--pool", "a1,b1,zz"], "unknown model(s) 'zz'"),
        (["--pool", "a1,b1,b2", "--tasks", "gamma"], "unknown task(s) 'gamma'"),
        (["--pool", "a1,b1,b2", "--methods", "nope"], "unknown method 'nope'"),
        (["--pools-file", "missing.json"], "pools file missing.json does not exist"),
    ],
)
def test_error_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    data = specialists(tmp_path / "data", n=3)
    assert _run(data, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("smoothie: error:") and message in err


def test_bad_file_is_reported_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = simple(tmp_path / "data", {"a": [1, 0], "b": [0, 1], "c": [1, 1]})
    path = data / "t" / "b.jsonl"
    path.write_text(path.read_text().replace('"label": 1', '"label": "good"'))
    assert _run(data, tmp_path, "--pool", "a,b,c") == 2
    assert f"{path}, line 2: 'label' must be a number" in capsys.readouterr().err


def test_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = specialists(tmp_path / "data", n=3)
    for flags, message in [
        (["--route-split", "1.5"], "--route-split must be in [0, 1)"),
        (["--limit-per-task", "0"], "expected a positive int"),
        (["--view", "middle"], "invalid choice: 'middle'"),
    ]:
        with pytest.raises(SystemExit):
            _run(data, tmp_path, "--pool", "a1,b1,b2", *flags)
        assert message in capsys.readouterr().err


def test_refuses_to_overwrite_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = specialists(tmp_path / "data", n=3)
    pools = tmp_path / "pools.json"
    pools.write_text(json.dumps([["a1", "b1", "b2"]]))
    target = data / "alpha" / "a1.jsonl.gz"
    before = target.read_bytes()
    assert _run(data, tmp_path, "--pools-file", str(pools), "--json", str(target)) == 2
    assert "refusing to write" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert _run(data, tmp_path, "--pools-file", str(pools), "--json", str(pools)) == 2
    assert "refusing to write" in capsys.readouterr().err
    write_file(tmp_path / "other" / "x.jsonl", [])
    assert _run(data, tmp_path, "--pools-file", str(pools), "--plot", str(data / "p.png")) == 2
