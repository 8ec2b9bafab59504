"""lm-eval benchmarks inside an experiment (``harness: lm_eval``).

A benchmark entry with ``harness: lm_eval`` names an lm-evaluation-harness task (one task, not a
group) of a family the adapter reads documents of (``mmlu_<subject>`` -- the log-likelihood
multiple-choice task --, ``mmlu_<subject>_generative``, ``mmlu_flan_cot_zeroshot_<subject>``,
``mmlu_pro[_<category>]``, ``gsm8k``, ``gsm8k_cot``). Its items are document indices of the
task's evaluation split (``items.n``, first or seeded, or ``items.ids``), passed to
``lm_eval.simple_evaluate(samples=...)``.

Each ORCH system (``orch``, ``dispatch``) runs through the ``orch`` lm-eval model with the
system's panel; samples, aggregated results and the Decision sidecars are written to
``<log dir>/lm_eval/<system>/<task>/``, and a ``done.json`` marker (solver digest, items,
samples file) says the run finished. A rerun skips finished runs and redoes an unfinished one,
its finished model calls from Inspect's cache. ``single`` and ``majority`` come from the base
ORCH system's Decisions (as on Inspect benchmarks); ``direct`` and routed systems need Inspect
(the letter-only prompt, the eval's sample order) and are skipped on lm-eval benchmarks with a
note in the report.
"""

from __future__ import annotations

import json
import random
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch_eval.core.errors import OrchConfigError
from orch_eval.experiment.config import METHOD_KINDS
from orch_eval.core.question import Question

if TYPE_CHECKING:
    from orch_eval.experiment.config import BenchmarkSpec
    from orch_eval.experiment.items import BenchmarkItems
    from orch_eval.experiment.plan import Plan, SystemPlan

DONE_FILE = "done.json"
LM_EVAL_ARGS = frozenset({"num_fewshot", "apply_chat_template", "fewshot_as_multiturn", "system_instruction", "gen_kwargs"})
"""``task_args`` an lm-eval benchmark may set: passed to ``simple_evaluate`` unchanged."""


def _require_lm_eval(where: str) -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise OrchConfigError(
            f"{where}: harness lm_eval needs lm-evaluation-harness: pip install 'orch_eval[lm_eval]'"
        ) from None


@lru_cache(maxsize=16)
def _docs(task: str) -> tuple[Any, ...]:
    from lm_eval.tasks import TaskManager, get_task_dict

    try:
        tasks = get_task_dict([task], TaskManager())
    except Exception as ex:  # noqa: BLE001 - lm-eval raises several kinds for unknown names
        raise OrchConfigError(f"lm-eval task {task!r} could not be loaded: {type(ex).__name__}: {ex}") from None
    obj = next(iter(tasks.values()))
    if isinstance(obj, dict):
        raise OrchConfigError(
            f"lm-eval task {task!r} is a group of {len(obj)} tasks; list its tasks as separate benchmarks"
        )
    return tuple(obj.eval_docs)


def doc_question(task: str, doc: Any) -> Question:
    """The Question the ``orch`` lm-eval model asks for a document of ``task``."""
    from orch_eval.lm_eval import questions as q

    family = q.task_family(task)
    if family == q.MMLU_PRO:
        return q._mmlu_pro_question(doc)
    if family in (q.GSM8K, q.GSM8K_COT):
        return q._gsm8k_question(doc)
    return q._mmlu_question(doc)


def select(spec: "BenchmarkSpec", seed: int, limit: int | None) -> "BenchmarkItems":
    """The chosen document indices (in the task's order) and their Questions."""
    from orch_eval.experiment.items import BenchmarkItems

    where = f"benchmark {spec.key}"
    _require_lm_eval(where)
    from orch_eval.lm_eval.questions import UNKNOWN, task_family

    if task_family(spec.task) == UNKNOWN:
        raise OrchConfigError(
            f"{where}: orch-eval run reads the documents of lm-eval tasks mmlu_<subject>, "
            "mmlu_<subject>_generative, mmlu_flan_cot_zeroshot_<subject>, mmlu_pro[_<category>], gsm8k and "
            f"gsm8k_cot; {spec.task!r} is none of them (use orch-lm-eval for other tasks)"
        )
    docs = _docs(spec.task)
    items = spec.items
    s = items.seed if items.seed is not None else seed
    if items.ids is not None:
        try:
            wanted = sorted({int(i) for i in items.ids})
        except ValueError:
            raise OrchConfigError(f"{where}: items.ids of an lm-eval task are document indices (integers)") from None
        bad = [i for i in wanted if not 0 <= i < len(docs)]
        if bad:
            raise OrchConfigError(f"{where}: document indices {bad[:5]} are outside 0..{len(docs) - 1}")
        chosen = wanted
    else:
        assert items.n is not None  # the schema allows ids or n for lm-eval benchmarks
        if items.n > len(docs):
            raise OrchConfigError(f"{where}: items.n={items.n} exceeds the task's {len(docs)} documents")
        if items.order == "first":
            chosen = list(range(items.n))
        else:
            chosen = sorted(random.Random(f"{s}:{spec.key}:items").sample(range(len(docs)), items.n))
    if limit is not None:
        chosen = chosen[:limit]
    out = BenchmarkItems(spec=spec, task_args=dict(spec.task_args), ids=list(chosen))
    for i in chosen:
        question = doc_question(spec.task, docs[i])
        out.questions[str(i)] = question
        if question.domain:
            out.groups[str(i)] = question.domain
    return out


def unsupported(system: "SystemPlan") -> str | None:
    """Why a system cannot run on an lm-eval benchmark (None: it can, or it is derived)."""
    if system.derived_from is not None:
        return None
    if system.kind == "direct":
        return "the letter-only baseline runs on Inspect benchmarks only"
    if system.kind in ("single", "majority"):
        return "single and majority are derived from the base orch system's Decisions on lm-eval benchmarks"
    if system.panel.router is not None and system.panel.router.enabled:
        return "the router needs the sample order of an Inspect eval"
    return None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)


def out_dir(plan: "Plan", system: "SystemPlan", bench: "BenchmarkItems") -> Path:
    return plan.log_dir / "lm_eval" / _slug(system.name) / bench.spec.task


def _marker(plan: "Plan", system: "SystemPlan", bench: "BenchmarkItems") -> dict[str, Any]:
    from orch_eval.experiment.runner import solver_digest

    return {
        "experiment": plan.experiment.name,
        "system": system.name,
        "benchmark": bench.short,
        "task": bench.spec.task,
        "solver_digest": solver_digest(system),
        "task_args": bench.task_args,
        "items": [str(i) for i in bench.ids],
    }


def finished(plan: "Plan", system: "SystemPlan", bench: "BenchmarkItems") -> str | None:
    """The samples file of a finished run of this exact setup, if any."""
    path = out_dir(plan, system, bench) / DONE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    want = _marker(plan, system, bench)
    if any(data.get(k) != v for k, v in want.items()):
        return None
    samples = path.parent / str(data.get("samples", ""))
    return str(samples) if samples.is_file() else None


def run(plan: "Plan", system: "SystemPlan", bench: "BenchmarkItems") -> str:
    """Run one ORCH system on one lm-eval benchmark (unless finished); its samples file."""
    done = finished(plan, system, bench)
    if done is not None:
        return done
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    import orch_eval.lm_eval  # noqa: F401  registers --model orch and the Decision sidecar writer
    from orch_eval.core.atomic import write_text_atomic

    directory = out_dir(plan, system, bench)
    directory.mkdir(parents=True, exist_ok=True)
    tracker = EvaluationTracker(output_path=str(directory))
    panel = system.panel.model_dump(mode="json")
    model_args: dict[str, Any] = {"panel": panel, "progress": False}
    if system.kind in METHOD_KINDS:
        model_args.update(method=system.kind, **system.method_args())
    results = lm_eval.simple_evaluate(
        model="orch",
        model_args=model_args,
        tasks=[bench.spec.task],
        samples={bench.spec.task: [int(i) for i in bench.ids]},
        log_samples=True,
        evaluation_tracker=tracker,
        **bench.task_args,
    )
    if results is None:  # pragma: no cover - non-zero ranks only
        raise OrchConfigError(f"{system.name} on {bench.short}: lm-eval returned no results")
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    tracker.save_results_samples(task_name=bench.spec.task, samples=samples[bench.spec.task])
    found = sorted(directory.rglob(f"samples_{bench.spec.task}_{tracker.date_id}.jsonl"))
    if not found:
        raise OrchConfigError(f"{system.name} on {bench.short}: lm-eval wrote no samples file under {directory}")
    marker = {**_marker(plan, system, bench), "samples": str(found[-1].relative_to(directory))}
    write_text_atomic(directory / DONE_FILE, json.dumps(marker, indent=2))
    return str(found[-1])
