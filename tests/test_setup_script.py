"""``source scripts/setup.sh`` is safe in an interactive shell and gives the documented environment
(issue 18, item 2).

It used to leave ``set -euo pipefail`` on in the caller's shell, so the next failing command
closed an interactive terminal. Each case runs the real script in a fresh ``bash`` whose
environment points it at a set-up that is already done (a venv dir whose ``python`` is this
test's interpreter, the install stamp, a seeded datasets cache), so it installs nothing; the
failure cases leave the cache unseeded with no seeding script, so the seeding step fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SETUP = ROOT / "scripts" / "setup.sh"
OPTIONS = 'echo "OPTS $- $(set -o | tr -s " \\t" " " | tr "\\n" ";") $(shopt -p | tr "\\n" ";")"'


@pytest.fixture
def done(tmp_path: Path) -> dict[str, str]:
    """Environment of a machine whose set-up is done (offline data beside it)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    (venv / ".orch_eval_installed").touch()
    os.utime(venv / ".orch_eval_installed", (4e9, 4e9))  # newer than pyproject.toml, whatever its age
    shared = tmp_path / "shared_data"
    shared.mkdir()
    cache = tmp_path / "hf_cache"
    cache.mkdir()
    (cache / ".seeded").touch()
    return {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "ORCH_VENV": str(venv), "ORCH_SHARED_DATA": str(shared),
            "HF_DATASETS_CACHE": str(cache)}


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def lines_starting(out: str, prefix: str) -> list[str]:
    return [line[len(prefix):] for line in out.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("caller", ["set +e", "set +e; set -o noclobber; shopt -s nullglob", "set -u"])
def test_sourcing_leaves_the_callers_shell_options_alone(caller: str, done: dict[str, str]) -> None:
    r = bash(f"{caller}; {OPTIONS}; source {SETUP}; echo \"rc=$?\"; {OPTIONS}; false; echo survived", done)
    assert r.returncode == 0, r.stderr
    before, after = lines_starting(r.stdout, "OPTS ")
    assert before == after
    assert "errexit off" in after and ("nounset on" in after) == ("set -u" in caller)
    assert "pipefail off" in after
    assert "rc=0" in r.stdout and "survived" in r.stdout


def test_sourcing_exports_the_environment(done: dict[str, str]) -> None:
    show = 'echo "PATH=$PATH"; echo "CACHE=$HF_DATASETS_CACHE"; echo "HUB=$HF_HUB_OFFLINE DS=$HF_DATASETS_OFFLINE"'
    r = bash(f"source {SETUP}; {show}; bash -c 'echo CHILD=$HF_HUB_OFFLINE'; "
             f"source {SETUP}; echo \"AGAIN=$PATH\"; declare -F _orch_eval_setup || echo no-function", done)
    assert r.returncode == 0, r.stderr
    venv_bin = f"{done['ORCH_VENV']}/bin"
    assert lines_starting(r.stdout, "PATH=") == [f"{venv_bin}:/usr/bin:/bin"]
    assert lines_starting(r.stdout, "AGAIN=") == [f"{venv_bin}:/usr/bin:/bin"]  # sourcing twice adds nothing
    assert lines_starting(r.stdout, "CACHE=") == [done["HF_DATASETS_CACHE"]]
    assert lines_starting(r.stdout, "HUB=") == ["1 DS=1"]
    assert lines_starting(r.stdout, "CHILD=") == ["1"]  # exported, not just set
    assert "no-function" in r.stdout  # the helper function does not stay behind
    assert "[setup]" not in r.stdout + r.stderr  # nothing to do: nothing installed, nothing seeded


def test_without_offline_data_the_hub_stays_on(done: dict[str, str], tmp_path: Path) -> None:
    env = {**done, "ORCH_SHARED_DATA": str(tmp_path / "absent")}
    r = bash(f"source {SETUP}; echo \"HUB=${{HF_HUB_OFFLINE-unset}} DS=${{HF_DATASETS_OFFLINE-unset}}\"", env)
    assert r.returncode == 0, r.stderr
    assert lines_starting(r.stdout, "HUB=") == ["unset DS=unset"]


def test_a_failure_returns_to_an_interactive_shell(done: dict[str, str]) -> None:
    (Path(done["HF_DATASETS_CACHE"]) / ".seeded").unlink()  # seeding runs, and fails: no build_hf_cache.py
    r = bash(f"set +e; {OPTIONS}; source {SETUP}; echo \"rc=$?\"; {OPTIONS}; "
             "echo \"HUB=${HF_HUB_OFFLINE-unset} PATH=$PATH\"; false; echo survived", done)
    assert r.returncode == 0, r.stderr
    before, after = lines_starting(r.stdout, "OPTS ")
    assert before == after
    assert lines_starting(r.stdout, "rc=") != ["0"] and "survived" in r.stdout
    assert lines_starting(r.stdout, "HUB=") == ["unset PATH=/usr/bin:/bin"]  # environment unchanged
    assert "[setup] failed (see the messages above); the environment was not changed" in r.stderr
    assert "build_hf_cache.py" in r.stderr  # the step that failed says why


def test_a_failure_stops_a_strict_script_and_the_command(done: dict[str, str]) -> None:
    # scripts/test.sh and scripts/demo.sh source it under set -euo pipefail: a failure must stop them
    (Path(done["HF_DATASETS_CACHE"]) / ".seeded").unlink()
    r = bash(f"set -euo pipefail; source {SETUP}; echo not-reached", done)
    assert r.returncode != 0 and "not-reached" not in r.stdout
    r = subprocess.run(["bash", str(SETUP)], cwd=ROOT, env=done, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode != 0 and "done" not in r.stdout
    (Path(done["HF_DATASETS_CACHE"]) / ".seeded").touch()
    r = subprocess.run(["bash", str(SETUP)], cwd=ROOT, env=done, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and "source scripts/setup.sh" in r.stdout, r.stderr


def test_the_strict_scripts_still_work_after_sourcing(done: dict[str, str]) -> None:
    # what test.sh / demo.sh do after `source`: run the venv's tools under set -euo pipefail
    r = bash(f"set -euo pipefail; source {SETUP}; python -c 'import sys; print(sys.executable)'; "
             "echo \"$-\"", done)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"{done['ORCH_VENV']}/bin/python"
    assert "e" in r.stdout.splitlines()[1]  # the caller's own errexit is kept too
