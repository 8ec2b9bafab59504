"""Test helpers for served models: `orch-eval serve` as a real subprocess, and free ports."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import BIN, ROOT, subprocess_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``orch-eval serve MODEL... --port P`` in a subprocess; ``info`` holds its servers. One llama.cpp
    thread by default: the test machines' cores are shared, and threads that wait for each other
    on busy cores are slower than one."""

    def __init__(self, folder: Path, *models: str, port: int = 0, threads: int = 1,
                 extra: list[str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.panel_path = folder / "served.yaml"
        self.info_path = folder / "servers.json"
        for p in (self.panel_path, self.info_path):
            p.unlink(missing_ok=True)
        self.out = open(folder / "serve.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(BIN / "orch-eval"), "serve", *models, "--port", str(port), "--panel-out", str(self.panel_path),
             "--info-out", str(self.info_path), "--threads", str(threads), *(extra or [])],
            stdout=self.out, stderr=subprocess.STDOUT, env=subprocess_env(), cwd=ROOT,
        )
        deadline = time.monotonic() + 300
        while not self.info_path.is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"orch-eval serve did not start: {(folder / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(0.2)  # the info file is written after the panel file
        self.info: list[dict[str, Any]] = json.loads(self.info_path.read_text())
        self.log_path = folder / "serve.log"

    @property
    def url(self) -> str:
        return str(self.info[0]["url"])

    @property
    def server_pid(self) -> int:
        return int(self.info[0]["pid"])

    def panel(self) -> dict[str, Any]:
        return dict(yaml.safe_load(self.panel_path.read_text()))

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop ``orch-eval serve`` with ``sig`` (SIGTERM, or SIGINT as Ctrl-C sends) and return its code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)
        self.out.close()
        return int(self.proc.returncode)


def metrics(url: str) -> dict[str, float]:
    """The llama.cpp server's counters (``url``: the base URL, with or without ``/v1``)."""
    import urllib.request

    base = url.removesuffix("/v1")
    out = {}
    for line in urllib.request.urlopen(base + "/metrics", timeout=10).read().decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.partition(" ")
            out[k.removeprefix("llamacpp:")] = float(v)
    return out


def pid_alive(pid: int) -> bool:
    try:
        import os

        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
