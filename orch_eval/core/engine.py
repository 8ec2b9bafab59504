"""The ORCH engine: analyses in parallel, one merge, fixed fallbacks, one Decision per item.

Everything here goes through Inspect's Model API, so any Inspect provider can be an agent
or the merger. The engine knows nothing about Inspect tasks or lm-eval requests.

Determinism: every call uses the panel's temperature and seed; prompts are pure functions
of the item; analyses reach the merger in panel order; the answer of each step is parsed by
pure functions; the fallback chain is fixed. Timing only shows up in latency fields.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import anyio
from inspect_ai.model import (
    CachePolicy,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageUser,
    GenerateConfig,
    Model,
    ModelOutput,
    get_model,
)

from orch_eval.core.context import current_question
from orch_eval.core.decision import AgentRecord, DecidedBy, Decision, DispatchRecord, MergeRecord, Usage
from orch_eval.core.model_errors import check_recorded, redacting
from orch_eval.core.panel import ModelSpec, Panel
from orch_eval.core.parse import parse_answer, parse_subquestions
from orch_eval.core.prompts import (
    analysis_prompt,
    completion_prompt,
    direct_prompt,
    dispatch_prompt,
    merge_prompt,
    strip_quoted,
)
from orch_eval.core.question import AnswerKind, Question
from orch_eval.core.redact import redact

T = TypeVar("T")

CACHE_EXPIRY: str | None = None
"""Engine cache entries never expire: a rerun of the same panel on the same items is free."""


async def gather(funcs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run coroutine factories concurrently; results in input order (not completion order)."""
    results: list[Any] = [None] * len(funcs)

    async def run(i: int, f: Callable[[], Awaitable[T]]) -> None:
        results[i] = await f()

    async with anyio.create_task_group() as tg:
        for i, f in enumerate(funcs):
            tg.start_soon(run, i, f)
    return results


def majority_vote(answers: Sequence[str | None]) -> str | None:
    """Most frequent parsed answer; ties go to the answer given first in panel order."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    for a in answers:
        if a is not None and counts[a] == best:
            return a
    return None  # pragma: no cover


@dataclass
class CallResult:
    """Outcome of one (possibly two-step) model call."""

    text: str = ""
    answer: str | None = None
    completion_used: bool = False
    completion_text: str | None = None
    error: str | None = None
    fault: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency: float = 0.0
    calls: int = 1
    """Model calls made: the first, plus the answer-completion step when it ran."""


@dataclass(frozen=True)
class MergerCall:
    """Who merges and where its calls are cached: the slot settings, the model (resolved on
    first use) and the cache scope."""

    spec: ModelSpec
    model: Callable[[], Model | None]
    cache: bool | CachePolicy


def _usage(output: ModelOutput) -> Usage:
    u = output.usage
    if u is None:
        return Usage()
    return Usage(input_tokens=u.input_tokens or 0, output_tokens=u.output_tokens or 0)


def fault_text(ex: BaseException) -> str:
    """What a failed call records: the exception of the last attempt when Inspect's retries gave up
    (tenacity's ``RetryError`` names only a Future and its memory address, which differs run to run)."""
    attempts = None
    last = getattr(ex, "last_attempt", None)
    if type(ex).__name__ == "RetryError" and last is not None and last.failed:
        attempts = getattr(last, "attempt_number", None)
        ex = last.exception()
    text = f"{type(ex).__name__}: {ex}"
    return text if attempts is None else f"{text} (gave up after {attempts} attempts)"


def _is_limit_error(ex: BaseException) -> bool:
    # Inspect's sample limits (tokens, time, messages) must end the sample as Inspect
    # intends, not become a fallback.
    return type(ex).__name__ in ("LimitExceededError",)


class Orchestrator:
    """Runs one panel. Create once per eval (it resolves models lazily) and call :meth:`decide`."""

    def __init__(
        self,
        panel: Panel,
        agent_models: Sequence[Model] | None = None,
        merger_model: Model | None = None,
        cache: bool | CachePolicy = True,
    ) -> None:
        self.panel = panel
        self.digest = panel.digest()
        self._agent_models = list(agent_models) if agent_models is not None else None
        self._merger_model = merger_model
        self.cache = cache

    # ---- models ---------------------------------------------------------------------------

    @staticmethod
    def _resolve(spec: ModelSpec) -> Model:
        if isinstance(spec.model, Model):
            return spec.model
        return get_model(spec.model, **spec.args)

    def agent_model(self, slot: int) -> Model:
        if self._agent_models is None:
            self._agent_models = [self._resolve(a) for a in self.panel.agents]
        return self._agent_models[slot]

    def merger_model(self) -> Model | None:
        if self._merger_model is None and self.panel.merger is not None:
            self._merger_model = self._resolve(self.panel.merger)
        return self._merger_model

    def _config(
        self,
        spec: ModelSpec | None,
        max_tokens: int,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> GenerateConfig:
        """The call's settings: the panel's temperature and seed (or a method's own, e.g. a
        self-consistency sample's), the slot's budget, then the slot's own ``config``."""
        cfg = GenerateConfig(
            temperature=float(self.panel.temperature if temperature is None else temperature),
            seed=self.panel.seed if seed is None else seed,
            max_tokens=spec.max_tokens if spec and spec.max_tokens else max_tokens,
        )
        if spec is not None and spec.config:
            cfg = cfg.merge(GenerateConfig(**spec.config))
        return cfg

    def _cache(self, scope: dict[str, str]) -> bool | CachePolicy:
        if self.cache is False:
            return False
        base = self.cache if isinstance(self.cache, CachePolicy) else CachePolicy(expiry=CACHE_EXPIRY)
        return CachePolicy(expiry=base.expiry, per_epoch=base.per_epoch, scopes={**base.scopes, **scope})

    def agent_cache(self, slot: int) -> bool | CachePolicy:
        """Cache scope of an analysis: the agent slot and what the analysis depends on, so two
        slots on the same model never share an entry."""
        return self._cache({"orch_role": f"agent{slot}", "orch_agent": self.panel.agent_digest(slot)})

    def merge_cache(self) -> bool | CachePolicy:
        """Cache scope of a merge: the whole panel digest, so a changed panel never reuses merges."""
        return self._cache({"orch_role": "merger", "orch_panel": self.digest})

    # ---- calls ----------------------------------------------------------------------------

    async def _generate(
        self,
        model: Model,
        question: Question,
        messages: list[ChatMessage],
        config: GenerateConfig,
        cache: bool | CachePolicy,
    ) -> tuple[ModelOutput | None, str | None, float]:
        """One model call that never raises a model fault: (output or None, error text, seconds).

        Inspect's sample limits still propagate (they must end the sample as Inspect intends)."""
        token = current_question.set(question)
        start = time.perf_counter()
        try:
            # the provider's errors are redacted before Inspect records them (model_errors.py)
            output = await redacting(model).generate(messages, config=config, cache=cache)
        except Exception as ex:  # a model fault never crashes an evaluation
            if _is_limit_error(ex):
                raise
            check_recorded(ex)
            return None, redact(fault_text(ex))[:2000], time.perf_counter() - start
        finally:
            current_question.reset(token)
        return output, None, output.time if output.time is not None else time.perf_counter() - start

    async def _call(
        self,
        model: Model,
        question: Question,
        prompt: str,
        config: GenerateConfig,
        cache: bool | CachePolicy,
        completion_tokens: int | None,
        parse_text: Callable[[str], str] = lambda t: t,
    ) -> CallResult:
        """One generate call, its parse, and (if enabled and needed) the answer-completion step."""
        result = CallResult()
        messages: list[ChatMessage] = [ChatMessageUser(content=prompt)]
        output, error, result.latency = await self._generate(model, question, messages, config, cache)
        if output is None:
            result.error, result.fault = error, "error"
            return result
        result.text = output.completion or ""
        result.usage = _usage(output)
        if output.error:
            result.error = redact(str(output.error))[:2000]
        text = parse_text(result.text)
        # First pass: only a stated answer counts (a cut-off analysis's last number is not one).
        result.answer = parse_answer(text, question.kind.value, question.letters, stated_only=True)
        if result.answer is not None:
            return result
        if not result.text.strip():
            result.fault = "empty"
            return result
        if completion_tokens is None:
            # no completion step: fall back to the lenient reading (e.g. the last number)
            result.answer = parse_answer(text, question.kind.value, question.letters)
            if result.answer is None:
                result.fault = "unparsable"
            return result
        # answer-completion step: the analysis, then a short request for the answer line
        follow = messages + [
            ChatMessageAssistant(content=result.text),
            ChatMessageUser(content=completion_prompt(question)),
        ]
        out2, error, _ = await self._generate(
            model, question, follow, config.merge(GenerateConfig(max_tokens=completion_tokens)), cache
        )
        result.calls = 2
        if out2 is None:
            result.error, result.fault = f"completion step: {error}", "unparsable"
            return result
        result.completion_text = out2.completion or ""
        result.usage = result.usage + _usage(out2)
        if out2.time is not None:
            result.latency += out2.time
        answer = parse_answer(parse_text(result.completion_text), question.kind.value, question.letters)
        if answer is None:
            result.fault = "unparsable"
        else:
            result.answer = answer
            result.completion_used = True
        return result

    def _analysis_budget(self, question: Question) -> int:
        b = self.panel.budgets
        return b.analysis if question.kind == AnswerKind.choice else b.analysis_numeric

    def _completion_budget(self) -> int | None:
        return self.panel.budgets.completion if self.panel.completion_step else None

    async def analyse(
        self,
        question: Question,
        slot: int,
        focus: str | None = None,
        *,
        temperature: float | None = None,
        seed: int | None = None,
        sample: int | None = None,
    ) -> AgentRecord:
        """One agent's structured analysis of one question (focused on a dispatcher's
        sub-question when ``focus`` is given).

        ``temperature`` / ``seed`` override the panel's for this call (a self-consistency
        sample); the cache scope stays the slot's, so the entry differs only by those settings
        and sample 0 at the panel's temperature is exactly the plain analysis."""
        spec = self.panel.agents[slot]
        lens = self.panel.lens_of(slot)
        model = self.agent_model(slot)
        r = await self._call(
            model,
            question,
            analysis_prompt(question, lens, focus),
            self._config(spec, self._analysis_budget(question), temperature, seed),
            self.agent_cache(slot),
            self._completion_budget(),
        )
        rec = self._agent_record(question, slot, lens, r)
        rec.focus = focus
        rec.sample = sample
        return rec

    async def reanalyse(
        self, question: Question, slot: int, prompt: str, role: str, round: int
    ) -> AgentRecord:
        """A later-round analysis by agent ``slot`` from a method's own ``prompt`` (a MoA layer
        or a debate round that shows the previous round's analyses). Cached under the slot's
        agent digest and ``role`` (e.g. ``moa2``); the prompt text holds what it read."""
        spec = self.panel.agents[slot]
        r = await self._call(
            self.agent_model(slot),
            question,
            prompt,
            self._config(spec, self._analysis_budget(question)),
            self._cache({"orch_role": f"{role}_agent{slot}", "orch_agent": self.panel.agent_digest(slot)}),
            self._completion_budget(),
        )
        rec = self._agent_record(question, slot, self.panel.lens_of(slot), r)
        rec.round = round
        return rec

    async def dispatch(self, question: Question, slot: int, k: int) -> DispatchRecord:
        """The dispatcher (agent ``slot``) writes ``k`` sub-questions, one per consulted agent.

        Fixed fallbacks: a failed call or fewer than ``k`` parsable numbered lines leave the
        missing entries None, and those agents write their ordinary analysis."""
        spec = self.panel.agents[slot]
        rec = DispatchRecord(slot=slot, model=spec.model_name, subquestions=[None] * k, fallback="all")
        output, rec.error, rec.latency = await self._generate(
            self.agent_model(slot),
            question,
            [ChatMessageUser(content=dispatch_prompt(question, k))],
            self._config(spec, self.panel.budgets.dispatch),
            self._cache({"orch_role": f"dispatch{slot}", "orch_agent": self.panel.agent_digest(slot)}),
        )
        if output is None:
            rec.fault = "error"
            return rec
        rec.text = output.completion or ""
        rec.usage = _usage(output)
        rec.cost = self.panel.cost(spec.model_name, rec.usage.input_tokens, rec.usage.output_tokens)
        subs = parse_subquestions(rec.text, k)
        rec.subquestions = [*subs, *([None] * (k - len(subs)))]
        rec.fallback = "none" if len(subs) == k else ("partial" if subs else "all")
        if not subs:
            rec.fault = "empty" if not rec.text.strip() else "unparsable"
        return rec

    def _agent_record(self, question: Question, slot: int, lens: str | None, r: CallResult) -> AgentRecord:
        model_name = self.panel.agents[slot].model_name
        return AgentRecord(
            slot=slot,
            model=model_name,
            lens=lens,
            answer=r.answer,
            text=r.text,
            completion_used=r.completion_used,
            completion_text=r.completion_text,
            error=r.error,
            fault=r.fault,
            usage=r.usage,
            latency=r.latency,
            cost=self.panel.cost(model_name, r.usage.input_tokens, r.usage.output_tokens),
            correct=question.is_correct(r.answer),
            calls=r.calls,
        )

    async def merge(
        self,
        question: Question,
        records: Sequence[AgentRecord],
        spec: ModelSpec | None = None,
        model: Model | None = None,
        cache: bool | CachePolicy | None = None,
    ) -> MergeRecord:
        """The merger reads the consulted analyses (panel order, anonymised) and answers.

        ``spec`` / ``model`` / ``cache`` default to the panel's merger and its merge scope; a
        method that merges something else (Self-MoA's samples, MoA's last layer) passes its own."""
        spec = spec if spec is not None else self.panel.merger
        assert spec is not None
        shown = [
            (
                f"Analyst {i + 1}" if self.panel.anonymise else rec.model,
                rec.answer,
                rec.text if rec.text.strip() else "(this analyst produced no analysis)",
            )
            for i, rec in enumerate(records)
        ]
        r = await self._call(
            model if model is not None else self.merger_model(),  # type: ignore[arg-type]
            question,
            merge_prompt(question, shown, self.panel.merge_style),
            self._config(spec, self.panel.budgets.merge),
            self.merge_cache() if cache is None else cache,
            self._completion_budget(),
            parse_text=strip_quoted,
        )
        return MergeRecord(
            model=spec.model_name,
            answer=r.answer,
            text=r.text,
            completion_used=r.completion_used,
            completion_text=r.completion_text,
            error=r.error,
            fault=r.fault,
            usage=r.usage,
            latency=r.latency,
            cost=self.panel.cost(spec.model_name, r.usage.input_tokens, r.usage.output_tokens),
            calls=r.calls,
        )

    def _dispatcher_slot(self, chosen: Sequence[int], top: int | None) -> int:
        """The router's top-ranked consulted agent, else the panel's ``dispatcher`` when it is
        consulted, else the first consulted slot."""
        for cand in (top, self.panel.dispatcher):
            if cand is not None and cand in chosen:
                return cand
        return chosen[0]

    async def decide(
        self,
        question: Question,
        consult: Sequence[int] | None = None,
        top: int | None = None,
        analyses: Sequence[AgentRecord] | None = None,
    ) -> Decision:
        """Decide one item. ``consult`` limits which agent slots are asked (router); others are
        recorded as not consulted. ``top`` is the router's best-ranked consulted agent (the
        dispatcher when the panel dispatches). ``analyses``: analyses already made for this item
        (one per slot, e.g. by the router's shadow mode); the consulted ones are used instead of
        asking the agents again."""
        n = len(self.panel.agents)
        chosen = sorted(set(consult)) if consult is not None else list(range(n))
        dispatch_rec: DispatchRecord | None = None
        focus: dict[int, str | None] = {}
        if analyses is not None:
            if self.panel.dispatch:
                raise ValueError("decide(analyses=...) does not combine with a dispatching panel")
            made = {rec.slot: rec for rec in analyses}
            missing = [s for s in chosen if s not in made]
            if missing:
                raise ValueError(f"decide(analyses=...): no analysis given for consulted slots {missing}")
            analysed = [made[s] for s in chosen]
        else:
            if self.panel.dispatch and chosen:
                dispatch_rec = await self.dispatch(question, self._dispatcher_slot(chosen, top), len(chosen))
                focus = dict(zip(chosen, dispatch_rec.subquestions, strict=False))
            analysed = await gather([partial(self.analyse, question, s, focus.get(s)) for s in chosen])
        by_slot = {rec.slot: rec for rec in analysed}
        agents = [
            by_slot.get(s)
            or AgentRecord(
                slot=s,
                model=self.panel.agents[s].model_name,
                lens=self.panel.lens_of(s),
                consulted=False,
                calls=0,
            )
            for s in range(n)
        ]
        answers = [rec.answer for rec in analysed]
        majority = majority_vote(answers)
        final, decided_by, merge_rec, notes = await self.conclude(
            question, analysed, [answers], self.panel_merger(), single=n == 1
        )
        if dispatch_rec is not None and dispatch_rec.fallback != "none":
            missing_q = sum(q is None for q in dispatch_rec.subquestions)
            notes.append(
                f"dispatcher (agent {dispatch_rec.slot}) gave {len(chosen) - missing_q} of {len(chosen)} "
                f"sub-questions ({dispatch_rec.fault or 'too few'}): {missing_q} analysts wrote their "
                "ordinary analysis"
            )
        return self.make_decision(
            question,
            final,
            decided_by,
            agents,
            majority,
            merge=merge_rec,
            notes=notes,
            dispatch=dispatch_rec,
        )

    # ---- the fixed chain after the analyses ------------------------------------------------

    def panel_merger(self) -> MergerCall | None:
        """The panel's merger with its merge cache scope (None: the panel has no merger)."""
        if self.panel.merger is None:
            return None
        return MergerCall(self.panel.merger, self.merger_model, self.merge_cache())

    async def conclude(
        self,
        question: Question,
        shown: Sequence[AgentRecord],
        votes: Sequence[Sequence[str | None]],
        merger: MergerCall | None,
        single: bool = False,
    ) -> tuple[str | None, DecidedBy, MergeRecord | None, list[str]]:
        """The fixed chain after the analyses: the merger reads ``shown`` (when there is a merger
        and at least ``min_analyses`` of them parsed; its answer-completion step is part of the
        merge call) → the majority of the first list in ``votes`` that has a parsed answer (ties:
        the answer given first) → abstain. Returns (final, decided_by, merge record, notes)."""
        notes: list[str] = []
        merge_rec: MergeRecord | None = None
        parsed = sum(r.answer is not None for r in shown)
        if merger is not None and parsed >= self.panel.min_analyses and shown:
            merge_rec = await self.merge(question, shown, merger.spec, merger.model(), merger.cache)
            if merge_rec.answer is not None:
                return (
                    merge_rec.answer,
                    ("merger_completion" if merge_rec.completion_used else "merger"),
                    merge_rec,
                    notes,
                )
            notes.append(f"merger gave no answer ({merge_rec.fault}): fallback chain")
        elif merger is not None:
            notes.append(
                f"only {parsed} parsed analyses (< min_analyses={self.panel.min_analyses}): merger skipped"
            )
        for depth, answers in enumerate(votes):
            vote = majority_vote(answers)
            if vote is not None:
                if depth > 0:
                    notes.append(
                        f"no parsed answer in the last round: the majority of round {len(votes) - depth}"
                    )
                return vote, ("single" if single and merger is None else "majority"), merge_rec, notes
        notes.append("no agent produced a parsable answer: abstain")
        return None, "abstain", merge_rec, notes

    def make_decision(
        self,
        question: Question,
        final: str | None,
        decided_by: DecidedBy,
        agents: Sequence[AgentRecord],
        majority: str | None,
        *,
        merge: MergeRecord | None = None,
        rounds: Sequence[Sequence[AgentRecord]] = (),
        notes: Sequence[str] = (),
        dispatch: DispatchRecord | None = None,
        method: str = "orch",
        method_params: dict[str, Any] | None = None,
    ) -> Decision:
        """One item's Decision with its totals (usage, cost, calls over every record) and the
        oracle (any first-round consulted analysis right)."""
        records = [a for a in agents if a.consulted] + [r for layer in rounds for r in layer]
        extras = [x for x in (merge, dispatch) if x is not None]
        usage = sum((r.usage for r in records), Usage())
        cost = sum(r.cost for r in records)
        calls = sum(r.calls for r in records)
        for x in extras:
            usage = usage + x.usage
            cost += x.cost
            calls += getattr(x, "calls", 1)
        first = [a for a in agents if a.consulted]
        return Decision(
            question_id=question.id,
            kind=question.kind.value,
            final=final,
            decided_by=decided_by,
            agents=list(agents),
            majority=majority,
            merge=merge,
            gold=question.gold,
            correct=question.is_correct(final),
            oracle=None if question.gold is None else any(bool(rec.correct) for rec in first),
            majority_correct=question.is_correct(majority),
            panel_digest=self.digest,
            panel_name=self.panel.name,
            usage=usage,
            cost=cost,
            calls=calls,
            notes=list(notes),
            dispatch=dispatch,
            method=method,
            method_params=method_params,
            rounds=[list(layer) for layer in rounds],
        )

    async def single(self, question: Question, slot: int = 0, direct: bool = False) -> Decision:
        """A one-agent system as a Decision: the agent's analysis (the fair baseline) or, with
        ``direct``, its letter-only answer. The analysis shares the slot's cache scope with
        :meth:`decide`, so it equals that agent's record inside an ORCH run."""
        rec = await (self.direct(question, slot) if direct else self.analyse(question, slot))
        return self.make_decision(
            question, rec.answer, "single" if rec.answer is not None else "abstain", [rec], rec.answer
        )

    async def direct(self, question: Question, slot: int = 0) -> AgentRecord:
        """The paper's letter-only baseline for one agent (short budget, no analysis)."""
        spec = self.panel.agents[slot]
        r = await self._call(
            self.agent_model(slot),
            question,
            direct_prompt(question),
            self._config(spec, self.panel.budgets.direct),
            self._cache({"orch_role": f"direct{slot}", "orch_agent": self.panel.agent_digest(slot)}),
            None,
        )
        return self._agent_record(question, slot, None, r)
