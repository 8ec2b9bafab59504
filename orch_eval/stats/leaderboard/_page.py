"""The leaderboard as one self-contained static HTML page.

Inline CSS (with print rules), the plot inline as a base64 PNG, and a small inline script that
makes the columns sortable; no network access, no external fonts or scripts. Every text that
comes from logs is escaped. Each system row is ``<tr class="system-row" data-system=...>`` with
cells ``td.rank-interval`` and ``td.letters``, so the page can be checked by a browser.
"""

from __future__ import annotations

import base64
import html
import re

from orch_eval.stats.leaderboard._board import Standings, Table
from orch_eval.stats.leaderboard._render import (
    PROVENANCE_HEADER,
    columns_for,
    fmt_p,
    oracle_text,
    pct,
    provenance_rows,
    table_intro,
    unresolved_line,
)

__all__ = ["HEADER_COLOUR", "to_html"]

HEADER_COLOUR = "#1f4e79"
"""Background of table headers (the browser test looks for it in a screenshot)."""

_CSS = """
:root { --head: %(head)s; --line: #d0d7de; --muted: #57606a; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       margin: 1.5rem auto; max-width: 80rem; padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; margin-top: 2rem; border-bottom: 2px solid var(--head); padding-bottom: .2rem; }
p.lead, p.intro, .muted { color: var(--muted); }
nav a { margin-right: .8rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .3rem .55rem; text-align: right; white-space: nowrap; }
th { background: var(--head); color: #fff; font-weight: 600; }
table.board th { cursor: pointer; user-select: none; }
table.board th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: .7em; }
table.board th[aria-sort="descending"]::after { content: " \\25BC"; font-size: .7em; }
td.system, th.system, td.text { text-align: left; white-space: normal; }
td.system { min-width: 12rem; max-width: 26rem; overflow-wrap: anywhere; }
td.letters { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; text-align: left; }
td.rank-interval { font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: var(--band); }
ul.unresolved li, ul.notes li { margin: .15rem 0; }
figure { margin: 1rem 0; }
figure img { max-width: 100%%; height: auto; border: 1px solid var(--line); }
.method li { margin: .3rem 0; }
code { background: var(--band); padding: 0 .2rem; }
@media print {
  body { max-width: none; margin: 0; font-size: 10pt; }
  nav, .hint { display: none; }
  .scroll { overflow: visible; }
  table { font-size: 8pt; page-break-inside: auto; }
  tr { page-break-inside: avoid; }
  th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section { page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""

_SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-sort');
    if (v === null || v === '') return null;
    var n = Number(v);
    return isNaN(n) ? v : n;
  }
  document.querySelectorAll('table.board').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        table.querySelectorAll('thead th').forEach(function (o) { o.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === y) return 0;
          if (x === null) return 1;
          if (y === null) return -1;
          return (x < y ? -1 : 1) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def anchor(key: str) -> str:
    """An id for a table's section (letters, digits and dashes)."""
    return "t-" + re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").lower()


def _table_html(t: Table) -> list[str]:
    cols = columns_for(t)
    out = [
        f'<section id="{anchor(t.key)}">',
        f"<h2>{_e(t.title)}</h2>",
        f'<p class="intro">{_e(table_intro(t))}</p>',
    ]
    if t.rows:
        out.append('<div class="scroll"><table class="board">')
        out.append(
            "<thead><tr>"
            + "".join(
                f'<th class="{_e(c.key if c.key in ("system",) else "num")}" scope="col"'
                + (f' title="{_e(c.title)}"' if c.title else "")
                + f">{_e(c.header)}</th>"
                for c in cols
            )
            + "</tr></thead>"
        )
        out.append("<tbody>")
        for r in t.rows:
            cells = []
            for c in cols:
                v = c.sort(r)
                klass = {"rank_interval": "rank-interval", "system": "system", "letters": "letters"}.get(
                    c.key, c.key
                )
                sort = "" if v is None else _e(v)
                cells.append(f'<td class="{_e(klass)}" data-sort="{sort}">{_e(c.text(r))}</td>')
            out.append(
                f'<tr class="system-row" data-system="{_e(r.system)}" data-table="{_e(t.key)}">'
                + "".join(cells)
                + "</tr>"
            )
        out.append("</tbody></table></div>")
    un = t.unresolved_adjacent
    adj = t.adjacent
    if not adj:
        out.append(f"<p>{_e(unresolved_line(t))}</p>")
    else:
        out.append(
            f"<p><strong>{len(un)} of {len(adj)}</strong> adjacent pairs statistically unresolved"
            + (":" if un else ".")
            + "</p>"
        )
        if un:
            out.append(
                '<ul class="unresolved">'
                + "".join(
                    f"<li>{_e(p.a)} vs {_e(p.b)}: difference {_e(pct(p.diff))} points, Holm p = "
                    f"{_e(fmt_p(p.p_holm))}"
                    + (
                        f" (b = {p.b_count}, c = {p.c_count})"
                        if p.b_count is not None
                        else f" (z = {p.z:.2f})"
                    )
                    + "</li>"
                    for p in un
                )
                + "</ul>"
            )
    if t.unranked:
        out.append(
            '<p>Listed, not ranked overall (a system must have every benchmark):</p><ul class="notes">'
        )
        for u in t.unranked:
            accs = ", ".join(f"{b} {pct(a)} %" for b, a in u.per_benchmark)
            out.append(
                f'<li class="unranked" data-system="{_e(u.system)}">{_e(u.system)}: {_e(u.reason)}'
                f" ({_e(accs)})</li>"
            )
        out.append("</ul>")
    if t.oracles:
        out.append(
            "<p>Upper bound, not ranked (the oracle picks whichever agent was right after seeing the "
            'answer):</p><ul class="notes">'
            + "".join(f"<li>{_e(oracle_text(o, t.alpha))}</li>" for o in t.oracles)
            + "</ul>"
        )
    if t.notes:
        out.append('<ul class="notes muted">' + "".join(f"<li>{_e(n)}</li>" for n in t.notes) + "</ul>")
    out.append("</section>")
    return out


def to_html(st: Standings, plot_png: bytes | None = None, title: str = "Leaderboard") -> str:
    """The page (a complete HTML document as a string)."""
    tables = st.tables
    systems = {r.system for t in tables for r in t.rows}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS % {'head': HEADER_COLOUR}}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(title)}</h1>",
        (
            f'<p class="lead">{len(st.benchmarks)} benchmark(s), {len(systems)} systems; alpha = '
            f"{st.alpha:g}. Rank intervals are simultaneous {1 - st.alpha:.0%} intervals; systems sharing a "
            'letter are not significantly different. <span class="hint">Click a column header to '
            "sort.</span></p>"
        ),
        (
            "<nav>"
            + "".join(f'<a href="#{anchor(t.key)}">{_e(t.title)}</a>' for t in tables)
            + '<a href="#plot">Accuracy vs cost</a><a href="#method">Method</a><a '
            'href="#provenance">Provenance</a></nav>'
        ),
    ]
    for t in tables:
        parts += _table_html(t)
    if plot_png:
        data = base64.b64encode(plot_png).decode("ascii")
        parts += [
            '<section id="plot"><h2>Accuracy versus cost</h2><figure>',
            '<img alt="accuracy versus cost per item with the Pareto frontier" '
            f'src="data:image/png;base64,{data}">',
            (
                '<figcaption class="muted">Accuracy with its confidence interval against cost per item '
                "(tokens or latency per item when every cost is 0, as the axis says); the red line is the "
                "Pareto frontier.</figcaption>"
            ),
            "</figure></section>",
        ]
    else:
        parts.append(
            '<section id="plot"><h2>Accuracy versus cost</h2><p class="muted">No plot: no system has a '
            "cost, token count or latency per item in its logs.</p></section>"
        )
    parts += [
        '<section id="method"><h2>Method: how to read rank intervals and letters</h2><ul class="method">',
        *(f"<li>{_e(m)}</li>" for m in st.method),
        "</ul></section>",
    ]
    prov = provenance_rows(st)
    parts.append('<section id="provenance"><h2>Provenance</h2>')
    if prov:
        parts.append(
            '<div class="scroll"><table class="provenance"><thead><tr>'
            + "".join(f'<th scope="col">{_e(h)}</th>' for h in PROVENANCE_HEADER)
            + "</tr></thead><tbody>"
        )
        for row in prov:
            parts.append("<tr>" + "".join(f'<td class="text">{_e(c)}</td>' for c in row) + "</tr>")
        parts.append("</tbody></table></div>")
    else:
        parts.append('<p class="muted">No provenance recorded (outcomes given directly).</p>')
    parts.append("</section>")
    if st.notes:
        parts.append(
            '<section id="notes"><h2>Notes</h2><ul class="notes">'
            + "".join(f"<li>{_e(n)}</li>" for n in st.notes)
            + "</ul></section>"
        )
    parts += [f"<script>{_SCRIPT}</script>", "</body>", "</html>", ""]
    return "\n".join(parts)
