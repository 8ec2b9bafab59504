"""``process_docs`` of the calibration-split tasks in this folder: leave out the documents whose
question also occurs in the benchmark's test split (MMLU repeats some test questions in its
validation and dev splits), as the Inspect calibration tasks do (``tasks/calibration.py``).

lm-eval loads this file by path from the task YAMLs (``!function utils.<name>``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import datasets


def _mmlu_key(doc: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    return doc["question"], tuple(doc["choices"])


@cache
def _mmlu_test() -> frozenset[tuple[str, tuple[str, ...]]]:
    return frozenset(_mmlu_key(d) for d in datasets.load_dataset("cais/mmlu", "all", split="test"))


@cache
def _gsm8k_test() -> frozenset[str]:
    return frozenset(datasets.load_dataset("openai/gsm8k", "main", split="test")["question"])


def drop_mmlu_test_repeats(dataset: datasets.Dataset) -> datasets.Dataset:
    """MMLU documents whose question and choices are not those of a test-split document."""
    test = _mmlu_test()
    return dataset.filter(lambda d: _mmlu_key(d) not in test)


def drop_gsm8k_test_repeats(dataset: datasets.Dataset) -> datasets.Dataset:
    """GSM8K documents whose question is not a test-split question."""
    test = _gsm8k_test()
    return dataset.filter(lambda d: d["question"] not in test)
