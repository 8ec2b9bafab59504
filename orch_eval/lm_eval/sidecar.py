"""Decision sidecars: every item's ORCH Decision next to lm-eval's ``--log_samples`` output.

lm-eval's per-sample log has no slot for model-side metadata (a loglikelihood response is a
bare ``(float, bool)``), so the adapter writes one JSON line per item to
``orch_decisions_<task>_<date_id>.jsonl`` in the same directory as, and with the same
``<date_id>`` as, ``samples_<task>_<date_id>.jsonl``. Each line::

    {"task": ..., "doc_id": ..., "question_id": ..., "family": ..., "panel_digest": ...,
     "panel_name": ..., "decision": {<orch_eval.core.decision.Decision>}}

``doc_id`` is the samples file's ``doc_id``; ``question_id`` is the same id the Inspect path
uses, so runs of several systems (and of the two harnesses) pair item by item
(:func:`outcomes`).

The writing hooks ``EvaluationTracker.save_results_samples`` (wrapped once, when
``orch_eval.lm_eval`` is imported): after lm-eval wrote a task's samples, the wrapper writes
the Decisions the live ``orch`` models hold for that task's documents. The same wrappers
redact lm-eval's samples and results files (no secret environment value reaches them).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orch_eval.core.decision import SIDECAR_PREFIX, Decision

if TYPE_CHECKING:
    from orch_eval.lm_eval.questions import Item

logger = logging.getLogger("orch_eval.lm_eval")


MAX_SOURCES = 16

Lookup = Callable[[str, str], "dict[str, Any] | None"]
"""``lookup(task, question_id)``: the record of a question a live ``orch`` model decided, or None."""

_sources: list[list[Any]] = []
"""``[lookup, last used]`` of the most recently used ``orch`` models: lm-eval drops its model when
``simple_evaluate`` returns, before the CLI saves the samples, so their records must outlive it
(only the most recent few are kept)."""
_clock = itertools.count(1)


def register(lookup: Lookup) -> None:
    """Make a model's records available to the sidecar writer; the most recently used answers first."""
    _sources.append([lookup, next(_clock)])
    del _sources[:-MAX_SOURCES]


def touch(lookup: Lookup) -> None:
    """Mark a registered model as just used."""
    for entry in _sources:
        if entry[0] == lookup:
            entry[1] = next(_clock)


def _live_lookups() -> list[Lookup]:
    return [entry[0] for entry in sorted(_sources, key=lambda e: e[1], reverse=True)]


def store_key(task: str, question_id: str) -> str:
    return f"{task}\x1f{question_id}"


def make_record(item: Item, decision: Decision) -> dict[str, Any]:
    return {
        "task": item.task,
        "doc_id": item.doc_id,
        "question_id": item.question.id,
        "family": item.family,
        "panel_digest": decision.panel_digest,
        "panel_name": decision.panel_name,
        "decision": decision.model_dump(mode="json"),
    }


def write_records(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """Write the Decision records of one task as JSON lines, atomically (never half-written),
    secrets redacted."""
    from orch_eval.core.atomic import write_text_atomic
    from orch_eval.core.redact import redact_data

    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(redact_data(r), ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    return write_text_atomic(path, text)


def _item_for_sample(task: str, sample: Mapping[str, Any]) -> Item | None:
    """Rebuild the Item of a logged sample (document + request arguments), as the model did."""
    from orch_eval.lm_eval.questions import generate_item, loglikelihood_item

    args = [tuple(a) for a in sample.get("arguments") or []]
    if not args:
        return None
    doc = sample.get("doc")
    doc_id = sample.get("doc_id")
    if len(args[0]) == 2 and isinstance(args[0][1], dict):
        return generate_item(task, doc_id, doc, args[0][0])
    if all(len(a) == 2 and isinstance(a[1], str) for a in args):
        context = args[0][0]
        conts = [a[1] for a in args if a[0] == context]
        return loglikelihood_item(task, doc_id, doc, context, conts)
    return None


def records_for_samples(task: str, samples: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Decision records of a task's logged samples, one per document (filters repeat docs)."""
    lookups = _live_lookups()
    out: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for sample in samples:
        doc_id = sample.get("doc_id")
        if doc_id in seen:
            continue
        seen.add(doc_id)
        item = _item_for_sample(task, sample)
        if item is None:
            continue
        for lookup in lookups:
            record = lookup(task, item.question.id)
            if record is not None:
                out.append({**record, "doc_id": doc_id})
                break
    return out


def install_tracker_hook() -> None:
    """Wrap lm-eval's writers (``EvaluationTracker.save_results_samples`` and
    ``save_results_aggregated``): samples and results are redacted before lm-eval writes them
    (``orch_eval.core.redact``), and the Decision sidecar is written beside the samples."""
    from lm_eval.loggers.evaluation_tracker import EvaluationTracker

    original = EvaluationTracker.save_results_samples
    if getattr(original, "_orch_sidecar", False):
        return
    original_aggregated = EvaluationTracker.save_results_aggregated

    @functools.wraps(original)
    def save_results_samples(self: Any, task_name: str, samples: Any) -> None:
        from orch_eval.core.redact import redact_data

        records: list[dict[str, Any]] = []
        if self.output_path and _sources:
            try:  # before the original call, which rewrites the samples' arguments in place
                records = records_for_samples(task_name, samples)
            except Exception:  # never lose lm-eval's own samples file over a sidecar
                logger.exception("orch: could not collect Decisions for task %s", task_name)
        original(self, task_name, redact_data(samples))
        if records:
            path = Path(self.output_path)
            path = (
                path.parent
                if path.suffix == ".json"
                else path / str(self.general_config_tracker.model_name_sanitized)
            )
            out = write_records(path / f"{SIDECAR_PREFIX}{task_name}_{self.date_id}.jsonl", records)
            logger.info("orch: wrote %d Decisions to %s", len(records), out)

    @functools.wraps(original_aggregated)
    def save_results_aggregated(self: Any, results: dict[str, Any], samples: Any = None) -> None:
        from orch_eval.core.redact import redact_data

        # the run's configuration (model_args, ...) joins the results inside the original call
        config = self.general_config_tracker
        for field in dataclasses.fields(config):
            value = getattr(config, field.name)
            redacted = redact_data(value)
            if redacted is not value:
                setattr(config, field.name, redacted)
        original_aggregated(self, redact_data(results), samples)

    save_results_samples._orch_sidecar = True  # type: ignore[attr-defined]
    EvaluationTracker.save_results_samples = save_results_samples
    EvaluationTracker.save_results_aggregated = save_results_aggregated


# ---- reading back -------------------------------------------------------------------------


def read_decisions(path: str | Path) -> list[dict[str, Any]]:
    """Read a sidecar (or a directory of them): records with ``decision`` as a :class:`Decision`."""
    p = Path(path)
    files = sorted(p.rglob(f"{SIDECAR_PREFIX}*.jsonl")) if p.is_dir() else [p]
    out = []
    for file in files:
        with open(file, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    record["decision"] = Decision.model_validate(record["decision"])
                    out.append(record)
    return out


def outcomes(records: Iterable[Mapping[str, Any]], prefix: str = "") -> dict[str, dict[str, bool]]:
    """Per-item correctness of the systems one ORCH log contains, keyed by question id.

    Systems: ``orch`` (the final answer), ``majority`` (the agents' vote), ``oracle`` and each
    agent (``agent<slot>:<model>``). The result feeds
    ``orch_eval.stats.PairedOutcomes.from_dict``; ``prefix`` tells panels apart when several
    logs are combined. Items without a gold answer are left out.
    """
    systems: dict[str, dict[str, bool]] = {}
    for record in records:
        d = record["decision"]
        if not isinstance(d, Decision):
            d = Decision.model_validate(d)
        if d.correct is None:
            continue
        qid = record["question_id"]
        systems.setdefault(f"{prefix}orch", {})[qid] = bool(d.correct)
        systems.setdefault(f"{prefix}majority", {})[qid] = bool(d.majority_correct)
        systems.setdefault(f"{prefix}oracle", {})[qid] = bool(d.oracle)
        for a in d.agents:
            systems.setdefault(f"{prefix}agent{a.slot}:{a.model}", {})[qid] = bool(a.correct)
    return systems
