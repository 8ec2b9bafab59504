"""``orch-eval compare``: paired statistics report from Inspect logs and lm-eval samples.

::

    orch-eval compare logs/run.eval --reference agent0
    orch-eval compare results/ --filter strict-match --pairs all --format json --output report.json

Every input problem ends with exit code 2 and a one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from orch_eval.cli.argtypes import non_negative_int, probability
from orch_eval.core.redact import redact

if TYPE_CHECKING:
    from orch_eval.stats.analysis import Analysis

__all__ = ["add_parser", "build_analyses", "run"]

HELP = "paired statistics report from Inspect logs and lm-eval samples"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help=HELP,
        description=(
            "Compare systems item by item (McNemar, Cochran's Q, paired intervals), per benchmark: logs "
            "are grouped by the task they answered and never pooled. Each Inspect log is one system; a "
            "log of ORCH runs also yields each agent alone, the majority vote and the oracle (an upper "
            "bound), all paired for free. A reference must be named; without one all pairs are compared."
        ),
    )
    p.add_argument(
        "logs", nargs="+", metavar="LOG", help="Inspect .eval logs, lm-eval samples_*.jsonl files, or folders"
    )
    p.add_argument(
        "--reference",
        metavar="NAME",
        help="system every other one is compared with (declare it before looking)",
    )
    p.add_argument(
        "--systems", metavar="NAME,...", help="compare only these systems (exact names or unique prefixes)"
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="LABEL",
        help="name of the system of the i-th LOG (repeat, in LOG order)",
    )
    p.add_argument(
        "--filter", metavar="F", help="lm-eval filter (default: the first one in each samples file)"
    )
    p.add_argument("--intersect", action="store_true", help="keep only the items every system answered")
    p.add_argument("--correction", choices=("holm", "bh", "none"), default="holm")
    p.add_argument("--test", choices=("midp", "exact", "asymptotic", "asymptotic_cc"), default="midp")
    p.add_argument("--pairs", choices=("reference", "all"), default="reference")
    p.add_argument(
        "--format",
        choices=("md", "csv", "latex", "latex-full", "json"),
        default="md",
        help="md (default), csv, json, latex (a compact paper table per benchmark) or latex-full "
        "(every column of both tables)",
    )
    p.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--plots",
        metavar="DIR",
        help="write accuracy, accuracy-vs-compute and p-value PNGs here (one folder per benchmark "
        "when there are several)",
    )
    p.add_argument(
        "--no-derived", action="store_true", help="do not derive agent/majority/oracle systems from Decisions"
    )
    p.add_argument(
        "--bootstrap",
        type=non_negative_int,
        default=2000,
        metavar="N",
        help="bootstrap resamples per pair (0: off)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed")
    p.add_argument(
        "--alpha",
        type=probability,
        default=0.05,
        help="two-sided level of intervals, marks and the MDE (default 0.05: 95%% intervals)",
    )
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------- building


def build_analyses(args: argparse.Namespace) -> list[Analysis]:
    """One :class:`~orch_eval.stats.analysis.Analysis` per benchmark the logs answered (raises
    ``ValueError`` on bad input, naming the benchmark when there are several)."""
    from orch_eval.stats.analysis import analyse
    from orch_eval.stats.loaders import LogLoadError
    from orch_eval.stats.sources import load_benchmarks

    derived = not args.no_derived
    groups = load_benchmarks(args.logs, names=args.name or None, filter=args.filter, derived=derived)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems else None
    out = []
    for bench, loaded in groups.items():
        try:
            out.append(
                analyse(
                    loaded,
                    systems=wanted,
                    reference=args.reference,
                    intersect=args.intersect,
                    derived=derived,
                    intersect_hint="--intersect",
                    correction=args.correction,
                    test=args.test,
                    pairs=args.pairs,
                    bootstrap=args.bootstrap,
                    seed=args.seed,
                    alpha=args.alpha,
                    benchmark=bench,
                )
            )
        except ValueError as ex:
            if len(groups) == 1:
                raise
            raise LogLoadError(f"benchmark {bench}: {ex}") from None
    return out


# ---------------------------------------------------------------------------- rendering


def _render(analyses: list[Analysis], fmt: str) -> str:
    one = len(analyses) == 1
    if fmt == "md":
        if one:
            return analyses[0].to_markdown()
        parts = [
            f"# Paired comparison report ({len(analyses)} benchmarks, each compared on its own items)",
            "",
        ]
        for a in analyses:
            text = a.to_markdown(title=f"{a.benchmark}")
            parts += ["#" + line if line.startswith("#") else line for line in text.splitlines()] + [""]
        return "\n".join(parts)
    if fmt == "json":
        if one:
            return analyses[0].to_json()
        return json.dumps(
            {"benchmarks": {a.benchmark: a.to_dict() for a in analyses}}, indent=2, allow_nan=False
        )
    if fmt in ("latex", "latex-full"):
        return "\n".join(a.to_latex(full=fmt == "latex-full") for a in analyses)
    raise ValueError(fmt)  # pragma: no cover - argparse choices


def _csv(analyses: list[Analysis], which: Literal["comparisons", "systems"]) -> str:
    if len(analyses) == 1:
        return analyses[0].to_csv(which)
    import io

    import pandas as pd

    frames = []
    for a in analyses:
        frame = pd.read_csv(io.StringIO(a.to_csv(which)))
        frame.insert(0, "benchmark", a.benchmark)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).to_csv(index=False)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``orch-eval compare``; returns the exit code."""
    try:
        if args.bootstrap < 0:
            raise ValueError("--bootstrap must be >= 0")
        analyses = build_analyses(args)
        if args.plots:
            for a in analyses:
                a.write_plots(
                    Path(args.plots) / a.benchmark if len(analyses) > 1 and a.benchmark else args.plots
                )
    except (ValueError, OSError) as ex:
        # one line, even for the multi-line item-set mismatch error
        message = "; ".join(line.strip() for line in str(ex).splitlines() if line.strip())
        print(f"orch-eval compare: {redact(message)}", file=sys.stderr)
        return 2
    if args.format == "csv":
        text = _csv(analyses, "comparisons")
        if args.output:
            out = Path(args.output)
            systems_csv = redact(_csv(analyses, "systems")) or ""
            out.with_name(out.stem + ".systems.csv").write_text(systems_csv, encoding="utf-8")
        else:
            text = text + "\n" + _csv(analyses, "systems")
    else:
        text = _render(analyses, args.format)
    text = redact(text) or ""  # the report carries names and notes read from the logs
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.format not in ("md", "json"):
        for a in analyses:
            for n in a.notes:
                print(f"orch-eval compare: note: {redact(n)}", file=sys.stderr)
    return 0
