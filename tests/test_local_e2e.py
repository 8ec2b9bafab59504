"""End-to-end runs with REAL local GGUF models (small ones, to keep CI short).

Both front doors: `inspect eval ... --solver orch_eval/orch` and `orch-lm-eval --model orch`,
each on 3 real items, with agents and merger that are real llama.cpp models from PyPI.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from tests.conftest import BIN, ROOT, subprocess_env

AGENTS = "gguf/smollm2-135m-instruct,gguf/gemma3-270m"
MERGER = "gguf/smollm2-135m-instruct"


def _require_models() -> None:
    from orch_eval.models import catalog

    for name in ("smollm2-135m-instruct", "gemma3-270m"):
        try:
            catalog.resolve_model_path(name)
        except ValueError as ex:
            if os.environ.get("CI"):
                raise  # CI must have them: scripts/test.sh pulls them
            pytest.skip(str(ex))


@pytest.mark.slow
def test_inspect_orch_with_local_models(tmp_path: Path) -> None:
    _require_models()
    proc = subprocess.run(
        [
            str(BIN / "inspect"), "eval", "inspect_evals/mmlu_0_shot", "--limit", "3", "--model", "none",
            "--solver", "orch_eval/orch", "-S", f"agents={AGENTS}", "-S", f"merger={MERGER}",
            "-S", "budgets={analysis: 96, merge: 64}",
            "--log-dir", str(tmp_path), "--display", "none",
        ],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = read_eval_log(str(next(tmp_path.glob("*.eval"))))
    assert log.status == "success" and log.samples is not None and len(log.samples) == 3
    for sample in log.samples:
        decision = sample.metadata["orch"]
        assert [a["model"] for a in decision["agents"]] == AGENTS.split(",")
        assert all(a["text"] or a["error"] for a in decision["agents"])  # real text came back
        assert decision["merge"] is not None and decision["merge"]["usage"]["output_tokens"] > 0
        assert next(iter(sample.scores.values())).value in ("C", "I")  # scored by the task's scorer
    assert "accuracy" in log.results.scores[0].metrics


@pytest.mark.slow
def test_lm_eval_orch_with_local_models(tmp_path: Path) -> None:
    _require_models()
    panel = tmp_path / "panel.yaml"
    panel.write_text(
        "agents: [" + AGENTS + "]\n" f"merger: {MERGER}\n" "budgets: {analysis: 96, merge: 64}\n"
    )
    model_args = f"panel={panel}"
    proc = subprocess.run(
        [
            str(BIN / "orch-lm-eval"), "--model", "orch", "--model_args", model_args,
            "--tasks", "mmlu_abstract_algebra", "--limit", "3", "--log_samples", "--output_path", str(tmp_path),
        ],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    samples = list(tmp_path.rglob("samples_mmlu_abstract_algebra_*.jsonl"))
    assert len(samples) == 1
    records = [json.loads(line) for line in samples[0].read_text().splitlines() if line.strip()]
    assert len(records) == 3 and all("acc" in r for r in records)
    decisions = list(tmp_path.rglob("orch_decisions_mmlu_abstract_algebra_*.jsonl"))
    assert len(decisions) == 1
    for line in decisions[0].read_text().splitlines():
        d = json.loads(line)["decision"]
        assert [a["model"] for a in d["agents"]] == AGENTS.split(",")
