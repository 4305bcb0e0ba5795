"""Precompute (and cache) MiniLM embeddings of the word-window chunks used by
benchmarks/asymmetric_coverage.py. Cached with CachedEmbedder in ``--cache-dir`` (default
``smoothie_core.embedders.default_cache_dir()``: ``$SMOOTHIE_CACHE_DIR`` or the user cache
dir; give asymmetric_coverage.py the same folder); re-running costs nothing for chunks
already embedded.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/embed_chunks.py --stride 4 --budget 60

Cost measured on the shared 2-core machine: about 36 chunks/s (15-word chunks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import ensembles, load_outputs

from smoothie_core.asymmetric import word_chunks
from smoothie_core.embedders import CachedEmbedder, default_cache_dir, default_embedder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stride", type=int, default=4, help="use instructions idx %% stride == 0")
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--models", default="", help="comma-separated models (default: DEV ensembles')")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="embedding cache (default: $SMOOTHIE_CACHE_DIR or the user cache dir)",
    )
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m] or sorted({m for e in ensembles() for m in e})
    emb = CachedEmbedder(default_embedder(batch_size=64), args.cache_dir)
    t0 = time.time()
    for n_done, model in enumerate(models):
        texts, _ = load_outputs(model)
        chunks = [
            c
            for t in texts[:: args.stride]
            for c in word_chunks(t, budget=args.budget, window=args.window)
        ]
        emb.embed(chunks)
        print(
            f"{n_done + 1}/{len(models)} {model}: {len(chunks)} chunks, misses so far {emb.misses}, "
            f"{time.time() - t0:.0f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
