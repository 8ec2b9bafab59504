"""EMA router: which agents to consult for an item, learned prequentially from earlier items.

Harness-neutral (no Inspect imports at module level). The Inspect glue lives in
``orch_eval.inspect.routing``; the protocol and the determinism argument are in ``docs/router.md``.

Per agent (and optionally per domain) the router keeps exponential moving averages of

- accuracy ``a`` (0/1 against gold) and the EMA variance ``v`` of correctness,
- latency ``l``: the agent's output tokens (``latency: tokens``, the default) or its
  model-reported call time (``latency: time``); wall-clock time is never used,
- cost ``c``: from the panel's per-model price table (one currency).

Update with feedback ``y`` (alpha = ``RouterConfig.alpha``)::

    d = y - a;  a <- a + alpha*d;  v <- (1 - alpha) * (v + alpha*d*d)      (n <- n + 1)
    l <- (1 - alpha)*l + alpha*x   (the first observation replaces a prior of None)

Score of agent ``i``::

    s_i = w_acc*a_i - w_lat*l_i/max_j(l_j) - w_cost*c_i/max_j(c_j)       (a term is 0 when its max is 0)

``topk`` consults the ``top_k`` best scores, ties broken by panel order. ``risk`` ranks the same
way and consults the smallest ``k`` (``k_min <= k <= k_max``) such that the best agent's lower
confidence bound exceeds the upper bound of every agent not consulted; the bounds are
``s_i -/+ z*w_acc*se_i`` with ``se_i = sqrt(v_i / min(n_i, (2-alpha)/alpha))`` (``sqrt(v_i)``
while ``n_i = 0``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orch_eval.core.atomic import write_json_atomic
from orch_eval.core.errors import OrchConfigError

STATE_FORMAT = "orch-eval/router-state"
STATE_FORMAT_VERSION = 1

class RouterLeakageError(OrchConfigError):
    """A router state learned on the items being evaluated (refused unless forced)."""


# ---- configuration -----------------------------------------------------------------------


class AgentPrior(BaseModel):
    """Cold-start values of one agent (fields left out use the router-wide priors)."""

    model_config = ConfigDict(extra="forbid")

    accuracy: float | None = Field(default=None, ge=0, le=1)
    variance: float | None = Field(default=None, ge=0)
    latency: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)


class RouterConfig(BaseModel):
    """EMA router settings (the panel's ``router:`` block; solver args override them)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """False: consult every agent (the same as no ``router:`` block)."""
    mode: Literal["topk", "risk"] = "topk"
    top_k: int = Field(default=2, ge=1)
    """Agents consulted per item in ``topk`` mode."""
    k_min: int = Field(default=1, ge=1)
    """``risk`` mode: fewest agents consulted."""
    k_max: int | None = Field(default=None, ge=1)
    """``risk`` mode: most agents consulted (default: all)."""
    z: float = Field(default=1.0, ge=0)
    """``risk`` mode: width of the confidence bounds in standard errors."""
    alpha: float = 0.2
    """EMA weight of the newest observation, 0 < alpha <= 1."""
    w_acc: float = Field(default=1.0, ge=0)
    w_lat: float = Field(default=0.1, ge=0)
    w_cost: float = Field(default=0.1, ge=0)
    latency: Literal["tokens", "time"] = "tokens"
    """``tokens``: output tokens as the latency signal (always deterministic); ``time``: the
    model-reported call time (``AgentRecord.latency``) — deterministic only when the provider
    reports the time of the call or the call is replayed from the cache."""
    prior_accuracy: float = Field(default=0.5, ge=0, le=1)
    prior_variance: float = Field(default=0.25, ge=0)
    prior_latency: float | None = Field(default=None, ge=0)
    """None: the first observation sets the latency EMA."""
    prior_cost: float | None = Field(default=None, ge=0)
    priors: dict[str, AgentPrior] = Field(default_factory=dict)
    """Per-agent cold-start values, keyed by agent label, model name or slot number."""
    per_domain: bool = False
    """Keep EMAs per ``Question.domain`` too; an item is routed on its domain's EMAs once the
    domain has ``domain_min_n`` observations of every agent, else on the global EMAs."""
    domain_min_n: int = Field(default=5, ge=1)
    explore_every: int = Field(default=0, ge=0)
    """m > 0: items whose index is a multiple of m consult every agent (index 0 included)."""
    shadow: bool = False
    """Every agent answers every item (feedback covers all agents); routing only chooses which
    analyses the merger sees."""
    lag: int = Field(default=0, ge=0)
    """Feedback lag L: item t is routed on the feedback of items < t - L."""
    state: str | None = None
    """Warm-start state file (from ``orch-eval router calibrate``)."""
    state_out: str | None = None
    """Where the run writes its state (atomically, after every applied update)."""
    force: bool = False
    """Use a warm-start state even if it was learned on the items being evaluated."""
    resume: Literal["auto", "off"] = "auto"
    """``auto``: continue from ``state_out`` when it holds progress of the same run."""
    history: int = Field(default=128, ge=1)
    """Feedback records kept (in memory and in ``state_out``) so items re-run after an
    interruption are routed exactly as before; must exceed ``lag``."""

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not (isinstance(v, (int, float)) and 0 < v <= 1):
            raise ValueError(f"router.alpha must satisfy 0 < alpha <= 1, got {v!r}")
        return float(v)

    @model_validator(mode="after")
    def _check(self) -> "RouterConfig":
        if self.k_max is not None and self.k_max < self.k_min:
            raise ValueError(f"router.k_max={self.k_max} is below router.k_min={self.k_min}")
        if self.history <= self.lag:
            raise ValueError(f"router.history={self.history} must exceed router.lag={self.lag}")
        return self

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> "RouterConfig":  # type: ignore[override]
        """As pydantic's, but a bad setting raises :class:`OrchConfigError` with one line per field
        (``router.w_acc: Input should be a valid number ... (got 'high')``) instead of pydantic's dump.
        (A ``router:`` block inside a panel is reported by ``validate_panel`` the same way.)"""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as ex:
            raise OrchConfigError(router_errors(ex)) from None

    def identity(self) -> dict[str, Any]:
        """Settings that change routing decisions (not where state is written)."""
        return self.model_dump(mode="json", exclude={"state_out", "force", "resume", "history"})

    def digest(self) -> str:
        return _sha(json.dumps(self.identity(), sort_keys=True, default=str))[:12]


def router_errors(ex: ValidationError) -> str:
    """One readable line per invalid router setting, naming the field and the value given."""
    lines = []
    for err in ex.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = f"router.{loc}" if loc else "router"
        msg = err["msg"].removeprefix("Value error, ")
        if loc and msg.startswith(field + " "):
            msg = msg[len(field) + 1:]
        got = "" if err["type"] in ("value_error", "missing") else f" (got {err.get('input')!r})"
        lines.append(f"{field}: {msg}{got}")
    return "; ".join(lines) + " (router settings: see docs/router.md, Configuration)"


def coerce_router(value: Any) -> RouterConfig | None:
    """``None``/``False``/``"off"`` → None; ``True``/``"on"`` → defaults; a mapping → validated."""
    if value is None or value is False:
        return None
    if isinstance(value, RouterConfig):
        return value
    if value is True:
        return RouterConfig()
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("off", "false", "no", "none", "0"):
            return None
        if v in ("on", "true", "yes", "1"):
            return RouterConfig()
        raise ValueError(f"router must be on, off or a mapping of router settings, got {value!r}")
    if isinstance(value, dict):
        return RouterConfig.model_validate(value)
    raise ValueError(f"router must be on, off or a mapping of router settings, got {type(value).__name__}")


# ---- statistics ----------------------------------------------------------------------------


@dataclass
class AgentStats:
    """EMAs of one agent (globally or in one domain)."""

    acc: float
    var: float
    lat: float | None
    cost: float | None
    n: int = 0
    """Accuracy observations."""
    m: int = 0
    """Latency/cost observations."""

    def to_json(self) -> dict[str, Any]:
        return {"acc": self.acc, "var": self.var, "lat": self.lat, "cost": self.cost, "n": self.n, "m": self.m}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AgentStats":
        return cls(acc=d["acc"], var=d["var"], lat=d.get("lat"), cost=d.get("cost"), n=d.get("n", 0), m=d.get("m", 0))


@dataclass
class Stats:
    """All EMAs: per agent globally, and per (domain, agent)."""

    priors: list[AgentStats]
    agents: list[AgentStats]
    domains: dict[str, list[AgentStats]] = field(default_factory=dict)

    def copy(self) -> "Stats":
        return copy.deepcopy(self)

    def domain(self, name: str) -> list[AgentStats]:
        if name not in self.domains:
            self.domains[name] = [copy.copy(p) for p in self.priors]
        return self.domains[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "priors": [s.to_json() for s in self.priors],
            "agents": [s.to_json() for s in self.agents],
            "domains": {k: [s.to_json() for s in v] for k, v in sorted(self.domains.items())},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Stats":
        return cls(
            priors=[AgentStats.from_json(s) for s in d["priors"]],
            agents=[AgentStats.from_json(s) for s in d["agents"]],
            domains={k: [AgentStats.from_json(s) for s in v] for k, v in d.get("domains", {}).items()},
        )


def initial_stats(config: RouterConfig, labels: Sequence[str], models: Sequence[str] | None = None) -> Stats:
    """Cold-start statistics from the priors (per-agent priors by label, model or slot)."""
    models = list(models) if models is not None else list(labels)
    priors: list[AgentStats] = []
    for slot, (label, model) in enumerate(zip(labels, models)):
        own = config.priors.get(label) or config.priors.get(model) or config.priors.get(str(slot)) or AgentPrior()
        priors.append(
            AgentStats(
                acc=own.accuracy if own.accuracy is not None else config.prior_accuracy,
                var=own.variance if own.variance is not None else config.prior_variance,
                lat=own.latency if own.latency is not None else config.prior_latency,
                cost=own.cost if own.cost is not None else config.prior_cost,
            )
        )
    return Stats(priors=priors, agents=[copy.copy(p) for p in priors])


@dataclass
class AgentFeedback:
    """What one consulted agent did on one item."""

    slot: int
    correct: bool | None
    latency: float | None
    cost: float | None

    def to_json(self) -> list[Any]:
        return [self.slot, self.correct, self.latency, self.cost]

    @classmethod
    def from_json(cls, d: Sequence[Any]) -> "AgentFeedback":
        return cls(slot=d[0], correct=d[1], latency=d[2], cost=d[3])


@dataclass
class Feedback:
    """The feedback of one item (empty ``agents`` when the item failed)."""

    index: int
    sample_id: str = ""
    epoch: int = 1
    domain: str | None = None
    agents: list[AgentFeedback] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "id": self.sample_id,
            "epoch": self.epoch,
            "domain": self.domain,
            "agents": [a.to_json() for a in self.agents],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Feedback":
        return cls(
            index=d["index"],
            sample_id=d.get("id", ""),
            epoch=d.get("epoch", 1),
            domain=d.get("domain"),
            agents=[AgentFeedback.from_json(a) for a in d.get("agents", [])],
        )


def ema_update(s: AgentStats, fb: AgentFeedback, alpha: float) -> None:
    """Apply one agent's feedback to its EMAs (see the module docstring)."""
    if fb.correct is not None:
        y = 1.0 if fb.correct else 0.0
        d = y - s.acc
        s.acc = s.acc + alpha * d
        s.var = (1 - alpha) * (s.var + alpha * d * d)
        s.n += 1
    if fb.latency is not None or fb.cost is not None:
        if fb.latency is not None:
            s.lat = fb.latency if s.lat is None else (1 - alpha) * s.lat + alpha * fb.latency
        if fb.cost is not None:
            s.cost = fb.cost if s.cost is None else (1 - alpha) * s.cost + alpha * fb.cost
        s.m += 1


def apply_feedback(stats: Stats, fb: Feedback, config: RouterConfig) -> None:
    """Apply one item's feedback (in place) to the global and, if enabled, its domain's EMAs."""
    for a in fb.agents:
        ema_update(stats.agents[a.slot], a, config.alpha)
        if config.per_domain and fb.domain:
            ema_update(stats.domain(fb.domain)[a.slot], a, config.alpha)


# ---- routing ------------------------------------------------------------------------------


@dataclass
class Route:
    """One routing decision."""

    consult: list[int]
    scores: list[float]
    explored: bool
    k: int
    source: str
    """``global`` or ``domain:<name>``: which EMAs were used."""
    accuracy: list[float]
    latency: list[float | None]
    cost: list[float | None]
    lcb: list[float] | None = None
    ucb: list[float] | None = None

    @property
    def top(self) -> int | None:
        """The best-scored consulted agent (ties: panel order)."""
        return min(self.consult, key=lambda i: (-self.scores[i], i)) if self.consult else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "chosen": self.consult,
            "scores": self.scores,
            "explored": self.explored,
            "k": self.k,
            "source": self.source,
            "ema": {"accuracy": self.accuracy, "latency": self.latency, "cost": self.cost},
        }
        if self.lcb is not None:
            out["lcb"], out["ucb"] = self.lcb, self.ucb
        return out


def _norm(values: Sequence[float | None]) -> list[float]:
    xs = [v if v is not None else 0.0 for v in values]
    top = max(xs) if xs else 0.0
    return [x / top if top > 0 else 0.0 for x in xs]


def scores_of(config: RouterConfig, agents: Sequence[AgentStats]) -> list[float]:
    """``w_acc*acc - w_lat*lat/max(lat) - w_cost*cost/max(cost)`` per agent."""
    lat = _norm([a.lat for a in agents])
    cost = _norm([a.cost for a in agents])
    return [config.w_acc * a.acc - config.w_lat * lat[i] - config.w_cost * cost[i] for i, a in enumerate(agents)]


def _se(a: AgentStats, alpha: float) -> float:
    if a.n <= 0:
        return math.sqrt(max(a.var, 0.0))
    n_eff = min(float(a.n), (2 - alpha) / alpha)
    return math.sqrt(max(a.var, 0.0) / n_eff)


def route(config: RouterConfig, stats: Stats, index: int, domain: str | None = None) -> Route:
    """Which agents item ``index`` consults, given the statistics it may see."""
    n = len(stats.agents)
    agents = stats.agents
    source = "global"
    if config.per_domain and domain and domain in stats.domains:
        dom = stats.domains[domain]
        if all(a.n >= config.domain_min_n for a in dom):
            agents, source = dom, f"domain:{domain}"
    scores = scores_of(config, agents)
    ranked = sorted(range(n), key=lambda i: (-scores[i], i))
    lcb = ucb = None
    explored = config.explore_every > 0 and index % config.explore_every == 0
    if config.mode == "topk":
        k = min(config.top_k, n)
    else:
        se = [_se(a, config.alpha) for a in agents]
        lcb = [scores[i] - config.z * config.w_acc * se[i] for i in range(n)]
        ucb = [scores[i] + config.z * config.w_acc * se[i] for i in range(n)]
        k_max = min(config.k_max or n, n)
        k = min(config.k_min, k_max)
        while k < k_max and lcb[ranked[0]] <= max(ucb[r] for r in ranked[k:]):
            k += 1
    consult = sorted(range(n)) if explored else sorted(ranked[:k])
    return Route(
        consult=consult,
        scores=scores,
        explored=explored,
        k=len(consult),
        source=source,
        accuracy=[a.acc for a in agents],
        latency=[a.lat for a in agents],
        cost=[a.cost for a in agents],
        lcb=lcb,
        ucb=ucb,
    )


def feedback_from_records(
    records: Iterable[Any],
    config: RouterConfig,
    index: int,
    sample_id: str = "",
    epoch: int = 1,
    domain: str | None = None,
) -> Feedback:
    """Feedback from ``AgentRecord``s of the agents that answered (not-consulted ones skipped).

    Latency is the output-token count (``latency: tokens``) or the model-reported call time
    (``latency: time``); a call that raised has no reported time, so it gives no latency.
    """
    out: list[AgentFeedback] = []
    for rec in records:
        if not rec.consulted:
            continue
        if config.latency == "tokens":
            lat: float | None = float(rec.usage.output_tokens)
        else:
            lat = None if rec.fault == "error" else float(rec.latency)
        out.append(AgentFeedback(slot=rec.slot, correct=rec.correct, latency=lat, cost=float(rec.cost)))
    out.sort(key=lambda a: a.slot)
    return Feedback(index=index, sample_id=sample_id, epoch=epoch, domain=domain, agents=out)


# ---- provenance and leakage ---------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def item_key(sample_id: Any) -> str:
    """Short stable key of an item id (stored instead of the ids themselves)."""
    return _sha(str(sample_id))[:16]


def items_sha256(ids: Iterable[Any]) -> str:
    """sha256 of the sorted item ids (one per line)."""
    return _sha("\n".join(sorted(str(i) for i in ids)))


def _task_key(task: str) -> str:
    """A task name without its registry prefix or file (``inspect_evals/mmlu_0_shot`` and
    ``mmlu_0_shot`` are the same task)."""
    return task.split("@")[-1].split("/")[-1]


def learned_entry(task: str, split: str | None, ids: Sequence[Any]) -> dict[str, Any]:
    return {
        "task": task,
        "split": split,
        "n_items": len(set(str(i) for i in ids)),
        "items_sha256": items_sha256(set(str(i) for i in ids)),
        "item_keys": sorted({item_key(i) for i in ids}),
    }


def check_leakage(
    learned_on: Sequence[dict[str, Any]],
    task: str,
    split: str | None,
    ids: Sequence[Any],
    path: str,
    force: bool = False,
) -> list[str]:
    """Refuse a state learned on the items being evaluated: the same task and split (``split``:
    the split the evaluated task runs on; None: the benchmark registry's for a known task), or
    any shared item id. Returns warnings (when ``force``) instead of raising."""
    from orch_eval.benchmarks import BENCHMARKS

    problems: list[str] = []
    keys = {item_key(i) for i in ids}
    short = _task_key(task)
    known = BENCHMARKS.get(short)
    eval_split = split if split is not None else (known.eval_split if known is not None else None)
    for entry in learned_on:
        e_task, e_split = entry.get("task") or "", entry.get("split")
        same_task = _task_key(e_task) == short
        if same_task and (e_split is None or eval_split is None or e_split == eval_split):
            problems.append(
                f"it was learned on task {e_task} split {e_split or '(eval split)'}, the task and split being evaluated"
            )
            continue
        shared = keys.intersection(entry.get("item_keys") or [])
        if shared:
            problems.append(
                f"it was learned on {e_task} split {e_split} ({entry.get('n_items')} items), which shares "
                f"{len(shared)} item ids with the {len(keys)} items being evaluated (the same questions: "
                "ids are content hashes, and MMLU repeats some test questions in validation and dev; "
                "`orch-eval router calibrate` leaves such items out unless --keep-shared, so calibrate again)"
            )
    if not problems:
        return []
    msg = (
        f"router state {path} is refused: " + "; ".join(problems) + ". Routing on it would leak the gold "
        "labels of the evaluated items into the decisions. Calibrate on a separate split "
        "(orch-eval router calibrate --split validation) or pass force_router_state=true (CLI: --force) "
        "to use it anyway."
    )
    if force:
        return [msg.replace("is refused", "is used although forced")]
    raise RouterLeakageError(msg)


# ---- state file ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def load_state(path: str | Path) -> dict[str, Any]:
    """Read and check a router state file."""
    p = Path(path)
    if not p.is_file():
        raise OrchConfigError(f"router state {p} not found (create one with: orch-eval router calibrate ...)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as ex:
        raise OrchConfigError(f"router state {p} is not valid JSON: {ex}") from None
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        raise OrchConfigError(f"{p} is not an orch-eval router state (format {STATE_FORMAT!r} expected)")
    if data.get("format_version") != STATE_FORMAT_VERSION:
        raise OrchConfigError(f"router state {p} has format_version {data.get('format_version')}, expected {STATE_FORMAT_VERSION}")
    return data


def check_state_agents(data: dict[str, Any], models: Sequence[str], path: str, force: bool = False) -> None:
    """A warm start must describe the same agents, in the same slots."""
    theirs = data.get("models") or []
    if list(theirs) != list(models) and not force:
        raise OrchConfigError(
            f"router state {path} describes agents {theirs}, but the panel's agents are {list(models)}: "
            "calibrate a state for this panel (or pass force_router_state=true)"
        )


def run_chain(prev: str, epoch: int, sample_id: Any) -> str:
    """Running hash of the items applied so far, in order (resume checks it)."""
    return _sha(f"{prev}\x1f{epoch}:{sample_id}")


class PrequentialRouter:
    """The router of one run: routes item ``t`` on the feedback of items ``< t - lag`` and applies
    feedback strictly in item order, whatever order items finish in.

    Items are numbered by their position in the run's plan (``index``). ``submit`` is
    synchronous (it buffers out-of-order feedback and applies the contiguous prefix), so it
    can run in a ``finally`` even while a sample is being cancelled.
    """

    def __init__(
        self,
        config: RouterConfig,
        labels: Sequence[str],
        models: Sequence[str],
        panel_digest: str,
        base: Stats | None = None,
        base_version: int = 0,
        learned_on: Sequence[dict[str, Any]] = (),
        provenance: dict[str, Any] | None = None,
        run: dict[str, Any] | None = None,
        plan: Sequence[tuple[int, Any]] | None = None,
        state_out: str | None = None,
    ) -> None:
        self.config = config
        self.labels = list(labels)
        self.models = list(models)
        self.panel_digest = panel_digest
        self.base_version = base_version
        self.learned_on = list(learned_on)
        self.provenance = provenance
        self.run = dict(run or {})
        self.plan = list(plan) if plan is not None else None
        self.state_out = state_out
        self.created = _now()
        start = base.copy() if base is not None else initial_stats(config, labels, models)
        self.snapshot_index = 0
        self.snapshot = start
        self.tail: list[Feedback] = []
        self.current = start.copy()
        self.next_index = 0
        self.chain = ""
        self._buffer: dict[int, Feedback] = {}
        self._events: dict[int, anyio.Event] = {}
        self.warnings: list[str] = []

    # ---- versions ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Applied updates, counting those of the warm start."""
        return self.base_version + self.next_index

    def visible(self, index: int) -> int:
        """How many of this run's updates item ``index`` may see."""
        return max(0, index - self.config.lag)

    def stats_at(self, count: int) -> Stats:
        """Statistics after this run's first ``count`` updates."""
        if count < self.snapshot_index:
            raise OrchConfigError(
                f"router: the state needed to route item {count + self.config.lag} (after {count} updates) is older "
                f"than the {self.config.history} feedback records kept; the run's state_out "
                f"({self.state_out}) already holds this run through item {self.next_index}. "
                "Start a new run with a new router_state_out (or router_resume=off), or raise router history."
            )
        if count > self.next_index:
            raise RuntimeError(f"router: stats after {count} updates requested, only {self.next_index} applied")
        stats = self.snapshot.copy()
        for fb in self.tail[: count - self.snapshot_index]:
            apply_feedback(stats, fb, self.config)
        return stats

    # ---- the protocol ---------------------------------------------------------------------------

    async def _wait_count(self, count: int) -> None:
        while self.next_index < count:
            ev = self._events.get(count)
            if ev is None:
                ev = self._events[count] = anyio.Event()
            await ev.wait()

    async def wait_ready(self, index: int) -> None:
        """Wait until the feedback item ``index`` may see is applied."""
        await self._wait_count(self.visible(index))

    async def wait_applied(self, index: int) -> None:
        """Wait until item ``index``'s own feedback is applied."""
        await self._wait_count(index + 1)

    def route(self, index: int, domain: str | None = None) -> tuple[Route, int]:
        """Route item ``index`` (call after :meth:`wait_ready`); returns the route and the state
        version it was computed from."""
        count = self.visible(index)
        return route(self.config, self.stats_at(count), index, domain), self.base_version + count

    def submit(self, fb: Feedback) -> None:
        """Hand in one item's feedback; applies every contiguous item from the next expected one."""
        if fb.index < self.next_index or fb.index in self._buffer:
            return  # already applied (an item re-run after a resume) or a duplicate
        self._buffer[fb.index] = fb
        advanced = False
        while self.next_index in self._buffer:
            item = self._buffer.pop(self.next_index)
            apply_feedback(self.current, item, self.config)
            self.tail.append(item)
            self.chain = run_chain(self.chain, item.epoch, item.sample_id)
            self.next_index += 1
            while len(self.tail) > self.config.history:
                apply_feedback(self.snapshot, self.tail.pop(0), self.config)
                self.snapshot_index += 1
            advanced = True
            if self.state_out:
                self.save(self.state_out)
        if advanced:
            for count in [c for c in self._events if c <= self.next_index]:
                self._events.pop(count).set()

    # ---- persistence ----------------------------------------------------------------------------

    def to_json(self, include_run: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": STATE_FORMAT,
            "format_version": STATE_FORMAT_VERSION,
            "version": self.version,
            "alpha": self.config.alpha,
            "agents": self.labels,
            "models": self.models,
            "panel_digest": self.panel_digest,
            "router": self.config.identity(),
            "router_digest": self.config.digest(),
            "created": self.created,
            "updated": _now(),
            "provenance": self.provenance,
            "learned_on": self.learned_on,
            "stats": self.current.to_json(),
            "run": None,
        }
        if include_run and self.run:
            data["run"] = {
                **self.run,
                "base_version": self.base_version,
                "next_index": self.next_index,
                "chain": self.chain,
                "snapshot_index": self.snapshot_index,
                "snapshot": self.snapshot.to_json(),
                "tail": [fb.to_json() for fb in self.tail],
            }
        return data

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_json(), indent=None)

    def restore_run(self, data: dict[str, Any], path: str) -> None:
        """Continue from a saved run (``data["run"]``), checking it ran the same items in order."""
        run = data["run"]
        n = run["next_index"]
        if self.plan is not None:
            if n > len(self.plan):
                raise OrchConfigError(
                    f"router state {path} has applied {n} items, more than this run's {len(self.plan)}: "
                    "use a new router_state_out (or router_resume=off)"
                )
            chain = ""
            for epoch, sid in self.plan[:n]:
                chain = run_chain(chain, epoch, sid)
            if chain != run["chain"]:
                raise OrchConfigError(
                    f"router state {path} was written by a run over different items or in a different order "
                    "than this one: use a new router_state_out (or router_resume=off)"
                )
        self.base_version = run["base_version"]
        self.created = data.get("created", self.created)
        self.snapshot_index = run["snapshot_index"]
        self.snapshot = Stats.from_json(run["snapshot"])
        self.tail = [Feedback.from_json(f) for f in run["tail"]]
        self.current = Stats.from_json(data["stats"])
        self.next_index = n
        self.chain = run["chain"]


# ---- plotting ---------------------------------------------------------------------------------


def _router_records(source: Any) -> list[dict[str, Any]]:
    """Per-item router dicts, in item order, from a log, a log path, Decisions or dicts."""
    items: list[Any]
    if isinstance(source, (str, Path)):
        from inspect_ai.log import read_eval_log

        source = read_eval_log(str(source))
    if hasattr(source, "samples"):
        items = [s.metadata.get("orch") for s in (source.samples or [])]
    else:
        items = list(source)
    out: list[dict[str, Any]] = []
    for item in items:
        if item is None:
            continue
        r = item.get("router") if isinstance(item, dict) else getattr(item, "router", None)
        if r is None and isinstance(item, dict) and "ema" in item:
            r = item
        if r:
            out.append(r)
    out.sort(key=lambda r: r.get("index", 0))
    return out


def plot_router_ema(log_or_decisions: Any, path: str | Path, labels: Sequence[str] | None = None) -> Path:
    """Plot each agent's EMA accuracy (as seen when each item was routed) over the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = _router_records(log_or_decisions)
    if not records:
        raise OrchConfigError("plot_router_ema: no router records found (was the router on?)")
    n = len(records[0]["ema"]["accuracy"])
    names = list(labels) if labels is not None else records[0].get("agents") or [f"agent {i + 1}" for i in range(n)]
    xs = [r.get("index", i) for i, r in enumerate(records)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for slot in range(n):
        ax.plot(xs, [r["ema"]["accuracy"][slot] for r in records], label=names[slot])
    ax.set_xlabel("item (dataset order)")
    ax.set_ylabel("EMA accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Router: EMA accuracy per agent")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
