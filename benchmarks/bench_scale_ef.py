"""Follow-up to bench_scale.py: agreement and latency vs HNSW ``ef_search`` at a large pool.

bench_scale.py found 96.8% (k=20) / 98.8% (k=5) agreement between exact and approximate
decisions at 1,000,000 samples with the default ``ef_search=128``. This script builds the
same pool once and measures agreement and one-query latency for larger ``ef_search``.

Run (~10 minutes at 1M on one busy core)::

    .venv/bin/python benchmarks/bench_scale_ef.py --n 1000000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_info, save_result
from bench_scale import RESULTS, build_pool, limit_threads, load_real, make_state, perturb, time_one

from smoothie_core import Smoothie
from smoothie_core.neighbors import ApproximateNeighbors, ExactNeighbors


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--ef", default="128,256,512")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--out", type=Path, default=RESULTS / "bench_scale_ef.json")
    args = p.parse_args()
    machine = machine_info()
    limit_threads(1)
    real = load_real()
    rng = np.random.default_rng(1)  # the same queries as bench_scale.py
    queries = perturb(rng, real["vectors"][rng.integers(0, len(real["vectors"]), 500)])
    inputs, stats = build_pool(real, args.n)
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_ef_"))
    path = make_state(tmp / "state.npz", inputs, stats, args.k, np.float32)
    exact = Smoothie.load(path, neighbor_index=lambda: ExactNeighbors(dtype=np.float32))
    want = {kk: exact.predict(queries, n_neighbors=kk) for kk in (5, args.k)}
    del exact
    holder: dict[str, ApproximateNeighbors] = {}

    def factory() -> ApproximateNeighbors:
        holder["index"] = ApproximateNeighbors()
        return holder["index"]

    approx = Smoothie.load(path, neighbor_index=factory)
    t = time.perf_counter()
    approx.predict_weights(queries[:1])
    build = time.perf_counter() - t
    rows = []
    for ef in [int(x) for x in args.ef.split(",")]:
        holder["index"].ef_search = ef
        lat = time_one(approx.predict_weights, queries, args.reps)
        agree = {
            f"k{kk}": float(np.mean(approx.predict(queries, n_neighbors=kk) == want[kk]))
            for kk in want
        }
        rows.append({"ef_search": ef, "latency_ms": lat * 1e3, "agreement": agree})
        print(f"n={args.n} ef_search={ef}: {lat * 1e3:.3f} ms, agreement {agree}", flush=True)
    out = {
        "n": args.n,
        "k": args.k,
        "build_s": build,
        "reference": "exact float32 (agreed 100% with float64 in bench_scale)",
        "rows": rows,
    }
    save_result(args.out.stem, out, machine=machine, out=args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
