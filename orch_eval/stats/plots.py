"""Figures for a :class:`~orch_eval.stats.report.Report` (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orch_eval.core.errors import OrchConfigError
from orch_eval.stats.report import Report

__all__ = ["plot_accuracy", "plot_accuracy_vs_cost", "plot_pvalue_heatmap", "plot_router_ema"]


def _pyplot() -> Any:  # the matplotlib.pyplot module
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'orch_eval[plots]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    fig.savefig(out, bbox_inches="tight", dpi=120)  # nothing clipped: long system names, colorbar labels
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def plot_accuracy(
    report: Report, path: str | Path, title: str | None = None, chance: float | None = None
) -> Path:
    """Accuracy per system with its Wilson interval (and the clustered interval, if any), the
    chance level of guessing when given, and a title (the benchmark and the declared reference)."""
    plt = _pyplot()
    names = [s.system for s in report.systems]
    acc = np.array([s.accuracy for s in report.systems])
    lo = np.clip(np.array([s.wilson_low for s in report.systems]), 0, 1)
    hi = np.clip(np.array([s.wilson_high for s in report.systems]), 0, 1)
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.8))
    ax.errorbar(acc, y, xerr=[acc - lo, hi - acc], fmt="o", capsize=3, label=f"Wilson {report.level} CI")
    if report.n_clusters is not None:
        clo = np.clip(np.array([s.clustered_low for s in report.systems], dtype=float), 0, 1)
        chi = np.clip(np.array([s.clustered_high for s in report.systems], dtype=float), 0, 1)
        ax.errorbar(
            acc,
            y + 0.2,
            xerr=[acc - clo, chi - acc],
            fmt="none",
            capsize=2,
            ecolor="tab:orange",
            label=f"clustered {report.level} CI ({report.n_clusters} clusters)",
        )
    if chance is not None:
        ax.axvline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.0%})")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"accuracy (n = {report.n_items})")
    ax.set_title(title or "accuracy", fontsize="medium")
    ax.legend(loc="best", fontsize="small")
    return _finish(fig, path)


def _compute_axis(report: Report, compute: Mapping[str, Any] | None) -> tuple[str, dict[str, float]] | None:
    """The x axis of the accuracy-versus-compute plot: cost per item when some system has a
    non-zero cost, else tokens per item, else latency per item; None without any of them."""
    costs = {s.system: s.cost_per_item for s in report.systems if s.cost_per_item is not None}
    if costs and any(v > 0 for v in costs.values()):
        return "cost per item", costs
    if compute:
        tokens = {n: c.tokens for n, c in compute.items() if getattr(c, "tokens", None)}
        if tokens:
            return "tokens per item (input + output; every cost is 0)", tokens
        lat = {n: c.latency for n, c in compute.items() if getattr(c, "latency", None)}
        if lat:
            return "latency per item, s (no cost or token counts)", lat
    lat = {s.system: s.latency_mean for s in report.systems if s.latency_mean}
    if lat:
        return "latency per item, s (no cost data)", lat
    if costs:
        return "cost per item", costs
    return None


def plot_accuracy_vs_cost(
    report: Report,
    path: str | Path,
    compute: Mapping[str, Any] | None = None,
    title: str | None = None,
    chance: float | None = None,
) -> Path | None:
    """Accuracy (Wilson interval, clipped to [0, 1]) against what each system spent per item:
    cost, or tokens when every cost is 0 (local models), or latency (``compute``: per-system
    :class:`~orch_eval.stats.analysis.SystemCompute`), on a log axis when it spans a factor of
    ten or more. Without any of them nothing is drawn: a ``UserWarning`` says why and ``None``
    is returned."""
    axis = _compute_axis(report, compute)
    if axis is None:
        warnings.warn(
            "plot_accuracy_vs_cost skipped: the report has no cost data (nor token or latency data)",
            UserWarning,
            stacklevel=2,
        )
        return None
    label, xs = axis
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    shown = [s for s in report.systems if s.system in xs]
    for s in shown:
        x = xs[s.system]
        low, high = max(0.0, s.wilson_low), min(1.0, s.wilson_high)
        ax.errorbar(x, s.accuracy, yerr=[[s.accuracy - low], [high - s.accuracy]], fmt="o", capsize=3)
        ax.annotate(s.system, (x, s.accuracy), textcoords="offset points", xytext=(5, 5), fontsize="small")
    values = [xs[s.system] for s in shown]
    if values and min(values) > 0 and max(values) / min(values) >= 10:
        ax.set_xscale("log")
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.0%})")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(label)
    ax.set_ylabel(f"accuracy (Wilson {report.level} CI)")
    ax.set_ylim(0, 1)
    ax.set_title(title or "accuracy versus compute", fontsize="medium")
    return _finish(fig, path)


def plot_pvalue_heatmap(report: Report, path: str | Path, title: str | None = None) -> Path:
    """Heatmap of adjusted p-values for every pair. Needs a report made with all pairs
    (``compare(..., pairs="all")`` or no reference); raises ``ValueError`` otherwise. Each cell's
    number is written in black or white, whichever contrasts with the cell's colour."""
    names = [s.system for s in report.systems]
    k = len(names)
    if report.pairs != "all" or len(report.comparisons) != k * (k - 1) // 2 or k < 2:
        raise ValueError("plot_pvalue_heatmap needs all pairwise comparisons: use compare(..., pairs='all')")
    plt = _pyplot()
    idx = {s: i for i, s in enumerate(names)}
    grid = np.full((k, k), np.nan)
    for c in report.comparisons:
        i, j = idx[c.system_a], idx[c.system_b]
        grid[i, j] = grid[j, i] = c.p_adjusted
    fig, ax = plt.subplots(figsize=(0.7 * k + 3.5, 0.7 * k + 3))
    cmap = plt.get_cmap("viridis_r")
    im = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap=cmap)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    for i in range(k):
        for j in range(k):
            if i != j:
                r, g, b, _ = cmap(grid[i, j])
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5  # relative luminance of the cell
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.2g}",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="white" if dark else "black",
                )
    fig.colorbar(im, ax=ax, label=f"adjusted p\n({report.correction}, {report.test})")
    ax.set_title(title or "pairwise adjusted p-values", fontsize="medium")
    return _finish(fig, path)


# ---- the EMA router ---------------------------------------------------------------------------


def _router_records(source: Any) -> list[dict[str, Any]]:
    """Per-item router dicts, in item order, from a log, a log path, Decisions or dicts."""
    items: list[Any]
    if isinstance(source, (str, Path)):
        from inspect_ai.log import read_eval_log

        source = read_eval_log(str(source))
    if hasattr(source, "samples"):
        items = [s.metadata.get("orch") for s in (source.samples or [])]
    else:
        items = list(source)
    out: list[dict[str, Any]] = []
    for item in items:
        if item is None:
            continue
        r = item.get("router") if isinstance(item, dict) else getattr(item, "router", None)
        if r is None and isinstance(item, dict) and "ema" in item:
            r = item
        if r:
            out.append(r)
    out.sort(key=lambda r: r.get("index", 0))
    return out


def plot_router_ema(log_or_decisions: Any, path: str | Path, labels: Sequence[str] | None = None) -> Path:
    """Plot each agent's EMA accuracy (as seen when each item was routed) over the run (from a log,
    a log path, Decisions or their router dicts)."""
    plt = _pyplot()

    records = _router_records(log_or_decisions)
    if not records:
        raise OrchConfigError("plot_router_ema: no router records found (was the router on?)")
    n = len(records[0]["ema"]["accuracy"])
    names = (
        list(labels)
        if labels is not None
        else records[0].get("agents") or [f"agent {i + 1}" for i in range(n)]
    )
    xs = [r.get("index", i) for i, r in enumerate(records)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for slot in range(n):
        ax.plot(xs, [r["ema"]["accuracy"][slot] for r in records], label=names[slot])
    ax.set_xlabel("item (dataset order)")
    ax.set_ylabel("EMA accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Router: EMA accuracy per agent")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
