"""End-to-end: the unchanged inspect_evals tasks through ORCH, with fake models (offline).

Covers the acceptance lines of the engine issue: CLI solver and provider runs of MMLU,
MMLU-Pro and GSM8K; accuracy equal to an independent computation; cached reruns making
zero calls; identical answers at max-samples 1 and 16; `single` equal to the agent's record.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog, read_eval_log

from orch_eval.inspect.solvers import majority_vote, orch, single
from orch_eval.models.fake import call_counts
from tests.conftest import BIN, ROOT, subprocess_env
from tests.fakeref import gold_agent_letter, gold_agent_number, vote

AGENTS = [("0.8", "a1"), ("0.6", "a2"), ("0.4", "a3")]
AGENT_NAMES = [f"orchfake/gold:p={p}:seed={s}" for p, s in AGENTS]
MERGER = "orchfake/vote"
INSPECT = str(BIN / "inspect")


def run_cli(args: list[str], log_dir: Path, **env: str) -> EvalLog:
    proc = subprocess.run(
        [INSPECT, "eval", *args, "--log-dir", str(log_dir), "--display", "none", "--log-format", "eval"],
        capture_output=True,
        text=True,
        env=subprocess_env(**env),
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = sorted(log_dir.glob("*.eval"))
    assert len(logs) == 1, logs
    return read_eval_log(str(logs[0]))


def expected_choice(sample_input: str, target: str, n_options: int) -> str:
    answers = [gold_agent_letter(sample_input, target, n_options, float(p), s) for p, s in AGENTS]
    return vote(answers)


def check_choice_log(log: EvalLog, n: int) -> None:
    assert log.status == "success"
    assert log.samples is not None and len(log.samples) == n
    right = 0
    for sample in log.samples:
        decision = sample.metadata["orch"]
        assert decision["panel_digest"]
        assert len(decision["agents"]) == 3
        stem = sample.input if isinstance(sample.input, str) else None
        assert stem is not None
        expected = expected_choice(stem, str(sample.target), len(sample.choices or []))
        assert decision["final"] == expected, sample.id
        score = next(iter(sample.scores.values()))
        assert (score.value == "C") == (expected == sample.target)
        right += expected == sample.target
    accuracy = log.results.scores[0].metrics["accuracy"].value
    assert accuracy == pytest.approx(right / n)


@pytest.mark.slow
def test_cli_solver_mmlu_0_shot(tmp_path: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    args = [
        "inspect_evals/mmlu_0_shot", "--limit", "20", "--model", "none", "--solver", "orch_eval/orch",
        "--model-role", "agents=" + ",".join(AGENT_NAMES), "--model-role", f"merger={MERGER}",
    ]
    log = run_cli(args, tmp_path / "run1", ORCH_FAKE_CALL_LOG=str(calls))
    check_choice_log(log, 20)
    assert len(calls.read_text().splitlines()) == 20 * 4
    # rerun with the same (per-test) cache: zero model calls, identical per-item answers
    calls.unlink()
    log2 = run_cli(args, tmp_path / "run2", ORCH_FAKE_CALL_LOG=str(calls))
    assert not calls.exists() or calls.read_text() == ""
    assert answers(log2) == answers(log)


@pytest.mark.slow
def test_cli_solver_mmlu_pro(tmp_path: Path) -> None:
    log = run_cli(
        [
            "inspect_evals/mmlu_pro", "-T", "shuffle=false", "--limit", "20", "--model", "none",
            "--solver", "orch_eval/orch",
            "--model-role", "agents=" + ",".join(AGENT_NAMES), "--model-role", f"merger={MERGER}",
        ],
        tmp_path,
    )
    check_choice_log(log, 20)
    assert any(len(s.choices or []) > 4 for s in log.samples or [])  # up to 10 options (A-J)


@pytest.mark.slow
def test_cli_solver_gsm8k(tmp_path: Path) -> None:
    log = run_cli(
        [
            "inspect_evals/gsm8k", "--limit", "20", "--model", "none", "--solver", "orch_eval/orch",
            "--model-role", "agents=" + ",".join(AGENT_NAMES), "--model-role", f"merger={MERGER}",
        ],
        tmp_path,
    )
    assert log.samples is not None and len(log.samples) == 20
    right = 0
    for sample in log.samples:
        stem = str(sample.input)
        gold = str(sample.target)
        expected = vote([gold_agent_number(stem, gold, float(p), s) for p, s in AGENTS])
        assert sample.metadata["orch"]["final"] == expected
        right += expected == gold
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(right / 20)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["inspect_evals/mmlu_0_shot", "inspect_evals/mmlu_pro", "inspect_evals/gsm8k"])
def test_cli_provider(task: str, tmp_path: Path) -> None:
    """`--model orch/<label>`: the task keeps its own solver chain; its scorer reads our output."""
    log = run_cli(
        [
            task, "-T", "shuffle=false", "--limit", "10", "--model", "orch/fakepanel",
            "-M", "agents=" + ",".join(AGENT_NAMES), "-M", f"merger={MERGER}",
        ]
        if task.endswith("mmlu_pro")
        else [
            task, "--limit", "10", "--model", "orch/fakepanel",
            "-M", "agents=" + ",".join(AGENT_NAMES), "-M", f"merger={MERGER}",
        ],
        tmp_path,
    )
    assert log.status == "success"
    assert log.samples is not None and len(log.samples) == 10
    right = 0
    for sample in log.samples:
        stem, gold = str(sample.input), str(sample.target)
        if sample.choices:
            expected = expected_choice(stem, gold, len(sample.choices))
        else:
            expected = vote([gold_agent_number(stem, gold, float(p), s) for p, s in AGENTS])
        assert f"ANSWER: {expected}" in sample.output.completion
        right += expected == gold
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(right / 10)
    # usage is counted once: per agent/merger model, never for the orch/ wrapper itself
    usage = log.stats.model_usage
    assert "orch/fakepanel" not in usage or usage["orch/fakepanel"].total_tokens == 0
    assert all(name in usage for name in AGENT_NAMES)


def answers(log: EvalLog) -> dict[str, str | None]:
    return {str(s.id): s.metadata["orch"]["final"] for s in log.samples or []}


def run_inprocess(solver, tmp_path: Path, limit: int = 30, **kwargs) -> EvalLog:  # type: ignore[no-untyped-def]
    logs = inspect_eval(
        "inspect_evals/mmlu_0_shot",
        model=None,
        solver=solver,
        limit=limit,
        display="none",
        log_dir=str(tmp_path),
        **kwargs,
    )
    assert logs[0].status == "success", logs[0].error
    return logs[0]


@pytest.mark.slow
def test_max_samples_does_not_change_answers(tmp_path: Path) -> None:
    """Latency-jittered agents finish in different orders; answers must not care."""
    agents = [f"orchfake/gold:p=0.6:seed=j{i}:latency=5:jitter=40" for i in range(3)]
    roles = {"agents": agents, "merger": "orchfake/vote:latency=5:jitter=40"}
    one = run_inprocess(orch(cache=False), tmp_path / "one", model_roles=roles, max_samples=1)
    many = run_inprocess(orch(cache=False), tmp_path / "many", model_roles=roles, max_samples=16)
    assert answers(one) == answers(many)
    full = lambda log: {str(s.id): [a["answer"] for a in s.metadata["orch"]["agents"]] for s in log.samples}  # noqa: E731
    assert full(one) == full(many)


@pytest.mark.slow
def test_single_equals_agent_record_and_shares_cache(tmp_path: Path) -> None:
    roles = {"agents": AGENT_NAMES, "merger": MERGER}
    orch_log = run_inprocess(orch(), tmp_path / "orch", model_roles=roles)
    before = sum(call_counts().values())
    for slot in range(3):
        single_log = run_inprocess(single(agent=slot), tmp_path / f"single{slot}", model_roles=roles)
        for a, b in zip(orch_log.samples or [], single_log.samples or []):
            assert a.id == b.id
            assert b.metadata["orch"]["final"] == a.metadata["orch"]["agents"][slot]["answer"]
    # single reuses orch's cached analyses (same slot scope): no new calls
    assert sum(call_counts().values()) == before
    # a separate, uncached single run on the bare model gives the same answers too
    alone = run_inprocess(single(model=AGENT_NAMES[1], cache=False), tmp_path / "alone")
    for a, b in zip(orch_log.samples or [], alone.samples or []):
        assert b.metadata["orch"]["final"] == a.metadata["orch"]["agents"][1]["answer"]


@pytest.mark.slow
def test_majority_vote_solver_matches_decision_record(tmp_path: Path) -> None:
    roles = {"agents": AGENT_NAMES, "merger": MERGER}
    orch_log = run_inprocess(orch(), tmp_path / "orch", model_roles=roles)
    vote_log = run_inprocess(majority_vote(), tmp_path / "vote", model_roles=roles)
    for a, b in zip(orch_log.samples or [], vote_log.samples or []):
        assert b.metadata["orch"]["final"] == a.metadata["orch"]["majority"]
        assert b.metadata["orch"]["merge"] is None


@pytest.mark.slow
def test_changing_merger_does_not_reuse_merges(tmp_path: Path) -> None:
    run_inprocess(orch(), tmp_path / "a", limit=5, model_roles={"agents": AGENT_NAMES, "merger": MERGER})
    counts_before = call_counts()
    run_inprocess(
        orch(), tmp_path / "b", limit=5, model_roles={"agents": AGENT_NAMES, "merger": "orchfake/gold:seed=m"}
    )
    counts = call_counts() - counts_before
    assert counts["gold:seed=m"] == 5  # the new merger was really called
    assert all(counts[name.split("/", 1)[1]] == 0 for name in AGENT_NAMES)  # analyses reused


def test_decision_metadata_is_json(tmp_path: Path) -> None:
    log = run_inprocess(orch(), tmp_path, limit=3, model_roles={"agents": AGENT_NAMES, "merger": MERGER})
    for s in log.samples or []:
        json.dumps(s.metadata["orch"])


def _merger_prompts(log: EvalLog, merger: str) -> list[str]:
    """The user text of every call the merger received, from the log's model events."""
    from inspect_ai.event import ModelEvent

    out = []
    for s in read_eval_log(log.location, resolve_attachments=True).samples or []:
        for ev in s.events:
            if isinstance(ev, ModelEvent) and ev.model == merger:
                out.append(ev.input[-1].text)
    return out


@pytest.mark.slow
def test_merge_style_solve_reaches_the_merger_and_reuses_the_analyses(tmp_path: Path) -> None:
    """``-S merge_style=solve`` changes the merger's prompt (and so its cache scope), not the
    analyses: a solve run after a judge run calls only the merger."""
    roles = {"agents": AGENT_NAMES, "merger": MERGER}
    judge = run_inprocess(orch(), tmp_path / "judge", limit=5, model_roles=roles)
    before = call_counts()
    solve = run_inprocess(orch(merge_style="solve"), tmp_path / "solve", limit=5, model_roles=roles)
    counts = call_counts() - before
    assert counts["vote"] == 5 and all(counts[name.split("/", 1)[1]] == 0 for name in AGENT_NAMES)
    judged, solved = _merger_prompts(judge, MERGER), _merger_prompts(solve, MERGER)
    assert len(judged) == len(solved) == 5
    assert all("at most three sentences" in p and "solve the task yourself" not in p for p in judged)
    assert all("solve the task yourself" in p and "at most three sentences" not in p for p in solved)
    digests = {s.metadata["orch"]["panel_digest"] for s in judge.samples or []}
    assert digests.isdisjoint(s.metadata["orch"]["panel_digest"] for s in solve.samples or [])
    assert answers(judge) == answers(solve)  # the vote fake answers the same either way
