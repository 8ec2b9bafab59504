"""Read evaluation logs into per-system, per-item correctness for :mod:`orch_eval.stats`.

Two sources are understood:

* Inspect ``.eval`` logs (and ``.json`` logs given explicitly). One system per log, scored by
  the task's own scorer (a sample is right when its first score is ``"C"`` / ``1`` /
  ``True``). When the samples carry ORCH Decisions (``metadata["orch"]``, or the sample store
  for the ``orch/`` model provider), the same calls also give, per item and for free: each
  agent alone (``agent<slot>:<model>``), the agents' ``majority`` vote and the ``oracle``
  (any consulted agent right -- an upper bound, not a system).
* lm-eval ``samples_<task>_<date>.jsonl`` files written with ``--log_samples``: one filter
  (``--filter``; default: the first present), correctness from ``exact_match`` or ``acc``,
  item id ``<task>/<doc_id>``. Decisions come from a record key ``"orch"`` or from the
  adapter's sidecar ``orch_decisions_<task>[_<date>].jsonl`` next to the samples file.

A folder stands for every ``.eval`` and ``samples_*.jsonl`` file below it. Several lm-eval
task files of one run (same folder, same system) become one system.

Every problem with an input raises :class:`LogLoadError` (a ``ValueError``) naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from orch_eval.core.decision import DECISION_KEY, SIDECAR_PREFIX, AgentRecord, Decision, MergeRecord
from orch_eval.core.question import domain_of
from orch_eval.stats.outcomes import ItemSetMismatchError, PairedOutcomes

__all__ = [
    "LoadedLog",
    "LoadedSystems",
    "LogLoadError",
    "SystemData",
    "expand_paths",
    "inspect_sample_ids",
    "load_inspect_log",
    "load_lm_eval_samples",
    "load_logs",
]

LM_EVAL_METRICS = ("exact_match", "acc")
# lm-eval's per-task samples file: samples_<task>_<date_id>.jsonl (its date_id: 2026-12-05T09-40-12.123)
SAMPLES_FILE_RE = re.compile(r"^samples_(?P<task>.+?)_(?P<date>\d{4}-\d{2}-\d{2}T[0-9.\-:]+)\.jsonl$")
_CORRECT_VALUES = {"C": True, "I": False, "N": False}
_EXCLUDED_FIELDS = {"events", "messages", "attachments"}

SystemKind = Literal["log", "agent", "majority", "oracle"]


class LogLoadError(ValueError):
    """An input log could not be read or interpreted (the message names the file)."""


# ---------------------------------------------------------------------------- data types


@dataclass
class SystemData:
    """Per-item results of one system read from one source.

    ``kind``: ``"log"`` (the system the log was run for, scored by the harness),
    ``"agent"`` / ``"majority"`` (derived from the Decisions of the same calls) or
    ``"oracle"`` (an upper bound, never compared as a system).
    """

    name: str
    kind: SystemKind
    correct: dict[str, bool]
    source: str
    cost: dict[str, float] | None = None
    latency: dict[str, float] | None = None
    unscored: dict[str, str] = field(default_factory=dict)
    """Items whose sample the harness did not score (left out of ``correct``) -> why:
    ``"error"`` (an error sample) or ``"no score"`` (the scorer gave none)."""
    files: list[str] = field(default_factory=list)
    """The files read, when ``source`` stands for several (an lm-eval run's folder)."""
    # resource use and abstention per item (leaderboard columns); None where the source lacks them
    input_tokens: dict[str, float] | None = None
    output_tokens: dict[str, float] | None = None
    calls: dict[str, float] | None = None
    """Model calls per item (cache hits counted as calls)."""
    abstained: dict[str, bool] | None = None
    """True where the system gave no parsable answer (abstention or parse failure)."""

    @property
    def derived(self) -> bool:
        return self.kind != "log"

    @property
    def source_files(self) -> list[str]:
        """The file(s) this system was read from."""
        return list(self.files) or [self.source]

    def unscored_note(self) -> str | None:
        """``"3 samples in FILE have no score (unscored: ...), e.g. [...]"``, or ``None``."""
        if not self.unscored:
            return None
        errors = sum(1 for why in self.unscored.values() if why == "error")
        parts = [f"{errors} error samples"] if errors else []
        if len(self.unscored) > errors:
            parts.append(f"{len(self.unscored) - errors} never scored")
        return (
            f"{len(self.unscored)} samples in {', '.join(self.source_files)} have no score "
            f"(unscored: {', '.join(parts)}), e.g. {sorted(self.unscored)[:5]}"
        )


@dataclass
class LoadedLog:
    """One source (an Inspect log, or one run's lm-eval samples files) and what it holds."""

    path: Path
    harness: Literal["inspect", "lm_eval"]
    system: SystemData
    derived: list[SystemData] = field(default_factory=list)
    oracle: SystemData | None = None
    clusters: dict[str, str] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    label: str | None = None
    """Explicit system name given by the caller (``--name``), if any."""
    filter: str | None = None
    tasks: list[str] = field(default_factory=list)
    options: dict[str, int] = field(default_factory=dict)
    """Number of answer options per multiple-choice item (for the chance level)."""
    shard: str | None = None
    """``i/N`` when the log is one shard of an ``orch-eval run --shard`` run."""

    @property
    def name(self) -> str:
        return self.system.name

    @property
    def has_panel(self) -> bool:
        """True when the Decisions come from a multi-agent panel (derived systems exist)."""
        return any(len(d.agents) > 1 for d in self.decisions.values())


@dataclass
class LoadedSystems:
    """Everything read from a set of inputs: systems (in order), oracles, clusters, notes."""

    logs: list[LoadedLog]
    systems: dict[str, SystemData]
    oracles: dict[str, SystemData]
    clusters: dict[str, str]
    warnings: list[str]

    @property
    def names(self) -> list[str]:
        return list(self.systems)

    def chance(self, items: Sequence[str]) -> float | None:
        """Mean accuracy of a uniform guess over ``items`` (1 / number of options), when every item
        is multiple choice with a known number of options; None otherwise (numeric answers)."""
        options: dict[str, int] = {}
        for log in self.logs:
            options.update(log.options)
        if not items or any(i not in options for i in items):
            return None
        return sum(1 / options[i] for i in items) / len(items)

    def resolve(self, name: str) -> str:
        """A system name from its exact spelling or a unique prefix (``agent0``)."""
        if name in self.systems:
            return name
        hits = [s for s in self.systems if s.startswith(name)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise LogLoadError(f"system name {name!r} is ambiguous: it matches {hits}")
        raise LogLoadError(f"no system named {name!r}; available: {list(self.systems)}")

    def select(self, names: Sequence[str] | None = None, derived: bool = True) -> list[str]:
        if names:
            out = []
            for n in names:
                r = self.resolve(n)
                if r not in out:
                    out.append(r)
            return out
        return [n for n, s in self.systems.items() if derived or not s.derived]

    def outcomes(
        self,
        names: Sequence[str] | None = None,
        intersect: bool = False,
        derived: bool = True,
        intersect_hint: str = "intersect=True",
    ) -> PairedOutcomes:
        """The selected systems as :class:`PairedOutcomes` (clusters, cost and latency when
        every selected item has them).

        Raises ``ItemSetMismatchError`` for different item sets unless ``intersect``; its
        message names each system's source file(s), the samples a harness left unscored,
        and ``intersect_hint`` as the way to keep only the common items (a command line
        passes its own flag, ``"--intersect"``).
        """
        try:
            return self._outcomes(names, intersect, derived)
        except ItemSetMismatchError as ex:
            chosen = list(ex.items)
            sources = {n: self.systems[n].source_files for n in chosen}
            notes = {n: [note] for n in chosen if (note := self.systems[n].unscored_note()) is not None}
            raise ex.with_context(hint=intersect_hint, sources=sources, notes=notes) from None

    def _outcomes(self, names: Sequence[str] | None, intersect: bool, derived: bool) -> PairedOutcomes:
        chosen = self.select(names, derived)
        if not chosen:
            raise LogLoadError("no system selected")
        systems = {n: self.systems[n].correct for n in chosen}
        items = (
            set.intersection(*(set(v) for v in systems.values()))
            if intersect
            else set().union(*(set(v) for v in systems.values()))
        )
        clusters = None
        if self.clusters and all(i in self.clusters for i in items):
            clusters = self.clusters
            if len({self.clusters[i] for i in items}) < 2:
                clusters = None  # one cluster: a clustered SE would be meaningless (always 0)
        elif self.clusters:
            missing = sum(1 for i in items if i not in self.clusters)
            note = (
                f"cluster labels (subject/category) missing for {missing} items: "
                "clustered SEs are not reported"
            )
            if note not in self.warnings:
                self.warnings.append(note)

        def per_item(attr: str) -> dict[str, dict[str, float]] | None:
            out = {}
            for n in chosen:
                values = getattr(self.systems[n], attr)
                if values is None or not all(i in values for i in items if i in self.systems[n].correct):
                    return None
                out[n] = values
            return out

        cost = per_item("cost")
        latency = per_item("latency")
        if intersect:
            cost = None if cost is None else {n: {i: v[i] for i in items} for n, v in cost.items()}
            latency = None if latency is None else {n: {i: v[i] for i in items} for n, v in latency.items()}
        try:
            return PairedOutcomes.from_dict(
                systems, clusters=clusters, intersect=intersect, cost=cost, latency=latency
            )
        except ItemSetMismatchError:
            raise
        except ValueError:
            # cost/latency gaps are not worth failing the comparison for
            return PairedOutcomes.from_dict(systems, clusters=clusters, intersect=intersect)

    def panel_logs(self) -> list[LoadedLog]:
        """Sources whose Decisions come from a multi-agent panel (for merger diagnostics)."""
        return [log for log in self.logs if log.has_panel]


# ---------------------------------------------------------------------------- helpers


def _score_correct(value: Any, path: Path, sample_id: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().upper()
        if v in _CORRECT_VALUES:
            return _CORRECT_VALUES[v]
    elif isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise LogLoadError(
        f"{path}: sample {sample_id!r} has score value {value!r}; only correct/incorrect scores "
        "('C'/'I', 1/0, True/False) can be compared"
    )


def _decision(data: Any, path: Path, item: str) -> Decision:
    if isinstance(data, Decision):
        return data
    try:
        return Decision.model_validate(data)
    except ValidationError as ex:
        first = ex.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        raise LogLoadError(
            f"{path}: item {item!r}: malformed ORCH Decision ({loc}: {first.get('msg')})"
        ) from None


def _agent_latency(d: Decision) -> float:
    lat = [a.latency for a in d.agents if a.consulted]
    return (max(lat) if lat else 0.0) + (d.merge.latency if d.merge is not None else 0.0)


def _agent_cost(d: Decision) -> float:
    return sum(a.cost for a in d.agents if a.consulted)


def _agent_name(slot: int, model: str) -> str:
    return f"agent{slot}:{model}"


# ---------------------------------------------------------------------------- resource use per item
# Tokens, calls and abstention per item, for the leaderboard's columns. Kept apart from the
# correctness logic above: a source that lacks them leaves the fields None.

USAGE_FIELDS = ("input_tokens", "output_tokens", "calls", "abstained")


def _record_calls(rec: AgentRecord | MergeRecord | None) -> int:
    """Calls one agent or merger record made: its own, plus the answer-completion step if tried."""
    if rec is None or (isinstance(rec, AgentRecord) and not rec.consulted):
        return 0
    completion = rec.completion_text is not None or (rec.error or "").startswith("completion step")
    return 1 + int(completion)


def _decision_calls(d: Decision) -> int:
    """Model calls behind one Decision: consulted agents of every round, merger, dispatcher,
    completion steps (the Decision's own count; logs written before it had one: recounted)."""
    if d.calls:
        return d.calls
    return sum(_record_calls(a) for a in d.records()) + _record_calls(d.merge) + int(d.dispatch is not None)


def _set_usage(sd: SystemData, per_item: Mapping[str, tuple[int, int, int, bool]]) -> SystemData:
    """Fill ``sd``'s usage fields from ``{item: (input tokens, output tokens, calls, abstained)}``."""
    sd.input_tokens = {i: float(u[0]) for i, u in per_item.items()}
    sd.output_tokens = {i: float(u[1]) for i, u in per_item.items()}
    sd.calls = {i: float(u[2]) for i, u in per_item.items()}
    sd.abstained = {i: bool(u[3]) for i, u in per_item.items()}
    return sd


def _decision_usage(decisions: Mapping[str, Decision]) -> dict[str, tuple[int, int, int, bool]]:
    """The merged system's usage: the Decision's total; abstained when its final answer is None."""
    return {
        i: (d.usage.input_tokens, d.usage.output_tokens, _decision_calls(d), d.final is None)
        for i, d in decisions.items()
    }


def _agent_usage(rec: AgentRecord) -> tuple[int, int, int, bool]:
    return rec.usage.input_tokens, rec.usage.output_tokens, _record_calls(rec), rec.answer is None


def _majority_usage(d: Decision) -> tuple[int, int, int, bool]:
    used = [a for a in d.agents if a.consulted]
    return (
        sum(a.usage.input_tokens for a in used),
        sum(a.usage.output_tokens for a in used),
        sum(_record_calls(a) for a in used),
        d.majority is None,
    )


def _score_abstained(score: Any) -> bool | None:
    """Whether a plain Inspect score says the model left no usable answer (None: it does not tell).
    Inspect's ``choice()`` records ``answer=""`` (reasons ``no_response`` /
    ``invalid_response_format``); ``match()`` records the extracted answer, ``""`` when none."""
    if getattr(score, "reason", None) in ("no_response", "invalid_response_format"):
        return True
    answer = getattr(score, "answer", None)
    if answer is None:
        return None
    return not str(answer).strip()


def _lm_eval_abstained(record: Mapping[str, Any]) -> bool | None:
    """A generation task's filtered response ``[invalid]`` (lm-eval's regex-filter fallback) or an
    empty one is a parse failure; a log-likelihood task always picks an option."""
    resps = record.get("filtered_resps")
    if not isinstance(resps, list) or not resps:
        return None
    first = resps[0]
    if isinstance(first, str):
        return first.strip() in ("", "[invalid]")
    if isinstance(first, (list, tuple)):
        return False
    return None


def _derive(
    main: str,
    decisions: Mapping[str, Decision],
    source: str,
    main_is_majority: bool,
) -> tuple[list[SystemData], SystemData | None, list[str]]:
    """Agent, majority and oracle systems from the Decisions of a multi-agent panel."""
    warnings: list[str] = []
    if not decisions or not any(len(d.agents) > 1 for d in decisions.values()):
        return [], None, warnings
    if any(d.method != "orch" for d in decisions.values()):
        return [], None, warnings  # a method's own system only (its first round is ORCH's analyses)
    no_gold = [i for i, d in decisions.items() if d.gold is None]
    if no_gold:
        warnings.append(
            f"{source}: {len(no_gold)} Decisions have no gold answer; agent/majority/oracle systems "
            f"cannot be derived for them (e.g. {sorted(no_gold)[:3]})"
        )
    slots: dict[int, str] = {}
    for d in decisions.values():
        for a in d.agents:
            slots.setdefault(a.slot, a.model)
    derived: list[SystemData] = []
    for slot in sorted(slots):
        model = slots[slot]
        correct: dict[str, bool] = {}
        cost: dict[str, float] = {}
        latency: dict[str, float] = {}
        usage: dict[str, tuple[int, int, int, bool]] = {}
        skipped = 0
        for item, d in decisions.items():
            rec = next((a for a in d.agents if a.slot == slot), None)
            if d.gold is None or rec is None or not rec.consulted:
                skipped += d.gold is not None
                continue
            correct[item] = bool(rec.correct) if rec.correct is not None else False
            cost[item] = rec.cost
            latency[item] = rec.latency
            usage[item] = _agent_usage(rec)
        if skipped:
            warnings.append(
                f"{source}: agent slot {slot} ({model}) was not consulted on {skipped} items "
                "(router); its single-agent system is left out"
            )
            continue
        if correct:
            agent = SystemData(_agent_name(slot, model), "agent", correct, source, cost, latency)
            derived.append(_set_usage(agent, usage))
    with_gold = {i: d for i, d in decisions.items() if d.gold is not None}
    if not main_is_majority and with_gold:
        derived.append(
            SystemData(
                "majority",
                "majority",
                {i: bool(d.majority_correct) for i, d in with_gold.items()},
                source,
                {i: _agent_cost(d) for i, d in with_gold.items()},
                {i: max([a.latency for a in d.agents if a.consulted] or [0.0]) for i, d in with_gold.items()},
            )
        )
        _set_usage(derived[-1], {i: _majority_usage(d) for i, d in with_gold.items()})
    oracle = (
        SystemData("oracle", "oracle", {i: bool(d.oracle) for i, d in with_gold.items()}, source)
        if with_gold
        else None
    )
    return derived, oracle, warnings


def _solver_short(solver: str | None) -> str | None:
    if not solver:
        return None
    short = solver.rsplit("/", 1)[-1]
    return {"majority_vote": "vote"}.get(short, short)


# ---------------------------------------------------------------------------- Inspect


def _usable_decisions(
    p: Path, decisions: dict[str, Decision], correct: dict[str, bool], scorer: str, warnings: list[str]
) -> dict[str, Decision]:
    """The Decisions to derive systems from: all items must carry one (else none are used); the
    harness's own score wins where a Decision disagrees with it (noted in ``warnings``)."""
    if decisions and len(decisions) < len(correct):
        warnings.append(
            f"{p}: only {len(decisions)} of {len(correct)} samples carry an ORCH Decision; none used"
        )
        return {}
    disagree = [i for i, d in decisions.items() if d.correct is not None and d.correct != correct[i]]
    if disagree:
        warnings.append(
            f"{p}: {scorer} and the ORCH Decision disagree on {len(disagree)} items "
            f"({scorer} is used), e.g. {sorted(disagree)[:3]}"
        )
    return decisions


def inspect_sample_ids(location: str | Path, header: Any | None = None) -> list[str]:
    """The ids of the samples an Inspect log was run on, as strings: the header's
    ``eval.dataset.sample_ids`` (dataset order), or -- for a valid log written without that
    list -- the distinct ids of its samples (the order they are stored in). ``header`` is the
    log's header when already read."""
    from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries

    if header is None:
        header = read_eval_log(str(location), header_only=True)
    ids = header.eval.dataset.sample_ids
    if ids is None:
        ids = [s.id for s in read_eval_log_sample_summaries(str(location))]
    return [str(i) for i in dict.fromkeys(ids)]


def load_inspect_log(path: str | Path, name: str | None = None, derived: bool = True) -> LoadedLog:
    """Read one Inspect log (see the module docstring)."""
    from inspect_ai.log import read_eval_log, read_eval_log_samples

    text = str(path)
    if text.startswith("file:"):  # Inspect reports log locations as file: URIs
        from urllib.parse import unquote, urlparse

        text = unquote(urlparse(text).path)
    p = Path(text)
    try:
        header = read_eval_log(str(p), header_only=True)
    except FileNotFoundError:
        raise LogLoadError(f"{p}: no such file") from None
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError, KeyError, ValueError, OSError) as ex:
        raise LogLoadError(
            f"{p}: not a readable Inspect log (truncated or corrupt? {type(ex).__name__}: {ex})"
        ) from None
    warnings: list[str] = []
    total = header.results.total_samples if header.results is not None else None
    if header.status != "success":
        warnings.append(
            f"{p}: log status is {header.status!r}, not 'success': loading the completed samples only"
        )
    samples = []
    try:
        if header.eval.dataset.sample_ids is None:
            # a valid log without the id list (written by write_eval_log from an EvalLog that
            # lacks it, or converted): Inspect's sample iterator needs the list, so read the
            # samples from the log itself
            samples = list(read_eval_log(str(p), exclude_fields=_EXCLUDED_FIELDS).samples or [])
        else:
            for s in read_eval_log_samples(
                str(p), all_samples_required=False, exclude_fields=_EXCLUDED_FIELDS
            ):
                samples.append(s)
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError, KeyError, OSError) as ex:
        raise LogLoadError(
            f"{p}: samples could not be read (truncated or corrupt? {type(ex).__name__}: {ex})"
        ) from None
    except Exception as ex:  # inspect raises its own errors for incomplete logs
        if samples:
            warnings.append(f"{p}: reading stopped after {len(samples)} samples ({type(ex).__name__}: {ex})")
        else:
            raise LogLoadError(f"{p}: samples could not be read ({type(ex).__name__}: {ex})") from None
    if not samples:
        raise LogLoadError(f"{p}: the log has no samples (status {header.status!r})")

    multi_epoch = any((s.epoch or 1) > 1 for s in samples)
    correct: dict[str, bool] = {}
    clusters: dict[str, str] = {}
    decisions: dict[str, Decision] = {}
    usage_cost: dict[str, float] = {}
    times: dict[str, float] = {}
    unscored: dict[str, str] = {}
    options: dict[str, int] = {}
    plain_tokens: dict[str, tuple[int, int]] = {}
    plain_abstained: dict[str, bool | None] = {}
    for s in samples:
        item = f"{s.id}#{s.epoch}" if multi_epoch else str(s.id)
        if item in correct or item in unscored:
            raise LogLoadError(f"{p}: sample id {item!r} appears twice")
        if s.error is not None or not s.scores:
            unscored[item] = "error" if s.error is not None else "no score"
            continue
        score = next(iter(s.scores.values()))
        correct[item] = _score_correct(score.value, p, s.id)
        meta = s.metadata or {}
        cluster = domain_of(meta)
        if cluster is not None:
            clusters[item] = cluster
        if s.choices:
            options[item] = len(s.choices)
        raw = meta.get(DECISION_KEY)
        if raw is None and s.store:
            raw = s.store.get(DECISION_KEY)
        if raw is not None:
            decisions[item] = _decision(raw, p, item)
        costs = [u.total_cost for u in (s.model_usage or {}).values() if u.total_cost is not None]
        if costs:
            usage_cost[item] = float(sum(costs))
        t = s.working_time if s.working_time is not None else s.total_time
        if t is not None:
            times[item] = float(t)
        if s.model_usage:
            used = s.model_usage.values()
            plain_tokens[item] = (sum(u.input_tokens for u in used), sum(u.output_tokens for u in used))
        plain_abstained[item] = _score_abstained(score)
    if not correct:
        raise LogLoadError(f"{p}: none of the {len(samples)} samples has a score")
    if header.status != "success":
        of = f" of {total}" if total else ""
        warnings.append(f"{p}: loaded {len(correct)} completed samples{of}")
    if unscored:
        warnings.append(
            f"{p}: {len(unscored)} samples have an error or no score (unscored) and are left out, "
            f"e.g. {sorted(unscored)[:5]}"
        )
    if multi_epoch:
        warnings.append(
            f"{p}: several epochs: items are (sample id, epoch) pairs; epochs of one sample are not "
            "independent" + ("" if clusters else ", so they are clustered by sample id")
        )
        if not clusters:
            clusters = {i: i.rsplit("#", 1)[0] for i in correct}
    decisions = _usable_decisions(p, decisions, correct, "the task scorer", warnings)

    # name of the log's own system
    spec = header.eval
    model = spec.model
    solver = _solver_short(spec.solver)
    if name is None:
        if decisions and (model in (None, "", "none/none", "none") or solver is not None):
            first = next(iter(decisions.values()))
            if (label := first.system_label()) is not None:
                name = label
            elif len(first.agents) == 1 and solver in ("single", "direct"):
                name = f"{solver}/{first.agents[0].model}"
            else:
                name = f"{solver or 'orch'}/{first.panel_name or first.panel_digest}"
        elif model in (None, "", "none/none", "none") and solver:
            name = solver
        else:
            name = str(model)
    cost: dict[str, float] | None
    latency: dict[str, float] | None
    if decisions:
        cost = {i: d.cost for i, d in decisions.items()}
        latency = {i: _agent_latency(d) for i, d in decisions.items()}
    else:
        cost = usage_cost if len(usage_cost) == len(correct) else None
        latency = times if len(times) == len(correct) else None
    system = SystemData(name, "log", correct, str(p), cost, latency, unscored=unscored)
    if decisions:
        _set_usage(system, _decision_usage(decisions))
    else:
        if len(plain_tokens) == len(correct):  # tokens from the samples' model usage (calls are not counted)
            system.input_tokens = {i: float(u[0]) for i, u in plain_tokens.items()}
            system.output_tokens = {i: float(u[1]) for i, u in plain_tokens.items()}
        if all(v is not None for v in plain_abstained.values()):
            system.abstained = {i: bool(v) for i, v in plain_abstained.items()}
    derived_systems: list[SystemData] = []
    oracle = None
    if decisions and derived:
        derived_systems, oracle, notes = _derive(name, decisions, str(p), main_is_majority=solver == "vote")
        warnings += notes
        for d in derived_systems:  # the Decisions of unscored samples are not read either
            d.unscored = dict(unscored)
    return LoadedLog(
        path=p,
        harness="inspect",
        system=system,
        derived=derived_systems,
        oracle=oracle,
        clusters=clusters,
        decisions=decisions,
        warnings=warnings,
        tasks=[spec.task],
        options=options,
        shard=_shard_label(spec.metadata),
    )


def _shard_label(metadata: Mapping[str, Any] | None) -> str | None:
    meta = (metadata or {}).get("orch_experiment")
    shard = meta.get("shard") if isinstance(meta, Mapping) else None
    return str(shard) if shard else None


# ---------------------------------------------------------------------------- lm-eval


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as ex:
        raise LogLoadError(f"{path}: cannot read ({ex})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as ex:
            raise LogLoadError(
                f"{path}: line {n} is not valid JSON (truncated or corrupt? {ex.msg})"
            ) from None
        if not isinstance(record, dict):
            raise LogLoadError(f"{path}: line {n} is not a JSON object")
        out.append(record)
    return out


def _sidecar_decisions(path: Path, task: str, date: str | None) -> dict[Any, Any]:
    """Decisions from the lm-eval adapter's sidecar next to a samples file, by doc_id."""
    candidates = []
    if date:
        candidates.append(path.parent / f"{SIDECAR_PREFIX}{task}_{date}.jsonl")
    candidates.append(path.parent / f"{SIDECAR_PREFIX}{task}.jsonl")
    for side in candidates:
        if side.is_file():
            out = {}
            for rec in _read_jsonl(side):
                if rec.get("task", task) != task or "decision" not in rec:
                    continue
                out[rec.get("doc_id")] = rec["decision"]
            return out
    return {}


def _lm_metric(records: list[dict[str, Any]], path: Path, metric: str | None) -> str:
    keys = [k for r in records[:1] for k in (r.get("metrics") or [])]
    if metric is not None:
        if metric not in records[0]:
            raise LogLoadError(f"{path}: metric {metric!r} not in the samples; available: {keys}")
        return metric
    for m in LM_EVAL_METRICS:
        if m in records[0]:
            return m
    raise LogLoadError(
        f"{path}: no correctness metric ({' or '.join(LM_EVAL_METRICS)}) in the samples; metrics present: "
        f"{keys}"
    )


def load_lm_eval_samples(
    path: str | Path,
    name: str | None = None,
    filter: str | None = None,
    derived: bool = True,
    metric: str | None = None,
    filter_fallback: bool = False,
) -> LoadedLog:
    """Read one lm-eval ``samples_<task>_<date>.jsonl`` file (see the module docstring).

    ``filter`` must be one of the file's filters, except with ``filter_fallback`` when the file
    has a single filter (a multiple-choice task next to a generation task in one run).
    """
    p = Path(path)
    if not p.is_file():
        raise LogLoadError(f"{p}: no such file")
    m = SAMPLES_FILE_RE.match(p.name)
    task = m.group("task") if m else p.stem.removeprefix("samples_")
    date = m.group("date") if m else None
    records = _read_jsonl(p)
    if not records:
        raise LogLoadError(f"{p}: the samples file is empty (no samples)")
    filters = list(dict.fromkeys(str(r.get("filter", "none")) for r in records))
    chosen = filter if filter is not None else filters[0]
    if chosen not in filters:
        if not (filter_fallback and len(filters) == 1):
            raise LogLoadError(f"{p}: filter {chosen!r} not found; available filters: {', '.join(filters)}")
        chosen = filters[0]  # a task with one filter, in a run whose other tasks have several
    records = [r for r in records if str(r.get("filter", "none")) == chosen]
    metric_name = _lm_metric(records, p, metric)
    side = _sidecar_decisions(p, task, date)
    correct: dict[str, bool] = {}
    options: dict[str, int] = {}
    clusters: dict[str, str] = {}
    decisions: dict[str, Decision] = {}
    lm_abstained: dict[str, bool | None] = {}
    for r in records:
        if "doc_id" not in r:
            raise LogLoadError(f"{p}: a sample has no doc_id")
        item = f"{task}/{r['doc_id']}"
        if item in correct:
            raise LogLoadError(f"{p}: doc_id {r['doc_id']!r} appears twice for filter {chosen!r}")
        value = r.get(metric_name)
        if isinstance(value, bool) or (
            isinstance(value, (int, float)) and not math.isnan(value) and value in (0, 1)
        ):
            correct[item] = bool(value)
        else:
            raise LogLoadError(f"{p}: doc_id {r['doc_id']!r}: metric {metric_name!r} = {value!r} is not 0/1")
        doc = r.get("doc")
        if not isinstance(doc, dict):
            doc = {}
        cluster = domain_of(doc)
        if cluster is not None:
            clusters[item] = cluster
        choices = doc.get("choices", doc.get("options"))
        if isinstance(choices, list) and len(choices) >= 2:
            options[item] = len(choices)
        raw = r.get(DECISION_KEY, side.get(r["doc_id"]))
        if raw is not None:
            decisions[item] = _decision(raw, p, item)
        lm_abstained[item] = _lm_eval_abstained(r)
    warnings: list[str] = []
    decisions = _usable_decisions(p, decisions, correct, f"lm-eval's {metric_name}", warnings)
    if name is None:
        if decisions:
            first = next(iter(decisions.values()))
            name = first.system_label() or f"orch/{first.panel_name or first.panel_digest}"
        else:
            name = p.parent.name or p.stem
    cost = {i: d.cost for i, d in decisions.items()} if decisions else None
    latency = {i: _agent_latency(d) for i, d in decisions.items()} if decisions else None
    system = SystemData(name, "log", correct, str(p), cost, latency)
    if decisions:
        _set_usage(system, _decision_usage(decisions))
    elif all(v is not None for v in lm_abstained.values()):
        system.abstained = {i: bool(v) for i, v in lm_abstained.items()}
    derived_systems: list[SystemData] = []
    oracle = None
    if decisions and derived:
        derived_systems, oracle, notes = _derive(name, decisions, str(p), main_is_majority=False)
        warnings += notes
    return LoadedLog(
        path=p,
        harness="lm_eval",
        system=system,
        derived=derived_systems,
        oracle=oracle,
        clusters=clusters,
        decisions=decisions,
        warnings=warnings,
        filter=chosen,
        tasks=[task],
        options=options,
    )


# ---------------------------------------------------------------------------- many inputs


def _kind(path: Path) -> str:
    if path.suffix == ".eval":
        return "inspect"
    if path.name.startswith("samples_") and path.suffix == ".jsonl":
        return "lm_eval"
    if path.suffix == ".json" and not path.name.startswith("results"):
        return "inspect"
    raise LogLoadError(
        f"{path}: unknown file type (expected an Inspect .eval/.json log or an lm-eval "
        "samples_<task>_<date>.jsonl file)"
    )


def _local_path(raw: str | Path) -> Path:
    text = str(raw)
    if text.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(text).path))
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme.isalnum() and len(scheme) > 1:
        raise LogLoadError(
            f"{text}: only local logs can be read ({scheme}:// is not supported); copy it here first"
        )
    return Path(raw)


def expand_paths(paths: Iterable[str | Path]) -> list[list[Path]]:
    """Each argument as a list of files: a folder gives every ``.eval`` and ``samples_*.jsonl``
    file below it (sorted); a file gives itself. A ``file://`` URI (the ``location`` Inspect
    gives its logs) is read as the local path it names."""
    out = []
    for raw in paths:
        p = _local_path(raw)
        if p.is_dir():
            files = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and (f.suffix == ".eval" or (f.name.startswith("samples_") and f.suffix == ".jsonl"))
            )
            if not files:
                raise LogLoadError(f"{p}: folder holds no .eval or samples_*.jsonl file")
            out.append(files)
        elif p.exists():
            _kind(p)
            out.append([p])
        else:
            raise LogLoadError(f"{p}: no such file or folder")
    return out


def _merge_lm_eval(logs: list[LoadedLog]) -> LoadedLog:
    """Tasks of one lm-eval run (same folder, same system) as one system."""
    first = logs[0]
    files = [str(lg.path) for lg in logs]
    merged = LoadedLog(
        path=first.path.parent,
        harness="lm_eval",
        system=SystemData(
            first.name,
            "log",
            {},
            str(first.path.parent),
            {},
            {},
            files=files,
            input_tokens={},
            output_tokens={},
            calls={},
            abstained={},
        ),
        filter=",".join(dict.fromkeys(str(lg.filter) for lg in logs)),
        label=first.label,
    )
    derived: dict[str, SystemData] = {}
    oracle = None
    for log in logs:
        dup = set(log.system.correct) & set(merged.system.correct)
        if dup:
            raise LogLoadError(
                f"{log.path}: task {log.tasks[0]!r} appears in several samples files in {log.path.parent} "
                "(several runs in one folder?): pass the files of one run"
            )
        merged.tasks += log.tasks
        merged.system.correct.update(log.system.correct)
        for attr in ("cost", "latency", *USAGE_FIELDS):
            mine, theirs = getattr(merged.system, attr), getattr(log.system, attr)
            setattr(merged.system, attr, None if mine is None or theirs is None else {**mine, **theirs})
        merged.clusters.update(log.clusters)
        merged.options.update(log.options)
        merged.decisions.update(log.decisions)
        merged.warnings += log.warnings
        for d in log.derived:
            if d.name in derived:
                derived[d.name].correct.update(d.correct)
                for attr in ("cost", "latency", *USAGE_FIELDS):
                    a, b = getattr(derived[d.name], attr), getattr(d, attr)
                    setattr(derived[d.name], attr, None if a is None or b is None else {**a, **b})
            else:
                copy = SystemData(d.name, d.kind, dict(d.correct), str(first.path.parent), files=files)
                for f in ("cost", "latency", *USAGE_FIELDS):  # None stays None: the source lacks them
                    value = getattr(d, f)
                    setattr(copy, f, None if value is None else dict(value))
                derived[d.name] = copy
        if log.oracle is not None:
            if oracle is None:
                oracle = SystemData("oracle", "oracle", {}, str(first.path.parent))
            oracle.correct.update(log.oracle.correct)
    # a derived system must cover all tasks, or it would look like a mismatch
    n = len(merged.system.correct)
    merged.derived = [d for d in derived.values() if len(d.correct) == n]
    merged.oracle = oracle if oracle is not None and len(oracle.correct) == n else None
    return merged


def _panel_digests(log: LoadedLog) -> set[str]:
    return {d.panel_digest for d in log.decisions.values() if d.panel_digest}


_PER_ITEM = ("cost", "latency", "input_tokens", "output_tokens", "calls", "abstained")
"""SystemData's optional per-item columns: a merged system has one only where every part has it."""


def _empty_like(sd: SystemData, files: list[str]) -> SystemData:
    """An empty system of ``sd``'s name and kind read from ``files``, to :func:`_absorb` shards into."""
    return SystemData(sd.name, sd.kind, {}, ", ".join(files), files=list(files), **{a: {} for a in _PER_ITEM})


def _absorb(target: SystemData, part: SystemData) -> None:
    """Add one shard's items to ``target``: outcomes, unscored samples and every per-item column
    (a column missing from any shard is missing from the whole)."""
    target.correct.update(part.correct)
    target.unscored.update(part.unscored)
    for attr in _PER_ITEM:
        mine, theirs = getattr(target, attr), getattr(part, attr)
        setattr(target, attr, None if mine is None or theirs is None else {**mine, **theirs})


def merge_shards(logs: list[LoadedLog]) -> LoadedLog:
    """Inspect logs of one system on one task with disjoint items (shards: ``orch-eval run --shard``,
    or plain ``inspect eval --sample-id`` runs) as one log. Raises :class:`LogLoadError` when two
    logs share an item or were run with different panels."""
    first = logs[0]
    files = [str(lg.path) for lg in logs]
    where = ", ".join(files)
    digests = set().union(*(_panel_digests(lg) for lg in logs))
    if len(digests) > 1:
        raise LogLoadError(
            f"duplicate system name {first.name!r} on task {first.tasks[0]!r}: several logs ran different "
            f"panels (digests {sorted(digests)}): {where}; name them with --name LABEL (one per LOG)"
        )
    owner: dict[str, Path] = {}
    for lg in logs:
        for item in lg.system.correct:
            if item in owner:
                shared = sorted(set(lg.system.correct) & {i for i, p in owner.items() if p == owner[item]})
                raise LogLoadError(
                    f"duplicate system name {first.name!r} on task {first.tasks[0]!r}: {owner[item]} and "
                    f"{lg.path} share {len(shared)} items (e.g. {shared[:3]}). Shards of one run must hold "
                    "disjoint items (they are then read as one system); for separate runs, name them with "
                    "--name LABEL (one per LOG)"
                )
            owner[item] = lg.path
    counts = {lg.shard.split("/", 1)[1] for lg in logs if lg.shard}
    merged = LoadedLog(
        path=Path(os.path.commonpath([str(lg.path) for lg in logs])),
        harness="inspect",
        system=_empty_like(first.system, files),
        label=first.label,
        tasks=list(first.tasks),
        shard=f"{len(logs)} shards" if counts else None,
    )
    if len(counts) > 1:
        merged.warnings.append(f"{where}: shards of different splits ({sorted(counts)}) merged as one system")
    elif counts and len({lg.shard for lg in logs}) < int(next(iter(counts))):
        present = sorted(str(lg.shard) for lg in logs)
        merged.warnings.append(
            f"system {first.name!r}: only shards {present} of {next(iter(counts))} are present"
        )
    derived: dict[str, SystemData] = {}
    oracle: SystemData | None = None
    for lg in logs:
        _absorb(merged.system, lg.system)
        merged.clusters.update(lg.clusters)
        merged.options.update(lg.options)
        merged.decisions.update(lg.decisions)
        merged.warnings += lg.warnings
        for d in lg.derived:
            _absorb(derived.setdefault(d.name, _empty_like(d, files)), d)
        if lg.oracle is not None:
            oracle = oracle or SystemData("oracle", "oracle", {}, where)
            oracle.correct.update(lg.oracle.correct)
    n = len(merged.system.correct)  # a derived system must cover every shard
    merged.derived = [d for d in derived.values() if len(d.correct) == n]
    merged.oracle = oracle if oracle is not None and len(oracle.correct) == n else None
    return merged


def _merge_inspect_shards(logs: list[LoadedLog]) -> list[LoadedLog]:
    """Group the Inspect logs of one argument by (system, task) and merge each group's shards."""
    groups: dict[tuple[str, str], list[LoadedLog]] = {}
    out: list[LoadedLog] = []
    for lg in logs:
        if lg.harness != "inspect":
            out.append(lg)
            continue
        key = (lg.name, lg.tasks[0] if lg.tasks else "")
        if key not in groups:
            groups[key] = []
            out.append(lg)  # placeholder keeps the order
        groups[key].append(lg)
    for group in groups.values():
        if len(group) > 1:
            out[next(k for k, lg in enumerate(out) if lg is group[0])] = merge_shards(group)
    return out


def load_logs(
    paths: Sequence[str | Path],
    names: Sequence[str | None] | None = None,
    filter: str | None = None,
    derived: bool = True,
) -> LoadedSystems:
    """Load every input: ``names[i]`` (optional) names the system(s) of ``paths[i]``.

    Raises :class:`LogLoadError` for unreadable inputs and for duplicate system names.
    """
    if not paths:
        raise LogLoadError("no log given")
    names = list(names or [])
    if len(names) > len(paths):
        raise LogLoadError(f"{len(names)} names given for {len(paths)} inputs (one --name per LOG, in order)")
    names += [None] * (len(paths) - len(names))
    logs: list[LoadedLog] = []
    lm_filters: list[tuple[str | None, Path]] = []
    # the task files of one lm-eval run (same folder, same system) become one system, also when
    # they are given as separate arguments (the leaderboard passes one benchmark's files)
    lm_groups: dict[tuple[Path, str], list[LoadedLog]] = {}
    for files, label in zip(expand_paths(paths), names, strict=True):
        for f in files:
            if _kind(f) == "inspect":
                log = load_inspect_log(f, name=label, derived=derived)
                log.label = label
                logs.append(log)
            else:
                log = load_lm_eval_samples(
                    f, name=label, filter=filter, derived=derived, filter_fallback=True
                )
                log.label = label
                lm_filters.append((log.filter, f))
                key = (f.parent, log.name)
                if key not in lm_groups:
                    lm_groups[key] = []
                    logs.append(log)  # placeholder keeps argument order
                lm_groups[key].append(log)
    for group in lm_groups.values():
        if len(group) > 1:
            merged = _merge_lm_eval(group)
            at = next(k for k, lg in enumerate(logs) if lg is group[0])
            logs[at] = merged

    logs = _merge_inspect_shards(logs)

    if filter is not None and lm_filters and all(used != filter for used, _ in lm_filters):
        available = sorted({used for used, _ in lm_filters if used})
        raise LogLoadError(
            f"{lm_filters[0][1]}: filter {filter!r} not found in any samples file; available filters: "
            f"{', '.join(available)}"
        )

    # derived names stay short with one panel log; with several they get the log's name
    panel_logs = [log for log in logs if log.derived or log.oracle is not None]
    prefix = len(panel_logs) > 1
    systems: dict[str, SystemData] = {}
    oracles: dict[str, SystemData] = {}
    origin: dict[str, str] = {}
    warnings: list[str] = []

    def add(sd: SystemData, where: str) -> None:
        if sd.name in systems:
            raise LogLoadError(
                f"duplicate system name {sd.name!r} ({origin[sd.name]} and {where}): "
                "name the logs with --name LABEL (one per LOG, in order)"
            )
        systems[sd.name] = sd
        origin[sd.name] = where

    for log in logs:
        add(log.system, str(log.path))
    for log in logs:
        for d in log.derived:
            if prefix:
                d.name = f"{log.name}:{d.name}"
            add(d, str(log.path))
        if log.oracle is not None:
            if prefix:
                log.oracle.name = f"{log.name}:oracle"
            oracles[log.oracle.name] = log.oracle
        warnings += log.warnings
    clusters: dict[str, str] = {}
    for log in logs:
        for item, label in log.clusters.items():
            clusters.setdefault(item, label)
    return LoadedSystems(logs=logs, systems=systems, oracles=oracles, clusters=clusters, warnings=warnings)


def summarize_sources(loaded: LoadedSystems) -> list[dict[str, Any]]:
    """One JSON-friendly line per source: path, harness, system, items, derived systems."""
    out = []
    for log in loaded.logs:
        out.append(
            {
                "path": str(log.path),
                "harness": log.harness,
                "system": log.name,
                "items": len(log.system.correct),
                "tasks": log.tasks,
                "filter": log.filter,
                "decisions": len(log.decisions),
                "derived": [d.name for d in log.derived],
                "oracle": log.oracle.name if log.oracle is not None else None,
            }
        )
    return out
