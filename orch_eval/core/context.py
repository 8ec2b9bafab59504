"""The question being decided, visible to code running inside an engine call.

The engine sets :data:`current_question` around every model call it makes for an item, so
that providers which need item identity (the deterministic fake provider, call logging) can
read it without the item ever entering a prompt. Real providers ignore it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orch_eval.core.question import Question

current_question: ContextVar[Question | None] = ContextVar("orch_current_question", default=None)
