"""Panel configuration: which models analyse, which model merges, with what budgets.

A :class:`Panel` is plain, validated data. It loads from a YAML preset (``solvers/NAME.yaml``),
from CLI-style arguments (``agents=a,b,c merger=m``) or from Python, and has a stable
:meth:`Panel.digest` that goes into every log and every cache key.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orch_eval.core.errors import OrchConfigError
from orch_eval.core.prompts import LENS_ORDER, LENSES, PROMPT_VERSION, MergeStyle
from orch_eval.core.redact import redact_args
from orch_eval.core.router import RouterConfig, coerce_router
from orch_eval.core.yamlio import read_yaml

PRESET_DIRS_ENV = "ORCH_EVAL_PRESETS"

TRANSPORT_CONFIG = frozenset(
    {
        "max_connections",
        "adaptive_connections",
        "max_retries",
        "timeout",
        "attempt_timeout",
        "stream_idle_timeout",
        "batch",
    }
)
"""``GenerateConfig`` fields of a slot that decide how a request travels, not what it returns (Inspect
leaves them out of its own cache key too): not part of the panel digest."""

OPENAI_CLIENT_PROVIDERS = frozenset(
    {
        "openai",
        "openai-api",
        "openai-api-completions",
        "vllm",
        "vllm-completions",
        "sglang",
        "together",
        "fireworks",
        "moonshot",
        "meta",
        "litellm-proxy",
        "deepseek",
        "sambanova",
        "ollama",
        "openrouter",
        "perplexity",
        "llama-cpp-python",
        "cloudflare",
        "hf-inference-providers",
    }
)
"""Inspect providers built on the ``openai`` client package (``validate_openai_client`` in Inspect's
``model/_providers/providers.py``): served models (``openai-api/``, ``vllm/``, ``sglang/``) among them."""


class ModelSpec(BaseModel):
    """One model slot: a model name (any Inspect provider) plus its own settings."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: Any
    """An Inspect model name such as ``openai/gpt-4o-mini`` or ``gguf/qwen2.5-coder-1.5b-instruct``,
    or an ``inspect_ai.model.Model`` object (Python API only)."""
    name: str | None = None
    """Label used in reports (defaults to the model name)."""
    lens: str | None = None
    """Fixed analysis lens for this agent (see ``orch_eval.core.prompts.LENSES``)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Override of the panel's token budget for this slot."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Extra Inspect ``GenerateConfig`` fields for this slot (e.g. ``{top_p: 1.0}``)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Model arguments passed to the provider (like ``-M key=value``)."""

    @field_validator("model")
    @classmethod
    def _model(cls, v: Any) -> Any:
        if isinstance(v, str):
            if "/" not in v:
                raise ValueError(
                    f"model {v!r} is not an Inspect model name: use provider/name, "
                    "e.g. openai/gpt-4o-mini or gguf/qwen2.5-coder-1.5b-instruct"
                )
            return v
        from inspect_ai.model import Model

        if isinstance(v, Model):
            return v
        raise ValueError(f"model must be a provider/name string or an Inspect Model, got {type(v).__name__}")

    @field_validator("lens")
    @classmethod
    def _lens(cls, v: str | None) -> str | None:
        if v is not None and v not in LENSES:
            raise ValueError(f"unknown lens {v!r}; choose one of {', '.join(LENSES)}")
        return v

    @field_validator("config")
    @classmethod
    def _config(cls, v: dict[str, Any]) -> dict[str, Any]:
        from inspect_ai.model import GenerateConfig

        GenerateConfig(**v)  # validates field names and types
        return v

    @property
    def model_name(self) -> str:
        """The model's ``provider/name``."""
        return self.model if isinstance(self.model, str) else str(self.model)

    @property
    def label(self) -> str:
        return self.name or self.model_name

    def identity(self) -> dict[str, Any]:
        """What defines this slot's behaviour (for digests). Transport settings of the slot's
        ``config`` (:data:`TRANSPORT_CONFIG`: concurrency, retries, timeouts, batch mode) do not
        change answers and stay out, so tuning them keeps the panel's cache."""
        return {
            "model": self.model_name,
            "lens": self.lens,
            "max_tokens": self.max_tokens,
            "config": {k: v for k, v in self.config.items() if k not in TRANSPORT_CONFIG},
            "args": redact_args(self.args),
        }


class Budgets(BaseModel):
    """Token budgets. Analyses get room to reason (a 200-token budget cut off most small-model
    analyses before an answer); baselines built from the same prompt get the same budget."""

    model_config = ConfigDict(extra="forbid")

    analysis: int = Field(default=512, gt=0)
    """Analysis of a multiple-choice question."""
    analysis_numeric: int = Field(default=768, gt=0)
    """Analysis of a numeric (GSM8K) question."""
    merge: int = Field(default=512, gt=0)
    completion: int = Field(default=12, gt=0)
    """Answer-completion step after an analysis without a parsable answer."""
    direct: int = Field(default=16, gt=0)
    """The paper's letter-only baseline (``direct`` solver)."""
    dispatch: int = Field(default=192, gt=0)
    """The dispatcher's sub-questions (``dispatch: true``)."""


_AGENT_BUDGETS = {"analysis", "analysis_numeric", "completion", "direct"}
"""The budgets an agent's own calls use (analysis, answer completion, the direct baseline)."""


class Price(BaseModel):
    """Price of one model, per million tokens, in the panel's currency."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class Panel(BaseModel):
    """Agents, merger and the fixed rules of one ORCH configuration."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    name: str | None = None
    agents: list[ModelSpec] = Field(min_length=1)
    merger: ModelSpec | None = None
    """None means no merge: the decision is the agents' majority vote."""
    lenses: Literal["none", "auto"] = "none"
    """``auto`` assigns concept / elimination / verification lenses to agents in panel order
    (an agent's own ``lens`` wins)."""
    budgets: Budgets = Field(default_factory=Budgets)
    seed: int = 0
    temperature: float = Field(default=0.0, ge=0)
    min_analyses: int = Field(default=1, ge=0)
    """Fewer parsed analyses than this → skip the merger and take the fallback chain."""
    anonymise: bool = True
    """Show analyses to the merger as "Analyst 1..k" (True) or under their model names (ablation)."""
    completion_step: bool = True
    """Recover an answer from an analysis that ends without one (recorded, never silent)."""
    merge_style: MergeStyle = "judge"
    """``judge`` (the paper's merge): weigh the analyses, justify the pick in at most three
    sentences. ``solve``: the merger works the task out itself, step by step, using the analyses
    as hints it checks; give it a ``merge`` budget of the size of an analysis."""
    currency: str = "USD"
    prices: dict[str, Price] = Field(default_factory=dict)
    """Per-model prices (keys are model names), one currency for the whole panel."""
    router: RouterConfig | None = None
    """EMA router settings (see ``orch_eval.core.router``); None: consult every agent. A mapping,
    ``on``/``off`` or a ``RouterConfig`` is accepted."""
    dispatch: bool = False
    """The paper's dispatcher decomposition: before the analyses, the top-ranked consulted agent
    (the router's best score; without a router, ``dispatcher`` or the first consulted slot)
    writes one sub-question per consulted agent, and each agent's analysis focuses on its own.
    Fixed fallbacks: a sub-question that is missing (failed call, too few numbered lines) gives
    that agent its ordinary analysis; everything is recorded in ``Decision.dispatch``."""
    dispatcher: int | None = Field(default=None, ge=0)
    """Slot of the dispatcher when no router ranks the agents (default: the first consulted)."""

    @field_validator("router", mode="before")
    @classmethod
    def _router(cls, v: Any) -> Any:
        return v if isinstance(v, dict) else coerce_router(v)

    @model_validator(mode="after")
    def _check(self) -> Panel:
        if self.min_analyses > len(self.agents):
            raise ValueError(
                f"min_analyses={self.min_analyses} exceeds the number of agents ({len(self.agents)})"
            )
        if self.dispatcher is not None and self.dispatcher >= len(self.agents):
            raise ValueError(
                f"dispatcher={self.dispatcher} is not an agent slot (the panel has {len(self.agents)} agents)"
            )
        if self.dispatch and self.router is not None and self.router.enabled and self.router.shadow:
            raise ValueError(
                "dispatch does not combine with the router's shadow mode (its analyses are made before "
                "routing)"
            )
        if self.dispatcher is not None and not self.dispatch:
            raise ValueError("dispatcher is set but dispatch is false: set dispatch: true to decompose")
        return self

    # ---- derived -------------------------------------------------------------------------

    def lens_of(self, slot: int) -> str | None:
        """The lens of agent ``slot`` under the panel's fixed assignment rule."""
        own = self.agents[slot].lens
        if own is not None or self.lenses == "none":
            return own
        return LENS_ORDER[slot % len(LENS_ORDER)]

    def agent_labels(self) -> list[str]:
        return [a.label for a in self.agents]

    def identity(self) -> dict[str, Any]:
        """Everything that changes what the panel answers (not how fast, nor where it logs)."""
        return {
            "prompt_version": PROMPT_VERSION,
            "agents": [dict(a.identity(), lens=self.lens_of(i)) for i, a in enumerate(self.agents)],
            "merger": None if self.merger is None else self.merger.identity(),
            "budgets": self._budget_identity(),
            "seed": self.seed,
            "temperature": self.temperature,
            "min_analyses": self.min_analyses,
            "anonymise": self.anonymise,
            "completion_step": self.completion_step,
            "router": None if self.router is None or not self.router.enabled else self.router.identity(),
            # only when on / not the default, so that digests (and cache scopes) of other panels are unchanged
            **(
                {"dispatch": {"dispatcher": self.dispatcher, "budget": self.budgets.dispatch}}
                if self.dispatch
                else {}
            ),
            **({"merge_style": self.merge_style} if self.merge_style != "judge" else {}),
        }

    def digest(self) -> str:
        """Stable 12-hex-digit digest of :meth:`identity` (recorded in logs, used in cache keys)."""
        return _digest(self.identity())

    def agent_digest(self, slot: int) -> str:
        """Digest of what one agent's analysis depends on (its model, lens, budget, seed)."""
        return _digest(
            {
                "prompt_version": PROMPT_VERSION,
                "agent": dict(self.agents[slot].identity(), lens=self.lens_of(slot)),
                "budgets": self.budgets.model_dump(include=_AGENT_BUDGETS),
                "seed": self.seed,
                "temperature": self.temperature,
                "completion_step": self.completion_step,
            }
        )
        # Not in here: ``dispatch``. A focused analysis has its own prompt text (so its own cache
        # entry); a fallback analysis is the plain one and rightly shares the plain entry. Nor
        # the merger's settings (its budget, ``merge_style``): panels that differ only in how
        # they merge share their analyses.

    def _budget_identity(self) -> dict[str, Any]:
        """Budgets as they enter the panel digest; the dispatch budget only matters (and only
        appears) when the panel dispatches, so older digests stay valid."""
        b = self.budgets.model_dump()
        if not self.dispatch:
            b.pop("dispatch")
        return b

    def cost(self, model_name: str, input_tokens: int, output_tokens: int) -> float:
        """Cost of a call under the price table (0 for models without a price)."""
        price = self.prices.get(model_name)
        if price is None:
            return 0.0
        return (input_tokens * price.input + output_tokens * price.output) / 1_000_000

    def describe(self) -> dict[str, Any]:
        """JSON-safe summary for logs."""
        return {"name": self.name, "digest": self.digest(), **self.identity()}

    # ---- construction --------------------------------------------------------------------

    @classmethod
    def from_args(
        cls,
        agents: str | list[str] | list[dict[str, Any]],
        merger: str | dict[str, Any] | None = None,
        **fields: Any,
    ) -> Panel:
        """Build from CLI-style values: ``agents="a,b,c"`` (or a list), ``merger="m"``."""
        if isinstance(agents, str):
            agents = [a.strip() for a in agents.split(",") if a.strip()]
        data: dict[str, Any] = {
            "agents": [a if isinstance(a, dict) else {"model": a} for a in agents],
            **fields,
        }
        if merger is not None:
            data["merger"] = merger if isinstance(merger, dict) else {"model": merger}
        return named(validate_panel(data, source="arguments"))


def named(panel: Panel) -> Panel:
    """``panel`` with a readable default name when it has none (a panel given inline, as
    ``agents=...``/``merger=...`` or model roles): ``inline-<first 6 digits of its digest>``, so
    reports never show a bare hash; the name does not enter the digest."""
    if panel.name is not None:
        return panel
    return panel.model_copy(update={"name": f"inline-{panel.digest()[:6]}"})


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _normalise_slot(value: Any) -> Any:
    return {"model": value} if isinstance(value, str) else value


def validate_panel(data: Any, source: str) -> Panel:
    """Validate raw panel data, turning pydantic errors into one readable message."""
    if not isinstance(data, dict):
        raise OrchConfigError(
            f"{source}: a panel must be a mapping with 'agents' (and 'merger'), got {type(data).__name__}"
        )
    data = dict(data)
    if isinstance(data.get("agents"), list):
        data["agents"] = [_normalise_slot(a) for a in data["agents"]]
    if "merger" in data:
        data["merger"] = _normalise_slot(data["merger"])
    try:
        return Panel.model_validate(data)
    except ValidationError as ex:
        problems = []
        for err in ex.errors():
            field = ".".join(str(p) for p in err["loc"]) or "(panel)"
            msg = err["msg"].removeprefix("Value error, ")
            got = "" if err["type"] in ("value_error", "missing") else f" (got {err.get('input')!r})"
            problems.append(f"  - {field}: {msg}{got}")
        raise OrchConfigError(
            f"invalid panel in {source}:\n" + "\n".join(problems) + "\nSee solvers/*.yaml for valid examples."
        ) from None


def packaged_presets(subpackage: str = "orch_eval.presets") -> Path | None:
    """The folder of the presets installed with orch_eval (``solvers/`` in a checkout), or None."""
    from importlib import resources

    try:
        root = resources.files(subpackage)
    except ModuleNotFoundError:  # pragma: no cover - a broken install
        return None
    return Path(str(root)) if root.is_dir() else None


def preset_dirs() -> list[Path]:
    """Where bare preset names are looked up: $ORCH_EVAL_PRESETS, ./solvers, the presets installed
    with orch_eval (package data)."""
    import os

    dirs: list[Path] = []
    if os.environ.get(PRESET_DIRS_ENV):
        dirs += [Path(p) for p in os.environ[PRESET_DIRS_ENV].split(os.pathsep) if p]
    dirs.append(Path.cwd() / "solvers")
    packaged = packaged_presets()
    if packaged is not None:
        dirs.append(packaged)
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def load_panel(spec: str | Path | dict[str, Any] | Panel) -> Panel:
    """Load a panel from a Panel, a mapping, a YAML file path, or a preset name (``local``)."""
    if isinstance(spec, Panel):
        return spec
    if isinstance(spec, dict):
        return validate_panel(spec, source="panel mapping")
    path = Path(spec)
    candidates = [path]
    if path.suffix not in (".yaml", ".yml") and len(path.parts) == 1:
        candidates = [d / f"{spec}.yaml" for d in preset_dirs()] + [path]
    for candidate in candidates:
        if candidate.is_file():
            data = read_yaml(candidate)
            panel = validate_panel(data, source=str(candidate))
            if panel.name is None:
                panel = panel.model_copy(update={"name": candidate.stem})
            return panel
    known = sorted({p.stem for d in preset_dirs() if d.is_dir() for p in d.glob("*.yaml")})
    raise OrchConfigError(
        f"panel preset {str(spec)!r} not found (looked for {', '.join(str(c) for c in candidates)}). "
        f"Known presets: {', '.join(known) or 'none'}. Pass a YAML path or agents=...,merger=..."
    )


def _known_providers() -> list[str]:
    from orch_eval._inspect_private import registry_find, registry_unqualified_name

    return sorted({registry_unqualified_name(i) for i in registry_find(lambda info: info.type == "modelapi")})


def _provider_problem(field: str, name: str, args: dict[str, Any]) -> str | None:
    """What is wrong with one model name, checked without creating API clients (or None)."""
    from orch_eval._inspect_private import RegistryInfo, registry_find, registry_unqualified_name

    provider, _, rest = name.partition("/")
    if provider == "none":
        return None

    def match(info: RegistryInfo) -> bool:  # the lookup inspect_ai.model.get_model does
        return info.type == "modelapi" and registry_unqualified_name(info) == provider

    found = registry_find(match)
    if not found:
        return (
            f"{field}: unknown model provider {provider!r} in {name!r}. Fix: use provider/model with a "
            f"provider Inspect knows ({', '.join(_known_providers())}), or install the package that "
            f"registers {provider!r}"
        )
    if provider in OPENAI_CLIENT_PROVIDERS and importlib.util.find_spec("openai") is None:
        return (
            f"{field}: {name!r} goes through Inspect's OpenAI-compatible client, which needs the `openai` "
            "package. Fix: pip install 'orch_eval[served]' (or pip install 'openai>=3.4,<4')"
        )
    if provider == "orchfake":  # our own fake: constructing it is free and checks behaviour and parameters
        try:
            found[0](model_name=rest, **args)  # type: ignore[operator]
        except (ValueError, TypeError) as ex:
            return f"{field}: {ex} (in {name!r})"
    if provider == "gguf":  # our local models: the name against the catalog, nothing loaded or assembled
        from orch_eval.models.catalog import check_reference

        try:
            check_reference(args.get("model_path") or rest)
        except ValueError as ex:
            return f"{field}: {name!r}: {ex}"
    return None


def check_models(panel: Panel, source: str) -> Panel:
    """Fail before any model call when a slot names a model provider Inspect does not know, an
    ``orchfake`` model with an unknown behaviour or parameter, or a ``gguf`` model that is not in
    the catalog (nor a file or a Hub reference). Returns the panel. One problem is one line.

    Uses the lookup of ``inspect_ai.model.get_model`` (the ``modelapi`` registry) without
    instantiating providers, so no API key or client library is needed; ``Model`` objects
    (e.g. model roles, resolved by Inspect) pass as they are.
    """
    slots: list[tuple[str, ModelSpec]] = [(f"agents.{i}.model", a) for i, a in enumerate(panel.agents)]
    if panel.merger is not None:
        slots.append(("merger.model", panel.merger))
    problems = [
        p
        for field, spec in slots
        if isinstance(spec.model, str) and (p := _provider_problem(field, spec.model, spec.args)) is not None
    ]
    if len(problems) == 1:
        raise OrchConfigError(f"invalid panel in {source}: {problems[0]}")
    if problems:
        raise OrchConfigError(f"invalid panel in {source}:\n" + "\n".join(f"  - {p}" for p in problems))
    return panel
