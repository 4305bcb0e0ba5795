"""Package layout (issue 14 items 3 and 4): modules import on their own, without cycles;
the fake chat model is public; defaults come from smoothie_core.defaults."""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import langchain_smoothie
from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import defaults

PACKAGE = Path(langchain_smoothie.__file__).parent
MODULES = sorted(
    f"langchain_smoothie.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"
)


def _imports(path: Path) -> set[str]:
    """langchain_smoothie modules ``path`` imports at run time (``TYPE_CHECKING`` blocks
    excluded; imports inside functions included)."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "langchain_smoothie":
                out.update(f"langchain_smoothie.{a.name}" for a in node.names)
            elif node.module.startswith("langchain_smoothie."):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("langchain_smoothie."))
    return out & set(MODULES)


def test_module_imports_have_no_cycle() -> None:
    graph = {m: _imports(PACKAGE / f"{m.split('.')[-1]}.py") for m in MODULES}
    assert "langchain_smoothie.decision" not in graph["langchain_smoothie.chat_models"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail(f"import cycle: {' -> '.join((*path[path.index(module) :], module))}")
        if module in done:
            return
        for dep in sorted(graph[module]):
            visit(dep, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())


@pytest.mark.parametrize(
    "module", ["langchain_smoothie.chat_models", "langchain_smoothie.decision"]
)
def test_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    out = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_fake_chat_model_is_a_public_module() -> None:
    from langchain_smoothie import fake_chat_models

    assert ScriptedChatModel is fake_chat_models.ScriptedChatModel
    assert fake_chat_models.__all__ == ["ScriptedChatModel"]
    assert not (PACKAGE / "_fake.py").exists() and not (PACKAGE / "_calls.py").exists()


def test_no_uncalled_helpers() -> None:
    assert not hasattr(SmoothieRouter, "as_decision_model")


def test_defaults_are_the_cores() -> None:
    fields = SmoothieRouter.model_fields
    assert fields["max_concurrency"].default == defaults.DEFAULT_MAX_CONCURRENCY == 8
    assert fields["n_neighbors"].default == defaults.DEFAULT_N_NEIGHBORS
    assert fields["timeout"].default == defaults.DEFAULT_TIMEOUT
    assert fields["max_retries"].default == defaults.DEFAULT_MAX_RETRIES
    assert fields["max_pool_size"].default == defaults.DEFAULT_MAX_POOL_SIZE
    assert fields["scorer"].default == defaults.DEFAULT_SCORER
    assert fields["update_pool"].default == defaults.DEFAULT_UPDATE_POOL


def test_router_options_pass_through_to_the_core() -> None:
    from smoothie_core import HashingEmbedder

    models = [ScriptedChatModel(model_name=n) for n in "abc"]
    router = SmoothieRouter(
        models=models, embedder=HashingEmbedder(), scorer="coverage", n_neighbors="auto",
        max_pool_size=50, default="b", abstain_below=0.25, update_pool=False,
    )  # fmt: skip
    core = router.router
    assert core.scorer.name == "coverage" and core.n_neighbors == "auto"
    assert core.update_pool is False
    assert (core.max_pool_size, core.default, core.abstain_below) == (50, "b", 0.25)


def test_fit_returns_self_and_sets_the_fitted_attribute() -> None:
    from smoothie_core import HashingEmbedder

    models = [ScriptedChatModel(model_name=n, default_answer=f"{n} says hi") for n in "abc"]
    router = SmoothieRouter(models=models, mode="route", embedder=HashingEmbedder())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a three-prompt calibration may be flagged
        assert router.fit(["a", "b", "c"], show_progress=False) is router
    assert router.calibration_report_.n_used == 3
