"""``smoothie demo``: Smoothie routing across real local chat models, offline.

Plugged into the ``smoothie`` program through the ``smoothie_router.cli`` entry-point
group (see ``pyproject.toml``), so ``smoothie_core`` never imports LangChain.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from smoothie_demo.chat_models import ChatGGUF
from smoothie_demo.questions import QUESTIONS, Question, load_questions
from smoothie_demo.runner import run_demo
from smoothie_demo.server import ServerError
from smoothie_demo.weights import LOCAL_MODELS, local_model, locate_weights

__all__ = [
    "build_local_models",
    "build_served_models",
    "parse_model_specs",
    "register",
    "run",
    "run_prompts",
]

#: Default answer length for the local models (short questions, short answers).
DEFAULT_MAX_TOKENS = 96


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="Smoothie routing across real local chat models (needs the demo extra), offline",
        description=(
            "Select mode (every model answers, Smoothie picks the best answer) and route mode "
            "(calibrate on the first half of the questions, then call one model per question) "
            "over three small local GGUF chat models from PyPI, or over your own LangChain "
            "chat models (--models)."
        ),
    )
    p.add_argument(
        "--models",
        nargs="+",
        metavar="SPEC",
        help=(
            "use these chat models instead (at least 3; spaces or commas between them): "
            "LangChain specs such as openai:gpt-4o-mini or ollama:llama3 (resolved with "
            "langchain.chat_models.init_chat_model), or local:NAME for a built-in model "
            f"({', '.join(s.name for s in LOCAL_MODELS)})"
        ),
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help=f"answer length limit (default {DEFAULT_MAX_TOKENS} for the local models; passed "
        "as max_tokens to --models specs only when given)",
    )
    p.add_argument(
        "--questions",
        metavar="FILE",
        help="your own questions: a text file (one per line), .json list or .jsonl",
    )
    p.add_argument("--mode", choices=["select", "route", "both"], default="both")
    p.add_argument(
        "--serve",
        action="store_true",
        help="serve the local models over HTTP first (llama.cpp's OpenAI-compatible server, "
        "one process per model on 127.0.0.1, stopped at the end; logs in the cache dir) and "
        "call them as LangChain ChatOpenAI clients, as an application calling model servers "
        "would (needs llama-cpp-python[server] and langchain-openai)",
    )
    p.add_argument(
        "--n-neighbors",
        type=int,
        default=3,
        help="Smoothie-Local neighbourhood (default 3): select mode scores each question with "
        "its k-1 nearest earlier questions, route mode averages the k nearest calibration "
        "questions; 0 = each question alone / Smoothie-Global",
    )
    p.add_argument(
        "--embedder", default=None, help="embedder spec (default: the offline all-MiniLM-L6-v2)"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--prompts",
        action="store_true",
        help="the multi-prompt setting instead: ONE model under three prompt templates (direct "
        "answer, step by step, answer then explain); Smoothie picks the template per question, "
        "select mode then route mode, on questions with known answers (shown, never used)",
    )
    p.add_argument(
        "--prompt-model",
        default="qwen-0.5b",
        metavar="NAME",
        help="--prompts: the local model (default qwen-0.5b; "
        f"{', '.join(s.name for s in LOCAL_MODELS)})",
    )
    p.set_defaults(func=run)


def _split_specs(specs: Sequence[str]) -> list[str]:
    return [s.strip() for spec in specs for s in spec.split(",") if s.strip()]


def build_local_models(
    names: Sequence[str] | None = None, *, max_tokens: int | None = None, verbose: bool = True
) -> dict[str, BaseChatModel]:
    """The built-in pool (or the named members) as loaded :class:`ChatGGUF` models.

    Verifies (and, for split packages, joins) each GGUF file first; raises
    :class:`~smoothie_demo.weights.WeightFileError` with what to install when a
    package is missing and ``ImportError`` when llama-cpp-python is.
    """
    try:
        import llama_cpp  # noqa: F401  (fail early, before joining gigabytes)
    except ImportError as exc:
        raise ImportError(
            "The built-in local models need llama-cpp-python (the `demo` extra): run "
            '`make demo`, or `CMAKE_ARGS="-DLLAVA_BUILD=OFF" pip install '
            "'smoothie-router[demo]'`; or pass --models to use your own LangChain chat models."
        ) from exc
    specs = LOCAL_MODELS if names is None else tuple(local_model(n) for n in names)
    models: dict[str, BaseChatModel] = {}
    for spec in specs:
        start = time.perf_counter()
        path = locate_weights(spec)
        checked = time.perf_counter() - start
        chat = ChatGGUF(
            model_path=str(path),
            model=spec.name,
            max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        )
        chat.load()
        if verbose:
            print(
                f"  {spec.name:<13} {spec.title:<38} {spec.size / 1e6:7.0f} MB  "
                f"verified in {checked:.1f} s, loaded in {time.perf_counter() - start - checked:.1f} s",
                flush=True,
            )
        models[spec.name] = chat
    return models


def build_served_models(
    stack: contextlib.ExitStack,
    names: Sequence[str] | None = None,
    *,
    max_tokens: int | None = None,
    verbose: bool = True,
) -> dict[str, BaseChatModel]:
    """The built-in pool (or the named members) served over HTTP, as ``ChatOpenAI`` clients.

    Starts one llama.cpp OpenAI-compatible server per model on 127.0.0.1
    (:func:`smoothie_demo.server.local_model_servers`) and enters them on ``stack``, so
    they stop when it closes (also on an error or Ctrl-C); the clients are
    :func:`smoothie_demo.server.openai_chat_models` (greedy, no client-side retries).
    """
    from smoothie_demo.server import check_server_extra, local_model_servers, openai_chat_models

    check_server_extra()
    servers = local_model_servers(names)
    if verbose:
        print(
            "Serving the local models over HTTP (llama.cpp's OpenAI-compatible server, one "
            "process per model, 1 thread each):",
            flush=True,
        )
    stack.enter_context(servers)
    if verbose:
        for name, server in servers.items():
            print(
                f"  {name:<13} {server.base_url}  ready in {server.startup_seconds or 0:.1f} s  "
                f"log {server.log_path}",
                flush=True,
            )
    return openai_chat_models(servers, max_tokens=max_tokens or DEFAULT_MAX_TOKENS)


def parse_model_specs(
    specs: Sequence[str],
    *,
    max_tokens: int | None = None,
    serve: contextlib.ExitStack | None = None,
) -> dict[str, BaseChatModel]:
    """Chat models from ``--models`` specs, by spec (the spec is the candidate name).

    ``local:NAME`` is a built-in model (with ``serve``, an exit stack: served over HTTP,
    see :func:`build_served_models`); anything else goes to LangChain's
    ``init_chat_model`` (``provider:model``; needs ``langchain`` and the provider's
    package, e.g. ``langchain-openai``).
    """
    names = _split_specs(specs)
    if len(names) < 3:
        raise ValueError(
            f"--models needs at least 3 chat models (Smoothie compares each answer with two "
            f"others); got {len(names)}: {names}. Example: --models openai:gpt-4o-mini "
            "anthropic:claude-3-5-haiku-latest ollama:llama3"
        )
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"--models lists {dupes} more than once; each model must be unique.")
    local = [n.split(":", 1)[1] for n in names if n.startswith("local:")]
    for name in local:
        local_model(name)  # unknown names fail before anything loads
    others = [n for n in names if not n.startswith("local:")]
    init_chat_model: Any = None
    if others:
        try:
            from langchain.chat_models import init_chat_model
        except ImportError as exc:
            raise ValueError(
                f"--models {' '.join(others)} needs the `langchain` package to resolve model "
                "specs (langchain.chat_models.init_chat_model): pip install langchain, plus "
                "the provider's package (e.g. langchain-openai, langchain-ollama)."
            ) from exc
    remote: dict[str, BaseChatModel] = {}
    for spec in others:  # before loading any local model, so a bad spec fails fast
        kwargs = {"max_tokens": max_tokens} if max_tokens is not None else {}
        try:
            model = init_chat_model(spec, **kwargs)
        except Exception as exc:
            raise ValueError(
                f"--models: could not create a chat model from {spec!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(model, BaseChatModel):
            raise ValueError(
                f"--models: {spec!r} gave a {type(model).__name__}, not a LangChain chat model."
            )
        remote[spec] = model
    if not local:
        loaded: dict[str, BaseChatModel] = {}
    elif serve is not None:
        loaded = build_served_models(serve, local, max_tokens=max_tokens)
    else:
        loaded = build_local_models(local, max_tokens=max_tokens)
    return {
        spec: loaded[spec.split(":", 1)[1]] if spec.startswith("local:") else remote[spec]
        for spec in names
    }


def run_prompts(args: argparse.Namespace) -> int:
    """``smoothie demo --prompts``: one local model under several prompt templates."""
    from smoothie_core.embedders import load_embedder
    from smoothie_demo.prompts import PROMPT_QUESTIONS, PROMPT_TEMPLATES, run_prompts_demo

    if args.models or args.questions:
        raise ValueError(
            "--prompts runs one local model (--prompt-model) on its own questions with known "
            "answers; drop --models/--questions."
        )
    start = time.perf_counter()
    local_model(args.prompt_model)  # an unknown name fails before anything loads
    embedder = load_embedder(args.embedder)
    print(
        f"smoothie demo --prompts: {args.prompt_model} under {len(PROMPT_TEMPLATES)} prompt "
        f"templates ({', '.join(PROMPT_TEMPLATES)}), {len(PROMPT_QUESTIONS)} questions; "
        f"embedder {embedder.id}",
        flush=True,
    )
    try:
        models = build_local_models([args.prompt_model], max_tokens=args.max_tokens or 192)
    except ImportError as exc:
        raise ValueError(str(exc)) from exc
    embedder.embed(["warm up"])
    report = run_prompts_demo(
        models[args.prompt_model], embedder=embedder, n_neighbors=args.n_neighbors or None
    )
    parts = [f"{k} {v:.1f} s" for k, v in report.seconds.items()]
    total = time.perf_counter() - start
    print(f"\ntotal time: {total:.1f} s ({', '.join(parts)})", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before llama_cpp is imported
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if getattr(args, "prompts", False):
        return run_prompts(args)
    start = time.perf_counter()
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ValueError(f"--max-tokens must be a positive integer; got {args.max_tokens}.")
    if args.n_neighbors < 0:
        raise ValueError(
            f"--n-neighbors must be >= 0 (0 = Smoothie-Global); got {args.n_neighbors}."
        )
    questions = load_questions(args.questions) if args.questions else list(QUESTIONS)
    if args.mode != "select" and len(questions) < 2:
        raise ValueError(
            f"--mode {args.mode} needs at least 2 questions (route mode calibrates on the "
            f"first half); {args.questions} has {len(questions)}."
        )
    from smoothie_core.embedders import load_embedder

    embedder = load_embedder(args.embedder)
    print(
        f"smoothie demo: {len(questions)} questions, mode {args.mode}; embedder {embedder.id}",
        flush=True,
    )
    with contextlib.ExitStack() as stack:  # the --serve servers stop when it closes
        return _run_models(args, stack, questions, embedder, start)


def _run_models(
    args: argparse.Namespace,
    stack: contextlib.ExitStack,
    questions: Sequence[Question],
    embedder: Any,
    start: float,
) -> int:
    serve = stack if args.serve else None
    try:
        if args.models:
            models = parse_model_specs(args.models, max_tokens=args.max_tokens, serve=serve)
        elif serve is not None:
            models = build_served_models(serve, max_tokens=args.max_tokens)
        else:
            print("Loading the local models (llama.cpp, 1 thread each):", flush=True)
            models = build_local_models(max_tokens=args.max_tokens)
    except (ImportError, ServerError) as exc:  # what to install / the server's log
        raise ValueError(str(exc)) from exc
    embedder.embed(["warm up"])  # load it now, so its time counts as setup
    setup = time.perf_counter() - start
    print(f"models: {', '.join(models)} (setup {setup:.1f} s)\n", flush=True)
    report = run_demo(
        models,
        questions,
        mode=args.mode,
        embedder=embedder,
        n_neighbors=args.n_neighbors or None,
        progress=not args.no_progress,
    )
    total = time.perf_counter() - start
    parts = [f"setup {setup:.1f} s"] + [f"{k} {v:.1f} s" for k, v in report.seconds.items()]
    calls = sum(report.model_calls.values())
    print(f"\ntotal time: {total:.1f} s ({', '.join(parts)}); {calls} model calls", flush=True)
    sys.stdout.flush()
    return 0
