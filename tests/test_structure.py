"""The package's structure rules, checked on its source (issue 21): no import circles, nothing
imports from a CLI module, private inspect_ai APIs in one module, one benchmark registry.

The import graph is read from the source with ``ast`` (every ``import`` and ``from ... import``,
at module level or inside functions -- a lazy import is still a dependency -- except those under
``if TYPE_CHECKING:``, which never run).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "orch_eval"


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = f
    return out


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    names = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{a.name}" for a in node.names] or [node.module]
    return names


def import_graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for name in _imports(f):
            target = resolve(name)
            if target is not None and target != m:
                graph[m].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    found = cycles(import_graph())
    assert found == [], f"import circles: {found}"


def test_nothing_imports_from_a_cli_module() -> None:
    graph = import_graph()
    offenders = {m: sorted(t for t in ts if t.startswith("orch_eval.cli")) for m, ts in graph.items()
                 if not m.startswith("orch_eval.cli")}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_private_inspect_apis_only_in_one_module() -> None:
    private = re.compile(r"^\s*(from|import)\s+inspect_ai(\.\w+)*\._", re.M)
    users = sorted(
        str(f.relative_to(ROOT)) for f in PACKAGE.rglob("*.py") if private.search(f.read_text(encoding="utf-8"))
    )
    assert users == ["orch_eval/_inspect_private.py"]


def test_benchmark_knowledge_lives_in_the_registry() -> None:
    """The benchmarks' task names appear as code only in the registry (docs and comments aside)."""
    pattern = re.compile(r"[\"']inspect_evals/(mmlu_0_shot|mmlu_5_shot|mmlu_pro|gsm8k)[\"']")
    users = []
    for f in PACKAGE.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if pattern.search(repr(node.value)):
                    users.append(str(f.relative_to(ROOT)))
    assert sorted(set(users)) == ["orch_eval/benchmarks.py"], users
