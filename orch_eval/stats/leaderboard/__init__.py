"""The leaderboard: every system ranked on every benchmark and overall, with simultaneous rank
intervals and letter groups (``orch-eval leaderboard``; see ``docs/leaderboard.md``).

Computation: :class:`Leaderboard` (built from per-benchmark
:class:`~orch_eval.stats.outcomes.PairedOutcomes`), read at a level with
:meth:`Leaderboard.standings`. From logs: :func:`load_leaderboard`. Renderings:
:func:`write_outputs` (markdown, CSV, JSON, LaTeX, the HTML page and the accuracy-versus-cost
plot).
"""

from orch_eval.stats.leaderboard._board import (
    BenchmarkInput,
    BenchmarkResult,
    Leaderboard,
    Oracle,
    OverallResult,
    PairRow,
    PairwiseTests,
    Provenance,
    Row,
    Standings,
    SystemDetails,
    Table,
    Unranked,
    method_lines,
    stratified_tests,
)
from orch_eval.stats.leaderboard._logs import SourceInfo, benchmark_of, load_leaderboard
from orch_eval.stats.leaderboard._outputs import OUTPUT_FILES, PLOT_FILE, write_outputs
from orch_eval.stats.leaderboard._page import HEADER_COLOUR, to_html
from orch_eval.stats.leaderboard._plot import cost_axis, pareto_frontier, plot_png
from orch_eval.stats.leaderboard._ranks import (
    compact_letter_display,
    competition_ranks,
    letter_names,
    rank_intervals,
)
from orch_eval.stats.leaderboard._render import pairs_csv, to_csv, to_dict, to_json, to_latex, to_markdown

__all__ = [
    "HEADER_COLOUR",
    "OUTPUT_FILES",
    "PLOT_FILE",
    "BenchmarkInput",
    "BenchmarkResult",
    "Leaderboard",
    "Oracle",
    "OverallResult",
    "PairRow",
    "PairwiseTests",
    "Provenance",
    "Row",
    "SourceInfo",
    "Standings",
    "SystemDetails",
    "Table",
    "Unranked",
    "benchmark_of",
    "compact_letter_display",
    "competition_ranks",
    "cost_axis",
    "letter_names",
    "load_leaderboard",
    "method_lines",
    "pairs_csv",
    "pareto_frontier",
    "plot_png",
    "rank_intervals",
    "stratified_tests",
    "to_csv",
    "to_dict",
    "to_html",
    "to_json",
    "to_latex",
    "to_markdown",
    "write_outputs",
]
