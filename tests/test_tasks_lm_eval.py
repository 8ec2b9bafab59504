"""``tasks/lm_eval``: the calibration splits as lm-eval tasks (``--include_path tasks/lm_eval``).

Checked apart from the code under test: each YAML against lm-eval's own task config (only the
keys it marks "ours" may differ), its documents against the raw split read with
``datasets.load_dataset``, and ORCH's answers through ``orch-lm-eval --model orch`` against the
fake's rule restated in ``tests/fakeref.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

pytest.importorskip("lm_eval")
import datasets
import lm_eval
from lm_eval.tasks import TaskManager
from lm_eval.tasks._yaml_loader import load_yaml

from tests.conftest import ROOT, subprocess_env
from tests.fakeref import gold_agent_letter, gold_agent_number, vote

FOLDER = ROOT / "tasks" / "lm_eval"
LM_EVAL_TASKS = Path(lm_eval.__file__).parent / "tasks"
CLI = Path(sys.executable).parent / "orch-lm-eval"
AGENTS = [("0.8", "a1"), ("0.6", "a2"), ("0.4", "a3")]
MODEL_ARGS = "agents=" + "|".join(f"orchfake/gold:p={p}:seed={s}" for p, s in AGENTS) + ",merger=orchfake/vote"
LIMIT = 8

# ours vs lm-eval's own config of the same benchmark (lm-eval 0.4.13)
ORIGINS = {
    "mmlu_validation": LM_EVAL_TASKS / "mmlu" / "default" / "mmlu_abstract_algebra.yaml",
    "mmlu_validation_generative": LM_EVAL_TASKS / "mmlu" / "generative" / "mmlu_abstract_algebra.yaml",
    "gsm8k_train": LM_EVAL_TASKS / "gsm8k" / "gsm8k.yaml",
}
OURS = {"task", "dataset_name", "test_split", "process_docs", "description"}
"""The keys our YAMLs mark as changed; lm-eval's per-subject files also carry a tag and alias."""
THEIRS_ONLY = {"tag", "task_alias"}


@pytest.mark.parametrize("name", sorted(ORIGINS))
def test_yaml_is_lm_evals_own_task_but_for_the_split(name: str) -> None:
    ours = load_yaml(FOLDER / f"{name}.yaml", resolve_func=False)
    theirs = load_yaml(ORIGINS[name], resolve_func=False)
    assert ours["task"] == name
    assert set(ours) - OURS == set(theirs) - OURS - THEIRS_ONLY
    for key in set(ours) - OURS:
        assert ours[key] == theirs[key], key
    assert ours["test_split"] != theirs["test_split"] == "test"
    # the templated description gives each document lm-eval's per-subject text
    if name.startswith("mmlu"):
        from lm_eval.utils import apply_template

        assert apply_template(ours["description"], {"subject": "abstract_algebra"}) == theirs["description"]


@cache
def task_manager() -> TaskManager:
    return TaskManager(include_path=str(FOLDER))


@cache
def docs(name: str) -> list[dict]:
    task = task_manager().load_task_or_group([name])[name]
    return list(task.test_docs())


def _mmlu_key(d: dict) -> tuple[str, tuple[str, ...]]:
    return d["question"], tuple(d["choices"])


def test_lm_eval_finds_the_tasks_and_their_documents_are_the_split_minus_test_repeats() -> None:
    index = task_manager().all_tasks
    assert {"mmlu_validation", "mmlu_validation_generative", "gsm8k_train"} <= set(index)
    val = datasets.load_dataset("cais/mmlu", "all", split="validation")
    test = {_mmlu_key(d) for d in datasets.load_dataset("cais/mmlu", "all", split="test")}
    want = [_mmlu_key(d) for d in val if _mmlu_key(d) not in test]
    assert len(val) - len(want) >= 27  # the exclusion is not vacuous
    for name in ("mmlu_validation", "mmlu_validation_generative"):
        assert [_mmlu_key(d) for d in docs(name)] == want
    train = datasets.load_dataset("openai/gsm8k", "main", split="train")
    gsm_test = set(datasets.load_dataset("openai/gsm8k", "main", split="test")["question"])
    assert [d["question"] for d in docs("gsm8k_train")] == [q for q in train["question"] if q not in gsm_test]


# ---- running through orch-lm-eval ------------------------------------------------------------------


def run_cli(tasks: list[str], out: Path, include: Path) -> dict:
    env = subprocess_env(INSPECT_CACHE_DIR=str(out / "inspect-cache"))
    cmd = [
        str(CLI), "--model", "orch", "--model_args", MODEL_ARGS, "--include_path", str(include),
        "--tasks", ",".join(tasks), "--limit", str(LIMIT), "--log_samples", "--output_path", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"orch-lm-eval failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    (results,) = sorted(out.rglob("results_*.json"))
    return json.loads(results.read_text())


def one_file(out: Path, kind: str, task: str) -> Path:
    """The ``<kind>_<task>_<date>.jsonl`` file of exactly this task (not of a longer task name)."""
    (path,) = [p for p in out.rglob(f"{kind}_{task}_*.jsonl") if re.fullmatch(rf"{kind}_{task}_\d{{4}}-.*", p.name)]
    return path


def logged(out: Path, task: str) -> list[dict]:
    path = one_file(out, "samples", task)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(lines, key=lambda s: (s["doc_id"], s.get("filter", "")))


def decisions(out: Path, task: str) -> dict[int, dict]:
    path = one_file(out, "orch_decisions", task)
    return {r["doc_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def expected_mmlu(doc: dict) -> str:
    gold = "ABCD"[doc["answer"]]
    return vote([gold_agent_letter(doc["question"], gold, len(doc["choices"]), float(p), s) for p, s in AGENTS])


def expected_gsm8k(doc: dict) -> tuple[str, str]:
    gold = doc["answer"].split("####")[-1].strip()
    return vote([gold_agent_number(doc["question"], gold, float(p), s) for p, s in AGENTS]), gold


@pytest.mark.slow
def test_calibration_tasks_run_through_orch_lm_eval(tmp_path: Path) -> None:
    tasks = ["mmlu_validation", "mmlu_validation_generative", "gsm8k_train"]
    res = run_cli(tasks, tmp_path, FOLDER)["results"]
    mmlu_docs = docs("mmlu_validation")[:LIMIT]
    finals = [expected_mmlu(d) for d in mmlu_docs]
    acc = sum(f == "ABCD"[d["answer"]] for f, d in zip(finals, mmlu_docs)) / LIMIT
    assert res["mmlu_validation"]["acc,none"] == pytest.approx(acc)
    assert res["mmlu_validation_generative"]["exact_match,get_response"] == pytest.approx(acc)
    for s, want in zip(logged(tmp_path, "mmlu_validation_generative"), finals):
        assert s["resps"] == [[want]]
    # the questions are the Inspect calibration task's, by id: one panel pairs across harnesses
    from inspect_evals.utils import create_stable_id

    for name in ("mmlu_validation", "mmlu_validation_generative"):
        recs = decisions(tmp_path, name)
        assert sorted(recs) == list(range(LIMIT))
        for i, doc in enumerate(mmlu_docs):
            assert recs[i]["question_id"] == create_stable_id(doc["question"], doc["choices"], prefix="mmlu")
            assert recs[i]["decision"]["final"] == finals[i]
    # gsm8k_train is read from its documents (GSM8K family): strict-match sees "#### N"
    gsm_docs = docs("gsm8k_train")[:LIMIT]
    gsm = [expected_gsm8k(d) for d in gsm_docs]
    acc = sum(final == gold for final, gold in gsm) / LIMIT
    assert res["gsm8k_train"]["exact_match,strict-match"] == pytest.approx(acc)
    assert res["gsm8k_train"]["exact_match,flexible-extract"] == pytest.approx(acc)
    assert 0 < acc < 1 or 0 < res["mmlu_validation"]["acc,none"] < 1  # the comparison means something
    recs = decisions(tmp_path, "gsm8k_train")
    for i, (doc, (final, _)) in enumerate(zip(gsm_docs, gsm)):
        assert recs[i]["family"] == "gsm8k" and recs[i]["decision"]["final"] == final
        assert recs[i]["question_id"] == create_stable_id(doc["question"], prefix="gsm8k")
    assert os.environ.get("HF_DATASETS_OFFLINE") == "1"  # all of it from the offline cache
