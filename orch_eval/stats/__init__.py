"""Statistics for paired evaluations: does a merged panel beat its (pre-declared) best member?

Input: :class:`PairedOutcomes` (per-item correctness of several systems on the same
items). Entry point: :func:`compare`, returning a :class:`Report`. See
``docs/statistics.md`` for the reasoning behind each choice. Plots live in
:mod:`orch_eval.stats.plots` (matplotlib is imported only there, lazily).
"""

from orch_eval.stats.clustered import ClusteredEstimate, clustered_mean, clustered_se
from orch_eval.stats.diagnostics import MergerDiagnostics, merger_diagnostics
from orch_eval.stats.intervals import (
    Interval,
    bootstrap_paired_ci,
    bootstrap_paired_ci_from_counts,
    level_label,
    mover_mean_interval,
    newcombe_paired_ci,
    paired_table,
    tango_paired_ci,
    wilson_interval,
)
from orch_eval.stats.loaders import (
    LoadedSystems,
    LogLoadError,
    load_inspect_log,
    load_lm_eval_samples,
    load_logs,
)
from orch_eval.stats.outcomes import ItemSetMismatchError, MissingClusterError, PairedOutcomes
from orch_eval.stats.paired import (
    CochranQResult,
    McNemarResult,
    adjust_pvalues,
    cochran_q,
    discordant_counts,
    mcnemar,
)
from orch_eval.stats.power import connor_power, minimum_detectable_effect
from orch_eval.stats.report import Comparison, Report, SystemSummary, compare

__all__ = [
    "ClusteredEstimate",
    "CochranQResult",
    "Comparison",
    "Interval",
    "ItemSetMismatchError",
    "LoadedSystems",
    "LogLoadError",
    "MergerDiagnostics",
    "McNemarResult",
    "MissingClusterError",
    "PairedOutcomes",
    "Report",
    "SystemSummary",
    "adjust_pvalues",
    "bootstrap_paired_ci",
    "bootstrap_paired_ci_from_counts",
    "clustered_mean",
    "clustered_se",
    "cochran_q",
    "compare",
    "connor_power",
    "discordant_counts",
    "load_inspect_log",
    "load_lm_eval_samples",
    "level_label",
    "load_logs",
    "mcnemar",
    "merger_diagnostics",
    "minimum_detectable_effect",
    "newcombe_paired_ci",
    "paired_table",
    "mover_mean_interval",
    "tango_paired_ci",
    "wilson_interval",
]
