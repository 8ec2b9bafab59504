"""``orch-eval run EXPERIMENT.yaml``: run an experiment file and write its report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orch_eval.cli.argtypes import positive_float, positive_int

HELP = "run an experiment file (systems x benchmarks) and report"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run",
        help=HELP,
        description=(
            "Run the systems of an experiment file on its benchmarks through Inspect's eval_set "
            "(one log dir per experiment: a rerun skips finished work), then write the paired "
            "statistics report (report.md, report.json, plots) into the log dir. See docs/experiments.md."
        ),
    )
    p.add_argument(
        "experiment", metavar="EXPERIMENT.yaml", help="experiment file (or a name under experiments/)"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print calls, tokens and cost per system x benchmark; run nothing",
    )
    p.add_argument(
        "--cost-limit",
        type=positive_float,
        metavar="X",
        help="stop between systems once the cost reaches X (panel currency)",
    )
    p.add_argument(
        "--log-dir", metavar="DIR", help="log dir (default logs/<experiment>, or logs/<experiment>-limit<N>)"
    )
    p.add_argument("--max-samples", type=positive_int, metavar="N", help="samples run concurrently per task")
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="only the first N chosen items of each benchmark (smoke runs)",
    )
    p.add_argument(
        "--display", default="plain", help="Inspect display: full, rich, plain, log, none (default plain)"
    )
    p.add_argument("--no-report", action="store_true", help="skip the statistics report")
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only shard I of N of every benchmark's items (positions I-1, "
        "I-1+N, ... in dataset order), as one of N processes sharing the log dir and Inspect cache; the "
        "last shard to finish writes the report (docs/served-models.md)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from orch_eval.experiment.runner import run_experiment

    result = run_experiment(
        args.experiment,
        dry_run=args.dry_run,
        cost_limit=args.cost_limit,
        log_dir=args.log_dir,
        max_samples=args.max_samples,
        limit=args.limit,
        display=args.display,
        report=not args.no_report,
        shard=args.shard,
    )
    if result.status == "cost_limit":
        print(f"orch-eval run: stopped: {result.message}", file=sys.stderr)
        return 3
    if result.status == "failed":
        print(f"orch-eval run: failed: {result.message}", file=sys.stderr)
        return 1
    return 0
