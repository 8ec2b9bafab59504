"""Write every rendering of a leaderboard into one folder."""

from __future__ import annotations

from pathlib import Path

from orch_eval.core.atomic import write_text_atomic
from orch_eval.stats.leaderboard._board import Standings
from orch_eval.stats.leaderboard._page import to_html
from orch_eval.stats.leaderboard._plot import plot_png
from orch_eval.stats.leaderboard._render import pairs_csv, to_csv, to_json, to_latex, to_markdown

__all__ = ["OUTPUT_FILES", "PLOT_FILE", "write_outputs"]

OUTPUT_FILES = (
    "index.html",
    "leaderboard.md",
    "leaderboard.csv",
    "pairs.csv",
    "leaderboard.json",
    "leaderboard.tex",
)
PLOT_FILE = "accuracy_vs_cost.png"


def write_outputs(st: Standings, directory: str | Path, title: str = "Leaderboard") -> dict[str, Path]:
    """``index.html`` (self-contained, the plot inline), ``leaderboard.md|csv|json|tex``,
    ``pairs.csv`` (every pairwise test) and ``accuracy_vs_cost.png`` (when some system has a
    cost, token count or latency). Returns file name -> path of what was written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_png(st)
    texts = {
        "index.html": to_html(st, png, title),
        "leaderboard.md": to_markdown(st, title),
        "leaderboard.csv": to_csv(st),
        "pairs.csv": pairs_csv(st),
        "leaderboard.json": to_json(st),
        "leaderboard.tex": to_latex(st),
    }
    written = {}
    for name, text in texts.items():  # names, notes and provenance come from logs: written redacted
        written[name] = write_text_atomic(out / name, text)
    stale = out / PLOT_FILE
    if png is not None:
        stale.write_bytes(png)
        written[PLOT_FILE] = stale
    elif stale.exists():
        stale.unlink()  # a plot from an earlier run would not match these tables
    return written
