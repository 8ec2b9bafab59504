"""SIGKILL at random moments of a routed run, then resume: the state file is always valid and the
resumed run decides every item exactly as an uninterrupted run (issue 8).

The run (``scripts/kill_resume.py``): 30 MMLU items, ``max_samples=4``, ``orch`` with
``router=on`` (top_k 1, explore every 7th item, lag 3), ``router_state_out``, latency-jittered
fake agents. A fork server imports Inspect once and forks one OS process per run, so a run
starts in about a second instead of ten; the test kills that process with a real ``SIGKILL``.

After every kill: the state file, if any, parses as JSON and passes the router's loader, and
holds exactly the uninterrupted run's first ``next_index`` feedback records (same hash chain,
same EMAs). Then the run is resumed the supported way — the same eval again, same
``router_state_out``, a new log dir — and its per-item routing (index, chosen slots, scores,
state version, explored, consulted, final answer) must equal the uninterrupted run's.

Resuming through Inspect's retry (``eval_set``/``eval-retry`` on the interrupted log dir) is
refused by the router with a clear error (it used to deadlock: see
``orch_eval.inspect.routing.RETRY_REFUSED``); the last test checks the refusal.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orch_eval.core.router import (
    Feedback,
    RouterConfig,
    apply_feedback,
    initial_stats,
    load_state,
    run_chain,
)
from tests.conftest import ROOT, subprocess_env

SCRIPT = ROOT / "scripts" / "kill_resume.py"
PYTHON = Path(sys.executable)
KILLS = 20
SEED = 20261127
WATCHDOG = 90.0  # seconds: a hung run dumps its stacks and exits instead of hanging the test


class ForkServer:
    def __init__(self, cwd: Path) -> None:
        env = subprocess_env(INSPECT_CACHE_DIR=str(cwd / "inspect_cache"))
        self.errlog = open(cwd / "server.err", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(PYTHON), str(SCRIPT), "serve"], cwd=cwd, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errlog,
        )
        assert self.read(120).get("ready"), "fork server did not start"

    def read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no answer from the fork server within {timeout}s"
        line = self.proc.stdout.readline()
        assert line, f"fork server ended: {(Path(self.errlog.name)).read_text()[-3000:]}"
        return json.loads(line)

    def ask(self, cmd: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read(timeout)

    def start(self, d: Path, state: Path, out: Path, eval_set: bool = False) -> int:
        d.mkdir(parents=True, exist_ok=True)
        cmd = {"op": "run", "log_dir": str(d / "logs"), "state": str(state), "out": str(out),
               "eval_set": eval_set, "stdout": str(d / "output.txt"), "watchdog": WATCHDOG}
        return int(self.ask(cmd)["pid"])

    def wait(self, pid: int) -> dict[str, Any]:
        return self.ask({"op": "wait", "pid": pid}, timeout=WATCHDOG + 30)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.errlog.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = ForkServer(tmp_path_factory.mktemp("kill_resume"))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def baseline(server: ForkServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run, timed: its routing, its final state, and when its items were decided.

    The first run of the fork server is slower (cold dataset and file caches), so a warm-up run
    comes first and the timings are taken from the second, like the runs that get killed.
    ``first_state`` is when the state file appeared (the first item decided), ``full_state`` when
    it first held all 30 items; the rest of ``duration`` is log writing and shutdown.
    """
    timed: dict[str, Any] = {}
    for attempt in ("warmup", "timed"):
        d = tmp_path_factory.mktemp(f"baseline_{attempt}")
        state, out = d / "state.json", d / "result.json"
        t0 = time.monotonic()
        pid = server.start(d, state, out)
        first_state = full_state = None
        while not out.exists():
            now = time.monotonic() - t0
            if state.exists():
                first_state = now if first_state is None else first_state
                if full_state is None and json.loads(state.read_text())["version"] == 30:
                    full_state = now  # atomic writes: the file is always a whole state
            time.sleep(0.01)
            assert time.monotonic() - t0 < WATCHDOG, "baseline run did not finish"
        status = server.wait(pid)
        duration = time.monotonic() - t0
        result = json.loads(out.read_text())
        assert status["exit"] == 0 and result["status"] == "success", (result.get("error"), (d / "output.txt").read_text()[-3000:])
        assert len(result["routing"]) == 30
        timed = {"result": result, "state": load_state(state), "duration": duration,
                 "first_state": first_state if first_state is not None else 0.0,
                 "full_state": full_state if full_state is not None else duration, "dir": d}
    return timed


def expected_state(base: dict[str, Any], n: int) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """(hash chain, feedback records, EMAs) of the uninterrupted run after its first ``n`` items."""
    saved = base["state"]
    tail = saved["run"]["tail"]  # history (128) > 30 items: every feedback record is kept
    assert len(tail) == 30 and saved["run"]["snapshot_index"] == 0
    cfg = RouterConfig.model_validate({k: v for k, v in saved["router"].items()})
    stats = initial_stats(cfg, saved["agents"], saved["models"])
    chain = ""
    for fb in tail[:n]:
        apply_feedback(stats, Feedback.from_json(fb), cfg)
        chain = run_chain(chain, fb["epoch"], fb["id"])
    return chain, tail[:n], stats.to_json()


def check_state(path: Path, base: dict[str, Any]) -> int | None:
    """The state file after a kill: valid, and a prefix of the uninterrupted run. Returns next_index."""
    if not path.exists():
        return None
    data = json.loads(path.read_text())  # parses
    assert load_state(path) == data  # and passes the router's own loader
    run = data["run"]
    n = run["next_index"]
    assert 0 < n <= 30 and data["version"] == n
    chain, tail, stats = expected_state(base, n)
    assert run["chain"] == chain
    assert run["tail"] == tail
    assert data["stats"] == stats
    assert run["key"] == base["state"]["run"]["key"]
    order = base["result"]["sample_ids"]
    assert [fb["id"] for fb in tail] == order[:n]  # applied strictly in dataset order
    return n


@pytest.mark.slow
def test_sigkill_at_20_moments_then_resume(server: ForkServer, baseline: dict[str, Any], tmp_path: Path) -> None:
    started = time.monotonic()
    rng = random.Random(SEED)
    # Kill moments, stratified over the run's decisions: from shortly before the state file first
    # appeared (the end of start-up: imports done, dataset loading) to shortly after it held all 30
    # items in the (warm) uninterrupted run; a few land before or after, which is checked as well.
    span = baseline["full_state"] - baseline["first_state"]
    lo = max(0.0, baseline["first_state"] - max(0.2, 0.15 * span))
    hi = baseline["full_state"] + max(0.2, 0.15 * span)
    moments = [lo + (k + rng.random()) * (hi - lo) / KILLS for k in range(KILLS)]
    rng.shuffle(moments)
    expected = baseline["result"]["routing"]
    report = []
    for k, moment in enumerate(moments):
        d = tmp_path / f"kill{k:02d}"
        state = d / "state.json"
        pid = server.start(d / "killed", state, d / "killed.json")
        time.sleep(moment)
        os.kill(pid, signal.SIGKILL)
        status = server.wait(pid)
        killed = status["signal"] == signal.SIGKILL
        assert killed or status["exit"] == 0, status  # else it had already finished, cleanly
        n = check_state(state, baseline)
        leftovers = [p.name for p in d.glob(".state.json.*.tmp")]  # a write cut short: never read
        # resume: the same eval again, same router_state_out, a new log dir
        pid = server.start(d / "resumed", state, d / "resumed.json")
        assert server.wait(pid)["exit"] == 0, (d / "resumed" / "output.txt").read_text()[-3000:]
        resumed = json.loads((d / "resumed.json").read_text())
        assert resumed["status"] == "success", resumed["error"]
        assert resumed["sample_ids"] == baseline["result"]["sample_ids"]
        diff = {sid: (r, resumed["routing"].get(sid)) for sid, r in expected.items() if resumed["routing"].get(sid) != r}
        assert not diff, f"kill {k} at {moment:.2f}s (state next_index {n}): routing differs: {diff}"
        final = load_state(state)
        assert final["version"] == 30 and final["stats"] == baseline["state"]["stats"]
        report.append((round(moment, 2), killed, n, len(leftovers)))
    mid_run = [r for r in report if r[1] and r[2] is not None and 0 < r[2] < 30]
    print(f"\nkills (moment s, killed, state next_index, tmp leftovers): {sorted(report)}")
    print(f"baseline {baseline['duration']:.2f}s, state file from {baseline['first_state']:.2f}s, "
          f"all 30 items by {baseline['full_state']:.2f}s; "
          f"{len(mid_run)} kills mid-run; test took {time.monotonic() - started:.1f}s")
    assert len(mid_run) >= 5, report  # the moments really fell inside the run


@pytest.mark.slow
def test_resume_through_inspect_retry_is_refused_not_hung(server: ForkServer, baseline: dict[str, Any],
                                                          tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    moment = (baseline["first_state"] + baseline["full_state"]) / 2
    for attempt in range(3):  # until the kill lands mid-run (state written, run not finished)
        for p in (state, tmp_path / "first.json"):
            p.unlink(missing_ok=True)
        pid = server.start(tmp_path / f"a{attempt}", state, tmp_path / "first.json", eval_set=True)
        time.sleep(moment)
        os.kill(pid, signal.SIGKILL)
        if server.wait(pid)["signal"] == signal.SIGKILL and check_state(state, baseline) not in (None, 30):
            break
        moment *= 0.8 if state.exists() else 1.25
    else:
        pytest.fail("could not kill the run mid-way")
    t0 = time.monotonic()
    pid = server.start(tmp_path / f"a{attempt}", state, tmp_path / "retry.json", eval_set=True)
    server.wait(pid)
    result = json.loads((tmp_path / "retry.json").read_text())
    assert time.monotonic() - t0 < WATCHDOG / 2  # refused, not deadlocked
    assert result["status"] == "error"
    assert "is a retry of an interrupted run" in result["error"]
    assert "with the same router_state_out" in result["error"]
