"""The benchmark registry: everything orch_eval knows about each standard benchmark, in one place.

Per benchmark: its unchanged ``inspect_evals`` task, the split it evaluates, the splits a router
or a sampling temperature may be calibrated on (never the evaluated one), the metadata key that
clusters its items (subjects), the task arguments that fix its item order, its answer kind, its
short name in reports, and the lm-evaluation-harness task families that ask the same questions.
Every other module (experiments, router calibration and leakage checks, the demo, the lm-eval
adapter, the leaderboard) reads this module instead of keeping its own table.

ORCH is not limited to these: any discrete-choice Inspect task or lm-eval task runs through the
solvers and the model adapters (``docs/own-tasks.md``); the registry only holds what orch_eval
itself needs to know to pick items, calibrate and group results.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from orch_eval.core.errors import OrchConfigError

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "LM_EVAL_FAMILIES",
    "benchmark_of_task",
    "get_benchmark",
    "lm_eval_family",
    "task_short",
]


@dataclass(frozen=True)
class Benchmark:
    """One standard benchmark (see the module docstring)."""

    name: str
    """The inspect_evals task's short name, also the benchmark's key in experiments and logs."""
    label: str
    """Short name in tables and the demo (``mmlu``, ``mmlu_pro``, ``gsm8k``)."""
    task: str
    """The Inspect task (``inspect_evals/mmlu_0_shot``)."""
    module: str
    """The module defining the task function (its name is the part of ``task`` after the slash)."""
    eval_split: str
    """The split the task evaluates on."""
    calibration_splits: tuple[str, ...]
    """Splits to calibrate on (router, sampling temperature): never the evaluated one."""
    answer: Literal["choice", "numeric"]
    cluster_key: str | None
    """Sample metadata key of the item clusters (MMLU subjects; MMLU-Pro keeps its category in
    ``subject``); None when items are not clustered."""
    task_args: Mapping[str, Any] = field(default_factory=dict)
    """Task arguments orch_eval always passes (a fixed item order: ``shuffle=False``)."""
    lm_eval_families: tuple[str, ...] = ()
    """lm-eval task families asking this benchmark's questions (see :data:`LM_EVAL_FAMILIES`)."""

    def make_task(self, **task_args: Any) -> Any:
        """A fresh Inspect ``Task`` with :attr:`task_args` and then ``task_args`` applied."""
        fn = getattr(importlib.import_module(self.module), self.name)
        args = {**self.task_args, **task_args}
        try:
            return fn(**args)
        except TypeError as ex:
            raise OrchConfigError(f"benchmark {self.name}: bad task_args {args}: {ex}") from None

    def dataset(self, split: str) -> Any:
        """One split of the benchmark as an Inspect dataset, through the task's own
        record-to-sample function, so sample ids are the task's own (content hashes)."""
        mod = importlib.import_module(self.module)
        if self.name.startswith("mmlu_") and self.name != "mmlu_pro":
            return mod.get_mmlu_dataset(split, shuffle=False, sampling_function=mod.record_to_sample_mmlu)
        from inspect_evals.utils.huggingface import hf_dataset

        if self.name == "mmlu_pro":
            return hf_dataset(
                path=mod.DATASET_PATH,
                split=split,
                sample_fields=mod.record_to_sample,
                revision=mod.MMLU_PRO_DATASET_REVISION,
            )
        return hf_dataset(
            path="openai/gsm8k",
            data_dir="main",
            split=split,
            sample_fields=mod.record_to_sample,
            revision=mod.GSM8K_DATASET_REVISION,
        )

    def calibration_dataset(
        self, split: str, *, exclude_evaluated: bool = True, shuffle_seed: int | None = None
    ) -> tuple[Any, int]:
        """A calibration split (shuffled with ``shuffle_seed`` if given: MMLU's splits are sorted
        by subject) and how many of its items were then left out because their ids occur in the
        evaluated split (MMLU repeats some test questions in validation and dev; sample ids are
        content hashes). The order is the shuffled order with those items removed."""
        if split not in self.calibration_splits:
            raise OrchConfigError(
                f"{self.task} evaluates on its {self.eval_split} split; calibrate on "
                f"{' or '.join(self.calibration_splits)}, not {split!r}"
            )
        data = self.dataset(split)
        if shuffle_seed is not None:
            data.shuffle(seed=shuffle_seed)
        if not exclude_evaluated:
            return data, 0
        evaluated = {str(s.id) for s in self.dataset(self.eval_split)}
        before = len(data)
        data = data.filter(lambda sample: str(sample.id) not in evaluated)  # keeps the order
        return data, before - len(data)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "mmlu_0_shot",
            "mmlu",
            "inspect_evals/mmlu_0_shot",
            "inspect_evals.mmlu.mmlu",
            "test",
            ("validation", "dev"),
            "choice",
            "subject",
            {"shuffle": False},
            ("mmlu", "mmlu_generative", "mmlu_flan_cot_zeroshot"),
        ),
        Benchmark(
            "mmlu_5_shot",
            "mmlu_5_shot",
            "inspect_evals/mmlu_5_shot",
            "inspect_evals.mmlu.mmlu",
            "test",
            ("validation", "dev"),
            "choice",
            "subject",
            {"shuffle": False},
        ),
        Benchmark(
            "mmlu_pro",
            "mmlu_pro",
            "inspect_evals/mmlu_pro",
            "inspect_evals.mmlu_pro.mmlu_pro",
            "test",
            ("validation",),
            "choice",
            "subject",
            {"shuffle": False},
            ("mmlu_pro",),
        ),
        Benchmark(
            "gsm8k",
            "gsm8k",
            "inspect_evals/gsm8k",
            "inspect_evals.gsm8k.gsm8k",
            "test",
            ("train",),
            "numeric",
            None,
            {},
            ("gsm8k", "gsm8k_cot"),
        ),
    )
}
"""The benchmarks orch_eval knows, by name (the unchanged inspect_evals tasks)."""

LM_EVAL_FAMILIES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^mmlu_pro(_[a-z_]+)?$"), "mmlu_pro"),
    (re.compile(r"^mmlu_flan_cot_zeroshot_[a-z_]+$"), "mmlu_flan_cot_zeroshot"),
    (re.compile(r"^mmlu_[a-z_]+_generative$"), "mmlu_generative"),
    (re.compile(r"^gsm8k(_train)?$"), "gsm8k"),  # gsm8k_train: tasks/lm_eval's calibration split
    (re.compile(r"^gsm8k_cot$"), "gsm8k_cot"),
    (re.compile(r"^mmlu(_[a-z_]+)?$"), "mmlu"),
]
"""lm-eval task names → the family the lm-eval adapter reads documents of (first match wins):
``mmlu_<subject>`` (log-likelihood multiple choice), ``mmlu_<subject>_generative``,
``mmlu_flan_cot_zeroshot_<subject>``, ``mmlu_pro[_<category>]``, ``gsm8k``, ``gsm8k_cot``."""


def task_short(task: str) -> str:
    """``inspect_evals/mmlu_0_shot`` → ``mmlu_0_shot``; ``path/file.py@t`` → ``t``."""
    return task.split("@")[-1].split("/")[-1]


def get_benchmark(name: str) -> Benchmark:
    """The benchmark named ``name`` (``mmlu_0_shot``, ``inspect_evals/mmlu_0_shot``); an
    :class:`OrchConfigError` listing the known ones otherwise."""
    found = BENCHMARKS.get(task_short(name))
    if found is None:
        raise OrchConfigError(f"unknown benchmark {name!r}; known benchmarks: {', '.join(BENCHMARKS)}")
    return found


def lm_eval_family(task_name: str | None) -> str | None:
    """The lm-eval family of a task name (:data:`LM_EVAL_FAMILIES`), None when not recognised."""
    for pattern, family in LM_EVAL_FAMILIES:
        if pattern.match(task_name or ""):
            return family
    return None


def benchmark_of_task(task: str, harness: Literal["inspect", "lm_eval"] = "inspect") -> str:
    """The benchmark a log's task belongs to, for grouping results: a registered benchmark's
    name (an Inspect task, or an lm-eval task of one of its families: ``mmlu_anatomy`` →
    ``mmlu_0_shot``'s label ``mmlu``...), else the task's own short name."""
    if harness == "inspect":
        short = task_short(task)
        return short
    family = lm_eval_family(task)
    for b in BENCHMARKS.values():
        if family is not None and family in b.lm_eval_families:
            return f"lm_eval:{b.label}"
    return f"lm_eval:{task}"
