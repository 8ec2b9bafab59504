"""Run an experiment: one Inspect ``eval_set`` log dir, systems in file order, a cost limit,
and the statistics report at the end.

Systems run one after another (each as a growing ``eval_set`` over the same log dir, so a
rerun skips finished tasks and resumes unfinished ones, and Inspect's cache shares analyses
between systems); benchmarks of one system run concurrently. Systems derivable from the base
ORCH log (single agents with the same prompt and budget, the majority vote, the oracle) are
not run: the report reads them from its Decisions.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch_eval.core.atomic import write_text_atomic
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.sizes import check_size
from orch_eval.experiment import lm_eval_runs
from orch_eval.experiment.config import Experiment, load_experiment
from orch_eval.experiment.plan import (
    Estimate,
    Plan,
    SystemPlan,
    build_plan,
    estimate,
    format_estimate,
    lm_eval_unsupported,
    parse_shard,
    solver_digest,
)

logger = logging.getLogger(__name__)

META_KEY = "orch_experiment"
PLAN_FILE = "plan.json"


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` did."""

    plan: Plan
    status: str
    """``complete``, ``dry_run``, ``cost_limit`` (stopped cleanly), or ``failed``."""
    message: str = ""
    cost: float = 0.0
    """Cost of the Decisions in the experiment's logs (panel currency)."""
    estimate: list[Estimate] = field(default_factory=list)
    logs: Mapping[tuple[str, str], str | list[str]] = field(default_factory=dict)
    """(system, benchmark) → log file of each system that ran (a sharded run's report: one log per shard)."""
    report: dict[str, Any] | None = None
    report_paths: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("complete", "dry_run")


def _make_solver(system: SystemPlan) -> Any:
    from orch_eval.inspect import solvers

    name, args = system.solver()
    return getattr(solvers, name)(**args)


def build_tasks(plan: Plan, system: SystemPlan) -> list[Any]:
    from inspect_ai import task_with

    from orch_eval.experiment.items import make_task

    tasks = []
    for b in plan.inspect_benchmarks:
        t = make_task(b.short, b.task_args)
        meta = dict(t.metadata or {})
        meta[META_KEY] = {
            "experiment": plan.experiment.name,
            "system": system.name,
            "benchmark": b.short,
            "solver_digest": solver_digest(system),
            **({"shard": plan.shard_label} if plan.shard is not None else {}),
        }
        tasks.append(task_with(t, solver=_make_solver(system), metadata=meta))
    return tasks


def sample_selectors(plan: Plan) -> list[str]:
    """``<task>:<id>`` selectors: each benchmark's items, scoped to its own task."""
    return [f"{b.task}:{i}" for b in plan.inspect_benchmarks for i in plan.shard_ids(b)]


# ---------------------------------------------------------------------------- logs


def find_logs(plan: Plan) -> dict[tuple[str, str], str]:
    """(system, benchmark) → the newest successful log of that system's exact solver setup
    (an Inspect ``.eval`` file, or an lm-eval samples file for lm-eval benchmarks); with a shard,
    the logs of this shard."""
    lm = {
        (s.name, b.short): path
        for s in plan.runnable
        for b in plan.benchmarks
        if b.is_lm_eval and (path := lm_eval_runs.finished(plan, s, b)) is not None
    }
    return {**_find_inspect_logs(plan, plan.shard), **lm}


def find_shard_logs(plan: Plan) -> dict[tuple[str, str], list[str]] | None:
    """Every shard's logs, (system, benchmark) → one log per shard, once all N shards of every
    runnable system have finished (else None: the report waits for the last shard)."""
    assert plan.shard is not None
    n = plan.shard[1]
    per_shard = [_find_inspect_logs(plan, (k, n)) for k in range(1, n + 1)]
    keys = {(s.name, b.short) for s in plan.runnable for b in plan.inspect_benchmarks}
    if not all(keys <= set(found) for found in per_shard):
        return None
    return {key: [found[key] for found in per_shard] for key in sorted(keys)}


def missing_shards(plan: Plan) -> list[str]:
    """``i/N`` of the shards that have not finished every runnable system yet."""
    assert plan.shard is not None
    n = plan.shard[1]
    keys = {(s.name, b.short) for s in plan.runnable for b in plan.inspect_benchmarks}
    return [f"{k}/{n}" for k in range(1, n + 1) if not keys <= set(_find_inspect_logs(plan, (k, n)))]


def _find_inspect_logs(plan: Plan, shard: tuple[int, int] | None) -> dict[tuple[str, str], str]:
    from inspect_ai.log import list_eval_logs, read_eval_log

    from orch_eval.stats.loaders import inspect_sample_ids

    folder = plan.shard_dir(shard)
    if not folder.is_dir():
        return {}
    want = {(solver_digest(s), b.short): s.name for s in plan.runnable for b in plan.benchmarks}
    items = {b.short: [str(i) for i in plan.shard_ids(b, shard)] for b in plan.benchmarks}
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for info in list_eval_logs(str(folder), recursive=False):
        try:
            h = read_eval_log(info.name, header_only=True)
        except Exception:  # noqa: BLE001 - a torn log is simply not finished
            continue
        meta = (h.eval.metadata or {}).get(META_KEY)
        if h.status != "success" or not isinstance(meta, dict):
            continue
        key = (meta.get("solver_digest"), meta.get("benchmark"))
        if key not in want:
            continue
        try:
            ids = inspect_sample_ids(info.name, h)
        except Exception:  # noqa: BLE001 - samples that cannot be listed: not a finished log
            continue
        if sorted(ids) != sorted(items[key[1]]):
            continue
        system = want[key]
        created = h.eval.created
        prev = found.get((system, key[1]))
        if prev is None or created > prev[0]:
            found[(system, key[1])] = (created, info.name)
    return {k: _local(v[1]) for k, v in found.items()}


def _local(uri: str) -> str:
    return uri[len("file://") :] if uri.startswith("file://") else uri


def decision_cost(paths: list[str]) -> float:
    from inspect_ai.log import read_eval_log_samples

    from orch_eval.stats.loaders import load_lm_eval_samples

    total = 0.0
    for p in paths:
        if p.endswith(".jsonl"):  # lm-eval samples: the Decisions are in the sidecar
            total += sum(d.cost for d in load_lm_eval_samples(p, derived=False).decisions.values())
            continue
        for s in read_eval_log_samples(p, all_samples_required=False):
            d = (s.metadata or {}).get("orch")
            if isinstance(d, dict):
                total += float(d.get("cost") or 0.0)
    return total


INTERRUPTED_SUFFIX = ".interrupted"


def set_aside_interrupted_routed(plan: Plan) -> list[str]:
    """Rename unfinished logs of routed systems to ``<log>.interrupted`` and return them.

    Inspect's retry (which ``eval_set`` does for an unfinished log) re-runs the unfinished
    samples out of dataset order, which the prequential router refuses (docs/router.md). Without
    the old log, ``eval_set`` runs the task afresh in dataset order: its finished samples replay
    from Inspect's cache (no model call), so the router sees the same feedback and makes the same
    decisions as an uninterrupted run. The old log is kept, renamed, for inspection."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    routed = {
        solver_digest(s) for s in plan.runnable if s.panel.router is not None and s.panel.router.enabled
    }
    if not routed or not plan.log_dir.is_dir():
        return []
    moved = []
    for info in list_eval_logs(str(plan.log_dir), recursive=False):
        path = Path(_local(info.name))
        try:
            h = read_eval_log(str(path), header_only=True)
        except Exception:  # noqa: BLE001 - unreadable: not ours to judge
            continue
        meta = (h.eval.metadata or {}).get(META_KEY)
        if h.status == "success" or not isinstance(meta, dict) or meta.get("solver_digest") not in routed:
            continue
        target = path.with_name(path.name + INTERRUPTED_SUFFIX)
        path.replace(target)
        moved.append(str(target))
        logger.warning(
            "routed system %s: unfinished log set aside as %s (rerun from the start, cached)",
            meta.get("system"),
            target.name,
        )
    return moved


def _check_manifest(plan: Plan) -> None:
    """A log dir holds one item subset: refuse to mix subsets (a changed file or --limit)."""
    path = plan.log_dir / PLAN_FILE
    items = plan.items_manifest()
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8")).get("items", {})
        except (OSError, json.JSONDecodeError):
            old = {}
        for bench, ids in items.items():
            if bench in old and old[bench] != ids:
                raise OrchConfigError(
                    f"{plan.log_dir}: holds a run of {bench} on a different item subset "
                    f"({len(old[bench])} items vs {len(ids)} now); use another --log-dir (or delete it)"
                )
        items = {**old, **items}
    plan.log_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "experiment": plan.experiment.name,
        "source": plan.experiment.source,
        "panel_digest": plan.panel.digest(),
        "reference": plan.reference,
        "systems": [s.describe() for s in plan.systems],
        "items": items,
    }
    write_text_atomic(path, json.dumps(data, indent=2))


# ---------------------------------------------------------------------------- running


def run_experiment(
    experiment: str | Path | dict[str, Any] | Experiment,
    *,
    dry_run: bool = False,
    cost_limit: float | None = None,
    log_dir: str | Path | None = None,
    max_samples: int | None = None,
    limit: int | None = None,
    display: str | None = "none",
    report: bool = True,
    out: Any = None,
    eval_set_args: dict[str, Any] | None = None,
    shard: str | tuple[int, int] | None = None,
) -> ExperimentResult:
    """Run (or, with ``dry_run``, estimate) an experiment; see the module docstring.

    ``cost_limit`` (default: the file's) is checked between systems: once the Decisions'
    cost reaches it, no further system starts, and the report covers what finished.
    ``limit``, ``max_samples`` and ``cost_limit`` must be positive (an :class:`OrchConfigError`
    otherwise, raised before the file is read or anything is written).

    ``shard="i/N"`` runs only shard ``i`` of every benchmark's items (positions ``i-1, i-1+N, ...``
    in dataset order), logging to ``<log dir>/shards/<i>-of-<N>/``; shards run as separate
    processes (on separate machines with a shared log dir and Inspect cache), and the report is
    written by the run that finds all N shards finished.
    """
    check_size("limit", limit, "positive_int")
    check_size("max_samples", max_samples, "positive_int")
    check_size("cost_limit", cost_limit, "positive_number")
    out = out or sys.stdout
    exp = load_experiment(experiment)
    plan = build_plan(
        exp, log_dir=log_dir, limit=limit, shard=parse_shard(shard) if isinstance(shard, str) else shard
    )
    rows = estimate(plan)
    if dry_run:
        print(format_estimate(plan, rows), file=out)
        return ExperimentResult(plan, "dry_run", estimate=rows)

    from inspect_ai import eval_set

    limit_cost = cost_limit if cost_limit is not None else exp.cost_limit
    _check_manifest(plan)
    for moved in set_aside_interrupted_routed(plan):
        print(
            f"orch-eval run: a routed system's unfinished log was set aside ({Path(moved).name}); "
            "it reruns from its first item, finished items from the cache",
            file=out,
        )
    result = ExperimentResult(plan, "complete", estimate=rows)
    selectors = sample_selectors(plan)
    tasks: list[Any] = []
    done: list[SystemPlan] = []
    spent = 0.0
    for system in plan.runnable:
        if limit_cost is not None and spent >= limit_cost:
            left = [s.name for s in plan.runnable if s not in done]
            result.status = "cost_limit"
            result.message = (
                f"cost limit reached: {spent:.4f} {plan.panel.currency} spent >= cost_limit {limit_cost}; "
                f"not run: {', '.join(left)}. The report covers the systems that finished; raise the limit "
                "and rerun the same command to continue (finished work is reused)."
            )
            break
        benches = [b for b in plan.benchmarks if not (b.is_lm_eval and lm_eval_unsupported(system))]
        print(f"orch-eval run: {system.name} on {', '.join(b.short for b in benches) or 'nothing'}", file=out)
        success = True
        if plan.inspect_benchmarks:
            tasks += build_tasks(plan, system)
            args: dict[str, Any] = dict(
                log_dir=str(plan.shard_dir()),
                model="none/none",
                sample_id=selectors,
                max_samples=max_samples or exp.max_samples,
                max_tasks=max(1, len(plan.inspect_benchmarks)),
                display=display,
                log_format="eval",
                log_dir_allow_dirty=True,
                retry_wait=1,
            )
            args.update(eval_set_args or {})
            try:
                success, _logs = eval_set(tasks, **args)
            except Exception as ex:  # noqa: BLE001 - a clear message and a partial report
                success = False
                result.message = f"{system.name}: eval_set failed: {type(ex).__name__}: {ex}"
        for b in benches:
            if not (success and b.is_lm_eval):
                continue
            try:
                lm_eval_runs.run(plan, system, b)
            except Exception as ex:  # noqa: BLE001 - a clear message and a partial report
                success = False
                result.message = f"{system.name} on {b.short}: lm-eval failed: {type(ex).__name__}: {ex}"
        done.append(system)
        found = find_logs(plan)
        mine = [found[(system.name, b.short)] for b in benches if (system.name, b.short) in found]
        if not success or len(mine) < len(benches):
            result.status = "failed"
            result.message = result.message or (
                f"{system.name}: not every benchmark finished successfully (see the logs in {plan.log_dir}); "
                "rerun the same command to retry the unfinished work"
            )
            break
        spent += decision_cost(mine)
    result.cost = spent
    result.logs = find_logs(plan)
    if result.message:
        print(f"orch-eval run: {result.message}", file=out)
    if report and plan.shard is not None:
        everything = find_shard_logs(plan) if result.status == "complete" else None
        if everything is None:
            left = missing_shards(plan)
            print(
                f"orch-eval run: shard {plan.shard_label} done; the report is written once every shard has "
                f"finished (waiting for {', '.join(left) or 'none'})",
                file=out,
            )
            return result
        result.logs = everything
        result.cost = decision_cost([p for paths in everything.values() for p in paths])
        print(f"orch-eval run: all {plan.shard[1]} shards finished: writing the report", file=out)
    if report:
        from orch_eval.experiment.report import write_report

        result.report, result.report_paths = write_report(plan, result)
        for p in result.report_paths:
            print(f"orch-eval run: wrote {p}", file=out)
    return result
