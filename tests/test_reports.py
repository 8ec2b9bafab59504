"""What a new user meets in reports (issue 18): compare groups folders by benchmark (Inspect and
lm-eval alike) and never pools them, the compact LaTeX table, the plots' axes, chance line and
clipped intervals, the names of systems, and the demo's closing commands working as printed.

Real Inspect and lm-eval runs with the deterministic fake provider, on real MMLU and GSM8K items.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from inspect_ai import eval as inspect_eval

from orch_eval.cli import main
from orch_eval.core.panel import Panel
from orch_eval.inspect.solvers import orch, single
from orch_eval.stats.analysis import Analysis, SystemCompute
from orch_eval.stats.outcomes import PairedOutcomes
from orch_eval.stats.report import compare
from orch_eval.stats.sources import load_benchmarks
from tests.conftest import ROOT, subprocess_env
from tests.test_stats_loaders import ORCH_LM_EVAL

AGENTS = "orchfake/gold:p=0.8:seed=r1,orchfake/gold:p=0.6:seed=r2,orchfake/gold:p=0.4:seed=r3"
N = 12


def _inspect(log_dir: Path, task: str, solver: Any) -> None:
    log = inspect_eval(task, model="none/none", solver=solver, limit=N, log_dir=str(log_dir), display="none")[0]
    assert log.status == "success", log.error


@pytest.fixture(scope="module")
def two_benchmarks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder, as a demo leaves it: ORCH and a single agent, on MMLU and on GSM8K."""
    root = tmp_path_factory.mktemp("two_benchmarks")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INSPECT_CACHE_DIR", str(root / "cache"))
        for task in ("inspect_evals/mmlu_0_shot", "inspect_evals/gsm8k"):
            _inspect(root / "logs" / "orch", task, orch(agents=AGENTS, merger="orchfake/vote"))
            _inspect(root / "logs" / "single", task, single(agents=AGENTS, agent=0))
    return root / "logs"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_on_a_folder_groups_by_benchmark(two_benchmarks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "compare", str(two_benchmarks), "--reference", "agent0", "--bootstrap", "0")
    assert code == 0, err
    assert "2 benchmarks, each compared on its own items" in out
    sections = re.split(r"^## ", out, flags=re.M)
    titles = [s.splitlines()[0] for s in sections[1:]]
    assert titles == ["mmlu_0_shot", "gsm8k"]
    for section in sections[1:]:
        assert f"{N} paired items" in section  # never pooled: each benchmark on its own N items
    code, out, err = _run(capsys, "compare", str(two_benchmarks), "--reference", "agent0", "--bootstrap", "0",
                          "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report["benchmarks"]) == {"mmlu_0_shot", "gsm8k"}
    for bench, section in report["benchmarks"].items():
        assert section["n_items"] == N and section["benchmark"] == bench
        assert section["reference"].startswith("agent0:")
        assert {c["system_b"] for c in section["comparisons"]} == {section["reference"]}
        # compute beside accuracy: calls and tokens per item from the Decisions
        compute = {c["system"]: c for c in section["compute"]}
        orch_row = next(c for n, c in compute.items() if n.startswith("orch/"))
        assert orch_row["calls"] == 4 and orch_row["tokens"] > 0
    # chance only for multiple choice
    assert report["benchmarks"]["mmlu_0_shot"]["chance"] == pytest.approx(0.25)
    assert report["benchmarks"]["gsm8k"]["chance"] is None


def test_compare_on_an_lm_eval_folder_groups_by_benchmark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lm-eval output holding GSM8K and an MMLU subject: two comparisons, as on Inspect folders."""
    import subprocess

    out_dir = tmp_path / "lm"
    proc = subprocess.run(
        [ORCH_LM_EVAL, "--model", "orch", "--model_args", "panel=solvers/fake-lmeval.yaml", "--tasks",
         "gsm8k,mmlu_abstract_algebra_generative", "--limit", "6", "--log_samples", "--output_path", str(out_dir)],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list(out_dir.rglob("samples_*.jsonl"))) == 2  # one run folder, two benchmarks
    groups = load_benchmarks([out_dir])
    assert len(groups) == 2 and "gsm8k" in groups  # the MMLU subject under its lm-eval group, apart
    for loaded in groups.values():
        assert all(len(s.correct) == 6 for s in loaded.systems.values())
    code, out, err = _run(capsys, "compare", str(out_dir), "--bootstrap", "0", "--format", "json")
    assert code == 0, err
    assert set(json.loads(out)["benchmarks"]) == set(groups)


def test_latex_is_a_compact_paper_table(two_benchmarks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "compare", str(two_benchmarks / "orch"), "--reference", "agent0",
                          "--bootstrap", "0", "--format", "latex")
    assert code == 0, err
    tables = out.count("\\begin{table}")
    assert tables == 2 and out.count("\\toprule") == 2 and out.count("\\bottomrule") == 2
    first = out.split("\\end{table}")[0]
    assert "\\caption{Accuracy on mmlu\\_0\\_shot" in first and "Wilson 95\\% intervals" in first
    assert "reference declared before the run" in first and "(reference)" in first
    assert "System & Accuracy [95\\% CI] & $\\Delta$ vs.\\ reference" in first
    rows = [line for line in first.splitlines() if line.endswith("\\\\") and "&" in line][1:]
    assert len(rows) == 5 and all(line.count("&") == 3 for line in rows)  # 4 columns, no raw dump
    assert "_" not in first.replace("\\_", "")  # names escaped
    code, full, _ = _run(capsys, "compare", str(two_benchmarks / "orch"), "--reference", "agent0",
                         "--bootstrap", "0", "--format", "latex-full")
    assert code == 0 and "p\\_midp" in full and full.count("\\begin{tabular}") == 4  # the raw tables


def test_plots_use_tokens_when_every_cost_is_zero_and_clip_intervals(tmp_path: Path) -> None:
    from orch_eval.stats.plots import _compute_axis, plot_accuracy, plot_accuracy_vs_cost

    rng = np.random.default_rng(0)
    systems = {f"s{i}": {f"q{j}": bool(rng.random() < 0.5) for j in range(40)} for i in range(3)}
    po = PairedOutcomes.from_dict(systems, cost={s: 0.0 for s in systems})
    rep = compare(po, reference="s0", bootstrap=0)
    compute = {s: SystemCompute(s, 4.0, 100.0 * (i + 1), 50.0, 0.0, 1.0) for i, s in enumerate(systems)}
    label, xs = _compute_axis(rep, compute)  # type: ignore[misc]
    assert label.startswith("tokens per item") and xs == {"s0": 150.0, "s1": 250.0, "s2": 350.0}
    assert plot_accuracy_vs_cost(rep, tmp_path / "cost.png", compute=compute, chance=0.25) is not None
    assert plot_accuracy(rep, tmp_path / "acc.png", title="x", chance=0.25).stat().st_size > 0
    # a clustered interval of an accuracy is clipped to [0, 1]
    few = PairedOutcomes.from_dict({"a": {f"q{j}": j == 0 for j in range(12)}, "b": {f"q{j}": True for j in range(12)}},
                                   clusters={f"q{j}": f"c{j % 3}" for j in range(12)})
    rep2 = compare(few, reference="b", bootstrap=0)
    a = next(s for s in rep2.systems if s.system == "a")
    assert a.clustered_low == 0.0 and a.clustered_high is not None and a.clustered_high <= 1.0
    md = rep2.to_markdown()
    assert "| sig. |" in md and "sig. `*`" in md  # the significance column has a header
    assert not re.search(r"\[-\d", md.split("## Comparisons")[0])  # no negative accuracy bound


def _captured_figures(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Keep every figure the plot functions save (they close it after saving)."""
    import orch_eval.stats.plots as plots

    figures: list[Any] = []
    real_finish = plots._finish

    def keep(fig: Any, path: str | Path) -> Path:
        figures.append(fig)
        return real_finish(fig, path)

    monkeypatch.setattr(plots, "_finish", keep)
    return figures


def test_plots_draw_the_chance_line_and_name_the_benchmark_and_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accuracy and accuracy-versus-compute plots of a comparison carry a dashed line at the chance
    level and a title naming the benchmark and the declared reference (issue 18, plots)."""
    figures = _captured_figures(monkeypatch)
    rng = np.random.default_rng(1)
    systems = {f"s{i}": {f"q{j}": bool(rng.random() < 0.6) for j in range(30)} for i in range(3)}
    po = PairedOutcomes.from_dict(systems)
    rep = compare(po, reference="s0", bootstrap=0)
    compute = {s: SystemCompute(s, 1.0 + i, 100.0 * (i + 1), 50.0, 0.0, 1.0) for i, s in enumerate(systems)}
    analysis = Analysis(report=rep, outcomes=po, oracles=[], diagnostics=[], compute=compute, sources=[], notes=[],
                        benchmark="mmlu_0_shot", chance=0.25)
    written = analysis.write_plots(tmp_path)
    assert [Path(w).name for w in written] == ["accuracy.png", "accuracy_vs_cost.png"]
    assert len(figures) == 2
    for fig, vertical in zip(figures, (True, False)):
        (ax,) = [a for a in fig.axes if a.get_title()]
        assert ax.get_title() == "mmlu_0_shot (reference: s0)"
        chance = [ln for ln in ax.get_lines() if ln.get_label() == "chance (25%)"]
        assert len(chance) == 1 and chance[0].get_linestyle() == "--"
        xs, ys = chance[0].get_xdata(), chance[0].get_ydata()
        assert list(xs if vertical else ys) == [0.25, 0.25]  # axvline / axhline at the chance level
        assert "chance (25%)" in [t.get_text() for t in ax.get_legend().get_texts()]
    # no chance level (a numeric benchmark): no line
    figures.clear()
    Analysis(report=rep, outcomes=po, oracles=[], diagnostics=[], compute=compute, sources=[], notes=[],
             benchmark="gsm8k").write_plots(tmp_path / "gsm8k")
    assert all(ln.get_label() != "chance" and not str(ln.get_label()).startswith("chance")
               for fig in figures for ax in fig.axes for ln in ax.get_lines())


def test_pvalue_heatmap_is_readable_and_unclipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each cell's number contrasts with its cell (white on dark, black on light), and nothing is
    clipped: the saved image holds every label, long rotated system names and the colour bar's
    two-line label included (issue 18, plots)."""
    import matplotlib.image as mpimg

    figures = _captured_figures(monkeypatch)
    from orch_eval.stats.plots import plot_pvalue_heatmap

    rng = np.random.default_rng(2)
    accs = {"a-very-long-system-name/with/a/path:agent0": 0.9, "b": 0.88, "c": 0.5, "d": 0.2}
    systems = {n: {f"q{j}": bool(rng.random() < p) for j in range(80)} for n, p in accs.items()}
    systems["b"] = {**systems["a-very-long-system-name/with/a/path:agent0"], "q0": False}  # p near 1: a dark cell
    rep = compare(PairedOutcomes.from_dict(systems), pairs="all", bootstrap=0)
    path = plot_pvalue_heatmap(rep, tmp_path / "p.png", title="mmlu_0_shot")
    (fig,) = figures
    ax, _colorbar = fig.axes
    (image,) = ax.get_images()
    cells = [t for t in ax.texts]
    assert len(cells) == 4 * 3
    seen = set()
    for t in cells:
        x, y = t.get_position()
        r, g, b, _ = image.cmap(image.norm(image.get_array()[int(y), int(x)]))
        dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
        assert t.get_color() == ("white" if dark else "black"), (t.get_text(), (r, g, b))
        seen.add(dark)
    assert seen == {True, False}  # both kinds of cell occur, so both branches were checked
    # nothing clipped: the saved image holds the extent of everything drawn (labels stick out of the
    # figure's own area here, so a plain savefig would cut them)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(120)  # the dpi the plot is saved at
    content = fig.get_tightbbox(FigureCanvasAgg(fig).get_renderer())  # inches; the figure was closed
    assert content.x0 < 0 or content.y0 < 0  # the case that needs a tight bounding box
    png_h, png_w = mpimg.imread(str(path)).shape[:2]
    assert png_w >= content.width * 120 - 1 and png_h >= content.height * 120 - 1, (png_w, png_h, content)


def test_inline_panels_get_a_readable_name() -> None:
    panel = Panel.from_args(AGENTS, "orchfake/vote")
    assert panel.name == f"inline-{panel.digest()[:6]}"
    assert Panel.from_args(AGENTS, "orchfake/vote", name="mine").name == "mine"


def test_the_demo_closing_commands_work_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The demo on a fake panel (its merger plays the strongest model): every command it prints at
    the end runs as printed (from a log folder whose name has a space), and a second run makes no
    model call."""
    from orch_eval.demo import print_result, run_demo
    from orch_eval.models.fake import call_counts

    panel = tmp_path / "fakedemo.yaml"
    panel.write_text("name: fakedemo\nagents: [" + AGENTS + "]\nmerger: orchfake/gold:p=0.9:seed=strong\n")
    monkeypatch.chdir(tmp_path)
    result = run_demo(panel=str(panel), items=4, k=3, temperature=0.7, log_dir="logs/my demo", display="none")
    assert not result.failed
    assert sorted(result.analyses) == ["gsm8k", "mmlu_0_shot"]
    for a in result.analyses.values():
        names = [s.system for s in a.report.systems]
        assert a.reference == "single/orchfake/gold:p=0.9:seed=strong" and a.reference in names
        assert any(n.startswith("orch/fakedemo") for n in names) and any(n.startswith("sc3:") for n in names)
        assert "majority" in names and not any(n.startswith("agent") for n in names)
    buf = io.StringIO()
    with redirect_stdout(buf):
        print_result(result, 3, 0.7)
    text = buf.getvalue()
    assert "b/c: items only this system / only the reference got right" in text
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("orch-eval ")]
    assert len(commands) == 2
    capsys.readouterr()
    for command in commands:
        code, _, err = _run(capsys, *shlex.split(command)[1:])
        assert code == 0, (command, err)
    before = sum(call_counts().values())
    again = run_demo(panel=str(panel), items=4, k=3, temperature=0.7, log_dir="logs/my demo", display="none")
    assert sum(call_counts().values()) == before and not again.failed  # a rerun makes no model call


def test_the_demo_leaves_self_consistency_out_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the default k (0) the demo runs the reference and ORCH only (its time budget), and says
    how to add self-consistency."""
    from orch_eval.demo import DEFAULT_K, DEFAULT_TEMPERATURE, print_result, run_demo

    assert DEFAULT_K == 0
    panel = tmp_path / "fakedemo.yaml"
    panel.write_text("name: fakedemo\nagents: [" + AGENTS + "]\nmerger: orchfake/gold:p=0.9:seed=strong\n")
    monkeypatch.chdir(tmp_path)
    result = run_demo(panel=str(panel), items=2, benchmarks=("gsm8k",), log_dir="logs/demo", display="none")
    assert not result.failed
    assert sorted(p.name for p in result.log_dir.iterdir()) == ["orch", "reference"]
    names = [s.system for s in result.analyses["gsm8k"].report.systems]
    assert not any(n.startswith("sc") for n in names) and any(n.startswith("orch/") for n in names)
    buf = io.StringIO()
    print_result(result, DEFAULT_K, DEFAULT_TEMPERATURE, out=buf)
    assert "add --k 3" in buf.getvalue() and "self-consistency" not in buf.getvalue().split("what:")[1].split("\n")[0]
