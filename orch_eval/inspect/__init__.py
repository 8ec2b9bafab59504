"""Inspect AI front door: solvers (``orch_eval/orch`` ...) and the ``orch/`` model provider."""
