"""An independent re-statement of the orchfake rule, used to compute expected accuracies.

Deliberately written apart from orch_eval.models.fake: if the provider drifts from its
documented behaviour, tests comparing the two fail.
"""

from __future__ import annotations

import hashlib
from collections import Counter


def uniform(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def gold_agent_letter(stem: str, gold: str, n_options: int, p: float, seed: str, sample: int | None = None) -> str:
    """Letter given by orchfake/gold:p=P:seed=S on a choice question (``sample``: the call's seed
    when it samples at temperature > 0)."""
    letters = "ABCDEFGHIJ"[:n_options]
    key = (stem,) if sample is None else (stem, f"sample{sample}")
    if uniform(seed, "correct", *key) < p:
        return gold
    wrong = [x for x in letters if x != gold]
    return wrong[min(int(uniform(seed, "wrong", *key) * len(wrong)), len(wrong) - 1)]


def gold_agent_number(stem: str, gold: str, p: float, seed: str, sample: int | None = None) -> str:
    """Number given by orchfake/gold on a numeric question (integer golds)."""
    g = int(gold.replace(",", ""))
    key = (stem,) if sample is None else (stem, f"sample{sample}")
    if uniform(seed, "correct", *key) < p:
        return str(g)
    return str(g + 1 + min(int(uniform(seed, "wrong", *key) * 5), 4))


def vote(answers: list[str]) -> str:
    """Majority; ties go to the first answer in panel order."""
    counts = Counter(answers)
    top = max(counts.values())
    return next(a for a in answers if counts[a] == top)
