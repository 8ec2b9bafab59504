"""A user's own discrete-choice tasks through ORCH, in both harnesses (docs/examples/own_tasks).

The tasks are written as a user would, with Inspect alone (``json_dataset`` + ``FieldSpec``,
``multiple_choice()`` + ``choice()``, ``generate()`` + ``match(numeric=True)``) and with an
lm-eval YAML of their own (``dataset_path: json``); nothing of orch_eval's is needed but the
solver / model. Expected answers are computed apart from the code under test, from the JSONL
records and the fake's rule restated here and in ``tests/fakeref.py``:

- Inspect: the fake keys its draw on the sample's input and knows the target, so every agent
  follows ``gold_agent_letter`` / ``gold_agent_number``;
- lm-eval: the model never sees a document's target, and for a task the adapter does not know
  the question is the rendered prompt, so each agent gives the fake's no-gold draw
  (``pick_letter`` / ``pick_number``) keyed on that prompt, which is checked against the YAML's
  own template rendered here with Jinja.

The merger ``orchfake/vote`` takes the agents' majority (ties: first in panel order).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from inspect_ai.log import EvalLog, read_eval_log

from tests.conftest import ROOT, subprocess_env
from tests.fakeref import gold_agent_letter, gold_agent_number, uniform, vote

EXAMPLES = ROOT / "docs" / "examples" / "own_tasks"
EXAMPLES_REL = EXAMPLES.relative_to(ROOT)
AGENTS = [("0.8", "a1"), ("0.6", "a2"), ("0.4", "a3")]
AGENT_NAMES = [f"orchfake/gold:p={p}:seed={s}" for p, s in AGENTS]
MERGER = "orchfake/vote"
INSPECT = str(Path(sys.executable).parent / "inspect")
LM_EVAL_CLI = Path(sys.executable).parent / "orch-lm-eval"
LETTERS = "ABCDEFGHIJ"


def records(name: str) -> list[dict]:
    return [json.loads(line) for line in (EXAMPLES / f"{name}.jsonl").read_text().splitlines()]


# ---- the fake's rule when it does not know the answer (restated from its documentation) -----------


def pick_letter(stem: str, n_options: int, seed: str) -> str:
    """orchfake/gold's answer to a choice question with no known gold: a draw keyed on the stem."""
    letters = LETTERS[: max(n_options, 2)]
    return letters[min(int(uniform(seed, "pick", stem) * len(letters)), len(letters) - 1)]


def pick_number(stem: str, seed: str) -> str:
    """orchfake/gold's answer to a numeric question with no known gold: 0..99 keyed on the stem."""
    return str(min(int(uniform(seed, "pick", stem) * 100), 99))


# ---- the examples are a user's own -------------------------------------------------------------


def test_examples_are_plain_user_tasks() -> None:
    for name in ("quiz", "arith"):
        source = (EXAMPLES / f"{name}.py").read_text()
        assert "orch_eval" not in source.split('"""', 2)[-1]  # only its docstring mentions ORCH
        assert "json_dataset" in source and "FieldSpec" in source
        assert "orch" not in (EXAMPLES / f"{name}.yaml").read_text().split("\ntask:", 1)[1]
    quiz = records("quiz")
    assert 10 <= len(quiz) <= 20 and {len(r["options"]) for r in quiz} >= {3, 4, 5}
    assert all(r["answer"] in LETTERS[: len(r["options"])] for r in quiz)
    arith = records("arith")
    assert 10 <= len(arith) <= 20 and all(re.fullmatch(r"-?\d+", r["answer"]) for r in arith)
    assert "not taken from any benchmark" in (EXAMPLES / "LICENSE.md").read_text()


# ---- Inspect: --solver orch_eval/orch and --model orch/... --------------------------------------------


def run_inspect(args: list[str], log_dir: Path) -> EvalLog:
    proc = subprocess.run(
        [INSPECT, "eval", *args, "--log-dir", str(log_dir), "--display", "none", "--log-format", "eval"],
        capture_output=True, text=True, env=subprocess_env(), cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (log,) = sorted(log_dir.glob("*.eval"))
    return read_eval_log(str(log))


def expected_inspect(task: str, record: dict) -> str:
    stem, gold = record["question"], record["answer"]
    if task == "quiz":
        return vote([gold_agent_letter(stem, gold, len(record["options"]), float(p), s) for p, s in AGENTS])
    return vote([gold_agent_number(stem, gold, float(p), s) for p, s in AGENTS])


PATHS = {
    "solver": [
        "--model", "none", "--solver", "orch_eval/orch",
        "--model-role", "agents=" + ",".join(AGENT_NAMES), "--model-role", f"merger={MERGER}",
    ],
    "provider": ["--model", "orch/mine", "-M", "agents=" + ",".join(AGENT_NAMES), "-M", f"merger={MERGER}"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("task", ["quiz", "arith"])
def test_own_task_through_inspect(task: str, path: str, tmp_path: Path) -> None:
    log = run_inspect([f"{EXAMPLES_REL}/{task}.py", *PATHS[path]], tmp_path)
    assert log.status == "success", log.error
    recs = {r["id"]: r for r in records(task)}
    assert log.samples is not None and len(log.samples) == len(recs)
    assert [str(i) for i in log.eval.dataset.sample_ids or []] == list(recs)  # the file's items, in order
    right = 0
    for sample in log.samples:
        rec = recs[str(sample.id)]
        assert sample.input == rec["question"] and sample.target == rec["answer"]
        want = expected_inspect(task, rec)
        if path == "solver":
            assert sample.metadata["orch"]["final"] == want, sample.id
        else:
            assert sample.output.completion.rstrip().endswith(f"ANSWER: {want}"), sample.output.completion
        score = next(iter(sample.scores.values()))
        assert (score.value == "C") == (want == rec["answer"]), sample.id
        right += want == rec["answer"]
    assert log.results is not None
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(right / len(recs))
    assert 0 < right < len(recs)  # the panel is neither always right nor always wrong here


# ---- lm-eval: orch-lm-eval --include_path ... --model orch -----------------------------------------


LM_TASKS = ["quiz", "quiz_generative", "arith"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    pytest.importorskip("lm_eval")
    out = tmp_path_factory.mktemp("own-lm-eval")
    cmd = [
        str(LM_EVAL_CLI), "--model", "orch",
        "--model_args", "agents=" + "|".join(AGENT_NAMES) + f",merger={MERGER}",
        "--include_path", str(EXAMPLES_REL), "--tasks", ",".join(LM_TASKS),
        "--log_samples", "--output_path", str(out),
    ]  # fmt: skip
    env = subprocess_env(INSPECT_CACHE_DIR=str(out / "inspect-cache"))
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"orch-lm-eval failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    (results,) = sorted(out.rglob("results_*.json"))
    return out, json.loads(results.read_text())


def one_file(out: Path, kind: str, task: str) -> Path:
    (path,) = [p for p in out.rglob(f"{kind}_{task}_*.jsonl") if re.fullmatch(rf"{kind}_{task}_\d{{4}}-.*", p.name)]
    return path


def lm_samples(out: Path, task: str) -> dict[int, dict]:
    return {s["doc_id"]: s for s in map(json.loads, one_file(out, "samples", task).read_text().splitlines())}


def lm_decisions(out: Path, task: str) -> dict[int, dict]:
    return {r["doc_id"]: r for r in map(json.loads, one_file(out, "orch_decisions", task).read_text().splitlines())}


def rendered_prompt(task: str, record: dict) -> str:
    """The YAML's ``doc_to_text`` rendered with Jinja, apart from lm-eval."""
    import jinja2

    template = yaml.safe_load((EXAMPLES / f"{task}.yaml").read_text())["doc_to_text"]
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template).render(**record)


def expected_lm(task: str, prompt: str, record: dict) -> str:
    if task == "arith":
        return vote([pick_number(prompt, s) for _, s in AGENTS])
    return vote([pick_letter(prompt, len(record["options"]), s) for _, s in AGENTS])


@pytest.mark.slow
@pytest.mark.parametrize("task", LM_TASKS)
def test_own_task_through_lm_eval(task: str, lm_run: tuple[Path, dict]) -> None:
    from orch_eval.lm_eval.questions import generate_item, loglikelihood_item

    out, res = lm_run
    recs = records("arith" if task == "arith" else "quiz")
    samples, decided = lm_samples(out, task), lm_decisions(out, task)
    assert sorted(samples) == sorted(decided) == list(range(len(recs)))
    right = 0
    finals = []
    for i, rec in enumerate(recs):
        s = samples[i]
        prompt = s["arguments"]["gen_args_0"]["arg_0"]
        assert prompt == rendered_prompt(task, rec)  # what the user's YAML asks, nothing added
        want = expected_lm(task, prompt, rec)
        finals.append(want)
        d = decided[i]["decision"]
        assert d["final"] == want and d["gold"] is None and d["correct"] is None  # lm-eval keeps the target
        assert decided[i]["family"] == "unknown" and decided[i]["question_id"].startswith("prompt_")
        # the question the adapter builds from these very requests has the user's options
        if task == "quiz":
            conts = [a["arg_1"] for _, a in sorted(s["arguments"].items(), key=lambda kv: int(kv[0].split("_")[-1]))]
            assert [c.strip() for c in conts] == list(LETTERS[: len(rec["options"])])
            q = loglikelihood_item(task, i, s["doc"], prompt, conts).question
        else:
            q = generate_item(task, i, s["doc"], prompt).question
        if task == "arith":
            assert q.kind.value == "numeric"
        else:
            assert q.options == rec["options"] and q.options_in_stem
        right += want == rec["answer"]
    r = res["results"][task]
    metric = {"quiz": "acc,none", "quiz_generative": "exact_match,letter", "arith": "exact_match,last-number"}[task]
    assert r[metric] == pytest.approx(right / len(recs))
    if task == "quiz":
        for i, s in samples.items():  # the chosen letter has the highest loglikelihood
            lls = [float(x[0][0]) for x in s["resps"]]
            assert LETTERS[lls.index(max(lls))] == finals[i]
    else:
        rendered = {"quiz_generative": "The answer is ({}).", "arith": "The answer is {}."}[task]
        for i, s in samples.items():
            assert s["resps"] == [[rendered.format(finals[i])]]
            assert s["filtered_resps"] == [finals[i]]
    if task != "arith":
        assert 0 < right < len(recs)  # the draws hit some golds and miss others


# ---- the adapter reads a user's options (lm_eval/questions.py) ---------------------------------------


def test_letter_continuations_take_the_options_listed_in_the_prompt() -> None:
    """A task in lm-eval's MMLU style scores the letters (`doc_to_choice: [A, B, C]`) after a
    prompt that lists the options: ORCH must be asked the options, not "A) A, B) B"."""
    from orch_eval.core.prompts import analysis_prompt
    from orch_eval.lm_eval.questions import loglikelihood_item

    doc = {"query": "Which is a prime?", "opts": ["21", "29", "33"], "gold": 1}  # not MMLU's field names
    few_shot = "Which is even?\nA. 3\nB. 4\nC. 5\nD. 7\nAnswer: B\n\n"
    prompt = "Which is a prime?\nA. 21\nB. 29\nC. 33\nAnswer:"
    q = loglikelihood_item("my_task", 0, doc, few_shot + prompt, [" A", " B", " C"]).question
    assert q.options == ["21", "29", "33"] and q.options_in_stem and q.stem == few_shot + prompt
    text = analysis_prompt(q)
    assert "A) A" not in text and "C. 33" in text
    # option texts as continuations are the options themselves (not read from the prompt)
    q = loglikelihood_item("my_task", 0, doc, "Which is a prime?\nAnswer:", [" 21", " 29", " 33"]).question
    assert q.options == ["21", "29", "33"] and not q.options_in_stem
    # letters with no matching list in the prompt: the letters are all there is
    q = loglikelihood_item("my_task", 0, doc, "Pick one.\nAnswer:", [" A", " B"]).question
    assert q.options == ["A", "B"] and not q.options_in_stem
    q = loglikelihood_item("my_task", 0, doc, prompt, [" A", " B"]).question  # the prompt lists three
    assert q.options == ["A", "B"]


def test_gsm8k_train_is_read_like_gsm8k() -> None:
    from orch_eval.lm_eval.questions import generate_item, render, task_family

    assert task_family("gsm8k_train") == "gsm8k" and task_family("gsm8k_train_cot") == "unknown"
    doc = {"question": "What is 6 times 7?", "answer": "6*7=42\n#### 42"}
    item = generate_item("gsm8k_train", 0, doc, "Question: What is 6 times 7?\nAnswer:")
    assert item.question.stem == doc["question"] and item.question.gold == "42"
    from orch_eval.core.decision import Decision

    assert render(item.family, Decision.model_construct(final="42", kind="numeric")) == "#### 42"
