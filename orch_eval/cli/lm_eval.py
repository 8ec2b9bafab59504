"""``orch-lm-eval``: lm-eval's own command line, with ``--model orch`` registered.

Every flag is lm-eval's and is passed through unchanged, e.g.::

    orch-lm-eval --model orch --model_args panel=solvers/local.yaml \\
        --tasks mmlu_abstract_algebra,gsm8k --limit 10 --log_samples --output_path results/

One addition: lm-eval names the output subfolder after a ``pretrained=`` (or ``model=``...) model
argument, and without one after a "random" id drawn from its fixed seed -- the same opaque name for
every panel. For ``--model orch`` this command adds ``pretrained=orch-<panel name>-<digest>`` (the
system's digest: panel, method and its parameters), so each system writes to its own, readable
folder; ``orch`` ignores the argument itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

_NAME_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")
"""The model_args keys lm-eval names its output folder after (EvaluationTracker._get_model_name)."""


def _flag_value(argv: Sequence[str], flag: str) -> tuple[int, str] | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith(flag + "="):
            return i, arg.split("=", 1)[1]
    return None


def folder_name(model_args: str) -> str | None:
    """``orch-<panel name>-<system digest>`` for an ``orch`` model_args string (None when it does
    not describe a valid panel: lm-eval then reports the problem itself)."""
    from lm_eval.utils import simple_parse_args_string

    from orch_eval.lm_eval.model import OrchLM

    try:
        lm = OrchLM.create_from_arg_obj({**simple_parse_args_string(model_args), "progress": False})
    except Exception:  # noqa: BLE001 - the model's own error is reported when lm-eval builds it
        return None
    name = lm.panel.name or "panel"
    return f"orch-{name}-{lm.digest}"


def with_folder_name(argv: list[str]) -> list[str]:
    """``argv`` with ``pretrained=orch-<name>-<digest>`` added to ``--model orch``'s model_args
    (unless they already name a folder)."""
    model = _flag_value(argv, "--model")
    if model is None or model[1] != "orch":
        return argv
    found = _flag_value(argv, "--model_args")
    args = found[1] if found else ""
    keys = {part.split("=", 1)[0].strip() for part in args.split(",") if "=" in part}
    if keys & set(_NAME_KEYS):
        return argv
    name = folder_name(args)
    if name is None:
        return argv
    value = f"{args},pretrained={name}" if args else f"pretrained={name}"
    out = list(argv)
    if found is None:
        out += ["--model_args", value]
    elif out[found[0]].startswith("--model_args="):
        out[found[0]] = f"--model_args={value}"
    else:
        out[found[0]] = value
    return out


def main() -> None:
    import lm_eval.models  # noqa: F401  built-in models stay registered
    from lm_eval.__main__ import cli_evaluate

    import orch_eval.lm_eval  # noqa: F401  registers "orch", installs the Decision sidecar writer
    from orch_eval.core.errors import OrchConfigError

    sys.argv = [sys.argv[0], *with_folder_name(sys.argv[1:])]
    try:
        cli_evaluate()
    except OrchConfigError as ex:  # a bad orch configuration: one line, exit code 2
        print(f"orch-lm-eval: {ex}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
