"""``orch-lm-eval``: lm-eval's own command line, with ``--model orch`` registered.

Every flag is lm-eval's and is passed through unchanged, e.g.::

    orch-lm-eval --model orch --model_args panel=solvers/local.yaml \\
        --tasks mmlu_abstract_algebra,gsm8k --limit 10 --log_samples --output_path results/
"""

from __future__ import annotations


def main() -> None:
    """Run lm-eval's CLI; a bad ``orch`` configuration ends with one line on stderr and exit code 2."""
    import sys

    import lm_eval.models  # noqa: F401  built-in models stay registered

    import orch_eval.lm_eval  # noqa: F401  registers "orch", installs the Decision sidecar writer
    from lm_eval.__main__ import cli_evaluate

    from orch_eval.core.errors import OrchConfigError

    try:
        cli_evaluate()
    except OrchConfigError as ex:
        print(f"orch-lm-eval: {ex}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
