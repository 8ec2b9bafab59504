"""Model providers of our own: ``gguf/`` (local GGUF models) and ``orchfake/`` (deterministic fake)."""
