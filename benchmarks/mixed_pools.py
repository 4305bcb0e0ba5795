"""Issue 8: when does Smoothie's consensus fail, and what do diagnostics + abstention buy?

On the ten DEV ensembles (AlpacaEval 2.0, precomputed MiniLM embeddings) this prints and
saves, per ensemble and on average:

* the paper's estimator: Smoothie-Global and Smoothie-Local (k = 20) win rates;
* the reliability report of the Global fit (score, reasons) -- no labels used;
* abstention (reliability < 0.5 -> the declared default): abstention rate and win rate,
  with the default = the first model of the ensemble (the harness's convention) and,
  to show the dependence on that choice, averaged over every possible default;
* references: random pick, best single model (needs labels), per-instruction oracle.

    .venv/bin/python benchmarks/mixed_pools.py            # ~30 s
    -> benchmarks/results/mixed_pools.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import DATA, ensembles, load_emb, load_outputs

from smoothie_core.diagnostics import diagnose_deltas, mean_pairwise_sq_distances
from smoothie_core.neighbors import ExactNeighbors
from smoothie_core.triplet import neighbor_mean, sample_deltas

THRESHOLD = 0.5
K_LOCAL = 20
OUT = Path(__file__).resolve().parent / "results" / "mixed_pools.json"


def load_ensemble(models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lam = np.stack([load_emb(m) for m in models], axis=1)
    lab = np.stack([load_outputs(m)[1] for m in models], axis=1)
    ins = np.load(DATA / "emb" / "instructions.f16.npy").astype(np.float32)
    ok = np.isfinite(lam).all(axis=(1, 2)) & np.isfinite(lab).all(axis=1)
    return lam[ok], lab[ok], ins[ok]


def main() -> None:
    t0 = time.time()
    rows = []
    for e_idx, models in enumerate(ensembles()):
        lam, lab, ins = load_ensemble(models)
        n, m = lab.shape
        wr = 100 * lab.mean(axis=0)
        d = sample_deltas(lam)
        g = d.mean(axis=0)
        pick = int(np.argmin(g))
        rep = diagnose_deltas(d, candidate_names=models, pairwise=mean_pairwise_sq_distances(lam))
        abstain_g = rep.score < THRESHOLD
        # Local k = 20: per-instruction decisions and per-decision reliability
        index = ExactNeighbors()
        index.add(ins.astype(np.float64))
        nb = np.asarray(index.search(ins.astype(np.float64), K_LOCAL))
        local = neighbor_mean(d, nb)
        lpick = np.argmin(local, axis=1)
        lscore = np.array([diagnose_deltas(d[nb[s]]).score for s in range(n)])
        labstain = lscore < THRESHOLD
        rows_idx = np.arange(n)

        def with_default(
            default: int, picks: np.ndarray, abstain: np.ndarray, lab: np.ndarray = lab
        ) -> float:
            chosen = np.where(abstain, default, picks)
            return float(100 * lab[np.arange(len(picks)), chosen].mean())

        gl_picks = np.full(n, pick)
        rows.append(
            {
                "ensemble": models,
                "model_win_rates": dict(zip(models, wr.round(2).tolist(), strict=True)),
                "random": float(wr.mean()),
                "best_single": float(wr.max()),
                "oracle": float(100 * lab.max(axis=1).mean()),
                "global_pick": models[pick],
                "global_wr": float(wr[pick]),
                "global_picked_best": bool(pick == int(np.argmax(wr))),
                "reliability": rep.to_dict(),
                "global_abstained": bool(abstain_g),
                "global_wr_abstain_first": with_default(0, gl_picks, np.full(n, abstain_g)),
                "global_wr_abstain_any_default": float(
                    np.mean([with_default(j, gl_picks, np.full(n, abstain_g)) for j in range(m)])
                ),
                "local20_wr": float(100 * lab[rows_idx, lpick].mean()),
                "local20_abstention_rate": float(labstain.mean()),
                "local20_wr_abstain_first": with_default(0, lpick, labstain),
                "local20_wr_abstain_any_default": float(
                    np.mean([with_default(j, lpick, labstain) for j in range(m)])
                ),
                "local20_mean_reliability": float(lscore.mean()),
            }
        )
        r = rows[-1]
        print(
            f"[{e_idx}] global {r['global_wr']:5.1f} (best {r['best_single']:5.1f}, random {r['random']:5.1f}) "
            f"rel {rep.score:.2f} abstain={abstain_g} -> first {r['global_wr_abstain_first']:5.1f} "
            f"any {r['global_wr_abstain_any_default']:5.1f} | local20 {r['local20_wr']:5.1f} "
            f"abst {100 * r['local20_abstention_rate']:4.0f}% -> first {r['local20_wr_abstain_first']:5.1f} "
            f"any {r['local20_wr_abstain_any_default']:5.1f}",
            flush=True,
        )
        if rep.reasons:
            print("     " + rep.reasons[0][:160])
    keys = [
        k for k, v in rows[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    summary["global_picked_best"] = int(sum(r["global_picked_best"] for r in rows))
    summary["global_abstained"] = int(sum(r["global_abstained"] for r in rows))
    summary["mean_reliability"] = float(np.mean([r["reliability"]["score"] for r in rows]))
    print(json.dumps(summary, indent=1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "command": "python benchmarks/mixed_pools.py",
                "threshold": THRESHOLD,
                "k_local": K_LOCAL,
                "seconds": round(time.time() - t0, 1),
                "summary": summary,
                "ensembles": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
