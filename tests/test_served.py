"""Served models end to end: a real llama.cpp HTTP server (`orch-eval serve`, the small catalog
model, 1 slot) on 127.0.0.1, and the unchanged inspect_evals task through `--solver orch_eval/orch`
and `--model orch/...`, and an lm-eval task through `orch-lm-eval`, with agents and merger all
served (two agent slots and the merger on the same server). Each front door runs twice on a cold
cache: the per-item answers must be identical, and usage must be recorded in the Decisions.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from inspect_ai.log import read_eval_log

from tests.conftest import ROOT, subprocess_env
from tests.served import BIN, Serve, metrics, pid_alive

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m-instruct"
SERVED = f"openai-api/llamacpp/{MODEL}"
LIMIT = 2
BUDGETS = {"analysis": 40, "analysis_numeric": 48, "merge": 24, "completion": 8}


def _require_model() -> None:
    from orch_eval.models import catalog

    try:
        catalog.resolve_model_path(MODEL)
    except ValueError as ex:
        if os.environ.get("CI"):
            raise  # CI must have it: scripts/test.sh pulls it
        pytest.skip(str(ex))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Serve, Path]]:
    _require_model()
    folder = tmp_path_factory.mktemp("served")
    serve = Serve(folder, MODEL, port=0)
    panel = serve.panel()
    slot = panel["agents"][0]
    panel["agents"] = [slot, {**slot, "lens": "elimination"}]
    panel["budgets"] = BUDGETS
    panel["name"] = "served-test"
    path = folder / "panel.yaml"
    path.write_text(yaml.safe_dump(panel, sort_keys=False))
    yield serve, path
    pid = serve.server_pid
    assert serve.stop() == 0, serve.log_path.read_text()[-2000:]  # SIGTERM: a clean stop
    assert not pid_alive(pid), "the server process outlived orch-eval serve"
    assert "stopped" in serve.log_path.read_text()


def _run(args: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args, capture_output=True, text=True, env=subprocess_env(INSPECT_CACHE_DIR=str(cache)), cwd=ROOT, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _inspect(args: list[str], out: Path) -> Any:
    _run([str(BIN / "inspect"), "eval", "inspect_evals/mmlu_0_shot", "--limit", str(LIMIT), *args,
          "--log-dir", str(out / "logs"), "--display", "none", "--log-format", "eval", "--max-samples", "2"],
         out / "cache")
    (log_file,) = (out / "logs").glob("*.eval")
    log = read_eval_log(str(log_file))
    assert log.status == "success" and log.samples is not None and len(log.samples) == LIMIT
    return log


def _answers(decisions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Everything a Decision says that must not change between runs (not latencies)."""
    return {
        item: (
            d["final"], d["decided_by"],
            [(a["answer"], a["text"], a["fault"]) for a in d["agents"]],
            None if d["merge"] is None else (d["merge"]["answer"], d["merge"]["text"]),
        )
        for item, d in decisions.items()
    }


def _check_usage(decisions: dict[str, dict[str, Any]]) -> None:
    for item, d in decisions.items():
        assert [a["model"] for a in d["agents"]] == [SERVED, SERVED]
        for a in d["agents"]:
            assert a["fault"] in (None, "unparsable"), (item, a["error"])  # the server answered
            assert a["usage"]["input_tokens"] > 0 and a["usage"]["output_tokens"] > 0, item
        if d["merge"] is not None:
            assert d["merge"]["usage"]["input_tokens"] > 0 and d["merge"]["usage"]["output_tokens"] > 0


def test_solver_and_provider_over_http_are_deterministic(server: tuple[Serve, Path], tmp_path: Path) -> None:
    serve, panel = server
    before = metrics(serve.url)["prompt_tokens_total"]
    solver = ["--model", "none", "--solver", "orch_eval/orch", "-S", f"panel={panel}"]
    provider = ["--model", "orch/served", "-M", f"panel={panel}"]
    runs: dict[str, list[dict[str, Any]]] = {"solver": [], "provider": []}
    for run in (1, 2):  # two cold runs each: a fresh Inspect cache every time
        log = _inspect(solver, tmp_path / f"solver{run}")
        runs["solver"].append({str(s.id): s.metadata["orch"] for s in log.samples})
        usage = log.stats.model_usage[SERVED]
        assert usage.input_tokens > 0 and usage.output_tokens > 0
        log = _inspect(provider, tmp_path / f"provider{run}")
        runs["provider"].append({str(s.id): s.output.metadata["orch"] for s in log.samples})
        assert log.stats.model_usage[SERVED].output_tokens > 0
        assert "orch/served" not in log.stats.model_usage or log.stats.model_usage["orch/served"].total_tokens == 0
    for door, (first, second) in runs.items():
        _check_usage(first)
        assert _answers(first) == _answers(second), door
    # the calls really went over HTTP to this server (its own token counter moved)
    assert metrics(serve.url)["prompt_tokens_total"] > before


def test_lm_eval_over_http_is_deterministic(server: tuple[Serve, Path], tmp_path: Path) -> None:
    pytest.importorskip("lm_eval")
    _, panel = server
    runs = []
    for run in (1, 2):
        out = tmp_path / f"lm{run}"
        _run([str(BIN / "orch-lm-eval"), "--model", "orch", "--model_args", f"panel={panel}",
              "--tasks", "mmlu_abstract_algebra", "--limit", str(LIMIT), "--log_samples", "--output_path", str(out)],
             out / "cache")
        (side,) = out.rglob("orch_decisions_mmlu_abstract_algebra_*.jsonl")
        records = [json.loads(line) for line in side.read_text().splitlines() if line.strip()]
        assert len(records) == LIMIT
        runs.append({str(r["doc_id"]): r["decision"] for r in records})
        (samples,) = out.rglob("samples_mmlu_abstract_algebra_*.jsonl")
        assert all("acc" in json.loads(line) for line in samples.read_text().splitlines() if line.strip())
    _check_usage(runs[0])
    assert _answers(runs[0]) == _answers(runs[1])


def test_serve_sizes_the_context_by_ctx_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """`--ctx N --slots S` gives each of the server's S slots a context of N tokens, rounded up by
    llama.cpp to a multiple of 256 (640 -> 768, per slot: not ctx x slots = 1280, which is one), and
    the command prints the size the server uses; SIGINT (what Ctrl-C sends) stops the server and the
    command cleanly, with code 0 and no server process left."""
    import signal
    import urllib.request

    _require_model()
    serve = Serve(tmp_path, MODEL, port=0, extra=["--ctx", "640", "--slots", "2"])
    try:
        base = serve.url.removesuffix("/v1")
        props = json.loads(urllib.request.urlopen(base + "/props", timeout=10).read())
        slots = json.loads(urllib.request.urlopen(base + "/slots", timeout=10).read())
        assert props["default_generation_settings"]["n_ctx"] == 768 and props["total_slots"] == 2, props
        assert [s["n_ctx"] for s in slots] == [768, 768], slots
        assert serve.info[0]["slots"] == 2
        assert "768 tokens per request (--ctx 640, rounded up by llama.cpp)" in serve.log_path.read_text()
    finally:
        pid = serve.server_pid
        code = serve.stop(signal.SIGINT)
    log = serve.log_path.read_text()
    assert code == 0, log[-2000:]
    assert not pid_alive(pid), "the server process outlived orch-eval serve after SIGINT"
    assert log.rstrip().endswith("orch-eval serve: stopped"), log[-2000:]
