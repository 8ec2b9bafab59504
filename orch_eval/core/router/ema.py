"""The router's statistics and routing rule: per-agent EMAs of accuracy, latency and cost, the
update with one item's feedback, the score and the top-k / risk-aware choice of agents.

Update with feedback ``y`` (alpha = ``RouterConfig.alpha``)::

    d = y - a;  a <- a + alpha*d;  v <- (1 - alpha) * (v + alpha*d*d)      (n <- n + 1)
    l <- (1 - alpha)*l + alpha*x   (the first observation replaces a prior of None)

Score of agent ``i``::

    s_i = w_acc*a_i - w_lat*l_i/max_j(l_j) - w_cost*c_i/max_j(c_j)       (a term is 0 when its max is 0)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orch_eval.core.router.config import AgentPrior, RouterConfig


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
        return {
            "acc": self.acc,
            "var": self.var,
            "lat": self.lat,
            "cost": self.cost,
            "n": self.n,
            "m": self.m,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AgentStats:
        return cls(
            acc=d["acc"], var=d["var"], lat=d.get("lat"), cost=d.get("cost"), n=d.get("n", 0), m=d.get("m", 0)
        )


@dataclass
class Stats:
    """All EMAs: per agent globally, and per (domain, agent)."""

    priors: list[AgentStats]
    agents: list[AgentStats]
    domains: dict[str, list[AgentStats]] = field(default_factory=dict)

    def copy(self) -> Stats:
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
    def from_json(cls, d: dict[str, Any]) -> Stats:
        return cls(
            priors=[AgentStats.from_json(s) for s in d["priors"]],
            agents=[AgentStats.from_json(s) for s in d["agents"]],
            domains={k: [AgentStats.from_json(s) for s in v] for k, v in d.get("domains", {}).items()},
        )


def initial_stats(config: RouterConfig, labels: Sequence[str], models: Sequence[str] | None = None) -> Stats:
    """Cold-start statistics from the priors (per-agent priors by label, model or slot)."""
    models = list(models) if models is not None else list(labels)
    priors: list[AgentStats] = []
    for slot, (label, model) in enumerate(zip(labels, models, strict=True)):
        own = (
            config.priors.get(label)
            or config.priors.get(model)
            or config.priors.get(str(slot))
            or AgentPrior()
        )
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
    def from_json(cls, d: Sequence[Any]) -> AgentFeedback:
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
    def from_json(cls, d: dict[str, Any]) -> Feedback:
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
    return [
        config.w_acc * a.acc - config.w_lat * lat[i] - config.w_cost * cost[i] for i, a in enumerate(agents)
    ]


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
