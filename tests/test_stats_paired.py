"""Every statistic in orch_eval.stats checked against an independent computation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from orch_eval.stats import (
    adjust_pvalues,
    bootstrap_paired_ci,
    bootstrap_paired_ci_from_counts,
    clustered_mean,
    clustered_se,
    cochran_q,
    connor_power,
    mcnemar,
    minimum_detectable_effect,
    mover_mean_interval,
    newcombe_paired_ci,
    paired_table,
    tango_paired_ci,
    wilson_interval,
)

TOL = 1e-9
Z = stats.norm.isf(0.025)


def close(x: float, y: float, tol: float = TOL) -> bool:
    """Absolute 1e-9, or relative 1e-9 for tiny p-values."""
    return abs(x - y) <= tol * max(1.0, abs(y)) or abs(x - y) <= tol * abs(y)


def random_tables(n_tables: int = 300, seed: int = 1) -> list[tuple[int, int, int, int]]:
    """Paired 2x2 tables (a, b, c, d) of many shapes, including degenerate ones."""
    rng = np.random.default_rng(seed)
    out = [(0, 0, 0, 1), (1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (5, 0, 0, 5), (0, 3, 3, 0), (10, 7, 7, 2)]
    while len(out) < n_tables:
        n = int(rng.choice([1, 2, 5, 20, 100, 1000, 14042]))
        p = rng.dirichlet(np.ones(4) * rng.choice([0.3, 1.0, 5.0]))
        out.append(tuple(int(v) for v in rng.multinomial(n, p)))
    return out


TABLES = random_tables()


# ---------------------------------------------------------------- McNemar
def midp_by_definition(b: int, c: int) -> Fraction:
    """Mid-p straight from its definition, in exact rational arithmetic: under X ~ Bin(b+c, 1/2),
    P(|X - m/2| > |b - m/2|) + 1/2 P(|X - m/2| = |b - m/2|)."""
    m = b + c
    observed = abs(Fraction(b) - Fraction(m, 2))
    more = same = Fraction(0)
    for x in range(m + 1):
        prob = Fraction(math.comb(m, x), 2**m)
        dist = abs(Fraction(x) - Fraction(m, 2))
        if dist > observed:
            more += prob
        elif dist == observed:
            same += prob
    return more + same / 2


@pytest.mark.parametrize("table", TABLES)
def test_mcnemar_matches_independent(table):
    _, b, c, _ = table
    r = mcnemar(b, c)
    m, k = b + c, min(b, c)
    if m <= 3000:
        assert close(r.p_midp, float(midp_by_definition(b, c)))
    if m == 0:
        assert (r.p_exact, r.p_asymptotic, r.p_asymptotic_cc) == (1.0, 1.0, 1.0)
        return
    # exact: scipy's binomtest (a different implementation of the two-sided test)
    assert close(r.p_exact, stats.binomtest(k, m, 0.5).pvalue)
    # mid-p, b != c: the doubled one-sided sum; b == c: 1 - P(X = b)/2 (both from scipy's pmf)
    pmf = stats.binom.pmf(np.arange(k + 1), m, 0.5)
    if b != c:
        assert close(r.p_midp, 2 * pmf[:k].sum() + pmf[k])
        # equals the exact p minus the point probability
        assert close(r.p_midp, r.p_exact - stats.binom.pmf(k, m, 0.5))
    else:
        assert close(r.p_midp, 1 - pmf[k] / 2)
    # asymptotic: closed-form statistics
    chi2 = (b - c) ** 2 / m
    chi2_cc = max(abs(b - c) - 1, 0) ** 2 / m
    assert close(r.chi2, chi2) and close(r.chi2_cc, chi2_cc)
    assert close(r.p_asymptotic, stats.chi2.sf(chi2, 1))
    assert close(r.p_asymptotic_cc, stats.chi2.sf(chi2_cc, 1))
    # mid-p lies strictly below exact: it counts only half of the observed outcome's probability
    assert r.p_midp < r.p_exact or r.p_exact == 0.0  # (both underflow for huge |b - c|)


@pytest.mark.parametrize(("b", "c"), [(0, 1), (1, 7), (6, 16), (25, 2), (40, 41), (3, 3), (6, 6), (50, 50)])
def test_mcnemar_midp_is_its_definition(b, c):
    """b != c and b == c against the definition computed by enumeration; mirrored pairs agree."""
    assert close(mcnemar(b, c).p_midp, float(midp_by_definition(b, c)))
    assert mcnemar(b, c).p_midp == mcnemar(c, b).p_midp


def test_mcnemar_midp_ties_are_not_one():
    """The values the definition (and R's contingencytables) gives when b = c: not the doubled formula's 1."""
    assert round(mcnemar(6, 6).p_midp, 4) == 0.8872  # 1 - C(12, 6) / 2^13
    assert close(mcnemar(6, 6).p_midp, 1 - math.comb(12, 6) / 2**13)
    assert mcnemar(0, 0).p_midp == 0.5  # X = 0 surely: as extreme with probability 1, half counted
    assert mcnemar(0, 0).p_exact == 1.0


def test_mcnemar_agrees_with_statsmodels_where_defined():
    for b, c in [(3, 9), (40, 25), (1, 0), (100, 130)]:
        r = mcnemar(b, c)
        t = [[0, b], [c, 0]]
        assert close(r.p_exact, sm_mcnemar(t, exact=True).pvalue)
        assert close(r.p_asymptotic, sm_mcnemar(t, exact=False, correction=False).pvalue)
        if abs(b - c) >= 1:
            assert close(r.p_asymptotic_cc, sm_mcnemar(t, exact=False, correction=True).pvalue)


def test_mcnemar_degenerate_and_ties():
    r = mcnemar(0, 0)
    assert (r.p_exact, r.p_midp, r.p_asymptotic, r.p_asymptotic_cc) == (1.0, 0.5, 1.0, 1.0)
    r = mcnemar(7, 7)  # no evidence: every variant but mid-p is 1; mid-p is 1 - P(X = 7)/2
    assert r.p_exact == 1.0 and r.p_asymptotic == 1.0 and r.p_asymptotic_cc == 1.0
    assert close(r.p_midp, 1 - math.comb(14, 7) / 2**15)
    with pytest.raises(ValueError):
        mcnemar(-1, 2)


def test_mcnemar_published_midp_example():
    # Cavo et al. (2012) table used by Fagerland, Lydersen & Laake: b=6, c=16; mid-p 0.034690
    assert round(mcnemar(6, 16).p_midp, 6) == 0.034690


# ---------------------------------------------------------------- Cochran's Q
def hand_cochran(x: np.ndarray) -> float:
    x = x.astype(int)
    k = x.shape[1]
    C = x.sum(axis=0)
    R = x.sum(axis=1)
    N = x.sum()
    return (k - 1) * (k * np.sum(C**2) - N**2) / (k * N - np.sum(R**2))


def test_cochran_q_matches_textbook_formula():
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(2, 400))
        k = int(rng.integers(3, 9))
        acc = rng.uniform(0.05, 0.95, size=k)
        latent = rng.uniform(size=(n, 1))  # correlated systems, like real models
        x = (rng.uniform(size=(n, k)) * 0.5 + latent * 0.5) < acc
        row = x.sum(axis=1)
        res = cochran_q(x)
        if np.all((row == 0) | (row == k)):
            assert res.statistic == 0.0 and res.pvalue == 1.0
            continue
        q = hand_cochran(x)
        assert close(res.statistic, q)
        assert res.df == k - 1
        assert close(res.pvalue, stats.chi2.sf(q, k - 1))


def test_cochran_q_degenerate():
    for x in (np.ones((5, 3), bool), np.zeros((5, 3), bool), np.array([[1, 1, 1], [0, 0, 0]], bool)):
        res = cochran_q(x)
        assert res.statistic == 0.0 and res.pvalue == 1.0 and res.df == 2
    with pytest.raises(ValueError):
        cochran_q(np.ones((4, 2), bool))


# ---------------------------------------------------------------- multiplicity
def hand_holm(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adj[idx] = running
    return adj


def hand_bh(p: np.ndarray) -> np.ndarray:
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        idx = order[rank]
        running = min(running, min(1.0, m / (rank + 1) * p[idx]))
        adj[idx] = running
    return adj


def test_holm_and_bh_match_hand_implementations():
    rng = np.random.default_rng(3)
    for _ in range(300):
        m = int(rng.integers(1, 50))
        p = rng.uniform(size=m) ** rng.uniform(0.5, 4)
        if m > 3:
            p[1] = p[0]  # ties
        assert np.allclose(adjust_pvalues(p, "holm"), hand_holm(p), rtol=0, atol=TOL)
        assert np.allclose(adjust_pvalues(p, "bh"), hand_bh(p), rtol=0, atol=TOL)
        assert np.array_equal(adjust_pvalues(p, "none"), p)
    assert adjust_pvalues([], "holm").size == 0
    with pytest.raises(ValueError):
        adjust_pvalues([0.1], "bonferroni-ish")


# ---------------------------------------------------------------- Wilson
@pytest.mark.parametrize("table", TABLES[:150])
def test_wilson_matches_closed_form(table):
    n = sum(table)
    x = table[0] + table[1]
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    w = wilson_interval(x, n)
    assert close(w.low, max(0.0, centre - half)) and close(w.high, min(1.0, centre + half))
    assert w.estimate == p


# ---------------------------------------------------------------- the mean of proportions (MOVER-Wilson)
def hand_mover_mean(counts, sizes, alpha=0.05):
    """Zou & Donner's MOVER for the mean of independent proportions, from statsmodels' Wilson limits."""
    from statsmodels.stats.proportion import proportion_confint

    b = len(counts)
    props = [k / n for k, n in zip(counts, sizes)]
    limits = [proportion_confint(k, n, alpha=alpha, method="wilson") for k, n in zip(counts, sizes)]
    mean = sum(props) / b
    low = mean - math.sqrt(sum((p - lo) ** 2 for p, (lo, _) in zip(props, limits))) / b
    high = mean + math.sqrt(sum((hi - p) ** 2 for p, (_, hi) in zip(props, limits))) / b
    return mean, max(0.0, low), min(1.0, high)


def test_mover_mean_interval_matches_an_independent_computation():
    rng = np.random.default_rng(5)
    for _ in range(200):
        b = int(rng.integers(1, 5))
        sizes = [int(v) for v in rng.integers(1, 500, size=b)]
        counts = [int(rng.integers(0, n + 1)) for n in sizes]
        alpha = float(rng.choice([0.01, 0.05, 0.1]))
        mean, low, high = hand_mover_mean(counts, sizes, alpha)
        w = mover_mean_interval(counts, sizes, alpha)
        assert close(w.estimate, mean) and close(w.low, low) and close(w.high, high)
    # one benchmark: its Wilson interval
    one = mover_mean_interval([15], [50])
    assert close(one.low, wilson_interval(15, 50).low) and close(one.high, wilson_interval(15, 50).high)
    # a system at 0 % everywhere keeps a width (the normal approximation would give [0, 0])
    zero = mover_mean_interval([0, 0], [4, 4])
    assert zero.low == 0.0 and zero.high == pytest.approx(wilson_interval(0, 4).high / math.sqrt(2), rel=1e-12)
    with pytest.raises(ValueError, match="one size per count"):
        mover_mean_interval([5], [10, 10])
    with pytest.raises(ValueError, match="n > 0"):
        mover_mean_interval([5, 5], [10, 0])
    with pytest.raises(ValueError, match="successes <= n"):
        mover_mean_interval([15], [10])


def test_mover_mean_interval_covers_where_the_normal_approximation_does_not():
    """Simulated coverage of the mean of three benchmarks' accuracies (sizes 20, 60, 200) for a
    weak and a strong system: MOVER-Wilson stays near its 95 % (0.93 and 0.95 in a pilot of 3,000
    draws), the normal approximation (mean +/- z sqrt(sum_b p_b (1 - p_b) / n_b) / B) falls short
    (0.86 and 0.88)."""
    rng = np.random.default_rng(11)
    sizes = np.array([20, 60, 200])
    for truth in ([0.02, 0.05, 0.01], [0.9, 0.97, 0.99]):
        true_mean = float(np.mean(truth))
        draws = rng.binomial(sizes, truth, size=(4000, 3))
        hit_m = hit_n = 0
        for counts in draws:
            m = mover_mean_interval([int(k) for k in counts], [int(n) for n in sizes])
            hit_m += m.low - 1e-12 <= true_mean <= m.high + 1e-12
            props = counts / sizes
            se = math.sqrt(float(np.sum(props * (1 - props) / sizes))) / 3
            hit_n += props.mean() - Z * se <= true_mean <= props.mean() + Z * se
        assert hit_m / 4000 >= 0.92
        assert hit_n / 4000 < 0.90


# ---------------------------------------------------------------- Newcombe
def hand_newcombe(a, b, c, d, z=Z):
    """Newcombe (1998) method 10, written out from the published formulas."""
    n = a + b + c + d

    def wilson(x):
        p = x / n
        centre = (2 * x + z * z) / (2 * (n + z * z))
        half = z * math.sqrt(z * z + 4 * x * (1 - p)) / (2 * (n + z * z))
        return p, centre - half, centre + half

    p1, l1, u1 = wilson(a + b)
    p2, l2, u2 = wilson(a + c)
    e, f, g, h = a + b, c + d, a + c, b + d
    A = a * d - b * c
    if e * f * g * h == 0:
        phi = 0.0
    elif A > n / 2:
        phi = (A - n / 2) / math.sqrt(e * f * g * h)
    elif A >= 0:
        phi = 0.0
    else:
        phi = A / math.sqrt(e * f * g * h)
    D = p1 - p2
    lo = D - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = D + math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return D, lo, hi


@pytest.mark.parametrize("table", TABLES)
def test_newcombe_matches_hand_implementation(table):
    D, lo, hi = hand_newcombe(*table)
    r = newcombe_paired_ci(*table)
    assert close(r.estimate, D) and close(r.low, lo) and close(r.high, hi)
    assert -1.0 <= r.low <= r.estimate <= r.high <= 1.0


def test_newcombe_and_tango_published_example():
    # Cavo et al. (2012) paired table as analysed in Fagerland, Lydersen & Laake,
    # "Statistical Analysis of Contingency Tables" (2017), ch. 8; 4-decimal values as
    # printed there (and asserted in the R package `contingencytables`' tests).
    a, b, c, d = 59, 6, 16, 80
    nc = newcombe_paired_ci(a, b, c, d)
    assert round(nc.estimate, 4) == -0.0621
    assert round(nc.low, 4) == -0.1186 and round(nc.high, 4) == -0.0046
    tg = tango_paired_ci(a, b, c, d)
    assert round(tg.low, 4) == -0.1240 and round(tg.high, 4) == -0.0054


# ---------------------------------------------------------------- Tango
def score_by_numerical_mle(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic with the nuisance MLE found by numerical optimisation."""
    rest = n - b - c
    lo = max(0.0, -delta)  # p21 >= 0 and p12 = p21 + delta >= 0
    hi = (1.0 - delta) / 2.0  # p11 + p22 = 1 - 2 p21 - delta >= 0

    def negll(q):
        out = 0.0
        for count, prob in ((b, q + delta), (c, q), (rest, 1 - 2 * q - delta)):
            if count:
                out -= count * math.log(max(prob, 1e-300))
        return out

    res = optimize.minimize_scalar(negll, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-13, "maxiter": 2000})
    q = res.x
    for edge in (lo, hi):  # the optimum may sit on the boundary
        if negll(edge) < negll(q):
            q = edge
    return (b - c - n * delta) / math.sqrt(n * (2 * q + delta * (1 - delta)))


@pytest.mark.parametrize("table", [t for t in TABLES if sum(t) >= 5][:120])
def test_tango_limits_solve_the_score_equation(table):
    a, b, c, d = table
    n = sum(table)
    r = tango_paired_ci(a, b, c, d)
    assert -1.0 <= r.low <= r.estimate <= r.high <= 1.0
    for limit, target in ((r.low, Z), (r.high, -Z)):
        if abs(limit) == 1.0:
            continue
        assert abs(score_by_numerical_mle(b, c, n, limit) - target) < 1e-5
    # just inside the interval the statistic is below z in absolute value
    width = r.high - r.low
    for x in (r.low + width * 1e-3, r.high - width * 1e-3):
        assert abs(score_by_numerical_mle(b, c, n, x)) < Z


def test_tango_degenerate_tables():
    r = tango_paired_ci(0, 0, 0, 10)  # no discordance: symmetric, closed form z^2/(n+z^2)
    assert close(r.high, Z**2 / (10 + Z**2)) and close(r.low, -r.high)
    r = tango_paired_ci(1, 0, 0, 0)  # n = 1
    assert r.low < 0 < r.high


# ---------------------------------------------------------------- bootstrap
def test_bootstrap_reproducible_and_contains_estimate():
    rng = np.random.default_rng(11)
    for _ in range(50):
        n = int(rng.integers(20, 3000))
        a = rng.uniform(size=n) < 0.7
        b = np.where(rng.uniform(size=n) < 0.8, a, ~a)
        r1 = bootstrap_paired_ci(a, b, 2000, seed=5)
        r2 = bootstrap_paired_ci(a, b, 2000, seed=5)
        assert r1 == r2
        assert r1.low <= r1.estimate <= r1.high
        assert close(r1.estimate, a.mean() - b.mean())
    assert bootstrap_paired_ci(a, b, 2000, seed=6) != r1


def test_bootstrap_matches_naive_item_resampling():
    # The multinomial shortcut has the same distribution as resampling items.
    rng = np.random.default_rng(0)
    n = 400
    a = rng.uniform(size=n) < 0.6
    b = np.where(rng.uniform(size=n) < 0.75, a, ~a)
    d = a.astype(float) - b.astype(float)
    idx = rng.integers(0, n, size=(20000, n))
    naive = np.quantile(d[idx].mean(axis=1), [0.025, 0.975])
    fast = bootstrap_paired_ci(a, b, 20000, seed=1)
    assert abs(fast.low - naive[0]) < 0.006 and abs(fast.high - naive[1]) < 0.006


def bootstrap_by_documented_seeding(b: int, c: int, n: int, n_boot: int, seed: int, alpha: float = 0.05):
    """The documented convention, written out: stream from (seed; min, max, n), draws with the larger
    count first, percentiles; negated for the other orientation, symmetrised when b == c."""
    hi, lo = max(b, c), min(b, c)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(lo, hi, n)))
    counts = rng.multinomial(n, [hi / n, lo / n, 1 - (hi + lo) / n], size=n_boot)
    d = (counts[:, 0] - counts[:, 1]) / n
    if b == c:
        h = np.quantile(np.concatenate([d, -d]), 1 - alpha / 2)
        return -h, h
    q = np.quantile(d, [alpha / 2, 1 - alpha / 2])
    return (q[0], q[1]) if b > c else (-q[1], -q[0])


def test_bootstrap_seeding_depends_on_data_and_seed_only_and_mirrors():
    rng = np.random.default_rng(21)
    tables = [(0, 0, 30), (5, 5, 40), (12, 3, 50), (3, 12, 50), (1, 0, 1), (0, 7, 7)]
    tables += [(int(b), int(c), int(b + c + r)) for b, c, r in rng.integers(0, 200, size=(40, 3)) if b + c + r > 0]
    for b, c, n in tables:
        for seed in (0, 7):
            fwd = bootstrap_paired_ci_from_counts(b, c, n, 500, seed=seed, alpha=0.1)
            rev = bootstrap_paired_ci_from_counts(c, b, n, 500, seed=seed, alpha=0.1)
            # A - B mirrors B - A exactly (low and high swapped and negated)
            assert (rev.low, rev.high, rev.estimate) == (-fwd.high, -fwd.low, -fwd.estimate)
            low, high = bootstrap_by_documented_seeding(b, c, n, 500, seed, alpha=0.1)
            assert close(fwd.low, low) and close(fwd.high, high)
            assert fwd.low <= fwd.estimate <= fwd.high
            if b == c:
                assert fwd.low == -fwd.high
    # item order and which items are discordant do not matter, only the counts
    a = np.array([1, 1, 0, 0, 1, 0, 1, 1] * 10, dtype=bool)
    b = np.array([1, 0, 1, 0, 0, 0, 1, 1] * 10, dtype=bool)
    perm = np.random.default_rng(3).permutation(a.size)
    assert bootstrap_paired_ci(a, b, 800, seed=2) == bootstrap_paired_ci(a[perm], b[perm], 800, seed=2)
    rev = bootstrap_paired_ci(b, a, 800, seed=2)
    fwd = bootstrap_paired_ci(a, b, 800, seed=2)
    assert (rev.low, rev.high) == (-fwd.high, -fwd.low)


def test_bootstrap_no_discordance():
    r = bootstrap_paired_ci_from_counts(0, 0, 50, 500, seed=0)
    assert (r.low, r.estimate, r.high) == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------- clustered SE
def test_clustered_se_singletons_equal_iid():
    rng = np.random.default_rng(2)
    for _ in range(100):
        n = int(rng.integers(1, 2000))
        x = rng.uniform(size=n) < rng.uniform()
        p = x.mean()
        assert close(clustered_se(x, np.arange(n)), math.sqrt(p * (1 - p) / n))


def test_clustered_se_hand_example():
    x = np.array([1, 1, 0, 1, 0, 0, 1])
    cl = np.array(["s1", "s1", "s1", "s2", "s2", "s3", "s3"])
    mean = 4 / 7
    sums = [(1 - mean) * 2 + (0 - mean), (1 - mean) + (0 - mean), (0 - mean) + (1 - mean)]
    expected = math.sqrt(sum(s * s for s in sums)) / 7
    assert close(clustered_se(x, cl), expected)
    est = clustered_mean(x, cl)
    assert est.n_clusters == 3 and close(est.low, mean - Z * expected) and close(est.high, mean + Z * expected)
    # paired difference: same formula on a_i - b_i
    a = np.array([1, 0, 1, 1, 0, 1], bool)
    b = np.array([0, 0, 1, 0, 1, 1], bool)
    g = np.array([0, 0, 1, 1, 2, 2])
    d = a.astype(float) - b
    m = d.mean()
    expected = math.sqrt(((d[0] - m) + (d[1] - m)) ** 2 + ((d[2] - m) + (d[3] - m)) ** 2
                         + ((d[4] - m) + (d[5] - m)) ** 2) / 6
    assert close(clustered_se(d, g), expected)


def test_clustered_se_one_cluster_is_zero():
    assert clustered_se(np.array([1, 0, 1, 1]), np.zeros(4, int)) == pytest.approx(0.0, abs=1e-15)


# ---------------------------------------------------------------- MDE
@pytest.mark.parametrize("table", [t for t in TABLES if sum(t) >= 20][:150])
def test_mde_has_the_stated_power(table):
    _, b, c, _ = table
    n = sum(table)
    mde = minimum_detectable_effect(b, c, n)
    psi = (b + c) / n
    if math.isnan(mde):
        # nothing detectable: either no discordance or the required |b-c|/n exceeds psi
        za, zb = Z, stats.norm.ppf(0.8)
        assert psi == 0 or za * math.sqrt(psi) + zb * math.sqrt(max(psi - psi**2, 0)) > math.sqrt(n) * psi - 1e-12
        return
    assert 0 < mde <= psi
    # Connor's equation holds, and the implied power is 0.8
    assert close(math.sqrt(n) * mde, Z * math.sqrt(psi) + stats.norm.ppf(0.8) * math.sqrt(psi - mde**2))
    assert close(connor_power(mde, psi, n), 0.8)


def test_mde_brentq_agrees_with_closed_form():
    b, c, n = 300, 260, 14000
    psi = (b + c) / n
    root = optimize.brentq(lambda d: connor_power(d, psi, n) - 0.8, 1e-9, psi - 1e-12, xtol=1e-15)
    assert close(minimum_detectable_effect(b, c, n), root)


def test_paired_table_counts():
    a = np.array([1, 1, 0, 0, 1], bool)
    b = np.array([1, 0, 1, 0, 0], bool)
    assert paired_table(a, b) == (1, 2, 1, 1)
