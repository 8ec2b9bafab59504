"""``orch-eval`` (and ``orch-lm-eval``): the project's command line, one module per command.

Every command module exposes ``add_parser(subparsers) -> ArgumentParser`` (setting
``func=run``, or one function per subcommand) and ``run(args) -> int`` (the exit code); the work
itself lives in the library (``orch_eval.stats``, ``orch_eval.experiment``, ``orch_eval.demo``...),
never here. This module wires them together, importing each lazily so ``orch-eval --help`` stays
fast. A configuration error (:class:`~orch_eval.core.errors.OrchConfigError`) anywhere, like a
usage error argparse finds (a bad flag or value), ends with one message on stderr and exit code 2,
returned by :func:`main` rather than raised, so a caller from Python gets the code either way.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orch_eval import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "orch_eval.cli.demo",
        "ORCH vs the strongest local model alone and self-consistency, on real items",
    ),
    "models": ("orch_eval.cli.models", "list, pull and verify the local GGUF models"),
    "serve": ("orch_eval.cli.serve", "serve the local GGUF models over HTTP and print a served panel"),
    "compare": ("orch_eval.cli.compare", "paired statistics report from Inspect logs and lm-eval samples"),
    "leaderboard": (
        "orch_eval.cli.leaderboard",
        "rank every system on every benchmark with rank intervals and letters",
    ),
    "router": ("orch_eval.cli.router", "calibrate and inspect EMA router state"),
    "run": ("orch_eval.cli.run", "run an experiment file (systems x benchmarks) and report"),
    "panel": ("orch_eval.cli.panel", "show a panel preset, its digest and its resolved settings"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch-eval",
        description=(
            "ORCH: many analyses, one merge. Deterministic multi-agent evaluation for Inspect AI and lm-eval."
        ),
    )
    parser.add_argument("--version", action="version", version=f"orch_eval {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``orch-eval``."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(only=command if command in SUBCOMMANDS else None)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as ex:  # argparse: a usage error (2, its message printed) or --help/--version (0)
        return ex.code if isinstance(ex.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    from orch_eval.core.errors import OrchConfigError

    try:
        return int(args.func(args) or 0)
    except OrchConfigError as ex:
        print(f"orch-eval: {ex}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("orch-eval: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
