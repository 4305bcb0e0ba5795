"""Reproduce the Smoothie paper's AlpacaEval experiment on the shared DEV data.

Runs ``smoothie eval alpaca-eval`` twice with the precomputed MiniLM embeddings:

1. the ten fixed DEV ensembles of ``ensembles_dev.json``;
2. ten random ensembles of five models (seed 0), drawn from the DEV models minus the
   ``_concise``/``_verbose`` prompting variants and the adversarial ``gpt4_gamed``.

Both report random / best single / oracle (label-using references), Smoothie-Global,
Smoothie-Local k = 1, 5, 20, 50 and our label-free variants (empirical-Bayes
shrinkage of Local towards Global, Gaussian-kernel Local). It also checks that the
default embedder reproduces the shipped float16 embeddings (cosine on a few texts).

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/alpaca_eval_reproduce.py [--data DIR]

Writes benchmarks/results/alpaca_eval_{dev,random}.json and .png,
alpaca_eval_random_seeds.json and alpaca_eval_embedder_check.json (the schema of
``benchmarks/_results.py``: the command's ``--json`` output under ``"results"``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine_info, save_result

from smoothie_core.cli import main as smoothie

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
EXTRA = "smoothie_local_eb_k1,smoothie_local_eb_k5,smoothie_local_eb_k20,smoothie_kernel"


def embedder_check(data: Path) -> dict[str, float]:
    from smoothie_core.embedders import default_embedder

    emb = default_embedder()
    instr = [json.loads(line)["instruction"] for line in (data / "instructions.jsonl").open()]
    with gzip.open(data / "outputs" / "claude.jsonl.gz", "rt") as fh:
        outs = [json.loads(line)["output"] for line in fh]
    rows = [0, 1, 2, 100, 400, 804]
    res = {}
    for name, texts, arr in [
        ("instructions", [instr[i] for i in rows], "instructions"),
        ("claude outputs", [outs[i] for i in rows], "claude"),
    ]:
        a = emb.embed(texts)
        b = np.load(data / "emb" / f"{arr}.f16.npy")[rows].astype(np.float32)
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        res[f"min_cosine_{name.replace(' ', '_')}"] = float(cos.min())
    return res


def random_pools(common: list[str], seed: int) -> list[str]:
    """Arguments for 10 random 5-model pools (seeded), without the style/gamed variants."""
    return [
        *common,
        "--random-ensembles",
        "10",
        "--ensemble-size",
        "5",
        "--seed",
        str(seed),
        "--exclude",
        "*_concise",
        "--exclude",
        "*_verbose",
        "--exclude",
        "gpt4_gamed",
    ]


def main() -> int:
    p = argparse.ArgumentParser()
    default = Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    p.add_argument("--data", type=Path, default=default / "alpaca_eval")
    p.add_argument("--skip-embedder-check", action="store_true")
    args = p.parse_args()
    data = args.data
    if not (data / "results").is_dir():
        print(f"no AlpacaEval data at {data}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    common = [
        "eval",
        "alpaca-eval",
        "--results-dir",
        str(data / "results"),
        "--precomputed-embeddings",
        str(data),
        "--k",
        "1,5,20,50",
        "--methods",
        EXTRA,
        "--quiet",
    ]
    rc = smoothie(
        [
            *common,
            "--ensembles-file",
            str(data / "ensembles_dev.json"),
            "--json",
            str(OUT / "alpaca_eval_dev.json"),
            "--plot",
            str(OUT / "alpaca_eval_dev.png"),
        ]
    )
    rc |= smoothie(
        [
            *random_pools(common, 0),
            "--json",
            str(OUT / "alpaca_eval_random.json"),
            "--plot",
            str(OUT / "alpaca_eval_random.png"),
        ]
    )
    for name in ("alpaca_eval_dev", "alpaca_eval_random"):  # the CLI's JSON, with the header
        path = OUT / f"{name}.json"
        save_result(name, json.loads(path.read_text()), machine=machine, out=path)
    # robustness: the same protocol with other seeds (summary only)
    seeds: dict[str, object] = {}
    for seed in range(5):
        path = OUT / f"alpaca_eval_random_seed{seed}.json"
        rc |= smoothie([*random_pools(common, seed), "--json", str(path)])
        res = json.loads(path.read_text())
        path.unlink()
        seeds[str(seed)] = {"mean": res["mean"], "summary": res["summary"]}
    save_result("alpaca_eval_random_seeds", seeds, machine=machine)
    keys = ["random", "smoothie_global", "smoothie_local_k1", "best_single"]
    print("seed  " + "  ".join(keys) + "  best_picked  spearman")
    for seed, rec in seeds.items():
        m, s = rec["mean"], rec["summary"]  # type: ignore[index]
        print(
            seed,
            *(f"{m[k]:.1f}" for k in keys),
            s["best_picked"],
            f"{s['spearman_global_mean']:.2f}",
        )
    if not args.skip_embedder_check:
        check = embedder_check(data)
        print("default embedder vs shipped float16 embeddings:", check)
        save_result("alpaca_eval_embedder_check", check, machine=machine)
    return rc


if __name__ == "__main__":
    sys.exit(main())
