"""The AlpacaEval routing experiment of the Smoothie paper (Guha et al., 2024, Table 2 / Fig. 3).

For each ensemble of ``m >= 3`` models: align outputs by instruction, embed outputs and
instructions, run every label-free method (:mod:`smoothie_core.evaluation.methods`)
and score its picks with the judge's labels, next to three label-using references:
``random`` (expected uniform pick), ``best_single`` and ``oracle``.

It runs on the same engine as every labelled data set
(:mod:`smoothie_core.evaluation.engine`): an ensemble is a pool of one task whose
labels are the judge's preferences ``preference - 1``, so a score is AlpacaEval's win
rate. Only the loading and the shape of the record differ.
"""

from __future__ import annotations

import json
import os
import random as _random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from smoothie_core.embedders import Embedder
from smoothie_core.evaluation.data import (
    DEFAULT_ANNOTATOR,
    AlignedEnsemble,
    align,
    instruction_order,
    load_models,
)
from smoothie_core.evaluation.embeddings import EmbeddingSource
from smoothie_core.evaluation.engine import LazyBulkSource, evaluate_pool
from smoothie_core.evaluation.generations import LabelledPool
from smoothie_core.evaluation.methods import get_method

__all__ = [
    "REFERENCES",
    "method_names",
    "check_ensemble",
    "random_ensembles",
    "load_ensembles_file",
    "evaluate_ensemble",
    "run_alpaca_eval",
]

#: Label-using references reported next to the methods.
REFERENCES: tuple[str, ...] = ("random", "best_single", "oracle")
#: The task name of AlpacaEval instructions in the engine (one task).
ALPACA_TASK = "alpaca_eval"

MIN_MODELS = 3


def method_names(ks: Sequence[int] = (1, 5, 20), extra: Sequence[str] = ()) -> list[str]:
    """``smoothie_global``, ``smoothie_local_k{K}`` per K, then ``extra`` (deduplicated).

    Examples
    --------
    >>> method_names([1, 20], ["smoothie_kernel"])
    ['smoothie_global', 'smoothie_local_k1', 'smoothie_local_k20', 'smoothie_kernel']
    """
    names = ["smoothie_global", *(f"smoothie_local_k{k}" for k in ks), *extra]
    for name in names:
        get_method(name)  # fail early on unknown names
    return list(dict.fromkeys(names))


def check_ensemble(models: Sequence[str]) -> list[str]:
    """Validate one ensemble (at least 3 distinct names)."""
    names = [str(m).strip() for m in models]
    if len(names) < MIN_MODELS or any(not n for n in names):
        raise ValueError(
            f"an ensemble needs at least {MIN_MODELS} model names (Smoothie's triplet "
            f"estimator compares 3 candidates); got {names}."
        )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"an ensemble must list distinct models; {dup} appear more than once.")
    return names


def random_ensembles(models: Sequence[str], n: int, size: int, seed: int) -> list[list[str]]:
    """``n`` ensembles of ``size`` distinct models drawn uniformly (reproducible by ``seed``).

    Examples
    --------
    >>> random_ensembles(["a", "b", "c", "d"], 2, 3, seed=0) == random_ensembles(
    ...     ["d", "c", "b", "a"], 2, 3, seed=0)
    True
    """
    pool = sorted(set(models))
    if size < MIN_MODELS:
        raise ValueError(f"`ensemble_size` must be at least {MIN_MODELS}; got {size}.")
    if size > len(pool):
        raise ValueError(f"`ensemble_size`={size} is larger than the {len(pool)} available models.")
    if n < 1:
        raise ValueError(f"the number of random ensembles must be positive; got {n}.")
    rng = _random.Random(seed)
    return [sorted(rng.sample(pool, size)) for _ in range(n)]


def load_ensembles_file(path: str | os.PathLike[str]) -> list[list[str]]:
    """Read a JSON list of ensembles (each a list of model names), e.g. ``ensembles_dev.json``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{p} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); expected "
            'a list of ensembles like [["model-a", "model-b", "model-c"], ...].'
        ) from err
    if (
        not isinstance(data, list)
        or not data
        or not all(isinstance(e, list) and all(isinstance(x, str) for x in e) for e in data)
    ):
        raise ValueError(
            f"{p} must hold a non-empty JSON list of lists of model names; got "
            f"{json.dumps(data)[:80]}."
        )
    return [check_ensemble(e) for e in data]


def _as_pool(ens: AlignedEnsemble) -> LabelledPool:
    n = len(ens.instructions)
    return LabelledPool(
        name=",".join(ens.models),
        models=list(ens.models),
        ids=[str(i) for i in range(n)],
        inputs=list(ens.instructions),
        tasks=[ALPACA_TASK] * n,
        outputs=[list(row) for row in ens.outputs],
        labels=np.asarray(ens.wins, dtype=np.float64).reshape(n, len(ens.models)),
        n_dropped={ALPACA_TASK: ens.n_dropped},
    )


def evaluate_ensemble(
    ens: AlignedEnsemble,
    source: EmbeddingSource,
    methods: Sequence[str],
    *,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Score every method's picks on one aligned ensemble; returns the JSON record."""
    n, _m = ens.wins.shape
    if n == 0:
        raise ValueError(
            f"ensemble {ens.models} has no instruction that every model answered with a label "
            f"({ens.n_dropped} dropped); check the models and --limit."
        )
    rec = evaluate_pool(_as_pool(ens), source, methods=methods, embedder=embedder, diagnostics=True)
    score = rec["score"]
    rates = {k: score[k] for k in REFERENCES}
    rates.update({k: score[k] for k in methods})
    return {
        "models": list(ens.models),
        "n_instructions": n,
        "n_dropped": ens.n_dropped,
        "win_rate": rates,
        "abstention_rate": rec["abstention_rate"],
        "reliability": rec.get("reliability", {}),
        "best_single_model": rec["best_single_model"],
        "smoothie_global_model": rec["smoothie_global_model"],
        "spearman_global": rec["spearman_global"],
        "best_picked": rec["best_picked"],
        "global_weights": rec["global_weights"],
        "model_win_rates": rec["model_scores"],
    }


def run_alpaca_eval(
    results_dir: str | os.PathLike[str],
    ensembles: Sequence[Sequence[str]],
    source: EmbeddingSource,
    *,
    methods: Sequence[str] | None = None,
    limit: int | None = None,
    annotator: str = DEFAULT_ANNOTATOR,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Run the experiment; returns ``{"ensembles": [...], "mean": {...}, "summary": {...}}``.

    Every distinct model is read once; the instruction order (what ``limit`` cuts) is
    :func:`~smoothie_core.evaluation.data.instruction_order` over all models involved.
    ``source.prepare`` is called once with every text, so a live embedder embeds each
    distinct text once (with a progress bar).
    """
    names = method_names(extra=()) if methods is None else list(methods)
    for name in names:
        get_method(name)
    checked = [check_ensemble(e) for e in ensembles]
    if not checked:
        raise ValueError("no ensemble to evaluate; pass --ensemble or --random-ensembles.")
    results = load_models(results_dir, [m for e in checked for m in e], annotator=annotator)
    order = instruction_order(list(results.values()))
    aligned = [align([results[m] for m in e], order=order, limit=limit) for e in checked]
    jobs: list[tuple[str | None, Sequence[str], Sequence[str]]] = []
    all_instr = list(dict.fromkeys(s for a in aligned for s in a.instructions))
    jobs.append((None, all_instr, all_instr))
    for a in aligned:
        for j, name in enumerate(a.models):
            jobs.append((name, a.instructions, [row[j] for row in a.outputs]))
    prepared = LazyBulkSource(source, jobs)  # prepared in bulk when a method needs vectors
    records = [evaluate_ensemble(a, prepared, names, embedder=embedder) for a in aligned]
    keys = list(records[0]["win_rate"])
    mean = {k: float(np.mean([r["win_rate"][k] for r in records])) for k in keys}
    rhos = [r["spearman_global"] for r in records if r["spearman_global"] is not None]
    abstaining = list(records[0]["abstention_rate"])
    summary = {
        "n_ensembles": len(records),
        "abstention_rate": {
            k: float(np.mean([r["abstention_rate"][k] for r in records])) for k in abstaining
        },
        "best_picked": int(sum(r["best_picked"] for r in records)),
        "spearman_global_mean": float(np.mean(rhos)) if rhos else None,
        "methods": names,
        "beats_random": {
            k: int(sum(r["win_rate"][k] > r["win_rate"]["random"] for r in records)) for k in names
        },
    }
    config = {
        "results_dir": str(results_dir),
        "annotator": annotator,
        "limit": limit,
        "embeddings": source.id,
    }
    return {"ensembles": records, "mean": mean, "summary": summary, "config": config}
