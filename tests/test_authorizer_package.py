"""The authorizer's Lambda zip as deploy builds it: bytecode for the runtime next to every source, no package the
authorizer never imports, lean imports, and decisions made from the unpacked zip by a CPython of the runtime's
version (the pruned dependencies, the shipped bytecode and the JWS verification together)."""

from __future__ import annotations

import io
import json
import subprocess
import textwrap
import zipfile
from pathlib import Path

import boto3
import pytest

from migrate.deploy import bytecode, package_check
from migrate.deploy.package import PYTHON_VERSION, PackageOptions, build_package
from migrate.deploy.package_check import CheckOptions, check_artifact
from migrate.deploy.prune import import_closure, prune_tree
from migrate.errors import UserError
from tests.authorizer_helpers import config_for, hosted_ui_access_token, make_world, request_event, s, tamper
from tests.conftest import DEPENDENCY_CACHE

TAG = bytecode.cache_tag(PYTHON_VERSION)
LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:1"


@pytest.fixture(scope="module")
def pip_package():
    return build_package("{}", PackageOptions(cache_dir=str(DEPENDENCY_CACHE)))


def names_in(zip_bytes: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()


def unzip(zip_bytes: bytes, target: Path) -> Path:
    zipfile.ZipFile(io.BytesIO(zip_bytes)).extractall(target)
    return target


def target_python() -> str:
    found = package_check.find_interpreter(PYTHON_VERSION)
    assert found is not None, f"these tests need a CPython {PYTHON_VERSION} (pyenv)"
    return found.path


# --- bytecode -----------------------------------------------------------------------------------------------


def test_every_module_ships_unchecked_hash_bytecode_for_the_runtime_next_to_its_source(pip_package, tmp_path):
    names = set(names_in(pip_package.zip_bytes))
    sources = sorted(n for n in names if n.endswith(".py"))
    assert "authorizer/handler.py" in sources and "cryptography/__init__.py" in sources
    pycs = sorted(n for n in names if n.endswith(".pyc"))
    expected = {f"{n.rpartition('/')[0] + '/' if '/' in n else ''}__pycache__/{n.rpartition('/')[2][:-3]}.{TAG}.pyc"
                for n in sources}
    assert set(pycs) == expected, "one .pyc per source, of the runtime's tag only"
    assert pip_package.bytecode == TAG and pip_package.notes == ()
    assert f"bytecode {TAG}" in pip_package.describe()
    tree = unzip(pip_package.zip_bytes, tmp_path / "task")
    report = bytecode.inspect_tree(tree, PYTHON_VERSION)
    assert (report.compiled, report.sources, report.problems) == (len(sources), len(sources), [])
    compiler = bytecode.find_compiler(PYTHON_VERSION)
    assert compiler is not None
    assert bytecode.verify_hashes(tree, compiler) == []  # each holds the hash of the very source next to it


def test_the_bytecode_is_reproducible(monkeypatch):
    """Zips carry fixed timestamps so that the same inputs give the same CodeSha256 (a re-run of deploy sees no
    code change): the bytecode must not depend on the build folder or the time either."""
    first = build_package("{}", PackageOptions("layers", (LAYER_ARN,)))
    monkeypatch.setattr(bytecode, "_compiled", {})  # compile again, in another temporary folder
    second = build_package("{}", PackageOptions("layers", (LAYER_ARN,)))
    assert first.bytecode == TAG and any(n.endswith(f".{TAG}.pyc") for n in names_in(first.zip_bytes))
    assert first.sha256 == second.sha256


def test_without_an_interpreter_of_the_runtime_s_version_no_bytecode_is_shipped_and_the_build_says_so(monkeypatch):
    monkeypatch.setattr(package_check, "interpreter_candidates", lambda version: [])
    monkeypatch.setattr(package_check, "_passed", {})
    package = build_package("{}", PackageOptions("layers", (LAYER_ARN,)))
    assert package.bytecode is None and not any(n.endswith(".pyc") for n in names_in(package.zip_bytes))
    assert "NO bytecode" in package.describe()
    (note,) = package.notes
    assert note.startswith(f"WARNING: no CPython {PYTHON_VERSION} on this machine") and "--check-python" in note
    report = check_artifact(package, [], CheckOptions(skip_import=True))
    assert "NO bytecode" in report.summary and note in report.notes


def pyc_zip(name: str, header: bytes, source: bytes = b"x = 1\n") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("authorizer/x.py", source)
        archive.writestr(name, header + b"\0" * 16)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "flags", "magic", "says"), [
    ("authorizer/__pycache__/x.cpython-311.pyc", 1, bytecode.MAGIC["3.11"], "bytecode for cpython-311"),
    (f"authorizer/__pycache__/x.{TAG}.pyc", 1, bytecode.MAGIC["3.11"], "magic number is not CPython"),
    (f"authorizer/__pycache__/x.{TAG}.pyc", 0, bytecode.MAGIC[PYTHON_VERSION], "not unchecked-hash"),
    (f"authorizer/__pycache__/y.{TAG}.pyc", 1, bytecode.MAGIC[PYTHON_VERSION], "no authorizer/y.py next to it"),
    ("authorizer/x.pyc", 1, bytecode.MAGIC[PYTHON_VERSION], "outside __pycache__"),
])
def test_bytecode_the_runtime_would_not_use_is_refused_naming_the_file(name, flags, magic, says):
    from migrate.deploy.package import Package

    header = magic.to_bytes(2, "little") + b"\r\n" + flags.to_bytes(4, "little") + b"\0" * 8
    package = Package(pyc_zip(name, header), "layers", (LAYER_ARN,), 2)
    with pytest.raises(UserError, match="would not use") as refused:
        check_artifact(package, [], CheckOptions(skip_import=True))
    assert name in str(refused.value) and says in str(refused.value)


def test_stale_bytecode_is_refused(tmp_path):
    """A .pyc of the right version and kind, but compiled from other source than the one shipped next to it."""
    from migrate.deploy.package import Package

    compiler = bytecode.find_compiler(PYTHON_VERSION)
    assert compiler is not None
    compiled = bytecode.compile_sources({"authorizer/x.py": b"x = 1\n"}, compiler)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("authorizer/x.py", b"x = 2\n")
        for name, data in compiled.items():
            archive.writestr(name, data)
    with pytest.raises(UserError, match="do not hold the hash of the source next to them"):
        check_artifact(Package(buffer.getvalue(), "layers", (LAYER_ARN,), 2), [], CheckOptions(skip_import=True))


# --- what is bundled ----------------------------------------------------------------------------------------


def test_packages_the_authorizer_never_imports_are_not_bundled(pip_package):
    names = names_in(pip_package.zip_bytes)
    tops = {n.split("/")[0] for n in names}
    assert not tops & {"jwt", "cffi", "pycparser"}, "PyJWT, cffi's and pycparser's Python parts are never imported"
    assert any(n.startswith("_cffi_backend.cpython-312") for n in names), "cryptography's bindings load it"
    # The log and EMF lines are the authorizer's own (authorizer/lines.py), the mode document is read with boto3:
    # neither Powertools nor its dependencies are shipped.
    assert not tops & {"aws_lambda_powertools", "jmespath", "typing_extensions.py"}, tops


def test_the_requirements_pin_the_versions_the_tests_run():
    from importlib.metadata import version

    pins = dict(line.split("==") for line in (Path(__file__).parent.parent / "authorizer" / "requirements.txt")
                .read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert pins == {"cryptography": version("cryptography")}


def write(tree: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(textwrap.dedent(text))
    return tree


def test_the_import_closure_follows_every_import_that_can_run(tmp_path):
    tree = write(tmp_path, {
        "aws_lambda_powertools/__init__.py": "from .logging import Logger\n",
        "aws_lambda_powertools/logging/__init__.py": "from .logger import Logger\n",
        "aws_lambda_powertools/logging/logger.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from aws_lambda_powertools.utilities.typing import LambdaContext
            else:
                from ..shared import functions
            class Logger:
                def later(self):
                    from ..utilities.lazy import thing  # a lazy import is an import
            """,
        "aws_lambda_powertools/shared/__init__.py": "",
        "aws_lambda_powertools/shared/functions.py": "",
        "aws_lambda_powertools/utilities/__init__.py": "",
        "aws_lambda_powertools/utilities/lazy/__init__.py": "import importlib\nimportlib.import_module('x')\n",
        "aws_lambda_powertools/utilities/lazy/by_name.py": "",  # kept: lazy imports by name in its package
        "aws_lambda_powertools/utilities/typing/__init__.py": "",  # for type checkers only
        "aws_lambda_powertools/event_handler/__init__.py": "",  # never imported
        "aws_lambda_powertools/event_handler/ui.css": "",
        "cffi/__init__.py": "", "pycparser/__init__.py": "",
        "cffi-2.1.1.dist-info/RECORD": "cffi/__init__.py,,\n_cffi_backend.so,,\n",
        "pycparser-3.12.dist-info/RECORD": "pycparser/__init__.py,,\n",
        "_cffi_backend.so": "",
    })
    reached = import_closure(tree, ["aws_lambda_powertools.Logger"])
    assert "aws_lambda_powertools.utilities.lazy" in reached and "aws_lambda_powertools.shared.functions" in reached
    assert "aws_lambda_powertools.utilities.lazy.by_name" in reached
    assert "aws_lambda_powertools.utilities.typing" not in reached
    report = prune_tree(tree, ["aws_lambda_powertools.Logger"])
    assert sorted(report.dropped) == ["cffi", "pycparser"]
    assert not (tree / "aws_lambda_powertools/event_handler").exists()
    assert not (tree / "aws_lambda_powertools/utilities/typing").exists()
    assert (tree / "aws_lambda_powertools/utilities/lazy/by_name.py").is_file()
    assert (tree / "_cffi_backend.so").is_file() and (tree / "cffi-2.1.1.dist-info").is_dir()
    assert not (tree / "pycparser-3.12.dist-info").exists()  # nothing of it is left
    # what the closure reaches is never dropped
    write(tmp_path / "again", {"cffi/__init__.py": "", "user.py": "import cffi\n"})
    assert prune_tree(tmp_path / "again", ["user"]).dropped == []


# --- the unpacked zip on the runtime's CPython ------------------------------------------------------------------

# Run by the target interpreter in the unpacked zip, Lambda's way: isolated, the zip's root first, the runtime's SDK
# last. Prints which modules are loaded after import + build, then the answers to the events given on stdin.
DRIVER = r"""
import json, os, sys, time
sys.path[:0] = json.loads(os.environ.pop("DRIVER_PATHS"))
import authorizer.handler as handler
handler._authorizer = handler.build_authorizer(os.environ)
watched = ["http.client", "ssl", "email", "urllib.request", "cryptography.x509", "jwt", "cffi", "pycparser",
           "boto3", "botocore.session"]
print("LOADED " + json.dumps({name: name in sys.modules for name in watched}), flush=True)
out = []
for event in json.loads(sys.stdin.read()):
    try:
        answer = handler.lambda_handler(event, None)
        out.append(answer["policyDocument"]["Statement"][0]["Effect"])
    except Exception as exc:
        out.append(str(exc))
print("ANSWERS " + json.dumps(out), flush=True)
print("AFTER " + json.dumps(sorted(n for n in sys.modules if n.split(".")[0] in ("aws_lambda_powertools",
                                                                               "typing_extensions"))), flush=True)
"""


def runtime_sdk(target: Path) -> Path:
    package_check._runtime_modules(target)
    return target


def run_unpacked(tmp_path: Path, package, environ: dict[str, str], events: list[dict]) -> tuple[dict, list, str]:
    task = unzip(package.zip_bytes, tmp_path / "var-task")
    paths = [str(task), str(runtime_sdk(tmp_path / "runtime"))]
    done = subprocess.run([target_python(), "-I", "-S", "-B", "-c", DRIVER], input=json.dumps(events),
                          capture_output=True, text=True, timeout=120, cwd=task,
                          env={**environ, "DRIVER_PATHS": json.dumps(paths)})
    lines = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in done.stdout.splitlines()
             if line.startswith(("LOADED ", "ANSWERS ", "AFTER "))}
    assert "ANSWERS" in lines, done.stderr[-2000:]
    # Powertools is not shipped (authorizer/lines.py writes its lines): no request may need it, the first SSM
    # read and the first AVP call included.
    assert lines["AFTER"] == [], lines["AFTER"]
    return lines["LOADED"], lines["ANSWERS"], done.stdout


def test_the_built_zip_decides_on_the_runtime_s_python_and_imports_only_what_it_uses(tmp_path, embedded_aws,
                                                                                   pip_package):
    world = make_world(embedded_aws)
    config_path = tmp_path / "authorizer-config.json"  # the zip's own is "{}": the same code, this world's config
    config_path.write_text(config_for(world).to_json())
    parameter = "/avp-migrate/test/modes"
    boto3.client("ssm").put_parameter(Name=parameter, Type="String", Value=json.dumps(
        {"version": 2, "default": "scope", "routes": {"GET /avp": "shadow", "GET /scope": "avp"}}))
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read"), s("scope.read")])
    environ = {**embedded_aws.environment(),
               "AVP_AUTHZ_JWKS_URL_TEMPLATE": f"{embedded_aws.moto_url}/{{pool_id}}/.well-known/jwks.json",
               "AVP_AUTHZ_POLICY_STORE_ID": world.store_id, "AVP_AUTHZ_MODES_PARAMETER": parameter,
               "AVP_AUTHZ_MODES": json.dumps({"version": 1, "default": "scope", "routes": {}}),
               "AVP_AUTHZ_AVP_TIMEOUT_MS": "5000", "AVP_AUTHZ_CONFIG_PATH": str(config_path)}
    events = [request_event("GET /avp", f"Bearer {token}"),  # shadow (SSM): the scope rule, AVP asked too
              request_event("GET /scope", f"Bearer {token}"),  # avp: AVP's ALLOW over HTTP
              request_event("GET /avp", f"Bearer {tamper(token, scope=s('admin'))}"),
              request_event("GET /pets/{petId}", f"Bearer {token}")]  # scope mode, without the scope
    loaded, answers, out = run_unpacked(tmp_path, pip_package, environ, events)
    assert answers == ["Allow", "Allow", "Unauthorized", "Unauthorized"], out[-3000:]
    assert loaded == {"http.client": False, "ssl": False, "email": False, "urllib.request": False,
                      "cryptography.x509": False, "jwt": False, "cffi": False, "pycparser": False,
                      "boto3": False, "botocore.session": False}
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    records = [line["shadow"] for line in lines if "shadow" in line]
    assert [(r["mode"], r["modes_source"].split(":")[0], r["avp_decision"]) for r in records[:2]] == [
        ("shadow", "ssm", "ALLOW"), ("avp", "ssm", "ALLOW")]
