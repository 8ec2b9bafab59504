"""Experiment files (YAML) for ``orch-eval run``, installed as the package data of
``orch_eval.presets.experiments`` (``orch-eval run local`` finds ``local.yaml`` here after
``./experiments``)."""
