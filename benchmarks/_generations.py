"""Shared helpers of the labelled-generations benchmarks (never collected by pytest)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def git_state() -> dict[str, Any]:
    """Commit of the tree that was measured (and whether the library had local edits)."""

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(
                cmd, cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "head": run("git", "rev-parse", "HEAD"),
        "smoothie_core_uncommitted_changes": bool(
            run("git", "status", "--porcelain", "--", "smoothie_core")
        ),
    }


def header(benchmark: str) -> dict[str, Any]:
    """Command, date, commit and machine of a result file (the benchmarks' convention)."""
    return {
        "benchmark": benchmark,
        "command": "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_start": list(os.getloadavg()),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "2 CPU cores shared by several engineers working at the same time: "
            "timings are noisy and one run only.",
        },
    }
