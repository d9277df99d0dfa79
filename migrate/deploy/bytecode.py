"""Bytecode for the Lambda package, compiled for the function's runtime by an interpreter of that very version.

Why: Lambda unpacks the zip into ``/var/task``, which is read-only, so a package without ``.pyc`` files is
compiled again on every cold start and the result thrown away (measured on CPython 3.12: the authorizer's import
and build cost about 2.2x as much CPU without bytecode; ``python -m bench authorizer_bench``).

How:

* A ``.pyc`` is only used by the interpreter whose cache tag it carries (``__pycache__/mod.cpython-312.pyc``, PEP
  3147) and whose magic number starts it (PEP 552 header: magic, flags, then the source hash or timestamp). So it is
  compiled by a CPython of the runtime's version, found like the package check's interpreter
  (:func:`migrate.deploy.package_check.find_interpreter`: ``python3.12`` on ``PATH`` or under pyenv, or
  ``--check-python``). Without one, no bytecode is shipped and the build says so: never bytecode of another version.
* Zip entries carry a fixed timestamp (1980-01-01, for reproducible zips), so a timestamp-based ``.pyc`` would not
  match its source's time and would be ignored. The files are compiled with ``UNCHECKED_HASH`` (PEP 552): the
  interpreter loads them without looking at the source. They are written in the same build as the sources they
  come from, and the package check compares each one's source hash with its source
  (:func:`check_bytecode`).
* The recorded file name is the path inside the zip (``dfile``), so the bytes do not depend on the build folder;
  the import system replaces it with the real path when it loads the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migrate.errors import UserError

# importlib.util.MAGIC_NUMBER's first two bytes (little-endian) of each runtime's CPython; read from the pyenv
# interpreters 3.11.7, 3.12.1 and 3.13.0 (a magic number changes only between minor versions once released).
MAGIC = {"3.11": 3495, "3.12": 3531, "3.13": 3571}
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: bit 0 hash-based, bit 1 check_source
MARKER = ".avp-migrate-bytecode"  # written into a cached dependency tree once it is compiled: its cache tag
_PYC = re.compile(r"(?:^|/)__pycache__/([^/]+)\.(cpython-\d+)(\.opt-\d)?\.pyc$")

# Run by the target interpreter: compile every .py under ROOT next to its source, unchecked-hash, recording the
# path relative to ROOT. Prints one JSON line: the cache tag, the count compiled, the files that do not compile.
_COMPILE = r"""
import json, os, py_compile, sys
root = sys.argv[1]
done, failed = 0, []
for folder, subfolders, files in os.walk(root):
    subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        source = os.path.join(folder, name)
        relative = os.path.relpath(source, root).replace(os.sep, "/")
        try:
            py_compile.compile(source, dfile=relative, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            done += 1
        except (py_compile.PyCompileError, SyntaxError, ValueError):
            failed.append(relative)
print("AVP-MIGRATE-BYTECODE " + json.dumps({"tag": sys.implementation.cache_tag, "compiled": done,
                                              "failed": failed}))
"""

# Run by the target interpreter: for each (pyc, source) pair, whether the header is this interpreter's magic,
# unchecked-hash flags and the hash of that source.
_VERIFY = r"""
import importlib.util, json, sys
bad = []
for pyc, source in json.loads(sys.stdin.read()):
    with open(pyc, "rb") as handle:
        header = handle.read(16)
    with open(source, "rb") as handle:
        expected = importlib.util.source_hash(handle.read())
    if header[:4] != importlib.util.MAGIC_NUMBER or header[4:8] != b"\x01\x00\x00\x00" or header[8:16] != expected:
        bad.append(pyc)
print("AVP-MIGRATE-BYTECODE " + json.dumps({"bad": bad}))
"""


def cache_tag(version: str) -> str:
    """``3.12`` -> ``cpython-312``, the tag in a ``.pyc`` name (``sys.implementation.cache_tag``)."""
    major, minor = version.split(".")
    return f"cpython-{major}{minor}"


@dataclass(frozen=True)
class Compiler:
    """The interpreter that compiles: its path and full version (``3.12.1``)."""

    path: str
    version: str


def find_compiler(version: str, explicit: str | None = None) -> Compiler | None:
    """A CPython ``version`` to compile with (``explicit``: ``--check-python``, refused if it is another version)."""
    from migrate.deploy.package_check import find_interpreter

    found = find_interpreter(version, explicit)
    return Compiler(found.path, found.version) if found else None


def missing_compiler_note(version: str) -> str:
    return (f"WARNING: no CPython {version} on this machine (looked for python{version} on PATH and under pyenv): "
            f"the package carries no bytecode, so every cold start compiles the code again (Lambda's /var/task is "
            f"read-only); install CPython {version} or name it with --check-python PATH")


def _run(compiler: Compiler, script: str, args: list[str], stdin: str | None = None) -> dict[str, object]:
    try:
        done = subprocess.run([compiler.path, "-I", "-S", "-c", script, *args], input=stdin, capture_output=True,
                              text=True, timeout=600, check=False, env={})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"cannot run {compiler.path}: {exc}", where="compiling the authorizer's bytecode") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("AVP-MIGRATE-BYTECODE "):
            result: dict[str, object] = json.loads(line.split(" ", 1)[1])
            return result
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise UserError(f"{compiler.path} failed: {tail[:300]}", where="compiling the authorizer's bytecode")


def compile_tree(root: Path, compiler: Compiler) -> int:
    """Compile every ``.py`` under ``root`` in place (``__pycache__`` next to each source); the count compiled.
    Files that do not compile for this version (a dependency's Python 2 example, say) are left without bytecode,
    as ``compileall`` would: Python compiles them on import, if they are ever imported."""
    result = _run(compiler, _COMPILE, [str(root)])
    tag, expected = result.get("tag"), cache_tag(compiler.version.rsplit(".", 1)[0])
    if tag != expected:
        raise UserError(f"{compiler.path} compiled for {tag}, expected {expected}",
                        where="compiling the authorizer's bytecode")
    return int(result.get("compiled") or 0)  # type: ignore[call-overload]


def ensure_compiled_tree(root: Path, compiler: Compiler | None) -> str | None:
    """A cached dependency tree compiled once: returns the cache tag its bytecode has (None: it has none).
    The marker is written last, so a tree whose compilation was interrupted is compiled again."""
    marker = root / MARKER
    if marker.is_file():
        return marker.read_text(encoding="utf-8").strip() or None
    if compiler is None:
        return None
    compile_tree(root, compiler)
    tag = cache_tag(compiler.version.rsplit(".", 1)[0])
    marker.write_text(tag + "\n", encoding="utf-8")
    return tag


_compiled: dict[tuple[str, str], dict[str, bytes]] = {}


def compile_sources(sources: dict[str, bytes], compiler: Compiler) -> dict[str, bytes]:
    """``{"authorizer/x.py": source}`` -> ``{"authorizer/__pycache__/x.cpython-312.pyc": bytecode}``. The same
    sources give the same bytes (kept per process: the tests and the demo build the package many times)."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
    key = (digest.hexdigest(), compiler.path)
    if key not in _compiled:
        with tempfile.TemporaryDirectory(prefix="avp-migrate-pyc-") as folder:
            root = Path(folder)
            for name, data in sources.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            compile_tree(root, compiler)
            _compiled[key] = {path.relative_to(root).as_posix(): path.read_bytes()
                              for path in sorted(root.rglob("*.pyc"))}
    return dict(_compiled[key])


def pyc_source(name: str) -> tuple[str, str] | None:
    """``a/__pycache__/b.cpython-312.pyc`` -> (``a/b.py``, ``cpython-312``); None for another file. Optimized
    bytecode (``.opt-1``) is reported with its tag too: Lambda runs without -O, so it would never be read."""
    match = _PYC.search(name)
    if not match:
        return None
    folder = name[:match.start()] + ("/" if match.group(0).startswith("/") else "")
    return f"{folder}{match.group(1)}.py", match.group(2) + (match.group(3) or "")


@dataclass
class BytecodeReport:
    compiled: int  # .py files with a usable .pyc
    sources: int  # .py files in all
    problems: list[str]  # .pyc files the runtime would not use, each named


def inspect_tree(tree: Path, version: str) -> BytecodeReport:
    """Which ``.pyc`` files under ``tree`` the runtime ``version`` would load, from their names and headers alone
    (no interpreter needed): the right cache tag, the version's magic number, unchecked-hash flags, a source next to
    it. The source hashes are compared by :func:`verify_hashes` when an interpreter of that version is at hand."""
    tag = cache_tag(version)
    magic = MAGIC.get(version)
    problems: list[str] = []
    compiled = 0
    for path in sorted(tree.rglob("*.pyc")):
        relative = path.relative_to(tree).as_posix()
        found = pyc_source(relative)
        if found is None:
            problems.append(f"{relative}: a .pyc outside __pycache__ (a legacy sourceless module)")
            continue
        source, pyc_tag = found
        if pyc_tag != tag:
            problems.append(f"{relative}: bytecode for {pyc_tag}, the runtime is {tag}")
            continue
        header = path.read_bytes()[:16]
        if magic is not None and (len(header) < 16 or int.from_bytes(header[:2], "little") != magic):
            problems.append(f"{relative}: named {tag} but its magic number is not CPython {version}'s")
            continue
        if int.from_bytes(header[4:8], "little") != UNCHECKED_HASH_FLAGS:
            problems.append(f"{relative}: not unchecked-hash bytecode (zip entries carry a fixed time: a "
                            "timestamp-based .pyc is ignored, a checked one rehashes its source on every import)")
            continue
        if not (tree / source).is_file():
            problems.append(f"{relative}: no {source} next to it")
            continue
        compiled += 1
    sources = sum(1 for _ in tree.rglob("*.py"))
    return BytecodeReport(compiled=compiled, sources=sources, problems=problems)


def verify_hashes(tree: Path, compiler: Compiler) -> list[str]:
    """The ``.pyc`` files under ``tree`` whose header is not this interpreter's magic, unchecked-hash flags and
    the hash of the source next to them (a stale file would run code that is not the source's)."""
    pairs = []
    for path in sorted(tree.rglob("*.pyc")):
        found = pyc_source(path.relative_to(tree).as_posix())
        if found and (tree / found[0]).is_file():
            pairs.append((str(path), str(tree / found[0])))
    if not pairs:
        return []
    result = _run(compiler, _VERIFY, [], stdin=json.dumps(pairs))
    return [os.path.relpath(p, tree) for p in result.get("bad") or []]  # type: ignore[union-attr]
