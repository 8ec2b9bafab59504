"""(e) + (f) Quality, seconds per item and peak memory of the local GGUF panel on real data.

Systems, on the same items (paired):
  - ORCH with `solvers/local.yaml` (smollm2-135m, gemma3-270m, qwen2.5-coder-0.5b analysts;
    qwen2.5-coder-1.5b merger); from the same calls: each agent alone (fair: the same analysis
    prompt and budget), the majority vote and the oracle;
  - qwen2.5-coder-1.5b alone with the same analysis prompt and budget (`orch_eval/single`):
    the pre-declared reference, the strongest local model;
  - the same-model variant `solvers/local-lenses.yaml` (the 1.5B as three lens agents, merged by
    itself), on the first `--lenses-items` items of each benchmark, against the 1.5B alone;
  - the solve-merge variant `solvers/local-solve.yaml` (the local panel, its merger asked to work
    the task out itself with an analysis-sized budget instead of judging in three sentences), on
    the first `--solve-items` items, against the 1.5B alone and the judge-style ORCH run (the
    same analyses: only the merges differ).
Benchmarks: `inspect_evals/mmlu_0_shot` (its fixed seed-42 order; first N) and
`inspect_evals/gsm8k` (dataset order; first N). Item ids are written to the result file.

    python benchmarks/bench_quality_local.py --mmlu 100 --gsm8k 100 --lenses-items 100

`--only lenses` (or `--lenses-only`) / `--only solve` runs (or reuses) just the 1.5B alone and that
variant, and rewrites only the `<benchmark>_<variant>` entries: the way to record a variant without
the hour-long panel run.

Runs through Inspect's eval_set in `--log-dir` (default logs/bench-quality-local): rerunning
resumes where it stopped, and Inspect's cache makes finished calls free. Writes
benchmarks/results/quality_local.json (the benchmarks run this time replace their entries; the
others are kept, each with the command and date that produced it) and one report per comparison,
quality_local_<benchmark>[_<variant>].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REFERENCE_MODEL = "gguf/qwen2.5-coder-1.5b-instruct"
VARIANTS = {"lenses": "local-lenses", "solve": "local-solve"}
"""Variant name -> panel preset; results under ``<benchmark>_<variant>``."""


def _run(tasks: list[str], solver, limit: int, log_dir: Path, **kw) -> list:  # type: ignore[no-untyped-def]
    from inspect_ai import eval_set

    ok, logs = eval_set(
        tasks, model=None, solver=solver, limit=limit, log_dir=str(log_dir), display="plain",
        max_tasks=1, retry_attempts=2, **kw,
    )
    if not ok:
        raise SystemExit(f"eval_set did not complete in {log_dir}; rerun the same command to resume")
    return logs


def _eval_seconds(log) -> float:  # type: ignore[no-untyped-def]
    """Wall time of the eval that produced ``log`` (from its own start and end stamps), so a
    rerun that finds the log complete still reports the original run's time."""
    from datetime import datetime

    st = log.stats
    return (datetime.fromisoformat(st.completed_at) - datetime.fromisoformat(st.started_at)).total_seconds()


def _ran_since(log, start: datetime) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``log``'s eval ran in this process (started after ``start``), not reused from disk."""
    return datetime.fromisoformat(log.stats.started_at) >= start


def _keep_peak(run: dict, previous: dict, ran: bool) -> dict:
    """``run`` with the peak RSS of ``previous`` when this process ran nothing (every log was
    reused: it only read them, so its own peak says nothing)."""
    if ran or previous.get("peak_rss_gb") is None:
        return run
    return {**run, "peak_rss_gb": previous["peak_rss_gb"],
            "peak_rss_from": previous.get("peak_rss_from") or previous.get("date")}


def _sample_times(log_path: str) -> list[float]:
    from inspect_ai.log import read_eval_log

    log = read_eval_log(log_path)
    return [s.total_time for s in log.samples or [] if s.total_time is not None]


def _compare(logs: list[str], reference_prefix: str, out_stem: Path, intersect: bool = False,
             extra: tuple[str, ...] = ()) -> dict:
    """The paired report of ``logs`` as ``<out_stem>.json`` and ``.md`` (``extra``: more compare flags)."""
    from orch_eval.cli import main as cli

    base = ["compare", *logs, "--reference", reference_prefix, *extra] + (["--intersect"] if intersect else [])
    assert cli([*base, "--format", "json", "--output", f"{out_stem}.json"]) == 0, base
    assert cli([*base, "--output", f"{out_stem}.md"]) == 0, base
    return json.loads(Path(f"{out_stem}.json").read_text())


def _chance(report: dict, n_options: int | None) -> dict:
    """Which systems beat guessing: one-sided exact binomial test of accuracy > 1/n_options
    (multiple choice only; a numeric answer has no chance level worth testing)."""
    if not n_options:
        return {}
    from scipy.stats import binomtest

    p0 = 1 / n_options
    return {
        s["system"]: {
            "chance": p0,
            "p_greater": binomtest(s["correct"], s["n"], p0, alternative="greater").pvalue,
            "p_less": binomtest(s["correct"], s["n"], p0, alternative="less").pvalue,
        }
        for s in report["systems"]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mmlu", type=int, default=100)
    ap.add_argument("--gsm8k", type=int, default=100)
    ap.add_argument("--lenses-items", type=int, default=100, help="items of the lenses variant per benchmark")
    ap.add_argument("--solve-items", type=int, default=100, help="items of the solve-merge variant per benchmark")
    ap.add_argument("--only", choices=sorted(VARIANTS),
                    help="skip the ORCH panel run: only the 1.5B alone and this variant (entries <benchmark>_<variant>)")
    ap.add_argument("--lenses-only", action="store_true", help="the same as --only lenses")
    ap.add_argument("--log-dir", default=str(ROOT / "logs" / "bench-quality-local"))
    ap.add_argument("--output", default=str(HERE / "results" / "quality_local"))
    args = ap.parse_args()
    if args.lenses_only:
        args.only = "lenses"
    if args.only and getattr(args, f"{args.only}_items") <= 0:
        raise SystemExit(f"--only {args.only} needs --{args.only}-items > 0")

    from orch_eval.core.panel import load_panel
    from orch_eval.inspect.solvers import orch, single

    started = datetime.now(timezone.utc)
    ran: dict[str, bool] = {}  # per benchmark key: did this process run any of its evals?
    local = load_panel("local")
    # a single agent has no dispatcher: its budget stays out of the solver's args, so the task's
    # identity (which eval_set matches against the logs already in the log dir) does not depend on it
    budgets = local.budgets.model_dump(exclude={"dispatch"})
    root = Path(args.log_dir)
    timings: dict[str, float] = {}
    results: dict[str, dict] = {}
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    for bench, task, n in (("mmlu", "inspect_evals/mmlu_0_shot", args.mmlu), ("gsm8k", "inspect_evals/gsm8k", args.gsm8k)):
        if n <= 0:
            continue
        orch_log = None if args.only else _run([task], orch(panel="local"), n, root / bench / "orch")[0]
        if orch_log is not None:
            timings[f"{bench}_orch_s"] = _eval_seconds(orch_log)
        ref_log = _run(
            [task],
            single(agents=[{"model": REFERENCE_MODEL, "args": {"n_threads": 2}}], budgets=budgets),
            n,
            root / bench / "single",
        )[0]
        timings[f"{bench}_single_s"] = _eval_seconds(ref_log)
        ran[bench] = _ran_since(ref_log, started) or (orch_log is not None and _ran_since(orch_log, started))
        for variant, preset in VARIANTS.items():
            items = min(n, getattr(args, f"{variant}_items"))
            if items <= 0 or args.only not in (None, variant):
                continue
            key = f"{bench}_{variant}"
            var_log = _run([task], orch(panel=preset), items, root / bench / variant)[0]
            timings[f"{key}_s"] = _eval_seconds(var_log)
            ran[key] = _ran_since(var_log, started)
            logs, extra = [var_log.location, ref_log.location], ()
            if variant == "solve" and orch_log is not None:
                # judge vs solve merges of the same analyses (the agents and majority are in <bench>)
                logs.append(orch_log.location)
                extra = ("--systems", f"orch/{preset},orch/local,single/{REFERENCE_MODEL}")
            # a variant run may cover the first items only: compared on the intersection
            results[key] = _compare(logs, "single", out.parent / f"{out.name}_{key}", intersect=True, extra=extra)
            results[key]["seconds_per_item_wall"] = timings[f"{key}_s"] / items
            results[key]["single_seconds_per_item_wall"] = timings[f"{bench}_single_s"] / n
        if orch_log is None:
            continue
        logs = [orch_log.location, ref_log.location]
        results[bench] = _compare(logs, "single", out.parent / f"{out.name}_{bench}")
        results[bench]["beats_chance"] = _chance(results[bench], 4 if bench == "mmlu" else None)
        times = _sample_times(orch_log.location)
        from inspect_ai.log import read_eval_log

        header = read_eval_log(orch_log.location, header_only=True)
        results[bench]["orch_sample_latency_median_s"] = statistics.median(times) if times else None
        results[bench]["orch_seconds_per_item_wall"] = timings[f"{bench}_orch_s"] / n
        results[bench]["single_seconds_per_item_wall"] = timings[f"{bench}_single_s"] / n
        results[bench]["item_ids"] = [str(i) for i in (header.eval.dataset.sample_ids or [])]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/bench_quality_local.py", *sys.argv[1:]]),
        "peak_rss_gb": peak_kb / 1024 / 1024,
        "timings_s": timings,
    }
    path = Path(f"{out}.json")
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if "runs" not in summary:  # older single-run layout: start afresh
        summary = {"benchmark": "quality_local", "runs": {}, "results": {}}
    digests = {name: load_panel(name).digest() for name in ("local", *VARIANTS.values())}
    for key, value in results.items():
        panel = VARIANTS.get(key.partition("_")[2], "local")
        this = _keep_peak({**run, "panel": panel, "panel_digest": digests[panel]},
                          summary["runs"].get(key) or {}, ran.get(key, True))
        value["run"] = this
        summary["results"][key] = value
        summary["runs"][key] = this
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps(run, indent=2))


if __name__ == "__main__":
    main()
