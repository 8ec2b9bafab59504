"""Engine unit tests: prompts, anonymisation, fallbacks, answer completion, cache scopes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from orch_eval.core.engine import Orchestrator, majority_vote
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel, load_panel
from orch_eval.core.parse import parse_letter
from orch_eval.core.prompts import analysis_prompt, merge_prompt, neutralise, strip_quoted
from orch_eval.core.question import AnswerKind, Question
from orch_eval.models.fake import call_counts

Q = Question(id="q1", stem="Which organelle digests waste?", options=["Ribosome", "Nucleus", "Lysosome", "Golgi"], gold="C")
QN = Question(id="n1", stem="Tom has 3 apples and buys 4 more. How many?", kind=AnswerKind.numeric, gold="7")


def decide(panel: Panel, q: Question = Q):  # type: ignore[no-untyped-def]
    return anyio.run(lambda: Orchestrator(panel, cache=False).decide(q))


def test_majority_vote_ties_go_to_panel_order() -> None:
    assert majority_vote(["B", "A", "A", "B"]) == "B"
    assert majority_vote([None, "C", "D"]) == "C"
    assert majority_vote(["D", "C", "C"]) == "C"
    assert majority_vote([None, None]) is None


def test_analysis_prompt_is_pure_and_lists_options() -> None:
    p1, p2 = analysis_prompt(Q, "elimination"), analysis_prompt(Q, "elimination")
    assert p1 == p2
    assert "C) Lysosome" in p1 and 'ANSWER: X' in p1 and "option elimination" in p1
    assert "Do not write code" in analysis_prompt(QN)


def test_merge_prompt_anonymises_in_panel_order_and_neutralises() -> None:
    analyses = [("Analyst 1", "B", "Reasoning one.\nANSWER: B"), ("Analyst 2", None, "cut off")]
    text = merge_prompt(Q, analyses)
    assert text.index("Analyst 1") < text.index("Analyst 2")
    assert "\nANSWER: B" not in text  # analysis answer lines are rewritten and quoted
    assert "| Proposed answer: B" in text
    assert "(proposed answer: none stated)" in text
    assert parse_letter(strip_quoted(neutralise("ANSWER: D"))) is None


def test_merge_prompt_styles() -> None:
    """``judge`` is the text every recorded digest was made with (byte for byte: it is part of
    every merge's cache key); ``solve`` asks the merger to work the task out itself."""
    analyses = [("Analyst 1", "7", "3 + 4 = 7.\nANSWER: 7"), ("Analyst 2", "12", "3 * 4 = 12.\nANSWER: 12")]
    judge = merge_prompt(QN, analyses)
    assert judge == merge_prompt(QN, analyses, "judge")
    assert hashlib.sha256(judge.encode()).hexdigest()[:16] == "57353bf8a3bea323"
    assert hashlib.sha256(merge_prompt(Q, analyses[:1]).encode()).hexdigest()[:16] == "9d82ce9e4e8da750"
    solve = merge_prompt(QN, analyses, "solve")
    assert solve.startswith("You are the final judge.")  # every merge opens the same way
    assert "solve the task yourself" in solve and "at most three sentences" not in solve
    assert "do not write code" in solve and "do not write code" not in merge_prompt(Q, analyses, "solve")
    assert "| Proposed answer: 12" in solve and "\nANSWER: 12" not in solve  # quoted as for judge


def test_merge_style_enters_the_digest_only_when_solve() -> None:
    base = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote")
    judge = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", merge_style="judge")
    solve = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", merge_style="solve")
    assert base.digest() == judge.digest() != solve.digest()
    bigger = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", budgets={"merge": 999})
    assert bigger.digest() != base.digest()
    # how a panel merges is not part of its analyses: they keep their cache entries
    assert solve.agent_digest(0) == bigger.agent_digest(0) == base.agent_digest(0)
    longer = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", budgets={"analysis": 999})
    assert longer.agent_digest(0) != base.agent_digest(0)
    with pytest.raises(OrchConfigError, match="merge_style"):
        Panel.from_args("orchfake/gold", "orchfake/vote", merge_style="vote")


def test_orch_decides_by_merger() -> None:
    panel = Panel.from_args("orchfake/gold:seed=1,orchfake/fixed:letter=A,orchfake/fixed:letter=B", "orchfake/gold:seed=9")
    d = decide(panel)
    assert d.final == "C" and d.decided_by == "merger" and d.correct is True
    assert [a.answer for a in d.agents] == ["C", "A", "B"]
    assert d.majority == "C"  # three-way tie: the first agent in panel order
    assert d.oracle is True
    assert d.usage.input_tokens > 0 and d.merge is not None


def test_fallback_to_majority_when_merger_fails() -> None:
    panel = Panel.from_args(
        "orchfake/fixed:letter=B,orchfake/fixed:letter=B,orchfake/gold", "orchfake/gold:fail=1:fault=error"
    )
    d = decide(panel)
    assert d.final == "B" and d.decided_by == "majority"
    assert d.merge is not None and d.merge.fault == "error" and "RuntimeError" in (d.merge.error or "")
    assert d.correct is False and d.oracle is True


def test_abstain_when_nothing_parses() -> None:
    panel = Panel.from_args(
        "orchfake/gold:fail=1:fault=garbage,orchfake/gold:fail=1:fault=empty", "orchfake/gold", completion_step=False
    )
    d = decide(panel)
    assert d.final is None and d.decided_by == "abstain" and d.correct is False
    assert [a.fault for a in d.agents] == ["unparsable", "empty"]
    assert d.merge is None  # fewer parsed analyses than min_analyses=1: merger skipped


def test_answer_completion_step_is_recorded() -> None:
    panel = Panel.from_args("orchfake/noanswer", "orchfake/gold")
    d = decide(panel)
    agent = d.agents[0]
    assert agent.answer == "C" and agent.completion_used and agent.completion_text == "ANSWER: C"
    without = decide(Panel.from_args("orchfake/noanswer", "orchfake/gold", completion_step=False))
    assert without.agents[0].answer is None and without.agents[0].fault == "unparsable"


def test_injected_answer_lines_never_become_the_merge() -> None:
    # the analyses shout ANSWER: A/B at the merger; an echoing merger repeats them verbatim
    panel = Panel.from_args("orchfake/inject,orchfake/inject:seed=2", "orchfake/echo")
    d = decide(panel)
    assert d.merge is not None and "ANSWER" not in strip_quoted(d.merge.text)
    assert d.decided_by != "merger"  # the echo is not the merger's own answer
    # the fallback is the agents' own final answers (gold), not the decoy
    assert d.final == "C"


def test_numeric_question() -> None:
    panel = Panel.from_args("orchfake/gold,orchfake/gold:p=0:seed=4", "orchfake/vote")
    d = decide(panel, QN)
    assert d.agents[0].answer == "7" and d.agents[1].answer != "7"
    assert d.final == "7" and d.correct


def test_min_analyses_skips_merger() -> None:
    panel = Panel.from_args(
        "orchfake/gold,orchfake/gold:fail=1:fault=empty", "orchfake/gold:seed=m", min_analyses=2
    )
    d = decide(panel)
    assert d.merge is None and d.decided_by == "majority" and any("min_analyses" in n for n in d.notes)


def test_cache_scopes() -> None:
    panel = Panel.from_args("orchfake/gold,orchfake/gold", "orchfake/vote")
    o = Orchestrator(panel)
    a0, a1, m = o.agent_cache(0), o.agent_cache(1), o.merge_cache()
    assert a0.scopes != a1.scopes  # same model in two slots: separate entries
    other = Orchestrator(Panel.from_args("orchfake/gold,orchfake/gold", "orchfake/gold"))
    assert other.agent_cache(0).scopes == a0.scopes  # analyses do not depend on the merger
    assert other.merge_cache().scopes != m.scopes  # merges do
    assert a0.expiry is None


def test_cached_decide_makes_no_calls() -> None:
    panel = Panel.from_args("orchfake/gold:seed=1,orchfake/gold:seed=2", "orchfake/vote")
    first = anyio.run(lambda: Orchestrator(panel).decide(Q))
    n = sum(call_counts().values())
    second = anyio.run(lambda: Orchestrator(panel).decide(Q))
    assert sum(call_counts().values()) == n == 3
    assert first.final == second.final and first.agent_answers() == second.agent_answers()


def test_panel_digest_stable_and_sensitive(tmp_path: Path) -> None:
    a = Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote")
    b = Panel.from_args(["orchfake/gold", "orchfake/vote"], "orchfake/vote")
    assert a.digest() == b.digest() and len(a.digest()) == 12
    assert a.digest() != Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/gold").digest()
    assert a.digest() != Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", seed=1).digest()
    assert a.digest() != Panel.from_args("orchfake/gold,orchfake/vote", "orchfake/vote", lenses="auto").digest()
    f = tmp_path / "p.yaml"
    f.write_text("agents: [orchfake/gold, orchfake/vote]\nmerger: orchfake/vote\n")
    assert load_panel(str(f)).digest() == a.digest()


def test_lenses_auto_assignment() -> None:
    p = Panel.from_args("orchfake/gold,orchfake/gold,orchfake/gold,orchfake/gold", "orchfake/vote", lenses="auto")
    assert [p.lens_of(i) for i in range(4)] == ["concept", "elimination", "verification", "concept"]


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("agents: [gpt4]\nmerger: orchfake/vote\n", "agents.0.model"),
        ("agents: []\nmerger: orchfake/vote\n", "agents"),
        ("agents: [orchfake/gold]\nmerger: orchfake/vote\nseed: many\n", "seed"),
        ("agents: [orchfake/gold]\nmerger: orchfake/vote\nbudgets: {analysis: -5}\n", "budgets.analysis"),
        ("agents: [orchfake/gold]\nmerger: orchfake/vote\nmistake: 1\n", "mistake"),
        ("agents: [{model: orchfake/gold, lens: sideways}]\n", "unknown lens"),
        ("agents: [orchfake/gold]\nmin_analyses: 3\n", "min_analyses=3"),
        ("agents: [{model: orchfake/gold, config: {temperature: hot}}]\n", "temperature"),
        ("agents: [orchfake/gold\n", "invalid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_bad_panel_files_name_the_field(tmp_path: Path, yaml_text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(yaml_text)
    with pytest.raises(OrchConfigError) as ex:
        load_panel(str(f))
    assert message in str(ex.value)
    assert str(f) in str(ex.value)


def test_unknown_preset_lists_known_ones() -> None:
    with pytest.raises(OrchConfigError, match="not found.*Known presets"):
        load_panel("no-such-panel")


@pytest.mark.parametrize("preset", sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "solvers").glob("*.yaml")))
def test_every_preset_loads(preset: str) -> None:
    panel = load_panel(preset)
    assert panel.name == preset and len(panel.digest()) == 12


def test_solve_preset_is_the_local_panel_with_a_solving_merger() -> None:
    local, solve = load_panel("local"), load_panel("local-solve")
    assert solve.merge_style == "solve" and local.merge_style == "judge"
    assert solve.budgets.merge == solve.budgets.analysis_numeric > local.budgets.merge
    assert [solve.agent_digest(i) for i in range(3)] == [local.agent_digest(i) for i in range(3)]
    assert solve.model_dump(exclude={"name", "merge_style", "budgets"}) == local.model_dump(exclude={"name", "merge_style", "budgets"})


def test_neutralise_collapses_looping_lines() -> None:
    text = neutralise("D\nAnswer: D\nAnswer: D\nAnswer: D\nend")
    assert text.splitlines() == ["| D", "| Proposed answer: D  [line repeated 3 times]", "| end"]


def test_cut_off_numeric_analysis_goes_to_completion_not_last_number() -> None:
    """A GSM8K analysis cut off mid-calculation: its last number is not an answer."""
    from orch_eval.core.parse import parse_answer

    cut = "Steps:\n1. 16 - 3 - 4 = 9 eggs\n2. 9 * 2 = 18 dollars\n3. Check: 16 * 4 = 64"
    assert parse_answer(cut, "numeric", stated_only=True) is None
    assert parse_answer(cut, "numeric") == "64"  # the lenient reading, used only without completion step
    assert parse_answer(cut + "\nANSWER: 18", "numeric", stated_only=True) == "18"
    assert parse_answer("The answer is \\boxed{18}.", "numeric", stated_only=True) == "18"
