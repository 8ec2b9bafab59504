"""The compute-matched comparison on the local models: the 1.5B alone, self-consistency, Self-MoA,
MoA and debate, paired item by item, with compute next to accuracy.

Stages (each resumable: eval_set reuses finished logs in ``--log-dir``, Inspect's cache makes
finished calls free; a stage run again on more items reuses the calls of the smaller run, so a
long stage can be recorded in growing chunks, e.g. ``--items 30``, then ``60``, then ``100``):

``calibrate``  choose the sampling temperature on a calibration split, never on the evaluated
               items: the first ``--items`` items of ``tasks/calibration.py@gsm8k_train`` /
               ``@mmlu_validation`` (the project's calibration tasks, with their defaults: a
               seeded shuffle, items whose ids occur in the test split and GSM8K's few-shot
               examples left out); for each temperature in
               ``--temperatures``, self-consistency@k of the 1.5B (k samples per item) and the
               1.5B greedy on the same items. The chosen temperature maximises SC@k accuracy
               (ties: the higher per-sample accuracy, then the lower temperature).
``main``       the evaluated items (the first ``--items`` of mmlu_0_shot's fixed order / gsm8k's
               order: the items of the quality benchmark): the 1.5B alone (the pre-declared
               reference), self-consistency@k and Self-MoA@k of the 1.5B at ``--temperature``
               (default: the calibrated one), the k samples shared by the two methods.
``panel``      the panel that includes the 1.5B (solvers/router-off.yaml: the three small agents
               and the 1.5B as a fourth, merged by the 1.5B): ORCH, MoA (``--layers``) and debate
               (``--rounds``) on the first ``--items`` evaluated items, against the 1.5B alone
               (``--methods`` runs a subset, e.g. ``orch,moa``; the result records which).

    python benchmarks/bench_methods_local.py calibrate --benchmark gsm8k --items 20
    python benchmarks/bench_methods_local.py main --benchmark gsm8k --items 100
    python benchmarks/bench_methods_local.py panel --benchmark gsm8k --items 30

Results: benchmarks/results/methods_local.json (one entry per stage and benchmark, each with the
command and date that produced it) and one paired report per comparison,
methods_local_<stage>_<benchmark>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REFERENCE_MODEL = "gguf/qwen2.5-coder-1.5b-instruct"
BENCHMARK = {"mmlu": "mmlu_0_shot", "gsm8k": "gsm8k"}
"""The command's benchmark names -> the registry's (orch_eval.benchmarks), whose task is evaluated."""
CALIBRATION = {"mmlu": "mmlu_validation", "gsm8k": "gsm8k_train"}
"""The calibration task of each benchmark in tasks/calibration.py (its defaults)."""
PANEL = "router-off"
"""The panel that includes the 1.5B: the local panel's three agents plus the 1.5B, merged by the 1.5B."""


from orch_eval.benchmarks import BENCHMARKS  # noqa: E402  (after the offline data settings above)


def _one_model_panel() -> dict[str, Any]:
    """The 1.5B alone, with the local panel's budgets and threads: the same panel (digest, cache
    entries) as bench_quality_local's reference run."""
    from orch_eval.core.panel import load_panel

    budgets = load_panel("local").budgets.model_dump(exclude={"dispatch"})
    return {"agents": [{"model": REFERENCE_MODEL, "args": {"n_threads": 2}}], "budgets": budgets}


def _run(task: Any, solver: Any, limit: int | None, log_dir: Path, **kw: Any) -> Any:
    from inspect_ai import eval_set

    ok, logs = eval_set(
        [task], model=None, solver=solver, limit=limit, log_dir=str(log_dir), display="plain",
        max_tasks=1, retry_attempts=2, **kw,
    )
    if not ok:
        raise SystemExit(f"eval_set did not complete in {log_dir}; rerun the same command to resume")
    return logs[0]


def _seconds(log: Any) -> float:
    st = log.stats
    return (datetime.fromisoformat(st.completed_at) - datetime.fromisoformat(st.started_at)).total_seconds()


def _decisions(log: Any) -> dict[str, Any]:
    from inspect_ai.log import read_eval_log_samples

    from orch_eval.core.decision import DECISION_KEY, Decision

    out = {}
    for s in read_eval_log_samples(log.location, all_samples_required=False, exclude_fields={"events", "messages"}):
        out[str(s.id)] = Decision.model_validate(s.metadata[DECISION_KEY])
    return out


def _model_seconds(d: Any) -> float:
    """Seconds the models spent on one item's calls, as each call reported them (a cached call
    reports the time it took when it was made, so this does not depend on what was cached)."""
    calls = [*d.records(), d.merge, d.dispatch]
    return float(sum(c.latency for c in calls if c is not None))


def _compute(log: Any, n: int) -> dict[str, Any]:
    """Calls, tokens and seconds per item of one run (from its Decisions and its own stamps).

    ``model_seconds_per_item`` is the compute each item cost (the sum of its calls' own times,
    cached or not); ``wall_seconds_per_item`` is what this run took, which is less wherever its
    calls came from the cache (Self-MoA's samples are self-consistency's; a run on more items
    reuses the smaller run's calls) and more when other jobs shared the cores."""
    ds = list(_decisions(log).values())
    k = max(1, len(ds))
    return {
        "items": len(ds),
        "calls_per_item": sum(d.calls for d in ds) / k,
        "input_tokens_per_item": sum(d.usage.input_tokens for d in ds) / k,
        "output_tokens_per_item": sum(d.usage.output_tokens for d in ds) / k,
        "model_seconds_per_item": sum(_model_seconds(d) for d in ds) / k,
        "wall_seconds_per_item": _seconds(log) / max(1, n),
    }


def _per_sample_accuracy(log: Any) -> float | None:
    """Mean correctness of the individual samples (self-consistency / Self-MoA runs)."""
    ds = list(_decisions(log).values())
    cells = [a.correct for d in ds for a in d.agents if a.correct is not None]
    return sum(cells) / len(cells) if cells else None


def _compare(logs: list[str], reference: str, out_stem: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    from orch_eval.cli import main as cli

    base = ["compare", *logs, "--reference", reference, "--intersect", *extra]
    assert cli([*base, "--format", "json", "--output", f"{out_stem}.json"]) == 0, base
    assert cli([*base, "--output", f"{out_stem}.md"]) == 0, base
    return json.loads(Path(f"{out_stem}.json").read_text())


def calibration_task(benchmark: str) -> Any:
    """The calibration task of ``benchmark`` (tasks/calibration.py, its defaults): the standard
    task (its scorer, its record-to-sample function, so its sample ids) on a split it does not
    evaluate, seeded-shuffled, with the test split's repeats and GSM8K's few-shot examples left out."""
    from orch_eval.tasks import calibration

    return getattr(calibration, CALIBRATION[benchmark])()


def stage_calibrate(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from orch_eval.inspect.solvers import self_consistency, single

    panel = _one_model_panel()
    temps = [float(t) for t in args.temperatures.split(",")]
    greedy = _run(calibration_task(args.benchmark), single(**panel), args.items, root / f"greedy-n{args.items}")
    greedy_acc = greedy.results.scores[0].metrics["accuracy"].value
    rows = []
    for t in temps:
        log = _run(calibration_task(args.benchmark), self_consistency(**panel, k=args.k, temperature=t),
                   args.items, root / f"sc{args.k}-T{t}-n{args.items}")
        rows.append({
            "temperature": t,
            "sc_accuracy": log.results.scores[0].metrics["accuracy"].value,
            "per_sample_accuracy": _per_sample_accuracy(log),
            **_compute(log, args.items),
        })
    best = max(rows, key=lambda r: (r["sc_accuracy"], r["per_sample_accuracy"] or 0, -r["temperature"]))
    return {
        "task": f"tasks/calibration.py@{CALIBRATION[args.benchmark]}",
        "item_ids": [str(i) for i in (greedy.eval.dataset.sample_ids or [])],
        "items": args.items,
        "k": args.k,
        "greedy_accuracy": greedy_acc,
        "greedy": _compute(greedy, args.items),
        "temperatures": rows,
        "chosen_temperature": best["temperature"],
        "rule": "max SC@k accuracy; ties: higher per-sample accuracy, then lower temperature",
    }


def _chosen_temperature(args: argparse.Namespace, summary: dict[str, Any]) -> float:
    if args.temperature is not None:
        return float(args.temperature)
    cal = summary.get("results", {}).get(f"calibrate_{args.benchmark}")
    if cal is None:
        raise SystemExit(f"no calibrated temperature for {args.benchmark}: run the calibrate stage or pass --temperature")
    return float(cal["chosen_temperature"])


def _recorded_orch(benchmark: str, item_ids: list[str]) -> dict[str, Any] | None:
    """ORCH's recorded result (bench_quality_local.py) placed beside the methods, when it was
    measured on exactly these items; its paired comparison is with the same 1.5B-alone reference
    (the same one-model panel, so the same answers: ``single_recorded`` shows the reproduction)."""
    path = HERE / "results" / "quality_local.json"
    if not path.is_file():
        return None
    rec = json.loads(path.read_text()).get("results", {}).get(benchmark)
    if not rec:
        return None
    if [str(i) for i in rec.get("item_ids", [])] != item_ids:
        return {
            "source": "benchmarks/results/quality_local.json",
            "note": f"recorded on {len(rec.get('item_ids', []))} items, not the {len(item_ids)} items of this run: "
            "not placed beside it (rerun this stage with the same --items)",
        }
    systems = {s["system"]: s for s in rec["systems"]}
    orch = systems["orch/local"]
    single = systems[f"single/{REFERENCE_MODEL}"]
    ref = next(c for c in rec["comparisons"] if c["system_a"] == "orch/local")
    return {
        "source": "benchmarks/results/quality_local.json (bench_quality_local.py), the same item ids",
        "date": rec.get("run", {}).get("date"),
        "accuracy": orch["accuracy"],
        "wilson": [orch["wilson_low"], orch["wilson_high"]],
        "vs_reference": {k: ref[k] for k in ("diff", "newcombe_low", "newcombe_high", "b", "c", "p_midp")},
        "wall_seconds_per_item": rec.get("orch_seconds_per_item_wall"),
        "single_recorded": {"accuracy": single["accuracy"], "correct": single["correct"], "n": single["n"]},
    }


def stage_main(args: argparse.Namespace, root: Path, summary: dict[str, Any]) -> dict[str, Any]:
    from orch_eval.inspect.solvers import self_consistency, self_moa, single

    t = _chosen_temperature(args, summary)
    panel = _one_model_panel()
    task, n = BENCHMARKS[BENCHMARK[args.benchmark]].task, args.items
    ref = _run(task, single(**panel), n, root / f"single-n{n}")
    sc = _run(task, self_consistency(**panel, k=args.k, temperature=t), n, root / f"sc{args.k}-T{t}-n{n}")
    smoa = _run(task, self_moa(**panel, k=args.k, temperature=t), n, root / f"self_moa{args.k}-T{t}-n{n}")
    ids = [str(i) for i in (ref.eval.dataset.sample_ids or [])]
    report = _compare([ref.location, sc.location, smoa.location], "single",
                      HERE / "results" / f"methods_local_main_{args.benchmark}")
    return {
        "temperature": t,
        "k": args.k,
        "report": report,
        "compute": {"single": _compute(ref, n), "self_consistency": _compute(sc, n), "self_moa": _compute(smoa, n)},
        "per_sample_accuracy": _per_sample_accuracy(sc),
        "orch_recorded": _recorded_orch(args.benchmark, ids),
        "item_ids": ids,
    }


def stage_panel(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from orch_eval.inspect.solvers import debate, moa, orch, single

    panel = _one_model_panel()
    task, n = BENCHMARKS[BENCHMARK[args.benchmark]].task, args.items
    methods = _panel_methods(args.methods)
    solvers = {
        "orch": (lambda: orch(panel=PANEL), f"orch-n{n}"),
        "moa": (lambda: moa(panel=PANEL, layers=args.layers), f"moa{args.layers}-n{n}"),
        "debate": (lambda: debate(panel=PANEL, rounds=args.rounds), f"debate{args.rounds}-n{n}"),
    }
    ref = _run(task, single(**panel), n, root / f"single-n{n}")
    logs = {"single": ref}
    for name in methods:  # in the order given, each resumable on its own
        make, folder = solvers[name]
        logs[name] = _run(task, make(), n, root / folder)
    report = _compare([lg.location for lg in logs.values()], "single",
                      HERE / "results" / f"methods_local_panel_{args.benchmark}", extra=("--no-derived",))
    return {
        "panel": PANEL,
        "methods": list(methods),
        "layers": args.layers if "moa" in methods else None,
        "rounds": args.rounds if "debate" in methods else None,
        "underpowered": n < 100,
        "report": report,
        "compute": {name: _compute(lg, n) for name, lg in logs.items()},
        "item_ids": [str(i) for i in (ref.eval.dataset.sample_ids or [])],
    }


PANEL_METHODS = ("orch", "moa", "debate")


def _panel_methods(text: str) -> tuple[str, ...]:
    """``--methods``: a comma-separated subset of PANEL_METHODS, run in the order given."""
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    unknown = [m for m in names if m not in PANEL_METHODS]
    if unknown or not names:
        raise SystemExit(f"--methods {text!r}: choose from {', '.join(PANEL_METHODS)} (comma-separated)")
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("calibrate", "main", "panel"))
    ap.add_argument("--benchmark", choices=sorted(BENCHMARK), required=True)
    ap.add_argument("--items", type=int, required=True)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--temperatures", default="0.2,0.4,0.7", help="calibrate: the temperatures tried")
    ap.add_argument("--temperature", type=float, help="main: the sampling temperature (default: the calibrated one)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--methods", default=",".join(PANEL_METHODS),
                    help="panel: which of orch, moa, debate to run beside the 1.5B alone (default: all three); "
                         "a long stage can be recorded method by method, each run reused by the next")
    ap.add_argument("--log-dir", default=str(ROOT / "logs" / "bench-methods-local"))
    ap.add_argument("--output", default=str(HERE / "results" / "methods_local.json"))
    args = ap.parse_args()
    if args.items <= 0 or args.k <= 0:
        raise SystemExit("--items and --k must be positive")
    out = Path(args.output)
    summary = json.loads(out.read_text()) if out.is_file() else {"benchmark": "methods_local", "results": {}}
    root = Path(args.log_dir) / args.stage / args.benchmark
    started = datetime.now(timezone.utc)
    if args.stage == "calibrate":
        result = stage_calibrate(args, root)
    elif args.stage == "main":
        result = stage_main(args, root, summary)
    else:
        result = stage_panel(args, root)
    result["run"] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/bench_methods_local.py", *sys.argv[1:]]),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
    }
    summary["results"][f"{args.stage}_{args.benchmark}"] = result
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "report"}, indent=2, default=str))


if __name__ == "__main__":
    main()
