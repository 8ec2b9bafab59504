"""Serve GGUF models as OpenAI-compatible HTTP servers on loopback (llama.cpp's server, via xllamacpp).

One server per model, each in a child process of its own, so that a served panel exercises the
path large runs take (Inspect's ``openai-api`` provider over HTTP) and a dead server is a real,
killable process. ``orch-eval serve`` (:mod:`orch_eval.cli.serve`) supervises them; from
Python::

    from orch_eval.models.serve import ServerSpec, ServerProcess
    server = ServerProcess.start(ServerSpec("smollm2-135m-instruct", port=0))
    server.base_url      # http://127.0.0.1:<port>/v1
    server.stop()

A served model is ``openai-api/llamacpp/<name>`` with ``base_url`` (and ``api_key``) as model
args; :func:`served_panel` rewrites a ``gguf/`` panel into that form, with the retry and
timeout settings of :data:`SERVED_CONFIG`.

Determinism: the servers start with ``cache_prompt`` off (llama.cpp's default is on; reusing a
cached prefix changes logits) and no host-memory prompt cache, like the in-process ``gguf``
provider. With more than one slot, concurrent requests are decoded in one batch, and greedy
outputs can then depend on what they were batched with (docs/served-models.md): ``slots=1`` is
the deterministic configuration and the default.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orch_eval.models.catalog import CATALOG, CatalogModel, catalog_entry_for_path, resolve_model_path

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_PORT",
    "SERVED_CONFIG",
    "SERVICE",
    "ServerError",
    "ServerProcess",
    "ServerSpec",
    "served_model_name",
    "served_panel",
    "served_slot",
]

SERVICE = "llamacpp"
"""The service part of served model names: ``openai-api/llamacpp/<name>``."""

API_KEY_ENV = "LLAMACPP_API_KEY"
"""Where Inspect's ``openai-api/llamacpp/...`` reads the key when a slot has no ``api_key`` arg."""

DEFAULT_PORT = 8180
"""First port of ``orch-eval serve`` (then one per model, in order); ``solvers/served-local.yaml``
points at 8180-8183."""

DEFAULT_N_CTX = 4096
"""Context of ONE request, as the in-process ``gguf`` provider's default."""

UNUSED_KEY = "unused"
"""The key written into panels for servers that check none (Inspect requires some key)."""

SERVED_CONFIG: dict[str, Any] = {"max_retries": 2, "timeout": 600, "attempt_timeout": 300}
"""Inspect ``GenerateConfig`` of every served slot: at most 2 retries (exponential backoff from
3 s), at most 600 s per call in all, 300 s per attempt. A dead server (connection refused)
becomes a recorded fault within about 20 s; a hung one within ``timeout``."""


class ServerError(RuntimeError):
    """A server could not start, or died."""


@dataclass(frozen=True)
class ServerSpec:
    """One llama.cpp server: which model, where, with how many slots and threads."""

    model: str
    """Catalog name or path of a ``.gguf`` file."""
    port: int = 0
    """0: a free port, reported once the server listens."""
    slots: int = 1
    """Parallel sequences (llama.cpp ``n_parallel``); more than 1 batches requests together."""
    threads: int | None = None
    """llama.cpp threads (generation and prompt processing); None: the gguf default."""
    n_ctx: int = DEFAULT_N_CTX
    """Context of one request; the server gets ``n_ctx * slots``. llama.cpp rounds each slot's share
    up to a multiple of 256 (640 becomes 768): :meth:`ServerProcess.slot_ctx` reports what it uses."""
    host: str = "127.0.0.1"
    api_key: str | None = None
    """Required bearer key; None: the server checks none (it listens on loopback only)."""
    cache_prompt: bool = False
    """llama.cpp's default for requests that do not say (reuse a cached prefix); off: reproducible."""
    alias: str | None = None
    """The model name the server reports (default: the catalog name or the file's stem)."""
    verbose: bool = False

    @property
    def name(self) -> str:
        if self.alias:
            return self.alias
        if self.model in CATALOG:
            return self.model
        return Path(self.model).stem

    def entry(self) -> CatalogModel | None:
        return CATALOG.get(self.model) or catalog_entry_for_path(self.model)


# --------------------------------------------------------------------------------------------
# the child process: one llama.cpp server


def _common_params(spec: ServerSpec, model_path: Path) -> Any:
    import xllamacpp

    from orch_eval.models.gguf import default_threads

    entry = spec.entry()
    threads = spec.threads or default_threads()
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.model_alias = {spec.name}
    params.n_parallel = max(1, spec.slots)
    params.n_ctx = spec.n_ctx * params.n_parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    if entry is not None and entry.chat_template is not None:
        params.chat_template = entry.chat_template  # as the gguf provider does (gemma3: a completion prompt)
    params.cache_ram_mib = 0  # see gguf.py: llama.cpp's 8 GiB host prompt cache grows RSS by GBs
    params.cache_prompt = spec.cache_prompt
    params.hostnames = [spec.host]
    params.port = spec.port
    params.endpoint_metrics = True
    params.verbosity = 3 if spec.verbose else 0
    if spec.api_key:
        params.api_keys = [spec.api_key]
    return params


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def child_main(argv: list[str] | None = None) -> int:
    """Entry of the server process: ``python -m orch_eval.models.serve '<ServerSpec as JSON>'``.

    Prints one JSON line, ``{"event": "ready", "url": ...}`` or ``{"event": "error", ...}``, then
    serves until SIGTERM / SIGINT, or until its parent process goes away."""
    args = sys.argv[1:] if argv is None else argv
    spec = ServerSpec(**json.loads(args[0]))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    try:
        import xllamacpp

        path = resolve_model_path(spec.model)
        server = xllamacpp.Server(_common_params(spec, path))
    except Exception as ex:  # noqa: BLE001 - reported to the supervisor as one line
        _emit({"event": "error", "model": spec.name, "message": f"{type(ex).__name__}: {ex}"})
        return 1
    _emit({"event": "ready", "model": spec.name, "url": str(server.listening_address), "pid": os.getpid()})
    while not stop.wait(0.5):
        if os.getppid() != parent:  # the supervisor died without stopping us
            break
    del server
    return 0


# --------------------------------------------------------------------------------------------
# the supervisor's handle on one server


@dataclass
class ServerProcess:
    """A running server child process."""

    spec: ServerSpec
    proc: subprocess.Popen[str]
    url: str
    """``http://host:port`` (without ``/v1``)."""
    started: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``.../v1``)."""
        return self.url + "/v1"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    @classmethod
    def start(
        cls, spec: ServerSpec, timeout: float = 300.0, env: dict[str, str] | None = None
    ) -> ServerProcess:
        """Start the server process and wait until it answers ``/health``.

        Raises :class:`ServerError` with the server's own message when it cannot start."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "orch_eval.models.serve", json.dumps(asdict(spec))],
            stdout=subprocess.PIPE,
            stderr=None if spec.verbose else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,  # a Ctrl-C reaches the supervisor, which stops us in order
        )
        line = _read_line(proc, timeout)
        try:
            event = json.loads(line) if line else {}
        except json.JSONDecodeError:
            event = {}
        if event.get("event") != "ready":
            _terminate(proc, 5.0)
            message = event.get("message") or f"exited with code {proc.returncode} before it was ready"
            raise ServerError(f"server for {spec.name} (port {spec.port or 'auto'}): {message}")
        server = cls(spec, proc, str(event["url"]))
        deadline = time.monotonic() + timeout
        while not server.healthy():
            if proc.poll() is not None or time.monotonic() > deadline:
                _terminate(proc, 5.0)
                raise ServerError(f"server for {spec.name} at {server.url} never became healthy")
            time.sleep(0.2)
        return server

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _get(self, path: str, timeout: float = 5.0) -> bytes:
        headers = {"Authorization": f"Bearer {self.spec.api_key}"} if self.spec.api_key else {}
        with urllib.request.urlopen(
            urllib.request.Request(self.url + path, headers=headers), timeout=timeout
        ) as r:
            return bytes(r.read())

    def healthy(self) -> bool:
        try:
            self._get("/health", timeout=2.0)
            return True
        except (urllib.error.URLError, OSError):
            return False

    def slot_ctx(self) -> int | None:
        """The context of one request as the server reports it (``/props``), after llama.cpp's
        rounding; None when the server does not say."""
        try:
            props = json.loads(self._get("/props"))
            return int(props["default_generation_settings"]["n_ctx"])
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
            return None

    def metrics(self) -> dict[str, float]:
        """The server's Prometheus counters (``prompt_tokens_total``, ``tokens_predicted_total``, ...)."""
        out: dict[str, float] = {}
        for line in self._get("/metrics").decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition(" ")
                out[key.removeprefix("llamacpp:")] = float(value)
        return out

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        return _terminate(self.proc, timeout)

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as a crashed or OOM-killed server would."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's first stdout line, or '' when it exits or ``timeout`` passes first."""
    box: list[str] = []
    reader = threading.Thread(
        target=lambda: box.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


def _terminate(proc: subprocess.Popen[str], timeout: float) -> int | None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# --------------------------------------------------------------------------------------------
# served panels


def served_model_name(name: str) -> str:
    """``openai-api/llamacpp/<name>``: the Inspect model name of a served model."""
    return f"openai-api/{SERVICE}/{name}"


def served_slot(
    slot: dict[str, Any],
    base_url: str,
    *,
    slots: int = 1,
    api_key: str | None = UNUSED_KEY,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One panel slot (a mapping with ``model: gguf/<name>``) rewritten to the served model.

    The gguf-only args (threads, context) belong to the server now and are dropped; the slot
    keeps its name, lens and budget. ``config``: the retry/timeout settings (default
    :data:`SERVED_CONFIG`), plus ``max_connections`` = the server's slots and the catalog's stop
    sequences (which the gguf provider adds by itself)."""
    model = str(slot["model"])
    provider, _, name = model.partition("/")
    if provider != "gguf":
        return dict(slot)
    label = CATALOG[name].name if name in CATALOG else Path(name).stem
    entry = CATALOG.get(name) or catalog_entry_for_path(name)
    out: dict[str, Any] = {"model": served_model_name(label)}
    for key in ("name", "lens", "max_tokens"):
        if slot.get(key) is not None:
            out[key] = slot[key]
    args: dict[str, Any] = {"base_url": base_url}
    if api_key is not None:
        args["api_key"] = api_key
    out["args"] = args
    cfg: dict[str, Any] = {"max_connections": max(1, slots), **(SERVED_CONFIG if config is None else config)}
    if entry is not None and entry.default_stop:
        cfg["stop_seqs"] = list(entry.default_stop)
    cfg.update(slot.get("config") or {})
    out["config"] = cfg
    return out


def served_panel(
    panel: dict[str, Any],
    urls: dict[str, str],
    *,
    slots: int = 1,
    api_key: str | None = UNUSED_KEY,
    config: dict[str, Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A panel mapping whose ``gguf/<name>`` slots point at served models (``urls``: name → base URL).

    Budgets, seed, lenses and every other rule are kept, so the served panel asks the same
    questions as the in-process one."""
    out = {k: v for k, v in panel.items() if v is not None}
    if name is not None:
        out["name"] = name

    def rewrite(slot: Any) -> Any:
        slot = {"model": slot} if isinstance(slot, str) else dict(slot)
        model = str(slot["model"])
        if not model.startswith("gguf/"):
            return slot
        key = model.removeprefix("gguf/")
        label = key if key in CATALOG else Path(key).stem
        if label not in urls:
            raise KeyError(f"no server for {model}")
        return served_slot(slot, urls[label], slots=slots, api_key=api_key, config=config)

    out["agents"] = [rewrite(a) for a in panel["agents"]]
    if panel.get("merger") is not None:
        out["merger"] = rewrite(panel["merger"])
    return out


def gguf_models(panel: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The distinct ``gguf/`` models of a panel mapping, in panel order (agents, then merger),
    each with the model args of its first slot (threads, context)."""
    slots = [*panel["agents"], *([panel["merger"]] if panel.get("merger") is not None else [])]
    seen: dict[str, dict[str, Any]] = {}
    for slot in slots:
        slot = {"model": slot} if isinstance(slot, str) else slot
        model = str(slot["model"])
        if model.startswith("gguf/"):
            seen.setdefault(model.removeprefix("gguf/"), dict(slot.get("args") or {}))
    return list(seen.items())


if __name__ == "__main__":
    raise SystemExit(child_main())
