"""``smoothie eval alpaca-eval`` on a slice of the shared AlpacaEval data (skipped when absent)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from smoothie_core.cli import main
from smoothie_core.evaluation import (
    PrecomputedEmbeddings,
    TextEmbeddings,
    align,
    instruction_order,
    load_models,
)

pytestmark = pytest.mark.shared_data

ENSEMBLE = ["claude", "gpt-3.5-turbo-1106", "phi-2-sft", "vicuna-7b", "alpaca-7b"]


def _models_csv(data: Path) -> dict[str, float]:
    with (data / "models.csv").open() as fh:
        return {row["model"]: float(row["win_rate"]) for row in csv.DictReader(fh)}


def test_full_instructions_match_the_published_win_rates(
    alpaca_eval_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    rc = main(
        ["eval", "alpaca-eval", "--results-dir", str(alpaca_eval_dir / "results"),
         "--ensemble", ",".join(ENSEMBLE), "--ensemble", "alpaca-7b_verbose,claude,vicuna-7b",
         "--precomputed-embeddings", str(alpaca_eval_dir), "--k", "1,20", "--quiet",
         "--json", str(out)]
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    table = _models_csv(alpaca_eval_dir)
    first, second = res["ensembles"]
    assert first["n_instructions"] == 805 and first["n_dropped"] == 0
    for name, rate in first["model_win_rates"].items():
        assert rate == pytest.approx(table[name], abs=1e-3)
    assert first["best_single_model"] == "claude"
    assert first["win_rate"]["best_single"] == pytest.approx(table["claude"], abs=1e-3)
    assert first["win_rate"]["random"] == pytest.approx(
        np.mean([table[m] for m in ENSEMBLE]), abs=1e-3
    )
    # alpaca-7b_verbose lacks 3 instructions: dropped and counted
    assert second["n_instructions"] == 802 and second["n_dropped"] == 3
    for rec in res["ensembles"]:
        wr = rec["win_rate"]
        assert wr["random"] <= wr["best_single"] <= wr["oracle"]
        for key in ("smoothie_global", "smoothie_local_k1", "smoothie_local_k20"):
            assert 0.0 <= wr[key] <= wr["oracle"]


def test_dev_ensembles_slice_json_shape(alpaca_eval_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    rc = main(
        ["eval", "alpaca-eval", "--results-dir", str(alpaca_eval_dir / "results"),
         "--ensembles-file", str(alpaca_eval_dir / "ensembles_dev.json"), "--limit", "60",
         "--precomputed-embeddings", str(alpaca_eval_dir / "emb"), "--quiet",
         "--methods", "smoothie_local_eb_k20,smoothie_kernel", "--json", str(out)]
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    assert len(res["ensembles"]) == 10
    keys = ["random", "best_single", "oracle", "smoothie_global", "smoothie_local_k1",
            "smoothie_local_k5", "smoothie_local_k20", "smoothie_local_eb_k20", "smoothie_kernel"]  # fmt: skip
    assert list(res["mean"]) == keys
    for rec in res["ensembles"]:
        assert set(rec) >= {"models", "n_instructions", "win_rate", "best_single_model",
                            "smoothie_global_model", "spearman_global"}  # fmt: skip
        assert rec["n_instructions"] == 60
        assert list(rec["win_rate"]) == keys
        assert rec["smoothie_global_model"] in rec["models"]


def test_live_embedding_path_with_progress_bar(
    alpaca_eval_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    args = ["eval", "alpaca-eval", "--results-dir", str(alpaca_eval_dir / "results"),
            "--ensemble", ",".join(ENSEMBLE[:3]), "--limit", "8", "--embedder", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--k", "1,3", "--json", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "embedding" in capsys.readouterr().err  # the progress bar
    first = json.loads(out.read_text())
    assert (tmp_path / "cache" / "embeddings.sqlite3").is_file()
    assert main(args) == 0  # second run: from the cache, same result
    assert json.loads(out.read_text())["ensembles"] == first["ensembles"]


@pytest.mark.minilm
def test_default_embedder_reproduces_the_shipped_embeddings(alpaca_eval_dir: Path, minilm) -> None:
    results = load_models(alpaca_eval_dir / "results", ["claude", "phi-2-sft", "alpaca-7b"])
    ens = align(list(results.values()), order=instruction_order(list(results.values())), limit=4)
    live, pre = TextEmbeddings(minilm, progress=False), PrecomputedEmbeddings(alpaca_eval_dir)
    pairs = [(live.instructions(ens.instructions), pre.instructions(ens.instructions))]
    for j, name in enumerate(ens.models):
        texts = [row[j] for row in ens.outputs]
        pairs.append(
            (
                live.outputs(name, ens.instructions, texts),
                pre.outputs(name, ens.instructions, texts),
            )
        )
    for a, b in pairs:
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() > 0.999
