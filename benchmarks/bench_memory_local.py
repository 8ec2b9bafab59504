"""(f) Where the local panel's memory goes: resident memory (RSS) after each step, in one fresh
process: the imports, the MMLU and GSM8K datasets of the standard tasks, each GGUF model loaded
(with the threads of solvers/local.yaml), one generation on each, and one ORCH decision.

    python benchmarks/bench_memory_local.py [--eval-items 20]

With ``--eval-items N`` it then runs ORCH through Inspect on the first N MMLU test items (all
samples start at once, as in the demo and the quality benchmark) and records the peak again:
it stays near the one-decision figure since the provider turns llama.cpp's host-memory prompt
cache off (``cache_ram_mib``, docs/local-models.md); with it on, RSS grew with every prompt.
Reads /proc/self/status (VmRSS now, VmHWM the peak so far). Writes
benchmarks/results/memory_local[_<tag>].json (``--tag``). Loading is in-process and shared, as
in an eval: each model file is loaded once per process (orch_eval.models.gguf), memory-mapped
by llama.cpp.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _status() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssFile", "RssAnon"):
            out[key] = int(value.split()[0]) / 1024 / 1024  # kB -> GB
    return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-items", type=int, default=0, help="then run ORCH on N MMLU items through Inspect")
    ap.add_argument("--tag", default="", help="suffix of the result file")
    args = ap.parse_args()
    steps: list[dict[str, object]] = []

    def mark(step: str, **extra: object) -> None:
        s = _status()
        steps.append({"step": step, "rss_gb": round(s["VmRSS"], 3), "peak_gb": round(s["VmHWM"], 3),
                      "anon_gb": round(s.get("RssAnon", 0.0), 3), "file_gb": round(s.get("RssFile", 0.0), 3), **extra})
        print(f"{step:<55} RSS {s['VmRSS']:.2f} GB (anon {s.get('RssAnon', 0):.2f}, file-backed "
              f"{s.get('RssFile', 0):.2f}), peak {s['VmHWM']:.2f} GB", file=sys.stderr)

    mark("python")
    import anyio
    from inspect_ai.model import GenerateConfig, get_model

    import orch_eval.inspect  # noqa: F401  (the registry, as an eval imports it)
    from orch_eval.core.engine import Orchestrator
    from orch_eval.core.panel import load_panel
    from orch_eval.experiment.items import dataset

    mark("imports (inspect_ai, inspect_evals, orch_eval)")
    mmlu = dataset("mmlu_0_shot", {"shuffle": False})
    mark("MMLU test set loaded (mmlu_0_shot)", items=len(mmlu))
    gsm = dataset("gsm8k", {})
    mark("GSM8K test set loaded (gsm8k)", items=len(gsm))

    panel = load_panel("local")
    specs = [*panel.agents, panel.merger]
    models = []
    for spec in specs:
        assert spec is not None
        t0 = time.perf_counter()
        m = get_model(spec.model_name, **spec.args)
        out = anyio.run(lambda m=m: m.generate("Say OK.", config=GenerateConfig(max_tokens=4, temperature=0, seed=0)))
        models.append(m)
        mark(f"+ {spec.model_name} loaded, one generation", seconds=round(time.perf_counter() - t0, 2),
             text=out.completion[:20])

    from orch_eval.inspect.adapt import question_from_sample

    q = question_from_sample(mmlu[0])
    t0 = time.perf_counter()
    d = anyio.run(lambda: Orchestrator(panel, cache=False).decide(q))
    mark("one ORCH decision (3 analyses + merge, MMLU item 0)", seconds=round(time.perf_counter() - t0, 1),
         final=d.final)

    if args.eval_items > 0:
        import tempfile

        from inspect_ai import eval as inspect_eval

        from orch_eval.inspect.solvers import orch

        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            log = inspect_eval("inspect_evals/mmlu_0_shot", model=None, solver=orch(panel="local", cache=False),
                               limit=args.eval_items, display="none", log_dir=tmp)[0]
        mark(f"ORCH through Inspect on {args.eval_items} MMLU items (all started at once)",
             seconds=round(time.perf_counter() - t0, 1), status=log.status)

    summary = {
        "benchmark": "memory_local",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": " ".join(["python", "benchmarks/bench_memory_local.py", *sys.argv[1:]]),
        "panel_digest": panel.digest(),
        "steps": steps,
    }
    out_path = HERE / "results" / f"memory_local{'_' + args.tag if args.tag else ''}.json"
    out_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
