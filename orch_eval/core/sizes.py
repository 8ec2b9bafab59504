"""Rules for size-like arguments: item counts, concurrency, cost limits, levels.

One table of rules, used by the command line (:mod:`orch_eval.cli.argtypes`, through argparse) and
by the Python API (:func:`check_size`), so both refuse the same values in the same words, before
anything is loaded, planned or written: ``--items -3`` once planned every MMLU item, and
``--items 0`` ended in a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from orch_eval.core.errors import OrchConfigError

__all__ = ["SizeKind", "check_size", "parse_size", "size_problem"]

SizeKind = Literal[
    "positive_int", "non_negative_int", "positive_number", "non_negative_number", "probability"
]

N = TypeVar("N", int, float)


@dataclass(frozen=True)
class _Rule:
    integer: bool
    accept: Callable[[float], bool]
    wanted: str


_RULES: dict[str, _Rule] = {
    "positive_int": _Rule(True, lambda v: v >= 1, "a positive integer"),
    "non_negative_int": _Rule(True, lambda v: v >= 0, "an integer >= 0"),
    "positive_number": _Rule(False, lambda v: v > 0, "a positive number"),
    "non_negative_number": _Rule(False, lambda v: v >= 0, "a number >= 0"),
    "probability": _Rule(False, lambda v: 0 < v < 1, "a number strictly between 0 and 1"),
}


def size_problem(value: object, kind: SizeKind) -> str | None:
    """``"must be a positive integer, got -3"`` when ``value`` breaks the rule ``kind``, else None."""
    rule = _RULES[kind]
    number = isinstance(value, int if rule.integer else (int, float)) and not isinstance(value, bool)
    ok = number and not math.isnan(value) and rule.accept(value)  # type: ignore[arg-type]
    return None if ok else f"must be {rule.wanted}, got {value!r}"


def check_size(name: str, value: N | None, kind: SizeKind) -> N | None:
    """``value`` if it obeys ``kind`` (``None`` passes: "not set"); else an :class:`OrchConfigError`
    naming the argument, e.g. ``limit: must be a positive integer, got 0``."""
    if value is None:
        return None
    problem = size_problem(value, kind)
    if problem is not None:
        raise OrchConfigError(f"{name}: {problem}")
    return value


def parse_size(text: str, kind: SizeKind) -> int | float:
    """Parse command-line text by the rule ``kind``; a ``ValueError`` with the rule's words otherwise."""
    rule = _RULES[kind]
    raw = text.strip()
    value: int | float
    try:
        value = int(raw) if rule.integer else float(raw)
    except ValueError:
        raise ValueError(f"must be {rule.wanted}, got {text!r}") from None
    problem = size_problem(value, kind)
    if problem is not None:
        raise ValueError(f"must be {rule.wanted}, got {raw}")
    return value
