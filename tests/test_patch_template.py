"""`avp-migrate patch-template`: the plan's methods moved onto the avp-migrate authorizer in the team's own template.

Each form (SAM, plain CloudFormation YAML with comments, an OpenAPI Body in JSON) goes the whole way: a plan made
from `scan --template`, the diff, `patch -p1` on a copy, then the patched file checked as a reviewer and the tools
would: only the selected, unblocked methods changed, comments/key order/layout kept, `scan --template` reading the
moved methods on a Lambda REQUEST authorizer (the others untouched), cfn-lint as clean as before (SAM's own
translator too, for the SAM app). CDK output gets guidance, not a patch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cfnlint.api import lint_file

from migrate.cli.main import main
from migrate.deploy.apigw import IDENTITY_SOURCE
from migrate.iac.names import AUTHORIZER_NAME, OUTPUT_FUNCTION_ARN, export_name
from migrate.inventory import Inventory, load_inventory
from migrate.scan.cfn_yaml import load_document
from tests.test_scan_templates import sam_transform

FIXTURES = Path(__file__).parent / "fixtures" / "iac"
SAM_APP = FIXTURES / "sam-app.yaml"
CFN_YAML = FIXTURES / "cfn-pets.yaml"
OPENAPI_BODY = FIXTURES / "openapi-body-pets.json"
CDK_APP = FIXTURES / "cdk-pets.template.json"
API_ID = "a1b2c3d4e5"  # a deployed REST API id, as --parameter PetsApi=... names it
EXPORT = export_name(API_ID, "prod", OUTPUT_FUNCTION_ARN)
RULES = {"version": 1, "rules": [
    {"id": "readers", "when": {"groups": ["readers"]}, "then": {"add_scopes": ["pets/read"]}},
    {"id": "writers", "when": {"groups": ["writers"]}, "then": {"add_scopes": ["pets/read", "pets/write"]}},
    {"id": "admins", "when": {"groups": ["admins"]}, "then": {"add_scopes": ["pets/read", "pets/write"]}}]}
IDENTITY = ["--parameter", "AWS::AccountId=123456789012", "--parameter", "AWS::Region=us-east-1"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_plan(root: Path, capsys, template: Path, *parameters: str, blocked: tuple[str, ...] = ()) -> Path:
    """scan --template, then plan; ``blocked`` routes get the plan's blocked verdict (as plan writes one)."""
    root.mkdir(parents=True, exist_ok=True)
    rules = root / "rules.json"
    rules.write_text(json.dumps(RULES))
    code, _, err = run(capsys, "scan", "--out", str(root / "inventory.json"), "--template", str(template),
                       "--rules", f"file:{rules}", *parameters)
    assert code == 0, err
    code, _, err = run(capsys, "plan", str(root / "inventory.json"), "--out", str(root / "plan"))
    assert code == 0, err
    if blocked:
        plan_json = root / "plan" / "plan.json"
        document = json.loads(plan_json.read_text())
        for route in document["routes"]:
            if route["route"] in blocked:
                route["status"], route["reasons"] = "blocked", ["a test says so"]
        plan_json.write_text(json.dumps(document, indent=2))
    return root / "plan"


def workdir_with(tmp_path: Path, template: Path) -> Path:
    work = tmp_path / "repo"
    work.mkdir()
    shutil.copy(template, work / template.name)
    return work


def apply_patch(work: Path, diff: str) -> None:
    done = subprocess.run(["patch", "-p1", "--forward"], input=diff, text=True, cwd=work, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


def rescan(tmp_path: Path, capsys, template: Path) -> Inventory:
    out = tmp_path / "rescan.json"
    code, _, err = run(capsys, "scan", "--out", str(out), "--template", str(template))
    assert code == 0, err
    return load_inventory(out)


def methods_of(inventory: Inventory) -> dict[str, tuple]:
    (api,) = inventory.apis
    kinds = {a.id: (a.name, a.type) for a in api.authorizers}
    return {f"{m.http_method} {m.path}": (m.authorization_type, kinds.get(m.authorizer_id),
                                          tuple(m.authorization_scopes)) for m in api.methods}


def changed_lines(diff: str) -> tuple[list[str], list[str]]:
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    return [line[1:] for line in body if line.startswith("-")], [line[1:] for line in body if line.startswith("+")]


def cfn_lint(path: Path) -> list[str]:
    """cfn-lint's findings (in process: the dev dependency's library, as its command line runs it)."""
    return [str(match) for match in lint_file(path)]


MOVED = ("CUSTOM", (AUTHORIZER_NAME, "REQUEST"), ())


def test_sam_app_moves_only_the_selected_unblocked_events(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, SAM_APP, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY, blocked=("DELETE /pets/{petId}",))
    work = workdir_with(tmp_path, SAM_APP)
    monkeypatch.chdir(work)
    before = methods_of(rescan(tmp_path, capsys, work / SAM_APP.name))
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", SAM_APP.name,
                          "--endpoint", "get /pets", "--endpoint", "POST /pets", "--endpoint", "DELETE /pets/{petId}")
    assert code == 0, err
    assert diff.startswith(f"--- a/{SAM_APP.name}\n+++ b/{SAM_APP.name}\n")
    assert "skipped DELETE /pets/{petId}: blocked in the plan" in err and "looks like" not in err
    removed, added = changed_lines(diff)
    # Only the two events' lines change; the authorizer is added; nothing else is rewritten.
    assert removed == ["          Properties: {RestApiId: !Ref PetsApi, Path: /pets, Method: get}",
                       "            Auth: {Authorizer: PetsAuth, AuthorizationScopes: [pets/write]}"]
    assert added == [
        "          AvpMigrateAuthorizer:",
        f"            FunctionArn: !ImportValue {EXPORT}",
        "            FunctionPayloadType: REQUEST",
        "            Identity:",
        "              Headers: [Authorization]",
        "              Context: [httpMethod, resourcePath, path]",
        "              ReauthorizeEvery: 300",
        "          Properties: {RestApiId: !Ref PetsApi, Path: /pets, Method: get, Auth: {Authorizer: "
        "AvpMigrateAuthorizer}}",
        "            Auth: {Authorizer: AvpMigrateAuthorizer}"]
    assert (work / SAM_APP.name).read_text() == SAM_APP.read_text()  # the command never writes the template
    apply_patch(work, diff)
    patched = work / SAM_APP.name
    text = patched.read_text()
    assert text.startswith(SAM_APP.read_text()[:SAM_APP.read_text().index("Resources:")])  # description, globals
    assert list(load_document(text, "x")["Resources"]) == list(load_document(SAM_APP.read_text(), "x")["Resources"])
    after = methods_of(rescan(tmp_path, capsys, patched))
    assert after["GET /pets"] == after["POST /pets"] == MOVED
    assert {k: v for k, v in after.items() if k not in {"GET /pets", "POST /pets"}} == \
        {k: v for k, v in before.items() if k not in {"GET /pets", "POST /pets"}}
    assert before["DELETE /pets/{petId}"][0] == "COGNITO_USER_POOLS"
    assert cfn_lint(SAM_APP) == []
    assert cfn_lint(patched) == []
    # What SAM itself makes of it: the invoke permission for the authorizer, and the request authorizer.
    resources = json.loads(sam_transform(patched, tmp_path).read_text())["Resources"]
    permission = resources[f"PetsApi{AUTHORIZER_NAME}AuthorizerPermission"]
    assert permission["Type"] == "AWS::Lambda::Permission"
    assert permission["Properties"]["FunctionName"] == {"Fn::ImportValue": EXPORT}
    body = resources["PetsApi"]["Properties"]["Body"]
    scheme = body["securityDefinitions"][AUTHORIZER_NAME]["x-amazon-apigateway-authorizer"]
    assert (scheme["type"], scheme["authorizerResultTtlInSeconds"]) == ("request", 300)
    assert scheme["identitySource"].replace(" ", "") == IDENTITY_SOURCE
    assert body["paths"]["/pets"]["get"]["security"] == [{AUTHORIZER_NAME: []}]
    assert body["paths"]["/pets/{petId}"]["delete"]["security"] == [{"PetsAuth": ["pets/admin"]}]


def test_cloudformation_methods_keep_comments_and_order_and_lint_clean(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, CFN_YAML, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY, blocked=("POST /pets",))
    work = workdir_with(tmp_path, CFN_YAML)
    monkeypatch.chdir(work)
    original = CFN_YAML.read_text()
    before = methods_of(rescan(tmp_path, capsys, work / CFN_YAML.name))
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name, "--ttl", "60")
    assert code == 0, err
    assert "give the stage a new deployment" in err and "skipped POST /pets" in err
    removed, _ = changed_lines(diff)
    assert removed == ["      AuthorizationType: COGNITO_USER_POOLS", "      AuthorizerId: !Ref PetsAuthorizer",
                       "      AuthorizationScopes:", "        - pets/read  # readers and writers",
                       "      AuthorizationType: COGNITO_USER_POOLS", "      AuthorizerId: !Ref PetsAuthorizer",
                       "      AuthorizationScopes: [pets/read]"]
    apply_patch(work, diff)
    patched = work / CFN_YAML.name
    text = patched.read_text()
    for comment in ("# --- identity ---", "# --- the API ---", "Name: PetsApi  # the name the console shows",
                    "# Health checks stay public.", 'PathPart: "{petId}"'):
        assert comment in text
    names = list(load_document(text, "x")["Resources"])
    original_names = list(load_document(original, "x")["Resources"])
    assert [n for n in names if n in original_names] == original_names
    assert names[names.index("PetsApi") + 1:names.index("PetsApi") + 3] == [AUTHORIZER_NAME,
                                                                          f"{AUTHORIZER_NAME}Permission"]
    after_inventory = rescan(tmp_path, capsys, patched)
    after = methods_of(after_inventory)
    assert after["GET /pets"] == after["GET /pets/{petId}"] == MOVED
    assert after["POST /pets"] == before["POST /pets"] == ("COGNITO_USER_POOLS", ("PetsAuth", "COGNITO_USER_POOLS"),
                                                          ("pets/write",))
    assert after["GET /health"] == before["GET /health"] == ("NONE", None, ())
    (authorizer,) = [a for a in after_inventory.apis[0].authorizers if a.id == AUTHORIZER_NAME]
    assert (authorizer.identity_source, authorizer.result_ttl_seconds) == (IDENTITY_SOURCE, 60)
    assert EXPORT in authorizer.authorizer_uri
    assert cfn_lint(CFN_YAML) == []
    assert cfn_lint(patched) == []
    # Patching the patched template again changes nothing: the methods are already on the authorizer.
    code, again, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name, "--ttl", "60")
    assert code == 0 and again == "", again
    assert "already on the avp-migrate authorizer: GET /pets" in err
    # Another TTL changes that line only.
    code, again, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name, "--ttl", "90")
    assert code == 0, err
    assert changed_lines(again) == (["      AuthorizerResultTtlInSeconds: 60"],
                                    ["      AuthorizerResultTtlInSeconds: 90"])


def test_openapi_body_in_json_keeps_layout_and_moves_one_operation(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, OPENAPI_BODY, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY)
    work = workdir_with(tmp_path, OPENAPI_BODY)
    monkeypatch.chdir(work)
    out = tmp_path / "change.diff"
    code, printed, err = run(capsys, "patch-template", "--plan", str(plan), "--template", OPENAPI_BODY.name,
                             "--endpoint", "GET /pets/{petId}", "--out", str(out), "--ttl", "120")
    assert code == 0, err
    assert "wrote" in printed and "GET /pets/{petId}" in printed
    diff = out.read_text()
    removed, added = changed_lines(diff)
    assert removed == ['                    "PetsAuth": [', '                      "pets/read"',
                       "                    ]"]
    assert added[0] == f'                    "{AUTHORIZER_NAME}": []'
    apply_patch(work, diff)
    patched = work / OPENAPI_BODY.name
    before, after = json.loads(OPENAPI_BODY.read_text()), json.loads(patched.read_text())
    names = list(before["Resources"])
    assert list(after["Resources"]) == [*names[:6], f"{AUTHORIZER_NAME}Permission", *names[6:]]
    body_before, body_after = before["Resources"]["PetsApi"]["Properties"]["Body"], \
        after["Resources"]["PetsApi"]["Properties"]["Body"]
    assert list(body_after) == list(body_before)
    assert list(body_after["components"]["securitySchemes"]) == ["PetsAuth", AUTHORIZER_NAME]
    scheme = body_after["components"]["securitySchemes"][AUTHORIZER_NAME]
    assert scheme["x-amazon-apigateway-authtype"] == "custom"
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert (authorizer["type"], authorizer["authorizerResultTtlInSeconds"]) == ("request", 120)
    assert authorizer["identitySource"].replace(" ", "") == IDENTITY_SOURCE
    assert body_after["paths"]["/pets"] == body_before["paths"]["/pets"]
    assert list(body_after["paths"]["/pets/{petId}"]["get"]) == list(body_before["paths"]["/pets/{petId}"]["get"])
    permission = after["Resources"][f"{AUTHORIZER_NAME}Permission"]["Properties"]
    assert permission["SourceArn"]["Fn::Sub"][0].endswith("/authorizers/*")
    moved = methods_of(rescan(tmp_path, capsys, patched))
    assert moved["GET /pets/{petId}"] == MOVED
    assert moved["GET /pets"][0] == moved["POST /pets"][0] == "COGNITO_USER_POOLS"
    assert cfn_lint(OPENAPI_BODY) == []
    assert cfn_lint(patched) == []


def test_cdk_output_gets_guidance_not_a_patch(tmp_path, capsys):
    plan = make_plan(tmp_path / "p", capsys, CDK_APP, "--parameter", "PetsUserPool6BA7E5F2=us-east-1_Abc123",
                     "--parameter", f"PetsApi9A1B2C3D={API_ID}", *IDENTITY)
    out = tmp_path / "change.diff"
    code, printed, err = run(capsys, "patch-template", "--plan", str(plan), "--template", str(CDK_APP),
                             "--out", str(out))
    assert code == 0, err
    assert not out.exists() and "--- a/" not in printed
    assert "new apigateway.RequestAuthorizer(this, 'AvpMigrateAuthorizer'" in printed
    assert f"cdk.Fn.importValue('{EXPORT}')" in printed and "resultsCacheTtl: cdk.Duration.seconds(300)" in printed
    assert "apigateway.IdentitySource.header('Authorization')" in printed
    assert "authorizationType: apigateway.AuthorizationType.CUSTOM" in printed
    assert re.search(r"GET /pets \s+construct PetsStack/PetsApi/Default/pets/GET\n", printed), printed
    assert "construct PetsStack/PetsApi/Default/health/GET" not in printed  # not migrated: stays as it is
    assert "defaultMethodOptions on the RestApi instead: not here, it would also move GET /health" in printed


def test_bad_inputs_are_one_line_errors_and_the_template_is_untouched(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, SAM_APP, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY)
    work = workdir_with(tmp_path, SAM_APP)
    monkeypatch.chdir(work)
    edited = SAM_APP.read_text().replace("            Method: delete\n", "            Method: patch\n")
    (work / "edited.yaml").write_text(edited)

    def fails(*argv: str) -> str:
        code, out, err = run(capsys, "patch-template", "--plan", str(plan), *argv)
        assert code == 1 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (code, out, err)
        return err

    assert "not the plan's API: no REST API 'PetsApi'" in fails("--template", str(CDK_APP))
    assert "route DELETE /pets/{petId} of the plan is not a method of API PetsApi" in fails("--template", "edited.yaml")
    assert "--ttl: must be between 0 and 3600" in fails("--template", SAM_APP.name, "--ttl", "3601")
    assert "unknown route 'GET /nope'" in fails("--template", SAM_APP.name, "--endpoint", "GET /nope")
    assert "the template is never modified" in fails("--template", SAM_APP.name, "--out", SAM_APP.name)
    assert (work / SAM_APP.name).read_text() == SAM_APP.read_text()
    assert (work / "edited.yaml").read_text() == edited
    # A plan whose routes are all blocked (a template pool never named): nothing to move.
    blocked_plan = make_plan(tmp_path / "b", capsys, SAM_APP)
    code, _, err = run(capsys, "patch-template", "--plan", str(blocked_plan), "--template", SAM_APP.name)
    assert code == 1 and "no methods to move: the plan's routes are all blocked" in err


def test_a_plan_that_names_the_api_by_its_logical_id_is_warned_about(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, SAM_APP, "--parameter", "UserPool=us-east-1_Abc123", *IDENTITY)
    work = workdir_with(tmp_path, SAM_APP)
    monkeypatch.chdir(work)
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", SAM_APP.name)
    assert code == 0, err
    assert "the plan's API id 'PetsApi' looks like the template's logical id" in err
    assert "--parameter PetsApi=<rest api id>" in err
    assert "!ImportValue avp-migrate-PetsApi-prod-AuthorizerFunctionArn" in diff


@pytest.mark.parametrize("ttl", ["0", "3600"])
def test_ttl_bounds_are_accepted(tmp_path, capsys, monkeypatch, ttl):
    plan = make_plan(tmp_path / "p", capsys, CFN_YAML, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY)
    monkeypatch.chdir(workdir_with(tmp_path, CFN_YAML))
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name, "--ttl", ttl)
    assert code == 0, err
    assert f"+      AuthorizerResultTtlInSeconds: {ttl}\n" in diff


def test_sam_definition_body_gets_the_security_in_the_body(tmp_path, capsys, monkeypatch):
    """With its own DefinitionBody, SAM does not apply an event's Auth (push.py): the body's operation changes."""
    template = FIXTURES / "sam-definition-body.yaml"
    parameters = ("--parameter", "UserPool=us-east-1_Abc123", "--parameter", f"PetsApi={API_ID}")
    plan = make_plan(tmp_path / "p", capsys, template, *parameters, *IDENTITY)
    work = workdir_with(tmp_path, template)
    monkeypatch.chdir(work)
    code, out, err = run(capsys, "patch-template", "--plan", str(plan), "--template", template.name,
                         "--endpoint", "GET /pets", *parameters, "--output", "json")
    assert code == 0, err
    result = json.loads(out)
    assert (result["form"], result["file"], result["moved"], result["skipped"]) == \
        ("SAM", template.name, ["GET /pets"], {})
    removed, added = changed_lines(result["diff"])
    assert removed == ["                - PetsAuth: [pets/read]  # readers and writers"]
    assert added[-1] == f"                - {AUTHORIZER_NAME}: []"
    apply_patch(work, result["diff"])
    patched = work / template.name
    moved = methods_of(rescan(tmp_path, capsys, patched))
    assert moved["GET /pets"] == MOVED
    assert moved["POST /pets"] == ("COGNITO_USER_POOLS", ("PetsAuth", "COGNITO_USER_POOLS"), ("pets/write",))
    assert cfn_lint(patched) == []
    resources = json.loads(sam_transform(patched, tmp_path).read_text())["Resources"]
    assert f"PetsApi{AUTHORIZER_NAME}AuthorizerPermission" in resources
    paths = resources["PetsApi"]["Properties"]["Body"]["paths"]
    assert paths["/pets"]["get"]["security"] == [{AUTHORIZER_NAME: []}]
    assert paths["/pets"]["post"]["security"] == [{"PetsAuth": ["pets/write"]}]


def test_a_plan_from_a_live_scan_names_the_api_by_parameter_and_crlf_files_keep_their_line_ends(
        tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, CFN_YAML, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY)
    # As a live scan records it: the API known by its id, not by a template's logical id.
    snapshot = plan / "inventory.json"
    snapshot.write_text(snapshot.read_text().replace(f"template:{CFN_YAML}#PetsApi", "apigateway"))
    work = workdir_with(tmp_path, CFN_YAML)
    monkeypatch.chdir(work)
    crlf = CFN_YAML.read_text().replace("\n", "\r\n")
    (work / CFN_YAML.name).write_bytes(crlf.encode())
    code, _, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name)
    assert code == 1 and f"name the API's logical id with --parameter LOGICAL_ID={API_ID}" in err
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name,
                          "--parameter", f"PetsApi={API_ID}")
    assert code == 0, err
    removed, _ = changed_lines(diff)
    assert len(removed) == 10  # the three methods' lines, not the whole file
    body = [line for line in diff.split("\n")[2:] if line.startswith(("+", "-", " "))]
    assert body and all(line.endswith("\r") for line in body)
    apply_patch(work, diff)
    patched = (work / CFN_YAML.name).read_bytes().decode()
    assert patched.count("\r\n") == patched.count("\n")
    assert methods_of(rescan(tmp_path, capsys, work / CFN_YAML.name))["GET /pets"] == MOVED


@pytest.mark.parametrize("layout", [(2, 4, 2), (2, 2, 0), (4, 4, 0), (4, 6, 4), (3, 3, 0), (4, 4, 2)])
def test_the_files_own_yaml_indentation_is_found(layout):
    from migrate.iac.template_text import EditableTemplate, _dump_yaml, _yaml

    text = _dump_yaml(_yaml((2, 4, 2)).load(CFN_YAML.read_text()), layout)
    assert EditableTemplate.load(text, "x").exact


def test_a_layout_that_cannot_be_reproduced_is_said(tmp_path, capsys, monkeypatch):
    plan = make_plan(tmp_path / "p", capsys, CFN_YAML, "--parameter", "UserPool=us-east-1_Abc123",
                     "--parameter", f"PetsApi={API_ID}", *IDENTITY)
    work = workdir_with(tmp_path, CFN_YAML)
    monkeypatch.chdir(work)
    mixed = CFN_YAML.read_text().replace(  # one list with its dashes flush with the key, the others indented
        "      ExplicitAuthFlows:\n        - ALLOW_USER_SRP_AUTH\n        - ALLOW_REFRESH_TOKEN_AUTH\n",
        "      ExplicitAuthFlows:\n      - ALLOW_USER_SRP_AUTH\n      - ALLOW_REFRESH_TOKEN_AUTH\n")
    (work / CFN_YAML.name).write_text(mixed)
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", CFN_YAML.name)
    assert code == 0, err
    assert "the file's layout could not be reproduced exactly" in err
    apply_patch(work, diff)
    assert methods_of(rescan(tmp_path, capsys, work / CFN_YAML.name))["GET /pets"] == MOVED
