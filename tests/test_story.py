"""The whole story on the embedded AWS, with assertions at each step: scan, plan, verify, deploy in shadow mode,
traffic from users in different groups through the deployed authorizer (real tokens, the local Verified
Permissions endpoint), the shadow report, cut-over of GET /avp, a refused cut-over, rollback, status, undeploy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3

from migrate.cli.main import main
from migrate.deploy.package_check import find_interpreter
from migrate.deploy.record import load_record
from migrate.embedded.functions import LocalAuthorizerFunction, demo_traffic
from migrate.embedded.seed import seed_demo
from tests.conftest import DEPENDENCY_CACHE


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def stable(path: Path) -> dict:
    data = json.loads(path.read_text())
    data.pop("created_at")
    data.pop("provenance")
    return data


def test_the_whole_migration(embedded_aws, tmp_path, capsys, dependencies_layer):
    account = seed_demo(region=embedded_aws.region)
    inventory, plan, shadow = tmp_path / "inventory.json", tmp_path / "plan", tmp_path / "shadow"

    # scan, plan, verify
    assert run(capsys, "scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out",
               str(inventory))[0] == 0
    code, out = run(capsys, "plan", str(inventory), "--out", str(plan))
    assert code == 0 and "equivalence: equivalent" in out
    assert run(capsys, "verify", str(inventory), "--plan", str(plan))[0] == 0

    # deploy in shadow mode (dependencies from a layer in the embedded account, built once: tests/conftest.py)
    deploy = ["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer",
              dependencies_layer]
    assert run(capsys, *deploy, "--dry-run")[0] == 2
    assert run(capsys, *deploy, "--yes")[0] == 0
    assert run(capsys, *deploy, "--dry-run")[0] == 0
    record = load_record(plan)
    method = boto3.client("apigateway").get_method(restApiId=account.api_id,
                                                    resourceId=record.methods["GET /avp"].resource_id,
                                                    httpMethod="GET")
    assert (method["authorizationType"], method["authorizerId"]) == ("CUSTOM", record.authorizer_id)

    # traffic through the deployed authorizer: every demo user and the machine client, nothing to DELETE /pets
    function = LocalAuthorizerFunction(embedded_aws, record.function_name)
    traffic = demo_traffic(function, account, rounds=3, skip_routes=("DELETE /pets/{petId}",))
    assert traffic.calls > 300 and traffic.by_status["ALLOW"] > 0 and "DENY" not in traffic.by_status
    assert traffic.enforced_by_avp == {}  # shadow: the scope decision is enforced

    # the shadow report, from the function's CloudWatch log group
    code, out = run(capsys, "report", "shadow", "--plan", str(plan), "--download", "--out", str(shadow),
                    "--min-decisions", "20")
    assert code == 0
    report = json.loads((shadow / "shadow-report.json").read_text())
    routes = {r["route"]: r for r in report["routes"]}
    assert routes["GET /avp"]["ready"] and routes["GET /avp"]["decisions"] == 27
    assert routes["GET /avp"]["disagreements"] == {"scope_allow_avp_deny": 0, "scope_deny_avp_allow": 0}
    assert not routes["DELETE /pets/{petId}"]["ready"]
    assert (shadow / "shadow-report.html").exists()

    # cut-over of GET /avp; a refused cut-over of an endpoint that is not ready
    evidence = str(shadow / "shadow-report.json")
    code, out = run(capsys, "cutover", "GET /avp", "--plan", str(plan), "--evidence", evidence, "--yes")
    assert code == 0 and "moved GET /avp: shadow -> avp" in out
    code, out = run(capsys, "cutover", "DELETE /pets/{petId}", "--plan", str(plan), "--evidence", evidence, "--yes")
    assert code == 1 and "not ready" in out
    modes = json.loads(boto3.client("ssm").get_parameter(Name=record.mode_parameter)["Parameter"]["Value"])
    assert modes["routes"]["GET /avp"] == "avp" and modes["routes"]["DELETE /pets/{petId}"] == "shadow"

    # a new execution environment of the authorizer now lets AVP decide GET /avp: 3 users in, the rest 403
    function.close()
    function = LocalAuthorizerFunction(embedded_aws, record.function_name)
    after = demo_traffic(function, account, rounds=1, skip_routes=("DELETE /pets/{petId}",))
    assert after.enforced_by_avp == {"GET /avp": 9} and after.by_status["DENY"] == 6

    # rollback, status
    code, out = run(capsys, "rollback", "GET /avp", "--plan", str(plan), "--yes")
    assert code == 0 and "moved GET /avp: avp -> shadow" in out
    code, out = run(capsys, "status", "--plan", str(plan), "--format", "json")
    assert code == 0
    status = json.loads(out)
    assert {r["route"]: r["mode"] for r in status["routes"]}["GET /avp"] == "shadow"
    function.close()

    # undeploy: the API is as it was
    assert run(capsys, "undeploy", "--plan", str(plan), "--yes")[0] == 0
    again = tmp_path / "again.json"
    scan = ["scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out", str(again)]
    assert run(capsys, *scan)[0] == 0
    assert stable(again) == stable(inventory)


def test_the_demo_command_tells_the_story(tmp_path, dependencies_layer_zip):
    # A bare environment, but this machine's CPython 3.12 for deploy's package check and the dependencies the
    # tests built already (so the demo needs no index).
    interpreter = find_interpreter("3.12")
    assert interpreter is not None, "the tests need a CPython 3.12 (pyenv or python3.12 on PATH)"
    env_free = {"PATH": f"/usr/bin:/bin:{Path(interpreter.path).parent}", "HOME": str(tmp_path),
                "AVP_MIGRATE_CACHE": str(DEPENDENCY_CACHE)}
    result = subprocess.run([sys.executable, "-m", "migrate", "demo", "--out", str(tmp_path / "demo")],
                            capture_output=True, text=True, env=env_free, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for step in ("[3] scan", "[5] plan", "[6] verify", "[7] deploy", "[9] report shadow", "[10] cutover GET /avp",
                 "(not ready)", "[13] rollback", "[14] status", "[15] undeploy"):
        assert step in result.stdout
    assert "a scan after undeploy equals the scan before deploy" in result.stdout
    (package_line,) = [line for line in result.stdout.splitlines() if "package check:" in line]
    assert "authorizer.handler.lambda_handler and the" in package_line and "load in CPython 3.12" in package_line
    (smoke_line,) = [line for line in result.stdout.splitlines() if "smoke test passed" in line]
    # its decisions reach the log group but are not evidence: the shadow report counts them apart
    assert "from deploy's smoke test (not evidence)" in result.stdout
    assert "smoke test passed: an invalid token got 401; 104 requests as 8 signed-in user(s) on 13 route(s)" in (
        smoke_line)
    assert (tmp_path / "demo" / "plan" / "report.html").exists()
    assert (tmp_path / "demo" / "shadow" / "shadow-report.html").exists()
