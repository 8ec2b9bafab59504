"""Served models: in-process vs HTTP, determinism over slots, throughput, the orchestrator, shards.

Parts (``--only a,b,...``; each rewrites its JSON under benchmarks/results/):

- ``http``: the same ORCH eval in-process (``gguf/``) and over llama.cpp HTTP servers
  (``orch-eval serve``, 1 slot): answers compared item by item; and the per-call overhead of the
  HTTP path (the same 1-token request, alternating in-process and HTTP) -> served_http.json
- ``slots``: the share of items whose Decisions differ between two cold runs of one ORCH eval over
  one server with 1, 2 and 4 slots (``--max-samples 4``, so requests are batched) -> served_slots.json
- ``throughput``: qwen2.5-coder-1.5b-instruct served with 1, 2 and 4 slots under 4 concurrent
  clients, generated tokens per second -> served_throughput.json
- ``orchestrator``: items/s of one orchestrating process against ``--max-samples`` on fake agents
  of 200-400 ms (no model CPU) -> served_orchestrator.json
- ``shards``: items/s of ``orch-eval run --shard i/N`` run as 1, 2 and 4 parallel processes on the
  same fake agents -> served_shards.json

    python benchmarks/bench_served.py [--only http,slots,throughput,orchestrator,shards]
"""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
os.environ.setdefault("HF_DATASETS_CACHE", str(ROOT / ".cache" / "hf_datasets"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent


_START: dict[str, Any] = {}
"""When the current part started (set by main before each part)."""


def _started() -> None:
    _START.update(date=datetime.now(timezone.utc).isoformat(timespec="seconds"), load=os.getloadavg(),
                  t=time.perf_counter())


def _meta(command: str) -> dict[str, Any]:
    return {
        "date": _START.get("date") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_start": _START.get("load") or os.getloadavg(),
        "part_wall_s": time.perf_counter() - _START["t"] if "t" in _START else None,
        "command": command,
    }


def _write(name: str, result: dict[str, Any]) -> None:
    result["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("items", "runs")}, indent=2), flush=True)


def _start(models: list[str], slots: int, threads: int) -> tuple[Any, list[Any]]:
    from orch_eval.models.serve import ServerProcess, ServerSpec

    servers = [ServerProcess.start(ServerSpec(m, port=0, slots=slots, threads=threads)) for m in models]
    return None, servers


def _eval(panel: Any, items: int, max_samples: int, cache: str) -> Any:
    from inspect_ai import eval as inspect_eval

    from orch_eval.inspect.solvers import orch

    os.environ["INSPECT_CACHE_DIR"] = cache
    with tempfile.TemporaryDirectory() as logs:
        (log,) = inspect_eval("inspect_evals/mmlu_0_shot", model=None, solver=orch(panel=panel), limit=items,
                              max_samples=max_samples, display="none", log_dir=logs)
    assert log.status == "success", log.error
    return log


def _decisions(log: Any) -> dict[str, dict[str, Any]]:
    from orch_eval.core.decision import DECISION_KEY

    return {str(s.id): s.metadata[DECISION_KEY] for s in log.samples}


def _key(d: dict[str, Any]) -> Any:
    return (d["final"], [(a["answer"], a["text"]) for a in d["agents"]], (d["merge"] or {}).get("text"))


# ------------------------------------------------------------------------------------------ http

HTTP_MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct"]


def _gguf_panel(threads: int) -> dict[str, Any]:
    args = {"n_threads": threads}
    return {"name": "bench-http", "agents": [{"model": f"gguf/{HTTP_MODELS[0]}", "args": args},
                                             {"model": f"gguf/{HTTP_MODELS[1]}", "args": args}],
            "merger": {"model": f"gguf/{HTTP_MODELS[1]}", "args": args},
            "budgets": {"analysis": 128, "merge": 64, "completion": 12}}


def part_http(items: int, threads: int, overhead_calls: int) -> None:
    from orch_eval.models.serve import served_panel

    gguf = _gguf_panel(threads)
    _, servers = _start(HTTP_MODELS, 1, threads)
    try:
        urls = {s.spec.name: s.base_url for s in servers}
        http = served_panel(gguf, urls, slots=1)
        runs = {}
        for label, panel in (("in_process", gguf), ("http", http)):
            with tempfile.TemporaryDirectory() as cache:
                t = time.perf_counter()
                log = _eval(panel, items, 2, cache)
                runs[label] = {"wall_s": time.perf_counter() - t, "decisions": _decisions(log)}
        a, b = runs["in_process"]["decisions"], runs["http"]["decisions"]
        same_final = [i for i in a if a[i]["final"] == b[i]["final"]]
        same_all = [i for i in a if _key(a[i]) == _key(b[i])]
        calls = {lab: [x["latency"] for d in r["decisions"].values() for x in d["agents"] if x["consulted"]]
                 for lab, r in runs.items()}
        overhead = asyncio.run(_overhead(urls[HTTP_MODELS[0]], threads, overhead_calls))
    finally:
        for s in servers:
            s.stop()
    _write("served_http.json", {
        "benchmark": "served_http", **_meta(f"python benchmarks/bench_served.py --only http --items {items} "
                                            f"--threads {threads} --overhead-calls {overhead_calls}"),
        "models": HTTP_MODELS, "panel": gguf, "items_n": items,
        "same_final": len(same_final), "same_decision": len(same_all),
        "differ": sorted(set(a) - set(same_all)),
        "wall_s": {k: v["wall_s"] for k, v in runs.items()},
        "mean_analysis_latency_s": {k: statistics.mean(v) for k, v in calls.items()},
        "overhead": overhead,
        "items": {i: {"in_process": _key(a[i]), "http": _key(b[i])} for i in a},
    })


async def _overhead(url: str, threads: int, n: int) -> dict[str, Any]:
    """The same 1-token request in-process and over HTTP, alternating; medians of the wall time."""
    from inspect_ai.model import GenerateConfig, get_model

    local = get_model(f"gguf/{HTTP_MODELS[0]}", n_threads=threads)
    served = get_model(f"openai-api/llamacpp/{HTTP_MODELS[0]}", base_url=url, api_key="unused")
    cfg = GenerateConfig(temperature=0, seed=0, max_tokens=1, max_connections=1)
    times: dict[str, list[float]] = {"in_process": [], "http": []}
    for k in range(n + 2):
        for label, model in (("in_process", local), ("http", served)):
            t = time.perf_counter()
            await model.generate(f"Say yes. ({k})", config=cfg, cache=False)
            if k >= 2:  # two warm-up rounds
                times[label].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"calls": n, "median_s": med, "http_minus_in_process_ms": 1000 * (med["http"] - med["in_process"]),
            "all_s": times}


# ------------------------------------------------------------------------------------------ slots

SLOTS_MODEL = "smollm2-135m-instruct"


def part_slots(items: int, threads: int, max_samples: int) -> None:
    from orch_eval.models.serve import served_panel

    base = {"name": "bench-slots", "agents": [{"model": f"gguf/{SLOTS_MODEL}"},
                                              {"model": f"gguf/{SLOTS_MODEL}", "lens": "elimination"}],
            "merger": {"model": f"gguf/{SLOTS_MODEL}"}, "budgets": {"analysis": 96, "merge": 48}}
    out: dict[str, Any] = {}
    for slots in (1, 2, 4):
        _, (server,) = _start([SLOTS_MODEL], slots, threads)
        try:
            panel = served_panel(base, {SLOTS_MODEL: server.base_url}, slots=slots)
            runs = []
            for _ in range(2):
                with tempfile.TemporaryDirectory() as cache:
                    t = time.perf_counter()
                    runs.append((_decisions(_eval(panel, items, max_samples, cache)), time.perf_counter() - t))
        finally:
            server.stop()
        (a, ta), (b, tb) = runs
        final = [i for i in a if a[i]["final"] != b[i]["final"]]
        any_text = [i for i in a if _key(a[i]) != _key(b[i])]
        calls = sum(1 for d in a.values() for x in d["agents"]) + sum(1 for d in a.values() if d["merge"])
        diff_calls = sum(1 for i in a for x, y in zip(a[i]["agents"], b[i]["agents"]) if x["text"] != y["text"]) + sum(
            1 for i in a if (a[i]["merge"] or {}).get("text") != (b[i]["merge"] or {}).get("text"))
        out[str(slots)] = {"items_final_differ": len(final), "items_any_text_differs": len(any_text),
                           "calls": calls, "calls_text_differs": diff_calls, "wall_s": [ta, tb],
                           "share_items_final_differ": len(final) / len(a),
                           "share_items_any_text_differs": len(any_text) / len(a)}
        print(slots, out[str(slots)], flush=True)
    _write("served_slots.json", {
        "benchmark": "served_slots", **_meta(f"python benchmarks/bench_served.py --only slots --items {items} "
                                             f"--threads {threads} --max-samples {max_samples}"),
        "model": SLOTS_MODEL, "panel": base, "items_n": items, "max_samples": max_samples, "by_slots": out,
    })


# ------------------------------------------------------------------------------------------ throughput

TP_MODEL = "qwen2.5-coder-1.5b-instruct"


async def _load(url: str, clients: int, seconds: float, max_tokens: int) -> dict[str, Any]:
    from inspect_ai.model import GenerateConfig, get_model

    model = get_model(f"openai-api/llamacpp/{TP_MODEL}", base_url=url, api_key="unused")
    cfg = GenerateConfig(temperature=0, seed=0, max_tokens=max_tokens, max_connections=clients)
    tokens = calls = 0
    end = time.perf_counter() + seconds
    start = time.perf_counter()

    async def client(c: int) -> None:
        nonlocal tokens, calls
        k = 0
        while time.perf_counter() < end:
            out = await model.generate(f"Explain step by step why {c * 1000 + k} is even or odd.", config=cfg,
                                       cache=False)
            tokens += out.usage.output_tokens if out.usage else 0
            calls += 1
            k += 1

    await asyncio.gather(*(client(c) for c in range(clients)))
    wall = time.perf_counter() - start
    return {"output_tokens": tokens, "calls": calls, "wall_s": wall, "tok_per_s": tokens / wall}


def part_throughput(threads: int, clients: int, seconds: float, max_tokens: int) -> None:
    out = {}
    for slots in (1, 2, 4):
        _, (server,) = _start([TP_MODEL], slots, threads)
        try:
            load = os.getloadavg()
            out[str(slots)] = {**asyncio.run(_load(server.base_url, clients, seconds, max_tokens)), "load_before": load}
        finally:
            server.stop()
        print(slots, out[str(slots)], flush=True)
    _write("served_throughput.json", {
        "benchmark": "served_throughput", **_meta(f"python benchmarks/bench_served.py --only throughput --threads "
                                                  f"{threads} --clients {clients} --seconds {seconds} --max-tokens {max_tokens}"),
        "model": TP_MODEL, "clients": clients, "by_slots": out,
    })


# ------------------------------------------------------------------------------------------ orchestrator

FAKE_AGENTS = [f"orchfake/gold:p=0.7:seed=f{i}:latency={ms}" for i, ms in enumerate((200, 300, 400))]
FAKE_MERGER = "orchfake/vote:latency=300"
IDEAL_ITEM_S = 0.4 + 0.3


def part_orchestrator(items: int, samples: list[int]) -> None:
    from inspect_ai import eval as inspect_eval

    from orch_eval.inspect.solvers import orch

    out = {}
    for n in samples:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["INSPECT_CACHE_DIR"] = tmp
            cpu0 = time.process_time()
            t = time.perf_counter()
            (log,) = inspect_eval("inspect_evals/mmlu_0_shot", model=None, solver=orch(cache=False),
                                  model_roles={"agents": FAKE_AGENTS, "merger": FAKE_MERGER}, limit=items,
                                  max_samples=n, display="none", log_dir=tmp)
            wall = time.perf_counter() - t
            cpu = time.process_time() - cpu0
        assert log.status == "success"
        ideal = max(items / n, 1) * IDEAL_ITEM_S
        out[str(n)] = {"wall_s": wall, "items_per_s": items / wall, "ideal_wall_s": ideal,
                       "ideal_items_per_s": items / ideal, "cpu_s": cpu, "cpu_share": cpu / wall}
        print(n, out[str(n)], flush=True)
    _write("served_orchestrator.json", {
        "benchmark": "served_orchestrator", **_meta(f"python benchmarks/bench_served.py --only orchestrator --items "
                                                    f"{items} --samples {','.join(map(str, samples))}"),
        "agents": FAKE_AGENTS, "merger": FAKE_MERGER, "items_n": items, "by_max_samples": out,
    })


# ------------------------------------------------------------------------------------------ shards


def part_shards(items: int, max_samples: int, shard_counts: list[int]) -> None:
    import yaml

    out = {}
    for n in shard_counts:
        with tempfile.TemporaryDirectory() as tmp:
            exp = Path(tmp) / "exp.yaml"
            exp.write_text(yaml.safe_dump({
                "name": "bench-shards",
                "panel": {"name": "fake", "agents": FAKE_AGENTS, "merger": FAKE_MERGER},
                "benchmarks": [{"task": "mmlu_0_shot", "items": {"n": items, "order": "first"}}],
                "systems": ["orch"], "reference": None, "report": {"bootstrap": 0, "plots": False},
            }))
            env = {**os.environ, "INSPECT_CACHE_DIR": str(Path(tmp) / "cache")}
            t = time.perf_counter()
            procs = [subprocess.Popen([str(BIN / "orch-eval"), "run", str(exp), "--log-dir", str(Path(tmp) / "logs"),
                                       "--display", "none", "--max-samples", str(max_samples),
                                       *(["--shard", f"{i}/{n}"] if n > 1 else [])],
                                      env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                     for i in range(1, n + 1)]
            errs = [p.communicate()[1] for p in procs]
            wall = time.perf_counter() - t
            assert all(p.returncode == 0 for p in procs), errs
            report = json.loads((Path(tmp) / "logs" / "report.json").read_text())
        out[str(n)] = {"wall_s": wall, "items_per_s": items / wall, "report_items": report["items"]}
        print(n, {k: v for k, v in out[str(n)].items() if k != "report_items"}, flush=True)
    _write("served_shards.json", {
        "benchmark": "served_shards", **_meta(f"python benchmarks/bench_served.py --only shards --items {items} "
                                              f"--max-samples {max_samples} --shard-counts {','.join(map(str, shard_counts))}"),
        "agents": FAKE_AGENTS, "merger": FAKE_MERGER, "items_n": items, "max_samples_per_shard": max_samples,
        "by_shards": {k: {kk: vv for kk, vv in v.items() if kk != "report_items"} for k, v in out.items()},
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="http,slots,throughput,orchestrator,shards")
    ap.add_argument("--items", type=int, default=None, help="items (default per part: http 12, slots 16, "
                    "orchestrator 1000, shards 1000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--overhead-calls", type=int, default=30)
    ap.add_argument("--max-samples", type=int, default=None, help="slots: 4; shards: 200 per shard")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--samples", default="10,50,200,500")
    ap.add_argument("--shard-counts", default="1,2,4")
    args = ap.parse_args()
    parts = args.only.split(",")
    if "http" in parts:
        _started()
        part_http(args.items or 12, args.threads, args.overhead_calls)
    if "slots" in parts:
        _started()
        part_slots(args.items or 16, args.threads, args.max_samples or 4)
    if "throughput" in parts:
        _started()
        part_throughput(args.threads, args.clients, args.seconds, args.max_tokens)
    if "orchestrator" in parts:
        _started()
        part_orchestrator(args.items or 1000, [int(x) for x in args.samples.split(",")])
    if "shards" in parts:
        _started()
        part_shards(args.items or 1000, args.max_samples or 200, [int(x) for x in args.shard_counts.split(",")])


if __name__ == "__main__":
    main()
