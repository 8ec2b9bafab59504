"""Tasks this project adds beside the standard benchmarks (installed as ``orch_eval.tasks``).

- ``calibration``: the calibration splits of the standard inspect_evals tasks as ordinary
  Inspect tasks (``mmlu_validation``, ``mmlu_dev``, ``mmlu_pro_validation``, ``gsm8k_train``):
  the standard task with its dataset replaced by a split it does not evaluate, seeded
  shuffle, and the items whose ids also occur in the test split left out.
- ``experiment_items``: ``experiment_subset``, the items an experiment file chooses from a
  benchmark, as an ordinary task.
- ``lm_eval/``: lm-evaluation-harness task YAMLs (``--include_path tasks/lm_eval``): the
  calibration splits as lm-eval tasks.

Every module here is a plain Inspect task file: it runs as ``inspect eval
tasks/calibration.py@mmlu_validation`` from a checkout and imports as
``orch_eval.tasks.calibration`` when installed. A task of your own needs none of this; see
``docs/own-tasks.md``.
"""
