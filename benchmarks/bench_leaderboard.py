"""Benchmark of the leaderboard: 30 systems x 3 benchmarks x 14,000 items, synthetic.

Each run is a fresh process (so matplotlib's import, needed for the plot, is counted every
time). Timed: from per-item correctness dicts, as the log loaders deliver them, through
PairedOutcomes, Leaderboard.build (3 x 435 McNemar mid-p tests, Holm, the overall stratified
tests), standings at alpha = 0.05 (rank intervals, letters, Wilson and clustered intervals) to
every output written (index.html with the plot inline, md, csv, json, tex, pairs.csv, the PNG);
no bootstrap. Median of 3 runs; writes benchmarks/results/leaderboard.json.

Run: .venv/bin/python benchmarks/bench_leaderboard.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

N_ITEMS, N_SYSTEMS, BENCHMARKS, CLUSTERS = 14_000, 30, ("mmlu", "mmlu_pro", "gsm8k"), 57
TARGET_S = 5.0


def _data() -> list:
    """Per benchmark: {system: {item: correct}}, cluster labels and per-system details. Systems
    share item difficulty (a latent per item), so their errors are correlated as real ones are;
    neighbours are half a point apart, so many adjacent pairs stay unresolved (more letters)."""
    import numpy as np

    from orch_eval.stats.leaderboard import SystemDetails

    rng = np.random.default_rng(0)
    out = []
    for b, bench in enumerate(BENCHMARKS):
        ids = [f"{bench}/{i}" for i in range(N_ITEMS)]
        latent = rng.uniform(size=N_ITEMS)
        systems, details = {}, {}
        for k in range(N_SYSTEMS):
            skill = 0.60 + 0.15 * k / (N_SYSTEMS - 1) - 0.05 * b  # neighbours 0.5 points apart
            right = (0.5 * latent + 0.5 * rng.uniform(size=N_ITEMS)) < skill
            name = f"model-{k:02d}"
            systems[name] = dict(zip(ids, right.tolist()))
            details[name] = SystemDetails(
                cost_per_item=2e-5 * (k + 1) ** 1.5, latency_per_item=0.2 + 0.05 * k,
                input_tokens_per_item=400.0 + 10 * k, output_tokens_per_item=60.0 + 5 * k,
                calls_per_item=1.0 + (k % 4), abstain_rate=0.002 * (k % 5),
            )
        clusters = {i: f"subject_{h % CLUSTERS}" for h, i in enumerate(ids)} if bench != "gsm8k" else None
        out.append((bench, systems, clusters, details))
    return out


def _one_run() -> dict:
    from orch_eval.stats.leaderboard import BenchmarkInput, Leaderboard, write_outputs
    from orch_eval.stats.outcomes import PairedOutcomes

    data = _data()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        inputs = [
            BenchmarkInput(bench, PairedOutcomes.from_dict(systems, clusters), details)
            for bench, systems, clusters, details in data
        ]
        t1 = time.perf_counter()
        board = Leaderboard.build(inputs)
        t2 = time.perf_counter()
        standings = board.standings(0.05)
        t3 = time.perf_counter()
        written = write_outputs(standings, tmp)
        t4 = time.perf_counter()
        sizes = {name: path.stat().st_size for name, path in written.items()}
    unresolved = {t.key: [len(t.unresolved_adjacent), len(t.adjacent)] for t in standings.tables}
    return {
        "outcomes_s": t1 - t0, "build_s": t2 - t1, "standings_s": t3 - t2, "write_s": t4 - t3, "total_s": t4 - t0,
        "files": sizes, "unresolved_adjacent": unresolved,
        "pairs": sum(len(t.pairs) for t in standings.tables),
    }


def main(repeats: int = 3) -> dict:
    runs = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1])
        runs.append(json.loads(proc.stdout))
    totals = [r["total_s"] for r in runs]
    result = {
        "n_items": N_ITEMS,
        "n_systems": N_SYSTEMS,
        "benchmarks": list(BENCHMARKS),
        "n_clusters": CLUSTERS,
        "pairwise_tests": runs[0]["pairs"],
        "bootstrap": 0,
        "median_total_s": statistics.median(totals),
        "best_total_s": min(totals),
        "target_s": TARGET_S,
        "met": statistics.median(totals) < TARGET_S,
        "runs": runs,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python benchmarks/bench_leaderboard.py",
    }
    out = Path(__file__).parent / "results" / "leaderboard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one_run()))
    else:
        res = main(args.repeats)
        print(json.dumps({k: v for k, v in res.items() if k != "runs"}, indent=2))
