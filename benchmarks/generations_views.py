"""The paper's Smoothie (Global, Local k) on the DEV labelled generations, under each text view.

For ``zeroeval/`` and ``mmlu_pro/`` of the shared data, every DEV pool of
``pools_dev.json``, bounded by ``--limit-per-task``, this runs

    smoothie eval generations --data DIR --pools-file DIR/pools_dev.json \\
        --limit-per-task N --k 1,5,20 --view VIEW --cache-dir CACHE

for each view (first, last, windows, answer: :mod:`smoothie_core.textviews`), one run at a
time, all sharing one embedding cache; and it times each view *cold* (no cache) on a fixed
sample of outputs, which is the cost a new user pays per output.

    HF_HUB_OFFLINE=1 nohup .venv/bin/python benchmarks/generations_views.py \\
        --cache-dir "$SMOOTHIE_CACHE_DIR" > generations_views.log 2>&1 &

Writes benchmarks/results/generations_{dataset}_{view}.{json,png} (the full
``--json``/``--plot`` of each run) and benchmarks/results/generations_views.json (timings and
the headline numbers of every run), all in the schema of ``benchmarks/_results.py``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generations import RESULTS, SHARED
from _results import load_result, machine_info, save_result

from smoothie_core.cli import main as smoothie
from smoothie_core.embedders import load_embedder
from smoothie_core.textviews import VIEWS, ViewEmbedder

LIMITS = {"zeroeval": 50, "mmlu_pro": 20}


def timing_sample(folder: Path, limit: int, size: int, seed: int = 0) -> list[str]:
    """``size`` outputs drawn (seeded) from the first ``limit`` prompts of every task/model."""
    texts = []
    for path in sorted(folder.glob("*/*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if limit and i >= limit:
                    break
                out = json.loads(line)["output"]
                if out is not None:
                    texts.append(out)
    return random.Random(seed).sample(texts, min(size, len(texts)))


def time_views(texts: list[str], spec: str | None, views: list[str]) -> dict[str, Any]:
    """Cold embedding cost per view (no cache): wall and process CPU seconds per output."""
    base = load_embedder(spec)
    base.embed(["warm up the model"])
    out: dict[str, Any] = {"n_outputs": len(texts)}
    for view in views:
        emb = ViewEmbedder(base, view)
        pieces = sum(len(group) for group in emb.view_texts(texts))
        wall, cpu = time.perf_counter(), time.process_time()
        emb.embed(texts)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        out[view] = {
            "texts_embedded": pieces,
            "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "seconds_per_output": round(wall / len(texts), 4),
            "cpu_seconds_per_output": round(cpu / len(texts), 4),
        }
        print(f"  cold timing, view {view:8s}: {out[view]}", flush=True)
    return out


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """What the docs tables need from one run's JSON."""
    per_task: dict[str, dict[str, Any]] = {}
    for pool in result["pools"]:
        for task, rec in pool["per_task"].items():
            t = per_task.setdefault(task, {"pools": 0, "best_identified": 0, "score": {}})
            t["pools"] += 1
            t["best_identified"] += bool(rec.get("best_identified"))
            for k, v in rec["score"].items():
                t["score"][k] = t["score"].get(k, 0.0) + v
    for t in per_task.values():
        t["score"] = {k: v / t["pools"] for k, v in t["score"].items()}
    return {
        "mean": result["mean"],
        "mean_route": result["mean_route"],
        "summary": result["summary"],
        "pools": {
            p["name"]: {
                "score": p["score"],
                "route": (p.get("route") or {}).get("score"),
                "tasks_best_identified": p["tasks_best_identified"],
                "spearman_per_task_mean": p["spearman_per_task_mean"],
            }
            for p in result["pools"]
        },
        "per_task_mean_over_pools": per_task,
        "embedding": {
            k: result["config"].get(k)
            for k in (
                "embedding_seconds",
                "embedding_cpu_seconds",
                "embedded_texts",
                "cache_misses",
            )
        },
    }


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(report: dict[str, Any]) -> str:
    """The docs' tables, from a generations_views.json report."""
    out: list[str] = []
    for name in ("zeroeval", "mmlu_pro"):
        entry = report.get(name)
        if not entry:
            continue
        runs = entry["runs"]
        any_run = next(iter(runs.values()))
        n_pools = any_run["summary"]["n_pools"]
        keys = [k for k in any_run["mean"] if k != "best_per_task"]
        out += [f"### {name}: select mode, mean over {n_pools} pools", ""]
        out.append(_row(["view", *keys, "best identified", "Spearman (per task)"]))
        out.append(_row(["---"] * (len(keys) + 3)))
        for view, run in runs.items():
            s = run["summary"]
            rho = s["spearman_per_task_mean"]
            out.append(
                _row(
                    [
                        view,
                        *(f"{run['mean'][k]:.1f}" for k in keys),
                        s["tasks_best_identified"],
                        "n/a" if rho is None else f"{rho:.2f}",
                    ]
                )
            )
        rkeys = list(any_run["mean_route"])
        out += ["", f"### {name}: route mode (routed half), mean over {n_pools} pools", ""]
        out.append(_row(["view", *rkeys, "pools where route_local_k20 > best single"]))
        out.append(_row(["---"] * (len(rkeys) + 2)))
        for view, run in runs.items():
            beats = run["summary"]["route_beats_best_single"].get("route_local_k20", "n/a")
            out.append(
                _row([view, *(f"{run['mean_route'][k]:.1f}" for k in rkeys), f"{beats}/{n_pools}"])
            )
        timing = entry.get("cold_timing")
        if timing:
            out += ["", f"### {name}: embedding cost per output, cold (no cache), MiniLM", ""]
            out.append(
                _row(
                    ["view", "texts embedded per output", "s per output (wall)", "CPU s per output"]
                )
            )
            out.append(_row(["---"] * 4))
            for view in runs:
                t = timing.get(view)
                if t:
                    out.append(
                        _row(
                            [
                                view,
                                f"{t['texts_embedded'] / timing['n_outputs']:.2f}",
                                f"{t['seconds_per_output']:.3f}",
                                f"{t['cpu_seconds_per_output']:.3f}",
                            ]
                        )
                    )
        out.append("")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED, help="folder holding zeroeval/, mmlu_pro/")
    p.add_argument("--datasets", default="zeroeval,mmlu_pro")
    p.add_argument("--views", default=",".join(VIEWS))
    p.add_argument(
        "--limit-per-task",
        default="",
        help="per data set, e.g. zeroeval=50,mmlu_pro=20 (the defaults); 0 = every prompt",
    )
    p.add_argument("--k", default="1,5,20")
    p.add_argument("--cache-dir", type=Path, required=True, help="shared embedding cache")
    p.add_argument("--embedder", default=None, help="embedder spec (default: offline MiniLM)")
    p.add_argument("--timing-sample", type=int, default=100, help="outputs timed cold per data set")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--tables", type=Path, help="print the docs' tables from this report and exit")
    args = p.parse_args()
    if args.tables is not None:
        print(markdown(load_result(args.tables)["results"]))
        return 0
    limits = dict(LIMITS)
    for item in filter(None, args.limit_per_task.split(",")):
        name, _, value = item.partition("=")
        limits[name] = int(value)
    views = [v for v in args.views.split(",") if v]
    machine = machine_info(
        note="2 CPU cores shared by several engineers working at the same time: timings are "
        "noisy and one run only."
    )
    report: dict[str, Any] = {
        "config": {
            "limits": limits,
            "views": views,
            "k": args.k,
            "cache_dir": str(args.cache_dir),
            "embedder": args.embedder or "default (all-MiniLM-L6-v2)",
        }
    }
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = args.out_dir / f"generations_views{args.tag}.json"
    rc = 0
    for name in filter(None, args.datasets.split(",")):
        folder = args.data / name
        if not folder.is_dir():
            print(f"no {name} data at {folder}", file=sys.stderr)
            return 2
        limit = limits[name]
        print(f"== {name}: limit {limit or 'none'} per task", flush=True)
        entry: dict[str, Any] = {"limit_per_task": limit}
        if args.timing_sample > 0:
            sample = timing_sample(folder, limit, args.timing_sample)
            entry["cold_timing"] = time_views(sample, args.embedder, views)
        entry["runs"] = {}
        for view in views:
            stem = args.out_dir / f"generations_{name}_{view}{args.tag}"
            cmd = [
                "eval", "generations", "--data", str(folder),
                "--pools-file", str(folder / "pools_dev.json"),
                *(["--limit-per-task", str(limit)] if limit else []), "--k", args.k, "--view", view,
                "--cache-dir", str(args.cache_dir), "--quiet",
                "--json", f"{stem}.json", "--plot", f"{stem}.png",
            ]  # fmt: skip
            if args.embedder:
                cmd += ["--embedder", args.embedder]
            print(f"-- smoothie {' '.join(cmd)}", flush=True)
            wall, cpu = time.perf_counter(), time.process_time()
            rc |= smoothie(cmd)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            result = json.loads(Path(f"{stem}.json").read_text())
            command = "smoothie " + " ".join(cmd)
            save_result(stem.name, result, command=command, machine=machine, out=f"{stem}.json")
            entry["runs"][view] = {
                "command": command,
                "seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                **headline(result),
            }
            report[name] = entry
            save_result(summary_path.stem, report, machine=machine, out=summary_path)  # every run
            print(f"   {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    print(markdown(report))
    print(f"wrote {summary_path}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
