"""Figures for a :class:`~orch_eval.stats.report.Report` (matplotlib, Agg, imported lazily)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from orch_eval.core.errors import OrchConfigError
from orch_eval.stats.report import Report

__all__ = ["plot_accuracy", "plot_accuracy_vs_cost", "plot_pvalue_heatmap", "plot_router_ema"]


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'orch_eval[plots]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy(report: Report, path: str | Path) -> Path:
    """Accuracy per system with its Wilson interval (and the clustered interval, if any)."""
    plt = _pyplot()
    names = [s.system for s in report.systems]
    acc = np.array([s.accuracy for s in report.systems])
    lo = np.array([s.wilson_low for s in report.systems])
    hi = np.array([s.wilson_high for s in report.systems])
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.5))
    ax.errorbar(acc, y, xerr=[acc - lo, hi - acc], fmt="o", capsize=3, label=f"Wilson {report.level} CI")
    if report.n_clusters is not None:
        clo = np.array([s.clustered_low for s in report.systems], dtype=float)
        chi = np.array([s.clustered_high for s in report.systems], dtype=float)
        ax.errorbar(acc, y + 0.2, xerr=[acc - clo, chi - acc], fmt="none", capsize=2,
                    ecolor="tab:orange", label=f"clustered {report.level} CI ({report.n_clusters} clusters)")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel(f"accuracy (n = {report.n_items})")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_accuracy_vs_cost(report: Report, path: str | Path) -> Path | None:
    """Accuracy (Wilson interval) against total cost. Without cost data nothing is drawn:
    a ``UserWarning`` explains why and ``None`` is returned."""
    with_cost = [s for s in report.systems if s.cost_total is not None]
    if not with_cost:
        warnings.warn("plot_accuracy_vs_cost skipped: the report has no cost data", UserWarning, stacklevel=2)
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for s in with_cost:
        ax.errorbar(s.cost_total, s.accuracy, yerr=[[s.accuracy - s.wilson_low], [s.wilson_high - s.accuracy]],
                    fmt="o", capsize=3)
        ax.annotate(s.system, (s.cost_total, s.accuracy), textcoords="offset points", xytext=(5, 5),
                    fontsize="small")
    ax.set_xlabel("total cost")
    ax.set_ylabel(f"accuracy (Wilson {report.level} CI)")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_pvalue_heatmap(report: Report, path: str | Path) -> Path:
    """Heatmap of adjusted p-values for every pair. Needs a report made with all pairs
    (``compare(..., pairs="all")`` or no reference); raises ``ValueError`` otherwise."""
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
    fig, ax = plt.subplots(figsize=(0.6 * k + 3, 0.6 * k + 2.5))
    im = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis_r")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    for i in range(k):
        for j in range(k):
            if i != j:
                ax.text(j, i, f"{grid[i, j]:.2g}", ha="center", va="center", fontsize="x-small",
                        color="white" if grid[i, j] < 0.5 else "black")
    fig.colorbar(im, ax=ax, label=f"adjusted p ({report.correction}, {report.test})")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


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
    names = list(labels) if labels is not None else records[0].get("agents") or [f"agent {i + 1}" for i in range(n)]
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
