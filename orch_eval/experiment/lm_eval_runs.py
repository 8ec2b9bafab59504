"""lm-eval benchmarks inside an experiment (``harness: lm_eval``).

A benchmark entry with ``harness: lm_eval`` names an lm-evaluation-harness task (one task, not a
group) of a family the adapter reads documents of (``mmlu_<subject>`` -- the log-likelihood
multiple-choice task --, ``mmlu_<subject>_generative``, ``mmlu_flan_cot_zeroshot_<subject>``,
``mmlu_pro[_<category>]``, ``gsm8k``, ``gsm8k_cot``). Its items are document indices of the
task's evaluation split (``items.n``, first or seeded, or ``items.ids``), passed to
``lm_eval.simple_evaluate(samples=...)``.

Each ORCH system (``orch``, ``dispatch``) runs through the ``orch`` lm-eval model with the
system's panel; samples, aggregated results and the Decision sidecars are written to
``<log dir>/lm_eval/<system>/<task>/``, and a ``done.json`` marker (solver digest, items,
samples file) says the run finished. A rerun skips finished runs and redoes an unfinished one,
its finished model calls from Inspect's cache. ``single`` and ``majority`` come from the base
ORCH system's Decisions (as on Inspect benchmarks); ``direct`` and routed systems need Inspect
(the letter-only prompt, the eval's sample order) and are skipped on lm-eval benchmarks with a
note in the report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch_eval.core.errors import OrchConfigError
from orch_eval.experiment.config import METHOD_KINDS
from orch_eval.experiment.plan import solver_digest

if TYPE_CHECKING:
    from orch_eval.experiment.items import BenchmarkItems
    from orch_eval.experiment.plan import Plan, SystemPlan

DONE_FILE = "done.json"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)


def out_dir(plan: Plan, system: SystemPlan, bench: BenchmarkItems) -> Path:
    return plan.log_dir / "lm_eval" / _slug(system.name) / bench.spec.task


def _marker(plan: Plan, system: SystemPlan, bench: BenchmarkItems) -> dict[str, Any]:
    return {
        "experiment": plan.experiment.name,
        "system": system.name,
        "benchmark": bench.short,
        "task": bench.spec.task,
        "solver_digest": solver_digest(system),
        "task_args": bench.task_args,
        "items": [str(i) for i in bench.ids],
    }


def finished(plan: Plan, system: SystemPlan, bench: BenchmarkItems) -> str | None:
    """The samples file of a finished run of this exact setup, if any."""
    path = out_dir(plan, system, bench) / DONE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    want = _marker(plan, system, bench)
    if any(data.get(k) != v for k, v in want.items()):
        return None
    samples = path.parent / str(data.get("samples", ""))
    return str(samples) if samples.is_file() else None


def run(plan: Plan, system: SystemPlan, bench: BenchmarkItems) -> str:
    """Run one ORCH system on one lm-eval benchmark (unless finished); its samples file."""
    done = finished(plan, system, bench)
    if done is not None:
        return done
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    import orch_eval.lm_eval  # noqa: F401  registers --model orch and the Decision sidecar writer
    from orch_eval.core.atomic import write_text_atomic

    directory = out_dir(plan, system, bench)
    directory.mkdir(parents=True, exist_ok=True)
    tracker = EvaluationTracker(output_path=str(directory))
    panel = system.panel.model_dump(mode="json")
    model_args: dict[str, Any] = {"panel": panel, "progress": False}
    if system.kind in METHOD_KINDS:
        model_args.update(method=system.kind, **system.method_args())
    results = lm_eval.simple_evaluate(
        model="orch",
        model_args=model_args,
        tasks=[bench.spec.task],
        samples={bench.spec.task: [int(i) for i in bench.ids]},
        log_samples=True,
        evaluation_tracker=tracker,
        **bench.task_args,
    )
    if results is None:  # pragma: no cover - non-zero ranks only
        raise OrchConfigError(f"{system.name} on {bench.short}: lm-eval returned no results")
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name=bench.spec.task, samples=samples[bench.spec.task])
    found = sorted(directory.rglob(f"samples_{bench.spec.task}_{tracker.date_id}.jsonl"))
    if not found:
        raise OrchConfigError(
            f"{system.name} on {bench.short}: lm-eval wrote no samples file under {directory}"
        )
    marker = {**_marker(plan, system, bench), "samples": str(found[-1].relative_to(directory))}
    write_text_atomic(directory / DONE_FILE, json.dumps(marker, indent=2))
    return str(found[-1])
