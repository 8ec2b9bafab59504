"""Router state files and provenance: what a state was learned on, the leakage rule that refuses a
state learned on the evaluated items, and reading a state file back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orch_eval.core.errors import OrchConfigError

STATE_FORMAT = "orch-eval/router-state"
STATE_FORMAT_VERSION = 1


class RouterLeakageError(OrchConfigError):
    """A router state learned on the items being evaluated (refused unless forced)."""


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
                f"it was learned on task {e_task} split {e_split or '(eval split)'}, the task and split "
                "being evaluated"
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


def utc_now() -> str:
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
        raise OrchConfigError(
            f"router state {p} has format_version {data.get('format_version')}, expected "
            f"{STATE_FORMAT_VERSION}"
        )
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
