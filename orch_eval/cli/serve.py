"""``orch-eval serve``: the catalog's GGUF models as OpenAI-compatible HTTP servers on loopback.

Starts one llama.cpp server (a child process) per model, prints each base URL and a panel YAML
whose agents and merger point at them, and stops every server on Ctrl-C / SIGTERM. When one
server dies the others are stopped too and the command exits 1 (restart it with the same
``--port`` to keep the panel's URLs, and with them Inspect's cache keys). See docs/served-models.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import yaml

from orch_eval.cli.argtypes import non_negative_int, positive_int

HELP = "serve the local GGUF models over HTTP (OpenAI-compatible, llama.cpp) and print a served panel"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help=HELP,
        description=(
            "Start one llama.cpp HTTP server per model on 127.0.0.1 (OpenAI-compatible: "
            "openai-api/llamacpp/<name> in Inspect), print the base URLs and a panel YAML with the "
            "panel's budgets, and serve until Ctrl-C or SIGTERM. Without MODEL, serves the gguf "
            "models of --panel (default: local)."
        ),
    )
    p.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help="catalog names or .gguf paths (default: the panel's models)",
    )
    p.add_argument(
        "--panel",
        default="local",
        help="panel whose gguf models, budgets and rules to serve (default: local)",
    )
    p.add_argument("--merger", metavar="MODEL", help="with MODELs: the merger (default: the last MODEL)")
    p.add_argument(
        "--port",
        type=non_negative_int,
        default=None,
        help="first port, then one per model in order (default 8180; 0: free ports)",
    )
    p.add_argument(
        "--slots",
        type=positive_int,
        default=1,
        help="parallel sequences per server (default 1: the deterministic configuration)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="llama.cpp threads per server (default: the panel's n_threads, else cores / servers)",
    )
    p.add_argument(
        "--ctx",
        type=positive_int,
        default=None,
        help="context of one request in tokens (default 4096; llama.cpp rounds it up to a multiple of 256, "
        "and the server gets ctx x slots)",
    )
    p.add_argument(
        "--api-key",
        default=None,
        help="require this bearer key (default $ORCH_EVAL_SERVE_API_KEY, else none: loopback only); "
        "clients then need $LLAMACPP_API_KEY",
    )
    p.add_argument(
        "--cache-prompt",
        action="store_true",
        help="let requests reuse cached prefixes (faster; outputs then depend on request order)",
    )
    p.add_argument("--panel-out", metavar="FILE", help="also write the served panel YAML to FILE")
    p.add_argument(
        "--info-out", metavar="FILE", help="write the servers (model, url, port, pid) as JSON to FILE"
    )
    p.add_argument("--verbose", action="store_true", help="llama.cpp logs on stderr")
    p.set_defaults(func=run)
    return p


def _default_threads(n_servers: int) -> int:
    from orch_eval.models.gguf import THREADS_ENV, default_threads

    if os.environ.get(THREADS_ENV):
        return default_threads()
    return max(1, default_threads() // max(1, n_servers))


def plan_servers(args: argparse.Namespace) -> tuple[list[Any], dict[str, Any]]:
    """The ServerSpecs to start and the panel mapping to rewrite (validated, nothing started)."""
    from orch_eval.core.errors import OrchConfigError
    from orch_eval.core.panel import load_panel
    from orch_eval.models import serve
    from orch_eval.models.catalog import resolve_model_path

    panel = load_panel(args.panel).model_dump(mode="json", exclude_defaults=True)
    if args.models:
        merger = args.merger or args.models[-1]
        panel["agents"] = [{"model": f"gguf/{m}"} for m in args.models]
        panel["merger"] = {"model": f"gguf/{merger}"}
        panel["name"] = "served"
    elif args.merger:
        raise OrchConfigError("--merger needs MODELs (the panel names its own merger)")
    models = serve.gguf_models(panel)
    if not models:
        raise OrchConfigError(f"panel {args.panel!r} has no gguf/ model to serve; name MODELs")
    if args.slots < 1:
        raise OrchConfigError(f"--slots {args.slots}: use 1 or more")
    for name, _ in models:
        try:
            resolve_model_path(name)  # fail before any server starts, with the fix in the message
        except ValueError as ex:
            raise OrchConfigError(str(ex)) from None
    port = serve.DEFAULT_PORT if args.port is None else args.port
    key = args.api_key if args.api_key is not None else os.environ.get("ORCH_EVAL_SERVE_API_KEY") or None
    default_threads = _default_threads(len(models))
    specs = []
    for i, (name, margs) in enumerate(models):
        threads = args.threads or int(margs.get("n_threads") or 0) or default_threads
        n_ctx = args.ctx or int(margs.get("n_ctx") or 0) or serve.DEFAULT_N_CTX
        specs.append(
            serve.ServerSpec(
                model=name,
                port=0 if port == 0 else port + i,
                slots=args.slots,
                threads=threads,
                n_ctx=n_ctx,
                api_key=key,
                cache_prompt=args.cache_prompt,
                verbose=args.verbose,
            )
        )
    return specs, panel


def panel_yaml(panel: dict[str, Any], servers: list[Any], slots: int, api_key: str | None) -> str:
    from orch_eval.models import serve

    urls = {s.spec.name: s.base_url for s in servers}
    served = serve.served_panel(
        panel,
        urls,
        slots=slots,
        api_key=None if api_key else serve.UNUSED_KEY,
        name=panel.get("name")
        if str(panel.get("name", "")).startswith("served")
        else f"served-{panel.get('name')}",
    )
    header = (
        "# Served by `orch-eval serve` (one llama.cpp server per model, "
        f"{slots} slot{'s' if slots != 1 else ''} each).\n"
    )
    if api_key:
        header += f"# The servers require a key: export {serve.API_KEY_ENV}=<the --api-key value>\n"
    return header + yaml.safe_dump(served, sort_keys=False, width=110)


def run(args: argparse.Namespace) -> int:
    from orch_eval.models.serve import ServerError, ServerProcess

    specs, panel = plan_servers(args)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    servers: list[ServerProcess] = []
    code = 0
    try:
        for spec in specs:
            if stop.is_set():
                break
            servers.append(ServerProcess.start(spec))
            s = servers[-1]
            ctx = s.slot_ctx() or spec.n_ctx
            rounded = f" (--ctx {spec.n_ctx}, rounded up by llama.cpp)" if ctx != spec.n_ctx else ""
            print(
                f"orch-eval serve: {spec.name} at {s.base_url} (pid {s.pid}, {spec.slots} slot(s), "
                f"{spec.threads} thread(s), {ctx} tokens per request{rounded})",
                flush=True,
            )
        if stop.is_set():
            return 130
        text = panel_yaml(panel, servers, args.slots, specs[0].api_key)
        if args.panel_out:
            Path(args.panel_out).write_text(text, encoding="utf-8")
        if args.info_out:
            info = [
                {"model": s.spec.name, "url": s.base_url, "port": s.port, "pid": s.pid, "slots": s.spec.slots}
                for s in servers
            ]
            Path(args.info_out).write_text(json.dumps(info, indent=2), encoding="utf-8")
        print("# ---- served panel" + (f" (written to {args.panel_out})" if args.panel_out else "") + " ----")
        print(text, end="")
        print("# ----\norch-eval serve: serving; Ctrl-C or SIGTERM stops every server", flush=True)
        while not stop.wait(0.5):
            dead = [s for s in servers if not s.alive()]
            if dead:
                for s in dead:
                    print(
                        f"orch-eval serve: the server for {s.spec.name} ({s.url}, pid {s.pid}) exited with "
                        f"code {s.proc.returncode}; stopping the others",
                        file=sys.stderr,
                        flush=True,
                    )
                code = 1
                break
    except ServerError as ex:
        print(f"orch-eval serve: {ex}", file=sys.stderr)
        code = 1
    finally:
        for s in reversed(servers):
            s.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == 0:
        print("orch-eval serve: stopped", flush=True)
    return code
