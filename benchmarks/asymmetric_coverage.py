"""Issue 8, item 3: asymmetric coverage vs the paper's estimator, with length controls.

Every answer is cut to its first BUDGET words in windows of WINDOW words (60/15 fixed in
advance, from an earlier probe on 150 instructions; 30/15 reported as a second variant, never chosen
by labels); see smoothie_core/asymmetric.py. Instructions: idx % 4 == 0 (202 of 805,
spread over all five AlpacaEval sources). Needs the chunk embeddings cached by
benchmarks/embed_chunks.py (same --stride/--window, budget >= --budget).

Two ensemble sets: the ten fixed DEV ensembles and the ten random ensembles of docs/alpaca_eval.md
(seed 0). Reported per ensemble and on average, win rates on the same instructions:
* coverage Global (mean score -> one model), Local k=1 (per instruction), Local k=20;
* a symmetric control on the same chunks (sum_j cov(i->j) + cov(j->i)): is it the asymmetry?
* Smoothie Global / Local k=1 / k=20 (the paper's estimator, full-answer MiniLM embeddings);
* length references: longest answer (words);
* stability: how often the coverage Global pick from 40 random instructions (300 draws)
  equals the pick from all of them;
* length controls: (a) only instructions where all answers have >= BUDGET words (each then
  contributes exactly BUDGET words in BUDGET/WINDOW chunks); (b) how often the
  per-instruction pick is the longest answer (chance 1/m); (c) mean within-instruction
  Spearman correlation of the score with the full answer length (labels: ~0.57).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/asymmetric_coverage.py [--budget 30]
    -> benchmarks/results/asymmetric_coverage_b{BUDGET}.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import DATA, ensembles, load_emb, load_outputs
from _results import machine_info, save_result
from mixed_pools import random_seed0

from smoothie_core.asymmetric import coverage_matrix, word_chunks
from smoothie_core.embedders import CachedEmbedder, default_cache_dir, default_embedder
from smoothie_core.neighbors import ExactNeighbors
from smoothie_core.triplet import neighbor_mean, sample_deltas


class Data:
    def __init__(self, stride: int, budget: int, window: int, cache_dir: Path) -> None:
        self.emb = CachedEmbedder(default_embedder(batch_size=64), cache_dir)
        self.sel = np.arange(0, 805, stride)
        self.budget, self.window = budget, window
        self.cache: dict[str, tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]] = {}
        self.ins = np.load(DATA / "emb" / "instructions.f16.npy").astype(np.float32)[self.sel]
        with open(DATA / "instructions.jsonl") as fh:
            sources = [json.loads(line)["dataset"] for line in fh]
        self.sources = np.array([sources[i] for i in self.sel])

    def model(self, name: str) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
        if name not in self.cache:
            texts, lab = load_outputs(name)
            texts = [texts[i] for i in self.sel]
            words = np.array([len(x.split()) for x in texts])
            chunks = [word_chunks(x, budget=self.budget, window=self.window) for x in texts]
            flat = self.emb.embed([c for row in chunks for c in row])
            out, pos = [], 0
            for row in chunks:
                out.append(flat[pos : pos + len(row)])
                pos += len(row)
            self.cache[name] = (lab[self.sel], load_emb(name)[self.sel], out, words)
        return self.cache[name]


def local_avg(scores: np.ndarray, ins: np.ndarray, k: int) -> np.ndarray:
    index = ExactNeighbors()
    index.add(ins.astype(np.float64))
    return neighbor_mean(scores, np.asarray(index.search(ins.astype(np.float64), k)))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> float:
    rho = [spearmanr(a[s], b[s])[0] for s in range(len(a)) if np.ptp(a[s]) > 0 and np.ptp(b[s]) > 0]
    return float(np.nanmean(rho))


def one_ensemble(data: Data, ens: list[str], k: int) -> dict[str, Any]:
    parts = [data.model(x) for x in ens]
    lab = np.stack([p[0] for p in parts], axis=1)
    lam = np.stack([p[1] for p in parts], axis=1)
    words = np.stack([p[3] for p in parts], axis=1)
    n, m = lab.shape
    asym, sym = np.zeros((n, m)), np.zeros((n, m))
    for s in range(n):
        cov = coverage_matrix([p[2][s] for p in parts])
        asym[s] = cov.sum(axis=1) - cov.sum(axis=0)
        sym[s] = cov.sum(axis=1) + cov.sum(axis=0)
    ok = np.isfinite(lab).all(axis=1) & np.isfinite(lam).all(axis=(1, 2))
    lab, lam, words, asym, sym, ins = lab[ok], lam[ok], words[ok], asym[ok], sym[ok], data.ins[ok]
    srcs = data.sources[ok]
    rows = np.arange(len(lab))
    wr_models = 100 * lab.mean(axis=0)
    res: dict[str, Any] = {"ensemble": ens, "n": len(lab)}
    res["random"] = float(wr_models.mean())
    res["best_single"] = float(wr_models.max())
    res["oracle"] = float(100 * lab.max(axis=1).mean())
    res["label_length_spearman"] = spearman_rows(lab, words)
    full = (words >= data.budget).all(axis=1)
    res["equal_budget_n"] = int(full.sum())
    res["equal_budget_random"] = float(100 * lab[full].mean()) if full.any() else None
    scores = {
        "coverage": asym,
        "symmetric_control": sym,
        "smoothie": -sample_deltas(lam),
        "longest": words.astype(float),
    }
    # stability: how often a Global pick from 40 random instructions equals the full one
    rng = np.random.default_rng(0)
    full_pick = int(np.argmax(asym.mean(axis=0)))
    res["coverage_global_stable_at_40"] = float(
        np.mean(
            [
                int(np.argmax(asym[rng.choice(len(asym), 40, replace=False)].mean(axis=0)))
                == full_pick
                for _ in range(300)
            ]
        )
    )
    by_source = {
        str(k): ens[int(np.argmax(asym[srcs == k].mean(axis=0)))] for k in sorted(set(srcs))
    }
    res["coverage_global_pick_by_source"] = by_source
    res["coverage_global_source_disagrees"] = any(v != ens[full_pick] for v in by_source.values())
    for name, score in scores.items():
        gpick = int(np.argmax(score.mean(axis=0)))
        res[f"{name}_global_pick"] = ens[gpick]
        res[f"{name}_global_wr"] = float(wr_models[gpick])
        res[f"{name}_global_picked_best"] = bool(gpick == int(np.argmax(wr_models)))
        res[f"{name}_global_spearman"] = float(spearmanr(score.mean(axis=0), wr_models)[0])
        l1 = np.argmax(score, axis=1)
        res[f"{name}_local1_wr"] = float(100 * lab[rows, l1].mean())
        res[f"{name}_local{k}_wr"] = float(
            100 * lab[rows, np.argmax(local_avg(score, ins, k), axis=1)].mean()
        )
        res[f"{name}_local1_is_longest"] = float((l1 == np.argmax(words, axis=1)).mean())
        res[f"{name}_length_spearman"] = spearman_rows(score, words)
        if full.any():
            sub, lsub = score[full], lab[full]
            res[f"{name}_equal_budget_local1_wr"] = float(
                100 * lsub[np.arange(len(sub)), np.argmax(sub, axis=1)].mean()
            )
            res[f"{name}_equal_budget_global_wr"] = float(
                100 * lsub[:, int(np.argmax(sub.mean(axis=0)))].mean()
            )
    return res


def summarise(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    keys = [
        key for key, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    summary: dict[str, Any] = {}
    for key in keys:
        vals = [r[key] for r in rows if r.get(key) is not None]
        summary[key] = float(np.mean(vals)) if vals else None
    for key in [key for key, v in rows[0].items() if isinstance(v, bool)]:
        summary[key] = int(sum(bool(r[key]) for r in rows))
    for name in ("coverage", "symmetric_control", "longest"):
        for level in ("global", "local1", f"local{k}"):
            summary[f"{name}_{level}_beats_smoothie_in"] = int(
                sum(r[f"{name}_{level}_wr"] > r[f"smoothie_{level}_wr"] for r in rows)
            )
        summary[f"{name}_local{k}_beats_random_in"] = int(
            sum(r[f"{name}_local{k}_wr"] > r["random"] for r in rows)
        )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="embedding cache filled by embed_chunks.py (default: $SMOOTHIE_CACHE_DIR or the "
        "user cache dir, smoothie_core.embedders.default_cache_dir())",
    )
    args = ap.parse_args()
    t0 = time.time()
    machine = machine_info()
    data = Data(args.stride, args.budget, args.window, args.cache_dir)
    out: dict[str, Any] = {}
    for set_name, ens_list in [("dev", ensembles()), ("random_seed0", random_seed0())]:
        rows = []
        for i, ens in enumerate(ens_list):
            r = one_ensemble(data, ens, args.k)
            rows.append(r)
            print(
                f"{set_name}[{i}] random {r['random']:5.1f} best {r['best_single']:5.1f} | "
                f"coverage G {r['coverage_global_wr']:5.1f} L1 {r['coverage_local1_wr']:5.1f} "
                f"L{args.k} {r[f'coverage_local{args.k}_wr']:5.1f} | symmetric G "
                f"{r['symmetric_control_global_wr']:5.1f} | smoothie G {r['smoothie_global_wr']:5.1f} "
                f"L1 {r['smoothie_local1_wr']:5.1f} | longest G {r['longest_global_wr']:5.1f}",
                flush=True,
            )
        out[set_name] = {"summary": summarise(rows, args.k), "ensembles": rows}
        print(json.dumps(out[set_name]["summary"], indent=1))
    # label-free cross-check: does Smoothie-Global's pick agree with coverage-Global's?
    rows = out["dev"]["ensembles"] + out["random_seed0"]["ensembles"]
    groups: dict[str, Any] = {}
    for label, same in (("agree", True), ("disagree", False)):
        sel = [r for r in rows if (r["smoothie_global_pick"] == r["coverage_global_pick"]) == same]
        groups[label] = {
            "n_ensembles": len(sel),
            "smoothie_global_gain_over_random": float(
                np.mean([r["smoothie_global_wr"] - r["random"] for r in sel])
            )
            if sel
            else None,
            "coverage_global_gain_over_random": float(
                np.mean([r["coverage_global_wr"] - r["random"] for r in sel])
            )
            if sel
            else None,
        }
    out["smoothie_vs_coverage_agreement"] = groups
    print(json.dumps(groups, indent=1))
    params = {k: v for k, v in vars(args).items() if k != "cache_dir"}  # no machine paths
    payload = {
        "params": params,
        "embedding_cache_misses": data.emb.misses,
        "seconds": round(time.time() - t0, 1),
        **out,
    }
    path = save_result(f"asymmetric_coverage_b{args.budget}", payload, machine=machine)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
