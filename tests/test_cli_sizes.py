"""Size-like options are refused at once, everywhere (issue 18, item 1).

``orch-eval demo --items -3`` once planned all 13,937 MMLU items, ``--items 0`` ended in a
traceback and ``run --limit 0 --dry-run`` printed a table of zeros. Each command now refuses a
non-positive size in argparse (exit 2, one error line naming the option) before anything is
loaded or written, and the Python API refuses the same values with an ``OrchConfigError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orch_eval.cli import main
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.sizes import check_size, parse_size, size_problem
from tests.conftest import ROOT

EXPERIMENT = str(ROOT / "experiments" / "local.yaml")
CALIBRATE = ["router", "calibrate", "--panel", "local", "--task", "inspect_evals/gsm8k", "--split", "train",
             "--output", "state.json"]

# (command line before the option, the program argparse names, option, what it must be)
OPTIONS = [
    (["demo"], "orch-eval demo", "--items", "a positive integer"),
    (["run", EXPERIMENT, "--dry-run"], "orch-eval run", "--limit", "a positive integer"),
    (["run", EXPERIMENT], "orch-eval run", "--max-samples", "a positive integer"),
    (["run", EXPERIMENT], "orch-eval run", "--cost-limit", "a positive number"),
    (CALIBRATE, "orch-eval router calibrate", "--limit", "a positive integer"),
    (CALIBRATE, "orch-eval router calibrate", "--max-samples", "a positive integer"),
]


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``orch-eval argv`` in process; argparse must refuse it (exit code 2). Returns stderr's lines."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


@pytest.mark.parametrize("value", ["0", "-3"])
@pytest.mark.parametrize("before, prog, option, wanted", OPTIONS, ids=[f"{o[1][10:]} {o[2]}" for o in OPTIONS])
def test_non_positive_sizes_are_refused_by_argparse(
    before: list[str], prog: str, option: str, wanted: str, value: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    lines = _refused([*before, option, value], capsys)
    assert lines[-1] == f"{prog}: error: argument {option}: must be {wanted}, got {value}", lines
    assert sum("error" in line for line in lines) == 1 and lines[0].startswith("usage:")
    assert "Traceback" not in "\n".join(lines)
    assert list(tmp_path.iterdir()) == []  # no log dir, no state file, nothing


def test_the_message_of_the_issue(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lines = _refused(["demo", "--items", "-3"], capsys)
    assert lines[-1] == "orch-eval demo: error: argument --items: must be a positive integer, got -3"
    lines = _refused(["demo", "--items", "three"], capsys)
    assert lines[-1] == "orch-eval demo: error: argument --items: must be a positive integer, got 'three'"
    lines = _refused(["run", EXPERIMENT, "--limit", "2.5"], capsys)
    assert lines[-1] == "orch-eval run: error: argument --limit: must be a positive integer, got '2.5'"
    assert list(tmp_path.iterdir()) == []


def test_positive_sizes_still_parse() -> None:
    from orch_eval.cli import build_parser

    args = build_parser("demo").parse_args(["demo", "--items", "1"])
    assert args.items == 1
    args = build_parser("run").parse_args(["run", EXPERIMENT, "--limit", "3", "--max-samples", "2",
                                           "--cost-limit", "0.25"])
    assert (args.limit, args.max_samples, args.cost_limit) == (3, 2, 0.25)
    args = build_parser("router").parse_args([*CALIBRATE, "--limit", "5"])
    assert args.limit == 5


def test_size_rules() -> None:
    assert parse_size("7", "positive_int") == 7 and parse_size("0", "non_negative_int") == 0
    assert parse_size("0.05", "probability") == 0.05 and parse_size("1e-3", "positive_number") == 0.001
    for text, kind in [("0", "positive_int"), ("-1", "non_negative_int"), ("1", "probability"),
                       ("0", "probability"), ("nan", "probability"), ("0", "positive_number"),
                       ("-0.5", "positive_number"), ("nan", "positive_number"), ("1.0", "positive_int")]:
        with pytest.raises(ValueError, match="^must be "):
            parse_size(text, kind)  # type: ignore[arg-type]
    assert size_problem(True, "positive_int") == "must be a positive integer, got True"
    assert size_problem(2.0, "positive_int") == "must be a positive integer, got 2.0"
    assert check_size("limit", None, "positive_int") is None
    with pytest.raises(OrchConfigError, match=r"^limit: must be a positive integer, got 0$"):
        check_size("limit", 0, "positive_int")


# ---- the Python API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"limit": 0}, "limit: must be a positive integer, got 0"),
        ({"limit": -3, "dry_run": True}, "limit: must be a positive integer, got -3"),
        ({"max_samples": 0}, "max_samples: must be a positive integer, got 0"),
        ({"cost_limit": -1.0}, "cost_limit: must be a positive number, got -1.0"),
        ({"cost_limit": 0}, "cost_limit: must be a positive number, got 0"),
    ],
)
def test_run_experiment_refuses_non_positive_sizes(kwargs: dict[str, object], message: str, tmp_path: Path) -> None:
    from orch_eval.experiment import run_experiment

    with pytest.raises(OrchConfigError) as info:
        run_experiment(EXPERIMENT, log_dir=tmp_path / "logs", **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
    assert not (tmp_path / "logs").exists()


def test_build_plan_and_the_experiment_file_refuse_non_positive_sizes(tmp_path: Path) -> None:
    from orch_eval.experiment import build_plan, load_experiment, validate_experiment

    exp = load_experiment(EXPERIMENT)
    with pytest.raises(OrchConfigError, match=r"^limit: must be a positive integer, got 0$"):
        build_plan(exp, log_dir=tmp_path / "logs", limit=0)
    data = exp.model_dump(exclude={"source"})
    for field in ("cost_limit", "max_samples"):
        with pytest.raises(OrchConfigError, match=field):
            validate_experiment({**data, field: 0}, source="exp.yaml")


def test_router_calibrate_refuses_non_positive_sizes(tmp_path: Path) -> None:
    from orch_eval.core.panel import load_panel
    from orch_eval.inspect.routing import calibrate

    panel = load_panel({"agents": ["orchfake/gold"], "merger": "orchfake/vote"})
    out = tmp_path / "state.json"
    with pytest.raises(OrchConfigError, match=r"^router calibrate: limit: must be a positive integer, got 0$"):
        calibrate(panel, task="inspect_evals/gsm8k", split="train", output=out, limit=0, log_dir=str(tmp_path / "l"))
    with pytest.raises(OrchConfigError, match=r"max_samples: must be a positive integer, got -3$"):
        calibrate(panel, task="inspect_evals/gsm8k", split="train", output=out, max_samples=-3)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value, shown", [(0, "0"), (-3, "-3"), ("0", "0"), ("many", "'many'")])
def test_lm_eval_model_refuses_non_positive_max_concurrency(value: object, shown: str) -> None:
    from orch_eval.lm_eval.model import OrchLM

    with pytest.raises(OrchConfigError) as info:
        OrchLM(agents="orchfake/gold", merger="orchfake/vote", max_concurrency=value)  # type: ignore[arg-type]
    assert str(info.value) == f"orch model arg max_concurrency: must be a positive integer, got {shown}"
    assert OrchLM(agents="orchfake/gold", merger="orchfake/vote", max_concurrency="3").max_concurrency == 3
