"""``orch-eval demo``: the strongest local model alone and ORCH (self-consistency with ``--k``) on
real MMLU and GSM8K items, with the paired verdict against the reference (see :mod:`orch_eval.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from orch_eval.cli.argtypes import non_negative_float, non_negative_int, positive_int

HELP = "compare ORCH with the strongest local model alone (and self-consistency) on real MMLU and GSM8K items"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from orch_eval.demo import DEFAULT_ITEMS, DEFAULT_K, DEFAULT_TEMPERATURE

    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help=HELP,
        description=HELP + ". Logs go to LOG_DIR/<panel>-<items>/; a rerun makes no model call.",
    )
    p.add_argument(
        "--items",
        type=positive_int,
        default=DEFAULT_ITEMS,
        help=f"items per benchmark (default {DEFAULT_ITEMS})",
    )
    p.add_argument("--panel", default="local", help="panel preset or YAML (default: local)")
    p.add_argument("--benchmarks", default="mmlu,gsm8k", help="comma-separated: mmlu, gsm8k")
    p.add_argument(
        "--k",
        type=non_negative_int,
        default=DEFAULT_K,
        help=f"self-consistency samples of the strongest model (default {DEFAULT_K}: left out; 3 about "
        "doubles the demo's time)",
    )
    p.add_argument(
        "--temperature",
        type=non_negative_float,
        default=DEFAULT_TEMPERATURE,
        help=f"self-consistency sampling temperature (default {DEFAULT_TEMPERATURE})",
    )
    p.add_argument("--log-dir", default="logs/demo", help="where the Inspect logs go (default logs/demo)")
    p.add_argument(
        "--display", default=None, help="Inspect display: full, rich, plain, none (default: Inspect's)"
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from orch_eval.demo import print_result, run_demo

    result = run_demo(
        panel=args.panel,
        items=args.items,
        benchmarks=tuple(b.strip() for b in args.benchmarks.split(",") if b.strip()),
        k=args.k,
        temperature=args.temperature,
        log_dir=args.log_dir,
        display=args.display,
    )
    print_result(result, args.k, args.temperature)
    for failure in result.failed:
        print(f"orch-eval demo: did not complete: {failure}")
    return 1 if result.failed else 0
