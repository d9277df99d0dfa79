"""Before anything is created, deploy checks the artifact Lambda will run: the zip it is about to upload and the
layers it names, unpacked the way Lambda lays them out (the zip in ``/var/task``, the layers one after the other
in ``/opt``, a later layer's files replacing an earlier one's).

1. **Sizes**: the function and its layers unzipped stay within Lambda's 250 MB (Lambda quotas, "Deployment
   package (.zip file archive) size": 250 MB unzipped, including layers).
2. **Binaries** (every architecture): each ``*.dist-info/WHEEL`` must carry a ``Tag`` this runtime can load
   (Python tag and ABI for CPython 3.12, a ``manylinux`` platform of the function's architecture whose glibc the
   runtime has, or ``any``), and every shared object (``*.so``) must be an ELF object for the function's machine
   (ELF header ``e_machine``: 0x3E x86-64, 0xB7 AArch64; System V ABI / ``elf.h`` ``EM_X86_64``, ``EM_AARCH64``).
   A CPython extension module's file name must name the runtime's version (``*.cpython-312-*.so``) or the stable
   ABI (``*.abi3.so``).
3. **Imports** (when this machine can execute the function's architecture): the handler's module is imported,
   and then every module the packaged ``authorizer/`` code imports anywhere (:mod:`.import_probe`), in a clean
   CPython of the runtime's version (``python3.12`` on ``PATH`` or under pyenv, or ``--check-python PATH``), run
   isolated (``-I -S``: no environment variables, no user or site packages) with only the unpacked package, the
   unpacked layers and the runtime's SDK on ``sys.path``, in Lambda's order (``/var/task``,
   ``/opt/python/lib/python3.12/site-packages``, ``/opt/python``, then the runtime's).

   boto3 and botocore (with s3transfer, jmespath, python-dateutil, six, urllib3) are the runtime's: every Lambda
   Python runtime includes the AWS SDK for Python (Lambda developer guide, "Building Lambda functions with
   Python": "Runtime-included SDK versions"), so the package need not carry them. The check gives the clean
   interpreter those modules only, taken from the environment running deploy, after the package's and the layers'
   own (which win, as on Lambda). Nothing else from that environment is visible.

   Code for another architecture (arm64 on an x86-64 machine) cannot be imported here: the binary checks above
   stand in for it, plus a check that every module the code imports is present somewhere on that path.

4. **Bytecode** (:mod:`.bytecode`): every ``.pyc`` in the package must be one the runtime loads: named for its
   cache tag (``cpython-312``), starting with that version's magic number, unchecked-hash, next to its source; and,
   when an interpreter of the runtime's version is at hand, holding the hash of that very source (stale bytecode
   would run code that is not the source's). Anything else is refused: wrong-version bytecode is never shipped
   silently. A package without bytecode (no CPython of the runtime's version when it was built) passes with a
   warning: every cold start would compile it. Layers are not ours: their bytecode is counted, not judged.

No interpreter of the runtime's version: deploy refuses, unless ``--no-import-check`` says to go on without it
(recorded as a note; the binary checks still run).
"""

from __future__ import annotations

import ast
import base64
import glob
import hashlib
import importlib.util
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.deploy.bytecode import Compiler, cache_tag, inspect_tree, verify_hashes
from migrate.deploy.package import HANDLER, PYTHON_VERSION, RUNTIME, Package
from migrate.errors import UserError

MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # Lambda quotas: function and layers, unzipped
MAX_LAYER_ZIP_BYTES = 250 * 1024 * 1024  # what we are willing to download for one layer
ELF_MACHINES = {"x86_64": 0x3E, "arm64": 0xB7}
ELF_NAMES = {0x3E: "x86-64", 0xB7: "AArch64", 0x03: "i386", 0x28: "ARM", 0x14: "PowerPC", 0x15: "PowerPC64",
             0x16: "S390"}
WHEEL_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}
# glibc of each runtime's OS: python3.11 runs on Amazon Linux 2 (glibc 2.26), python3.12 and 3.13 on Amazon Linux
# 2023 (glibc 2.34) (Lambda developer guide, "Lambda runtimes"; Amazon Linux 2023 release notes).
RUNTIME_GLIBC = {"python3.11": (2, 26), "python3.12": (2, 34), "python3.13": (2, 34)}
# What every Lambda Python runtime provides besides the standard library: the AWS SDK and its dependencies.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
PROBE = Path(__file__).with_name("import_probe.py")
_EXTENSION = re.compile(r"\.cpython-(\d)(\d+)-([A-Za-z0-9_]+)-linux-gnu\.so$")
_SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(.+)$")
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


@dataclass(frozen=True)
class CheckOptions:
    interpreter: str | None = None  # --check-python PATH
    skip_import: bool = False  # --no-import-check


@dataclass(frozen=True)
class LayerContent:
    arn: str
    zip_bytes: bytes


@dataclass
class CheckReport:
    summary: str  # one line: what was checked, with what
    notes: list[str] = field(default_factory=list)


def describe_checks(package_dependencies: str, architecture: str, options: CheckOptions) -> str:
    """What :func:`check_artifact` does, in one line (for --dry-run)."""
    where = "the zip and its layers" if package_dependencies == "layers" else "the zip"
    if architecture != host_architecture():
        how = f"wheel tags and ELF machine of every shared object for {architecture}, every imported module present"
    elif options.skip_import:
        how = "wheel tags and ELF machine only (--no-import-check)"
    else:
        how = f"import {HANDLER} and every module its code imports in a clean CPython {PYTHON_VERSION}"
    return f"package check: {where}: {how}"


# --- interpreters -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # e.g. 3.12.1


_versions: dict[tuple[str, int, int, int, str | None], str | None] = {}


def interpreter_version(path: str) -> str | None:
    """The CPython version an executable runs, or None. Remembered per file (path, inode, size, mtime): deploy
    asks several times per run (package check, bytecode, both architectures), and a pyenv shim that fails costs
    a process start each time; a file replaced on disk, or another PYENV_VERSION (a shim's answer depends on
    it), is asked again."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns, os.environ.get("PYENV_VERSION"))
    if key not in _versions:
        _versions[key] = _ask_version(path)
    return _versions[key]


def _ask_version(path: str) -> str | None:
    try:
        done = subprocess.run([path, "-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                              capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def interpreter_candidates(version: str) -> list[str]:
    """Where a CPython ``version`` may be: ``pythonX.Y`` on PATH (a pyenv shim only works when that version is
    active, so it is tried like any other), pyenv's versions, the usual system places, this interpreter."""
    name = f"python{version}"
    found: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            found.append(os.path.join(directory, name))
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found += sorted(glob.glob(os.path.join(pyenv, "versions", f"{version}.*", "bin", name)), reverse=True)
    found += [f"/usr/local/bin/{name}", f"/usr/bin/{name}", f"/opt/homebrew/bin/{name}"]
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        found.append(sys.executable)
    unique: list[str] = []
    for path in found:
        if path not in unique and os.path.isfile(path) and os.access(path, os.X_OK):
            unique.append(path)
    return unique


def find_interpreter(version: str, explicit: str | None = None) -> Interpreter | None:
    if explicit:
        found = interpreter_version(explicit)
        if found is None:
            raise UserError("cannot run this interpreter", where=f"--check-python {explicit}")
        if not found.startswith(version + "."):
            raise UserError(f"is CPython {found}; the function runs {RUNTIME}: give a CPython {version}",
                            where=f"--check-python {explicit}")
        return Interpreter(explicit, found)
    for candidate in interpreter_candidates(version):
        found = interpreter_version(candidate)
        if found is not None and found.startswith(version + "."):
            return Interpreter(candidate, found)
    return None


def host_architecture() -> str | None:
    """Lambda's name of this machine's architecture, when it runs Linux ELF code of it; else None."""
    if not sys.platform.startswith("linux"):
        return None
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine)


# --- layers -------------------------------------------------------------------------------------------------


def download_presigned(location: str, *, limit: int, what: str, operation: str, where: str) -> bytes:
    """The bytes behind a presigned link Lambda gave (GetLayerVersion's ``Content.Location``, GetFunction's
    ``Code.Location``: valid 10 minutes, fetched without credentials), at most ``limit`` bytes."""
    if not location.startswith(("https://", "http://")):
        raise UserError(f"{operation} gave no link to download {what} from ({location!r})", where=where)
    try:
        with urllib.request.urlopen(location, timeout=120) as response:  # a presigned URL Lambda gave us
            data: bytes = response.read(limit + 1)
    except OSError as exc:
        raise UserError(f"cannot download {what} to check it: {exc}", where=where) from None
    if len(data) > limit:
        raise UserError(f"{what} is over {limit // (1024 * 1024)} MB", where=where)
    return data


def fetch_layers(lam: Any, layers: tuple[str, ...], architecture: str, *, account_id: str) -> list[LayerContent]:
    """Each layer must exist, be readable by this account, and fit python3.12 on the function's architecture,
    before anything is built or changed (GetLayerVersion takes the layer's ARN as LayerName; public layers such as
    Powertools' grant lambda:GetLayerVersion to everyone). Its content is downloaded for the package check.
    `deploy` and `package` both check their layers here."""
    from migrate.deploy.context import is_not_found

    contents = []
    for arn in layers:
        layer, _, version = arn.rpartition(":")
        try:
            found: dict[str, Any] = lam.get_layer_version(LayerName=layer, VersionNumber=int(version))
        except Exception as exc:
            if is_not_found(exc):
                raise UserError(f"layer version not found (or not shared with account {account_id}): {arn}",
                                where="--layer") from None
            raise
        runtimes = found.get("CompatibleRuntimes") or []
        architectures = found.get("CompatibleArchitectures") or []
        if runtimes and RUNTIME not in runtimes:
            raise UserError(f"{arn} is for {', '.join(runtimes)}, not {RUNTIME}", where="--layer")
        if architectures and architecture not in architectures:
            raise UserError(f"{arn} is for {', '.join(architectures)}, not {architecture}", where="--layer")
        contents.append(download_layer(arn, found.get("Content") or {}))
    return contents


def download_layer(arn: str, content: dict[str, object]) -> LayerContent:
    """A layer version's zip from GetLayerVersion's ``Content.Location`` (Lambda API reference,
    LayerVersionContentOutput), checked against ``Content.CodeSha256``."""
    data = download_presigned(str(content.get("Location") or ""), limit=MAX_LAYER_ZIP_BYTES, what="the layer",
                              operation="GetLayerVersion", where=arn)
    expected = content.get("CodeSha256")
    actual = base64.b64encode(hashlib.sha256(data).digest()).decode()
    if expected and expected != actual:
        raise UserError(f"the downloaded layer's SHA-256 {actual} is not GetLayerVersion's {expected}", where=arn)
    return LayerContent(arn, data)


# --- the check ----------------------------------------------------------------------------------------------


# Checks passed in this process, by the SHA-256 of everything checked: the same bytes give the same answer, and a
# process that deploys again (the demo, the tests) need not pay for the import again.
_passed: dict[tuple[str, ...], CheckReport] = {}


def check_artifact(package: Package, layers: list[LayerContent], options: CheckOptions) -> CheckReport:
    key = (package.sha256, package.architecture, *(hashlib.sha256(layer.zip_bytes).hexdigest() for layer in layers),
           str(options.interpreter), str(options.skip_import))
    if key not in _passed:
        _passed[key] = _check_artifact(package, layers, options)
    report = _passed[key]
    return CheckReport(report.summary, list(report.notes))


def _check_artifact(package: Package, layers: list[LayerContent], options: CheckOptions) -> CheckReport:
    architecture = package.architecture
    with tempfile.TemporaryDirectory(prefix="avp-migrate-check-") as folder:
        root = Path(folder)
        task, opt = root / "task", root / "opt"
        total = _unzip(package.zip_bytes, task, "the package")
        for layer in layers:
            total += _unzip(layer.zip_bytes, opt, f"layer {layer.arn}")
        if total > MAX_UNZIPPED_BYTES:
            raise UserError(f"the function and its layers are {total // (1024 * 1024)} MB unzipped, over Lambda's "
                            "250 MB", where="--dependencies")
        origins = {task: "the package", opt: "the layers" if len(layers) != 1 else f"layer {layers[0].arn}"}
        objects = 0
        for tree, label in origins.items():
            if tree.is_dir():
                _check_wheels(tree, label, architecture)
                objects += _check_shared_objects(tree, label, architecture)
        search = [task, opt / "python" / "lib" / f"python{PYTHON_VERSION}" / "site-packages", opt / "python"]
        binaries = f"{objects} shared object(s) built for {architecture}"
        bytecode, notes = _check_bytecode(package, task, opt, bool(layers))
        # Without --no-import-check an interpreter is required (below); with it, one is used when at hand.
        interpreter = find_interpreter(PYTHON_VERSION, options.interpreter)
        if interpreter is not None:
            stale = verify_hashes(task, Compiler(interpreter.path, interpreter.version))
            if stale:
                raise UserError(f"{len(stale)} .pyc file(s) do not hold the hash of the source next to them, e.g. "
                                f"{stale[0]}: stale bytecode would run other code than the source's (checked with "
                                f"CPython {interpreter.version})", where="the package")
            bytecode += ", each holding its source's hash"
        if architecture != host_architecture():
            present = _check_present(task / "authorizer", search)
            return CheckReport(
                f"package check: {binaries}, wheel tags match {RUNTIME} {architecture}, {bytecode}, and the "
                f"{present} modules the code imports are present (imports not run: this machine cannot execute "
                f"{architecture} code)", notes)
        if options.skip_import:
            return CheckReport(f"package check: {binaries}, wheel tags match {RUNTIME} {architecture}, {bytecode}",
                               [f"the handler was NOT imported before deploying (--no-import-check): nothing "
                                f"proves {HANDLER} imports on {RUNTIME}", *notes])
        if interpreter is None:
            raise UserError(f"no CPython {PYTHON_VERSION} on this machine to check that the handler imports "
                            f"(looked for python{PYTHON_VERSION} on PATH and under pyenv): install one, name it with "
                            "--check-python PATH, or pass --no-import-check", where="package check")
        runtime = root / "runtime"
        _runtime_modules(runtime)
        probe = _run_probe(interpreter, [*search, runtime], task / "authorizer")
        where = _where_from(probe.get("origins") or {}, {task: "package", opt: "layers", runtime: "runtime"})
        if probe.get("error"):
            missing = probe.get("missing")
            if missing:
                raise UserError(f"{HANDLER} does not import on {RUNTIME}: No module named {missing!r} (the package "
                                f"and its layers lack it; checked with CPython {interpreter.version} "
                                f"{interpreter.path})", where="package check")
            raise UserError(f"{HANDLER} does not import on {RUNTIME}: {str(probe['error'])[:300]} (checked with "
                            f"CPython {interpreter.version} {interpreter.path})", where="package check")
        sources = "; ".join(f"{', '.join(sorted(names))} from the {label}" for label, names in sorted(where.items()))
        return CheckReport(f"package check: {HANDLER} and the {probe.get('checked', 0)} modules its code imports "
                           f"load in CPython {interpreter.version} ({interpreter.path}, isolated); {binaries}; "
                           f"{bytecode}" + (f"; {sources}" if sources else ""), notes)


def _check_bytecode(package: Package, task: Path, opt: Path, has_layers: bool) -> tuple[str, list[str]]:
    """The package's bytecode (refused if any of it is for another runtime or would not be loaded), in words, and
    the notes to show: the build's own (no interpreter: no bytecode) and the layers' coverage."""
    tag = cache_tag(PYTHON_VERSION)
    report = inspect_tree(task, PYTHON_VERSION)
    if report.problems:
        raise UserError(f"{len(report.problems)} .pyc file(s) that {RUNTIME} would not use: "
                        f"{report.problems[0]}", where="the package")
    notes = list(package.notes)
    if report.compiled == 0:
        words = "NO bytecode"
        if not notes:
            notes.append(f"WARNING: the package carries no bytecode: every cold start compiles its "
                         f"{report.sources} module(s) again (Lambda's /var/task is read-only)")
    else:
        words = f"bytecode for {tag} (unchecked-hash) for {report.compiled} of {report.sources} module(s)"
    if has_layers and opt.is_dir():
        layer = inspect_tree(opt, PYTHON_VERSION)
        notes.append(f"the layers carry usable {tag} bytecode for {layer.compiled} of {layer.sources} module(s)"
                     + (f" ({len(layer.problems)} .pyc file(s) {RUNTIME} would not use, e.g. {layer.problems[0]})"
                        if layer.problems else ""))
    return words, notes


def _unzip(data: bytes, target: Path, label: str) -> int:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UserError("not a zip archive", where=label) from None
    total = 0
    with archive:
        for info in archive.infolist():
            name = info.filename
            if name.startswith(("/", "\\")) or ".." in Path(name).parts:
                raise UserError(f"holds an entry outside its folder: {name!r}", where=label)
            total += info.file_size
            if total > MAX_UNZIPPED_BYTES:
                raise UserError("over Lambda's 250 MB unzipped", where=label)
        target.mkdir(parents=True, exist_ok=True)
        for info in archive.infolist():
            destination = target / info.filename
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.exists():
                destination.unlink()  # a later layer replaces an earlier one's file, as in /opt
            destination.write_bytes(archive.read(info))
    return total


def wheel_tag_fits(tag: str, architecture: str, runtime: str = RUNTIME) -> bool:
    """Whether a wheel tag ``python-abi-platform`` (PEP 425; compressed sets allowed) loads on ``runtime``."""
    parts = tag.strip().split("-")
    if len(parts) != 3:
        return False
    pythons, abis, platforms = (p.split(".") for p in parts)
    minor = int(runtime.removeprefix("python3."))
    glibc = RUNTIME_GLIBC.get(runtime, (2, 26))
    arch = WHEEL_ARCH[architecture]

    def python_ok(python: str, abi: str) -> bool:
        match = re.fullmatch(r"(py|cp)(\d)(\d*)", python)
        if not match or match.group(2) != "3":
            return False
        version = int(match.group(3)) if match.group(3) else None
        if abi == "none":
            return version is None or version <= minor
        if abi == "abi3":
            return match.group(1) == "cp" and version is not None and version <= minor
        return match.group(1) == "cp" and abi == f"cp3{minor}" and version == minor

    def platform_ok(name: str) -> bool:
        if name == "any":
            return True
        legacy = next((v for k, v in _LEGACY_MANYLINUX.items() if name == f"{k}_{arch}"), None)
        if legacy is not None:
            return legacy <= glibc
        match = _MANYLINUX.fullmatch(name)
        if match:
            return match.group(3) == arch and (int(match.group(1)), int(match.group(2))) <= glibc
        return name == f"linux_{arch}"

    return any(python_ok(py, abi) for py in pythons for abi in abis) and any(platform_ok(p) for p in platforms)


def _check_wheels(tree: Path, label: str, architecture: str) -> None:
    for wheel in sorted(tree.rglob("*.dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text(encoding="utf-8", errors="replace")
                .splitlines() if line.lower().startswith("tag:")]
        if tags and not any(wheel_tag_fits(tag, architecture) for tag in tags):
            raise UserError(f"{wheel.parent.name} is built for {', '.join(tags)}, not {RUNTIME} {architecture} "
                            f"(rebuild with pip --platform manylinux2014_{WHEEL_ARCH[architecture]} "
                            f"--python-version {PYTHON_VERSION} --only-binary=:all:)",
                            where=f"{label}: {wheel.relative_to(tree).as_posix()}")


def elf_machine(path: Path) -> int | None:
    """The ELF header's ``e_machine`` of a 64-bit object, or None when the file is no 64-bit ELF object."""
    with open(path, "rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] != 2:  # EI_CLASS 2: ELFCLASS64
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")  # EI_DATA 1: little-endian


def _check_shared_objects(tree: Path, label: str, architecture: str) -> int:
    wanted = ELF_MACHINES[architecture]
    count = 0
    for path in sorted(tree.rglob("*")):
        name = path.name
        if not path.is_file():
            continue
        where = f"{label}: {path.relative_to(tree).as_posix()}"
        if name.endswith((".pyd", ".dylib")):
            raise UserError(f"a {'Windows' if name.endswith('.pyd') else 'macOS'} binary: Lambda runs Linux",
                            where=where)
        if not _SHARED_OBJECT.search(name):
            continue
        count += 1
        machine = elf_machine(path)
        if machine is None:
            raise UserError(f"not a 64-bit ELF shared object: not built for Linux {architecture}", where=where)
        if machine != wanted:
            raise UserError(f"built for {ELF_NAMES.get(machine, hex(machine))} (ELF e_machine {machine:#x}), not "
                            f"{architecture} ({wanted:#x})", where=where)
        extension = _EXTENSION.search(name)
        if extension:
            version = f"{extension.group(1)}.{extension.group(2)}"
            if version != PYTHON_VERSION or WHEEL_ARCH[architecture] not in extension.group(3):
                raise UserError(f"a CPython {version} {extension.group(3)} extension module; the function runs "
                                f"{RUNTIME} {architecture}", where=where)
    return count


def _imported_modules(package_dir: Path) -> list[str]:
    """Top-level names of the modules the package's code imports that are neither the standard library nor
    the package itself."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    own = package_dir.name
    return sorted(n for n in names if n != own and n not in sys.stdlib_module_names and n != "__future__")


def _check_present(package_dir: Path, search: list[Path]) -> int:
    modules = _imported_modules(package_dir)
    for name in modules:
        if name in RUNTIME_MODULES:
            continue
        if not any((base / name / "__init__.py").is_file() or (base / f"{name}.py").is_file()
                   or any(base.glob(f"{name}.*.so")) or (base / f"{name}.so").is_file() for base in search):
            raise UserError(f"{HANDLER} would not import on {RUNTIME}: No module named {name!r} (the package and "
                            "its layers lack it)", where="package check")
    return len(modules)


def runtime_module_sources() -> list[Path]:
    """Where the environment running deploy keeps the runtime's SDK (RUNTIME_MODULES): each package's folder or
    module's file."""
    sources = []
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            continue
        origin = Path(spec.origin)
        sources.append(origin.parent if spec.submodule_search_locations else origin)
    return sources


def _runtime_modules(target: Path) -> None:
    """The runtime's SDK, as links to the copies in the environment running deploy (pure Python)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in runtime_module_sources():
        link = target / source.name
        try:
            link.symlink_to(source, target_is_directory=source.is_dir())
        except OSError:
            if source.is_dir():
                shutil.copytree(source, link)
            else:
                shutil.copy2(source, link)


def _run_probe(interpreter: Interpreter, paths: list[Path], package_dir: Path) -> dict[str, object]:
    module = HANDLER.rsplit(".", 1)[0]
    args = {"paths": [str(p) for p in paths], "handler": HANDLER, "scan": str(package_dir),
            "package": module.split(".")[0]}
    try:
        done = subprocess.run([interpreter.path, "-I", "-S", str(PROBE), json.dumps(args)], capture_output=True,
                              text=True, timeout=120, check=False, cwd=str(package_dir.parent), env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run {interpreter.path}: {exc}", where="package check") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("AVP-MIGRATE-PROBE "):
            result: dict[str, object] = json.loads(line.split(" ", 1)[1])
            return result
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise UserError(f"the import check crashed in {interpreter.path}: {tail[:300]}", where="package check")


def _where_from(origins: dict[str, str], roots: dict[Path, str]) -> dict[str, list[str]]:
    """Which third-party modules came from the package, the layers, the runtime (standard library left out)."""
    where: dict[str, list[str]] = {}
    for name, origin in origins.items():
        for root, label in roots.items():
            if origin.startswith(str(root) + os.sep) and name != "authorizer" and not name.startswith("_"):
                where.setdefault(label, []).append(name)
    return where
