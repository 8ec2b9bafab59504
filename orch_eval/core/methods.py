"""Methods beside ORCH that spend comparable compute: self-consistency, Self-MoA, MoA, debate.

Every method is a system of the same engine (:class:`~orch_eval.core.engine.Orchestrator`): the
same model layer (Inspect's Model API), the same cache scoping and the same per-item
:class:`~orch_eval.core.decision.Decision` record, so every method pairs item by item with ORCH
and with every other method. Calls that two methods share -- the same prompt, model, settings
and seed -- have the same cache entry and are made once:

============================  ==========================================================  ==================
method                        what it does                                                calls per item
============================  ==========================================================  ==================
``self_consistency``          one agent, ``k`` samples at ``temperature`` (sample ``i``:   ``k``
                              seed = panel seed + ``i``); the majority of the parsed
                              answers, ties to the earliest sample
``self_moa``                  the same ``k`` samples (the same calls), merged with         ``k + 1``
                              ORCH's merge prompt by ``merger`` (default: the same model)
``moa``                       layer 1 = the panel's analyses (ORCH's calls); each further  ``n·layers + 1``
                              layer: every agent reads the previous layer (anonymised,
                              panel order) and writes a new analysis; the panel's merger
                              aggregates the last layer
``debate``                    round 1 = the panel's analyses; in round ``j`` each agent    ``n·rounds``
                              reads its own and the other agents' round ``j-1`` analyses   (``+1`` merging)
                              and answers again; the majority of the last round (ties by
                              panel order), or the panel's merger with ``merge=True``
============================  ==========================================================  ==================

(``n`` agents; an answer-completion step adds a call where an analysis ends without an answer.)
``self_consistency`` with ``k=1, temperature=0`` is exactly the ``single`` baseline: the same
prompt, budget and cache entry.

Fixed fallback chains (recorded per item in ``decided_by`` and ``notes``):

- every analysis: its own call → the answer-completion step (when the panel has one) → no answer;
- ``self_consistency``: the majority of the samples' parsed answers → abstain;
- ``self_moa``: the merger (if at least ``min_analyses`` samples parsed) → its completion step →
  the samples' majority → abstain;
- ``moa``: the aggregator on the last layer → its completion step → the majority of the last
  layer, then of each earlier layer in turn → abstain. An analyst that failed is shown to the next
  layer as "(this analyst produced no analysis)";
- ``debate``: (with ``merge``: the merger → its completion step →) the majority of the last round,
  then of each earlier round in turn → abstain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from orch_eval.core.coerce import as_bool
from orch_eval.core.decision import AgentRecord, Decision
from orch_eval.core.engine import MergerCall, Orchestrator, gather, majority_vote
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import ModelSpec, Panel
from orch_eval.core.prompts import PROMPT_VERSION, debate_prompt, refine_prompt
from orch_eval.core.question import Question

MethodName = Literal["orch", "self_consistency", "self_moa", "moa", "debate"]
METHODS: tuple[str, ...] = ("orch", "self_consistency", "self_moa", "moa", "debate")


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


class _Method(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    if TYPE_CHECKING:  # every method declares its own ``method: Literal[...]`` field
        method: str

    def params(self) -> dict[str, Any]:
        """The method's parameters as recorded in every Decision (``method_params``)."""
        return self.model_dump(exclude={"method"})

    def check(self, panel: Panel) -> None:
        """Refuse (with a clear message) a method that does not fit ``panel``."""

    def digest(self, panel: Panel) -> str:
        """Stable digest of (panel, method, parameters): what the system's answers depend on
        (ORCH's is the panel digest itself)."""
        if self.method == "orch":
            return panel.digest()
        return _digest({"panel": panel.digest(), "method": self.method, **self.params()})

    def calls(self, panel: Panel) -> int:
        """Calls per item when nothing fails (no answer-completion steps)."""
        raise NotImplementedError

    def label(self, panel: Panel) -> str:
        """The system's name in reports (``sc5:gguf/qwen...``, ``moa2/local``)."""
        raise NotImplementedError

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        raise NotImplementedError


class Orch(_Method):
    """ORCH itself: every agent analyses, the panel's merger decides (``Orchestrator.decide``)."""

    method: Literal["orch"] = "orch"

    def calls(self, panel: Panel) -> int:
        return len(panel.agents) + (1 if panel.merger is not None else 0) + (1 if panel.dispatch else 0)

    def label(self, panel: Panel) -> str:
        return f"orch/{panel.name or panel.digest()}"

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        return await engine.decide(question)


class _OneAgent(_Method):
    agent: int = Field(default=0, ge=0)
    """The panel slot whose model is sampled."""
    k: int = Field(default=5, ge=1)
    """Samples per item."""
    temperature: float = Field(default=0.7, ge=0)
    """Sampling temperature of every sample (the panel's own temperature is not used)."""

    def check(self, panel: Panel) -> None:
        if self.agent >= len(panel.agents):
            raise OrchConfigError(
                f"{self.method}: agent={self.agent} is out of range (the panel has {len(panel.agents)} "
                "agents)"
            )

    async def samples(self, engine: Orchestrator, question: Question) -> list[AgentRecord]:
        """The ``k`` samples, in sample order: sample ``i`` uses seed ``panel seed + i``."""
        seed = engine.panel.seed
        t = self.temperature
        return await gather(
            [
                partial(engine.analyse, question, self.agent, temperature=t, seed=seed + i, sample=i)
                for i in range(self.k)
            ]
        )


class SelfConsistency(_OneAgent):
    """One agent sampled ``k`` times; the majority of the parsed answers (Wang et al., 2022)."""

    method: Literal["self_consistency"] = "self_consistency"

    def calls(self, panel: Panel) -> int:
        return self.k

    def label(self, panel: Panel) -> str:
        return f"sc{self.k}:{panel.agents[self.agent].model_name}"

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        samples = await self.samples(engine, question)
        answers = [r.answer for r in samples]
        final, decided_by, _, notes = await engine.conclude(
            question, samples, [answers], None, single=self.k == 1
        )
        return engine.make_decision(
            question,
            final,
            decided_by,
            samples,
            majority_vote(answers),
            notes=notes,
            method=self.method,
            method_params=self.params(),
        )


class SelfMoA(_OneAgent):
    """The same ``k`` samples as :class:`SelfConsistency` (the same calls), merged by ``merger``
    with ORCH's merge prompt and fallbacks (Li et al., 2025)."""

    method: Literal["self_moa"] = "self_moa"
    merger: str | None = None
    """None: the sampled model itself; ``panel``: the panel's merger; else an Inspect model name."""

    def check(self, panel: Panel) -> None:
        super().check(panel)
        if self.merger == "panel" and panel.merger is None:
            raise OrchConfigError("self_moa: merger=panel but the panel has no merger")
        if self.merger not in (None, "panel") and "/" not in self.merger:
            raise OrchConfigError(
                f"self_moa: merger={self.merger!r} is not 'panel' nor a provider/model name"
            )

    def calls(self, panel: Panel) -> int:
        return self.k + 1

    def label(self, panel: Panel) -> str:
        return f"self_moa{self.k}:{panel.agents[self.agent].model_name}"

    def merger_call_spec(self, panel: Panel) -> ModelSpec:
        """The merger's slot: the panel's merger, the sampled model's own slot, or a named model."""
        if self.merger == "panel":
            return panel.merger  # type: ignore[return-value]
        if self.merger is None:
            return panel.agents[self.agent].model_copy(update={"max_tokens": None, "lens": None})
        return ModelSpec(model=self.merger)

    def digest(self, panel: Panel) -> str:
        """What the merges depend on: the sampled agent, the samples, the merger and its budget
        (not the rest of the panel: two panels sharing the agent share the merges)."""
        return _digest(
            {
                "prompt_version": PROMPT_VERSION,
                "agent": panel.agent_digest(self.agent),
                "k": self.k,
                "temperature": self.temperature,
                "seed": panel.seed,
                "merger": self.merger_call_spec(panel).identity(),
                "merge_budget": panel.budgets.merge,
                "merge_style": panel.merge_style,
                "anonymise": panel.anonymise,
                "min_analyses": panel.min_analyses,
                "completion_step": panel.completion_step,
            }
        )

    def merger_call(self, engine: Orchestrator) -> MergerCall:
        panel = engine.panel
        spec = self.merger_call_spec(panel)
        model: Any
        if self.merger == "panel":
            model = engine.merger_model
        elif self.merger is None:
            model = lambda: engine.agent_model(self.agent)  # noqa: E731 - the same loaded model
        else:
            resolved: list[Any] = []

            def model() -> Any:
                if not resolved:
                    resolved.append(engine._resolve(spec))
                return resolved[0]

        return MergerCall(
            spec, model, engine._cache({"orch_role": "self_moa_merger", "orch_method": self.digest(panel)})
        )

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        samples = await self.samples(engine, question)
        answers = [r.answer for r in samples]
        final, decided_by, merge, notes = await engine.conclude(
            question, samples, [answers], self.merger_call(engine)
        )
        return engine.make_decision(
            question,
            final,
            decided_by,
            samples,
            majority_vote(answers),
            merge=merge,
            notes=notes,
            method=self.method,
            method_params=self.params(),
        )


def _no_routing(method: str, panel: Panel) -> None:
    if panel.router is not None and panel.router.enabled:
        raise OrchConfigError(f"{method}: every agent answers in every round; use a panel without a router")
    if panel.dispatch:
        raise OrchConfigError(
            f"{method}: the dispatcher decomposition applies to orch only; use a panel without dispatch"
        )


def _shown(records: list[AgentRecord]) -> list[tuple[str, str | None, str]]:
    return [(f"Analyst {i + 1}", r.answer, r.text) for i, r in enumerate(records)]


class MoA(_Method):
    """Mixture-of-Agents (Wang et al., 2024): ``layers`` layers of agent analyses, each after the
    first reading the previous one; the panel's merger aggregates the last layer."""

    method: Literal["moa"] = "moa"
    layers: int = Field(default=2, ge=1)
    """Agent layers (1: the panel's analyses merged, i.e. ORCH without a router)."""

    def check(self, panel: Panel) -> None:
        _no_routing(self.method, panel)
        if panel.merger is None:
            raise OrchConfigError("moa: the panel has no merger to aggregate the last layer")

    def calls(self, panel: Panel) -> int:
        return len(panel.agents) * self.layers + 1

    def label(self, panel: Panel) -> str:
        return f"moa{self.layers}/{panel.name or panel.digest()}"

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        def prompt(slot: int, prev: list[AgentRecord]) -> str:
            return refine_prompt(question, _shown(prev), engine.panel.lens_of(slot))

        layers = await _rounds(engine, question, self.layers, "moa", prompt)
        return await _finish(engine, question, self, layers, engine.panel_merger())


class Debate(_Method):
    """Multi-agent debate (Du et al., 2023): ``rounds`` rounds; in each after the first every agent
    reads its own and the others' previous analyses and answers again; the majority of the last
    round decides (or the panel's merger with ``merge``)."""

    method: Literal["debate"] = "debate"
    rounds: int = Field(default=2, ge=1)
    merge: bool = False
    """Merge the last round with the panel's merger instead of voting (off by default)."""

    def check(self, panel: Panel) -> None:
        _no_routing(self.method, panel)
        if self.merge and panel.merger is None:
            raise OrchConfigError("debate: merge=true but the panel has no merger")
        if len(panel.agents) < 2 and self.rounds > 1:
            raise OrchConfigError("debate: a debate needs at least two agents")

    def calls(self, panel: Panel) -> int:
        return len(panel.agents) * self.rounds + (1 if self.merge else 0)

    def label(self, panel: Panel) -> str:
        return f"debate{self.rounds}/{panel.name or panel.digest()}"

    async def decide(self, engine: Orchestrator, question: Question) -> Decision:
        def prompt(slot: int, prev: list[AgentRecord]) -> str:
            others = [
                (f"Analyst {i + 1}", r.answer, r.text)
                for i, r in enumerate(r for r in prev if r.slot != slot)
            ]
            return debate_prompt(
                question, (prev[slot].answer, prev[slot].text), others, engine.panel.lens_of(slot)
            )

        rounds = await _rounds(engine, question, self.rounds, "debate", prompt)
        return await _finish(engine, question, self, rounds, engine.panel_merger() if self.merge else None)


async def _rounds(
    engine: Orchestrator,
    question: Question,
    count: int,
    role: str,
    prompt: Callable[[int, list[AgentRecord]], str],
) -> list[list[AgentRecord]]:
    """Round 1 (the panel's analyses: ORCH's calls), then rounds 2..``count``, where agent ``slot``
    answers ``prompt(slot, previous round)``; every round in panel order."""
    n = len(engine.panel.agents)
    rounds: list[list[AgentRecord]] = [await gather([partial(engine.analyse, question, s) for s in range(n)])]
    for j in range(2, count + 1):
        prev = rounds[-1]
        rounds.append(
            await gather(
                [partial(engine.reanalyse, question, s, prompt(s, prev), f"{role}{j}", j) for s in range(n)]
            )
        )
    return rounds


async def _finish(
    engine: Orchestrator,
    question: Question,
    method: _Method,
    rounds: list[list[AgentRecord]],
    merger: MergerCall | None,
) -> Decision:
    """The fixed chain after the last round (the merger, if any, reads it; then the majority of the
    last round, then of each earlier one) and the Decision with every round recorded."""
    votes = [[r.answer for r in layer] for layer in reversed(rounds)]
    final, decided_by, merge, notes = await engine.conclude(question, rounds[-1], votes, merger)
    return engine.make_decision(
        question,
        final,
        decided_by,
        rounds[0],
        majority_vote(votes[0]),
        merge=merge,
        rounds=rounds[1:],
        notes=notes,
        method=method.method,
        method_params=method.params(),
    )


Method = Annotated[Orch | SelfConsistency | SelfMoA | MoA | Debate, Field(discriminator="method")]
"""A validated method configuration (``method`` names it)."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Method)

_CLASSES: dict[str, type[_Method]] = {
    "orch": Orch,
    "self_consistency": SelfConsistency,
    "self_moa": SelfMoA,
    "moa": MoA,
    "debate": Debate,
}


def method_arg_names(name: str) -> frozenset[str]:
    """The argument names of method ``name`` (``k``, ``temperature`` ... ; none for ``orch``)."""
    if name not in _CLASSES:
        raise OrchConfigError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return frozenset(f for f in _CLASSES[name].model_fields if f != "method")


def split_method_args(name: str, args: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``args`` split into (the method's own arguments, the rest: panel fields). Where a name is
    both (``temperature`` of a self-consistency sample, ``merger`` of Self-MoA), the method's
    meaning wins for that method."""
    own = method_arg_names(name)
    return {k: v for k, v in args.items() if k in own}, {k: v for k, v in args.items() if k not in own}


def method_from_args(name: str, args: Mapping[str, Any] | None = None, panel: Panel | None = None) -> _Method:
    """A method from its name and string or typed arguments (as Inspect's ``-S``/``-M`` and
    lm-eval's ``--model_args`` give them), validated, and checked against ``panel`` if given.

    Raises :class:`OrchConfigError` naming the argument on a bad value."""
    if name not in METHODS:
        raise OrchConfigError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    fields = _CLASSES[name].model_fields
    data = {
        "method": name,
        **{
            k: _coerce(v, k, fields[k].annotation if k in fields else None)
            for k, v in (args or {}).items()
            if v is not None
        },
    }
    try:
        method: _Method = _ADAPTER.validate_python(data)
    except ValidationError as ex:
        problems = []
        for err in ex.errors():
            field = ".".join(str(p) for p in err["loc"][1:]) or name
            got = "" if err["type"] in ("value_error", "missing") else f" (got {err.get('input')!r})"
            problems.append(f"{name}: {field}: {err['msg']}{got}")
        raise OrchConfigError("; ".join(problems)) from None
    if panel is not None:
        method.check(panel)
    return method


def _coerce(value: Any, name: str, annotation: Any) -> Any:
    """Text arguments stripped; a flag (a ``bool`` field) read by the project's one rule
    (:func:`orch_eval.core.coerce.as_bool`), the rest left to pydantic (numbers)."""
    if annotation is bool:
        return as_bool(value, name)
    return value.strip() if isinstance(value, str) else value
