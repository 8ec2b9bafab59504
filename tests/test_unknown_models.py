"""An unknown local model is refused with one clear message, before any model call (issue 18, item 3).

``gguf/qwen2.5-7b-instruct`` is not in the catalog. It used to print 236 lines of exception-group
traceback before the useful line, and ``orch-eval panel show`` accepted such a panel silently. Now
every front door names the model, the catalog's names and ``orch-eval models list``: the panel
check (``check_models``: ``panel show``, ``-S``/``-M`` panels, experiments, the lm-eval model)
looks the name up in the catalog without loading anything, and the provider's constructor raises
an Inspect ``PrerequisiteError`` for the models Inspect builds itself (``--model-role``), which the
``inspect`` CLI prints as its message alone.

The mixed panels hold an ``orchfake`` agent as well: it writes a line to ``ORCH_FAKE_CALL_LOG`` on
every call, so an empty log shows that nothing was called (test_bad_config's control run shows
that the log does fill when calls are made).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orch_eval.cli import main
from orch_eval.core.errors import OrchConfigError
from orch_eval.models import catalog
from orch_eval.models.fake import CALL_LOG_ENV, call_counts
from tests.conftest import BIN, subprocess_env

UNKNOWN = "gguf/qwen2.5-7b-instruct"
TASK = "inspect_evals/mmlu_0_shot"
# what every message says: the model, the catalog's names, the command that lists them
SAYS = [
    "Unknown model 'qwen2.5-7b-instruct'",
    "Catalog models: smollm2-135m-instruct, gemma3-270m, qwen2.5-coder-0.5b-instruct, qwen2.5-coder-1.5b-instruct",
    "(see `orch-eval models list`)",
]
NOT_A_CRASH = ["Traceback", "ExceptionGroup", "╭", "sub-exception"]

CASES: dict[str, list[str]] = {
    "solver_args": [str(BIN / "inspect"), "eval", TASK, "--limit", "1", "--model", "none", "--solver", "orch_eval/orch",
                    "-S", f"agents=orchfake/gold,{UNKNOWN}", "-S", "merger=orchfake/vote", "--display", "plain"],
    "model_role": [str(BIN / "inspect"), "eval", TASK, "--limit", "1", "--model", "none", "--solver", "orch_eval/orch",
                   "--model-role", f"agents=orchfake/gold,{UNKNOWN}", "--model-role", "merger=orchfake/vote",
                   "--display", "plain"],
    "lm_eval": [str(BIN / "orch-lm-eval"), "--model", "orch", "--model_args",
                f"agents=orchfake/gold|{UNKNOWN},merger=orchfake/vote", "--tasks", "gsm8k", "--limit", "1"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str, Path]]:
    """Every case at once: name -> (exit code, stdout, stderr, call log)."""
    base = tmp_path_factory.mktemp("unknown_models")
    procs = {}
    for name, cmd in CASES.items():
        d = base / name
        d.mkdir()
        log = d / "calls.jsonl"
        env = subprocess_env(**{CALL_LOG_ENV: str(log), "INSPECT_CACHE_DIR": str(d / "cache"), "COLUMNS": "200"})
        procs[name] = (subprocess.Popen(cmd, cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True), log)
    out = {}
    for name, (proc, log) in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[name] = (proc.returncode, stdout, stderr, log)
    return out


def _checked(runs: dict[str, tuple[int, str, str, Path]], name: str) -> tuple[int, list[str], list[str]]:
    rc, stdout, stderr, log = runs[name]
    assert not log.exists() or log.read_text() == "", f"{name}: a model was called:\n{log.read_text()}"
    text = " ".join((stdout + stderr).split())  # undo rich's line wrapping
    for s in SAYS:
        assert s in text, (s, text[-3000:])
    for s in NOT_A_CRASH:
        assert s not in text, (s, text[-3000:])
    return rc, stdout.splitlines(), stderr.splitlines()


def test_inspect_solver_args_refuse_an_unknown_gguf_model(runs: dict[str, tuple[int, str, str, Path]]) -> None:
    rc, out, err = _checked(runs, "solver_args")
    assert rc == 1
    assert len(err) < 15, err
    text = " ".join(" ".join(out).split())
    # the solver is built after Inspect has loaded the task (dataset notices come first): then one message
    assert f"orch_eval/orch: invalid panel in -S agents=... / -S merger=...: agents.1.model: '{UNKNOWN}': " in text
    assert "Log:" not in text and "Running" not in text  # no eval (and no log) was started


def test_inspect_model_role_refuses_an_unknown_gguf_model(runs: dict[str, tuple[int, str, str, Path]]) -> None:
    # Inspect builds role models itself, before any of our code: the provider's own error, printed alone
    rc, out, err = _checked(runs, "model_role")
    assert rc == 1
    assert len(err) < 15, err
    first = [i for i, line in enumerate(out) if line.startswith(UNKNOWN + ": Unknown model")]
    assert first and first[0] < 10, out
    assert len(out) < 20, out


def test_orch_lm_eval_refuses_an_unknown_gguf_model(runs: dict[str, tuple[int, str, str, Path]]) -> None:
    rc, _out, err = _checked(runs, "lm_eval")
    assert rc == 2
    assert err[-1].startswith(f"orch-lm-eval: invalid panel in --model_args: agents.1.model: '{UNKNOWN}': "), err
    assert len(err) < 15, err


# ---- in process ------------------------------------------------------------------------------------


def test_panel_show_refuses_an_unknown_gguf_model_in_one_line(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: bad\nagents:\n  - model: gguf/smollm2-135m-instruct\n  - model: {UNKNOWN}\n"
                   "merger:\n  model: gguf/smollm2-135m-instruct\n")
    assert main(["panel", "show", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"orch-eval: invalid panel in {bad}: agents.1.model: '{UNKNOWN}': Unknown model ")
    for s in SAYS:
        assert s in lines[0]


def test_panel_show_accepts_catalog_names_files_and_hub_references(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    gguf_file = tmp_path / "mine.gguf"
    gguf_file.write_bytes(b"GGUF")  # only its existence is checked: nothing is loaded
    good = tmp_path / "good.yaml"
    good.write_text(f"agents:\n  - model: gguf/gemma3-270m\n  - model: gguf/{gguf_file}\n"
                    "  - model: gguf/hf:owner/repo/model.gguf\nmerger:\n  model: gguf/smollm2-135m-instruct\n")
    assert main(["panel", "show", str(good)]) == 0
    assert "digest" in capsys.readouterr().out
    assert main(["panel", "show", "local"]) == 0  # the shipped preset


def test_check_reference_loads_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.MODELS_DIR_ENV, str(tmp_path / "empty"))  # no assembled files at all
    assert catalog.check_reference("qwen2.5-coder-1.5b-instruct") == "catalog"
    f = tmp_path / "x.gguf"
    f.write_bytes(b"GGUF")
    assert catalog.check_reference(str(f)) == "file"
    assert catalog.check_reference("hf:owner/repo/file.gguf") == "hf"
    with pytest.raises(catalog.ModelNotAvailableError) as info:
        catalog.check_reference("qwen2.5-7b-instruct")
    assert info.value.command == "orch-eval models list"
    for s in SAYS:
        assert s in str(info.value)
    with pytest.raises(catalog.ModelNotAvailableError, match="Model file '/no/such.gguf' does not exist"):
        catalog.check_reference("/no/such.gguf")
    assert not (tmp_path / "empty").exists()  # nothing assembled


def test_the_provider_raises_a_brief_inspect_error(tmp_path: Path) -> None:
    from inspect_ai import eval as inspect_eval
    from inspect_ai._util.error import PrerequisiteError
    from inspect_ai.model import get_model

    from orch_eval.inspect.solvers import orch
    from orch_eval.models.gguf import GGUFSetupError

    with pytest.raises(GGUFSetupError) as info:
        get_model(UNKNOWN, memoize=False)
    assert isinstance(info.value, PrerequisiteError) and isinstance(info.value, catalog.ModelNotAvailableError)
    assert info.value.message == str(info.value)
    assert str(info.value).startswith(f"{UNKNOWN}: Unknown model 'qwen2.5-7b-instruct'")
    # bad model args too
    with pytest.raises(GGUFSetupError, match=r"^gguf/smollm2-135m-instruct: Unknown gguf model arg\(s\): n_thread\."):
        get_model("gguf/smollm2-135m-instruct", n_thread=2, memoize=False)
    # as a model role, built by Inspect before the eval starts
    with pytest.raises(GGUFSetupError, match="Unknown model 'qwen2.5-7b-instruct'"):
        inspect_eval(TASK, model=None, solver=orch(cache=False), limit=1, display="none", log_dir=str(tmp_path),
                     model_roles={"agents": ["orchfake/gold", UNKNOWN], "merger": "orchfake/vote"})
    assert sum(call_counts().values()) == 0


@pytest.mark.parametrize("field", ["agents", "merger"])
def test_experiments_and_the_lm_eval_model_refuse_an_unknown_gguf_model(field: str, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from orch_eval.lm_eval.model import OrchLM

    agents, merger = ("orchfake/gold", UNKNOWN) if field == "merger" else (f"orchfake/gold;{UNKNOWN}", "orchfake/vote")
    with pytest.raises(OrchConfigError, match=f"{field}.*'{UNKNOWN}': Unknown model"):
        OrchLM(agents=agents, merger=merger)
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"name: x\npanel: {{agents: [{agents.replace(';', ', ')}], merger: {merger}}}\n"
                   "benchmarks: [{task: gsm8k, items: {n: 2}}]\nsystems: [orch]\nreference: null\n")
    for extra in (["--dry-run"], []):
        assert main(["run", str(exp), "--log-dir", str(tmp_path / "logs"), "--display", "none", *extra]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"orch-eval: invalid panel in {exp}: panel: "), err
        assert f"'{UNKNOWN}': Unknown model" in err[0]
    assert not (tmp_path / "logs").exists()
    assert sum(call_counts().values()) == 0
