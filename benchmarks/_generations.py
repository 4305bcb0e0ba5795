"""Shared paths of the labelled-generations benchmarks (never collected by pytest).

Result files are written with :func:`_results.save_result` (one schema for every benchmark).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("SMOOTHIE_SHARED_DATA", ROOT.parent / "shared" / "data"))
