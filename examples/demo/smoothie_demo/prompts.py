"""``smoothie demo --prompts``: one local model, several prompt templates, Smoothie picks.

The paper's multi-prompt setting, with :class:`langchain_smoothie.SmoothieRunnable`:
one chat model under three prompt templates (direct answer, step by step, answer then
explain). **select**: the model answers every question under every template and
Smoothie returns the best answer; **route**: calibrate on the first half of the
questions, then call the model once per question of the second half, with the
template chosen for it. The questions have known answers (arithmetic and facts), so
the tables also show which answers are right (checked after the fact; Smoothie never
sees the answers). ``benchmarks/multi_prompt.py`` measures the same setting on more
questions.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import LLMResult
from langchain_core.prompts import ChatPromptTemplate

from langchain_smoothie import SmoothieRunnable
from smoothie_core.answers import extract_answer
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.embedders import Embedder
from smoothie_core.tables import format_table

__all__ = [
    "PROMPT_QUESTIONS",
    "PROMPT_TEMPLATES",
    "KnownAnswer",
    "PromptsReport",
    "is_correct",
    "prompt_templates",
    "run_prompts_demo",
    "stated_answer",
]

#: The three templates (system instruction, then the question as the human message).
PROMPT_TEMPLATES: dict[str, str] = {
    "direct": "Answer with only the final answer (a number, a name or a short phrase). "
    "Do not explain.",
    "step_by_step": "Solve the problem step by step, briefly. Finish with a last line of "
    "the form 'Answer: <final answer>'.",
    "answer_then_explain": "Start your reply with 'Answer: <final answer>'. Then explain "
    "the answer in one or two sentences.",
}


def prompt_templates() -> dict[str, ChatPromptTemplate]:
    """:data:`PROMPT_TEMPLATES` as chat prompt templates taking ``{question}``."""
    return {
        name: ChatPromptTemplate.from_messages([("system", system), ("human", "{question}")])
        for name, system in PROMPT_TEMPLATES.items()
    }


@dataclass(frozen=True)
class KnownAnswer:
    """A question with its known answer.

    ``kind`` says how an output is checked (:func:`is_correct`): ``"number"`` (the last
    number of the stated answer's first sentence, so "7 * 4 = 28" states 28), ``"name"`` (one of ``answers`` appears in the stated
    answer, any case) or ``"symbol"`` (one of ``answers`` appears as a whole word, same
    case).
    """

    topic: str
    text: str
    answers: tuple[str, ...]
    kind: str = "name"


#: 8 questions, topics interleaved so both halves hold both topics.
PROMPT_QUESTIONS: tuple[KnownAnswer, ...] = (
    KnownAnswer("arithmetic", "What is 17 * 3 + 9?", ("60",), "number"),
    KnownAnswer("fact", "What is the capital of Australia?", ("Canberra",)),
    KnownAnswer(
        "arithmetic",
        "A shop sells pens at 4 dollars each. How much do 7 pens cost?",
        ("28",),
        "number",
    ),
    KnownAnswer("fact", "What is the chemical symbol for gold?", ("Au",), "symbol"),
    KnownAnswer("arithmetic", "What is 144 divided by 12?", ("12",), "number"),
    KnownAnswer("fact", "Which planet is known as the Red Planet?", ("Mars",)),
    KnownAnswer(
        "arithmetic",
        "Tom has 23 marbles, gives away 8 and then buys 5 more. How many does he have?",
        ("20",),
        "number",
    ),
    KnownAnswer("fact", "Who wrote the play Romeo and Juliet?", ("Shakespeare",)),
)

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"\.(?=\s|$)")


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def stated_answer(output: str) -> str:
    """The answer an output states: :func:`smoothie_core.answers.extract_answer` (an
    ``Answer:`` line, "the answer is ...", a short last line), else its first line.

    Examples
    --------
    >>> stated_answer("7 pens cost 7 * 4 = 28 dollars.\\nAnswer: 28")
    '28'
    >>> stated_answer("Canberra is the capital. It was chosen as a compromise between two cities.")
    'Canberra is the capital. It was chosen as a compromise between two cities.'
    """
    found = extract_answer(output)
    if found is not None:
        return found
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def is_correct(question: KnownAnswer, output: str | None) -> bool:
    """Whether ``output`` states ``question``'s known answer (see :class:`KnownAnswer`).

    Examples
    --------
    >>> q = KnownAnswer("arithmetic", "What is 17 * 3 + 9?", ("60",), "number")
    >>> is_correct(q, "17 * 3 = 51, 51 + 9 = 60.\\nAnswer: 60"), is_correct(q, "Answer: 51")
    (True, False)
    >>> is_correct(q, "Answer: 51 + 9 = 60. First, 17 * 3 = 51.")
    True
    >>> is_correct(KnownAnswer("fact", "Symbol for gold?", ("Au",), "symbol"), "Answer: Au")
    True
    """
    if output is None:
        return False
    stated = stated_answer(output)
    if question.kind == "number":
        numbers = _NUMBER.findall(_SENTENCE_END.split(stated, maxsplit=1)[0])
        if not numbers:
            return False
        value = numbers[-1].replace(",", "")
        return any(float(value) == float(a) for a in question.answers)
    if question.kind == "symbol":
        return any(re.search(rf"\b{re.escape(a)}\b", stated) for a in question.answers)
    plain = _plain(stated).lower()
    return any(_plain(a).lower() in plain for a in question.answers)


class _Answers(BaseCallbackHandler):
    """Each candidate's output (the model run inside candidate ``smoothie_candidate``)."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.calls = 0
        self._runs: dict[UUID, str] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: Any,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.calls += 1
        name = (metadata or {}).get("smoothie_candidate")
        if name is not None:
            self._runs[run_id] = name

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        name = self._runs.pop(run_id, None)
        if name is not None:
            self.answers[name] = response.generations[0][0].text.strip()


@dataclass
class PromptsReport:
    """What :func:`run_prompts_demo` did (also printed)."""

    templates: list[str]
    select_rows: list[dict[str, Any]] = field(default_factory=list)
    route_rows: list[dict[str, Any]] = field(default_factory=list)
    model_calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _one_line(text: str | None, width: int) -> str:
    if text is None:
        return "(no answer)"
    flat = " ".join(text.split()) or "(empty)"
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def run_prompts_demo(
    model: BaseChatModel,
    questions: Sequence[KnownAnswer] = PROMPT_QUESTIONS,
    *,
    templates: Mapping[str, ChatPromptTemplate] | None = None,
    embedder: Embedder | None = None,
    n_neighbors: int | None = 3,
    out: TextIO | None = None,
    width: int = 70,
) -> PromptsReport:
    """Select mode on every question, then route mode (fit on the first half).

    Examples
    --------
    >>> import io
    >>> from langchain_smoothie import ScriptedChatModel
    >>> from smoothie_core import HashingEmbedder
    >>> model = ScriptedChatModel(answers={"gold": "Answer: Au", "australia": "Answer: Canberra"})
    >>> qs = [q for q in PROMPT_QUESTIONS if q.topic == "fact"][:2]
    >>> report = run_prompts_demo(model, qs, embedder=HashingEmbedder(), out=io.StringIO())
    >>> [row["correct"][row["selected"]] for row in report.select_rows]
    [True, True]
    """
    stream = out if out is not None else sys.stdout
    templates = dict(templates or prompt_templates())
    questions = list(questions)
    if len(questions) < 2:
        raise ValueError(f"The prompts demo needs at least 2 questions; got {len(questions)}.")
    names = list(templates)
    report = PromptsReport(templates=names)
    recorder = _Answers()

    def say(text: str = "") -> None:
        print(text, file=stream, flush=True)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReliabilityWarning)  # the tables show reliability
        start = time.perf_counter()
        say(
            f"== prompts, select mode: one model under {len(names)} prompt templates; "
            "Smoothie picks the best answer =="
        )
        select = SmoothieRunnable.from_prompts(
            model, templates, embedder=embedder, max_concurrency=1, include_decision=True
        )
        for i, q in enumerate(questions, 1):
            recorder.answers = {}
            out_ = select.invoke({"question": q.text}, config={"callbacks": [recorder]})
            meta = out_["smoothie"]
            answers = {n: recorder.answers.get(n) for n in names}
            correct = {n: is_correct(q, answers[n]) for n in names}
            report.select_rows.append(
                {"question": q.text, "answers": answers, "correct": correct, **meta}
            )
            table = [
                [
                    n,
                    f"{meta['weights'][n]:.3f}" if n in meta["weights"] else "-",
                    "<- selected" if n == meta["selected"] else "",
                    "right" if correct[n] else "wrong",
                    _one_line(answers[n], width),
                ]
                for n in names
            ]
            say(f"\n[{i}/{len(questions)}] {q.topic}: {q.text}  (known answer: {q.answers[0]})")
            say(format_table(["template", "weight", "", "check", "answer"], table))
        report.seconds["select"] = time.perf_counter() - start
        right = {n: sum(r["correct"][n] for r in report.select_rows) for n in names}
        picked = sum(r["correct"][r["selected"]] for r in report.select_rows)
        oracle = sum(any(r["correct"].values()) for r in report.select_rows)
        say(
            f"\nselect mode: Smoothie's pick right on {picked}/{len(questions)}; each template "
            "alone: " + ", ".join(f"{n} {right[n]}" for n in names)
            + f"; best possible (any template right) {oracle}"
        )  # fmt: skip

        start = time.perf_counter()
        half = len(questions) // 2
        calib, rest = questions[:half], questions[half:]
        say(
            f"\n== prompts, route mode: fit on questions 1-{half} (every template), then one "
            f"model call per question {half + 1}-{len(questions)} =="
        )
        k = None if n_neighbors is None else max(1, min(n_neighbors, half))
        route = SmoothieRunnable.from_prompts(
            model, templates, mode="route", embedder=embedder, n_neighbors=k, max_concurrency=1
        )
        before = recorder.calls
        route.fit(
            [{"question": q.text} for q in calib],
            config={"callbacks": [recorder]},
            show_progress=False,
        )
        fit_calls = recorder.calls - before
        route_table: list[list[object]] = []
        for j, q in enumerate(rest, half + 1):
            before = recorder.calls
            message = route.invoke({"question": q.text}, config={"callbacks": [recorder]})
            meta = message.response_metadata["smoothie"]
            ok = is_correct(q, message.text)
            report.route_rows.append(
                {"question": q.text, "answer": message.text, "correct": ok,
                 "calls": recorder.calls - before, **meta}
            )  # fmt: skip
            weights = " ".join(f"{meta['weights'].get(n, 0):.2f}" for n in names)
            route_table.append(
                [j, q.topic, _one_line(q.text, 34), weights, meta["selected"],
                 "right" if ok else "wrong", _one_line(message.text, 40)]
            )  # fmt: skip
        say(f"fit: {fit_calls} model calls; route weights: " + " ".join(names))
        say(
            format_table(
                ["#", "topic", "question", "weights", "template", "check", "answer"], route_table
            )
        )
        calls = sum(r["calls"] for r in report.route_rows)
        good = sum(r["correct"] for r in report.route_rows)
        report.seconds["route"] = time.perf_counter() - start
        report.model_calls = {"select": len(questions) * len(names), "fit": fit_calls}
        report.model_calls["route"] = calls
        say(
            f"route mode: {len(rest)} questions, {calls} model calls (select mode would make "
            f"{len(rest) * len(names)}), right on {good}/{len(rest)}"
        )
    return report
