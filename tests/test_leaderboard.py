"""The leaderboard's statistics on synthetic outcome tables with known structure, checked against
``compare`` and against computations written here from the formulas."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from orch_eval.stats.leaderboard import (
    BenchmarkInput,
    BenchmarkResult,
    Leaderboard,
    OverallResult,
    compact_letter_display,
    competition_ranks,
    pareto_frontier,
    rank_intervals,
)
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.paired import mcnemar
from orch_eval.stats.report import compare

TIERS = [0.85, 0.84, 0.83, 0.65, 0.64, 0.63, 0.45, 0.44, 0.43]


def exact_accuracy(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """Right on exactly round(p n) items at random positions (errors independent across systems)."""
    v = np.zeros(n, dtype=bool)
    v[rng.permutation(n)[: round(p * n)]] = True
    return v


def tiers(seed: int, n: int = 2000, shuffle: bool = True) -> PairedOutcomes:
    rng = np.random.default_rng(seed)
    names = [f"tier{k // 3 + 1}-{k % 3 + 1}" for k in range(len(TIERS))]
    columns = {name: exact_accuracy(rng, p, n) for name, p in zip(names, TIERS)}
    order = list(rng.permutation(len(names))) if shuffle else list(range(len(names)))
    return PairedOutcomes.from_dict({names[k]: dict(enumerate(columns[names[k]])) for k in order})


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm's step-down adjustment written from its definition."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


# ---------------------------------------------------------------------------- per benchmark


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_three_tiers_give_three_letter_groups_and_tier_intervals(seed: int) -> None:
    po = tiers(seed)
    table = Leaderboard.build({"synthetic": po}).standings(0.05).benchmarks[0]
    assert [r.system for r in table.rows] == [f"tier{k // 3 + 1}-{k % 3 + 1}" for k in range(9)]
    for pos, r in enumerate(table.rows):
        tier = pos // 3
        assert r.rank == pos + 1
        assert (r.rank_low, r.rank_high) == (3 * tier + 1, 3 * tier + 3), r
        assert r.letters == "abc"[tier], r
        assert r.accuracy == pytest.approx(TIERS[pos])
    # within a tier unresolved, between tiers resolved
    assert [(p.a, p.b) for p in table.unresolved_adjacent] == [
        (f"tier{t}-{a}", f"tier{t}-{a + 1}") for t in (1, 2, 3) for a in (1, 2)
    ]


def test_pairwise_pvalues_equal_compare() -> None:
    po = tiers(5)
    board = Leaderboard.build({"synthetic": po})
    tests = board.benchmarks["synthetic"].tests
    report = compare(po, pairs="all", test="midp", correction="holm", bootstrap=0)
    assert len(report.comparisons) == 36
    for c in report.comparisons:
        i, j = tests.index(c.system_a), tests.index(c.system_b)
        assert tests.p[i, j] == tests.p[j, i] == c.p_midp
        assert tests.p_holm[i, j] == pytest.approx(c.p_adjusted, abs=1e-15)
        assert (int(tests.discordant[i, j]), int(tests.discordant[j, i])) == (c.b, c.c)
    table = board.standings(0.05).benchmarks[0]
    marks = {frozenset((c.system_a, c.system_b)): c.mark == "*" for c in report.comparisons}
    for p in table.pairs:
        assert p.significant == marks[frozenset((p.a, p.b))]


def test_two_systems_on_one_benchmark_give_compares_midp() -> None:
    rng = np.random.default_rng(11)
    a = rng.random(300) < 0.62
    b = rng.random(300) < 0.55
    po = PairedOutcomes.from_dict({"a": dict(enumerate(a)), "b": dict(enumerate(b))})
    table = Leaderboard.build({"one": po}).standings().benchmarks[0]
    (pair,) = table.pairs
    (c,) = compare(po, reference="b", bootstrap=0).comparisons
    assert pair.p == c.p_midp == mcnemar(c.b, c.c).p_midp
    assert pair.p_holm == c.p_adjusted  # a family of one pair: Holm changes nothing
    assert {pair.a, pair.b} == {"a", "b"}
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert (pair.b_count, pair.c_count) == ((only_a, only_b) if pair.a == "a" else (only_b, only_a))


def test_alpha_is_an_argument_not_a_field() -> None:
    board = Leaderboard.build({"synthetic": tiers(3)})
    strict = board.standings(1e-12).benchmarks[0]
    loose = board.standings(0.9).benchmarks[0]
    assert sum(p.significant for p in strict.pairs) < sum(p.significant for p in loose.pairs)
    assert [p.p_holm for p in strict.pairs] == [p.p_holm for p in loose.pairs]
    assert all(r.ci_high - r.ci_low < s.ci_high - s.ci_low for r, s in zip(loose.rows, strict.rows))
    with pytest.raises(ValueError, match="alpha"):
        board.standings(1.5)


# ---------------------------------------------------------------------------- ranks and letters


def test_ranks_share_the_better_rank() -> None:
    assert competition_ranks([0.5, 0.7, 0.7, 0.2]).tolist() == [3, 1, 1, 4]


def test_rank_interval_rule() -> None:
    acc = np.array([0.9, 0.8, 0.7, 0.6])
    none = np.zeros((4, 4), dtype=bool)
    low, high = rank_intervals(acc, none)
    assert low.tolist() == [1, 1, 1, 1] and high.tolist() == [4, 4, 4, 4]
    every = ~np.eye(4, dtype=bool)
    low, high = rank_intervals(acc, every)
    assert low.tolist() == [1, 2, 3, 4] and high.tolist() == [1, 2, 3, 4]
    sig = none.copy()
    sig[0, 3] = sig[3, 0] = True  # only the best beats the worst
    low, high = rank_intervals(acc, sig)
    assert low.tolist() == [1, 1, 1, 2] and high.tolist() == [3, 4, 4, 4]


def _shares(letters: list[list[str]], i: int, j: int) -> bool:
    return bool(set(letters[i]) & set(letters[j]))


def test_letters_of_a_chain() -> None:
    # A ~ B, B ~ C, A != C: the textbook a / ab / b
    sig = np.zeros((3, 3), dtype=bool)
    sig[0, 2] = sig[2, 0] = True
    assert compact_letter_display([0, 1, 2], sig) == [["a"], ["a", "b"], ["b"]]
    # order decides which system gets "a"
    assert compact_letter_display([2, 1, 0], sig) == [["b"], ["a", "b"], ["a"]]


def test_letters_represent_any_relation_exactly() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        k = int(rng.integers(1, 9))
        upper = np.triu(rng.random((k, k)) < rng.random(), 1)
        sig = upper | upper.T
        order = list(rng.permutation(k))
        letters = compact_letter_display(order, sig)
        assert all(letters[i] for i in range(k)), "every system gets a letter"
        for i, j in itertools.combinations(range(k), 2):
            assert _shares(letters, i, j) == (not sig[i, j]), (sig, letters)
        assert "a" in letters[order[0]], "the best system carries the first letter"
        # letters are used in order of their best member
        first_seen = [min(order.index(i) for i in range(k) if name in letters[i])
                      for name in sorted({x for ls in letters for x in ls})]
        assert first_seen == sorted(first_seen)


def test_pareto_frontier() -> None:
    cost = [1.0, 2.0, 3.0, 2.5, 0.5]
    acc = [0.5, 0.7, 0.9, 0.6, 0.4]
    assert pareto_frontier(cost, acc) == [4, 0, 1, 2]  # the one at 2.5 is dominated by the one at 2.0


# ---------------------------------------------------------------------------- overall ranking


def three_benchmarks(seed: int = 21) -> dict[str, PairedOutcomes]:
    rng = np.random.default_rng(seed)
    out = {}
    for bench, n, accs in [("b1", 400, [0.7, 0.6, 0.65, 0.5, 0.55]), ("b2", 250, [0.5, 0.52, 0.4, 0.45, 0.3]),
                           ("b3", 900, [0.8, 0.75, 0.78, 0.6, 0.7])]:
        out[bench] = PairedOutcomes.from_dict(
            {f"s{k}": {f"{bench}-{i}": bool(v) for i, v in enumerate(rng.random(n) < p)} for k, p in enumerate(accs)}
        )
    return out


def test_overall_pvalues_match_an_independent_computation() -> None:
    data = three_benchmarks()
    board = Leaderboard.build(data)
    overall = board.overall
    assert overall is not None
    systems = list(overall.systems)
    assert systems == [f"s{k}" for k in range(5)]
    pairs = list(itertools.combinations(range(5), 2))
    z_ref, p_ref = [], []
    for i, j in pairs:
        num = den = 0.0
        for po in data.values():
            a, b = po.correct[systems[i]], po.correct[systems[j]]
            only_a = sum(1 for x, y in zip(a, b) if x and not y)
            only_b = sum(1 for x, y in zip(a, b) if y and not x)
            num += (sum(a) - sum(b)) / po.n  # the accuracy difference on this benchmark
            den += (only_a + only_b) / po.n**2
        z = num / math.sqrt(den)
        z_ref.append(z)
        p_ref.append(2 * stats.norm.cdf(-abs(z)))
    holm_ref = holm_by_hand(p_ref)
    for (i, j), z, p, h in zip(pairs, z_ref, p_ref, holm_ref):
        assert overall.tests.statistic[i, j] == pytest.approx(z, rel=1e-12)
        assert overall.tests.statistic[j, i] == pytest.approx(-z, rel=1e-12)
        assert overall.tests.p[i, j] == pytest.approx(p, rel=1e-9, abs=1e-300)
        assert overall.tests.p_holm[i, j] == pytest.approx(h, rel=1e-9, abs=1e-300)
    # the equally weighted mean and the rank rules applied by hand
    table = board.standings(0.05).overall
    mean = {s: np.mean([po.correct[s].mean() for po in data.values()]) for s in systems}
    for r in table.rows:
        assert r.accuracy == pytest.approx(mean[r.system], rel=1e-12)
        better = sum(1 for (i, j), h in zip(pairs, holm_ref) if h < 0.05 and r.system in (systems[i], systems[j])
                     and mean[systems[j if systems[i] == r.system else i]] > mean[r.system])
        worse = sum(1 for (i, j), h in zip(pairs, holm_ref) if h < 0.05 and r.system in (systems[i], systems[j])
                    and mean[systems[j if systems[i] == r.system else i]] < mean[r.system])
        assert (r.rank_low, r.rank_high) == (1 + better, 5 - worse)
        assert dict(r.per_benchmark) == pytest.approx({b: po.correct[r.system].mean() for b, po in data.items()})
    assert any(not p.significant for p in table.pairs) and any(p.significant for p in table.pairs)


def test_overall_test_on_one_benchmark_is_mcnemars_asymptotic() -> None:
    po = three_benchmarks()["b1"]
    result = BenchmarkResult.build(BenchmarkInput("b1", po))
    overall = OverallResult.build([result])
    for i, j in itertools.combinations(range(len(po.systems)), 2):
        b, c = int(result.tests.discordant[i, j]), int(result.tests.discordant[j, i])
        assert overall.tests.statistic[i, j] == pytest.approx((b - c) / math.sqrt(b + c), rel=1e-12)
        assert overall.tests.p[i, j] == pytest.approx(mcnemar(b, c).p_asymptotic, rel=1e-9)


def test_system_missing_a_benchmark_is_listed_not_ranked_overall() -> None:
    data = three_benchmarks()
    b2 = data["b2"]
    data["b2"] = PairedOutcomes.from_dict(
        {s: dict(zip(b2.item_ids, b2.correct[s])) for s in b2.systems if s != "s3"}
    )
    st = Leaderboard.build(data).standings()
    overall = st.overall
    assert overall is not None
    assert "s3" not in [r.system for r in overall.rows]
    (u,) = overall.unranked
    assert u.system == "s3" and u.reason == "not on b2"
    assert dict(u.per_benchmark) == pytest.approx({"b1": data["b1"].correct["s3"].mean(),
                                                   "b3": data["b3"].correct["s3"].mean()})
    assert len(overall.pairs) == 6  # Holm over the four ranked systems' pairs
    assert "s3" in [r.system for r in st.benchmarks[0].rows]
    assert "s3" not in [r.system for r in st.benchmarks[1].rows]


def test_one_benchmark_has_no_overall_table() -> None:
    st = Leaderboard.build({"only": tiers(1)}).standings()
    assert st.overall is None and len(st.tables) == 1
