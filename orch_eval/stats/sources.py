"""Which benchmark each log file answered, and its provenance, so that results are only ever
compared and ranked within one benchmark (``orch-eval compare`` and ``orch-eval leaderboard``).

Inspect: the log's task (``inspect_evals/mmlu_0_shot`` → ``mmlu_0_shot``). lm-eval: the task of the
samples file, or the outermost group containing it according to the run's ``results_<date>.json``
(the 57 ``mmlu_*`` subtasks of an ``mmlu`` run → ``mmlu``); without a results file, the lm-eval
family the benchmark registry knows (``mmlu_anatomy`` → ``mmlu``). The harnesses name items
differently (Inspect sample ids, lm-eval ``<task>/<doc_id>``), so the same task run through both
is two benchmarks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orch_eval.benchmarks import BENCHMARKS, lm_eval_family, task_short
from orch_eval.core.redact import redact, redact_args
from orch_eval.stats.loaders import SAMPLES_FILE_RE, LoadedSystems, LogLoadError, expand_paths, load_logs

__all__ = ["SourceInfo", "benchmark_of", "group_by_benchmark", "load_benchmarks", "load_groups"]

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
        raise LogLoadError(
            f"{path}: not a readable Inspect log (truncated or corrupt? {type(ex).__name__}: {ex})"
        ) from None
    spec = header.eval
    task = str(spec.task)
    model = None if spec.model in _NO_MODEL else str(spec.model)
    return SourceInfo(
        path, "inspect", task_short(task), task, str(spec.created) if spec.created else None, model
    )


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
    m = SAMPLES_FILE_RE.match(path.name)
    task = m.group("task") if m else path.stem.removeprefix("samples_")
    raw_date = m.group("date") if m else None
    results = _lm_eval_results(path.parent, raw_date, cache)
    date = None
    if raw_date:
        day, _, clock = raw_date.partition("T")
        date = f"{day}T{clock.split('.')[0].replace('-', ':')}"
    groups = results.get("group_subtasks") or {}
    if groups:
        bench = _root_group(task, groups)
    else:  # no results file beside it: the registry's family (mmlu_anatomy -> mmlu)
        family = lm_eval_family(task)
        known = next(
            (b for b in BENCHMARKS.values() if family is not None and family in b.lm_eval_families), None
        )
        bench = known.label if known is not None and family != task else task
    return SourceInfo(path, "lm_eval", bench, task, date, _lm_eval_model(results))


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


def group_by_benchmark(
    paths: Sequence[str | Path], names: Sequence[str | None] | None = None
) -> tuple[dict[str, tuple[list[Path], list[str | None]]], dict[Path, SourceInfo]]:
    """Every input file by benchmark, in the order benchmarks first appear: ``{benchmark: (files,
    their --name labels)}``, and each file's :class:`SourceInfo` (also under its folder, which
    stands for a merged lm-eval run). ``names[i]`` labels every file under ``paths[i]``."""
    if not paths:
        raise LogLoadError("no log given")
    labels = list(names or [])
    if len(labels) > len(paths):
        raise LogLoadError(
            f"{len(labels)} names given for {len(paths)} inputs (one --name per LOG, in order)"
        )
    labels += [None] * (len(paths) - len(labels))
    cache: dict[Path, dict[str, Any]] = {}
    by_key: dict[tuple[str, str], tuple[list[Path], list[str | None]]] = {}
    infos: dict[Path, SourceInfo] = {}
    for files, label in zip(expand_paths(paths), labels, strict=True):
        for f in files:
            info = benchmark_of(f, cache)
            infos[f] = info
            infos.setdefault(f.parent, info)
            group_files, group_labels = by_key.setdefault((info.benchmark, info.harness), ([], []))
            group_files.append(f)
            group_labels.append(label)
    both = {b for b, h in by_key if (b, "inspect") in by_key and (b, "lm_eval") in by_key}
    groups = {(f"{b} ({h.replace('_', '-')})" if b in both else b): v for (b, h), v in by_key.items()}
    return groups, infos


_FILTER_UNUSED = "not found in any samples file"


def load_benchmarks(
    paths: Sequence[str | Path],
    names: Sequence[str | None] | None = None,
    filter: str | None = None,
    derived: bool = True,
) -> dict[str, LoadedSystems]:
    """Every input, grouped by the benchmark it answered (:mod:`orch_eval.stats.sources`), each
    benchmark's files loaded as one set of systems (:func:`load_logs`), in the order benchmarks
    first appear: systems are only ever compared on one benchmark's items. ``--filter`` must
    match some lm-eval samples file, not every benchmark's (a multiple-choice task has one)."""
    return load_groups(group_by_benchmark(paths, names)[0], filter=filter, derived=derived)


def load_groups(
    groups: Mapping[str, tuple[Sequence[Path], Sequence[str | None]]],
    filter: str | None = None,
    derived: bool = True,
) -> dict[str, LoadedSystems]:
    """:func:`load_benchmarks` from files already grouped (``{benchmark: (files, labels)}``)."""
    out: dict[str, LoadedSystems] = {}
    for bench, (files, labels) in groups.items():
        try:
            out[bench] = load_logs(files, names=labels, filter=filter, derived=derived)
        except LogLoadError as ex:
            if filter is not None and _FILTER_UNUSED in str(ex):
                out[bench] = load_logs(files, names=labels, filter=None, derived=derived)
                continue
            raise LogLoadError(f"benchmark {bench}: {ex}") from None
    lm_filters = [str(lg.filter or "") for ls in out.values() for lg in ls.logs if lg.harness == "lm_eval"]
    if filter is not None and lm_filters and not any(filter in f.split(",") for f in lm_filters):
        raise LogLoadError(f"filter {filter!r} not found in any lm-eval samples file")
    return out
