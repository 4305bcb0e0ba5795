"""Run the demo: select mode over every question, then route mode, printed as tables.

Works with any LangChain chat models (the CLI passes the local GGUF pool or the user's
``--models``); all routing goes through :class:`langchain_smoothie.SmoothieRouter`.
Candidates are called one at a time (``max_concurrency=1``): local models share the
CPU, and two generations at once would only slow both down.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import LLMResult
from langchain_core.runnables import RunnableConfig

from langchain_smoothie.chat_models import SmoothieRouter
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.embedders import Embedder
from smoothie_core.tables import format_table
from smoothie_demo.questions import SYSTEM_PROMPT, Question, acceptable

__all__ = ["DemoReport", "RouteRow", "SelectRow", "run_demo"]

Mode = Literal["select", "route", "both"]


@dataclass
class SelectRow:
    """Select mode on one question: every candidate's answer and Smoothie's choice."""

    question: Question
    answers: dict[str, str | None]
    errors: dict[str, str]
    selected: str
    weights: dict[str, float]
    reliability: float | None
    fallback: str | None
    n_neighbors: int = 1
    concerns: list[str] = field(default_factory=list)


@dataclass
class RouteRow:
    """Route mode on one question: the weights, the one candidate called, its answer."""

    question: Question
    called: str
    answer: str
    weights: dict[str, float]
    calls: int
    failed: list[str]


@dataclass
class DemoReport:
    """What :func:`run_demo` did (also printed)."""

    candidates: list[str]
    select_rows: list[SelectRow] = field(default_factory=list)
    route_rows: list[RouteRow] = field(default_factory=list)
    calibration_questions: int = 0
    model_calls: dict[str, int] = field(default_factory=dict)
    model_seconds: dict[str, float] = field(default_factory=dict)
    output_tokens: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class _CandidateRecorder(BaseCallbackHandler):
    """Collects each candidate's answer, time and tokens from LangChain callbacks.

    Select mode calls candidates as child runs tagged with their name in
    ``metadata["smoothie_candidate"]``; route mode calls the winner inside the router's
    own run, so a run without that tag is credited to ``route_target``.
    """

    def __init__(self, report: DemoReport, bar: Any = None) -> None:
        self.report = report
        self.bar = bar
        self.route_target: str | None = None
        self.answers: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._runs: dict[UUID, tuple[str, float]] = {}

    def reset(self) -> None:
        self.answers, self.errors = {}, {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = (metadata or {}).get("smoothie_candidate") or self.route_target
        if name is not None:
            self._runs[run_id] = (name, time.perf_counter())

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id not in self._runs:
            return
        name, start = self._runs.pop(run_id)
        gen = response.generations[0][0]
        message = getattr(gen, "message", None)
        text = message.text if message is not None else gen.text
        usage = getattr(message, "usage_metadata", None) or {}
        self._account(name, start, int(usage.get("output_tokens", 0)))
        self.answers[name] = text.strip()

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id not in self._runs:
            return
        name, start = self._runs.pop(run_id)
        self._account(name, start, 0)
        self.errors[name] = f"{type(error).__name__}: {error}"

    def _account(self, name: str, start: float, tokens: int) -> None:
        r = self.report
        r.model_calls[name] = r.model_calls.get(name, 0) + 1
        r.model_seconds[name] = r.model_seconds.get(name, 0.0) + time.perf_counter() - start
        r.output_tokens[name] = r.output_tokens.get(name, 0) + tokens
        if self.bar is not None:
            self.bar.update(1)


def _messages(question: Question, system_prompt: str | None) -> list[BaseMessage]:
    head: list[BaseMessage] = [SystemMessage(system_prompt)] if system_prompt else []
    return [*head, HumanMessage(question.text)]


def _concerns(meta: Mapping[str, Any]) -> list[str]:
    """Names of the reliability checks that scored below 0.5 for a decision."""
    checks = (meta.get("diagnostics") or {}).get("checks") or {}
    return [name for name, v in checks.items() if isinstance(v, int | float) and v < 0.5]


def _ask_all(
    models: Mapping[str, BaseChatModel],
    question: Question,
    system_prompt: str | None,
    recorder: _CandidateRecorder,
    config: RunnableConfig,
) -> dict[str, str | None]:
    """Every model's answer to ``question`` (None when it fails), one call at a time."""
    recorder.reset()
    for name, model in models.items():
        try:
            model.invoke(
                _messages(question, system_prompt),
                config={**config, "metadata": {"smoothie_candidate": name}},
            )
        except Exception:  # recorded by the callback; the other answers still count
            continue
    return {name: recorder.answers.get(name) for name in models}


def _one_line(text: str | None, width: int) -> str:
    if text is None:
        return "(no answer)"
    flat = " ".join(text.split()) or "(empty answer)"
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _weights(weights: Mapping[str, float], names: Sequence[str]) -> str:
    return " ".join(f"{weights[n]:.2f}" if n in weights else "  - " for n in names)


def run_demo(
    models: Mapping[str, BaseChatModel],
    questions: Sequence[Question],
    *,
    mode: Mode = "both",
    embedder: Embedder | None = None,
    n_neighbors: int | None = 3,
    system_prompt: str | None = SYSTEM_PROMPT,
    out: TextIO | None = None,
    progress: bool = True,
    width: int = 90,
) -> DemoReport:
    """Run the demo over ``models`` on ``questions`` and print it to ``out``.

    **select**: every model answers every question (one at a time); the router scores
    the answers with Smoothie and returns the best; the table shows all answers, the
    weights and the choice. **route**: a router is calibrated on the first half of the
    questions (reusing select mode's answers when select ran, else calling every model
    on them) and answers each question of the second half with one model call.

    Parameters
    ----------
    models : dict of str to BaseChatModel
        At least 3 candidates, by name.
    questions : sequence of Question
        At least 1 for select, at least 2 for route.
    mode : {"select", "route", "both"}
    embedder : Embedder or None
        None: the offline all-MiniLM-L6-v2.
    n_neighbors : int or None, default=3
        Smoothie-Local neighbourhood. select mode: each question is scored together
        with its ``k - 1`` nearest earlier questions (the router's pool grows as
        questions are answered); route mode: the weights of the ``k`` nearest
        calibration questions are averaged (capped at the calibration size). None:
        select mode scores each question alone and route mode is Smoothie-Global (one
        choice for every question).
    system_prompt : str or None
    out : text file, default sys.stdout
    progress : bool
        Show tqdm progress bars (on stderr).

    Examples
    --------
    >>> import io
    >>> from langchain_smoothie import ScriptedChatModel
    >>> from smoothie_demo.questions import Question
    >>> from smoothie_core import HashingEmbedder
    >>> models = {n: ScriptedChatModel(model_name=n, default_answer=a) for n, a in
    ...           [("a", "Paris is the capital of France."),
    ...            ("b", "The capital of France is Paris."), ("c", "Bananas.")]}
    >>> qs = [Question("fact", "Capital of France?"), Question("fact", "Where is Paris?")]
    >>> report = run_demo(models, qs, mode="select", embedder=HashingEmbedder(),
    ...                   out=io.StringIO(), progress=False)
    >>> [row.selected in {"a", "b"} for row in report.select_rows]
    [True, True]
    """
    from tqdm.auto import tqdm

    stream = out if out is not None else sys.stdout
    names = list(models)
    questions = list(questions)
    if mode not in ("select", "route", "both"):
        raise ValueError(f"`mode` must be 'select', 'route' or 'both'; got {mode!r}.")
    if not questions:
        raise ValueError("The demo needs at least one question; got none.")
    if mode != "select" and len(questions) < 2:
        raise ValueError(
            f"Route mode calibrates on the first half of the questions and routes the second; "
            f"it needs at least 2 questions, got {len(questions)}."
        )
    report = DemoReport(candidates=names)
    recorder = _CandidateRecorder(report)
    config: RunnableConfig = {"callbacks": [recorder]}

    def say(text: str = "") -> None:
        tqdm.write(text, file=stream)

    with warnings.catch_warnings():
        # Each table shows the decision's reliability; no need to repeat it as a warning.
        warnings.simplefilter("ignore", ReliabilityWarning)
        if mode in ("select", "both"):
            start = time.perf_counter()
            say(
                f"== select mode: all {len(names)} models answer each question; Smoothie "
                "picks the best answer =="
            )
            # Smoothie-Local online: each question's statistic is averaged with its
            # nearest earlier questions (the pool grows as questions are answered).
            router = SmoothieRouter(
                models=dict(models),
                mode="select",
                embedder=embedder,
                max_concurrency=1,
                n_neighbors=n_neighbors,
                update_pool=n_neighbors is not None,
            )
            with tqdm(
                total=len(questions) * len(names),
                desc="select: model calls",
                unit="call",
                disable=not progress,
                file=sys.stderr,
            ) as bar:
                recorder.bar = bar
                for i, q in enumerate(questions, 1):
                    recorder.reset()
                    message = router.invoke(_messages(q, system_prompt), config=config)
                    meta = message.response_metadata["smoothie"]
                    answers: dict[str, str | None] = {n: recorder.answers.get(n) for n in names}
                    row = SelectRow(
                        question=q,
                        answers=answers,
                        errors={**recorder.errors, **meta.get("errors", {})},
                        selected=meta["selected"],
                        weights=dict(meta["weights"]),
                        reliability=meta.get("reliability"),
                        fallback=meta.get("fallback"),
                        n_neighbors=int(meta.get("n_neighbors", 1)),
                        concerns=_concerns(meta),
                    )
                    report.select_rows.append(row)
                    say(_select_block(i, len(questions), row, names, width))
                recorder.bar = None
            report.seconds["select"] = time.perf_counter() - start
            say(_select_summary(report, names))

        if mode in ("route", "both"):
            start = time.perf_counter()
            half = len(questions) // 2
            calib, rest = questions[:half], questions[half:]
            say()
            say(
                f"== route mode: calibrate on questions 1-{half}, then call only the "
                f"chosen model for questions {half + 1}-{len(questions)} =="
            )
            reuse = report.select_rows[:half]
            if len(reuse) == half:
                collected = [dict(r.answers) for r in reuse]
                how = "reusing select mode's answers: no new model calls"
            else:
                with tqdm(
                    total=half * len(names),
                    desc="route: calibration calls",
                    unit="call",
                    disable=not progress,
                    file=sys.stderr,
                ) as bar:
                    recorder.bar = bar
                    collected = [
                        _ask_all(models, q, system_prompt, recorder, config) for q in calib
                    ]
                    recorder.bar = None
                how = f"{half * len(names)} model calls"
            complete = sum(all(a is not None for a in row.values()) for row in collected)
            k = None if n_neighbors is None else max(1, min(n_neighbors, complete))
            router = SmoothieRouter(
                models=dict(models),
                mode="route",
                embedder=embedder,
                n_neighbors=k,
                max_concurrency=1,
            )
            calibration = router.router.calibrate([q.text for q in calib], collected)
            say(f"calibrated on {calibration.n_used} of {half} questions ({how})")
            scope = "Smoothie-Global" if k is None else f"Smoothie-Local, k={k} nearest"
            say(f"route weights: {scope} calibration questions")
            rows = []
            for q in tqdm(rest, desc="route: questions", disable=not progress, file=sys.stderr):
                decision = router.route(q.text)
                recorder.route_target = decision.selected
                before = sum(report.model_calls.values())
                message = router.invoke(_messages(q, system_prompt), config=config)
                recorder.route_target = None
                meta = message.response_metadata["smoothie"]
                calls = sum(report.model_calls.values()) - before
                rrow = RouteRow(
                    question=q,
                    called=meta["selected"],
                    answer=message.text.strip(),
                    weights=dict(meta["weights"]),
                    calls=max(calls, 1 + len(meta.get("failed", []))),
                    failed=list(meta.get("failed", [])),
                )
                report.route_rows.append(rrow)
                rows.append(rrow)
            report.calibration_questions = half
            report.seconds["route"] = time.perf_counter() - start
            say(_route_table(rows, report, names, half, width))
    return report


def _select_block(i: int, n: int, row: SelectRow, names: Sequence[str], width: int) -> str:
    q = row.question
    lines = [f"\n[{i}/{n}] {q.task}: {q.text}"]
    table = []
    for name in names:
        mark = "<- selected" if name == row.selected else ""
        weight = f"{row.weights[name]:.3f}" if name in row.weights else "-"
        answer = row.answers.get(name)
        shown = answer if answer is not None else f"(failed: {row.errors.get(name, 'no answer')})"
        table.append([name, weight, mark, _one_line(shown, width)])
    lines.append(format_table(["model", "weight", "", "answer"], table, max_width=width + 2))
    extra = []
    if row.n_neighbors > 1:
        extra.append(f"scored with its {row.n_neighbors - 1} nearest earlier question(s)")
    if row.reliability is not None:
        low = f" (low: {', '.join(row.concerns)})" if row.concerns else ""
        extra.append(f"reliability {row.reliability:.2f}{low}")
    if row.fallback:
        extra.append(f"fallback: {row.fallback}")
    if extra:
        lines.append("  ".join(extra))
    return "\n".join(lines)


def _select_summary(report: DemoReport, names: Sequence[str]) -> str:
    rows: list[list[object]] = []
    for name in names:
        calls = report.model_calls.get(name, 0)
        secs = report.model_seconds.get(name, 0.0)
        toks = report.output_tokens.get(name, 0)
        picked = sum(r.selected == name for r in report.select_rows)
        rate = f"{toks / secs:.1f}" if secs > 0 and toks else "-"
        rows.append([name, calls, f"{secs:.1f}", toks, rate, picked])
    n_q = len(report.select_rows)
    text = (
        f"\nselect mode summary ({n_q} questions, {sum(report.model_calls.get(n, 0) for n in names)} model calls, "
        f"{report.seconds['select']:.1f} s)\n"
        + format_table(["model", "calls", "seconds", "output tokens", "tokens/s", "selected"], rows)
    )
    line = _acceptable_line(
        [(r.question, r.answers.get(r.selected), r.answers) for r in report.select_rows],
        names,
        "Smoothie's pick",
    )
    if line:
        text += "\n" + line
    return text + (
        "\n(reliability: in [0, 1], the label model's probability that the picked answer is "
        "right, from\n how many models agree with it and how accurate each has been so far; "
        "see docs/reliability.md)"
    )


def _acceptable_line(
    rows: Sequence[tuple[Question, str | None, Mapping[str, str | None] | None]],
    names: Sequence[str],
    what: str,
) -> str | None:
    """``acceptable answers: <what> x/n; always <model>: y/n ...`` over the checked questions."""
    checked = [r for r in rows if r[0].checked]
    if not checked:
        return None
    n = len(checked)
    picked = sum(bool(acceptable(q, a)) for q, a, _ in checked)
    parts = [f"{what} {picked}/{n}"]
    if all(every is not None for _, _, every in checked):
        for name in names:
            ok = sum(bool(acceptable(q, (every or {}).get(name))) for q, _, every in checked)
            parts.append(f"always {name} {ok}/{n}")
    return (
        "acceptable answers (a keyword check of each built-in question's key content, "
        "smoothie_demo/questions.py): " + "; ".join(parts)
    )


def _route_table(
    rows: Sequence[RouteRow], report: DemoReport, names: Sequence[str], half: int, width: int
) -> str:
    picks = [r.selected for r in report.select_rows]
    show_select = len(picks) == half + len(rows)
    header = ["#", "task", "question", "weights (" + " ".join(names) + ")", "called"]
    if show_select:
        header.append("select picked")
    header.append("answer")
    table = []
    for j, row in enumerate(rows, half + 1):
        line: list[object] = [
            j,
            row.question.task,
            _one_line(row.question.text, 36),
            _weights(row.weights, names),
            row.called + (f" (after {', '.join(row.failed)} failed)" if row.failed else ""),
        ]
        if show_select:
            line.append(picks[j - 1])
        line.append(_one_line(row.answer, min(width, 64)))
        table.append(line)
    calls = sum(r.calls for r in rows)
    counts = {n: sum(r.called == n for r in rows) for n in names}
    text = "\n" + format_table(header, table, max_width=width + 2)
    text += (
        f"\nroute mode: {len(rows)} questions answered with {calls} model calls "
        f"(select mode would make {len(rows) * len(names)}); called: "
        + ", ".join(f"{n} x{c}" for n, c in counts.items())
        + f"; {report.seconds['route']:.1f} s"
    )
    every = report.select_rows[half : half + len(rows)] if show_select else []
    summary = _acceptable_line(
        [
            (row.question, row.answer, every[j].answers if every else None)
            for j, row in enumerate(rows)
        ],
        names,
        "route mode's answer",
    )
    if summary:
        text += "\n" + summary
        if every:
            picked = sum(bool(acceptable(r.question, r.answers.get(r.selected))) for r in every)
            text += f"; select mode's pick {picked}/{len(every)}"
    return text
