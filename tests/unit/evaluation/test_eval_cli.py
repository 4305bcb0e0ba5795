"""``smoothie eval alpaca-eval`` on a tiny results folder: output, JSON shape, error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smoothie_core.cli import main
from tests.support.alpaca import ANNOTATOR, make_results


def _run(results: Path, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "eval", "alpaca-eval", "--results-dir", str(results), "--embedder", "hashing",
            "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra,
        ]
    )  # fmt: skip


def test_json_shape_and_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = make_results(tmp_path)
    out = tmp_path / "out.json"
    rc = _run(
        results, tmp_path, "--ensemble", "good,good2,bad,worse", "--ensemble", "bad,good,good2",
        "--k", "1,3", "--methods", "smoothie_kernel", "--json", str(out),
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    keys = ["random", "best_single", "oracle", "smoothie_global", "smoothie_local_k1",
            "smoothie_local_k3", "smoothie_kernel"]  # fmt: skip
    assert list(res["mean"]) == keys
    first, second = res["ensembles"]
    assert first["models"] == ["good", "good2", "bad", "worse"]
    assert first["n_instructions"] == 5 and first["n_dropped"] == 1
    assert second["n_instructions"] == 6 and second["n_dropped"] == 0
    assert list(first["win_rate"]) == keys
    assert first["best_single_model"] == "good"
    assert first["win_rate"]["best_single"] == pytest.approx(90.0)
    assert first["win_rate"]["random"] == pytest.approx(100 * (0.9 + 0.6 + 0.1 + 0.0) / 4)
    assert first["win_rate"]["oracle"] == pytest.approx(90.0)
    assert isinstance(first["smoothie_global_model"], str)
    assert first["spearman_global"] is None or -1 <= first["spearman_global"] <= 1
    assert isinstance(first["best_picked"], bool)
    for k in keys:
        assert res["mean"][k] == pytest.approx((first["win_rate"][k] + second["win_rate"][k]) / 2)
    text = capsys.readouterr().out
    assert "local_k3" in text and "mean" in text and "best model picked" in text


def test_limit_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = make_results(tmp_path)
    out, png = tmp_path / "r.json", tmp_path / "plot.png"
    rc = _run(
        results, tmp_path, "--random-ensembles", "2", "--ensemble-size", "3", "--seed", "1",
        "--exclude", "worse", "--limit", "3", "--json", str(out), "--plot", str(png),
    )  # fmt: skip
    assert rc == 0
    res = json.loads(out.read_text())
    assert len(res["ensembles"]) == 2
    assert all(e["n_instructions"] == 3 for e in res["ensembles"])
    assert all("worse" not in e["models"] for e in res["ensembles"])
    assert res["config"]["seed"] == 1
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_ensembles_file(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    ens = tmp_path / "ens.json"
    ens.write_text(json.dumps([["good", "good2", "bad"]]))
    out = tmp_path / "r.json"
    assert _run(results, tmp_path, "--ensembles-file", str(ens), "--json", str(out)) == 0
    assert json.loads(out.read_text())["ensembles"][0]["models"] == ["good", "good2", "bad"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ensemble", "good,bad"], "at least 3 model names"),
        (["--ensemble", "good,bad,nope"], "unknown model 'nope'"),
        (["--ensemble", "good,bad,good"], "distinct models"),
        ([], "choose the ensembles one way"),
        (["--ensemble", "good,bad,good2", "--random-ensembles", "2"], "one way"),
        (["--ensemble", "good,bad,good2", "--methods", "nope"], "unknown method 'nope'"),
        (["--random-ensembles", "1", "--ensemble-size", "9"], "larger than the 4"),
    ],
)
def test_error_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    results = make_results(tmp_path)
    assert _run(results, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("smoothie: error:")
    assert message in err


def test_missing_annotator_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = make_results(tmp_path)
    (results / "bad" / ANNOTATOR / "annotations.json").unlink()
    assert _run(results, tmp_path, "--ensemble", "good,good2,bad") == 2
    assert (
        "model 'bad' has no weighted_alpaca_eval_gpt4_turbo annotations" in capsys.readouterr().err
    )
    assert _run(results, tmp_path, "--ensemble", "good,good2,worse", "--annotator", "other") == 2
    assert "Annotator folders present: weighted_alpaca_eval_gpt4_turbo" in capsys.readouterr().err


def test_malformed_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = make_results(tmp_path)
    (results / "bad" / ANNOTATOR / "annotations.json").write_text('[{"instruction": ')
    assert _run(results, tmp_path, "--ensemble", "good,good2,bad") == 2
    err = capsys.readouterr().err
    assert "annotations.json is not valid JSON (line 1" in err
    ens = tmp_path / "ens.json"
    ens.write_text("[[")
    assert _run(results, tmp_path, "--ensembles-file", str(ens)) == 2
    assert "ens.json is not valid JSON" in capsys.readouterr().err
    ens.write_text('{"a": 1}')
    assert _run(results, tmp_path, "--ensembles-file", str(ens)) == 2
    assert "list of lists of model names" in capsys.readouterr().err


def test_missing_results_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(tmp_path / "nope", tmp_path, "--ensemble", "a,b,c") == 2
    assert "does not exist" in capsys.readouterr().err


def test_no_instruction_in_common(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = make_results(tmp_path)
    assert _run(results, tmp_path, "--ensemble", "good,bad,worse", "--limit", "6") == 0
    (results / "worse" / "model_outputs.json").write_text("[]")
    assert _run(results, tmp_path, "--ensemble", "good,bad,worse") == 2
    assert "no instruction that every model answered" in capsys.readouterr().err


def test_bad_k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = make_results(tmp_path)
    with pytest.raises(SystemExit):
        _run(results, tmp_path, "--ensemble", "good,bad,good2", "--k", "0")
    assert "--k values must be positive" in capsys.readouterr().err


def test_precomputed_embeddings_folder_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = make_results(tmp_path)
    rc = _run(
        results, tmp_path, "--ensemble", "good,bad,good2",
        "--precomputed-embeddings", str(tmp_path / "none"),
    )  # fmt: skip
    assert rc == 2
    assert "precomputed embeddings not found" in capsys.readouterr().err
