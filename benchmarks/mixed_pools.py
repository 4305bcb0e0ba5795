"""Issue 8: when does Smoothie's consensus fail, and what do diagnostics + abstention buy?

On the ten fixed DEV ensembles and on the ten random ensembles (seed 0; docs/alpaca_eval.md) of the
AlpacaEval 2.0 DEV models (precomputed MiniLM embeddings), this prints and saves:

* the paper's estimator: Smoothie-Global and Smoothie-Local (k = 20) win rates;
* the reliability report of the Global fit (score, reasons) -- no labels used;
* abstention (reliability < 0.5 -> the declared default): abstention rate and win rate,
  with the default = the first model of the ensemble (the harness's convention) and,
  because that choice matters, averaged over every possible default;
* whether the score separates pools / instructions where Smoothie helps from where it
  hurts (labels used only to evaluate);
* select mode on one input alone (k = 1): per-decision abstention rate and win rate;
* references: random pick, best single model, per-instruction oracle (these use labels).

    .venv/bin/python benchmarks/mixed_pools.py            # ~1 min
    -> benchmarks/results/mixed_pools.json
"""

from __future__ import annotations

import fnmatch
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

from smoothie_core.diagnostics import diagnose_deltas, mean_pairwise_sq_distances
from smoothie_core.evaluation import list_models, random_ensembles
from smoothie_core.neighbors import ExactNeighbors
from smoothie_core.triplet import neighbor_mean, sample_deltas

THRESHOLD = 0.5
K_LOCAL = 20


def random_seed0() -> list[list[str]]:
    """The 10 random ensembles of 5 of docs/alpaca_eval.md (seed 0; variants and gpt4_gamed excluded)."""
    excluded = ("*_concise", "*_verbose", "gpt4_gamed")
    pool = [
        m
        for m in list_models(DATA / "results")
        if not any(fnmatch.fnmatchcase(m, g) for g in excluded)
    ]
    return random_ensembles(pool, 10, 5, 0)


def load_ensemble(models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lam = np.stack([load_emb(m) for m in models], axis=1)
    lab = np.stack([load_outputs(m)[1] for m in models], axis=1)
    ins = np.load(DATA / "emb" / "instructions.f16.npy").astype(np.float32)
    ok = np.isfinite(lam).all(axis=(1, 2)) & np.isfinite(lab).all(axis=1)
    return lam[ok], lab[ok], ins[ok]


def with_default(lab: np.ndarray, default: int, picks: np.ndarray, abstain: np.ndarray) -> float:
    chosen = np.where(abstain, default, picks)
    return float(100 * lab[np.arange(len(lab)), chosen].mean())


def one_ensemble(models: list[str]) -> dict[str, Any]:
    lam, lab, ins = load_ensemble(models)
    n, m = lab.shape
    rows = np.arange(n)
    wr = 100 * lab.mean(axis=0)
    d = sample_deltas(lam)
    pick = int(np.argmin(d.mean(axis=0)))
    rep = diagnose_deltas(d, candidate_names=models, pairwise=mean_pairwise_sq_distances(lam))
    abstain_g = np.full(n, rep.score < THRESHOLD)
    gl_picks = np.full(n, pick)
    # Local k = 20: per-instruction decisions and the reliability of each neighbourhood
    index = ExactNeighbors()
    index.add(ins.astype(np.float64))
    nb = np.asarray(index.search(ins.astype(np.float64), K_LOCAL))
    lpick = np.argmin(neighbor_mean(d, nb), axis=1)
    lscore = np.array([diagnose_deltas(d[nb[s]]).score for s in range(n)])
    labst = lscore < THRESHOLD
    gain_l = 100 * (lab[rows, lpick] - lab.mean(axis=1))
    # select mode, one input alone (Router.select with n_neighbors=None): per-sample report
    spick = np.argmin(d, axis=1)
    sscore = np.array(
        [
            diagnose_deltas(d[s], pairwise=mean_pairwise_sq_distances(lam[s : s + 1])).score
            for s in range(n)
        ]
    )
    sabst = sscore < THRESHOLD
    return {
        "ensemble": models,
        "model_win_rates": dict(zip(models, wr.round(2).tolist(), strict=True)),
        "random": float(wr.mean()),
        "best_single": float(wr.max()),
        "oracle": float(100 * lab.max(axis=1).mean()),
        "global_pick": models[pick],
        "global_wr": float(wr[pick]),
        "global_picked_best": bool(pick == int(np.argmax(wr))),
        "reliability": rep.to_dict(),
        "global_abstained": bool(abstain_g[0]),
        "global_wr_abstain_first": with_default(lab, 0, gl_picks, abstain_g),
        "global_wr_abstain_any_default": float(
            np.mean([with_default(lab, j, gl_picks, abstain_g) for j in range(m)])
        ),
        "local20_wr": float(100 * lab[rows, lpick].mean()),
        "local20_abstention_rate": float(labst.mean()),
        "local20_wr_abstain_first": with_default(lab, 0, lpick, labst),
        "local20_wr_abstain_any_default": float(
            np.mean([with_default(lab, j, lpick, labst) for j in range(m)])
        ),
        "local20_mean_reliability": float(lscore.mean()),
        "select1_wr": float(100 * lab[rows, spick].mean()),
        "select1_abstention_rate": float(sabst.mean()),
        "select1_wr_abstain_first": with_default(lab, 0, spick, sabst),
        "select1_wr_abstain_any_default": float(
            np.mean([with_default(lab, j, spick, sabst) for j in range(m)])
        ),
        # per-instruction gain of Smoothie's pick over the expected random pick (labels)
        "local20_gain_kept": float(gain_l[~labst].mean()) if (~labst).any() else None,
        "local20_gain_abstained": float(gain_l[labst].mean()) if labst.any() else None,
    }


def run_set(ens_list: list[list[str]]) -> dict[str, Any]:
    rows = []
    for e_idx, models in enumerate(ens_list):
        r = one_ensemble(models)
        rows.append(r)
        print(
            f"[{e_idx}] global {r['global_wr']:5.1f} (best {r['best_single']:5.1f}, random "
            f"{r['random']:5.1f}) rel {r['reliability']['score']:.2f} abstain="
            f"{r['global_abstained']!s:5} -> first {r['global_wr_abstain_first']:5.1f} any "
            f"{r['global_wr_abstain_any_default']:5.1f} | local20 {r['local20_wr']:5.1f} abst "
            f"{100 * r['local20_abstention_rate']:4.0f}% -> first "
            f"{r['local20_wr_abstain_first']:5.1f} any {r['local20_wr_abstain_any_default']:5.1f}",
            flush=True,
        )
    keys = [
        k
        for k, v in rows[0].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and "gain" not in k
    ]
    summary: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    summary["global_picked_best"] = int(sum(r["global_picked_best"] for r in rows))
    summary["global_abstained"] = int(sum(r["global_abstained"] for r in rows))
    summary["mean_reliability"] = float(np.mean([r["reliability"]["score"] for r in rows]))
    print(json.dumps(summary, indent=1))
    return {"summary": summary, "ensembles": rows}


def main() -> None:
    t0 = time.time()
    machine = machine_info()
    out: dict[str, Any] = {}
    for set_name, ens_list in [("dev", ensembles()), ("random_seed0", random_seed0())]:
        print(f"== {set_name}")
        out[set_name] = run_set(ens_list)
    rows = out["dev"]["ensembles"] + out["random_seed0"]["ensembles"]
    rel = np.array([r["reliability"]["score"] for r in rows])
    gain = np.array([r["global_wr"] - r["random"] for r in rows])
    ok = rel >= THRESHOLD
    kept = [r["local20_gain_kept"] for r in rows if r["local20_gain_kept"] is not None]
    abst = [r["local20_gain_abstained"] for r in rows if r["local20_gain_abstained"] is not None]
    check = {
        "n_ensembles": len(rows),
        "spearman_reliability_vs_global_gain_over_random": float(spearmanr(rel, gain)[0]),
        "n_reliable": int(ok.sum()),
        "global_gain_reliable_pools": float(gain[ok].mean()) if ok.any() else None,
        "global_gain_unreliable_pools": float(gain[~ok].mean()) if (~ok).any() else None,
        "local20_gain_kept_instructions": float(np.mean(kept)),
        "local20_gain_abstained_instructions": float(np.mean(abst)),
    }
    print(json.dumps(check, indent=1))
    payload = {
        "threshold": THRESHOLD,
        "k_local": K_LOCAL,
        "seconds": round(time.time() - t0, 1),
        "discrimination": check,
        **out,
    }
    print(f"wrote {save_result('mixed_pools', payload, machine=machine)}")


if __name__ == "__main__":
    main()
