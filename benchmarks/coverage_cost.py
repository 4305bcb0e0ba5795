"""Cost of the coverage signal vs Smoothie's embedding, measured on the same answers.

Embeds N answers (5 DEV models x the first instructions) once whole (what Smoothie
embeds; MiniLM truncates at 256 word pieces) and once as coverage chunks (first 60 words
in 4 windows of 15), with the offline MiniLM, no cache, interleaved 3 times.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/coverage_cost.py
    -> benchmarks/results/coverage_cost.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _alpaca import ensembles, load_outputs
from _results import machine_info, save_result

from smoothie_core.asymmetric import coverage_scores, embed_chunks, word_chunks
from smoothie_core.embedders import default_embedder


def main() -> None:
    machine = machine_info()
    models = ensembles()[0]
    n_instr = 8
    answers = [[load_outputs(m)[0][s] for m in models] for s in range(n_instr)]
    emb = default_embedder(batch_size=64)
    emb.embed(["warm up"])
    full_t, chunk_t, score_t = [], [], []
    for _ in range(3):
        t = time.perf_counter()
        emb.embed([a for row in answers for a in row])
        full_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        chunked = [embed_chunks([word_chunks(a) for a in row], emb) for row in answers]
        chunk_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for row in chunked:
            coverage_scores(row)
        score_t.append(time.perf_counter() - t)
    res = {
        "n_answers": n_instr * len(models),
        "models": models,
        "seconds_full_answers_min": min(full_t),
        "seconds_chunks_min": min(chunk_t),
        "seconds_coverage_math_min": min(score_t),
        "chunks_over_full_ratio": min(chunk_t) / min(full_t),
        "note": "shared 2-core machine under load from other jobs; compare the ratio, not the absolute times",
    }
    print(json.dumps(res, indent=1))
    print(f"wrote {save_result('coverage_cost', res, machine=machine)}")


if __name__ == "__main__":
    main()
