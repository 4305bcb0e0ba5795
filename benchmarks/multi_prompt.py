"""Issue 16: one real local model under several prompt templates; Smoothie picks per input.

The paper's multi-prompt setting on the demo pool's model (``smoothie_demo.ChatGGUF``,
llama.cpp, 1 thread, greedy), through :class:`langchain_smoothie.SmoothieRunnable`
(``from_prompts``) with three templates (``smoothie_demo.prompts.PROMPT_TEMPLATES``):
direct answer, step by step, answer then explain.

The labelled set is generated here, offline, from a seed (:func:`make_questions`):
arithmetic (sums, products, mixed operations, two word problems) and facts (capitals,
chemical symbols, authors, science) with known answers, topics interleaved. The first
half calibrates route mode, the second half is the test set.

1. route mode: ``fit`` on the calibration half (every template answers: 3 calls each);
2. select mode on the test half: every template answers, Smoothie (the router's default
   scorer, ``smoothie_core.defaults.DEFAULT_SCORER``, each input scored on its own)
   returns the best answer; the recorded answers give each single template's accuracy
   and the oracle (right if any template is right);
3. route mode on the test half: one model call per question with the chosen template
   (Smoothie-Local, ``--k`` nearest calibration questions);
4. without model calls, on the same answers: route mode with Smoothie-Global and k=10,
   and both modes with the other scorers (:data:`OTHER_SCORERS`).

Label-free: Smoothie never sees the known answers; they are used only to score the
results, by ``smoothie_demo.prompts.is_correct``: the answer an output *states*
(``smoothie_core.answers.extract_answer``: an "Answer:" line, "the answer is ...", a
short last line; else the output's first line) must be the known number (arithmetic),
contain the known name in any case and accents (facts), or the chemical symbol as a
whole word, same case. The same rule for every template.

    .venv/bin/python benchmarks/multi_prompt.py     # ~10 min on 2 busy shared cores
    -> benchmarks/results/multi_prompt.json
    .venv/bin/python benchmarks/multi_prompt.py --print-questions   # the set only

Needs the demo's models (``make install-demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any
from uuid import UUID

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine_info, save_result

from langchain_smoothie import SmoothieRunnable
from smoothie_core import Router
from smoothie_core._version import __version__ as smoothie_version
from smoothie_core.defaults import DEFAULT_SCORER
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_core.embedders import default_embedder
from smoothie_demo.prompts import PROMPT_TEMPLATES, KnownAnswer, is_correct, prompt_templates

#: Other scorers compared on the same answers (no model calls), besides the default.
OTHER_SCORERS = ("consensus", "answer", "answer_coverage")

# ----------------------------------------------------------- the labelled set
FACTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("What is the capital of Australia?", ("Canberra",), "name"),
    ("What is the capital of Canada?", ("Ottawa",), "name"),
    ("What is the capital of Japan?", ("Tokyo",), "name"),
    ("What is the capital of Egypt?", ("Cairo",), "name"),
    ("What is the capital of Kenya?", ("Nairobi",), "name"),
    ("What is the capital of Brazil?", ("Brasilia",), "name"),
    ("What is the capital of Turkey?", ("Ankara",), "name"),
    ("What is the capital of Switzerland?", ("Bern",), "name"),
    ("What is the capital of New Zealand?", ("Wellington",), "name"),
    ("What is the capital of Nigeria?", ("Abuja",), "name"),
    ("What is the capital of Norway?", ("Oslo",), "name"),
    ("What is the chemical symbol for gold?", ("Au",), "symbol"),
    ("What is the chemical symbol for silver?", ("Ag",), "symbol"),
    ("What is the chemical symbol for iron?", ("Fe",), "symbol"),
    ("What is the chemical symbol for sodium?", ("Na",), "symbol"),
    ("What is the chemical symbol for lead?", ("Pb",), "symbol"),
    ("Who wrote the play Romeo and Juliet?", ("Shakespeare",), "name"),
    ("Who wrote the novel Pride and Prejudice?", ("Austen",), "name"),
    ("Who wrote the novel War and Peace?", ("Tolstoy",), "name"),
    ("Who wrote Don Quixote?", ("Cervantes",), "name"),
    ("Which planet is known as the Red Planet?", ("Mars",), "name"),
    ("What is the largest planet in the Solar System?", ("Jupiter",), "name"),
    ("Which planet is closest to the Sun?", ("Mercury",), "name"),
    ("What is the largest ocean on Earth?", ("Pacific",), "name"),
    ("Who painted the Mona Lisa?", ("Leonardo", "da Vinci"), "name"),
    ("Who was the first person to walk on the Moon?", ("Armstrong",), "name"),
    ("How many legs does a spider have?", ("8",), "number"),
    ("How many days are there in a leap year?", ("366",), "number"),
    ("At what temperature in degrees Celsius does water boil at sea level?", ("100",), "number"),
    (
        "What gas do plants take in from the air for photosynthesis?",
        ("carbon dioxide", "CO2"),
        "name",
    ),
)
NAMES = ("Tom", "Anna", "Ravi", "Mia", "Leo", "Sara")
ITEMS = ("pens", "notebooks", "apples", "tickets", "candles", "mugs")


def _arithmetic(rng: random.Random, i: int) -> KnownAnswer:
    kind = i % 6
    if kind == 0:
        a, b = rng.randint(23, 98), rng.randint(23, 98)
        text, value = f"What is {a} + {b}?", a + b
    elif kind == 1:
        a, b = rng.randint(12, 39), rng.randint(3, 9)
        text, value = f"What is {a} * {b}?", a * b
    elif kind == 2:
        a, b, c = rng.randint(11, 25), rng.randint(2, 6), rng.randint(5, 40)
        text, value = f"What is {a} * {b} + {c}?", a * b + c
    elif kind == 3:
        b, c = rng.randint(2, 6), rng.randint(3, 9)
        a = b * c + rng.randint(5, 60)
        text, value = f"What is {a} - {b} * {c}?", a - b * c
    elif kind == 4:
        item, p, n = rng.choice(ITEMS), rng.randint(2, 9), rng.randint(3, 12)
        text = f"A shop sells {item} at {p} dollars each. How much do {n} {item} cost, in dollars?"
        value = p * n
    else:
        name, a, b, c = (
            rng.choice(NAMES),
            rng.randint(15, 40),
            rng.randint(2, 12),
            rng.randint(2, 9),
        )
        text = (
            f"{name} has {a} marbles, gives away {b} and then buys {c} more. "
            f"How many marbles does {name} have now?"
        )
        value = a - b + c
    return KnownAnswer("arithmetic", text, (str(value),), "number")


def make_questions(n: int, seed: int = 0) -> list[KnownAnswer]:
    """``n`` questions (half arithmetic, half facts, interleaved) with known answers."""
    if n < 4 or n % 2:
        raise ValueError(f"`n` must be an even number >= 4; got {n}.")
    if n // 2 > len(FACTS):
        raise ValueError(f"at most {2 * len(FACTS)} questions (the fact pool has {len(FACTS)}).")
    rng = random.Random(seed)
    facts = rng.sample(FACTS, n // 2)
    out: list[KnownAnswer] = []
    seen: set[str] = set()
    for i in range(n // 2):
        question = _arithmetic(rng, i)
        while question.text in seen:  # no question twice (it could be in both halves)
            question = _arithmetic(rng, i)
        seen.add(question.text)
        out.append(question)
        text, answers, kind = facts[i]
        out.append(KnownAnswer("fact", text, answers, kind))
    return out


# ------------------------------------------------------------------- running
class Recorder(BaseCallbackHandler):
    """Every model call (count), and each candidate's output by question, from callbacks.

    A candidate's model run carries ``metadata["smoothie_candidate"]`` (inherited from the
    candidate's run); the question is the last message the model was sent.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.answers: dict[str, dict[str, str]] = {}  # question -> template -> output
        self.tokens: dict[str, int] = {}
        self._runs: dict[UUID, tuple[str, str]] = {}

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, metadata: Any = None, **kw: Any
    ) -> None:
        self.calls += 1
        name = (metadata or {}).get("smoothie_candidate")
        if name is not None:
            self._runs[run_id] = (name, messages[0][-1].text)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kw: Any) -> None:
        if run_id not in self._runs:
            return
        name, question = self._runs.pop(run_id)
        gen = response.generations[0][0]
        self.answers.setdefault(question, {})[name] = gen.text.strip()
        usage = getattr(getattr(gen, "message", None), "usage_metadata", None) or {}
        self.tokens[name] = self.tokens.get(name, 0) + int(usage.get("output_tokens", 0))


def _rate(values: list[bool]) -> float:
    return round(100.0 * sum(values) / len(values), 1) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="qwen-0.5b", help="demo pool model (default qwen-0.5b)")
    p.add_argument("--n", type=int, default=48, help="questions, half calibration (default 48)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=5, help="route mode: nearest calibration questions")
    p.add_argument("--max-tokens", type=int, default=192)
    p.add_argument("--out", type=Path, default=None, help="default: results/multi_prompt.json")
    p.add_argument("--print-questions", action="store_true", help="print the set and exit")
    args = p.parse_args(argv)

    questions = make_questions(args.n, args.seed)
    if args.print_questions:
        for q in questions:
            print(json.dumps({"topic": q.topic, "question": q.text, "answers": q.answers}))
        return 0
    from smoothie_demo.cli import build_local_models

    t_start = time.perf_counter()
    machine = machine_info(
        note="2 CPU cores shared by several engineers; llama.cpp 1 thread, greedy."
    )
    half = len(questions) // 2
    calib, test = questions[:half], questions[half:]
    names = list(PROMPT_TEMPLATES)
    templates = prompt_templates()
    model = build_local_models([args.model], max_tokens=args.max_tokens)[args.model]
    embedder = default_embedder()
    embedder.embed(["warm up"])
    warnings.simplefilter("ignore", ReliabilityWarning)  # reliability is recorded per decision
    seconds: dict[str, float] = {}

    # 1. route mode: fit on the calibration half (every template on every question)
    rec = Recorder()
    route = SmoothieRunnable.from_prompts(
        model, templates, mode="route", n_neighbors=args.k, embedder=embedder, max_concurrency=1
    )
    t = time.perf_counter()
    route.fit(
        [{"question": q.text} for q in calib], config={"callbacks": [rec]}, show_progress=True
    )
    seconds["fit"] = time.perf_counter() - t
    fit_calls = rec.calls
    report = route.calibration_report_
    calib_answers = [{n: rec.answers.get(q.text, {}).get(n) for n in names} for q in calib]
    # 2. select mode on the test half
    select = SmoothieRunnable.from_prompts(
        model, templates, embedder=embedder, max_concurrency=1, include_decision=True
    )
    rows: list[dict[str, Any]] = []
    t = time.perf_counter()
    for i, q in enumerate(test, 1):
        rec.answers.pop(q.text, None)
        out = select.invoke({"question": q.text}, config={"callbacks": [rec]})
        meta = out["smoothie"]
        answers = {n: rec.answers.get(q.text, {}).get(n) for n in names}
        rows.append(
            {
                "topic": q.topic,
                "question": q.text,
                "known_answers": list(q.answers),
                "answers": answers,
                "correct": {n: is_correct(q, answers[n]) for n in names},
                "select": {
                    "selected": meta["selected"],
                    "weights": meta["weights"],
                    "reliability": meta["reliability"],
                    "failed": meta["failed"],
                },
            }
        )
        print(f"select {i}/{len(test)}: {meta['selected']}", file=sys.stderr, flush=True)
    seconds["select"] = time.perf_counter() - t
    select_calls = rec.calls - fit_calls

    # 3. route mode on the test half: one model call per question (k = args.k)
    t = time.perf_counter()
    for i, (q, row) in enumerate(zip(test, rows, strict=True), 1):
        before = rec.calls
        message = route.invoke({"question": q.text}, config={"callbacks": [rec]})
        meta = message.response_metadata["smoothie"]
        row["route"] = {
            "selected": meta["selected"],
            "weights": meta["weights"],
            "answer": message.text,
            "correct": is_correct(q, message.text),
            "model_calls": rec.calls - before,
            "same_as_select_phase_answer": message.text.strip() == row["answers"][meta["selected"]],
        }
        print(f"route {i}/{len(test)}: {meta['selected']}", file=sys.stderr, flush=True)
    seconds["route"] = time.perf_counter() - t
    route_calls = rec.calls - fit_calls - select_calls

    # Other label-free decisions from the same answers (no model calls): the routes of
    # Smoothie-Global and k=10 from the same calibration, and select and route mode with
    # the other scorers. A core Router calibrated on the calibration answers is what
    # ``fit`` builds (the same call), so these need no model.
    inputs = [q.text for q in test]
    calib_texts = [q.text for q in calib]
    k10 = min(10, report.n_used)
    extra: dict[str, str] = {}
    for scorer in dict.fromkeys((DEFAULT_SCORER, *OTHER_SCORERS)):
        for k in (None, args.k, k10):
            key = f"route[{scorer},k={k}]"
            if scorer == DEFAULT_SCORER and k == args.k:
                continue  # the invoked route above
            core = Router(names, embedder=embedder, scorer=scorer, n_neighbors=k)
            core.calibrate(calib_texts, calib_answers)
            for row, text in zip(rows, inputs, strict=True):
                row[key] = {"selected": core.route(text).selected}
            glob = "Smoothie-Global" if k is None else f"Smoothie-Local k={k}"
            extra[key] = f"route ({scorer}, {glob})"
        if scorer != DEFAULT_SCORER:
            key = f"select[{scorer}]"
            core = Router(names, embedder=embedder, scorer=scorer, update_pool=False)
            for row, text in zip(rows, inputs, strict=True):
                row[key] = {"selected": core.select(text, row["answers"]).selected}
            extra[key] = f"select ({scorer}, per input)"

    def acc(pick: str) -> float:
        return _rate([row["correct"][row[pick]["selected"]] for row in rows])

    by_topic: dict[str, Any] = {}
    for topic in ("arithmetic", "fact"):
        sub = [r for r in rows if r["topic"] == topic]
        by_topic[topic] = {
            **{f"prompt:{n}": _rate([r["correct"][n] for r in sub]) for n in names},
            "select": _rate([r["correct"][r["select"]["selected"]] for r in sub]),
            "select (consensus)": _rate(
                [r["correct"][r["select[consensus]"]["selected"]] for r in sub]
            ),
            "route": _rate([r["route"]["correct"] for r in sub]),
            "oracle": _rate([any(r["correct"].values()) for r in sub]),
            "n": len(sub),
        }
    singles = {n: _rate([r["correct"][n] for r in rows]) for n in names}
    summary = {
        "n_test": len(rows),
        "accuracy_percent": {
            **{f"prompt:{n}": singles[n] for n in names},
            "mean_of_prompts (a random prompt per input)": round(
                sum(singles.values()) / len(singles), 1
            ),
            f"select ({DEFAULT_SCORER}, per input)": acc("select"),
            f"route ({DEFAULT_SCORER}, Smoothie-Local k={args.k}, invoked)": _rate(
                [r["route"]["correct"] for r in rows]
            ),
            "oracle (any prompt right)": _rate([any(r["correct"].values()) for r in rows]),
        },
        "other_decisions_accuracy_percent (same answers, no model calls)": {
            label: acc(key) for key, label in extra.items()
        },
        "by_topic": by_topic,
        "picks": {
            "select": {n: sum(r["select"]["selected"] == n for r in rows) for n in names},
            "route": {n: sum(r["route"]["selected"] == n for r in rows) for n in names},
        },
        "model_calls": {"fit": fit_calls, "select": select_calls, "route": route_calls},
        "route_calls_per_input": sorted({r["route"]["model_calls"] for r in rows}),
        "route_answer_equals_select_phase_answer": sum(
            r["route"]["same_as_select_phase_answer"] for r in rows
        ),
        "calibration": {
            "n_prompts": report.n_prompts,
            "n_used": report.n_used,
            "accuracy_percent": {
                f"prompt:{n}": _rate(
                    [is_correct(q, a[n]) for q, a in zip(calib, calib_answers, strict=True)]
                )
                for n in names
            },
        },
        "output_tokens": rec.tokens,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    results = {
        "config": {
            "model": args.model,
            "n_questions": len(questions),
            "seed": args.seed,
            "max_tokens": args.max_tokens,
            "k": args.k,
            "scorer": DEFAULT_SCORER,
            "embedder": embedder.id,
            "templates": PROMPT_TEMPLATES,
            "smoothie-router": smoothie_version,
        },
        "checking": (
            "smoothie_demo.prompts.is_correct: the stated answer (smoothie_core.answers."
            "extract_answer, else the first line) must be the known number (the last number of "
            "its first sentence; arithmetic), contain a known name (any case, accents "
            "stripped), or the chemical symbol as a whole word (same case). Labels are used "
            "only for this scoring."
        ),
        "summary": summary,
        "wall_seconds": round(time.perf_counter() - t_start, 1),
        "rows": rows,
    }
    print(f"wrote {save_result('multi_prompt', results, machine=machine, out=args.out)}")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
