"""An Inspect hook that ends every ORCH run with its fault summary, on screen and in the log.

The summary (counts per fault kind per agent slot and for the merger, and how items were
decided) is computed from the samples' Decisions and written into the log's metadata as
``orch_fault_summary`` through Inspect's log-edit API (a recorded, attributed LogUpdate).
Set ``ORCH_EVAL_FAULT_SUMMARY=0`` to switch it off.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from inspect_ai.hooks import Hooks, TaskEnd, hooks

from orch_eval.core.faults import fault_summary, format_fault_summary
from orch_eval.inspect.adapt import DECISION_KEY

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog, EvalSample

logger = logging.getLogger(__name__)

SUMMARY_KEY = "orch_fault_summary"
MAX_REWRITE_SAMPLES = 50_000


ORCH_SOLVERS = {"orch", "single", "majority_vote", "direct", "self_consistency", "self_moa", "moa", "debate"}


def _is_orch_log(log: EvalLog) -> bool:
    """Solver runs (registered as ``orch_eval/<name>``, or ``<name>`` when passed as objects)
    and ``orch/`` provider runs."""
    plan = log.plan.steps if log.plan else []
    if any(step.solver.split("/")[-1] in ORCH_SOLVERS for step in plan):
        return True
    return log.eval.model.startswith("orch/")


def _decisions(samples: Iterable[EvalSample]) -> Iterator[dict[str, Any]]:
    for s in samples:
        d = (s.metadata or {}).get(DECISION_KEY) or (s.store or {}).get(DECISION_KEY)
        if d:
            yield d


@hooks(name="orch_eval_fault_summary", description="Fault summary of ORCH runs (screen and log).")
class FaultSummaryHook(Hooks):
    def enabled(self) -> bool:
        return os.environ.get("ORCH_EVAL_FAULT_SUMMARY", "1") != "0"

    async def on_task_end(self, data: TaskEnd) -> None:
        log = data.log
        if not _is_orch_log(log) or not log.location:
            return
        from inspect_ai.log import (
            MetadataEdit,
            ProvenanceData,
            edit_eval_log,
            read_eval_log_async,
            write_eval_log_async,
        )

        full = log if log.samples else await read_eval_log_async(log.location)
        if not full.samples or len(full.samples) > MAX_REWRITE_SAMPLES:
            return
        summary = fault_summary(_decisions(full.samples))
        if summary["items"] == 0:
            return
        print(format_fault_summary(summary), file=sys.stderr)
        edited = edit_eval_log(
            full,
            [MetadataEdit(metadata_set={SUMMARY_KEY: summary})],
            ProvenanceData(author="orch_eval", reason="fault summary of the run"),
        )
        await write_eval_log_async(edited, log.location)
