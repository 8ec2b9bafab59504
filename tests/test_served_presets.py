"""The served presets (solvers/served-*.yaml) and served panels, checked offline.

What can be checked without a GPU or a running server: each preset loads and validates, its
providers are ones Inspect knows, every slot's model resolves through Inspect's `get_model` with the
slot's `args` (so `base_url` / `api_key` reach the provider, no request made), keys stay out of the
digest and the logged panel, transport settings stay out of the digest, and a missing `openai`
package is one clear message naming the extra to install. What needs the servers themselves
(vLLM / SGLang answering) is documented in docs/served-models.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest
from inspect_ai.model import get_model

from orch_eval.cli.serve import panel_yaml, plan_servers
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import check_models, load_panel, validate_panel
from orch_eval.models import serve

PRESETS = ["served-local", "served-vllm", "served-sglang"]


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_loads_and_reaches_its_provider(preset: str) -> None:
    panel = check_models(load_panel(preset), source=preset)
    assert panel.name == preset
    for spec in [*panel.agents, panel.merger]:
        assert spec is not None
        provider = spec.model_name.split("/", 1)[0]
        assert provider in ("openai-api", "vllm", "sglang")
        assert spec.config["max_retries"] >= 1 and spec.config["timeout"] > spec.config["attempt_timeout"] > 0
        model = get_model(spec.model_name, **spec.args)  # constructs the client; sends nothing
        api = model.api
        if provider == "vllm":  # the vllm provider resolves its server lazily, at the first call
            assert api._init_base_url == spec.args["base_url"]  # type: ignore[attr-defined]
        else:
            assert api.base_url == spec.args["base_url"]
        if "api_key" in spec.args:
            assert api.api_key == spec.args["api_key"]


def test_served_local_is_the_local_panel_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """served-local.yaml is what `orch-eval serve` prints for its defaults (same budgets, seed, ports)."""
    from orch_eval.models import catalog

    monkeypatch.setattr(catalog, "resolve_model_path", lambda name: name)  # no model file needed (nor assembled)
    ns = argparse.Namespace(models=[], panel="local", merger=None, port=None, slots=1, threads=None, ctx=None,
                            api_key=None, cache_prompt=False, verbose=False)
    specs, panel = plan_servers(ns)
    assert [s.port for s in specs] == [8180, 8181, 8182, 8183]
    assert [s.threads for s in specs] == [1, 1, 1, 2]  # the local panel's n_threads
    assert all(s.slots == 1 and s.host == "127.0.0.1" and not s.cache_prompt for s in specs)

    class Running:  # what panel_yaml reads of a started server
        def __init__(self, spec: serve.ServerSpec) -> None:
            self.spec, self.base_url = spec, f"http://127.0.0.1:{spec.port}/v1"

    import yaml

    printed = validate_panel(yaml.safe_load(panel_yaml(panel, [Running(s) for s in specs], 1, None)), "printed")
    preset = load_panel("served-local")
    assert printed.digest() == preset.digest()
    local = load_panel("local")
    assert preset.budgets == local.budgets and preset.seed == local.seed
    assert [a.model_name.rsplit("/", 1)[1] for a in preset.agents] == [a.model_name.split("/", 1)[1] for a in local.agents]


def test_keys_and_transport_stay_out_of_the_digest() -> None:
    base = {"model": "openai-api/llamacpp/m", "args": {"base_url": "http://127.0.0.1:1/v1", "api_key": "sk-secret-1"},
            "config": {"max_connections": 1, "max_retries": 2, "timeout": 600, "attempt_timeout": 300}}
    a = validate_panel({"agents": [base], "merger": base}, "a")
    other = {**base, "args": {**base["args"], "api_key": "sk-secret-2"},
             "config": {"max_connections": 8, "max_retries": 5, "timeout": 60, "attempt_timeout": 30, "batch": True}}
    b = validate_panel({"agents": [other], "merger": other}, "b")
    assert a.digest() == b.digest()  # neither the key nor how requests travel changes answers
    assert "sk-secret" not in json.dumps(a.describe())
    moved = {**base, "args": {**base["args"], "base_url": "http://127.0.0.1:2/v1"}}
    assert validate_panel({"agents": [moved], "merger": moved}, "c").digest() != a.digest()  # another server
    seeded = {**base, "config": {**base["config"], "seed": 7}}
    assert validate_panel({"agents": [seeded], "merger": base}, "d").digest() != a.digest()


def test_missing_openai_package_is_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openai" else real(name, *a))
    with pytest.raises(OrchConfigError) as info:
        check_models(load_panel("served-local"), source="served-local")
    message = str(info.value)
    assert "agents.0.model" in message and "pip install 'orch_eval[served]'" in message and "`openai`" in message
    check_models(load_panel("local"), source="local")  # gguf panels do not need it


def test_serve_refuses_bad_options_before_starting_anything() -> None:
    ns = argparse.Namespace(models=["no-such-model"], panel="local", merger=None, port=0, slots=1, threads=None,
                            ctx=None, api_key=None, cache_prompt=False, verbose=False)
    with pytest.raises(OrchConfigError, match="Unknown model 'no-such-model'"):
        plan_servers(ns)
    ns.models, ns.slots = ["smollm2-135m-instruct"], 0
    with pytest.raises(OrchConfigError, match="--slots 0"):
        plan_servers(ns)
