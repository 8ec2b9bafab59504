"""``--model orch``: ORCH as an lm-evaluation-harness model.

``lm-eval`` hands the model batches of requests; each request carries its task name, document
id and document (``Instance.task_name / doc_id / doc``). For the tasks this adapter knows (see
:mod:`orch_eval.lm_eval.questions`) the question ORCH answers is built from the document, not
from the rendered prompt, and the decision is rendered in the form the task's filters extract.

All questions of one call are decided concurrently (``max_concurrency``, default 16) in one
event loop, each exactly once (a multiple-choice question's per-option loglikelihood requests
share one decision). Answers are the same at any concurrency: the engine is deterministic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from orch_eval.core.coerce import as_bool
from orch_eval.core.decision import Decision
from orch_eval.core.engine import Orchestrator
from orch_eval.core.errors import OrchConfigError
from orch_eval.core.panel import Panel, check_models, load_panel, validate_panel
from orch_eval.core.question import LETTERS
from orch_eval.core.sizes import parse_size, size_problem
from orch_eval.lm_eval import sidecar
from orch_eval.lm_eval.questions import Item, generate_item, loglikelihood_item, render

if TYPE_CHECKING:
    from lm_eval.api.instance import Instance

logger = logging.getLogger("orch_eval.lm_eval")

T = TypeVar("T")

LOGLIK_CHOSEN = 0.0
"""Loglikelihood of the option ORCH chose."""
LOGLIK_OTHER = -1e9
"""Loglikelihood of every other option: finite (JSON-safe), and still the lowest after
``acc_norm`` divides by the continuation's length, so ``acc`` and ``acc_norm`` agree."""

IGNORED_ARGS = frozenset(
    {
        "batch_size",
        "max_batch_size",
        "device",
        "dtype",
        "trust_remote_code",
        "parallelize",
        "pretrained",
        "tokenizer",
    }
)
"""Arguments lm-eval (or habit) passes to every model, which ORCH has no use for."""

AGENT_SEPARATORS = re.compile(r"[;|]")
"""``agents=`` separators inside ``--model_args`` (lm-eval splits model_args on commas)."""


def parse_agents(value: Any) -> list[str]:
    """``a;b;c`` or ``a|b|c`` (or a list) -> agent model names."""
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [a.strip() for a in AGENT_SEPARATORS.split(str(value)) if a.strip()]


def _positive_int_arg(name: str, value: Any) -> int:
    """A model arg that must be an integer >= 1 (lm-eval passes ``key=3`` as 3, other text as str)."""
    try:
        parsed = parse_size(value, "positive_int") if isinstance(value, str) else value
    except ValueError as ex:
        raise OrchConfigError(f"orch model arg {name}: {ex}") from None
    problem = size_problem(parsed, "positive_int")
    if problem is not None:
        raise OrchConfigError(f"orch model arg {name}: {problem}")
    return int(parsed)


def build_panel(panel: Any, agents: Any, merger: Any, fields: dict[str, Any]) -> Panel:
    """The panel from ``panel=`` (a YAML path or preset) or ``agents=``/``merger=``, plus overrides."""
    if panel is not None:
        resolved = load_panel(panel if isinstance(panel, (Panel, dict)) else str(panel))
        if fields:
            resolved = validate_panel(
                {**resolved.model_dump(), **fields}, source=f"panel {panel} with model_args"
            )
        return resolved
    if agents is not None:
        return Panel.from_args(parse_agents(agents), None if merger is None else str(merger), **fields)
    raise OrchConfigError(
        "--model orch needs a panel: --model_args panel=solvers/NAME.yaml, or "
        "--model_args 'agents=provider/a;provider/b;provider/c,merger=provider/m' "
        "(separate agents with ';' or '|': lm-eval splits model_args on commas)"
    )


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, in a fresh event loop.

    When the caller is itself inside a running loop (lm-eval called from a notebook or an
    async program), the loop runs in a worker thread instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(factory)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = anyio.run(factory)
        except BaseException as ex:  # re-raised in the caller's thread
            box["error"] = ex

    thread = threading.Thread(target=target, name="orch-lm-eval")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@register_model("orch")
class OrchLM(LM):
    """lm-eval model that answers with ORCH decisions (see module docstring).

    Model args: ``panel`` (YAML path or preset name) or ``agents`` (``;``/``|``-separated) and
    ``merger``; any :class:`~orch_eval.core.panel.Panel` field as an override (``seed``,
    ``lenses``, ``min_analyses``...); ``max_concurrency`` (questions decided at once, default
    16); ``cache`` (Inspect's model-call cache for agent and merger calls, default true);
    ``decisions_dir`` (also write ``orch_decisions_<task>.jsonl`` there after every batch);
    ``progress`` (tqdm bar, default true); ``method`` (``orch``, default, or a method of
    :mod:`orch_eval.core.methods` with its arguments:
    ``method=self_consistency,k=5,temperature=0.7``). ``batch_size``, ``device`` etc. are
    accepted and ignored.
    """

    def __init__(
        self,
        panel: Any = None,
        agents: Any = None,
        merger: Any = None,
        max_concurrency: int = 16,
        cache: Any = True,
        decisions_dir: str | None = None,
        progress: Any = True,
        method: str = "orch",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        from orch_eval.core.methods import method_from_args, split_method_args

        self.max_concurrency = _positive_int_arg("max_concurrency", max_concurrency)

        # a method's own arguments (k=5 ...); merger / temperature are Self-MoA's merger and a
        # self-consistency sample's temperature for those methods, panel fields otherwise
        method_args, kwargs = split_method_args(
            str(method), {**kwargs, **({"merger": merger} if merger is not None else {})}
        )
        merger = kwargs.pop("merger", None)
        fields: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key in Panel.model_fields:
                fields[key] = value
            elif key in IGNORED_ARGS:
                logger.debug("orch: ignoring model arg %s=%r", key, value)
            else:
                logger.warning("orch: ignoring unknown model arg %s=%r", key, value)
        self.panel = check_models(build_panel(panel, agents, merger, fields), source="--model_args")
        self.method = method_from_args(str(method), method_args, self.panel)
        self.engine = Orchestrator(self.panel, cache=as_bool(cache, "cache"))
        self.digest = self.method.digest(self.panel)
        """Panel digest (ORCH) or panel + method digest: keys lm-eval's response cache."""
        self.decisions_dir = Path(decisions_dir) if decisions_dir else None
        self.progress = as_bool(progress, "progress")
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        """(task, question id) -> sidecar record of every question decided by this instance."""
        self.decision_store: Any = None
        """Decisions persisted next to lm-eval's response cache (``--use_cache``)."""
        sidecar.register(self.lookup)

    # ---- lm-eval plumbing ------------------------------------------------------------------

    @classmethod
    def create_from_arg_obj(
        cls, arg_dict: dict[str, Any], additional_config: dict[str, Any] | None = None
    ) -> OrchLM:
        # lm-eval passes batch_size/device/max_batch_size separately; a model_args entry of the
        # same name would otherwise be a duplicate keyword. model_args win.
        extra = {k: v for k, v in (additional_config or {}).items() if v is not None and k not in arg_dict}
        return cls(**arg_dict, **extra)

    @classmethod
    def create_from_arg_string(
        cls, arg_string: str, additional_config: dict[str, Any] | None = None
    ) -> OrchLM:
        from lm_eval.utils import simple_parse_args_string

        return cls.create_from_arg_obj(simple_parse_args_string(arg_string), additional_config)

    @property
    def tokenizer_name(self) -> str:
        return f"orch-{self.digest}"

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return f"orch-{self.digest}"

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        # Only unknown tasks read the prompt; keep it readable.
        return "\n\n".join(str(m.get("content", "")) for m in chat_history)

    def get_model_info(self) -> dict[str, Any]:
        """Goes into the results' ``config``: which panel produced these numbers."""
        return {
            "orch_panel_digest": self.engine.digest,
            "orch_system_digest": self.digest,
            "orch_panel_name": self.panel.name,
            "orch_panel": json.loads(json.dumps(self.panel.describe(), default=str)),
            "orch_method": self.method.method,
            "orch_method_params": self.method.params(),
        }

    def set_cache_hook(self, cache_hook: Any) -> None:
        """Make lm-eval's ``--use_cache`` safe across panels.

        lm-eval's ``CachingLM`` keys responses by request arguments only (never by model or
        model_args), and calls this hook right after opening its SQLite file. The response
        table is switched to ``orch_<panel digest>`` (queries read the table name at call
        time), so each panel has its own responses; the Decisions are kept in a second table
        ``orch_decisions_<digest>`` of the same file, so sidecars stay complete on cache hits.
        """
        super().set_cache_hook(cache_hook)
        dbdict = getattr(cache_hook, "dbdict", None)
        if dbdict is None or not hasattr(dbdict, "tablename"):
            return
        from sqlitedict import SqliteDict

        table = f"orch_{self.digest}"
        dbdict.conn.execute(f'CREATE TABLE IF NOT EXISTS "{table}" (key TEXT PRIMARY KEY, value BLOB)')
        dbdict.conn.commit()
        dbdict.tablename = table
        self.decision_store = SqliteDict(
            dbdict.filename,
            tablename=f"orch_decisions_{self.digest}",
            autocommit=True,
            encode=json.dumps,
            decode=json.loads,
        )
        logger.info("orch: lm-eval cache %s, table %s (panel digest %s)", dbdict.filename, table, self.digest)

    # ---- deciding --------------------------------------------------------------------------

    def _decide(self, items: list[Item], what: str) -> dict[tuple[str, str], Decision]:
        """Decide each distinct question once, concurrently; results keyed by (task, question id)."""
        unique: dict[tuple[str, str], Item] = {}
        for item in items:
            unique.setdefault(item.key, item)
        if not unique:
            return {}
        sidecar.touch(self.lookup)

        async def main() -> dict[tuple[str, str], Decision]:
            from tqdm import tqdm

            limiter = anyio.CapacityLimiter(self.max_concurrency)
            out: dict[tuple[str, str], Decision] = {}
            with tqdm(
                total=len(unique),
                desc=f"ORCH {self.panel.name or self.digest} ({what})",
                disable=not self.progress,
            ) as bar:

                async def one(key: tuple[str, str], item: Item) -> None:
                    async with limiter:
                        out[key] = await self.method.decide(self.engine, item.question)
                    bar.update(1)

                async with anyio.create_task_group() as tg:
                    for key, item in unique.items():
                        tg.start_soon(one, key, item)
            return out

        decisions = run_sync(main)
        for key, item in unique.items():
            self._remember(item, decisions[key])
        self._after_batch()
        return decisions

    def _remember(self, item: Item, decision: Decision) -> None:
        record = sidecar.make_record(item, decision)
        self.records[item.key] = record
        if self.decision_store is not None:
            self.decision_store[sidecar.store_key(item.task, item.question.id)] = record

    def lookup(self, task: str, question_id: str) -> dict[str, Any] | None:
        """The sidecar record of a question, from this run or from the ``--use_cache`` file."""
        record = self.records.get((task, question_id))
        if record is None and self.decision_store is not None:
            record = self.decision_store.get(sidecar.store_key(task, question_id))
        return record

    def _after_batch(self) -> None:
        if self.decision_store is not None:
            self.decision_store.commit()
        if self.decisions_dir is not None:
            self.write_decisions(self.decisions_dir)

    def write_decisions(self, directory: str | Path) -> list[Path]:
        """Write ``orch_decisions_<task>.jsonl`` for every task decided so far (Python API)."""
        by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for (task, _), record in self.records.items():
            by_task[task].append(record)
        paths = []
        for task, records in by_task.items():
            records.sort(key=lambda r: (r["doc_id"] is None, r["doc_id"] or 0, r["question_id"]))
            paths.append(sidecar.write_records(Path(directory) / f"orch_decisions_{task}.jsonl", records))
        return paths

    # ---- lm-eval request types -------------------------------------------------------------

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        items = [generate_item(r.task_name, r.doc_id, r.doc, r.args[0]) for r in requests]
        decisions = self._decide(items, "generate_until")
        return [render(item.family, decisions[item.key]) for item in items]

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        groups: dict[tuple[Any, Any, str], list[int]] = defaultdict(list)
        for i, r in enumerate(requests):
            groups[(r.task_name, r.doc_id, r.args[0])].append(i)
        group_items: dict[tuple[Any, Any, str], Item] = {}
        for key, idxs in groups.items():
            idxs.sort(key=lambda i: requests[i].idx)
            first = requests[idxs[0]]
            group_items[key] = loglikelihood_item(
                first.task_name, first.doc_id, first.doc, first.args[0], [requests[i].args[1] for i in idxs]
            )
        decisions = self._decide(list(group_items.values()), "loglikelihood")
        results: list[tuple[float, bool]] = [(LOGLIK_OTHER, False)] * len(requests)
        for key, idxs in groups.items():
            item = group_items[key]
            final = decisions[item.key].final
            chosen = LETTERS.index(final) if final is not None and final in item.question.letters else None
            for position, i in enumerate(idxs):
                results[i] = (LOGLIK_CHOSEN, True) if position == chosen else (LOGLIK_OTHER, False)
        return results

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(
            "--model orch does not support loglikelihood_rolling (perplexity tasks such as wikitext): "
            "ORCH decides discrete answers and has no token probabilities. Use multiple-choice "
            "(loglikelihood) or generate_until tasks."
        )
