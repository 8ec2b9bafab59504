"""The tasks of ``tasks/``: calibration splits and experiment subsets, offline, with fake agents.

Expected sizes, orders and ids are computed apart from the code under test: the splits are read
with ``datasets.load_dataset`` from the offline cache, ids are inspect_evals' stable content
hashes of the raw records, the seeded order is ``random.Random(seed).shuffle`` of the split's
ids, and answers come from the fake's rule restated in ``tests/fakeref.py``.
"""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from inspect_ai.log import EvalLog, read_eval_log

from tests.conftest import ROOT, subprocess_env
from tests.fakeref import gold_agent_letter, gold_agent_number, vote

AGENTS = [("0.8", "a1"), ("0.6", "a2"), ("0.4", "a3")]
AGENT_NAMES = [f"orchfake/gold:p={p}:seed={s}" for p, s in AGENTS]
MERGER = "orchfake/vote"
INSPECT = str(Path(sys.executable).parent / "inspect")
TASKS = ROOT / "tasks"


def load_tasks(module: str) -> ModuleType:
    """A module of ``tasks/`` loaded from its file, as ``inspect eval tasks/<module>.py`` does."""
    spec = importlib.util.spec_from_file_location(f"tasks_{module}", TASKS / f"{module}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


calibration = load_tasks("calibration")
experiment_items = load_tasks("experiment_items")


# ---- independent reading of the splits -------------------------------------------------------


def _md5_id(*fields: object, prefix: str) -> str:
    import hashlib

    return prefix + "_" + hashlib.md5("\0".join(str(f) for f in fields).encode()).hexdigest()[:8]


@cache
def raw_ids(benchmark: str, split: str) -> tuple[str, ...]:
    """Sample ids of a split in dataset order, first occurrence of each id kept."""
    import datasets

    if benchmark == "mmlu":
        ds = datasets.load_dataset("cais/mmlu", "all", split=split)
        ids = [_md5_id(r["question"], r["choices"], prefix="mmlu") for r in ds]
    elif benchmark == "mmlu_pro":
        ds = datasets.load_dataset("TIGER-Lab/MMLU-Pro", split=split)
        ids = [str(r["question_id"]) for r in ds]
    else:
        ds = datasets.load_dataset("openai/gsm8k", "main", split=split)
        ids = [_md5_id(r["question"], prefix="gsm8k") for r in ds]
    return tuple(dict.fromkeys(ids))


def expected_order(benchmark: str, split: str, seed: int = 0, exclude: frozenset[str] = frozenset()) -> list[str]:
    ids = list(raw_ids(benchmark, split))
    random.Random(seed).shuffle(ids)
    test = set(raw_ids(benchmark, "test"))
    return [i for i in ids if i not in test and i not in exclude]


def ids_of(task) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(s.id) for s in task.dataset]


# ---- calibration splits: loading ------------------------------------------------------------------


CASES = [
    ("mmlu_validation", "mmlu", "validation"),
    ("mmlu_dev", "mmlu", "dev"),
    ("mmlu_pro_validation", "mmlu_pro", "validation"),
]


@pytest.mark.parametrize("name,benchmark,split", CASES)
def test_calibration_split_size_order_and_no_test_ids(name: str, benchmark: str, split: str) -> None:
    task = getattr(calibration, name)()
    got = ids_of(task)
    assert got == expected_order(benchmark, split)  # the seeded order of router calibrate, minus test items
    test = set(raw_ids(benchmark, "test"))
    assert not test & set(got)
    info = task.metadata["calibration"]
    assert info["split"] == split and info["split_items"] == len(raw_ids(benchmark, split))
    assert info["excluded"] == len(raw_ids(benchmark, split)) - len(got)
    # the standard task's solver and scorer are kept, its test split is gone
    assert task.name == name and task.scorer is not None
    # without the exclusion the repeats come back, in dataset order when unshuffled
    whole = getattr(calibration, name)(exclude_test=False, shuffle=False)
    assert ids_of(whole) == list(raw_ids(benchmark, split))
    assert len(set(ids_of(whole)) & test) == info["excluded"]


def test_mmlu_repeats_test_questions_so_exclusion_matters() -> None:
    """The exclusion is not vacuous: MMLU's validation and dev splits do repeat test items."""
    test = set(raw_ids("mmlu", "test"))
    assert len(set(raw_ids("mmlu", "validation")) & test) == 27
    assert len(set(raw_ids("mmlu", "dev")) & test) == 5
    assert len(ids_of(calibration.mmlu_validation())) == 1529 - 27


def test_gsm8k_train_leaves_out_its_fewshot_examples() -> None:
    from inspect_evals.utils.huggingface import hf_dataset

    g = importlib.import_module("inspect_evals.gsm8k.gsm8k")
    task = calibration.gsm8k_train()
    system = task.solver  # the standard chain: few-shot system message, template, generate
    assert system is not None
    fewshot = hf_dataset(
        path="openai/gsm8k", data_dir="main", split="train", sample_fields=g.record_to_sample,
        shuffle=True, seed=g.DEFAULT_FEWSHOT_SEED, limit=10, revision=g.GSM8K_DATASET_REVISION,
    )
    shots = frozenset(str(s.id) for s in fewshot)
    assert len(shots) == 10
    assert ids_of(task) == expected_order("gsm8k", "train", exclude=shots)
    assert len(ids_of(task)) == 7473 - 10 and task.metadata["calibration"]["fewshot_excluded"] == 10
    # zero-shot: exactly the seeded split (GSM8K's train and test share no question)
    zero = calibration.gsm8k_train(fewshot=0, seed=5)
    assert ids_of(zero) == expected_order("gsm8k", "train", seed=5)
    assert len(ids_of(zero)) == 7473


def test_calibration_subjects_and_errors() -> None:
    from orch_eval.core.errors import OrchConfigError

    anatomy = calibration.mmlu_validation(subjects="anatomy")
    assert len(ids_of(anatomy)) == 14 and {s.metadata["subject"] for s in anatomy.dataset} == {"anatomy"}
    assert ids_of(anatomy) == [i for i in ids_of(calibration.mmlu_validation()) if i in set(ids_of(anatomy))]
    math = calibration.mmlu_pro_validation(subjects=["math"])
    assert len(ids_of(math)) == 5 and {s.metadata["subject"] for s in math.dataset} == {"math"}
    with pytest.raises(OrchConfigError, match="unknown subjects astrology"):
        calibration.mmlu_dev(subjects="astrology")


def test_calibration_tasks_import_as_a_package_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tasks/`` installed as ``orch_eval.tasks``: its modules import under that name (no
    relative imports, nothing that needs the checkout's layout) and build the same tasks."""
    import orch_eval

    spec = importlib.util.spec_from_file_location(
        "orch_eval.tasks", TASKS / "__init__.py", submodule_search_locations=[str(TASKS)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "orch_eval.tasks", package)
    monkeypatch.setattr(orch_eval, "tasks", package, raising=False)
    spec.loader.exec_module(package)
    for name in ("orch_eval.tasks.calibration", "orch_eval.tasks.experiment_items"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    mod = importlib.import_module("orch_eval.tasks.calibration")
    importlib.import_module("orch_eval.tasks.experiment_items")
    assert mod.__name__ == "orch_eval.tasks.calibration"
    task = mod.mmlu_pro_validation()
    assert task.name.split("/")[-1] == "mmlu_pro_validation"  # "orch_eval/..." once registered as installed
    assert ids_of(task) == ids_of(calibration.mmlu_pro_validation())


# ---- calibration splits: running through ORCH -----------------------------------------------------


def run_cli(args: list[str], log_dir: Path) -> EvalLog:
    proc = subprocess.run(
        [INSPECT, "eval", *args, "--log-dir", str(log_dir), "--display", "none", "--log-format", "eval"],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (log,) = sorted(log_dir.glob("*.eval"))
    return read_eval_log(str(log))


def check_answers(log: EvalLog, n: int) -> None:
    """Every item's ORCH answer is the fake panel's (majority of the agents' rule); so is the score."""
    assert log.status == "success"
    assert log.samples is not None and len(log.samples) == n
    right = 0
    for sample in log.samples:
        stem, gold = str(sample.input), str(sample.target)
        decision = sample.metadata["orch"]
        if sample.choices:
            want = vote([gold_agent_letter(stem, gold, len(sample.choices), float(p), s) for p, s in AGENTS])
        else:
            want = vote([gold_agent_number(stem, gold, float(p), s) for p, s in AGENTS])
        assert decision["final"] == want, sample.id
        right += want == gold
    assert log.results is not None
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(right / n)


SOLVER_ARGS = [
    "--model", "none", "--solver", "orch_eval/orch",
    "--model-role", "agents=" + ",".join(AGENT_NAMES), "--model-role", f"merger={MERGER}",
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mmlu_validation", "mmlu_dev", "mmlu_pro_validation", "gsm8k_train"])
def test_calibration_task_runs_through_orch_solver(name: str, tmp_path: Path) -> None:
    log = run_cli([f"tasks/calibration.py@{name}", "--limit", "4", *SOLVER_ARGS], tmp_path)
    check_answers(log, 4)
    task = getattr(calibration, name)()
    assert [str(i) for i in log.eval.dataset.sample_ids or []] == ids_of(task)[:4]  # its first items, in order
    assert log.eval.task == name


# ---- experiment subsets ---------------------------------------------------------------------------


def plan_ids(experiment: str | Path) -> dict[str, list[str]]:
    from orch_eval.experiment import build_plan, load_experiment

    plan = build_plan(load_experiment(experiment))
    return {b.short: [str(i) for i in b.ids] for b in plan.benchmarks}


@pytest.mark.parametrize("benchmark", ["mmlu_0_shot", "inspect_evals/mmlu_pro", "gsm8k"])
def test_experiment_subset_ids_are_the_plans(benchmark: str) -> None:
    task = experiment_items.experiment_subset(experiment=str(ROOT / "experiments" / "local.yaml"), benchmark=benchmark)
    want = plan_ids(ROOT / "experiments" / "local.yaml")[benchmark.removeprefix("inspect_evals/")]
    assert ids_of(task) == want and len(want) in (10, 20)
    assert task.metadata["experiment"]["name"] == "local"


def test_experiment_subset_keeps_dataset_order_and_refuses_what_it_cannot_serve(tmp_path: Path) -> None:
    from orch_eval.core.errors import OrchConfigError

    first = list(raw_ids("gsm8k", "test")[:30])
    picked = [first[17], first[3], first[25]]  # given out of order
    exp = {
        "name": "mine",
        "panel": {"agents": AGENT_NAMES, "merger": MERGER},
        "benchmarks": [
            {"task": "gsm8k", "items": {"ids": picked}},
            {"harness": "lm_eval", "task": "gsm8k", "items": {"n": 3}},
        ],
        "systems": ["orch", "single"],
        "reference": "orch",
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(exp))
    task = experiment_items.experiment_subset(experiment=str(path), benchmark="gsm8k")
    assert ids_of(task) == [first[3], first[17], first[25]] == plan_ids(path)["gsm8k"]
    with pytest.raises(OrchConfigError, match="lm_eval:gsm8k runs through lm-eval"):
        experiment_items.experiment_subset(experiment=str(path), benchmark="lm_eval:gsm8k")
    with pytest.raises(OrchConfigError, match="no benchmark 'mmlu_pro' in the experiment; its benchmarks: gsm8k"):
        experiment_items.experiment_subset(experiment=str(path), benchmark="mmlu_pro")


@pytest.mark.slow
def test_experiment_subset_runs_through_orch_solver(tmp_path: Path) -> None:
    exp = ROOT / "experiments" / "local.yaml"
    log = run_cli(
        ["tasks/experiment_items.py@experiment_subset", "-T", f"experiment={exp}", "-T", "benchmark=gsm8k", *SOLVER_ARGS],
        tmp_path,
    )
    check_answers(log, 10)
    assert [str(i) for i in log.eval.dataset.sample_ids or []] == plan_ids(exp)["gsm8k"]
