"""The lm-eval adapter (``--model orch``) end to end, offline, with the real lm-eval machinery.

Expected accuracies are computed independently of the adapter: the same documents are loaded
with ``datasets.load_dataset``, each fake analyst's answer comes from the fake provider's own
pure function (``OrchFake.answer_for``), and the panel's answer is their majority (ties: first
in panel order), which is what ``orchfake/vote`` does as a merger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HF_CACHE = ROOT / ".cache" / "hf_datasets"
OFFLINE_ENV = {
    "HF_DATASETS_CACHE": str(HF_CACHE),
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}
os.environ.update(OFFLINE_ENV)
os.environ.setdefault("INSPECT_CACHE_DIR", tempfile.mkdtemp(prefix="orch-lmeval-inspect-cache-"))

pytest.importorskip("lm_eval")
import datasets  # noqa: E402
import yaml  # noqa: E402

datasets.config.HF_DATASETS_CACHE = HF_CACHE  # in case datasets was imported before the env was set
datasets.config.HF_HUB_OFFLINE = True
datasets.config.HF_DATASETS_OFFLINE = True

from orch_eval.models.fake import OrchFake  # noqa: E402

PANEL_A = ROOT / "solvers" / "fake-lmeval.yaml"
PANEL_B = ROOT / "solvers" / "fake-lmeval-b.yaml"
LIMIT = 10
CLI = Path(sys.executable).parent / "orch-lm-eval"

pytestmark = pytest.mark.slow


# ---- independent expectations ----------------------------------------------------------------


def _agents(panel_path: Path) -> list[OrchFake]:
    data = yaml.safe_load(panel_path.read_text())
    return [OrchFake(a.split("/", 1)[1]) for a in data["agents"]]


def _vote(answers: list[str]) -> str:
    counts = Counter(answers)
    top = max(counts.values())
    return next(a for a in answers if counts[a] == top)


def _num_equal(a: str, b: str) -> bool:
    return Fraction(a.replace(",", "")) == Fraction(b.replace(",", ""))


def _load(task: str) -> list[dict]:
    """The first LIMIT documents lm-eval evaluates for a task (its test split, in order)."""
    kw = {"cache_dir": str(HF_CACHE)}
    if task.startswith("mmlu_pro_"):
        ds = datasets.load_dataset("TIGER-Lab/MMLU-Pro", split="test", **kw)
        category = task.removeprefix("mmlu_pro_").replace("_", " ")
        ds = ds.filter(lambda d: d["category"] == category, keep_in_memory=True)
    elif task.startswith("gsm8k"):
        ds = datasets.load_dataset("openai/gsm8k", "main", split="test", **kw)
    elif task.startswith("mmlu_flan_cot_zeroshot_"):  # evaluated on the validation split
        subject = task.removeprefix("mmlu_flan_cot_zeroshot_")
        ds = datasets.load_dataset("cais/mmlu", subject, split="validation", **kw)
    else:  # mmlu_<subject>, mmlu_<subject>_generative
        subject = task.removeprefix("mmlu_").removesuffix("_generative")
        ds = datasets.load_dataset("cais/mmlu", subject, split="test", **kw)
    return [ds[i] for i in range(LIMIT)]


def _item(task: str, doc: dict) -> tuple[str, str, str, int]:
    """(stem, gold, kind, number of options) of a document, read straight from the dataset."""
    if task.startswith("mmlu_pro_"):
        return doc["question"], doc["answer"], "choice", len(doc["options"])
    if task.startswith("gsm8k"):
        return doc["question"], doc["answer"].split("####")[-1].strip(), "numeric", 0
    return doc["question"], "ABCD"[doc["answer"]], "choice", len(doc["choices"])


def expected(task: str, panel: Path = PANEL_A) -> list[dict]:
    """Per document: every agent's answer, the panel's answer and whether it is right."""
    agents = _agents(panel)
    out = []
    for doc in _load(task):
        stem, gold, kind, n = _item(task, doc)
        answers = [a.answer_for(stem, gold, kind, n) for a in agents]
        final = _vote(answers)
        correct = _num_equal(final, gold) if kind == "numeric" else final == gold
        out.append({"answers": answers, "final": final, "gold": gold, "correct": correct})
    return out


def expected_acc(task: str, panel: Path = PANEL_A) -> float:
    items = expected(task, panel)
    return sum(i["correct"] for i in items) / len(items)


# ---- running lm-eval ---------------------------------------------------------------------------


def run_cli(tasks: list[str], out: Path, model_args: str = f"panel={PANEL_A}", extra: tuple[str, ...] = ()) -> dict:
    env = {**os.environ, **OFFLINE_ENV, "INSPECT_CACHE_DIR": str(out / "inspect-cache")}
    cmd = [
        str(CLI),
        "--model", "orch",
        "--model_args", model_args,
        "--tasks", ",".join(tasks),
        "--limit", str(LIMIT),
        "--log_samples",
        "--output_path", str(out),
        *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"orch-lm-eval failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    results = sorted(out.rglob("results_*.json"))
    assert len(results) == 1, results
    return json.loads(results[0].read_text())


def samples(out: Path, task: str) -> dict[int, list[dict]]:
    """doc_id -> the logged sample lines (one per filter) of a task."""
    (path,) = out.rglob(f"samples_{task}_*.jsonl")
    by_doc: dict[int, list[dict]] = {}
    for line in path.read_text().splitlines():
        s = json.loads(line)
        by_doc.setdefault(s["doc_id"], []).append(s)
    return by_doc


@pytest.fixture(scope="module")
def main_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("lmeval-main")
    return out, run_cli(["mmlu_abstract_algebra", "gsm8k", "mmlu_pro_math"], out)


# ---- tests -------------------------------------------------------------------------------------


def test_cli_accuracies_match_independent_computation(main_run: tuple[Path, dict]) -> None:
    out, res = main_run
    r = res["results"]
    assert r["mmlu_abstract_algebra"]["acc,none"] == pytest.approx(expected_acc("mmlu_abstract_algebra"))
    gsm = expected_acc("gsm8k")
    assert r["gsm8k"]["exact_match,strict-match"] == pytest.approx(gsm)
    assert r["gsm8k"]["exact_match,flexible-extract"] == pytest.approx(gsm)
    assert r["mmlu_pro_math"]["exact_match,custom-extract"] == pytest.approx(expected_acc("mmlu_pro_math"))
    # the fake panel is not trivially right or wrong everywhere: the comparison means something
    all_items = [i for t in ("mmlu_abstract_algebra", "gsm8k", "mmlu_pro_math") for i in expected(t)]
    assert 0 < sum(i["correct"] for i in all_items) < len(all_items)
    # the panel's identity is in the results' config
    assert len(res["config"]["orch_panel_digest"]) == 12
    assert res["config"]["orch_panel_name"] == "fake-lmeval"


def test_cli_per_item_scores_match(main_run: tuple[Path, dict]) -> None:
    out, _ = main_run
    for task, metric in [("mmlu_abstract_algebra", "acc"), ("gsm8k", "exact_match"), ("mmlu_pro_math", "exact_match")]:
        by_doc = samples(out, task)
        assert sorted(by_doc) == list(range(LIMIT))
        for doc_id, exp in enumerate(expected(task)):
            for s in by_doc[doc_id]:
                assert bool(s[metric]) == exp["correct"], (task, doc_id, s["filter"], s["resps"])


def test_rendering_matches_task_filters(main_run: tuple[Path, dict]) -> None:
    out, _ = main_run
    exp = expected("gsm8k")
    for doc_id, lines in samples(out, "gsm8k").items():
        for s in lines:
            assert s["resps"] == [[f"#### {exp[doc_id]['final']}"]]
            assert s["filtered_resps"] == [exp[doc_id]["final"]]
    exp = expected("mmlu_pro_math")
    for doc_id, (s,) in samples(out, "mmlu_pro_math").items():
        assert s["resps"] == [[f"The answer is ({exp[doc_id]['final']})."]]
    exp = expected("mmlu_abstract_algebra")
    for doc_id, (s,) in samples(out, "mmlu_abstract_algebra").items():
        lls = [float(r[0][0]) for r in s["resps"]]  # the samples file stores them as strings
        assert lls.index(max(lls)) == "ABCD".index(exp[doc_id]["final"])
        assert sorted(lls) == [-1e9, -1e9, -1e9, 0.0]


def test_decision_sidecars_read_back_and_pair(main_run: tuple[Path, dict]) -> None:
    from inspect_evals.utils.deps_utils import create_stable_id

    from orch_eval.lm_eval import outcomes, read_decisions
    from orch_eval.stats import PairedOutcomes

    out, res = main_run
    records = read_decisions(out)
    assert len(records) == 3 * LIMIT
    digest = res["config"]["orch_panel_digest"]
    for task in ("mmlu_abstract_algebra", "gsm8k", "mmlu_pro_math"):
        (path,) = out.rglob(f"orch_decisions_{task}_*.jsonl")
        (samples_path,) = out.rglob(f"samples_{task}_*.jsonl")
        assert path.parent == samples_path.parent
        assert path.name.removeprefix("orch_decisions_") == samples_path.name.removeprefix("samples_")
        recs = {r["doc_id"]: r for r in read_decisions(path)}
        assert sorted(recs) == list(range(LIMIT))
        for doc_id, (doc, exp) in enumerate(zip(_load(task), expected(task))):
            r = recs[doc_id]
            d = r["decision"]
            assert r["task"] == task and r["panel_digest"] == digest == d.panel_digest
            assert d.agent_answers() == exp["answers"]
            assert d.final == exp["final"] and d.correct == exp["correct"]
            # question ids are the Inspect path's sample ids (inspect_evals' record_to_sample)
            if task == "gsm8k":
                assert r["question_id"] == create_stable_id(doc["question"], prefix="gsm8k")
            elif task == "mmlu_pro_math":
                assert r["question_id"] == str(doc["question_id"])
            else:
                assert r["question_id"] == create_stable_id(doc["question"], doc["choices"], prefix="mmlu")
    systems = outcomes(records)
    assert set(systems) >= {"orch", "majority", "oracle", "agent0:orchfake/gold:p=0.7:seed=1"}
    paired = PairedOutcomes.from_dict(systems)
    assert len(paired.item_ids) == 3 * LIMIT


def test_cli_generative_and_cot_tasks(tmp_path: Path) -> None:
    tasks = ["mmlu_abstract_algebra_generative", "gsm8k_cot", "mmlu_flan_cot_zeroshot_abstract_algebra"]
    res = run_cli(tasks, tmp_path, model_args=f"panel={PANEL_A},max_concurrency=3")
    r = res["results"]
    assert r["mmlu_abstract_algebra_generative"]["exact_match,get_response"] == pytest.approx(
        expected_acc("mmlu_abstract_algebra_generative")
    )
    gsm = expected_acc("gsm8k_cot")
    assert r["gsm8k_cot"]["exact_match,strict-match"] == pytest.approx(gsm)
    assert r["gsm8k_cot"]["exact_match,flexible-extract"] == pytest.approx(gsm)
    flan = expected_acc("mmlu_flan_cot_zeroshot_abstract_algebra")
    assert r["mmlu_flan_cot_zeroshot_abstract_algebra"]["exact_match,strict-match"] == pytest.approx(flan)
    assert r["mmlu_flan_cot_zeroshot_abstract_algebra"]["exact_match,flexible-extract"] == pytest.approx(flan)
    exp = expected("gsm8k_cot")
    for doc_id, lines in samples(tmp_path, "gsm8k_cot").items():
        assert lines[0]["resps"] == [[f"The answer is {exp[doc_id]['final']}."]]
    exp = expected("mmlu_abstract_algebra_generative")
    for doc_id, (s,) in samples(tmp_path, "mmlu_abstract_algebra_generative").items():
        assert s["resps"] == [[exp[doc_id]["final"]]]
    assert len(list(tmp_path.rglob("orch_decisions_*.jsonl"))) == 3


def test_agents_model_args_on_the_command_line(tmp_path: Path) -> None:
    agents = "|".join(yaml.safe_load(PANEL_A.read_text())["agents"])
    res = run_cli(["gsm8k"], tmp_path, model_args=f"agents={agents},merger=orchfake/vote,batch_size=4")
    assert res["results"]["gsm8k"]["exact_match,strict-match"] == pytest.approx(expected_acc("gsm8k"))


# ---- in-process (simple_evaluate) --------------------------------------------------------------


def _simple_evaluate(model_args: str, tasks: list[str], **kw):
    import lm_eval

    import orch_eval.lm_eval  # noqa: F401  registers --model orch

    return lm_eval.simple_evaluate(model="orch", model_args=model_args, tasks=tasks, limit=LIMIT, **kw)


def test_use_cache_is_safe_across_panels(tmp_path: Path) -> None:
    from orch_eval.lm_eval import sidecar
    from orch_eval.models.fake import call_counts, reset_call_counts

    cache = str(tmp_path / "lmeval-cache")
    tasks = ["mmlu_abstract_algebra", "gsm8k"]
    # cache=false turns off Inspect's call cache, so only lm-eval's cache can avoid calls
    for panel in (PANEL_A, PANEL_B, PANEL_A):
        reset_call_counts()
        res = _simple_evaluate(f"panel={panel},cache=false,progress=false", tasks, use_cache=cache, log_samples=True)
        assert res["results"]["mmlu_abstract_algebra"]["acc,none"] == pytest.approx(
            expected_acc("mmlu_abstract_algebra", panel)
        )
        assert res["results"]["gsm8k"]["exact_match,strict-match"] == pytest.approx(expected_acc("gsm8k", panel))
        calls = sum(call_counts().values())
        # Decisions stay available on cache hits (kept in the cache file, per panel)
        for task in tasks:
            recs = sidecar.records_for_samples(task, res["samples"][task])
            assert len(recs) == LIMIT
            assert [r["decision"]["final"] for r in sorted(recs, key=lambda r: r["doc_id"])] == [
                e["final"] for e in expected(task, panel)
            ]
    assert calls == 0  # the second run of panel A was answered from lm-eval's cache


def test_same_answers_at_any_concurrency() -> None:
    runs = []
    for conc in (1, 32):
        res = _simple_evaluate(
            f"panel={PANEL_B},cache=false,progress=false,max_concurrency={conc}", ["gsm8k", "mmlu_pro_math"], log_samples=True
        )
        runs.append({t: [s["resps"] for s in res["samples"][t]] for t in res["samples"]})
    assert runs[0] == runs[1]


# ---- units -------------------------------------------------------------------------------------


def test_model_args_parsing_and_unsupported_requests() -> None:
    from orch_eval.lm_eval.model import OrchLM

    lm = OrchLM.create_from_arg_string(
        "agents=orchfake/gold:p=0.7:seed=1;orchfake/fixed|orchfake/gold,merger=orchfake/vote,seed=3",
        {"batch_size": 8, "max_batch_size": 64, "device": "cuda"},
    )
    assert [a.model for a in lm.panel.agents] == ["orchfake/gold:p=0.7:seed=1", "orchfake/fixed", "orchfake/gold"]
    assert lm.panel.merger.model == "orchfake/vote" and lm.panel.seed == 3
    assert lm.tokenizer_name == f"orch-{lm.digest}"
    with pytest.raises(NotImplementedError, match="loglikelihood_rolling"):
        lm.loglikelihood_rolling([])
    from orch_eval.core.errors import OrchConfigError

    with pytest.raises(OrchConfigError, match="needs a panel"):
        OrchLM()


def test_unknown_task_falls_back_to_the_prompt(caplog: pytest.LogCaptureFixture) -> None:
    from orch_eval.lm_eval.questions import generate_item, task_family

    prompt = "Example\nA. one\nB. two\nAnswer: A\n\nWhich is even?\nA. three\nB. four\nC. five\nAnswer:"
    with caplog.at_level("WARNING"):
        item = generate_item("my_custom_task", 3, {"text": "x"}, prompt)
    assert "my_custom_task" in caplog.text
    assert item.family == "unknown" and item.question.options == ["three", "four", "five"]
    assert item.question.id.startswith("prompt_")
    assert generate_item("my_custom_task", 4, {}, "What is 6*7?\nAnswer:").question.kind.value == "numeric"
    assert task_family("mmlu_pro") == "mmlu_pro"
    assert task_family("mmlu_anatomy_generative") == "mmlu_generative"
    assert task_family("mmlu_flan_cot_zeroshot_anatomy") == "mmlu_flan_cot_zeroshot"
    assert task_family("gsm8k_cot") == "gsm8k_cot" and task_family("gsm8k_cot_llama") == "unknown"


def test_run_and_the_model_build_a_document_s_question_alike() -> None:
    """`orch-eval run` (experiment/items.doc_question, for the documents it selects) asks what the
    `orch` model asks for the same document of the same task, in every known family, the
    log-likelihood MMLU one included; a family without document fields is refused by name."""
    from orch_eval.experiment.items import doc_question
    from orch_eval.lm_eval.questions import doc_question as family_question
    from orch_eval.lm_eval.questions import generate_item, loglikelihood_item

    mmlu = {"question": "Which is even?", "choices": ["three", "four", "five", "seven"], "answer": 1, "subject": "math"}
    pro = {"question_id": 70, "question": "Pick B.", "options": ["a", "b", "c"], "answer": "B", "category": "math"}
    gsm = {"question": "What is 6 times 7?", "answer": "6*7=42\n#### 42"}
    cases = [
        ("mmlu_abstract_algebra", mmlu, "mmlu", "B"),
        ("mmlu_abstract_algebra_generative", mmlu, "mmlu", "B"),
        ("mmlu_flan_cot_zeroshot_abstract_algebra", mmlu, "mmlu", "B"),
        ("mmlu_pro_math", pro, "70", "B"),
        ("gsm8k", gsm, "gsm8k", "42"),
        ("gsm8k_cot", gsm, "gsm8k", "42"),
    ]
    for task, doc, id_start, gold in cases:
        q = doc_question(task, doc)
        if task == "mmlu_abstract_algebra":
            asked = loglikelihood_item(task, 0, doc, "", ["A", "B", "C", "D"]).question
        else:
            asked = generate_item(task, 0, doc, "").question
        assert q == asked, task
        assert q.id.startswith(id_start) and q.gold == gold, (task, q)
    with pytest.raises(ValueError, match="'unknown'"):
        family_question("unknown", mmlu)


def test_items_have_the_inspect_paths_ids_domains_and_gold() -> None:
    """lm-eval's documents give the Question Inspect's samples of the same item give: the same id
    (pairing), gold and domain (the router's per-domain EMAs and the reports' clusters read it), so
    a router state or a report does not depend on the harness."""
    from inspect_evals.mmlu import mmlu_0_shot
    from inspect_evals.mmlu_pro import mmlu_pro

    from orch_eval.inspect.adapt import question_from_sample
    from orch_eval.lm_eval.questions import generate_item

    cases = [
        ("mmlu_abstract_algebra_generative", mmlu_0_shot(subjects="abstract_algebra", shuffle=False), "abstract_algebra"),
        ("mmlu_pro_math", mmlu_pro(subjects="math", shuffle=False), "math"),
    ]
    for name, task, domain in cases:
        via_inspect = {q.id: q for q in map(question_from_sample, list(task.dataset)[:LIMIT])}
        for i, doc in enumerate(_load(name)):
            q = generate_item(name, i, doc, "").question
            assert q.id in via_inspect, (name, i)
            other = via_inspect[q.id]
            assert q.domain == other.domain == domain, (name, i)
            assert q.gold == other.gold and q.gold is not None, (name, i)
            assert q.options == other.options, (name, i)


@pytest.mark.slow
def test_same_answers_through_inspect_and_lm_eval(main_run: tuple[Path, dict], tmp_path: Path) -> None:
    """The same panel on the same items decides the same way through both harnesses."""
    from inspect_ai import eval as inspect_eval

    from orch_eval.inspect.solvers import orch
    from orch_eval.lm_eval import read_decisions

    out, _ = main_run
    lm = {r["question_id"]: r["decision"].final for r in read_decisions(out)}
    runs = [
        ("inspect_evals/mmlu_0_shot", {"subjects": "abstract_algebra", "shuffle": False}),
        ("inspect_evals/gsm8k", {}),
        ("inspect_evals/mmlu_pro", {"subjects": "math", "shuffle": False}),
    ]
    compared = 0
    for task, args in runs:
        log = inspect_eval(
            task, task_args=args, model=None, solver=orch(panel=str(PANEL_A)), limit=LIMIT,
            display="none", log_dir=str(tmp_path),
        )[0]
        assert log.status == "success", log.error
        for sample in log.samples or []:
            qid = str(sample.id)
            if qid in lm:
                assert sample.metadata["orch"]["final"] == lm[qid], (task, qid)
                compared += 1
    # the first LIMIT items of these tasks are the same documents in both harnesses
    assert compared == 3 * LIMIT
