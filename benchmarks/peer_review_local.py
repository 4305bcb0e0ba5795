"""Peer review with the demo's real local models: what small models' grades look like.

Select mode with ``scorer="peer_review"`` over the demo's built-in questions, with the
demo's local GGUF models (smollm2-135m, qwen-0.5b, qwen-1.5b; llama.cpp, 1 thread each,
greedy), twice: with ``judges=None`` (the three candidates grade each other's answers)
and with the largest model as an outside judge (it grades all three answers). Every
candidate answer and every judge reply is captured from the router's child runs (tags
``smoothie:candidate`` / ``smoothie:judge``), so the script reports, per judge, how many
of the grades it was asked for could be read (the parse rate), the grades themselves,
and the router's choice on each question. The fact and arithmetic questions have a
known answer (checked by substring below); summaries and rewrites are not scored.

Needs the demo's models (``make install-demo``). Run (about 15 minutes on 2 busy cores):

    OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/peer_review_local.py
    -> benchmarks/results/peer_review_local.json  (schema 1: measurements under "results")

``--limit N`` runs the first N questions only; ``--out`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import RESULTS, command_line, git_state, machine_info, save_result
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.outputs import LLMResult

from langchain_smoothie import SmoothieRouter
from smoothie_core._version import __version__ as smoothie_version
from smoothie_core.diagnostics import ReliabilityWarning
from smoothie_demo.cli import DEFAULT_MAX_TOKENS, build_local_models
from smoothie_demo.questions import QUESTIONS, SYSTEM_PROMPT

OUT = RESULTS / "peer_review_local.json"

#: Known answers of the checkable questions (any of the substrings, case-insensitive).
KEY = {
    "What is the capital of Australia?": ["canberra"],
    "Which planet is known as the Red Planet?": ["mars"],
    "Who wrote the play Romeo and Juliet?": ["shakespeare"],
    "What is 17 * 3 + 9? Answer with just the number.": ["60"],
    "A shop sells pens at 4 dollars each. How much do 6 pens cost?": ["24"],
    "What is 144 divided by 12?": ["12"],
}


class Capture(BaseCallbackHandler):
    """Candidate answers and judge replies (and judge prompts) from the router's child runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[UUID, tuple[str, str, str]] = {}  # run -> (role, name, prompt)
        self.answers: dict[str, str] = {}
        self.replies: list[dict[str, str]] = []

    def reset(self) -> None:
        with self.lock:
            self.open.clear()
            self.answers = {}
            self.replies = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        tags = kw.get("tags") or []
        meta = kw.get("metadata") or {}
        prompt = messages[0][-1].text if messages and messages[0] else ""
        with self.lock:
            if "smoothie:judge" in tags:
                self.open[run_id] = ("judge", meta.get("smoothie_judge", "?"), prompt)
            elif "smoothie:candidate" in tags:
                self.open[run_id] = ("candidate", meta.get("smoothie_candidate", "?"), prompt)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kw: Any) -> None:
        with self.lock:
            if run_id not in self.open:
                return
            role, name, prompt = self.open.pop(run_id)
            text = response.generations[0][0].text
            if role == "candidate":
                self.answers[name] = text
            else:
                self.replies.append({"judge": name, "prompt": prompt, "reply": text})


def correct(question: str, answer: str | None) -> bool | None:
    if question not in KEY or answer is None:
        return None
    return any(k in answer.lower() for k in KEY[question])


def run(
    models: dict[str, Any], judges: dict[str, Any] | None, questions: Sequence[Any]
) -> dict[str, Any]:
    """Select mode with peer review over ``questions``; per-question rows and a summary."""
    names = list(models)
    router = SmoothieRouter(models=models, scorer="peer_review", judges=judges, update_pool=True)
    judge_names = list(judges) if judges is not None else names
    capture = Capture()
    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions, 1):
        capture.reset()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReliabilityWarning)
            msg = router.invoke(
                [SystemMessage(SYSTEM_PROMPT), HumanMessage(q.text)],
                config={"callbacks": [capture]},
            )
        seconds = time.perf_counter() - t0
        meta = msg.response_metadata["smoothie"]
        diag = meta["diagnostics"]
        replies = {r["judge"]: r["reply"] for r in capture.replies}
        judged = []
        for j in judge_names:
            if j not in diag.get("shown", {}):
                continue
            shown = diag["shown"][j]
            read = len(diag.get("grades", {}).get(j, {}))  # what the scorer could read
            reply = replies.get(j, "")
            answers = [capture.answers.get(c) or "" for c in shown]
            echoed = read == 0 and any(
                len(a.strip()) > 3 and a.strip().rstrip(".") in reply for a in answers
            )
            judged.append(
                {"judge": j, "asked": len(shown), "read": read, "echoed": echoed, "reply": reply}
            )
        row = {
            "task": q.task,
            "question": q.text,
            "answers": {n: capture.answers.get(n) for n in names},
            "correct": {n: correct(q.text, capture.answers.get(n)) for n in names},
            "selected": meta["selected"],
            "selected_correct": correct(q.text, capture.answers.get(meta["selected"])),
            "weights": meta["weights"],
            "reliability": meta["reliability"],
            "grades": diag.get("grades", {}),
            "shown": diag.get("shown", {}),
            "judge_errors": diag.get("judge_errors", {}),
            "judges": judged,
            "judge_usage": meta.get("judge_usage", {}),
            "candidate_usage": meta.get("usage", {}),
            "seconds": round(seconds, 1),
        }
        rows.append(row)
        print(f"\n[{i}/{len(questions)}] ({q.task}) {q.text}  [{seconds:.0f} s]")
        for n in names:
            a = (capture.answers.get(n) or "").replace("\n", " ")
            mark = {True: "ok", False: "WRONG", None: "  "}[row["correct"][n]]
            print(f"  {n:<13} {mark:<5} w={meta['weights'].get(n, 0):.2f}  {a[:90]}")
        for j in judged:
            reply = j["reply"].replace("\n", " | ")
            print(f"    judge {j['judge']:<15} read {j['read']}/{j['asked']}: {reply[:100]}")
        print(f"  grades: {json.dumps(row['grades'])}")
        print(f"  -> selected {meta['selected']} (reliability {meta['reliability']:.2f})")

    def judge_stats(name: str) -> dict[str, Any]:
        calls = [j for r in rows for j in r["judges"] if j["judge"] == name]
        asked = sum(j["asked"] for j in calls)
        read = sum(j["read"] for j in calls)
        return {
            "calls": len(calls),
            "asked": asked,
            "read": read,
            "parse_rate": read / asked if asked else None,
            "calls_fully_read": sum(j["read"] == j["asked"] for j in calls),
            "calls_nothing_read": sum(j["read"] == 0 for j in calls),
            "calls_echoing_answers": sum(j["echoed"] for j in calls),
            "distinct_grade_sets": len(
                {tuple(sorted(r["grades"].get(name, {}).values())) for r in rows}
            ),
        }

    checked = [r for r in rows if r["selected_correct"] is not None]
    asked = sum(j["asked"] for r in rows for j in r["judges"])
    read = sum(j["read"] for r in rows for j in r["judges"])
    summary = {
        "judges": "the candidates (judges=None)" if judges is None else judge_names,
        "questions": len(rows),
        "judge_calls": sum(len(r["judges"]) for r in rows),
        "judge_errors": sum(len(r["judge_errors"]) for r in rows),
        "grades_asked": asked,
        "grades_read": read,
        "parse_rate": read / asked if asked else None,
        "per_judge": {n: judge_stats(n) for n in judge_names},
        "checked_questions": len(checked),
        "selected_correct": sum(bool(r["selected_correct"]) for r in checked),
        "each_model_correct": {n: sum(bool(r["correct"][n]) for r in checked) for n in names},
        "selections": {n: sum(r["selected"] == n for r in rows) for n in names},
        "seconds_total": round(sum(r["seconds"] for r in rows), 1),
    }
    print("\n" + json.dumps(summary, indent=1))
    return {"summary": summary, "rows": rows}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    questions = list(QUESTIONS)[: args.limit]

    commit, dirty = git_state()  # the code that runs, before anything can change the tree
    machine = machine_info(
        note="2 CPU cores shared by several engineers; timings are indicative only."
    )
    t_load = time.perf_counter()
    models = build_local_models(max_tokens=DEFAULT_MAX_TOKENS)
    load_s = time.perf_counter() - t_load
    strongest = list(models)[-1]
    runs = {
        # the candidates grade each other (each one the other two answers)
        "candidates_judge": run(models, None, questions),
        # the largest model as an outside judge: it grades all three answers, its own too
        "outside_judge": run(models, {f"judge-{strongest}": models[strongest]}, questions),
    }
    results = {
        "setup": {
            "models": list(models),
            "llama.cpp": "1 thread each, temperature 0 (greedy), max_tokens "
            f"{DEFAULT_MAX_TOKENS}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}",
            "router": "SmoothieRouter(scorer='peer_review', update_pool=True), default "
            "embedder (offline MiniLM), n_neighbors=None; candidates_judge: judges=None; "
            f"outside_judge: judges={{'judge-{strongest}': the {strongest} model}}",
            "system_prompt": SYSTEM_PROMPT,
            "checked": "fact and arithmetic questions only, by substring (KEY in the script)",
            "model_load_seconds": round(load_s, 1),
            "smoothie-router": smoothie_version,
        },
        **runs,
    }
    command = "OMP_WAIT_POLICY=PASSIVE HF_HUB_OFFLINE=1 " + command_line(
        None if argv is None else [sys.argv[0], *argv]
    )
    path = save_result(
        "peer_review_local",
        results,
        command=command,
        machine=machine,
        out=args.out,
        commit=commit,
        dirty=dirty,
    )
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
