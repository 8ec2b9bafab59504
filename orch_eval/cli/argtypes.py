"""argparse ``type=`` functions for the size-like options of every ``orch-eval`` command.

With them argparse itself refuses a bad value, before any module loads or any file is written::

    orch-eval demo: error: argument --items: must be a positive integer, got -3

The rules are :mod:`orch_eval.core.sizes`, which the Python API checks with the same words.
"""

from __future__ import annotations

import argparse

from orch_eval.core.sizes import SizeKind, parse_size

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "positive_int", "probability"]


def _parse(text: str, kind: SizeKind) -> int | float:
    try:
        return parse_size(text, kind)
    except ValueError as ex:
        raise argparse.ArgumentTypeError(str(ex)) from None


def positive_int(text: str) -> int:
    """An integer >= 1 (item counts, concurrency)."""
    return int(_parse(text, "positive_int"))


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts where 0 means "off", e.g. bootstrap resamples)."""
    return int(_parse(text, "non_negative_int"))


def positive_float(text: str) -> float:
    """A number > 0 (cost limits)."""
    return float(_parse(text, "positive_number"))


def non_negative_float(text: str) -> float:
    """A number >= 0 (sampling temperatures)."""
    return float(_parse(text, "non_negative_number"))


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (significance levels)."""
    return float(_parse(text, "probability"))
