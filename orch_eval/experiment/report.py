"""The experiment's statistics report: per benchmark and pooled, from the logs of the run.

Systems that ran are read from their own logs (scored by the task's scorer). Single agents
and the majority vote declared as derived come from the base ORCH log's Decisions -- the same
calls, paired item by item. The reference is the one declared in the experiment file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch_eval.experiment.lm_eval_runs import unsupported as lm_eval_unsupported
from orch_eval.stats.loaders import (
    LoadedLog,
    LoadedSystems,
    SystemData,
    load_inspect_log,
    load_lm_eval_samples,
    merge_shards,
)
from orch_eval.stats.report import compare

if TYPE_CHECKING:
    from orch_eval.experiment.plan import Plan
    from orch_eval.experiment.runner import ExperimentResult


def _load_benchmark(plan: "Plan", logs: "dict[tuple[str, str], str | list[str]]", bench: str) -> tuple[LoadedSystems, list[str]]:
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
        if lm_eval:
            log = load_lm_eval_samples(path, name=s.name, derived=s.name in bases)
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
                systems[t.name] = SystemData(t.name, src.kind, src.correct, src.source, src.cost, src.latency)
            if log.oracle is not None:
                oracles[f"oracle ({s.name})"] = SystemData(
                    f"oracle ({s.name})", "oracle", log.oracle.correct, log.oracle.source
                )
    order = [s.name for s in plan.systems if s.name in systems]
    systems = {n: systems[n] for n in order}
    return LoadedSystems(loaded_logs, systems, oracles, clusters, warnings), notes


def _built(plan: "Plan", loaded: LoadedSystems, notes: list[str], outcomes: Any) -> dict[str, Any]:
    from orch_eval.stats.diagnostics import merger_diagnostics
    from orch_eval.stats.intervals import wilson_interval
    from orch_eval.stats.loaders import summarize_sources

    spec = plan.experiment.report
    names = list(outcomes.systems)
    reference = plan.reference if plan.reference in names else None
    if plan.reference is not None and reference is None:
        notes.append(f"the declared reference {plan.reference!r} has no results: all pairs are compared instead")
    rep = compare(
        outcomes,
        reference=reference,
        correction=spec.correction,
        test=spec.test,
        bootstrap=spec.bootstrap,
        seed=plan.experiment.seed,
        alpha=spec.alpha,
    )
    items = set(outcomes.item_ids)
    oracles = []
    for name, o in loaded.oracles.items():
        if not items <= set(o.correct):
            continue
        k = sum(bool(o.correct[i]) for i in items)
        w = wilson_interval(k, len(items), spec.alpha)
        oracles.append({"name": name, "n": len(items), "correct": k, "accuracy": k / len(items),
                        "wilson_low": w.low, "wilson_high": w.high, "independent_agents": None, "agents": 0})
    diagnostics = []
    for log in loaded.panel_logs():
        ds = [d for i, d in log.decisions.items() if i in items]
        if ds and any(d.merge is not None for d in ds):
            diagnostics.append(merger_diagnostics(ds, system=log.name))
    return {
        "report": rep,
        "outcomes": outcomes,
        "oracles": oracles,
        "diagnostics": diagnostics,
        "notes": notes + list(loaded.warnings),
        "sources": summarize_sources(loaded),
    }


def _pooled(plan: "Plan", per_bench: dict[str, LoadedSystems]) -> LoadedSystems | None:
    """All benchmarks as one item set (ids prefixed by benchmark), systems present everywhere."""
    if len(per_bench) < 2:
        return None
    common = [n for n in next(iter(per_bench.values())).systems if all(n in ls.systems for ls in per_bench.values())]
    if len(common) < 2:
        return None
    systems: dict[str, SystemData] = {}
    clusters: dict[str, str] = {}
    for n in common:
        correct: dict[str, bool] = {}
        cost: dict[str, float] | None = {}
        latency: dict[str, float] | None = {}
        for bench, ls in per_bench.items():
            sd = ls.systems[n]
            correct.update({f"{bench}/{i}": v for i, v in sd.correct.items()})
            cost = None if cost is None or sd.cost is None else {**cost, **{f"{bench}/{i}": v for i, v in sd.cost.items()}}
            latency = None if latency is None or sd.latency is None else {
                **latency, **{f"{bench}/{i}": v for i, v in sd.latency.items()}}
        systems[n] = SystemData(n, ls.systems[n].kind, correct, "pooled", cost, latency)
    for bench, ls in per_bench.items():
        ids = next(iter(ls.systems.values())).correct
        for i in ids:
            clusters[f"{bench}/{i}"] = f"{bench}:{ls.clusters.get(i, bench)}"
    return LoadedSystems([], systems, {}, clusters, [])


def write_report(plan: "Plan", result: "ExperimentResult") -> tuple[dict[str, Any], list[str]]:
    """Write ``report.md`` and ``report.json`` (and plots) into the log dir; return the JSON."""
    from orch_eval.stats.cli import render_json, render_markdown, write_plots

    spec = plan.experiment.report
    d = plan.log_dir
    d.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, dict[str, Any] | None, list[str]]] = []
    per_bench: dict[str, LoadedSystems] = {}
    paths: list[str] = []
    for b in plan.benchmarks:
        loaded, notes = _load_benchmark(plan, result.logs, b.short)
        if len(loaded.systems) < 2:
            sections.append((b.short, None, notes + [f"fewer than two systems have results for {b.short}: no comparison"]))
            continue
        per_bench[b.short] = loaded
        outcomes = loaded.outcomes(intersect=False)
        sections.append((b.short, _built(plan, loaded, notes, outcomes), []))
    pooled = _pooled(plan, per_bench)
    if pooled is not None:
        sections.append(("all benchmarks (pooled)", _built(plan, pooled, [], pooled.outcomes()), []))

    md = [f"# Experiment {plan.experiment.name}", ""]
    if plan.experiment.description:
        md += [plan.experiment.description.strip(), ""]
    md += [
        f"* status: **{result.status}**" + (f" — {result.message}" if result.message else ""),
        f"* panel: {plan.panel.name} (digest {plan.panel.digest()}); cost of the Decisions: "
        f"{result.cost:.4f} {plan.panel.currency}",
        f"* reference (declared in {plan.experiment.source or 'the experiment'}): {plan.reference}",
        "* items: " + "; ".join(f"{b.short}: {len(b.ids)}" for b in plan.benchmarks),
        "* systems: " + ", ".join(
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
                built["plots"] = [str(Path(p).relative_to(d)) for p in write_plots(built, str(d / "report_plots" / slug))]
            except ImportError as ex:  # matplotlib missing
                built["notes"].append(f"plots not drawn: {ex}")
        text = render_markdown(built)
        md += ["##" + line if line.startswith("#") else line for line in text.splitlines()] + [""]
        out_json["benchmarks"][title] = json.loads(render_json(built))
    (d / "report.md").write_text("\n".join(md), encoding="utf-8")
    (d / "report.json").write_text(json.dumps(out_json, indent=2), encoding="utf-8")
    paths += [str(d / "report.md"), str(d / "report.json")]
    return out_json, paths
