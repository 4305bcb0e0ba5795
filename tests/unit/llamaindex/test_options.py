"""The options every LlamaIndex front door shares: names, defaults and error messages.

Same names and defaults as LangChain's ``SmoothieRouter`` (both import them from
``smoothie_core.defaults``), validated with the same messages in all three classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llamaindex_smoothie import SmoothieLLM, SmoothieQueryEngine, SmoothieSelector
from smoothie_core import HashingEmbedder, Router
from smoothie_core.defaults import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_POOL_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_N_NEIGHBORS,
    DEFAULT_SCORER,
    DEFAULT_TIMEOUT,
)
from smoothie_core.scorers import get_scorer
from tests.support.llamaindex import (
    CALIBRATION,
    HELD_OUT,
    STYLES,
    ScriptedLLM,
    engine_tools,
    scripted_answer,
)

NAMES = list(STYLES)
# scripted pools trip smoothie_core's reliability warning; not under test here
pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")


def selector(**options: Any) -> SmoothieSelector:
    return SmoothieSelector(tools=engine_tools()[0], embedder=HashingEmbedder(), **options)


def query_engine(**options: Any) -> SmoothieQueryEngine:
    options.pop("prices", None), options.pop("cost_tradeoff", None)  # select only: no prices
    return SmoothieQueryEngine(engine_tools()[0], embedder=HashingEmbedder(), **options)


def llm(**options: Any) -> SmoothieLLM:
    return SmoothieLLM(
        {n: ScriptedLLM(name=n) for n in NAMES}, embedder=HashingEmbedder(), **options
    )


FRONT_DOORS: list[Callable[..., Any]] = [selector, query_engine, llm]
IDS = ["selector", "query_engine", "llm"]


@pytest.mark.parametrize("make", FRONT_DOORS, ids=IDS)
def test_defaults_come_from_smoothie_core_defaults(make: Callable[..., Any]) -> None:
    front = make()
    assert front.n_neighbors == DEFAULT_N_NEIGHBORS
    assert front.max_concurrency == DEFAULT_MAX_CONCURRENCY == 8
    assert front.timeout == DEFAULT_TIMEOUT
    assert front.max_retries == DEFAULT_MAX_RETRIES
    assert front.max_pool_size == DEFAULT_MAX_POOL_SIZE
    assert front.router.max_pool_size == DEFAULT_MAX_POOL_SIZE
    assert front.default is None and front.abstain_below is None and front.scorer is None
    policy = front._options().policy
    assert (policy.timeout, policy.max_retries, policy.max_concurrency) == (
        DEFAULT_TIMEOUT,
        DEFAULT_MAX_RETRIES,
        DEFAULT_MAX_CONCURRENCY,
    )


@pytest.mark.parametrize("make", FRONT_DOORS, ids=IDS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_neighbors": "many"}, r'`n_neighbors` must be None, a positive int or "auto"'),
        ({"n_neighbors": 0}, r"`n_neighbors` must be None .* got 0"),
        ({"n_neighbors": 2.5}, r"`n_neighbors` must be None .* got 2.5"),
        ({"max_concurrency": 0}, r"`max_concurrency` must be a positive int; got 0"),
        ({"timeout": 0}, r"`timeout` must be None or a positive number of seconds; got 0"),
        ({"max_retries": -1}, r"`max_retries` must be an int >= 0; got -1"),
        ({"max_pool_size": 0}, r"`max_pool_size` must be None or a positive int; got 0"),
        ({"abstain_below": 2.0}, r"`abstain_below` must be None or a number in \[0, 1\]"),
        ({"default": "omega"}, r"`default` must be one of the candidates"),
    ],
)
def test_bad_options_are_clear_errors(
    make: Callable[..., Any], options: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        make(**options)


@pytest.mark.parametrize("make", [selector, llm], ids=["selector", "llm"])
def test_cost_options_are_checked(make: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match=r"`cost_tradeoff`=0.5 needs `prices`"):
        make(cost_tradeoff=0.5)
    with pytest.raises(ValueError, match=r"`cost_tradeoff` must be a number >= 0; got -1"):
        make(cost_tradeoff=-1, prices=dict.fromkeys(NAMES, 1.0))
    with pytest.raises(ValueError, match=r"one price per candidate .* missing \['delta'\]"):
        make(prices={"alpha": 1.0, "beta": 1.0, "gamma": 1.0})
    with pytest.raises(ValueError, match=r"`prices` must be non-negative"):
        make(prices={**dict.fromkeys(NAMES, 1.0), "beta": -2.0})
    assert make(prices=dict.fromkeys(NAMES, 1), cost_tradeoff=1).prices == dict.fromkeys(NAMES, 1.0)


def test_a_ready_router_carries_its_own_router_options() -> None:
    router = Router(NAMES, embedder=HashingEmbedder(), n_neighbors=3, default="beta")
    tools, _ = engine_tools()
    qe = SmoothieQueryEngine(tools, router=router, timeout=5.0)
    assert (qe.n_neighbors, qe.default, qe.timeout) == (3, "beta", 5.0)
    sel = SmoothieSelector(router, prices=dict.fromkeys(NAMES, 1.0))
    assert sel.n_neighbors == 3 and sel.default == "beta"
    chat = SmoothieLLM({n: ScriptedLLM(name=n) for n in NAMES}, router=router, max_retries=2)
    assert chat.n_neighbors == 3 and chat.max_retries == 2
    message = r"`router=` carries its own .*got also \{'n_neighbors': 5\}"
    with pytest.raises(ValueError, match=message):
        SmoothieQueryEngine(tools, router=router, n_neighbors=5)
    with pytest.raises(ValueError, match=message):
        SmoothieSelector(router, n_neighbors=5)
    with pytest.raises(ValueError, match=message):
        SmoothieLLM({n: ScriptedLLM(name=n) for n in NAMES}, router=router, n_neighbors=5)
    with pytest.raises(ValueError, match="carries its own embedder"):
        SmoothieSelector(router, embedder=HashingEmbedder())
    with pytest.raises(TypeError, match=r"`router` must be a smoothie_core\.Router"):
        SmoothieSelector("router.npz")  # type: ignore[arg-type]


@pytest.mark.parametrize("scorer", [None, "coverage", "answer"])
def test_scorer_is_passed_through_to_the_router(scorer: str | None) -> None:
    expected = get_scorer(scorer if scorer is not None else DEFAULT_SCORER).id
    q = HELD_OUT[0]
    qe = query_engine(scorer=scorer)
    assert qe.scorer == scorer and qe.router.scorer.id == expected
    assert qe.query(q).metadata["smoothie"]["diagnostics"]["scorer"] == expected
    chat = llm(scorer=scorer)
    assert chat.router.scorer.id == expected
    assert chat.complete(q).additional_kwargs["smoothie"]["diagnostics"]["scorer"] == expected
    answers = [{n: scripted_answer(n, p) for n in NAMES} for p in CALIBRATION]
    sel = selector(scorer=scorer, n_neighbors=5).fit(CALIBRATION, answers=answers)
    assert sel.router.scorer.id == expected
    assert sel.select(NAMES, q).decision["diagnostics"]["scorer"] == expected


def test_scorer_objects_and_bad_names() -> None:
    scorer = get_scorer("coverage")
    chat = llm(scorer=scorer)
    assert chat.router.scorer is scorer
    assert '"scorer": "coverage"' in chat.to_json()  # a Scorer serialises as its id
    for make in FRONT_DOORS:
        with pytest.raises(ValueError, match="unknown scorer 'telepathy'"):
            make(scorer="telepathy")
    router = Router(NAMES, embedder=HashingEmbedder(), scorer="coverage")
    qe = SmoothieQueryEngine(engine_tools()[0], router=router)
    assert qe.scorer is router.scorer  # a ready router carries its scorer
    with pytest.raises(ValueError, match=r"carries its own .*'scorer': 'answer'"):
        SmoothieQueryEngine(engine_tools()[0], router=router, scorer="answer")
