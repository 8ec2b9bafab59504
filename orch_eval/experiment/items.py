"""Benchmark datasets and the fixed item subset of an experiment.

The subset is a pure function of (dataset, item spec, seed): strata and items are drawn with
``random.Random`` seeded by a string, from lists sorted in dataset order, so every system and
every rerun gets the same items. They reach Inspect as ``sample_id=[...]`` with
``shuffle=false``.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from orch_eval.core.errors import OrchConfigError
from orch_eval.benchmarks import BENCHMARKS
from orch_eval.core.question import Question
from orch_eval.experiment.config import BenchmarkSpec
from orch_eval.inspect.adapt import question_from_sample


@dataclass
class BenchmarkItems:
    """The chosen items of one benchmark, in dataset order."""

    spec: BenchmarkSpec
    task_args: dict[str, Any]
    ids: list[str | int]
    questions: dict[str, Question] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """The Inspect task name (Inspect benchmarks)."""
        return self.spec.inspect_task

    @property
    def short(self) -> str:
        """The benchmark's key: the inspect_evals short name, or ``lm_eval:<task>``."""
        return self.spec.key

    @property
    def is_lm_eval(self) -> bool:
        return self.spec.harness == "lm_eval"


def task_args_for(spec: BenchmarkSpec) -> dict[str, Any]:
    return {**spec.benchmark.task_args, **spec.task_args}


def make_task(short: str, task_args: dict[str, Any]) -> Any:
    """A fresh Inspect Task object of a standard benchmark."""
    return BENCHMARKS[short].make_task(**task_args)


@lru_cache(maxsize=16)
def _dataset(short: str, args_key: str) -> list[Any]:
    import json

    return list(make_task(short, json.loads(args_key)).dataset)


def dataset(short: str, task_args: dict[str, Any]) -> list[Any]:
    import json

    return _dataset(short, json.dumps(task_args, sort_keys=True))


def select(spec: BenchmarkSpec, seed: int, limit: int | None = None) -> BenchmarkItems:
    """Load the benchmark's dataset and choose its items (see the module docstring)."""
    if spec.harness == "lm_eval":
        from orch_eval.experiment import lm_eval_runs

        return lm_eval_runs.select(spec, seed, limit)
    args = task_args_for(spec)
    samples = dataset(spec.task, args)
    items = spec.items
    if items.n_options is not None:
        samples = [x for x in samples if len(x.choices or []) == items.n_options]
        if not samples:
            raise OrchConfigError(f"benchmark {spec.task}: no item has {items.n_options} options")
    s = items.seed if items.seed is not None else seed
    by_id = {str(x.id): x for x in samples}
    key = items.group_by or spec.benchmark.cluster_key or "subject"
    if items.ids is not None:
        wanted = {str(i) for i in items.ids}
        missing = sorted(wanted - set(by_id))
        if missing:
            raise OrchConfigError(
                f"benchmark {spec.task}: {len(missing)} item ids not in the dataset, e.g. {missing[:5]}"
            )
        chosen = [x for x in samples if str(x.id) in wanted]
    elif items.n is not None:
        if items.n > len(samples):
            raise OrchConfigError(f"benchmark {spec.task}: items.n={items.n} exceeds the dataset ({len(samples)} items)")
        if items.order == "first":
            chosen = samples[: items.n]
        else:
            pick = set(random.Random(f"{s}:{spec.task}:items").sample(range(len(samples)), items.n))
            chosen = [x for i, x in enumerate(samples) if i in pick]
    else:
        strata: dict[str, list[int]] = defaultdict(list)
        for i, x in enumerate(samples):
            g = (x.metadata or {}).get(key)
            if g is None:
                raise OrchConfigError(f"benchmark {spec.task}: item {x.id} has no {key!r} metadata to stratify by")
            strata[str(g)].append(i)
        per = items.per_group
        assert per is not None
        if items.subjects is not None:
            unknown = [g for g in items.subjects if g not in strata]
            if unknown:
                raise OrchConfigError(
                    f"benchmark {spec.task}: unknown {key} {unknown}; known: {', '.join(sorted(strata))}"
                )
            names = list(items.subjects)
        else:
            eligible = sorted(g for g, idx in strata.items() if len(idx) >= per)
            if items.groups is None or items.groups > len(eligible):
                raise OrchConfigError(
                    f"benchmark {spec.task}: only {len(eligible)} {key} values have >= {per} items; "
                    f"items.groups={items.groups}"
                )
            names = sorted(random.Random(f"{s}:{spec.task}:groups").sample(eligible, items.groups))
        pick: set[int] = set()  # type: ignore[no-redef]
        for g in names:
            if len(strata[g]) < per:
                raise OrchConfigError(f"benchmark {spec.task}: {key} {g!r} has only {len(strata[g])} items (< {per})")
            pick |= set(random.Random(f"{s}:{spec.task}:{g}").sample(strata[g], per))
        chosen = [x for i, x in enumerate(samples) if i in pick]
    if limit is not None:
        chosen = chosen[:limit]
    out = BenchmarkItems(spec=spec, task_args=args, ids=[x.id for x in chosen])
    for x in chosen:
        q = question_from_sample(x)
        out.questions[str(x.id)] = q
        g = (x.metadata or {}).get(key)
        if isinstance(g, str):
            out.groups[str(x.id)] = g
    return out
