"""The calibration splits of the standard benchmarks, as ordinary Inspect tasks.

Each task is the unchanged inspect_evals task (its solver chain, scorer, generation config and
version) with the dataset replaced by a split that task does not evaluate, loaded through the
task's own record-to-sample function (the benchmark registry's ``Benchmark.dataset``), so sample
ids are the task's content hashes:

=========================  ============================  ==========  =======  ===================
task                       standard task                 split       items    with the defaults
=========================  ============================  ==========  =======  ===================
``mmlu_validation``        ``inspect_evals/mmlu_0_shot`` validation  1529     1502 (27 in test)
``mmlu_dev``               ``inspect_evals/mmlu_0_shot`` dev         284      279 (5 in test)
``mmlu_pro_validation``    ``inspect_evals/mmlu_pro``    validation  70       70
``gsm8k_train``            ``inspect_evals/gsm8k``       train       7473     7463 (10 few-shot)
=========================  ============================  ==========  =======  ===================

(items: unique sample ids, after the standard loader's own de-duplication.)

Two parameters every task shares:

- ``shuffle`` / ``seed`` (default ``true`` / ``0``): a seeded shuffle of the split before
  anything else, the same as ``orch-eval router calibrate``'s default ``order="seeded"``. MMLU's
  splits are sorted by subject, so without it ``--limit N`` covers a few subjects only.
- ``exclude_test`` (default ``true``): leave out the items whose sample id also occurs in the
  split the standard task evaluates (test). The ids are content hashes and MMLU repeats some
  test questions in its validation and dev splits; such an item is the evaluated question
  itself. This is what ``router calibrate`` does by default (``exclude_eval_split``).

With the defaults, ``inspect eval tasks/calibration.py@mmlu_validation --limit N`` runs the same
items, in the same order, as ``orch-eval router calibrate --task inspect_evals/mmlu_0_shot
--split validation --limit N``. The number of items left out is in the task's metadata
(``calibration.excluded``).

Run them like any task::

    inspect eval tasks/calibration.py@gsm8k_train --limit 50 --model none \\
        --solver orch_eval/orch -S panel=solvers/local.yaml
"""

from __future__ import annotations

import importlib
from typing import Any

from inspect_ai import Task, task, task_with
from inspect_ai.dataset import Dataset

from orch_eval.benchmarks import BENCHMARKS
from orch_eval.core.errors import OrchConfigError

__all__ = ["gsm8k_train", "mmlu_dev", "mmlu_pro_validation", "mmlu_validation"]


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [s.strip() for s in value.split(",") if s.strip()]
    return list(value)


def calibration_split(
    short: str,
    split: str,
    shuffle: bool = True,
    seed: int = 0,
    exclude_test: bool = True,
    exclude_ids: set[str] | None = None,
    test: Dataset | None = None,
) -> tuple[Dataset, dict[str, Any]]:
    """One calibration split of a standard task (``mmlu_0_shot``, ``mmlu_pro``, ``gsm8k``) and
    what was done to it: shuffled with ``seed`` (before anything else), then the items whose ids
    occur in the task's test split left out (order kept), then ``exclude_ids`` left out.

    ``test``: the standard task's own (test) dataset when the caller has it, else it is loaded.
    """
    benchmark = BENCHMARKS[short]
    dataset = benchmark.dataset(split)
    if shuffle:
        dataset.shuffle(seed=seed)
    n_split = len(dataset)
    excluded = 0
    if exclude_test:
        evaluated = {
            str(s.id) for s in (test if test is not None else benchmark.dataset(benchmark.eval_split))
        }
        dataset = dataset.filter(lambda s: str(s.id) not in evaluated)
        excluded = n_split - len(dataset)
    left_out = 0
    if exclude_ids:
        before = len(dataset)
        dataset = dataset.filter(lambda s: str(s.id) not in exclude_ids)
        left_out = before - len(dataset)
    info: dict[str, Any] = {
        "task": benchmark.task,
        "split": split,
        "split_items": n_split,
        "order": f"seeded:{seed}" if shuffle else "dataset",
        "exclude_test": exclude_test,
        "excluded": excluded,
    }
    if exclude_ids is not None:
        info["fewshot_excluded"] = left_out
    return dataset, info


def _by_subject(dataset: Dataset, subjects: list[str], task_name: str) -> Dataset:
    """Only the items of ``subjects`` (the ``subject`` metadata field), order kept."""
    if not subjects:
        return dataset
    known = {str((s.metadata or {}).get("subject")) for s in dataset}
    unknown = sorted(set(subjects) - known)
    if unknown:
        raise OrchConfigError(
            f"{task_name}: unknown subjects {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    wanted = set(subjects)
    return dataset.filter(lambda s: (s.metadata or {}).get("subject") in wanted)


def _with_split(standard: Task, dataset: Dataset, info: dict[str, Any]) -> Task:
    """The standard task with ``dataset`` in place of its test split (recorded in its metadata)."""
    return task_with(standard, dataset=dataset, metadata={**(standard.metadata or {}), "calibration": info})


def _mmlu(
    split: str, subjects: str | list[str] | None, cot: bool, shuffle: bool, seed: int, exclude_test: bool
) -> Task:
    from inspect_evals.mmlu import mmlu_0_shot

    standard = mmlu_0_shot(cot=cot, shuffle=False)  # its dataset: the whole test split
    dataset, info = calibration_split(
        "mmlu_0_shot", split, shuffle, seed, exclude_test, test=standard.dataset
    )
    dataset = _by_subject(dataset, _as_list(subjects), f"mmlu_{split}")
    return _with_split(standard, dataset, info)


@task
def mmlu_validation(
    subjects: str | list[str] | None = None,
    cot: bool = False,
    shuffle: bool = True,
    seed: int = 0,
    exclude_test: bool = True,
) -> Task:
    """MMLU's validation split (1529 unique items) as ``inspect_evals/mmlu_0_shot`` runs it.

    Args:
        subjects: MMLU subjects to keep (default: all).
        cot: the standard task's chain-of-thought option.
        shuffle: seeded shuffle of the split (default on; see the module docstring).
        seed: the shuffle's seed.
        exclude_test: leave out the items whose ids occur in MMLU's test split.
    """
    return _mmlu("validation", subjects, cot, shuffle, seed, exclude_test)


@task
def mmlu_dev(
    subjects: str | list[str] | None = None,
    cot: bool = False,
    shuffle: bool = True,
    seed: int = 0,
    exclude_test: bool = True,
) -> Task:
    """MMLU's dev split (284 unique items, 5 per subject: the few-shot pool of ``mmlu_5_shot``) as
    ``inspect_evals/mmlu_0_shot`` runs it. Arguments as for :func:`mmlu_validation`."""
    return _mmlu("dev", subjects, cot, shuffle, seed, exclude_test)


@task
def mmlu_pro_validation(
    subjects: str | list[str] | None = None,
    shuffle: bool = True,
    seed: int = 0,
    exclude_test: bool = True,
) -> Task:
    """MMLU-Pro's validation split (70 items, 5 per category) as ``inspect_evals/mmlu_pro`` runs
    it, zero-shot: the standard task's few-shot examples are drawn from this same split, so its
    ``fewshot`` option is not offered here.

    Args:
        subjects: MMLU-Pro categories to keep (lower case, e.g. ``math``; default: all).
        shuffle: seeded shuffle of the split (default on).
        seed: the shuffle's seed.
        exclude_test: leave out the items whose ids occur in MMLU-Pro's test split.
    """
    from inspect_evals.mmlu_pro import mmlu_pro

    mp = importlib.import_module("inspect_evals.mmlu_pro.mmlu_pro")  # the module, not the task
    standard = mmlu_pro(shuffle=False)  # its dataset: the whole test split
    dataset, info = calibration_split(
        "mmlu_pro", "validation", shuffle, seed, exclude_test, test=standard.dataset
    )
    wanted = _as_list(subjects)
    _by_subject(dataset, wanted, "mmlu_pro_validation")  # one clear error for an unknown category
    dataset = mp.filter_dataset(dataset=dataset, subjects=wanted)
    return _with_split(standard, dataset, info)


@task
def gsm8k_train(
    fewshot: int = 10,
    fewshot_seed: int | None = None,
    shuffle_fewshot: bool = True,
    shuffle: bool = True,
    seed: int = 0,
    exclude_test: bool = True,
) -> Task:
    """GSM8K's train split (7473 items) as ``inspect_evals/gsm8k`` runs it.

    The standard task's few-shot examples (``fewshot``, default 10) are drawn from the train
    split too; they are left out of the items, so no item is answered with its own worked
    solution in the prompt (their count is ``calibration.fewshot_excluded``). With
    ``fewshot=0`` the items are exactly ``router calibrate``'s.

    Args:
        fewshot: the standard task's number of few-shot examples.
        fewshot_seed: the standard task's few-shot seed (default: its own default).
        shuffle_fewshot: the standard task's few-shot shuffle.
        shuffle: seeded shuffle of the split (default on).
        seed: the shuffle's seed.
        exclude_test: leave out the items whose ids occur in GSM8K's test split.
    """
    from inspect_evals.gsm8k import gsm8k

    g = importlib.import_module("inspect_evals.gsm8k.gsm8k")  # the module, not the task
    f_seed = g.DEFAULT_FEWSHOT_SEED if fewshot_seed is None else fewshot_seed
    fewshot_ids: set[str] = set()
    if fewshot:
        from inspect_evals.utils.huggingface import hf_dataset

        # the standard task's own few-shot draw (inspect_evals/gsm8k/gsm8k.py, same arguments)
        fewshot_ids = {
            str(s.id)
            for s in hf_dataset(
                path=g.DATASET_PATH,
                data_dir="main",
                split="train",
                sample_fields=g.record_to_sample,
                shuffle=shuffle_fewshot,
                seed=f_seed,
                limit=fewshot,
                revision=g.GSM8K_DATASET_REVISION,
            )
        }
    standard = gsm8k(fewshot=fewshot, fewshot_seed=f_seed, shuffle_fewshot=shuffle_fewshot)  # test split
    dataset, info = calibration_split(
        "gsm8k", "train", shuffle, seed, exclude_test, exclude_ids=fewshot_ids, test=standard.dataset
    )
    return _with_split(standard, dataset, info)
