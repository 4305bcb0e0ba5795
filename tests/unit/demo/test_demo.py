"""``smoothie demo`` logic with scripted fake chat models (the demo extra is not needed)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from langchain_smoothie import ScriptedChatModel
from smoothie_core import HashingEmbedder
from smoothie_core.cli import main
from smoothie_demo import QUESTIONS, Question, load_questions, run_demo
from smoothie_demo.cli import parse_model_specs

GOOD = {
    "capital": "The capital of Australia is Canberra.",
    "17": "17 * 3 + 9 = 60.",
    "library": "The council will build a new downtown library, starting next spring.",
    "polite": "Could you please send me the report by tomorrow?",
}


def _pool(*, failing: str | None = None) -> dict[str, ScriptedChatModel]:
    """Two models that agree on the right answers, one that rambles off topic."""
    models = {
        "good-a": ScriptedChatModel(
            model_name="good-a", answers=GOOD, default_answer="Canberra is the capital."
        ),
        "good-b": ScriptedChatModel(
            model_name="good-b",
            answers={k: v.replace(".", "!") for k, v in GOOD.items()},
            default_answer="Canberra is the capital!",
        ),
        "weak": ScriptedChatModel(
            model_name="weak", default_answer="Bananas are yellow and full of potassium."
        ),
    }
    if failing:
        models["flaky"] = ScriptedChatModel(model_name="flaky", answers=GOOD, fail_on=[failing])
    return models


QS = [
    Question("fact", "What is the capital of Australia?"),
    Question("arithmetic", "What is 17 * 3 + 9?"),
    Question("summary", "Summarise: the council will build a library."),
    Question("rewrite", "Rewrite politely: send the report."),
]


def _run(models, questions=QS, **kwargs):
    out = io.StringIO()
    report = run_demo(
        models, questions, embedder=HashingEmbedder(dim=256), out=out, progress=False, **kwargs
    )
    return report, out.getvalue()


def test_builtin_question_set() -> None:
    assert len(QUESTIONS) == 12
    tasks = [q.task for q in QUESTIONS]
    assert {t: tasks.count(t) for t in set(tasks)} == {
        "fact": 3,
        "arithmetic": 3,
        "summary": 3,
        "rewrite": 3,
    }
    assert {q.task for q in QUESTIONS[:6]} == {
        q.task for q in QUESTIONS[6:]
    }  # both halves mix tasks
    assert len({q.text for q in QUESTIONS}) == 12


def test_select_mode_shows_every_answer_weights_and_choice() -> None:
    models = _pool()
    report, text = _run(models, mode="select")
    assert [r.selected for r in report.select_rows] != ["weak"] * 4
    assert all(r.selected in {"good-a", "good-b"} for r in report.select_rows)
    for row in report.select_rows:
        assert set(row.answers) == {"good-a", "good-b", "weak"}
        assert sum(row.weights.values()) == pytest.approx(1.0)
        assert row.weights["weak"] < min(row.weights["good-a"], row.weights["good-b"])
    assert all(m.call_count == len(QS) for m in models.values())
    assert report.model_calls == {"good-a": 4, "good-b": 4, "weak": 4}
    assert "[1/4] fact: What is the capital of Australia?" in text
    assert text.count("<- selected") == len(QS)
    assert "Bananas are yellow" in text and "Could you please send me the report" in text
    assert "select mode summary (4 questions, 12 model calls" in text
    assert report.route_rows == []
    # Smoothie-Local online: later questions are scored with their nearest earlier ones
    assert [r.n_neighbors for r in report.select_rows] == [1, 2, 3, 3]
    alone, _ = _run(_pool(), mode="select", n_neighbors=None)
    assert [r.n_neighbors for r in alone.select_rows] == [1, 1, 1, 1]


def test_both_modes_route_with_one_call_each_reusing_select_answers() -> None:
    models = _pool()
    report, text = _run(models, mode="both", n_neighbors=1)
    # select: 4 calls per model; route calibrates on select's answers (no calls), then
    # answers the 2 questions of the second half with exactly one call each.
    assert sum(m.call_count for m in models.values()) == 3 * 4 + 2
    assert report.calibration_questions == 2
    assert [r.question for r in report.route_rows] == QS[2:]
    assert all(r.calls == 1 and r.called in {"good-a", "good-b"} for r in report.route_rows)
    route_calls = sorted((c, n) for n, m in models.items() for c in m.calls[len(QS) :])
    assert route_calls == sorted((r.question.text, r.called) for r in report.route_rows)
    for row in report.route_rows:
        assert row.answer == models[row.called].invoke(row.question.text).content
    assert "reusing select mode's answers: no new model calls" in text
    assert "route mode: 2 questions answered with 2 model calls (select mode would make 6)" in text
    assert "select picked" in text
    header = next(line for line in text.splitlines() if line.startswith("#  task"))
    assert header.split() == [
        "#",
        "task",
        "question",
        "weights",
        "(good-a",
        "good-b",
        "weak)",
        "called",
        "select",
        "picked",
        "answer",
    ]
    row = next(line for line in text.splitlines() if line.startswith("3  "))
    assert row.split()[1] == "summary" and report.route_rows[0].called in row


def test_route_only_calibrates_with_calls() -> None:
    models = _pool()
    report, text = _run(models, mode="route", n_neighbors=None)
    assert sum(m.call_count for m in models.values()) == 3 * 2 + 2
    assert report.select_rows == []
    assert "Smoothie-Global" in text and "select picked" not in text
    assert "calibrated on 2 of 2 questions (6 model calls)" in text
    assert len({r.called for r in report.route_rows}) == 1  # global: one choice for all


def test_a_failing_model_loses_no_other_answer() -> None:
    models = _pool(failing="capital")
    report, text = _run(models, mode="both")
    first = report.select_rows[0]
    assert first.answers["flaky"] is None
    assert "flaky" in first.errors
    assert first.answers["good-a"] == GOOD["capital"]
    assert first.selected in {"good-a", "good-b"}
    assert "(failed: RuntimeError" in text
    assert report.select_rows[1].answers["flaky"] is not None
    # the failed question cannot calibrate (it lacks an answer); route mode still works
    assert len(report.route_rows) == 2


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="`mode` must be 'select', 'route' or 'both'"):
        _run(_pool(), mode="fast")
    with pytest.raises(ValueError, match="needs at least 2 questions, got 1"):
        _run(_pool(), QS[:1], mode="route")
    with pytest.raises(ValueError, match="at least one question"):
        _run(_pool(), [], mode="select")


def test_load_questions_formats(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text(json.dumps(["A?", {"question": "B?", "task": "fact"}]))
    assert load_questions(tmp_path / "q.json") == [Question("custom", "A?"), Question("fact", "B?")]
    (tmp_path / "q.jsonl").write_text('"A?"\n\n{"question": "B?"}\n')
    assert [q.text for q in load_questions(tmp_path / "q.jsonl")] == ["A?", "B?"]
    (tmp_path / "bad.json").write_text('{"question": "A?"}')
    with pytest.raises(ValueError, match="expected a JSON list of questions; got dict"):
        load_questions(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text('[{"q": 1}]')
    with pytest.raises(
        ValueError, match='question 1 must be a non-empty string or an object with a "question"'
    ):
        load_questions(tmp_path / "bad2.json")
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ValueError, match="holds no questions"):
        load_questions(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="Questions file not found"):
        load_questions(tmp_path / "missing.txt")


# ---------------------------------------------------------------------- CLI / --models
def test_models_needs_three() -> None:
    with pytest.raises(
        ValueError, match=r"at least 3 chat models .* got 2: \['openai:a', 'openai:b'\]"
    ):
        parse_model_specs(["openai:a,openai:b"])
    with pytest.raises(ValueError, match=r"lists \['x:a'\] more than once"):
        parse_model_specs(["x:a", "x:a", "x:b"])
    with pytest.raises(ValueError, match="Unknown local model 'gpt9'"):
        parse_model_specs(["local:gpt9", "x:a", "x:b"])


def test_models_without_langchain_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    with pytest.raises(ValueError, match=r"needs the `langchain` package .*init_chat_model"):
        parse_model_specs(["openai:a", "openai:b", "ollama:c"])


def test_models_bad_spec_names_it() -> None:
    with pytest.raises(
        ValueError, match=r"could not create a chat model from 'no-such-provider-xyz:m'"
    ):
        parse_model_specs(
            ["no-such-provider-xyz:m", "no-such-provider-xyz:n", "no-such-provider-xyz:o"]
        )


def test_cli_errors_exit_2(capsys, monkeypatch, tmp_path: Path) -> None:
    assert main(["demo", "--models", "a:x", "b:y"]) == 2
    assert "smoothie: error: --models needs at least 3 chat models" in capsys.readouterr().err
    assert (
        main(["demo", "--questions", str(tmp_path / "nope.txt"), "--models", "a:x", "b:y", "c:z"])
        == 2
    )
    assert "Questions file not found" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    assert main(["demo", "--embedder", "hashing"]) == 2
    err = capsys.readouterr().err
    assert "need llama-cpp-python (the `demo` extra)" in err and "--models" in err
    assert main(["demo", "--max-tokens", "0", "--models", "a:x", "b:y", "c:z"]) == 2
    assert "--max-tokens must be a positive integer" in capsys.readouterr().err


def test_cli_help_lists_the_flags(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--models", "--max-tokens", "--questions", "--mode"):
        assert flag in out


def test_cli_runs_user_models_end_to_end(capsys, monkeypatch, tmp_path: Path) -> None:
    pool = _pool()
    made: list[tuple[str, dict]] = []

    def fake_init_chat_model(spec: str, **kwargs):
        made.append((spec, kwargs))
        return pool[spec.split(":", 1)[1]]

    import langchain.chat_models

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fake_init_chat_model)
    qfile = tmp_path / "q.txt"
    qfile.write_text("\n".join(q.text for q in QS))
    argv = ["demo", "--models", "fake:good-a,fake:good-b", "fake:weak", "--embedder", "hashing"]
    code = main([*argv, "--questions", str(qfile), "--max-tokens", "32", "--no-progress"])
    assert code == 0
    assert made == [(f"fake:{n}", {"max_tokens": 32}) for n in ("good-a", "good-b", "weak")]
    out = capsys.readouterr().out
    assert "models: fake:good-a, fake:good-b, fake:weak" in out
    assert "== select mode" in out and "== route mode" in out
    assert "total time:" in out and "14 model calls" in out


def test_models_bad_spec_fails_before_loading_local_models(monkeypatch) -> None:
    from smoothie_demo import cli

    def no_loading(*args, **kwargs):
        raise AssertionError("local models loaded before the other specs were checked")

    monkeypatch.setattr(cli, "build_local_models", no_loading)
    with pytest.raises(
        ValueError, match=r"could not create a chat model from 'no-such-provider-xyz:m'"
    ):
        parse_model_specs(["no-such-provider-xyz:m", "local:qwen-0.5b", "local:smollm2-135m"])


def test_tables_report_acceptable_answers_next_to_each_single_model() -> None:
    checked = [
        Question("fact", "What is the capital of Australia?", accept=("canberra",)),
        Question("arithmetic", "What is 17 * 3 + 9?", number="60"),
        Question("summary", "Summarise: the council will build a library.", accept=("library",)),
        Question("rewrite", "Rewrite politely: send the report.", accept=("please", "report")),
    ]
    _report, text = _run(_pool(), questions=checked, mode="both", n_neighbors=1)
    assert "Smoothie's pick 4/4; always good-a 4/4; always good-b 4/4; always weak 0/4" in text
    assert "route mode's answer 2/2; always good-a 2/2; always good-b 2/2; always weak 0/2" in text
    assert "select mode's pick 2/2" in text
    _, plain = _run(_pool(), mode="select")  # questions without checks: no such line
    assert "acceptable answers" not in plain
