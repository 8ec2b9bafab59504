"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The text goes to a temporary file in the destination's own folder (so the final rename never
crosses a file system), is flushed and fsync'ed, then ``os.replace``-d over the destination;
the folder is fsync'ed too where the platform allows, so the rename itself survives a crash.

Every file orch_eval writes this way is redacted on the way out (``orch_eval.core.redact``):
no value of a secret-looking environment variable reaches the disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from orch_eval.core.redact import redact, redact_data


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically, secrets redacted; returns the path."""
    text = redact(text) or ""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=str(dest.parent))
    try:
        with os.fdopen(fd, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable (not supported on every platform)
        dir_fd = os.open(str(dest.parent), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return dest


def write_json_atomic(path: str | os.PathLike[str], obj: Any, indent: int | None = 1) -> Path:
    """Serialise ``obj`` as JSON (keys sorted, so the bytes are reproducible; secrets redacted before
    serialising) and write atomically."""
    text = json.dumps(redact_data(obj), indent=indent, sort_keys=True, allow_nan=False)
    return write_text_atomic(path, text + "\n")
