"""Reading <task>/<model>.jsonl[.gz]: alignment, limits, missing outputs, bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from smoothie_core.evaluation import GenerationsData, load_pools_file, read_generations
from tests.unit.evaluation.layout import simple, specialists, write_file


def test_tasks_models_and_gz_or_plain(tmp_path: Path) -> None:
    specialists(tmp_path / "gz", n=4)
    specialists(tmp_path / "plain", n=4, gz=False)
    for root in (tmp_path / "gz", tmp_path / "plain"):
        data = GenerationsData(root)
        assert data.tasks == ["alpha", "beta"]
        assert data.models() == ["a1", "a2", "b1", "b2"]
        pool = data.pool(["a1", "b1", "b2"], name="p")
        assert pool.n_inputs == 8 and pool.task_names() == ["alpha", "beta"]
        assert pool.tasks == ["alpha"] * 4 + ["beta"] * 4
        assert pool.ids[:2] == ["alpha-0", "alpha-1"]
        np.testing.assert_array_equal(pool.labels[:4], [[1, 0, 0]] * 4)
        np.testing.assert_array_equal(pool.labels[4:], [[0, 1, 1]] * 4)
    assert GenerationsData(tmp_path / "gz", tasks=["beta"]).tasks == ["beta"]


def test_limit_per_task_keeps_the_first_prompts_in_file_order(tmp_path: Path) -> None:
    specialists(tmp_path, n=10)
    pool = GenerationsData(tmp_path).pool(["a1", "a2", "b1"], name="p", limit_per_task=3)
    assert pool.ids == ["alpha-0", "alpha-1", "alpha-2", "beta-0", "beta-1", "beta-2"]
    assert pool.n_dropped == {"alpha": 0, "beta": 0}
    with pytest.raises(ValueError, match="`limit_per_task` must be a positive int; got 0"):
        GenerationsData(tmp_path).pool(["a1", "a2", "b1"], name="p", limit_per_task=0)


def test_missing_output_or_label_drops_the_prompt_for_that_pool_only(tmp_path: Path) -> None:
    simple(
        tmp_path,
        {"a": [1, 1, 1, 1], "b": [0, None, 0, 0], "c": [1, 0, 1, 0], "d": [0, 0, 0, 1]},
        outputs={"c": ["x", "y", None, "z"]},
    )
    data = GenerationsData(tmp_path)
    with_bc = data.pool(["a", "b", "c"], name="p")
    assert with_bc.ids == ["0", "3"] and with_bc.n_dropped == {"t": 2}
    without = data.pool(["a", "c", "d"], name="q")
    assert without.ids == ["0", "1", "3"] and without.n_dropped == {"t": 1}
    limited = data.pool(["a", "b", "c"], name="p", limit_per_task=2)
    assert limited.ids == ["0"] and limited.n_dropped == {"t": 1}


def test_real_valued_and_boolean_labels(tmp_path: Path) -> None:
    simple(tmp_path, {"a": [0.25, 0.75], "b": [True, False], "c": [0.5, float("nan")]})
    pool = GenerationsData(tmp_path).pool(["a", "b", "c"], name="p")
    np.testing.assert_array_equal(pool.labels, [[0.25, 1.0, 0.5]])  # NaN = unlabelled


def test_task_without_a_file_for_a_member_is_skipped(tmp_path: Path) -> None:
    specialists(tmp_path, n=3)
    (tmp_path / "beta" / "b2.jsonl.gz").unlink()
    pool = GenerationsData(tmp_path).pool(["a1", "a2", "b2"], name="p")
    assert pool.task_names() == ["alpha"] and pool.skipped_tasks == ["beta"]


ROW = {"id": "q1", "input": "2+2?", "output": "4", "reference": "4", "label": 1}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([json.dumps(ROW), '{"id": "q2", "input": '], "line 2: not valid JSON"),
        (["[1, 2]"], "line 1: expected a JSON object; got list"),
        (
            [json.dumps({k: v for k, v in ROW.items() if k != "label"})],
            "line 1: missing field 'label'",
        ),
        (
            [json.dumps({**ROW, "label": "yes"})],
            "line 1: 'label' must be a number (0/1 or a real-valued",
        ),
        ([json.dumps({**ROW, "label": float("inf")})], "line 1: 'label' must be finite"),
        ([json.dumps(ROW), "", json.dumps(ROW)], "line 3: duplicate id 'q1' (first on line 1)"),
        ([json.dumps({**ROW, "id": [1]})], "line 1: 'id' must be a string or an integer"),
        ([json.dumps({**ROW, "input": None})], "line 1: 'input' must be a string; got NoneType"),
        ([json.dumps({**ROW, "output": 4})], "line 1: 'output' must be a string or null; got int"),
    ],
)
def test_bad_lines_name_the_file_the_line_and_what_was_expected(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    path = tmp_path / "t" / "m.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, {message}")):
        read_generations(path)


def test_mismatched_ids_across_models_of_a_task(tmp_path: Path) -> None:
    rows = [{**ROW, "id": f"q{i}"} for i in range(3)]
    write_file(tmp_path / "t" / "a.jsonl", rows)
    write_file(tmp_path / "t" / "b.jsonl", [rows[0], rows[2], rows[1]])
    write_file(tmp_path / "t" / "c.jsonl", rows[:2])
    data = GenerationsData(tmp_path)
    a, b, c = (tmp_path / "t" / f"{m}.jsonl" for m in "abc")
    with pytest.raises(ValueError, match="same ids in the same order") as err:
        data.pool(["a", "b", "c"], name="p")
    assert str(err.value).startswith(f"{b}, line 2: id 'q2', but {a}, line 2 has id 'q1'")
    with pytest.raises(ValueError, match=re.escape(f"{a} has 3 prompts but {c} has 2")):
        GenerationsData(tmp_path).pool(["c", "a", "b"], name="p")


def test_unreadable_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t" / "m.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=re.escape(f"cannot read {path}")):
        read_generations(path)


def test_folder_and_pool_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; expected a folder holding"):
        GenerationsData(tmp_path / "nope")
    (tmp_path / "empty" / "t").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no task folder"):
        GenerationsData(tmp_path / "empty")
    specialists(tmp_path / "d", n=2)
    with pytest.raises(ValueError, match=r"unknown task\(s\) 'gamma'.*tasks found: alpha, beta"):
        GenerationsData(tmp_path / "d", tasks=["gamma"])
    data = GenerationsData(tmp_path / "d")
    with pytest.raises(ValueError, match="at least 3 model names"):
        data.pool(["a1", "b1"], name="p")
    with pytest.raises(ValueError, match="distinct models"):
        data.pool(["a1", "b1", "a1"], name="p")
    with pytest.raises(ValueError, match=r"unknown model\(s\) 'zz'.*Models found: a1, a2, b1, b2"):
        data.pool(["a1", "b1", "zz"], name="p")
    write_file(tmp_path / "d" / "alpha" / "a1.jsonl", [ROW])
    with pytest.raises(ValueError, match=re.escape("holds both a1.jsonl and a1.jsonl.gz")):
        GenerationsData(tmp_path / "d")


def test_no_usable_prompt(tmp_path: Path) -> None:
    simple(tmp_path, {"a": [1, None], "b": [None, 1], "c": [1, 1]})
    with pytest.raises(
        ValueError, match="has no prompt where every member has an output and a label"
    ):
        GenerationsData(tmp_path).pool(["a", "b", "c"], name="p")


def test_pools_file(tmp_path: Path) -> None:
    path = tmp_path / "pools.json"
    path.write_text(json.dumps([{"name": "mine", "models": ["a", "b", "c"]}, ["d", "e", "f"]]))
    assert load_pools_file(path) == [("mine", ["a", "b", "c"]), ("pool_1", ["d", "e", "f"])]
    for bad, message in [
        ("[[", "is not valid JSON"),
        ("{}", "must hold a non-empty JSON list of pools"),
        ('[{"name": "x"}]', "pool 0 must be"),
        ('[["a", 1, "c"]]', "pool 0 must be"),
        ('[{"name": "x", "models": ["a"]}, {"name": "x", "models": ["b"]}]', "must be distinct"),
    ]:
        path.write_text(bad)
        with pytest.raises(ValueError, match=re.escape(message)):
            load_pools_file(path)
    with pytest.raises(FileNotFoundError, match=r"pools file .* does not exist"):
        load_pools_file(tmp_path / "missing.json")
