"""Benchmark: scale. Decision latency vs pool size, memory per sample, embedding
throughput, Ray Data vs local batch selection.

**Decision latency (route mode).** One query against a pool of n samples (d = 384,
m = 5 candidates, Smoothie-Local k = 20): the time of
``Smoothie.predict_weights(query_embedding)`` (neighbour search + weight average; the
query is already embedded), the state loaded with ``Smoothie.load`` and the index built
beforehand (build time reported separately). Backends: exact numpy search in float64
(the default) and float32 (``Smoothie(dtype=np.float32)``), and the approximate HNSW
index (``ApproximateNeighbors``, faiss). In the same run, the time to embed one query with
the default MiniLM (``default_embedder().embed([text])``, single short instruction) gives
the budget: the target is decision <= 25% of embedding at n = 200,000.

**How the pools are built (real statistics, partly synthetic inputs).** From the shared
AlpacaEval DEV data (precomputed all-MiniLM-L6-v2 embeddings, float16 -> float32):

* statistics: for each of the 10 DEV ensembles of 5 models (``ensembles_dev.json``) and
  each of the 805 instructions, ``sample_deltas`` of the 5 models' output embeddings: 8,050
  real per-sample statistics ("pooling many ensembles' samples"; slot j is the j-th model
  of its ensemble);
* inputs: every real MiniLM vector tied to an instruction: the instruction itself and
  each of the 36 models' outputs to it (29,779 finite vectors of real texts). A pool sample
  takes one such vector as its input and the statistic of that instruction under a random
  DEV ensemble. Up to 29,779 samples every input is a distinct real vector; beyond that
  (50k ... 1M) inputs are real vectors plus Gaussian noise (norm 0.25, renormalised;
  cosine ~0.97 to the parent) and the statistic gets log-normal noise (sigma 0.2), so
  large pools are real vectors densified synthetically, not 200k real prompts.
* queries: 500 fresh perturbations (same noise) of random real vectors, not in the pool.

**Agreement.** Exact (float64) vs approximate decisions (argmax of the weights) on the
500 queries, k = 5 and 20, at every pool size.

**Auto threshold.** ``AutoNeighbors`` switches to the approximate index at
``AUTO_THRESHOLD`` samples; the script reports the smallest measured pool size at which
exact float64 search of one query exceeds 1 ms (a tenth of the ~10 ms MiniLM query budget)
so the constant can be checked against this machine.

**Memory per sample.** Bytes of the Smoothie state (statistics + input embeddings) and of
the neighbour index, float64 vs float32, exact vs HNSW.

**Embedding throughput.** The project's ``SentenceTransformerEmbedder.embed`` vs raw
``SentenceTransformer.encode`` (same model object, same texts, same batch size,
interleaved repeats, median), and ``CachedEmbedder`` cold (all misses) and warm (all hits).

**Ray vs local.** ``select_ray`` (Ray local mode, ``num_cpus=2``) vs the single-machine
``smoothie select`` code path on the same rows (hashing embedder, so the comparison is the
pipeline, not the model; plus a small MiniLM run), rows/second.

Run (about 10-15 minutes on 2 busy shared cores; ``--quick`` ~2 minutes)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_scale.py
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_scale.py --sizes 1000,200000 --skip-ray

Writes ``benchmarks/results/bench_scale.json`` (schema: ``benchmarks/_results.py``; the
measurements under ``"results"``) and ``bench_scale.png``.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import load_result, machine_info, save_result

from smoothie_core import Smoothie, _io
from smoothie_core.neighbors import (
    AUTO_THRESHOLD,
    ApproximateNeighbors,
    ExactNeighbors,
)
from smoothie_core.triplet import sample_deltas

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data")) / "alpaca_eval"
RESULTS = ROOT / "benchmarks" / "results"
DIM = 384
NOISE = 0.25


# ----------------------------------------------------------------------------- data
def load_real() -> dict[str, Any]:
    emb = DATA / "emb"
    ensembles = json.loads((DATA / "ensembles_dev.json").read_text())
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = np.load(emb / f"{name}.f16.npy").astype(np.float32)
        return cache[name]

    stats = []  # (ensemble, instruction) -> deltas; NaN rows where an output is missing
    for ens in ensembles:
        outs = np.stack([get(m) for m in ens], axis=1)
        ok = np.isfinite(outs).all(axis=(1, 2))
        d = np.full((outs.shape[0], len(ens)), np.nan)
        d[ok] = sample_deltas(outs[ok])
        stats.append(d)
    deltas = np.stack(stats)  # (n_ensembles, 805, 5)
    vectors, instr = [], []
    for path in sorted(glob.glob(str(emb / "*.f16.npy"))):
        a = get(Path(path).name.removesuffix(".f16.npy"))
        ok = np.isfinite(a).all(axis=1)
        vectors.append(a[ok])
        instr.append(np.flatnonzero(ok))
    return {"deltas": deltas, "vectors": np.concatenate(vectors), "instr": np.concatenate(instr)}


def perturb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    y = x + rng.normal(size=x.shape).astype(np.float32) * (NOISE / np.sqrt(DIM))
    return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


def build_pool(real: dict[str, Any], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vec, instr, deltas = real["vectors"], real["instr"], real["deltas"]
    n_real = len(vec)
    src = (
        rng.permutation(n_real)[:n]
        if n <= n_real
        else np.concatenate([rng.permutation(n_real), rng.integers(0, n_real, n - n_real)])
    )
    inputs = vec[src].copy()
    ens = rng.integers(0, deltas.shape[0], n)
    stats = deltas[ens, instr[src]]
    bad = ~np.isfinite(stats).all(axis=1)  # a model lacks that output: take another ensemble
    while bad.any():
        ens[bad] = rng.integers(0, deltas.shape[0], bad.sum())
        stats[bad] = deltas[ens[bad], instr[src[bad]]]
        bad = ~np.isfinite(stats).all(axis=1)
    if n > n_real:
        extra = slice(n_real, n)
        inputs[extra] = perturb(rng, inputs[extra])
        stats[extra] = stats[extra] * np.exp(0.2 * rng.normal(size=stats[extra].shape))
    return inputs, stats


def make_state(path: Path, inputs: np.ndarray, stats: np.ndarray, k: int, dtype: Any) -> Path:
    header = {
        "metadata": {"built_by": "bench_scale"},
        "format": "smoothie-router/Smoothie",
        "format_version": 1,
        "n_neighbors": k,
        "max_samples": None,
        "candidate_names": [f"slot{j}" for j in range(stats.shape[1])],
        "output_dim": DIM,
        "n_samples": int(stats.shape[0]),
    }
    arrays = {"sample_deltas": stats.astype(np.float64), "input_embeddings": inputs.astype(dtype)}
    return _io.save_arrays(path, header, arrays)


# -------------------------------------------------------------------------- timing
def limit_threads(n: int) -> None:
    """Pin numpy's BLAS, torch and faiss to ``n`` threads (same conditions for every timing)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    import torch

    torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass


def time_one(fn: Any, queries: np.ndarray, reps: int) -> float:
    """Median seconds of fn(query) over `reps` single queries."""
    fn(queries[:1])  # warm
    times = []
    for i in range(reps):
        q = queries[i % len(queries) : i % len(queries) + 1]
        t = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def embed_query_time(reps: int) -> dict[str, float]:
    from smoothie_core.embedders import default_embedder

    emb = default_embedder()
    texts = [
        json.loads(line)["instruction"]
        for line in (DATA / "instructions.jsonl").read_text().splitlines()[:reps]
    ]
    emb.embed(["warm up"])
    times = []
    for t in texts:
        s = time.perf_counter()
        emb.embed([t])
        times.append(time.perf_counter() - s)
    return {"median_s": statistics.median(times), "n": len(times)}


def latency_section(
    real: dict[str, Any], sizes: list[int], reps: int, k: int, ann_max: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    base = real["vectors"][rng.integers(0, len(real["vectors"]), 500)]
    queries = perturb(rng, base)
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    for n in sizes:
        inputs, stats = build_pool(real, n)
        row: dict[str, Any] = {"n": n}
        decisions = {}
        for name, dtype, factory in (
            ("exact_float64", np.float64, ExactNeighbors),
            ("exact_float32", np.float32, lambda: ExactNeighbors(dtype=np.float32)),
            ("approximate", np.float32, ApproximateNeighbors),
        ):
            if name == "approximate" and n > ann_max:
                continue
            path = make_state(tmp / f"{name}.npz", inputs, stats, k, dtype)
            est = Smoothie.load(path, neighbor_index=factory)
            t = time.perf_counter()
            est.predict_weights(queries[:1])  # builds the index
            build = time.perf_counter() - t
            lat = time_one(est.predict_weights, queries, reps)
            index = est._index
            if isinstance(index, ExactNeighbors):
                index_bytes = index.vectors.nbytes + index._sq_norms.nbytes
            else:
                import faiss

                index_bytes = int(faiss.serialize_index(index._index).nbytes)
            state_bytes = est.sample_deltas_.nbytes + est.input_embeddings_.nbytes
            decisions[name] = {kk: est.predict(queries, n_neighbors=kk) for kk in (5, k)}
            row[name] = {
                "latency_ms": lat * 1e3,
                "index_build_s": build,
                "state_bytes_per_sample": state_bytes / n,
                "index_bytes_per_sample": index_bytes / n,
            }
            print(
                f"n={n:>8} {name:<14} latency {lat * 1e3:8.3f} ms  build {build:7.2f} s  "
                f"state {state_bytes / n:6.0f} B/sample  index {index_bytes / n:6.0f} B/sample",
                flush=True,
            )
            del est, index
            gc.collect()
        if "approximate" in decisions:
            row["agreement_exact_vs_approximate"] = {
                f"k{kk}": float(
                    np.mean(decisions["exact_float64"][kk] == decisions["approximate"][kk])
                )
                for kk in (5, k)
            }
        row["agreement_float64_vs_float32"] = {
            f"k{kk}": float(
                np.mean(decisions["exact_float64"][kk] == decisions["exact_float32"][kk])
            )
            for kk in (5, k)
        }
        print(
            f"n={n:>8} agreement {row.get('agreement_exact_vs_approximate')} "
            f"f64/f32 {row['agreement_float64_vs_float32']}",
            flush=True,
        )
        rows.append(row)
    return rows


# ---------------------------------------------------------------------- embeddings
def embedding_section(n_texts: int, repeats: int) -> dict[str, Any]:
    import gzip

    from smoothie_core.embedders import CachedEmbedder, default_embedder

    texts = []
    for path in sorted((DATA / "outputs").glob("*.jsonl.gz"))[:4]:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            texts += [json.loads(line)["output"] or "" for line in fh]
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in rng.permutation(len(texts))[:n_texts]]
    emb = default_embedder()
    model = emb.model
    raw_t, ours_t = [], []
    for _ in range(repeats):  # interleaved so load changes hit both alike
        t = time.perf_counter()
        raw = model.encode(
            texts,
            batch_size=emb.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        raw_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        ours = emb.embed(texts)
        ours_t.append(time.perf_counter() - t)
    same = bool(np.allclose(raw, ours, atol=1e-6))
    cache_dir = tempfile.mkdtemp(prefix="bench_scale_cache_")
    cached = CachedEmbedder(emb, cache_dir)
    t = time.perf_counter()
    cached.embed(texts)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    cached.embed(texts)
    warm = time.perf_counter() - t
    out = {
        "n_texts": len(texts),
        "mean_chars": float(np.mean([len(x) for x in texts])),
        "repeats": repeats,
        "raw_encode_s": raw_t,
        "ours_embed_s": ours_t,
        "raw_median_s": statistics.median(raw_t),
        "ours_median_s": statistics.median(ours_t),
        "ours_over_raw": statistics.median(ours_t) / statistics.median(raw_t),
        "same_vectors": same,
        "cached_cold_s": cold,
        "cached_warm_s": warm,
        "cached_cold_over_raw": cold / statistics.median(raw_t),
    }
    print(
        f"embedding {len(texts)} texts: raw {out['raw_median_s']:.2f} s, ours {out['ours_median_s']:.2f} s "
        f"(x{out['ours_over_raw']:.3f}); cache cold {cold:.2f} s, warm {warm:.3f} s",
        flush=True,
    )
    return out


# ----------------------------------------------------------------------------- ray
def ray_section(n_rows: int, n_minilm: int) -> dict[str, Any]:
    import argparse as ap

    import ray

    from smoothie_core.cli import _select
    from smoothie_core.distributed import select_ray

    rng = np.random.default_rng(0)
    lines = (DATA / "instructions.jsonl").read_text().splitlines()
    import gzip

    names = ["alpaca-7b", "claude", "gpt-3.5-turbo-1106", "vicuna-13b-v1.5", "wizardlm-13b"]
    outs = {}
    for m in names:
        with gzip.open(DATA / "outputs" / f"{m}.jsonl.gz", "rt", encoding="utf-8") as fh:
            outs[m] = [json.loads(line)["output"] for line in fh]
    instr = [json.loads(line)["instruction"] for line in lines]

    def rows(n: int) -> list[dict[str, Any]]:
        idx = rng.integers(0, len(instr), n)
        return [
            {"index": i, "input": instr[j] + f" #{i}", **{m: outs[m][j] for m in names}}
            for i, j in enumerate(idx)
        ]

    result: dict[str, Any] = {}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        for label, n, spec, k in (
            ("hashing", n_rows, "hashing:384", 20),
            ("minilm", n_minilm, None, 20),
        ):
            data = rows(n)
            tmp = Path(tempfile.mkdtemp(prefix="bench_scale_ray_"))
            (tmp / "inputs.jsonl").write_text(
                "".join(json.dumps({"input": r["input"]}) + "\n" for r in data)
            )
            for m in names:
                (tmp / f"{m}.jsonl").write_text(
                    "".join(json.dumps({"output": r[m]}) + "\n" for r in data)
                )
            args = ap.Namespace(
                inputs=tmp / "inputs.jsonl",
                candidates=[tmp / f"{m}.jsonl" for m in names],
                names=None,
                out=tmp / "out.jsonl",
                k=k,
                input_key="input",
                text_key="output",
                embedder=spec or "default",
                cache_dir=None,
                no_cache=True,
                quiet=True,
            )
            t = time.perf_counter()
            _select.run(args)
            local_s = time.perf_counter() - t
            t = time.perf_counter()
            got = select_ray(
                ray.data.from_items(data),
                names,
                n_neighbors=k,
                embedder=spec,
                batch_size=128,
                concurrency=2,
            ).take_all()
            ray_s = time.perf_counter() - t
            want = [json.loads(line) for line in (tmp / "out.jsonl").read_text().splitlines()]
            same = sum(g["selected"] == w["selected"] for g, w in zip(got, want, strict=True))
            result[label] = {
                "rows": n,
                "candidates": len(names),
                "k": k,
                "local_s": local_s,
                "ray_s": ray_s,
                "local_rows_per_s": n / local_s,
                "ray_rows_per_s": n / ray_s,
                "same_selection": same / n,
            }
            print(
                f"ray vs local ({label}, {n} rows): local {local_s:.1f} s, ray {ray_s:.1f} s, "
                f"same selection {same}/{n}",
                flush=True,
            )
    finally:
        ray.shutdown()
    return result


# ------------------------------------------------------------------------- derived
def derive(res: dict[str, Any]) -> None:
    """Fractions of the query-embedding time and the auto-threshold check.

    The budget is the *fastest* one-query MiniLM embedding median measured in the runs
    recorded in ``res`` (conservative: a faster embedding makes the target harder).
    """
    runs = [res, *res.get("appended_runs", [])]
    emb = [
        r[key]["median_s"] for r in runs for key in ("embed_query", "embed_query_after") if key in r
    ]
    res["embed_query_budget_ms"] = min(emb) * 1e3
    for r in res["latency"]:
        for name in ("exact_float64", "exact_float32", "approximate"):
            if name in r:
                r[name]["fraction_of_query_embedding"] = (
                    r[name]["latency_ms"] / res["embed_query_budget_ms"]
                )
    over = [r["n"] for r in res["latency"] if r["exact_float64"]["latency_ms"] > 1.0]
    res["auto_threshold_measured"] = {
        "criterion": "smallest pool size where exact float64 > 1 ms",
        "n": min(over) if over else None,
    }


# ---------------------------------------------------------------------------- plot
def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    rows = res["latency"]
    for name, style in (("exact_float64", "o-"), ("exact_float32", "s--"), ("approximate", "^-")):
        pts = [(r["n"], r[name]["latency_ms"]) for r in rows if name in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=name.replace("_", " "))
    budget = 0.25 * res["embed_query_budget_ms"]
    ax.axhline(
        budget, color="grey", ls=":", label=f"25% of MiniLM query embedding ({budget:.1f} ms)"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool size (samples, d=384)")
    ax.set_ylabel("decision latency per query (ms)")
    ax.set_title(f"Route-mode decision latency (k={res['config']['k']}, one query)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,5000,10000,20000,50000,100000,200000,1000000")
    p.add_argument("--ann-max", type=int, default=1_000_000, help="largest pool for the HNSW index")
    p.add_argument("--reps", type=int, default=100, help="single queries timed per backend")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--embed-texts", type=int, default=256)
    p.add_argument("--embed-repeats", type=int, default=3)
    p.add_argument("--ray-rows", type=int, default=2000)
    p.add_argument("--ray-minilm-rows", type=int, default=100)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/torch/faiss threads for the latency and embedding timings (default 1: "
        "on a shared, overloaded machine 2 threads thrash; Ray runs use its own workers)",
    )
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--skip-embed", action="store_true")
    p.add_argument(
        "--replot", action="store_true", help="recompute derived fields and the plot of --out"
    )
    p.add_argument(
        "--append",
        action="store_true",
        help="merge into an existing --out: keep its other pool sizes and skipped sections",
    )
    p.add_argument("--quick", action="store_true", help="sizes 1k,20k,200k; fewer reps")
    p.add_argument("--out", type=Path, default=RESULTS / "bench_scale.json")
    args = p.parse_args(argv)
    if args.replot:
        doc = load_result(args.out)
        res = doc["results"]
        derive(res)
        save_result(
            doc["name"],
            res,
            command=doc["command"],
            machine=doc["machine"],
            out=args.out,
            date_utc=doc["date_utc"],
            commit=doc["commit"],
            dirty=doc["dirty"],
            provenance={
                **doc.get("provenance", {}),
                "replot": f"derived fields recomputed by {' '.join(sys.argv[1:]) or '--replot'}",
            },
        )
        plot(res, args.out.with_suffix(".png"))
        print(f"re-derived and re-plotted {args.out}")
        return 0
    if args.quick:
        args.sizes, args.reps, args.ray_rows, args.ray_minilm_rows = (
            "1000,20000,200000",
            30,
            300,
            30,
        )
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.time()
    machine = machine_info()
    limit_threads(args.threads)
    res: dict[str, Any] = {
        "config": {
            "sizes": sizes,
            "reps": args.reps,
            "k": args.k,
            "dim": DIM,
            "candidates": 5,
            "threads": args.threads,
            "auto_threshold": AUTO_THRESHOLD,
            "noise": NOISE,
        },
    }
    real = load_real()
    res["pool"] = {
        "real_input_vectors": len(real["vectors"]),
        "real_statistics": int(np.isfinite(real["deltas"]).all(axis=2).sum()),
    }
    res["embed_query"] = embed_query_time(50)
    print(
        f"MiniLM one-query embedding: {res['embed_query']['median_s'] * 1e3:.2f} ms (median of 50)",
        flush=True,
    )
    res["latency"] = latency_section(real, sizes, args.reps, args.k, args.ann_max)
    res["embed_query_after"] = embed_query_time(50)
    if not args.skip_embed:
        res["embedding"] = embedding_section(args.embed_texts, args.embed_repeats)
    if not args.skip_ray:
        res["ray"] = ray_section(args.ray_rows, args.ray_minilm_rows)
    res["wall_s"] = time.time() - started
    if args.append and args.out.exists():
        doc = load_result(args.out)
        old = doc["results"]
        mine = {r["n"] for r in res["latency"]}
        res["latency"] = sorted(
            [r for r in old["latency"] if r["n"] not in mine] + res["latency"], key=lambda r: r["n"]
        )
        for key in ("embedding", "ray"):
            if key not in res and key in old:
                res[key] = old[key]
        keep = ("config", "embed_query", "embed_query_after", "wall_s")
        res["appended_runs"] = [
            *old.get("appended_runs", []),
            {
                **{k: doc[k] for k in ("command", "date_utc", "commit", "machine")},
                **{k: old[k] for k in keep if k in old},
            },
        ]
    derive(res)
    save_result(args.out.stem, res, machine=machine, out=args.out)
    plot(res, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
