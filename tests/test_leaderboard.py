"""The leaderboard's statistics on synthetic outcome tables with known structure, checked against
``compare`` and against computations written here from the formulas."""

from __future__ import annotations

import csv
import html
import itertools
import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from inspect_ai.log import read_eval_log
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
from orch_eval.stats.loaders import load_logs
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.paired import mcnemar
from orch_eval.stats.report import compare
from tests.test_leaderboard_page import page_rows
from tests.test_stats_paired import hand_mover_mean

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
        # the mean's interval: MOVER-Wilson from each benchmark's Wilson limits (computed apart)
        _, low, high = hand_mover_mean([int(po.correct[r.system].sum()) for po in data.values()],
                                       [po.n for po in data.values()])
        assert (r.ci_low, r.ci_high) == pytest.approx((low, high), rel=1e-12)
    assert table.ci == "MOVER-Wilson"
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


# ---------------------------------------------------------------------------- end to end, real logs
#
# Real Inspect evals of the standard inspect_evals tasks on real MMLU / GSM8K items (offline
# cache), with the project's deterministic fake models, and one real lm-eval run; then the
# real `orch-eval leaderboard` on the folder.

E2E_AGENTS = "orchfake/gold:p=0.9:seed=1,orchfake/gold:p=0.5:seed=2"
PLAIN = "orchfake/gold:p=0.7:seed=5"
LM_EVAL_GROUP = """group: lb_mmlu
task:
  - mmlu_abstract_algebra
  - mmlu_anatomy
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
metadata:
  version: 1
"""


def _inspect(task: str, log_dir: Path, limit: int = 30, model: str | None = None) -> Path:
    from inspect_ai import eval as inspect_eval

    from orch_eval.inspect.solvers import orch

    solver = None if model else orch(agents=E2E_AGENTS, merger="orchfake/vote")
    (log,) = inspect_eval(task, model=model, solver=solver, limit=limit, log_dir=str(log_dir), display="none")
    assert log.status == "success", log.error
    return Path(log.location)


def _lm_eval(root: Path) -> Path:
    """One lm-eval run of a task group (two MMLU subjects, so two samples files) and gsm8k."""
    from tests.conftest import ROOT, subprocess_env
    from tests.test_stats_loaders import ORCH_LM_EVAL

    (root / "tasks").mkdir(parents=True)
    (root / "tasks" / "lb_mmlu.yaml").write_text(LM_EVAL_GROUP)
    proc = subprocess.run(
        [ORCH_LM_EVAL, "--model", "orch", "--model_args", "panel=solvers/fake-lmeval.yaml", "--tasks", "lb_mmlu,gsm8k",
         "--include_path", str(root / "tasks"), "--limit", "5", "--log_samples", "--output_path", str(root / "out")],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (folder,) = {f.parent for f in (root / "out").rglob("samples_*.jsonl")}
    assert len(list(folder.glob("samples_*.jsonl"))) == 3
    return folder


class Logs:
    def __init__(self, root: Path) -> None:
        self.all = root / "all"
        self.mmlu_orch = _inspect("inspect_evals/mmlu_0_shot", self.all)
        self.gsm8k_orch = _inspect("inspect_evals/gsm8k", self.all)
        self.mmlu_plain = _inspect("inspect_evals/mmlu_0_shot", self.all, model=PLAIN)
        self.gsm8k_plain = _inspect("inspect_evals/gsm8k", self.all, model=PLAIN)
        self.lm_eval = _lm_eval(root / "lm_eval")
        self.short = _inspect("inspect_evals/mmlu_0_shot", root / "short", limit=20, model="orchfake/gold:p=0.6:seed=9")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    root = tmp_path_factory.mktemp("leaderboard_logs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        return Logs(root)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from orch_eval.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_leaderboard_from_real_logs_writes_consistent_outputs(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "board"
    code, stdout, err = cli(capsys, "leaderboard", str(logs.all), str(logs.lm_eval), "--output", str(out),
                            "--filter", "strict-match")
    assert code == 0, err
    for name in ("index.html", "leaderboard.md", "leaderboard.csv", "pairs.csv", "leaderboard.json",
                 "leaderboard.tex", "accuracy_vs_cost.png"):
        assert (out / name).is_file(), name
    assert (out / "accuracy_vs_cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "leaderboard.json").read_text())
    benches = {t["key"]: t for t in data["benchmarks"]}
    # the lm-eval run holds two benchmarks: its task group (two samples files, one system) and gsm8k,
    # which the Inspect logs also have: the harnesses' item ids differ, so two benchmarks
    assert set(benches) == {"mmlu_0_shot", "gsm8k (inspect)", "gsm8k (lm-eval)", "lb_mmlu"}

    # systems per benchmark: the ORCH log's merged system, each agent alone, the majority, the plain run
    loaded = load_logs([logs.mmlu_orch])
    panel = loaded.logs[0].name
    expected = {f"{panel}:{n}" if n != panel else n for n in loaded.names} | {PLAIN}
    for key in ("mmlu_0_shot", "gsm8k (inspect)"):
        assert {r["system"] for r in benches[key]["rows"]} == expected
        assert [o["name"] for o in benches[key]["oracles"]] == [f"{panel}:oracle"]
    lm_systems = {r["system"] for r in benches["lb_mmlu"]["rows"]}
    assert "orch/fake-lmeval" in lm_systems and len(lm_systems) == 5
    assert {r["system"] for r in benches["gsm8k (lm-eval)"]["rows"]} == lm_systems
    group_row = next(r for r in benches["lb_mmlu"]["rows"] if r["system"] == "orch/fake-lmeval")
    assert group_row["n"] == 10 and benches["lb_mmlu"]["n_clusters"] == 2
    assert group_row["details"]["provenance"]["task"] == "lb_mmlu (2 tasks)"
    assert group_row["details"]["provenance"]["harness"] == "lm_eval"
    # the date is the samples files' (lm-eval writes it into their names: 2026-12-05T09-40-12.123 -> 09:40:12)
    stamp = next(logs.lm_eval.glob("samples_mmlu_*.jsonl")).stem.rsplit("_", 1)[1]
    day, clock = stamp.split("T")
    assert group_row["details"]["provenance"]["date"] == f"{day}T{clock.split('.')[0].replace('-', ':')}"
    # the group's clustered interval, its two subjects the clusters: the plug-in sandwich SE (no
    # small-sample factor), here from statsmodels' OLS on a constant with cluster-robust covariance
    acc: list[float] = []
    subject: list[int] = []
    for g, f in enumerate(sorted(logs.lm_eval.glob("samples_mmlu_*.jsonl"))):
        recs = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        acc += [float(r["acc"]) for r in recs]
        subject += [g] * len(recs)
    fit = sm.OLS(np.array(acc), np.ones((len(acc), 1))).fit(
        cov_type="cluster", cov_kwds={"groups": np.array(subject), "use_correction": False})
    se, z = float(fit.bse[0]), stats.norm.ppf(0.975)
    assert len(acc) == 10 and group_row["accuracy"] == pytest.approx(float(fit.params[0]))
    assert group_row["clustered_se"] == pytest.approx(se)
    assert group_row["clustered_low"] == pytest.approx(max(0.0, fit.params[0] - z * se))
    assert group_row["clustered_high"] == pytest.approx(min(1.0, fit.params[0] + z * se))
    assert group_row["details"]["provenance"]["panel"].startswith("fake-lmeval (")
    # --filter strict-match: gsm8k's accuracy is lm-eval's own strict-match exact_match
    (samples,) = logs.lm_eval.glob("samples_gsm8k_*.jsonl")
    strict = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    strict = [r["exact_match"] for r in strict if r["filter"] == "strict-match"]
    lm_row = next(r for r in benches["gsm8k (lm-eval)"]["rows"] if r["system"] == "orch/fake-lmeval")
    assert lm_row["accuracy"] == sum(strict) / len(strict) and lm_row["n"] == 5

    # accuracies are the harness's own scores
    for key, path in (("mmlu_0_shot", logs.mmlu_plain), ("gsm8k (inspect)", logs.gsm8k_plain)):
        sd = load_logs([path]).systems[PLAIN]
        row = next(r for r in benches[key]["rows"] if r["system"] == PLAIN)
        assert row["accuracy"] == sum(sd.correct.values()) / len(sd.correct)
        assert row["n"] == 30
        assert row["details"]["provenance"]["harness"] == "inspect"
        assert row["details"]["provenance"]["model"] == PLAIN
        assert Path(row["details"]["provenance"]["log"]) == path
        assert row["details"]["input_tokens_per_item"] > 0 and row["details"]["abstain_rate"] is not None
        # compute and date are the log's own: per-item means of its samples' usage and time, its creation date
        ev = read_eval_log(str(path))
        samples = ev.samples or []
        assert len(samples) == 30
        seconds = [s.working_time if s.working_time is not None else s.total_time for s in samples]
        assert row["details"]["latency_per_item"] == pytest.approx(sum(seconds) / 30)
        for field in ("input_tokens", "output_tokens"):
            used = [sum(getattr(u, field) for u in s.model_usage.values()) for s in samples]
            assert row["details"][f"{field}_per_item"] == pytest.approx(sum(used) / 30), field
        assert row["details"]["cost_per_item"] is None  # the fake models report no cost
        assert row["details"]["provenance"]["date"] == str(ev.eval.created)
    merged = next(r for r in benches["mmlu_0_shot"]["rows"] if r["system"] == panel)
    assert merged["details"]["calls_per_item"] == 3.0  # two analysts and the merger
    assert merged["details"]["provenance"]["panel"]

    # per-pair p-values equal those of `orch-eval compare --pairs all` on the same logs
    code, cmp_out, err = cli(capsys, "compare", str(logs.mmlu_orch), str(logs.mmlu_plain), "--pairs", "all",
                             "--format", "json", "--bootstrap", "0")
    assert code == 0, err
    report = json.loads(cmp_out)
    names = {n: (n if n in expected else f"{panel}:{n}") for s in report["systems"] for n in [s["system"]]}
    pairs = {frozenset((p["a"], p["b"])): p for p in benches["mmlu_0_shot"]["pairs"]}
    assert len(pairs) == len(report["comparisons"]) == 10
    for c in report["comparisons"]:
        p = pairs[frozenset((names[c["system_a"]], names[c["system_b"]]))]
        assert p["p"] == c["p_midp"]
        assert p["p_holm"] == pytest.approx(c["p_adjusted"], abs=1e-15)
        assert {p["b_count"], p["c_count"]} == {c["b"], c["c"]}

    # overall: no system has all three benchmarks, so every one is listed with its reason, none ranked
    overall = data["overall"]
    assert overall["rows"] == []
    reasons = {u["system"]: u["reason"] for u in overall["unranked"]}
    # benchmarks are listed in the order they first appear among the files sorted by name; Inspect's
    # names start with the second the run started, so two fast runs in one second sort by task name
    inspect_order = dict.fromkeys(
        "mmlu_0_shot" if "mmlu-0-shot" in f.name else "gsm8k (inspect)" for f in sorted(logs.all.glob("*.eval"))
    )
    assert reasons == {**{s: "not on gsm8k (lm-eval), lb_mmlu" for s in expected},
                       **{s: "not on " + ", ".join(inspect_order) for s in lm_systems}}

    # the CSV and the page carry the same ranks, intervals and letters as the JSON
    with (out / "leaderboard.csv").open() as f:
        csv_rows = {(r["table"], r["system"]): r for r in csv.DictReader(f)}
    html_text = (out / "index.html").read_text()
    rows, count = page_rows(html_text)
    tables = [overall, *data["benchmarks"]]
    assert count == len(rows) == sum(len(t["rows"]) for t in tables)
    for t in tables:
        for r in t["rows"]:
            c = csv_rows[(t["key"], r["system"])]
            assert (int(c["rank"]), int(c["rank_low"]), int(c["rank_high"]), c["letters"]) == (
                r["rank"], r["rank_low"], r["rank_high"], r["letters"])
            assert float(c["accuracy"]) == r["accuracy"]
            cells = rows[(t["key"], r["system"])]
            assert cells["rank-interval"] == f"[{r['rank_low']}, {r['rank_high']}]"
            assert cells["letters"] == r["letters"]
    for u in overall["unranked"]:
        assert csv_rows[("overall", u["system"])]["rank"] == ""
        assert html.escape(u["reason"]) in html_text
    # self-contained: no network reference, the plot inline
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html_text)
    assert "<link" not in html_text and "@import" not in html_text
    assert 'src="data:image/png;base64,' in html_text

    md = (out / "leaderboard.md").read_text()
    for heading in ("## Overall (benchmarks weighted equally)", "## mmlu_0_shot", "## gsm8k (inspect)",
                    "## gsm8k (lm-eval)", "## lb_mmlu", "## Provenance", "## Method"):
        assert heading in md
    assert "Holm" in md and "mid-p" in md and "weighted equally" in md
    assert (out / "leaderboard.tex").read_text().count("\\begin{tabular}") == 5
    assert "adjacent pairs unresolved" in stdout

    # without the lm-eval run, the systems of both Inspect benchmarks are ranked overall
    code, _, err = cli(capsys, "leaderboard", str(logs.all), "--output", str(tmp_path / "inspect_only"))
    assert code == 0, err
    overall = json.loads((tmp_path / "inspect_only" / "leaderboard.json").read_text())["overall"]
    assert {r["system"] for r in overall["rows"]} == {n.removeprefix(f"{panel}:") if n != panel else n
                                                      for n in expected}  # one panel log: short names
    assert overall["unranked"] == []
    for r in overall["rows"]:
        assert r["accuracy"] == pytest.approx((r["per_benchmark"]["mmlu_0_shot"] + r["per_benchmark"]["gsm8k"]) / 2)
        assert r["rank_low"] <= r["rank"] <= r["rank_high"]
    assert len(overall["pairs"]) == 10


@pytest.mark.slow
def test_mismatched_items_name_systems_and_ids_and_intersect_ranks_common_items(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "leaderboard", str(logs.mmlu_orch), str(logs.short), "--output", str(tmp_path / "x"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "benchmark mmlu_0_shot" in err and "different item sets" in err
    assert "'orchfake/gold:p=0.6:seed=9': has 20 items, missing 10, e.g. [" in err
    assert "--intersect" in err
    assert not (tmp_path / "x").exists()

    out = tmp_path / "board"
    code, _, err = cli(capsys, "leaderboard", str(logs.mmlu_orch), str(logs.short), "--intersect",
                       "--output", str(out))
    assert code == 0, err
    data = json.loads((out / "leaderboard.json").read_text())
    (table,) = data["benchmarks"]
    assert all(r["n"] == 20 for r in table["rows"])
    assert any("--intersect: ranked on the 20 items common to all systems" in n for n in table["notes"])
    assert data["intersect"] is True and any(m.startswith("--intersect") for m in data["method"])
    assert "--intersect: ranked on the 20 items" in (out / "index.html").read_text()


@pytest.mark.slow
def test_duplicate_names_and_bad_inputs_are_one_line_errors(
    logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = cli(capsys, "leaderboard", str(logs.mmlu_plain), str(logs.mmlu_plain), "-o", str(tmp_path))
    assert code == 2 and "duplicate system name" in err and "--name" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, "leaderboard", str(logs.mmlu_plain), str(logs.mmlu_plain), "--name", "first",
                       "--name", "second", "-o", str(tmp_path / "ok"))
    assert code == 0, err
    code, _, err = cli(capsys, "leaderboard", str(tmp_path / "missing.eval"), "-o", str(tmp_path))
    assert code == 2 and "no such file" in err
    code, _, err = cli(capsys, "leaderboard", str(logs.mmlu_plain), "--alpha", "2", "-o", str(tmp_path))
    assert code == 2 and "--alpha" in err
