"""Every private inspect_ai API orch_eval uses, in one place, checked against one version.

Inspect's public API covers almost everything orch_eval needs; these few things it does not:

- :func:`sample_active`: the running sample (its id, input, target, eval id) from inside a model
  call -- the ``orch/`` provider reads the item's choices and gold from it, the fake provider its
  answer key, the router the eval it belongs to;
- :func:`get_eval_state`: the running eval's sample ids in dataset order and its epochs, which the
  prequential router numbers items by (``docs/router.md``);
- :class:`PrerequisiteError`: an error the ``inspect`` CLI prints as one line, without a traceback
  (bad configuration found before an eval starts);
- :func:`registry_find` / :func:`registry_unqualified_name` / :class:`RegistryInfo`: the lookup
  ``get_model`` does, so a panel's model providers are checked before any client is created.

(The seam that redacts provider errors before Inspect records them is described, with the same
version, in :mod:`orch_eval.core.model_errors`.) If a newer inspect_ai moves one of these, the
import fails here, loudly, naming this module; the pinned version in pyproject.toml is the one
checked.
"""

from __future__ import annotations

import logging
from typing import Any

import inspect_ai

logger = logging.getLogger(__name__)

CHECKED_INSPECT_VERSION = "0.3.285"
"""The inspect_ai release these private APIs were checked against (pinned in pyproject.toml)."""

if getattr(inspect_ai, "__version__", CHECKED_INSPECT_VERSION) != CHECKED_INSPECT_VERSION:  # pragma: no cover
    logger.warning(
        "orch_eval was checked against inspect_ai %s, found %s: see orch_eval/_inspect_private.py",
        CHECKED_INSPECT_VERSION,
        getattr(inspect_ai, "__version__", "?"),
    )

try:
    from inspect_ai._util.error import PrerequisiteError
    from inspect_ai._util.registry import RegistryInfo, registry_find, registry_unqualified_name
    from inspect_ai.log._samples import sample_active
except ImportError as ex:  # pragma: no cover - another inspect_ai version
    raise ImportError(
        f"orch_eval needs inspect_ai {CHECKED_INSPECT_VERSION} (a private API it uses moved: {ex}); "
        "install the pinned version: pip install 'inspect-ai==" + CHECKED_INSPECT_VERSION + "'"
    ) from ex


def get_eval_state(eval_id: str) -> Any | None:
    """The running eval's state (``sample_ids``, ``epochs``, ``task_id``, ``live``), or None when
    this inspect_ai has no such registry."""
    try:
        from inspect_ai._control.eval_state import get_eval_state as _get
    except ImportError:  # pragma: no cover - another inspect_ai version
        return None
    return _get(eval_id)


__all__ = [
    "CHECKED_INSPECT_VERSION",
    "PrerequisiteError",
    "RegistryInfo",
    "get_eval_state",
    "registry_find",
    "registry_unqualified_name",
    "sample_active",
]
