"""Hypothesis tests for paired binary outcomes: McNemar, Cochran's Q, multiplicity correction.

Conventions: for systems A and B on the same items, ``b`` counts items A got right and B
got wrong, ``c`` the reverse. Every p-value is two-sided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import cochrans_q as _sm_cochrans_q
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
from statsmodels.stats.multitest import multipletests

__all__ = [
    "CochranQResult",
    "McNemarResult",
    "adjust_pvalues",
    "cochran_q",
    "discordant_counts",
    "mcnemar",
]

TestName = Literal["midp", "exact", "asymptotic", "asymptotic_cc"]
Correction = Literal["holm", "bh", "none"]


@dataclass(frozen=True)
class McNemarResult:
    """All McNemar variants for one pair.

    ``chi2``/``chi2_cc`` are the statistics ``(b-c)^2/(b+c)`` and
    ``max(|b-c|-1, 0)^2/(b+c)`` (0 when ``b+c == 0``).
    """

    b: int
    c: int
    p_exact: float
    p_midp: float
    chi2: float
    p_asymptotic: float
    chi2_cc: float
    p_asymptotic_cc: float

    def pvalue(self, test: TestName) -> float:
        """The p-value of the named variant."""
        return {
            "midp": self.p_midp,
            "exact": self.p_exact,
            "asymptotic": self.p_asymptotic,
            "asymptotic_cc": self.p_asymptotic_cc,
        }[test]


def discordant_counts(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """``(b, c)``: items only ``a`` got right, items only ``b`` got right."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    return int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))


def _check_counts(b: int, c: int) -> tuple[int, int]:
    if int(b) != b or int(c) != c or b < 0 or c < 0:
        raise ValueError(f"discordant counts must be non-negative integers, got b={b!r}, c={c!r}")
    return int(b), int(c)


def _midp(b: int, c: int) -> float:
    """Two-sided mid-p of ``X ~ Bin(b+c, 1/2)`` at the observed ``b`` (see :func:`mcnemar`)."""
    m, k = b + c, min(b, c)
    point = float(stats.binom.pmf(k, m, 0.5))
    if b == c:
        # the observed value is the centre: P(more extreme) = 1 - P(X = k), P(as extreme) = P(X = k)
        return 1.0 - 0.5 * point
    # X = k and X = m - k are as extreme (each with probability `point`), X < k or X > m - k more
    return 2.0 * float(stats.binom.cdf(k - 1, m, 0.5)) + point


def mcnemar(b: int, c: int) -> McNemarResult:
    """McNemar's test from discordant counts, in four variants.

    * exact: conditional binomial test, ``min(1, 2 P(X <= min(b,c)))``, ``X ~ Bin(b+c, 1/2)``
      (statsmodels ``mcnemar(exact=True)``).
    * mid-p: ``P(X more extreme than observed) + 1/2 P(X as extreme as observed)``, where
      extremeness is ``|X - (b+c)/2|`` (Fagerland, Lydersen & Laake 2013; their R package
      ``contingencytables`` computes the same). For ``b != c`` this is
      ``2 P(X < min(b,c)) + P(X = min(b,c))`` (the exact p minus the point probability); for
      ``b == c`` the observed value is the centre itself, nothing is more extreme than
      "as extreme", and it is ``1 - P(X = b)/2`` (``b = c = 6``: 0.8872). Computed here;
      statsmodels has no mid-p.
    * asymptotic: ``chi2.sf((b-c)^2/(b+c), 1)`` (statsmodels ``exact=False, correction=False``).
    * asymptotic_cc: Edwards' continuity correction ``(|b-c|-1)^2/(b+c)`` with ``|b-c|-1``
      floored at 0. statsmodels (and R's ``mcnemar.test``) do not floor, which turns
      ``b == c`` (no evidence at all) into a statistic ``1/(b+c) > 0``; we floor so that
      case gives p = 1 like the exact test.

    With ``b + c == 0`` there is no information: the exact and asymptotic p-values are 1.0
    and both statistics are 0 (statsmodels would divide by zero there); the mid-p value is
    0.5 by its definition (``X = 0`` surely, so ``P(as extreme) = 1`` and half of it counts).
    """
    b, c = _check_counts(b, c)
    m = b + c
    if m == 0:
        return McNemarResult(b, c, 1.0, _midp(b, c), 0.0, 1.0, 0.0, 1.0)
    table = np.array([[0, b], [c, 0]])
    p_exact = float(_sm_mcnemar(table, exact=True).pvalue)
    p_midp = _midp(b, c)
    sm_asym = _sm_mcnemar(table, exact=False, correction=False)
    chi2, p_asym = float(sm_asym.statistic), float(sm_asym.pvalue)
    diff_cc = max(abs(b - c) - 1, 0)
    if diff_cc > 0:
        sm_cc = _sm_mcnemar(table, exact=False, correction=True)
        chi2_cc, p_cc = float(sm_cc.statistic), float(sm_cc.pvalue)
    else:
        chi2_cc, p_cc = 0.0, 1.0
    return McNemarResult(b, c, p_exact, p_midp, chi2, p_asym, chi2_cc, p_cc)


@dataclass(frozen=True)
class CochranQResult:
    """Cochran's Q omnibus test that ``k`` paired systems share one accuracy."""

    statistic: float
    df: int
    pvalue: float
    k: int
    n: int


def cochran_q(matrix: np.ndarray) -> CochranQResult:
    """Cochran's Q for an ``n x k`` 0/1 matrix (rows items, columns systems), ``k >= 3``.

    Uses statsmodels ``cochrans_q``. Degenerate case: when every item is answered the same
    way by all systems (all right or all wrong), Q is 0/0; there is no evidence of any
    difference, so we return Q = 0, p = 1 (statsmodels returns nan there, and with an
    all-zero matrix it would even count zeros as successes).
    """
    x = np.asarray(matrix, dtype=bool)
    if x.ndim != 2:
        raise ValueError(f"cochran_q needs a 2-d (items x systems) matrix, got shape {x.shape}")
    n, k = x.shape
    if k < 3:
        raise ValueError(f"cochran_q needs at least 3 systems, got {k} (use McNemar for 2)")
    row = x.sum(axis=1)
    if np.all((row == 0) | (row == k)):
        return CochranQResult(0.0, k - 1, 1.0, k, n)
    res = _sm_cochrans_q(x.astype(np.float64))
    return CochranQResult(float(res.statistic), int(res.df), float(res.pvalue), k, n)


def adjust_pvalues(pvalues: Sequence[float], method: Correction = "holm") -> np.ndarray:
    """Family-wise (Holm) or false-discovery-rate (Benjamini-Hochberg) adjusted p-values.

    The family is exactly the p-values passed in -- pass all comparisons actually made.
    ``method="none"`` returns the p-values unchanged. Uses statsmodels ``multipletests``.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError("adjust_pvalues expects a 1-d sequence")
    if p.size == 0:
        return p.copy()
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    if method == "none":
        return p.copy()
    sm_method = {"holm": "holm", "bh": "fdr_bh"}.get(method)
    if sm_method is None:
        raise ValueError(f"unknown correction {method!r}; use 'holm', 'bh' or 'none'")
    return np.asarray(multipletests(p, alpha=0.05, method=sm_method)[1], dtype=float)
