"""langchain_smoothie's public names are pinned; it never imports the LlamaIndex side."""

from __future__ import annotations

import subprocess
import sys

import langchain_smoothie


def test_public_names_are_pinned() -> None:
    assert sorted(langchain_smoothie.__all__) == [
        "AllCandidatesFailedError",
        "LangChainEmbedder",
        "ScriptedChatModel",
        "SmoothieRouter",
        "SmoothieRunnable",
        "__version__",
    ]
    for name in langchain_smoothie.__all__:
        assert hasattr(langchain_smoothie, name)
    from langchain_smoothie import decision

    assert sorted(decision.__all__) == ["SmoothieDecisionModel", "model_router_middleware"]


def test_does_not_import_llamaindex_or_torch() -> None:
    code = (
        "import sys, langchain_smoothie, langchain_smoothie.decision;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('llama_index', "
        "'llamaindex_smoothie', 'torch', 'sentence_transformers')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"langchain_smoothie imported {out.stdout.strip()}"
