"""Keep secrets out of logs and reports.

Error messages from providers can carry credentials (a header echoed in an exception, a URL
with a token). Everything the engine records from an error passes through :func:`redact`,
which replaces the value of every secret-looking environment variable (names containing KEY,
TOKEN, SECRET, PASSWORD or CREDENTIAL, values of at least 8 characters) with a marker.
"""

from __future__ import annotations

import os
import re
from typing import Any

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.I)
_MIN_LEN = 8


def secret_values() -> dict[str, str]:
    """Secret-looking environment variables (name → value), read at call time."""
    return {k: v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_LEN}


def redact(text: str | None) -> str | None:
    """``text`` with every secret environment value replaced by ``[REDACTED:NAME]``."""
    if not text:
        return text
    for name, value in sorted(secret_values().items(), key=lambda kv: -len(kv[1])):
        if value in text:
            text = text.replace(value, f"[REDACTED:{name}]")
    return text


def redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Model arguments with secret-named keys masked (for logs of panel settings)."""
    return {k: ("[REDACTED]" if _SECRET_NAME.search(k) else v) for k, v in args.items()}
