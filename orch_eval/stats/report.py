"""``compare()``: every statistic for a set of paired systems, and its renderings.

The report is built from a :class:`~orch_eval.stats.outcomes.PairedOutcomes` only. It never
chooses a reference system by looking at the results: a reference (e.g. the best single
panel member *as designated before the run*) must be named by the caller; without one,
all pairs are compared and corrected together.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from orch_eval.stats.clustered import clustered_mean
from orch_eval.stats.intervals import (
    bootstrap_paired_ci_from_counts,
    level_label,
    newcombe_paired_ci,
    tango_paired_ci,
    wilson_interval,
)
from orch_eval.stats.markdown import md_table
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.paired import CochranQResult, Correction, TestName, adjust_pvalues, cochran_q, mcnemar
from orch_eval.stats.power import minimum_detectable_effect

__all__ = ["Comparison", "Report", "SystemSummary", "compare"]

Pairs = Literal["reference", "all"]
_TESTS = ("midp", "exact", "asymptotic", "asymptotic_cc")
_CORRECTIONS = ("holm", "bh", "none")


@dataclass(frozen=True)
class SystemSummary:
    """Accuracy of one system. Clustered fields are ``None`` without cluster labels;
    cost/latency fields are ``None`` when not supplied."""

    system: str
    n: int
    correct: int
    accuracy: float
    wilson_low: float
    wilson_high: float
    se_iid: float
    se_clustered: float | None
    clustered_low: float | None
    clustered_high: float | None
    cost_total: float | None
    cost_per_item: float | None
    latency_mean: float | None


@dataclass(frozen=True)
class Comparison:
    """System A versus system B on the same ``n`` items; ``diff = acc(A) - acc(B)``.

    ``both``/``b``/``c``/``neither`` are the paired table (``b``: A right, B wrong).
    ``p`` is the p-value of the report's chosen test, ``p_adjusted`` that value after the
    report's multiplicity correction over all comparisons in the report, ``mark`` is
    ``"*"`` when ``p_adjusted < alpha``. ``mde`` is ``nan`` when nothing is detectable.
    """

    system_a: str
    system_b: str
    n: int
    both: int
    b: int
    c: int
    neither: int
    accuracy_a: float
    accuracy_b: float
    diff: float
    newcombe_low: float
    newcombe_high: float
    tango_low: float
    tango_high: float
    bootstrap_low: float | None
    bootstrap_high: float | None
    p_exact: float
    p_midp: float
    chi2: float
    p_asymptotic: float
    chi2_cc: float
    p_asymptotic_cc: float
    p: float
    p_adjusted: float
    mark: str
    mde: float
    se_clustered: float | None
    clustered_low: float | None
    clustered_high: float | None


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: nan/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if p < 1e-4:
        return f"{p:.2e}"
    return f"{p:.4f}"


@dataclass(frozen=True)
class Report:
    """Result of :func:`compare`. All numbers are kept at full precision; only
    :meth:`to_markdown` rounds for display."""

    n_items: int
    n_clusters: int | None
    reference: str | None
    pairs: str
    test: str
    correction: str
    alpha: float
    bootstrap: int
    seed: int
    systems: tuple[SystemSummary, ...]
    comparisons: tuple[Comparison, ...]
    cochran: CochranQResult | None

    @property
    def level(self) -> str:
        """The two-sided confidence level of every interval, as a label (``"95%"``)."""
        return level_label(self.alpha)

    # ------------------------------------------------------------- tables
    def systems_frame(self) -> pd.DataFrame:
        """One row per system; cost/latency columns only when some system has them."""
        df = pd.DataFrame([asdict(s) for s in self.systems], columns=[f.name for f in fields(SystemSummary)])
        for col in ("se_clustered", "clustered_low", "clustered_high"):
            if self.n_clusters is None:
                df = df.drop(columns=col)
        for col in ("cost_total", "cost_per_item", "latency_mean"):
            if df[col].isna().all():
                df = df.drop(columns=col)
        return df

    def comparisons_frame(self) -> pd.DataFrame:
        """One row per comparison (all columns of :class:`Comparison`)."""
        df = pd.DataFrame([asdict(c) for c in self.comparisons], columns=[f.name for f in fields(Comparison)])
        if self.n_clusters is None:
            df = df.drop(columns=["se_clustered", "clustered_low", "clustered_high"])
        if self.bootstrap == 0:
            df = df.drop(columns=["bootstrap_low", "bootstrap_high"])
        return df

    # ------------------------------------------------------------- renderings
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form of the report (nan/inf become ``None``)."""
        return _clean(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON; floats are written with ``repr`` (round-trip, full precision)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_csv(self, which: Literal["comparisons", "systems"] = "comparisons") -> str:
        """CSV of one table at full precision."""
        frame = self.comparisons_frame() if which == "comparisons" else self.systems_frame()
        return frame.to_csv(index=False)

    def to_latex(self, which: Literal["comparisons", "systems"] = "comparisons", digits: int = 4) -> str:
        """LaTeX ``tabular`` of one table (via pandas), numbers rounded to ``digits``."""
        frame = self.comparisons_frame() if which == "comparisons" else self.systems_frame()

        def fmt(x: float) -> str:
            return f"{x:.{digits - 1}e}" if x != 0 and abs(x) < 10**-digits else f"{x:.{digits}f}"

        return frame.to_latex(index=False, escape=True, float_format=fmt, na_rep="--")

    def to_markdown(self) -> str:
        """Human-readable summary: systems table, comparisons table, omnibus test, notes."""
        lines: list[str] = ["# Paired comparison report", ""]
        cl = f", {self.n_clusters} clusters" if self.n_clusters is not None else ""
        lines.append(
            f"{self.n_items} paired items{cl}; alpha = {self.alpha} (two-sided {self.level} intervals)."
        )
        if self.reference is not None:
            lines.append(f"Reference system (declared by the caller): **{self.reference}**.")
        lines.append(
            f"Test: McNemar {self.test}; correction: {self.correction} over "
            f"{len(self.comparisons)} comparison(s); diff = accuracy(A) - accuracy(B)."
        )
        lines.append("")
        has_cost = any(s.cost_total is not None for s in self.systems)
        has_lat = any(s.latency_mean is not None for s in self.systems)
        clustered = self.n_clusters is not None
        level = self.level
        header = ["system", "n", "accuracy", f"Wilson {level} CI"]
        if clustered:
            header += ["clustered SE", f"clustered {level} CI"]
        if has_cost:
            header += ["cost total", "cost/item"]
        if has_lat:
            header += ["latency mean"]
        rows = []
        for s in self.systems:
            row = [s.system, str(s.n), _fmt(s.accuracy), f"[{_fmt(s.wilson_low)}, {_fmt(s.wilson_high)}]"]
            if clustered:
                row += [_fmt(s.se_clustered), f"[{_fmt(s.clustered_low)}, {_fmt(s.clustered_high)}]"]
            if has_cost:
                row += [_fmt(s.cost_total), _fmt(s.cost_per_item, 6)]
            if has_lat:
                row += [_fmt(s.latency_mean, 3)]
            rows.append(row)
        lines += ["## Systems", "", *md_table(header, rows), ""]
        if self.comparisons:
            header = ["A", "B", "b", "c", "diff", f"Newcombe {level} CI", f"Tango {level} CI"]
            if self.bootstrap:
                header.append(f"bootstrap {level} CI")
            if clustered:
                header.append(f"clustered {level} CI")
            header += ["p exact", "p mid-p", "p asym", "p asym cc", f"p adj ({self.test})", "sig.", "MDE"]
            rows = []
            for c in self.comparisons:
                row = [
                    c.system_a,
                    c.system_b,
                    str(c.b),
                    str(c.c),
                    f"{c.diff:+.4f}",
                    f"[{_fmt(c.newcombe_low)}, {_fmt(c.newcombe_high)}]",
                    f"[{_fmt(c.tango_low)}, {_fmt(c.tango_high)}]",
                ]
                if self.bootstrap:
                    row.append(f"[{_fmt(c.bootstrap_low)}, {_fmt(c.bootstrap_high)}]")
                if clustered:
                    row.append(f"[{_fmt(c.clustered_low)}, {_fmt(c.clustered_high)}]")
                row += [
                    _fmt_p(c.p_exact),
                    _fmt_p(c.p_midp),
                    _fmt_p(c.p_asymptotic),
                    _fmt_p(c.p_asymptotic_cc),
                    _fmt_p(c.p_adjusted),
                    c.mark,
                    _fmt(c.mde),
                ]
                rows.append(row)
            lines += ["## Comparisons", "", *md_table(header, rows), ""]
            lines.append(
                f"sig. `*`: adjusted p < {self.alpha}. b = items only A got right, c = only B. "
                f"MDE: smallest |diff| detectable with 80% power at two-sided alpha = {self.alpha} "
                "at this discordance (n/a: none detectable)."
            )
            lines.append("")
        if self.cochran is not None:
            q = self.cochran
            lines.append(
                f"Cochran's Q ({q.k} systems): Q = {q.statistic:.4f}, df = {q.df}, p = {_fmt_p(q.pvalue)}."
            )
            lines.append("")
        return "\n".join(lines)


def _pair_list(systems: tuple[str, ...], reference: str | None, pairs: Pairs) -> list[tuple[str, str]]:
    if pairs not in ("reference", "all"):
        raise ValueError(f"pairs must be 'reference' or 'all', got {pairs!r}")
    if reference is not None and reference not in systems:
        raise ValueError(f"reference {reference!r} is not one of the systems {list(systems)}")
    if reference is not None and pairs == "reference":
        return [(s, reference) for s in systems if s != reference]
    out = []
    for a, b in itertools.combinations(systems, 2):
        # keep "other - reference" orientation when a reference is declared
        out.append((b, a) if a == reference else (a, b))
    return out


def compare(
    outcomes: PairedOutcomes,
    reference: str | None = None,
    correction: Correction = "holm",
    test: TestName = "midp",
    pairs: Pairs = "reference",
    bootstrap: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Report:
    """Compare paired systems.

    Args:
        outcomes: the aligned per-item correctness.
        reference: a system named *before* seeing results. With a reference and
            ``pairs="reference"``, each other system is compared with it
            (``diff = system - reference``). Without a reference, all pairs are compared.
        correction: ``"holm"`` (family-wise, default), ``"bh"`` (false discovery rate) or
            ``"none"``; applied over all comparisons in the report.
        test: McNemar variant whose p-values are adjusted and marked: ``"midp"`` (default),
            ``"exact"``, ``"asymptotic"``, ``"asymptotic_cc"``. All four are reported.
        pairs: ``"reference"`` or ``"all"``.
        bootstrap: bootstrap resamples per comparison (0 disables the bootstrap interval).
        seed: bootstrap seed. Each pair's stream is derived from (seed, its unordered discordant
            counts), never from the names: equal tables get equal intervals, and the interval of
            ``B - A`` is exactly the negated interval of ``A - B``
            (:func:`~orch_eval.stats.intervals.bootstrap_paired_ci_from_counts`).
        alpha: two-sided level of every interval, of the ``*`` mark and of the MDE.
    """
    if test not in _TESTS:
        raise ValueError(f"test must be one of {_TESTS}, got {test!r}")
    if correction not in _CORRECTIONS:
        raise ValueError(f"correction must be one of {_CORRECTIONS}, got {correction!r}")
    if bootstrap < 0:
        raise ValueError("bootstrap must be >= 0")
    names = outcomes.systems
    pair_list = _pair_list(names, reference, pairs)
    pairs_used: str = "reference" if (reference is not None and pairs == "reference") else "all"
    n = outcomes.n
    mat = outcomes.matrix
    col = {s: j for j, s in enumerate(names)}
    codes = outcomes.cluster_codes()
    counts = mat.sum(axis=0).astype(np.int64)
    matf = mat.astype(np.float64)
    both_matrix = (matf.T @ matf).astype(np.int64)  # items both systems got right

    summaries = []
    for s in names:
        k = int(counts[col[s]])
        w = wilson_interval(k, n, alpha)
        p = k / n
        ce = clustered_mean(outcomes.correct[s], codes, alpha) if codes is not None else None
        cost = outcomes.cost_total.get(s) if outcomes.cost_total else None
        lat = outcomes.latency_mean.get(s) if outcomes.latency_mean else None
        summaries.append(
            SystemSummary(
                system=s,
                n=n,
                correct=k,
                accuracy=p,
                wilson_low=w.low,
                wilson_high=w.high,
                se_iid=math.sqrt(p * (1 - p) / n),
                se_clustered=ce.se if ce else None,
                clustered_low=max(0.0, ce.low) if ce else None,  # an accuracy lies in [0, 1]
                clustered_high=min(1.0, ce.high) if ce else None,
                cost_total=cost,
                cost_per_item=cost / n if cost is not None else None,
                latency_mean=lat,
            )
        )

    raw: list[dict[str, Any]] = []
    for a, b_name in pair_list:
        i, j = col[a], col[b_name]
        both = int(both_matrix[i, j])
        b = int(counts[i]) - both
        c = int(counts[j]) - both
        neither = n - both - b - c
        mc = mcnemar(b, c)
        newc = newcombe_paired_ci(both, b, c, neither, alpha)
        tango = tango_paired_ci(both, b, c, neither, alpha)
        boot = bootstrap_paired_ci_from_counts(b, c, n, bootstrap, seed, alpha) if bootstrap else None
        ce = None
        if codes is not None:
            d = matf[:, i] - matf[:, j]
            ce = clustered_mean(d, codes, alpha)
        raw.append(
            dict(
                system_a=a,
                system_b=b_name,
                n=n,
                both=both,
                b=b,
                c=c,
                neither=neither,
                accuracy_a=int(counts[i]) / n,
                accuracy_b=int(counts[j]) / n,
                diff=(b - c) / n,
                newcombe_low=newc.low,
                newcombe_high=newc.high,
                tango_low=tango.low,
                tango_high=tango.high,
                bootstrap_low=boot.low if boot else None,
                bootstrap_high=boot.high if boot else None,
                p_exact=mc.p_exact,
                p_midp=mc.p_midp,
                chi2=mc.chi2,
                p_asymptotic=mc.p_asymptotic,
                chi2_cc=mc.chi2_cc,
                p_asymptotic_cc=mc.p_asymptotic_cc,
                p=mc.pvalue(test),
                mde=minimum_detectable_effect(b, c, n, alpha=alpha),
                se_clustered=ce.se if ce else None,
                clustered_low=max(-1.0, ce.low) if ce else None,  # a difference lies in [-1, 1]
                clustered_high=min(1.0, ce.high) if ce else None,
            )
        )
    adjusted = adjust_pvalues([r["p"] for r in raw], correction)
    comparisons = tuple(
        Comparison(**r, p_adjusted=float(pa), mark="*" if pa < alpha else "")
        for r, pa in zip(raw, adjusted, strict=True)
    )
    cq = cochran_q(mat) if len(names) >= 3 else None
    return Report(
        n_items=n,
        n_clusters=outcomes.n_clusters,
        reference=reference,
        pairs=pairs_used,
        test=test,
        correction=correction,
        alpha=alpha,
        bootstrap=bootstrap,
        seed=seed,
        systems=tuple(summaries),
        comparisons=comparisons,
        cochran=cq,
    )
