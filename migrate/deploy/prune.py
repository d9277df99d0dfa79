"""What the authorizer's dependency tree need not carry: the modules no import can ever reach.

``pip install -r authorizer/requirements.txt`` brings whole distributions, most of which the authorizer never
imports: Powertools (no longer a requirement of the authorizer, still pruned if a requirement brings it) is 336
modules (event handler, idempotency, parser, batch, ...), and cryptography depends on cffi, whose Python parts
(``cffi/`` and its C parser ``pycparser/``) build C bindings at install time; at run time cryptography loads only the
``_cffi_backend`` extension module. Files never imported cost nothing at run time, but they are bytes to upload,
to unpack and to compile, and code a reviewer must consider shipped.

The rule is a static import closure (:func:`import_closure`): starting from every module the ``authorizer/`` code
imports (at the top of a module or inside a function), every ``import`` and ``from ... import`` of every reached
module is followed, wherever it stands (function bodies included: a lazy import is still an import; only
``if TYPE_CHECKING:`` bodies are skipped, which never run), relative ones resolved, and a package's ``__init__``
is reached with any of its modules. A module that imports by name at
run time (``importlib.import_module``, ``__import__``) keeps its whole package. Then:

* in :data:`FILE_PRUNED` packages (pure Python), each module outside the closure is removed, with folders left
  without modules;
* each of :data:`DROPPED` packages is removed whole unless the closure reaches it (then it is kept: the rule
  never removes what is imported), and its ``.dist-info`` too when none of its files is left (``_cffi_backend``
  is cffi's, so cffi's licence and metadata stay).

Native code is never removed: an extension module may import Python modules the closure cannot see, so
cryptography is kept whole. The package check then imports the handler and every module its code names from the
pruned tree, and ``tests/test_authorizer_package.py`` runs decisions from it.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FILE_PRUNED = ("aws_lambda_powertools",)
DROPPED = ("cffi", "pycparser")
# Bumped when the rule changes, so a cached tree pruned by another rule is not reused.
RULE_VERSION = "1"


@dataclass
class PruneReport:
    removed_files: int
    removed_bytes: int
    dropped: list[str]


def module_file(tree: Path, name: str) -> Path | None:
    base = tree.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    module = base.with_name(base.name + ".py")
    return module if module.is_file() else None


def module_name(tree: Path, path: Path) -> str:
    parts = list(path.relative_to(tree).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, name: str, is_package: bool) -> tuple[set[str], bool]:
    """The modules a module's source imports (absolute names; ``from a import b`` gives ``a`` and ``a.b``, which
    may be a module or just a name), and whether it also imports by name at run time."""
    found: set[str] = set()
    dynamic = False
    package = name if is_package else name.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".") if package else []
                anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            dynamic = dynamic or called in ("import_module", "__import__")
    return found, dynamic


def _runtime_nodes(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node, except the bodies of ``if TYPE_CHECKING:`` (``typing.TYPE_CHECKING`` is False at run time:
    those imports are for type checkers only; their ``else`` branches do run and are kept)."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_closure(tree: Path, roots: Iterable[str]) -> set[str]:
    """Every module under ``tree`` that importing ``roots`` (and calling anything in them) can import."""
    reached: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            prefix = ".".join(parts[:depth])
            if prefix in reached:
                continue
            path = module_file(tree, prefix)
            if path is None:
                continue  # the standard library, the runtime's SDK, a name that is no module, native code
            reached.add(prefix)
            is_package = path.name == "__init__.py"
            names, dynamic = imported_names(path.read_text(encoding="utf-8", errors="replace"), prefix, is_package)
            pending.extend(names)
            if dynamic:  # keep everything the module's package holds
                folder = path.parent
                pending.extend(module_name(tree, p) for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    return reached


def authorizer_imports(package_dir: Path) -> set[str]:
    """The absolute module names the authorizer's code imports anywhere (itself excluded)."""
    names: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        found, _ = imported_names(path.read_text(encoding="utf-8"), module_name(package_dir.parent, path),
                                  path.name == "__init__.py")
        names.update(n for n in found if n.split(".")[0] != package_dir.name)
    return names


def prune_tree(tree: Path, roots: Iterable[str]) -> PruneReport:
    reached = import_closure(tree, roots)
    removed_files = removed_bytes = 0
    for package in FILE_PRUNED:
        folder = tree / package
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts and module_name(tree, path) not in reached:
                removed_bytes += path.stat().st_size
                removed_files += 1
                path.unlink()
        # Folders left without any module go whole (their data files, e.g. the event handler's Swagger UI, too).
        for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if sub.exists() and not any(q.suffix == ".py" for q in sub.rglob("*.py")):
                files = [q for q in sub.rglob("*") if q.is_file()]
                removed_files += len(files)
                removed_bytes += sum(q.stat().st_size for q in files)
                shutil.rmtree(sub)
    dropped: list[str] = []
    for package in DROPPED:
        folder = tree / package
        if not folder.is_dir() or any(n == package or n.startswith(package + ".") for n in reached):
            continue
        files = [q for q in folder.rglob("*") if q.is_file()]
        removed_files += len(files)
        removed_bytes += sum(q.stat().st_size for q in files)
        shutil.rmtree(folder)
        dropped.append(package)
        for info in tree.glob(f"{package}-*.dist-info"):
            if not _any_file_left(tree, info):
                shutil.rmtree(info)
    return PruneReport(removed_files=removed_files, removed_bytes=removed_bytes, dropped=dropped)


def _any_file_left(tree: Path, info: Path) -> bool:
    """Whether a distribution still has a file outside its .dist-info (its RECORD lists them)."""
    record = info / "RECORD"
    if not record.is_file():
        return True  # unknown: keep the metadata
    for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
        name = line.split(",", 1)[0]
        if name and not name.startswith(info.name + "/") and (tree / name).is_file():
            return True
    return False
