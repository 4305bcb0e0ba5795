"""``smoothie_demo.server``: the local llama.cpp server's life cycle, for real.

Start (free port, readiness, log file), stop (also twice, also after a crash), a
failed start (its log in the error, nothing left running), and clean shutdown when the
parent is interrupted, terminated or killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.http import chat_openai, require_http_extras, smollm_path

pytestmark = [pytest.mark.http_server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gguf() -> str:
    require_http_extras()
    return smollm_path()


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _wait_gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_serves_the_model_logs_to_a_file_and_stop_frees_the_port(gguf, tmp_path) -> None:
    from smoothie_demo.server import LocalServer

    server = LocalServer(gguf, alias="tiny", log_dir=tmp_path / "logs")
    with server:
        assert server.running and server.startup_seconds is not None
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        with urllib.request.urlopen(f"{server.base_url}/models", timeout=10) as response:
            listed = json.load(response)
        assert [m["id"] for m in listed["data"]] == ["tiny"]
        assert server.log_path is not None and server.log_path.parent == tmp_path / "logs"
        assert server.log_path.name.startswith("tiny-") and server.log_path.suffix == ".log"
        port, pid = server.port, server.pid
    assert not server.running and not _alive(pid)
    assert _refused(port)
    assert "Application startup complete" in server.log_path.read_text()
    assert server.stop() == server.stop()  # idempotent


def test_a_model_that_cannot_load_fails_with_its_log_and_leaves_nothing_running(
    gguf, tmp_path
) -> None:
    from smoothie_demo.server import LocalServer, LocalServers, ServerError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    good = LocalServer(gguf, alias="good", log_dir=tmp_path)
    bad = LocalServer(broken, alias="bad", log_dir=tmp_path)
    with pytest.raises(
        ServerError, match=r"(?s)'bad' \(broken.gguf\) exited with code .* log .*bad-"
    ):
        LocalServers([good, bad]).start()
    assert not good.running and not bad.running  # the good one was stopped too
    assert good.pid is not None and not _alive(good.pid)


def test_a_server_that_is_not_ready_in_time_is_stopped(gguf, tmp_path) -> None:
    from smoothie_demo.server import LocalServer, ServerError

    server = LocalServer(gguf, alias="slow", log_dir=tmp_path, startup_timeout=0.05)
    with pytest.raises(ServerError, match=r"did not answer on .*/v1/models within 0.05 s"):
        server.start()
    assert not server.running


def test_the_servers_environment_cannot_change_its_settings(gguf, tmp_path, monkeypatch) -> None:
    """llama_cpp.server reads API_KEY, N_CTX, CONFIG_FILE, ... from the environment; the
    launcher drops them, so a variable meant for something else does not lock clients out."""
    from smoothie_demo.server import LocalServer

    monkeypatch.setenv("API_KEY", "secret-for-something-else")
    monkeypatch.setenv("CONFIG_FILE", str(tmp_path / "nothing-here.json"))
    with LocalServer(gguf, alias="tiny", log_dir=tmp_path) as server:
        answer = chat_openai(server.base_url, "tiny", max_tokens=4, extra_body={"max_tokens": 4})
        assert answer.invoke("Say hi.").text.strip()


async def test_concurrent_streams_are_not_cut_short(smollm_servers) -> None:
    """llama_cpp.server's default (interrupt_requests=True) ends a stream early when another
    request waits; the servers run with it off, so every stream reaches its end."""
    server = smollm_servers["smollm2-a"]

    async def stream() -> tuple[str, str | None]:
        model = chat_openai(
            server.base_url, "smollm2-a", max_tokens=24, extra_body={"max_tokens": 24}
        )
        text, finish = "", None
        async for chunk in model.astream("Tell me a long story about a cat."):
            text += chunk.text
            finish = chunk.response_metadata.get("finish_reason") or finish
        return text, finish

    results = await asyncio.gather(*(stream() for _ in range(3)))
    assert [finish for _, finish in results] == ["length"] * 3, results


# The parent restores Python's Ctrl-C handler: a process started from a background job of a
# non-interactive shell (e.g. `make test &`) inherits SIGINT *ignored*, and so would the parent.
_PARENT = textwrap.dedent(
    """
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from smoothie_demo.server import LocalServer, LocalServers
    servers = LocalServers([LocalServer(sys.argv[1], alias=a, log_dir=sys.argv[2])
                            for a in ("p-a", "p-b")])
    with servers:
        print(" ".join(str(s.pid) for s in servers.values()), flush=True)
        time.sleep(300)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_servers_stop_when_their_parent_is_interrupted_terminated_or_killed(
    gguf, tmp_path, sig
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, gguf, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        parent.send_signal(sig)
        parent.wait(30)
        assert all(_wait_gone(p) for p in pids), f"servers {pids} outlived their parent ({sig!r})"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
