"""lm-eval requests -> engine Questions, and Decisions -> the text each task's filters read.

Known tasks are identified by name and their question is built from the request's document
(``Instance.doc``), never from the rendered prompt, so few-shot examples and prompt templates
do not change what ORCH is asked, and question ids / stems equal the Inspect path's:

=================================  ===================  =====================================
task (``Instance.task_name``)      question id          rendered completion
=================================  ===================  =====================================
``mmlu_<subject>`` (loglik.)       ``mmlu_<md5[:8]>``   (loglikelihoods, see ``model.py``)
``mmlu_<subject>_generative``      ``mmlu_<md5[:8]>``   ``B``
``mmlu_flan_cot_zeroshot_<s>``     ``mmlu_<md5[:8]>``   ``The answer is (B).``
``mmlu_pro`` / ``mmlu_pro_<cat>``  ``question_id``      ``The answer is (B).``
``gsm8k`` / ``gsm8k_train``        ``gsm8k_<md5[:8]>``  ``#### 72``
``gsm8k_cot``                      ``gsm8k_<md5[:8]>``  ``The answer is 72.``
anything else                      ``prompt_<sha[:16]>`` ``The answer is (B).`` / ``The answer is 72.``
=================================  ===================  =====================================

The ids are inspect_evals' ``create_stable_id`` of the same fields (MMLU: question and choices;
GSM8K: question), so an lm-eval run and an Inspect run of the same panel can be paired item by
item.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspect_evals.utils import create_stable_id

from orch_eval.benchmarks import lm_eval_family
from orch_eval.core.decision import Decision
from orch_eval.core.question import LETTERS, AnswerKind, Question, domain_of

logger = logging.getLogger("orch_eval.lm_eval")

# ---- task families ----------------------------------------------------------------------

MMLU_GENERATIVE = "mmlu_generative"
MMLU_FLAN_COT = "mmlu_flan_cot_zeroshot"
MMLU_PRO = "mmlu_pro"
GSM8K = "gsm8k"
GSM8K_COT = "gsm8k_cot"
MMLU_MC = "mmlu"
"""Plain MMLU (``output_type: multiple_choice``): answered through loglikelihood requests."""
UNKNOWN = "unknown"


def task_family(task_name: str | None) -> str:
    """The family of a task name (see the module table and the benchmark registry's
    ``LM_EVAL_FAMILIES``), ``unknown`` when not recognised."""
    return lm_eval_family(task_name) or UNKNOWN


# ---- ids -------------------------------------------------------------------------------

stable_id = create_stable_id
"""inspect_evals' own id of a sample (md5 of its fields), so lm-eval items pair with Inspect's."""


# ---- questions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One question as lm-eval asked it: which task, which document, which Question."""

    task: str
    family: str
    doc_id: int | None
    question: Question

    @property
    def key(self) -> tuple[str, str]:
        """(task, question id): the unit ORCH decides once."""
        return (self.task, self.question.id)


def _mmlu_question(doc: Mapping[str, Any]) -> Question:
    choices = list(doc["choices"])
    answer = doc.get("answer")
    gold = LETTERS[answer] if isinstance(answer, int) and 0 <= answer < len(choices) else None
    return Question(
        id=stable_id(doc["question"], doc["choices"], prefix="mmlu"),
        stem=doc["question"],
        options=choices,
        domain=domain_of(doc),
        gold=gold,
    )


def _mmlu_pro_question(doc: Mapping[str, Any]) -> Question:
    options = list(doc["options"])
    answer = doc.get("answer")
    gold = answer if isinstance(answer, str) and answer in LETTERS[: len(options)] else None
    return Question(
        id=str(doc["question_id"]),
        stem=doc["question"],
        options=options,
        domain=domain_of(doc),
        gold=gold,
    )


def _gsm8k_question(doc: Mapping[str, Any]) -> Question:
    answer = doc.get("answer")
    gold = answer.split("####")[-1].strip() if isinstance(answer, str) and "####" in answer else None
    return Question(
        id=stable_id(doc["question"], prefix="gsm8k"),
        stem=doc["question"],
        kind=AnswerKind.numeric,
        gold=gold,
    )


_DOC_BUILDERS = {
    MMLU_MC: _mmlu_question,
    MMLU_GENERATIVE: _mmlu_question,
    MMLU_FLAN_COT: _mmlu_question,
    MMLU_PRO: _mmlu_pro_question,
    GSM8K: _gsm8k_question,
    GSM8K_COT: _gsm8k_question,
}
"""Each known family -> how its documents become Questions (the module table)."""


def doc_question(family: str, doc: Mapping[str, Any]) -> Question:
    """The Question of one document of a known task family, built from the document's fields.

    The one place that maps a family to its document fields: the ``orch`` model (for the
    requests lm-eval sends) and ``orch-eval run`` (for the documents it selects) both use it.
    Raises ``ValueError`` for a family without document fields (``unknown``), and ``KeyError`` /
    ``TypeError`` / ``ValueError`` when the document lacks the family's fields.
    """
    builder = _DOC_BUILDERS.get(family)
    if builder is None:
        raise ValueError(f"task family {family!r} has no document fields to build a question from")
    return builder(doc)


_OPTION = re.compile(r"(?m)^\s*\(?([A-J])[\).:]\s+(.+?)\s*$")
_INLINE_OPTION = re.compile(r"\(([A-J])\)\s*(.+?)(?=\s*\([A-J]\)\s|\n|$)")


def options_from_prompt(text: str) -> list[str] | None:
    """Options ``A. ...`` / ``(A) ...`` / ``A) ...`` read from the prompt's last question.

    Few-shot prompts repeat option blocks, so the last complete ``A, B, C...`` run wins.
    """
    runs: list[list[str]] = []
    for letter, body in _OPTION.findall(text):
        if letter == "A":
            runs.append([body])
        elif runs and letter == LETTERS[len(runs[-1])] and len(runs[-1]) < len(LETTERS):
            runs[-1].append(body)
    if not runs:
        inline = _INLINE_OPTION.findall(text)
        for letter, body in inline:
            if letter == "A":
                runs.append([body])
            elif runs and letter == LETTERS[len(runs[-1])]:
                runs[-1].append(body)
    runs = [r for r in runs if len(r) >= 2]
    return runs[-1] if runs else None


_warned: set[str] = set()


def _warn_unknown(task: str, how: str) -> None:
    if task not in _warned:
        _warned.add(task)
        logger.warning(
            "orch: task %r is not one the lm-eval adapter knows "
            "(mmlu*, mmlu_pro*, gsm8k, gsm8k_cot, gsm8k_train); "
            "its questions are %s. Question ids will not match the Inspect path.",
            task,
            how,
        )


def prompt_question(task: str, context: str, options: Sequence[str] | None = None) -> Question:
    """Fallback: a Question from the rendered prompt (options given or parsed from ``A. ...`` lines)."""
    opts = list(options) if options is not None else options_from_prompt(context)
    qid = "prompt_" + hashlib.sha256(f"{task}\x1f{context}".encode()).hexdigest()[:16]
    if opts and 2 <= len(opts) <= len(LETTERS):
        return Question(id=qid, stem=context, options=opts, options_in_stem=options is None)
    return Question(id=qid, stem=context, kind=AnswerKind.numeric)


def _is_mmlu_doc(doc: Any) -> bool:
    return (
        isinstance(doc, Mapping)
        and isinstance(doc.get("question"), str)
        and isinstance(doc.get("choices"), Sequence)
        and not isinstance(doc.get("choices"), str)
        and 2 <= len(doc["choices"]) <= len(LETTERS)
    )


def generate_item(task: str | None, doc_id: int | None, doc: Any, context: str) -> Item:
    """The Item of a ``generate_until`` request."""
    name = task or "unknown"
    family = task_family(name)
    try:
        # a generate request of a log-likelihood MMLU task is read from its prompt, as for any
        # task the adapter does not know (that family's documents are asked via loglikelihood_item)
        if family in _DOC_BUILDERS and family != MMLU_MC:
            return Item(name, family, doc_id, doc_question(family, doc))
    except (KeyError, TypeError, ValueError) as ex:
        logger.warning(
            "orch: task %r doc %s does not have the expected fields (%s); parsing the prompt",
            name,
            doc_id,
            ex,
        )
    _warn_unknown(name, "parsed from the prompt text (options as 'A. ...' lines)")
    return Item(name, UNKNOWN, doc_id, prompt_question(name, context))


def loglikelihood_item(
    task: str | None, doc_id: int | None, doc: Any, context: str, continuations: Sequence[str]
) -> Item:
    """The Item of one document's group of ``loglikelihood`` requests (one per option)."""
    name = task or "unknown"
    family = task_family(name)
    if _is_mmlu_doc(doc) and len(doc["choices"]) == len(continuations):
        if family != MMLU_MC:
            _warn_unknown(name, "built from the document's question/choices/answer fields")
        return Item(name, MMLU_MC if family == MMLU_MC else UNKNOWN, doc_id, doc_question(MMLU_MC, doc))
    _warn_unknown(
        name,
        "the prompt text, with the continuations as options (or, when the continuations are "
        "the letters A, B, ..., the prompt's 'A. ...' lines)",
    )
    options = [c.strip() or c for c in continuations]
    if options == list(LETTERS[: len(options)]):
        # lm-eval's MMLU style: the options are listed in the prompt and the continuations are their
        # letters, which say nothing about the options themselves
        listed = options_from_prompt(context)
        if listed is not None and len(listed) == len(options):
            return Item(name, UNKNOWN, doc_id, prompt_question(name, context))
    return Item(name, UNKNOWN, doc_id, prompt_question(name, context, options))


# ---- rendering -------------------------------------------------------------------------


def render(family: str, decision: Decision) -> str:
    """The completion text for a task family: what its lm-eval filters extract the answer from.

    An abstention renders as text without an answer, which every filter scores as wrong.
    """
    final = decision.final
    if final is None:
        return "[no answer]"
    if family == MMLU_GENERATIVE:
        return final  # first line, stripped, exact match against the letter
    if family in (MMLU_FLAN_COT, MMLU_PRO):
        return f"The answer is ({final})."
    if family == GSM8K:
        return f"#### {final}"  # strict-match '#### (\-?[0-9\.\,]+)'; flexible-extract: last number
    if family == GSM8K_COT:
        return f"The answer is {final}."  # strict-match 'The answer is (\-?[0-9\.\,]+).'
    if decision.kind == AnswerKind.choice.value:
        return f"The answer is ({final})."
    return f"The answer is {final}."
