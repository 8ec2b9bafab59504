"""One comparison's analysis, computed once and rendered many ways.

:func:`analyse` turns the systems read from logs (:class:`~orch_eval.stats.loaders.LoadedSystems`,
one benchmark's) into an :class:`Analysis`: the paired statistics (:func:`~orch_eval.stats.report.compare`),
the oracle bound, the merger diagnostics, the compute each system spent per item, the notes and
the sources. ``orch-eval compare``, ``orch-eval run`` and the demo all build it the same way and
render it with its methods: Markdown, JSON, CSV, LaTeX (a compact paper table, or the full
dump), a plain-text verdict table, and plots.
"""

from __future__ import annotations

import json
import math
import warnings as _warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from orch_eval.core.redact import redact_data
from orch_eval.stats.diagnostics import MergerDiagnostics, merger_diagnostics
from orch_eval.stats.intervals import wilson_interval
from orch_eval.stats.loaders import LoadedSystems, LogLoadError, SystemData, summarize_sources
from orch_eval.stats.markdown import md_table
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.paired import Correction, TestName
from orch_eval.stats.report import Comparison, Pairs, Report, _clean, compare

__all__ = ["Analysis", "OracleBound", "SystemCompute", "analyse"]


@dataclass(frozen=True)
class OracleBound:
    """Some consulted agent was right: an upper bound on any merge, never a system."""

    name: str
    n: int
    correct: int
    accuracy: float
    wilson_low: float
    wilson_high: float
    independent_agents: float | None
    """The oracle's accuracy if the agents erred independently (their accuracies multiplied)."""
    agents: int


@dataclass(frozen=True)
class SystemCompute:
    """What one system spent per item on the compared items (None where the logs do not say)."""

    system: str
    calls: float | None
    input_tokens: float | None
    output_tokens: float | None
    cost: float | None
    latency: float | None
    """Seconds per item as the models report them (cached calls report the original time)."""

    @property
    def tokens(self) -> float | None:
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens


@dataclass
class Analysis:
    """Everything one comparison reports (see the module docstring)."""

    report: Report
    outcomes: PairedOutcomes
    oracles: list[OracleBound]
    diagnostics: list[MergerDiagnostics]
    compute: dict[str, SystemCompute]
    sources: list[dict[str, Any]]
    notes: list[str]
    benchmark: str | None = None
    chance: float | None = None
    """Accuracy of guessing uniformly among the options (multiple choice), None otherwise."""
    plots: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers
    @property
    def reference(self) -> str | None:
        return self.report.reference

    def comparison(self, system: str) -> Comparison | None:
        """The comparison of ``system`` with the reference (``system`` as A), if made."""
        return next(
            (c for c in self.report.comparisons if c.system_a == system and c.system_b == self.reference),
            None,
        )

    def reference_note(self) -> str | None:
        report = self.report
        if report.reference is None:
            return (
                f"No reference system was declared: all {len(report.comparisons)} pairs are compared and "
                f"corrected together ({report.correction}). Name one with --reference (chosen before "
                "looking at these results) for the 'does it beat X' question."
            )
        if report.pairs == "all":
            return f"All {len(report.comparisons)} pairs are compared (--pairs all) and corrected together."
        return None

    # ------------------------------------------------------------------ renderings
    def to_markdown(self, title: str | None = "Paired comparison report") -> str:
        """The full report as Markdown (``title``: its top heading; None starts at the tables)."""
        report = self.report
        text = report.to_markdown().rstrip("\n").split("\n")
        text[0] = f"# {title}" if title else ""
        if self.benchmark:
            text.insert(2, f"Benchmark: **{self.benchmark}**.")
        note = self.reference_note()
        if note:
            text.insert(4 if self.benchmark else 3, note)
        lines = text + [""]
        lines += self._compute_md()
        lines += self._oracle_md()
        for d in self.diagnostics:
            lines.append(d.to_markdown())
        if self.plots:
            lines += ["## Plots", ""] + [f"* {p}" for p in self.plots] + [""]
        lines += ["## Sources", ""]
        for s in self.sources:
            extra = f"; filter {s['filter']}" if s["filter"] else ""
            der = f"; derived: {', '.join(s['derived'])}" if s["derived"] else ""
            lines.append(
                f"* `{s['path']}` ({s['harness']}{extra}): **{s['system']}**, {s['items']} items{der}"
            )
        lines.append("")
        if self.notes:
            lines += ["## Notes", ""] + [f"* {n}" for n in self.notes] + [""]
        return "\n".join(line for line in lines if line is not None).lstrip("\n")

    def _compute_md(self) -> list[str]:
        rows = [
            c
            for c in self.compute.values()
            if any(v is not None for v in (c.calls, c.tokens, c.cost, c.latency))
        ]
        if not rows:
            return []
        header = [
            "system",
            "calls/item",
            "input tokens/item",
            "output tokens/item",
            "cost/item",
            "latency/item (s)",
        ]
        body = [
            [
                c.system,
                _num(c.calls, 2),
                _num(c.input_tokens, 0),
                _num(c.output_tokens, 0),
                _num(c.cost, 6),
                _num(c.latency, 2),
            ]
            for c in rows
        ]
        return [
            "## Compute",
            "",
            *md_table(header, body),
            "",
            "Per item, over the compared items, from the logs (n/a: not recorded). A comparison is "
            "fair when the compute beside it is comparable.",
            "",
        ]

    def _oracle_md(self) -> list[str]:
        if not self.oracles:
            return []
        level = self.report.level
        lines = ["## Upper bound (not a system)", ""]
        for o in self.oracles:
            lines.append(
                f"* **{o.name}**: some consulted agent was right on {o.correct}/{o.n} items = "
                f"{o.accuracy:.4f}, Wilson {level} CI [{o.wilson_low:.4f}, {o.wilson_high:.4f}]"
                + (
                    f"; {o.independent_agents:.4f} expected if the {o.agents} agents erred independently"
                    if o.independent_agents is not None
                    else ""
                )
                + "."
            )
        lines.append(
            "* The oracle picks the right agent *after* seeing the gold answer: no merger can reach it by "
            "design. With agents near chance it is inflated by luck (on four-option questions, at least one "
            "of three agents guessing at random is right on 1 - 0.75^3 = 58% of items), so read it as a "
            "ceiling, never as a system."
        )
        lines.append("")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out = self.report.to_dict()
        out["benchmark"] = self.benchmark
        out["chance"] = self.chance
        out["reference_note"] = self.reference_note()
        out["compute"] = [asdict(c) | {"tokens": c.tokens} for c in self.compute.values()]
        out["oracle"] = [asdict(o) for o in self.oracles]
        out["diagnostics"] = [d.to_dict() for d in self.diagnostics]
        out["sources"] = self.sources
        out["notes"] = self.notes
        out["plots"] = self.plots
        return redact_data(_clean(out))  # names and notes come from the logs

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_csv(self, which: Literal["comparisons", "systems"] = "comparisons") -> str:
        """CSV of one table at full precision (the systems table carries the compute columns)."""
        if which == "comparisons":
            return self.report.to_csv("comparisons")
        frame = self.report.systems_frame()
        for col, attr in (
            ("calls_per_item", "calls"),
            ("input_tokens_per_item", "input_tokens"),
            ("output_tokens_per_item", "output_tokens"),
        ):
            values = [getattr(self.compute.get(s), attr, None) for s in frame["system"]]
            if any(v is not None for v in values):
                frame[col] = values
        return frame.to_csv(index=False)

    def to_latex(self, full: bool = False) -> str:
        """A compact paper table (booktabs; system, accuracy with its Wilson interval, the difference
        to the reference with its Newcombe interval, the adjusted p; a caption saying what was
        computed), or with ``full`` both raw tables (every column, snake_case headers)."""
        if full:
            return self.report.to_latex("systems") + "\n" + self.report.to_latex("comparisons")
        report = self.report
        level = report.level.replace("%", r"\%")
        ref = report.reference
        rows = []
        for s in report.systems:
            acc = f"{100 * s.accuracy:.1f} [{100 * s.wilson_low:.1f}, {100 * s.wilson_high:.1f}]"
            c = self.comparison(s.system) if ref is not None else None
            if s.system == ref:
                diff, p = "(reference)", ""
            elif c is not None:
                diff = f"{100 * c.diff:+.1f} [{100 * c.newcombe_low:+.1f}, {100 * c.newcombe_high:+.1f}]"
                p = _latex_p(c.p_adjusted) + ("$^{*}$" if c.mark else "")
            else:
                diff, p = "--", "--"
            rows.append(f"{_latex_escape(s.system)} & {acc} & {diff} & {p} \\\\")
        what = f" on {_latex_escape(self.benchmark)}" if self.benchmark else ""
        against = (
            f"Difference: system minus the reference declared before the run, {_latex_escape(ref)}, in "
            f"points with its Newcombe {level} interval; $p$: McNemar {report.test} "
            f"({report.correction}-adjusted over {len(report.comparisons)} comparisons), $^{{*}}$ below "
            f"{report.alpha}."
            if ref is not None
            else "No reference was declared: see the full comparison table for all pairs."
        )
        caption = (
            f"Accuracy{what} (\\%, n = {report.n_items} paired items) with Wilson {level} intervals. "
            f"{against}"
        )
        label = "tab:orch-" + "".join(ch if ch.isalnum() else "-" for ch in (self.benchmark or "comparison"))
        header = (
            "System & Accuracy ["
            + level
            + " CI] & $\\Delta$ vs.\\ reference ["
            + level
            + " CI] & adj.\\ $p$ \\\\"
        )
        return "\n".join(
            [
                "% needs \\usepackage{booktabs}",
                "\\begin{table}[t]",
                "\\centering",
                f"\\caption{{{caption}}}",
                f"\\label{{{label}}}",
                "\\begin{tabular}{lccr}",
                "\\toprule",
                header,
                "\\midrule",
                *rows,
                "\\bottomrule",
                "\\end{tabular}",
                "\\end{table}",
                "",
            ]
        )

    def verdict_rows(self, names: dict[str, str] | None = None) -> list[list[str]]:
        """Rows (system, accuracy, CI, b/c vs reference, mid-p vs reference, verdict) for a
        plain-text table; ``names`` relabels systems."""
        report = self.report
        rows = []
        for s in report.systems:
            c = self.comparison(s.system)
            label = (names or {}).get(s.system, s.system)
            if s.system == report.reference:
                verdict, bc, p = "reference", "", ""
            elif c is None:
                verdict, bc, p = "", "", ""
            else:
                bc, p = f"{c.b}/{c.c}", _fmt_p(c.p_midp)
                if c.mark:
                    verdict = "better" if c.diff > 0 else "worse"
                else:
                    verdict = "no difference shown"
            rows.append(
                [label, f"{s.accuracy:.1%}", f"[{s.wilson_low:.0%}, {s.wilson_high:.0%}]", bc, p, verdict]
            )
        for o in self.oracles:
            rows.append([f"{o.name} (upper bound, not a system)", f"{o.accuracy:.1%}", "", "", "", ""])
        return rows

    def verdict_table(self, names: dict[str, str] | None = None) -> str:
        """The demo's table: each system against the reference, then a one-line legend."""
        level = self.report.level
        header = [
            "system",
            "accuracy",
            f"{level} CI",
            "b/c vs ref",
            "mid-p vs ref",
            f"verdict ({self.report.correction}, alpha {self.report.alpha})",
        ]
        rows = self.verdict_rows(names)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(r: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

        legend = (
            "b/c: items only this system / only the reference got right; mid-p: McNemar's paired test "
            f"of b against c (small = a real difference); verdict: after {self.report.correction} correction."
        )
        return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows), legend])

    # ------------------------------------------------------------------ plots
    def write_plots(self, directory: str | Path) -> list[str]:
        """accuracy.png, accuracy_vs_cost.png (cost per item, else tokens or latency per item) and,
        with all pairs, pvalues.png into ``directory``; notes say what was not drawn."""
        from orch_eval.stats.plots import plot_accuracy, plot_accuracy_vs_cost, plot_pvalue_heatmap

        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        title = self.benchmark or "comparison"
        if self.reference:
            title += f" (reference: {self.reference})"
        written = [str(plot_accuracy(self.report, d / "accuracy.png", title=title, chance=self.chance))]
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", UserWarning)
            cost = plot_accuracy_vs_cost(
                self.report, d / "accuracy_vs_cost.png", compute=self.compute, title=title, chance=self.chance
            )
        if cost is not None:
            written.append(str(cost))
        else:
            self.notes.append("plots: no cost, token or latency data, accuracy_vs_cost.png not drawn")
        if self.report.pairs == "all" and len(self.report.systems) >= 2:
            written.append(str(plot_pvalue_heatmap(self.report, d / "pvalues.png", title=title)))
        else:
            self.notes.append("plots: the p-value heatmap needs all pairs (--pairs all or no --reference)")
        self.plots = written
        return written


# ---------------------------------------------------------------------------- building


def mean_over(values: Mapping[str, Any] | None, items: Sequence[Any]) -> float | None:
    """The mean of ``values`` over ``items`` (bools count as 0/1); None when any item lacks one."""
    if values is None or not items or any(i not in values for i in items):
        return None
    return float(sum(float(values[i]) for i in items)) / len(items)


def system_compute(sd: SystemData, items: Sequence[str]) -> SystemCompute:
    """Per-item means of one system's calls, tokens, cost and latency over ``items``."""
    return SystemCompute(
        system=sd.name,
        calls=mean_over(sd.calls, items),
        input_tokens=mean_over(sd.input_tokens, items),
        output_tokens=mean_over(sd.output_tokens, items),
        cost=mean_over(sd.cost, items),
        latency=mean_over(sd.latency, items),
    )


def _oracles(loaded: LoadedSystems, items: set[str], alpha: float) -> list[OracleBound]:
    out = []
    for name, o in loaded.oracles.items():
        if not items <= set(o.correct):
            continue
        k = sum(bool(o.correct[i]) for i in items)
        w = wilson_interval(k, len(items), alpha)
        log = next((lg for lg in loaded.logs if lg.oracle is not None and lg.oracle.source == o.source), None)
        agents = [d for d in log.derived if d.kind == "agent"] if log is not None else []
        indep = None
        if agents and all(items <= set(a.correct) for a in agents):
            miss = 1.0
            for a in agents:
                miss *= 1 - sum(bool(a.correct[i]) for i in items) / len(items)
            indep = 1 - miss
        out.append(OracleBound(name, len(items), k, k / len(items), w.low, w.high, indep, len(agents)))
    return out


def analyse(
    loaded: LoadedSystems,
    *,
    systems: Sequence[str] | None = None,
    reference: str | None = None,
    intersect: bool = False,
    derived: bool = True,
    intersect_hint: str = "intersect=True",
    correction: Correction = "holm",
    test: TestName = "midp",
    pairs: Pairs = "reference",
    bootstrap: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    benchmark: str | None = None,
    notes: Sequence[str] = (),
) -> Analysis:
    """The analysis of ``loaded``'s systems (all, or ``systems`` by exact name or unique prefix),
    with ``reference`` (a name or unique prefix, declared before looking) compared with every
    other one. Raises :class:`~orch_eval.stats.loaders.LogLoadError` (a ``ValueError``) on bad
    input: unknown names, fewer than two systems, different item sets without ``intersect``."""
    names = loaded.select(list(systems) if systems else None, derived=derived)
    ref = None
    if reference:
        ref = loaded.resolve(reference)
        if ref not in names:
            raise LogLoadError(f"reference {ref!r} is not among the selected systems {names}")
    if len(names) < 2:
        raise LogLoadError(f"need at least two systems to compare, got {names}")
    po = loaded.outcomes(names, intersect=intersect, derived=derived, intersect_hint=intersect_hint)
    report = compare(
        po,
        reference=ref,
        correction=correction,
        test=test,
        pairs=pairs,
        bootstrap=bootstrap,
        seed=seed,
        alpha=alpha,
    )
    items = [str(i) for i in po.item_ids]
    item_set = set(items)
    diagnostics = []
    for log in loaded.panel_logs():
        ds = [d for i, d in log.decisions.items() if i in item_set]
        if ds and any(d.merge is not None for d in ds):
            diagnostics.append(merger_diagnostics(ds, system=log.name))
    all_notes = list(notes) + list(loaded.warnings)
    if intersect and any(len(loaded.systems[n].correct) != po.n for n in names):
        flag = "--intersect" if intersect_hint.startswith("--") else "intersect"
        all_notes.append(
            f"{flag}: kept the {po.n} items common to all systems ("
            + ", ".join(f"{n}: {len(loaded.systems[n].correct)}" for n in names)
            + ")"
        )
    return Analysis(
        report=report,
        outcomes=po,
        oracles=_oracles(loaded, item_set, alpha) if derived else [],
        diagnostics=diagnostics,
        compute={n: system_compute(loaded.systems[n], items) for n in names},
        sources=summarize_sources(loaded),
        notes=all_notes,
        benchmark=benchmark,
        chance=loaded.chance(items),
    )


# ---------------------------------------------------------------------------- formatting


def _num(x: float | None, digits: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    return f"{p:.2e}" if p < 1e-4 else f"{p:.3f}"


def _latex_p(p: float) -> str:
    if p < 1e-3:
        mantissa, exp = f"{p:.1e}".split("e")
        return f"${mantissa}\\times 10^{{{int(exp)}}}$"
    return f"{p:.3f}"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _latex_escape(text: str | None) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in (text or ""))
