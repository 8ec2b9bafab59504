"""``orch-eval demo``: ORCH on real MMLU and GSM8K items with the embedded local panel.

Runs the unchanged ``inspect_evals/mmlu_0_shot`` and ``inspect_evals/gsm8k`` tasks through
the ``orch`` solver with ``solvers/local.yaml`` (four GGUF models from PyPI, CPU only), with
Inspect's progress display, writes the logs to ``logs/demo/``, and prints per benchmark the
accuracy of each agent alone (from the same calls), the majority vote, the oracle, and ORCH,
with paired McNemar mid-p values of each system against ORCH.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from orch_eval.cli_types import positive_int

DEFAULT_ITEMS = 8
"""Items per benchmark, chosen so the demo ends within 15 minutes on 2 cores (benchmarks/results/demo.md)."""

ALPHA = 0.05
"""Two-sided level of the demo's accuracy intervals (its table header shows the matching confidence level)."""

TASKS = {"mmlu": "inspect_evals/mmlu_0_shot", "gsm8k": "inspect_evals/gsm8k"}


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo",
        help="run ORCH on real MMLU and GSM8K items with the local GGUF panel",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--items", type=positive_int, default=DEFAULT_ITEMS, help=f"items per benchmark (default {DEFAULT_ITEMS})")
    p.add_argument("--panel", default="local", help="panel preset or YAML (default: local)")
    p.add_argument("--benchmarks", default="mmlu,gsm8k", help="comma-separated: mmlu, gsm8k")
    p.add_argument("--log-dir", default="logs/demo", help="where the Inspect logs go (default logs/demo)")
    p.add_argument("--display", default=None, help="Inspect display: full, rich, plain, none (default: Inspect's)")
    p.set_defaults(func=run)


def _check_models(panel: Any) -> None:
    """Fail early, with the command to fix it, when a local model is missing."""
    from orch_eval.core.errors import OrchConfigError
    from orch_eval.models import catalog

    names = [s.model_name for s in [*panel.agents, panel.merger] if s is not None]
    missing = []
    for name in names:
        if not name.startswith("gguf/"):
            continue
        try:
            catalog.resolve_model_path(name.split("/", 1)[1])
        except ValueError as ex:
            missing.append(str(ex).splitlines()[0])
    if missing:
        raise OrchConfigError(
            "local models are missing:\n  " + "\n  ".join(sorted(set(missing)))
            + "\nGet all four with: orch-eval models pull --all"
        )


def summary_rows(log_path: str) -> tuple[list[list[str]], int]:
    """Rows (system, accuracy, b/c vs ORCH, mid-p) for one log, and the item count."""
    from orch_eval.stats import PairedOutcomes, compare, load_inspect_log

    loaded = load_inspect_log(log_path)
    systems = {s.name: s.correct for s in [*loaded.derived, loaded.system]}
    outcomes = PairedOutcomes.from_dict(systems)
    report = compare(outcomes, reference=loaded.system.name, bootstrap=0, alpha=ALPHA)
    by_name = {c.system_a: c for c in report.comparisons}
    rows = []
    for s in report.systems:
        label = "ORCH (merged)" if s.system == loaded.system.name else s.system
        c = by_name.get(s.system)
        versus = "" if c is None else f"{c.b}/{c.c}"
        p = "" if c is None else f"{c.p_midp:.3f}"
        rows.append([label, f"{s.accuracy:.1%}", f"[{s.wilson_low:.0%}, {s.wilson_high:.0%}]", versus, p])
    if loaded.oracle is not None:
        acc = sum(loaded.oracle.correct.values()) / max(1, len(loaded.oracle.correct))
        rows.append(["oracle (any agent right; upper bound)", f"{acc:.1%}", "", "", ""])
    return rows, outcomes.n


def _table(rows: list[list[str]]) -> str:
    from orch_eval.stats.intervals import level_label

    header = ["system", "accuracy", f"{level_label(ALPHA)} CI", "b/c vs ORCH", "mid-p vs ORCH"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def run(args: argparse.Namespace) -> int:
    from orch_eval.core.sizes import check_size

    check_size("--items", args.items, "positive_int")  # argparse checks it too; this is for callers of run()
    from inspect_ai import eval as inspect_eval

    from orch_eval.core.panel import load_panel
    from orch_eval.inspect.solvers import orch

    import datasets

    datasets.logging.set_verbosity_error()  # offline cache notices would drown the progress display
    panel = load_panel(args.panel)
    _check_models(panel)
    chosen = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in TASKS]
    if unknown:
        from orch_eval.core.errors import OrchConfigError

        raise OrchConfigError(f"unknown benchmark(s) {unknown}; choose from {', '.join(TASKS)}")
    print(
        f"ORCH demo: panel {panel.name} ({panel.digest()}), {args.items} items each of "
        f"{', '.join(chosen)}; logs in {args.log_dir}/",
        file=sys.stderr,
    )
    start = time.perf_counter()
    logs = inspect_eval(
        [TASKS[b] for b in chosen],
        model=None,
        solver=orch(panel=str(args.panel)),
        limit=args.items,
        log_dir=args.log_dir,
        display=args.display,
        max_tasks=1,
    )
    elapsed = time.perf_counter() - start
    failed = [log for log in logs if log.status != "success"]
    for benchmark, log in zip(chosen, logs):
        if log.status != "success":
            print(f"\n{benchmark}: run did not complete ({log.status}): {log.error}", file=sys.stderr)
            continue
        rows, n = summary_rows(log.location)
        print(f"\n{benchmark} ({TASKS[benchmark]}, {n} items, log {Path(log.location).name})")
        print(_table(rows))
    print(
        f"\nTotal time {elapsed / 60:.1f} min. Agents near chance inflate the oracle by luck. "
        f"Full report: orch-eval compare {args.log_dir} --reference <system>"
    )
    return 1 if failed else 0
