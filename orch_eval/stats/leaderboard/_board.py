"""The leaderboard as a result object: every system ranked on every benchmark, and overall.

:class:`Leaderboard` is built once from per-benchmark :class:`PairedOutcomes`. It keeps the
data and the alpha-free results (all pairwise p-values, raw and Holm-adjusted); everything that
depends on the level -- significance, rank intervals, letters, confidence intervals -- is
computed on demand by :meth:`Leaderboard.standings` with ``alpha`` as an argument, as
statsmodels' result objects do. Renderers (:mod:`._render`, :mod:`._page`, :mod:`._plot`) read
a :class:`Standings` only.

Method (also stated in every rendering, see :func:`method_lines`):

* per benchmark, every pair of the ``K`` systems gets McNemar's mid-p test
  (:func:`orch_eval.stats.paired.mcnemar`, the same numbers as ``orch-eval compare``), and the
  ``K(K-1)/2`` p-values are Holm-adjusted as one family;
* overall, the systems present on every benchmark are ranked by the equally weighted mean of
  their per-benchmark accuracies; per pair an asymptotic stratified paired test of the mean
  difference, ``z = sum_b d_b / sqrt(sum_b (b_b + c_b) / n_b^2)`` (``d_b`` the accuracy
  difference on benchmark ``b``, ``b_b``/``c_b`` its discordant counts), which for one benchmark
  is McNemar's ``(b - c) / sqrt(b + c)``; Holm over all pairs;
* rank intervals and letters from the Holm-significant pairs (:mod:`._ranks`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from orch_eval.stats.clustered import clustered_mean
from orch_eval.stats.intervals import mover_mean_interval, wilson_interval
from orch_eval.stats.leaderboard._ranks import compact_letter_display, competition_ranks, rank_intervals
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.paired import adjust_pvalues, mcnemar

__all__ = [
    "BenchmarkInput",
    "BenchmarkResult",
    "Leaderboard",
    "Oracle",
    "OverallResult",
    "PairRow",
    "PairwiseTests",
    "Provenance",
    "Row",
    "Standings",
    "SystemDetails",
    "Table",
    "Unranked",
    "method_lines",
]

MIDP = "McNemar mid-p"
STRATIFIED = "stratified paired z (equal weights)"


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Provenance:
    """Where one system's results on one benchmark come from."""

    harness: str
    """``inspect``, ``lm_eval`` or ``synthetic``."""
    log: str
    date: str | None = None
    model: str | None = None
    """The model, or for a panel the panel's name."""
    panel: str | None = None
    """Panel name and digest when the results come from ORCH Decisions."""
    task: str | None = None


@dataclass(frozen=True)
class SystemDetails:
    """What the logs tell about a system on one benchmark besides correctness, per item of the
    ranked item set; ``None`` where the logs do not have it."""

    kind: str = "log"
    """``log`` (the system a log was run for), ``agent`` or ``majority`` (from its Decisions)."""
    cost_per_item: float | None = None
    latency_per_item: float | None = None
    input_tokens_per_item: float | None = None
    output_tokens_per_item: float | None = None
    calls_per_item: float | None = None
    abstain_rate: float | None = None
    """Share of items without a parsable answer (abstention or parse failure)."""
    provenance: Provenance | None = None


@dataclass(frozen=True)
class Oracle:
    """An upper bound (any consulted agent right), listed apart and never ranked."""

    name: str
    correct: int
    n: int
    source: str


@dataclass(frozen=True)
class BenchmarkInput:
    """One benchmark's paired outcomes and what goes with them."""

    name: str
    outcomes: PairedOutcomes
    details: Mapping[str, SystemDetails] = field(default_factory=dict)
    oracles: tuple[Oracle, ...] = ()
    items_before: Mapping[str, int] | None = None
    """Per system, its items before ``--intersect`` kept the common ones (None: not intersected)."""
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------- pairwise tests


@contextmanager
def _objects_frozen() -> Iterator[None]:
    """statsmodels' Holm ends with a full ``gc.collect()``, whose cost grows with every live object
    of the process (0.2 s a call with 30 systems x 3 benchmarks of 14,000 items loaded). Objects
    that exist before the call are moved out of the collector's reach for its duration."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass(frozen=True)
class PairwiseTests:
    """All ``K(K-1)/2`` pairwise tests of one ranking, as symmetric ``K x K`` matrices.

    ``p`` holds the raw two-sided p-values, ``p_holm`` the Holm-adjusted ones (the family is all
    pairs of this ranking); the diagonal is 1. ``discordant[i, j]`` counts items system ``i``
    got right and ``j`` wrong (per-benchmark rankings only); ``statistic`` is the overall z
    (``i`` minus ``j``; overall ranking only).
    """

    systems: tuple[str, ...]
    test: str
    p: np.ndarray
    p_holm: np.ndarray
    discordant: np.ndarray | None = None
    statistic: np.ndarray | None = None

    @classmethod
    def from_pvalues(
        cls, systems: Sequence[str], test: str, p: np.ndarray, **extra: np.ndarray | None
    ) -> PairwiseTests:
        k = len(systems)
        iu = np.triu_indices(k, 1)
        adjusted = np.ones((k, k))
        if iu[0].size:
            with _objects_frozen():
                adjusted[iu] = adjust_pvalues(p[iu].tolist(), "holm")
            adjusted[(iu[1], iu[0])] = adjusted[iu]
        full = np.array(p, dtype=float)
        np.fill_diagonal(full, 1.0)
        for arr in (full, adjusted, *(v for v in extra.values() if v is not None)):
            arr.setflags(write=False)
        return cls(tuple(systems), test, full, adjusted, **extra)

    def significant(self, alpha: float) -> np.ndarray:
        """``True`` where the Holm-adjusted p-value is below ``alpha`` (never on the diagonal)."""
        sig = self.p_holm < alpha
        np.fill_diagonal(sig, False)
        return sig

    def index(self, system: str) -> int:
        return self.systems.index(system)


def _mcnemar_tests(outcomes: PairedOutcomes) -> PairwiseTests:
    """Mid-p McNemar for every pair of one benchmark's systems (via :func:`mcnemar`)."""
    mat = outcomes.matrix.astype(np.float64)
    both = mat.T @ mat
    counts = np.diag(both).copy()
    discordant = np.rint(counts[:, None] - both).astype(np.int64)  # [i, j]: i right, j wrong
    k = len(outcomes.systems)
    p = np.ones((k, k))
    for i in range(k):
        for j in range(i + 1, k):
            p[i, j] = p[j, i] = mcnemar(int(discordant[i, j]), int(discordant[j, i])).p_midp
    return PairwiseTests.from_pvalues(outcomes.systems, MIDP, p, discordant=discordant)


def stratified_tests(
    systems: Sequence[str], discordant: Sequence[np.ndarray], n: Sequence[int]
) -> PairwiseTests:
    """The overall pairwise tests: for systems ``i``, ``j`` and benchmarks ``b`` with discordant
    counts ``b_b = discordant[b][i, j]``, ``c_b = discordant[b][j, i]`` on ``n_b`` items::

        z = sum_b (b_b - c_b) / n_b  /  sqrt( sum_b (b_b + c_b) / n_b^2 )

    the sum of per-benchmark accuracy differences over its standard error, each benchmark's
    variance estimated as in McNemar's test (``(b + c) / n^2``, exact under that benchmark's
    null; when benchmarks differ in opposite directions it overstates the variance, so the test
    errs on the conservative side). Two-sided normal p-values; ``z = 0``, ``p = 1`` without any
    discordant item. For one benchmark ``z = (b - c) / sqrt(b + c)``: McNemar's asymptotic test.
    """
    k = len(systems)
    num = np.zeros((k, k))
    var = np.zeros((k, k))
    for d, nb in zip(discordant, n, strict=True):
        d = np.asarray(d, dtype=float)
        num += (d - d.T) / nb
        var += (d + d.T) / float(nb) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, num / np.sqrt(var), 0.0)
    p = np.where(var > 0, 2.0 * stats.norm.sf(np.abs(z)), 1.0)
    return PairwiseTests.from_pvalues(systems, STRATIFIED, p, statistic=z)


# ---------------------------------------------------------------------------- standings (alpha fixed)


@dataclass(frozen=True)
class Row:
    """One system in one ranking."""

    system: str
    rank: int
    rank_low: int
    rank_high: int
    letters: str
    accuracy: float
    ci_low: float
    ci_high: float
    n: int
    correct: int | None = None
    clustered_se: float | None = None
    clustered_low: float | None = None
    clustered_high: float | None = None
    details: SystemDetails = field(default_factory=SystemDetails)
    per_benchmark: tuple[tuple[str, float], ...] = ()
    """Overall rows: the accuracy on each benchmark (the mean of which ranks the system)."""

    @property
    def rank_interval(self) -> str:
        return f"[{self.rank_low}, {self.rank_high}]"


@dataclass(frozen=True)
class PairRow:
    """One pair, better-ranked system first; ``diff`` = accuracy(a) - accuracy(b)."""

    a: str
    b: str
    diff: float
    p: float
    p_holm: float
    significant: bool
    b_count: int | None = None
    """Items only ``a`` got right (per-benchmark rankings)."""
    c_count: int | None = None
    """Items only ``b`` got right."""
    z: float | None = None
    """Overall ranking: the stratified z (a minus b)."""


@dataclass(frozen=True)
class Unranked:
    """A system listed in the overall table but not ranked there."""

    system: str
    reason: str
    per_benchmark: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Table:
    """One ranking at a fixed alpha: a benchmark's, or the overall one (``key == "overall"``)."""

    key: str
    title: str
    alpha: float
    test: str
    ci: str
    rows: tuple[Row, ...]
    pairs: tuple[PairRow, ...]
    n_items: int | None
    n_clusters: int | None = None
    oracles: tuple[Oracle, ...] = ()
    unranked: tuple[Unranked, ...] = ()
    notes: tuple[str, ...] = ()
    benchmarks: tuple[str, ...] = ()
    """Overall table: the benchmarks averaged (equal weights)."""

    @property
    def adjacent(self) -> list[PairRow]:
        """Pairs of rank neighbours (rows ``r`` and ``r + 1``), in rank order."""
        by_pair = {(p.a, p.b): p for p in self.pairs}
        out = []
        for x, y in zip(self.rows, self.rows[1:], strict=False):
            out.append(by_pair.get((x.system, y.system)) or by_pair[(y.system, x.system)])
        return out

    @property
    def unresolved_adjacent(self) -> list[PairRow]:
        """Rank neighbours whose difference is not significant (Holm, at ``alpha``)."""
        return [p for p in self.adjacent if not p.significant]

    def row(self, system: str) -> Row:
        return next(r for r in self.rows if r.system == system)


@dataclass(frozen=True)
class Standings:
    """Everything a rendering shows, at one alpha."""

    alpha: float
    benchmarks: tuple[Table, ...]
    overall: Table | None
    intersect: bool
    method: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[Table, ...]:
        """The overall table first (when there is one), then one per benchmark."""
        return ((self.overall,) if self.overall is not None else ()) + self.benchmarks


def method_lines(alpha: float, intersect: bool, n_benchmarks: int) -> tuple[str, ...]:
    """The method, stated on every rendering."""
    level = f"{1 - alpha:.0%}"
    lines = [
        "Rank: by accuracy, highest first; equal accuracies share the better rank.",
        (
            f"Rank interval (simultaneous {level}): per benchmark, every pair of systems is compared with "
            "McNemar's mid-p test on the items both answered (the numbers `orch-eval compare` gives), and "
            f"the K(K-1)/2 p-values are Holm-adjusted as one family at alpha = {alpha:g}. Lower end = 1 + "
            "the number of systems significantly better, upper end = K - the number significantly worse."
        ),
        (
            f"Guarantee: Holm controls the family-wise error rate, so with probability at least {level} no "
            "pair of equally accurate systems is declared different, and then every system's true rank lies "
            "in its interval, all at once. Reading the direction of a difference from its sign adds the "
            "risk of calling the worse of two truly different systems better; Shaffer (1980) showed that "
            "Holm controls this too for independent tests; for these dependent tests it is not proven. The "
            "mid-p test is not strictly level-controlling: for small discordant counts its actual size can "
            "slightly exceed the nominal level (the exact test would be conservative). The intervals are "
            "about accuracy on the population of items the benchmarks sample."
        ),
        (
            "Letters: a compact letter display of the same significance relation (Piepho 2004, "
            "insert-absorb-sweep), assigned from the best system: systems sharing a letter are not "
            "significantly different; systems with no letter in common are."
        ),
        (
            f"Accuracy CI: Wilson {level}; clustered CI: mean +/- z * the cluster-robust SE by "
            "subject/category (where subjects exist). The oracle (some consulted agent right) is an upper "
            "bound: listed apart, never ranked."
        ),
    ]
    if n_benchmarks >= 2:
        lines.append(
            "Overall: each benchmark weighted equally; a system's overall accuracy is the mean of its "
            "per-benchmark accuracies (CI: MOVER-Wilson, mean -/+ sqrt(sum_b (p_b - l_b)^2 or "
            "(u_b - p_b)^2) / B from each benchmark's Wilson limits l_b, u_b; it keeps its width at 0 "
            "and 100 %). Per pair an asymptotic stratified paired "
            "test of the mean difference, z = sum_b d_b / sqrt(sum_b (b_b + c_b) / n_b^2) (d_b the accuracy "
            "difference on benchmark b, b_b and c_b its discordant counts; for one benchmark this is "
            "McNemar's (b - c) / sqrt(b + c)), Holm over all pairs, the same interval and letter rules. "
            "Systems missing a benchmark are listed but not ranked overall."
        )
    if intersect:
        lines.append(
            "--intersect: on each benchmark only the items every system answered are ranked (counts per "
            "benchmark below)."
        )
    return tuple(lines)


def _letters(accuracy: np.ndarray, sig: np.ndarray) -> list[str]:
    order = sorted(range(len(accuracy)), key=lambda i: (-round(float(accuracy[i]), 12), i))
    groups = compact_letter_display(order, sig)
    return ["".join(g) if all(len(x) == 1 for x in g) else " ".join(g) for g in groups]


def _pairs(
    tests: PairwiseTests, accuracy: np.ndarray, order: list[int], sig: np.ndarray
) -> tuple[PairRow, ...]:
    out = []
    for pos, i in enumerate(order):
        for j in order[pos + 1 :]:
            out.append(
                PairRow(
                    a=tests.systems[i],
                    b=tests.systems[j],
                    diff=float(accuracy[i] - accuracy[j]),
                    p=float(tests.p[i, j]),
                    p_holm=float(tests.p_holm[i, j]),
                    significant=bool(sig[i, j]),
                    b_count=None if tests.discordant is None else int(tests.discordant[i, j]),
                    c_count=None if tests.discordant is None else int(tests.discordant[j, i]),
                    z=None if tests.statistic is None else float(tests.statistic[i, j]),
                )
            )
    return tuple(out)


# ---------------------------------------------------------------------------- results (alpha free)


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark: its outcomes, the systems' details, and all pairwise mid-p tests."""

    name: str
    outcomes: PairedOutcomes
    details: Mapping[str, SystemDetails]
    oracles: tuple[Oracle, ...]
    items_before: Mapping[str, int] | None
    notes: tuple[str, ...]
    tests: PairwiseTests

    @classmethod
    def build(cls, source: BenchmarkInput) -> BenchmarkResult:
        unknown = set(source.details) - set(source.outcomes.systems)
        if unknown:
            raise ValueError(f"benchmark {source.name!r}: details for unknown systems {sorted(unknown)}")
        return cls(
            name=source.name,
            outcomes=source.outcomes,
            details=dict(source.details),
            oracles=tuple(source.oracles),
            items_before=None if source.items_before is None else dict(source.items_before),
            notes=tuple(source.notes),
            tests=_mcnemar_tests(source.outcomes),
        )

    @property
    def systems(self) -> tuple[str, ...]:
        return self.outcomes.systems

    @property
    def n(self) -> int:
        return self.outcomes.n

    @property
    def correct(self) -> np.ndarray:
        return self.outcomes.matrix.sum(axis=0).astype(int)

    @property
    def accuracy(self) -> np.ndarray:
        return self.correct / self.n

    def table(self, alpha: float = 0.05) -> Table:
        acc = self.accuracy
        sig = self.tests.significant(alpha)
        ranks = competition_ranks(acc)
        low, high = rank_intervals(acc, sig)
        letters = _letters(acc, sig)
        codes = self.outcomes.cluster_codes()
        rows = []
        for i, s in enumerate(self.systems):
            k = int(self.correct[i])
            w = wilson_interval(k, self.n, alpha)
            ce = clustered_mean(self.outcomes.correct[s], codes, alpha) if codes is not None else None
            rows.append(
                Row(
                    system=s,
                    rank=int(ranks[i]),
                    rank_low=int(low[i]),
                    rank_high=int(high[i]),
                    letters=letters[i],
                    accuracy=float(acc[i]),
                    ci_low=w.low,
                    ci_high=w.high,
                    n=self.n,
                    correct=k,
                    clustered_se=ce.se if ce else None,
                    clustered_low=max(0.0, ce.low) if ce else None,
                    clustered_high=min(1.0, ce.high) if ce else None,
                    details=self.details.get(s, SystemDetails()),
                )
            )
        order = sorted(range(len(rows)), key=lambda i: (rows[i].rank, i))
        notes = list(self.notes)
        if self.items_before is not None:
            counts = ", ".join(f"{s}: {c}" for s, c in self.items_before.items())
            notes.append(f"--intersect: ranked on the {self.n} items common to all systems ({counts})")
        return Table(
            key=self.name,
            title=self.name,
            alpha=alpha,
            test=self.tests.test,
            ci="Wilson",
            rows=tuple(rows[i] for i in order),
            pairs=_pairs(self.tests, acc, order, sig),
            n_items=self.n,
            n_clusters=self.outcomes.n_clusters,
            oracles=self.oracles,
            notes=tuple(notes),
        )


def _mean_detail(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if values and len(known) == len(values) else None


@dataclass(frozen=True)
class OverallResult:
    """The overall ranking: systems present on every benchmark, equally weighted."""

    benchmarks: tuple[str, ...]
    systems: tuple[str, ...]
    per_benchmark: np.ndarray
    """``B x K`` accuracies (benchmark rows, system columns)."""
    n: tuple[int, ...]
    tests: PairwiseTests
    missing: Mapping[str, tuple[str, ...]]
    """Systems not ranked overall -> the benchmarks they lack."""
    unranked_accuracy: Mapping[str, tuple[tuple[str, float], ...]]
    details: Mapping[str, SystemDetails]

    @classmethod
    def build(cls, results: Sequence[BenchmarkResult]) -> OverallResult:
        names = [r.name for r in results]
        seen: dict[str, None] = {}
        for r in results:
            seen.update(dict.fromkeys(r.systems))
        ranked = [s for s in seen if all(s in r.systems for r in results)]
        missing = {s: tuple(r.name for r in results if s not in r.systems) for s in seen if s not in ranked}
        unranked_acc = {
            s: tuple((r.name, float(r.accuracy[r.systems.index(s)])) for r in results if s in r.systems)
            for s in missing
        }
        idx = [[r.systems.index(s) for s in ranked] for r in results]
        per_b = np.array([r.accuracy[ix] for r, ix in zip(results, idx, strict=True)], dtype=float).reshape(
            len(results), len(ranked)
        )
        discordant = [r.tests.discordant[np.ix_(ix, ix)] for r, ix in zip(results, idx, strict=True)]  # type: ignore[index]
        n = tuple(r.n for r in results)
        tests = stratified_tests(ranked, discordant, n)
        details = {}
        for s in ranked:
            ds = [r.details.get(s, SystemDetails()) for r in results]
            details[s] = SystemDetails(
                kind=ds[0].kind,
                cost_per_item=_mean_detail([d.cost_per_item for d in ds]),
                latency_per_item=_mean_detail([d.latency_per_item for d in ds]),
                input_tokens_per_item=_mean_detail([d.input_tokens_per_item for d in ds]),
                output_tokens_per_item=_mean_detail([d.output_tokens_per_item for d in ds]),
                calls_per_item=_mean_detail([d.calls_per_item for d in ds]),
                abstain_rate=_mean_detail([d.abstain_rate for d in ds]),
            )
        per_b.setflags(write=False)
        return cls(tuple(names), tuple(ranked), per_b, n, tests, missing, unranked_acc, details)

    @property
    def accuracy(self) -> np.ndarray:
        """Equally weighted mean of the per-benchmark accuracies."""
        return self.per_benchmark.mean(axis=0) if self.per_benchmark.size else np.zeros(len(self.systems))

    def table(self, alpha: float = 0.05) -> Table:
        acc = self.accuracy
        sig = self.tests.significant(alpha)
        ranks = competition_ranks(acc)
        low, high = rank_intervals(acc, sig)
        letters = _letters(acc, sig)
        rows = []
        for i, s in enumerate(self.systems):
            p = self.per_benchmark[:, i]
            counts = [round(float(v) * n) for v, n in zip(p, self.n, strict=True)]  # p is correct / n
            ci = mover_mean_interval(counts, list(self.n), alpha)
            rows.append(
                Row(
                    system=s,
                    rank=int(ranks[i]),
                    rank_low=int(low[i]),
                    rank_high=int(high[i]),
                    letters=letters[i],
                    accuracy=float(acc[i]),
                    ci_low=ci.low,
                    ci_high=ci.high,
                    n=int(sum(self.n)),
                    details=self.details[s],
                    per_benchmark=tuple((b, float(v)) for b, v in zip(self.benchmarks, p, strict=True)),
                )
            )
        order = sorted(range(len(rows)), key=lambda i: (rows[i].rank, i))
        unranked = tuple(
            Unranked(s, "not on " + ", ".join(m), self.unranked_accuracy[s]) for s, m in self.missing.items()
        )
        return Table(
            key="overall",
            title="Overall (benchmarks weighted equally)",
            alpha=alpha,
            test=self.tests.test,
            ci="MOVER-Wilson",
            rows=tuple(rows[i] for i in order),
            pairs=_pairs(self.tests, acc, order, sig),
            n_items=int(sum(self.n)),
            unranked=unranked,
            benchmarks=self.benchmarks,
        )


@dataclass(frozen=True)
class Leaderboard:
    """Every system ranked on every benchmark and overall (see the module docstring).

    Build it with :meth:`build` from :class:`BenchmarkInput` objects or a mapping
    ``{benchmark: PairedOutcomes}``; read it at a level with :meth:`standings`.
    """

    benchmarks: Mapping[str, BenchmarkResult]
    overall: OverallResult | None
    intersect: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        benchmarks: Sequence[BenchmarkInput] | Mapping[str, PairedOutcomes],
        *,
        intersect: bool = False,
        notes: Sequence[str] = (),
    ) -> Leaderboard:
        """Compute every benchmark's pairwise tests and, with two or more benchmarks, the
        overall ranking."""
        if isinstance(benchmarks, Mapping):
            inputs = [BenchmarkInput(name, po) for name, po in benchmarks.items()]
        else:
            inputs = list(benchmarks)
        if not inputs:
            raise ValueError("a leaderboard needs at least one benchmark")
        names = [b.name for b in inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"benchmark names must be unique, got {names}")
        results = {b.name: BenchmarkResult.build(b) for b in inputs}
        overall = OverallResult.build(list(results.values())) if len(results) >= 2 else None
        return cls(results, overall, intersect, tuple(notes))

    def standings(self, alpha: float = 0.05) -> Standings:
        """Every table at level ``alpha`` (two-sided; rank intervals are simultaneous ``1 - alpha``)."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        return Standings(
            alpha=alpha,
            benchmarks=tuple(r.table(alpha) for r in self.benchmarks.values()),
            overall=self.overall.table(alpha) if self.overall is not None else None,
            intersect=self.intersect,
            method=method_lines(alpha, self.intersect, len(self.benchmarks)),
            notes=self.notes,
        )
