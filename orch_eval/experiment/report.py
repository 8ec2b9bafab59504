"""The experiment's statistics report: per benchmark and pooled, from the logs of the run.

Systems that ran are read from their own logs (scored by the task's scorer). Single agents
and the majority vote declared as derived come from the base ORCH log's Decisions -- the same
calls, paired item by item. The reference is the one declared in the experiment file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from orch_eval.core.atomic import write_text_atomic
from orch_eval.core.redact import redact_data
from orch_eval.experiment.plan import lm_eval_unsupported
from orch_eval.stats.analysis import Analysis, analyse
from orch_eval.stats.loaders import (
    USAGE_FIELDS,
    LoadedLog,
    LoadedSystems,
    SystemData,
    load_inspect_log,
    load_lm_eval_samples,
    merge_shards,
)

if TYPE_CHECKING:
    from orch_eval.experiment.plan import Plan
    from orch_eval.experiment.runner import ExperimentResult


def _load_benchmark(
    plan: Plan, logs: Mapping[tuple[str, str], str | list[str]], bench: str
) -> tuple[LoadedSystems, list[str]]:
    notes: list[str] = []
    loaded_logs: list[LoadedLog] = []
    systems: dict[str, SystemData] = {}
    oracles: dict[str, SystemData] = {}
    clusters: dict[str, str] = {}
    warnings: list[str] = []
    bases = {s.derived_from for s in plan.systems if s.derived_from}
    lm_eval = bench.startswith("lm_eval:")
    for s in plan.systems:
        if not s.runs:
            continue
        if lm_eval and (why := lm_eval_unsupported(s)) is not None:
            notes.append(f"{s.name}: not run on {bench} ({why})")
            continue
        path = logs.get((s.name, bench))
        if path is None:
            notes.append(f"{s.name}: no finished log for {bench} (not run: cost limit or failure)")
            continue
        if lm_eval:  # one samples file: lm-eval benchmarks are never sharded (plan.check_shardable)
            log = load_lm_eval_samples(cast(str, path), name=s.name, derived=s.name in bases)
        elif isinstance(path, list):  # a sharded run: one log per shard, disjoint items, one system
            log = merge_shards([load_inspect_log(p, name=s.name, derived=s.name in bases) for p in path])
        else:
            log = load_inspect_log(path, name=s.name, derived=s.name in bases)
        loaded_logs.append(log)
        systems[s.name] = log.system
        warnings += log.warnings
        for item, label in log.clusters.items():
            clusters.setdefault(item, label)
        if s.name in bases:
            by_name = {d.name: d for d in log.derived}
            for t in plan.systems:
                if t.derived_from != s.name:
                    continue
                if t.kind == "majority":
                    src = by_name.get("majority")
                else:
                    src = next((d for d in log.derived if d.name.startswith(f"agent{t.slot}:")), None)
                if src is None:
                    notes.append(f"{t.name}: could not be derived from {s.name}'s Decisions")
                    continue
                systems[t.name] = replace(src, name=t.name)
            if log.oracle is not None:
                oracles[f"oracle ({s.name})"] = SystemData(
                    f"oracle ({s.name})", "oracle", log.oracle.correct, log.oracle.source
                )
    order = [s.name for s in plan.systems if s.name in systems]
    systems = {n: systems[n] for n in order}
    return LoadedSystems(loaded_logs, systems, oracles, clusters, warnings), notes


def _built(plan: Plan, loaded: LoadedSystems, notes: list[str], intersect: bool, benchmark: str) -> Analysis:
    spec = plan.experiment.report
    names = list(loaded.systems)
    reference = plan.reference if plan.reference in names else None
    if plan.reference is not None and reference is None:
        notes.append(
            f"the declared reference {plan.reference!r} has no results: all pairs are compared instead"
        )
    return analyse(
        loaded,
        reference=reference,
        intersect=intersect,
        correction=spec.correction,
        test=spec.test,
        bootstrap=spec.bootstrap,
        seed=plan.experiment.seed,
        alpha=spec.alpha,
        benchmark=benchmark,
        notes=notes,
    )


_PER_ITEM = ("cost", "latency", *USAGE_FIELDS)


def _pooled(plan: Plan, per_bench: dict[str, LoadedSystems]) -> LoadedSystems | None:
    """All benchmarks as one item set (ids prefixed by benchmark), systems present everywhere."""
    if len(per_bench) < 2:
        return None
    common = [
        n for n in next(iter(per_bench.values())).systems if all(n in ls.systems for ls in per_bench.values())
    ]
    if len(common) < 2:
        return None
    systems: dict[str, SystemData] = {}
    clusters: dict[str, str] = {}
    for n in common:
        per_item: dict[str, dict[str, Any] | None] = {f: {} for f in _PER_ITEM}
        correct: dict[str, bool] = {}
        for bench, ls in per_bench.items():
            sd = ls.systems[n]
            correct.update({f"{bench}/{i}": v for i, v in sd.correct.items()})
            for f in _PER_ITEM:
                mine, theirs = per_item[f], getattr(sd, f)
                per_item[f] = (
                    None
                    if mine is None or theirs is None
                    else {**mine, **{f"{bench}/{i}": v for i, v in theirs.items()}}
                )
        pooled = SystemData(n, per_bench[next(iter(per_bench))].systems[n].kind, correct, "pooled")
        for f, values in per_item.items():
            setattr(pooled, f, values)
        systems[n] = pooled
    for bench, ls in per_bench.items():
        ids = next(iter(ls.systems.values())).correct
        for i in ids:
            clusters[f"{bench}/{i}"] = f"{bench}:{ls.clusters.get(i, bench)}"
    return LoadedSystems([], systems, {}, clusters, [])


def write_report(plan: Plan, result: ExperimentResult) -> tuple[dict[str, Any], list[str]]:
    """Write ``report.md`` and ``report.json`` (and plots) into the log dir; return the JSON."""
    spec = plan.experiment.report
    d = plan.log_dir
    d.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, Analysis | None, list[str]]] = []
    per_bench: dict[str, LoadedSystems] = {}
    paths: list[str] = []
    for b in plan.benchmarks:
        loaded, notes = _load_benchmark(plan, result.logs, b.short)
        if len(loaded.systems) < 2:
            sections.append(
                (b.short, None, notes + [f"fewer than two systems have results for {b.short}: no comparison"])
            )
            continue
        per_bench[b.short] = loaded
        sections.append((b.short, _built(plan, loaded, notes, False, b.short), []))
    pooled = _pooled(plan, per_bench)
    if pooled is not None:
        sections.append(
            ("all benchmarks (pooled)", _built(plan, pooled, [], False, "all benchmarks (pooled)"), [])
        )

    md = [f"# Experiment {plan.experiment.name}", ""]
    if plan.experiment.description:
        md += [plan.experiment.description.strip(), ""]
    md += [
        f"* status: **{result.status}**" + (f" — {result.message}" if result.message else ""),
        f"* panel: {plan.panel.name} (digest {plan.panel.digest()}); cost of the Decisions: "
        f"{result.cost:.4f} {plan.panel.currency}",
        f"* reference (declared in {plan.experiment.source or 'the experiment'}): {plan.reference}",
        "* items: " + "; ".join(f"{b.short}: {len(b.ids)}" for b in plan.benchmarks),
        "* systems: "
        + ", ".join(
            s.name + (f" (from {s.derived_from}'s Decisions)" if s.derived_from else "") for s in plan.systems
        ),
        "",
    ]
    out_json: dict[str, Any] = {
        "experiment": plan.experiment.name,
        "source": plan.experiment.source,
        "status": result.status,
        "message": result.message,
        "cost": result.cost,
        "currency": plan.panel.currency,
        "panel": plan.panel.describe(),
        "reference": plan.reference,
        "systems": [s.describe() for s in plan.systems],
        "items": plan.items_manifest(),
        "benchmarks": {},
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for title, built, notes in sections:
        md += [f"## {title}", ""]
        if built is None:
            md += [f"* {n}" for n in notes] + [""]
            out_json["benchmarks"][title] = {"notes": notes}
            continue
        if spec.plots:
            slug = title.split(" ")[0]
            try:
                built.write_plots(d / "report_plots" / slug)
                built.plots = [str(Path(p).relative_to(d)) for p in built.plots]
            except ImportError as ex:  # matplotlib missing
                built.notes.append(f"plots not drawn: {ex}")
        text = built.to_markdown()
        md += ["##" + line if line.startswith("#") else line for line in text.splitlines()] + [""]
        out_json["benchmarks"][title] = built.to_dict()
    # names and notes come from the logs: written redacted, like every file orch_eval writes
    write_text_atomic(d / "report.md", "\n".join(md))
    write_text_atomic(d / "report.json", json.dumps(redact_data(out_json), indent=2))
    paths += [str(d / "report.md"), str(d / "report.json")]
    return out_json, paths
