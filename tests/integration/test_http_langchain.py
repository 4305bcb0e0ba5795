"""SmoothieRouter over real HTTP: ChatOpenAI clients of local llama.cpp servers.

The candidates are ``ChatOpenAI(base_url=..., model=...)`` clients of three llama.cpp
server processes serving the same small model (SmolLM2-135M) under three aliases,
sampling differently (see ``tests/support/http.py``). Nothing is faked between the
router and the model: requests, server-sent events, usage and failures are the real
ones of ``openai``/``httpx`` talking to ``llama_cpp.server``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest
from langchain_core.callbacks import get_usage_metadata_callback

from langchain_smoothie import AllCandidatesFailedError, SmoothieRouter
from tests.support.http import (
    ALIASES,
    CALIBRATION,
    QUESTIONS,
    RequestLog,
    chat_candidates,
    chat_openai,
    closed_port,
    hanging_server,
    port_of,
    smollm_path,
)

pytestmark = [
    pytest.mark.http_server,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::smoothie_core.diagnostics.ReliabilityWarning"),
]


def _router(models, **kwargs) -> SmoothieRouter:
    from smoothie_core import HashingEmbedder

    kwargs.setdefault("embedder", HashingEmbedder(dim=256))
    return SmoothieRouter(models=models, **kwargs)


def _meta(message) -> dict:
    return message.response_metadata["smoothie"]


@pytest.fixture(scope="module")
def fitted(smollm_servers) -> SmoothieRouter:
    """A route-mode router calibrated over HTTP on the calibration prompts."""
    router = _router(chat_candidates(smollm_servers), mode="route", n_neighbors=2)
    return router.fit(list(CALIBRATION), show_progress=False)


# ------------------------------------------------------------------ select / route
def test_select_mode_calls_every_server_once_and_picks_an_answer(smollm_servers) -> None:
    log = RequestLog()
    router = _router(chat_candidates(smollm_servers, log))
    message = router.invoke(QUESTIONS[0])
    meta = _meta(message)
    assert meta["mode"] == "select" and meta["failed"] == []
    assert set(meta["weights"]) == set(ALIASES)
    assert sum(meta["weights"].values()) == pytest.approx(1.0)
    assert message.text.strip()
    # the chosen candidate's own message, as the server named its model
    assert message.response_metadata["model_name"] == meta["selected"]
    assert {port_of(s.base_url): 1 for s in smollm_servers.values()} == dict(log.requests)


def test_route_mode_calibrates_over_http_then_makes_one_request(smollm_servers, fitted) -> None:
    assert fitted.calibration_report_.n_used == len(CALIBRATION)
    log = RequestLog()
    router = fitted.model_copy(update={"models": chat_candidates(smollm_servers, log)})
    message = router.invoke(QUESTIONS[1])
    meta = _meta(message)
    assert meta["mode"] == "route" and meta["failed"] == []
    assert message.text.strip()
    chosen = port_of(smollm_servers[meta["selected"]].base_url)
    assert dict(log.requests) == {chosen: 1}


def test_route_mode_streams_tokens_over_server_sent_events(smollm_servers, fitted) -> None:
    log = RequestLog()
    router = fitted.model_copy(update={"models": chat_candidates(smollm_servers, log)})
    chunks = list(router.stream(QUESTIONS[2]))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) >= 3, f"expected token-by-token chunks, got {texts}"
    meta = chunks[0].response_metadata["smoothie"]
    assert meta["mode"] == "route"
    chosen = port_of(smollm_servers[meta["selected"]].base_url)
    # one request, sent with stream=true and answered as text/event-stream
    assert dict(log.requests) == {chosen: 1}
    assert dict(log.streamed) == {chosen: 1} and dict(log.event_streams) == {chosen: 1}


async def test_route_mode_astream_yields_tokens(smollm_servers, fitted) -> None:
    router = fitted.model_copy(update={"models": chat_candidates(smollm_servers)})
    texts = [c.text async for c in router.astream(QUESTIONS[3]) if c.text]
    assert len(texts) >= 3


# -------------------------------------------------------------------------- usage
def test_select_mode_counts_each_servers_usage_once(smollm_servers) -> None:
    router = _router(chat_candidates(smollm_servers))
    with get_usage_metadata_callback() as cb:
        message = router.invoke(QUESTIONS[0])
    reported = _meta(message)["usage"]  # as each server reported it
    assert set(reported) == set(ALIASES)
    assert all(u["input_tokens"] > 0 and 0 < u["output_tokens"] <= 16 for u in reported.values())
    # one entry per candidate (keyed by the model name the server returned), each
    # counted once: the router's own message carries no usage of its own
    assert message.usage_metadata is None
    assert {
        name: (u["input_tokens"], u["output_tokens"]) for name, u in cb.usage_metadata.items()
    } == {name: (u["input_tokens"], u["output_tokens"]) for name, u in reported.items()}


def test_route_mode_counts_the_winners_usage_once(smollm_servers, fitted) -> None:
    router = fitted.model_copy(update={"models": chat_candidates(smollm_servers)})
    with get_usage_metadata_callback() as cb:
        message = router.invoke(QUESTIONS[1])
    usage = message.usage_metadata
    assert usage is not None and usage["output_tokens"] > 0
    assert list(cb.usage_metadata) == [_meta(message)["selected"]]
    counted = cb.usage_metadata[_meta(message)["selected"]]
    assert (counted["input_tokens"], counted["output_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )


# -------------------------------------------------------------------- concurrency
@pytest.mark.parametrize("mode", ["route", "select"])
async def test_fifty_concurrent_ainvokes_all_answer(smollm_servers, fitted, mode) -> None:
    log = RequestLog()
    models = chat_candidates(smollm_servers, log, max_tokens=8)
    if mode == "route":
        router = fitted.model_copy(update={"models": models})
    else:
        router = _router(models, update_pool=False)
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(50)]
    messages = await asyncio.gather(*(router.ainvoke(q) for q in questions))
    assert len(messages) == 50
    assert all(m.text.strip() for m in messages)
    assert all(_meta(m)["failed"] == [] for m in messages)
    assert log.total() == (50 if mode == "route" else 150)


# ------------------------------------------------------------------------ failures
def _with_broken(smollm_servers, down_port: int, hang_url: str) -> dict:
    models = chat_candidates(smollm_servers, max_tokens=8)
    # The router's timeout must bound the hang, not the client's own (a long one here).
    models["down"] = chat_openai(f"http://127.0.0.1:{down_port}/v1", "down", timeout=120)
    models["hang"] = chat_openai(hang_url, "hang", timeout=120)
    return models


@pytest.mark.parametrize("use_async", [False, True])
def test_a_down_server_and_a_hanging_one_fail_while_the_others_answer(
    smollm_servers, use_async
) -> None:
    with hanging_server() as hang:
        router = _router(_with_broken(smollm_servers, closed_port(), hang.base_url), timeout=10)
        start = time.perf_counter()
        if use_async:
            message = asyncio.run(router.ainvoke(QUESTIONS[0]))
        else:
            message = router.invoke(QUESTIONS[0])
        elapsed = time.perf_counter() - start
        assert hang.accepted >= 1  # the request really reached the hanging server
    meta = _meta(message)
    assert meta["failed"] == ["down", "hang"]
    assert "ConnectionError: Connection error" in meta["errors"]["down"]
    assert meta["errors"]["hang"] == "TimeoutError: no answer within 10 s"
    assert meta["selected"] in ALIASES and message.text.strip()
    assert set(meta["usage"]) == set(ALIASES)
    assert elapsed < 10 + 30  # the hang cost the router's timeout, not the client's 120 s


def test_route_mode_falls_back_when_the_chosen_server_is_down(
    smollm_servers, fitted, tmp_path
) -> None:
    path = fitted.save(tmp_path / "calibration")
    first = fitted.route(QUESTIONS[0]).selected
    models = chat_candidates(smollm_servers)
    models[first] = chat_openai(f"http://127.0.0.1:{closed_port()}/v1", first)
    router = SmoothieRouter.load(path, models=models, embedder=fitted.embedder)
    message = router.invoke(QUESTIONS[0])
    meta = _meta(message)
    assert meta["failed"] == [first] and "ConnectionError" in meta["errors"][first]
    assert meta["selected"] != first and message.text.strip()


async def test_killing_a_server_mid_run_loses_no_other_answer(smollm_servers, tmp_path) -> None:
    """A fourth server is killed (SIGKILL) as soon as it has answered once, while the
    other requests of the run are in flight: every request still returns, with every
    answer of the three healthy servers; the victim's later calls are recorded as failed."""
    from smoothie_demo.server import LocalServer

    victim = LocalServer(smollm_path(), alias="victim", log_dir=tmp_path).start()
    try:
        answered = asyncio.Event()
        killed = threading.Event()

        async def on_response(response) -> None:
            answered.set()

        async def kill_after_first_answer() -> None:
            await answered.wait()
            await asyncio.sleep(0.2)  # let that first answer be read in full
            os.kill(victim.pid, signal.SIGKILL)
            killed.set()

        import httpx

        models = chat_candidates(smollm_servers)
        models["victim"] = chat_openai(
            victim.base_url,
            "victim",
            temperature=0.5,
            seed=3,
            http_async_client=httpx.AsyncClient(event_hooks={"response": [on_response]}),
        )
        router = _router(models, update_pool=False)
        questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(6)]
        killer = asyncio.create_task(kill_after_first_answer())
        messages = await asyncio.gather(*(router.ainvoke(q) for q in questions))
        await asyncio.wait_for(killer, 5)
        assert killed.is_set()
        metas = [_meta(m) for m in messages]
        assert all(m.text.strip() for m in messages)
        for meta in metas:  # every healthy server's answer is there, for every input
            assert set(meta["usage"]) >= set(ALIASES)
            assert set(meta["failed"]) <= {"victim"}
        failed = [m for m in metas if m["failed"]]
        assert 1 <= len(failed) <= 5, "the victim should answer before the kill and fail after"
        assert all("ConnectionError" in m["errors"]["victim"] for m in failed)
    finally:
        assert victim.stop() is not None  # stopping a killed server is fine
    assert not victim.running


# -------------------------------------------------------- models= as strings (item 2)
def test_provider_model_strings_with_options_reach_the_servers(smollm_servers) -> None:
    specs = [
        (
            f"openai:{alias}",
            {
                "base_url": server.base_url,
                "api_key": "not-needed",
                "max_retries": 0,
                "max_tokens": 16,
                "extra_body": {"max_tokens": 16},
                "temperature": 0.0,
            },
        )
        for alias, server in smollm_servers.items()
    ]
    router = _router(specs)
    assert router.candidate_names == [f"openai:{a}" for a in ALIASES]
    assert type(router.models["openai:smollm2-a"]).__name__ == "ChatOpenAI"
    meta = _meta(router.invoke(QUESTIONS[0]))
    assert meta["failed"] == [] and meta["selected"].startswith("openai:")
    # a dict names them; one bare string takes its endpoint from the environment
    named = _router({"x": specs[0], "y": specs[1], "z": specs[2]})
    assert named.candidate_names == ["x", "y", "z"]
    assert _meta(named.invoke(QUESTIONS[1]))["failed"] == []


def test_a_bare_provider_string_uses_the_openai_environment(smollm_servers, monkeypatch) -> None:
    server = smollm_servers["smollm2-a"]
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "not-needed")
    # `stop` bounds the answers: a bare string cannot carry extra_body={"max_tokens": ...}
    # (ChatOpenAI's own max_tokens is sent as max_completion_tokens, which
    # llama-cpp-python's server ignores).
    router = _router(["openai:smollm2-a", "openai:smollm2-b", "openai:smollm2-c"], stop=["."])
    message = router.invoke(QUESTIONS[2])
    assert _meta(message)["failed"] == [] and message.text.strip()
    # the environment is what points them at a server: nothing listening, nothing answers
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{closed_port()}/v1")
    router = _router(["openai:smollm2-a", "openai:smollm2-b", "openai:smollm2-c"], stop=["."])
    with pytest.raises(AllCandidatesFailedError, match="Connection error"):
        router.invoke(QUESTIONS[2])


def test_served_greedy_answers_match_the_in_process_models(smollm_servers) -> None:
    """``smoothie demo --serve`` asks the same questions of the same models as the
    in-process demo and gets the same answers (greedy decoding, same sampling settings:
    the server's own repeat_penalty default of 1.1 is overridden by the clients)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from smoothie_demo import QUESTIONS as DEMO
    from smoothie_demo import SYSTEM_PROMPT, ChatGGUF
    from smoothie_demo.server import openai_chat_models

    served = openai_chat_models([smollm_servers["smollm2-a"]], max_tokens=24)["smollm2-a"]
    local = ChatGGUF(model_path=smollm_path(), model="smollm2-135m", max_tokens=24)
    for question in (DEMO[1], DEMO[9]):  # "17 * 3 + 9", "144 divided by 12"
        messages = [SystemMessage(SYSTEM_PROMPT), HumanMessage(question.text)]
        assert served.invoke(messages).text == local.invoke(messages).text, question.text
