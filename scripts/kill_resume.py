"""SIGKILL-and-resume harness for a routed ORCH run (used by ``tests/test_sigkill_resume.py``).

The run: ``inspect_evals/mmlu_0_shot``, 30 items, ``max_samples=4``, solver ``orch_eval/orch``
with ``router=on`` (top_k 1, explore every 7th item, feedback lag 3, ``w_lat`` 0.2 on output
tokens) and ``router_state_out=STATE``, three latency-jittered ``orchfake/gold`` agents and an
``orchfake/vote`` merger (no Inspect cache, so every item really calls the fake models).

    python scripts/kill_resume.py run --log-dir D --state S --out result.json [--eval-set]

runs it once in this process and writes the per-item routing of the final log to
``result.json``. An interrupted run is resumed by running it again with the same ``--state``
(``router_resume=auto``: the router continues from the state file; items it had applied are
routed from its retained window exactly as before) and a new ``--log-dir``.
``--eval-set`` runs through Inspect's ``eval_set`` instead of ``eval``: on the log dir of an
interrupted run that is Inspect's retry, which the router refuses (see
``orch_eval.inspect.routing.RETRY_REFUSED``).

    python scripts/kill_resume.py serve

is a fork server for the test: it imports Inspect and loads the inspect_evals registry once
(about 10 s of start-up per process on a small machine), then reads one JSON command per line
on stdin and answers one JSON line on stdout:

    {"op": "run", "log_dir": D, "state": S, "out": R, "eval_set": false, "stdout": F, "watchdog": SECONDS}
        -> {"pid": P}        forks a child process that does what ``run`` does (output to F)
    {"op": "wait", "pid": P} -> {"pid": P, "exit": CODE or null, "signal": SIG or null}
    {"op": "quit"}

The child is a separate OS process: the test kills it with a real ``SIGKILL``
(``os.kill(P, SIGKILL)``) and asks the server to reap it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

TASK = "inspect_evals/mmlu_0_shot"
ITEMS = 30
MAX_SAMPLES = 4
AGENTS = [f"orchfake/gold:p={p}:seed=k{i}:latency=20:jitter=100" for i, p in enumerate(("0.8", "0.6", "0.4"))]
MERGER = "orchfake/vote:latency=10:jitter=40"
ROUTER = {"top_k": 1, "explore_every": 7, "lag": 3, "w_lat": 0.2, "w_cost": 0.0}


def warm_up() -> None:
    """Import what every run needs (the fork server does this once)."""
    from importlib.metadata import entry_points

    import inspect_ai  # noqa: F401

    import orch_eval._registry  # noqa: F401
    from orch_eval.inspect.solvers import orch  # noqa: F401

    for ep in entry_points(group="inspect_ai"):  # what Inspect loads on first use: orch_eval, inspect_evals
        ep.load()
    import inspect_evals.mmlu  # noqa: F401


def routing_of(log: Any) -> dict[str, dict[str, Any]]:
    """Per item: the router's index, chosen slots, scores, state version; the final answer."""
    out: dict[str, dict[str, Any]] = {}
    for s in log.samples or []:
        d = s.metadata.get("orch") or {}
        r = d.get("router") or {}
        out[str(s.id)] = {
            "index": r.get("index"),
            "chosen": r.get("chosen"),
            "scores": r.get("scores"),
            "version": r.get("state_version"),
            "explored": r.get("explored"),
            "final": d.get("final"),
            "consulted": [a["consulted"] for a in d.get("agents", [])],
            "error": None if s.error is None else s.error.message[:500],
        }
    return out


def _trace() -> None:
    """``KILL_RESUME_TRACE=1``: print when each item waits, routes and hands in feedback (debugging)."""
    from orch_eval.core.router import PrequentialRouter

    wait_ready, submit = PrequentialRouter.wait_ready, PrequentialRouter.submit
    t0 = time.monotonic()

    async def traced_wait(self: PrequentialRouter, index: int) -> None:
        print(f"{time.monotonic() - t0:7.3f} wait  {index:3d} (applied {self.next_index})", file=sys.stderr, flush=True)
        await wait_ready(self, index)
        print(f"{time.monotonic() - t0:7.3f} route {index:3d}", file=sys.stderr, flush=True)

    def traced_submit(self: PrequentialRouter, fb: Any) -> None:
        print(f"{time.monotonic() - t0:7.3f} fb    {fb.index:3d} (applied {self.next_index})", file=sys.stderr, flush=True)
        submit(self, fb)

    PrequentialRouter.wait_ready = traced_wait  # type: ignore[method-assign]
    PrequentialRouter.submit = traced_submit  # type: ignore[method-assign]


def run(log_dir: str, state: str, out: str, use_eval_set: bool = False) -> int:
    """One (possibly resumed) routed run; writes ``{"status", "routing", "elapsed"}`` to ``out``."""
    from inspect_ai import eval as inspect_eval
    from inspect_ai import eval_set
    from inspect_ai.log import read_eval_log

    from orch_eval.core.atomic import write_json_atomic
    from orch_eval.inspect.solvers import orch

    if os.environ.get("KILL_RESUME_TRACE"):
        _trace()
    t0 = time.monotonic()
    solver = orch(cache=False, router=dict(ROUTER), router_state_out=state)
    common: dict[str, Any] = dict(
        model=None,
        solver=solver,
        model_roles={"agents": list(AGENTS), "merger": MERGER},
        limit=ITEMS,
        max_samples=MAX_SAMPLES,
        log_dir=log_dir,
        display="none",
    )
    if use_eval_set:
        _, logs = eval_set(TASK, retry_attempts=0, **common)
    else:
        logs = inspect_eval(TASK, **common)
    log = read_eval_log(logs[0].location)
    write_json_atomic(
        out,
        {"status": log.status, "error": None if log.error is None else log.error.message[:2000],
         "routing": routing_of(log), "elapsed": time.monotonic() - t0, "location": logs[0].location,
         "sample_ids": [str(i) for i in log.eval.dataset.sample_ids or []]},
    )
    return 0 if log.status == "success" else 1


def _child(cmd: dict[str, Any]) -> None:
    """In the forked child: output to a file, run, exit without running the parent's cleanup."""
    code = 1
    try:
        fd = os.open(cmd["stdout"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        if cmd.get("watchdog"):  # a hung child dumps its stacks and exits instead of blocking the test
            import faulthandler

            faulthandler.dump_traceback_later(float(cmd["watchdog"]), exit=True)
        code = run(cmd["log_dir"], cmd["state"], cmd["out"], bool(cmd.get("eval_set")))
    except BaseException:  # noqa: BLE001 - report anything, then leave
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> int:
    reply = os.fdopen(os.dup(1), "w")  # the protocol channel; anything else printed goes to stderr
    os.dup2(2, 1)
    warm_up()
    print(json.dumps({"ready": True}), file=reply, flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.get("op")
        if op == "run":
            pid = os.fork()
            if pid == 0:
                _child(cmd)
            print(json.dumps({"pid": pid}), file=reply, flush=True)
        elif op == "wait":
            pid, status = os.waitpid(int(cmd["pid"]), 0)
            print(
                json.dumps({
                    "pid": pid,
                    "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                }),
                file=reply,
                flush=True,
            )
        elif op == "quit":
            break
        else:
            print(json.dumps({"error": f"unknown op {op!r}"}), file=reply, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="one routed run (or its resumption)")
    r.add_argument("--log-dir", required=True)
    r.add_argument("--state", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--eval-set", action="store_true")
    sub.add_parser("serve", help="fork server (see module docstring)")
    args = p.parse_args(argv)
    if args.command == "serve":
        return serve()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    return run(args.log_dir, args.state, args.out, args.eval_set)


if __name__ == "__main__":
    sys.exit(main())
