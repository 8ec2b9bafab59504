"""A leaderboard from logs: which benchmark each log belongs to, and its systems per benchmark.

Every input file is assigned to a benchmark first (:func:`benchmark_of`), then each
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

import json
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from orch_eval.core.redact import redact, redact_args
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
    expand_paths,
    load_logs,
)
from orch_eval.stats.outcomes import ItemSetMismatchError, PairedOutcomes

__all__ = ["SourceInfo", "benchmark_of", "load_leaderboard"]

_SAMPLES_RE = re.compile(r"^samples_(?P<task>.+?)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-:]+)\.jsonl$")
_NO_MODEL = (None, "", "none", "none/none")


@dataclass(frozen=True)
class SourceInfo:
    """One input file: its harness, benchmark and provenance."""

    path: Path
    harness: Literal["inspect", "lm_eval"]
    benchmark: str
    task: str
    date: str | None = None
    model: str | None = None


# ---------------------------------------------------------------------------- benchmark of a file


def _inspect_info(path: Path) -> SourceInfo:
    from inspect_ai.log import read_eval_log

    try:
        header = read_eval_log(str(path), header_only=True)
    except FileNotFoundError:
        raise LogLoadError(f"{path}: no such file") from None
    except Exception as ex:  # noqa: BLE001 - any unreadable header is the user's file problem
        raise LogLoadError(f"{path}: not a readable Inspect log (truncated or corrupt? {type(ex).__name__}: {ex})") from None
    spec = header.eval
    task = str(spec.task)
    model = None if spec.model in _NO_MODEL else str(spec.model)
    return SourceInfo(path, "inspect", task.rsplit("/", 1)[-1], task, str(spec.created) if spec.created else None, model)


def _lm_eval_results(folder: Path, date: str | None, cache: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    """The run's ``results_<date>.json`` beside its samples files ({} when absent or unreadable)."""
    candidates = [folder / f"results_{date}.json"] if date else []
    for f in candidates:
        if f not in cache:
            try:
                cache[f] = json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                cache[f] = {}
        if cache[f]:
            return cache[f]
    return {}


def _root_group(task: str, group_subtasks: Mapping[str, Any]) -> str:
    """The outermost group containing ``task`` (``mmlu_abstract_algebra`` -> ``mmlu``), else the task."""
    parent: dict[str, str] = {}
    for group, subs in (group_subtasks or {}).items():
        for sub in subs or []:
            parent.setdefault(str(sub), str(group))
    seen = {task}
    while task in parent and parent[task] not in seen:
        task = parent[task]
        seen.add(task)
    return task


def _lm_eval_model(results: Mapping[str, Any]) -> str | None:
    config = results.get("config") or {}
    model = config.get("model")
    if not model:
        return None
    args = config.get("model_args")
    if isinstance(args, dict):
        args = ",".join(f"{k}={v}" for k, v in redact_args(args).items())
    elif isinstance(args, str):
        parsed = dict(part.partition("=")[::2] for part in args.split(",") if part)
        args = ",".join(f"{k}={v}" for k, v in redact_args(parsed).items())
    return redact(f"{model} ({args})" if args else str(model))


def _lm_eval_info(path: Path, cache: dict[Path, dict[str, Any]]) -> SourceInfo:
    m = _SAMPLES_RE.match(path.name)
    task = m.group("task") if m else path.stem.removeprefix("samples_")
    raw_date = m.group("date") if m else None
    results = _lm_eval_results(path.parent, raw_date, cache)
    date = None
    if raw_date:
        day, _, clock = raw_date.partition("T")
        date = f"{day}T{clock.split('.')[0].replace('-', ':')}"
    return SourceInfo(path, "lm_eval", _root_group(task, results.get("group_subtasks") or {}), task, date,
                      _lm_eval_model(results))


def benchmark_of(path: str | Path, cache: dict[Path, dict[str, Any]] | None = None) -> SourceInfo:
    """Which benchmark a log file belongs to, with its provenance.

    Inspect: the log's task name without its package (``inspect_evals/mmlu_0_shot`` ->
    ``mmlu_0_shot``). lm-eval: the task of the samples file, or the outermost group that
    contains it according to the run's ``results_<date>.json`` (the 57 ``mmlu_*`` subtasks of an
    ``mmlu`` run -> ``mmlu``).
    """
    p = Path(path)
    if p.name.startswith("samples_") and p.suffix == ".jsonl":
        return _lm_eval_info(p, {} if cache is None else cache)
    return _inspect_info(p)


# ---------------------------------------------------------------------------- loading


_FILTER_UNUSED = "not found in any samples file"


def _load_benchmark(
    bench: str, files: list[Path], labels: list[str | None], filter: str | None, derived: bool
) -> LoadedSystems:
    try:
        return load_logs(files, names=labels, filter=filter, derived=derived)
    except LogLoadError as ex:
        if filter is not None and _FILTER_UNUSED in str(ex):
            # every lm-eval file of this benchmark has a single filter (a multiple-choice task),
            # which load_logs already falls back to; whether --filter is used anywhere is
            # checked over all benchmarks
            return load_logs(files, names=labels, filter=None, derived=derived)
        raise LogLoadError(f"benchmark {bench}: {ex}") from None


def _base_name(loaded: LoadedSystems, log: LoadedLog, name: str) -> str:
    """A derived system's name as load_logs gives it with a single panel log."""
    prefixed = len([lg for lg in loaded.logs if lg.derived or lg.oracle is not None]) > 1
    return name.removeprefix(f"{log.name}:") if prefixed else name


def _mean(values: Mapping[str, float] | Mapping[str, bool] | None, items: Sequence[Any]) -> float | None:
    if values is None:
        return None
    try:
        return float(np.mean([float(values[i]) for i in items]))
    except KeyError:
        return None


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
    return SystemDetails(
        kind=sd.kind,
        cost_per_item=_mean(sd.cost, items),
        latency_per_item=_mean(sd.latency, items),
        input_tokens_per_item=_mean(sd.input_tokens, items),
        output_tokens_per_item=_mean(sd.output_tokens, items),
        calls_per_item=_mean(sd.calls, items),
        abstain_rate=_mean(sd.abstained, items),
        provenance=provenance,
    )


def _clusters(loaded: LoadedSystems, systems: Mapping[str, SystemData], intersect: bool) -> dict[str, str] | None:
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
    if not paths:
        raise LogLoadError("no log given")
    labels = list(names or [])
    if len(labels) > len(paths):
        raise LogLoadError(f"{len(labels)} names given for {len(paths)} inputs (one --name per LOG, in order)")
    labels += [None] * (len(paths) - len(labels))
    cache: dict[Path, dict[str, Any]] = {}
    by_key: dict[tuple[str, str], tuple[list[Path], list[str | None]]] = {}
    infos: dict[Path, SourceInfo] = {}
    for files, label in zip(expand_paths(paths), labels):
        for f in files:
            info = benchmark_of(f, cache)
            infos[f] = info
            infos.setdefault(f.parent, info)  # a merged lm-eval run is known by its folder
            group_files, group_labels = by_key.setdefault((info.benchmark, info.harness), ([], []))
            group_files.append(f)
            group_labels.append(label)
    # the harnesses name items differently (Inspect sample ids, lm-eval <task>/<doc_id>), so the
    # same task run through both is two benchmarks
    both = {b for b, h in by_key if (b, "inspect") in by_key and (b, "lm_eval") in by_key}
    groups = {(f"{b} ({h.replace('_', '-')})" if b in both else b): v for (b, h), v in by_key.items()}
    loaded = {b: _load_benchmark(b, fs, labs, filter, derived) for b, (fs, labs) in groups.items()}

    lm_filters = [str(lg.filter or "") for ls in loaded.values() for lg in ls.logs if lg.harness == "lm_eval"]
    if filter is not None and lm_filters and not any(filter in f.split(",") for f in lm_filters):
        raise LogLoadError(f"filter {filter!r} not found in any lm-eval samples file")

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
            po = PairedOutcomes.from_dict(correct, clusters=cast("Mapping[Hashable, str] | None", clusters),
                                          intersect=intersect)
        except ItemSetMismatchError as ex:
            lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
            head = lines[0].replace("(pass intersect=True to keep only the common items)", "").strip()
            raise LogLoadError(
                f"benchmark {bench}: {head}; " + "; ".join(lines[1:])
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
