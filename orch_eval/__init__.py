"""orch_eval: ORCH ("many analyses, one merge") for Inspect AI and lm-evaluation-harness.

The core (``orch_eval.core``) is harness-free: it turns a :class:`Question` into a
:class:`Decision` by asking a panel of models for structured analyses in parallel and
letting a merger choose, with deterministic fallbacks. Adapters in ``orch_eval.inspect``
and ``orch_eval.lm_eval`` connect it to the two harnesses.
"""

__version__ = "0.1.0"
