"""Loading AlpacaEval results folders and aligning models by instruction text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from smoothie_core.evaluation import (
    align,
    instruction_order,
    list_models,
    load_model,
    load_models,
)
from tests.support.alpaca import ANNOTATOR, QUESTIONS, make_results, write_model


def test_list_models_needs_both_files(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    (results / "no-annotations").mkdir()
    (results / "no-annotations" / "model_outputs.json").write_text("[]")
    assert list_models(results) == ["bad", "good", "good2", "worse"]


def test_load_model_matches_labels_by_instruction(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    # shuffle the annotation order: matching must be by text, not position
    path = results / "good" / ANNOTATOR / "annotations.json"
    anns = json.loads(path.read_text())
    path.write_text(json.dumps(anns[::-1]))
    res = load_model(results, "good")
    assert list(res.outputs) == QUESTIONS
    assert res.wins[QUESTIONS[0]] == pytest.approx(0.9)
    assert res.n_unlabeled == 0


def test_label_of_another_output_text_is_not_used(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_model(results, "m", [("q1", "a", 1.5), ("q2", "b", 1.7)])
    path = results / "m" / ANNOTATOR / "annotations.json"
    anns = json.loads(path.read_text())
    anns[1]["output_2"] = "an older output"
    anns[0]["preference"] = None
    path.write_text(json.dumps(anns))
    res = load_model(results, "m")
    assert res.wins == {}
    assert res.n_unlabeled == 2


def test_align_drops_and_counts_missing(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    loaded = load_models(results, ["good", "bad", "worse"])
    ens = align(list(loaded.values()))
    assert ens.models == ["good", "bad", "worse"]
    assert ens.n_dropped == 1
    assert ens.dropped == [QUESTIONS[-1]]
    assert ens.instructions == QUESTIONS[:-1]
    np.testing.assert_allclose(ens.wins[0], [0.9, 0.1, 0.0])
    assert ens.outputs[0][0] == "The capital of France is Paris."


def test_limit_takes_the_first_instructions_of_a_shared_order(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    loaded = load_models(results, ["good", "good2", "bad", "worse"])
    order = instruction_order(list(loaded.values()))
    assert order == QUESTIONS
    ens = align([loaded["good"], loaded["bad"], loaded["good2"]], order=order, limit=2)
    assert ens.instructions == QUESTIONS[:2]
    assert ens.n_dropped == 0
    with pytest.raises(ValueError, match="positive int"):
        align([loaded["good"]], limit=0)


def test_unknown_model_lists_the_available_ones(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    with pytest.raises(ValueError, match=r"unknown model 'nope'.*bad, good, good2, worse"):
        load_model(results, "nope")


def test_missing_annotator_folder(tmp_path: Path) -> None:
    results = make_results(tmp_path)
    (results / "good" / ANNOTATOR / "annotations.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"no weighted_alpaca_eval_gpt4_turbo annotations"):
        load_model(results, "good")
    with pytest.raises(FileNotFoundError, match="Annotator folders present: none"):
        load_model(results, "good")


def test_missing_results_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_models(tmp_path / "absent")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[{", r"not valid JSON \(line 1"),
        ('{"a": 1}', "must hold a JSON list"),
        ("[1, 2]", "item 0 must be a JSON object"),
        ('[{"output": "x"}]', "item 0 has no string 'instruction'"),
        ('[{"instruction": "q", "output": 3}]', "'output' must be a string or null"),
    ],
)
def test_malformed_outputs_file(tmp_path: Path, content: str, message: str) -> None:
    results = make_results(tmp_path)
    (results / "good" / "model_outputs.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_model(results, "good")


@pytest.mark.parametrize(
    ("pref", "message"),
    [(2.5, r"outside \[1, 2\]"), ("high", "must be a number"), (True, "must be a number")],
)
def test_bad_preference(tmp_path: Path, pref: object, message: str) -> None:
    results = tmp_path / "results"
    write_model(results, "m", [("q1", "a", 1.5)])
    path = results / "m" / ANNOTATOR / "annotations.json"
    anns = json.loads(path.read_text())
    anns[0]["preference"] = pref
    path.write_text(json.dumps(anns))
    with pytest.raises(ValueError, match=message):
        load_model(results, "m")
