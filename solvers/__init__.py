"""Panel presets (YAML), installed as the package data of ``orch_eval.presets``.

``load_panel("local")`` finds ``local.yaml`` here (after ``$ORCH_EVAL_PRESETS`` and ``./solvers``),
in a source checkout and in an installed wheel alike; ``orch-eval panel show NAME`` prints one.
"""
