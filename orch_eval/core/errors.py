"""Errors meant for people: each names the field, file or item and says what to do."""

from __future__ import annotations


class OrchConfigError(ValueError):
    """Bad panel, preset or experiment configuration (raised before any model call)."""
