"""The evaluation engine: run label-free methods on labelled pools, score them with the labels.

One harness for every labelled data set: AlpacaEval (labels = judge preferences,
``preference - 1``), ZeroEval / MMLU-Pro / your own generations (0/1 or real-valued
labels). A pool is a :class:`~smoothie_core.evaluation.generations.LabelledPool`:
inputs, task names, every member's outputs and the labels. The engine hands methods
an :class:`~smoothie_core.evaluation.methods.EnsembleData` /
:class:`~smoothie_core.evaluation.methods.RouteData` built from the texts and an
embedding source only — the labels stay here — and scores the picks:
``100 * mean(label of the picked output)``.

Select mode scores every method on all inputs; route mode (``route_split=F``)
calibrates on the first ``F`` of each task's inputs and routes the rest from the input
alone. See ``docs/evaluation/generations.md`` for the JSON schema.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smoothie_core.embedders import Embedder
from smoothie_core.evaluation.embeddings import EmbeddingSource
from smoothie_core.evaluation.generations import GenerationsData, LabelledPool
from smoothie_core.evaluation.methods import (
    EnsembleData,
    MethodResult,
    RouteData,
    get_method,
    get_route_method,
    global_weights,
    is_method,
    is_route_method,
    task_global_weights,
)
from smoothie_core.evaluation.metrics import spearman
from smoothie_core.triplet import select_best

__all__ = [
    "REFERENCES",
    "ROUTE_REFERENCES",
    "LazyBulkSource",
    "Picks",
    "select_methods",
    "route_methods",
    "split_methods",
    "pool_data",
    "reliability_report",
    "run_select",
    "run_select_full",
    "run_route",
    "run_route_full",
    "route_split_rows",
    "evaluate_pool",
    "summarize",
    "run_generations",
]

#: Label-using references, reported next to the methods (in this order).
REFERENCES: tuple[str, ...] = ("random", "best_single", "best_per_task", "oracle")
#: Route mode adds two supervised routers: the best member (overall, per task) on the
#: calibration part's labels, applied to the routed part.
ROUTE_REFERENCES: tuple[str, ...] = (
    *REFERENCES,
    "calibrated_best_single",
    "calibrated_best_per_task",
)

#: A method's picks and, for methods that may abstain, the abstention mask.
Picks = tuple[NDArray[np.intp], NDArray[np.bool_] | None]


def select_methods(ks: Sequence[int] = (1, 5, 20), extra: Sequence[str] = ()) -> list[str]:
    """``smoothie_global``, ``smoothie_global_per_task``, ``smoothie_local_k{K}``, then ``extra``.

    Examples
    --------
    >>> select_methods([1, 20])
    ['smoothie_global', 'smoothie_global_per_task', 'smoothie_local_k1', 'smoothie_local_k20']
    """
    names = ["smoothie_global", "smoothie_global_per_task", *(f"smoothie_local_k{k}" for k in ks)]
    names += list(extra)
    for name in names:
        get_method(name)
    return list(dict.fromkeys(names))


def route_methods(ks: Sequence[int] = (1, 5, 20), extra: Sequence[str] = ()) -> list[str]:
    """``route_global``, ``route_local_k{K}`` per K, then ``extra`` (route-mode names).

    Examples
    --------
    >>> route_methods([5])
    ['route_global', 'route_local_k5']
    """
    names = ["route_global", *(f"route_local_k{k}" for k in ks), *extra]
    for name in names:
        get_route_method(name)
    return list(dict.fromkeys(names))


def split_methods(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Sort method names into (select-mode, route-mode); a name in both registries goes to both.

    ``module:function`` names are select-mode unless prefixed ``route:``.

    Raises
    ------
    ValueError
        A name in neither registry.
    """
    select: list[str] = []
    route: list[str] = []
    for name in names:
        if name.startswith("route:"):
            get_route_method(name.removeprefix("route:"))
            route.append(name.removeprefix("route:"))
            continue
        in_select, in_route = is_method(name) or ":" in name, is_route_method(name)
        if not in_select and not in_route:
            get_method(name)  # raises the "unknown method" error listing the names
        if in_select:
            get_method(name)
            select.append(name)
        if in_route:
            route.append(name)
    return select, route


# ------------------------------------------------------------------ data for methods
class LazyBulkSource:
    """An embedding source whose ``prepare`` runs once per role, in bulk, on first need.

    ``jobs`` lists every ``(model, inputs, texts)`` of the run (``model`` None: the
    inputs). The first :meth:`outputs` call prepares all output texts at once (one
    progress bar, each distinct text once); the first :meth:`instructions` call all
    inputs. ``seconds`` / ``cpu_seconds`` hold the wall and process CPU time spent.
    """

    def __init__(
        self,
        source: EmbeddingSource,
        jobs: Sequence[tuple[str | None, Sequence[str], Sequence[str]]],
    ) -> None:
        self.source = source
        self.id: str = str(getattr(source, "id", type(source).__name__))
        self._inputs = [j for j in jobs if j[0] is None]
        self._outputs = [j for j in jobs if j[0] is not None]
        self.seconds = {"inputs": 0.0, "outputs": 0.0}
        self.cpu_seconds = {"inputs": 0.0, "outputs": 0.0}
        self._done: set[str] = set()

    def prepare(self, jobs: Sequence[tuple[str | None, Sequence[str], Sequence[str]]]) -> None:
        """Nothing to do: the jobs given at construction are prepared on first need."""

    def _prepare(self, role: str) -> None:
        if role in self._done:
            return
        self._done.add(role)
        prepare = getattr(self.source, "prepare", None)
        jobs = self._inputs if role == "inputs" else self._outputs
        if prepare is None or not jobs:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        prepare(jobs)
        self.seconds[role] += time.perf_counter() - wall
        self.cpu_seconds[role] += time.process_time() - cpu

    def instructions(self, instructions: Sequence[str]) -> NDArray[np.float32]:
        self._prepare("inputs")
        return np.asarray(self.source.instructions(instructions), dtype=np.float32)

    def outputs(
        self, model: str, instructions: Sequence[str], texts: Sequence[str]
    ) -> NDArray[np.float32]:
        self._prepare("outputs")
        return np.asarray(self.source.outputs(model, instructions, texts), dtype=np.float32)


def pool_data(
    models: Sequence[str],
    inputs: Sequence[str],
    outputs: Sequence[Sequence[str]],
    tasks: Sequence[str],
    source: Any,
    embedder: Embedder | None = None,
) -> EnsembleData:
    """The label-free data object of a pool (lazy embeddings from ``source``).

    Takes texts only: nothing here can carry a label to a method.
    """
    models = list(models)
    inputs = list(inputs)
    columns = [[row[j] for row in outputs] for j in range(len(models))]

    def output_embeddings() -> NDArray[np.float32]:
        if not inputs:
            return np.empty((0, len(models), 0), dtype=np.float32)
        return np.stack(
            [source.outputs(name, inputs, col) for name, col in zip(models, columns, strict=True)],
            axis=1,
        )

    def input_embeddings() -> NDArray[np.float32]:
        return np.asarray(source.instructions(inputs), dtype=np.float32)

    cheap = str(getattr(source, "id", "")).startswith("precomputed:") or bool(
        getattr(getattr(source, "source", None), "id", "").startswith("precomputed:")
    )
    return EnsembleData(
        models,
        inputs,
        outputs,
        output_embeddings,
        input_embeddings,
        embedder,
        tasks=tasks,
        output_embeddings_cheap=cheap,
    )


def _check_picks(name: str, result: Any, n: int, m: int) -> Picks:
    if isinstance(result, MethodResult):
        result = result.picks
    picks = np.asarray(result)  # an abstaining method's fallback picks are its data
    if picks.shape != (n,) or not (n == 0 or np.issubdtype(picks.dtype, np.integer)):
        raise ValueError(
            f"method {name!r} must return {n} integer candidate indices (one per input); got "
            f"shape {picks.shape} and dtype {picks.dtype}."
        )
    if n and (picks.min() < 0 or picks.max() >= m):
        raise ValueError(
            f"method {name!r} returned candidate indices outside [0, {m - 1}]: "
            f"{int(picks.min())}..{int(picks.max())}."
        )
    mask = np.ma.getmaskarray(result) if np.ma.isMaskedArray(result) else None
    return picks.astype(np.intp), mask


#: Each method's reliabilities (methods returning a MethodResult with them).
Reliabilities = dict[str, NDArray[np.float64]]


def _run(
    names: Sequence[str], call: Callable[[str], Any], n: int, m: int
) -> tuple[dict[str, Picks], Reliabilities]:
    picks: dict[str, Picks] = {}
    rel: Reliabilities = {}
    for name in names:
        result = call(name)
        picks[name] = _check_picks(name, result, n, m)
        if isinstance(result, MethodResult) and result.reliability is not None:
            rel[name] = result.reliability
    return picks, rel


def run_select(data: EnsembleData, names: Sequence[str]) -> dict[str, Picks]:
    """Each select-mode method's picks on ``data``."""
    return run_select_full(data, names)[0]


def run_select_full(
    data: EnsembleData, names: Sequence[str]
) -> tuple[dict[str, Picks], Reliabilities]:
    """Each select-mode method's picks, and the reliabilities of those that give them."""
    return _run(names, lambda n: get_method(n)(data), data.n_inputs, len(data.models))


def run_route(data: RouteData, names: Sequence[str]) -> dict[str, Picks]:
    """Each route-mode method's picks for the routed inputs of ``data``."""
    return run_route_full(data, names)[0]


def run_route_full(data: RouteData, names: Sequence[str]) -> tuple[dict[str, Picks], Reliabilities]:
    """Route-mode picks, and the reliabilities of the methods that give them."""
    return _run(names, lambda n: get_route_method(n)(data), data.n_inputs, len(data.models))


def _auc(y: NDArray[np.bool_], score: NDArray[np.float64]) -> float | None:
    """Area under the ROC curve of ``score`` for ``y`` (ties count half); None if undefined."""
    ok = np.isfinite(score)
    y, score = y[ok], score[ok]
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def reliability_report(
    labels: NDArray[np.float64], picks: NDArray[np.intp], reliability: NDArray[np.float64]
) -> dict[str, Any]:
    """How well ``reliability`` predicts a good pick, and what abstaining would score.

    * ``auc_beats_random``: on *contested* inputs (the candidates' labels differ, so the
      choice matters), the AUC of the reliability for "the pick beats a random
      candidate" (its label is above the mean label);
    * ``auc_not_worse``: on all inputs, the AUC for "the pick is at least as good as a
      random candidate";
    * ``abstain_below_0.5``: the share of decisions with reliability < 0.5 and the score
      when those fall back to a declared default: averaged over every choice of default
      (``score_default_mean``), and with the pool's best model as the default
      (``score_default_best``, an upper bound that needs to know the best model).
    """
    n, m = labels.shape
    picked = labels[np.arange(n), picks]
    mean = labels.mean(axis=1)
    contested = labels.std(axis=1) > 0
    low = np.isfinite(reliability) & (reliability < 0.5)
    by_default = [float(100 * np.where(low, labels[:, j], picked).mean()) for j in range(m)]
    best = int(np.argmax(labels.mean(axis=0)))
    return {
        "auc_beats_random": _auc((picked > mean)[contested], reliability[contested]),
        "auc_not_worse": _auc(picked >= mean, reliability),
        "n_contested": int(contested.sum()),
        "mean_reliability": float(np.nanmean(reliability))
        if np.isfinite(reliability).any()
        else None,
        "abstain_below_0.5": {
            "rate": float(low.mean()),
            "score_without": float(100 * picked.mean()),
            "score_default_mean": float(np.mean(by_default)),
            "score_default_best": by_default[best],
        },
    }


def route_split_rows(
    tasks: Sequence[str], split: float
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Row indices (calibration, routed): the first ``split`` of each task's rows calibrate.

    Each task with at least 2 rows keeps at least one row on each side.

    Examples
    --------
    >>> cal, routed = route_split_rows(["a", "a", "a", "a", "b", "b", "b"], 0.5)
    >>> cal.tolist(), routed.tolist()
    ([0, 1, 4, 5], [2, 3, 6])
    """
    if not 0.0 < split < 1.0:
        raise ValueError(f"`route_split` must be in (0, 1); got {split}.")
    arr = np.asarray(tasks)
    cal: list[int] = []
    routed: list[int] = []
    for task in dict.fromkeys(tasks):
        rows = np.flatnonzero(arr == task)
        n_cal = round(split * len(rows))
        n_cal = min(max(n_cal, 1), len(rows) - 1) if len(rows) >= 2 else len(rows)
        cal.extend(rows[:n_cal].tolist())
        routed.extend(rows[n_cal:].tolist())
    return np.asarray(cal, dtype=np.intp), np.asarray(routed, dtype=np.intp)


# ------------------------------------------------------------------ scoring
def _ref_scores(labels: NDArray[np.float64], tasks: NDArray[Any]) -> dict[str, float]:
    per_model = labels.mean(axis=0)
    best_task = np.empty(len(labels))
    for task in dict.fromkeys(tasks.tolist()):
        rows = tasks == task
        best_task[rows] = labels[rows][:, int(np.argmax(labels[rows].mean(axis=0)))]
    return {
        "random": float(100 * labels.mean()),
        "best_single": float(100 * per_model.max()),
        "best_per_task": float(100 * best_task.mean()),
        "oracle": float(100 * labels.max(axis=1).mean()),
    }


def _score(labels: NDArray[np.float64], picks: NDArray[np.intp]) -> float:
    return float(100 * labels[np.arange(len(labels)), picks].mean())


def _scores(
    labels: NDArray[np.float64], tasks: NDArray[Any], picks: dict[str, Picks]
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, float]]:
    """(overall scores, per-task scores, abstention rates)."""
    score = _ref_scores(labels, tasks)
    score.update({name: _score(labels, p) for name, (p, _) in picks.items()})
    per_task: dict[str, dict[str, float]] = {}
    for task in dict.fromkeys(tasks.tolist()):
        rows = tasks == task
        sc = _ref_scores(labels[rows], tasks[rows])
        sc.update({name: _score(labels[rows], p[rows]) for name, (p, _) in picks.items()})
        per_task[task] = sc
    abst = {name: float(mask.mean()) for name, (_, mask) in picks.items() if mask is not None}
    return score, per_task, abst


def _weights_record(
    models: list[str], weights: NDArray[np.float64], labels: NDArray[np.float64]
) -> dict[str, Any]:
    true = 100 * labels.mean(axis=0)
    best_i = int(np.argmax(true))
    glob_i = int(select_best(weights))
    return {
        "best_model": models[best_i],
        "global_model": models[glob_i],
        "best_identified": bool(true[glob_i] == true[best_i]),
        "spearman": spearman(weights, true),
        "global_weights": {n: float(w) for n, w in zip(models, weights, strict=True)},
        "model_scores": {n: float(s) for n, s in zip(models, true, strict=True)},
    }


def evaluate_pool(
    pool: LabelledPool,
    source: Any,
    *,
    methods: Sequence[str],
    route: Sequence[str] = (),
    route_split: float | None = None,
    embedder: Embedder | None = None,
    diagnostics: bool | None = None,
) -> dict[str, Any]:
    """Run and score every method on one pool; returns the pool's JSON record.

    Parameters
    ----------
    pool : LabelledPool
    source : EmbeddingSource
    methods : sequence of str
        Select-mode methods.
    route : sequence of str
        Route-mode methods (run only when ``route_split`` is set).
    route_split : float in (0, 1), optional
    embedder : Embedder, optional
        Handed to methods that embed other texts.
    diagnostics : bool, optional
        Report Smoothie-Global's weights (overall and per task: the pick, whether it is
        the best model, Spearman with the true scores). ``None`` (default): only when a
        method already computed the output embeddings (no extra embedding cost).
    """
    n = pool.n_inputs
    tasks = np.asarray(pool.tasks)
    data = pool_data(pool.models, pool.inputs, pool.outputs, pool.tasks, source, embedder)
    picks, reliabilities = run_select_full(data, methods)
    score, per_task_scores, abstention = _scores(pool.labels, tasks, picks)
    per_task: dict[str, dict[str, Any]] = {
        task: {"n_inputs": int((tasks == task).sum()), "n_dropped": pool.n_dropped.get(task, 0)}
        for task in per_task_scores
    }
    for task, sc in per_task_scores.items():
        per_task[task]["score"] = sc
    record: dict[str, Any] = {
        "name": pool.name,
        "models": list(pool.models),
        "n_inputs": n,
        "n_dropped": int(sum(pool.n_dropped.values())),
        "skipped_tasks": list(pool.skipped_tasks),
        "score": score,
        "abstention_rate": abstention,
        "reliability": {
            name: reliability_report(pool.labels, picks[name][0], rel)
            for name, rel in reliabilities.items()
        },
        "per_task": per_task,
    }
    model_scores = 100 * pool.labels.mean(axis=0)
    best_i = int(np.argmax(model_scores))
    record["best_single_model"] = pool.models[best_i]
    record["model_scores"] = {k: float(v) for k, v in zip(pool.models, model_scores, strict=True)}
    want = data.output_embeddings_computed if diagnostics is None else diagnostics
    if want:
        overall = _weights_record(pool.models, global_weights(data), pool.labels)
        record.update(
            {
                "smoothie_global_model": overall["global_model"],
                "spearman_global": overall["spearman"],
                "best_picked": overall["best_identified"],
                "global_weights": overall["global_weights"],
            }
        )
        identified = 0
        for task, weights in task_global_weights(data).items():
            rec = _weights_record(pool.models, weights, pool.labels[tasks == task])
            per_task[task].update(rec)
            identified += rec["best_identified"]
        record["tasks_best_identified"] = f"{identified}/{len(per_task)}"
        rhos = [t["spearman"] for t in per_task.values() if t["spearman"] is not None]
        record["spearman_per_task_mean"] = float(np.mean(rhos)) if rhos else None
    else:
        record.update(
            {
                "smoothie_global_model": None,
                "spearman_global": None,
                "best_picked": None,
                "global_weights": None,
                "tasks_best_identified": None,
                "spearman_per_task_mean": None,
            }
        )
    if route_split is not None and route:
        record["route"] = _evaluate_route(pool, source, route, route_split, embedder)
    return record


def _evaluate_route(
    pool: LabelledPool,
    source: Any,
    names: Sequence[str],
    split: float,
    embedder: Embedder | None,
) -> dict[str, Any]:
    cal, routed = route_split_rows(pool.tasks, split)
    texts_cal = [pool.outputs[i] for i in cal]
    calibration = pool_data(
        pool.models,
        [pool.inputs[i] for i in cal],
        texts_cal,
        [pool.tasks[i] for i in cal],
        source,
        embedder,
    )
    routed_inputs = [pool.inputs[i] for i in routed]

    def routed_embeddings() -> NDArray[np.float32]:
        return np.asarray(source.instructions(routed_inputs), dtype=np.float32)

    data = RouteData(
        calibration,
        routed_inputs,
        tasks=[pool.tasks[i] for i in routed],
        input_embeddings=routed_embeddings,
    )
    out: dict[str, Any] = {
        "split": split,
        "n_calibration": len(cal),
        "n_routed": len(routed),
    }
    if len(routed) == 0:
        out.update({"score": {}, "per_task": {}, "abstention_rate": {}})
        return out
    labels = pool.labels[routed]
    tasks = np.asarray(pool.tasks)[routed]
    cal_tasks = np.asarray(pool.tasks)[cal]
    cal_labels = pool.labels[cal]
    supervised = np.full(len(routed), int(np.argmax(cal_labels.mean(axis=0))), dtype=np.intp)
    per_task_sup = np.empty(len(routed), dtype=np.intp)
    for task in dict.fromkeys(tasks.tolist()):
        rows = cal_labels[cal_tasks == task]
        per_task_sup[tasks == task] = int(np.argmax(rows.mean(axis=0))) if len(rows) else -1
    picks: dict[str, Picks] = {
        "calibrated_best_single": (supervised, None),
        "calibrated_best_per_task": (np.where(per_task_sup < 0, supervised, per_task_sup), None),
    }
    routed_picks, reliabilities = run_route_full(data, names)
    picks.update(routed_picks)
    score, per_task_scores, abstention = _scores(labels, tasks, picks)
    out["score"] = score
    out["abstention_rate"] = abstention
    out["reliability"] = {
        name: reliability_report(labels, picks[name][0], rel) for name, rel in reliabilities.items()
    }
    out["per_task"] = {
        task: {
            "n_calibration": int((cal_tasks == task).sum()),
            "n_routed": int((tasks == task).sum()),
            "score": sc,
        }
        for task, sc in per_task_scores.items()
    }
    return out


# ------------------------------------------------------------------ many pools
def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over pools and counts: ``{"mean", "mean_route", "summary"}``."""
    keys = list(records[0]["score"])
    mean = {k: float(np.mean([r["score"][k] for r in records])) for k in keys}
    routes = [r["route"] for r in records if r.get("route") and r["route"]["score"]]
    mean_route = (
        {k: float(np.mean([r["score"][k] for r in routes])) for k in routes[0]["score"]}
        if routes
        else {}
    )
    methods = [k for k in keys if k not in REFERENCES]
    rmethods = [k for k in mean_route if k not in ROUTE_REFERENCES]
    identified = [r["tasks_best_identified"] for r in records if r["tasks_best_identified"]]
    rhos_task = [
        t["spearman"]
        for r in records
        for t in r["per_task"].values()
        if t.get("spearman") is not None
    ]
    rhos = [r["spearman_global"] for r in records if r["spearman_global"] is not None]
    summary = {
        "n_pools": len(records),
        "tasks_best_identified": (
            f"{sum(int(x.split('/')[0]) for x in identified)}/"
            f"{sum(int(x.split('/')[1]) for x in identified)}"
            if identified
            else None
        ),
        "spearman_per_task_mean": float(np.mean(rhos_task)) if rhos_task else None,
        "spearman_global_mean": float(np.mean(rhos)) if rhos else None,
        "beats_random": {
            k: sum(r["score"][k] > r["score"]["random"] for r in records) for k in methods
        },
        "beats_best_single": {
            k: sum(r["score"][k] > r["score"]["best_single"] for r in records) for k in methods
        },
        "route_beats_best_single": {
            k: sum(r["score"][k] > r["score"]["best_single"] for r in routes) for k in rmethods
        },
    }
    return {"mean": mean, "mean_route": mean_route, "summary": summary}


def run_generations(
    data: GenerationsData,
    pools: Sequence[tuple[str, Sequence[str]]],
    source: EmbeddingSource,
    *,
    methods: Sequence[str] | None = None,
    route: Sequence[str] | None = None,
    route_split: float | None = 0.5,
    limit_per_task: int | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
    on_pool: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Evaluate every pool of a labelled-generations folder.

    Returns ``{"pools": [...], "mean": {...}, "mean_route": {...}, "summary": {...},
    "config": {...}}`` (schema: ``docs/evaluation/generations.md``). The embedding
    source is prepared once, in bulk, with every pool's texts, the first time a method
    needs embeddings.
    """
    names = select_methods() if methods is None else list(methods)
    rnames = route_methods() if route is None else list(route)
    for name in names:
        get_method(name)
    for name in rnames:
        get_route_method(name)
    if route_split is not None and not 0.0 < route_split < 1.0:
        raise ValueError(f"`route_split` must be in (0, 1) or None; got {route_split}.")
    if not pools:
        raise ValueError("no pool to evaluate; pass --pool A,B,C or --pools-file FILE.")
    labelled = [
        data.pool(models, name=name, limit_per_task=limit_per_task) for name, models in pools
    ]
    jobs: list[tuple[str | None, Sequence[str], Sequence[str]]] = []
    all_inputs = list(dict.fromkeys(s for p in labelled for s in p.inputs))
    jobs.append((None, all_inputs, all_inputs))
    for p in labelled:
        for j, model in enumerate(p.models):
            jobs.append((model, p.inputs, [row[j] for row in p.outputs]))
    prepared = LazyBulkSource(source, jobs)
    records = []
    iterator: Any = labelled
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(labelled, desc="pools", unit="pool", file=sys.stderr)
    for pool in iterator:
        rec = evaluate_pool(
            pool,
            prepared,
            methods=names,
            route=rnames,
            route_split=route_split,
            embedder=embedder,
        )
        records.append(rec)
        if on_pool is not None:
            on_pool(rec)
    result: dict[str, Any] = {"pools": records, **summarize(records)}
    result["config"] = {
        "data": str(data.root),
        "tasks": list(data.tasks),
        "limit_per_task": limit_per_task,
        "methods": names,
        "route_methods": rnames if route_split is not None else [],
        "route_split": route_split,
        "embeddings": getattr(source, "id", None),
        "embedding_seconds": {k: round(v, 3) for k, v in prepared.seconds.items()},
        "embedding_cpu_seconds": {k: round(v, 3) for k, v in prepared.cpu_seconds.items()},
    }
    return result
