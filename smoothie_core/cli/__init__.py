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
from collections.abc import Sequence
from importlib.metadata import entry_points

from smoothie_core._version import __version__

__all__ = ["main"]

#: Sub-command modules, in the order ``smoothie --help`` lists them.
COMMANDS: tuple[str, ...] = ("example", "eval", "select")

#: Entry-point group through which other packages add sub-commands.
PLUGIN_GROUP = "smoothie_router.cli"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoothie",
        description="Label-free LLM routing with Smoothie (Guha et al., NeurIPS 2024).",
    )
    parser.add_argument("--version", action="version", version=f"smoothie-router {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"smoothie_core.cli._{name}").register(sub)
    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        if ep.name not in sub.choices:
            ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``smoothie`` program; returns the exit status.

    Errors the user can fix (bad files, bad flags) print one ``smoothie: error: ...``
    line and exit with status 2.
    """
    parser = build_parser()
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
