"""Why does the label-model vote stay below the best single model? Three votes compared.

On every DEV pool of the shared ``zeroeval/`` and ``mmlu_pro/`` data, with the final answers
read by :func:`smoothie_core.answers.final_answer` (strict) and one one-coin Dawid-Skene
label model fitted on the whole pool (batch, as ``answer_global``):

* ``ds``: the label model's vote (each supporter of an answer adds
  ``logit(p_j) - log(r)``, ``r`` the rate at which two wrong answers coincide);
* ``dep``: the same with a *pairwise* collision rate ``r_ij`` (estimated from the pool with
  the label model's posteriors) for every supporter after the first, so that two models
  that tend to share wrong answers count less than two independent ones;
* ``top``: the answer of the model with the highest estimated accuracy (the label-free
  "best single model");
* ``defer``: the vote, except where the label model gives its pick a posterior below 0.5
  (the threshold ``abstain_below`` is documented with): there the top-rated model's answer;

next to ``best`` (the best single model, chosen with labels) and ``random``. The label-free
choices never see a label. No embedding: about a minute of CPU.

    .venv/bin/python benchmarks/vote_variants.py
    -> benchmarks/results/vote_variants.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generations import SHARED
from _results import save_result

from smoothie_core.answers import final_answer
from smoothie_core.evaluation.generations import GenerationsData, load_pools_file
from smoothie_core.labelmodel import class_posteriors, fit_label_model

MODES = ("ds", "dep", "top", "defer")


def answer_classes(outputs: list[list[str]]) -> NDArray[np.int64]:
    rows = []
    for row in outputs:
        first: dict[str, int] = {}
        finals = [final_answer(a, strict=True) for a in row]
        rows.append([-1 if f is None else first.setdefault(f, j) for j, f in enumerate(finals)])
    return np.array(rows, dtype=np.int64)


def pairwise_collision(c: NDArray[np.int64], post: NDArray[np.float64]) -> NDArray[np.float64]:
    """``R[i, j]``: P(i and j give the same answer | both wrong), under the posteriors."""
    m = c.shape[1]
    out = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(m):
            if i == j:
                continue
            both = (c[:, i] >= 0) & (c[:, j] >= 0)
            same = both & (c[:, i] == c[:, j])
            diff = both & (c[:, i] != c[:, j])
            num = float(((1 - post[:, i]) * same).sum())
            den = num + float(((1 - post[:, i] - post[:, j]).clip(0) * diff).sum())
            out[i, j] = num / den if den > 0 else np.nan
    return out


def picks(
    c: NDArray[np.int64], p: NDArray[np.float64], r: float, pair: NDArray[np.float64], mode: str
) -> NDArray[np.intp]:
    n, m = c.shape
    logit = np.log(p) - np.log1p(-p)
    out = np.zeros(n, dtype=np.intp)
    for s in range(n):
        best, best_score = 0, -np.inf
        for k in sorted(set(c[s][c[s] >= 0].tolist())):
            sup = sorted((j for j in range(m) if c[s, j] == k), key=lambda j: -p[j])
            if mode == "ds":
                score = sum(logit[j] - np.log(r) for j in sup)
            elif mode == "dep":
                score = logit[sup[0]] - np.log(r)
                for t, j in enumerate(sup[1:], 1):
                    rr = max(pair[j, i] for i in sup[:t])
                    rr = min(max(rr, r), 0.999) if np.isfinite(rr) else r
                    score += logit[j] - np.log(rr)
            else:  # top: the most accurate supporter decides; more supporters break ties
                score = p[sup[0]] + 1e-6 * len(sup)
            if score > best_score:
                best, best_score = sup[0], score
        out[s] = best
    return out


def run(name: str) -> dict[str, Any]:
    root = SHARED / name
    data = GenerationsData(root)
    pools = []
    for pool_name, models in load_pools_file(root / "pools_dev.json"):
        pool = data.pool(models, name=pool_name)
        c, labels = answer_classes(pool.outputs), pool.labels
        fit = fit_label_model(c)
        p, r = np.asarray(fit.accuracies, dtype=np.float64), float(fit.collision)
        post, _ = class_posteriors(c, p, r)
        pair = pairwise_collision(c, post)
        row: dict[str, Any] = {"name": pool_name, "models": models, "n_inputs": pool.n_inputs}
        top = int(np.argmax(p))
        for mode in MODES:
            if mode == "defer":
                pk = picks(c, p, r, pair, "ds")
                unsure = (post[np.arange(len(pk)), pk] < 0.5) & (c[:, top] >= 0)
                pk = np.where(unsure, top, pk)
            else:
                pk = picks(c, p, r, pair, mode)
            row[mode] = float(100 * labels[np.arange(len(pk)), pk].mean())
        row["best"] = float(100 * labels.mean(axis=0).max())
        row["random"] = float(100 * labels.mean())
        row["collision"] = r
        row["pairwise_collision_mean"] = float(np.nanmean(pair))
        row["estimated_best_is_best"] = bool(
            int(np.argmax(p)) == int(np.argmax(labels.mean(axis=0)))
        )
        pools.append(row)
        print(
            f"{name:9s} {pool_name[:16]:16s} "
            + " ".join(f"{k} {row[k]:5.1f}" for k in (*MODES, "best", "random"))
            + f"  r {r:.3f} r_ij {row['pairwise_collision_mean']:.3f}",
            flush=True,
        )
    mean = {k: float(np.mean([p[k] for p in pools])) for k in (*MODES, "best", "random")}
    print(f"{name:9s} {'mean':16s} " + " ".join(f"{k} {v:5.1f}" for k, v in mean.items()))
    return {"pools": pools, "mean": mean}


def main() -> int:
    if not (SHARED / "zeroeval").is_dir():
        print(f"skipped: no DEV data under {SHARED}")
        return 0
    results = {name: run(name) for name in ("zeroeval", "mmlu_pro")}
    path = save_result("vote_variants", results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
