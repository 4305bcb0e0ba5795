"""Text tables and a matplotlib figure for an evaluation result (see :func:`run_alpaca_eval`).

matplotlib is the optional ``plot`` extra; it is imported only by :func:`plot_results`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from smoothie_core.tables import format_table

__all__ = ["format_results", "plot_results", "format_generations", "plot_generations"]


def format_results(result: dict[str, Any]) -> str:
    """One row per ensemble (win rate per method) plus the mean row and a summary line.

    Examples
    --------
    >>> res = {"ensembles": [{"models": ["a", "b", "c"], "n_instructions": 2, "n_dropped": 0,
    ...     "win_rate": {"random": 10.0, "smoothie_global": 12.5}, "best_single_model": "a",
    ...     "smoothie_global_model": "a", "spearman_global": 0.5, "best_picked": True}],
    ...     "mean": {"random": 10.0, "smoothie_global": 12.5},
    ...     "summary": {"n_ensembles": 1, "best_picked": 1, "spearman_global_mean": 0.5}}
    >>> print(format_results(res))
    #     n  dropped  random  global  global pick  best single  spearman
    ----  -  -------  ------  ------  -----------  -----------  --------
    1     2  0        10.0    12.5    a            a            0.50
    mean                10.0    12.5
    (win rates in %; random/best_single/oracle use the labels, the others do not)
    best model picked by Smoothie-Global: 1/1; mean Spearman(global weights, win rate): 0.50
    """
    keys = list(result["mean"])
    short = [k.removeprefix("smoothie_") for k in keys]
    header = ["#", "n", "dropped", *short, "global pick", "best single", "spearman"]
    rows: list[list[object]] = []
    for i, r in enumerate(result["ensembles"], start=1):
        rho = r["spearman_global"]
        rows.append(
            [
                i,
                r["n_instructions"],
                r["n_dropped"],
                *(f"{r['win_rate'][k]:.1f}" for k in keys),
                r["smoothie_global_model"],
                r["best_single_model"],
                "n/a" if rho is None else f"{rho:.2f}",
            ]
        )
    rows.append(["mean", "", "", *(f"{result['mean'][k]:.1f}" for k in keys), "", "", ""])
    s = result["summary"]
    rho = s["spearman_global_mean"]
    lines = [
        format_table(header, rows, max_width=24),
        "(win rates in %; random/best_single/oracle use the labels, the others do not)",
        f"best model picked by Smoothie-Global: {s['best_picked']}/{s['n_ensembles']}; mean "
        f"Spearman(global weights, win rate): {'n/a' if rho is None else f'{rho:.2f}'}",
    ]
    abst = s.get("abstention_rate") or {}
    if abst:  # methods that may abstain (fallback: the ensemble's first model)
        rates = ", ".join(f"{k.removeprefix('smoothie_')} {100 * v:.0f}%" for k, v in abst.items())
        lines.append(f"mean abstention rate (fallback: first model): {rates}")
    return "\n".join(lines)


def plot_results(
    result: dict[str, Any], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Save a bar chart: win rate per method per ensemble, with random/best/oracle marks.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'smoothie-router[plot]'``).
    """
    plt = _pyplot()
    records = result["ensembles"]
    methods = [k for k in result["mean"] if k not in {"random", "best_single", "oracle"}]
    n = len(records)
    x = np.arange(n + 1)  # last group: the mean
    width = 0.8 / max(len(methods), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * (n + 1) + 2), 4.5))
    for j, name in enumerate(methods):
        vals = [r["win_rate"][name] for r in records] + [result["mean"][name]]
        ax.bar(x - 0.4 + width * (j + 0.5), vals, width, label=name)
    marks = {
        "random": ("k", "_", "random (expected)"),
        "best_single": ("g", "^", "best single"),
        "oracle": ("r", "v", "oracle"),
    }
    for key, (color, marker, label) in marks.items():
        vals = [r["win_rate"][key] for r in records] + [result["mean"][key]]
        ax.scatter(x, vals, color=color, marker=marker, s=120, zorder=3, label=label)
    ax.set_xticks(x, [str(i + 1) for i in range(n)] + ["mean"])
    ax.set_xlabel("ensemble")
    ax.set_ylabel("AlpacaEval 2.0 win rate (%)")
    ax.set_title(title or "Smoothie on AlpacaEval: win rate per ensemble")
    ax.legend(fontsize="small", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    out = _save_atomic(fig, path)
    plt.close(fig)
    return out


# ------------------------------------------------------------------ labelled generations
_REFS = (
    "random",
    "best_single",
    "best_per_task",
    "oracle",
    "calibrated_best_single",
    "calibrated_best_per_task",
)


def _short(key: str) -> str:
    return key.removeprefix("smoothie_")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)


def format_generations(result: dict[str, Any]) -> str:
    """Tables of a :func:`~smoothie_core.evaluation.run_generations` result.

    Select mode per pool (and the mean), route mode per pool (when run), the per-task
    means over pools, and a summary line.

    Examples
    --------
    >>> pool = {"name": "p", "n_inputs": 4, "score": {"random": 50.0, "best_single": 75.0,
    ...     "best_per_task": 75.0, "oracle": 100.0, "smoothie_global": 75.0},
    ...     "tasks_best_identified": "1/1", "spearman_per_task_mean": 0.5,
    ...     "per_task": {"t": {"n_inputs": 4, "score": {"random": 50.0, "best_single": 75.0,
    ...     "best_per_task": 75.0, "oracle": 100.0, "smoothie_global": 75.0},
    ...     "best_identified": True}}}
    >>> res = {"pools": [pool], "mean": pool["score"], "mean_route": {},
    ...     "summary": {"n_pools": 1, "tasks_best_identified": "1/1",
    ...     "spearman_per_task_mean": 0.5}}
    >>> print(format_generations(res))  # doctest: +NORMALIZE_WHITESPACE
    select mode: every candidate answers every input (scores: 100 x mean label, %)
    pool  n  random  best_single  best_per_task  oracle  global  best identified  spearman
    ----  -  ------  -----------  -------------  ------  ------  ---------------  --------
    p     4  50.0    75.0         75.0           100.0   75.0    1/1              0.50
    mean     50.0    75.0         75.0           100.0   75.0
    <BLANKLINE>
    per task, mean over pools
    task  pools  n  random  best_single  oracle  global  best identified
    ----  -----  -  ------  -----------  ------  ------  ---------------
    t     1      4  50.0    75.0         100.0   75.0    1/1
    <BLANKLINE>
    random/best_single/best_per_task/oracle (and in route mode calibrated_*: the best model on the calibration part's labels) use the labels; the others do not.
    Smoothie-Global (per task) picked the task's best model in 1/1 tasks; mean Spearman(per-task global weights, true score): 0.50
    """
    pools = result["pools"]
    keys = list(result["mean"])
    lines = ["select mode: every candidate answers every input (scores: 100 x mean label, %)"]
    header = ["pool", "n", *map(_short, keys), "best identified", "spearman"]
    rows: list[list[object]] = []
    for p in pools:
        rho = p.get("spearman_per_task_mean")
        rows.append(
            [
                p["name"],
                p["n_inputs"],
                *(_fmt(p["score"][k]) for k in keys),
                p.get("tasks_best_identified") or "n/a",
                "n/a" if rho is None else f"{rho:.2f}",
            ]
        )
    rows.append(["mean", "", *(_fmt(result["mean"][k]) for k in keys), "", ""])
    lines.append(format_table(header, rows, max_width=24))
    route_keys = list(result.get("mean_route") or {})
    if route_keys:
        split = next((p["route"]["split"] for p in pools if p.get("route")), 0.0)
        lines += [
            "",
            f"route mode: calibrate on the first {100 * split:.0f}% of each task's inputs, route "
            "the rest from the input alone (scores on the routed part)",
        ]
        rrows: list[list[object]] = []
        for p in pools:
            r = p.get("route") or {}
            if r.get("score"):
                rrows.append(
                    [p["name"], r["n_routed"], *(_fmt(r["score"].get(k)) for k in route_keys)]
                )
        rrows.append(["mean", "", *(_fmt(result["mean_route"][k]) for k in route_keys)])
        lines.append(
            format_table(["pool", "n routed", *map(_short, route_keys)], rrows, max_width=24)
        )
    task_keys = [k for k in keys if k != "best_per_task"]
    tasks = list(dict.fromkeys(t for p in pools for t in p["per_task"]))
    trows: list[list[object]] = []
    for task in tasks:
        recs = [p["per_task"][task] for p in pools if task in p["per_task"]]
        known = [r["best_identified"] for r in recs if r.get("best_identified") is not None]
        trows.append(
            [
                task,
                len(recs),
                int(np.mean([r["n_inputs"] for r in recs])),
                *(_fmt(float(np.mean([r["score"][k] for r in recs]))) for k in task_keys),
                f"{sum(known)}/{len(known)}" if known else "n/a",
            ]
        )
    lines += ["", "per task, mean over pools"]
    lines.append(
        format_table(
            ["task", "pools", "n", *map(_short, task_keys), "best identified"], trows, max_width=24
        )
    )
    s = result["summary"]
    rho = s.get("spearman_per_task_mean")
    lines += [
        "",
        "random/best_single/best_per_task/oracle (and in route mode calibrated_*: the best "
        "model on the calibration part's labels) use the labels; the others do not.",
        f"Smoothie-Global (per task) picked the task's best model in "
        f"{s.get('tasks_best_identified') or 'n/a'} tasks; mean Spearman(per-task global "
        f"weights, true score): {'n/a' if rho is None else f'{rho:.2f}'}",
    ]
    return "\n".join(lines)


def plot_generations(
    result: dict[str, Any], path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Save a figure: per pool, each method's score next to random / best single / oracle.

    One panel for select mode, one for route mode when it was run. The figure is written
    to a temporary file next to ``path`` and moved into place.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install 'smoothie-router[plot]'``).
    """
    plt = _pyplot()
    pools = result["pools"]
    panels = [("select", [p["score"] for p in pools], result["mean"])]
    if result.get("mean_route"):
        panels.append(
            (
                "route",
                [(p.get("route") or {}).get("score") or {} for p in pools],
                result["mean_route"],
            )
        )
    n = len(pools)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(max(7.0, 1.2 * (n + 1) + 3), 4.2 * len(panels)), squeeze=False
    )
    for ax, (mode, scores, mean) in zip(axes[:, 0], panels, strict=True):
        methods = [k for k in mean if k not in _REFS]
        x = np.arange(n + 1)
        width = 0.8 / max(len(methods), 1)
        for j, name in enumerate(methods):
            vals = [s.get(name, np.nan) for s in scores] + [mean[name]]
            ax.bar(x - 0.4 + width * (j + 0.5), vals, width, label=_short(name))
        marks = {
            "random": ("k", "_", "random (expected)"),
            "best_single": ("g", "^", "best single"),
            "oracle": ("r", "v", "oracle"),
        }
        for key, (color, marker, label) in marks.items():
            vals = [s.get(key, np.nan) for s in scores] + [mean.get(key, np.nan)]
            ax.scatter(x, vals, color=color, marker=marker, s=110, zorder=3, label=label)
        ax.set_xticks(x, [p["name"] for p in pools] + ["mean"], rotation=30, ha="right")
        ax.set_ylabel("score (100 x mean label)")
        ax.set_title(
            f"{mode} mode" + (" (routed part)" if mode == "route" else " (all inputs)"),
            fontsize="medium",
        )
        ax.legend(fontsize="small", ncol=1, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title or "Smoothie on labelled generations")
    fig.tight_layout()
    out = _save_atomic(fig, path)
    plt.close(fig)
    return out


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "plotting needs matplotlib, the optional 'plot' extra: "
            "pip install 'smoothie-router[plot]' (or drop --plot)."
        ) from err
    return plt


def _save_atomic(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` through :func:`smoothie_core._io.write_atomic` (temp file + rename)."""
    from smoothie_core import _io

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fmt = out.suffix.lstrip(".").lower() or "png"
    _io.write_atomic(out, lambda fh: fig.savefig(fh, format=fmt, dpi=120))
    return out
