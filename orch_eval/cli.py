"""``orch-eval``: the project's command line.

Each subcommand lives in the module that owns its subject and exposes
``add_parser(subparsers)``; this file only wires them together, importing each lazily so
``orch-eval --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orch_eval import __version__

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("orch_eval.demo", "run ORCH on real MMLU and GSM8K items with the local GGUF panel"),
    "models": ("orch_eval.models.cli", "list, pull and verify the local GGUF models"),
    "serve": ("orch_eval.models.serve_cli", "serve the local GGUF models over HTTP and print a served panel"),
    "compare": ("orch_eval.stats.cli", "paired statistics report from Inspect logs and lm-eval samples"),
    "router": ("orch_eval.router_cli", "calibrate and inspect EMA router state"),
    "run": ("orch_eval.experiment", "run an experiment file (systems x benchmarks) and report"),
    "panel": ("orch_eval.panel_cli", "show a panel preset, its digest and its resolved settings"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch-eval",
        description="ORCH: many analyses, one merge. Deterministic multi-agent evaluation for Inspect AI and lm-eval.",
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
    args = parser.parse_args(args_list)
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
