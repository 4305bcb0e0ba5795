"""Opt-in smoke test of ``smoothie demo``'s real local pool (needs the demo extra).

Run with ``SMOOTHIE_RUN_REAL_MODELS=1 .venv/bin/pytest -m real_models``; skipped otherwise
(``make test`` must not need the demo extra or spend minutes generating).
"""

from __future__ import annotations

import io
import os

import pytest

pytestmark = [
    pytest.mark.real_models,
    pytest.mark.skipif(
        os.environ.get("SMOOTHIE_RUN_REAL_MODELS") != "1",
        reason="real local chat models are opt-in: set SMOOTHIE_RUN_REAL_MODELS=1 (needs the demo extra)",
    ),
]


def test_real_pool_answers_selects_and_routes(hashing_embedder) -> None:
    from smoothie_demo import QUESTIONS, run_demo
    from smoothie_demo.cli import build_local_models

    models = build_local_models(max_tokens=48, verbose=False)
    assert list(models) == ["smollm2-135m", "qwen-0.5b", "qwen-1.5b"]
    capital = models["qwen-1.5b"].invoke("What is the capital of France? One word.")
    assert "paris" in str(capital.content).lower()
    assert capital.usage_metadata and capital.usage_metadata["output_tokens"] > 0
    streamed = "".join(str(c.content) for c in models["smollm2-135m"].stream("Say hello."))
    assert streamed.strip()

    questions = [QUESTIONS[0], QUESTIONS[1], QUESTIONS[4], QUESTIONS[5]]
    out = io.StringIO()
    report = run_demo(models, questions, embedder=hashing_embedder, out=out, progress=False)
    assert len(report.select_rows) == 4 and len(report.route_rows) == 2
    assert all(all(a for a in row.answers.values()) for row in report.select_rows)
    assert all(row.calls == 1 for row in report.route_rows)
    assert sum(report.model_calls.values()) == 3 * 4 + 2  # select 12, route 2 (one each)
