"""SmoothieLLM: chat/complete, sync/async/streaming, select and route modes, Settings.llm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, SummaryIndex
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import LLM

from llamaindex_smoothie import SmoothieLLM, SmoothieQueryEngine
from smoothie_core import HashingEmbedder, NotFittedError
from smoothie_core.defaults import DEFAULT_MAX_CONCURRENCY
from smoothie_core.exceptions import AllCandidatesFailedError
from tests.support.llamaindex import (
    BAD_TOPIC,
    CALIBRATION,
    HELD_OUT,
    STYLES,
    FixedLLM,
    Gauge,
    ScriptedLLM,
    engine_tools,
    scripted_answer,
    scripted_chat_llm,
    topic_of,
)

NAMES = list(STYLES)
pytestmark = pytest.mark.filterwarnings("ignore:Smoothie's .*low reliability")


def completion_llms(failing: tuple[str, ...] = ()) -> dict[str, ScriptedLLM]:
    return {n: ScriptedLLM(name=n, fail=n in failing) for n in NAMES}


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


@pytest.fixture(scope="module")
def routed() -> SmoothieLLM:
    llm = SmoothieLLM(completion_llms(), mode="route", embedder=HashingEmbedder())
    report, errors = llm.calibrate(CALIBRATION, n_neighbors=5, show_progress=False)
    assert report.n_used == len(CALIBRATION)
    assert errors == [{} for _ in CALIBRATION]
    return llm


def reset(llm: SmoothieLLM) -> None:
    for candidate in llm.llms.values():
        candidate.calls.clear()  # type: ignore[attr-defined]


def called(llm: SmoothieLLM) -> list[str]:
    return [n for n, c in llm.llms.items() if c.calls]  # type: ignore[attr-defined]


# ----------------------------------------------------------------- select mode
def test_select_complete_returns_the_consensus_and_calls_all() -> None:
    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder(), update_pool=False)
    for q in HELD_OUT:
        reset(llm)
        response = llm.complete(q)
        decision = response.additional_kwargs["smoothie"]
        assert BAD_TOPIC[decision["selected"]] != topic_of(q)
        assert response.text == scripted_answer(decision["selected"], q)
        assert decision["mode"] == "select"
        assert list(decision["weights"]) == NAMES
        assert called(llm) == NAMES


def test_select_chat_with_scripted_function_calling_llms() -> None:
    calls: dict[str, list[str]] = {n: [] for n in NAMES}
    llm = SmoothieLLM(
        {n: scripted_chat_llm(n, calls[n]) for n in NAMES},
        embedder=HashingEmbedder(),
        update_pool=False,
    )
    for q in HELD_OUT:
        response = llm.chat([ChatMessage(role="system", content="Be brief."), *user(q)])
        decision = response.additional_kwargs["smoothie"]
        assert BAD_TOPIC[decision["selected"]] != topic_of(q)
        assert response.message.content == scripted_answer(decision["selected"], q)
        assert response.message.role == MessageRole.ASSISTANT
    assert all(len(c) == len(HELD_OUT) for c in calls.values())


def test_select_failing_candidate_loses_nothing() -> None:
    llm = SmoothieLLM(completion_llms(failing=("gamma",)), embedder=HashingEmbedder())
    q = next(q for q in HELD_OUT if topic_of(q) == "history")  # delta is bad here
    decision = llm.complete(q).additional_kwargs["smoothie"]
    assert decision["failed"] == ["gamma"]
    assert decision["errors"] == {"gamma": "ConnectionError: gamma is down"}
    assert decision["selected"] in {"alpha", "beta"}
    llm = SmoothieLLM(completion_llms(failing=tuple(NAMES)), embedder=HashingEmbedder())
    with pytest.raises(AllCandidatesFailedError, match="No candidate answered") as info:
        llm.complete(q)
    assert isinstance(info.value, RuntimeError)
    assert info.value.errors == {n: f"ConnectionError: {n} is down" for n in NAMES}


def test_select_streaming_yields_the_selected_answer_once() -> None:
    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder())
    q = HELD_OUT[2]
    chunks = list(llm.stream_complete(q))
    assert len(chunks) == 1
    selected = chunks[0].additional_kwargs["smoothie"]["selected"]
    assert chunks[0].delta == chunks[0].text == scripted_answer(selected, q)
    chat_chunks = list(llm.stream_chat(user(q)))
    assert len(chat_chunks) == 1
    assert chat_chunks[0].delta == chat_chunks[0].message.content


async def test_select_async_paths_match_sync() -> None:
    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder())
    for q in HELD_OUT[:4]:
        sync = llm.complete(q).additional_kwargs["smoothie"]
        asy = (await llm.acomplete(q)).additional_kwargs["smoothie"]
        assert asy["selected"] == sync["selected"]
        chat = await llm.achat(user(q))
        assert chat.additional_kwargs["smoothie"]["selected"] in NAMES
        chunks = [c async for c in await llm.astream_complete(q)]
        assert [c.additional_kwargs["smoothie"]["selected"] for c in chunks] == [sync["selected"]]
        chat_chunks = [c async for c in await llm.astream_chat(user(q))]
        assert len(chat_chunks) == 1


# ------------------------------------------------------------------ route mode
def test_route_calls_exactly_one_candidate_and_avoids_the_bad_one(routed: SmoothieLLM) -> None:
    for q in HELD_OUT:
        reset(routed)
        response = routed.complete(q)
        decision = response.additional_kwargs["smoothie"]
        assert decision["mode"] == "route"
        assert decision["n_neighbors"] == 5
        assert called(routed) == [decision["selected"]]
        assert BAD_TOPIC[decision["selected"]] != topic_of(q)
        assert response.text == scripted_answer(decision["selected"], q)


def test_route_streams_natively(routed: SmoothieLLM) -> None:
    q = HELD_OUT[5]
    reset(routed)
    chunks = list(routed.stream_complete(q))
    selected = chunks[0].additional_kwargs["smoothie"]["selected"]
    answer = scripted_answer(selected, q)
    assert len(chunks) == len(answer.split(" ")) > 1
    assert "".join(c.delta or "" for c in chunks) == answer
    assert chunks[-1].text == answer
    assert called(routed) == [selected]
    chat_chunks = list(routed.stream_chat(user(q)))
    assert len(chat_chunks) > 1
    assert chat_chunks[-1].message.content.endswith(answer)


async def test_route_async_paths(routed: SmoothieLLM) -> None:
    for q in HELD_OUT[:3]:
        reset(routed)
        sync = routed.complete(q).additional_kwargs["smoothie"]["selected"]
        asy = (await routed.acomplete(q)).additional_kwargs["smoothie"]["selected"]
        assert asy == sync
        chat = await routed.achat(user(q))
        assert chat.additional_kwargs["smoothie"]["selected"] == sync
        chunks = [c async for c in await routed.astream_complete(q)]
        assert len(chunks) > 1
        assert {c.additional_kwargs["smoothie"]["selected"] for c in chunks} == {sync}
        chat_chunks = [c async for c in await routed.astream_chat(user(q))]
        assert len(chat_chunks) > 1
        assert called(routed) == [sync]


def test_route_falls_back_when_the_chosen_candidate_fails(routed: SmoothieLLM) -> None:
    q = HELD_OUT[0]
    first = routed.complete(q).additional_kwargs["smoothie"]
    broken = SmoothieLLM(
        completion_llms(failing=(first["selected"],)), mode="route", router=routed.router
    )
    response = broken.complete(q)
    decision = response.additional_kwargs["smoothie"]
    order = sorted(NAMES, key=lambda n: -first["weights"][n])
    assert decision["selected"] == order[1]
    assert decision["failed"] == [first["selected"]]
    assert "failed; used the next-highest weight" in decision["fallback"]
    assert response.text == scripted_answer(order[1], q)
    chunks = list(broken.stream_complete(q))
    assert chunks[0].additional_kwargs["smoothie"]["selected"] == order[1]


def test_route_before_calibration_is_a_clear_error() -> None:
    llm = SmoothieLLM(completion_llms(), mode="route", embedder=HashingEmbedder())
    with pytest.raises(NotFittedError, match=r"call fit\(prompts\) first"):
        llm.complete("hello")


async def test_async_calibration_matches_sync(routed: SmoothieLLM) -> None:
    llm = SmoothieLLM(completion_llms(), mode="route", embedder=HashingEmbedder())
    await llm.acalibrate(CALIBRATION, n_neighbors=5, show_progress=False)
    for q in HELD_OUT:
        a = llm.complete(q).additional_kwargs["smoothie"]["weights"]
        b = routed.complete(q).additional_kwargs["smoothie"]["weights"]
        assert a == pytest.approx(b)


def test_save_and_load(routed: SmoothieLLM, tmp_path: Any) -> None:
    path = routed.save(tmp_path / "llm.npz")
    loaded = SmoothieLLM.load(path, completion_llms(), embedder=HashingEmbedder())
    assert loaded.mode == "route"
    for q in HELD_OUT:
        assert (
            loaded.complete(q).additional_kwargs["smoothie"]
            == routed.complete(q).additional_kwargs["smoothie"]
        )
    renamed = {f"x{i}": llm for i, llm in enumerate(completion_llms().values())}
    with pytest.raises(ValueError, match="calibrated for candidates"):
        SmoothieLLM.load(path, renamed, embedder=HashingEmbedder())


# ------------------------------------------------------------- LLM contract
def test_metadata_is_the_conservative_intersection() -> None:
    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder())
    meta = llm.metadata
    assert meta.context_window == 4096  # alpha's, the smallest
    assert meta.num_output == 256
    assert meta.is_chat_model is False
    assert meta.is_function_calling_model is False
    assert meta.model_name == "smoothie[alpha,beta,gamma,delta]"
    chat = SmoothieLLM(
        {n: scripted_chat_llm(n) for n in NAMES[:3]} | {"delta": ScriptedLLM(name="delta")},
        embedder=HashingEmbedder(),
    )
    assert chat.metadata.context_window == 3900  # MockFunctionCallingLLM's default
    assert (
        SmoothieLLM(
            {n: scripted_chat_llm(n) for n in NAMES}, embedder=HashingEmbedder()
        ).metadata.is_function_calling_model
        is False
    )


def test_candidates_named_by_model_name_or_clear_error() -> None:
    llm = SmoothieLLM(list(completion_llms().values()), embedder=HashingEmbedder())
    assert list(llm.llms) == [f"scripted-{n}" for n in NAMES]
    with pytest.raises(ValueError, match="pass a dict"):
        SmoothieLLM([scripted_chat_llm(n) for n in NAMES], embedder=HashingEmbedder())
    with pytest.raises(ValueError, match="at least 3 candidates"):
        SmoothieLLM(dict(list(completion_llms().items())[:2]), embedder=HashingEmbedder())
    with pytest.raises(TypeError, match="must be a llama_index LLM"):
        SmoothieLLM({"a": "gpt", "b": "x", "c": "y"}, embedder=HashingEmbedder())


@pytest.fixture
def settings_llm() -> Iterator[None]:
    previous = Settings._llm
    yield
    Settings._llm = previous


def test_usable_as_settings_llm_in_a_query_engine(settings_llm: None) -> None:
    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder())
    Settings.llm = llm
    assert isinstance(Settings.llm, LLM)
    assert Settings.llm is llm
    q = next(q for q in HELD_OUT if topic_of(q) == "math")  # beta is bad here
    index = SummaryIndex.from_documents([Document(text="Arithmetic facts are listed here.")])
    response = index.as_query_engine().query(q)  # the synthesizer calls Settings.llm
    text = str(response)
    assert text in {scripted_answer(n, q) for n in NAMES if n != "beta"}


def test_decision_event_per_call(routed: SmoothieLLM) -> None:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from llamaindex_smoothie import SmoothieDecisionEvent

    seen: list[SmoothieDecisionEvent] = []

    class Collect(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            if isinstance(event, SmoothieDecisionEvent):
                seen.append(event)

    handler = Collect()
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        routed.complete(HELD_OUT[0])
        list(routed.stream_complete(HELD_OUT[1]))
    finally:
        root.event_handlers.remove(handler)
    assert [(e.component, e.mode, e.query) for e in seen] == [
        ("SmoothieLLM", "route", HELD_OUT[0]),
        ("SmoothieLLM", "route", HELD_OUT[1]),
    ]


# ----------------------------------------------------- fit, the shared verb
def test_fit_returns_self_and_calibrate_is_the_older_spelling(routed: SmoothieLLM) -> None:
    llm = SmoothieLLM(completion_llms(), mode="route", n_neighbors=5, embedder=HashingEmbedder())
    with pytest.raises(NotFittedError, match=r"call fit\(prompts\) first"):
        llm.calibration_report_  # noqa: B018
    assert llm.fit(CALIBRATION, show_progress=False) is llm
    assert llm.calibration_report_.n_used == len(CALIBRATION)
    assert llm.calibration_errors_ == [{} for _ in CALIBRATION]
    assert llm.n_neighbors == 5 and llm.router.n_neighbors == 5
    for q in HELD_OUT:
        new, old_way = (m.complete(q).additional_kwargs["smoothie"] for m in (llm, routed))
        assert new["selected"] == old_way["selected"]
        assert new["weights"] == pytest.approx(old_way["weights"])
    # the older spelling still returns (report, errors) and sets n_neighbors when given
    old = SmoothieLLM(completion_llms(), mode="route", embedder=HashingEmbedder())
    report, errors = old.calibrate(CALIBRATION[:8], n_neighbors="auto", show_progress=False)
    assert report == old.calibration_report_ and errors == old.calibration_errors_
    assert old.n_neighbors == old.router.n_neighbors == "auto"

    def used(llm: SmoothieLLM) -> int:
        return int(llm.complete(HELD_OUT[0]).additional_kwargs["smoothie"]["n_neighbors"])

    assert used(old) == 8  # "auto": min(10, 8 complete prompts)
    answers = [{n: scripted_answer(n, q) for n in NAMES} for q in CALIBRATION[:3]]
    assert old.calibrate_from_answers(CALIBRATION[:3], answers) == old.calibration_report_
    assert used(old) == 3  # "auto" again: min(10, 3 complete prompts)


async def test_afit_with_chat_message_prompts() -> None:
    calls: dict[str, list[str]] = {n: [] for n in NAMES}
    llm = SmoothieLLM(
        {n: scripted_chat_llm(n, calls[n]) for n in NAMES},
        mode="route",
        n_neighbors=5,
        embedder=HashingEmbedder(),
    )
    prompts = [[ChatMessage(role="system", content="Be brief."), *user(q)] for q in CALIBRATION]
    assert await llm.afit(prompts, show_progress=False) is llm
    assert calls["alpha"][0] == "Be brief.\n" + CALIBRATION[0]
    assert llm.calibration_report_.n_used == len(CALIBRATION)
    for q in HELD_OUT:
        decision = llm.chat(user(q)).additional_kwargs["smoothie"]
        assert BAD_TOPIC[decision["selected"]] != topic_of(q)
    with pytest.raises(TypeError, match="a str or a non-empty list of ChatMessage"):
        await llm.afit([[]])


def test_fit_gives_select_mode_a_pool() -> None:
    llm = SmoothieLLM(completion_llms(), n_neighbors=5, embedder=HashingEmbedder())
    llm.fit(CALIBRATION, show_progress=False)
    decision = llm.complete(HELD_OUT[0]).additional_kwargs["smoothie"]
    assert decision["mode"] == "select" and decision["n_neighbors"] == 5


# ----------------------------------- route mode: the fallback chain and its policy
def slow_first(routed: SmoothieLLM, q: str, **options: Any) -> tuple[SmoothieLLM, list[str]]:
    """A route-mode LLM whose top choice for ``q`` takes 1 s (and its order)."""
    weights = routed.complete(q).additional_kwargs["smoothie"]["weights"]
    order = sorted(NAMES, key=lambda n: -weights[n])
    llms: dict[str, LLM] = {n: ScriptedLLM(name=n) for n in NAMES}
    llms[order[0]] = FixedLLM(text=scripted_answer(order[0], q), delay=1.0)
    return SmoothieLLM(llms, mode="route", router=routed.router, **options), order


async def test_route_timeout_falls_back_to_the_next_best(routed: SmoothieLLM) -> None:
    q = HELD_OUT[1]
    llm, order = slow_first(routed, q, timeout=0.2)
    for response in (llm.complete(q), await llm.acomplete(q)):
        decision = response.additional_kwargs["smoothie"]
        assert decision["selected"] == order[1]
        assert decision["errors"] == {order[0]: "TimeoutError: no answer within 0.2 s"}
        assert response.text == scripted_answer(order[1], q)


def test_route_retries_before_falling_back(routed: SmoothieLLM) -> None:
    q = HELD_OUT[2]
    first = routed.complete(q).additional_kwargs["smoothie"]["selected"]

    class Flaky(ScriptedLLM):
        attempts: int = 0

        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            self.attempts += 1
            if self.attempts == 1:
                raise ConnectionError("flaky")
            return super().complete(prompt, formatted=formatted, **kwargs)

    llms: dict[str, LLM] = {n: ScriptedLLM(name=n) for n in NAMES}
    llms[first] = Flaky(name=first)
    llm = SmoothieLLM(llms, mode="route", router=routed.router, max_retries=1)
    decision = llm.complete(q).additional_kwargs["smoothie"]
    assert decision["selected"] == first and decision["failed"] == []
    assert llms[first].attempts == 2  # type: ignore[attr-defined]


def test_route_without_fallback_raises_all_candidates_failed(routed: SmoothieLLM) -> None:
    q = HELD_OUT[0]
    first = routed.complete(q).additional_kwargs["smoothie"]["selected"]
    failing = completion_llms(failing=(first,))
    llm = SmoothieLLM(failing, mode="route", router=routed.router, fallback_on_error=False)
    with pytest.raises(AllCandidatesFailedError) as info:
        llm.complete(q)
    assert info.value.errors == {first: f"ConnectionError: {first} is down"}
    assert called(llm) == [first]  # nobody else was tried
    everyone = SmoothieLLM(
        completion_llms(failing=tuple(NAMES)), mode="route", router=routed.router
    )
    with pytest.raises(AllCandidatesFailedError) as info:
        list(everyone.stream_complete(q))
    assert set(info.value.errors) == set(NAMES)


async def test_route_stream_falls_back_before_the_first_chunk(routed: SmoothieLLM) -> None:
    q = HELD_OUT[3]
    weights = routed.complete(q).additional_kwargs["smoothie"]["weights"]
    order = sorted(NAMES, key=lambda n: -weights[n])
    llms: dict[str, LLM] = {n: ScriptedLLM(name=n) for n in NAMES}
    llms[order[0]] = FixedLLM(text="never streamed", stream_fails_first=True)
    llm = SmoothieLLM(llms, mode="route", router=routed.router)
    answer = scripted_answer(order[1], q)
    sync_chunks = list(llm.stream_complete(q))
    async_chunks = [c async for c in await llm.astream_complete(q)]
    for chunks in (sync_chunks, async_chunks):
        decision = chunks[0].additional_kwargs["smoothie"]
        assert decision["selected"] == order[1]
        assert decision["errors"] == {
            order[0]: "ConnectionError: stream broke before its first chunk"
        }
        assert "".join(c.delta or "" for c in chunks) == answer
        assert len(chunks) == len(answer.split(" "))


async def test_route_stream_timeout_is_on_the_first_chunk(routed: SmoothieLLM) -> None:
    q = HELD_OUT[4]
    llm, order = slow_first(routed, q, timeout=0.2)
    chunks = list(llm.stream_complete(q))
    assert chunks[0].additional_kwargs["smoothie"]["selected"] == order[1]
    assert chunks[-1].text == scripted_answer(order[1], q)


def test_route_prices_pick_a_cheaper_candidate(routed: SmoothieLLM) -> None:
    q = HELD_OUT[5]
    plain = routed.complete(q).additional_kwargs["smoothie"]
    prices = {n: (100.0 if n == plain["selected"] else 1.0) for n in NAMES}
    llm = SmoothieLLM(
        completion_llms(), mode="route", router=routed.router, prices=prices, cost_tradeoff=1.0
    )
    response = llm.complete(q)
    decision = response.additional_kwargs["smoothie"]
    scores = decision["scores"]
    assert decision["weights"] == pytest.approx(plain["weights"])
    assert scores == pytest.approx({n: plain["weights"][n] - prices[n] / 100 for n in NAMES})
    assert decision["selected"] == max(scores, key=scores.__getitem__) != plain["selected"]
    assert called(llm) == [decision["selected"]]
    assert response.text == scripted_answer(decision["selected"], q)
    # the fallback chain follows the scores
    failing = completion_llms(failing=(decision["selected"],))
    broken = SmoothieLLM(
        failing, mode="route", router=routed.router, prices=prices, cost_tradeoff=1.0
    )
    rest = sorted((n for n in NAMES if n != decision["selected"]), key=lambda n: -scores[n])
    rerouted = broken.complete(q).additional_kwargs["smoothie"]
    assert rerouted["selected"] == rest[0]
    assert "next-highest cost-adjusted score" in rerouted["fallback"]
    # select mode has paid for every call: prices change nothing there
    select = SmoothieLLM(
        completion_llms(), embedder=HashingEmbedder(), prices=prices, cost_tradeoff=1.0
    )
    assert "scores" not in select.complete(q).additional_kwargs["smoothie"]


def test_route_abstention_keeps_its_fallback_despite_prices() -> None:
    llm = SmoothieLLM(
        completion_llms(),
        mode="route",
        n_neighbors=5,
        default="alpha",
        abstain_below=1.0,
        prices={"alpha": 100.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0},
        cost_tradeoff=5.0,
        embedder=HashingEmbedder(),
    ).fit(CALIBRATION, show_progress=False)
    for q in HELD_OUT[:3]:
        decision = llm.complete(q).additional_kwargs["smoothie"]
        assert decision["abstained"] is True and decision["selected"] == "alpha"
        assert "scores" not in decision


def test_load_takes_the_llms_own_options(routed: SmoothieLLM, tmp_path: Any) -> None:
    path = routed.save(tmp_path / "llm.npz")
    loaded = SmoothieLLM.load(
        path, completion_llms(), embedder=HashingEmbedder(), timeout=3.0, max_retries=2
    )
    assert (loaded.timeout, loaded.max_retries, loaded.n_neighbors) == (3.0, 2, 5)
    # a saved router-level option can be overridden at load time
    wider = SmoothieLLM.load(path, completion_llms(), embedder=HashingEmbedder(), n_neighbors=3)
    assert wider.n_neighbors == 3
    assert wider.complete(HELD_OUT[0]).additional_kwargs["smoothie"]["n_neighbors"] == 3


async def test_candidate_spans_nest_under_the_routers_span() -> None:
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler

    handler = SimpleSpanHandler()
    root = get_dispatcher()
    root.add_span_handler(handler)
    try:
        llm = SmoothieLLM({n: scripted_chat_llm(n) for n in NAMES}, embedder=HashingEmbedder())
        llm.chat(user(HELD_OUT[0]))
        await llm.achat(user(HELD_OUT[1]))
    finally:
        root.span_handlers.remove(handler)
    spans = handler.completed_spans
    for method in ("chat", "achat"):
        (outer,) = [s.id_ for s in spans if s.id_.startswith(f"SmoothieLLM.{method}-")]
        children = [s for s in spans if s.parent_id == outer]
        assert len(children) == len(NAMES)
        assert all(s.id_.startswith(f"MockFunctionCallingLLM.{method}-") for s in children)


def test_older_calibrate_bounds_only_its_own_run() -> None:
    gauge = Gauge(target=3, wait=0.05)

    class Gauged(ScriptedLLM):
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            with gauge:
                return super().complete(prompt, formatted=formatted, **kwargs)

    llm = SmoothieLLM({n: Gauged(name=n) for n in NAMES}, mode="route", embedder=HashingEmbedder())
    llm.calibrate(CALIBRATION[:4], n_neighbors=2, max_concurrency=2, show_progress=False)
    assert gauge.peak == 2
    assert llm.max_concurrency == DEFAULT_MAX_CONCURRENCY  # the option itself is unchanged
    assert llm.n_neighbors == 2  # n_neighbors= sets the option, as before


def test_select_traffic_grows_the_pool_by_default_as_in_langchain() -> None:
    from smoothie_core.defaults import DEFAULT_UPDATE_POOL

    llm = SmoothieLLM(completion_llms(), embedder=HashingEmbedder())
    qe = SmoothieQueryEngine(engine_tools()[0], embedder=HashingEmbedder())
    assert llm.update_pool is DEFAULT_UPDATE_POOL is True and qe.update_pool is True
    for prompt in ("What is 2 plus 2?", "Capital of France?"):
        llm.complete(prompt)
        qe.query(prompt)
    assert llm.router.pool_size == 2 and qe.router.pool_size == 2
