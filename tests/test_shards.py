"""Sharded runs: `orch-eval run --shard i/N` and `orch-eval compare` reading shards as one system.

Offline, fake models. Shards hold disjoint items (position modulo N in dataset order), share one
Inspect cache, and the last shard to finish writes the report, which must equal the report of
the same experiment run unsharded. Routed systems and overlapping shards are refused clearly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log

from orch_eval.core.errors import OrchConfigError
from orch_eval.experiment import build_plan, load_experiment, run_experiment
from orch_eval.experiment.plan import parse_shard
from orch_eval.stats.loaders import LogLoadError, load_logs
from tests.conftest import ROOT, subprocess_env
from tests.served import BIN
from tests.test_experiment import experiment, strip_volatile

SYSTEMS: list[Any] = ["orch", "majority", "single", {"name": "orch-k2", "kind": "orch", "agents": 2}]


def _report_without_sources(report: dict[str, Any]) -> dict[str, Any]:
    out = strip_volatile(report)
    out.pop("status", None)
    out.pop("message", None)
    return out


def test_parse_shard() -> None:
    assert parse_shard("2/4") == (2, 4) and parse_shard(None) is None
    for bad in ("0/4", "5/4", "a/b", "3", "1/0"):
        with pytest.raises(OrchConfigError, match=r"--shard .*use i/N"):
            parse_shard(bad)


@pytest.mark.slow
def test_shards_are_disjoint_and_report_like_one_run(tmp_path: Path) -> None:
    exp = experiment(tmp_path, systems=SYSTEMS)
    whole = run_experiment(exp, log_dir=tmp_path / "whole")
    assert whole.status == "complete"
    plan = build_plan(load_experiment(exp), log_dir=tmp_path / "sharded", shard=(1, 3))
    seen: dict[str, list[str]] = {b.short: [] for b in plan.benchmarks}
    for i in (1, 2, 3):
        result = run_experiment(exp, log_dir=tmp_path / "sharded", shard=f"{i}/3")
        assert result.status == "complete", result.message
        folder = tmp_path / "sharded" / "shards" / f"{i}-of-3"
        for b in plan.benchmarks:
            logs = [read_eval_log(str(p), header_only=True) for p in folder.glob("*.eval")]
            mine = [h for h in logs if h.eval.metadata["orch_experiment"]["benchmark"] == b.short]
            assert mine and all(h.eval.metadata["orch_experiment"]["shard"] == f"{i}/3" for h in mine)
            ids = [str(x) for x in mine[0].eval.dataset.sample_ids]
            assert sorted(ids) == sorted(str(x) for x in b.ids[i - 1 :: 3])  # position modulo N
            seen[b.short] += ids
        report = tmp_path / "sharded" / "report.json"
        assert report.is_file() == (i == 3)  # written once every shard has finished
    for b in plan.benchmarks:  # the shards cover every item exactly once
        assert sorted(seen[b.short]) == sorted(str(x) for x in b.ids)
    sharded = json.loads((tmp_path / "sharded" / "report.json").read_text())
    assert _report_without_sources(sharded) == _report_without_sources(whole.report)


def test_routed_systems_are_not_sharded(tmp_path: Path) -> None:
    exp = experiment(tmp_path, systems=["orch", "single", "orch+router"])
    with pytest.raises(OrchConfigError, match=r"routed system\(s\) orch\+router cannot be sharded.*dataset order"):
        run_experiment(exp, log_dir=tmp_path / "x", shard="1/2")
    assert not (tmp_path / "x").exists()  # refused before anything ran


def test_dry_run_of_a_shard_counts_that_shard(tmp_path: Path) -> None:
    """``--dry-run --shard i/N`` estimates shard i's items only; the shards' estimates add up to the
    whole run's (every call belongs to one item)."""
    import io

    systems = [*SYSTEMS, {"kind": "self_consistency", "agent": 0, "k": 3}, {"kind": "debate", "rounds": 2}]
    exp = experiment(tmp_path, systems=systems)
    whole = run_experiment(exp, log_dir=tmp_path / "l", dry_run=True, out=io.StringIO()).estimate
    parts = []
    for i in (1, 2, 3):
        out = io.StringIO()
        parts.append(run_experiment(exp, log_dir=tmp_path / "l", dry_run=True, shard=f"{i}/3", out=out).estimate)
        assert f"shard {i}/3 of them" in out.getvalue() and f"shards/{i}-of-3" in out.getvalue()
    for k, row in enumerate(whole):
        assert [p[k].items for p in parts] == [len(range(j, row.items, 3)) for j in range(3)]
        assert sum(p[k].calls for p in parts) == row.calls, row.system
        assert sum(p[k].input_tokens for p in parts) == row.input_tokens, row.system
    assert not (tmp_path / "l").exists()  # a dry run writes nothing


def test_cli_shard_flag_and_bad_value(tmp_path: Path) -> None:
    exp = experiment(tmp_path, systems=["orch", "single"])
    proc = subprocess.run([str(BIN / "orch-eval"), "run", str(exp), "--shard", "3/2", "--log-dir", str(tmp_path / "l")],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "--shard '3/2': use i/N" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_compare_reads_shards_as_one_system(tmp_path: Path) -> None:
    exp = experiment(tmp_path, systems=["orch", "single"])
    whole = run_experiment(exp, log_dir=tmp_path / "whole", report=False)
    for i in (1, 2):
        run_experiment(exp, log_dir=tmp_path / "sharded", shard=f"{i}/2", report=False)
    shard_logs = sorted((tmp_path / "sharded" / "shards").rglob("*.eval"))
    assert len(shard_logs) == 4  # 2 shards x 2 benchmarks
    for path in whole.logs.values():
        (log,) = load_logs([str(path)]).logs
        task_shards = [p for p in shard_logs if read_eval_log(str(p), header_only=True).eval.task == log.tasks[0]]
        assert len(task_shards) == 2
        (merged,) = load_logs([str(p) for p in task_shards]).logs  # two files, one system
        assert merged.shard == "2 shards"
        assert merged.system.correct == log.system.correct  # the same items, the same outcomes
        assert {d.name: d.correct for d in merged.derived} == {d.name: d.correct for d in log.derived}
        assert merged.oracle is not None and log.oracle is not None and merged.oracle.correct == log.oracle.correct
    mmlu = [p for p in shard_logs if "mmlu" in p.name]
    # the compare command itself, on the shard files given one by one
    proc = subprocess.run([str(BIN / "orch-eval"), "compare", *map(str, mmlu), "--format", "json"],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_items"] == 10 and len(out["sources"]) == 1 and out["sources"][0]["items"] == 10
    # the leaderboard reads the shards' folder as the whole run: the same systems, items and accuracies
    boards = {}
    for label, where in (("whole", tmp_path / "whole"), ("sharded", tmp_path / "sharded" / "shards")):
        proc = subprocess.run([str(BIN / "orch-eval"), "leaderboard", str(where), "--output", str(tmp_path / label)],
                              capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr
        data = json.loads((tmp_path / label / "leaderboard.json").read_text())
        boards[label] = {
            t["key"]: sorted((r["system"], r["n"], r["accuracy"], r["rank_interval"]) for r in t["rows"])
            for t in data["benchmarks"]
        }
    assert set(boards["whole"]) == {"mmlu_0_shot", "gsm8k"} and all(boards["whole"].values())
    assert boards["sharded"] == boards["whole"]
    # overlapping shards (a shard twice, under another file name) are refused, naming both files
    dup = tmp_path / "dup.eval"
    shutil.copy(mmlu[0], dup)
    with pytest.raises(LogLoadError, match=r"duplicate system name .* share \d+ items .*disjoint.*--name"):
        load_logs([*mmlu, dup])
    proc = subprocess.run([str(BIN / "orch-eval"), "compare", *map(str, mmlu), str(dup)],
                          capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=300)
    assert proc.returncode != 0 and "share" in proc.stderr and "Traceback" not in proc.stderr
