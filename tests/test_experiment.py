"""`orch-eval run`: experiment files → eval_set runs → paired report (offline, fake models).

Acceptance lines of issue 7: an end-to-end experiment (2 benchmarks × 10 items; orch,
orch+router, majority, single ×3, direct, ablations) whose report lists every system with
paired tests; dry-run call counts equal the calls a real run makes; a run killed midway and
rerun redoes no finished work and reports exactly what an uninterrupted run reports; a cost
limit stops cleanly with a partial report; bad files fail before any model call.
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from orch_eval.core.errors import OrchConfigError
from orch_eval.experiment import build_plan, load_experiment, run_experiment
from orch_eval.models.fake import call_counts
from tests.conftest import BIN, ROOT, subprocess_env

AGENTS = ["orchfake/gold:p=0.8:seed=a1", "orchfake/gold:p=0.6:seed=a2", "orchfake/gold:p=0.4:seed=a3"]
MERGER = "orchfake/vote"
REFERENCE = f"single:{AGENTS[0]}"


def experiment(tmp_path: Path, name: str = "fake", agents: list[str] = AGENTS, merger: str = MERGER,
               systems: list[Any] | None = None, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "name": name,
        "panel": {"name": "fakepanel", "agents": agents, "merger": merger},
        "benchmarks": [
            {"task": "mmlu_0_shot", "items": {"groups": 2, "per_group": 5}},
            {"task": "inspect_evals/gsm8k", "items": {"n": 10, "order": "seeded"}},
        ],
        "systems": systems
        if systems is not None
        else [
            "orch",
            "orch+router",
            "majority",
            "single",
            {"kind": "direct", "agent": 0},
            {"name": "orch-k2", "kind": "orch", "agents": 2},
            {"name": "orch-named", "kind": "orch", "anonymise": False},
            "dispatch",
        ],
        "reference": REFERENCE,
        "report": {"bootstrap": 100, "plots": False},
        **extra,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def strip_volatile(report: dict[str, Any]) -> dict[str, Any]:
    """A report without timestamps and log paths."""
    out = json.loads(json.dumps(report))
    out.pop("generated", None)
    out.pop("source", None)
    for section in out["benchmarks"].values():
        section.pop("sources", None)
        section.pop("plots", None)
    return out


# ---------------------------------------------------------------------------- configuration


def test_unknown_benchmark_fails_before_any_call(tmp_path: Path) -> None:
    path = experiment(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["benchmarks"][1]["task"] = "inspect_evals/hellaswag"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(OrchConfigError) as ex:
        run_experiment(path, log_dir=tmp_path / "logs")
    msg = str(ex.value)
    assert str(path) in msg and "benchmarks.1.task" in msg
    for known in ("mmlu_0_shot", "mmlu_5_shot", "mmlu_pro", "gsm8k"):
        assert known in msg
    assert sum(call_counts().values()) == 0
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"reference": "single:nobody"}, "reference"),
        ({"systems": ["orch", "bogus"]}, "systems"),
        ({"colour": "blue"}, "colour"),
        ({"benchmarks": [{"task": "gsm8k", "items": {"n": 5, "per_group": 3}}]}, "benchmarks.0.items"),
    ],
)
def test_config_errors_name_field_and_file(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    path = experiment(tmp_path)
    data = {**yaml.safe_load(path.read_text()), **change}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(OrchConfigError) as ex:
        build_plan(load_experiment(path), log_dir=tmp_path / "logs")
    assert field in str(ex.value) and str(path) in str(ex.value)


def test_item_subset_is_fixed_and_stratified(tmp_path: Path) -> None:
    exp = load_experiment(experiment(tmp_path))
    a = build_plan(exp, log_dir=tmp_path)
    b = build_plan(exp, log_dir=tmp_path)
    assert a.items_manifest() == b.items_manifest()
    mmlu = a.benchmarks[0]
    assert len(mmlu.ids) == 10 and Counter(mmlu.groups.values()) == Counter({g: 5 for g in set(mmlu.groups.values())})
    assert len(set(mmlu.groups.values())) == 2
    other = build_plan(exp.model_copy(update={"seed": 1}), log_dir=tmp_path)
    assert other.items_manifest() != a.items_manifest()
    limited = build_plan(exp, limit=3)
    assert [len(x.ids) for x in limited.benchmarks] == [3, 3] and str(limited.log_dir).endswith("fake-limit3")


def test_systems_expand_and_derive(tmp_path: Path) -> None:
    plan = build_plan(load_experiment(experiment(tmp_path)), log_dir=tmp_path)
    names = [s.name for s in plan.systems]
    assert names == [
        "orch", "orch+router", "majority", *[f"single:{a}" for a in AGENTS], f"direct:{AGENTS[0]}", "orch-k2",
        "orch-named", "dispatch",
    ]
    derived = {s.name: s.derived_from for s in plan.systems}
    assert derived["majority"] == "orch" and all(derived[f"single:{a}"] == "orch" for a in AGENTS)
    assert derived[f"direct:{AGENTS[0]}"] is None
    assert plan.system("orch+router").panel.router is not None
    assert [a.model_name for a in plan.system("orch-k2").panel.agents] == AGENTS[:2]
    assert plan.system("orch-named").panel.anonymise is False
    assert plan.system("dispatch").panel.dispatch is True and plan.system("dispatch").solver()[0] == "orch"
    assert derived["dispatch"] is None and not plan.system("orch").panel.dispatch


def test_merge_ablation_shares_the_analyses(tmp_path: Path) -> None:
    """``merge_style``/``merge_budget`` systems change the merge only: the dry run counts just
    their merges after the base ORCH system, and other kinds refuse the fields."""
    from orch_eval.experiment.plan import estimate

    solve = {"name": "orch-solve", "kind": "orch", "merge_style": "solve", "merge_budget": 384}
    plan = build_plan(load_experiment(experiment(tmp_path, systems=["orch", solve], reference="orch")), log_dir=tmp_path / "logs")
    base, panel = plan.system("orch").panel, plan.system("orch-solve").panel
    assert panel.merge_style == "solve" and panel.budgets.merge == 384 and base.merge_style == "judge"
    assert panel.digest() != base.digest()
    rows = {(r.system, r.benchmark): r for r in estimate(plan)}
    for bench in ("mmlu_0_shot", "gsm8k"):
        assert rows[("orch", bench)].calls == 10 * 4
        assert rows[("orch-solve", bench)].calls == 10 and rows[("orch-solve", bench)].per_model == {MERGER: 10}
    with pytest.raises(OrchConfigError, match="merge_style"):
        load_experiment(experiment(tmp_path, systems=["orch", {"kind": "single", "merge_style": "solve"}], reference="orch"))


# ---------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_end_to_end_report_and_dry_run_counts(tmp_path: Path) -> None:
    path = experiment(tmp_path)
    buf = io.StringIO()
    dry = run_experiment(path, dry_run=True, log_dir=tmp_path / "logs", out=buf)
    assert dry.status == "dry_run" and sum(call_counts().values()) == 0
    assert "calls" in buf.getvalue() and "orch-named" in buf.getvalue()
    expected: Counter[str] = Counter()
    for row in dry.estimate:
        assert not row.upper_bound  # orch runs first: the router's analyses are cached
        for model, n in row.per_model.items():
            expected[model.split("/", 1)[1]] += n

    result = run_experiment(path, log_dir=tmp_path / "logs", max_samples=4)
    assert result.status == "complete", result.message
    # dry-run call counts equal the calls the real run made, per model
    assert call_counts() == expected
    # orch, router merges, direct, k2, named; dispatch: its call, three focused analyses, the merge
    assert sum(expected.values()) == 2 * 10 * (4 + 1 + 1 + 1 + 1 + 5)

    report = json.loads((tmp_path / "logs" / "report.json").read_text())
    assert (tmp_path / "logs" / "report.md").is_file()
    names = [s.name for s in result.plan.systems]
    for bench in ("mmlu_0_shot", "gsm8k", "all benchmarks (pooled)"):
        section = report["benchmarks"][bench]
        assert [s["system"] for s in section["systems"]] == names
        assert section["reference"] == REFERENCE
        compared = {c["system_a"] for c in section["comparisons"]}
        assert compared == set(names) - {REFERENCE}
        assert all(c["system_b"] == REFERENCE and c["p_midp"] is not None for c in section["comparisons"])
        assert section["n_items"] == (20 if bench.startswith("all") else 10)
    md = (tmp_path / "logs" / "report.md").read_text()
    for n in names:
        assert n in md
    # derived singles equal their agents' records, and a separate single run would give the same
    mmlu = report["benchmarks"]["mmlu_0_shot"]
    acc = {s["system"]: s["accuracy"] for s in mmlu["systems"]}
    assert acc[REFERENCE] == acc[f"direct:{AGENTS[0]}"]  # the fake answers letter-only the same way

    # a rerun makes no model call and writes the same report
    before = sum(call_counts().values())
    again = run_experiment(path, log_dir=tmp_path / "logs")
    assert again.status == "complete" and sum(call_counts().values()) == before
    assert strip_volatile(again.report or {}) == strip_volatile(report)


def test_finished_log_without_sample_ids_is_found(tmp_path: Path) -> None:
    """A finished log rewritten without eval.dataset.sample_ids (write_eval_log) still counts as
    finished: its samples' ids are read instead of the header's list."""
    from inspect_ai.log import read_eval_log, write_eval_log

    from orch_eval.experiment.runner import find_logs

    path = experiment(tmp_path, name="noids", systems=["orch"], reference="orch",
                      benchmarks=[{"task": "mmlu_0_shot", "items": {"n": 4, "order": "seeded"}}])
    result = run_experiment(path, log_dir=tmp_path / "logs")
    assert result.status == "complete", result.message
    assert list(result.logs) == [("orch", "mmlu_0_shot")]
    log_path = result.logs[("orch", "mmlu_0_shot")]
    log = read_eval_log(log_path)
    log.eval.dataset.sample_ids = None
    write_eval_log(log, log_path)
    assert read_eval_log(log_path, header_only=True).eval.dataset.sample_ids is None
    assert find_logs(result.plan) == result.logs


@pytest.mark.slow
def test_cost_limit_stops_cleanly_with_partial_report(tmp_path: Path) -> None:
    path = experiment(tmp_path, name="costly", systems=["orch", "single", {"kind": "direct", "agent": 0}, "majority"])
    data = yaml.safe_load(path.read_text())
    data["panel"]["prices"] = {m: {"input": 1000.0, "output": 1000.0} for m in AGENTS + [MERGER]}
    path.write_text(yaml.safe_dump(data))
    result = run_experiment(path, log_dir=tmp_path / "logs", cost_limit=0.5)
    assert result.status == "cost_limit"
    assert "cost limit reached" in result.message and f"direct:{AGENTS[0]}" in result.message
    assert result.cost >= 0.5
    assert not any(k[0].startswith("direct") for k in result.logs)
    assert "direct" not in "".join(call_counts())  # never called letter-only
    report = json.loads((tmp_path / "logs" / "report.json").read_text())
    assert report["status"] == "cost_limit"
    systems = [s["system"] for s in report["benchmarks"]["gsm8k"]["systems"]]
    assert systems == ["orch", *[f"single:{a}" for a in AGENTS], "majority"]


@pytest.mark.slow
def test_lm_eval_benchmark_in_an_experiment(tmp_path: Path) -> None:
    """An lm-eval task (log-likelihood MMLU) beside an Inspect one: ORCH and dispatch run through
    the orch lm-eval model, singles and majority derive from its Decisions, direct is skipped
    there with a note; dry-run counts equal the real calls; accuracy equals an independent
    computation from the documents; a rerun makes no call."""
    import datasets

    from tests import fakeref

    path = experiment(
        tmp_path, name="lmexp",
        systems=["orch", "majority", "single", {"kind": "direct", "agent": 0}, "dispatch"],
    )
    data = yaml.safe_load(path.read_text())
    data["benchmarks"] = [
        {"task": "mmlu_0_shot", "items": {"groups": 1, "per_group": 4}},
        {"task": "mmlu_abstract_algebra", "harness": "lm_eval", "items": {"n": 6, "order": "seeded"}},
    ]
    path.write_text(yaml.safe_dump(data))
    dry = run_experiment(path, dry_run=True, log_dir=tmp_path / "logs", out=io.StringIO())
    expected: Counter[str] = Counter()
    for row in dry.estimate:
        for model, n in row.per_model.items():
            expected[model.split("/", 1)[1]] += n
    skipped = [r for r in dry.estimate if r.benchmark == "lm_eval:mmlu_abstract_algebra" and r.system.startswith("direct")]
    assert skipped and skipped[0].calls == 0 and "Inspect benchmarks only" in skipped[0].note

    result = run_experiment(path, log_dir=tmp_path / "logs", max_samples=4)
    assert result.status == "complete", result.message
    assert call_counts() == expected
    lm_items = result.plan.benchmarks[1].ids
    assert len(lm_items) == 6 and sorted(lm_items) == lm_items
    # per lm-eval item: 3 analyses + 1 merge (orch), 1 dispatch + 3 focused analyses + 1 merge
    assert sum(expected.values()) == 4 * (4 + 1 + 5) + 6 * (4 + 5)

    report = json.loads((tmp_path / "logs" / "report.json").read_text())
    section = report["benchmarks"]["lm_eval:mmlu_abstract_algebra"]
    names = [s["system"] for s in section["systems"]]
    assert names == ["orch", "majority", *[f"single:{a}" for a in AGENTS], "dispatch"]
    assert any("direct" in n and "Inspect benchmarks only" in n for n in section["notes"])
    assert all(c["system_b"] == REFERENCE and c["p_midp"] is not None for c in section["comparisons"])

    # independent expectation: the documents straight from the dataset, the fake rule, the vote
    ds = datasets.load_dataset("cais/mmlu", "abstract_algebra", split="test")
    right = 0
    for i in lm_items:
        doc = ds[int(i)]
        gold = "ABCD"[doc["answer"]]
        answers = [fakeref.gold_agent_letter(doc["question"], gold, 4, float(a.split("p=")[1].split(":")[0]),
                                             a.split("seed=")[1]) for a in AGENTS]
        right += fakeref.vote(answers) == gold
    acc = {s["system"]: s["accuracy"] for s in section["systems"]}
    assert acc["orch"] == right / 6

    before = sum(call_counts().values())
    again = run_experiment(path, log_dir=tmp_path / "logs")
    assert again.status == "complete" and sum(call_counts().values()) == before
    assert strip_volatile(again.report or {}) == strip_volatile(report)


def test_lm_eval_benchmark_config_errors(tmp_path: Path) -> None:
    path = experiment(tmp_path)
    data = yaml.safe_load(path.read_text())
    for bench, field in [
        ({"task": "mmlu_anatomy", "harness": "lm_eval", "items": {"groups": 2, "per_group": 2}}, "items.n"),
        ({"task": "mmlu_anatomy", "harness": "lm_eval", "items": {"n": 2}, "task_args": {"limit": 3}}, "task_args"),
        ({"task": "hellaswag", "harness": "lm_eval", "items": {"n": 2}}, "reads the documents of"),
        ({"task": "mmlu_anatomy", "harness": "lm_eval", "items": {"ids": [0, 99999]}}, "outside 0.."),
    ]:
        data["benchmarks"] = [bench]
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(OrchConfigError) as ex:
            build_plan(load_experiment(path), log_dir=tmp_path / "logs")
        assert field in str(ex.value), (bench, str(ex.value))
    assert sum(call_counts().values()) == 0


def test_lm_eval_document_without_its_family_s_fields_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document that lacks the fields its task family is read from (here an MMLU one without
    choices) stops the plan with the benchmark, the document index and the missing field named."""
    from orch_eval.experiment import items

    good = {"question": "Which is even?", "choices": ["three", "four"], "answer": 1, "subject": "anatomy"}
    monkeypatch.setattr(items, "_docs", lambda task: (good, {"question": "no choices", "answer": 0}))
    path = experiment(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["benchmarks"] = [{"task": "mmlu_anatomy", "harness": "lm_eval", "items": {"n": 2}}]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(OrchConfigError, match=r"lm_eval:mmlu_anatomy: document 1 .*'mmlu'.*'choices'"):
        build_plan(load_experiment(path), log_dir=tmp_path / "logs")
    assert sum(call_counts().values()) == 0


# ---------------------------------------------------------------------------- kill and resume

ORCH_EVAL = str(BIN / "orch-eval")


def _calls(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    return [(r["model"], r["call"], r["stem"]) for r in map(json.loads, path.read_text().splitlines()) if r]


@pytest.mark.slow
def test_killed_run_resumes_without_redoing_finished_samples(tmp_path: Path) -> None:
    agents = [f"{a}:latency=150" for a in AGENTS]
    path = experiment(
        tmp_path, name="killme", agents=agents, merger=f"{MERGER}:latency=150",
        systems=["orch", "single", {"kind": "direct", "agent": 1}],
    )
    data = yaml.safe_load(path.read_text())
    data["reference"] = f"single:{agents[0]}"
    path.write_text(yaml.safe_dump(data))

    def cli(log_dir: Path, cache: Path, calls: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [ORCH_EVAL, "run", str(path), "--log-dir", str(log_dir), "--display", "none", "--max-samples", "2"],
            cwd=ROOT, env=subprocess_env(INSPECT_CACHE_DIR=str(cache), ORCH_FAKE_CALL_LOG=str(calls)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    # uninterrupted reference run
    full_calls = tmp_path / "full.jsonl"
    proc = cli(tmp_path / "full", tmp_path / "cache-full", full_calls)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    full = _calls(full_calls)
    assert len(full) == 2 * 10 * 4 + 2 * 10  # orch (3 agents + merger) + direct

    # the same run, killed once some samples have finished (their merge calls are logged)
    calls1, calls2 = tmp_path / "run1.jsonl", tmp_path / "run2.jsonl"
    proc = cli(tmp_path / "logs", tmp_path / "cache", calls1)
    deadline = time.time() + 300
    while time.time() < deadline and sum(c[1] == "merge" for c in _calls(calls1)) < 8:
        time.sleep(0.05)
    time.sleep(0.4)  # let the logged merges finish (150 ms each)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    first = _calls(calls1)
    assert 0 < len(first) < len(full), "the kill came too late (or too early) to test resuming"
    proc = cli(tmp_path / "logs", tmp_path / "cache", calls2)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    second = _calls(calls2)

    # nothing finished in the first run is redone: every call of the full run is made once,
    # except calls that were in flight when the process died (at most max_samples x 4 per task)
    assert Counter(first + second) - Counter(full) == Counter(set(first) & set(second))
    assert sorted(set(first) | set(second)) == sorted(set(full))
    redone = set(first) & set(second)
    assert len(redone) <= 2 * 2 * 4, redone
    merged_first = {c[2] for c in first if c[1] == "merge"}
    assert len(second) <= len(full) - 8 * 4 + len(redone)
    assert not any(c[1] == "merge" and c[2] in merged_first for c in second if c not in redone)

    # the resumed report equals the uninterrupted one
    a = json.loads((tmp_path / "logs" / "report.json").read_text())
    b = json.loads((tmp_path / "full" / "report.json").read_text())
    assert strip_volatile(a) == strip_volatile(b)


@pytest.mark.slow
def test_killed_routed_system_resumes_by_rerunning_the_experiment(tmp_path: Path) -> None:
    """A routed system cannot go through Inspect's retry (samples out of dataset order); the
    runner sets its unfinished log aside and reruns it from the first item, finished items from
    the cache: no finished merge is redone and the report equals an uninterrupted run's."""
    agents = [f"{a}:latency=100" for a in AGENTS]
    path = experiment(
        tmp_path, name="killrouted", agents=agents, merger=f"{MERGER}:latency=100",
        systems=[{"name": "routed", "kind": "orch", "router": {"top_k": 1, "explore_every": 3}},
                 {"kind": "single", "agent": 0}],
    )
    data = yaml.safe_load(path.read_text())
    data["reference"] = f"single:{agents[0]}"
    path.write_text(yaml.safe_dump(data))

    def cli(log_dir: Path, cache: Path, calls: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [ORCH_EVAL, "run", str(path), "--log-dir", str(log_dir), "--display", "none", "--max-samples", "2"],
            cwd=ROOT, env=subprocess_env(INSPECT_CACHE_DIR=str(cache), ORCH_FAKE_CALL_LOG=str(calls)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    full_calls = tmp_path / "full.jsonl"
    proc = cli(tmp_path / "full", tmp_path / "cache-full", full_calls)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    full = _calls(full_calls)

    calls1, calls2 = tmp_path / "run1.jsonl", tmp_path / "run2.jsonl"
    proc = cli(tmp_path / "logs", tmp_path / "cache", calls1)
    deadline = time.time() + 300
    while time.time() < deadline and sum(c[1] == "merge" for c in _calls(calls1)) < 6:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    first = _calls(calls1)
    assert 0 < sum(c[1] == "merge" for c in first) < sum(c[1] == "merge" for c in full), "kill came too late"
    proc = cli(tmp_path / "logs", tmp_path / "cache", calls2)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-3000:]
    assert "unfinished log was set aside" in out
    assert list((tmp_path / "logs").glob("*.eval.interrupted"))
    second = _calls(calls2)
    # the union of both runs' calls is the uninterrupted run's; nothing finished is redone
    # except calls in flight at the kill (at most 2 benchmarks x max_samples x 4)
    redone = Counter(first) & Counter(second)
    assert Counter(first) + Counter(second) - redone == Counter(full)
    assert sum(redone.values()) <= 2 * 2 * 4, redone
    a = json.loads((tmp_path / "logs" / "report.json").read_text())
    b = json.loads((tmp_path / "full" / "report.json").read_text())
    assert strip_volatile(a) == strip_volatile(b)


# ---------------------------------------------------------------------------- CLI


def test_cli_dry_run_and_presets(tmp_path: Path) -> None:
    from orch_eval.cli import main

    path = experiment(tmp_path)
    proc = subprocess.run(
        [ORCH_EVAL, "run", str(path), "--dry-run", "--limit", "2"], cwd=tmp_path, env=subprocess_env(),
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| orch | mmlu_0_shot | 2 | 8 |" in proc.stdout
    assert "derived from orch's Decisions" in proc.stdout
    assert not (tmp_path / "logs").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npanel: {agents: [orchfake/vote]}\nbenchmarks: [{task: arc, items: {n: 2}}]\n"
                   "systems: [orch]\nreference: null\n")
    assert main(["run", str(bad), "--dry-run"]) == 2
    for preset in ("paper", "local"):
        exp = load_experiment(ROOT / "experiments" / f"{preset}.yaml")
        assert exp.reference is not None
