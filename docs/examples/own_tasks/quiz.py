"""A multiple-choice task of your own, written with Inspect alone (nothing of orch_eval's).

    inspect eval docs/examples/own_tasks/quiz.py --model openai/gpt-4o-mini          # one model
    inspect eval docs/examples/own_tasks/quiz.py --model none --solver orch_eval/orch \
        -S panel=solvers/local.yaml                                                  # ORCH
"""

from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import choice
from inspect_ai.solver import multiple_choice


@task
def quiz() -> Task:
    return Task(
        dataset=json_dataset(
            "quiz.jsonl",
            FieldSpec(input="question", choices="options", target="answer", id="id", metadata=["subject"]),
        ),
        solver=multiple_choice(),
        scorer=choice(),
    )
