"""The demo's built-in questions, and reading your own from a file."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["QUESTIONS", "SYSTEM_PROMPT", "Question", "acceptable", "load_questions"]

#: System prompt sent with every question (short answers keep the demo fast).
SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and directly, in one sentence."


@dataclass(frozen=True)
class Question:
    """A demo question and its task type (``fact``, ``arithmetic``, ``summary``, ``rewrite``).

    Built-in questions also say what an acceptable answer contains, checked by
    :func:`acceptable`: ``number`` (the answer's last number), ``accept`` (patterns that
    must all match; a pattern may list alternatives with ``|``) and ``reject`` (patterns
    that must not match). Your own questions have no check.
    """

    task: str
    text: str
    number: str | None = None
    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()

    @property
    def checked(self) -> bool:
        return self.number is not None or bool(self.accept) or bool(self.reject)


_LAST_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def acceptable(question: Question, answer: str | None) -> bool | None:
    """Whether ``answer`` states the key content of ``question`` (None: no check known).

    A keyword check fixed with the questions, not a judge: an answer passes when its last
    number is the expected one (arithmetic) or it mentions every key fact and none of
    the tell-tale mistakes.

    Examples
    --------
    >>> q = QUESTIONS[1]  # 17 * 3 + 9
    >>> acceptable(q, "17 * 3 + 9 = 60."), acceptable(q, "17 * 3 + 9 = 51.")
    (True, False)
    >>> acceptable(Question("fact", "Your own question?"), "Anything") is None
    True
    """
    if not question.checked:
        return None
    if answer is None or not answer.strip():
        return False
    text = answer.casefold()
    if question.number is not None:
        numbers = _LAST_NUMBER.findall(text.replace(",", ""))
        if not numbers or float(numbers[-1]) != float(question.number):
            return False
    if not all(re.search(p, text) for p in question.accept):
        return False
    return not any(re.search(p, text) for p in question.reject)


_FACTS = [
    Question("fact", "What is the capital of Australia?", accept=("canberra",)),
    Question("fact", "Which planet is known as the Red Planet?", accept=("mars",)),
    Question("fact", "Who wrote the play Romeo and Juliet?", accept=("shakespeare",)),
]
_ARITHMETIC = [
    Question("arithmetic", "What is 17 * 3 + 9? Answer with just the number.", number="60"),
    Question(
        "arithmetic", "A shop sells pens at 4 dollars each. How much do 6 pens cost?", number="24"
    ),
    Question("arithmetic", "What is 144 divided by 12?", number="12"),
]
_SUMMARIES = [
    Question(
        "summary",
        "Summarise in one sentence: The city council voted on Tuesday to build a new public "
        "library downtown. Construction starts next spring and will take two years.",
        accept=("library", "spring|two years|2 years"),
    ),
    Question(
        "summary",
        "Summarise in one sentence: Heavy rain caused flooding in several villages overnight. "
        "Roads were closed and schools stayed shut, but nobody was hurt.",
        accept=("flood", "nobody|no one|no injur|not hurt|unhurt|closed|shut"),
        reject=("light rain",),
    ),
    Question(
        "summary",
        "Summarise in one sentence: The company reported record profits this quarter, driven "
        "by strong sales of its new phone, and plans to hire 500 engineers.",
        accept=("profit", "hire|engineer"),
    ),
]
_REWRITES = [
    Question(
        "rewrite",
        "Rewrite this sentence to sound more polite: Send me the report by tomorrow.",
        accept=("please|could you|would you|kindly", "report"),
    ),
    Question(
        "rewrite",
        "Rewrite in plain English: The meeting has been postponed owing to unforeseen "
        "circumstances.",
        accept=("meeting", "postpone|delay|put off|moved|later"),
        reject=("owing to",),
    ),
    Question(
        "rewrite",
        "Rewrite this sentence in the past tense: She walks to school every day.",
        accept=("walked",),
    ),
]

#: 12 short questions, task types interleaved so that both halves (route mode
#: calibrates on the first half and routes the second) hold every task type.
QUESTIONS: tuple[Question, ...] = tuple(
    group[i] for i in range(3) for group in (_FACTS, _ARITHMETIC, _SUMMARIES, _REWRITES)
)


def load_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Read questions from ``path``.

    ``.json``: a list of strings or of objects ``{"question": ..., "task": ...}``
    (``task`` optional); ``.jsonl``: one such string or object per line; anything
    else: plain text, one question per line (blank lines and ``#`` comments skipped).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "q.txt"
    >>> _ = p.write_text("# mine\\nWhat is 2 + 2?\\n\\nName a colour.\\n")
    >>> [q.text for q in load_questions(p)]
    ['What is 2 + 2?', 'Name a colour.']
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"Questions file not found: {p}.")
    text = p.read_text(encoding="utf-8")
    items: list[object]
    try:
        if p.suffix == ".json":
            loaded = json.loads(text)
            if not isinstance(loaded, list):
                raise ValueError(
                    f"{p}: expected a JSON list of questions; got {type(loaded).__name__}."
                )
            items = loaded
        elif p.suffix == ".jsonl":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            items = [
                line.strip()
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            ]
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc}).") from exc
    questions = [_question(item, p, i) for i, item in enumerate(items)]
    if not questions:
        raise ValueError(f"{p} holds no questions; expected at least one.")
    return questions


def _question(item: object, path: Path, i: int) -> Question:
    if isinstance(item, str) and item.strip():
        return Question("custom", item.strip())
    if isinstance(item, dict) and isinstance(item.get("question"), str) and item["question"]:
        return Question(str(item.get("task", "custom")), item["question"])
    raise ValueError(
        f"{path}: question {i + 1} must be a non-empty string or an object with a "
        f'"question" string; got {item!r}.'
    )
