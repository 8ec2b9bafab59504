"""A deterministic OpenAI-compatible HTTP server of our own, for fault tests over real HTTP.

``http://127.0.0.1:<port>/<mode>/v1`` is a base URL for Inspect's ``openai-api`` provider:

- ``ok``: answers every chat completion with an analysis ending ``ANSWER: <letter>``, the letter
  a pure function of the prompt (so reruns agree);
- ``500``: always HTTP 500; ``429``: always HTTP 429 (with ``Retry-After: 0``);
- ``flaky429``: HTTP 429 on the first request of each distinct prompt, then like ``ok``;
- ``hang``: sleeps ``HANG_SECONDS`` before answering (for attempt timeouts).

``requests[mode]`` counts what each mode received.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_SECONDS = 8.0


def letter_for(prompt: str) -> str:
    return "ABCD"[hashlib.sha256(prompt.encode()).digest()[0] % 4]


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.seen: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                mode = self.path.strip("/").split("/")[0]
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                prompt = "\n".join(str(m.get("content")) for m in body.get("messages", []))
                with owner.lock:
                    owner.requests[mode] += 1
                    first = (mode, prompt) not in owner.seen
                    owner.seen.add((mode, prompt))
                if mode == "500":
                    return self._send(500, {"error": {"message": "internal server error", "type": "server_error"}})
                if mode == "429" or (mode == "flaky429" and first):
                    return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit"}},
                                      {"Retry-After": "0"})
                if mode == "hang":
                    time.sleep(HANG_SECONDS)
                text = f"The analysis of this question.\nANSWER: {letter_for(prompt)}"
                self._send(200, {
                    "id": "fake", "object": "chat.completion", "created": 0, "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 9,
                              "total_tokens": len(prompt) // 4 + 9},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
