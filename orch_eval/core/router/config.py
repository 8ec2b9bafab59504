"""Router configuration: the panel's ``router:`` block, validated (see docs/router.md, Configuration)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orch_eval.core.errors import OrchConfigError


class AgentPrior(BaseModel):
    """Cold-start values of one agent (fields left out use the router-wide priors)."""

    model_config = ConfigDict(extra="forbid")

    accuracy: float | None = Field(default=None, ge=0, le=1)
    variance: float | None = Field(default=None, ge=0)
    latency: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)


class RouterConfig(BaseModel):
    """EMA router settings (the panel's ``router:`` block; solver args override them)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """False: consult every agent (the same as no ``router:`` block)."""
    mode: Literal["topk", "risk"] = "topk"
    top_k: int = Field(default=2, ge=1)
    """Agents consulted per item in ``topk`` mode."""
    k_min: int = Field(default=1, ge=1)
    """``risk`` mode: fewest agents consulted."""
    k_max: int | None = Field(default=None, ge=1)
    """``risk`` mode: most agents consulted (default: all)."""
    z: float = Field(default=1.0, ge=0)
    """``risk`` mode: width of the confidence bounds in standard errors."""
    alpha: float = 0.2
    """EMA weight of the newest observation, 0 < alpha <= 1."""
    w_acc: float = Field(default=1.0, ge=0)
    w_lat: float = Field(default=0.1, ge=0)
    w_cost: float = Field(default=0.1, ge=0)
    latency: Literal["tokens", "time"] = "tokens"
    """``tokens``: output tokens as the latency signal (always deterministic); ``time``: the
    model-reported call time (``AgentRecord.latency``) — deterministic only when the provider
    reports the time of the call or the call is replayed from the cache."""
    prior_accuracy: float = Field(default=0.5, ge=0, le=1)
    prior_variance: float = Field(default=0.25, ge=0)
    prior_latency: float | None = Field(default=None, ge=0)
    """None: the first observation sets the latency EMA."""
    prior_cost: float | None = Field(default=None, ge=0)
    priors: dict[str, AgentPrior] = Field(default_factory=dict)
    """Per-agent cold-start values, keyed by agent label, model name or slot number."""
    per_domain: bool = False
    """Keep EMAs per ``Question.domain`` too; an item is routed on its domain's EMAs once the
    domain has ``domain_min_n`` observations of every agent, else on the global EMAs."""
    domain_min_n: int = Field(default=5, ge=1)
    explore_every: int = Field(default=0, ge=0)
    """m > 0: items whose index is a multiple of m consult every agent (index 0 included)."""
    shadow: bool = False
    """Every agent answers every item (feedback covers all agents); routing only chooses which
    analyses the merger sees."""
    lag: int = Field(default=0, ge=0)
    """Feedback lag L: item t is routed on the feedback of items < t - L."""
    state: str | None = None
    """Warm-start state file (from ``orch-eval router calibrate``)."""
    state_out: str | None = None
    """Where the run writes its state (atomically, after every applied update)."""
    force: bool = False
    """Use a warm-start state even if it was learned on the items being evaluated."""
    resume: Literal["auto", "off"] = "auto"
    """``auto``: continue from ``state_out`` when it holds progress of the same run."""
    history: int = Field(default=128, ge=1)
    """Feedback records kept (in memory and in ``state_out``) so items re-run after an
    interruption are routed exactly as before; must exceed ``lag``."""

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not (isinstance(v, (int, float)) and 0 < v <= 1):
            raise ValueError(f"router.alpha must satisfy 0 < alpha <= 1, got {v!r}")
        return float(v)

    @model_validator(mode="after")
    def _check(self) -> RouterConfig:
        if self.k_max is not None and self.k_max < self.k_min:
            raise ValueError(f"router.k_max={self.k_max} is below router.k_min={self.k_min}")
        if self.history <= self.lag:
            raise ValueError(f"router.history={self.history} must exceed router.lag={self.lag}")
        return self

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> RouterConfig:
        """As pydantic's, but a bad setting raises :class:`OrchConfigError` with one line per field
        (``router.w_acc: Input should be a valid number ... (got 'high')``) instead of pydantic's dump.
        (A ``router:`` block inside a panel is reported by ``validate_panel`` the same way.)"""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as ex:
            raise OrchConfigError(router_errors(ex)) from None

    def identity(self) -> dict[str, Any]:
        """Settings that change routing decisions (not where state is written)."""
        return self.model_dump(mode="json", exclude={"state_out", "force", "resume", "history"})

    def digest(self) -> str:
        return hashlib.sha256(
            json.dumps(self.identity(), sort_keys=True, default=str).encode("utf-8")
        ).hexdigest()[:12]


def router_errors(ex: ValidationError) -> str:
    """One readable line per invalid router setting, naming the field and the value given."""
    lines = []
    for err in ex.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = f"router.{loc}" if loc else "router"
        msg = err["msg"].removeprefix("Value error, ")
        if loc and msg.startswith(field + " "):
            msg = msg[len(field) + 1 :]
        got = "" if err["type"] in ("value_error", "missing") else f" (got {err.get('input')!r})"
        lines.append(f"{field}: {msg}{got}")
    return "; ".join(lines) + " (router settings: see docs/router.md, Configuration)"


def coerce_router(value: Any) -> RouterConfig | None:
    """``None``/``False``/``"off"`` → None; ``True``/``"on"`` → defaults; a mapping → validated."""
    if value is None or value is False:
        return None
    if isinstance(value, RouterConfig):
        return value
    if value is True:
        return RouterConfig()
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("off", "false", "no", "none", "0"):
            return None
        if v in ("on", "true", "yes", "1"):
            return RouterConfig()
        raise ValueError(f"router must be on, off or a mapping of router settings, got {value!r}")
    if isinstance(value, dict):
        return RouterConfig.model_validate(value)
    raise ValueError(f"router must be on, off or a mapping of router settings, got {type(value).__name__}")
