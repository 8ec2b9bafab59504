"""Model errors redacted before Inspect records them.

When a provider call fails, Inspect writes the exception's text and traceback into the
sample's ``ModelEvent`` (``error``, ``traceback``, ``traceback_ansi``), into the retry
messages (``LoggerEvent``), into its trace files and, if the error ends the sample, into the
sample's ``EvalError`` -- all before the engine sees the exception. A provider that echoes a
header or a URL with a key would put the key in the ``.eval`` file. So the engine redacts the
exception at its source: :func:`redacting` wraps the ``generate`` of a model's provider
(``Model.api``, public), and every exception it raises -- or returns, as providers may -- is
redacted in place by :func:`orch_eval.core.redact.redact_exception` (same object, same type:
Inspect's retry rules, which look at the type and at attributes like ``status_code``, still
apply) before Inspect's own handler sees it.

The seam is an implementation detail of Inspect, checked against inspect_ai 0.3.285:
``Model.generate`` calls ``self.api.generate(...)`` through the instance, so an instance
attribute ``generate`` is what it calls. If a later Inspect stops doing so, redaction here
would stop silently; :func:`check_recorded` makes that loud: the engine passes every model
exception it catches to it, and an exception that still carries a secret (it did not go
through the wrapper) is reported as an error naming the variables, never their values.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from inspect_ai.model import Model, ModelAPI, ModelCall

from orch_eval._inspect_private import CHECKED_INSPECT_VERSION
from orch_eval.core.redact import contains_secret, redact_data, redact_exception

logger = logging.getLogger(__name__)

_MARK = "_orch_redacting"


def redacting(model: Model) -> Model:
    """``model`` with its provider's errors redacted before Inspect records them (idempotent;
    the model object itself is kept, so Inspect's per-model usage, caching and concurrency are
    unchanged)."""
    api = getattr(model, "api", None)
    if not isinstance(api, ModelAPI):
        raise RuntimeError(
            f"orch_eval: cannot redact errors of model {model}: inspect_ai's Model has no ModelAPI "
            f"`api` (checked against inspect_ai {CHECKED_INSPECT_VERSION}); secrets in provider "
            "errors would reach the log"
        )
    if getattr(api, _MARK, False):
        return model
    original = api.generate

    @functools.wraps(original)
    async def generate(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await original(*args, **kwargs)
        except Exception as ex:
            redact_exception(ex)
            raise
        # providers may also *return* an exception (with the call that failed)
        output, call = result if isinstance(result, tuple) else (result, None)
        if isinstance(output, Exception):
            redact_exception(output)
            if isinstance(call, ModelCall):
                call.request = redact_data(call.request)
                call.response = redact_data(call.response)
        return result

    api.generate = generate  # type: ignore[method-assign]
    setattr(api, _MARK, True)
    return model


def check_recorded(ex: BaseException) -> None:
    """Report loudly when a model exception reached the engine with a secret still in it: then
    Inspect has recorded it unredacted (see the module docstring)."""
    found = set(contains_secret(f"{ex!s} {ex!r}"))
    cause = ex.__cause__
    if cause is not None:
        found |= set(contains_secret(f"{cause!s} {cause!r}"))
    if found:
        logger.error(
            "orch_eval: a model error carrying the value of %s was not redacted before Inspect recorded "
            "it, so the log may contain it: the redaction seam (checked against inspect_ai %s) is not "
            "active for this model or this Inspect version",
            ", ".join(sorted(found)),
            CHECKED_INSPECT_VERSION,
        )
