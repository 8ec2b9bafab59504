"""The paper's dispatcher decomposition (``dispatch: true``): the top-ranked consulted agent writes
one sub-question per consulted agent, each agent's analysis focuses on its own, fixed fallbacks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest
from inspect_ai import eval as inspect_eval

from orch_eval.core.engine import Orchestrator
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel, validate_panel
from orch_eval.core.parse import SUBQUESTION_MAX_CHARS, parse_subquestions
from orch_eval.core.prompts import analysis_prompt, dispatch_prompt
from orch_eval.core.question import Question
from orch_eval.inspect.solvers import orch
from orch_eval.models.fake import call_counts
from tests import fakeref

Q = Question(id="q1", stem="Which organelle digests waste?", options=["Ribosome", "Nucleus", "Lysosome", "Golgi"], gold="C")
AGENTS = ["orchfake/gold:p=0.8:seed=d1", "orchfake/gold:p=0.6:seed=d2", "orchfake/gold:p=0.4:seed=d3"]
TASK = "inspect_evals/mmlu_0_shot"


@pytest.mark.parametrize(
    "text, k, expected",
    [
        ("1. What is a lysosome?\n2. What does the Golgi do?\n3. Which one breaks down waste?", 3,
         ["What is a lysosome?", "What does the Golgi do?", "Which one breaks down waste?"]),
        ("Here are the sub-questions:\n1) First one\n2) Second one", 2, ["First one", "Second one"]),
        ("Sub-question 1: alpha\nSub-question 2: beta\n", 2, ["alpha", "beta"]),
        ("**1.** bold one\n- 2. dashed two", 2, ["bold one", "dashed two"]),
        ("1. same\n2. Same\n3. other", 3, ["same", "other"]),  # duplicates dropped
        ("1. a\n2. b\n3. c\n4. d", 2, ["a", "b"]),  # at most k
        ("1. ANSWER: C\n2. real question", 2, ["real question"]),  # no answers passed on
        ("```\n1. inside code\n```\n1. outside", 2, ["outside"]),
        ("The answer is C.", 3, []),
        ("", 2, []),
    ],
)
def test_parse_subquestions(text: str, k: int, expected: list[str]) -> None:
    assert parse_subquestions(text, k) == expected


def test_parse_subquestions_caps_length() -> None:
    (sub,) = parse_subquestions("1. " + "why " * 500, 1)
    assert len(sub) == SUBQUESTION_MAX_CHARS


def test_prompts_focus_and_plain_text_unchanged() -> None:
    plain = analysis_prompt(Q, "concept")
    assert analysis_prompt(Q, "concept", None) == plain  # no focus: the plain prompt (shared cache)
    focused = analysis_prompt(Q, "concept", "What is a lysosome?")
    assert focused != plain and "What is a lysosome?" in focused and focused.endswith(plain.split("\n")[-1])
    d = dispatch_prompt(Q, 3)
    assert "exactly 3 short sub-questions" in d and "C) Lysosome" in d and "Do not answer" in d


def test_panel_validation() -> None:
    with pytest.raises(OrchConfigError, match="dispatcher=5 is not an agent slot"):
        validate_panel({"agents": AGENTS, "merger": "orchfake/vote", "dispatch": True, "dispatcher": 5}, "t")
    with pytest.raises(OrchConfigError, match="set dispatch: true"):
        validate_panel({"agents": AGENTS, "merger": "orchfake/vote", "dispatcher": 1}, "t")
    with pytest.raises(OrchConfigError, match="shadow mode"):
        validate_panel({"agents": AGENTS, "merger": "orchfake/vote", "dispatch": True, "router": {"shadow": True}}, "t")
    plain = Panel.from_args(AGENTS, "orchfake/vote")
    on = Panel.from_args(AGENTS, "orchfake/vote", dispatch=True)
    # dispatch changes what the panel answers; panels without it keep their digests; an agent's
    # digest stays (its focused prompts differ anyway, its fallback analysis is the plain one)
    assert on.digest() != plain.digest() and on.agent_digest(0) == plain.agent_digest(0)
    assert "dispatch" not in plain.identity() and "dispatch" not in plain.identity()["budgets"]


def _decide(panel: Panel, consult: list[int] | None = None, top: int | None = None):  # type: ignore[no-untyped-def]
    return anyio.run(lambda: Orchestrator(panel, cache=False).decide(Q, consult=consult, top=top))


def test_engine_dispatch_assigns_one_subquestion_per_agent_in_panel_order() -> None:
    d = _decide(Panel.from_args(AGENTS, "orchfake/vote", dispatch=True))
    assert d.dispatch is not None and d.dispatch.slot == 0 and d.dispatch.fallback == "none"
    assert d.dispatch.subquestions == [f"Which fact does step {i} of 3 need? (d1)" for i in (1, 2, 3)]
    assert [a.focus for a in d.agents] == d.dispatch.subquestions
    # usage and cost include the dispatcher's call
    assert d.usage.input_tokens == sum(a.usage.input_tokens for a in d.agents) + d.merge.usage.input_tokens + \
        d.dispatch.usage.input_tokens  # type: ignore[union-attr]
    # answers follow the fake's rule (the focus does not change what it knows)
    stem = Q.stem
    assert [a.answer for a in d.agents] == [
        fakeref.gold_agent_letter(stem, "C", 4, p, s) for p, s in ((0.8, "d1"), (0.6, "d2"), (0.4, "d3"))
    ]


def test_engine_dispatcher_is_the_routers_top_agent_among_those_consulted() -> None:
    panel = Panel.from_args(AGENTS, "orchfake/vote", dispatch=True, dispatcher=1)
    assert _decide(panel).dispatch.slot == 1  # type: ignore[union-attr]
    assert _decide(panel, consult=[0, 2]).dispatch.slot == 0  # type: ignore[union-attr]  # not consulted
    d = _decide(panel, consult=[0, 2], top=2)
    assert d.dispatch.slot == 2 and d.dispatch.model == AGENTS[2]  # type: ignore[union-attr]
    assert [a.focus for a in d.agents] == [d.dispatch.subquestions[0], None, d.dispatch.subquestions[1]]  # type: ignore[union-attr]
    assert not d.agents[1].consulted


def test_engine_fixed_fallbacks() -> None:
    few = Panel.from_args([AGENTS[0] + ":subq=1", *AGENTS[1:]], "orchfake/vote", dispatch=True)
    d = _decide(few)
    assert d.dispatch.fallback == "partial" and d.dispatch.subquestions[1:] == [None, None]  # type: ignore[union-attr]
    assert [a.focus is None for a in d.agents] == [False, True, True]
    assert any("gave 1 of 3 sub-questions" in n for n in d.notes)

    broken = Panel.from_args([AGENTS[0] + ":fail=1:fault=error", *AGENTS[1:]], "orchfake/vote", dispatch=True)
    d = _decide(broken)
    assert d.dispatch.fallback == "all" and d.dispatch.fault == "error"  # type: ignore[union-attr]
    assert "RuntimeError" in (d.dispatch.error or "")  # type: ignore[union-attr]
    assert all(a.focus is None for a in d.agents)  # ordinary analyses
    assert d.final is not None and d.decided_by == "merger"  # the item is still decided
    assert any("wrote their ordinary analysis" in n for n in d.notes)

    silent = Panel.from_args([AGENTS[0] + ":fail=1:fault=garbage", *AGENTS[1:]], "orchfake/vote", dispatch=True)
    assert _decide(silent).dispatch.fault == "unparsable"  # type: ignore[union-attr]

    # the run's fault summary has a dispatcher row
    from orch_eval.core.faults import fault_summary

    summary = fault_summary([d.model_dump(), _decide(silent).model_dump()])
    assert summary["slots"][f"dispatcher:agent0:{AGENTS[0]}:fail=1:fault=error"] == {
        "calls": 1, "error": 1, "empty": 0, "unparsable": 0, "completion_used": 0}
    assert summary["slots"][f"dispatcher:agent0:{AGENTS[0]}:fail=1:fault=garbage"]["unparsable"] == 1


@pytest.mark.slow
def test_dispatch_through_inspect_calls_and_cache(tmp_path: Path) -> None:
    """Per item: one dispatch call, one focused analysis per agent, one merge; a rerun is free;
    fallback analyses share the plain ORCH cache entries."""
    limit = 8
    plain = inspect_eval(TASK, model=None, solver=orch(agents=AGENTS, merger="orchfake/vote"), limit=limit,
                         display="none", log_dir=str(tmp_path / "plain"))[0]
    assert plain.status == "success"
    before = call_counts()
    log = inspect_eval(TASK, model=None, solver=orch(agents=AGENTS, merger="orchfake/vote", dispatch=True),
                       limit=limit, display="none", log_dir=str(tmp_path / "dispatch"))[0]
    assert log.status == "success", log.error
    made = call_counts() - before
    assert made == Counter({"gold:p=0.8:seed=d1": 2 * limit, "gold:p=0.6:seed=d2": limit,
                            "gold:p=0.4:seed=d3": limit, "vote": limit})
    for s in log.samples or []:
        d = s.metadata["orch"]
        assert d["dispatch"]["slot"] == 0 and d["dispatch"]["fallback"] == "none"
        assert [a["focus"] for a in d["agents"]] == d["dispatch"]["subquestions"]
    # rerun: everything from the cache
    before = call_counts()
    again = inspect_eval(TASK, model=None, solver=orch(agents=AGENTS, merger="orchfake/vote", dispatch=True),
                         limit=limit, display="none", log_dir=str(tmp_path / "again"))[0]
    assert again.status == "success" and call_counts() == before
    # a dispatcher that writes one sub-question: the other two agents' ordinary analyses are the
    # plain run's (cache hits), so only the dispatch, one focused analysis and the merge are new
    partial = [AGENTS[0] + ":subq=1", *AGENTS[1:]]
    plain2 = inspect_eval(TASK, model=None, solver=orch(agents=partial, merger="orchfake/vote"), limit=limit,
                          display="none", log_dir=str(tmp_path / "plain2"))[0]
    assert plain2.status == "success"
    before = call_counts()
    part = inspect_eval(TASK, model=None, solver=orch(agents=partial, merger="orchfake/vote", dispatch=True),
                        limit=limit, display="none", log_dir=str(tmp_path / "partial"))[0]
    assert part.status == "success"
    assert call_counts() - before == Counter({"gold:p=0.8:seed=d1:subq=1": 2 * limit, "vote": limit})
