"""select_ray on Ray Data (local mode) gives the single-machine results (`smoothie select`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="ray not installed (pip install 'smoothie-router[ray]')")
pytest.importorskip(
    "ray.data", reason="Ray Data not installed (pip install 'smoothie-router[ray]')"
)

from smoothie_core import Smoothie  # noqa: E402
from smoothie_core.cli import _select  # noqa: E402
from smoothie_core.distributed import select_ray  # noqa: E402
from smoothie_core.embedders import HashingEmbedder  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow]

NAMES = ["good", "fair", "poor", "noisy"]
WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
]


@pytest.fixture(scope="module")
def ray_local() -> Any:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield ray
    ray.shutdown()


def _rows(n: int = 48, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        topic = [WORDS[j] for j in rng.choice(len(WORDS), 6, replace=False)]
        truth = " ".join(topic)

        def noisy(p: float, topic: list[str] = topic) -> str:
            return " ".join(w if rng.random() > p else str(rng.choice(WORDS)) for w in topic)

        row: dict[str, Any] = {
            "index": i,
            "input": f"question {i % 12} about {topic[0]} {topic[1]}",
            "good": noisy(0.1),
            "fair": noisy(0.3),
            "poor": noisy(0.6),
            "noisy": noisy(0.9),
        }
        if i % 11 == 3:
            row["poor"] = None  # a failed candidate
        if i % 13 == 5:
            row.update(good=truth, fair=truth, poor=truth, noisy=truth)  # no information
        rows.append(row)
    return rows


def _cli(
    rows: list[dict[str, Any]], tmp_path: Path, k: int, engine: str = "local"
) -> list[dict[str, Any]]:
    (tmp_path / "inputs.jsonl").write_text(
        "".join(json.dumps({"input": r["input"]}) + "\n" for r in rows)
    )
    for name in NAMES:
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps({"output": r[name]}) + "\n" for r in rows)
        )
    out = tmp_path / f"out_k{k}_{engine}.jsonl"
    args = argparse.Namespace(
        inputs=tmp_path / "inputs.jsonl",
        candidates=[tmp_path / f"{n}.jsonl" for n in NAMES],
        names=None,
        out=out,
        k=k,
        input_key="input",
        text_key="output",
        embedder="hashing:256",
        cache_dir=None,
        no_cache=True,
        quiet=True,
        engine=engine,
        scorer="consensus",  # the scorer the Ray engine implements
    )
    assert _select.run(args) == 0
    return [json.loads(line) for line in out.read_text().splitlines()]


def _assert_same(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [g["input"] for g in got] == [w["input"] for w in want]  # input order kept
    for g, w in zip(got, want, strict=True):
        assert g["selected"] == w["selected"]
        assert g["text"] == w["text"]
        assert g["n_neighbors"] == w["n_neighbors"]
        assert g["fallback"] == w["fallback"]
        weights = {n: x for n, x in zip(NAMES, g["weights"], strict=True) if not np.isnan(x)}
        assert weights == w["weights"]  # bitwise equal


def test_select_ray_local_matches_single_machine_cli(ray_local: Any, tmp_path: Path) -> None:
    rows = _rows()
    want = _cli(rows, tmp_path, k=5)
    # the data exercise Local averaging and failed candidates (scored on their own)
    assert {w["n_neighbors"] for w in want} == {1, 5}
    got = select_ray(
        ray_local.data.from_items(rows, override_num_blocks=3),
        NAMES,
        n_neighbors=5,
        embedder="hashing:256",
        batch_size=10,
        concurrency=2,
    ).take_all()
    _assert_same(got, want)


def test_cli_engine_ray_writes_the_same_file(ray_local: Any, tmp_path: Path) -> None:
    rows = _rows(n=30, seed=2)
    want = _cli(rows, tmp_path, k=1)
    assert any(w["fallback"] for w in want)  # the no-information fallback is exercised
    assert any(w["failed"] for w in want)  # and a failed candidate
    got = _cli(rows, tmp_path, k=1, engine="ray")
    assert got == want


def test_select_ray_global_is_a_reduce(ray_local: Any, tmp_path: Path) -> None:
    rows = _rows(seed=1)
    path = tmp_path / "rows.jsonl"  # read from a file: rows numbered by line
    path.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "index"}) + "\n" for r in rows)
    )
    emb = HashingEmbedder(dim=256)
    complete = [r for r in rows if all(r[n] is not None for n in NAMES)]
    outs = np.stack([emb.embed([r[n] for n in NAMES]) for r in complete])
    ref = Smoothie().fit(outs).global_weights_
    got = select_ray(
        str(path), NAMES, n_neighbors=None, embedder="hashing:256", batch_size=7
    ).take_all()
    assert [g["index"] for g in got] == list(range(len(rows)))
    assert [g["input"] for g in got] == [r["input"] for r in rows]
    for g, r in zip(got, rows, strict=True):
        if all(r[n] is not None for n in NAMES):
            np.testing.assert_allclose(g["weights"], ref, rtol=1e-12, atol=0)
            assert g["selected"] == NAMES[int(np.argmax(ref))]
            assert g["n_neighbors"] == len(complete)
        else:
            assert np.isnan(g["weights"][NAMES.index("poor")])
            assert g["n_neighbors"] == 1


def test_select_ray_errors(ray_local: Any, tmp_path: Path) -> None:
    ds = ray_local.data.from_items(_rows(n=4))
    with pytest.raises(ValueError, match=r"at least 3 candidates"):
        select_ray(ds, ["good", "fair"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['missing'\]"):
        select_ray(ds, ["good", "fair", "missing"])
    with pytest.raises(ValueError, match=r"`n_neighbors` must be None or a positive int; got 0"):
        select_ray(ds, NAMES, n_neighbors=0)
    with pytest.raises(ValueError, match=r"must be JSON Lines \(.jsonl\)"):
        select_ray(str(tmp_path / "rows.csv"), NAMES)
    with pytest.raises(ValueError, match=r"no id column 'row_id'"):
        select_ray(ds, NAMES, id_column="row_id")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "a"}\n{oops\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not valid JSON"):
        select_ray(str(bad), NAMES)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


@pytest.mark.parametrize("k", [1, 3])
def test_cli_engines_write_byte_identical_files(ray_local: Any, tmp_path: Path, k: int) -> None:
    # more rows than one Ray batch (256): a batch whose every fallback is None came back as
    # NaN and was written as `"fallback": NaN` (not JSON); plus an all-failed line and empty
    # answers, which both engines must record the same way
    rows = _rows(n=300, seed=3)
    for row in rows[256:]:  # no fallback in the second batch, so Ray sees an all-None column
        if len({row[n] for n in NAMES}) == 1:
            row["noisy"] += " and more"
    rows[10].update(good=None, fair=None, poor=None, noisy=None)
    rows[20].update(good="", fair="  ")
    _cli(rows, tmp_path, k=k)
    _cli(rows, tmp_path, k=k, engine="ray")
    local = (tmp_path / f"out_k{k}_local.jsonl").read_bytes()
    on_ray = (tmp_path / f"out_k{k}_ray.jsonl").read_bytes()
    for raw in (local, on_ray):
        lines = raw.decode("utf-8").split("\n")
        assert lines[-1] == ""
        parsed = [json.loads(line, parse_constant=_no_constant) for line in lines[:-1]]
        assert len(parsed) == 300
        assert parsed[10]["selected"] is None
        assert parsed[20]["failed"] == ["good", "fair"]
    assert on_ray == local
