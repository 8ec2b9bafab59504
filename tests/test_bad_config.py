"""Bad configuration fails before any model call, with one message naming the field and the fix
(issue 8).

Each case asserts the message AND that no model was called: in process through orchfake's call
counts (``call_counts()``, reset per test by conftest), across processes through the
``ORCH_FAKE_CALL_LOG`` file (a real fake call appends a line to it; a control run shows that it
does). The ``inspect eval`` cases run the real CLI, all at once (they are independent), in a
module fixture; the other cases (router settings, orchfake behaviours, ...) take the same code
path in process.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval as inspect_eval

from orch_eval.core.errors import OrchConfigError
from orch_eval.inspect.solvers import OrchSetupError, direct, majority_vote, orch, single
from orch_eval.models.fake import CALL_LOG_ENV, call_counts
from tests.conftest import BIN, subprocess_env

TASK = "inspect_evals/mmlu_0_shot"
INSPECT = str(BIN / "inspect")
ORCH_EVAL = str(BIN / "orch-eval")
GOOD = "orchfake/gold,orchfake/gold:seed=2"


@pytest.fixture(autouse=True)
def _call_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv(CALL_LOG_ENV, str(log))
    return log


def no_calls(log: Path) -> None:
    assert sum(call_counts().values()) == 0, call_counts()
    assert not log.exists() or log.read_text() == "", log.read_text()


def raises(match: str, fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(OrchConfigError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert match in msg, msg
    return msg


# ---- through the real `inspect eval` CLI -----------------------------------------------------------

CLI_CASES: dict[str, list[str]] = {
    "control": ["--model", "none", "--solver", "orch_eval/orch", "-S", f"agents={GOOD}", "-S", "merger=orchfake/vote"],
    "provider_arg": ["--model", "none", "--solver", "orch_eval/orch", "-S", "agents=nosuchprovider/x,orchfake/gold",
                     "-S", "merger=orchfake/vote"],
    "preset": ["--model", "none", "--solver", "orch_eval/orch", "-S", "panel=nope"],
    "provider_model": ["--model", "orch/x", "-M", "panel=nope"],
    "missing_merger_role": ["--model", "none", "--solver", "orch_eval/orch", "--model-role", f"agents={GOOD}"],
    "provider_role": ["--model", "none", "--solver", "orch_eval/orch", "--model-role",
                      "agents=nosuchprovider/x,orchfake/gold", "--model-role", "merger=orchfake/vote"],
    "task": [],  # `inspect eval nosuch_task`
}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Run every CLI case concurrently: name -> (exit code, stdout+stderr, call log)."""
    base = tmp_path_factory.mktemp("bad_cli")
    procs = {}
    for name, args in CLI_CASES.items():
        d = base / name
        d.mkdir()
        log = d / "calls.jsonl"
        task = "nosuch_task" if name == "task" else TASK
        cmd = [INSPECT, "eval", task, "--limit", "2", "--log-dir", str(d / "logs"), "--display", "plain",
               *(args or ["--model", "none"])]
        env = subprocess_env(**{CALL_LOG_ENV: str(log), "INSPECT_CACHE_DIR": str(d / "cache"), "COLUMNS": "200"})
        procs[name] = (subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True), log)
    out = {}
    for name, (proc, log) in procs.items():
        text, _ = proc.communicate(timeout=300)
        out[name] = (proc.returncode, text, log)
    return out


def cli_case(cli: dict[str, tuple[int, str, Path]], name: str) -> tuple[int, str]:
    rc, text, log = cli[name]
    assert not log.exists() or log.read_text() == "", f"{name}: a model was called:\n{log.read_text()}"
    return rc, " ".join(text.split())  # undo rich's line wrapping


def test_cli_control_run_makes_calls(cli: dict[str, tuple[int, str, Path]]) -> None:
    rc, text, log = cli["control"]
    assert rc == 0, text[-3000:]
    assert log.exists() and len(log.read_text().splitlines()) == 2 * 3  # 2 items x (2 analyses + 1 merge)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("provider_arg", ["orch_eval/orch: invalid panel in -S agents=", "agents.0.model: unknown model provider "
                          "'nosuchprovider' in 'nosuchprovider/x'", "Fix: use provider/model", "openai", "orchfake"]),
        ("preset", ["orch_eval/orch: panel preset 'nope' not found", "Known presets:", "router-on",
                    "Pass a YAML path or agents=...,merger=..."]),
        ("provider_model", ["orch/x: panel preset 'nope' not found", "Known presets:"]),
    ],
)
def test_cli_fails_before_the_eval_with_one_message(cli: dict[str, tuple[int, str, Path]], name: str,
                                                    expected: list[str]) -> None:
    rc, text = cli_case(cli, name)
    assert rc == 1, text[-3000:]
    for e in expected:
        assert e in text, (e, text[-3000:])
    assert "Traceback" not in text and "╭" not in text  # printed as a message, not as a crash
    assert "Log:" not in text  # no eval (and no log) was started


def test_cli_missing_merger_role(cli: dict[str, tuple[int, str, Path]]) -> None:
    # Role-based panels exist only inside the eval: the error comes at the first sample, before
    # any call, and ends the eval (Inspect shows it with its traceback panel).
    rc, text = cli_case(cli, "missing_merger_role")
    assert "OrchConfigError: missing model role 'merger': add --model-role merger=provider/model" in text, text[-3000:]
    assert "no samples completed" in text


def test_cli_unknown_provider_in_a_model_role(cli: dict[str, tuple[int, str, Path]]) -> None:
    # Inspect resolves --model-role itself, before the solver runs: its own message
    rc, text = cli_case(cli, "provider_role")
    assert rc == 1
    assert "Model API nosuchprovider of model 'nosuchprovider/x' not recognized" in text, text[-3000:]


def test_cli_unknown_task(cli: dict[str, tuple[int, str, Path]]) -> None:
    rc, text = cli_case(cli, "task")
    assert "No inspect tasks were found at the specified paths" in text, text[-3000:]


# ---- in process ------------------------------------------------------------------------------------


def test_unknown_provider_in_agents_or_merger(_call_log: Path) -> None:
    msg = raises("agents.0.model: unknown model provider 'nosuchprovider'", orch,
                 agents="nosuchprovider/x,orchfake/gold", merger="orchfake/vote")
    assert "Fix: use provider/model" in msg and "install the package that registers 'nosuchprovider'" in msg
    raises("merger.model: unknown model provider 'nosuch'", orch, agents=GOOD, merger="nosuch/m")
    raises("agents.1.model: unknown model provider 'nosuch'", majority_vote, agents="orchfake/gold,nosuch/a")
    raises("orch_eval/single: invalid panel in model=nosuch/m", single, model="nosuch/m")
    raises("orch_eval/direct: invalid panel in model=nosuch/m", direct, model="nosuch/m")
    # a model name without a provider part
    raises("model 'gpt4' is not an Inspect model name: use provider/name", orch, agents="gpt4", merger="orchfake/vote")
    no_calls(_call_log)


def test_errors_are_inspect_prerequisite_errors() -> None:
    from inspect_ai._util.error import PrerequisiteError

    with pytest.raises(OrchSetupError) as info:
        orch(panel="nope")
    assert isinstance(info.value, PrerequisiteError) and isinstance(info.value, ValueError)
    assert info.value.message == str(info.value)


def test_unknown_preset(_call_log: Path) -> None:
    for solver in (orch, majority_vote, single, direct):
        raises("panel preset 'nope' not found", solver, panel="nope")
    msg = raises("Known presets:", orch, panel="nope")
    assert "router-on" in msg and "Pass a YAML path" in msg
    no_calls(_call_log)


def test_invalid_yaml_panel_file(tmp_path: Path, _call_log: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nagents: [orchfake/gold\nmerger: orchfake/vote\n")
    msg = raises(f"{bad}: invalid YAML", orch, panel=str(bad))
    assert "line" in msg  # where in the file
    not_a_panel = tmp_path / "list.yaml"
    not_a_panel.write_text("- orchfake/gold\n")
    raises("a panel must be a mapping with 'agents'", orch, panel=str(not_a_panel))
    no_agents = tmp_path / "noagents.yaml"
    no_agents.write_text("merger: orchfake/vote\n")
    raises("agents: Field required", orch, panel=str(no_agents))
    typo = tmp_path / "typo.yaml"
    typo.write_text("agents: [orchfake/gold]\nmerger: orchfake/vote\nbudget: {analysis: 10}\n")
    raises("budget: Extra inputs are not permitted", orch, panel=str(typo))
    no_merger = tmp_path / "nomerger.yaml"
    no_merger.write_text("name: nm\nagents: [orchfake/gold]\n")
    raises("panel nm has no merger: add 'merger:'", orch, panel=str(no_merger))
    no_calls(_call_log)


def test_router_settings(tmp_path: Path, _call_log: Path) -> None:
    neg = tmp_path / "neg.yaml"
    neg.write_text("agents: [orchfake/gold]\nmerger: orchfake/vote\nrouter: {alpha: -0.1}\n")
    msg = raises(f"invalid panel in {neg}", orch, panel=str(neg))
    assert "router.alpha: router.alpha must satisfy 0 < alpha <= 1, got -0.1" in msg
    high = tmp_path / "high.yaml"
    high.write_text("agents: [orchfake/gold]\nmerger: orchfake/vote\nrouter: {w_acc: high}\n")
    raises("router.w_acc: Input should be a valid number, unable to parse string as a number (got 'high')",
           orch, panel=str(high))
    # the same settings as solver arguments, with a panel and with role-based panels (checked at once)
    for kwargs in ({"agents": GOOD, "merger": "orchfake/vote"}, {}):
        raises("router.alpha: must satisfy 0 < alpha <= 1, got -0.1", orch, router={"alpha": -0.1}, **kwargs)
        raises("router.w_acc: Input should be a valid number", orch, router={"w_acc": "high"}, **kwargs)
        raises("router.top_k: Input should be greater than or equal to 1 (got 0)", orch, router="on", top_k=0, **kwargs)
        raises("-S router='maybe': router must be on, off or a mapping", orch, router="maybe", **kwargs)
        raises("router.bogus: Extra inputs are not permitted", orch, router={"bogus": 1}, **kwargs)
    no_calls(_call_log)


def test_unknown_fake_behaviour_and_parameter(_call_log: Path) -> None:
    raises("agents.0.model: orchfake: unknown behaviour 'bogus'; choose one of echo, fixed, gold", orch,
           agents="orchfake/bogus", merger="orchfake/vote")
    raises("merger.model: orchfake/vote:zz=1: unknown parameter(s) zz", orch, agents=GOOD, merger="orchfake/vote:zz=1")
    raises("unknown fault kind 'meltdown'", orch, agents="orchfake/gold:fail=1:fault=meltdown", merger="orchfake/vote")
    no_calls(_call_log)


def test_orch_provider_model(_call_log: Path) -> None:
    from inspect_ai.model import get_model

    raises("orch/x: panel preset 'nope' not found", get_model, "orch/x", panel="nope", memoize=False)
    raises("orch/y: no panel. Pass -M panel=", get_model, "orch/y", memoize=False)
    raises("orch/z: invalid panel in -M agents=... / -M merger=...: agents.0.model: unknown model provider 'nosuch'",
           get_model, "orch/z", agents="nosuch/a", merger="orchfake/vote", memoize=False)
    no_calls(_call_log)


def test_missing_merger_role_in_process(tmp_path: Path, _call_log: Path) -> None:
    log = inspect_eval(TASK, model=None, solver=orch(cache=False), limit=2, display="none", log_dir=str(tmp_path),
                       model_roles={"agents": GOOD.split(",")})[0]
    assert log.status == "error" and log.error is not None
    assert "missing model role 'merger': add --model-role merger=provider/model" in log.error.message
    assert "orch_eval/majority_vote" in log.error.message  # the other fix
    log = inspect_eval(TASK, model=None, solver=orch(cache=False), limit=2, display="none", log_dir=str(tmp_path))[0]
    assert log.status == "error" and log.error is not None
    assert "no panel: pass --model-role agents=" in log.error.message
    no_calls(_call_log)


def test_unknown_orchfake_behaviour_as_a_model_role(tmp_path: Path, _call_log: Path) -> None:
    # Inspect builds role models itself, before the eval starts (orchfake refuses the behaviour)
    with pytest.raises(ValueError, match="orchfake: unknown behaviour 'bogus'"):
        inspect_eval(TASK, model=None, solver=orch(cache=False), limit=2, display="none", log_dir=str(tmp_path),
                     model_roles={"agents": ["orchfake/bogus"], "merger": "orchfake/vote"})
    no_calls(_call_log)


def test_orch_eval_run_unknown_task_and_bad_panel(tmp_path: Path, _call_log: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("orch_eval.experiment")
    from orch_eval.cli import main

    bad_task = tmp_path / "task.yaml"
    bad_task.write_text("name: x\npanel: {agents: [orchfake/gold], merger: orchfake/vote}\n"
                        "benchmarks: [{task: nosuch_task, items: {n: 2}}]\nsystems: [orch]\nreference: null\n")
    assert main(["run", str(bad_task), "--log-dir", str(tmp_path / "l1")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "benchmarks.0.task: unknown benchmark 'nosuch_task'; known benchmarks: mmlu_0_shot" in err, err
    bad_panel = tmp_path / "panel.yaml"
    bad_panel.write_text("name: y\npanel: {agents: [nosuchprovider/x], merger: orchfake/vote}\n"
                         "benchmarks: [{task: mmlu_0_shot, items: {n: 2}}]\nsystems: [orch]\nreference: null\n")
    rc = main(["run", str(bad_panel), "--log-dir", str(tmp_path / "l2"), "--display", "none"])
    err = " ".join(capsys.readouterr().err.split())
    assert rc == 2, err
    assert "unknown model provider 'nosuchprovider'" in err, err
    no_calls(_call_log)
