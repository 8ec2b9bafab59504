"""orch_eval: ORCH ("many analyses, one merge") for Inspect AI and lm-evaluation-harness.

What a researcher imports from Python (loaded on first use, so ``import orch_eval`` and the
Inspect plugin stay light):

- **Panels and the engine** -- :class:`Panel` (validated, with a digest), :func:`load_panel`,
  :class:`Question`, :class:`Orchestrator` (``await Orchestrator(panel).decide(question)`` gives a
  :class:`Decision`: every agent's answer and text, the merge, the fallback step, usage, cost).
- **Methods beside ORCH** -- :class:`SelfConsistency`, :class:`SelfMoA`, :class:`MoA`,
  :class:`Debate` (``await method.decide(engine, question)``), :func:`method_from_args`.
- **Inspect solvers** -- :func:`orch`, :func:`single`, :func:`majority_vote`, :func:`direct`,
  :func:`self_consistency`, :func:`self_moa`, :func:`moa`, :func:`debate`.
- **Statistics** -- :func:`load_logs` / :func:`load_benchmarks` (Inspect logs and lm-eval samples),
  :func:`analyse` (one :class:`Analysis`: paired tests, intervals, oracle, compute, renderers),
  :class:`PairedOutcomes` and :func:`compare` (from your own arrays), :func:`load_leaderboard`.
- **Experiments and benchmarks** -- :func:`run_experiment`, :func:`load_experiment`,
  :data:`BENCHMARKS` / :func:`get_benchmark` (the benchmark registry).
- :class:`OrchConfigError`: every configuration problem, with a message naming the field.

The engine (``orch_eval.core``) knows nothing of Inspect tasks or lm-eval requests; the adapters in
``orch_eval.inspect`` and ``orch_eval.lm_eval`` connect it to the two harnesses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # panels and the engine
    "Panel": "orch_eval.core.panel",
    "ModelSpec": "orch_eval.core.panel",
    "Budgets": "orch_eval.core.panel",
    "load_panel": "orch_eval.core.panel",
    "Question": "orch_eval.core.question",
    "AnswerKind": "orch_eval.core.question",
    "Decision": "orch_eval.core.decision",
    "AgentRecord": "orch_eval.core.decision",
    "MergeRecord": "orch_eval.core.decision",
    "Orchestrator": "orch_eval.core.engine",
    "RouterConfig": "orch_eval.core.router",
    "OrchConfigError": "orch_eval.core.errors",
    # methods
    "Orch": "orch_eval.core.methods",
    "SelfConsistency": "orch_eval.core.methods",
    "SelfMoA": "orch_eval.core.methods",
    "MoA": "orch_eval.core.methods",
    "Debate": "orch_eval.core.methods",
    "method_from_args": "orch_eval.core.methods",
    # Inspect solvers
    "orch": "orch_eval.inspect.solvers",
    "single": "orch_eval.inspect.solvers",
    "majority_vote": "orch_eval.inspect.solvers",
    "direct": "orch_eval.inspect.solvers",
    "self_consistency": "orch_eval.inspect.solvers",
    "self_moa": "orch_eval.inspect.solvers",
    "moa": "orch_eval.inspect.solvers",
    "debate": "orch_eval.inspect.solvers",
    # statistics
    "PairedOutcomes": "orch_eval.stats.outcomes",
    "compare": "orch_eval.stats.report",
    "Report": "orch_eval.stats.report",
    "load_logs": "orch_eval.stats.loaders",
    "load_benchmarks": "orch_eval.stats.sources",
    "analyse": "orch_eval.stats.analysis",
    "Analysis": "orch_eval.stats.analysis",
    "load_leaderboard": "orch_eval.stats.leaderboard",
    # experiments and benchmarks
    "run_experiment": "orch_eval.experiment",
    "load_experiment": "orch_eval.experiment",
    "BENCHMARKS": "orch_eval.benchmarks",
    "Benchmark": "orch_eval.benchmarks",
    "get_benchmark": "orch_eval.benchmarks",
}

__all__ = [
    "__version__",
    "Panel",
    "ModelSpec",
    "Budgets",
    "load_panel",
    "Question",
    "AnswerKind",
    "Decision",
    "AgentRecord",
    "MergeRecord",
    "Orchestrator",
    "RouterConfig",
    "OrchConfigError",
    "Orch",
    "SelfConsistency",
    "SelfMoA",
    "MoA",
    "Debate",
    "method_from_args",
    "orch",
    "single",
    "majority_vote",
    "direct",
    "self_consistency",
    "self_moa",
    "moa",
    "debate",
    "PairedOutcomes",
    "compare",
    "Report",
    "load_logs",
    "load_benchmarks",
    "analyse",
    "Analysis",
    "load_leaderboard",
    "run_experiment",
    "load_experiment",
    "BENCHMARKS",
    "Benchmark",
    "get_benchmark",
]
"""The curated public API (the names of :data:`_EXPORTS`; tests/test_packaging.py keeps them equal)."""


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orch_eval' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from orch_eval.benchmarks import BENCHMARKS, Benchmark, get_benchmark
    from orch_eval.core.decision import AgentRecord, Decision, MergeRecord
    from orch_eval.core.engine import Orchestrator
    from orch_eval.core.errors import OrchConfigError
    from orch_eval.core.methods import Debate, MoA, Orch, SelfConsistency, SelfMoA, method_from_args
    from orch_eval.core.panel import Budgets, ModelSpec, Panel, load_panel
    from orch_eval.core.question import AnswerKind, Question
    from orch_eval.core.router import RouterConfig
    from orch_eval.experiment import load_experiment, run_experiment
    from orch_eval.inspect.solvers import (
        debate,
        direct,
        majority_vote,
        moa,
        orch,
        self_consistency,
        self_moa,
        single,
    )
    from orch_eval.stats.analysis import Analysis, analyse
    from orch_eval.stats.leaderboard import load_leaderboard
    from orch_eval.stats.loaders import load_logs
    from orch_eval.stats.outcomes import PairedOutcomes
    from orch_eval.stats.report import Report, compare
    from orch_eval.stats.sources import load_benchmarks
