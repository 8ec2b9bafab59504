"""Shared test set-up: offline datasets, a private Inspect cache per test, fake call counts."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
"""The console scripts (inspect, orch-eval, orch-lm-eval) installed beside the interpreter running the tests."""

# The standard tasks load MMLU / MMLU-Pro / GSM8K from a Hugging Face datasets cache that
# .ci/run seeds from ../shared/data; locally the same folder is used when present.
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


@pytest.fixture(scope="session", autouse=True)
def _private_inspect_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Inspect writes outside the test's own folders in two places, both pointed (for the session
    and, through the environment, its subprocesses) at the session's temporary folder:

    - its sample buffers (one database per running eval) in the user's data folder
      (``$XDG_DATA_HOME``): the tests' killed subprocesses never clean theirs up;
    - the log of an eval given no ``log_dir``, in ``$INSPECT_LOG_DIR``, by default ``./logs`` of
      the working directory: the tests leave no logs in the checkout (.ci/run fails if they do).
    """
    root = tmp_path_factory.mktemp("inspect")
    with pytest.MonkeyPatch.context() as mp:
        for var, name in (("XDG_DATA_HOME", "xdg_data"), ("INSPECT_LOG_DIR", "logs")):
            (root / name).mkdir()
            mp.setenv(var, str(root / name))
        yield root


@pytest.fixture(autouse=True)
def _private_inspect_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Inspect's cache outlives runs in a user folder: every test gets its own."""
    cache = tmp_path_factory.mktemp("inspect_cache")
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(cache))
    from orch_eval.models.fake import reset_call_counts

    reset_call_counts()
    return cache


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for harness subprocesses (offline data, this test's cache)."""
    env = dict(os.environ)
    env.update(extra)
    return env


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under CI (``$CI`` set, as ``.ci/run`` does) a skipped test fails the run: a skip there would
    hide missing work (a tool not installed, a module not importable) behind a green result."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        where = ", ".join(sorted({str(getattr(r, "nodeid", "") or r.location[0]) for r in skipped})[:10])
        print(f"\nCI: {len(skipped)} test(s) skipped, which CI does not allow: {where}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
