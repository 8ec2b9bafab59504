"""The pyproject extras install what Inspect's API providers need (issue 18, item 4).

The README's API examples failed with "OpenAI API requires optional dependencies": Inspect's
providers import their client library only when used. The extras ``openai``, ``anthropic``,
``grok`` and ``api`` (all of them) list those libraries. These tests read what each provider
of the README's examples checks for straight from Inspect's own provider module (its package and
minimum version), confirm that reading by running the provider with that package hidden, and
compare it with pyproject.toml and the README, so a change on either side fails here.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

OUR_PROVIDERS = {"orch", "gguf", "orchfake", "none"}


@dataclass(frozen=True)
class Need:
    """One client library an Inspect provider checks for."""

    package: str  # the pip name Inspect tells users to install
    module: str  # what it imports to check
    min_version: str | None


def _strings(fn: ast.FunctionDef) -> dict[str, str]:
    return {
        t.id: node.value.value
        for node in ast.walk(fn)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def _own_need(fn: ast.FunctionDef) -> Need | None:
    """A provider function's (or helper's) own check: ``import X`` in a try, PACKAGE, MIN_VERSION."""
    values = _strings(fn)
    modules = [
        alias.name
        for t in ast.walk(fn)
        if isinstance(t, ast.Try)
        for stmt in t.body
        if isinstance(stmt, ast.Import)
        for alias in stmt.names
    ]
    if "PACKAGE" not in values or not modules:
        return None
    return Need(values["PACKAGE"], modules[0], values.get("MIN_VERSION"))


def inspect_provider_needs() -> dict[str, list[Need]]:
    """Provider name -> the client libraries its ``@modelapi`` function checks, read from the
    source of ``inspect_ai/model/_providers/providers.py`` (directly or through a ``validate_*``
    helper)."""
    from inspect_ai.model._providers import providers

    tree = ast.parse(Path(providers.__file__).read_text(encoding="utf-8"))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    helpers = {name: _own_need(fn) for name, fn in functions.items()}
    needs: dict[str, list[Need]] = {}
    for fn in functions.values():
        names = [
            d.keywords[0].value.value
            for d in fn.decorator_list
            if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "modelapi" and d.keywords
        ]
        if not names:
            continue
        found = [own] if (own := _own_need(fn)) is not None else []
        for call in ast.walk(fn):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                helper = helpers.get(call.func.id)
                if helper is not None and helper not in found:
                    found.append(helper)
        needs[names[0]] = found
    return needs


def readme_api_providers() -> set[str]:
    """Inspect providers named in the README's command examples (``provider/model``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL))
    known = set(inspect_provider_needs())
    used = {m for m in re.findall(r"(?<![\w/.-])([a-z][a-z0-9-]*)/[A-Za-z0-9]", blocks) if m in known}
    return used - OUR_PROVIDERS


def extras() -> dict[str, list[Requirement]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {k: [Requirement(r) for r in v] for k, v in data["project"]["optional-dependencies"].items()}


def covers(requirements: list[Requirement], need: Need) -> bool:
    """Whether an extra installs ``need.package`` at a version Inspect accepts (a lower bound >= its minimum)."""
    for req in requirements:
        if canonicalize_name(req.name) != canonicalize_name(need.package):
            continue
        if need.min_version is None:
            return True
        floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=", ">")]
        return any(f >= Version(need.min_version) for f in floors)
    return False


# ---- the reading of Inspect's source is right ---------------------------------------------------


def test_the_readme_examples_use_api_providers() -> None:
    assert readme_api_providers() == {"openai", "anthropic", "together", "deepseek", "grok"}


@pytest.mark.parametrize("provider", sorted(readme_api_providers()))
def test_inspect_refuses_the_provider_without_the_package_read(provider: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the package read from the source: Inspect must ask for exactly that package (the
    error of the issue), so the reading matches what Inspect really checks."""
    from inspect_ai._util.error import PrerequisiteError
    from inspect_ai.model import get_model

    needs = inspect_provider_needs()[provider]
    assert needs, provider
    for need in needs:
        monkeypatch.setitem(sys.modules, need.module, None)  # `import openai` now raises ImportError
    with pytest.raises(PrerequisiteError) as info:
        get_model(f"{provider}/some-model", api_key="x", memoize=False)
    message = str(info.value.message)
    assert "requires optional dependencies" in message, message
    assert f"pip install {needs[0].package}" in message, message


# ---- pyproject and README against it ------------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(readme_api_providers()))
def test_the_api_extra_installs_what_each_readme_provider_needs(provider: str) -> None:
    ex = extras()
    for need in inspect_provider_needs()[provider]:
        assert covers(ex["api"], need), (provider, need, ex["api"])


@pytest.mark.parametrize("provider", sorted(readme_api_providers()))
def test_the_readme_names_an_extra_for_each_provider(provider: str) -> None:
    ex = extras()
    needs = inspect_provider_needs()[provider]
    fitting = {name for name, reqs in ex.items() if all(covers(reqs, n) for n in needs)}
    own = fitting - {"api", "test"}
    assert "api" in fitting and own, (provider, fitting)  # `api` and an extra of its own install it
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    mentioned = {e for group in re.findall(r"\.\[([a-z_,]+)\]", readme) for e in group.split(",")}
    assert "api" in mentioned
    assert own & mentioned, (provider, own, mentioned)  # the README names one of its own extras


def test_each_provider_extra_holds_only_provider_clients() -> None:
    ex = extras()
    needs = {n for provider in readme_api_providers() for n in inspect_provider_needs()[provider]}
    packages = {canonicalize_name(n.package) for n in needs}
    for name in ("openai", "anthropic", "grok", "api"):
        assert ex[name], name
        assert {canonicalize_name(r.name) for r in ex[name]} <= packages, name
    assert {canonicalize_name(r.name) for r in ex["api"]} == packages
