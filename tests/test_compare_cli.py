"""``orch-eval compare`` on real Inspect logs made with fake panels (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log, write_eval_log

from orch_eval.cli import main
from orch_eval.inspect.solvers import orch, single
from orch_eval.stats.loaders import load_logs
from tests.test_stats_loaders import AGENTS, run_inspect, unscored_copy

PNG = b"\x89PNG\r\n\x1a\n"


class Logs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.orch = run_inspect(root / "orch", orch())
        self.single1 = run_inspect(root / "single1", single(agent=1))
        self.short = run_inspect(root / "short", single(agent=0), limit=15)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    root = tmp_path_factory.mktemp("compare_logs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        return Logs(root)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_markdown_lists_every_system_with_paired_tests(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(logs.orch), "--reference", "agent0", "--bootstrap", "200")
    assert code == 0, err
    systems = load_logs([logs.orch]).names
    assert len(systems) == 5  # merged, three agents, majority
    reference = f"agent0:{AGENTS[0]}"
    assert f"Reference system (declared by the caller): **{reference}**" in out
    table = out.split("## Systems", 1)[1].split("## Comparisons", 1)[0]
    for s in systems:
        assert f"| {s} | 20 |" in table
    comparisons = out.split("## Comparisons", 1)[1].split("Cochran", 1)[0]
    for s in systems:
        if s != reference:
            assert f"| {s} | {reference} |" in comparisons
    for header in ("p exact", "p mid-p", "p adj (midp)", "| b | c |"):
        assert header in comparisons
    assert "Cochran's Q (5 systems)" in out
    assert "## Upper bound (not a system)" in out and "inflated by luck" in out
    assert "| oracle |" not in table  # the oracle is never compared as a system
    assert "Merger diagnostics" in out and "follows the agents' majority" in out
    assert "decided_by | merger: 20" in out


def test_alpha_sets_the_level_every_label_shows(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(logs.orch), "--reference", "agent0", "--bootstrap", "200",
                         "--alpha", "0.10")
    assert code == 0, err
    assert "95%" not in out
    for label in ("Wilson 90% CI", "Newcombe 90% CI", "Tango 90% CI", "bootstrap 90% CI"):
        assert label in out, label
    oracle = out.split("## Upper bound (not a system)", 1)[1]
    assert "Wilson 90% CI [" in oracle.splitlines()[2]
    assert "80% power at two-sided alpha = 0.1 " in out
    code, out, err = run(capsys, str(logs.orch), "--reference", "agent0", "--bootstrap", "0",
                         "--alpha", "0.005")
    assert code == 0, err
    assert "Wilson 99.5% CI" in out and "Newcombe 99.5% CI" in out


def test_no_reference_compares_all_pairs_and_says_so(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(logs.orch), "--bootstrap", "0")
    assert code == 0
    assert "No reference system was declared: all 10 pairs are compared" in out


def test_json_carries_all_pvalues_and_cochran(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, str(logs.orch), str(logs.single1), "--pairs", "all", "--format", "json", "--correction", "bh",
        "--bootstrap", "100", "--seed", "3",
    )
    assert code == 0, err
    data = json.loads(out)
    k = len(data["systems"])
    assert k == 6  # merged, single run, three agents, majority
    assert len(data["comparisons"]) == k * (k - 1) // 2
    for c in data["comparisons"]:
        for key in ("p_exact", "p_midp", "p_asymptotic", "p_asymptotic_cc", "p_adjusted", "b", "c", "diff"):
            assert c[key] is not None, key
        assert 0 <= c["p_midp"] <= c["p_exact"] <= 1
    cq = data["cochran"]
    assert set(cq) >= {"statistic", "df", "pvalue"} and cq["df"] == k - 1
    assert data["correction"] == "bh" and data["seed"] == 3
    # the single run and the same agent derived from the ORCH log agree on every item
    pair = next(
        c for c in data["comparisons"]
        if {c["system_a"], c["system_b"]} == {f"single/{AGENTS[1]}", f"agent1:{AGENTS[1]}"}
    )
    assert (pair["b"], pair["c"], pair["p_exact"]) == (0, 0, 1.0)
    assert data["oracle"][0]["name"] == "oracle" and data["oracle"][0]["n"] == 20
    assert data["diagnostics"][0]["decided_by"] == {"merger": 20}


def test_plots_are_written(logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    code, out, err = run(capsys, str(logs.orch), "--pairs", "all", "--bootstrap", "0", "--plots", str(plots))
    assert code == 0, err
    files = sorted(p.name for p in plots.glob("*.png"))
    assert files == ["accuracy.png", "accuracy_vs_cost.png", "pvalues.png"]
    for f in plots.glob("*.png"):
        assert f.read_bytes()[:8] == PNG


def test_output_file_and_formats(logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "report.csv"
    code, out, _ = run(capsys, str(logs.orch), "--reference", "majority", "--format", "csv", "--output", str(out_file),
                       "--bootstrap", "0")
    assert code == 0 and out == ""
    assert out_file.read_text().startswith("system_a,system_b,")
    assert (tmp_path / "report.systems.csv").read_text().startswith("system,n,")
    code, out, _ = run(capsys, str(logs.orch), "--reference", "majority", "--format", "latex", "--bootstrap", "0")
    assert code == 0 and "\\begin{tabular}" in out


def test_systems_selection_and_names(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, str(logs.orch), str(logs.single1), "--name", "panel", "--name", "solo",
        "--systems", "panel,solo,majority", "--reference", "solo", "--bootstrap", "0", "--format", "json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert [s["system"] for s in data["systems"]] == ["panel", "solo", "majority"]
    assert {c["system_b"] for c in data["comparisons"]} == {"solo"}


def test_mismatched_logs_exit_2_with_clear_message(logs: Logs, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(logs.orch), str(logs.short), "--no-derived")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("orch-eval compare: systems were scored on different item sets")
    assert "15 common" in lines[0] and "missing 5" in lines[0]
    # the command line's own flag, and each system's file
    assert "(pass --intersect to keep only the common items)" in lines[0] and "intersect=True" not in lines[0]
    names = load_logs([logs.orch, logs.short], derived=False).names
    assert f"{names[0]!r} ({logs.orch}): has 20 items, missing none" in lines[0]
    assert f"{names[1]!r} ({logs.short}): has 15 items, missing 5, e.g. [" in lines[0]
    code, out, err = run(capsys, str(logs.orch), str(logs.short), "--no-derived", "--intersect", "--bootstrap", "0")
    assert code == 0, err
    assert "15 paired items" in out and "--intersect: kept the 15 items" in out


def test_unscored_samples_are_named_without_intersect(logs: Logs, capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    path, never, errored = unscored_copy(logs.single1, tmp_path / "unscored.eval", no_score=1, errors=2)
    code, out, err = run(capsys, str(logs.orch), str(path), "--no-derived")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    name = load_logs([path]).names[0]
    assert (
        f"{name!r} ({path}): has 17 items, missing 3, e.g. {sorted(never + errored)}; 3 samples in {path} "
        f"have no score (unscored: 2 error samples, 1 never scored), e.g. {sorted(never + errored)}"
    ) in err
    code, out, err = run(capsys, str(logs.orch), str(path), "--no-derived", "--intersect", "--bootstrap", "0")
    assert code == 0, err
    assert "17 paired items" in out and "3 samples have an error or no score (unscored)" in out


def test_log_without_sample_ids_is_compared(logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A log written by write_eval_log without eval.dataset.sample_ids gives the same report."""
    log = read_eval_log(str(logs.single1))
    log.eval.dataset.sample_ids = None
    path = tmp_path / "no_ids.eval"
    write_eval_log(log, str(path))
    args = ("--name", "panel", "--name", "solo", "--format", "json", "--bootstrap", "100")
    code, out, err = run(capsys, str(logs.orch), str(path), *args)
    assert code == 0, err
    code, ref, err = run(capsys, str(logs.orch), str(logs.single1), *args)
    assert code == 0, err
    got, want = json.loads(out), json.loads(ref)
    assert got["comparisons"] == want["comparisons"] and got["systems"] == want["systems"]
    assert got["n_items"] == 20


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reference", "nosuch"], "no system named 'nosuch'"),
        (["--reference", "agent"], "is ambiguous"),
        (["--no-derived"], "need at least two systems"),
    ],
)
def test_bad_input_exit_2(logs: Logs, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = run(capsys, str(logs.orch), *args)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_and_corrupt_files_exit_2(logs: Logs, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.eval"))
    assert code == 2 and "no such file" in err
    cut = tmp_path / "cut.eval"
    data = logs.orch.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, str(cut), str(logs.orch))
    assert code == 2 and "cut.eval" in err and "truncated or corrupt" in err
