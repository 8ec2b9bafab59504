"""Inspect AI entry point: importing this module registers orch_eval's solvers and providers.

Kept light on purpose: a failed import here only shows up later as "solver not found".
Heavy dependencies (llama runtime, statsmodels, lm-eval) are imported inside functions.
"""

# ruff: noqa: F401
from orch_eval.inspect.hooks import FaultSummaryHook
from orch_eval.inspect.provider import orch_provider
from orch_eval.inspect.solvers import (
    debate,
    direct,
    majority_vote,
    moa,
    orch,
    self_consistency,
    self_moa,
    single,
)
from orch_eval.models.fake import orchfake
from orch_eval.tasks.calibration import gsm8k_train, mmlu_dev, mmlu_pro_validation, mmlu_validation

try:  # the local GGUF provider (its runtime is an optional extra, imported lazily)
    from orch_eval.models.gguf import gguf
except ImportError:  # pragma: no cover - module not present
    pass
