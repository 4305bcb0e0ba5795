"""Fixtures of the integration tests: local OpenAI-compatible servers (``http_server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.http import ALIASES, require_http_extras, smollm_path


@pytest.fixture(scope="session")
def smollm_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Three llama.cpp servers of SmolLM2-135M on 127.0.0.1 (aliases ``smollm2-a/b/c``),
    started once per session and stopped at its end; their logs go to a temp dir."""
    require_http_extras()
    from smoothie_demo.server import LocalServer, LocalServers

    path = smollm_path()
    logs = tmp_path_factory.mktemp("server-logs")
    servers = LocalServers([LocalServer(path, alias=a, log_dir=logs) for a in ALIASES])
    with servers:
        yield dict(servers)
