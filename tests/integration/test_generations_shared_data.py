"""``smoothie eval generations`` on the shared DEV data (skipped when it is absent).

Fast: one pool read in full with a method that needs no embeddings, the rest on a few
prompts per task with the hashing embedder.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from smoothie_core.cli import main
from smoothie_core.evaluation import (
    GenerationsData,
    TextEmbeddings,
    load_pools_file,
    register_method,
    run_generations,
)
from tests.conftest import shared_data_dir

pytestmark = pytest.mark.shared_data


def _folder(name: str) -> Path:
    path = shared_data_dir() / name
    if not (path / "pools_dev.json").is_file():
        pytest.skip(
            f"shared {name} data not found at {path} (set SMOOTHIE_SHARED_DATA to the folder "
            f"holding {name}/)"
        )
    return path


def _accuracy(folder: Path) -> dict[tuple[str, str], float]:
    with (folder / "models.csv").open() as fh:
        return {(r["model"], r["task"]): 100 * float(r["accuracy"]) for r in csv.DictReader(fh)}


class Refusing:
    id = "refusing"

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        raise AssertionError("this test needs no embeddings")


def test_zeroeval_full_pool_matches_the_published_accuracies() -> None:
    folder = _folder("zeroeval")
    name, models = load_pools_file(folder / "pools_dev.json")[0]
    register_method(
        "test_first_model", lambda d: np.zeros(d.n_inputs, dtype=np.intp), overwrite=True
    )
    res = run_generations(
        GenerationsData(folder),
        [(name, models)],
        TextEmbeddings(Refusing(), progress=False),
        methods=["test_first_model"],
        route_split=None,
    )
    (pool,) = res["pools"]
    acc = _accuracy(folder)
    tasks = {t for _, t in acc}
    assert pool["n_dropped"] == 0 and set(pool["per_task"]) == tasks
    for task, rec in pool["per_task"].items():
        assert rec["score"]["best_single"] == pytest.approx(
            max(acc[(m, task)] for m in models), abs=0.01
        )
        assert rec["score"]["test_first_model"] == pytest.approx(acc[(models[0], task)], abs=0.01)
    s = pool["score"]
    assert s["random"] <= s["best_single"] <= s["best_per_task"] <= s["oracle"]


def test_mmlu_pro_dev_pools_few_prompts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _folder("mmlu_pro")
    out = tmp_path / "r.json"
    rc = main(
        ["eval", "generations", "--data", str(folder), "--pools-file",
         str(folder / "pools_dev.json"), "--limit-per-task", "4", "--k", "1,5",
         "--embedder", "hashing", "--no-cache", "--quiet", "--json", str(out)]
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    names = [n for n, _ in load_pools_file(folder / "pools_dev.json")]
    assert [p["name"] for p in res["pools"]] == names
    n_tasks = len({t for _, t in _accuracy(folder)})
    for pool in res["pools"]:
        s = pool["score"]
        assert pool["n_inputs"] + pool["n_dropped"] == 4 * n_tasks
        assert s["random"] <= s["best_single"] <= s["best_per_task"] <= s["oracle"] <= 100
        assert all(0 <= v <= 100 for v in s.values())
        assert pool["tasks_best_identified"].endswith(f"/{n_tasks}")
        assert pool["route"]["n_routed"] + pool["route"]["n_calibration"] == pool["n_inputs"]
    assert "per task, mean over pools" in capsys.readouterr().out


def test_zeroeval_answer_view(tmp_path: Path) -> None:
    folder = _folder("zeroeval")
    out = tmp_path / "r.json"
    rc = main(
        ["eval", "generations", "--data", str(folder), "--pool",
         ",".join(load_pools_file(folder / "pools_dev.json")[1][1]), "--tasks", "gsm,math-l5",
         "--limit-per-task", "6", "--view", "answer", "--embedder", "hashing", "--no-cache",
         "--quiet", "--json", str(out)]
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    assert list(res["pools"][0]["per_task"]) == ["gsm", "math-l5"]
    assert res["config"]["view"] == "answer"
