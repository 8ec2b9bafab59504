"""Router benchmark: the EMA router on the local GGUF panel, warm-started on MMLU validation,
against the same panel without the router and against Qwen-1.5B alone, on real MMLU test items.

Panel (solvers/router-*.yaml): the local panel's three small analysts (smollm2-135m, gemma3-270m,
qwen2.5-coder-0.5b) plus qwen2.5-coder-1.5b as a fourth agent; the 1.5B merges. Same budgets and
threads as solvers/local.yaml, so the small agents' analyses are shared (through Inspect's cache)
with the quality benchmark's ORCH run and the 1.5B's analyses equal its `single` run.

Systems, on the same items (paired; the first N of `inspect_evals/mmlu_0_shot` in its fixed
seed-42 order, the items of bench_quality_local.py):
  - single:   qwen2.5-coder-1.5b alone, same analysis prompt and budget -- the reference,
              declared before the run (the strongest local model);
  - off:      ORCH, router off (all four analyses reach the merger);
  - local:    ORCH with the three small analysts only (solvers/local.yaml, the embedded default);
  - top1:     ORCH, router top-1, warm-started on `--calibration-items` seeded MMLU validation
              items (`orch-eval router calibrate`; never the test split);
  - top1-cold: the same router from its cold-start priors (no warm start);
  - risk:     ORCH, risk-aware router (1..3 agents), warm-started;
  - shadow1:  ORCH, router top-1 in shadow mode (every agent answers, feedback for all; the
              merger reads the top-1 analysis), warm-started.
The routed runs are prequential (item t routed on items < t only) in the dataset order above.

    python benchmarks/bench_router_local.py --items 100 --calibration-items 100

Every run is skipped when its log in `--log-dir` (default logs/bench-router-local) is complete, and
model calls are served from Inspect's cache, so rerunning the command is cheap; a killed routed run
resumes from its router state file. Writes benchmarks/results/router_local.json and
router_local_mmlu.{json,md} (the paired report against Qwen-1.5B alone: McNemar mid-p, Holm, Newcombe
CIs of differences) and router_local_mmlu_vs_off.{json,md} (each routed run against the same
panel unrouted, and the three-analyst panel, a second family with its own Holm correction).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # bench_quality_local's helpers
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TASK = "inspect_evals/mmlu_0_shot"
REFERENCE_MODEL = "gguf/qwen2.5-coder-1.5b-instruct"
SYSTEMS = ("single", "off", "local", "top1", "top1-cold", "risk", "shadow1")


def _done(log_dir: Path) -> str | None:
    """The newest successful .eval log in ``log_dir``, if any."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    if not log_dir.is_dir():
        return None
    for info in list_eval_logs(str(log_dir), recursive=False):
        if read_eval_log(info.name, header_only=True).status == "success":
            return info.name.removeprefix("file://")
    return None


def _run(solver: Any, limit: int, log_dir: Path) -> tuple[str, float, bool]:
    """One eval of the task (skipped when already complete): its log, wall seconds, and whether
    it ran in this process."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai.log import read_eval_log

    from bench_quality_local import _eval_seconds

    found = _done(log_dir)
    if found is not None:
        print(f"[bench-router] {log_dir.name}: complete log found, not rerun", file=sys.stderr)
        return found, _eval_seconds(read_eval_log(found, header_only=True)), False
    print(f"[bench-router] {log_dir.name}: running {limit} items", file=sys.stderr)
    log = inspect_eval(TASK, model=None, solver=solver, limit=limit, log_dir=str(log_dir), display="plain")[0]
    if log.status != "success":
        raise SystemExit(f"{log_dir.name}: eval ended {log.status}: {log.error}; rerun the same command to resume")
    return log.location.removeprefix("file://"), _eval_seconds(log), True


def _routing_summary(log_path: str) -> dict[str, Any]:
    """How often each agent was consulted, how many agents per item, where exploration hit."""
    from inspect_ai.log import read_eval_log_samples

    chosen_counts: dict[str, int] = {}
    ks: list[int] = []
    n = 0
    explored = 0
    agents: list[str] = []
    for s in read_eval_log_samples(log_path):
        r = (s.metadata or {}).get("orch", {}).get("router") or {}
        if not r:
            continue
        n += 1
        agents = r.get("agents") or agents
        explored += bool(r.get("explored"))
        ks.append(len(r.get("chosen") or []))
        for slot in r.get("chosen") or []:
            label = agents[slot] if slot < len(agents) else str(slot)
            chosen_counts[label] = chosen_counts.get(label, 0) + 1
    return {
        "items": n,
        "explored_items": explored,
        "mean_agents_consulted": sum(ks) / len(ks) if ks else None,
        "consulted_items_per_agent": chosen_counts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100, help="MMLU test items (first N of mmlu_0_shot's order)")
    ap.add_argument("--calibration-items", type=int, default=100, help="seeded MMLU validation items for the warm start")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {', '.join(SYSTEMS)}")
    ap.add_argument("--log-dir", default=str(ROOT / "logs" / "bench-router-local"))
    ap.add_argument("--quality-log-dir", default=str(ROOT / "logs" / "bench-quality-local"),
                    help="bench_quality_local.py's log dir: its ORCH and single runs are reused when complete")
    ap.add_argument("--output", default=str(HERE / "results" / "router_local"))
    args = ap.parse_args()
    chosen = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SYSTEMS))
    if unknown or "single" not in chosen:
        raise SystemExit(f"--systems: unknown {unknown} (the reference 'single' is required); choose from {SYSTEMS}")

    from orch_eval.core.panel import load_panel
    from orch_eval.core.router import load_state
    from orch_eval.inspect.routing import calibrate
    from orch_eval.inspect.solvers import orch, single

    root = Path(args.log_dir)
    root.mkdir(parents=True, exist_ok=True)
    quality = Path(args.quality_log_dir) / "mmlu"
    local = load_panel("local")
    timings: dict[str, float] = {}
    logs: dict[str, str] = {}

    started = datetime.now(timezone.utc)
    ran_here = False  # did this process run anything (else its peak RSS says nothing)?
    state = root / f"router-state-mmlu-validation-{args.calibration_items}.json"
    if not state.is_file():
        print(f"[bench-router] calibrating on {args.calibration_items} seeded MMLU validation items", file=sys.stderr)
        t0 = time.perf_counter()
        calibrate(load_panel("router-on"), TASK, "validation", state, limit=args.calibration_items,
                  log_dir=str(root / "calibrate"), order="seeded", seed=0)
        timings["calibrate_s"] = time.perf_counter() - t0
        ran_here = True
    warm = load_state(state)

    # a single agent has no dispatcher: its budget stays out of the solver's args, so the task's
    # identity (which eval_set matches against the logs already in the log dir) does not depend on it
    budgets = local.budgets.model_dump(exclude={"dispatch"})
    runs: dict[str, tuple[Any, Path]] = {
        # the same solver and log dirs as bench_quality_local.py: one run serves both benchmarks
        "single": (single(agents=[{"model": REFERENCE_MODEL, "args": {"n_threads": 2}}], budgets=budgets),
                   quality / "single"),
        "local": (orch(panel="local"), quality / "orch"),
        "off": (orch(panel="router-off"), root / "off"),
        "top1": (orch(panel="router-top1", router_state=str(state), router_state_out=str(root / "top1.state.json")),
                 root / "top1"),
        "top1-cold": (orch(panel="router-top1", router_state_out=str(root / "top1-cold.state.json")), root / "top1-cold"),
        "risk": (orch(panel="router-risk", router_state=str(state), router_state_out=str(root / "risk.state.json")),
                 root / "risk"),
        "shadow1": (orch(panel="router-shadow", top_k=1, router_state=str(state),
                         router_state_out=str(root / "shadow1.state.json")), root / "shadow1"),
    }
    # cheapest order: the reference, then the unrouted panels (their analyses feed the routed ones)
    from inspect_ai.log import read_eval_log

    from bench_quality_local import _compare, _eval_seconds, _keep_peak, _ran_since
    from bench_quality_local import _run as quality_run  # eval_set, as that benchmark runs them

    for name in [s for s in SYSTEMS if s in chosen]:
        solver, log_dir = runs[name]
        if name in ("single", "local"):
            qlog = quality_run([TASK], solver, args.items, log_dir)[0]
            logs[name] = qlog.location.removeprefix("file://")
            timings[f"{name}_s"] = _eval_seconds(qlog)
            ran_here |= _ran_since(qlog, started)
        else:
            logs[name], timings[f"{name}_s"], ran = _run(solver, args.items, log_dir)
            ran_here |= ran

    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    names = [n for n in SYSTEMS if n in logs]

    def named(family: list[str]) -> tuple[str, ...]:
        return (*(f for n in family for f in ("--name", n)), "--systems", ",".join(family))

    # (the 1.5B inside the unrouted panel equals its single run: checked below, kept out of the Holm family)
    report = _compare([logs[n] for n in names], "single", out.parent / f"{out.name}_mmlu", extra=named(names))
    # the router's own question, a second family: each routed run against the same panel unrouted
    routed = [n for n in names if n in ("top1", "top1-cold", "risk", "shadow1")]
    vs_off = None
    if "off" in logs and routed:
        fam = ["off", *routed, *(["local"] if "local" in logs else [])]
        vs_off = _compare([logs[n] for n in fam], "off", out.parent / f"{out.name}_mmlu_vs_off",
                          extra=(*named(fam), "--no-derived"))

    # the 1.5B's analysis inside the unrouted panel must equal its single run (same prompt, budget, seed)
    from orch_eval.stats.loaders import load_inspect_log

    consistency = None
    if "off" in logs:
        s = load_inspect_log(logs["single"]).decisions
        o = load_inspect_log(logs["off"]).decisions
        same = sum(1 for i in s if i in o and s[i].agents[0].answer == o[i].agents[3].answer)
        text = sum(1 for i in s if i in o and s[i].agents[0].text == o[i].agents[3].text)
        consistency = {"items": len(s), "same_answer": same, "same_text": text}

    # each routed run's EMA accuracy per agent over the items (as seen when each item was routed)
    from orch_eval.stats.plots import plot_router_ema

    plots = {}
    for n in names:
        if n in ("top1", "top1-cold", "risk", "shadow1"):
            plots[n] = plot_router_ema(logs[n], out.parent / f"{out.name}_{n}_ema.png").name

    summary = {
        "benchmark": "router_local",
        "plots": plots,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/bench_router_local.py", *sys.argv[1:]]),
        "task": TASK,
        "items": args.items,
        "item_ids": [str(i) for i in read_eval_log(logs["single"], header_only=True).eval.dataset.sample_ids or []],
        "calibration": {k: warm.get("provenance", {}).get(k) for k in ("task", "split", "n_items", "order", "items_sha256")},
        "warm_start_ema": {a: {"acc": s["acc"], "n": s["n"], "lat": s["lat"]}
                           for a, s in zip(warm["agents"], warm["stats"]["agents"])},
        "logs": logs,
        "routing": {n: _routing_summary(logs[n]) for n in names if n in ("top1", "top1-cold", "risk", "shadow1")},
        "single_vs_off_agent3": consistency,
        "timings_s": timings,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
        "report": report,
        "report_vs_off": vs_off,
    }
    previous = json.loads(Path(f"{out}.json").read_text()) if Path(f"{out}.json").is_file() else {}
    summary = _keep_peak(summary, previous, ran_here)
    Path(f"{out}.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("report", "report_vs_off")}, indent=2, default=str))


if __name__ == "__main__":
    main()
