"""From an experiment to a plan: resolved panels, one entry per system, the item subsets,
and the dry-run estimate of calls, tokens and cost."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel, check_models, load_panel, validate_panel
from orch_eval.core.prompts import (
    analysis_prompt,
    direct_prompt,
    dispatch_prompt,
    merge_prompt,
    refine_prompt,
)
from orch_eval.core.question import AnswerKind, Question
from orch_eval.core.router import coerce_router
from orch_eval.core.sizes import check_size
from orch_eval.experiment.config import METHOD_KINDS, Experiment, SystemSpec
from orch_eval.experiment.items import BenchmarkItems, select


@dataclass
class SystemPlan:
    """One system of the report."""

    name: str
    kind: str  # orch | dispatch | single | majority | direct | self_consistency | self_moa | moa | debate
    panel: Panel
    slot: int | None = None
    """single/direct/self_consistency/self_moa: the agent slot."""
    derived_from: str | None = None
    """Name of the ORCH system whose Decisions give this system (not run)."""
    spec: SystemSpec | None = None

    @property
    def runs(self) -> bool:
        return self.derived_from is None

    def method_args(self) -> dict[str, Any]:
        """The method's arguments (kinds of orch_eval.core.methods): the file's, plus the slot."""
        args = dict(self.spec.method_params()) if self.spec is not None else {}
        if self.kind in ("self_consistency", "self_moa"):
            args["agent"] = self.slot
        if self.kind == "self_moa" and self.spec is not None and self.spec.merger is not None:
            args["merger"] = self.spec.merger
        return args

    def method(self) -> Any:
        """The validated method of a method kind (orch_eval.core.methods), checked against the panel."""
        from orch_eval.core.methods import method_from_args

        return method_from_args(self.kind, self.method_args(), self.panel)

    def solver(self) -> tuple[str, dict[str, Any]]:
        """Registered solver name and its arguments (the panel travels as a mapping)."""
        panel = self.panel.model_dump(mode="json", exclude_none=False)
        if self.kind in METHOD_KINDS:
            return self.kind, {"panel": panel, **self.method_args()}
        if self.kind in ("orch", "dispatch"):  # dispatch: an orch panel with dispatch: true
            return "orch", {"panel": panel}
        if self.kind == "majority":
            return "majority_vote", {"panel": panel}
        if self.kind == "single":
            return "single", {"panel": panel, "agent": self.slot}
        return "direct", {"panel": panel, "agent": self.slot}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "slot": self.slot,
            "derived_from": self.derived_from,
            "panel_digest": self.panel.digest(),
            "agents": [a.model_name for a in self.panel.agents],
            "merger": self.panel.merger.model_name if self.panel.merger else None,
        }


@dataclass
class Plan:
    experiment: Experiment
    panel: Panel
    systems: list[SystemPlan]
    benchmarks: list[BenchmarkItems]
    reference: str | None
    log_dir: Path
    shard: tuple[int, int] | None = None
    """``(i, N)``: this process runs shard ``i`` of ``N`` (``orch-eval run --shard i/N``)."""

    @property
    def shard_label(self) -> str | None:
        return None if self.shard is None else f"{self.shard[0]}/{self.shard[1]}"

    def shard_ids(self, b: BenchmarkItems, shard: tuple[int, int] | None = None) -> list[str | int]:
        """The items of ``b`` that shard ``shard`` (default: this plan's) runs: positions
        ``i - 1, i - 1 + N, ...`` of the chosen items in dataset order (all items unsharded)."""
        shard = shard or self.shard
        if shard is None:
            return list(b.ids)
        i, n = shard
        return list(b.ids[i - 1 :: n])

    def shard_dir(self, shard: tuple[int, int] | None = None) -> Path:
        """Where a shard's Inspect logs go: ``<log dir>/shards/<i>-of-<N>`` (the log dir unsharded).
        One ``eval_set`` log dir per shard: ``eval_set`` would take another shard's log of the same
        task for its own."""
        shard = shard or self.shard
        return self.log_dir if shard is None else self.log_dir / "shards" / f"{shard[0]}-of-{shard[1]}"

    def system(self, name: str) -> SystemPlan:
        return next(s for s in self.systems if s.name == name)

    @property
    def runnable(self) -> list[SystemPlan]:
        return [s for s in self.systems if s.runs]

    @property
    def inspect_benchmarks(self) -> list[BenchmarkItems]:
        return [b for b in self.benchmarks if not b.is_lm_eval]

    def items_manifest(self) -> dict[str, list[str]]:
        return {b.short: [str(i) for i in b.ids] for b in self.benchmarks}


def solver_digest(system: SystemPlan) -> str:
    name, args = system.solver()
    text = json.dumps({"solver": name, "args": args}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lm_eval_unsupported(system: SystemPlan) -> str | None:
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


def resolve_experiment_panel(exp: Experiment) -> Panel:
    spec = exp.panel
    if isinstance(spec, dict):
        return validate_panel(spec, source=f"{exp.source or 'experiment'}: panel")
    p = Path(spec)
    for cand in (exp.base_dir / p, Path.cwd() / p):
        if cand.is_file():
            return load_panel(cand)
    try:
        return load_panel(spec)
    except OrchConfigError as ex:
        raise OrchConfigError(f"{exp.source or 'experiment'}: field 'panel': {ex}") from None


def _sub_panel(base: Panel, spec: SystemSpec, where: str) -> Panel:
    data = base.model_dump(mode="python")
    if spec.agents is not None:
        slots = list(range(spec.agents)) if isinstance(spec.agents, int) else list(spec.agents)
        if not slots or any(not 0 <= s < len(base.agents) for s in slots) or len(set(slots)) != len(slots):
            raise OrchConfigError(
                f"{where}: agents={spec.agents} does not fit a panel of {len(base.agents)} agents"
            )
        # keep each agent's lens as resolved in the full panel (so analyses stay comparable)
        data["agents"] = [dict(data["agents"][s], lens=base.lens_of(s)) for s in slots]
        data["lenses"] = "none"
        data["min_analyses"] = min(base.min_analyses, len(slots))
    if spec.lenses is not None:
        data["lenses"] = spec.lenses
    if spec.anonymise is not None:
        data["anonymise"] = spec.anonymise
    if spec.min_analyses is not None:
        data["min_analyses"] = spec.min_analyses
    if spec.merger is not None and spec.kind != "self_moa":  # self_moa's merger is the method's own
        data["merger"] = {"model": spec.merger}
    if spec.merge_style is not None:
        data["merge_style"] = spec.merge_style
    if spec.merge_budget is not None:
        data["budgets"] = {**data["budgets"], "merge": spec.merge_budget}
    if spec.kind == "dispatch":
        data["dispatch"] = True
        data["dispatcher"] = spec.dispatcher
    elif spec.kind != "orch":  # single, direct, majority and the methods never decompose
        data["dispatch"], data["dispatcher"] = False, None
    if spec.kind in METHOD_KINDS:  # every agent answers: no router
        data["router"] = None
    if spec.kind in ("orch", "dispatch") and (
        spec.router is not None or spec.top_k is not None or spec.router_state
    ):
        try:
            cfg = (
                coerce_router(spec.router)
                if spec.router is not None
                else (base.router or coerce_router("on"))
            )
        except ValueError as ex:
            raise OrchConfigError(f"{where}: router: {ex}") from None
        if cfg is not None:
            update: dict[str, Any] = {}
            if spec.top_k is not None:
                update["top_k"] = spec.top_k
            if spec.router_state is not None:
                update["state"] = spec.router_state
            data["router"] = cfg.model_copy(update=update).model_dump()
        else:
            data["router"] = None
    return validate_panel(data, source=where)


def expand_systems(exp: Experiment, panel: Panel) -> list[SystemPlan]:
    """One SystemPlan per system (``single``/``direct`` without ``agent`` give one per agent)."""
    out: list[SystemPlan] = []
    for i, spec in enumerate(exp.systems):
        where = f"{exp.source or 'experiment'}: systems.{i}"
        sub = _sub_panel(panel, spec, where)
        if spec.kind in ("single", "direct", "self_consistency", "self_moa"):
            slots = [spec.agent] if spec.agent is not None else list(range(len(sub.agents)))
            for slot in slots:
                if slot >= len(sub.agents):
                    raise OrchConfigError(
                        f"{where}: agent={slot} is out of range (the panel has {len(sub.agents)} agents)"
                    )
                prefix = {"self_consistency": f"sc{spec.k or 5}", "self_moa": f"self_moa{spec.k or 5}"}.get(
                    spec.kind, spec.kind
                )
                default = f"{prefix}:{sub.agents[slot].label}"
                name = (
                    spec.name
                    if spec.name and len(slots) == 1
                    else (f"{spec.name}:{sub.agents[slot].label}" if spec.name else default)
                )
                out.append(SystemPlan(name, spec.kind, sub, slot=slot, spec=spec))
        else:
            default = {"moa": f"moa{spec.layers or 2}", "debate": f"debate{spec.rounds or 2}"}.get(
                spec.kind, spec.kind
            )
            name = spec.name or default  # orch, dispatch, majority, moa<layers>, debate<rounds>
            out.append(SystemPlan(name, spec.kind, sub, spec=spec))
    for s in out:  # a method that does not fit its panel fails here, before any call
        if s.kind in METHOD_KINDS:
            try:
                s.method()
            except OrchConfigError as ex:
                raise OrchConfigError(f"{exp.source or 'experiment'}: system {s.name}: {ex}") from None
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise OrchConfigError(
            f"{exp.source or 'experiment'}: systems: duplicate system names {dup}; give them 'name:'"
        )
    # derivation: single/majority on the full panel come from the base ORCH system's Decisions
    base = next(
        (
            s
            for s in out
            if s.kind == "orch"
            and s.panel.router is None
            and not s.panel.dispatch
            and s.panel.digest() == panel.digest()
        ),
        None,
    )
    if base is not None:
        for s in out:
            if s.spec is None or not s.spec.derive or s.kind not in ("single", "majority"):
                continue
            same_agents = [a.identity() for a in s.panel.agents] == [
                a.identity() for a in panel.agents
            ] and all(s.panel.agent_digest(k) == panel.agent_digest(k) for k in range(len(panel.agents)))
            if same_agents:
                s.derived_from = base.name
    return out


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` (1 <= i <= N) -> ``(i, N)``; one clear error otherwise."""
    if text is None:
        return None
    left, sep, right = str(text).partition("/")
    try:
        i, n = int(left), int(right)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise OrchConfigError(f"--shard {text!r}: use i/N with 1 <= i <= N, e.g. --shard 1/4")
    return i, n


def check_shardable(plan: Plan) -> None:
    """Refuse what cannot be split into item shards, before anything runs."""
    if plan.shard is None:
        return
    routed = [s.name for s in plan.runnable if s.panel.router is not None and s.panel.router.enabled]
    if routed:
        raise OrchConfigError(
            f"--shard: the routed system(s) {', '.join(routed)} cannot be sharded: the prequential router "
            "decides each item from the outcomes of every earlier item in dataset order, so a shard would "
            "see a different history. Run the routed systems unsharded (a separate experiment file), after "
            "the shards: their analyses are then cache hits"
        )
    lm = [b.short for b in plan.benchmarks if b.is_lm_eval]
    if lm:
        raise OrchConfigError(
            f"--shard: lm-eval benchmarks ({', '.join(lm)}) are not sharded by orch-eval run; run them "
            "unsharded, or split them with lm-eval's own --samples (docs/served-models.md)"
        )


def build_plan(
    exp: Experiment,
    log_dir: str | Path | None = None,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
) -> Plan:
    """Validate everything that can be checked before any model call and choose the items
    (``limit``: the first N chosen items of each benchmark, N >= 1)."""
    check_size("limit", limit, "positive_int")
    where = exp.source or "experiment"
    panel = check_models(resolve_experiment_panel(exp), source=f"{where}: panel")
    systems = expand_systems(exp, panel)
    for s in systems:  # a system's own merger or agent subset is a panel of its own
        check_models(s.panel, source=f"{where}: system {s.name}")
    names = [s.name for s in systems]
    if exp.reference is not None and exp.reference not in names:
        raise OrchConfigError(
            f"{exp.source or 'experiment'}: field 'reference': {exp.reference!r} is not one of the systems "
            f"{names}"
        )
    benchmarks = []
    seen = set()
    for b in exp.benchmarks:
        if b.key in seen:
            raise OrchConfigError(f"{exp.source or 'experiment'}: benchmark {b.key} appears twice")
        seen.add(b.key)
        benchmarks.append(select(b, exp.seed, limit))
    if log_dir is None:
        log_dir = Path("logs") / (exp.name if limit is None else f"{exp.name}-limit{limit}")
    plan = Plan(exp, panel, systems, benchmarks, exp.reference, Path(log_dir), shard)
    check_shardable(plan)
    return plan


# ---------------------------------------------------------------------------- dry run


@dataclass
class Estimate:
    """Calls, tokens and cost of one system on one benchmark (cold cache, in plan order)."""

    system: str
    benchmark: str
    items: int
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    per_model: dict[str, int] = field(default_factory=dict)
    upper_bound: bool = False
    derived: bool = False
    note: str = ""


def _tok(text: str) -> int:
    return (len(text) + 3) // 4


def _budget(panel: Panel, slot: int, q: Question) -> int:
    spec = panel.agents[slot]
    if spec.max_tokens:
        return spec.max_tokens
    return panel.budgets.analysis if q.kind == AnswerKind.choice else panel.budgets.analysis_numeric


def estimate(plan: Plan) -> list[Estimate]:
    """Model calls a run makes on a cold cache, attributed to the first system (in plan order)
    that makes each call (later systems reuse it through Inspect's cache: analyses are keyed by
    agent slot + agent digest + item, merges by panel digest + item, letter-only answers by slot).

    With a shard (``--shard i/N``), only that shard's items are counted.

    Not counted: answer-completion steps (made only after an analysis without a parsable
    answer; at most one per analysis/merge), retries of failed calls. Tokens: rendered prompt
    length / 4 plus the full output budget (an upper bound on output); a merge prompt counts
    its analyses at their full budget.
    """
    seen: set[tuple[Any, ...]] = set()
    out: list[Estimate] = []
    for s in plan.systems:
        for b in plan.benchmarks:
            ids = plan.shard_ids(b)
            e = Estimate(s.name, b.short, len(ids), derived=not s.runs)
            if not s.runs:
                e.note = f"derived from {s.derived_from}'s Decisions (no calls)"
                out.append(e)
                continue
            if b.is_lm_eval and (why := lm_eval_unsupported(s)) is not None:
                e.note = f"not run on lm-eval benchmarks: {why}"
                out.append(e)
                continue
            _count_calls(e, s, b, ids, seen)
            out.append(e)
    return out


def _count_calls(
    e: Estimate, s: SystemPlan, b: BenchmarkItems, ids: list[str | int], seen: set[tuple[Any, ...]]
) -> None:
    """Adds to ``e`` the calls system ``s`` makes on items ``ids`` of benchmark ``b`` that no
    earlier system made (``seen``: the cache keys of the calls counted so far, shared across systems)."""
    p = s.panel

    def add(key: tuple[Any, ...], model: str, tin: int, tout: int) -> None:
        if key in seen:
            return
        seen.add(key)
        e.calls += 1
        e.input_tokens += tin
        e.output_tokens += tout
        e.cost += p.cost(model, tin, tout)
        e.per_model[model] = e.per_model.get(model, 0) + 1

    routed = p.router is not None and p.router.enabled
    greedy = (float(p.temperature), p.seed)  # an analysis's settings enter its cache key

    def analyses(q: Question, iid: Any) -> None:
        """The panel's first-round analyses (ORCH's calls)."""
        for k in range(len(p.agents)):
            add(
                ("analysis", k, p.agent_digest(k), b.short, str(iid), *greedy),
                p.agents[k].model_name,
                _tok(analysis_prompt(q, p.lens_of(k))),
                _budget(p, k, q),
            )

    def rounds(q: Question, iid: Any, role: str, count: int) -> None:
        """MoA layers / debate rounds 2..count: each prompt holds the previous round."""
        n = len(p.agents)
        agents = tuple(p.agent_digest(k) for k in range(n))
        shown = [(f"Analyst {k + 1}", None, "") for k in range(n)]
        for j in range(2, count + 1):
            for k in range(n):
                tin = _tok(refine_prompt(q, shown, p.lens_of(k))) + sum(_budget(p, m, q) for m in range(n))
                add((role, j, k, agents, b.short, str(iid)), p.agents[k].model_name, tin, _budget(p, k, q))

    def merge(
        q: Question, iid: Any, key: tuple[Any, ...], model: str, analyses_shown: int, budget: int
    ) -> None:
        shown = [(f"Analyst {k + 1}", None, "") for k in range(analyses_shown)]
        tin = _tok(merge_prompt(q, shown, p.merge_style)) + analyses_shown * budget
        add((*key, b.short, str(iid)), model, tin, p.budgets.merge)

    for iid in ids:
        q = b.questions[str(iid)]
        if s.kind in METHOD_KINDS:
            m = s.method()
            if s.kind in ("self_consistency", "self_moa"):
                slot = m.agent
                for i in range(m.k):
                    add(
                        (
                            "analysis",
                            slot,
                            p.agent_digest(slot),
                            b.short,
                            str(iid),
                            float(m.temperature),
                            p.seed + i,
                        ),
                        p.agents[slot].model_name,
                        _tok(analysis_prompt(q, p.lens_of(slot))),
                        _budget(p, slot, q),
                    )
                if s.kind == "self_moa":
                    spec = m.merger_call_spec(p)
                    merge(q, iid, ("self_moa_merge", m.digest(p)), spec.model_name, m.k, _budget(p, slot, q))
            else:
                count = m.layers if s.kind == "moa" else m.rounds
                analyses(q, iid)
                rounds(q, iid, s.kind, count)
                n = len(p.agents)
                if s.kind == "moa" or m.merge:
                    # one layer: the aggregator's prompt is ORCH's merge prompt (the same call)
                    key = ("merge", p.digest()) if count == 1 else (f"{s.kind}_merge", p.digest(), count)
                    merge(q, iid, key, p.merger.model_name, n, max(_budget(p, k, q) for k in range(n)))  # type: ignore[union-attr]
            continue
        if s.kind in ("orch", "dispatch", "majority"):
            n = len(p.agents)
            if p.dispatch:
                # the dispatcher's call; analyses then carry its sub-questions (their own keys)
                d = p.dispatcher if p.dispatcher is not None else 0
                if routed:
                    e.upper_bound = True  # the router's top agent dispatches
                add(
                    ("dispatch", d, p.agent_digest(d), n, b.short, str(iid)),
                    p.agents[d].model_name,
                    _tok(dispatch_prompt(q, n)),
                    p.budgets.dispatch,
                )
            # focused analyses depend on the dispatcher's sub-questions: their own entries
            scope = ("analysis-focused", p.digest()) if p.dispatch else ("analysis",)
            keys = [(*scope, k, p.agent_digest(k), b.short, str(iid), *greedy) for k in range(n)]
            if routed and not all(key in seen for key in keys):
                e.upper_bound = True  # which agents the router consults is decided at run time
            for k, key in enumerate(keys):
                focus = "x" * 80 if p.dispatch else None  # a typical sub-question's length
                add(
                    key,
                    p.agents[k].model_name,
                    _tok(analysis_prompt(q, p.lens_of(k), focus)),
                    _budget(p, k, q),
                )
            if s.kind in ("orch", "dispatch") and p.merger is not None:
                shown = [(f"Analyst {k + 1}", None, "") for k in range(n)]
                tin = _tok(merge_prompt(q, shown, p.merge_style)) + sum(_budget(p, k, q) for k in range(n))
                add(("merge", p.digest(), b.short, str(iid)), p.merger.model_name, tin, p.budgets.merge)
        elif s.kind == "single":
            k = s.slot or 0
            add(
                ("analysis", k, p.agent_digest(k), b.short, str(iid), *greedy),
                p.agents[k].model_name,
                _tok(analysis_prompt(q, p.lens_of(k))),
                _budget(p, k, q),
            )
        else:
            k = s.slot or 0
            add(
                ("direct", k, p.agent_digest(k), b.short, str(iid)),
                p.agents[k].model_name,
                _tok(direct_prompt(q)),
                p.agents[k].max_tokens or p.budgets.direct,
            )
    if routed:
        e.note = (
            "upper bound: the router consults a subset of the agents"
            if e.upper_bound
            else "analyses reused from an earlier system; merges only"
        )
    elif e.calls == 0:
        e.note = "all calls reused from earlier systems (cache)"


def format_estimate(plan: Plan, rows: list[Estimate]) -> str:
    cur = plan.panel.currency
    shard = f", shard {plan.shard_label} of them" if plan.shard else ""
    lines = [
        f"Experiment {plan.experiment.name}: {len(plan.systems)} systems x {len(plan.benchmarks)} benchmarks "
        f"({', '.join(f'{b.short}: {len(b.ids)} items' for b in plan.benchmarks)}{shard}); "
        f"log dir {plan.shard_dir()}",
        f"Reference (declared): {plan.reference}",
        "Model calls on a cold cache, without answer-completion steps (one extra call per analysis or merge "
        "that ends without a parsable answer) and retries; tokens = prompt chars / 4 + full output budget.",
        "",
        f"| system | benchmark | items | calls | input tokens | output tokens (max) | cost ({cur}) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        calls = f"<= {r.calls}" if r.upper_bound else str(r.calls)
        lines.append(
            f"| {r.system} | {r.benchmark} | {r.items} | {calls} | {r.input_tokens} | {r.output_tokens} | "
            f"{r.cost:.4f} | {r.note} |"
        )
    total_calls = sum(r.calls for r in rows)
    bound = any(r.upper_bound for r in rows)
    total_cost = sum(r.cost for r in rows)
    lines.append("")
    lines.append(
        f"Total: {'<= ' if bound else ''}{total_calls} calls, {sum(r.input_tokens for r in rows)} input "
        f"tokens, <= {sum(r.output_tokens for r in rows)} output tokens, cost <= {total_cost:.4f} {cur}"
        + ("" if plan.panel.prices else " (the panel has no price table: cost 0)")
    )
    per_model: dict[str, int] = {}
    for r in rows:
        for m, c in r.per_model.items():
            per_model[m] = per_model.get(m, 0) + c
    lines.append("Calls per model: " + ", ".join(f"{m}: {c}" for m, c in per_model.items()))
    if plan.experiment.cost_limit is not None and total_cost > plan.experiment.cost_limit:
        lines.append(
            f"Note: the estimate exceeds cost_limit={plan.experiment.cost_limit} {cur}; the run will stop "
            "early."
        )
    return "\n".join(lines)
