"""The demo (the README's main command): the comparison a newcomer needs to see first.

On the first items of the unchanged ``inspect_evals/mmlu_0_shot`` and ``inspect_evals/gsm8k``
tasks, with the embedded local models (four GGUF models from PyPI, CPU only), it runs

- the strongest local model alone (``single``: the same analysis prompt and budget as ORCH's
  agents), declared the reference before the run;
- ORCH with the local panel (three small agents, the same strongest model as merger), and from the
  same calls the agents' majority vote;
- with ``k`` > 0, self-consistency of the strongest model (``k`` samples at ``temperature``): the
  compute-matched alternative (3 samples cost about as much as ORCH's 4 calls). It is off by
  default: it more than doubles the demo's time (measured: 5 items each with ``k=3``, 16.7 min in
  all), and the demo must end within 10 minutes; the methods benchmark measures it with power,

and prints, per benchmark, one table with each system's accuracy and its paired verdict against
the reference (McNemar mid-p, Holm-corrected), the compute each spent per item, a one-line
legend, and the commands that show the full report and the leaderboard of the same logs.

Logs go to ``<log dir>/<panel>-<items>/`` through Inspect's ``eval_set``: the same demo run again
makes no model call, and a demo of another size writes to its own folder.
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch_eval.benchmarks import BENCHMARKS
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.sizes import check_size

if TYPE_CHECKING:
    from inspect_ai.util import DisplayType

DEFAULT_ITEMS = 4
"""Items per benchmark: the demo ends within 10 minutes on 2 idle cores, set-up included
(benchmarks/results/demo.md)."""
DEFAULT_K = 0
"""Self-consistency samples; 0 leaves self-consistency out (the default, for the time budget)."""
SC_HINT_K = 3
"""The ``--k`` the demo suggests for self-consistency (about the compute of ORCH's four calls)."""
DEFAULT_TEMPERATURE = 0.4
"""The sampling temperature of the self-consistency samples, chosen on a calibration split, never on
evaluated items: on 20 items of GSM8K's train split (tasks/calibration.py@gsm8k_train), self-consistency
of the 1.5B with 5 samples was right on 75 / 80 / 65 % of them at 0.2 / 0.4 / 0.7 (benchmarks/README.md,
the methods benchmark). MMLU's calibration has not been run; the demo uses the same value there."""
DEMO_BENCHMARKS = ("mmlu_0_shot", "gsm8k")
"""The registry benchmarks the demo runs, named in its options by their labels (mmlu, gsm8k)."""
TASKS = {BENCHMARKS[b].label: BENCHMARKS[b].task for b in DEMO_BENCHMARKS}


@dataclass
class DemoResult:
    """What :func:`run_demo` did: the log folder, one analysis per benchmark, the wall time."""

    log_dir: Path
    reference: str
    analyses: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)


def check_local_models(panel: Any) -> None:
    """Fail early, with the command to fix it, when a local model of ``panel`` is missing."""
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
            "local models are missing:\n  "
            + "\n  ".join(sorted(set(missing)))
            + "\nGet all four with: orch-eval models pull --all"
        )


def reference_panel(panel: Any) -> dict[str, Any]:
    """The strongest model alone as a one-agent panel: the panel's merger, with the panel's analysis
    budgets (so its answers are the fair single-model baseline)."""
    if panel.merger is None:
        raise OrchConfigError(f"panel {panel.name}: the demo needs a merger (its strongest model)")
    budgets = panel.budgets.model_dump(exclude={"dispatch"})
    return {
        "agents": [{"model": panel.merger.model_name, "args": dict(panel.merger.args)}],
        "budgets": budgets,
    }


def run_demo(
    panel: str = "local",
    items: int = DEFAULT_ITEMS,
    benchmarks: tuple[str, ...] = ("mmlu", "gsm8k"),
    k: int = DEFAULT_K,
    temperature: float = DEFAULT_TEMPERATURE,
    log_dir: str | Path = "logs/demo",
    display: DisplayType | None = None,
) -> DemoResult:
    """Run the demo's systems (see the module docstring) and analyse them per benchmark."""
    import datasets
    from inspect_ai import eval_set

    from orch_eval.core.panel import load_panel
    from orch_eval.inspect.solvers import orch, self_consistency, single
    from orch_eval.stats.analysis import analyse
    from orch_eval.stats.sources import load_benchmarks

    check_size("items", items, "positive_int")
    check_size("k", k, "non_negative_int")
    check_size("temperature", temperature, "non_negative_number")
    unknown = [b for b in benchmarks if b not in TASKS]
    if unknown:
        raise OrchConfigError(f"demo: unknown benchmark(s) {unknown}; choose from {', '.join(TASKS)}")
    datasets.logging.set_verbosity_error()  # offline cache notices would drown the progress display
    p = load_panel(panel)
    check_local_models(p)
    ref_panel = reference_panel(p)
    reference = f"single/{p.merger.model_name}"  # type: ignore[union-attr]
    folder = Path(log_dir) / f"{p.name or p.digest()}-{items}"
    print(
        f"ORCH demo: panel {p.name} ({p.digest()}), {items} items each of {', '.join(benchmarks)}; "
        f"reference (declared before the run): {reference}; logs in {folder}/",
        file=sys.stderr,
    )
    systems = [
        ("reference", single(**ref_panel)),
        ("orch", orch(panel=panel)),
    ]
    if k > 0:
        systems.append((f"sc{k}", self_consistency(**ref_panel, k=k, temperature=temperature)))
    result = DemoResult(folder, reference)
    start = time.perf_counter()
    for label, solver in systems:
        ok, logs = eval_set(
            [TASKS[b] for b in benchmarks],
            model=None,
            solver=solver,
            limit=items,
            log_dir=str(folder / label),
            display=display,
            max_tasks=1,
            log_dir_allow_dirty=True,
        )
        if not ok:
            result.failed += [
                f"{label} on {log.eval.task}: {log.status}" for log in logs if log.status != "success"
            ]
    result.seconds = time.perf_counter() - start
    for bench, loaded in load_benchmarks([folder]).items():
        keep = [
            n for n in loaded.names if not n.split(":", 1)[0].startswith("agent")
        ]  # the agents alone: see compare
        result.analyses[bench] = analyse(
            loaded, systems=keep, reference=reference, bootstrap=0, benchmark=bench
        )
    return result


def describe(name: str, panel_name: str, k: int, temperature: float) -> str:
    """What a demo system is, in a few words (beside its report name)."""
    if name.startswith("single/"):
        return "the strongest local model alone (reference)"
    if name.startswith("orch/"):
        return "ORCH: 3 small agents, the same strong model merges"
    if name == "majority":
        return "majority of ORCH's 3 agents (same calls)"
    if name.startswith("sc"):
        return f"self-consistency: the strong model, {k} samples at T={temperature}"
    return ""


def print_result(result: DemoResult, k: int, temperature: float, out: Any = None) -> None:
    """The demo's tables, compute and closing commands."""
    out = out or sys.stdout
    for bench, a in result.analyses.items():
        print(
            f"\n{bench} ({a.report.n_items} items; chance {a.chance:.0%})"
            if a.chance
            else f"\n{bench} ({a.report.n_items} items)",
            file=out,
        )
        print(a.verdict_table(), file=out)
        print(
            "what: "
            + "; ".join(
                f"{s.system} = {describe(s.system, '', k, temperature)}"
                for s in a.report.systems
                if describe(s.system, "", k, temperature)
            ),
            file=out,
        )
        print(
            "compute per item: "
            + "; ".join(
                f"{c.system}: {c.calls or 0:.0f} calls, {c.tokens or 0:.0f} tokens"
                for c in a.compute.values()
            ),
            file=out,
        )
    ref = result.reference
    if k == 0:
        print(
            "\nSelf-consistency of the strongest model (the compute-matched alternative) was left out to "
            f"keep the demo short: add --k {SC_HINT_K} (about 40 s more per item on 2 cores); measured in "
            "benchmarks/README.md (the methods row).",
            file=out,
        )
    print(
        f"\nTotal evaluation time {result.seconds / 60:.1f} min. Full reports and the leaderboard of these "
        "logs:\n"
        f"  orch-eval compare {shlex.quote(str(result.log_dir))} --reference {shlex.quote(ref)}\n"
        f"  orch-eval leaderboard {shlex.quote(str(result.log_dir))} "
        f"--output {shlex.quote(str(result.log_dir / 'leaderboard'))}",
        file=out,
    )
