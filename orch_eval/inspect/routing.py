"""Inspect glue of the EMA router: dataset positions, the prequential wait, shadow mode, calibration.

Dataset position of a sample: when a task starts, Inspect registers the eval with
``inspect_ai._control.eval_state.register_eval(eval_id, ..., sample_ids=..., epochs=...)``,
where ``sample_ids`` are the ids of the task's dataset after ``--limit`` / ``--sample-id``
slicing, in dataset order (the same list the log records as ``eval.dataset.sample_ids``).
Inside a solver, ``sample_active().eval_id`` names the running eval, so
``get_eval_state(eval_id).sample_ids`` gives the order; a sample's index in the run is
``(epoch - 1) * len(sample_ids) + position`` — exactly the order in which Inspect's scheduler
starts ``(sample, epoch)`` runs (epoch-major, dataset order) under a FIFO sample semaphore,
so waiting only on lower indices cannot deadlock. If the eval state is not available (another
Inspect version), the live logger's ``eval.dataset.sample_ids`` is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_ai.solver import Generate, Solver, TaskState, solver

from orch_eval._inspect_private import get_eval_state, sample_active
from orch_eval.benchmarks import BENCHMARKS, get_benchmark, task_short
from orch_eval.core.coerce import TRUE_WORDS, as_bool
from orch_eval.core.decision import Decision
from orch_eval.core.engine import Orchestrator, gather
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel
from orch_eval.core.question import Question
from orch_eval.core.router import (
    Feedback,
    PrequentialRouter,
    RouterConfig,
    Stats,
    check_leakage,
    check_state_agents,
    coerce_router,
    feedback_from_records,
    items_sha256,
    learned_entry,
    load_state,
)
from orch_eval.core.sizes import check_size

if TYPE_CHECKING:
    from inspect_ai.util import DisplayType

logger = logging.getLogger(__name__)

ROUTER_ARGS: dict[str, str] = {
    "router": "enabled",
    "router_state": "state",
    "router_state_out": "state_out",
    "top_k": "top_k",
    "force_router_state": "force",
    "router_resume": "resume",
    "router_mode": "mode",
    "router_lag": "lag",
    "router_shadow": "shadow",
    "explore_every": "explore_every",
}
"""Solver arguments (``-S name=value``) that set router fields."""


def pop_router_args(panel_fields: dict[str, Any]) -> dict[str, Any]:
    """Remove the router's solver arguments from ``panel_fields`` and return them."""
    return {k: panel_fields.pop(k) for k in list(panel_fields) if k in ROUTER_ARGS}


def apply_router_args(panel: Panel, args: dict[str, Any]) -> Panel:
    """The panel with its ``router:`` block updated by the solver arguments."""
    if not args:
        return panel
    cfg = panel.router
    if "router" in args:
        value = args["router"]
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS:
            value = True
        try:
            asked = (
                coerce_router(value) if not isinstance(value, bool) else (RouterConfig() if value else None)
            )
        except ValueError as ex:
            raise OrchConfigError(f"-S router={value!r}: {ex}") from None
        if asked is None:
            return panel.model_copy(update={"router": None})
        cfg = cfg if cfg is not None and cfg.enabled and not isinstance(value, dict) else asked
    if cfg is None:
        cfg = RouterConfig()
    update: dict[str, Any] = {}
    for arg, value in args.items():
        if arg == "router":
            continue
        field = ROUTER_ARGS[arg]
        update[field] = as_bool(value, f"-S {arg}") if field in ("force", "shadow") else value
    if "resume" in update and isinstance(update["resume"], bool):
        update["resume"] = "auto" if update["resume"] else "off"
    try:
        cfg = RouterConfig.model_validate({**cfg.model_dump(), **update, "enabled": True})
    except Exception as ex:  # pydantic ValidationError → a message naming the argument
        raise OrchConfigError(f"invalid router arguments {args}: {ex}") from None
    return panel.model_copy(update={"router": cfg})


# ---- dataset order -----------------------------------------------------------------------------


def eval_order() -> tuple[str, str, list[str], int]:
    """(run key, task name, sample ids in dataset order, epochs) of the running eval."""
    active = sample_active()
    if active is None:
        raise OrchConfigError("the router needs to run inside an Inspect sample (no active sample)")
    ids: list[Any] | None = None
    epochs = 1
    key = active.eval_id
    es = get_eval_state(active.eval_id)
    if es is not None and es.sample_ids:
        ids, epochs, key = list(es.sample_ids), int(es.epochs or 1), es.task_id or active.eval_id
    if ids is None:
        raise OrchConfigError(
            "router: cannot find the dataset order of the running eval (inspect_ai eval state unavailable); "
            "this Inspect version is not supported by the router"
        )
    return key, active.task, [str(i) for i in ids], epochs


RETRY_REFUSED = (
    "router: this eval is a retry of an interrupted run (inspect eval-retry, or eval_set on the same log "
    "dir). A retry re-runs the unfinished samples but starts them out of dataset order (inspect-ai 0.3.285 "
    "reads each sample's prior record before it queues for a slot), and the prequential router would then "
    "deadlock: later items hold every max_samples slot while waiting for the feedback of an earlier item "
    "that cannot start. Resume instead by running the same eval again (inspect eval ... with a new "
    "--log-dir) with the same router_state_out: the router continues from the state, and the items it had "
    "already applied are routed exactly as before from its retained window (see docs/router.md, resume). "
    "`orch-eval run` does this by itself: rerunning the experiment sets the unfinished log aside and reruns "
    "the system from the cache."
)


def _is_retry(eval_id: str) -> bool:
    """True when the running eval reuses samples of a prior attempt (eval-retry / eval_set)."""
    es = get_eval_state(eval_id)
    return bool(getattr(getattr(es, "live", None), "prior_seeded", False))


class Routing:
    """Router runs of one solver instance, one per running task (keyed by Inspect's task id,
    which survives in-process retries)."""

    def __init__(self) -> None:
        self.runs: dict[str, tuple[PrequentialRouter, dict[tuple[int, str], int]]] = {}

    def run_for(self, engine: Orchestrator) -> tuple[PrequentialRouter, dict[tuple[int, str], int]]:
        active = sample_active()
        if active is not None and _is_retry(active.eval_id):
            raise OrchConfigError(RETRY_REFUSED)
        key, task, ids, epochs = eval_order()
        found = self.runs.get(key)
        if found is not None and len(found[1]) == len(ids) * epochs:
            return found
        router = build_run(engine.panel, engine.digest, task, ids, epochs)
        index = {pair: i for i, pair in enumerate(router.plan or [])}
        self.runs[key] = (router, index)
        return router, index


def build_run(
    panel: Panel, panel_digest: str, task: str, ids: Sequence[str], epochs: int
) -> PrequentialRouter:
    """The router of one eval run: warm start (leakage-checked) or priors, then resume if asked."""
    cfg = panel.router
    assert cfg is not None
    labels = panel.agent_labels()
    models = [a.model_name for a in panel.agents]
    base: Stats | None = None
    base_version = 0
    learned_on: list[dict[str, Any]] = []
    warnings: list[str] = []
    warm_sha = None
    if cfg.state:
        data = load_state(cfg.state)
        check_state_agents(data, models, cfg.state, cfg.force)
        learned_on = list(data.get("learned_on") or [])
        warnings = check_leakage(learned_on, task, _eval_split(task), ids, cfg.state, cfg.force)
        for w in warnings:
            logger.warning(w)
        base = Stats.from_json(data["stats"])
        base_version = int(data["version"])
        warm_sha = hashlib.sha256(json.dumps(data["stats"], sort_keys=True).encode()).hexdigest()[:16]
    plan = [(e, sid) for e in range(1, epochs + 1) for sid in ids]
    split = _eval_split(task)
    run_key = {
        "task": task,
        "panel_digest": panel_digest,
        "router_digest": cfg.digest(),
        "warm_start": None if warm_sha is None else {"version": base_version, "stats_sha": warm_sha},
        "epochs": epochs,
        "n_items": len(ids) if epochs > 1 else None,
    }
    router = PrequentialRouter(
        cfg,
        labels,
        models,
        panel_digest,
        base=base,
        base_version=base_version,
        learned_on=learned_on + [learned_entry(task, split, ids)],
        provenance={
            "task": task,
            "split": split,
            "n_items": len(ids),
            "items_sha256": items_sha256(ids),
            "panel_digest": panel_digest,
            "alpha": cfg.alpha,
            "warm_start": cfg.state,
        },
        run={"key": run_key, "n_plan_items": len(ids)},
        plan=plan,
        state_out=cfg.state_out,
    )
    router.warnings = warnings
    if cfg.state_out and cfg.resume == "auto" and Path(cfg.state_out).is_file():
        try:
            saved = load_state(cfg.state_out)
        except OrchConfigError:
            saved = None
        if saved is not None and saved.get("run") and saved["run"].get("key") == run_key:
            router.restore_run(saved, cfg.state_out)
            logger.info("router: resuming from %s at item %d", cfg.state_out, router.next_index)
    return router


# ---- deciding one item ------------------------------------------------------------------------


async def decide_routed(
    engine: Orchestrator, question: Question, state: TaskState, routing: Routing
) -> Decision:
    """Decide one item with the panel's router (or without, when the panel has none)."""
    cfg = engine.panel.router
    if cfg is None or not cfg.enabled:
        return await engine.decide(question)
    router, index_of = routing.run_for(engine)
    sid = str(state.sample_id)
    index = index_of.get((state.epoch, sid))
    if index is None:
        raise OrchConfigError(
            f"router: sample {sid!r} (epoch {state.epoch}) is not in the eval's dataset order"
        )
    n_items = router.run.get("n_plan_items") or 1
    feedback = Feedback(index=index, sample_id=sid, epoch=state.epoch, domain=question.domain)
    try:
        await router.wait_ready(index)
        route, version = router.route(index, question.domain)
        shadow_info: dict[str, Any] | None = None
        if cfg.shadow:
            n = len(engine.panel.agents)
            records = await gather([partial(engine.analyse, question, s) for s in range(n)])
            decision = await engine.decide(question, consult=route.consult, analyses=records)
            feedback = feedback_from_records(records, cfg, index, sid, state.epoch, question.domain)
            shadow_info = {
                "answers": [r.answer for r in records],
                "correct": [r.correct for r in records],
                "cost": sum(r.cost for r in records) + (decision.merge.cost if decision.merge else 0.0),
            }
        else:
            decision = await engine.decide(question, consult=route.consult, top=route.top)
            feedback = feedback_from_records(decision.agents, cfg, index, sid, state.epoch, question.domain)
        decision.router = {
            "index": index,
            "epoch": state.epoch,
            "position": index % n_items,
            "state_version": version,
            "mode": cfg.mode,
            "lag": cfg.lag,
            "shadow": cfg.shadow,
            "agents": engine.panel.agent_labels(),
            **route.to_json(),
        }
        if shadow_info is not None:
            decision.router["shadow_run"] = shadow_info
    finally:
        router.submit(feedback)  # synchronous: safe even while the sample is being cancelled
    await router.wait_applied(index)  # so a sample in the log always has its feedback saved
    return decision


# ---- calibration ------------------------------------------------------------------------------


def _eval_split(task: str) -> str | None:
    """The split a task evaluates on, from the benchmark registry (None: not a registered benchmark)."""
    b = BENCHMARKS.get(task_short(task))
    return b.eval_split if b is not None else None


def calibration_dataset(
    task: str, split: str, exclude_evaluated: bool = False, shuffle_seed: int | None = None
) -> tuple[Any, int]:
    """The calibration items of a standard task (its own record-to-sample function on a split it
    does not evaluate: MMLU dev/validation, MMLU-Pro validation, GSM8K train), shuffled with
    ``shuffle_seed`` if given, and how many were then left out as repeats of evaluated items
    (``exclude_evaluated``)."""
    if task_short(task) not in BENCHMARKS:
        raise OrchConfigError(
            f"router calibrate: no calibration split known for task {task}; "
            f"supported: {', '.join(b.task for b in BENCHMARKS.values())}"
        )
    try:
        return get_benchmark(task).calibration_dataset(
            split, exclude_evaluated=exclude_evaluated, shuffle_seed=shuffle_seed
        )
    except OrchConfigError as ex:
        raise OrchConfigError(f"router calibrate: {ex}") from None


@solver
def calibrate_solver(panel: Any, holder: dict[str, Any], cache: bool = True) -> Solver:
    """Every agent analyses every calibration item; feedback is applied in dataset order."""
    from orch_eval.inspect.adapt import apply_decision, question_from_state

    engine = Orchestrator(panel, cache=cache)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        if "router" not in holder:
            key, task, ids, epochs = eval_order()
            cfg = panel.router or RouterConfig()
            holder["ids"] = ids
            holder["router"] = PrequentialRouter(
                cfg.model_copy(update={"lag": 0}),
                panel.agent_labels(),
                [a.model_name for a in panel.agents],
                engine.digest,
                plan=[(e, sid) for e in range(1, epochs + 1) for sid in ids],
            )
            holder["index"] = {pair: i for i, pair in enumerate(holder["router"].plan)}
        router: PrequentialRouter = holder["router"]
        q = question_from_state(state)
        index = holder["index"][(state.epoch, str(state.sample_id))]
        fb = Feedback(index=index, sample_id=str(state.sample_id), epoch=state.epoch, domain=q.domain)
        try:
            decision = await engine.decide(q)
            fb = feedback_from_records(
                decision.agents, router.config, index, str(state.sample_id), state.epoch, q.domain
            )
        finally:
            router.submit(fb)
        return apply_decision(state, decision, model=f"calibrate/{panel.name or engine.digest}")

    return solve


def calibrate(
    panel: Panel,
    task: str,
    split: str,
    output: str | Path,
    limit: int | None = None,
    log_dir: str | None = None,
    cache: bool = True,
    max_samples: int | None = None,
    order: str = "seeded",
    seed: int = 0,
    display: DisplayType | None = "none",
    exclude_eval_split: bool = True,
) -> dict[str, Any]:
    """Run the panel's agents (no merger) on a calibration split through Inspect and write the
    learned router state to ``output``. Returns the state written.

    ``order="seeded"`` (default) shuffles the split with ``seed`` before ``limit`` and before the
    feedback is applied: MMLU's splits are sorted by subject, so in dataset order the first N
    items cover a few subjects only and, because an EMA remembers about ``(2 - alpha) / alpha``
    items, the warm start would reflect the last subject alone. ``order="dataset"`` keeps the
    split's own order. ``display`` is Inspect's display (``None``: Inspect's default, with progress).

    ``exclude_eval_split`` (default True) leaves out the calibration items whose sample id also
    occurs in the split the task evaluates: the ids are content hashes, and MMLU repeats some
    test questions in its validation and dev splits, so such an item is the evaluated question
    itself and the leakage rule would refuse the state for any test subset holding it. Items are
    left out before ``limit``; the count is recorded in the provenance (``excluded_items``)."""
    from inspect_ai import Task
    from inspect_ai import eval as inspect_eval

    from orch_eval.core.atomic import write_json_atomic

    check_size("router calibrate: limit", limit, "positive_int")
    check_size("router calibrate: max_samples", max_samples, "positive_int")
    if panel.router is None:
        panel = panel.model_copy(update={"router": RouterConfig()})
    if order not in ("seeded", "dataset"):
        raise OrchConfigError(f"router calibrate: order must be 'seeded' or 'dataset', not {order!r}")
    dataset, excluded = calibration_dataset(
        task, split, exclude_evaluated=exclude_eval_split, shuffle_seed=seed if order == "seeded" else None
    )
    if excluded:
        logger.info(
            "router calibrate: left out %d %s items whose ids occur in its %s split",
            excluded,
            split,
            _eval_split(task),
        )
    holder: dict[str, Any] = {}
    # the agents' own analyses (no merger, no dispatcher): what the router's feedback measures
    agents_only = panel.model_copy(update={"merger": None, "dispatch": False, "dispatcher": None})
    t = Task(
        dataset=dataset,
        solver=calibrate_solver(agents_only, holder, cache=cache),
        name=f"router_calibrate_{task_short(task)}",
    )
    logs = inspect_eval(
        t,
        model="none/none",
        limit=limit,
        display=display,
        log_dir=log_dir or "logs/router-calibrate",
        max_samples=max_samples,
    )
    if logs[0].status != "success":
        raise OrchConfigError(
            f"router calibrate: the calibration eval ended with status {logs[0].status}: {logs[0].error}"
        )
    router: PrequentialRouter = holder["router"]
    if router.next_index != len(router.plan or []):
        raise OrchConfigError(
            f"router calibrate: only {router.next_index} of {len(router.plan or [])} items gave feedback"
        )
    ids = holder["ids"]
    router.panel_digest = panel.digest()
    router.provenance = {
        "task": task,
        "split": split,
        "n_items": len(ids),
        "items_sha256": items_sha256(ids),
        "panel_digest": panel.digest(),
        "alpha": router.config.alpha,
        "order": f"seeded:{seed}" if order == "seeded" else "dataset",
        "excluded_items": excluded if exclude_eval_split else None,
        "created": router.created,
        "log": logs[0].location,
    }
    router.learned_on = [learned_entry(task, split, ids)]
    data = router.to_json(include_run=False)
    write_json_atomic(output, data, indent=None)
    return data
