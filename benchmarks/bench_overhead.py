"""(b) Orchestration overhead and (c) cached rerun, with instant fake models.

(b) The same 1,000 MMLU items through the real `inspect_evals/mmlu_0_shot` task three ways:
  - `plain`: a solver that makes the same four `generate()` calls ORCH makes (three agents
    concurrently, then the merger) with fixed prompts and nothing else;
  - `orch`: the `orch_eval/orch` solver (prompts, parsing, neutralised merge prompt, Decision
    records, metadata);
  - `task`: the task's own solver with one model (for scale).
  Overhead = (orch − plain) wall time / items, in ms. Target < 5 ms per item.
(c) The ORCH run again with a warm cache: model calls (target 0) and wall time relative to the
  first (cold) run.

    python benchmarks/bench_overhead.py [--items 1000] [--repeats 3]

Writes benchmarks/results/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("ORCH_EVAL_FAULT_SUMMARY", "0")  # measure the engine, not the end-of-run hook

AGENTS = [f"orchfake/gold:p=0.7:seed=o{i}" for i in range(3)]
MERGER = "orchfake/vote"


def plain_solver():  # type: ignore[no-untyped-def]
    """Four generate() calls per item (3 concurrent + 1), no orchestration logic."""
    from inspect_ai.model import get_model
    from inspect_ai.solver import Generate, TaskState, solver

    from orch_eval.core.engine import gather

    @solver
    def plain4():  # type: ignore[no-untyped-def]
        async def solve(state: TaskState, generate: Generate) -> TaskState:
            agents = [get_model(a) for a in AGENTS]
            outs = await gather([lambda m=m: m.generate(state.input_text) for m in agents])
            state.output = await get_model(MERGER).generate("\n".join(o.completion for o in outs))
            return state

        return solve

    return plain4()


def timed_eval(solver, items: int, cache_dir: str, **kwargs) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    from inspect_ai import eval as inspect_eval

    os.environ["INSPECT_CACHE_DIR"] = cache_dir
    with tempfile.TemporaryDirectory() as logs:
        start = time.perf_counter()
        log = inspect_eval(
            "inspect_evals/mmlu_0_shot",
            solver=solver,
            limit=items,
            max_samples=50,
            display="none",
            log_dir=logs,
            log_samples=True,
            **kwargs,
        )[0]
        wall = time.perf_counter() - start
        assert log.status == "success", log.error
    return wall, log


def run_once(items: int) -> dict[str, float]:
    from orch_eval.inspect.solvers import orch
    from orch_eval.models.fake import call_counts, reset_call_counts

    roles = {"agents": AGENTS, "merger": MERGER}
    with tempfile.TemporaryDirectory() as cache:
        t_task, _ = timed_eval(None, items, cache, model=AGENTS[0])
        t_plain, _ = timed_eval(plain_solver(), items, cache, model=None, model_roles=roles)
        t_orch, _ = timed_eval(orch(cache=False), items, cache, model=None, model_roles=roles)
        # (c) cold then warm cache
        reset_call_counts()
        t_cold, _ = timed_eval(orch(), items, cache, model=None, model_roles=roles)
        cold_calls = sum(call_counts().values())
        reset_call_counts()
        t_warm, _ = timed_eval(orch(), items, cache, model=None, model_roles=roles)
        warm_calls = sum(call_counts().values())
    return {
        "task_ms_per_item": 1000 * t_task / items,
        "plain4_ms_per_item": 1000 * t_plain / items,
        "orch_ms_per_item": 1000 * t_orch / items,
        "overhead_ms_per_item": 1000 * (t_orch - t_plain) / items,
        "cold_s": t_cold,
        "warm_s": t_warm,
        "warm_over_cold": t_warm / t_cold,
        "cold_calls": cold_calls,
        "warm_calls": warm_calls,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--output", default=str(HERE / "results" / "overhead.json"))
    args = ap.parse_args()
    runs = [run_once(args.items) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    result = {
        "benchmark": "overhead+cached_rerun",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": f"python benchmarks/bench_overhead.py --items {args.items} --repeats {args.repeats}",
        "items": args.items,
        "median": med,
        "target_overhead_ms": 5.0,
        "meets_overhead_target": med["overhead_ms_per_item"] < 5.0,
        "meets_cache_target": all(r["warm_calls"] == 0 for r in runs),
        "runs": runs,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
