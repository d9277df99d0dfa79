"""deploy checks the artifact Lambda will run before anything is created: the handler imports in a clean CPython
3.12 with only the package, its layers and the runtime's SDK; wheels and shared objects fit the architecture."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest

from migrate.cli.main import main
from migrate.deploy import package_check
from migrate.deploy.package import PackageOptions, build_package, cached_dependencies
from migrate.deploy.package_check import CheckOptions, LayerContent, check_artifact, elf_machine, wheel_tag_fits
from migrate.deploy.record import load_record
from migrate.errors import UserError
from migrate.plan import check, write_plan
from migrate.translate import translate
from tests.conftest import DEPENDENCY_CACHE
from tests.test_deploy import scan

LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:deps:1"


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def elf(machine: int) -> bytes:
    """A 64-bit little-endian ELF header with this e_machine (enough for the check, which reads 20 bytes)."""
    return b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little")


def our_package(architecture: str = "x86_64") -> object:
    return build_package("{}", PackageOptions("layers", (LAYER_ARN,), architecture=architecture))


def test_a_layer_without_the_dependencies_is_refused_naming_the_module():
    # The demo's old layer: python/README.txt only. The environment running this test has cryptography installed;
    # the check must not see it.
    with pytest.raises(UserError) as refused:
        check_artifact(our_package(), [LayerContent(LAYER_ARN, zip_of({"python/README.txt": b"deps"}))],
                       CheckOptions())
    assert "does not import on python3.12: No module named 'cryptography'" in str(refused.value)
    assert "checked with CPython 3.12." in str(refused.value)


def test_a_lazily_imported_dependency_that_is_missing_is_refused():
    # A module imported only inside a function (as boto3 is, on the first SSM read): importing the handler alone
    # would pass. Every module the code names is imported.
    from migrate.deploy.package import Package

    deps = cached_dependencies("x86_64", DEPENDENCY_CACHE)
    files = {f"python/{p.relative_to(deps).as_posix()}": p.read_bytes() for p in deps.rglob("*") if p.is_file()}
    ours = our_package()
    with zipfile.ZipFile(io.BytesIO(ours.zip_bytes)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries["authorizer/later.py"] = b"def first_request():\n    import avp_migrate_lazy_dependency\n"
    lazy = Package(zip_of(entries), "layers", (LAYER_ARN,), len(entries))
    check_artifact(ours, [LayerContent(LAYER_ARN, zip_of(files))], CheckOptions())  # the layer itself is complete
    with pytest.raises(UserError) as refused:
        check_artifact(lazy, [LayerContent(LAYER_ARN, zip_of(files))], CheckOptions())
    assert "No module named 'avp_migrate_lazy_dependency'" in str(refused.value)


def test_a_real_layer_passes_and_says_where_each_module_came_from(dependencies_layer_zip):
    report = check_artifact(our_package(), [LayerContent(LAYER_ARN, dependencies_layer_zip)], CheckOptions())
    assert "authorizer.handler.lambda_handler and the" in report.summary
    assert "load in CPython 3.12" in report.summary
    assert "cryptography from the layers" in report.summary
    assert "jwt" not in report.summary  # the authorizer verifies with cryptography itself: PyJWT is not shipped
    # the runtime's SDK: botocore (authorizer/aws.py builds its clients without boto3's resource layer)
    assert "; botocore, " in report.summary and "from the runtime" in report.summary


@pytest.mark.parametrize(("tag", "architecture", "fits"), [
    ("py3-none-any", "x86_64", True),
    ("cp312-cp312-manylinux_2_17_x86_64", "x86_64", True),
    ("cp311-abi3-manylinux2014_x86_64", "x86_64", True),
    ("cp311-abi3-manylinux2014_x86_64", "arm64", False),
    ("cp312-cp312-manylinux_2_17_aarch64", "arm64", True),
    ("cp311-cp311-manylinux_2_17_x86_64", "x86_64", False),  # another Python's ABI
    ("cp313-abi3-manylinux_2_17_x86_64", "x86_64", False),  # needs a newer Python
    ("cp312-cp312-manylinux_2_39_x86_64", "x86_64", False),  # newer glibc than Amazon Linux 2023's 2.34
    ("cp312-cp312-musllinux_1_2_x86_64", "x86_64", False),
    ("cp312-cp312-macosx_11_0_arm64", "arm64", False),
    ("cp312-cp312-win_amd64", "x86_64", False),
])
def test_wheel_tags(tag, architecture, fits):
    assert wheel_tag_fits(tag, architecture) is fits


def test_a_wheel_for_another_python_or_platform_is_refused_naming_it():
    layer = zip_of({"python/cffi-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: cp311-cp311-manylinux_2_17_x86_64\n",
                    "python/cffi/__init__.py": b""})
    with pytest.raises(UserError) as refused:
        check_artifact(our_package(), [LayerContent(LAYER_ARN, layer)], CheckOptions())
    message = str(refused.value)
    assert message.startswith(f"layer {LAYER_ARN}: python/cffi-1.0.dist-info/WHEEL: cffi-1.0.dist-info is built for "
                              "cp311-cp311-manylinux_2_17_x86_64, not python3.12 x86_64")


@pytest.mark.parametrize(("architecture", "machine", "named"), [("x86_64", 0xB7, "AArch64"),
                                                                 ("arm64", 0x3E, "x86-64")])
def test_a_shared_object_for_another_machine_is_refused_naming_the_file(architecture, machine, named):
    layer = zip_of({"python/fast/_speedups.abi3.so": elf(machine), "python/fast/__init__.py": b""})
    with pytest.raises(UserError) as refused:
        check_artifact(our_package(architecture), [LayerContent(LAYER_ARN, layer)], CheckOptions())
    assert str(refused.value) == (
        f"layer {LAYER_ARN}: python/fast/_speedups.abi3.so: built for {named} (ELF e_machine {machine:#x}), not "
        f"{architecture} ({package_check.ELF_MACHINES[architecture]:#x})")


def test_elf_machine_reads_the_header(tmp_path):
    (tmp_path / "a.so").write_bytes(elf(0xB7) + bytes(100))
    (tmp_path / "b.so").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(100))  # Mach-O: not ELF
    assert (elf_machine(tmp_path / "a.so"), elf_machine(tmp_path / "b.so")) == (0xB7, None)
    real = next(cached_dependencies("x86_64", DEPENDENCY_CACHE).rglob("_rust.abi3.so"))
    assert elf_machine(real) == 0x3E


def test_an_extension_module_for_another_python_is_refused():
    layer = zip_of({"python/_cffi_backend.cpython-311-x86_64-linux-gnu.so": elf(0x3E)})
    with pytest.raises(UserError, match=r"a CPython 3\.11 x86_64 extension module; the function runs python3\.12"):
        check_artifact(our_package(), [LayerContent(LAYER_ARN, layer)], CheckOptions())


def test_arm64_dependencies_pass_the_binary_checks_without_importing(arm64_layer_zip, dependencies_layer_zip):
    arm = arm64_layer_zip
    report = check_artifact(our_package("arm64"), [LayerContent(LAYER_ARN, arm)], CheckOptions())
    assert "2 shared object(s) built for arm64, wheel tags match python3.12 arm64" in report.summary
    assert "imports not run: this machine cannot execute arm64 code" in report.summary
    # the x86_64 build is not an arm64 package (its wheel tags say so first)
    with pytest.raises(UserError, match=r"is built for cp312-cp312-manylinux_2_17_x86_64, .* not python3\.12 arm64"):
        check_artifact(our_package("arm64"), [LayerContent(LAYER_ARN, dependencies_layer_zip)], CheckOptions())
    # without the dependencies, arm64 is refused too (presence of every imported module)
    with pytest.raises(UserError, match="No module named 'cryptography'"):
        check_artifact(our_package("arm64"), [LayerContent(LAYER_ARN, zip_of({"python/README.txt": b""}))],
                       CheckOptions())


def test_check_python_must_be_the_runtime_version(tmp_path):
    import sys

    with pytest.raises(UserError, match=r"--check-python .*: is CPython 3\.11\.\d+; the function runs python3\.12"):
        package_check.find_interpreter("3.12", sys.executable)


# --- through deploy, on the embedded AWS --------------------------------------------------------------------------


@pytest.fixture
def plan_folder(embedded_aws, tmp_path):
    from migrate.embedded.seed import seed_demo

    account = seed_demo(region=embedded_aws.region)
    inventory = scan(account)
    translation = translate(inventory)
    write_plan(translation, check(translation), tmp_path / "plan", inventory=inventory,
               inventory_path="inventory.json")
    return account, tmp_path / "plan"


def publish(zip_bytes: bytes, architecture: str = "x86_64") -> str:
    return boto3.client("lambda").publish_layer_version(
        LayerName="deps", Content={"ZipFile": zip_bytes}, CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=[architecture])["LayerVersionArn"]


def nothing_created(plan: Path) -> bool:
    return (not (plan / "deployment.json").exists()
            and boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == [])


def test_deploy_refuses_a_package_that_does_not_import_with_nothing_created(plan_folder, capsys):
    _, plan = plan_folder
    layer = publish(zip_of({"python/README.txt": b"pip install -r authorizer/requirements.txt -t python/"}))
    code = main(["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer", layer,
                 "--yes"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert ("package check: authorizer.handler.lambda_handler does not import on python3.12: No module named "
            "'cryptography'" in err)
    assert nothing_created(plan)


def test_without_an_interpreter_deploy_refuses_unless_told(plan_folder, capsys, monkeypatch, dependencies_layer):
    _, plan = plan_folder
    monkeypatch.setattr(package_check, "interpreter_candidates", lambda version: [])
    monkeypatch.setattr(package_check, "_passed", {})
    deploy = ["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer",
              dependencies_layer, "--endpoint", "GET /avp"]
    code = main([*deploy, "--yes"])
    err = capsys.readouterr().err
    assert code == 1 and "no CPython 3.12 on this machine to check that the handler imports" in err
    assert "--no-import-check" in err and err.count("\n") == 1
    assert nothing_created(plan)
    code = main([*deploy, "--no-import-check", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 2
    assert "note: the handler was NOT imported before deploying (--no-import-check)" in out


def test_deploy_arm64(plan_folder, capsys, arm64_layer_zip, dependencies_layer_zip):
    _, plan = plan_folder
    layer = publish(arm64_layer_zip, "arm64")
    deploy = ["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer", layer,
              "--endpoint", "GET /avp", "--architecture", "arm64"]
    code = main([*deploy, "--yes"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "lambda function" in out and "python3.12 arm64" in out
    function = boto3.client("lambda").get_function(FunctionName=load_record(plan).function_name)["Configuration"]
    assert function["Architectures"] == ["arm64"]
    # An x86_64-only layer does not fit an arm64 function.
    x86 = publish(dependencies_layer_zip)
    code = main(["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer", x86,
                 "--endpoint", "GET /avp", "--architecture", "arm64", "--dry-run"])
    assert code == 1 and f"{x86} is for x86_64, not arm64" in capsys.readouterr().err


def test_get_layer_version_gives_a_link_to_the_content(embedded_aws, dependencies_layer, dependencies_layer_zip):
    import urllib.error
    import urllib.request

    layer, _, version = dependencies_layer.rpartition(":")
    content = boto3.client("lambda").get_layer_version(LayerName=layer, VersionNumber=int(version))["Content"]
    downloaded = package_check.download_layer(dependencies_layer, content)
    assert downloaded.zip_bytes == dependencies_layer_zip
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(content["Location"].replace("Signature=", "Signature=0"), timeout=10)
    assert denied.value.code == 403


def test_the_check_sees_only_the_artifact(tmp_path):
    """The probe runs isolated: with nothing on its path, even the standard library's json is there but cryptography
    is not, although the environment running deploy has it."""
    interpreter = package_check.find_interpreter("3.12")
    assert interpreter is not None
    package = tmp_path / "authorizer"
    shutil.copytree(package_check.PROBE.parent.parent.parent / "authorizer", package)
    probe = package_check._run_probe(interpreter, [tmp_path], package)
    assert probe["missing"] == "cryptography"
    assert all(not str(path).startswith(str(Path(__file__).parent.parent / ".venv"))
               for path in probe["origins"].values())
