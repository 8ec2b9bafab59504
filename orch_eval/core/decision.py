"""Per-item records of what every model said and how the final answer was reached."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

DECISION_KEY = "orch"
"""The key under which an item's Decision is stored: in the Inspect sample's metadata (solver) or
store and output metadata (``orch/`` provider); the loaders also read it from an lm-eval samples
record that carries one (otherwise from the Decision sidecar, matched by ``doc_id``)."""
SIDECAR_PREFIX = "orch_decisions_"
"""File name prefix of the lm-eval Decision sidecars (``orch_decisions_<task>_<date>.jsonl``)."""

DecidedBy = Literal["merger", "merger_completion", "majority", "abstain", "single"]
"""Which step of the fixed chain produced the final answer.

``merger``: the merger's own text parsed; ``merger_completion``: the merger's answer was
recovered by the answer-completion step; ``majority``: the merger failed or could not be
parsed (or too few analyses succeeded), so the majority of the agents' parsed answers was
used, ties going to the answer given first in panel order (so "the first agent with a parsed
answer" is already the tie-break of this step); ``abstain``: nothing parsable at all;
``single``: a one-agent system (no merge).
"""


class Usage(BaseModel):
    """Token usage of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class AgentRecord(BaseModel):
    """One agent's analysis of one item."""

    slot: int
    """Position in the panel (0-based); analyses reach the merger as "Analyst slot+1"."""
    model: str
    lens: str | None = None
    consulted: bool = True
    """False when a router left this agent out (then it made no call)."""
    answer: str | None = None
    """The parsed answer, or None."""
    text: str = ""
    """Raw analysis text."""
    completion_used: bool = False
    """True when the answer came from the answer-completion step, not the analysis itself."""
    completion_text: str | None = None
    error: str | None = None
    """Error kind and message when the call failed (the item still gets a Decision)."""
    fault: str | None = None
    """Short fault kind: error, empty, unparsable (None when the agent produced an answer)."""
    usage: Usage = Field(default_factory=Usage)
    latency: float = 0.0
    """Seconds spent in this agent's calls as reported by the model (cached calls report the
    original time)."""
    cost: float = 0.0
    correct: bool | None = None
    focus: str | None = None
    """The dispatcher's sub-question this analysis focused on (``dispatch: true``), if any."""
    sample: int | None = None
    """Self-consistency / Self-MoA: the sample's index (0-based; its seed is the panel seed + index)."""
    round: int = 1
    """MoA layer / debate round of this analysis (1: the panel's own analyses, shared with ORCH)."""
    calls: int = 1
    """Model calls this record took: 1, or 2 with the answer-completion step (0 when not consulted)."""


class MergeRecord(BaseModel):
    """The merger's call for one item."""

    model: str
    answer: str | None = None
    text: str = ""
    completion_used: bool = False
    completion_text: str | None = None
    error: str | None = None
    fault: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency: float = 0.0
    cost: float = 0.0
    calls: int = 1
    """Model calls this merge took: 1, or 2 with the answer-completion step."""


class DispatchRecord(BaseModel):
    """The dispatcher's call for one item (the paper's decomposition, ``dispatch: true``)."""

    slot: int
    """The agent slot that wrote the sub-questions (the top-ranked consulted agent)."""
    model: str
    text: str = ""
    subquestions: list[str | None] = Field(default_factory=list)
    """One entry per consulted agent, in panel order; None where the fixed fallback applied."""
    fallback: Literal["none", "partial", "all"] = "none"
    """``partial``/``all``: fewer sub-questions than analysts were parsed (or the call failed);
    those analysts wrote their ordinary analysis instead."""
    error: str | None = None
    fault: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency: float = 0.0
    cost: float = 0.0


class Decision(BaseModel):
    """Everything ORCH did for one item; enough to derive single-agent, majority-vote and
    oracle systems from one log, paired item by item."""

    question_id: str
    kind: str
    final: str | None
    """The final answer (a letter or a canonical number), None when abstaining."""
    decided_by: DecidedBy
    agents: list[AgentRecord]
    majority: str | None
    """Majority of the consulted agents' parsed answers (ties broken by panel order)."""
    merge: MergeRecord | None = None
    gold: str | None = None
    correct: bool | None = None
    oracle: bool | None = None
    """Whether any consulted agent was right (None when gold is unknown)."""
    majority_correct: bool | None = None
    panel_digest: str
    panel_name: str | None = None
    router: dict | None = None
    """Router scores, chosen slots and state version when a router was used."""
    dispatch: DispatchRecord | None = None
    """The dispatcher's sub-questions when the panel decomposes (``dispatch: true``)."""
    method: str = "orch"
    """The system that decided: ``orch`` (also the ``single``, ``direct`` and ``majority_vote``
    baselines, told apart by their agents and merge), ``self_consistency``, ``self_moa``, ``moa``
    or ``debate`` (see :mod:`orch_eval.core.methods`)."""
    method_params: dict[str, Any] | None = None
    """The method's parameters (``k``, ``temperature``, ``layers``, ``rounds``, ``agent`` ...)."""
    rounds: list[list[AgentRecord]] = Field(default_factory=list)
    """MoA layers / debate rounds after the first (``agents`` holds the first), in order."""
    usage: Usage = Field(default_factory=Usage)
    cost: float = 0.0
    calls: int = 0
    """Model calls made for this item (answer-completion steps included; cache hits count as calls)."""
    notes: list[str] = Field(default_factory=list)
    """Human-readable notes about fallbacks and faults."""

    def agent_answers(self) -> list[str | None]:
        """Parsed answer of every agent, in panel order."""
        return [a.answer for a in self.agents]

    def records(self) -> list[AgentRecord]:
        """Every analysis of this item: the first round, then later layers / rounds."""
        return [*self.agents, *(r for layer in self.rounds for r in layer)]

    def system_label(self) -> str | None:
        """The report name of the method that made this Decision (``sc5:<model>``,
        ``self_moa5:<model>``, ``moa2/<panel>``, ``debate2/<panel>``), or None for ORCH and its
        baselines (``single``, ``direct``, ``majority_vote``), which the loaders name."""
        params = self.method_params or {}
        panel = self.panel_name or self.panel_digest
        if self.method in ("self_consistency", "self_moa"):
            model = self.agents[0].model if self.agents else "?"
            prefix = "sc" if self.method == "self_consistency" else "self_moa"
            return f"{prefix}{params.get('k', len(self.agents))}:{model}"
        if self.method == "moa":
            return f"moa{params.get('layers', len(self.rounds) + 1)}/{panel}"
        if self.method == "debate":
            return f"debate{params.get('rounds', len(self.rounds) + 1)}/{panel}"
        return None
