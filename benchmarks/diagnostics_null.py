"""Where the ``outlier`` check's thresholds come from (smoothie_core/diagnostics.py).

Null model = Smoothie's own assumption with comparably strong candidates: independent
isotropic Gaussian errors, error variances drawn uniformly from [0.8, 1.25] (a factor
1.56 between the best and the worst). For each pool size m and sample count n, 200 pools;
prints the quantiles of ``z = (delta_max - median(rest)) / median(rest)`` of the Global
fit, and writes benchmarks/results/diagnostics_null.json.

    .venv/bin/python benchmarks/diagnostics_null.py     # ~20 s
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine_info, save_result

from smoothie_core.triplet import sample_deltas


def z_of(a: np.ndarray) -> float:
    s = np.sort(a)
    med = float(np.median(s[:-1]))
    return float((s[-1] - med) / med)


def main() -> None:
    machine = machine_info()
    rng = np.random.default_rng(0)
    rows = []
    for m in (3, 4, 5, 7, 10):
        for n in (50, 400):
            zs = []
            for _ in range(200):
                var = rng.uniform(0.8, 1.25, size=m)
                truth = rng.normal(size=(n, 1, 64))
                lam = truth + rng.normal(size=(n, m, 64)) * np.sqrt(var)[:, None]
                zs.append(z_of(sample_deltas(lam).mean(axis=0)))
            q = np.percentile(zs, [50, 90, 95, 99])
            rows.append({"m": m, "n": n, "p50": q[0], "p90": q[1], "p95": q[2], "p99": q[3]})
            print(f"m={m:2d} n={n:3d}  z quantiles 50/90/95/99%: {np.round(q, 3)}")
    print(f"wrote {save_result('diagnostics_null', {'rows': rows}, machine=machine)}")


if __name__ == "__main__":
    main()
