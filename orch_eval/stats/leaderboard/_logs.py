"""A leaderboard from logs: its systems per benchmark.

Every input file is assigned to a benchmark first (:func:`orch_eval.stats.sources.benchmark_of`), then each
benchmark's files are read with :func:`orch_eval.stats.loaders.load_logs`, which names the
systems, derives each agent alone and the majority vote from ORCH Decisions, merges the
lm-eval task files of one run and refuses duplicate names. Grouping has to come first: one
lm-eval run folder often holds several benchmarks (``--tasks gsm8k,mmlu``), which
``load_logs`` would merge into one system.

The same system name on several benchmarks is the same system. Derived systems are named
``majority`` / ``agent<slot>:<model>`` when all benchmarks have one panel log, else
``<log system>:majority`` everywhere (so one name never means two systems).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from orch_eval.stats.analysis import mean_over, system_compute
from orch_eval.stats.leaderboard._board import (
    BenchmarkInput,
    Leaderboard,
    Oracle,
    Provenance,
    SystemDetails,
)
from orch_eval.stats.loaders import (
    LoadedLog,
    LoadedSystems,
    LogLoadError,
    SystemData,
)
from orch_eval.stats.outcomes import ItemSetMismatchError, PairedOutcomes
from orch_eval.stats.sources import SourceInfo, benchmark_of, group_by_benchmark, load_groups

__all__ = ["SourceInfo", "benchmark_of", "load_leaderboard"]

# ---------------------------------------------------------------------------- loading


def _base_name(loaded: LoadedSystems, log: LoadedLog, name: str) -> str:
    """A derived system's name as load_logs gives it with a single panel log."""
    prefixed = len([lg for lg in loaded.logs if lg.derived or lg.oracle is not None]) > 1
    return name.removeprefix(f"{log.name}:") if prefixed else name


def _panel(log: LoadedLog) -> str | None:
    if not log.decisions:
        return None
    d = next(iter(log.decisions.values()))
    return f"{d.panel_name} ({d.panel_digest})" if d.panel_name else d.panel_digest


def _provenance(log: LoadedLog, sd: SystemData, base: str, info: SourceInfo | None, bench: str) -> Provenance:
    panel = _panel(log)
    if sd.kind == "agent":
        model: str | None = base.split(":", 1)[1] if ":" in base else base
    elif sd.kind == "majority":
        model = f"majority vote of panel {panel}"
    else:
        model = info.model if info is not None and info.model else (f"panel {panel}" if panel else None)
    task = info.task if info is not None else None
    if log.harness == "lm_eval" and len(log.tasks) > 1:
        task = f"{bench} ({len(log.tasks)} tasks)"
    return Provenance(
        harness=log.harness,
        log=str(log.path),
        date=info.date if info is not None else None,
        model=model,
        panel=panel,
        task=task,
    )


def _details(sd: SystemData, items: Sequence[Any], provenance: Provenance) -> SystemDetails:
    used = system_compute(sd, [str(i) for i in items])  # the same per-item means compare reports
    return SystemDetails(
        kind=sd.kind,
        cost_per_item=used.cost,
        latency_per_item=used.latency,
        input_tokens_per_item=used.input_tokens,
        output_tokens_per_item=used.output_tokens,
        calls_per_item=used.calls,
        abstain_rate=mean_over(sd.abstained, [str(i) for i in items]),
        provenance=provenance,
    )


def _clusters(
    loaded: LoadedSystems, systems: Mapping[str, SystemData], intersect: bool
) -> dict[str, str] | None:
    sets = [set(sd.correct) for sd in systems.values()]
    items = set.intersection(*sets) if intersect else set().union(*sets)
    if not loaded.clusters or not all(i in loaded.clusters for i in items):
        return None
    return loaded.clusters if len({loaded.clusters[i] for i in items}) >= 2 else None


def load_leaderboard(
    paths: Sequence[str | Path],
    names: Sequence[str | None] | None = None,
    filter: str | None = None,
    intersect: bool = False,
    derived: bool = True,
) -> Leaderboard:
    """Read every LOG (files or folders, Inspect and lm-eval mixed) into a :class:`Leaderboard`.

    ``names[i]`` names the system of every file under ``paths[i]``. Raises
    :class:`~orch_eval.stats.loaders.LogLoadError` (a ``ValueError``) for unreadable inputs,
    duplicate system names within a benchmark, and -- unless ``intersect`` -- systems scored on
    different items of one benchmark (naming the systems and example item ids).
    """
    groups, infos = group_by_benchmark(paths, names)
    loaded = load_groups(groups, filter=filter, derived=derived)

    panel_names = {lg.name for ls in loaded.values() for lg in ls.logs if lg.derived or lg.oracle is not None}
    prefix = len(panel_names) > 1
    inputs = []
    for bench, ls in loaded.items():
        systems: dict[str, tuple[SystemData, LoadedLog, str]] = {}
        oracles: list[tuple[str, SystemData]] = []
        for log in ls.logs:
            systems[log.name] = (log.system, log, log.name)
        for log in ls.logs:
            for d in log.derived:
                base = _base_name(ls, log, d.name)
                name = f"{log.name}:{base}" if prefix else base
                if name in systems:
                    raise LogLoadError(
                        f"benchmark {bench}: duplicate system name {name!r} ({systems[name][1].path} and "
                        f"{log.path}): name the logs with --name LABEL (one per LOG, in order)"
                    )
                systems[name] = (d, log, base)
            if log.oracle is not None:
                base = _base_name(ls, log, log.oracle.name)
                oracles.append((f"{log.name}:{base}" if prefix else base, log.oracle))
        correct = {n: cast("Mapping[Hashable, bool]", sd.correct) for n, (sd, _, _) in systems.items()}
        clusters = _clusters(ls, {n: s for n, (s, _, _) in systems.items()}, intersect)
        try:
            po = PairedOutcomes.from_dict(
                correct, clusters=cast("Mapping[Hashable, str] | None", clusters), intersect=intersect
            )
        except ItemSetMismatchError as ex:
            lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
            head = lines[0].replace("(pass intersect=True to keep only the common items)", "").strip()
            raise LogLoadError(
                f"benchmark {bench}: {head}; "
                + "; ".join(lines[1:])
                + "; pass --intersect to rank on the common items only"
            ) from None
        items = [str(i) for i in po.item_ids]
        details = {
            n: _details(sd, items, _provenance(log, sd, base, infos.get(log.path), bench))
            for n, (sd, log, base) in systems.items()
        }
        keep = set(items)
        bench_oracles = tuple(
            Oracle(name, sum(bool(o.correct[i]) for i in items), len(items), o.source)
            for name, o in oracles
            if keep <= set(o.correct)
        )
        before = {n: len(c) for n, c in correct.items()} if intersect else None
        inputs.append(BenchmarkInput(bench, po, details, bench_oracles, before, tuple(ls.warnings)))
    return Leaderboard.build(inputs, intersect=intersect)
