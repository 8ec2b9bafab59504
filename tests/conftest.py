"""Shared test set-up: offline datasets, a private Inspect cache per test, fake call counts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The standard tasks load MMLU / MMLU-Pro / GSM8K from a Hugging Face datasets cache that
# .ci/run seeds from ../shared/data; locally the same folder is used when present.
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("INSPECT_LOG_LEVEL", "warning")


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
