"""Inspect solvers: ``orch_eval/orch``, ``single``, ``majority_vote``, ``direct``, and the methods
beside ORCH: ``self_consistency``, ``self_moa``, ``moa``, ``debate`` (:mod:`orch_eval.core.methods`).

Each replaces a task's solver chain (``--solver``) and leaves the task's scorer untouched:
multiple-choice answers are marked on ``state.choices`` (read by ``choice()``), numeric
answers end the completion (read by ``match(numeric=True)``). Every sample's Decision goes to
``state.metadata["orch"]``.

Where the panel comes from, in order: ``-S panel=solvers/NAME.yaml`` (or a preset name),
``-S agents=a,b,c -S merger=m``, or the model roles ``agents`` (a list:
``--model-role agents=a,b,c``) and ``merger``.

Bad configuration fails before any model call: a panel given as an argument (preset, YAML
file, ``agents=``/``model=``) is loaded and validated, model providers included, when the
solver is built, so ``inspect eval`` stops with one message naming the field and the fix. A
panel from model roles can only be built inside the eval (roles exist only there): it is
built at the first sample, before that sample's first call, and a bad one ends the eval with
the same kind of message.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import Model, model_roles
from inspect_ai.solver import Generate, Solver, TaskState, solver

from orch_eval._inspect_private import PrerequisiteError
from orch_eval.core.coerce import as_bool
from orch_eval.core.engine import Orchestrator
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel, check_models, load_panel, named, validate_panel
from orch_eval.inspect.adapt import apply_decision, question_from_state


def panel_from_roles(overrides: dict[str, Any], need_merger: bool) -> Panel:
    """A panel from the eval's model roles ``agents`` (one or a list) and ``merger``."""
    roles = model_roles()
    agents = roles.get("agents")
    merger = roles.get("merger")
    if agents is None:
        raise OrchConfigError(
            "no panel: pass --model-role agents=provider/a,provider/b --model-role merger=provider/m, "
            "or -S panel=solvers/NAME.yaml, or -S agents=... -S merger=..."
        )
    agent_list: list[Model] = agents if isinstance(agents, list) else [agents]
    if need_merger and merger is None:
        raise OrchConfigError(
            "missing model role 'merger': add --model-role merger=provider/model "
            "(or use --solver orch_eval/majority_vote for a panel without a merger)"
        )
    merger_model = merger[0] if isinstance(merger, list) else merger
    data: dict[str, Any] = {"agents": [{"model": m} for m in agent_list], **overrides}
    if need_merger:
        data["merger"] = {"model": merger_model}
    return check_models(named(validate_panel(data, source="model roles")), source="model roles")


def resolve_panel(
    panel: str | dict[str, Any] | Panel | None,
    agents: str | list[str] | None,
    merger: str | None,
    overrides: dict[str, Any],
    need_merger: bool = True,
) -> Panel:
    """Resolve the panel of a solver from its arguments (see module docstring)."""
    if panel is not None:
        resolved = load_panel(panel)
        if overrides:
            resolved = validate_panel(
                {**resolved.model_dump(exclude_none=False), **overrides},
                source=f"panel {panel} with overrides",
            )
        source = f"panel {panel}" if isinstance(panel, str) else "panel"
    elif agents is not None:
        resolved = Panel.from_args(agents, merger, **overrides)
        source = "-S agents=... / -S merger=..."
    else:
        return panel_from_roles(overrides, need_merger)
    check_models(resolved, source=source)
    if need_merger and resolved.merger is None:
        raise OrchConfigError(
            f"panel {resolved.name or ''} has no merger: add 'merger:' to it "
            "(or use --solver orch_eval/majority_vote)"
        )
    return resolved


class OrchSetupError(OrchConfigError, PrerequisiteError):
    """A configuration error found before the eval starts. Being an Inspect ``PrerequisiteError``,
    the ``inspect`` CLI prints just its message (no traceback) and exits with status 1."""

    def __init__(self, message: str) -> None:
        OrchConfigError.__init__(self, message)
        self.message = message


def setup_error(where: str, ex: OrchConfigError) -> OrchSetupError:
    return OrchSetupError(f"{where}: {ex}")


class _Lazy:
    """Builds the engine (an Orchestrator, or an Orchestrator and a method) at once (``eager``:
    the panel is given as an argument, so a bad one fails when the solver is built, before the
    eval starts) or on first use, inside the eval (model roles exist only there)."""

    def __init__(self, build: Any, eager: bool = False, where: str = "orch_eval") -> None:
        self._build = build
        self._orch: Any = None
        if eager:
            try:
                self._orch = build()
            except OrchSetupError:
                raise
            except OrchConfigError as ex:
                raise setup_error(where, ex) from None

    def get(self) -> Any:
        if self._orch is None:
            self._orch = self._build()
        return self._orch


def _overrides(lenses: str | None, seed: int | None, extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(extra)
    if lenses is not None:
        out["lenses"] = lenses
    if seed is not None:
        out["seed"] = seed
    return out


@solver
def orch(
    panel: str | None = None,
    agents: str | list[str] | None = None,
    merger: str | None = None,
    lenses: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """ORCH: every agent writes a structured analysis in parallel; the merger decides.

    Args:
        panel: Preset name or YAML path (``solvers/local.yaml``).
        agents: Comma-separated Inspect model names (instead of a preset or roles).
        merger: Inspect model name of the merger.
        lenses: ``auto`` to assign concept / elimination / verification lenses by panel order.
        seed: Seed passed to every call (default 0).
        cache: Use Inspect's cache, scoped per agent slot and panel digest.
        **panel_fields: Other panel fields (e.g. ``min_analyses=2``, ``anonymise=false``).
    """
    from orch_eval.inspect.routing import Routing, apply_router_args, decide_routed, pop_router_args

    router_args = pop_router_args(panel_fields)  # router=on|off, top_k, router_state, ... (see routing.py)
    overrides = _overrides(lenses, seed, panel_fields)
    if panel is None and agents is None:
        # role-based panel (built in the eval): still check the router arguments now
        try:
            apply_router_args(Panel.from_args(["none/none"]), router_args)
        except OrchConfigError as ex:
            raise setup_error("orch_eval/orch", ex) from None
    lazy = _Lazy(
        lambda: Orchestrator(
            apply_router_args(resolve_panel(panel, agents, merger, overrides), router_args), cache=cache
        ),
        eager=panel is not None or agents is not None,
        where="orch_eval/orch",
    )
    routing = Routing()

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        engine = lazy.get()
        decision = await decide_routed(engine, question_from_state(state), state, routing)
        return apply_decision(state, decision, model=f"orch/{engine.panel.name or engine.digest}")

    return solve


@solver
def single(
    agent: int = 0,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    model: str | None = None,
    lenses: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """The fair single-model baseline: one agent, the same analysis prompt and budget as in ORCH.

    With a panel (preset, ``agents=`` or roles), ``agent`` picks the slot; its calls share the
    cache scope of that slot inside ``orch``, so a ``single`` run after an ``orch`` run of the
    same panel costs nothing and gives exactly the agent's recorded answers. ``model=`` (or the
    eval's ``--model``) evaluates one model on its own.
    """
    return _one_agent_solver(
        "single", agent, panel, agents, model, _overrides(lenses, seed, panel_fields), cache
    )


def _one_agent_panel(
    name: str,
    agent: int,
    panel: str | None,
    agents: str | list[str] | None,
    model: str | None,
    overrides: dict[str, Any],
    need_merger: bool = False,
) -> Panel:
    """The panel of a one-model system: ``model=`` (a one-agent panel), the panel's slot ``agent``
    (preset, ``agents=`` or model roles), or the eval's ``--model``."""
    if model is not None:
        p = check_models(Panel.from_args([model], None, **overrides), source=f"model={model}")
    elif panel is None and agents is None and "agents" not in model_roles():
        from inspect_ai.model import get_model

        p = validate_panel({"agents": [{"model": get_model()}], **overrides}, source="--model")
    else:
        p = resolve_panel(panel, agents, None, overrides, need_merger=need_merger)
    if not 0 <= agent < len(p.agents):
        raise OrchConfigError(f"{name}: agent={agent} is out of range (the panel has {len(p.agents)} agents)")
    return p


def _one_agent_solver(
    name: str,
    agent: int,
    panel: str | None,
    agents: str | list[str] | None,
    model: str | None,
    overrides: dict[str, Any],
    cache: bool,
) -> Solver:
    """The solve function of ``single`` and ``direct``: one slot of a panel, or one model."""

    def build() -> Orchestrator:
        return Orchestrator(_one_agent_panel(name, agent, panel, agents, model, overrides), cache=cache)

    lazy = _Lazy(
        build, eager=panel is not None or agents is not None or model is not None, where=f"orch_eval/{name}"
    )
    slot = 0 if model is not None else agent

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        engine = lazy.get()
        decision = await engine.single(question_from_state(state), slot, direct=name == "direct")
        return apply_decision(state, decision, model=decision.agents[0].model)

    return solve


@solver
def majority_vote(
    panel: str | None = None,
    agents: str | list[str] | None = None,
    lenses: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """Majority vote of the agents' analyses (ties: panel order); no merger call.

    Analyses share their cache scope with ``orch`` on the same agents, so after an ``orch`` run
    this costs nothing.
    """
    overrides = _overrides(lenses, seed, panel_fields)

    def build() -> Orchestrator:
        p = resolve_panel(panel, agents, None, overrides, need_merger=False)
        return Orchestrator(p.model_copy(update={"merger": None}), cache=cache)

    lazy = _Lazy(build, eager=panel is not None or agents is not None, where="orch_eval/majority_vote")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        engine = lazy.get()
        decision = await engine.decide(question_from_state(state))
        return apply_decision(state, decision, model=f"vote/{engine.panel.name or engine.digest}")

    return solve


@solver
def direct(
    agent: int = 0,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    model: str | None = None,
    seed: int | None = None,
    cache: bool = True,
) -> Solver:
    """The paper's letter-only baseline (answer at once, short budget), for reproducing its table.

    Not a fair comparison with ORCH (no room to reason): use ``single`` for that.
    """
    return _one_agent_solver("direct", agent, panel, agents, model, _overrides(None, seed, {}), cache)


# ---- the methods beside ORCH ------------------------------------------------------------------


def _method_solver(
    name: str,
    params: dict[str, Any],
    panel: str | None,
    agents: str | list[str] | None,
    merger: str | None,
    model: str | None,
    overrides: dict[str, Any],
    cache: bool,
) -> Solver:
    """A solver running one of :mod:`orch_eval.core.methods` on each sample. One-model methods
    (``self_consistency``, ``self_moa``) take ``model=`` or a panel slot (``agent=``); panel
    methods (``moa``, ``debate``) take a panel like ``orch``. Bad arguments fail before the eval."""
    from orch_eval.core.methods import method_from_args

    one_model = name in ("self_consistency", "self_moa")

    def build() -> tuple[Orchestrator, Any]:
        if one_model:
            merger_needed = name == "self_moa" and params.get("merger") == "panel"
            args = dict(params, agent=0) if model is not None else params
            p = _one_agent_panel(
                name, int(args.get("agent") or 0), panel, agents, model, overrides, merger_needed
            )
        else:
            merger_needed = name == "moa" or as_bool(params.get("merge") or False, f"orch_eval/{name}: merge")
            p = resolve_panel(panel, agents, merger, overrides, need_merger=merger_needed)
            args = params
        return Orchestrator(p, cache=cache), method_from_args(name, args, p)

    eager = panel is not None or agents is not None or model is not None
    if not eager:  # roles: the panel is built in the eval; check the method's own arguments now
        try:
            method_from_args(name, {k: v for k, v in params.items() if k != "agent"})
        except OrchConfigError as ex:
            raise setup_error(f"orch_eval/{name}", ex) from None
    lazy = _Lazy(build, eager=eager, where=f"orch_eval/{name}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        engine, method = lazy.get()
        decision = await method.decide(engine, question_from_state(state))
        return apply_decision(state, decision, model=method.label(engine.panel))

    return solve


@solver
def self_consistency(
    agent: int = 0,
    k: int = 5,
    temperature: float = 0.7,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    model: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """Self-consistency: agent ``agent`` (or ``model``) answers ``k`` times at ``temperature``
    (sample ``i`` with seed ``seed + i``), with the analysis prompt and budget of ORCH's agents;
    the majority of the parsed answers decides (ties: the earliest sample). ``k=1,
    temperature=0`` is exactly ``orch_eval/single`` (the same cache entry)."""
    params = {"agent": agent, "k": k, "temperature": temperature}
    return _method_solver(
        "self_consistency", params, panel, agents, None, model, _overrides(None, seed, panel_fields), cache
    )


@solver
def self_moa(
    agent: int = 0,
    k: int = 5,
    temperature: float = 0.7,
    merger: str | None = None,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    model: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """Self-MoA: the ``k`` samples of ``self_consistency`` (the same calls and cache entries),
    merged with ORCH's merge prompt and fallbacks by ``merger``: the same model (default),
    ``panel`` (the panel's merger) or an Inspect model name."""
    params = {"agent": agent, "k": k, "temperature": temperature, "merger": merger}
    return _method_solver(
        "self_moa", params, panel, agents, None, model, _overrides(None, seed, panel_fields), cache
    )


@solver
def moa(
    layers: int = 2,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    merger: str | None = None,
    lenses: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """Mixture-of-Agents: layer 1 is the panel's analyses (ORCH's calls); each further layer's
    agents read the previous layer (anonymised, panel order) and write new analyses; the panel's
    merger aggregates the last layer. ``n·layers + 1`` calls per item."""
    params = {"layers": layers}
    return _method_solver(
        "moa", params, panel, agents, merger, None, _overrides(lenses, seed, panel_fields), cache
    )


@solver
def debate(
    rounds: int = 2,
    merge: bool = False,
    panel: str | None = None,
    agents: str | list[str] | None = None,
    merger: str | None = None,
    lenses: str | None = None,
    seed: int | None = None,
    cache: bool = True,
    **panel_fields: Any,
) -> Solver:
    """Multi-agent debate: round 1 is the panel's analyses (ORCH's calls); in each later round
    every agent reads its own and the others' previous analyses and answers again; the majority
    of the last round decides (ties: panel order), or the panel's merger with ``merge=true``."""
    params = {"rounds": rounds, "merge": merge}
    return _method_solver(
        "debate", params, panel, agents, merger, None, _overrides(lenses, seed, panel_fields), cache
    )
