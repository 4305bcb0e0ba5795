"""How well does ``smoothie_core.answers`` read the final answers of the DEV generations?

For every output of every model and task of the shared ``zeroeval/`` and ``mmlu_pro/``
data: is an answer extracted (:func:`~smoothie_core.answers.extract_answer`), and where
it is, does "normalised extracted answer == normalised reference" agree with the
data's ``label``? Reported per data set and per task, with ``literal=True`` too (program
outputs, CRUXEval), and a few disagreements per kind for inspection. No model, no
embedding: about a minute of CPU.

    .venv/bin/python benchmarks/answer_extraction.py
    -> benchmarks/results/answer_extraction.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generations import RESULTS, SHARED
from _results import machine_info, save_result

from smoothie_core.answers import extract_answer, normalize_answer


def evaluate(folder: Path, n_examples: int) -> dict[str, Any]:
    per_task: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(folder.glob("*/*.jsonl.gz")):
        task, model = path.parent.name, path.name.removesuffix(".jsonl.gz")
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                if row["output"] is None or row["label"] is None:
                    continue
                c = per_task[task]
                c["outputs"] += 1
                c["label_1"] += row["label"] >= 0.5
                found = extract_answer(row["output"])
                if found is None:
                    c["no_answer"] += 1
                    c["no_answer_label_1"] += row["label"] >= 0.5
                    continue
                c["extracted"] += 1
                for mode, literal in (("default", False), ("literal", True)):
                    equal = normalize_answer(found, literal=literal) == normalize_answer(
                        str(row["reference"]), literal=literal
                    )
                    agree = equal == (row["label"] >= 0.5)
                    c[f"agree_{mode}"] += agree
                    if not agree:
                        kind = "equal_but_label_0" if equal else "different_but_label_1"
                        c[f"{kind}_{mode}"] += 1
                        key = f"{task}/{kind}/{mode}"
                        if mode == "default" and len(examples[key]) < n_examples:
                            examples[key].append(
                                {
                                    "model": model,
                                    "id": row["id"],
                                    "reference": row["reference"],
                                    "extracted": found,
                                    "normalised": normalize_answer(found),
                                    "output_end": row["output"][-200:],
                                }
                            )
    tasks = {t: _rates(c) for t, c in sorted(per_task.items())}
    total: Counter[str] = Counter()
    for c in per_task.values():
        total.update(c)
    return {"overall": _rates(total), "per_task": tasks, "disagreements": dict(examples)}


def _rates(c: Counter[str]) -> dict[str, Any]:
    ext = max(c["extracted"], 1)
    return {
        "outputs": c["outputs"],
        "extracted": c["extracted"],
        "extracted_fraction": c["extracted"] / max(c["outputs"], 1),
        "no_answer_but_label_1": c["no_answer_label_1"],
        "agreement_with_label": c["agree_default"] / ext,
        "agreement_with_label_literal": c["agree_literal"] / ext,
        "equal_but_label_0": c["equal_but_label_0_default"],
        "different_but_label_1": c["different_but_label_1_default"],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED, help="folder holding zeroeval/, mmlu_pro/")
    p.add_argument("--examples", type=int, default=5, help="disagreements kept per task and kind")
    p.add_argument("--out", type=Path, default=RESULTS / "answer_extraction.json")
    args = p.parse_args()
    machine = machine_info()
    report: dict[str, Any] = {}
    start = time.perf_counter()
    for name in ("zeroeval", "mmlu_pro"):
        folder = args.data / name
        if not folder.is_dir():
            print(f"no {name} data at {folder}", file=sys.stderr)
            return 2
        res = evaluate(folder, args.examples)
        report[name] = res
        o = res["overall"]
        print(
            f"{name}: {o['outputs']} outputs, answer extracted from "
            f"{100 * o['extracted_fraction']:.1f}%; equality with the reference agrees with the "
            f"label on {100 * o['agreement_with_label']:.1f}% of those "
            f"({100 * o['agreement_with_label_literal']:.1f}% with literal=True)"
        )
        for task, r in res["per_task"].items():
            print(
                f"  {task:18s} extracted {100 * r['extracted_fraction']:5.1f}%  agree "
                f"{100 * r['agreement_with_label']:5.1f}%  literal "
                f"{100 * r['agreement_with_label_literal']:5.1f}%  equal-but-label-0 "
                f"{r['equal_but_label_0']:4d}  different-but-label-1 {r['different_but_label_1']:4d}"
            )
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(f"wrote {save_result(args.out.stem, report, machine=machine, out=args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
