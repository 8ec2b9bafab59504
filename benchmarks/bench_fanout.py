"""(a) Parallel fan-out: ORCH per-item time over (slowest agent + merger).

Fake agents of 200/300/400 ms and a 300 ms merger (latency-bound, no CPU), 100 MMLU items
through the real `inspect_evals/mmlu_0_shot` task, 10 samples at once. If the agents run
concurrently an item costs about 0.4 + 0.3 = 0.7 s; run one after another it would cost
0.2 + 0.3 + 0.4 + 0.3 = 1.2 s (ratio 1.71). Target: ratio <= 1.15.

    python benchmarks/bench_fanout.py [--items 100] [--repeats 3]

Writes benchmarks/results/fanout.json.
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

AGENTS = [f"orchfake/gold:p=0.7:seed=f{i}:latency={ms}" for i, ms in enumerate((200, 300, 400))]
MERGER = "orchfake/vote:latency=300"
IDEAL = 0.4 + 0.3
SERIAL = 0.2 + 0.3 + 0.4 + 0.3


def run_once(items: int, max_samples: int) -> dict[str, float]:
    from inspect_ai import eval as inspect_eval

    from orch_eval.inspect.solvers import orch

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INSPECT_CACHE_DIR"] = tmp  # cold cache: every call really waits
        start = time.perf_counter()
        log = inspect_eval(
            "inspect_evals/mmlu_0_shot",
            model=None,
            solver=orch(cache=False),
            model_roles={"agents": AGENTS, "merger": MERGER},
            limit=items,
            max_samples=max_samples,
            display="none",
            log_dir=tmp,
        )[0]
        wall = time.perf_counter() - start
        assert log.status == "success" and log.samples is not None
        per_item = [s.total_time for s in log.samples if s.total_time is not None]
    return {
        "wall_s": wall,
        "median_item_s": statistics.median(per_item),
        "ratio_item": statistics.median(per_item) / IDEAL,
        "ratio_wall": wall / (items / max_samples * IDEAL),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--max-samples", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--output", default=str(HERE / "results" / "fanout.json"))
    args = ap.parse_args()
    runs = [run_once(args.items, args.max_samples) for _ in range(args.repeats)]
    result = {
        "benchmark": "fanout",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python benchmarks/bench_fanout.py "
        f"--items {args.items} --max-samples {args.max_samples} --repeats {args.repeats}",
        "agents_ms": [200, 300, 400],
        "merger_ms": 300,
        "ideal_item_s": IDEAL,
        "serial_item_s": SERIAL,
        "median_ratio_item": statistics.median(r["ratio_item"] for r in runs),
        "median_ratio_wall": statistics.median(r["ratio_wall"] for r in runs),
        "serial_ratio": SERIAL / IDEAL,
        "target": 1.15,
        "runs": runs,
    }
    result["meets_target"] = result["median_ratio_item"] <= result["target"]
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
