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
        # the default scorer (answer agreement) learns over the whole file
        assert r["n_neighbors"] == len(QUESTIONS)
    assert _run(tmp_path, inputs, cands, "--scorer", "consensus") == 0
    assert all(r["n_neighbors"] == 1 for r in _read(tmp_path))  # each input alone
    assert _run(tmp_path, inputs, cands, "--scorer", "nope") == 2


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


# --------------------------------------------------------------------------------------
# --out rules (issue 15, item 2) and input handling (items 5 and 10)
# --------------------------------------------------------------------------------------
import os  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402

from smoothie_core.cli import _select  # noqa: E402


def _main(tmp_path: Path, inputs: Path, cands: list[Path], out: str, *extra: str) -> int:
    return main(
        ["select", "--inputs", str(inputs), "--candidates", *map(str, cands), "--out", out,
         "--embedder", "hashing", "--cache-dir", str(tmp_path / "cache"), "--quiet", *extra]
    )  # fmt: skip


def test_out_equal_to_an_input_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, cands = _files(tmp_path)
    link = tmp_path / "link.jsonl"
    link.symlink_to(cands[2])
    before = {p: p.read_bytes() for p in [inputs, *cands]}
    for out in (inputs, cands[1], link, tmp_path / "." / cands[0].name):
        assert _main(tmp_path, inputs, cands, str(out)) == 2
        err = _err(capsys)
        assert "Refusing to write" in err and "it is the input file" in err
    assert {p: p.read_bytes() for p in [inputs, *cands]} == before
    assert not (tmp_path / "cache").exists()  # refused before embedding anything


def test_out_directory_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs, cands = _files(tmp_path)
    folder = tmp_path / "results"
    folder.mkdir()
    assert _main(tmp_path, inputs, cands, str(folder)) == 2
    assert "is a directory" in _err(capsys)
    assert list(folder.iterdir()) == []
    assert not (tmp_path / "results.tmp").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_out_dash_puts_only_json_lines_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs, cands = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _main(tmp_path, inputs, cands, "-") == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert "selected per candidate" in err and "wrote 4 lines to standard output" in err
    assert not (tmp_path / "-").exists()


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout")
def test_out_dev_stdout_streams_and_keeps_the_link(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    was_link = os.path.islink("/dev/stdout")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "smoothie_core.cli", "select", "--inputs", str(inputs),
             "--candidates", *map(str, cands), "--out", "/dev/stdout", "--embedder", "hashing",
             "--no-cache", "--quiet"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(rows) == 4
        assert "selected per candidate" in proc.stderr
        assert os.path.islink("/dev/stdout") == was_link
    finally:  # had it been replaced (as root, by the old code), put the link back
        if was_link and not os.path.islink("/dev/stdout"):  # pragma: no cover
            os.unlink("/dev/stdout")
            os.symlink("/proc/self/fd/1", "/dev/stdout")


def test_out_is_0600_and_a_symlinked_out_is_replaced(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("untouched\n")
    elsewhere.chmod(0o644)
    out = tmp_path / "out.jsonl"
    out.symlink_to(elsewhere)
    assert _main(tmp_path, inputs, cands, str(out)) == 0
    assert not out.is_symlink()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert elsewhere.read_text() == "untouched\n"
    assert len(_read(tmp_path)) == 4


class _SlowJson:
    """json with a slow dumps, so that two concurrent runs overlap while writing."""

    def __getattr__(self, name: str) -> object:
        return getattr(json, name)

    @staticmethod
    def dumps(obj: object, **kwargs: object) -> str:
        threading.Event().wait(0.003)
        return json.dumps(obj, **kwargs)  # type: ignore[arg-type]


def test_two_concurrent_runs_with_the_same_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = [f"question number {i} about topic {i % 7}" for i in range(60)]
    inputs = _write(tmp_path / "inputs.jsonl", [{"input": q} for q in questions])
    cands = [
        _write(tmp_path / f"m{j}.jsonl", [{"output": f"answer {i} from {j} " * (j + 1)}
                                          for i in range(60)])
        for j in range(3)
    ]  # fmt: skip
    monkeypatch.setattr(_select, "json", _SlowJson())
    codes: list[int] = []

    def run() -> None:
        codes.append(_main(tmp_path, inputs, cands, str(tmp_path / "out.jsonl"), "--no-cache"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0, 0]
    rows = _read(tmp_path)
    assert [r["index"] for r in rows] == list(range(60))  # complete, not interleaved
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("k", ["1", "3"])
def test_a_line_where_every_candidate_failed_is_recorded(tmp_path: Path, k: str) -> None:
    inputs, cands = _files(tmp_path)
    for j, path in enumerate(cands):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        rows[2]["output"] = [None, "", "  \n\t", None][j]
        _write(path, rows)
    assert _run(tmp_path, inputs, cands, "--k", k) == 0
    out = _read(tmp_path)
    assert [r["index"] for r in out] == [0, 1, 2, 3]
    dead = out[2]
    assert dead["selected"] is None and dead["text"] is None and dead["weights"] == {}
    assert dead["failed"] == list(ANSWERS)
    assert dead["errors"] == {
        "model-a": "no answer (null)",
        "model-b": "empty answer (only whitespace)",
        "model-c": "empty answer (only whitespace)",
        "weak": "no answer (null)",
    }
    assert "every candidate failed" in str(dead["fallback"])
    assert dead["n_neighbors"] == 0
    assert all(r["selected"] in ANSWERS for i, r in enumerate(out) if i != 2)


def test_empty_answers_count_as_failed(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    for j, path in enumerate(cands):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        if j < 2:  # model-a and model-b answer "" / whitespace on every input
            for row in rows:
                row["output"] = "" if j == 0 else " \n "
        _write(path, rows)
    assert _run(tmp_path, inputs, cands) == 0
    for r in _read(tmp_path):
        assert r["selected"] in ("model-c", "weak")
        assert r["failed"] == ["model-a", "model-b"]
        assert r["errors"]["model-a"] == "empty answer (only whitespace)"
        assert set(r["weights"]) <= {"model-c", "weak"}
        assert str(r["text"]).strip()


def test_unicode_line_separators_inside_strings_and_crlf(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    tricky = "first\u2028second\u0085third\u2029fourth\x1c\x1d\x1e end"
    rows = [{"input": q} for q in QUESTIONS]
    rows[1]["input"] = tricky
    inputs.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows), encoding="utf-8"
    )
    assert _run(tmp_path, inputs, cands) == 0
    out = _read(tmp_path)  # str.splitlines: the separators are written escaped
    assert len(out) == 4 and out[1]["input"] == tricky
    raw = (tmp_path / "out.jsonl").read_text(encoding="utf-8")
    assert "\\u2028" in raw and "\u2028" not in raw and "\x85" not in raw


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"output": "café"}\n{"output": "naïve"}\n'.encode("latin-1"), ":1: not UTF-8 text"),
        (b'{"output": "ok"}\n\x89PNG\r\n\x1a\n\x00\x00', ":2: not UTF-8 text"),
    ],
)
def test_non_utf8_files_name_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, where: str
) -> None:
    inputs, cands = _files(tmp_path)
    cands[1].write_bytes(content)
    assert _run(tmp_path, inputs, cands) == 2
    err = _err(capsys)
    assert f"{cands[1]}{where}" in err
    assert "expected UTF-8 JSON Lines" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_nul_bytes_are_reported_as_invalid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, cands = _files(tmp_path)
    cands[0].write_bytes(b'{"output": "a"}\n\x00\x00\x00\n')
    assert _run(tmp_path, inputs, cands) == 2
    assert f"{cands[0]}:2: not valid JSON" in _err(capsys)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    inputs.write_bytes(b"\xef\xbb\xbf" + inputs.read_bytes())
    assert _run(tmp_path, inputs, cands) == 0
    assert _read(tmp_path)[0]["input"] == QUESTIONS[0]


def test_damaged_embedding_cache_is_not_a_traceback(tmp_path: Path) -> None:
    inputs, cands = _files(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "embeddings.sqlite3").write_bytes(b"\x00garbage" * 64)
    with pytest.warns(RuntimeWarning, match="embedding cache .* cannot be used"):
        assert _run(tmp_path, inputs, cands) == 0
    assert len(_read(tmp_path)) == 4
