"""``orch/<label>``: ORCH as an Inspect model, so a task keeps its own solver chain.

``inspect eval inspect_evals/mmlu_0_shot --model orch/local -M panel=solvers/local.yaml``
(``-M method=self_consistency -M k=5`` ... runs a method of :mod:`orch_eval.core.methods` instead):
the task renders its prompt (templates, few-shot system messages) and calls ``generate``;
this provider hands the rendered conversation to the engine as the question, and returns a
completion ending in ``ANSWER: X`` (or the number), which the task's own scorer reads.

The task's GenerateConfig (e.g. ``max_tokens=16`` in MMLU) is NOT passed to the agents: the
panel's budgets apply. Usage is reported by the agent and merger calls themselves (Inspect
records them per model), so this provider reports none, to avoid counting it twice. The
Decision is attached to the output's metadata and to the sample's store.
"""

from __future__ import annotations

import hashlib
from typing import Any

from inspect_ai.model import ChatMessage, GenerateConfig, ModelAPI, ModelOutput, modelapi
from inspect_ai.tool import ToolChoice, ToolInfo

from orch_eval.core.coerce import as_bool
from orch_eval.core.engine import Orchestrator
from orch_eval.core.panel import Panel, load_panel
from orch_eval.inspect.adapt import DECISION_KEY, question_from_messages, render_answer


class OrchModel(ModelAPI):
    """Model API that answers every generate call with an ORCH decision."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig | None = None,
        panel: str | dict[str, Any] | Panel | None = None,
        agents: str | list[str] | None = None,
        merger: str | None = None,
        cache: bool | str = True,
        method: str = "orch",
        **panel_fields: Any,
    ) -> None:
        config = config if config is not None else GenerateConfig()  # Inspect always passes one
        super().__init__(model_name, base_url, api_key, [], config)
        from orch_eval.core.errors import OrchConfigError
        from orch_eval.core.methods import method_from_args, split_method_args
        from orch_eval.inspect.solvers import setup_error

        try:
            # a method's own arguments (-M k=5 ...); -M merger / -M temperature are Self-MoA's merger
            # and a self-consistency sample's temperature for those methods, panel fields otherwise
            given = {**panel_fields, **({"merger": merger} if merger is not None else {})}
            method_args, fields = split_method_args(str(method), given)
            resolved = self._panel(model_name, panel, agents, fields.pop("merger", None), fields)
            self.method = method_from_args(str(method), method_args, resolved)
        except OrchConfigError as ex:  # printed by the inspect CLI as one message, before any call
            raise setup_error(f"orch/{model_name}", ex) from None
        try:
            use_cache = as_bool(cache, "-M cache")
        except OrchConfigError as ex:
            raise setup_error(f"orch/{model_name}", ex) from None
        self.engine = Orchestrator(resolved, cache=use_cache)

    @staticmethod
    def _panel(
        model_name: str,
        panel: str | dict[str, Any] | Panel | None,
        agents: str | list[str] | None,
        merger: str | None,
        panel_fields: dict[str, Any],
    ) -> Panel:
        from orch_eval.core.panel import check_models

        if panel is not None:
            resolved = load_panel(panel)
            if panel_fields:
                from orch_eval.core.panel import validate_panel

                resolved = validate_panel({**resolved.model_dump(), **panel_fields}, source=f"panel {panel}")
        elif agents is not None:
            resolved = Panel.from_args(agents, merger, **panel_fields)
        else:
            from orch_eval.core.errors import OrchConfigError

            raise OrchConfigError(
                "no panel. Pass -M panel=solvers/NAME.yaml "
                "or -M agents=provider/a,provider/b -M merger=provider/m"
            )
        if resolved.name is None:
            resolved = resolved.model_copy(update={"name": model_name})
        return check_models(
            resolved, source=f"-M panel={panel}" if panel is not None else "-M agents=... / -M merger=..."
        )

    def max_connections(self) -> int:
        # Throttling belongs to the agents' and merger's own providers.
        return 10_000

    def connection_key(self) -> str:
        return self.engine.digest

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        text = "\n".join(m.text for m in input)
        fallback_id = hashlib.sha256(text.encode()).hexdigest()[:16]
        question = question_from_messages(input, fallback_id)
        decision = await self.method.decide(self.engine, question)
        output = ModelOutput.from_content(model=f"orch/{self.model_name}", content=render_answer(decision))
        output.metadata = {DECISION_KEY: decision.model_dump(mode="json")}
        _store_decision(decision.model_dump(mode="json"))
        return output


def _store_decision(decision: dict[str, Any]) -> None:
    """Keep the Decision in the sample's store, which the log carries per sample."""
    try:
        from inspect_ai.util import store

        store().set(DECISION_KEY, decision)
    except Exception:  # pragma: no cover - outside a sample
        pass


@modelapi(name="orch")
def orch_provider() -> type[ModelAPI]:
    return OrchModel
