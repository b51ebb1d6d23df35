"""The ``ven-edge`` command line.

Each subsystem owns its sub-commands: a module listed in ``_SUBCOMMAND_MODULES`` exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (a callable taking the parsed
namespace and returning the exit code). Modules import their heavy dependencies inside the
handlers, so ``ven-edge --help`` stays quick on a Raspberry Pi.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from ven_edge import __version__

#: Exit status after the reader of standard output went away (128 + SIGPIPE, as shells report a
#: command killed by SIGPIPE).
EXIT_BROKEN_PIPE = 128 + 13

_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "ven_edge.cta2045.cli",
    "ven_edge.plan.cli",
    "ven_edge.run",
    "ven_edge.check",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ven-edge",
        description="OpenADR 3 demand-response gateway for CTA-2045 heat-pump water heaters.",
    )
    parser.add_argument("--version", action="version", version=f"ven-edge {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = handler(args)
        sys.stdout.flush()  # inside the try: buffered output may meet the closed pipe only here
    except BrokenPipeError:
        # `ven-edge cta2045 messages | head`: the reader has all it wants. Python ignores SIGPIPE,
        # so the write raised instead of ending the process quietly; point stdout at /dev/null so
        # the interpreter's own flush at exit does not raise again (Python docs, "Note on
        # SIGPIPE" in the signal module).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
    return code
