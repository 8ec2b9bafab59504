"""Packaging: every package is listed for the wheel, the presets are package data found through
importlib.resources (so an installed wheel has them), from any working directory. The wheel
itself is built, installed into a fresh environment and used by .ci/run (scripts/check_wheel.sh)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import load_panel, packaged_presets, preset_dirs
from orch_eval.experiment import load_experiment
from tests.conftest import ROOT


def test_the_wheel_lists_every_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "orch_eval").rglob("__init__.py")}
    mapped = {name: ROOT / folder for name, folder in config["package-dir"].items()}
    # a folder with Python modules inside a mapped folder is a (sub)package: tasks/lm_eval
    inside = {f"{name}.{sub.name}": sub for name, folder in mapped.items() for sub in folder.iterdir()
              if sub.is_dir() and any(sub.glob("*.py"))}
    assert found | set(mapped) | set(inside) == listed
    for name, folder in mapped.items():
        assert (folder / "__init__.py").is_file(), name
        for pattern in config["package-data"].get(name, []):  # every data file the folder holds is shipped
            assert list(folder.glob(pattern)), (name, pattern)
    # every data file of tasks/ is shipped: its YAMLs as package data, its modules as modules
    data = {f.relative_to(ROOT / "tasks").as_posix() for f in (ROOT / "tasks").rglob("*.yaml")}
    shipped = {f.relative_to(ROOT / "tasks").as_posix() for name, folder in inside.items()
               for p in config["package-data"].get(name, []) for f in folder.glob(p)}
    assert data == shipped and data


def test_presets_come_from_the_package_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./solvers here
    monkeypatch.delenv("ORCH_EVAL_PRESETS", raising=False)
    presets = packaged_presets()
    assert presets is not None and (presets / "local.yaml").is_file()
    assert preset_dirs()[-1] == presets
    assert load_panel("local").name == "local"
    assert load_experiment("local").name == "local"
    with pytest.raises(OrchConfigError, match="Known presets: .*local"):
        load_panel("no-such-preset")


def test_the_public_api_resolves_every_name() -> None:
    import orch_eval

    assert orch_eval.__all__ == ["__version__", *orch_eval._EXPORTS]
    for name in orch_eval.__all__:
        assert getattr(orch_eval, name) is not None, name
    with pytest.raises(AttributeError):
        orch_eval.no_such_name  # noqa: B018
