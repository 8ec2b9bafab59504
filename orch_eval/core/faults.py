"""Fault summary of a run: counts per kind per model slot, from Decision records.

A fault never crashes an evaluation; it becomes a recorded fallback. This module turns the
per-item records into the table printed at the end of a run and stored in its log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FAULT_KINDS = ("error", "empty", "unparsable", "completion_used")


def fault_summary(decisions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts per agent slot (``agent<slot>:<model>``), for the merger and the dispatcher
    (``dispatch: true``), plus how each item
    was decided. ``completion_used`` counts answers recovered by the answer-completion step
    (not a fault, but never silent)."""
    slots: dict[str, dict[str, int]] = {}
    decided: dict[str, int] = {}
    items = 0
    for d in decisions:
        items += 1
        decided[d["decided_by"]] = decided.get(d["decided_by"], 0) + 1
        rows = [
            (f"agent{a['slot']}:{a['model']}", a) for a in d.get("agents", []) if a.get("consulted", True)
        ]
        if d.get("merge"):
            rows.append((f"merger:{d['merge']['model']}", d["merge"]))
        if d.get("dispatch"):
            rows.append((f"dispatcher:agent{d['dispatch']['slot']}:{d['dispatch']['model']}", d["dispatch"]))
        for name, rec in rows:
            counts = slots.setdefault(name, {k: 0 for k in ("calls", *FAULT_KINDS)})
            counts["calls"] += 1
            if rec.get("fault") in FAULT_KINDS:
                counts[rec["fault"]] += 1
            if rec.get("completion_used"):
                counts["completion_used"] += 1
    return {"items": items, "decided_by": decided, "slots": slots}


def format_fault_summary(summary: dict[str, Any]) -> str:
    """A plain-text table for the console."""
    lines = [f"ORCH fault summary ({summary['items']} items)"]
    header = f"  {'slot':<48} {'calls':>6} " + " ".join(f"{k:>15}" for k in FAULT_KINDS)
    lines.append(header)
    for name, counts in summary["slots"].items():
        lines.append(
            f"  {name[:48]:<48} {counts['calls']:>6} " + " ".join(f"{counts[k]:>15}" for k in FAULT_KINDS)
        )
    decided = ", ".join(f"{k}: {v}" for k, v in sorted(summary["decided_by"].items()))
    lines.append(f"  decided by: {decided}")
    return "\n".join(lines)


def has_faults(summary: dict[str, Any]) -> bool:
    return any(c[k] for c in summary["slots"].values() for k in ("error", "empty", "unparsable"))
