"""Harness-free ORCH engine: questions, panels, prompts, parsing, decisions."""

from orch_eval.core.decision import AgentRecord, Decision, MergeRecord
from orch_eval.core.question import LETTERS, AnswerKind, Question

__all__ = ["AgentRecord", "AnswerKind", "Decision", "LETTERS", "MergeRecord", "Question"]
