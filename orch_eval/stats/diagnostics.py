"""Merger diagnostics: what the merger did with its panel's analyses, from ORCH Decisions.

Descriptive counts, not tests: they explain *how* a merged system reaches its accuracy
(does it just follow the majority? does it overrule a unanimous panel, and is it right when
it does? how often did the fallback chain decide?).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from orch_eval.core.decision import AgentRecord, Decision, MergeRecord

__all__ = ["AgentSteps", "MergerDiagnostics", "Rate", "merger_diagnostics"]

MERGER_STEPS = ("merger", "merger_completion")


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` (``value`` is ``None`` when ``n == 0``)."""

    k: int
    n: int

    @property
    def value(self) -> float | None:
        return self.k / self.n if self.n else None

    def __str__(self) -> str:
        return f"{self.k}/{self.n} ({self.value:.1%})" if self.n else "0/0 (n/a)"

    def to_dict(self) -> dict[str, Any]:
        return {"k": self.k, "n": self.n, "rate": self.value}


@dataclass(frozen=True)
class AgentSteps:
    """One panel member's use of the answer-completion step and its faults."""

    name: str
    """``agent<slot>:<model>`` or ``merger:<model>``."""
    calls: int
    completion_used: int
    faults: dict[str, int]


@dataclass(frozen=True)
class MergerDiagnostics:
    """Merger behaviour over ``n`` Decisions of one panel (see :func:`merger_diagnostics`).

    Rates about "following" are computed over the items the merger itself decided
    (``decided_by`` in ``merger`` / ``merger_completion``), where the compared answer exists.
    """

    system: str
    n: int
    merger_decided: int
    follows_majority: Rate
    departs_majority_right: Rate
    """Of the merger's departures from the majority: how many were right."""
    departs_majority_majority_right: Rate
    """Of the same departures: how many times the majority would have been right."""
    own_agent: str | None
    """The agent that runs on the merger's model (its "own analysis"), if any."""
    follows_own: Rate | None
    unanimous_overrides: Rate
    """Unanimous panels (all consulted agents gave the same answer) the merger overruled."""
    overrides_right: Rate
    """Of those overrides: how many were right."""
    accuracy_unanimous: Rate
    accuracy_split: Rate
    majority_accuracy_split: Rate
    decided_by: dict[str, int]
    steps: tuple[AgentSteps, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, Rate):
                out[key] = value.to_dict()
            elif key == "steps":
                out[key] = [asdict(s) for s in value]
            else:
                out[key] = value
        return out

    def to_markdown(self) -> str:
        lines = [f"### Merger diagnostics: {self.system}", ""]
        lines.append(
            f"{self.n} items; the merger decided {self.merger_decided} of them "
            f"(the rest went to the fallback chain, see `decided_by`)."
        )
        lines.append("")
        rows = [
            ("follows the agents' majority", str(self.follows_majority)),
            ("departs from the majority: merger right", str(self.departs_majority_right)),
            ("departs from the majority: majority right", str(self.departs_majority_majority_right)),
        ]
        if self.follows_own is not None:
            rows.append((f"follows its own analysis ({self.own_agent})", str(self.follows_own)))
        rows += [
            ("overrides a unanimous panel", str(self.unanimous_overrides)),
            ("... and the override was right", str(self.overrides_right)),
            ("accuracy, unanimous panel", str(self.accuracy_unanimous)),
            ("accuracy, split panel", str(self.accuracy_split)),
            ("majority accuracy, split panel", str(self.majority_accuracy_split)),
            ("decided_by", ", ".join(f"{k}: {v}" for k, v in sorted(self.decided_by.items()))),
        ]
        lines += ["| measure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
        if self.steps:
            lines += ["", "| panel member | calls | completion step used | faults |", "|---|---|---|---|"]
            for s in self.steps:
                faults = ", ".join(f"{k}: {v}" for k, v in sorted(s.faults.items())) or "none"
                lines.append(f"| {s.name} | {s.calls} | {s.completion_used} | {faults} |")
        lines.append("")
        return "\n".join(lines)


def _unanimous(d: Decision) -> str | None:
    answers = [a.answer for a in d.agents if a.consulted]
    if len(answers) >= 2 and answers[0] is not None and all(x == answers[0] for x in answers):
        return answers[0]
    return None


def merger_diagnostics(decisions: Iterable[Decision], system: str = "orch") -> MergerDiagnostics:
    """Count what the merger did with the agents' answers (see :class:`MergerDiagnostics`).

    ``split`` means "not unanimous": the consulted agents disagreed or one gave no answer.
    """
    ds = list(decisions)
    merged = [d for d in ds if d.decided_by in MERGER_STEPS]
    # following the majority
    with_maj = [d for d in merged if d.majority is not None and d.final is not None]
    follows = sum(d.final == d.majority for d in with_maj)
    departs = [d for d in with_maj if d.final != d.majority]
    # own analysis: an agent on the merger's model
    own_slot = None
    own_name = None
    for d in ds:
        if d.merge is None:
            continue
        for a in d.agents:
            if a.model == d.merge.model:
                own_slot, own_name = a.slot, f"agent{a.slot}:{a.model}"
                break
        break
    follows_own = None
    if own_slot is not None:
        pairs = []
        for d in merged:
            rec = next((a for a in d.agents if a.slot == own_slot and a.consulted), None)
            if rec is not None and rec.answer is not None and d.final is not None:
                pairs.append(d.final == rec.answer)
        follows_own = Rate(sum(pairs), len(pairs))
    # unanimity
    unanimous = [(d, _unanimous(d)) for d in ds]
    overrides = [d for d, u in unanimous if u is not None and d.decided_by in MERGER_STEPS and d.final != u]
    n_unan_merged = sum(1 for d, u in unanimous if u is not None and d.decided_by in MERGER_STEPS)
    unan = [d for d, u in unanimous if u is not None and d.correct is not None]
    split = [d for d, u in unanimous if u is None and d.correct is not None]
    # per-member completion step and faults
    steps: dict[str, dict[str, Any]] = {}
    for d in ds:
        members: list[tuple[str, AgentRecord | MergeRecord]] = [
            (f"agent{a.slot}:{a.model}", a) for a in d.agents if a.consulted
        ]
        if d.merge is not None:
            members.append((f"merger:{d.merge.model}", d.merge))
        for key, member in members:
            s = steps.setdefault(key, {"calls": 0, "completion": 0, "faults": Counter()})
            s["calls"] += 1
            s["completion"] += bool(member.completion_used)
            if member.fault:
                s["faults"][member.fault] += 1
    agent_keys = sorted(
        (k for k in steps if k.startswith("agent")), key=lambda k: int(k[5:].split(":", 1)[0])
    )
    order = agent_keys + [k for k in steps if k.startswith("merger")]
    return MergerDiagnostics(
        system=system,
        n=len(ds),
        merger_decided=len(merged),
        follows_majority=Rate(follows, len(with_maj)),
        departs_majority_right=Rate(sum(bool(d.correct) for d in departs), len(departs)),
        departs_majority_majority_right=Rate(sum(bool(d.majority_correct) for d in departs), len(departs)),
        own_agent=own_name,
        follows_own=follows_own,
        unanimous_overrides=Rate(len(overrides), n_unan_merged),
        overrides_right=Rate(sum(bool(d.correct) for d in overrides), len(overrides)),
        accuracy_unanimous=Rate(sum(bool(d.correct) for d in unan), len(unan)),
        accuracy_split=Rate(sum(bool(d.correct) for d in split), len(split)),
        majority_accuracy_split=Rate(sum(bool(d.majority_correct) for d in split), len(split)),
        decided_by=dict(Counter(d.decided_by for d in ds)),
        steps=tuple(
            AgentSteps(k, steps[k]["calls"], steps[k]["completion"], dict(steps[k]["faults"])) for k in order
        ),
    )
