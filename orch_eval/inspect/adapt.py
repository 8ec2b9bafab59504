"""Turn Inspect objects into engine Questions and Decisions back into task state."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ModelOutput
from inspect_ai.solver import TaskState

from orch_eval.core.decision import DECISION_KEY, Decision
from orch_eval.core.question import LETTERS, AnswerKind, Question, domain_of


def question_of(
    item_id: Any,
    text: str,
    choices: Sequence[str] | None,
    target: str | None,
    metadata: dict[str, Any] | None,
) -> Question:
    """The engine Question of one Inspect sample: its input text as the stem, its choices (if
    any) as options, its target as gold (a letter for multiple choice, else the number), its
    subject/category/domain (core.question.DOMAIN_KEYS) as domain. The one place this mapping is written."""
    gold = target.strip() if target and target.strip() else None
    domain = domain_of(metadata)
    if choices:
        options = list(choices)
        letter = gold.upper() if gold and len(gold) == 1 and gold.upper() in LETTERS[: len(options)] else None
        return Question(id=str(item_id), stem=text, options=options, domain=domain, gold=letter)
    return Question(id=str(item_id), stem=text, kind=AnswerKind.numeric, domain=domain, gold=gold)


def question_from_state(state: TaskState) -> Question:
    """The Question of a running sample: the input text, its choices (if any) and its target.

    With ``--solver`` the task's own prompt template is replaced, so ``state.input_text`` is
    the raw question (MMLU, MMLU-Pro, GSM8K); choices come from ``state.choices``.
    """
    target = state.target.text if state.target and state.target.target else None
    choices = (
        [c.value for c in state.choices] if state.choices is not None and len(state.choices) > 0 else None
    )
    return question_of(state.sample_id, state.input_text, choices, target, state.metadata)


def question_from_sample(sample: Sample) -> Question:
    """The Question a solver builds for ``sample`` (what :func:`question_from_state` gives when
    the sample runs), without running it: for choosing items and dry-run estimates."""
    text = sample.input if isinstance(sample.input, str) else "\n".join(m.text for m in sample.input)
    target = sample.target if isinstance(sample.target, str) else "".join(sample.target)
    return question_of(sample.id, text, sample.choices, target, sample.metadata)


def render_answer(decision: Decision) -> str:
    """The completion text: the merger's justification (if any), then ``ANSWER: X``.

    Inspect's ``choice()`` scorer reads the marked choices; ``match(numeric=True)`` reads the
    last number, which is the final line's.
    """
    final = decision.final if decision.final is not None else "(abstained)"
    lead = f"ORCH decision ({decision.decided_by})."
    return f"{lead}\nANSWER: {final}"


def apply_decision(state: TaskState, decision: Decision, model: str) -> TaskState:
    """Write the Decision into the task state: output, marked choice, metadata."""
    text = render_answer(decision)
    state.output = ModelOutput.from_content(model=model, content=text)
    state.messages.append(ChatMessageAssistant(content=text, model=model))
    if state.choices is not None and len(state.choices) > 0:
        for i in range(len(state.choices)):
            state.choices.mark_choice(i, LETTERS[i] == decision.final)
    state.metadata[DECISION_KEY] = decision.model_dump(mode="json")
    return state


_OPTION = re.compile(r"(?m)^\s*\(?([A-J])[\).:]\s+(.+)$")


def question_from_messages(messages: list[ChatMessage], item_id: str) -> Question:
    """A Question from a harness-rendered conversation (the ``orch/`` model provider's view).

    The stem is the conversation's system text (few-shot examples, if the task adds them)
    followed by the last user message; options are read from ``A) ...`` lines of the last user
    message, or taken from Inspect's active sample. Gold and domain come from the active
    sample, for bookkeeping only (they never enter a prompt).
    """
    system = "\n\n".join(m.text for m in messages if m.role == "system" and m.text.strip())
    user = next((m.text for m in reversed(messages) if m.role == "user"), "")
    stem = f"{system}\n\n{user}".strip() if system else user
    options: list[str] | None = None
    gold: str | None = None
    domain: str | None = None
    try:
        from orch_eval._inspect_private import sample_active

        active = sample_active()
    except Exception:  # pragma: no cover - outside an Inspect sample
        active = None
    if active is not None:
        sample = active.sample
        item_id = str(sample.id) if sample.id is not None else item_id
        domain = domain_of(sample.metadata)
        if sample.choices:
            options = list(sample.choices)
        target = sample.target if isinstance(sample.target, str) else None
        if target is not None:
            gold = target.strip()
    if options is None:
        found: list[str] = []
        for letter, text in _OPTION.findall(user):
            if len(found) < len(LETTERS) and letter == LETTERS[len(found)]:
                found.append(text.strip())
        options = found if len(found) >= 2 else None
    if options:
        if gold is not None and gold.upper() not in LETTERS[: len(options)]:
            gold = None
        return Question(
            id=item_id,
            stem=stem,
            options=options,
            options_in_stem=True,
            domain=domain,
            gold=gold.upper() if gold else None,
        )
    return Question(id=item_id, stem=stem, kind=AnswerKind.numeric, domain=domain, gold=gold)
