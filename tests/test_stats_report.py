"""PairedOutcomes construction and compare()/Report behaviour."""

from __future__ import annotations

import io
import json
import math
import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from orch_eval.stats import (
    ItemSetMismatchError,
    MissingClusterError,
    PairedOutcomes,
    adjust_pvalues,
    cochran_q,
    compare,
    mcnemar,
    newcombe_paired_ci,
)


def synthetic(n=300, k=4, seed=0, clusters=True, cost=False):
    rng = np.random.default_rng(seed)
    ids = [f"q{i:05d}" for i in range(n)]
    latent = rng.uniform(size=n)
    systems = {}
    for j in range(k):
        acc = 0.55 + 0.05 * j
        right = (0.5 * latent + 0.5 * rng.uniform(size=n)) < acc
        systems[f"sys_{j}"] = dict(zip(ids, right.tolist()))
    cl = {i: f"subject_{h % 7}" for h, i in enumerate(ids)} if clusters else None
    kw = {}
    if cost:
        kw["cost"] = {s: {i: 0.001 * (j + 1) for i in ids} for j, s in enumerate(systems)}
        kw["latency"] = {s: 1.5 + j for j, s in enumerate(systems)}
    return PairedOutcomes.from_dict(systems, cl, **kw)


# ---------------------------------------------------------------- PairedOutcomes
def test_mismatched_item_sets_are_refused_with_details():
    a = {f"i{k}": True for k in range(10)}
    b = {f"i{k}": False for k in range(3, 12)}
    with pytest.raises(ItemSetMismatchError) as err:
        PairedOutcomes.from_dict({"A": a, "B": b})
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "12 distinct items" in msg and "7 common" in msg and "intersect=True" in msg
    assert "'A': has 10 items, missing 2, e.g. ['i10', 'i11']" in msg
    assert "'B': has 9 items, missing 3, e.g. ['i0', 'i1', 'i2']" in msg


def test_mismatch_message_lists_at_most_five_examples():
    a = {k: True for k in range(100)}
    b = {k: True for k in range(50)}
    with pytest.raises(ItemSetMismatchError) as err:
        PairedOutcomes.from_dict({"A": a, "B": b})
    assert "missing 50, e.g. [50, 51, 52, 53, 54]" in str(err.value)


def test_intersect_keeps_common_items_in_first_system_order():
    a = {"x": True, "y": False, "z": True, "w": True}
    b = {"z": False, "y": True, "x": True}
    po = PairedOutcomes.from_dict({"A": a, "B": b}, intersect=True)
    assert po.item_ids == ("x", "y", "z")
    assert po.correct["A"].tolist() == [True, False, True]
    assert po.correct["B"].tolist() == [True, True, False]
    with pytest.raises(ValueError):
        po.correct["A"][0] = False  # read-only


def test_no_common_items_and_bad_values():
    with pytest.raises(ItemSetMismatchError):
        PairedOutcomes.from_dict({"A": {1: True}, "B": {2: True}}, intersect=True)
    with pytest.raises(ValueError, match="bool or 0/1"):
        PairedOutcomes.from_dict({"A": {1: 0.5}})
    with pytest.raises(ValueError, match="bool or 0/1"):
        PairedOutcomes.from_dict({"A": {1: None}})


def test_missing_cluster_labels():
    with pytest.raises(MissingClusterError, match="missing for 1 of 2 items"):
        PairedOutcomes.from_dict({"A": {1: True, 2: False}}, clusters={1: "s"})


# ---------------------------------------------------------------- compare()
def test_reference_comparisons_are_oriented_and_consistent():
    po = synthetic()
    rep = compare(po, reference="sys_0")
    assert [(c.system_a, c.system_b) for c in rep.comparisons] == [("sys_1", "sys_0"), ("sys_2", "sys_0"),
                                                                    ("sys_3", "sys_0")]
    for c in rep.comparisons:
        a, b = po.correct[c.system_a], po.correct[c.system_b]
        assert c.b == int(np.sum(a & ~b)) and c.c == int(np.sum(~a & b))
        assert c.diff == pytest.approx(a.mean() - b.mean(), abs=1e-15)
        m = mcnemar(c.b, c.c)
        assert (c.p_exact, c.p_midp, c.p_asymptotic, c.p_asymptotic_cc) == (
            m.p_exact, m.p_midp, m.p_asymptotic, m.p_asymptotic_cc)
        nc = newcombe_paired_ci(c.both, c.b, c.c, c.neither)
        assert (c.newcombe_low, c.newcombe_high) == (nc.low, nc.high)
        assert c.bootstrap_low <= c.diff <= c.bootstrap_high
    adj = adjust_pvalues([c.p_midp for c in rep.comparisons], "holm")
    assert [c.p_adjusted for c in rep.comparisons] == adj.tolist()
    assert all((c.mark == "*") == (c.p_adjusted < 0.05) for c in rep.comparisons)
    q = cochran_q(po.matrix)
    assert rep.cochran == q


def test_all_pairs_and_test_choice():
    po = synthetic(k=5)
    rep = compare(po, test="exact", correction="bh")
    assert rep.pairs == "all" and len(rep.comparisons) == 10
    adj = adjust_pvalues([c.p_exact for c in rep.comparisons], "bh")
    assert np.array_equal([c.p_adjusted for c in rep.comparisons], adj)
    rep2 = compare(po, reference="sys_2", pairs="all")
    assert len(rep2.comparisons) == 10
    assert all(c.system_b == "sys_2" for c in rep2.comparisons if "sys_2" in (c.system_a, c.system_b))


def test_reference_must_exist_and_is_never_chosen_silently():
    po = synthetic(k=3)
    with pytest.raises(ValueError, match="not one of the systems"):
        compare(po, reference="best")
    assert compare(po).reference is None


def test_bootstrap_reproducible_across_calls():
    po = synthetic()
    r1, r2 = compare(po, reference="sys_0", seed=3), compare(po, reference="sys_0", seed=3)
    assert r1.to_json() == r2.to_json()
    r3 = compare(po, reference="sys_0", seed=4)
    assert r3.comparisons[0].bootstrap_low != r1.comparisons[0].bootstrap_low or \
        r3.comparisons[0].bootstrap_high != r1.comparisons[0].bootstrap_high


def test_bootstrap_interval_depends_on_data_and_seed_not_names():
    """Two identical tables under different names get one interval; swapping a pair mirrors it."""
    ids = list(range(600))
    a = {i: i % 3 != 0 for i in ids}
    b = {i: i % 4 != 0 for i in ids}
    first = compare(PairedOutcomes.from_dict({"alpha": a, "beta": b}), seed=9, alpha=0.1).comparisons[0]
    renamed = compare(PairedOutcomes.from_dict({"x/model-1": a, "y": b}), seed=9, alpha=0.1).comparisons[0]
    assert (renamed.bootstrap_low, renamed.bootstrap_high) == (first.bootstrap_low, first.bootstrap_high)
    swapped = compare(PairedOutcomes.from_dict({"beta": b, "alpha": a}), seed=9, alpha=0.1).comparisons[0]
    assert (swapped.system_a, swapped.diff) == ("beta", -first.diff)
    assert (swapped.bootstrap_low, swapped.bootstrap_high) == (-first.bootstrap_high, -first.bootstrap_low)
    # in one report: two pairs with the same counts (C - R and D - R identical) share the interval
    po = PairedOutcomes.from_dict({"R": b, "C": a, "D": dict(a)})
    rep = compare(po, reference="R", seed=9)
    (c1, c2) = rep.comparisons
    assert (c1.b, c1.c) == (c2.b, c2.c)
    assert (c1.bootstrap_low, c1.bootstrap_high) == (c2.bootstrap_low, c2.bootstrap_high)
    # and the declared seed is what changes it
    other = compare(po, reference="R", seed=10).comparisons[0]
    assert (other.bootstrap_low, other.bootstrap_high) != (c1.bootstrap_low, c1.bootstrap_high)
    # the interval is the counts-only bootstrap with the declared seed
    from orch_eval.stats import bootstrap_paired_ci_from_counts

    direct = bootstrap_paired_ci_from_counts(c1.b, c1.c, c1.n, 2000, seed=9)
    assert (direct.low, direct.high) == (c1.bootstrap_low, c1.bootstrap_high)


@pytest.mark.parametrize(
    "systems",
    [
        {"A": {1: True}, "B": {1: False}},  # n = 1
        {"A": {i: True for i in range(20)}, "B": {i: True for i in range(20)}, "C": {i: True for i in range(20)}},
        {"A": {i: False for i in range(20)}, "B": {i: False for i in range(20)}, "C": {i: False for i in range(20)}},
    ],
)
def test_edge_cases(systems):
    po = PairedOutcomes.from_dict(systems, clusters={i: "x" for i in next(iter(systems.values()))})
    rep = compare(po)
    for c in rep.comparisons:
        assert 0.0 <= c.p_adjusted <= 1.0
        assert c.newcombe_low <= c.diff <= c.newcombe_high
        assert c.tango_low <= c.diff <= c.tango_high
    if len(systems) >= 3:
        assert rep.cochran.pvalue == 1.0
        # b + c = 0: exact p is 1, mid-p is 0.5 by its definition (half the probability of X = 0)
        assert all(c.p_exact == 1.0 and c.p_midp == 0.5 and np.isnan(c.mde) for c in rep.comparisons)
    json.loads(rep.to_json())  # nan -> null, strictly valid JSON
    assert "n/a" in rep.to_markdown() or len(systems) == 2


# ---------------------------------------------------------------- renderings
def test_json_full_precision_and_csv_round_trip():
    rep = compare(synthetic(cost=True), reference="sys_0")
    data = json.loads(rep.to_json())
    for got, c in zip(data["comparisons"], rep.comparisons):
        assert got["p_midp"] == c.p_midp and got["tango_low"] == c.tango_low
    assert data["cochran"]["pvalue"] == rep.cochran.pvalue
    df = pd.read_csv(io.StringIO(rep.to_csv()))
    assert df["p_midp"].tolist() == [c.p_midp for c in rep.comparisons]
    sysdf = pd.read_csv(io.StringIO(rep.to_csv("systems")))
    assert {"cost_total", "cost_per_item", "latency_mean", "se_clustered"} <= set(sysdf.columns)
    assert sysdf["cost_total"].tolist() == pytest.approx([0.3, 0.6, 0.9, 1.2])
    assert sysdf["latency_mean"].tolist() == [1.5, 2.5, 3.5, 4.5]


def test_markdown_and_latex():
    rep = compare(synthetic(cost=True), reference="sys_0")
    md = rep.to_markdown()
    assert "Reference system (declared by the caller): **sys_0**" in md
    assert "cost total" in md and "Cochran's Q" in md and "| sys_3 | sys_0 |" in md
    tex = rep.to_latex()
    assert "\\begin{tabular}" in tex and "sys\\_3" in tex
    assert "\\begin{tabular}" in rep.to_latex("systems")
    plain = compare(synthetic(clusters=False), reference="sys_0")
    assert "cost" not in plain.to_markdown() and "clustered" not in plain.to_markdown()
    assert "cost_total" not in plain.to_csv("systems")


def wilson_by_formula(k: int, n: int, alpha: float) -> tuple[float, float]:
    z = stats.norm.isf(alpha / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def mde_by_root(b: int, c: int, n: int, alpha: float) -> float:
    """Connor's equation sqrt(n) d = z_{1-alpha/2} sqrt(psi) + z_0.8 sqrt(psi - d^2), solved numerically."""
    psi = (b + c) / n
    za, zb = stats.norm.isf(alpha / 2), stats.norm.ppf(0.8)
    return optimize.brentq(lambda d: math.sqrt(n) * d - za * math.sqrt(psi) - zb * math.sqrt(psi - d * d),
                           za * math.sqrt(psi / n), psi, xtol=1e-15)


@pytest.mark.parametrize(("alpha", "level"), [(0.05, "95%"), (0.10, "90%"), (0.005, "99.5%"), (0.2, "80%")])
def test_levels_in_labels_and_mde_follow_alpha(alpha, level):
    """Every interval header names the level computed, and the intervals and MDE are computed at it."""
    from orch_eval.stats import level_label

    assert level_label(alpha) == level
    po = synthetic()
    rep = compare(po, reference="sys_0", alpha=alpha, bootstrap=200)
    md = rep.to_markdown()
    labels = re.findall(r"(\w+) (\S+) CI", md)
    assert {name for name, _ in labels} == {"Wilson", "clustered", "Newcombe", "Tango", "bootstrap"}
    assert {lvl for _, lvl in labels} == {level}
    assert f"two-sided {level} intervals" in md and f"80% power at two-sided alpha = {alpha}" in md
    for s in rep.systems:
        low, high = wilson_by_formula(s.correct, s.n, alpha)
        assert abs(s.wilson_low - low) < 1e-12 and abs(s.wilson_high - high) < 1e-12
    for c in rep.comparisons:
        assert abs(c.mde - mde_by_root(c.b, c.c, c.n, alpha)) < 1e-10


def test_plots(tmp_path):
    pytest.importorskip("matplotlib")
    from orch_eval.stats.plots import plot_accuracy, plot_accuracy_vs_cost, plot_pvalue_heatmap

    rep = compare(synthetic(cost=True), reference="sys_0")
    assert plot_accuracy(rep, tmp_path / "acc.png").stat().st_size > 0
    assert plot_accuracy_vs_cost(rep, tmp_path / "cost.png").stat().st_size > 0
    with pytest.raises(ValueError, match="all pairwise"):
        plot_pvalue_heatmap(rep, tmp_path / "heat.png")
    all_rep = compare(synthetic(), pairs="all")
    assert plot_pvalue_heatmap(all_rep, tmp_path / "heat.png").stat().st_size > 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plot_accuracy_vs_cost(all_rep, tmp_path / "none.png") is None
    assert any("no cost data" in str(w.message) for w in caught)
    assert not (tmp_path / "none.png").exists()


def test_plot_labels_name_the_level_computed(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from orch_eval.stats.plots import plot_accuracy, plot_accuracy_vs_cost

    monkeypatch.setattr(plt, "close", lambda fig: None)  # keep the figures to read their labels
    rep = compare(synthetic(cost=True), reference="sys_0", alpha=0.1, bootstrap=0)
    plot_accuracy(rep, tmp_path / "acc.png")
    legend = [t.get_text() for t in plt.gcf().axes[0].get_legend().get_texts()]
    assert legend == ["Wilson 90% CI", "clustered 90% CI (7 clusters)"]
    plot_accuracy_vs_cost(rep, tmp_path / "cost.png")
    assert plt.gcf().axes[0].get_ylabel() == "accuracy (Wilson 90% CI)"
    monkeypatch.undo()
    plt.close("all")


def test_speed_14000_items_10_systems():
    rng = np.random.default_rng(0)
    n, k = 14000, 10
    ids = list(range(n))
    latent = rng.uniform(size=n)
    systems = {f"m{j}": dict(zip(ids, ((0.5 * latent + 0.5 * rng.uniform(size=n)) < 0.5 + 0.03 * j).tolist()))
               for j in range(k)}
    clusters = {i: f"subj{i % 57}" for i in ids}
    t0 = time.perf_counter()
    po = PairedOutcomes.from_dict(systems, clusters)
    rep = compare(po, pairs="all", bootstrap=2000)
    rep.to_markdown()
    elapsed = time.perf_counter() - t0
    assert len(rep.comparisons) == 45
    assert elapsed < 2.0, elapsed


def test_markdown_tables_escape_their_cells() -> None:
    """One Markdown writer for compare's report, the analysis and the leaderboard: a system name
    with ``|`` or a line break stays in its cell (before, compare's tables split such a row)."""
    from orch_eval.stats.markdown import md_table

    lines = md_table(["system", "acc"], [["orch/a|b", "50.0"], ["two\nlines", "1"]])
    assert lines == ["| system | acc |", "|---|---|", "| orch/a\\|b | 50.0 |", "| two lines | 1 |"]
    outcomes = PairedOutcomes.from_dict({"a|b": {"q1": True, "q2": False}, "c": {"q1": False, "q2": False}})
    md = compare(outcomes).to_markdown().splitlines()
    cells = re.compile(r"(?<!\\)\|")  # unescaped pipes: the cell borders
    systems = md.index("## Systems")
    header, row = md[systems + 2], md[systems + 4]
    assert row.startswith("| a\\|b | 2 |") and len(cells.findall(row)) == len(cells.findall(header))
