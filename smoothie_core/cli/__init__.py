"""The ``smoothie`` command line.

Each built-in sub-command lives in its own module ``smoothie_core.cli._<name>``
exposing ``register(subparsers)``. Other packages add sub-commands through the
entry-point group ``smoothie_router.cli`` (``name = "package.module:register"``):
that is how the real-model ``smoothie demo`` (LangChain + local chat models) plugs in
without ``smoothie_core`` ever importing LangChain.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection, Sequence
from importlib.metadata import entry_points

from smoothie_core._version import __version__

__all__ = ["main"]

#: Sub-command modules, in the order ``smoothie --help`` lists them.
COMMANDS: tuple[str, ...] = ("example", "eval", "select")

#: Entry-point group through which other packages add sub-commands.
PLUGIN_GROUP = "smoothie_router.cli"


def build_parser(load_plugins: Collection[str] | bool = ()) -> argparse.ArgumentParser:
    """The ``smoothie`` argument parser.

    Plugin sub-commands (entry-point group ``smoothie_router.cli``) are imported only
    when named in ``load_plugins`` (or when it is True); the others are listed by name
    only, so ``smoothie --help`` and the built-in commands never import a plugin's
    package (e.g. LangChain). :func:`main` loads the plugin the command line names.
    """
    parser = argparse.ArgumentParser(
        prog="smoothie",
        description="Label-free LLM routing with Smoothie (Guha et al., NeurIPS 2024).",
    )
    parser.add_argument("--version", action="version", version=f"smoothie-router {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"smoothie_core.cli._{name}").register(sub)
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name in sub.choices:
            continue
        if load_plugins is True or (load_plugins and ep.name in load_plugins):
            ep.load()(sub)
        else:
            stub = sub.add_parser(ep.name, help=f"(plugin: {ep.value}; see smoothie {ep.name} -h)")
            stub.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The sub-command named on the command line (top-level options take no values)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smoothie`` program; returns the exit status.

    Errors the user can fix (bad files, bad flags) print one ``smoothie: error: ...``
    line and exit with status 2.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command(argv)
    try:
        parser = build_parser(load_plugins=[command] if command else ())
    except ImportError as err:
        print(
            f"smoothie: error: the {command!r} command could not be loaded: {err}", file=sys.stderr
        )
        return 2
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, KeyError) as err:
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"smoothie: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
