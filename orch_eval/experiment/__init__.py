"""Experiments: panels × benchmarks × systems from one YAML file, run through Inspect's
``eval_set`` and reported with :mod:`orch_eval.stats` (``orch-eval run``)."""

from orch_eval.experiment.config import BENCHMARKS, Experiment, load_experiment, validate_experiment
from orch_eval.experiment.plan import Plan, SystemPlan, build_plan, estimate, format_estimate
from orch_eval.experiment.runner import ExperimentResult, run_experiment

__all__ = [
    "BENCHMARKS",
    "Experiment",
    "ExperimentResult",
    "Plan",
    "SystemPlan",
    "build_plan",
    "estimate",
    "format_estimate",
    "load_experiment",
    "run_experiment",
    "validate_experiment",
]
