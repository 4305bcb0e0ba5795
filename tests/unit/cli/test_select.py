"""``smoothie select`` over JSON Lines files: selection, formats, error paths with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smoothie_core.cli import main

QUESTIONS = [
    "What is the capital of France?",
    "Who wrote Romeo and Juliet?",
    "What is 12 times 12?",
    "Name a primary colour.",
]
ANSWERS = {
    "model-a": ["The capital of France is Paris.", "William Shakespeare wrote Romeo and Juliet.",
                "12 times 12 is 144.", "Red is a primary colour."],
    "model-b": ["Paris is the capital city of France.", "Romeo and Juliet was written by Shakespeare.",
                "12 x 12 = 144.", "Blue is a primary colour."],
    "model-c": ["France's capital is Paris.", "Shakespeare is the author of Romeo and Juliet.",
                "The product of 12 and 12 is 144.", "A primary colour is red."],
    "weak": ["I like turtles and sunny afternoons.", "Juliet is a popular name for girls.",
             "Twelve is a dozen, like eggs in a carton.", "The weather today is cloudy."],
}  # fmt: skip


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _files(tmp_path: Path) -> tuple[Path, list[Path]]:
    inputs = _write(tmp_path / "inputs.jsonl", [{"input": q} for q in QUESTIONS])
    cands = [
        _write(tmp_path / f"{n}.jsonl", [{"output": t} for t in texts])
        for n, texts in ANSWERS.items()
    ]
    return inputs, cands


def _run(tmp_path: Path, inputs: Path, cands: list[Path], *extra: str) -> int:
    return main(
        ["select", "--inputs", str(inputs), "--candidates", *map(str, cands),
         "--out", str(tmp_path / "out.jsonl"), "--embedder", "hashing",
         "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra]
    )  # fmt: skip


def _read(tmp_path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]


def test_selects_and_writes_one_line_per_input(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, cands) == 0
    out = _read(tmp_path)
    assert [r["index"] for r in out] == [0, 1, 2, 3]
    assert [r["input"] for r in out] == QUESTIONS
    for i, r in enumerate(out):
        assert r["selected"] != "weak"
        assert r["text"] == ANSWERS[str(r["selected"])][i]
        weights = r["weights"]
        assert isinstance(weights, dict)
        assert set(weights) == set(ANSWERS)
        assert sum(weights.values()) == pytest.approx(1.0)
        assert r["n_neighbors"] == 1


def test_local_k_uses_the_batch(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, cands, "--k", "3") == 0
    out = _read(tmp_path)
    assert all(r["n_neighbors"] == 3 for r in out)
    assert all(r["selected"] != "weak" for r in out)


def test_failed_candidate_and_names_and_keys(tmp_path: Path) -> None:
    inputs = _write(tmp_path / "in.jsonl", [{"prompt": q} for q in QUESTIONS])
    cands = []
    for j, texts in enumerate(ANSWERS.values()):
        rows = [{"text": None if (j == 0 and i == 1) else t} for i, t in enumerate(texts)]
        cands.append(_write(tmp_path / f"file{j}.jsonl", rows))
    rc = _run(
        tmp_path, inputs, cands, "--names", ",".join(ANSWERS), "--input-key", "prompt",
        "--text-key", "text", "--k", "2",
    )  # fmt: skip
    assert rc == 0
    out = _read(tmp_path)
    assert out[1]["failed"] == ["model-a"]
    assert "model-a" not in out[1]["weights"]  # type: ignore[operator]
    assert out[1]["n_neighbors"] == 1  # scored on its own: the pool needs every answer
    assert out[0]["n_neighbors"] == 2
    assert set(out[0]["weights"]) == set(ANSWERS)  # type: ignore[arg-type]


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("smoothie: error:"), err
    return err


def test_bad_json_line_reports_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, cands = _files(tmp_path)
    lines = cands[1].read_text().splitlines()
    lines[2] = '{"output": "unterminated'
    cands[1].write_text("\n".join(lines) + "\n")
    assert _run(tmp_path, inputs, cands) == 2
    assert f"{cands[1]}:3: not valid JSON" in _err(capsys)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"other": "x"}', ":2: expected a JSON object with the key 'output'; got ['other']"),
        ('["x"]', ":2: expected a JSON object with the key 'output'; got list"),
        ('{"output": 3}', ":2: 'output' must be a string or null; got int"),
        ("", ":2: empty line"),
    ],
)
def test_bad_candidate_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    inputs, cands = _files(tmp_path)
    lines = cands[0].read_text().splitlines()
    lines[1] = line
    cands[0].write_text("\n".join(lines) + "\n")
    assert _run(tmp_path, inputs, cands) == 2
    assert message in _err(capsys)


def test_null_input_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    _write(inputs, [{"input": None}] * 4)
    assert _run(tmp_path, inputs, cands) == 2
    assert ":1: 'input' must be a string; got NoneType" in _err(capsys)


def test_line_count_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    _write(cands[2], [{"output": "x"}])
    assert _run(tmp_path, inputs, cands) == 2
    assert "has 1 lines but" in _err(capsys)


def test_fewer_than_three_candidates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, cands[:2]) == 2
    assert "at least 3 candidate files" in _err(capsys)


def test_names_must_match_and_be_distinct(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, cands, "--names", "a,b") == 2
    assert "--names lists 2 names for 4 candidate files" in _err(capsys)
    assert _run(tmp_path, inputs, cands, "--names", "a,a,b,c") == 2
    assert "must be distinct" in _err(capsys)


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, [*cands[:2], tmp_path / "absent.jsonl"]) == 2
    assert "absent.jsonl does not exist" in _err(capsys)


def test_bad_k(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    assert _run(tmp_path, inputs, cands, "--k", "0") == 2
    assert "--k must be a positive int" in _err(capsys)
