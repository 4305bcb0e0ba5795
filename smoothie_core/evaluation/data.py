"""Read AlpacaEval results folders and align several models' outputs by instruction text.

The layout is AlpacaEval's own (so a checkout of ``tatsu-lab/alpaca_eval`` works)::

    results/<model>/model_outputs.json                         [{"instruction", "output", ...}]
    results/<model>/<annotator>/annotations.json               [{"instruction", "output_2", "preference", ...}]

``preference`` is the judge's float in [1, 2] against the annotator's baseline
(``output_1``); the AlpacaEval win rate is ``100 * mean(preference - 1)``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "DEFAULT_ANNOTATOR",
    "ModelResults",
    "AlignedEnsemble",
    "list_models",
    "load_model",
    "load_models",
    "instruction_order",
    "align",
]

#: The AlpacaEval 2.0 annotator (GPT-4 Turbo judge, continuous preference).
DEFAULT_ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"

_OUTPUTS = "model_outputs.json"
_ANNOTATIONS = "annotations.json"


@dataclass(frozen=True)
class ModelResults:
    """One model's outputs and judge labels, keyed by instruction text.

    Attributes
    ----------
    name : str
    outputs : dict of str to str
        Instruction -> output, in file order.
    wins : dict of str to float
        Instruction -> ``preference - 1`` (in [0, 1]) for outputs with a matching label.
    n_unlabeled : int
        Outputs without a usable label (no annotation, null preference, or the
        annotation judged a different output text).
    """

    name: str
    outputs: dict[str, str]
    wins: dict[str, float]
    n_unlabeled: int = 0


@dataclass(frozen=True)
class AlignedEnsemble:
    """Several models' outputs on the instructions they all answered (with labels).

    Attributes
    ----------
    models : list of str
    instructions : list of str, length n
    outputs : list of list of str, shape (n, m)
    wins : ndarray of shape (n, m)
        ``preference - 1`` of model ``j``'s output on instruction ``i``.
    n_dropped : int
        Instructions (within the first ``limit``) missing an output or label for at
        least one model.
    """

    models: list[str]
    instructions: list[str]
    outputs: list[list[str]]
    wins: NDArray[np.float64]
    n_dropped: int = 0
    dropped: list[str] = field(default_factory=list, repr=False)


def _read_json_list(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "expected a JSON list of objects as AlpacaEval writes it."
        ) from err
    if not isinstance(data, list):
        raise ValueError(f"{path} must hold a JSON list of objects; got a {type(data).__name__}.")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: item {i} must be a JSON object; got {type(row).__name__}.")
    return data


def _check_results_dir(results_dir: str | os.PathLike[str]) -> Path:
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(
            f"results directory {root} does not exist; expected AlpacaEval's results/ folder "
            "holding <model>/model_outputs.json."
        )
    return root


def list_models(
    results_dir: str | os.PathLike[str], *, annotator: str = DEFAULT_ANNOTATOR
) -> list[str]:
    """Models (sorted) that have both ``model_outputs.json`` and ``<annotator>/annotations.json``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "m1" / DEFAULT_ANNOTATOR).mkdir(parents=True)
    >>> _ = (root / "m1" / "model_outputs.json").write_text("[]")
    >>> _ = (root / "m1" / DEFAULT_ANNOTATOR / "annotations.json").write_text("[]")
    >>> (root / "m2").mkdir()
    >>> list_models(root)
    ['m1']
    """
    root = _check_results_dir(results_dir)
    return sorted(
        p.name
        for p in root.iterdir()
        if (p / _OUTPUTS).is_file() and (p / annotator / _ANNOTATIONS).is_file()
    )


def load_model(
    results_dir: str | os.PathLike[str], model: str, *, annotator: str = DEFAULT_ANNOTATOR
) -> ModelResults:
    """Load one model's outputs and labels, matching annotations to outputs by instruction.

    A label counts only when the annotation's ``output_2`` equals the model's output
    (when ``output_2`` is present): a judgment of another text is not this output's label.

    Raises
    ------
    ValueError
        Unknown model, malformed JSON, missing fields, a preference outside [1, 2].
    FileNotFoundError
        The results folder or the model's annotator folder is missing.
    """
    root = _check_results_dir(results_dir)
    folder = root / model
    if not (folder / _OUTPUTS).is_file():
        known = list_models(root, annotator=annotator)
        raise ValueError(
            f"unknown model {model!r}: {folder / _OUTPUTS} does not exist. Models with outputs "
            f"and {annotator} annotations in {root}: {', '.join(known) or 'none'}."
        )
    ann_path = folder / annotator / _ANNOTATIONS
    if not ann_path.is_file():
        have = sorted(p.name for p in folder.iterdir() if (p / _ANNOTATIONS).is_file())
        raise FileNotFoundError(
            f"model {model!r} has no {annotator} annotations: {ann_path} does not exist. "
            f"Annotator folders present: {', '.join(have) or 'none'}; pass --annotator NAME."
        )
    outputs: dict[str, str] = {}
    for i, row in enumerate(_read_json_list(folder / _OUTPUTS)):
        instr, out = row.get("instruction"), row.get("output")
        if not isinstance(instr, str):
            raise ValueError(
                f"{folder / _OUTPUTS}: item {i} has no string 'instruction' (got {instr!r})."
            )
        if out is None:
            continue  # no output: the instruction is missing for this model
        if not isinstance(out, str):
            raise ValueError(
                f"{folder / _OUTPUTS}: item {i} 'output' must be a string or null; got "
                f"{type(out).__name__}."
            )
        outputs.setdefault(instr, out)
    wins: dict[str, float] = {}
    for i, row in enumerate(_read_json_list(ann_path)):
        instr = row.get("instruction")
        if not isinstance(instr, str):
            raise ValueError(f"{ann_path}: item {i} has no string 'instruction' (got {instr!r}).")
        pref = row.get("preference")
        if pref is None or instr not in outputs or instr in wins:
            continue
        if isinstance(pref, bool) or not isinstance(pref, (int, float)):
            raise ValueError(
                f"{ann_path}: item {i} 'preference' must be a number in [1, 2] or null; got {pref!r}."
            )
        if math.isnan(pref):
            continue
        if not 1.0 <= pref <= 2.0:
            raise ValueError(
                f"{ann_path}: item {i} 'preference' is {pref}, outside [1, 2]; this annotator's "
                "labels are not AlpacaEval 2.0 pairwise preferences."
            )
        out2 = row.get("output_2")
        if out2 is not None and out2 != outputs[instr]:
            continue
        wins[instr] = float(pref) - 1.0
    return ModelResults(model, outputs, wins, n_unlabeled=len(outputs) - len(wins))


def load_models(
    results_dir: str | os.PathLike[str],
    models: Sequence[str],
    *,
    annotator: str = DEFAULT_ANNOTATOR,
) -> dict[str, ModelResults]:
    """:func:`load_model` for each distinct name (in the given order)."""
    return {m: load_model(results_dir, m, annotator=annotator) for m in dict.fromkeys(models)}


def instruction_order(results: Sequence[ModelResults]) -> list[str]:
    """Instructions in order of first appearance, reading the models sorted by name.

    This fixes what ``--limit N`` ("the first N instructions") means independently of
    the ensembles (AlpacaEval's files all share one order).

    Examples
    --------
    >>> a = ModelResults("a", {"x": "1", "y": "2"}, {})
    >>> b = ModelResults("b", {"z": "3", "x": "4"}, {})
    >>> instruction_order([b, a])
    ['x', 'y', 'z']
    """
    order: dict[str, None] = {}
    for res in sorted(results, key=lambda r: r.name):
        order.update(dict.fromkeys(res.outputs))
    return list(order)


def align(
    results: Sequence[ModelResults],
    *,
    order: Sequence[str] | None = None,
    limit: int | None = None,
) -> AlignedEnsemble:
    """Outputs and labels of ``results`` on the instructions every model answered.

    Parameters
    ----------
    results : sequence of ModelResults
        The ensemble, in candidate order.
    order : sequence of str, optional
        Instruction order (default :func:`instruction_order` of ``results``).
    limit : int, optional
        Consider only the first ``limit`` instructions of ``order``; of those, the ones
        lacking an output or label for any model are dropped and counted.

    Examples
    --------
    >>> a = ModelResults("a", {"x": "1", "y": "2"}, {"x": 0.5, "y": 0.0})
    >>> b = ModelResults("b", {"x": "3", "y": "4"}, {"x": 1.0})
    >>> ens = align([a, b])
    >>> ens.instructions, ens.n_dropped, ens.wins.tolist()
    (['x'], 1, [[0.5, 1.0]])
    """
    if limit is not None and limit < 1:
        raise ValueError(f"`limit` must be a positive int or None; got {limit}.")
    seq = list(order) if order is not None else instruction_order(results)
    if limit is not None:
        seq = seq[:limit]
    keep = [s for s in seq if all(s in r.wins for r in results)]
    kept = set(keep)
    wins = np.array([[r.wins[s] for r in results] for s in keep], dtype=np.float64)
    return AlignedEnsemble(
        models=[r.name for r in results],
        instructions=keep,
        outputs=[[r.outputs[s] for r in results] for s in keep],
        wins=wins.reshape(len(keep), len(results)),
        n_dropped=len(seq) - len(keep),
        dropped=[s for s in seq if s not in kept],
    )
