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

from orch_eval.benchmarks import BENCHMARKS
from orch_eval.core.errors import OrchConfigError
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
        return select_lm_eval(spec, seed, limit)
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
            raise OrchConfigError(
                f"benchmark {spec.task}: items.n={items.n} exceeds the dataset ({len(samples)} items)"
            )
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
                raise OrchConfigError(
                    f"benchmark {spec.task}: item {x.id} has no {key!r} metadata to stratify by"
                )
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
        pick = set()
        for g in names:
            if len(strata[g]) < per:
                raise OrchConfigError(
                    f"benchmark {spec.task}: {key} {g!r} has only {len(strata[g])} items (< {per})"
                )
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


# ---------------------------------------------------------------------------- lm-eval benchmarks


def _require_lm_eval(where: str) -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise OrchConfigError(
            f"{where}: harness lm_eval needs lm-evaluation-harness: pip install 'orch_eval[lm_eval]'"
        ) from None


@lru_cache(maxsize=16)
def _docs(task: str) -> tuple[Any, ...]:
    from lm_eval.tasks import TaskManager, get_task_dict

    try:
        tasks = get_task_dict([task], TaskManager())
    except Exception as ex:  # noqa: BLE001 - lm-eval raises several kinds for unknown names
        raise OrchConfigError(
            f"lm-eval task {task!r} could not be loaded: {type(ex).__name__}: {ex}"
        ) from None
    obj = next(iter(tasks.values()))
    if isinstance(obj, dict):
        raise OrchConfigError(
            f"lm-eval task {task!r} is a group of {len(obj)} tasks; list its tasks as separate benchmarks"
        )
    return tuple(obj.eval_docs)


def doc_question(task: str, doc: Any) -> Question:
    """The Question the ``orch`` lm-eval model asks for a document of ``task`` (a known family)."""
    from orch_eval.lm_eval.questions import doc_question as family_question
    from orch_eval.lm_eval.questions import task_family

    return family_question(task_family(task), doc)


def select_lm_eval(spec: BenchmarkSpec, seed: int, limit: int | None) -> BenchmarkItems:
    """The chosen document indices of an lm-eval benchmark (in the task's order) and their Questions."""
    where = f"benchmark {spec.key}"
    _require_lm_eval(where)
    from orch_eval.lm_eval.questions import UNKNOWN, task_family

    if task_family(spec.task) == UNKNOWN:
        raise OrchConfigError(
            f"{where}: orch-eval run reads the documents of lm-eval tasks mmlu_<subject>, "
            "mmlu_<subject>_generative, mmlu_flan_cot_zeroshot_<subject>, mmlu_pro[_<category>], gsm8k and "
            f"gsm8k_cot; {spec.task!r} is none of them (use orch-lm-eval for other tasks)"
        )
    docs = _docs(spec.task)
    items = spec.items
    s = items.seed if items.seed is not None else seed
    if items.ids is not None:
        try:
            wanted = sorted({int(i) for i in items.ids})
        except ValueError:
            raise OrchConfigError(
                f"{where}: items.ids of an lm-eval task are document indices (integers)"
            ) from None
        bad = [i for i in wanted if not 0 <= i < len(docs)]
        if bad:
            raise OrchConfigError(f"{where}: document indices {bad[:5]} are outside 0..{len(docs) - 1}")
        chosen = wanted
    else:
        assert items.n is not None  # the schema allows ids or n for lm-eval benchmarks
        if items.n > len(docs):
            raise OrchConfigError(f"{where}: items.n={items.n} exceeds the task's {len(docs)} documents")
        if items.order == "first":
            chosen = list(range(items.n))
        else:
            chosen = sorted(random.Random(f"{s}:{spec.key}:items").sample(range(len(docs)), items.n))
    if limit is not None:
        chosen = chosen[:limit]
    out = BenchmarkItems(spec=spec, task_args=dict(spec.task_args), ids=list(chosen))
    for i in chosen:
        try:
            question = doc_question(spec.task, docs[i])
        except (KeyError, TypeError, ValueError) as ex:
            raise OrchConfigError(
                f"{where}: document {i} of lm-eval task {spec.task!r} lacks the fields its family "
                f"{task_family(spec.task)!r} is read from ({type(ex).__name__}: {ex})"
            ) from None
        out.questions[str(i)] = question
        if question.domain:
            out.groups[str(i)] = question.domain
    return out
