"""Fitted state survives loading and copying (issue 15 items 3 and 4)."""

from __future__ import annotations

import copy
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import ConfigurableField

from langchain_smoothie import ScriptedChatModel, SmoothieRouter
from smoothie_core import HashingEmbedder, Router, StateFileError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROMPTS = [
    "What is the capital of France?",
    "What is the capital of Peru?",
    "What is the capital of Japan?",
    "How do I cook rice?",
    "How do I cook pasta?",
    "How do I boil eggs?",
]


def _models() -> dict[str, ScriptedChatModel]:
    """Picklable candidates (no scripts): two agree on everything, one is off topic."""
    answers = {
        "france": "Paris.",
        "peru": "Lima.",
        "japan": "Tokyo.",
        "rice": "Simmer rice.",
        "pasta": "Boil pasta.",
        "eggs": "Boil eggs.",
    }
    off = {k: f"Skateboards and {k} turtles" for k in answers}
    return {
        "good": ScriptedChatModel(model_name="good", answers=answers),
        "same": ScriptedChatModel(model_name="same", answers=dict(answers)),
        "free": ScriptedChatModel(model_name="free", answers=off),
    }


def _fitted(**kwargs: Any) -> SmoothieRouter:
    router = SmoothieRouter(models=_models(), embedder=HashingEmbedder(), mode="route", **kwargs)
    return router.fit(PROMPTS, show_progress=False)


# ------------------------------------------------------------------- load (item 3)
def test_load_keeps_the_saved_abstention(tmp_path: Path) -> None:
    fitted = _fitted(n_neighbors=2, default="free", abstain_below=1.0)
    assert fitted.route("Capital of France?").abstained
    path = fitted.save(tmp_path / "router.npz")
    loaded = SmoothieRouter.load(path, models=_models(), embedder=HashingEmbedder())
    assert loaded.abstain_below == 1.0 and loaded.default == "free"
    decision = loaded.route("Capital of France?")
    assert decision.abstained and decision.selected == "free"


def test_load_with_auto_neighbours(tmp_path: Path) -> None:
    path = _fitted(n_neighbors="auto").save(tmp_path / "router.npz")
    loaded = SmoothieRouter.load(path, models=_models(), embedder=HashingEmbedder())
    assert loaded.n_neighbors == "auto"
    assert loaded.route("Capital of Chile?").n_neighbors == len(PROMPTS)  # min(cap, pool)


def test_load_with_n_neighbors_uses_it(tmp_path: Path) -> None:
    path = _fitted(n_neighbors=4).save(tmp_path / "router.npz")
    loaded = SmoothieRouter.load(path, models=_models(), embedder=HashingEmbedder(), n_neighbors=2)
    assert loaded.n_neighbors == 2 and loaded.router.n_neighbors == 2
    fresh = _fitted(n_neighbors=2)
    for prompt in ("Capital of Chile?", "How do I cook beans?"):
        got, want = loaded.route(prompt), fresh.route(prompt)
        assert got.n_neighbors == 2
        assert got.weights == pytest.approx(want.weights)
    abstaining = SmoothieRouter.load(
        path, models=_models(), embedder=HashingEmbedder(), abstain_below=1.0, default="good"
    )
    assert abstaining.route("Capital of Chile?").selected == "good"


def test_load_rejects_bad_overrides_clearly(tmp_path: Path) -> None:
    path = _fitted().save(tmp_path / "router.npz")
    with pytest.raises(ValueError, match="`n_neighbors` must be None") as info:
        SmoothieRouter.load(path, models=_models(), embedder=HashingEmbedder(), n_neighbors=0)
    assert not isinstance(info.value, StateFileError)  # the caller's value, not the file
    with pytest.raises(ValueError, match="`abstain_below` must be None or a number in"):
        SmoothieRouter.load(path, models=_models(), embedder=HashingEmbedder(), abstain_below=2)
    with pytest.raises(TypeError, match="drop `router=`"):
        SmoothieRouter.load(path, models=_models(), router=Router(["good", "same", "free"]))


def test_a_given_core_router_must_match() -> None:
    core = _fitted(n_neighbors=2).router
    with pytest.raises(ValueError, match=r"`router` is for candidates \['good', 'same', 'free'\]"):
        SmoothieRouter(models=dict(reversed(list(_models().items()))), router=core)
    with pytest.raises(ValueError, match="`n_neighbors`=3 differs from the given router's"):
        SmoothieRouter(models=_models(), router=core, n_neighbors=3)
    with pytest.raises(ValueError, match=r"`embedder` .* differs"):
        SmoothieRouter(models=_models(), router=core, embedder=HashingEmbedder(dim=8))
    with pytest.raises(ValueError, match="`scorer`='coverage' differs"):
        SmoothieRouter(models=_models(), router=core, scorer="coverage")
    same = SmoothieRouter(models=_models(), router=core, scorer="answer_coverage", n_neighbors=2)
    assert same.router is core
    shared = SmoothieRouter(models=_models(), router=core, mode="route")
    assert shared.router is core and shared.n_neighbors == 2
    assert shared.route("Capital of Chile?").weights == core.route("Capital of Chile?").weights


# ------------------------------------------------------------- copies (item 4)
def test_configurable_cost_tradeoff_on_a_fitted_router() -> None:
    prices = {"good": 10.0, "same": 10.0, "free": 0.0}
    fitted = _fitted(n_neighbors=2, prices=prices)
    tunable = fitted.configurable_fields(
        cost_tradeoff=ConfigurableField(id="cost_tradeoff", name="Cost trade-off")
    )
    plain = tunable.invoke("What is the capital of France?")
    assert plain.response_metadata["smoothie"]["selected"] in {"good", "same"}
    cheap = tunable.invoke(
        "What is the capital of France?", config={"configurable": {"cost_tradeoff": 100.0}}
    )
    meta = cheap.response_metadata["smoothie"]
    assert meta["selected"] == "free" and meta["scores"]["free"] > meta["scores"]["good"]


def test_configurable_n_neighbors_on_a_fitted_router_says_why_not() -> None:
    tunable = _fitted(n_neighbors=2).configurable_fields(
        n_neighbors=ConfigurableField(id="k", name="Neighbours")
    )
    assert tunable.invoke("Capital of France?").response_metadata["smoothie"]["n_neighbors"] == 2
    with pytest.raises(ValueError, match="`n_neighbors`=4 differs from the given router's"):
        tunable.invoke("Capital of France?", config={"configurable": {"k": 4}})


@pytest.mark.parametrize(
    "clone", [copy.deepcopy, lambda r: pickle.loads(pickle.dumps(r))], ids=["deepcopy", "pickle"]
)
def test_a_fitted_router_copies_with_its_own_state(clone: Any) -> None:
    fitted = _fitted(n_neighbors=2)
    other = clone(fitted)
    assert other is not fitted and other.router is not fitted.router
    assert other.calibration_report_ == fitted.calibration_report_
    prompt = "What is the capital of Chile?"
    assert other.route(prompt).weights == pytest.approx(fitted.route(prompt).weights)
    assert other.invoke(prompt).response_metadata["smoothie"]["mode"] == "route"
    other.fit(PROMPTS[:3], show_progress=False)  # the copy's state is its own
    assert other.router.pool_size == 3 and fitted.router.pool_size == len(PROMPTS)
    assert fitted.calibration_report_.n_prompts == len(PROMPTS)
    errors: list[BaseException] = []

    def use(router: SmoothieRouter) -> None:
        try:
            router.route(prompt)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(r,)) for r in (fitted, other) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads)


def test_scripted_chat_model_copies() -> None:
    model = ScriptedChatModel(model_name="m", answers={"x": "y"})
    model.invoke("x")
    for other in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert other.calls == ["x"] and other._lock is not model._lock
        assert other.invoke("x").content == "y"
        assert model.call_count == 1
