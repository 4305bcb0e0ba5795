"""llamaindex_smoothie's public surface and layering."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import llamaindex_smoothie

ROOT = Path(__file__).resolve().parents[3]


def test_public_names_are_pinned() -> None:
    assert sorted(llamaindex_smoothie.__all__) == [
        "LlamaIndexEmbedder",
        "PromptedLLM",
        "SmoothieDecisionEvent",
        "SmoothieLLM",
        "SmoothieQueryEngine",
        "SmoothieSelector",
        "SmoothieSelectorResult",
    ]
    for name in llamaindex_smoothie.__all__:
        assert hasattr(llamaindex_smoothie, name)


def test_init_only_reexports() -> None:
    tree = ast.parse((ROOT / "llamaindex_smoothie" / "__init__.py").read_text())
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_all = isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["__all__"]  # type: ignore[attr-defined]
        assert is_docstring or is_all or isinstance(node, ast.ImportFrom), ast.dump(node)[:80]


def test_does_not_import_langchain_or_torch() -> None:
    code = (
        "import sys, llamaindex_smoothie;"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain', 'langchain_core', 'langchain_smoothie', 'torch', 'sentence_transformers')];"
        "print(','.join(sorted({m.split('.')[0] for m in bad})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "", f"llamaindex_smoothie imported {out.stdout.strip()}"
