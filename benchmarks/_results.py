"""One schema for every benchmark result file (``benchmarks/README.md`` documents it).

A result file is one JSON object::

    {
      "schema": 1,
      "name": "bench_estimator",           # the file's stem
      "command": "python benchmarks/bench_estimator.py --quick",
      "date_utc": "2026-11-27T23:30:01+00:00",
      "commit": "758520f9...",             # git HEAD when it ran (null: unknown)
      "dirty": false,                      # library/benchmark code had uncommitted edits (null: unknown)
      "machine": {"cpus": 2, "platform": ..., "python": ..., "loadavg_start": [...], ...},
      "results": ...                       # what the benchmark measured (its own shape)
    }

plus, for files written before this schema, ``"provenance"``: where each header field
came from. Every script in ``benchmarks/`` writes through :func:`save_result` and reads
through :func:`load_result`; ``tests/integration/test_docs.py`` checks that every file in
``benchmarks/results/`` follows the schema and is indexed in ``benchmarks/README.md``.

Never collected by pytest (``benchmarks/`` is not a test path).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "HEADER_KEYS",
    "RESULTS",
    "SCHEMA",
    "check_result",
    "command_line",
    "git_state",
    "load_result",
    "machine_info",
    "save_result",
]

SCHEMA = 1
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
#: Keys every result file has, in the order they are written.
HEADER_KEYS = ("schema", "name", "command", "date_utc", "commit", "dirty", "machine", "results")
#: Code whose local edits make a measurement "dirty" (results files do not count).
_CODE = ("smoothie_core", "langchain_smoothie", "llamaindex_smoothie", "examples", "benchmarks")


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command that is running, as typed from the repository root.

    ``argv`` is ``sys.argv``-like (script first); a script inside the repository is shown
    by its path from the root, e.g. ``python benchmarks/bench_scale.py --quick``.
    """
    args = list(sys.argv if argv is None else argv)
    script = Path(args[0]) if args else Path("?")
    try:
        shown = script.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        shown = script.name
    return shlex.join(["python", shown, *args[1:]])


def git_state() -> tuple[str | None, bool | None]:
    """``(HEAD commit, dirty)`` of the repository (``(None, None)`` outside git)."""

    def run(*cmd: str) -> str | None:
        try:
            out = subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip()

    head = run("git", "rev-parse", "HEAD")
    if not head:
        return None, None
    status = run("git", "status", "--porcelain", "--", *_CODE, ":!benchmarks/results")
    return head, None if status is None else bool(status)


def machine_info(**extra: Any) -> dict[str, Any]:
    """What ran the benchmark: CPUs, platform, Python and the load average now.

    Call it when the benchmark starts (``loadavg_start``); :func:`save_result` adds
    ``loadavg_end``. ``extra`` adds fields (e.g. ``blas=...``, ``note=...``).
    """
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    info.update(extra)
    return info


def save_result(
    name: str,
    results: Any,
    *,
    command: str | Sequence[str] | None = None,
    machine: Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    date_utc: str | None = None,
    commit: str | None = None,
    dirty: bool | None = None,
    provenance: Mapping[str, str] | None = None,
) -> Path:
    """Write ``results`` with the schema's header to ``out`` (default ``results/<name>.json``).

    ``command`` defaults to this process's command line (a sequence is ``sys.argv``-like),
    ``machine`` to :func:`machine_info` now, ``date_utc`` to now and ``commit``/``dirty``
    to :func:`git_state`. The file is replaced atomically (a temporary file in the same
    folder, then a rename), so a crash never leaves half a result. Returns the path.
    """
    if not name or "/" in name:
        raise ValueError(f"`name` must be a file stem like 'bench_scale'; got {name!r}.")
    if command is None or not isinstance(command, str):
        command = command_line(command)
    if commit is None and dirty is None and date_utc is None:
        commit, dirty = git_state()
    mach = dict(machine_info() if machine is None else machine)
    if "loadavg_start" in mach and "loadavg_end" not in mach and date_utc is None:
        mach["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "name": name,
        "command": command,
        "date_utc": date_utc or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "machine": mach,
        "results": results,
    }
    if provenance:
        doc["provenance"] = dict(provenance)
    check_result(doc)
    path = Path(out) if out is not None else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_result(doc: Any) -> None:
    """Raise ``ValueError`` unless ``doc`` follows the schema (see the module docstring)."""
    if not isinstance(doc, dict):
        raise ValueError(f"a result file must hold a JSON object; got {type(doc).__name__}.")
    missing = [k for k in HEADER_KEYS if k not in doc]
    if missing:
        raise ValueError(
            f"a result file needs the keys {list(HEADER_KEYS)}; {missing} are missing. "
            "Write it with benchmarks/_results.py:save_result."
        )
    if doc["schema"] != SCHEMA:
        raise ValueError(f"unknown result schema {doc['schema']!r}; this code reads {SCHEMA}.")
    extra = set(doc) - set(HEADER_KEYS) - {"provenance"}
    if extra:
        raise ValueError(f"unknown top-level keys {sorted(extra)}; put them under 'results'.")
    for key in ("name", "command", "date_utc"):
        if not isinstance(doc[key], str) or not doc[key]:
            raise ValueError(f"{key!r} must be a non-empty string; got {doc[key]!r}.")
    try:
        dt.datetime.fromisoformat(doc["date_utc"])
    except ValueError:
        raise ValueError(f"'date_utc' must be ISO 8601; got {doc['date_utc']!r}.") from None
    if doc["commit"] is not None and not (
        isinstance(doc["commit"], str) and len(doc["commit"]) == 40
    ):
        raise ValueError(f"'commit' must be a 40-hex-digit sha or null; got {doc['commit']!r}.")
    if doc["dirty"] not in (True, False, None):
        raise ValueError(f"'dirty' must be true, false or null; got {doc['dirty']!r}.")
    if not isinstance(doc["machine"], dict) or not doc["machine"]:
        raise ValueError("'machine' must be a non-empty object (or {'note': 'not recorded'}).")


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a result file; returns the whole document (measurements in ``"results"``)."""
    p = Path(path)
    doc = json.loads(p.read_text(encoding="utf-8"))
    try:
        check_result(doc)
    except ValueError as err:
        raise ValueError(f"{p}: {err}") from None
    return doc
