"""ORCH for lm-evaluation-harness: ``--model orch``.

Importing this package registers the ``orch`` model in lm-eval's model registry (lm-eval 0.4
has no plugin entry point for models) and installs the Decision sidecar writer. From Python::

    import lm_eval
    import orch_eval.lm_eval  # registers --model orch

    lm_eval.simple_evaluate(model="orch", model_args="panel=solvers/local.yaml", tasks=["gsm8k"])

From the shell, ``orch-lm-eval`` is lm-eval's own CLI with ``orch`` registered. See
``docs/lm-eval.md``.
"""

import lm_eval.models  # noqa: F401  (built-in models first, so they stay available)

from orch_eval.lm_eval import sidecar
from orch_eval.lm_eval.model import OrchLM
from orch_eval.lm_eval.sidecar import outcomes, read_decisions

sidecar.install_tracker_hook()

__all__ = ["OrchLM", "outcomes", "read_decisions"]
