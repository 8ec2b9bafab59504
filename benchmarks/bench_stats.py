"""Benchmark of the statistics layer: 14,000 items x 10 systems with clusters.

Times PairedOutcomes.from_dict, compare(pairs="all", bootstrap=2000) and to_markdown();
writes benchmarks/results/stats.json. Run: .venv/bin/python benchmarks/bench_stats.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from orch_eval.stats import PairedOutcomes, compare


def main(n: int = 14000, k: int = 10, repeats: int = 5) -> dict:
    rng = np.random.default_rng(0)
    ids = [f"item{i}" for i in range(n)]
    latent = rng.uniform(size=n)
    systems = {
        f"model_{j}": dict(zip(ids, ((0.5 * latent + 0.5 * rng.uniform(size=n)) < 0.5 + 0.03 * j).tolist()))
        for j in range(k)
    }
    clusters = {i: f"subject_{h % 57}" for h, i in enumerate(ids)}
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        po = PairedOutcomes.from_dict(systems, clusters)
        t1 = time.perf_counter()
        rep = compare(po, pairs="all", bootstrap=2000, seed=0)
        t2 = time.perf_counter()
        rep.to_markdown()
        t3 = time.perf_counter()
        runs.append({"from_dict_s": t1 - t0, "compare_s": t2 - t1, "to_markdown_s": t3 - t2, "total_s": t3 - t0})
    result = {
        "n_items": n,
        "n_systems": k,
        "n_clusters": 57,
        "n_comparisons": len(rep.comparisons),
        "bootstrap": 2000,
        "median_total_s": statistics.median(r["total_s"] for r in runs),
        "best_total_s": min(r["total_s"] for r in runs),
        "target_s": 2.0,
        "runs": runs,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python benchmarks/bench_stats.py",
    }
    out = Path(__file__).parent / "results" / "stats.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
