"""Mutation testing of the authorizer's security-critical modules: ``make mutation`` (not part of ``make test``).

Each mutant is one small change to one module (a comparison flipped, ``and``/``or`` swapped, a ``not`` dropped,
a constant changed, ``+``/``-`` swapped, a ``raise`` removed), made with :mod:`ast`. The module's tests are run
against it; a mutant the tests do not notice (they pass) *survives* and points at a check no test guards. The
kill rate is killed / all mutants; survivors are listed with their line so each can be judged (a test is missing,
or the mutant is equivalent: it cannot change behaviour).

How it stays fast enough for two cores: the repository is copied once to a temporary folder; the heavy
third-party imports (moto, boto3, cedarpy, PyJWT, Powertools, pytest) are done once in this process, and each
mutant runs ``pytest -x`` in a ``fork`` of it with the mutated file written into the copy, so the child imports
only this project's modules. ``-x`` stops at the first failing test: a killed mutant usually costs a few seconds.

Usage::

    python tools/mutation.py                      # every target module, results in build/mutation.json
    python tools/mutation.py --module cache.py    # one module
    python tools/mutation.py --list               # the mutants, without running them
    python tools/mutation.py --rerun-survivors build/mutation.json   # after adding tests: only the survivors

(``--rerun-survivors`` keeps the earlier run's killed mutants as killed: tests are only ever added between runs.)
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# module -> the fast tests that guard it (the first ones listed kill most mutants soonest)
TARGETS: dict[str, list[str]] = {
    "authorizer/tokens.py": [
        "tests/test_authorizer_hardening.py",
        "tests/test_authorizer_tokens.py",
    ],
    "authorizer/cache.py": [
        "tests/test_authorizer_hardening.py::test_the_smallest_cache_works_and_a_disabled_or_expired_entry_is_never_kept",
        "tests/test_authorizer_runtime.py::test_the_cache_skips_verification_and_avp_for_a_repeated_token",
        "tests/test_authorizer_runtime.py::test_a_cached_decision_never_outlives_the_token",
        "tests/test_authorizer_runtime.py::test_the_cache_is_bounded_and_evicts_the_least_recently_used",
        "tests/test_authorizer_runtime.py::test_a_disabled_cache_keeps_nothing",
        "tests/test_authorizer_failures.py::test_avp_errors_are_not_cached_but_answers_are",
        "tests/test_authorizer_tokens.py",
    ],
    "authorizer/policy.py": [
        "tests/test_authorizer_hardening.py::test_a_question_mark_in_the_method_arn_never_gets_an_allow",
        "tests/test_authorizer_modes.py",
        "tests/test_authorizer_tokens.py::test_no_adversarial_token_is_ever_allowed_in_any_mode",
    ],
}
TIMEOUT_SECONDS = 300
PREIMPORTS = ("boto3", "botocore.session", "moto", "moto.server", "moto.cognitoidp.models", "cedarpy", "jwt",
              "cryptography.hazmat.primitives.asymmetric.rsa", "aws_lambda_powertools", "aws_lambda_powertools.metrics",
              "joserfc.jwt", "pytest", "_pytest.capture", "werkzeug", "flask")

_FLIP_COMPARE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE,
                 ast.GtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_FLIP_BINOP = {ast.Add: ast.Sub, ast.Sub: ast.Add}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # the n-th mutable site of the module, in ast.walk order
    line: int
    description: str


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # "killed", "survived", "timeout" (counted as killed)
    seconds: float


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """Every mutable node with a description of its mutation, in a stable order."""
    skip = _docstring_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _FLIP_COMPARE:
            yield node, f"{type(node.ops[0]).__name__} -> {_FLIP_COMPARE[type(node.ops[0])].__name__}"
        elif isinstance(node, ast.BoolOp):
            yield node, "and -> or" if isinstance(node.op, ast.And) else "or -> and"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not x -> x"
        elif isinstance(node, ast.BinOp) and type(node.op) in _FLIP_BINOP:
            yield node, f"{type(node.op).__name__} -> {_FLIP_BINOP[type(node.op)].__name__}"
        elif isinstance(node, ast.Constant) and id(node) not in skip:
            if isinstance(node.value, bool):
                yield node, f"{node.value} -> {not node.value}"
            elif isinstance(node.value, int | float) and not isinstance(node.value, bool):
                yield node, f"{node.value!r} -> {node.value + 1!r}"
        elif isinstance(node, ast.Raise):
            yield node, "raise -> pass"


def _apply(node: ast.AST) -> ast.AST:
    if isinstance(node, ast.Compare):
        node.ops[0] = _FLIP_COMPARE[type(node.ops[0])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        return node.operand
    elif isinstance(node, ast.BinOp):
        node.op = _FLIP_BINOP[type(node.op)]()
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.Raise):
        return ast.Pass()
    return node


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST) -> None:
        self.target = target

    def visit(self, node: ast.AST) -> ast.AST:
        if node is self.target:
            return _apply(node)
        return super().visit(node)


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    return [Mutant(module, i, getattr(node, "lineno", 0), description)
            for i, (node, description) in enumerate(_sites(tree))]


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text(encoding="utf-8"))
    tree = copy.deepcopy(tree)
    target, _ = list(_sites(tree))[mutant.index]
    new = ast.fix_missing_locations(_Replace(target).visit(tree))
    return ast.unparse(new)


def _copy_repository(destination: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def _run_tests(copy_root: Path, tests: list[str]) -> int:
    """pytest -x on ``tests`` in a fork of this process, with the copy first on sys.path; its exit status."""
    pid = os.fork()
    if pid == 0:  # the child: import this project's modules from the copy, run pytest, exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.chdir(copy_root)
            sys.path.insert(0, str(copy_root))
            import pytest

            code = pytest.main(["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--rootdir",
                                str(copy_root), "-c", str(copy_root / "pyproject.toml"), *tests])
            os._exit(int(code))
        except BaseException:
            os._exit(99)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="a target module (e.g. tokens.py); default: all")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--out", default=str(ROOT / "build" / "mutation.json"))
    parser.add_argument("--rerun-survivors", metavar="JSON", help="an earlier run's results: run its survivors only")
    args = parser.parse_args(argv)
    modules = [m for m in TARGETS if not args.module or any(m.endswith(x) for x in args.module)]
    if not modules:
        print(f"no target module matches {args.module}; targets: {', '.join(TARGETS)}", file=sys.stderr)
        return 1
    if args.list:
        for module in modules:
            for m in mutants(module):
                print(f"{m.module}:{m.line}: #{m.index} {m.description}")
        return 0

    for name in PREIMPORTS:
        __import__(name)
    assert not [m for m in sys.modules if m.split(".")[0] in ("authorizer", "tests", "migrate")], \
        "the parent must not import the modules under test"
    outcomes: list[Outcome] = []
    rerun: set[tuple[str, int]] | None = None
    if args.rerun_survivors:
        earlier = json.loads(Path(args.rerun_survivors).read_text(encoding="utf-8"))["outcomes"]
        rerun = set()
        for o in earlier:
            mutant = Mutant(o["module"], o["index"], o["line"], o["description"])
            if o["module"] not in modules:
                continue
            if mutant not in mutants(mutant.module):
                print(f"{args.rerun_survivors}: {mutant} is not a mutant of the module as it is now; run all again",
                      file=sys.stderr)
                return 1
            if o["status"] == "survived":
                rerun.add((mutant.module, mutant.index))
            else:
                outcomes.append(Outcome(mutant, o["status"], o["seconds"]))
    with tempfile.TemporaryDirectory(prefix="avp-migrate-mutation-") as folder:
        copy_root = Path(folder)
        _copy_repository(copy_root)
        for module in modules:
            tests = TARGETS[module]
            started = time.monotonic()
            if _run_tests(copy_root, tests) != 0:
                print(f"{module}: the tests fail without any mutation; fix them first", file=sys.stderr)
                return 1
            print(f"{module}: baseline {time.monotonic() - started:.0f} s; {len(mutants(module))} mutants", flush=True)
            original = (copy_root / module).read_text(encoding="utf-8")
            for mutant in mutants(module):
                if rerun is not None and (module, mutant.index) not in rerun:
                    continue
                (copy_root / module).write_text(mutated_source(mutant), encoding="utf-8")
                started = time.monotonic()
                code = _run_tests(copy_root, tests)
                status = "survived" if code == 0 else "timeout" if code == -1 else "killed"
                outcomes.append(Outcome(mutant, status, round(time.monotonic() - started, 1)))
                if status == "survived":
                    print(f"  survived {mutant.module}:{mutant.line} #{mutant.index} {mutant.description}", flush=True)
            (copy_root / module).write_text(original, encoding="utf-8")
    summary = {}
    for module in modules:
        mine = [o for o in outcomes if o.mutant.module == module]
        killed = sum(o.status != "survived" for o in mine)
        summary[module] = {"mutants": len(mine), "killed": killed,
                           "kill_rate": round(killed / len(mine), 3) if mine else None}
        print(f"{module}: {killed}/{len(mine)} killed ({killed / len(mine):.0%})" if mine else f"{module}: none")
    total = len(outcomes)
    killed = sum(o.status != "survived" for o in outcomes)
    print(f"kill rate: {killed}/{total} ({killed / total:.0%})" if total else "no mutants")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "outcomes": [
        {**asdict(o.mutant), "status": o.status, "seconds": o.seconds} for o in outcomes]}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
