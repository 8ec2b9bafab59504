"""Text renderings of :class:`Standings`: markdown, CSV, JSON and LaTeX.

CSV and JSON keep full precision (accuracies as fractions); markdown and LaTeX round for
reading (accuracies in percent). Every rendering states the method and alpha.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from orch_eval.stats.leaderboard._board import Row, Standings, Table
from orch_eval.stats.markdown import md_cell, md_table

__all__ = [
    "COLUMNS",
    "Column",
    "columns_for",
    "fmt_p",
    "oracle_text",
    "pairs_csv",
    "pct",
    "provenance_rows",
    "table_intro",
    "tex_escape",
    "to_csv",
    "to_dict",
    "to_json",
    "to_latex",
    "to_markdown",
    "unresolved_line",
]


# ---------------------------------------------------------------------------- shared formatting


def fmt_p(p: float) -> str:
    """p-values: four decimals, scientific below 1e-4."""
    return f"{p:.2e}" if p < 1e-4 else f"{p:.4f}"


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}"


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if x != 0 and abs(x) < 10**-digits:
        return f"{x:.2g}"
    return f"{x:,.{digits}f}"


class Column:
    """A display column: header, cell text, sort value, and whether the table needs it."""

    def __init__(
        self,
        key: str,
        header: str,
        text: Callable[[Row], str],
        sort: Callable[[Row], float | str | None],
        needed: Callable[[Table], bool] = lambda t: True,
        title: str = "",
    ) -> None:
        self.key, self.header, self.text, self.sort, self.needed, self.title = (
            key,
            header,
            text,
            sort,
            needed,
            title,
        )


def _has(attr: str) -> Callable[[Table], bool]:
    return lambda t: any(getattr(r.details, attr) is not None for r in t.rows)


def _ci(r: Row) -> str:
    return f"[{pct(r.ci_low)}, {pct(r.ci_high)}]"


def _clustered(r: Row) -> str:
    return "n/a" if r.clustered_low is None else f"[{pct(r.clustered_low)}, {pct(r.clustered_high)}]"


def _detail(
    attr: str, digits: int, scale: float = 1.0
) -> tuple[Callable[[Row], str], Callable[[Row], float | None]]:
    def value(r: Row) -> float | None:
        v = getattr(r.details, attr)
        return None if v is None else v * scale

    return (lambda r: _num(value(r), digits)), value


COLUMNS: tuple[Column, ...] = (
    Column(
        "rank",
        "Rank",
        lambda r: str(r.rank),
        lambda r: r.rank,
        title="by accuracy; ties share the better rank",
    ),
    Column("system", "System", lambda r: r.system, lambda r: r.system.lower()),
    Column(
        "rank_interval",
        "Rank interval",
        lambda r: r.rank_interval,
        lambda r: r.rank_low + r.rank_high / 1000,
        title="simultaneous: 1 + #significantly better .. K - #significantly worse",
    ),
    Column(
        "letters",
        "Letters",
        lambda r: r.letters,
        lambda r: r.letters,
        title="systems sharing a letter are not significantly different",
    ),
    Column("accuracy", "Accuracy %", lambda r: pct(r.accuracy), lambda r: r.accuracy),
    Column("ci", "95% CI", _ci, lambda r: r.ci_low),
    Column(
        "clustered",
        "Clustered CI",
        _clustered,
        lambda r: r.clustered_low,
        lambda t: t.n_clusters is not None,
        title="by subject/category",
    ),
    Column("n", "Items", lambda r: str(r.n), lambda r: r.n, lambda t: t.key != "overall"),
    Column(
        "abstain",
        "Abstain %",
        *_detail("abstain_rate", 1, 100.0),
        needed=_has("abstain_rate"),
        title="no parsable answer (abstention or parse failure)",
    ),
    Column("calls", "Calls/item", *_detail("calls_per_item", 2), needed=_has("calls_per_item")),
    Column(
        "tokens_in", "In tok/item", *_detail("input_tokens_per_item", 0), needed=_has("input_tokens_per_item")
    ),
    Column(
        "tokens_out",
        "Out tok/item",
        *_detail("output_tokens_per_item", 0),
        needed=_has("output_tokens_per_item"),
    ),
    Column("cost", "Cost/item", *_detail("cost_per_item", 6), needed=_has("cost_per_item")),
    Column("latency", "Latency s/item", *_detail("latency_per_item", 3), needed=_has("latency_per_item")),
)


def _benchmark_column(k: int, name: str) -> Column:
    """The overall table's column of one benchmark's accuracy."""

    def value(r: Row) -> float:
        return r.per_benchmark[k][1]

    return Column(f"bench:{name}", f"{name} %", lambda r: pct(value(r)), value)


def columns_for(table: Table) -> list[Column]:
    """The columns a table shows: the fixed ones its data has, with the overall table's
    per-benchmark accuracies after the CI."""
    cols = [c for c in COLUMNS if c.needed(table)]
    if table.key == "overall":
        at = next(i for i, c in enumerate(cols) if c.key == "ci") + 1
        for k, b in enumerate(table.benchmarks):
            cols.insert(at + k, _benchmark_column(k, b))
        cols[next(i for i, c in enumerate(cols) if c.key == "accuracy")] = Column(
            "accuracy",
            "Mean accuracy %",
            lambda r: pct(r.accuracy),
            lambda r: r.accuracy,
            title="equally weighted mean of the benchmarks' accuracies",
        )
    return cols


def unresolved_line(t: Table) -> str:
    adj = t.adjacent
    un = t.unresolved_adjacent
    if not t.rows:
        return (
            "No system has every benchmark: nothing is ranked overall."
            if t.key == "overall"
            else "No system."
        )
    if not adj:
        return "One system: nothing to resolve."
    pairs = ", ".join(f"{p.a} vs {p.b} (Holm p = {fmt_p(p.p_holm)})" for p in un)
    return f"{len(un)} of {len(adj)} adjacent pairs statistically unresolved" + (f": {pairs}." if un else ".")


def oracle_text(o: Any, alpha: float) -> str:
    from orch_eval.stats.intervals import wilson_interval

    w = wilson_interval(o.correct, o.n, alpha)
    return f"{o.name}: {pct(o.correct / o.n)} % [{pct(w.low)}, {pct(w.high)}] ({o.correct}/{o.n})"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def table_intro(t: Table) -> str:
    if t.key == "overall":
        return (
            f"{len(t.benchmarks)} benchmarks weighted equally ({', '.join(t.benchmarks)}); "
            f"{_count(len(t.rows), 'system')} ranked; test: {t.test}, Holm over "
            f"{_count(len(t.pairs), 'pair')}, alpha = {t.alpha:g}."
        )
    cl = f", {t.n_clusters} subjects/categories" if t.n_clusters is not None else ""
    return (
        f"{_count(t.n_items or 0, 'item')}{cl}; {_count(len(t.rows), 'system')}; test: {t.test}, Holm over "
        f"{_count(len(t.pairs), 'pair')}, alpha = {t.alpha:g}."
    )


# ---------------------------------------------------------------------------- markdown


def provenance_rows(st: Standings) -> list[list[str]]:
    rows = []
    for t in st.benchmarks:
        for r in t.rows:
            p = r.details.provenance
            if p is None:
                continue
            rows.append(
                [
                    r.system,
                    t.key,
                    p.harness,
                    p.model or "n/a",
                    p.panel or "n/a",
                    p.task or "n/a",
                    p.date or "n/a",
                    p.log,
                ]
            )
    return rows


PROVENANCE_HEADER = ["System", "Benchmark", "Harness", "Model", "Panel (digest)", "Task", "Date", "Log"]


def to_markdown(st: Standings, title: str = "Leaderboard") -> str:
    """The leaderboard as a markdown document."""
    lines = [f"# {md_cell(title)}", ""]
    lines.append(
        f"alpha = {st.alpha:g}: rank intervals are simultaneous {1 - st.alpha:.0%} intervals; systems "
        "sharing a letter are not significantly different (Holm-adjusted McNemar mid-p per benchmark"
        + ("; stratified paired z test overall" if st.overall is not None else "")
        + ")."
    )
    lines.append("")
    for t in st.tables:
        lines += [f"## {t.title}", "", table_intro(t), ""]
        cols = columns_for(t)
        if t.rows:
            lines += md_table([c.header for c in cols], [[c.text(r) for c in cols] for r in t.rows])
            lines.append("")
        lines += [unresolved_line(t), ""]
        if t.unranked:
            lines.append("Listed, not ranked overall (a system must have every benchmark):")
            lines.append("")
            for u in t.unranked:
                accs = ", ".join(f"{b} {pct(a)} %" for b, a in u.per_benchmark)
                lines.append(f"* {u.system}: {u.reason} ({accs})")
            lines.append("")
        if t.oracles:
            lines.append(
                "Upper bound, not ranked (the oracle picks whichever agent was right after seeing the "
                "answer):"
            )
            lines.append("")
            lines += [f"* {oracle_text(o, t.alpha)}" for o in t.oracles]
            lines.append("")
        if t.notes:
            lines += [f"* Note: {n}" for n in t.notes] + [""]
    prov = provenance_rows(st)
    if prov:
        lines += ["## Provenance", ""] + md_table(PROVENANCE_HEADER, prov) + [""]
    lines += ["## Method", ""] + [f"* {m}" for m in st.method] + [""]
    if st.notes:
        lines += ["## Notes", ""] + [f"* {n}" for n in st.notes] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- CSV


CSV_FIELDS = [
    "table",
    "rank",
    "system",
    "rank_low",
    "rank_high",
    "letters",
    "accuracy",
    "ci_low",
    "ci_high",
    "ci_method",
    "clustered_low",
    "clustered_high",
    "n",
    "correct",
    "abstain_rate",
    "calls_per_item",
    "input_tokens_per_item",
    "output_tokens_per_item",
    "cost_per_item",
    "latency_per_item",
    "kind",
    "harness",
    "model",
    "panel",
    "task",
    "date",
    "log",
    "note",
]


def _csv_text(fields: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def to_csv(st: Standings) -> str:
    """One line per system and table (the overall table's key is ``overall``), full precision;
    systems listed but not ranked overall have empty ranks and the reason in ``note``."""
    rows = []
    for t in st.tables:
        for r in t.rows:
            d, p = r.details, r.details.provenance
            rows.append(
                {
                    "table": t.key,
                    "rank": r.rank,
                    "system": r.system,
                    "rank_low": r.rank_low,
                    "rank_high": r.rank_high,
                    "letters": r.letters,
                    "accuracy": r.accuracy,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "ci_method": t.ci,
                    "clustered_low": r.clustered_low,
                    "clustered_high": r.clustered_high,
                    "n": r.n,
                    "correct": r.correct,
                    "abstain_rate": d.abstain_rate,
                    "calls_per_item": d.calls_per_item,
                    "input_tokens_per_item": d.input_tokens_per_item,
                    "output_tokens_per_item": d.output_tokens_per_item,
                    "cost_per_item": d.cost_per_item,
                    "latency_per_item": d.latency_per_item,
                    "kind": d.kind,
                    "harness": p.harness if p else None,
                    "model": p.model if p else None,
                    "panel": p.panel if p else None,
                    "task": p.task if p else None,
                    "date": p.date if p else None,
                    "log": p.log if p else None,
                    "note": None,
                }
            )
        for u in t.unranked:
            rows.append({"table": t.key, "system": u.system, "note": u.reason})
    return _csv_text(CSV_FIELDS, rows)


PAIR_FIELDS = ["table", "a", "b", "diff", "b_count", "c_count", "z", "p", "p_holm", "significant", "adjacent"]


def pairs_csv(st: Standings) -> str:
    """Every pairwise test of every table (``a`` ranked above ``b``), full precision."""
    rows = []
    for t in st.tables:
        adjacent = {(p.a, p.b) for p in t.adjacent}
        for p in t.pairs:
            rows.append(
                {
                    "table": t.key,
                    "a": p.a,
                    "b": p.b,
                    "diff": p.diff,
                    "b_count": p.b_count,
                    "c_count": p.c_count,
                    "z": p.z,
                    "p": p.p,
                    "p_holm": p.p_holm,
                    "significant": p.significant,
                    "adjacent": (p.a, p.b) in adjacent,
                }
            )
    return _csv_text(PAIR_FIELDS, rows)


# ---------------------------------------------------------------------------- JSON


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table_dict(t: Table) -> dict[str, Any]:
    d = asdict(t)
    for row in d["rows"]:
        row["per_benchmark"] = dict(row["per_benchmark"])
        row["rank_interval"] = [row["rank_low"], row["rank_high"]]
    for u in d["unranked"]:
        u["per_benchmark"] = dict(u["per_benchmark"])
    d["adjacent_pairs"] = len(t.adjacent)
    d["unresolved_adjacent"] = [[p.a, p.b] for p in t.unresolved_adjacent]
    return d


def to_dict(st: Standings) -> dict[str, Any]:
    """Plain-Python form: every table with its rows and all pairwise tests."""
    return _clean(
        {
            "alpha": st.alpha,
            "intersect": st.intersect,
            "method": list(st.method),
            "notes": list(st.notes),
            "overall": _table_dict(st.overall) if st.overall is not None else None,
            "benchmarks": [_table_dict(t) for t in st.benchmarks],
        }
    )


def to_json(st: Standings, indent: int | None = 2) -> str:
    """Strict JSON (no NaN), floats at full precision."""
    return json.dumps(to_dict(st), indent=indent, allow_nan=False)


# ---------------------------------------------------------------------------- LaTeX

_TEX_ESCAPES = {
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
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(st: Standings) -> str:
    """One ``table`` with a booktabs ``tabular`` per ranking (needs ``\\usepackage{booktabs}``)."""
    out = [
        "% orch-eval leaderboard; needs \\usepackage{booktabs}",
        f"% alpha = {st.alpha:g}; rank intervals simultaneous {1 - st.alpha:.0%} (Holm); letters: not "
        "significantly different",
    ]
    for t in st.tables:
        cols = [c for c in columns_for(t) if c.key not in ("clustered",)]
        out += [
            "\\begin{table}[htbp]",
            "\\centering",
            "\\small",
            f"\\caption{{{tex_escape(t.title)}: {tex_escape(table_intro(t))}}}",
            "\\begin{tabular}{" + "".join("l" if c.key in ("system", "letters") else "r" for c in cols) + "}",
            "\\toprule",
            " & ".join(tex_escape(c.header) for c in cols) + " \\\\",
            "\\midrule",
        ]
        for r in t.rows:
            out.append(" & ".join(tex_escape(c.text(r)) for c in cols) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)
