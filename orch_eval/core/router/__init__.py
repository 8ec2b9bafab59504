"""EMA router: which agents to consult for an item, learned prequentially from earlier items.

Harness-neutral (no Inspect imports). Its parts: :mod:`~orch_eval.core.router.config` (the
``router:`` block), :mod:`~orch_eval.core.router.ema` (statistics and the routing rule),
:mod:`~orch_eval.core.router.protocol` (the prequential protocol), :mod:`~orch_eval.core.router.state`
(state files, provenance, the leakage rule). The Inspect glue lives in ``orch_eval.inspect.routing``,
the EMA plot in ``orch_eval.stats.plots``; the protocol and the determinism argument are in
``docs/router.md``.

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

from orch_eval.core.router.config import AgentPrior, RouterConfig, coerce_router, router_errors
from orch_eval.core.router.ema import (
    AgentFeedback,
    AgentStats,
    Feedback,
    Route,
    Stats,
    apply_feedback,
    ema_update,
    feedback_from_records,
    initial_stats,
    route,
    scores_of,
)
from orch_eval.core.router.protocol import PrequentialRouter
from orch_eval.core.router.state import (
    STATE_FORMAT,
    STATE_FORMAT_VERSION,
    RouterLeakageError,
    check_leakage,
    check_state_agents,
    item_key,
    items_sha256,
    learned_entry,
    load_state,
    run_chain,
)

__all__ = [
    "STATE_FORMAT",
    "STATE_FORMAT_VERSION",
    "AgentFeedback",
    "AgentPrior",
    "AgentStats",
    "Feedback",
    "PrequentialRouter",
    "Route",
    "RouterConfig",
    "RouterLeakageError",
    "Stats",
    "apply_feedback",
    "check_leakage",
    "check_state_agents",
    "coerce_router",
    "ema_update",
    "feedback_from_records",
    "initial_stats",
    "item_key",
    "items_sha256",
    "learned_entry",
    "load_state",
    "route",
    "router_errors",
    "run_chain",
    "scores_of",
]
