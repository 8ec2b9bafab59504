"""Reading YAML configuration files with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orch_eval.core.errors import OrchConfigError


def read_yaml(path: str | Path) -> Any:
    """The parsed content of a YAML file; invalid YAML raises :class:`OrchConfigError` naming
    the file and the position yaml reports."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as ex:
        raise OrchConfigError(f"{path}: invalid YAML: {ex}") from None
