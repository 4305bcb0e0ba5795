"""Text tables and a matplotlib figure for an evaluation result (see :func:`run_alpaca_eval`).

matplotlib is the optional ``plot`` extra; it is imported only by :func:`plot_results`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from smoothie_core.tables import format_table

__all__ = ["format_results", "plot_results"]


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
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "plotting needs matplotlib, the optional 'plot' extra: "
            "pip install 'smoothie-router[plot]' (or drop --plot)."
        ) from err
    import numpy as np

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
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
