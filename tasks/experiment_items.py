"""The items an experiment file chooses from a benchmark, as an ordinary Inspect task.

``orch-eval run`` picks a fixed subset of each benchmark (``items:`` in the experiment file: ids,
``n`` first or seeded, or ``per_group`` per subject) and passes it to Inspect as sample ids. This
task makes that subset an ordinary task, so any solver or model can be run on exactly the items
of an experiment, outside the runner::

    inspect eval tasks/experiment_items.py@experiment_subset \\
        -T experiment=experiments/local.yaml -T benchmark=mmlu_0_shot \\
        --model none --solver orch_eval/orch -S panel=solvers/local.yaml

It is the standard inspect_evals task (with the experiment's ``task_args``) restricted to the
chosen ids, in dataset order: the same items, order and sample ids as the experiment's own runs
(:func:`orch_eval.experiment.items.select`).
"""

from __future__ import annotations

from inspect_ai import Task, task, task_with

from orch_eval.benchmarks import task_short
from orch_eval.core.errors import OrchConfigError
from orch_eval.experiment import load_experiment
from orch_eval.experiment.items import make_task, select

__all__ = ["experiment_subset"]


@task
def experiment_subset(experiment: str, benchmark: str) -> Task:
    """The items of ``benchmark`` that ``experiment`` chooses.

    Args:
        experiment: an experiment file (or the name of one in ``experiments/``).
        benchmark: one of the experiment's Inspect benchmarks, by its task name
            (``mmlu_0_shot``, ``mmlu_pro``, ``gsm8k``; the ``inspect_evals/`` prefix is optional).
    """
    exp = load_experiment(experiment)
    where = exp.source or experiment
    short = task_short(benchmark)
    specs = [b for b in exp.benchmarks if b.key == short]
    if not specs:
        known = ", ".join(b.key for b in exp.benchmarks) or "(none)"
        raise OrchConfigError(
            f"{where}: no benchmark {benchmark!r} in the experiment; its benchmarks: {known}"
        )
    spec = specs[0]
    if spec.harness != "inspect":
        raise OrchConfigError(
            f"{where}: benchmark {spec.key} runs through lm-eval; experiment_subset serves Inspect benchmarks"
        )
    chosen = select(spec, exp.seed)
    wanted = {str(i) for i in chosen.ids}
    standard = make_task(chosen.short, chosen.task_args)
    dataset = standard.dataset.filter(
        lambda s: str(s.id) in wanted, name=f"{standard.dataset.name}-{exp.name}"
    )
    return task_with(
        standard,
        dataset=dataset,
        metadata={
            **(standard.metadata or {}),
            "experiment": {"name": exp.name, "source": where, "benchmark": spec.key},
        },
    )
