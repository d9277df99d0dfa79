"""The authorizer's Lambda deployment package: the ``authorizer/`` package, the plan's ``authorizer-config.json``
and (depending on ``--dependencies``) its third-party dependencies. The one package builder: deploy, the demo's
dependencies layer and the tests all build here (:func:`build_package`, :func:`build_dependencies`,
:func:`cached_dependencies`, :func:`layer_zip`).

Two ways to provide cryptography (authorizer/requirements.txt), which must be built for the function's platform
(Amazon Linux, ``--architecture`` x86_64 or arm64, CPython 3.12), never for the machine running deploy:

* ``pip`` (default): ``pip install -r authorizer/requirements.txt --target DIR --platform manylinux2014_x86_64
  (or manylinux2014_aarch64) --implementation cp --python-version 3.12 --only-binary=:all:`` and everything lands
  in the zip. Without ``--python-version`` pip would pick wheels for the interpreter running deploy (cffi, for
  one, ships per-Python-version binaries). Needs PyPI, or ``--wheelhouse DIR`` (``--no-index --find-links DIR``)
  on a machine without it.
* ``layers``: the zip holds only our code; the dependencies come from Lambda layers given with ``--layer ARN``.
  The Powertools public layer (``arn:aws:lambda:REGION:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-
  x86_64:VERSION``, Powertools docs, "Install / Lambda Layer") is built with the ``[all]`` extras (Powertools
  repository, layer_v3/layer/layer_stack.py: ``include_extras=True``), and in the Powertools version we pin
  (3.37.0) ``[all]`` includes PyJWT and cryptography (its METADATA: ``Requires-Dist: pyjwt ...; extra == 'all'``).
  Older Powertools versions may not: deploy downloads each layer and checks that the handler imports with it
  (:mod:`.package_check`), or add a layer of your own (:func:`layer_zip` builds one: ``python/`` + the pip tree).

Whichever way, :mod:`.package_check` checks the artifact before anything is created: the handler must import in
a clean CPython of the runtime's version with only the package, the layers and the runtime's own SDK on its path.

What is shipped is what runs: the pip tree is pruned to the modules the authorizer can import (:mod:`.prune`:
no PyJWT, no cffi/pycparser Python parts; Powertools is not a dependency of the authorizer any more, see
authorizer/lines.py), and every module carries bytecode compiled
for the runtime by a CPython of its version (:mod:`.bytecode`; without one the build says so and ships none).

The zip is deterministic (sorted entries, fixed timestamps and modes), so the same inputs give the same
``CodeSha256`` and a re-run of deploy sees no code change.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from migrate.deploy.bytecode import (
    MARKER,
    cache_tag,
    compile_sources,
    ensure_compiled_tree,
    find_compiler,
    missing_compiler_note,
    pyc_source,
)
from migrate.deploy.prune import RULE_VERSION, authorizer_imports, prune_tree
from migrate.errors import UserError

RUNTIME = "python3.12"
PYTHON_VERSION = RUNTIME.removeprefix("python")  # the runtime decides the wheels' and the bytecode's version
ARCHITECTURE = "x86_64"  # the default --architecture
ARCHITECTURES = ("x86_64", "arm64")  # Lambda's Architectures values (CreateFunction)
# pip's --platform per Lambda architecture: manylinux2014 wheels need glibc 2.17, and the python3.12 runtime
# (Amazon Linux 2023) has glibc 2.34 (Lambda developer guide, "Lambda runtimes").
PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
PIP_PLATFORM = PIP_PLATFORMS[ARCHITECTURE]
HANDLER = "authorizer.handler.lambda_handler"
# CreateFunction's ZipFile: 50 MB zipped at most (Lambda quotas, "Deployment package (.zip file archive) size").
MAX_ZIP_BYTES = 50 * 1024 * 1024
MAX_LAYERS = 5  # Lambda quotas: five layers per function
LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
DEPENDENCY_MODES = ("pip", "layers")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


@dataclass(frozen=True)
class PackageOptions:
    dependencies: str = "pip"
    layers: tuple[str, ...] = ()
    wheelhouse: str | None = None
    architecture: str = ARCHITECTURE
    # A folder where the pip-built dependencies are kept between runs (the demo and the tests); None: build fresh.
    cache_dir: str | None = None
    # The CPython of the runtime's version that compiles the bytecode (--check-python); None: found on this machine.
    interpreter: str | None = None

    def check(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise UserError(f"expected one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}",
                            where="--architecture")
        if self.dependencies not in DEPENDENCY_MODES:
            raise UserError(f"expected one of {', '.join(DEPENDENCY_MODES)}, got {self.dependencies!r}",
                            where="--dependencies")
        if self.dependencies == "layers" and not self.layers:
            raise UserError("--dependencies layers needs at least one --layer ARN (the Powertools public layer, "
                            "or a layer you built with authorizer/requirements.txt)", where="--layer")
        if self.dependencies != "layers" and self.layers:
            raise UserError("only meaningful with --dependencies layers", where="--layer")
        if self.wheelhouse and self.dependencies != "pip":
            raise UserError("only meaningful with --dependencies pip", where="--wheelhouse")
        if self.wheelhouse and not Path(self.wheelhouse).is_dir():
            raise UserError("wheelhouse folder not found", where=self.wheelhouse)
        if len(self.layers) > MAX_LAYERS:
            raise UserError(f"a function takes at most {MAX_LAYERS} layers", where="--layer")
        for arn in self.layers:
            if not LAYER_ARN.match(arn):
                raise UserError(f"not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION): "
                                f"{arn!r}", where="--layer")


@dataclass(frozen=True)
class Package:
    zip_bytes: bytes
    dependencies: str
    layers: tuple[str, ...]
    files: int
    architecture: str = ARCHITECTURE
    bytecode: str | None = None  # the cache tag of the .pyc files shipped (cpython-312); None: none shipped
    notes: tuple[str, ...] = ()  # what the build wants the operator to know (no interpreter: no bytecode)

    @property
    def sha256(self) -> str:
        """As Lambda reports it in CodeSha256: base64 of the SHA-256 of the zip."""
        return base64.b64encode(hashlib.sha256(self.zip_bytes).digest()).decode()

    def describe(self) -> str:
        size = f"{len(self.zip_bytes) / 1024:.0f} KiB"
        code = f"bytecode {self.bytecode}" if self.bytecode else "NO bytecode"
        if self.dependencies == "layers":
            return f"{self.files} files, {size}, {code}, dependencies from {len(self.layers)} layer(s)"
        return (f"{self.files} files, {size}, {code}, dependencies bundled for {PIP_PLATFORMS[self.architecture]} "
                f"CPython {PYTHON_VERSION}")


def authorizer_source() -> Path:
    import authorizer

    return Path(authorizer.__file__).parent


def build_package(config_text: str, options: PackageOptions) -> Package:
    options.check()
    compiler = find_compiler(PYTHON_VERSION, options.interpreter)
    source = authorizer_source()
    sources: dict[str, bytes] = {}
    for path in sorted(source.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        sources[f"authorizer/{path.relative_to(source).as_posix()}"] = path.read_bytes()
    entries: dict[str, tuple[bytes, int]] = {name: (data, 0o644) for name, data in sources.items()}
    if compiler is not None:
        entries.update((name, (data, 0o644)) for name, data in compile_sources(sources, compiler).items())
    # Where authorizer.settings looks by default: next to the package's modules.
    entries["authorizer/authorizer-config.json"] = (config_text.encode("utf-8"), 0o644)
    tags = {cache_tag(PYTHON_VERSION) if compiler is not None else None}
    if options.dependencies == "pip":
        if options.cache_dir:
            tree = cached_dependencies(options.architecture, Path(options.cache_dir), options.wheelhouse)
            tags.add(ensure_compiled_tree(tree, compiler))
            entries.update(_tree_entries(tree))
        else:
            with tempfile.TemporaryDirectory(prefix="avp-migrate-deps-") as target:
                build_dependencies(Path(target), options.architecture, options.wheelhouse)
                tags.add(ensure_compiled_tree(Path(target), compiler))
                entries.update(_tree_entries(Path(target)))
    data = _zip(entries)
    if len(data) > MAX_ZIP_BYTES:
        raise UserError(f"the package is {len(data) // (1024 * 1024)} MB, over Lambda's 50 MB for a direct upload: "
                        "use --dependencies layers", where="--dependencies")
    bytecode = tags.pop() if len(tags) == 1 else None
    notes = () if compiler is not None else (missing_compiler_note(PYTHON_VERSION),)
    return Package(zip_bytes=data, dependencies=options.dependencies, layers=tuple(options.layers),
                   files=len(entries), architecture=options.architecture, bytecode=bytecode, notes=notes)


def _tree_entries(root: Path, prefix: str = "") -> dict[str, tuple[bytes, int]]:
    """The files of a dependency tree, with the bytecode :func:`ensure_compiled_tree` wrote (only that: a
    ``__pycache__`` file of any other tag or origin is left out)."""
    marker = root / MARKER
    tag = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
    entries: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir() or relative.startswith("bin/") or path == marker:
            continue
        if "__pycache__" in path.parts:
            found = pyc_source(relative)
            if tag is None or found is None or found[1] != tag or not (root / found[0]).is_file():
                continue
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        entries[prefix + relative] = (path.read_bytes(), mode)
    return entries


def build_dependencies(target: Path, architecture: str = ARCHITECTURE, wheelhouse: str | None = None) -> None:
    """pip-install authorizer/requirements.txt into ``target`` for the function's platform, then remove what the
    authorizer can never import (:mod:`.prune`)."""
    _pip_install(authorizer_source() / "requirements.txt", target, wheelhouse, architecture)
    prune_tree(target, authorizer_imports(authorizer_source()))


def cached_dependencies(architecture: str, cache_dir: Path, wheelhouse: str | None = None) -> Path:
    """The dependencies built once into ``cache_dir`` (keyed by requirements.txt, platform, Python version and the
    pruning rule) and reused after: a second run needs no index. Built into a temporary folder and renamed, so a
    half-built tree is never used."""
    requirements = (authorizer_source() / "requirements.txt").read_bytes()
    key = hashlib.sha256(requirements + f"|{PIP_PLATFORMS[architecture]}|cp{PYTHON_VERSION}|prune{RULE_VERSION}|"
                         f"{sorted(authorizer_imports(authorizer_source()))}".encode()).hexdigest()
    final = cache_dir / f"deps-{architecture}-cp{PYTHON_VERSION.replace('.', '')}-{key[:16]}"
    if final.is_dir():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        build_dependencies(building, architecture, wheelhouse)
        try:
            building.rename(final)
        except OSError:
            if not final.is_dir():  # not another run that finished first
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return final


def default_cache_dir() -> Path:
    """Where the demo keeps built dependencies: ``AVP_MIGRATE_CACHE``, else ``$XDG_CACHE_HOME/avp-migrate``, else
    ``~/.cache/avp-migrate``."""
    explicit = os.environ.get("AVP_MIGRATE_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "avp-migrate"


def layer_zip(architecture: str = ARCHITECTURE, cache_dir: Path | None = None,
              wheelhouse: str | None = None, interpreter: str | None = None) -> bytes:
    """A Lambda layer holding the authorizer's dependencies under ``python/`` (where the Python runtimes look:
    Lambda developer guide, "Layer paths for each Lambda runtime"), with their bytecode (or a warning on stderr
    when no CPython of the runtime's version is at hand to compile it)."""
    compiler = find_compiler(PYTHON_VERSION, interpreter)
    if compiler is None:
        print(f"avp-migrate: {missing_compiler_note(PYTHON_VERSION)}", file=sys.stderr)
    if cache_dir is not None:
        tree = cached_dependencies(architecture, cache_dir, wheelhouse)
        ensure_compiled_tree(tree, compiler)
        return _zip(_tree_entries(tree, "python/"), level=6)
    with tempfile.TemporaryDirectory(prefix="avp-migrate-layer-") as target:
        build_dependencies(Path(target), architecture, wheelhouse)
        ensure_compiled_tree(Path(target), compiler)
        return _zip(_tree_entries(Path(target), "python/"), level=6)


def pip_command(requirements: Path, target: Path, wheelhouse: str | None,
                architecture: str = ARCHITECTURE) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(target), "--platform", PIP_PLATFORMS[architecture], "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--only-binary=:all:", "-r", str(requirements)]
    if wheelhouse:
        command += ["--no-index", "--find-links", str(wheelhouse)]
    return command


def _pip_install(requirements: Path, target: Path, wheelhouse: str | None, architecture: str = ARCHITECTURE) -> None:
    platform = PIP_PLATFORMS[architecture]
    try:
        done = subprocess.run(pip_command(requirements, target, wheelhouse, architecture), capture_output=True,
                              text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run pip: {exc}", where="packaging the authorizer") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR")] or lines or ["no output"]
        raise UserError(f"pip install -r {requirements.name} for {platform} CPython {PYTHON_VERSION} failed: "
                        f"{errors[0][:300]} (offline? use --wheelhouse DIR or --dependencies layers)",
                        where="packaging the authorizer")


def _zip(entries: dict[str, tuple[bytes, int]], level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permissions are honoured
            archive.writestr(info, data, compresslevel=level)
    return buffer.getvalue()
