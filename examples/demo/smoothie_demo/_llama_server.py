"""Process entry point of :class:`smoothie_demo.server.LocalServer` (not for direct use).

Runs llama-cpp-python's OpenAI-compatible server (``llama_cpp.server``: FastAPI + uvicorn)
for one GGUF model on a listening socket inherited from the parent (``--fd``), so the
port is chosen by the parent without a race. The process exits when its standard input
reaches end of file: the parent holds the other end of that pipe, so a parent that
dies in any way (even ``SIGKILL``) takes its servers with it.

Settings come from ``--settings`` only (a JSON object of ``llama_cpp.server``
``ModelSettings`` fields): environment variables that ``llama_cpp.server`` would read
(``API_KEY``, ``CONFIG_FILE``, ``N_CTX``, ...) are removed first, so a variable meant for
something else cannot change the server.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence


def _exit_with_parent() -> None:
    """Block until stdin closes (the parent stopped us or died), then shut down."""
    try:
        while sys.stdin.buffer.read(1 << 16):
            pass
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's handler shuts down gracefully


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoothie_demo._llama_server")
    parser.add_argument("--fd", type=int, required=True, help="listening TCP socket to serve on")
    parser.add_argument("--settings", required=True, help="JSON object of ModelSettings fields")
    args = parser.parse_args(argv)
    settings = json.loads(args.settings)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp loads
    threading.Thread(target=_exit_with_parent, name="exit-with-parent", daemon=True).start()
    sock = socket.socket(fileno=args.fd)

    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    read_from_env = set(ServerSettings.model_fields) | set(ModelSettings.model_fields)
    for key in list(os.environ):
        if key.lower() in read_from_env or key == "CONFIG_FILE":
            del os.environ[key]
    host, port = sock.getsockname()[:2]
    app = create_app(
        # interrupt_requests=False: by default a new request makes llama_cpp.server end
        # the stream in progress early (a "[DONE]" after a few tokens), which would
        # silently truncate concurrent streamed answers.
        server_settings=ServerSettings(host=host, port=port, interrupt_requests=False),
        model_settings=[ModelSettings(**settings)],
    )
    config = uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=3)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
