"""Fault tolerance: every item gets a Decision, every fault is recorded and counted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from orch_eval.core.engine import Orchestrator
from orch_eval.core.panel import Panel
from orch_eval.inspect.hooks import SUMMARY_KEY
from orch_eval.inspect.solvers import orch
from orch_eval.models.fake import call_counts
from tests.fakeref import uniform

KINDS = ("error", "timeout", "ratelimit", "server", "empty", "whitespace", "huge", "garbage", "refusal")


def injected(seed: str, fail: float, call: str, stem: str) -> str | None:
    """The fault kind orchfake injects on a call (independent re-statement of its rule)."""
    if uniform(seed, "fault", call, stem) >= fail:
        return None
    return KINDS[min(int(uniform(seed, "faultkind", call, stem) * len(KINDS)), len(KINDS) - 1)]


def expected_record(seed: str, fail: float, stem: str) -> tuple[str | None, bool]:
    """(recorded fault, completion_used) of one agent's analysis of one item."""
    kind = injected(seed, fail, "analysis", stem)
    if kind in (None, "ratelimit"):
        return None, False
    if kind in ("error", "timeout", "server"):
        return "error", False
    if kind in ("empty", "whitespace"):
        return "empty", False
    follow = injected(seed, fail, "completion", stem)  # huge, garbage, refusal: the completion step
    if follow in (None, "ratelimit"):
        return None, True
    return "unparsable", False


@pytest.mark.slow
def test_200_items_30_percent_faults(tmp_path: Path) -> None:
    seeds = ["f1", "f2", "f3"]
    agents = [f"orchfake/gold:p=0.7:seed={s}:fail=0.3:fault=mixed" for s in seeds]
    log = inspect_eval(
        "inspect_evals/mmlu_0_shot",
        model=None,
        solver=orch(),
        model_roles={"agents": agents, "merger": "orchfake/vote"},
        limit=200,
        display="none",
        log_dir=str(tmp_path),
    )[0]
    assert log.status == "success"
    full = read_eval_log(log.location)
    assert full.samples is not None and len(full.samples) == 200
    expected_slots = {f"agent{i}:{a}": Counter() for i, a in enumerate(agents)}
    expected_decided: Counter[str] = Counter()
    injected_total = 0
    for sample in full.samples:
        d = sample.metadata["orch"]
        assert d["decided_by"] in ("merger", "majority", "abstain")
        stem = str(sample.input)
        parsed = 0
        for i, seed in enumerate(seeds):
            fault, completed = expected_record(seed, 0.3, stem)
            injected_total += injected(seed, 0.3, "analysis", stem) is not None
            rec = d["agents"][i]
            assert rec["fault"] == fault, (sample.id, i, rec)
            assert rec["completion_used"] == completed
            counts = expected_slots[f"agent{i}:{agents[i]}"]
            counts["calls"] += 1
            if fault:
                counts[fault] += 1
            if completed:
                counts["completion_used"] += 1
            parsed += fault is None
        expected_decided["merger" if parsed else "abstain"] += 1
    assert 0.2 < injected_total / 600 < 0.4  # about 30 % of agent calls were faulted
    summary = full.metadata[SUMMARY_KEY]
    assert summary["items"] == 200
    assert summary["decided_by"] == dict(expected_decided)
    for name, counts in expected_slots.items():
        got = summary["slots"][name]
        for key in ("calls", "error", "empty", "unparsable", "completion_used"):
            assert got[key] == counts[key], (name, key)


Q_STEM = "Which organelle digests waste?"


def one(panel: Panel):  # type: ignore[no-untyped-def]
    from orch_eval.core.question import Question

    q = Question(id="x", stem=Q_STEM, options=["a", "b", "c", "d"], gold="C")
    return anyio.run(lambda: Orchestrator(panel, cache=False).decide(q))


def test_rate_limit_is_retried_and_succeeds() -> None:
    d = one(Panel.from_args("orchfake/gold:fail=1:fault=ratelimit", "orchfake/vote"))
    assert d.agents[0].answer == "C" and d.agents[0].fault is None
    assert call_counts()["gold:fail=1:fault=ratelimit"] == 2  # one 429, one success


def test_server_errors_are_retried_with_a_bound() -> None:
    d = one(Panel.from_args("orchfake/gold:fail=1:fault=server,orchfake/gold:seed=2", "orchfake/vote"))
    assert d.agents[0].fault == "error" and "FakeServerError" in (d.agents[0].error or "")
    assert call_counts()["gold:fail=1:fault=server"] == 3
    assert d.final is not None  # the other agent carried the item


def test_huge_output_is_recorded_not_fatal() -> None:
    # fail=1: the completion step's call is faulted too, so the agent stays unparsable
    d = one(Panel.from_args("orchfake/gold:fail=1:fault=huge,orchfake/gold:seed=2", "orchfake/vote"))
    assert len(d.agents[0].text) == 50_000
    assert d.agents[0].answer is None and d.agents[0].fault == "unparsable"
    assert d.final == "C" and d.decided_by == "merger"


def test_secrets_never_reach_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("FAKE_PROVIDER_API_KEY", secret)
    d = one(Panel.from_args("orchfake/gold:fail=1:fault=error:leak_env=FAKE_PROVIDER_API_KEY", "orchfake/vote"))
    dumped = d.model_dump_json()
    assert secret not in dumped
    assert "[REDACTED:FAKE_PROVIDER_API_KEY]" in (d.agents[0].error or "")
    panel = Panel.from_args([{"model": "orchfake/gold", "args": {"api_key": secret}}], "orchfake/vote")
    assert secret not in str(panel.describe())
