"""The leaderboard page in a real browser: Debian's headless Chromium loads ``index.html`` from a
file, and its DOM, a screenshot and a printout are checked.

In CI (``$CI`` set) a missing Chromium fails the test: ``.ci/run`` installs it. Only outside CI
is the test skipped without it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from orch_eval.stats.leaderboard import (
    HEADER_COLOUR,
    BenchmarkInput,
    Leaderboard,
    SystemDetails,
    write_outputs,
)
from orch_eval.stats.outcomes import PairedOutcomes

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed, and CI must run the browser test: .ci/run installs it "
                    "(apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")


def run_chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        check=False, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


class _Rows(HTMLParser):
    """``tr.system-row`` of a page: (table, system) -> {cell class: text}; ``count`` counts rows."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[tuple[str, str], dict[str, str]] = {}
        self.count = 0
        self._row: dict[str, str] | None = None
        self._cell: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("class") == "system-row":
            self.count += 1
            self._row = self.rows.setdefault((str(a["data-table"]), str(a["data-system"])), {})
        elif tag == "td" and self._row is not None:
            self._cell = str(a.get("class"))
            self._row[self._cell] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and self._cell is not None:
            self._row[self._cell] += data


def page_rows(html_text: str) -> tuple[dict[tuple[str, str], dict[str, str]], int]:
    """The system rows of a page and how many ``tr.system-row`` it has."""
    parser = _Rows()
    parser.feed(html_text)
    return parser.rows, parser.count


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two benchmarks, nine systems in three tiers, one system missing a benchmark, costs per item;
    a system name with markup in it (it must be escaped)."""
    rng = np.random.default_rng(4)
    accs = [0.85, 0.84, 0.83, 0.65, 0.64, 0.63, 0.45, 0.44, 0.43]
    names = [f"model-{k}" for k in range(8)] + ["<b>odd & name</b>"]
    inputs = []
    for bench, n in (("mmlu", 1500), ("gsm8k", 1200)):
        correct = {}
        for name, p in zip(names, accs):
            if bench == "gsm8k" and name == "model-4":
                continue
            v = np.zeros(n, dtype=bool)
            v[rng.permutation(n)[: round(p * n)]] = True
            correct[name] = dict(enumerate(v))
        details = {s: SystemDetails(cost_per_item=1e-4 * (1 + k), latency_per_item=0.3, input_tokens_per_item=500.0,
                                    output_tokens_per_item=80.0, calls_per_item=1.0, abstain_rate=0.01)
                   for k, s in enumerate(correct)}
        inputs.append(BenchmarkInput(bench, PairedOutcomes.from_dict(correct), details))
    out = tmp_path_factory.mktemp("page")
    write_outputs(Leaderboard.build(inputs).standings(0.05), out)
    return out


def test_dom_has_one_row_per_system_with_interval_and_letters(board: Path, tmp_path: Path) -> None:
    dom = run_chromium(tmp_path, "--dump-dom", (board / "index.html").as_uri()).stdout
    assert "<table" in dom
    rows, count = page_rows(dom)
    data = json.loads((board / "leaderboard.json").read_text())
    tables = [data["overall"], *data["benchmarks"]]
    assert count == len(rows) == sum(len(t["rows"]) for t in tables) == 8 + 9 + 8
    for t in tables:
        for r in t["rows"]:
            cells = rows[(t["key"], r["system"])]
            assert cells["rank-interval"] == f"[{r['rank_low']}, {r['rank_high']}]"
            assert cells["letters"] == r["letters"]
            assert cells["system"] == r["system"]  # escaped in the file, the same text in the browser
    mmlu = {s: c for (t, s), c in rows.items() if t == "mmlu"}
    assert [mmlu[f"model-{k}"]["letters"] for k in range(3)] == ["a", "a", "a"]
    assert mmlu["<b>odd & name</b>"]["rank-interval"] == "[7, 9]"
    assert "<b>odd" not in dom  # never parsed as markup
    assert "model-4" in dom and "not on gsm8k" in dom


def test_screenshot_renders_the_table(board: Path, tmp_path: Path) -> None:
    import matplotlib.image

    shot = tmp_path / "page.png"
    run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars",
                 (board / "index.html").as_uri())
    img = matplotlib.image.imread(shot)[..., :3]
    assert img.shape[:2] == (1600, 1280)
    background = np.all(img > 0.97, axis=-1)
    assert 0.05 < 1 - background.mean() < 0.9, "the page is blank (or all ink)"
    head = np.array([int(HEADER_COLOUR[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    header = np.all(np.abs(img - head) < 0.03, axis=-1)
    upper = header[: img.shape[0] // 2]
    assert upper.sum() > 5000, "no table header in the upper half of the page"
    assert header.any(axis=1)[: img.shape[0] // 2].sum() >= 20  # a header band of at least 20 pixel rows


def test_page_prints(board: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "page.pdf"
    run_chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", (board / "index.html").as_uri())
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 20_000


def test_columns_sort_on_click(board: Path, tmp_path: Path) -> None:
    # the page's own script, driven by a click on the mmlu table's "Accuracy %" header (ascending)
    page = (board / "index.html").read_text()
    click = ("<script>var th = Array.from(document.querySelectorAll('#t-mmlu table.board th'))"
             ".find(function (h) { return h.textContent === 'Accuracy %'; }); th.click();</script>")
    clicked = tmp_path / "clicked.html"
    clicked.write_text(page.replace("</body>", click + "</body>"))
    dom = run_chromium(tmp_path, "--dump-dom", clicked.as_uri()).stdout
    section = dom.split('id="t-mmlu"', 1)[1].split("</table>", 1)[0]
    order = [part.split('"', 1)[0] for part in section.split('data-system="')[1:]]
    assert order == ["&lt;b&gt;odd &amp; name&lt;/b&gt;", *[f"model-{k}" for k in range(7, -1, -1)]]
    assert 'aria-sort="ascending"' in section
