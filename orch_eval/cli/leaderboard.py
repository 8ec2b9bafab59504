"""``orch-eval leaderboard``: every system ranked on every benchmark, with rank intervals.

::

    orch-eval leaderboard logs/ --output board/
    orch-eval leaderboard logs/mmlu logs/gsm8k lm_eval_out/ --output board/ --alpha 0.05 --intersect

Every input problem ends with exit code 2 and a one-line message on stderr. The method is in
``docs/leaderboard.md`` and on the page itself.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from orch_eval.cli.argtypes import probability

__all__ = ["add_parser", "run"]

HELP = "rank every system on every benchmark (rank intervals, letter groups, HTML page)"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "leaderboard",
        help=HELP,
        description=(
            "Rank every system on every benchmark and overall (benchmarks weighted equally), with "
            "simultaneous rank intervals and compact letter groups from Holm-adjusted paired McNemar mid-p "
            "tests. An ORCH log contributes its merged system, each agent alone and the majority vote; the "
            "oracle is listed as an upper bound, never ranked. Writes index.html (self-contained), "
            "leaderboard.md/.csv/.json/.tex, pairs.csv and accuracy_vs_cost.png into --output."
        ),
    )
    p.add_argument(
        "logs",
        nargs="+",
        metavar="LOG",
        help=(
            "Inspect .eval logs, lm-eval samples_*.jsonl files, or folders of them (e.g. an eval_set log dir)"
        ),
    )
    p.add_argument(
        "--output", "-o", required=True, metavar="DIR", help="folder to write the leaderboard into"
    )
    p.add_argument(
        "--alpha",
        type=probability,
        default=0.05,
        help="family-wise level: rank intervals are simultaneous 1-alpha (default 0.05)",
    )
    p.add_argument(
        "--intersect",
        action="store_true",
        help="on each benchmark, rank only the items every system answered (stated on the page)",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="LABEL",
        help="system name for every log under the i-th LOG (repeat, in LOG order)",
    )
    p.add_argument(
        "--filter", metavar="F", help="lm-eval filter (default: the first one in each samples file)"
    )
    p.add_argument(
        "--no-derived", action="store_true", help="do not derive agent/majority systems from ORCH Decisions"
    )
    p.add_argument("--title", default="Leaderboard", help="title of the page and documents")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Entry point of ``orch-eval leaderboard``; returns the exit code."""
    from orch_eval.stats.leaderboard import load_leaderboard, write_outputs

    try:
        if not 0.0 < args.alpha < 1.0:
            raise ValueError(f"--alpha must lie in (0, 1), got {args.alpha}")
        board = load_leaderboard(
            args.logs,
            names=args.name or None,
            filter=args.filter,
            intersect=args.intersect,
            derived=not args.no_derived,
        )
        standings = board.standings(args.alpha)
        written = write_outputs(standings, args.output, title=args.title)
    except (ValueError, OSError) as ex:
        message = "; ".join(line.strip() for line in str(ex).splitlines() if line.strip())
        print(f"orch-eval leaderboard: {message}", file=sys.stderr)
        return 2
    systems = {r.system for t in standings.tables for r in t.rows}
    print(f"leaderboard: {len(standings.benchmarks)} benchmark(s), {len(systems)} systems -> {args.output}")
    for t in standings.tables:
        adj, un = t.adjacent, t.unresolved_adjacent
        print(f"  {t.title}: {len(t.rows)} ranked, {len(un)} of {len(adj)} adjacent pairs unresolved")
    for name in written:
        print(f"  wrote {written[name]}")
    return 0
