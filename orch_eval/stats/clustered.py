"""Cluster-robust standard errors for accuracies and paired differences.

Items of a benchmark are not independent when they come in groups (MMLU subjects, items
sharing a passage, ...). Following Miller (2024), "Adding Error Bars to Evals"
(arXiv:2411.00640), the clustered (sandwich) standard error of a mean of per-item scores
``x_i`` grouped into clusters ``c`` is::

    SE_clustered = sqrt( sum_c ( sum_{i in c} (x_i - xbar) )^2 ) / n

Convention: the plug-in (``1/n``) form, with no small-sample factor such as
``G/(G-1)``. With every item its own cluster it reduces *exactly* to the iid standard
error ``sqrt(p (1 - p) / n)`` of a proportion (the ``1/n`` rather than ``1/(n-1)``
version). With few clusters the SE is itself noisy; we report ``mean +/- z * SE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orch_eval.stats.intervals import z_value

__all__ = ["ClusteredEstimate", "clustered_mean", "clustered_se"]


@dataclass(frozen=True)
class ClusteredEstimate:
    """A mean with its cluster-robust SE and normal interval ``mean +/- z SE``."""

    estimate: float
    se: float
    low: float
    high: float
    n: int
    n_clusters: int
    alpha: float = 0.05


def _codes(clusters: np.ndarray) -> np.ndarray:
    arr = np.asarray(clusters)
    if arr.dtype.kind in "iu" and arr.size and arr.min() >= 0:
        return arr.astype(np.intp, copy=False)
    _, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.ravel()


def clustered_se(x: np.ndarray, clusters: np.ndarray) -> float:
    """Cluster-robust SE of ``mean(x)`` (see module docstring for the formula)."""
    values = np.asarray(x, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("x must be a non-empty 1-d array")
    codes = _codes(clusters)
    if codes.shape != values.shape:
        raise ValueError("clusters must have one label per value")
    resid = values - values.mean()
    sums = np.bincount(codes, weights=resid)
    return float(np.sqrt(np.sum(sums * sums)) / values.size)


def clustered_mean(x: np.ndarray, clusters: np.ndarray, alpha: float = 0.05) -> ClusteredEstimate:
    """Mean of ``x`` (an accuracy, or a paired difference ``a_i - b_i``) with clustered SE."""
    values = np.asarray(x, dtype=float)
    se = clustered_se(values, clusters)
    mean = float(values.mean())
    z = z_value(alpha)
    n_clusters = int(np.unique(_codes(clusters)).size)
    return ClusteredEstimate(mean, se, mean - z * se, mean + z * se, int(values.size), n_clusters, alpha)
