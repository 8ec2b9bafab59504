"""``orch-lm-eval`` names each system's output folder (issue 18: an opaque name shared by panels)."""

from __future__ import annotations

from lm_eval.loggers.evaluation_tracker import GeneralConfigTracker

from orch_eval.cli.lm_eval import with_folder_name
from orch_eval.core.panel import load_panel

AGENTS = "orchfake/gold:p=0.8:seed=1;orchfake/gold:p=0.6:seed=2"


def _folder(argv: list[str]) -> str | None:
    args = argv[argv.index("--model_args") + 1]
    return GeneralConfigTracker._get_model_name(args)  # what lm-eval names the output folder after


def test_each_system_gets_its_own_readable_output_folder() -> None:
    base = ["--model", "orch", "--tasks", "gsm8k", "--output_path", "out"]
    local = _folder(with_folder_name([*base, "--model_args", "panel=fake-lmeval"]))
    other = _folder(with_folder_name([*base, "--model_args", "panel=fake-lmeval-b"]))
    inline = _folder(with_folder_name([*base, "--model_args", f"agents={AGENTS},merger=orchfake/vote"]))
    sc = _folder(with_folder_name([*base, "--model_args", "panel=fake-lmeval,method=self_consistency,k=3"]))
    assert local == f"orch-fake-lmeval-{load_panel('fake-lmeval').digest()}"
    assert len({local, other, inline, sc}) == 4  # panels and methods never share a folder
    assert all(name and name.startswith("orch-") for name in (other, inline, sc))


def test_other_models_and_named_folders_are_left_alone() -> None:
    argv = ["--model", "hf", "--model_args", "pretrained=gpt2"]
    assert with_folder_name(argv) == argv
    named = ["--model", "orch", "--model_args", "panel=fake-lmeval,pretrained=mine"]
    assert with_folder_name(named) == named
    broken = ["--model", "orch", "--model_args", "panel=no-such-panel"]
    assert with_folder_name(broken) == broken  # lm-eval reports the bad panel itself
