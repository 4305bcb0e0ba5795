"""Label-free probe: does embedding the *whole* output help Smoothie on AlpacaEval?

MiniLM truncates texts at 256 word pieces (32% of the DEV outputs are longer), so the
shipped embeddings compare only the openings of long answers. Here each output is cut
into windows of 254 word pieces, each window embedded, and the token-weighted mean of
the window embeddings (re-normalised) used instead. Compared on the first ``--limit``
instructions of the ten DEV ensembles, against the shipped (truncated) embeddings,
with the same methods. No label is used to build either variant.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/alpaca_eval_text_handling.py --limit 100

Embeddings are cached (``--cache-dir``, default the user cache dir), so a rerun is fast.
Writes benchmarks/results/alpaca_eval_text_handling.json (schema: ``benchmarks/_results.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import machine_info, save_result

from smoothie_core.embedders import CachedEmbedder, default_embedder
from smoothie_core.evaluation import (
    PrecomputedEmbeddings,
    TextEmbeddings,
    format_results,
    load_ensembles_file,
    method_names,
    run_alpaca_eval,
)

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 254  # + [CLS] and [SEP] = 256


class ChunkMeanEmbedder:
    """Token-weighted mean of MiniLM embeddings of consecutive 254-word-piece windows."""

    def __init__(self) -> None:
        self.base = default_embedder()
        self.id = f"{self.base.id}|chunk-mean-{WINDOW}"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        tok = self.base.model.tokenizer
        pieces: list[str] = []
        owner: list[int] = []
        weight: list[float] = []
        for i, text in enumerate(texts):
            ids = tok(text, add_special_tokens=False)["input_ids"]
            if len(ids) <= WINDOW:
                pieces.append(text)
                owner.append(i)
                weight.append(max(len(ids), 1))
                continue
            for start in range(0, len(ids), WINDOW):
                window = ids[start : start + WINDOW]
                pieces.append(tok.decode(window))
                owner.append(i)
                weight.append(len(window))
        vecs = self.base.embed(pieces).astype(np.float64) * np.array(weight)[:, None]
        out = np.zeros((len(texts), vecs.shape[1]))
        np.add.at(out, np.array(owner), vecs)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser()
    default = Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data"))
    p.add_argument("--data", type=Path, default=default / "alpaca_eval")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--cache-dir", type=Path, default=None)
    args = p.parse_args()
    machine = machine_info()
    data = args.data
    ensembles = load_ensembles_file(data / "ensembles_dev.json")
    methods = method_names([1, 5, 20], ["smoothie_local_eb_k20", "smoothie_kernel"])
    out: dict[str, object] = {"limit": args.limit}
    sources = {
        "truncated_256 (shipped)": PrecomputedEmbeddings(data),
        "chunk_mean (whole text)": TextEmbeddings(
            CachedEmbedder(ChunkMeanEmbedder(), args.cache_dir), batch_size=64
        ),
    }
    for name, source in sources.items():
        start = time.perf_counter()
        res = run_alpaca_eval(
            data / "results", ensembles, source, methods=methods, limit=args.limit
        )
        print(f"\n== {name}: {time.perf_counter() - start:.0f} s")
        print(format_results(res))
        out[name] = {"mean": res["mean"], "summary": res["summary"]}
    path = save_result("alpaca_eval_text_handling", out, machine=machine)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
