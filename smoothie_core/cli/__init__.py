"""The ``smoothie`` command line.

Each sub-command lives in its own module ``smoothie_core.cli._<name>`` exposing
``register(subparsers)``; the module is imported only when the program starts.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from smoothie_core._version import __version__

__all__ = ["main"]

#: Sub-command modules, in the order ``smoothie --help`` lists them.
COMMANDS: tuple[str, ...] = ("demo", "eval", "select")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoothie",
        description="Label-free LLM routing with Smoothie (Guha et al., NeurIPS 2024).",
    )
    parser.add_argument("--version", action="version", version=f"smoothie-router {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"smoothie_core.cli._{name}").register(sub)
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
