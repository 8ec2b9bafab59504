"""Markdown tables for the reports (``compare``'s, the analysis, the leaderboard): one writer, so
every table escapes its cells the same way."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["md_cell", "md_table"]


def md_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell: ``|`` escaped, line breaks as spaces."""
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table's lines: the header, the ``---`` rule and one line per row."""
    out = ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(md_cell(c) for c in r) + " |" for r in rows]
    return out
