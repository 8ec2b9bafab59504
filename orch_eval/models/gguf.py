"""Inspect AI model provider ``gguf``: local GGUF models run in-process on xllamacpp (llama.cpp).

Use it as ``--model gguf/<catalog-name-or-path>``, for example::

    inspect eval task.py --model gguf/smollm2-135m-instruct
    inspect eval task.py --model gguf/qwen2.5-coder-1.5b-instruct -M n_threads=2 -M n_ctx=8192
    inspect eval task.py --model gguf//abs/path/to/model.gguf

The model name is resolved by :func:`orch_eval.models.catalog.resolve_model_path` (catalog
name, ``.gguf`` path, or ``hf:owner/repo/file.gguf``); an unknown or missing model raises the
catalog's :class:`~orch_eval.models.catalog.ModelNotAvailableError` when the model is
constructed, and a catalog file is sha256-checked the first time a process uses it.

Model args (``-M key=value`` / ``get_model(..., key=value)``):

- ``n_threads`` (default: ``$ORCH_EVAL_GGUF_THREADS``, else the CPUs available to the process)
  and ``n_threads_batch`` (default: ``n_threads``): llama.cpp threads for generation and for
  prompt processing. llama.cpp threads meet at a barrier on every layer, so when other work
  shares the cores (several models generating at once, a parallel test run) use fewer
  threads: on 2 busy cores 1 thread was 5-20x faster than 2;
- ``n_ctx`` (default 4096): context size of ONE request (prompt + completion);
- ``max_connections`` (default 1, or ``GenerateConfig.max_connections``): how many requests run
  at once on the model (llama.cpp slots). More slots rarely help on a few CPU cores;
- ``chat_template``: override the template (a Jinja string, ``"embedded"`` for the GGUF's own,
  ``"completion"`` for the plain Question/Answer prompt used for base models);
- ``cache_prompt`` (default False): reuse the KV cache of a previous request's common prefix.
  Faster, but logits then depend on what ran before, so outputs are no longer independent of
  request order; keep it off for reproducible runs;
- ``cache_ram_mib`` (default 0): llama.cpp's host-memory prompt cache. The llama.cpp server
  keeps the KV state of past requests in RAM, up to 8 GiB *per model* by default, whether or
  not ``cache_prompt`` reuses it (measured: RSS grew by the KV size of every prompt, about
  23 KB per token for smollm2, 7 GB over a 100-item GSM8K run of the local panel). Evaluation
  prompts rarely share more than the chat template's header, so it is off here; set it to
  bound the cache instead (-1: no limit);
- ``model_path``: a GGUF path that overrides the model name; ``verbose``: llama.cpp logs.

Each model file is loaded ONCE per process (keyed by path, context size, threads and
template) and shared by every sample and every ``ModelAPI`` instance; requests run in worker
threads so the event loop stays free. Inspect's own (adaptive) concurrency may let many
samples call ``generate`` at once: they wait in the event loop for a free slot here. The
time reported for a call (``ModelOutput.time``, hence every Decision's latency) is the time the
model spent on it, not that wait: the call is returned with its own ``ModelCall`` time, which
Inspect then keeps (it would otherwise time the whole ``generate``, queue included).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelCall,
    ModelOutput,
    ModelUsage,
    StopReason,
    TopLogprob,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from orch_eval._inspect_private import PrerequisiteError
from orch_eval.core.coerce import as_bool
from orch_eval.models.catalog import (
    CATALOG,
    QA_COMPLETION_TEMPLATE,
    CatalogModel,
    ModelNotAvailableError,
    ModelVerificationError,
    catalog_entry_for_path,
    models_dir,
    resolve_model_path,
    verify,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_N_CTX",
    "GGUFModelAPI",
    "GGUFSetupError",
    "GGUFVerificationError",
    "LoadedModel",
    "default_threads",
    "gguf",
    "load_model",
    "loaded_models",
    "unload_all",
]

logger = logging.getLogger(__name__)

DEFAULT_N_CTX = 4096
DEFAULT_MAX_TOKENS = 1024
"""max_tokens when neither the call nor the config sets one (small models otherwise run long)."""


THREADS_ENV = "ORCH_EVAL_GGUF_THREADS"
"""Environment variable that sets the default ``n_threads`` of every gguf model."""


def default_threads() -> int:
    """``$ORCH_EVAL_GGUF_THREADS`` if set, else the number of CPUs this process may run on."""
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------
# process-wide registry of loaded models


@dataclass(frozen=True)
class _Key:
    path: str
    n_ctx: int
    n_threads: int
    n_threads_batch: int
    chat_template: str | None
    cache_ram_mib: int = 0

    def short(self) -> str:
        if self.chat_template is None:
            tmpl = ""
        else:
            tmpl = ",tmpl=" + hashlib.sha256(self.chat_template.encode()).hexdigest()[:10]
        ram = f",cram={self.cache_ram_mib}" if self.cache_ram_mib else ""
        return f"{self.path}|ctx={self.n_ctx}|t={self.n_threads}/{self.n_threads_batch}{tmpl}{ram}"


@dataclass
class LoadedModel:
    """One llama.cpp server loaded in this process."""

    key: _Key
    server: Any
    n_parallel: int
    load_seconds: float

    @property
    def path(self) -> str:
        return self.key.path


_registry: dict[_Key, LoadedModel] = {}
_key_locks: dict[_Key, threading.Lock] = {}
_registry_lock = threading.Lock()


def load_model(
    path: str | Path,
    *,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    n_threads_batch: int | None = None,
    n_parallel: int = 1,
    chat_template: str | None = None,
    cache_ram_mib: int = 0,
    verbose: bool = False,
) -> LoadedModel:
    """Load (or return the already loaded) llama.cpp server for a GGUF file.

    ``n_ctx`` is per request: the server gets ``n_ctx * n_parallel`` context split in
    ``n_parallel`` slots. Blocking (seconds for the larger models): call it from a thread.
    The first caller's ``n_parallel`` fixes the slot count of that model in this process.
    """
    threads = n_threads or default_threads()
    key = _Key(
        path=str(Path(path).resolve()),
        n_ctx=int(n_ctx),
        n_threads=int(threads),
        n_threads_batch=int(n_threads_batch or threads),
        chat_template=chat_template,
        cache_ram_mib=int(cache_ram_mib),
    )
    with _registry_lock:
        loaded = _registry.get(key)
        if loaded is not None:
            return loaded
        key_lock = _key_locks.setdefault(key, threading.Lock())
    with key_lock:  # one load per key; other keys load concurrently
        with _registry_lock:
            loaded = _registry.get(key)
        if loaded is not None:
            return loaded
        import xllamacpp  # heavy: imported only when a model is actually loaded

        params = xllamacpp.CommonParams()
        params.model.path = key.path
        params.n_parallel = max(1, int(n_parallel))
        params.n_ctx = key.n_ctx * params.n_parallel
        params.cpuparams.n_threads = key.n_threads
        params.cpuparams_batch.n_threads = key.n_threads_batch
        if chat_template is not None:
            params.chat_template = chat_template
        params.cache_ram_mib = key.cache_ram_mib  # llama.cpp's default, 8192, grows RSS by GBs
        params.verbosity = 3 if verbose else 0
        # xllamacpp also opens a loopback HTTP listener; lock it with a random key so other
        # local users cannot drive the model (in-process calls are not checked).
        params.api_keys = [secrets.token_urlsafe(32)]
        start = time.monotonic()
        try:
            server = xllamacpp.Server(params)
        except RuntimeError as ex:
            entry = catalog_entry_for_path(key.path)
            hint = f" Check it with `orch-eval models verify {entry.name}`." if entry else ""
            raise RuntimeError(
                f"llama.cpp could not load {key.path} ({ex}): not a valid GGUF file, an architecture "
                f"this xllamacpp does not know, or not enough memory for n_ctx={params.n_ctx}.{hint}"
            ) from ex
        loaded = LoadedModel(key, server, params.n_parallel, time.monotonic() - start)
        logger.info("gguf: loaded %s in %.1fs", key.short(), loaded.load_seconds)
        with _registry_lock:
            _registry[key] = loaded
        return loaded


def loaded_models() -> list[LoadedModel]:
    """The models currently loaded in this process."""
    with _registry_lock:
        return list(_registry.values())


def unload_all() -> None:
    """Drop every loaded model (frees memory once no request is running on them)."""
    with _registry_lock:
        servers = list(_registry.values())
        _registry.clear()
        _key_locks.clear()
    for loaded in servers:
        loaded.server = None  # a request in flight keeps its own reference until it returns


atexit.register(unload_all)


_verified: set[str] = set()
_verified_lock = threading.Lock()


def _verify_once(entry: CatalogModel) -> None:
    """Check a catalog file's sha256 the first time this process uses it (about 1 s per GB)."""
    with _verified_lock:
        key = str(models_dir() / entry.filename)
        if key in _verified:
            return
        result = verify(entry.name)
        if not result.ok:
            raise ModelVerificationError(result.message, command=entry.pull_command)
        _verified.add(key)


# per-event-loop limiters of concurrent requests per loaded model (anyio primitives are bound
# to one event loop; a RunVar gives each loop run its own)
def _limiter(loaded: LoadedModel) -> Any:
    import anyio
    from anyio.lowlevel import RunVar

    global _LIMITERS
    if _LIMITERS is None:
        _LIMITERS = RunVar("orch_eval_gguf_limiters")
    try:
        limiters = _LIMITERS.get()
    except LookupError:
        limiters = {}
        _LIMITERS.set(limiters)
    limiter = limiters.get(loaded.key)
    if limiter is None:
        limiter = anyio.CapacityLimiter(loaded.n_parallel)
        limiters[loaded.key] = limiter
    return limiter


_LIMITERS: Any = None


# --------------------------------------------------------------------------------------------
# message conversion


def _message_text(message: ChatMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for item in content:
        kind = getattr(item, "type", None)
        if kind == "text":
            parts.append(item.text)  # type: ignore[union-attr]
        elif kind == "reasoning":
            continue
        else:
            raise ValueError(
                f"The gguf provider handles text only; got {kind!r} content in a {message.role} message."
            )
    return "\n".join(parts)


def _to_llama_messages(input: list[ChatMessage]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for message in input:
        text = _message_text(message)
        if message.role == "tool":
            messages.append({"role": "user", "content": f"Tool result:\n{text}"})
        else:
            messages.append({"role": message.role, "content": text})
    return messages


_FINISH: dict[str, StopReason] = {
    "stop": "stop",
    "length": "max_tokens",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}


def _logprobs(choice: dict[str, Any]) -> Logprobs | None:
    data = choice.get("logprobs") or {}
    content = data.get("content") if isinstance(data, dict) else None
    if not content:
        return None
    return Logprobs(
        content=[
            Logprob(
                token=item.get("token", ""),
                logprob=float(item.get("logprob", 0.0)),
                bytes=item.get("bytes"),
                top_logprobs=[
                    TopLogprob(token=t.get("token", ""), logprob=float(t["logprob"]), bytes=t.get("bytes"))
                    for t in item.get("top_logprobs") or []
                ]
                or None,
            )
            for item in content
        ]
    )


# --------------------------------------------------------------------------------------------
# the provider


class GGUFSetupError(ModelNotAvailableError, PrerequisiteError):
    """A gguf model that cannot be built (unknown name, missing or corrupted file, bad model arg).

    Inspect builds models itself for ``--model gguf/...`` and ``--model-role r=gguf/...``, before
    any of our code runs; being an Inspect ``PrerequisiteError``, the ``inspect`` CLI prints just
    this message, not the traceback of the task group it was raised in.
    """

    def __init__(self, message: str, command: str | None = None) -> None:
        ModelNotAvailableError.__init__(self, message, command)
        self.message = message


class GGUFVerificationError(GGUFSetupError, ModelVerificationError):
    """A catalog file whose size or sha256 does not match (a :class:`GGUFSetupError`)."""


class GGUFModelAPI(ModelAPI):
    """Inspect ``ModelAPI`` for local GGUF files on xllamacpp (see the module docstring)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        **model_args: Any,
    ) -> None:
        config = config if config is not None else GenerateConfig()  # Inspect always passes one
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        try:
            self._setup(model_name, config, dict(model_args))
        except GGUFSetupError:
            raise
        except ModelNotAvailableError as ex:
            kind = GGUFVerificationError if isinstance(ex, ModelVerificationError) else GGUFSetupError
            raise kind(f"gguf/{model_name}: {ex}", command=ex.command) from None
        except ValueError as ex:
            raise GGUFSetupError(f"gguf/{model_name}: {ex}") from None

    def _setup(self, model_name: str, config: GenerateConfig, args: dict[str, Any]) -> None:
        """Resolve the model file and read the model args (see the module docstring)."""
        model_path = args.pop("model_path", None)
        # resolve now: an unknown or missing model fails at construction, with the fix in it
        self.model_path: Path = resolve_model_path(model_path or model_name)
        self.entry: CatalogModel | None = CATALOG.get(model_name) if model_path is None else None
        if self.entry is not None:
            _verify_once(self.entry)
        else:
            self.entry = catalog_entry_for_path(self.model_path)

        self.n_ctx = int(args.pop("n_ctx", DEFAULT_N_CTX))
        self.n_threads = int(args.pop("n_threads", None) or default_threads())
        self.n_threads_batch = int(args.pop("n_threads_batch", None) or self.n_threads)
        max_connections = args.pop("max_connections", None) or config.max_connections or 1
        self._max_connections = max(1, int(max_connections))
        self.cache_prompt = as_bool(args.pop("cache_prompt", False), "cache_prompt")
        self.cache_ram_mib = int(args.pop("cache_ram_mib", 0))
        if self.cache_ram_mib < -1:
            raise ValueError(
                f"gguf model arg cache_ram_mib={self.cache_ram_mib}: use MiB >= 0, or -1 for no limit"
            )
        self.verbose = as_bool(args.pop("verbose", False), "verbose")
        template = args.pop("chat_template", None)
        if template is None:
            self.chat_template = self.entry.chat_template if self.entry else None
            self.default_stop: tuple[str, ...] = self.entry.default_stop if self.entry else ()
        elif template == "embedded":
            self.chat_template, self.default_stop = None, ()
        elif template == "completion":
            self.chat_template, self.default_stop = QA_COMPLETION_TEMPLATE, ("\nQuestion:",)
        else:
            self.chat_template, self.default_stop = str(template), ()
        if args:
            raise ValueError(
                f"Unknown gguf model arg(s): {', '.join(sorted(args))}. Known: model_path, n_ctx, "
                "n_threads, n_threads_batch, max_connections, chat_template, cache_prompt, cache_ram_mib, "
                "verbose."
            )
        self._loaded: LoadedModel | None = None

    # -- inspect hooks ----------------------------------------------------------------------

    def _key(self) -> _Key:
        return _Key(
            str(self.model_path.resolve()),
            self.n_ctx,
            self.n_threads,
            self.n_threads_batch,
            self.chat_template,
            self.cache_ram_mib,
        )

    def connection_key(self) -> str:
        """Instances sharing one loaded model share one Inspect connection pool."""
        return self._key().short()

    def max_connections(self) -> int:
        return self._max_connections

    def max_tokens(self) -> int | None:
        return DEFAULT_MAX_TOKENS

    def model_family(self) -> str:
        return self.entry.name if self.entry else self.model_path.stem

    def close(self) -> None:
        # the loaded model is shared by other instances: keep it (see unload_all)
        self._loaded = None

    # -- generation -------------------------------------------------------------------------

    def _ensure_loaded(self) -> LoadedModel:
        if self._loaded is None or self._loaded.server is None:
            self._loaded = load_model(
                self.model_path,
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                n_parallel=self._max_connections,
                chat_template=self.chat_template,
                cache_ram_mib=self.cache_ram_mib,
                verbose=self.verbose,
            )
            if self._loaded.n_parallel < self._max_connections:
                logger.warning(
                    "gguf: %s is already loaded with %d slot(s); max_connections=%d is capped to it",
                    self.model_path.name,
                    self._loaded.n_parallel,
                    self._max_connections,
                )
        return self._loaded

    def request_body(self, input: list[ChatMessage], config: GenerateConfig) -> dict[str, Any]:
        """The OpenAI-style body sent to llama.cpp for one generate call."""
        body: dict[str, Any] = {
            "messages": _to_llama_messages(input),
            "temperature": 0.0 if config.temperature is None else float(config.temperature),
            "max_tokens": int(config.max_tokens or DEFAULT_MAX_TOKENS),
        }
        if config.seed is not None:
            body["seed"] = int(config.seed)
        if config.top_p is not None:
            body["top_p"] = float(config.top_p)
        if config.top_k is not None:
            body["top_k"] = int(config.top_k)
        if config.frequency_penalty is not None:
            body["frequency_penalty"] = float(config.frequency_penalty)
        if config.presence_penalty is not None:
            body["presence_penalty"] = float(config.presence_penalty)
        if config.logit_bias:
            body["logit_bias"] = {str(k): v for k, v in config.logit_bias.items()}
        stop = list(config.stop_seqs or [])
        stop += [s for s in self.default_stop if s not in stop]
        if stop:
            body["stop"] = stop
        if config.logprobs:
            body["logprobs"] = True
            if config.top_logprobs:
                body["top_logprobs"] = int(config.top_logprobs)
        if config.response_schema is not None:
            schema = config.response_schema
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.name,
                    "schema": schema.json_schema.model_dump(exclude_none=True),
                },
            }
        cache = config.cache_prompt if isinstance(config.cache_prompt, bool) else self.cache_prompt
        body["cache_prompt"] = bool(cache)
        if config.extra_body:
            body.update(config.extra_body)
        return body

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> tuple[ModelOutput, ModelCall]:
        import anyio

        if tools and tool_choice != "none":
            raise NotImplementedError(
                "The gguf provider does not support tool calling (the catalog models are too small "
                "for it); call generate without tools."
            )
        body = self.request_body(input, config)
        loaded = await anyio.to_thread.run_sync(self._ensure_loaded)

        def call() -> tuple[dict[str, Any], float]:
            server = loaded.server
            if server is None:
                raise RuntimeError(f"gguf model {self.model_path.name} was unloaded")
            start = time.monotonic()
            response = server.handle_chat_completions(body)
            return response, time.monotonic() - start

        response, elapsed = await anyio.to_thread.run_sync(call, limiter=_limiter(loaded))
        # The ModelCall's time is what Inspect records as output.time: the model's own time,
        # without the wait for a free slot (that wait counts as the sample's waiting time).
        return self._to_output(response, elapsed, body), ModelCall.create(body, response, time=elapsed)

    def _to_output(self, response: dict[str, Any], elapsed: float, body: dict[str, Any]) -> ModelOutput:
        if "error" in response:
            error = response["error"] or {}
            message = str(error.get("message", error))
            if error.get("type") == "exceed_context_size_error":
                return ModelOutput.from_content(
                    self.model_name,
                    content=f"{message} (raise it with -M n_ctx=N)",
                    stop_reason="model_length",
                )
            raise RuntimeError(f"llama.cpp error for {self.model_path.name}: {message}")

        choice = response["choices"][0]
        usage = response.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens", 0))
        completion_tokens = int(usage.get("completion_tokens", 0))
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        stop_reason = _FINISH.get(choice.get("finish_reason") or "", "unknown")
        if stop_reason == "max_tokens" and completion_tokens < body["max_tokens"]:
            stop_reason = "model_length"  # cut by the context window, not by max_tokens
        text = (choice.get("message") or {}).get("content") or ""
        return ModelOutput(
            model=self.model_name,
            choices=[
                ChatCompletionChoice(
                    message=ChatMessageAssistant(content=text, model=self.model_name, source="generate"),
                    stop_reason=stop_reason,
                    logprobs=_logprobs(choice),
                )
            ],
            usage=ModelUsage(
                input_tokens=prompt_tokens - cached,
                output_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
                input_tokens_cache_read=cached or None,
            ),
            time=elapsed,
            metadata={"timings": response.get("timings"), "model_path": str(self.model_path)},
        )


@modelapi(name="gguf")
def gguf() -> type[ModelAPI]:
    """Provider entry point: ``--model gguf/<catalog-name-or-path>``."""
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        raise ModuleNotFoundError(
            "The gguf provider needs xllamacpp: `pip install xllamacpp` "
            "(or `pip install 'orch_eval[local]'`)."
        ) from None
    return GGUFModelAPI
