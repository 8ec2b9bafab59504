"""The methods beside ORCH (self-consistency, Self-MoA, MoA, debate) on the deterministic fake
provider, through the real ``inspect eval`` machinery on real MMLU / GSM8K items.

Checked against the documented formulas and an independent statement of the fake's rule
(``tests/fakeref.py``): calls per item, calls shared between methods made once, answers at
max-samples 1 and 16 and on a cached rerun, ``self_consistency(k=1, temperature=0)`` equal to
``single`` with its cache entries, pairing with ORCH in ``orch-eval compare``, and the fixed
fallback chains under injected faults.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from orch_eval.core.errors import OrchConfigError
from orch_eval.core.methods import method_from_args
from orch_eval.core.panel import Panel
from orch_eval.inspect.solvers import debate, moa, orch, self_consistency, self_moa, single
from orch_eval.models.fake import call_counts
from tests.fakeref import gold_agent_letter, gold_agent_number, vote

AGENTS = ["orchfake/gold:p=0.8:seed=m1", "orchfake/gold:p=0.6:seed=m2", "orchfake/gold:p=0.4:seed=m3"]
MERGER = "orchfake/vote"
PANEL = {"agents": ",".join(AGENTS), "merger": MERGER}
N = 12


def run(solver: Any, task: str = "inspect_evals/mmlu_0_shot", n: int = N, max_samples: int = 8) -> EvalLog:
    log = inspect_eval(task, model="none/none", solver=solver, limit=n, display="none", max_samples=max_samples,
                       log_dir=None, log_format="eval")[0]
    assert log.status == "success", log.error
    assert log.samples is not None and len(log.samples) == n
    return log


def decisions(log: EvalLog) -> list[dict[str, Any]]:
    return [s.metadata["orch"] for s in log.samples or []]


def finals(log: EvalLog) -> dict[str, Any]:
    return {str(s.id): s.metadata["orch"]["final"] for s in log.samples or []}


def delta(before: Counter[str]) -> Counter[str]:
    return call_counts() - before


# ---------------------------------------------------------------------------- calls per item


@pytest.mark.parametrize(
    "name, solver, per_item",
    [
        ("sc", lambda: self_consistency(agents=PANEL["agents"], agent=1, k=4, temperature=0.7), {AGENTS[1]: 4}),
        ("self_moa", lambda: self_moa(agents=PANEL["agents"], agent=1, k=4), {AGENTS[1]: 5}),
        ("self_moa_panel", lambda: self_moa(panel={"agents": AGENTS, "merger": MERGER}, agent=0, k=3, merger="panel"), {AGENTS[0]: 3, MERGER: 1}),
        ("moa", lambda: moa(**PANEL, layers=3), {**{a: 3 for a in AGENTS}, MERGER: 1}),
        ("debate", lambda: debate(**PANEL, rounds=3), {a: 3 for a in AGENTS}),
        ("debate_merge", lambda: debate(**PANEL, rounds=2, merge=True), {**{a: 2 for a in AGENTS}, MERGER: 1}),
    ],
)
def test_calls_per_item_equal_the_formula(name: str, solver: Any, per_item: dict[str, int]) -> None:
    before = call_counts()
    log = run(solver())
    made = delta(before)
    assert {m.removeprefix("orchfake/"): c for m, c in per_item.items()} == {
        m: c / N for m, c in made.items()
    }, made
    for d in decisions(log):
        assert d["calls"] == sum(per_item.values())  # the per-item record counts them too
        assert d["usage"]["output_tokens"] > 0


def test_formula_of_each_method() -> None:
    panel = Panel.from_args(AGENTS, MERGER)
    assert method_from_args("self_consistency", {"k": "7"}).calls(panel) == 7
    assert method_from_args("self_moa", {"k": 5}).calls(panel) == 6
    assert method_from_args("moa", {"layers": 2}).calls(panel) == 3 * 2 + 1
    assert method_from_args("debate", {"rounds": 3}).calls(panel) == 9
    assert method_from_args("debate", {"rounds": 2, "merge": "true"}).calls(panel) == 7


# ---------------------------------------------------------------------------- shared calls


def test_shared_calls_are_made_once() -> None:
    """One cache: ORCH's analyses are MoA's layer 1 and debate's round 1; Self-MoA reuses the
    self-consistency samples; self_consistency(k=1, T=0) is the greedy analysis ORCH made."""
    before = call_counts()
    run(orch(**PANEL))
    assert sum(delta(before).values()) == N * 4
    before = call_counts()
    run(moa(**PANEL, layers=2))
    assert delta(before) == Counter({a.removeprefix("orchfake/"): N for a in AGENTS} | {"vote": N})
    before = call_counts()
    run(moa(**PANEL, layers=1))  # one layer = ORCH's analyses and merge: all cached
    assert sum(delta(before).values()) == 0
    before = call_counts()
    run(debate(**PANEL, rounds=2))
    assert delta(before) == Counter({a.removeprefix("orchfake/"): N for a in AGENTS})
    before = call_counts()
    run(self_consistency(agents=PANEL["agents"], agent=0, k=3))
    assert delta(before) == Counter({AGENTS[0].removeprefix("orchfake/"): 3 * N})
    before = call_counts()
    run(self_moa(agents=PANEL["agents"], agent=0, k=3))  # the same samples: only the merges are new
    assert delta(before) == Counter({AGENTS[0].removeprefix("orchfake/"): N})
    before = call_counts()
    run(self_consistency(agents=PANEL["agents"], agent=0, k=1, temperature=0))
    assert sum(delta(before).values()) == 0


def test_sc_k1_t0_is_exactly_the_single_baseline() -> None:
    for task in ("inspect_evals/mmlu_0_shot", "inspect_evals/gsm8k"):
        before = call_counts()
        base = run(single(agents=PANEL["agents"], agent=2), task)
        assert sum(delta(before).values()) == N
        before = call_counts()
        sc = run(self_consistency(agents=PANEL["agents"], agent=2, k=1, temperature=0), task)
        assert sum(delta(before).values()) == 0  # its cache entries
        for a, b in zip(decisions(base), decisions(sc)):
            assert (a["final"], a["decided_by"], a["correct"]) == (b["final"], b["decided_by"], b["correct"])
            assert a["agents"][0]["text"] == b["agents"][0]["text"]


# ---------------------------------------------------------------------------- answers


def test_self_consistency_is_the_majority_of_seeded_samples() -> None:
    """Sample i is the fake's draw for seed (panel seed + i); the vote breaks ties by sample order."""
    k = 5
    for task, seed in (("inspect_evals/mmlu_0_shot", 0), ("inspect_evals/gsm8k", 3)):
        log = run(self_consistency(agents=PANEL["agents"], agent=1, k=k, temperature=0.7, seed=seed), task)
        differed = 0
        for sample, d in zip(log.samples or [], decisions(log)):
            stem, gold = str(sample.input), str(sample.target)
            if sample.choices:
                expected = [gold_agent_letter(stem, gold, len(sample.choices), 0.6, "m2", sample=seed + i) for i in range(k)]
            else:
                expected = [gold_agent_number(stem, gold, 0.6, "m2", sample=seed + i) for i in range(k)]
            assert [a["answer"] for a in d["agents"]] == expected
            assert [a["sample"] for a in d["agents"]] == list(range(k))
            assert d["final"] == vote(expected)
            assert d["decided_by"] == "majority" and d["method"] == "self_consistency"
            differed += len(set(expected)) > 1
        assert differed > 0  # the samples really differ: the vote is exercised


def test_debate_and_moa_pass_answers_between_rounds() -> None:
    """With 'vote' analysts (they follow the majority they are shown after round 1): debate round
    2 of agent i = vote(own round-1 answer, then the others' in panel order); MoA layer 2 = vote of
    layer 1 in panel order; the final answer is the vote of the last round."""
    agents = [f"orchfake/vote:p={p}:seed=v{i}" for i, p in enumerate((0.9, 0.3, 0.3))]
    log = run(debate(agents=",".join(agents), merger=MERGER, rounds=2))
    for sample, d in zip(log.samples or [], decisions(log)):
        stem, gold, n = str(sample.input), str(sample.target), len(sample.choices or [])
        first = [gold_agent_letter(stem, gold, n, p, f"v{i}") for i, p in enumerate((0.9, 0.3, 0.3))]
        assert [a["answer"] for a in d["agents"]] == first
        second = [vote([first[i]] + [first[j] for j in range(3) if j != i]) for i in range(3)]
        assert [a["answer"] for a in d["rounds"][0]] == second
        assert [a["round"] for a in d["rounds"][0]] == [2, 2, 2]
        assert d["final"] == vote(second)
    log = run(moa(agents=",".join(agents), merger=MERGER, layers=2))
    for sample, d in zip(log.samples or [], decisions(log)):
        stem, gold, n = str(sample.input), str(sample.target), len(sample.choices or [])
        first = [gold_agent_letter(stem, gold, n, p, f"v{i}") for i, p in enumerate((0.9, 0.3, 0.3))]
        assert [a["answer"] for a in d["rounds"][0]] == [vote(first)] * 3
        assert d["final"] == vote(first) and d["decided_by"] == "merger"


def test_answers_identical_at_any_concurrency_and_on_a_cached_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each method gives the same answers from cold caches at max-samples 1 and 16 (the calls
    really made at 16), and a cached rerun at 16 makes no call."""
    solvers = {
        "sc": lambda: self_consistency(agents=PANEL["agents"], agent=0, k=3),
        "self_moa": lambda: self_moa(agents=PANEL["agents"], agent=0, k=3),
        "moa": lambda: moa(**PANEL, layers=2),
        "debate": lambda: debate(**PANEL, rounds=2),
    }
    for name, make in solvers.items():
        monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / name / "one"))
        before = call_counts()
        one = finals(run(make(), max_samples=1))
        cold_calls = sum(delta(before).values())
        monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / name / "many"))  # cold again
        before = call_counts()
        many = finals(run(make(), max_samples=16))
        assert sum(delta(before).values()) == cold_calls > 0, name  # every call made again, concurrently
        assert one == many, name
        before = call_counts()
        again = finals(run(make(), max_samples=16))
        assert sum(delta(before).values()) == 0, name  # cached rerun: no call
        assert again == one, name


# ---------------------------------------------------------------------------- faults


def _majority_of_rounds(d: dict[str, Any]) -> tuple[Any, int]:
    rounds = [d["agents"], *d["rounds"]]
    for depth, layer in enumerate(reversed(rounds)):
        v = [a["answer"] for a in layer if a["answer"] is not None]
        if v:
            return vote(v), depth
    return None, -1


def test_faults_take_the_documented_fallbacks() -> None:
    faulty = [f"orchfake/gold:p=0.7:seed=f{i}:fail=0.35:fault=mixed" for i in range(3)]
    merger = "orchfake/vote:fail=0.4:fault=mixed:seed=fm"
    runs = {
        "sc": run(self_consistency(agents=",".join(faulty), agent=0, k=4, completion_step=False), n=30),
        "self_moa": run(self_moa(agents=",".join(faulty), agent=0, k=4, merger=merger), n=30),
        "moa": run(moa(agents=",".join(faulty), merger=merger, layers=2), n=30),
        "debate": run(debate(agents=",".join(faulty), merger=merger, rounds=2), n=30),
        "debate_merge": run(debate(agents=",".join(faulty), merger=merger, rounds=2, merge=True), n=30),
    }
    seen: Counter[str] = Counter()
    branches: dict[str, Counter[str]] = {name: Counter() for name in runs}
    for name, log in runs.items():
        for d in decisions(log):
            branches[name][d["decided_by"]] += 1
            faults = [a["fault"] for a in [*d["agents"], *[r for layer in d["rounds"] for r in layer]] if a["fault"]]
            seen[name] += bool(faults)
            merge = d["merge"]
            expected, depth = _majority_of_rounds(d)
            if merge is not None and merge["answer"] is not None:
                assert d["final"] == merge["answer"]
                assert d["decided_by"] in ("merger", "merger_completion")
            elif expected is not None:
                assert d["final"] == expected and d["decided_by"] == "majority", (name, d)
                if depth > 0:
                    assert any("majority of round" in n for n in d["notes"])
            else:
                assert d["final"] is None and d["decided_by"] == "abstain"
            if name in ("sc", "debate"):
                assert merge is None
    assert all(seen[name] > 0 for name in runs), seen  # faults really happened in every method
    # the fallbacks were reached, not only the first choice: a failed merge falls back to the vote
    for name in ("self_moa", "moa", "debate_merge"):
        assert branches[name]["merger"] > 0 and branches[name]["majority"] > 0, (name, branches[name])
    assert set(branches["sc"]) <= {"majority", "abstain"} and set(branches["debate"]) <= {"majority", "abstain"}


# ---------------------------------------------------------------------------- arguments


def test_bad_method_arguments_fail_before_the_eval() -> None:
    with pytest.raises(OrchConfigError, match="agent=5 is out of range"):
        self_consistency(agents=PANEL["agents"], agent=5)
    with pytest.raises(OrchConfigError, match="k"):
        self_consistency(agents=PANEL["agents"], k=0)
    with pytest.raises(OrchConfigError, match="no merger"):
        moa(agents=PANEL["agents"])
    with pytest.raises(OrchConfigError, match="unknown method"):
        method_from_args("tree_of_thought")
    with pytest.raises(OrchConfigError, match="rounds"):
        method_from_args("debate", {"rounds": "many"})
    # a flag reads the project's one rule for text flags (orch_eval.core.coerce), as every other flag does
    assert [method_from_args("debate", {"merge": w}).merge for w in ("yes", "On", "1", "no", "off", "none")] == [
        True, True, True, False, False, False]  # fmt: skip
    with pytest.raises(OrchConfigError, match=r"merge='t': expected true or false"):
        method_from_args("debate", {"merge": "t"})


# ---------------------------------------------------------------------------- harness paths


@pytest.mark.parametrize(
    "method, solver, args",
    [
        ("self_consistency", lambda: self_consistency(agents=PANEL["agents"], agent=1, k=3), {"agent": 1, "k": 3}),
        ("self_moa", lambda: self_moa(agents=PANEL["agents"], agent=1, k=3), {"agent": 1, "k": 3}),
        ("moa", lambda: moa(**PANEL, layers=3), {"merger": MERGER, "layers": 3}),
        ("debate", lambda: debate(**PANEL, rounds=3, merge=True), {"merger": MERGER, "rounds": 3, "merge": True}),
    ],
    ids=["self_consistency", "self_moa", "moa", "debate"],
)
def test_provider_path_gives_the_solver_answers(method: str, solver: Any, args: dict[str, Any]) -> None:
    """``--model orch/x -M method=...`` decides the same questions as the solver (the fake keys
    its draws on the sample, so both paths give the same answers), with the same parameters."""
    via_solver = decisions(run(solver()))
    log = inspect_eval("inspect_evals/mmlu_0_shot", model="orch/m", limit=N, display="none",
                       model_args={"agents": PANEL["agents"], "method": method, **args})[0]
    assert log.status == "success", log.error
    via_provider = [s.output.metadata["orch"] for s in log.samples or []]
    assert [d["final"] for d in via_provider] == [d["final"] for d in via_solver]
    assert [d["calls"] for d in via_provider] == [d["calls"] for d in via_solver]
    assert all(d["method"] == method and d["method_params"] == via_solver[0]["method_params"] for d in via_provider)


def test_inspect_cli_passes_method_options(tmp_path: Path) -> None:
    """The method solvers take their options as ``inspect eval -S`` text, as a user types them."""
    import subprocess

    from tests.conftest import subprocess_env
    from tests.served import BIN

    base = [str(BIN / "inspect"), "eval", "inspect_evals/mmlu_0_shot", "--limit", "3", "--model", "none",
            "--display", "none"]  # fmt: skip
    cases = {
        "self_consistency": (["-S", f"model={AGENTS[0]}", "-S", "k=4", "-S", "temperature=0.4"],
                             {"k": 4, "temperature": 0.4}, 4),
        "moa": (["-S", f"agents={PANEL['agents']}", "-S", f"merger={MERGER}", "-S", "layers=3"], {"layers": 3}, 10),
        "debate": (["-S", f"agents={PANEL['agents']}", "-S", "rounds=3"], {"rounds": 3}, 9),
    }  # fmt: skip
    for method, (options, params, calls) in cases.items():
        out = tmp_path / method
        proc = subprocess.run([*base, "--solver", f"orch_eval/{method}", *options, "--log-dir", str(out)],
                              capture_output=True, text=True, env=subprocess_env(), timeout=300)
        assert proc.returncode == 0, proc.stderr
        from inspect_ai.log import read_eval_log

        (path,) = out.glob("*.eval")
        ds = decisions(read_eval_log(str(path)))
        assert len(ds) == 3 and all(d["method"] == method for d in ds), method
        assert all(d["method_params"][k] == v for d in ds for k, v in params.items()), (method, ds[0]["method_params"])
        assert all(d["calls"] == calls for d in ds), (method, [d["calls"] for d in ds])


def test_compare_pairs_methods_with_orch(tmp_path: Path) -> None:
    from orch_eval.cli import main as cli

    logs = []
    for sub, solver in (("orch", orch(**PANEL)), ("sc", self_consistency(agents=PANEL["agents"], agent=0, k=3)),
                        ("debate", debate(**PANEL))):
        log = inspect_eval("inspect_evals/mmlu_0_shot", model="none/none", solver=solver, limit=N, display="none",
                           log_dir=str(tmp_path / sub))[0]
        logs.append(log)
    out = tmp_path / "report.json"
    assert cli(["compare", str(tmp_path / "orch"), str(tmp_path / "sc"), str(tmp_path / "debate"),
                "--reference", "sc3", "--format", "json", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    names = [s["system"] for s in report["systems"]]
    assert f"sc3:{AGENTS[0]}" in names and any(n.startswith("debate2/") for n in names)
    sc = {str(s.id): s.scores["choice"].value == "C" for s in logs[1].samples or []}
    orch_right = {str(s.id): s.scores["choice"].value == "C" for s in logs[0].samples or []}
    row = next(c for c in report["comparisons"] if c["system_a"].startswith("orch/"))
    assert row["system_b"] == f"sc3:{AGENTS[0]}"
    assert row["b"] == sum(orch_right[i] and not sc[i] for i in sc)
    assert row["c"] == sum(sc[i] and not orch_right[i] for i in sc)


# ---------------------------------------------------------------------------- experiments


def test_experiment_kinds_dry_run_counts_the_distinct_calls(tmp_path: Path) -> None:
    """`kind: <method>` systems in an experiment file: the dry run counts each shared call once
    (the methods after ORCH reuse its analyses, Self-MoA the self-consistency samples), and the
    real run makes exactly those calls; the report pairs every method with the declared
    compute-matched reference."""
    import io

    import yaml

    from orch_eval.experiment import run_experiment

    data = {
        "name": "methods",
        "panel": {"name": "fakepanel", "agents": AGENTS, "merger": MERGER},
        "benchmarks": [
            {"task": "mmlu_0_shot", "items": {"n": 8}},
            {"task": "gsm8k", "items": {"n": 6}},
            {"task": "mmlu_abstract_algebra", "harness": "lm_eval", "items": {"n": 4}},
        ],
        "systems": [
            "orch",
            {"kind": "self_consistency", "agent": 0, "k": 3},
            {"kind": "self_moa", "agent": 0, "k": 3},
            {"kind": "moa", "layers": 2},
            {"kind": "debate", "rounds": 2},
        ],
        "reference": f"sc3:{AGENTS[0]}",
        "report": {"bootstrap": 0, "plots": False},
    }
    path = tmp_path / "methods.yaml"
    path.write_text(yaml.safe_dump(data))
    dry = run_experiment(path, dry_run=True, log_dir=tmp_path / "logs", out=io.StringIO())
    expected: Counter[str] = Counter()
    for row in dry.estimate:
        for model, n in row.per_model.items():
            expected[model.split("/", 1)[1]] += n
    per_item = {"orch": 4, f"sc3:{AGENTS[0]}": 3, f"self_moa3:{AGENTS[0]}": 1, "moa2": 3 + 1, "debate2": 3}
    for row in dry.estimate:
        assert row.calls == per_item[row.system] * row.items, row
    result = run_experiment(path, log_dir=tmp_path / "logs", max_samples=4)
    assert result.status == "complete", result.message
    assert call_counts() == expected
    report = json.loads((tmp_path / "logs" / "report.json").read_text())
    for bench in ("mmlu_0_shot", "gsm8k", "lm_eval:mmlu_abstract_algebra"):
        section = report["benchmarks"][bench]
        assert [s["system"] for s in section["systems"]] == list(per_item)
        assert {c["system_a"] for c in section["comparisons"]} == set(per_item) - {f"sc3:{AGENTS[0]}"}


def test_lm_eval_method_matches_inspect(tmp_path: Path) -> None:
    """``--model orch --model_args method=debate,rounds=2`` decides a generative MMLU task's
    questions like the Inspect solver (the same question ids and answers through both harnesses)."""
    import lm_eval

    import orch_eval.lm_eval  # noqa: F401

    out = lm_eval.simple_evaluate(
        model="orch",
        model_args={"agents": ";".join(AGENTS), "merger": MERGER, "method": "debate", "rounds": 2, "progress": False},
        tasks=["mmlu_abstract_algebra_generative"],
        limit=6,
        log_samples=True,
    )
    assert out is not None
    samples = out["samples"]["mmlu_abstract_algebra_generative"]
    model = out["config"]["model_args"]
    assert "debate" in str(model)
    from orch_eval.lm_eval.model import OrchLM

    lm = OrchLM(agents=";".join(AGENTS), merger=MERGER, method="debate", rounds=2)
    assert lm.method.method == "debate" and lm.digest != lm.engine.digest
    for s in samples:
        doc = s["doc"]
        gold = "ABCD"[doc["answer"]]
        first = [gold_agent_letter(doc["question"], gold, 4, float(a.split("p=")[1].split(":")[0]), a.split("seed=")[1])
                 for a in AGENTS]
        # gold agents keep their answer in later rounds: the vote of round 2 is the vote of round 1
        assert s["resps"][0][0] == vote(first)
