"""The prequential protocol: item ``t`` is routed on the feedback of items ``< t - lag``, and
feedback is applied strictly in item order whatever order items finish in (docs/router.md,
determinism); the run's state is written atomically after every applied update."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from orch_eval.core.atomic import write_json_atomic
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.router.config import RouterConfig
from orch_eval.core.router.ema import Feedback, Route, Stats, apply_feedback, initial_stats, route
from orch_eval.core.router.state import STATE_FORMAT, STATE_FORMAT_VERSION, run_chain, utc_now


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
        self.created = utc_now()
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
                f"router: the state needed to route item {count + self.config.lag} (after {count} updates) "
                f"is older than the {self.config.history} feedback records kept; the run's state_out "
                f"({self.state_out}) already holds this run through item {self.next_index}. Start a new run "
                "with a new router_state_out (or router_resume=off), or raise router history."
            )
        if count > self.next_index:
            raise RuntimeError(
                f"router: stats after {count} updates requested, only {self.next_index} applied"
            )
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
            "updated": utc_now(),
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
