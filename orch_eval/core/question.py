"""The harness-neutral question that the engine answers."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

LETTERS = "ABCDEFGHIJ"
"""Option letters: MMLU uses A-D, MMLU-Pro up to J."""


class AnswerKind(str, Enum):
    """What kind of answer a question takes."""

    choice = "choice"
    """One of 2-10 lettered options."""
    numeric = "numeric"
    """A number (GSM8K style)."""


class Question(BaseModel):
    """One discrete-choice or numeric question, as adapters hand it to the engine.

    ``gold`` is used only for bookkeeping (oracle, correctness, router feedback); it never
    reaches a prompt.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    stem: str
    options: list[str] | None = None
    kind: AnswerKind = AnswerKind.choice
    domain: str | None = None
    gold: str | None = None
    options_in_stem: bool = False
    """True when the stem already lists the options (a harness-rendered prompt, as the
    ``orch/`` model provider receives it): prompts then do not list them again."""

    @model_validator(mode="after")
    def _check(self) -> Question:
        if self.kind == AnswerKind.choice:
            if self.options is None or not (2 <= len(self.options) <= len(LETTERS)):
                n = 0 if self.options is None else len(self.options)
                raise ValueError(
                    f"question {self.id!r}: a choice question needs 2-{len(LETTERS)} options, got {n}"
                )
            if self.gold is not None and self.gold not in self.letters:
                raise ValueError(
                    f"question {self.id!r}: gold {self.gold!r} is not one of the option letters "
                    f"{self.letters}"
                )
        elif self.options:
            raise ValueError(f"question {self.id!r}: a numeric question takes no options")
        return self

    @property
    def letters(self) -> str:
        """The option letters of this question ("ABCD" for four options)."""
        return LETTERS[: len(self.options or [])]

    def is_correct(self, answer: str | None) -> bool | None:
        """Whether ``answer`` equals the gold answer; None when gold is unknown."""
        if self.gold is None:
            return None
        if answer is None:
            return False
        if self.kind == AnswerKind.numeric:
            from orch_eval.core.parse import numbers_equal

            return numbers_equal(answer, self.gold)
        return answer == self.gold


DOMAIN_KEYS = ("subject", "category", "domain")
"""The sample metadata keys that name an item's domain, first present wins: MMLU's ``subject``,
MMLU-Pro's ``category``, a user's own ``domain``. The router keeps its statistics per domain and
the reports cluster their standard errors by it, so both read the same keys."""


def domain_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The item's domain from its metadata (:data:`DOMAIN_KEYS`), ``None`` when it names none."""
    for key in DOMAIN_KEYS:
        value = (metadata or {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None
