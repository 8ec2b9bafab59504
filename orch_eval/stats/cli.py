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
import warnings as _warnings
from pathlib import Path
from typing import Any

from orch_eval.core.redact import redact, redact_data

__all__ = ["add_parser", "build_report", "render_json", "render_markdown", "run", "write_plots"]

HELP = "paired statistics report from Inspect logs and lm-eval samples"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "compare",
        help=HELP,
        description=(
            "Compare systems item by item (McNemar, Cochran's Q, paired intervals). Each Inspect log is "
            "one system; a log of ORCH runs also yields each agent alone, the majority vote and the "
            "oracle (an upper bound), all paired for free. A reference must be named; without one all "
            "pairs are compared."
        ),
    )
    p.add_argument("logs", nargs="+", metavar="LOG", help="Inspect .eval logs, lm-eval samples_*.jsonl files, or folders")
    p.add_argument("--reference", metavar="NAME", help="system every other one is compared with (declare it before looking)")
    p.add_argument("--systems", metavar="NAME,...", help="compare only these systems (exact names or unique prefixes)")
    p.add_argument("--name", action="append", default=[], metavar="LABEL",
                   help="name of the system of the i-th LOG (repeat, in LOG order)")
    p.add_argument("--filter", metavar="F", help="lm-eval filter (default: the first one in each samples file)")
    p.add_argument("--intersect", action="store_true", help="keep only the items every system answered")
    p.add_argument("--correction", choices=("holm", "bh", "none"), default="holm")
    p.add_argument("--test", choices=("midp", "exact", "asymptotic", "asymptotic_cc"), default="midp")
    p.add_argument("--pairs", choices=("reference", "all"), default="reference")
    p.add_argument("--format", choices=("md", "csv", "latex", "json"), default="md")
    p.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument("--plots", metavar="DIR", help="write accuracy, accuracy-vs-cost and p-value PNGs here")
    p.add_argument("--no-derived", action="store_true", help="do not derive agent/majority/oracle systems from Decisions")
    p.add_argument("--bootstrap", type=int, default=2000, metavar="N", help="bootstrap resamples per pair (0: off)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="bootstrap seed")
    p.add_argument("--alpha", type=float, default=0.05, help="level of intervals and marks (default 0.05)")
    p.set_defaults(func=run)
    return p


# ---------------------------------------------------------------------------- building


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    from orch_eval.stats.intervals import wilson_interval

    w = wilson_interval(k, n, alpha)
    return w.low, w.high


def build_report(args: argparse.Namespace) -> dict[str, Any]:
    """Load, compare and collect everything a rendering needs (raises ``ValueError`` on bad input)."""
    from orch_eval.stats.diagnostics import merger_diagnostics
    from orch_eval.stats.loaders import LogLoadError, load_logs, summarize_sources
    from orch_eval.stats.report import compare

    derived = not args.no_derived
    loaded = load_logs(args.logs, names=args.name or None, filter=args.filter, derived=derived)
    wanted = [s.strip() for s in args.systems.split(",") if s.strip()] if args.systems else None
    names = loaded.select(wanted, derived=derived)
    reference = None
    if args.reference:
        reference = loaded.resolve(args.reference)
        if reference not in names:
            raise LogLoadError(f"reference {reference!r} is not among the selected systems {names}")
    if len(names) < 2:
        raise LogLoadError(f"need at least two systems to compare, got {names}")
    po = loaded.outcomes(names, intersect=args.intersect, derived=derived)
    report = compare(
        po,
        reference=reference,
        correction=args.correction,
        test=args.test,
        pairs=args.pairs,
        bootstrap=args.bootstrap,
        seed=args.seed,
        alpha=args.alpha,
    )
    items = set(po.item_ids)
    oracles = []
    if derived:
        for name, o in loaded.oracles.items():
            if not items <= set(o.correct):
                continue
            k = sum(bool(o.correct[i]) for i in items)
            low, high = _wilson(k, len(items), args.alpha)
            log = next(lg for lg in loaded.logs if lg.oracle is o)
            agents = [d for d in log.derived if d.kind == "agent"]
            indep = None
            if agents:
                miss = 1.0
                for a in agents:
                    miss *= 1 - sum(bool(a.correct[i]) for i in items) / len(items)
                indep = 1 - miss
            oracles.append(
                {"name": name, "n": len(items), "correct": k, "accuracy": k / len(items), "wilson_low": low,
                 "wilson_high": high, "independent_agents": indep, "agents": len(agents)}
            )
    diagnostics = []
    for log in loaded.panel_logs():
        ds = [d for i, d in log.decisions.items() if i in items]
        if ds and any(d.merge is not None for d in ds):
            diagnostics.append(merger_diagnostics(ds, system=log.name))
    notes = list(loaded.warnings)
    if args.intersect and any(len(loaded.systems[n].correct) != po.n for n in names):
        notes.append(
            "--intersect: kept the "
            f"{po.n} items common to all systems (" + ", ".join(f"{n}: {len(loaded.systems[n].correct)}" for n in names) + ")"
        )
    return {
        "report": report,
        "outcomes": po,
        "oracles": oracles,
        "diagnostics": diagnostics,
        "notes": notes,
        "sources": summarize_sources(loaded),
    }


# ---------------------------------------------------------------------------- rendering


def _no_reference_note(report: Any) -> str | None:
    if report.reference is None:
        return (
            f"No reference system was declared: all {len(report.comparisons)} pairs are compared and "
            f"corrected together ({report.correction}). Name one with --reference (chosen before "
            "looking at these results) for the 'does it beat X' question."
        )
    if report.pairs == "all":
        return f"All {len(report.comparisons)} pairs are compared (--pairs all) and corrected together."
    return None


def _oracle_md(oracles: list[dict[str, Any]]) -> list[str]:
    if not oracles:
        return []
    lines = ["## Upper bound (not a system)", ""]
    for o in oracles:
        lines.append(
            f"* **{o['name']}**: some consulted agent was right on {o['correct']}/{o['n']} items = "
            f"{o['accuracy']:.4f} [{o['wilson_low']:.4f}, {o['wilson_high']:.4f}]"
            + (
                f"; {o['independent_agents']:.4f} expected if the {o['agents']} agents erred independently"
                if o["independent_agents"] is not None
                else ""
            )
            + "."
        )
    lines.append(
        "* The oracle picks the right agent *after* seeing the gold answer: no merger can reach it by "
        "design. With agents near chance it is inflated by luck (on four-option questions, at least one of three "
        "agents guessing at random is right on 1 - 0.75^3 = 58% of items), so read it as a ceiling, never as a system."
    )
    lines.append("")
    return lines


def render_markdown(built: dict[str, Any]) -> str:
    report = built["report"]
    text = report.to_markdown().rstrip("\n").split("\n")
    note = _no_reference_note(report)
    if note:
        text.insert(3, note)
    lines = text + [""]
    lines += _oracle_md(built["oracles"])
    if built["diagnostics"]:
        for d in built["diagnostics"]:
            lines.append(d.to_markdown())
    if built.get("plots"):
        lines += ["## Plots", ""] + [f"* {p}" for p in built["plots"]] + [""]
    lines += ["## Sources", ""]
    for s in built["sources"]:
        extra = f"; filter {s['filter']}" if s["filter"] else ""
        der = f"; derived: {', '.join(s['derived'])}" if s["derived"] else ""
        lines.append(f"* `{s['path']}` ({s['harness']}{extra}): **{s['system']}**, {s['items']} items{der}")
    lines.append("")
    if built["notes"]:
        lines += ["## Notes", ""] + [f"* {n}" for n in built["notes"]] + [""]
    return "\n".join(lines)


def render_json(built: dict[str, Any]) -> str:
    from orch_eval.stats.report import _clean

    report = built["report"]
    out = report.to_dict()
    out["reference_note"] = _no_reference_note(report)
    out["oracle"] = built["oracles"]
    out["diagnostics"] = [d.to_dict() for d in built["diagnostics"]]
    out["sources"] = built["sources"]
    out["notes"] = built["notes"]
    out["plots"] = built.get("plots", [])
    return json.dumps(redact_data(_clean(out)), indent=2, allow_nan=False)


def write_plots(built: dict[str, Any], directory: str) -> list[str]:
    from orch_eval.stats.plots import plot_accuracy, plot_accuracy_vs_cost, plot_pvalue_heatmap

    report = built["report"]
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = [str(plot_accuracy(report, d / "accuracy.png"))]
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", UserWarning)
        cost = plot_accuracy_vs_cost(report, d / "accuracy_vs_cost.png")
    if cost is not None:
        written.append(str(cost))
    else:
        built["notes"].append("plots: no cost data, accuracy_vs_cost.png not drawn")
    if report.pairs == "all" and len(report.systems) >= 2:
        written.append(str(plot_pvalue_heatmap(report, d / "pvalues.png")))
    else:
        built["notes"].append("plots: the p-value heatmap needs all pairs (--pairs all or no --reference)")
    return written


def run(args: argparse.Namespace) -> int:
    """Entry point of ``orch-eval compare``; returns the exit code."""
    try:
        built = build_report(args)
        if args.bootstrap < 0:
            raise ValueError("--bootstrap must be >= 0")
        if args.plots:
            built["plots"] = write_plots(built, args.plots)
    except (ValueError, OSError) as ex:
        # one line, even for the multi-line item-set mismatch error
        message = "; ".join(line.strip() for line in str(ex).splitlines() if line.strip())
        print(f"orch-eval compare: {redact(message)}", file=sys.stderr)
        return 2
    report = built["report"]
    if args.format == "md":
        text = render_markdown(built)
    elif args.format == "json":
        text = render_json(built)
    elif args.format == "csv":
        text = report.to_csv("comparisons")
        if args.output:
            out = Path(args.output)
            systems_csv = redact(report.to_csv("systems")) or ""
            out.with_name(out.stem + ".systems.csv").write_text(systems_csv, encoding="utf-8")
        else:
            text = text + "\n" + report.to_csv("systems")
    else:
        text = report.to_latex("systems") + "\n" + report.to_latex("comparisons")
    text = redact(text) or ""  # the report carries names and notes read from the logs
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.format != "md" and args.format != "json":
        for n in built["notes"]:
            print(f"orch-eval compare: note: {redact(n)}", file=sys.stderr)
    return 0

