"""Reading flags given as text (``-S cache=false``, ``--model_args progress=no``, ``-M verbose=1``).

One rule everywhere: ``true``/``yes``/``on``/``1`` and ``false``/``no``/``off``/``0``/``none``
(any case), or a real bool; anything else is an error naming the argument.
"""

from __future__ import annotations

from typing import Any

from orch_eval.core.errors import OrchConfigError

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "none"})


def as_bool(value: Any, name: str = "value") -> bool:
    """``value`` as a bool (see the module docstring); :class:`OrchConfigError` naming ``name``
    for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise OrchConfigError(f"{name}={value!r}: expected true or false")
