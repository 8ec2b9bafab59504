"""Keep secrets out of logs and reports.

The promise: no value of a secret-looking environment variable appears in any file an
``orch_eval`` run writes (Inspect logs and traces, lm-eval samples and results, Decision
sidecars, router state, reports). A variable looks secret when its name contains KEY, TOKEN,
SECRET, PASSWORD, PASSWD, CREDENTIAL or AUTH (any case) and its value has at least 8
characters; every occurrence of such a value is replaced by ``[REDACTED:NAME]``.

This module is the single redaction function of the project: :func:`redact` for text,
:func:`redact_data` for JSON-like data (redacted before it is serialised, so escaping cannot
hide a value), :func:`redact_exception` for an exception about to be recorded. Where each is
applied is listed in the README ("Secrets").
"""

from __future__ import annotations

import os
import re
from typing import Any, TypeVar, overload

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
_MIN_LEN = 8

T = TypeVar("T")


def secret_values() -> dict[str, str]:
    """Secret-looking environment variables (name → value), read at call time."""
    return {k: v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_LEN}


def _ordered() -> list[tuple[str, str]]:
    # longest values first, so a value that contains another is replaced whole
    return sorted(secret_values().items(), key=lambda kv: -len(kv[1]))


def _replace(text: str, secrets: list[tuple[str, str]]) -> str:
    for name, value in secrets:
        if value in text:
            text = text.replace(value, f"[REDACTED:{name}]")
    return text


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: None) -> None: ...
def redact(text: str | None) -> str | None:
    """``text`` with every secret environment value replaced by ``[REDACTED:NAME]``."""
    if not text:
        return text
    return _replace(text, _ordered())


def contains_secret(text: str | None) -> list[str]:
    """Names of the secret environment variables whose values occur in ``text``."""
    if not text:
        return []
    return [name for name, value in _ordered() if value in text]


def redact_data(obj: T) -> T:
    """JSON-like data (str, dict, list, tuple, nested) with every secret value redacted.

    Strings are redacted wherever they are, dictionary keys included; other objects pass
    through unchanged. Containers that hold no secret are returned as they are (not copied),
    so the common case costs one scan and no allocation."""
    secrets = _ordered()
    if not secrets:
        return obj
    return _walk(obj, secrets)


def _walk(obj: Any, secrets: list[tuple[str, str]]) -> Any:
    if isinstance(obj, str):
        return _replace(obj, secrets)
    if isinstance(obj, dict):
        items = [(_walk(k, secrets), _walk(v, secrets)) for k, v in obj.items()]
        if all(k2 is k and v2 is v for (k2, v2), (k, v) in zip(items, obj.items(), strict=True)):
            return obj
        return dict(items)
    if isinstance(obj, (list, tuple)):
        values = [_walk(v, secrets) for v in obj]
        if all(v2 is v for v2, v in zip(values, obj, strict=True)):
            return obj
        if isinstance(obj, list):
            return values
        return type(obj)(*values) if hasattr(obj, "_fields") else tuple(values)
    return obj


_EXCEPTION_TEXT_FIELDS = ("strerror", "filename", "filename2", "reason")


def redact_exception(ex: BaseException) -> BaseException:
    """Redact ``ex`` in place and return it: same object, same type (so retry rules that look
    at the type or at attributes such as ``status_code`` still work).

    Redacted: ``args``, the string and JSON-like attributes (``message``, ``body``, ...),
    ``__notes__``, and the same for every exception in its ``__cause__`` / ``__context__``
    chain and in exception groups. If ``str()`` or ``repr()`` of an exception still shows a
    secret afterwards (a ``__str__`` computed from other state), its class is replaced by a
    subclass of the same name whose ``str``/``repr`` are the redacted texts."""
    secrets = _ordered()
    if not secrets:
        return ex
    seen: set[int] = set()
    stack: list[BaseException | None] = [ex]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        _redact_one(e, secrets)
        stack.extend([e.__cause__, e.__context__, *getattr(e, "exceptions", ())])
    return ex


def _redact_one(e: BaseException, secrets: list[tuple[str, str]]) -> None:
    try:
        e.args = tuple(_walk(a, secrets) for a in e.args)
    except Exception:  # pragma: no cover - args is writable on every BaseException
        pass
    attrs = dict(getattr(e, "__dict__", {}))
    for name in _EXCEPTION_TEXT_FIELDS:
        if hasattr(e, name) and name not in attrs:
            attrs[name] = getattr(e, name)
    for name, value in attrs.items():
        if isinstance(value, (str, dict, list, tuple)):
            new = _walk(value, secrets)
            if new is not value:
                try:
                    setattr(e, name, new)
                except Exception:  # read-only attribute: the str/repr check below still applies
                    pass
    text, shown = _safe_text(e)
    if contains_secret(text) or contains_secret(shown):
        _mask_text(e, _replace(text, secrets), _replace(shown, secrets))


def _safe_text(e: BaseException) -> tuple[str, str]:
    try:
        return str(e), repr(e)
    except Exception:  # pragma: no cover - a broken __str__
        return "", ""


_masked_classes: dict[type, type] = {}


def _mask_text(e: BaseException, text: str, shown: str) -> None:
    """Give ``e`` a same-named subclass of its class whose str/repr are fixed redacted texts."""
    cls = type(e)
    sub = _masked_classes.get(cls)
    if sub is None:
        sub = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__str__": lambda self: self.__dict__.get("_orch_redacted_str", ""),
                "__repr__": lambda self: self.__dict__.get("_orch_redacted_repr", ""),
            },
        )
        _masked_classes[cls] = sub
    try:
        e.__class__ = sub
        e.__dict__["_orch_redacted_str"] = text
        e.__dict__["_orch_redacted_repr"] = shown
    except (TypeError, AttributeError):
        # a built-in exception type whose text does not come from args (rare); the caller's
        # check (orch_eval.core.model_errors) reports it loudly
        pass


def redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Model arguments with secret-named keys masked (for logs of panel settings)."""
    return {k: ("[REDACTED]" if _SECRET_NAME.search(k) else v) for k, v in args.items()}
