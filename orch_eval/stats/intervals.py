"""Confidence intervals: one accuracy (Wilson) and a paired difference of accuracies
(Newcombe hybrid score, Tango score, paired bootstrap percentile).

Paired 2x2 table for systems A and B on ``n`` items::

                 B right   B wrong
    A right         a         b
    A wrong         c         d

The difference is ``acc(A) - acc(B) = (b - c) / n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

__all__ = [
    "Interval",
    "bootstrap_paired_ci",
    "level_label",
    "mover_mean_interval",
    "newcombe_paired_ci",
    "paired_table",
    "tango_paired_ci",
    "wilson_interval",
    "z_value",
]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided ``1 - alpha`` interval."""

    estimate: float
    low: float
    high: float
    method: str
    alpha: float = 0.05


def z_value(alpha: float) -> float:
    """Two-sided normal quantile ``z_{1 - alpha/2}``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(stats.norm.isf(alpha / 2.0))


def level_label(alpha: float) -> str:
    """The confidence level ``1 - alpha`` as a percentage without spurious decimals:
    ``0.05 -> "95%"``, ``0.10 -> "90%"``, ``0.005 -> "99.5%"``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return f"{round(100.0 * (1.0 - alpha), 8):.10g}%"


def paired_table(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int]:
    """Counts ``(a, b, c, d)`` of the paired 2x2 table for correctness vectors ``a``, ``b``."""
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    if x.shape != y.shape:
        raise ValueError("paired vectors must have the same shape")
    both = int(np.count_nonzero(x & y))
    only_a = int(np.count_nonzero(x & ~y))
    only_b = int(np.count_nonzero(~x & y))
    return both, only_a, only_b, int(x.size) - both - only_a - only_b


def _check_table(*counts: int) -> int:
    if any(int(v) != v or v < 0 for v in counts):
        raise ValueError(f"table counts must be non-negative integers, got {counts}")
    n = int(sum(counts))
    if n == 0:
        raise ValueError("the table is empty (n = 0)")
    return n


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> Interval:
    """Accuracy ``successes / n`` with the Wilson score interval (statsmodels)."""
    if n <= 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return Interval(successes / n, float(low), float(high), "wilson", alpha)


def mover_mean_interval(successes: Sequence[int], sizes: Sequence[int], alpha: float = 0.05) -> Interval:
    """The equally weighted mean of ``B`` independent proportions ``p_b = successes_b / n_b`` (e.g.
    one system's accuracy on each of ``B`` benchmarks) with the MOVER-Wilson interval (Zou &
    Donner 2008, the general form of Newcombe's method 10): with ``(l_b, u_b)`` the Wilson limits
    of ``p_b`` and ``p = sum_b p_b / B``::

        L = p - sqrt( sum_b (p_b - l_b)^2 ) / B,    U = p + sqrt( sum_b (u_b - p_b)^2 ) / B

    Each benchmark's own score interval sets its share of the width, so a small benchmark near 0
    or 100 % is not read as certain: a system at 0 % everywhere gets ``[0, > 0]``, where the normal
    approximation ``p +/- z sqrt(sum_b p_b (1 - p_b) / n_b) / B`` gives ``[0, 0]`` (and covers
    far less than its level near the bounds; tests/test_stats_paired.py simulates both)."""
    if len(successes) != len(sizes) or not sizes:
        raise ValueError(f"need one size per count, got {len(successes)} counts and {len(sizes)} sizes")
    limits = [wilson_interval(k, n, alpha) for k, n in zip(successes, sizes, strict=True)]
    b = len(limits)
    p = sum(w.estimate for w in limits) / b
    low = p - math.sqrt(sum((w.estimate - w.low) ** 2 for w in limits)) / b
    high = p + math.sqrt(sum((w.high - w.estimate) ** 2 for w in limits)) / b
    return Interval(p, max(0.0, low), min(1.0, high), "MOVER-Wilson", alpha)


def newcombe_paired_ci(a: int, b: int, c: int, d: int, alpha: float = 0.05) -> Interval:
    """Newcombe (1998) method 10: hybrid score interval for ``p_A - p_B`` on paired data.

    With Wilson limits ``(l1, u1)`` for ``p1 = (a+b)/n`` and ``(l2, u2)`` for ``p2 = (a+c)/n``::

        L = D - sqrt((p1-l1)^2 - 2 phi (p1-l1)(u2-p2) + (u2-p2)^2)
        U = D + sqrt((p2-l2)^2 - 2 phi (p2-l2)(u1-p1) + (u1-p1)^2)

    where ``phi`` estimates the correlation of the two marginal proportions from
    ``A = ad - bc``: ``(A - n/2)/sqrt(efgh)`` if ``A > n/2``, ``0`` if ``0 <= A <= n/2``,
    ``A/sqrt(efgh)`` if ``A < 0`` (``e..h`` the four margins; ``phi = 0`` when a margin is
    0). This is the form given in Newcombe's paper and in Fagerland, Lydersen & Laake,
    *Statistical Analysis of Contingency Tables* (2017), ch. 8.
    """
    n = _check_table(a, b, c, d)
    p1, p2 = (a + b) / n, (a + c) / n
    w1 = wilson_interval(a + b, n, alpha)
    w2 = wilson_interval(a + c, n, alpha)
    margins = (a + b, c + d, a + c, b + d)
    if min(margins) == 0:
        phi = 0.0
    else:
        num = a * d - b * c  # exact integer arithmetic
        denom = math.sqrt(float(margins[0]) * margins[1] * margins[2] * margins[3])
        if num > n / 2:
            phi = (num - n / 2) / denom
        elif num >= 0:
            phi = 0.0
        else:
            phi = num / denom
    dl1, du1 = p1 - w1.low, w1.high - p1
    dl2, du2 = p2 - w2.low, w2.high - p2
    delta = math.sqrt(max(dl1**2 - 2 * phi * dl1 * du2 + du2**2, 0.0))
    eps = math.sqrt(max(dl2**2 - 2 * phi * dl2 * du1 + du1**2, 0.0))
    est = p1 - p2
    return Interval(est, max(-1.0, est - delta), min(1.0, est + eps), "newcombe", alpha)


def _tango_restricted_p21(b: int, c: int, n: int, delta: float) -> float:
    """Restricted MLE of the cell probability ``p21`` (A wrong, B right) given
    ``p12 - p21 = delta``: the non-negative root of ``2n q^2 + B q + C = 0`` with
    ``B = -b - c + (2n - b + c) delta`` and ``C = -c delta (1 - delta)`` (Tango 1998)."""
    A = 2.0 * n
    B = -b - c + (2.0 * n - b + c) * delta
    C = -c * delta * (1.0 - delta)
    disc = max(B * B - 4.0 * A * C, 0.0)
    root = math.sqrt(disc)
    if B <= 0:
        return (-B + root) / (2.0 * A)
    # numerically stable form of the same root when B > 0
    return (-2.0 * C) / (B + root) if (B + root) > 0 else 0.0


def tango_score(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic ``(b - c - n delta) / sqrt(n (2 q + delta (1 - delta)))``."""
    q = _tango_restricted_p21(b, c, n, delta)
    var = n * (2.0 * q + delta * (1.0 - delta))
    num = b - c - n * delta
    if var <= 0.0:
        if num == 0:
            return 0.0
        return math.copysign(math.inf, num)
    return num / math.sqrt(var)


def tango_paired_ci(a: int, b: int, c: int, d: int, alpha: float = 0.05) -> Interval:
    """Tango (1998) asymptotic score interval for ``p_A - p_B`` on paired data.

    The interval is ``{delta : |T(delta)| <= z_{1-alpha/2}}`` where ``T`` is the score
    statistic with the nuisance parameter replaced by its restricted MLE
    (:func:`tango_score`). ``T`` decreases in ``delta``; each limit is found with Brent's
    method to ~1e-12.
    """
    n = _check_table(a, b, c, d)
    z = z_value(alpha)
    est = (b - c) / n
    tol = 1e-14

    def f(x: float, target: float) -> float:
        return tango_score(b, c, n, x) - target

    # Upper limit: T(delta) = -z on (est, 1].
    if b == n:
        high = 1.0
    else:
        hi_end = 1.0 - 1e-15
        if f(hi_end, -z) > 0:
            high = 1.0
        else:
            high = optimize.brentq(f, est, hi_end, args=(-z,), xtol=tol, rtol=4 * np.finfo(float).eps)
    if c == n:
        low = -1.0
    else:
        lo_end = -1.0 + 1e-15
        if f(lo_end, z) < 0:
            low = -1.0
        else:
            low = optimize.brentq(f, lo_end, est, args=(z,), xtol=tol, rtol=4 * np.finfo(float).eps)
    return Interval(est, float(low), float(high), "tango", alpha)


def bootstrap_paired_ci(
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 2000,
    seed: int | Sequence[int] | np.random.SeedSequence = 0,
    alpha: float = 0.05,
) -> Interval:
    """Paired (item-resampling) bootstrap percentile interval for ``acc(a) - acc(b)``.

    Resampling ``n`` items with replacement and taking the mean of ``a_i - b_i`` depends
    only on how many resampled items fall in each of the three classes ``a_i - b_i`` in
    ``{+1, -1, 0}``; those counts are exactly ``Multinomial(n; b/n, c/n, 1-(b+c)/n)``.
    We draw them directly (O(n_boot) instead of O(n_boot * n)), which is the same
    bootstrap distribution, vectorised. Percentiles use numpy's default linear
    interpolation.

    The interval depends only on the table and ``seed`` (see
    :func:`bootstrap_paired_ci_from_counts`): the same counts give the same interval
    whatever the systems are called, and swapping ``a`` and ``b`` gives exactly the
    negated interval.
    """
    _, bb, cc, _ = paired_table(a, b)
    return bootstrap_paired_ci_from_counts(bb, cc, int(np.asarray(a).size), n_boot, seed, alpha)


def _table_stream(
    seed: int | Sequence[int] | np.random.SeedSequence, low: int, high: int, n: int
) -> np.random.Generator:
    """The random stream of one table: the declared ``seed`` as entropy, the unordered
    discordant counts ``(min(b, c), max(b, c), n)`` as the spawn key."""
    key = (int(low), int(high), int(n))
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, *key)))
    entropy = int(seed) if isinstance(seed, (int, np.integer)) else [int(v) for v in seed]
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def bootstrap_paired_ci_from_counts(
    b: int,
    c: int,
    n: int,
    n_boot: int = 2000,
    seed: int | Sequence[int] | np.random.SeedSequence = 0,
    alpha: float = 0.05,
) -> Interval:
    """:func:`bootstrap_paired_ci` from the discordant counts ``b``, ``c`` and ``n``.

    Seeding makes the interval a function of the data and the declared seed only:

    * the random stream comes from ``seed`` and the unordered table ``(min(b, c), max(b, c), n)``,
      never from system names, so two pairs with the same counts get the same interval;
    * the draws are made in one canonical orientation (the larger count first), and the
      interval of the other orientation is its exact negation, so ``A - B`` mirrors ``B - A``;
    * when ``b == c`` both orientations are canonical and the bootstrap distribution is
      symmetric about 0, so the draws are symmetrised (each resample also counted with the
      sign flipped) and the interval is ``[-h, h]``.
    """
    if n <= 0 or b < 0 or c < 0 or b + c > n:
        raise ValueError(f"invalid counts b={b}, c={c}, n={n}")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    hi, lo = max(b, c), min(b, c)
    rng = _table_stream(seed, lo, hi, n)
    p_hi, p_lo = hi / n, lo / n
    draws = rng.multinomial(n, [p_hi, p_lo, max(0.0, 1.0 - p_hi - p_lo)], size=n_boot)
    diffs = (draws[:, 0] - draws[:, 1]) / n  # canonical orientation: (hi - lo) / n
    if hi == lo:
        high = float(np.quantile(np.concatenate([diffs, -diffs]), 1.0 - alpha / 2.0))
        low = 0.0 - high
    else:
        q_low, q_high = np.quantile(diffs, [alpha / 2.0, 1.0 - alpha / 2.0])
        low, high = float(q_low), float(q_high)
        if b < c:  # the reversed orientation: negate and swap
            low, high = 0.0 - high, 0.0 - low
    return Interval((b - c) / n, low, high, "bootstrap", alpha)
