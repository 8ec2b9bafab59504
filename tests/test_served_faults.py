"""Faults on the served path become the engine's recorded, deterministic fallbacks.

1. Over real HTTP (our own OpenAI-compatible fake server, `tests/httpfake.py`): a 500, a 429, a
   server that hangs past `attempt_timeout`, and a transient 429, each on its own agent slot of one
   panel, through the unchanged inspect_evals task. Inspect's retries stop at the configured limits
   (requests counted at the server), the faults are recorded, the merge still decides, and a second
   cold run records the same Decisions.
2. A real llama.cpp server (`orch-eval serve`) SIGKILLed mid-run: the eval completes, the lost
   calls are recorded faults with fallbacks; after a restart on the same port, the same eval with
   the same Inspect cache takes the items decided before the kill from the cache (no request) and
   makes exactly the missing calls (the new server's prompt-token counter equals the input tokens
   of the rerun's uncached calls).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from inspect_ai import eval as inspect_eval
from inspect_ai.log import read_eval_log

from orch_eval.inspect.solvers import orch
from tests.conftest import ROOT, subprocess_env
from tests.httpfake import FakeOpenAI
from tests.served import BIN, Serve, free_port, metrics, pid_alive

pytestmark = pytest.mark.slow

FAST_FAIL = {"max_retries": 1, "timeout": 30}


def _slot(fake: FakeOpenAI, mode: str) -> dict[str, Any]:
    config = {"max_connections": 4, **FAST_FAIL, **({"attempt_timeout": 2} if mode == "hang" else {})}
    return {"model": f"openai-api/fake/{mode}", "args": {"base_url": fake.url(mode), "api_key": "unused"},
            "config": config}


def _decisions(log: Any) -> dict[str, dict[str, Any]]:
    return {str(s.id): s.metadata["orch"] for s in log.samples}


def test_http_faults_are_recorded_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOpenAI()
    try:
        modes = ["ok", "500", "429", "hang", "flaky429"]
        panel = {"name": "http-faults", "agents": [_slot(fake, m) for m in modes], "merger": _slot(fake, "ok"),
                 "budgets": {"analysis": 64, "merge": 32}}
        runs = []
        for run in (1, 2):
            monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / f"cache{run}"))
            start = dict(fake.requests)
            (log,) = inspect_eval("inspect_evals/mmlu_0_shot", model=None, solver=orch(panel=panel), limit=2,
                                  max_samples=2, display="none", log_dir=str(tmp_path / f"logs{run}"))
            assert log.status == "success" and log.samples is not None and len(log.samples) == 2
            sent = {m: fake.requests[m] - start.get(m, 0) for m in fake.requests}
            # bounded retries: per call, Inspect's 1 + max_retries attempts, each up to 3 requests (the
            # openai client's own 2 retries); a hung attempt is cut by attempt_timeout (no client retry)
            assert sent["500"] == 2 * 2 * 3 and sent["429"] == 2 * 2 * 3, sent
            assert sent["hang"] == 2 * 2, sent
            # the first request of a prompt gets a 429, the client's retry succeeds (the fake remembers
            # prompts across runs: the second run gets no 429)
            assert sent["flaky429"] == (2 * 2 if run == 1 else 2), sent
            runs.append(_decisions(log))
        for item, d in runs[0].items():
            ok, e500, e429, hang, flaky = d["agents"]
            assert ok["fault"] is None and ok["answer"] is not None
            assert e500["fault"] == "error" and e500["error"].startswith("InternalServerError: Error code: 500")
            assert e429["fault"] == "error" and e429["error"].startswith("RateLimitError: Error code: 429")
            assert hang["fault"] == "error" and hang["error"].startswith("AttemptTimeoutError")
            for a in (e500, e429, hang):
                assert "gave up after 2 attempts" in a["error"] and a["answer"] is None
            assert flaky["fault"] is None and flaky["answer"] == ok["answer"]  # a transient fault leaves no trace
            assert d["decided_by"] == "merger" and d["final"] is not None
            assert runs[1][item]["final"] == d["final"]
            assert [(a["answer"], a["fault"], a["error"]) for a in runs[1][item]["agents"]] == [
                (a["answer"], a["fault"], a["error"]) for a in d["agents"]
            ]
    finally:
        fake.close()


# ------------------------------------------------------------------------------------ the kill test

MODEL = "smollm2-135m-instruct"
ITEMS = 12


def _require_model() -> None:
    from orch_eval.models import catalog

    try:
        catalog.resolve_model_path(MODEL)
    except ValueError as ex:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(ex))


def _cache_entries(cache: Path) -> int:
    return sum(1 for p in cache.rglob("*") if p.is_file())


def _eval_cmd(panel: Path, logs: Path, max_samples: int) -> list[str]:
    return [str(BIN / "inspect"), "eval", "inspect_evals/mmlu_0_shot", "--limit", str(ITEMS), "--model", "none",
            "--solver", "orch_eval/orch", "-S", f"panel={panel}", "--max-samples", str(max_samples), "--log-dir", str(logs),
            "--display", "none", "--log-format", "eval"]


def _uncached_input_tokens(log: Any) -> tuple[int, int]:
    """(number of model calls that reached the server, their input tokens) in a log's events."""
    calls = tokens = 0
    for s in log.samples:
        for e in s.events:
            if getattr(e, "event", None) == "model" and e.cache != "read" and e.error is None and e.output.usage:
                calls += 1
                tokens += e.output.usage.input_tokens
    return calls, tokens


def test_server_killed_mid_run_then_rerun_completes_from_cache(tmp_path: Path) -> None:
    _require_model()
    port = free_port()
    cache = tmp_path / "cache"
    env = subprocess_env(INSPECT_CACHE_DIR=str(cache))
    serve = Serve(tmp_path / "serve1", MODEL, port=port)
    panel = serve.panel()
    slot = panel["agents"][0]
    slot["config"].update(FAST_FAIL)
    # small budgets; the answer-completion step turns cut-off analyses into answers, so merges run
    panel.update(agents=[slot, {**slot, "lens": "elimination"}], merger=slot,
                 budgets={"analysis": 48, "merge": 16, "completion": 12}, name="served-kill")
    panel_path = tmp_path / "panel.yaml"
    panel_path.write_text(yaml.safe_dump(panel, sort_keys=False))

    # one item at a time before the kill (so the first items are whole when it comes), four after the restart
    run1 = subprocess.Popen(_eval_cmd(panel_path, tmp_path / "logs1", 1), env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    while _cache_entries(cache) < 12:  # about three items' calls (analyses, completion steps, merge) are done
        assert run1.poll() is None, run1.stdout.read() if run1.stdout else ""
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.2)
    os.kill(serve.server_pid, 9)  # SIGKILL: the server dies as an OOM-killed one would
    out, _ = run1.communicate(timeout=900)
    assert run1.returncode == 0, out[-3000:]
    assert serve.proc.wait(30) == 1  # orch-eval serve noticed and exited 1, saying which server died
    assert "exited with code -9" in serve.log_path.read_text()
    serve.out.close()

    (log1_file,) = (tmp_path / "logs1").glob("*.eval")
    log1 = read_eval_log(str(log1_file))
    assert log1.status == "success" and len(log1.samples) == ITEMS  # the eval completed
    first = _decisions(log1)
    # decided before the kill: no call of the item failed (no error recorded on any analysis or merge)
    clean = {i for i, d in first.items() if not any(r["error"] for r in [*d["agents"], *([d["merge"]] if d["merge"] else [])])}
    hit = set(first) - clean
    assert len(clean) >= 2 and len(hit) >= ITEMS // 2, (len(clean), len(hit))
    for i in hit:
        d = first[i]
        for a in [*d["agents"], *([d["merge"]] if d["merge"] else [])]:
            if a["fault"] == "error":
                assert a["error"].startswith("APIConnectionError") and a["answer"] is None, a["error"]
        assert d["decided_by"] in ("majority", "abstain", "merger", "merger_completion"), d["decided_by"]
        if d["merge"] is not None and d["merge"]["fault"] == "error":
            assert d["decided_by"] in ("majority", "abstain")  # the merge was lost: the fallback decided
        if all(a["fault"] == "error" for a in d["agents"]):
            assert d["decided_by"] == "abstain" and d["final"] is None and d["merge"] is None

    # restart on the same port (same base URL: same cache keys) and rerun with the same cache
    serve2 = Serve(tmp_path / "serve2", MODEL, port=port)
    try:
        assert serve2.server_pid != serve.server_pid
        before = metrics(serve2.url)["prompt_tokens_total"]
        proc = subprocess.run(_eval_cmd(panel_path, tmp_path / "logs2", 4), env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        served_tokens = metrics(serve2.url)["prompt_tokens_total"] - before
    finally:
        pid = serve2.server_pid
        assert serve2.stop() == 0
        assert not pid_alive(pid)
    (log2_file,) = (tmp_path / "logs2").glob("*.eval")
    log2 = read_eval_log(str(log2_file))
    second = _decisions(log2)
    assert set(second) == set(first)
    assert not any(a["fault"] == "error" for d in second.values() for a in d["agents"])  # the missing work is done
    for i in clean:  # decided before the kill: the same Decision, every call from the cache
        assert second[i]["final"] == first[i]["final"] and second[i]["decided_by"] == first[i]["decided_by"]
        assert [a["text"] for a in second[i]["agents"]] == [a["text"] for a in first[i]["agents"]]
        sample = next(s for s in log2.samples if str(s.id) == i)
        events = [(e.cache, e.error, e.output.stop_reason) for e in sample.events if getattr(e, "event", None) == "model"]
        assert all(cache == "read" for cache, _, _ in events), (i, events, first[i], second[i])
    calls, tokens = _uncached_input_tokens(log2)
    lost = sum(1 for i in hit for a in first[i]["agents"] if a["fault"] == "error")
    assert calls >= lost  # every lost analysis was made again (and merges the kill prevented)
    assert tokens == served_tokens, (tokens, served_tokens)  # exactly those calls reached the server
