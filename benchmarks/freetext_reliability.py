"""Can a free-text decision's reliability predict a win on AlpacaEval? Two candidates.

The default scorer decides free-text inputs by coverage averaged over the pool (Global);
its reliability there (the agreement posterior) has an AUC of about 0.5 for "the pick beats a
random candidate" on AlpacaEval (``defaults_alpaca_eval_*.json``). This script measures two
other reliabilities built from the input's *own* coverage scores, for the Global pick of
``answer_coverage`` (batch, every DEV pool):

* ``rank``: the share of the other candidates whose coverage score on this input is below
  the pick's;
* ``margin``: ``sigmoid(10 * (pick's score - best other score))`` on this input.

The AUC is computed by the evaluation engine (``reliability_report``: contested inputs, pick
above the mean label). Uses the embedding cache of ``defaults_evidence.py``.

    .venv/bin/python benchmarks/freetext_reliability.py --cache-dir "$SMOOTHIE_CACHE_DIR"
    -> benchmarks/results/freetext_reliability.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import defaults_evidence as de
from _results import save_result

from smoothie_core import Smoothie
from smoothie_core.embedders import default_cache_dir
from smoothie_core.evaluation.methods import EnsembleData, MethodResult, register_method
from smoothie_core.evaluation.scoring import PoolEmbedder, _rows
from smoothie_core.scorers import get_scorer

KINDS = ("rank", "margin")


def method(kind: str) -> Any:
    def run(data: EnsembleData) -> MethodResult:
        scorer = get_scorer("answer_coverage").bind(data.models)
        rows = _rows(scorer, data, PoolEmbedder(data))
        m = len(data.models)
        est = Smoothie(None, statistic=scorer.statistic).fit(
            sample_statistics=rows, candidate_names=data.models
        )
        picks = np.argmax(est.weights_, axis=1)
        own = rows[:, 2 * m : 3 * m]  # this input's coverage scores (the fallback row)
        rel = np.full(len(picks), np.nan)
        for s, j in enumerate(picks):
            if not np.isfinite(own[s]).all():
                continue  # decided by stated answers
            others = np.delete(own[s], j)
            if kind == "rank":
                rel[s] = float((others < own[s, j]).mean())
            else:
                rel[s] = float(1.0 / (1.0 + np.exp(-10.0 * (own[s, j] - others.max()))))
        return MethodResult(picks.astype(np.intp), reliability=rel)

    run.__name__ = f"coverage_reliability_{kind}"
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", default=str(default_cache_dir()))
    ap.add_argument("--alpaca-limit", type=int, default=200)
    args = ap.parse_args()
    if not (de.SHARED / "alpaca_eval").is_dir():
        print(f"skipped: no DEV data under {de.SHARED}")
        return 0
    for kind in KINDS:
        register_method(f"coverage_reliability_{kind}", method(kind), overwrite=True)
    de.ALPACA_METHODS[:] = [f"coverage_reliability_{k}" for k in KINDS]
    results: dict[str, Any] = {}
    for which in ("dev", "random"):
        out = de.run_alpaca(which, args.alpaca_limit, args.cache_dir)
        per_pool = [
            {k: v.get("auc_beats_random") for k, v in p.get("reliability", {}).items()}
            for p in out["ensembles"]
        ]
        mean = {
            f"coverage_reliability_{k}": float(
                np.mean([p[f"coverage_reliability_{k}"] for p in per_pool])
            )
            for k in KINDS
        }
        results[f"alpaca_eval_{which}"] = {"auc_beats_random_per_pool": per_pool, "mean": mean}
        print(which, {k: round(v, 3) for k, v in mean.items()})
    path = save_result("freetext_reliability", results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
