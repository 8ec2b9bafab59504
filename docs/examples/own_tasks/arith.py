"""A numeric-answer task of your own, written with Inspect alone (nothing of orch_eval's).

    inspect eval docs/examples/own_tasks/arith.py --model openai/gpt-4o-mini         # one model
    inspect eval docs/examples/own_tasks/arith.py --model none --solver orch_eval/orch \
        -S panel=solvers/local.yaml                                                  # ORCH
"""

from inspect_ai import Task, task
from inspect_ai.dataset import FieldSpec, json_dataset
from inspect_ai.scorer import match
from inspect_ai.solver import generate, prompt_template

TEMPLATE = """Solve the problem. Give the final answer as a number on the last line, as "ANSWER: <number>".

{prompt}"""


@task
def arith() -> Task:
    return Task(
        dataset=json_dataset("arith.jsonl", FieldSpec(input="question", target="answer", id="id")),
        solver=[prompt_template(TEMPLATE), generate()],
        scorer=match(numeric=True),
    )
