"""The evidence behind the library's defaults: every scorer on every DEV pool family.

Runs the evaluation engine (``smoothie eval generations`` / ``alpaca-eval``'s code) on
the shared DEV data and writes one result file per data set
(``results/defaults_<dataset>.json``) plus a summary table
(``results/defaults_summary.json``): per method, the mean score over the data set's
pools, the worst margin over random, the mean margin over the best single model, and
for ``router_default`` (what a default ``Router`` picks) its reliability's AUC and
abstention.

    python benchmarks/defaults_evidence.py                        # everything (~2 h here)
    python benchmarks/defaults_evidence.py --quick                # a few minutes: subsets
    python benchmarks/defaults_evidence.py --datasets zeroeval    # one data set

Embeddings are cached in ``--cache-dir`` (default: the library's cache folder), so a
second run takes minutes. The data path is ``$SMOOTHIE_SHARED_DATA`` (default
``../shared/data`` next to the repository).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _generations import SHARED
from _results import save_result

from smoothie_core.embedders import CachedEmbedder, default_cache_dir, load_embedder
from smoothie_core.evaluation import (
    GenerationsData,
    PrecomputedEmbeddings,
    TextEmbeddings,
    load_ensembles_file,
    random_ensembles,
    run_alpaca_eval,
    run_generations,
)
from smoothie_core.evaluation.data import list_models
from smoothie_core.evaluation.generations import load_pools_file

#: Select-mode methods compared on answer-bearing data (ZeroEval, MMLU-Pro): cheap ones
#: (no embedding of whole long outputs).
GENERATION_METHODS = [
    "router_default",
    "answer_vote",
    "longest_answer",
    "answer_global",
    "answer_local_k20",
    "answer_coverage_global",
    "consensus_answer_global",
    "consensus_answer_local_k20",
]
GENERATION_ROUTE = ["router_default", "route_answer_global", "route_answer_local_k20"]
#: On AlpacaEval (free text) the paper's estimator reads the shipped vectors (free).
ALPACA_METHODS = [
    "router_default",
    "longest_answer",
    "answer_global",
    "coverage_global",
    "coverage_local_k20",
    "answer_coverage_global",
]


def run_generations_set(name: str, limit: int | None, cache: str) -> dict[str, Any]:
    root = SHARED / name
    data = GenerationsData(root)
    pools = load_pools_file(root / "pools_dev.json")
    base = load_embedder(None)
    cached = CachedEmbedder(base, cache)
    source = TextEmbeddings(cached, progress=False, input_embedder=cached)
    t0 = time.perf_counter()
    out = run_generations(
        data,
        pools,
        source,
        methods=GENERATION_METHODS,
        route=GENERATION_ROUTE,
        route_split=0.5,
        limit_per_task=limit,
        embedder=cached,
        progress=True,
    )
    out["config"]["seconds"] = time.perf_counter() - t0
    return out


def run_alpaca(which: str, limit: int | None, cache: str) -> dict[str, Any]:
    root = SHARED / "alpaca_eval"
    if which == "dev":
        ensembles = load_ensembles_file(root / "ensembles_dev.json")
    else:
        models = [
            m
            for m in list_models(root / "results")
            if not (m.endswith("_concise") or m.endswith("_verbose") or m == "gpt4_gamed")
        ]
        ensembles = random_ensembles(models, 10, 5, seed=0)
    embedder = CachedEmbedder(load_embedder(None), cache)
    t0 = time.perf_counter()
    out = run_alpaca_eval(
        root / "results",
        ensembles,
        PrecomputedEmbeddings(root),
        methods=["smoothie_global", "smoothie_local_k20", *ALPACA_METHODS],
        limit=limit,
        embedder=embedder,
    )
    out["config"]["seconds"] = time.perf_counter() - t0
    return out


def summarize(name: str, result: dict[str, Any], *, alpaca: bool) -> dict[str, Any]:
    pools = result["ensembles"] if alpaca else result["pools"]
    key = "win_rate" if alpaca else "score"
    methods = [k for k in pools[0][key] if k not in ("random", "best_single", "oracle")]
    rows = {}
    for m in ["random", "best_single", "oracle", *methods]:
        vals = np.array([p[key][m] for p in pools])
        rnd = np.array([p[key]["random"] for p in pools])
        best = np.array([p[key]["best_single"] for p in pools])
        rows[m] = {
            "mean": float(vals.mean()),
            "worst_margin_over_random": float((vals - rnd).min()),
            "mean_margin_over_best_single": float((vals - best).mean()),
            "pools_at_or_above_random": int((vals >= rnd - 1e-9).sum()),
            "pools": len(pools),
        }
    out: dict[str, Any] = {"dataset": name, "methods": rows}
    rel = [p.get("reliability", {}).get("router_default") for p in pools]
    rel = [r for r in rel if r]
    if rel:
        aucs = [r["auc_beats_random"] for r in rel if r["auc_beats_random"] is not None]
        out["router_default_reliability"] = {
            "auc_beats_random_mean": float(np.mean(aucs)) if aucs else None,
            "auc_beats_random_min": float(np.min(aucs)) if aucs else None,
            "abstain_rate_mean": float(np.mean([r["abstain_below_0.5"]["rate"] for r in rel])),
            "score_without_mean": float(
                np.mean([r["abstain_below_0.5"]["score_without"] for r in rel])
            ),
            "score_abstain_default_mean": float(
                np.mean([r["abstain_below_0.5"]["score_default_mean"] for r in rel])
            ),
            "score_abstain_default_best": float(
                np.mean([r["abstain_below_0.5"]["score_default_best"] for r in rel])
            ),
        }
    if not alpaca:
        routes = [p["route"] for p in pools if p.get("route")]
        if routes:
            out["route"] = {
                m: float(np.mean([r["score"][m] for r in routes])) for m in routes[0]["score"]
            }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--datasets",
        default="zeroeval,mmlu_pro,alpaca_eval_dev,alpaca_eval_random",
        help="comma-separated: zeroeval, mmlu_pro, alpaca_eval_dev, alpaca_eval_random",
    )
    ap.add_argument(
        "--quick", action="store_true", help="subsets: 30 prompts per task, 40 instructions"
    )
    ap.add_argument("--alpaca-limit", type=int, default=200, help="AlpacaEval instructions used")
    ap.add_argument("--cache-dir", default=str(default_cache_dir()))
    args = ap.parse_args()
    summary = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if name.startswith("alpaca_eval"):
            which = name.split("_")[-1]
            result = run_alpaca(which, 40 if args.quick else args.alpaca_limit, args.cache_dir)
            summ = summarize(name, result, alpaca=True)
        else:
            result = run_generations_set(name, 30 if args.quick else None, args.cache_dir)
            summ = summarize(name, result, alpaca=False)
        suffix = "_quick" if args.quick else ""
        save_result(f"defaults_{name}{suffix}", result)
        summary[name] = summ
        print(f"\n== {name}")
        for m, r in summ["methods"].items():
            print(
                f"  {m:28s} mean {r['mean']:6.1f}  worst vs random {r['worst_margin_over_random']:+6.1f}"
                f"  vs best single {r['mean_margin_over_best_single']:+6.1f}"
                f"  >= random {r['pools_at_or_above_random']}/{r['pools']}"
            )
        if "route" in summ:
            print("  route:", {k: round(v, 1) for k, v in summ["route"].items()})
        if "router_default_reliability" in summ:
            print("  router_default reliability:", summ["router_default_reliability"])
        sys.stdout.flush()
    save_result("defaults_summary" + ("_quick" if args.quick else ""), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
