"""Read labelled generations: ``<task>/<model>.jsonl[.gz]``, one JSON object per prompt.

The layout (the shared data's ``zeroeval/`` and ``mmlu_pro/`` folders use it, and it is
the natural format for your own logged generations)::

    DIR/<task>/<model>.jsonl        or  DIR/<task>/<model>.jsonl.gz
        {"id": "q1", "input": "...", "output": "...", "reference": "...", "label": 1}

- ``id`` (str or int): unique within a file; every model file of a task lists the same
  ids in the same order (a missing generation is a line with ``"output": null``).
- ``input`` (str): the prompt, the routing input.
- ``output`` (str or null): the model's answer; null = no output.
- ``label`` (number or null): higher is better; 0/1 correctness or a real-valued grade
  (null or NaN = unlabelled). Scores are reported as ``100 * mean(label)``.
- ``reference`` (optional, any scalar or null): the gold answer, kept for inspection.

A prompt is used for a pool only where every pool member has an output and a label.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "GenerationsFile",
    "LabelledPool",
    "GenerationsData",
    "read_generations",
    "load_pools_file",
]

_SUFFIXES = (".jsonl.gz", ".jsonl")
_REQUIRED = ("id", "input", "output", "label")
_EXPECTED = (
    'one JSON object per line like {"id": "q1", "input": "...", "output": "...", '
    '"reference": "...", "label": 1}'
)


@dataclass(frozen=True)
class GenerationsFile:
    """One model's generations on one task, in file order.

    Attributes
    ----------
    path : Path
    ids, inputs : list of str
    outputs : list of (str or None)
    references : list of (str or None)
    labels : ndarray of shape (n,), float64
        NaN where the line has no label.
    lines : list of int
        The line number of each prompt in the file.
    """

    path: Path
    ids: list[str]
    inputs: list[str]
    outputs: list[str | None]
    references: list[str | None]
    labels: NDArray[np.float64]
    lines: list[int] = field(default_factory=list)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            yield from enumerate(fh, start=1)
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}; expected {_EXPECTED}.") from err


def read_generations(path: str | os.PathLike[str]) -> GenerationsFile:
    """Read and validate one ``<model>.jsonl[.gz]`` file.

    Raises
    ------
    ValueError
        A line that is not a JSON object, a missing field, a wrong type, a label that is
        not a number, a duplicate id; the message names the file, the line and what was
        expected.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.jsonl"
    >>> _ = p.write_text(json.dumps({"id": 1, "input": "2+2?", "output": "4",
    ...     "reference": "4", "label": 1}) + "\\n")
    >>> f = read_generations(p)
    >>> f.ids, f.outputs, f.labels.tolist()
    (['1'], ['4'], [1.0])
    """
    p = Path(path)
    ids: list[str] = []
    inputs: list[str] = []
    outputs: list[str | None] = []
    refs: list[str | None] = []
    labels: list[float] = []
    linenos: list[int] = []
    first_line: dict[str, int] = {}
    for lineno, line in _lines(p):
        if not line.strip():
            continue
        where = f"{p}, line {lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{where}: not valid JSON ({err.msg} at column {err.colno}); expected {_EXPECTED}."
            ) from None
        if not isinstance(row, dict):
            raise ValueError(f"{where}: expected a JSON object; got {type(row).__name__}.")
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            raise ValueError(
                f"{where}: missing field {', '.join(repr(k) for k in missing)}; expected "
                f"{_EXPECTED} (null for a missing output or label)."
            )
        ident = row["id"]
        if isinstance(ident, bool) or not isinstance(ident, (str, int)):
            raise ValueError(f"{where}: 'id' must be a string or an integer; got {ident!r}.")
        ident = str(ident)
        if ident in first_line:
            raise ValueError(
                f"{where}: duplicate id {ident!r} (first on line {first_line[ident]}); ids "
                "must be unique within a file."
            )
        first_line[ident] = lineno
        text = row["input"]
        if not isinstance(text, str):
            raise ValueError(f"{where}: 'input' must be a string; got {type(text).__name__}.")
        out = row["output"]
        if out is not None and not isinstance(out, str):
            raise ValueError(
                f"{where}: 'output' must be a string or null; got {type(out).__name__}."
            )
        labels.append(_label(row["label"], where))
        ref = row.get("reference")
        refs.append(None if ref is None else ref if isinstance(ref, str) else json.dumps(ref))
        ids.append(ident)
        inputs.append(text)
        outputs.append(out)
        linenos.append(lineno)
    return GenerationsFile(
        p, ids, inputs, outputs, refs, np.asarray(labels, dtype=np.float64), linenos
    )


def _label(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        if math.isinf(value):
            raise ValueError(f"{where}: 'label' must be finite; got {value}.")
        return float(value)
    raise ValueError(
        f"{where}: 'label' must be a number (0/1 or a real-valued grade, higher is better) or "
        f"null; got {value!r}."
    )


@dataclass(frozen=True)
class LabelledPool:
    """One pool's aligned generations *with* labels: the harness's view, never a method's.

    Attributes
    ----------
    name : str
    models : list of str
    ids, inputs, tasks : list of str, length n
        Prompt id, prompt text and task name of each usable prompt (tasks in order).
    outputs : list of list of str, shape (n, m)
    labels : ndarray of shape (n, m)
    n_dropped : dict of str to int
        Per task: prompts (within the limit) missing an output or label of some member.
    skipped_tasks : list of str
        Tasks left out because a member has no file for them.
    """

    name: str
    models: list[str]
    ids: list[str]
    inputs: list[str]
    tasks: list[str]
    outputs: list[list[str]]
    labels: NDArray[np.float64]
    n_dropped: dict[str, int] = field(default_factory=dict)
    skipped_tasks: list[str] = field(default_factory=list)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def task_names(self) -> list[str]:
        """Task names in order of appearance."""
        return list(dict.fromkeys(self.tasks))


class GenerationsData:
    """A labelled-generations folder: tasks, models, and pools aligned on demand.

    Parameters
    ----------
    root : path-like
        The folder holding ``<task>/<model>.jsonl[.gz]``.
    tasks : sequence of str, optional
        Use only these tasks (default: every task folder, sorted).

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for model, good in [("a", 1), ("b", 0), ("c", 1)]:
    ...     (root / "t").mkdir(exist_ok=True)
    ...     _ = (root / "t" / f"{model}.jsonl").write_text("".join(json.dumps({"id": i,
    ...         "input": f"q{i}", "output": f"{model}{i}", "label": good}) + "\\n" for i in range(3)))
    >>> data = GenerationsData(root)
    >>> data.tasks, data.models()
    (['t'], ['a', 'b', 'c'])
    >>> pool = data.pool(["a", "b", "c"], name="p", limit_per_task=2)
    >>> pool.n_inputs, pool.labels.mean(axis=0).tolist()
    (2, [1.0, 0.0, 1.0])
    """

    def __init__(self, root: str | os.PathLike[str], *, tasks: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"--data {self.root} does not exist; expected a folder holding "
                "<task>/<model>.jsonl[.gz] files."
            )
        found = {
            p.name: p
            for p in sorted(self.root.iterdir())
            if p.is_dir() and any(_model_name(f) for f in p.iterdir())
        }
        if not found:
            raise ValueError(
                f"{self.root} holds no task folder with <model>.jsonl or <model>.jsonl.gz files; "
                "expected the layout <task>/<model>.jsonl[.gz]."
            )
        if tasks is None:
            self.tasks = list(found)
        else:
            unknown = [t for t in tasks if t not in found]
            if unknown:
                raise ValueError(
                    f"unknown task(s) {', '.join(map(repr, unknown))} in {self.root}; tasks "
                    f"found: {', '.join(found)}."
                )
            self.tasks = list(dict.fromkeys(tasks))
        self._files: dict[str, dict[str, Path]] = {}
        for task in self.tasks:
            files: dict[str, Path] = {}
            for f in sorted(found[task].iterdir()):
                model = _model_name(f)
                if model is None:
                    continue
                if model in files:
                    raise ValueError(
                        f"{found[task]} holds both {files[model].name} and {f.name}; keep one "
                        f"file per model."
                    )
                files[model] = f
            self._files[task] = files
        self._cache: dict[tuple[str, str], GenerationsFile] = {}
        self._reference: dict[str, GenerationsFile] = {}
        self._lock = threading.Lock()

    def models(self, task: str | None = None) -> list[str]:
        """Models with a file for ``task`` (default: for any selected task), sorted."""
        if task is not None:
            return sorted(self._files[task])
        return sorted({m for files in self._files.values() for m in files})

    def path(self, task: str, model: str) -> Path:
        return self._files[task][model]

    def read(self, task: str, model: str) -> GenerationsFile:
        """One file, read once and checked against the task's other files (same ids)."""
        with self._lock:
            key = (task, model)
            if key not in self._cache:
                gen = read_generations(self._files[task][model])
                ref = self._reference.setdefault(task, gen)
                if ref is not gen:
                    _check_same_ids(gen, ref)
                self._cache[key] = gen
            return self._cache[key]

    def check_pool(self, models: Sequence[str]) -> list[str]:
        """Validate a pool: at least 3 distinct models, each with a file for some task."""
        names = [str(m).strip() for m in models]
        if len(names) < 3 or any(not n for n in names):
            raise ValueError(
                f"a pool needs at least 3 model names (Smoothie's triplet estimator compares "
                f"3 candidates); got {names}."
            )
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"a pool must list distinct models; {dup} appear more than once.")
        known = set(self.models())
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(
                f"unknown model(s) {', '.join(map(repr, unknown))}: no <task>/<model>.jsonl[.gz] "
                f"for them in {self.root} (tasks {', '.join(self.tasks)}). Models found: "
                f"{', '.join(sorted(known))}."
            )
        return names

    def pool(
        self, models: Sequence[str], *, name: str, limit_per_task: int | None = None
    ) -> LabelledPool:
        """Align ``models`` on the prompts they all answered with a label, task by task.

        ``limit_per_task`` keeps the first N prompts of each task (file order) before
        dropping the incomplete ones.
        """
        if limit_per_task is not None and limit_per_task < 1:
            raise ValueError(f"`limit_per_task` must be a positive int; got {limit_per_task}.")
        names = self.check_pool(models)
        ids: list[str] = []
        inputs: list[str] = []
        tasks: list[str] = []
        outputs: list[list[str]] = []
        labels: list[NDArray[np.float64]] = []
        dropped: dict[str, int] = {}
        skipped: list[str] = []
        for task in self.tasks:
            if any(m not in self._files[task] for m in names):
                skipped.append(task)
                continue
            gens = [self.read(task, m) for m in names]
            n = (
                len(gens[0].ids)
                if limit_per_task is None
                else min(limit_per_task, len(gens[0].ids))
            )
            lab = np.stack([g.labels[:n] for g in gens], axis=1)
            ok = np.isfinite(lab).all(axis=1) & np.array(
                [all(g.outputs[i] is not None for g in gens) for i in range(n)], dtype=bool
            )
            keep = np.flatnonzero(ok)
            dropped[task] = int(n - len(keep))
            ids.extend(gens[0].ids[i] for i in keep)
            inputs.extend(gens[0].inputs[i] for i in keep)
            tasks.extend([task] * len(keep))
            outputs.extend([str(g.outputs[i]) for g in gens] for i in keep)
            labels.append(lab[keep])
        if not ids:
            raise ValueError(
                f"pool {name!r} ({', '.join(names)}) has no prompt where every member has an "
                f"output and a label (tasks {', '.join(self.tasks)}; tasks without a file for "
                f"some member: {', '.join(skipped) or 'none'}); check the models and --tasks."
            )
        return LabelledPool(
            name=name,
            models=names,
            ids=ids,
            inputs=inputs,
            tasks=tasks,
            outputs=outputs,
            labels=np.concatenate(labels, axis=0),
            n_dropped=dropped,
            skipped_tasks=skipped,
        )


def _model_name(path: Path) -> str | None:
    if not path.is_file():
        return None
    for suffix in _SUFFIXES:
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return None


def _check_same_ids(gen: GenerationsFile, ref: GenerationsFile) -> None:
    for i, (a, b) in enumerate(zip(gen.ids, ref.ids, strict=False)):
        if a != b:
            raise ValueError(
                f"{gen.path}, line {gen.lines[i]}: id {a!r}, but {ref.path}, line "
                f"{ref.lines[i]} has id {b!r}; every "
                "model file of a task must list the same ids in the same order (write a line "
                'with "output": null for a prompt a model did not answer).'
            )
    if len(gen.ids) != len(ref.ids):
        raise ValueError(
            f"{gen.path} has {len(gen.ids)} prompts but {ref.path} has {len(ref.ids)}; every "
            "model file of a task must list the same ids in the same order (write a line with "
            '"output": null for a prompt a model did not answer).'
        )


def load_pools_file(path: str | os.PathLike[str]) -> list[tuple[str, list[str]]]:
    """Read pools: a JSON list of ``{"name": ..., "models": [...]}`` or of lists of names.

    Unnamed pools are called ``pool_<i>`` (``i`` from 0, the position in the file).

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pools.json"
    >>> _ = p.write_text(json.dumps([{"name": "small", "models": ["a", "b", "c"]},
    ...     ["c", "d", "e"]]))
    >>> load_pools_file(p)
    [('small', ['a', 'b', 'c']), ('pool_1', ['c', 'd', 'e'])]
    """
    p = Path(path)
    expected = (
        'a non-empty JSON list of pools, each {"name": "...", "models": ["a", "b", "c"]} or '
        'a list of model names like ["a", "b", "c"]'
    )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"pools file {p} does not exist; expected {expected}.") from None
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{p} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            f"expected {expected}."
        ) from err
    if not isinstance(data, list) or not data:
        raise ValueError(f"{p} must hold {expected}; got {json.dumps(data)[:80]}.")
    pools: list[tuple[str, list[str]]] = []
    for i, item in enumerate(data):
        if isinstance(item, dict):
            name, models = item.get("name", f"pool_{i}"), item.get("models")
        else:
            name, models = f"pool_{i}", item
        if (
            not isinstance(name, str)
            or not isinstance(models, list)
            or not all(isinstance(m, str) for m in models)
        ):
            raise ValueError(f"{p}: pool {i} must be {expected}; got {json.dumps(item)[:80]}.")
        pools.append((name, list(models)))
    names = [n for n, _ in pools]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{p}: pool names must be distinct; {dup} appear more than once.")
    return pools
