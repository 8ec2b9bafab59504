"""Log loaders of ``orch_eval.stats``: real Inspect logs and real lm-eval samples, fake panels.

The logs are produced here (offline, deterministic fake models) and read back; every derived
system is checked against the Decisions and the harness's own scores.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log, read_eval_log_samples, write_eval_log

from orch_eval.inspect.solvers import orch, single
from orch_eval.stats import ItemSetMismatchError, PairedOutcomes, compare
from orch_eval.stats.loaders import LogLoadError, load_inspect_log, load_lm_eval_samples, load_logs
from tests.conftest import ROOT, subprocess_env

AGENTS = ["orchfake/gold:p=0.8:seed=a1", "orchfake/gold:p=0.6:seed=a2", "orchfake/gold:p=0.4:seed=a3"]
ROLES = {"agents": AGENTS, "merger": "orchfake/vote"}
ORCH_LM_EVAL = str(Path(sys.executable).parent / "orch-lm-eval")


def run_inspect(log_dir: Path, solver, limit: int = 20, roles=ROLES, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    logs = inspect_eval(
        "inspect_evals/mmlu_0_shot",
        model=None,
        solver=solver,
        limit=limit,
        model_roles=roles,
        log_dir=str(log_dir),
        display="none",
        **kwargs,
    )
    assert logs[0].status == "success", logs[0].error
    files = sorted(log_dir.glob("*.eval"))
    assert len(files) == 1
    return files[0]


def run_lm_eval(out: Path, tasks: str, limit: int) -> Path:
    proc = subprocess.run(
        [
            ORCH_LM_EVAL, "--model", "orch", "--model_args", "panel=solvers/fake-lmeval.yaml",
            "--tasks", tasks, "--limit", str(limit), "--log_samples", "--output_path", str(out),
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(out.rglob("samples_*.jsonl"))
    assert len(files) == 1, files
    return files[0]


class Logs:
    """Real logs shared by the tests of a module (produced once; the fakes are deterministic)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.orch = run_inspect(root / "orch", orch())
        self.single1 = run_inspect(root / "single1", single(agent=1))
        self.short = run_inspect(root / "short", single(agent=0), limit=15)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Logs:
    root = tmp_path_factory.mktemp("stats_logs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        return Logs(root)


@pytest.fixture(scope="module")
def lm_mmlu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lm_mmlu")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        return run_lm_eval(root / "out", "mmlu_abstract_algebra", 10)


@pytest.fixture(scope="module")
def lm_gsm8k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lm_gsm8k")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        return run_lm_eval(root / "out", "gsm8k", 6)


def agent_name(slot: int) -> str:
    return f"agent{slot}:{AGENTS[slot]}"


# ---------------------------------------------------------------------------- Inspect


def test_inspect_derived_systems_match_decisions_and_scores(logs: Logs) -> None:
    loaded = load_inspect_log(logs.orch)
    samples = list(read_eval_log_samples(str(logs.orch)))
    assert len(samples) == 20
    main = loaded.system
    assert main.name.startswith("orch/")  # the model is "none" in solver runs
    derived = {d.name: d for d in loaded.derived}
    assert list(derived) == [agent_name(0), agent_name(1), agent_name(2), "majority"]
    assert loaded.oracle is not None and loaded.oracle.kind == "oracle"
    for s in samples:
        item = str(s.id)
        d = s.metadata["orch"]
        score = next(iter(s.scores.values())).value
        assert main.correct[item] == (score == "C")
        assert main.correct[item] == d["correct"] == (d["final"] == s.target)
        for slot in range(3):
            rec = d["agents"][slot]
            assert derived[agent_name(slot)].correct[item] == rec["correct"] == (rec["answer"] == s.target)
            assert derived[agent_name(slot)].latency[item] == rec["latency"]
        assert derived["majority"].correct[item] == d["majority_correct"] == (d["majority"] == s.target)
        assert loaded.oracle.correct[item] == d["oracle"] == any(a["answer"] == s.target for a in d["agents"])
        assert loaded.clusters[item] == s.metadata["subject"]
        assert main.cost[item] == d["cost"]
    assert set(main.correct) == {str(s.id) for s in samples}
    assert not loaded.warnings


def test_single_run_equals_derived_agent(logs: Logs) -> None:
    loaded = load_logs([logs.orch, logs.single1])
    single_name = f"single/{AGENTS[1]}"
    assert single_name in loaded.systems
    assert loaded.systems[single_name].correct == loaded.systems[agent_name(1)].correct
    assert "oracle" in loaded.oracles and "oracle" not in loaded.systems  # a bound, not a system
    po = loaded.outcomes()
    report = compare(po, reference=single_name)
    same = next(c for c in report.comparisons if c.system_a == agent_name(1))
    assert (same.b, same.c) == (0, 0)


def test_no_derived_and_names(logs: Logs) -> None:
    loaded = load_logs([logs.orch, logs.single1], names=["panel", "solo"], derived=False)
    assert list(loaded.systems) == ["panel", "solo"]
    assert loaded.oracles == {}


def test_duplicate_names_are_refused(logs: Logs) -> None:
    with pytest.raises(LogLoadError, match=r"duplicate system name .*--name"):
        load_logs([logs.orch, logs.orch])
    with pytest.raises(LogLoadError, match="duplicate system name 'x'"):
        load_logs([logs.orch, logs.single1], names=["x", "x"])


def test_two_panel_logs_get_prefixed_derived_names(logs: Logs, tmp_path: Path) -> None:
    copy = tmp_path / "copy.eval"
    shutil.copy(logs.orch, copy)
    loaded = load_logs([logs.orch, copy], names=["A", "B"])
    assert "A:majority" in loaded.systems and "B:majority" in loaded.systems
    assert f"B:{agent_name(2)}" in loaded.systems
    assert set(loaded.oracles) == {"A:oracle", "B:oracle"}


def test_same_model_in_two_slots_gives_unique_names(tmp_path: Path) -> None:
    roles = {"agents": [AGENTS[0], AGENTS[0], AGENTS[1]], "merger": "orchfake/vote"}
    path = run_inspect(tmp_path, orch(), limit=5, roles=roles)
    names = [d.name for d in load_inspect_log(path).derived]
    assert names == [f"agent0:{AGENTS[0]}", f"agent1:{AGENTS[0]}", f"agent2:{AGENTS[1]}", "majority"]


def test_epochs_pair_by_id_and_epoch(tmp_path: Path) -> None:
    path = run_inspect(tmp_path, orch(), limit=4, epochs=2)
    loaded = load_inspect_log(path)
    ids = set(loaded.system.correct)
    assert len(ids) == 8 and all(i.endswith(("#1", "#2")) for i in ids)
    assert any("epochs" in w for w in loaded.warnings)


def test_mismatched_items_raise_with_counts(logs: Logs) -> None:
    loaded = load_logs([logs.orch, logs.short], derived=False)
    with pytest.raises(ItemSetMismatchError) as info:
        loaded.outcomes()
    msg = str(info.value)
    assert "20 distinct items in total, 15 common to all 2 systems" in msg
    assert "has 15 items, missing 5" in msg
    # the Python API names its own argument, and every system's file
    assert "(pass intersect=True to keep only the common items)" in msg and "--intersect" not in msg
    lines = msg.splitlines()
    assert lines[1] == f"  {loaded.names[0]!r} ({logs.orch}): has 20 items, missing none"
    assert lines[2].startswith(f"  {loaded.names[1]!r} ({logs.short}): has 15 items, missing 5, e.g. [")
    cli = info.value.with_context(hint="--intersect")
    assert "(pass --intersect to keep only the common items)" in str(cli) and "intersect=True" not in str(cli)
    po = loaded.outcomes(intersect=True)
    assert isinstance(po, PairedOutcomes) and po.n == 15


def unscored_copy(source: Path, dest: Path, no_score: int, errors: int) -> tuple[Path, list[str], list[str]]:
    """``source`` rewritten with the scores of the first ``no_score`` samples removed (the scorer
    did not run) and the next ``errors`` samples turned into error samples."""
    from inspect_ai.log import EvalError

    log = read_eval_log(str(source))
    samples = log.samples or []
    for s in samples[:no_score]:
        s.scores = None
    for s in samples[no_score:no_score + errors]:
        s.scores = None
        s.error = EvalError(message="boom", traceback="", traceback_ansi="")
    write_eval_log(log, str(dest))
    return dest, [str(s.id) for s in samples[:no_score]], [str(s.id) for s in samples[no_score:no_score + errors]]


def test_unscored_samples_are_named_in_the_mismatch_message(logs: Logs, tmp_path: Path) -> None:
    path, never, errored = unscored_copy(logs.single1, tmp_path / "unscored.eval", no_score=2, errors=1)
    loaded = load_logs([logs.orch, path], derived=True)
    name = loaded.logs[1].name
    assert loaded.systems[name].unscored == {**{i: "no score" for i in never}, **{i: "error" for i in errored}}
    # the warning names them too
    assert any("3 samples have an error or no score (unscored)" in w for w in loaded.warnings)
    with pytest.raises(ItemSetMismatchError) as info:
        loaded.outcomes()
    msg = str(info.value)
    line = next(ln for ln in msg.splitlines() if ln.startswith(f"  {name!r}"))
    assert line.startswith(f"  {name!r} ({path}): has 17 items, missing 3, e.g. ")
    assert line.endswith(
        f"; 3 samples in {path} have no score (unscored: 1 error samples, 2 never scored), "
        f"e.g. {sorted(never + errored)}"
    )
    # systems derived from the ORCH log lack nothing and carry no note
    derived_line = next(ln for ln in msg.splitlines() if ln.startswith("  'majority'"))
    assert derived_line == f"  'majority' ({logs.orch}): has 20 items, missing none"
    # with --intersect the three items are dropped and the report goes on
    assert loaded.outcomes(intersect=True).n == 17


def test_log_without_sample_ids_is_read(logs: Logs, tmp_path: Path) -> None:
    """A valid log whose header lacks eval.dataset.sample_ids (written by write_eval_log, or
    converted) loads like the original, in .eval and .json form."""
    from orch_eval.stats.loaders import inspect_sample_ids

    original = load_inspect_log(logs.orch)
    log = read_eval_log(str(logs.orch))
    ids = [str(i) for i in log.eval.dataset.sample_ids or []]
    log.eval.dataset.sample_ids = None
    for suffix in (".eval", ".json"):
        path = tmp_path / f"no_ids{suffix}"
        write_eval_log(log, str(path))
        assert read_eval_log(str(path), header_only=True).eval.dataset.sample_ids is None
        loaded = load_inspect_log(path)
        assert loaded.system.correct == original.system.correct
        assert [d.correct for d in loaded.derived] == [d.correct for d in original.derived]
        assert loaded.decisions == original.decisions and loaded.clusters == original.clusters
        assert inspect_sample_ids(logs.orch) == ids  # the header's list, in dataset order
        assert sorted(inspect_sample_ids(path)) == sorted(ids)  # the samples' ids, in log order


def test_truncated_eval_log(logs: Logs, tmp_path: Path) -> None:
    data = logs.orch.read_bytes()
    cut = tmp_path / "cut.eval"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LogLoadError) as info:
        load_logs([cut])
    assert str(cut) in str(info.value) and "truncated or corrupt" in str(info.value)


def test_unfinished_log_loads_completed_samples_with_warning(logs: Logs, tmp_path: Path) -> None:
    log = read_eval_log(str(logs.orch))
    log.status = "error"
    log.samples = (log.samples or [])[:12]
    path = tmp_path / "partial.eval"
    write_eval_log(log, str(path))
    loaded = load_inspect_log(path)
    assert len(loaded.system.correct) == 12
    text = " ".join(loaded.warnings)
    assert "status is 'error'" in text and "loaded 12 completed samples of 20" in text


def test_empty_inspect_log(logs: Logs, tmp_path: Path) -> None:
    log = read_eval_log(str(logs.orch))
    log.samples = []
    path = tmp_path / "empty.eval"
    write_eval_log(log, str(path))
    with pytest.raises(LogLoadError, match=r"empty\.eval: the log has no samples"):
        load_inspect_log(path)


def test_unknown_file_type(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(LogLoadError, match=r"notes\.txt: unknown file type"):
        load_logs([other])


def test_folder_argument(logs: Logs) -> None:
    loaded = load_logs([logs.root / "orch", logs.root / "single1"])
    assert {log.path for log in loaded.logs} == {logs.orch, logs.single1}


def test_file_uri_as_inspect_gives_it(logs: Logs) -> None:
    """Inspect's log ``location`` is a file:// URI when eval_set reuses a log: it loads as the path."""
    uri = logs.orch.resolve().as_uri()
    assert uri.startswith("file:///")
    assert [log.path for log in load_logs([uri]).logs] == [logs.orch.resolve()]
    with pytest.raises(LogLoadError, match=r"s3://bucket/x\.eval: only local logs.*s3://"):
        load_logs(["s3://bucket/x.eval"])


# ---------------------------------------------------------------------------- lm-eval


def test_lm_eval_samples_with_sidecar(lm_mmlu: Path) -> None:
    records = [json.loads(x) for x in lm_mmlu.read_text().splitlines() if x.strip()]
    sidecar = {
        r["doc_id"]: r["decision"]
        for r in map(json.loads, next(lm_mmlu.parent.glob("orch_decisions_*.jsonl")).read_text().splitlines())
    }
    loaded = load_lm_eval_samples(lm_mmlu)
    assert loaded.system.name == "orch/fake-lmeval"
    assert loaded.filter == "none"
    derived = {d.name: d for d in loaded.derived}
    assert list(derived) == [
        "agent0:orchfake/gold:p=0.7:seed=1", "agent1:orchfake/gold:p=0.6:seed=2",
        "agent2:orchfake/gold:p=0.5:seed=3", "majority",
    ]
    assert len(records) == 10
    for r in records:
        item = f"mmlu_abstract_algebra/{r['doc_id']}"
        d = sidecar[r["doc_id"]]
        assert loaded.system.correct[item] == bool(r["acc"]) == d["correct"]
        for a in d["agents"]:
            assert derived[f"agent{a['slot']}:{a['model']}"].correct[item] == a["correct"]
        assert derived["majority"].correct[item] == d["majority_correct"]
        assert loaded.oracle.correct[item] == d["oracle"]
        assert loaded.clusters[item] == "abstract_algebra"
    # without Decisions the system is named after the folder lm-eval wrote into
    bare = load_lm_eval_samples(lm_mmlu, derived=False)
    assert bare.derived == []
    assert load_lm_eval_samples(lm_mmlu, name="mine").name == "mine"


def test_lm_eval_decisions_in_records(lm_mmlu: Path, tmp_path: Path) -> None:
    """The other shape: each sample record carries its Decision under "orch"; no sidecar."""
    sidecar = {
        r["doc_id"]: r["decision"]
        for r in map(json.loads, next(lm_mmlu.parent.glob("orch_decisions_*.jsonl")).read_text().splitlines())
    }
    folder = tmp_path / "my-model"
    folder.mkdir()
    out = folder / lm_mmlu.name
    with open(out, "w") as f:
        for line in lm_mmlu.read_text().splitlines():
            r = json.loads(line)
            r["orch"] = sidecar[r["doc_id"]]
            f.write(json.dumps(r) + "\n")
    a = load_lm_eval_samples(lm_mmlu)
    b = load_lm_eval_samples(out)
    assert b.system.correct == a.system.correct
    assert [d.correct for d in b.derived] == [d.correct for d in a.derived]
    # without Decisions at all: the folder's name
    plain = folder / "plain"
    plain.mkdir()
    shutil.copy(lm_mmlu, plain / lm_mmlu.name)
    assert load_lm_eval_samples(plain / lm_mmlu.name).name == "plain"


def test_lm_eval_filters(lm_gsm8k: Path) -> None:
    default = load_lm_eval_samples(lm_gsm8k)
    assert default.filter == "strict-match"  # the first filter present
    flex = load_lm_eval_samples(lm_gsm8k, filter="flexible-extract")
    assert flex.filter == "flexible-extract"
    assert set(flex.system.correct) == {f"gsm8k/{i}" for i in range(6)}
    records = [json.loads(x) for x in lm_gsm8k.read_text().splitlines()]
    for r in records:
        if r["filter"] == "flexible-extract":
            assert flex.system.correct[f"gsm8k/{r['doc_id']}"] == bool(r["exact_match"])
    with pytest.raises(LogLoadError) as info:
        load_lm_eval_samples(lm_gsm8k, filter="strict")
    msg = str(info.value)
    assert lm_gsm8k.name in msg and "filter 'strict' not found" in msg
    assert "available filters: strict-match, flexible-extract" in msg


def test_lm_eval_empty_and_truncated(lm_mmlu: Path, tmp_path: Path) -> None:
    empty = tmp_path / "samples_mmlu_abstract_algebra_2026-01-01T00-00-00.000000.jsonl"
    empty.write_text("")
    with pytest.raises(LogLoadError, match=r"samples_mmlu_abstract_algebra_.*empty"):
        load_logs([empty])
    text = lm_mmlu.read_text()
    cut = tmp_path / lm_mmlu.name
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(LogLoadError, match=r"is not valid JSON \(truncated or corrupt"):
        load_logs([cut])


def test_lm_eval_and_inspect_items_do_not_pair(logs: Logs, lm_mmlu: Path) -> None:
    loaded = load_logs([logs.orch, lm_mmlu], derived=False)
    with pytest.raises(ItemSetMismatchError, match="0 common"):
        loaded.outcomes()


def test_lm_eval_folder_merges_tasks_of_one_run(lm_mmlu: Path, lm_gsm8k: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for f in list(lm_mmlu.parent.glob("*.jsonl")) + list(lm_gsm8k.parent.glob("*.jsonl")):
        shutil.copy(f, run / f.name)
    loaded = load_logs([tmp_path])
    assert list(loaded.systems)[0] == "orch/fake-lmeval"
    assert len(loaded.systems["orch/fake-lmeval"].correct) == 16
    assert all(len(s.correct) == 16 for s in loaded.systems.values())
    po = loaded.outcomes()
    assert po.n == 16


def test_stats_layer_accepts_loaded_outcomes(logs: Logs) -> None:
    po = load_logs([logs.orch]).outcomes()
    assert po.systems[0].startswith("orch/")
    assert po.n_clusters is not None and po.n_clusters > 1


# ---------------------------------------------------------------------------- diagnostics


def test_merger_diagnostics_from_a_real_log(tmp_path: Path) -> None:
    """The merger runs on agent 0's model: 'follows its own analysis' compares with slot 0."""
    from orch_eval.stats import merger_diagnostics

    roles = {"agents": AGENTS, "merger": AGENTS[0]}
    path = run_inspect(tmp_path, orch(), limit=12, roles=roles)
    loaded = load_inspect_log(path)
    ds = list(loaded.decisions.values())
    diag = merger_diagnostics(ds, system=loaded.name)
    merged = [d for d in ds if d.decided_by in ("merger", "merger_completion")]
    assert diag.n == 12 and diag.merger_decided == len(merged)
    assert sum(diag.decided_by.values()) == 12
    assert diag.own_agent == f"agent0:{AGENTS[0]}"
    own = [(d.final, d.agents[0].answer) for d in merged if d.agents[0].answer is not None and d.final is not None]
    assert (diag.follows_own.k, diag.follows_own.n) == (sum(a == b for a, b in own), len(own))
    with_maj = [d for d in merged if d.majority is not None and d.final is not None]
    assert diag.follows_majority.k == sum(d.final == d.majority for d in with_maj)
    unanimous = [d for d in ds if len({a.answer for a in d.agents}) == 1 and d.agents[0].answer is not None]
    assert diag.accuracy_unanimous.n == len(unanimous)
    assert diag.accuracy_split.n == 12 - len(unanimous)
    assert diag.accuracy_unanimous.k + diag.accuracy_split.k == sum(loaded.system.correct.values())
    overrides = [d for d in unanimous if d in merged and d.final != d.agents[0].answer]
    assert diag.unanimous_overrides.k == len(overrides)
    assert [s.name for s in diag.steps] == [agent_name(0), agent_name(1), agent_name(2), f"merger:{AGENTS[0]}"]
    assert all(s.calls == 12 for s in diag.steps)
    md = diag.to_markdown()
    assert "follows its own analysis" in md and "decided_by" in md
    json.dumps(diag.to_dict())


def test_reports_cluster_by_the_domain_the_router_reads(lm_mmlu: Path, tmp_path: Path) -> None:
    """One list of domain keys (core.question.DOMAIN_KEYS) for the router and the reports: a user's
    task that names its items' ``domain`` (no subject) gets clustered intervals, and the Question the
    router sees carries the same domain."""
    from orch_eval.core.question import DOMAIN_KEYS, domain_of
    from orch_eval.inspect.adapt import question_of

    assert DOMAIN_KEYS == ("subject", "category", "domain")
    assert domain_of({"domain": "law", "subject": "math"}) == "math" and domain_of({"subject": ""}) is None
    records = [json.loads(line) for line in lm_mmlu.read_text().splitlines()]
    for i, r in enumerate(records):
        r["doc"].pop("subject", None)
        r["doc"]["domain"] = f"d{i % 2}"
    own = tmp_path / lm_mmlu.name
    own.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    loaded = load_logs([own], derived=False)
    assert set(loaded.clusters.values()) == {"d0", "d1"} and len(loaded.clusters) == len(records)
    q = question_of("x1", "2 + 2 = ?", ["3", "4"], "B", {"domain": "d1"})
    assert q.domain == "d1"
