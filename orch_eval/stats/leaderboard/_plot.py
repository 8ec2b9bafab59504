"""Accuracy against cost per item, with the Pareto frontier (matplotlib, Agg, imported lazily).

The x axis is the cost per item when some system has a cost; when every cost is 0 or unknown
(local models) it falls back to tokens per item, then to latency per item, and the axis label
says which. One panel per ranking (overall first).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from orch_eval.stats.leaderboard._board import Row, Standings, Table

__all__ = ["cost_axis", "pareto_frontier", "plot_png"]


def pareto_frontier(cost: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the systems no other system dominates (no one at most as costly and at least as
    accurate, better in one of the two), ordered by cost."""
    idx = sorted(range(len(cost)), key=lambda i: (cost[i], -accuracy[i]))
    front: list[int] = []
    best = float("-inf")
    for i in idx:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return front


def _tokens(r: Row) -> float | None:
    d = r.details
    if d.input_tokens_per_item is None and d.output_tokens_per_item is None:
        return None
    return (d.input_tokens_per_item or 0.0) + (d.output_tokens_per_item or 0.0)


def cost_axis(table: Table) -> tuple[str, dict[str, float]] | None:
    """The x axis for one table: its label and each system's value (systems without one are
    left out), or ``None`` when no system has a cost, token count or latency."""
    options = (
        ("cost per item", lambda r: r.details.cost_per_item),
        ("tokens per item (input + output; every cost is 0 or unknown)", _tokens),
        (
            "latency per item, s (every cost is 0 or unknown, no token counts)",
            lambda r: r.details.latency_per_item,
        ),
    )
    for label, get in options:
        values = {r.system: get(r) for r in table.rows}
        known = {s: float(v) for s, v in values.items() if v is not None}
        if known and any(v > 0 for v in known.values()):
            return label, known
    return None


def plot_png(st: Standings, dpi: int = 100) -> bytes | None:
    """The figure as PNG bytes, or ``None`` when no table has an x axis (see :func:`cost_axis`)."""
    panels = [(t, ax) for t in st.tables if t.rows and (ax := cost_axis(t)) is not None]
    if not panels:
        return None
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    ncols = 1 if len(panels) == 1 else 2
    nrows = (len(panels) + ncols - 1) // ncols
    fig = Figure(figsize=(6.4 * ncols, 4.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for (table, (label, xs)), ax in zip(panels, axes.flat, strict=False):
        rows = [r for r in table.rows if r.system in xs]
        x = [xs[r.system] for r in rows]
        y = [r.accuracy for r in rows]
        lo = [max(0.0, r.accuracy - max(0.0, r.ci_low)) for r in rows]
        hi = [max(0.0, min(1.0, r.ci_high) - r.accuracy) for r in rows]
        ax.errorbar(x, y, yerr=[lo, hi], fmt="o", color="#1f4e79", ecolor="#8fa9c4", capsize=3, zorder=3)
        front = pareto_frontier(x, y)
        ax.step(
            [x[i] for i in front],
            [y[i] for i in front],
            where="post",
            color="#c0504d",
            lw=1.5,
            label="Pareto frontier",
            zorder=2,
        )
        ax.scatter(
            [x[i] for i in front],
            [y[i] for i in front],
            s=60,
            facecolors="none",
            edgecolors="#c0504d",
            zorder=4,
        )
        numbered = len(rows) > 12
        for k, r in enumerate(rows):
            text = r.system if not numbered or k in front else str(k + 1)
            ax.annotate(text, (x[k], y[k]), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
        positive = [v for v in x if v > 0]
        if positive and len(positive) == len(x) and max(positive) / min(positive) > 100:
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_ylim(
            max(0.0, min(r.ci_low for r in rows) - 0.05), min(1.0, max(r.ci_high for r in rows) + 0.05)
        )
        ax.margins(x=0.12)  # room for the labels of the rightmost points
        ax.set_xlabel(label)
        ax.set_ylabel(f"accuracy ({table.ci} {1 - table.alpha:.0%} CI)")
        ax.set_title(
            table.title + (" (labels: row number in the table)" if numbered else ""), fontsize="medium"
        )
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.subplots_adjust(
        left=0.1 if ncols == 1 else 0.06,
        right=0.98,
        bottom=0.1 / nrows,
        top=1 - 0.06 / nrows,
        hspace=0.35,
        wspace=0.25,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
