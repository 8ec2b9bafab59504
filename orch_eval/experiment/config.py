"""The experiment file: a validated description of panels × benchmarks × systems.

See ``docs/experiments.md`` for the schema with examples. Everything here is plain data;
nothing is loaded or called until :mod:`orch_eval.experiment.plan` builds the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orch_eval.benchmarks import BENCHMARKS, Benchmark, task_short
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.prompts import MergeStyle
from orch_eval.core.yamlio import read_yaml

LM_EVAL_ARGS = frozenset(
    {"num_fewshot", "apply_chat_template", "fewshot_as_multiturn", "system_instruction", "gen_kwargs"}
)
"""``task_args`` an lm-eval benchmark may set: passed to ``simple_evaluate`` unchanged."""


SYSTEM_KINDS = (
    "orch",
    "dispatch",
    "single",
    "majority",
    "direct",
    "self_consistency",
    "self_moa",
    "moa",
    "debate",
)
METHOD_KINDS = ("self_consistency", "self_moa", "moa", "debate")
"""The methods beside ORCH (orch_eval.core.methods)."""
SHORTHANDS: dict[str, dict[str, Any]] = {
    "orch": {"kind": "orch"},
    "orch+router": {"kind": "orch", "name": "orch+router", "router": "on"},
    "dispatch": {"kind": "dispatch"},
    "single": {"kind": "single"},
    "majority": {"kind": "majority"},
    "vote": {"kind": "majority"},
    "direct": {"kind": "direct"},
    "self_consistency": {"kind": "self_consistency"},
    "sc": {"kind": "self_consistency"},
    "self_moa": {"kind": "self_moa"},
    "moa": {"kind": "moa"},
    "debate": {"kind": "debate"},
}


class ItemSpec(BaseModel):
    """Which items of a benchmark: exactly one of ``ids``, ``n`` or ``per_group``."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str | int] | None = None
    """Explicit sample ids (in any order; run in dataset order)."""
    n: int | None = Field(default=None, gt=0)
    """``n`` items: the first ``n`` in dataset order (``order: first``) or a seeded sample."""
    order: Literal["first", "seeded"] = "first"
    groups: int | None = Field(default=None, gt=0)
    """Number of strata (subjects / categories), drawn with the seed among those with enough items."""
    per_group: int | None = Field(default=None, gt=0)
    """Items per stratum (seeded sample)."""
    subjects: list[str] | None = None
    """Explicit strata instead of ``groups`` (e.g. MMLU subject names)."""
    group_by: str | None = None
    """Metadata key of the strata (default: ``subject``; MMLU-Pro stores its category there)."""
    seed: int | None = None
    """Sampling seed (default: the experiment's ``seed``)."""
    n_options: int | None = Field(default=None, ge=2)
    """Only items with exactly this many options (e.g. 10 for MMLU-Pro), before sampling."""

    @model_validator(mode="after")
    def _one(self) -> ItemSpec:
        chosen = [k for k in ("ids", "n", "per_group") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of ids, n, per_group (with groups or subjects)")
        if self.per_group is not None and (self.groups is None) == (self.subjects is None):
            raise ValueError("per_group needs exactly one of groups (a seeded choice) or subjects (a list)")
        if self.per_group is None and (self.groups is not None or self.subjects is not None):
            raise ValueError("groups/subjects only make sense with per_group")
        return self


class BenchmarkSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    harness: Literal["inspect", "lm_eval"] = "inspect"
    """``inspect`` (the inspect_evals tasks below) or ``lm_eval`` (an lm-evaluation-harness task
    through the ``orch`` lm-eval model; see :mod:`orch_eval.experiment.lm_eval_runs`)."""
    task: str
    """inspect: one of mmlu_0_shot, mmlu_5_shot, mmlu_pro, gsm8k (``inspect_evals/`` prefix
    optional); lm_eval: an lm-eval task name (mmlu_<subject>, gsm8k, mmlu_pro_<category>, ...)."""
    items: ItemSpec
    task_args: dict[str, Any] = Field(default_factory=dict)
    """inspect: extra task arguments (the runner always fixes ``shuffle=false`` where the task has
    it); lm_eval: ``simple_evaluate`` arguments (num_fewshot, apply_chat_template, ...)."""

    @field_validator("task")
    @classmethod
    def _task(cls, v: str, info: ValidationInfo) -> str:
        if info.data.get("harness") == "lm_eval":
            if not v or "/" in v or "," in v:
                raise ValueError(f"{v!r} is not an lm-eval task name (one task, e.g. mmlu_abstract_algebra)")
            return v
        short = task_short(v)
        if short not in BENCHMARKS:
            raise ValueError(
                f"unknown benchmark {v!r}; known benchmarks: {', '.join(BENCHMARKS)} "
                "(inspect_evals tasks; for an lm-eval task add harness: lm_eval)"
            )
        return short

    @model_validator(mode="after")
    def _lm_eval(self) -> BenchmarkSpec:
        if self.harness != "lm_eval":
            return self
        if self.items.n is None and self.items.ids is None:
            raise ValueError(
                "an lm-eval benchmark takes items.n (order: first or seeded) or items.ids (document indices)"
            )
        if self.items.n_options is not None or self.items.group_by is not None:
            raise ValueError("items.n_options and items.group_by apply to Inspect benchmarks only")
        unknown = sorted(set(self.task_args) - LM_EVAL_ARGS)
        if unknown:
            raise ValueError(
                f"task_args {unknown} are not lm-eval arguments the runner passes "
                f"({', '.join(sorted(LM_EVAL_ARGS))})"
            )
        return self

    @property
    def key(self) -> str:
        """The benchmark's name in plans, logs and reports (``lm_eval:<task>`` for lm-eval)."""
        return f"lm_eval:{self.task}" if self.harness == "lm_eval" else self.task

    @property
    def inspect_task(self) -> str:
        return BENCHMARKS[self.task].task

    @property
    def benchmark(self) -> Benchmark:
        """The registry entry of an Inspect benchmark."""
        return BENCHMARKS[self.task]


class SystemSpec(BaseModel):
    """One system (or, for ``single``/``direct`` without ``agent``, one per agent)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "orch", "single", "majority", "direct", "dispatch", "self_consistency", "self_moa", "moa", "debate"
    ]
    name: str | None = None
    """Name in the report (default: orch, majority, single:<agent label>, direct:<agent label>,
    sc<k>:<agent label>, self_moa<k>:<agent label>, moa<layers>, debate<rounds>)."""
    agent: int | None = Field(default=None, ge=0)
    """single/direct/self_consistency/self_moa: one agent slot (default: one system per agent)."""
    k: int | None = Field(default=None, ge=1)
    """self_consistency/self_moa: samples per item (default 5)."""
    temperature: float | None = Field(default=None, ge=0)
    """self_consistency/self_moa: sampling temperature (default 0.7)."""
    layers: int | None = Field(default=None, ge=1)
    """moa: agent layers (default 2)."""
    rounds: int | None = Field(default=None, ge=1)
    """debate: rounds (default 2)."""
    merge: bool | None = None
    """debate: merge the last round with the panel's merger instead of voting (default false)."""
    agents: int | list[int] | None = None
    """Ablation: the first k agents of the panel (an int) or these slots (a list)."""
    lenses: Literal["none", "auto"] | None = None
    anonymise: bool | None = None
    min_analyses: int | None = Field(default=None, ge=0)
    merger: str | None = None
    """orch/dispatch/moa: another merger model (ablation); self_moa: its merger (default the
    sampled model itself; ``panel``: the panel's merger; or a model name)."""
    merge_style: MergeStyle | None = None
    """How the merger answers (ablation; the panel's ``merge_style``): ``judge`` or ``solve``."""
    merge_budget: int | None = Field(default=None, gt=0)
    """The merger's token budget (the panel's ``budgets.merge``); ``solve`` needs an analysis-sized one."""
    router: Any = None
    """``on``, ``off`` or a mapping of router settings (``orch`` only)."""
    top_k: int | None = Field(default=None, ge=1)
    router_state: str | None = None
    derive: bool = True
    """single/majority: read from the base ORCH log's Decisions instead of running (when possible)."""

    dispatcher: int | None = Field(default=None, ge=0)
    """dispatch: the agent slot that writes the sub-questions when no router ranks the agents
    (default: the first consulted agent)."""

    @model_validator(mode="after")
    def _check(self) -> SystemSpec:
        merged = ("orch", "dispatch")
        if self.kind not in merged and (
            self.router is not None or self.top_k is not None or self.router_state
        ):
            raise ValueError("router settings only apply to kinds 'orch' and 'dispatch'")
        merging = (*merged, "self_moa", "moa", "debate")
        if self.kind not in merging and any(
            f is not None for f in (self.anonymise, self.min_analyses, self.merge_style, self.merge_budget)
        ):
            raise ValueError(
                "anonymise/min_analyses/merge_style/merge_budget only apply to kinds that merge "
                f"({', '.join(merging)})"
            )
        if self.merger is not None and self.kind not in (*merged, "self_moa", "moa", "debate"):
            raise ValueError("'merger' only applies to kinds orch, dispatch, self_moa, moa and debate")
        if self.kind != "dispatch" and self.dispatcher is not None:
            raise ValueError("'dispatcher' only applies to kind 'dispatch'")
        if self.kind in (*merged, "majority", "moa", "debate") and self.agent is not None:
            raise ValueError(
                "'agent' applies to single/direct/self_consistency/self_moa; use 'agents' for a sub-panel"
            )
        own = {
            "self_consistency": ("k", "temperature"),
            "self_moa": ("k", "temperature"),
            "moa": ("layers",),
            "debate": ("rounds", "merge"),
        }.get(self.kind, ())
        wrong = [
            f
            for f in ("k", "temperature", "layers", "rounds", "merge")
            if f not in own and getattr(self, f) is not None
        ]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} do not apply to kind {self.kind!r}")
        return self

    def method_params(self) -> dict[str, Any]:
        """The method arguments this system sets (kinds of orch_eval.core.methods)."""
        return {
            f: getattr(self, f)
            for f in ("k", "temperature", "layers", "rounds", "merge")
            if getattr(self, f) is not None
        }


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test: Literal["midp", "exact", "asymptotic", "asymptotic_cc"] = "midp"
    correction: Literal["holm", "bh", "none"] = "holm"
    bootstrap: int = Field(default=2000, ge=0)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    plots: bool = True


class Experiment(BaseModel):
    """A whole experiment file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    """Also the log folder: ``logs/<name>/``."""
    description: str | None = None
    panel: str | dict[str, Any]
    """A panel YAML path (relative to this file, then the working directory), a preset name
    (``local``) or an inline panel mapping."""
    benchmarks: list[BenchmarkSpec] = Field(min_length=1)
    systems: list[SystemSpec] = Field(min_length=1)
    reference: str | None
    """The system every other one is compared with, declared BEFORE the run (e.g.
    ``single:<first agent>``); ``null`` compares all pairs."""
    seed: int = 0
    """Item-sampling seed (the panel has its own generation seed)."""
    cost_limit: float | None = Field(default=None, gt=0)
    """Stop (cleanly, between systems) once the Decisions' cost reaches this (panel currency)."""
    max_samples: int | None = Field(default=None, gt=0)
    report: ReportSpec = Field(default_factory=ReportSpec)
    source: str | None = Field(default=None, exclude=True)
    """The file this experiment was read from (set by the loader)."""

    @field_validator("systems", mode="before")
    @classmethod
    def _systems(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        out = []
        for s in v:
            if isinstance(s, str):
                if s not in SHORTHANDS:
                    raise ValueError(
                        f"unknown system {s!r}; shorthands: {', '.join(SHORTHANDS)} (or a mapping with kind:)"
                    )
                out.append(dict(SHORTHANDS[s]))
            else:
                out.append(s)
        return out

    @property
    def base_dir(self) -> Path:
        return Path(self.source).resolve().parent if self.source else Path.cwd()


def _format_errors(ex: ValidationError, source: str) -> str:
    lines = []
    for err in ex.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(experiment)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  - {field}: {msg}")
    return (
        f"invalid experiment in {source}:\n"
        + "\n".join(lines)
        + "\nSee experiments/*.yaml and docs/experiments.md."
    )


def validate_experiment(data: Any, source: str = "experiment mapping") -> Experiment:
    if not isinstance(data, dict):
        raise OrchConfigError(
            f"{source}: an experiment must be a mapping (name, panel, benchmarks, systems, reference)"
        )
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as ex:
        raise OrchConfigError(_format_errors(ex, source)) from None
    if source != "experiment mapping":
        exp.source = source
    return exp


def load_experiment(spec: str | Path | dict[str, Any] | Experiment) -> Experiment:
    """An experiment from a YAML file, a mapping or an :class:`Experiment`."""
    if isinstance(spec, Experiment):
        return spec
    if isinstance(spec, dict):
        return validate_experiment(spec)
    path = Path(spec)
    if not path.is_file() and path.suffix not in (".yaml", ".yml"):
        from orch_eval.core.panel import packaged_presets

        packaged = packaged_presets("orch_eval.presets.experiments")
        for cand in (
            Path("experiments") / f"{spec}.yaml",
            *([packaged / f"{spec}.yaml"] if packaged else []),
        ):
            if cand.is_file():
                path = cand
                break
    if not path.is_file():
        raise OrchConfigError(f"experiment file {str(spec)!r} not found")
    data = read_yaml(path)
    return validate_experiment(data, source=str(path))
