"""`avp-migrate deploy` and `undeploy` on the embedded AWS, through real boto3 calls.

The demo account is scanned and planned; deploy then creates the policy store, the Lambda authorizer (moto
creates functions without running them), its role, the mode document and ledger, the REQUEST authorizer, and
moves the methods. The authorizer itself is exercised in-process, with the deployed function's environment and
the configuration bundled in its package, against the local Verified Permissions endpoint. Undeploy must give
back the account a scan saw before deploy.

Dependencies come from a layer published in the embedded account (``--dependencies layers``): tests never
download anything. The pip path is tested where it must fail without an index (nothing is created).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.awsrequest
import pytest

from authorizer.config import AuthorizerConfig
from authorizer.modes import ModeDocument
from migrate.awsconfig import AwsSession, AwsTarget
from migrate.cli.main import main
from migrate.deploy.deployer import DeployOptions, plan_deploy
from migrate.deploy.names import LEDGER_TABLE
from migrate.deploy.package import PackageOptions, build_package
from migrate.deploy.record import load_record
from migrate.deploy.runner import apply_changes
from migrate.embedded.seed import DEMO, seed_demo
from migrate.errors import UserError
from migrate.inventory.serde import to_jsonable
from migrate.plan import check, write_plan
from migrate.scan.aws import AwsScanner, ScanOptions
from migrate.translate import translate
from tests.authorizer_helpers import harness, request_event

IDENTITY_SOURCE = "method.request.header.Authorization,context.httpMethod,context.resourcePath,context.path"
READ_PREFIXES = ("Get", "List", "Describe", "Query", "BatchGet")


@dataclass
class Demo:
    account: Any
    plan: Path
    layer: str
    before: dict[str, Any]  # the pre-deploy scan, without volatile fields

    def deploy_args(self, *extra: str) -> list[str]:
        return ["deploy", "--plan", str(self.plan), "--mode", "shadow", "--dependencies", "layers",
                "--layer", self.layer, *extra]


def scan(account: Any) -> Any:
    return AwsScanner(AwsSession(AwsTarget()), ScanOptions(api_ids=[account.api_id], stage="prod",
                                                           all_users=True)).scan()


def stable(inventory: Any) -> dict[str, Any]:
    data = to_jsonable(inventory)
    for volatile in ("created_at", "provenance"):
        data.pop(volatile)
    return data


@pytest.fixture
def demo(embedded_aws, tmp_path, dependencies_layer) -> Demo:
    return make_demo(embedded_aws, tmp_path, dependencies_layer)


def make_demo(embedded_aws, tmp_path, dependencies_layer) -> Demo:
    account = seed_demo(region=embedded_aws.region)
    inventory = scan(account)
    translation = translate(inventory)
    plan = tmp_path / "plan"
    write_plan(translation, check(translation), plan, inventory=inventory, inventory_path="inventory.json")
    # The authorizer's dependencies as a layer (pip install -r authorizer/requirements.txt -t python/, built once
    # per machine: tests/conftest.py).
    return Demo(account, plan, dependencies_layer, stable(inventory))


def run(capsys, argv: list[str]) -> tuple[int, list[str], str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def change_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.split(" ", 1)[0] in {"create", "update", "delete"}]


def methods_of(api_id: str) -> dict[str, dict[str, Any]]:
    apigw = boto3.client("apigateway")
    found = {}
    for resource in apigw.get_resources(restApiId=api_id, embed=["methods"], limit=500)["items"]:
        for verb, method in (resource.get("resourceMethods") or {}).items():
            found[f"{verb} {resource['path']}"] = {**method, "resourceId": resource["id"]}
    return found


def integrations_of(api_id: str) -> dict[str, Any]:
    apigw = boto3.client("apigateway")
    result = {}
    for route, method in methods_of(api_id).items():
        integration = apigw.get_integration(restApiId=api_id, resourceId=method["resourceId"],
                                            httpMethod=route.split(" ")[0])
        integration.pop("ResponseMetadata")
        result[route] = integration
    return result


def store_policies(store_id: str) -> dict[str, tuple[str, str]]:
    """@id -> (AVP policy id, statement)."""
    from migrate.deploy.avp_store import read_store_policies

    avp = boto3.client("verifiedpermissions")
    result = {}
    for policy in read_store_policies(avp, store_id):
        statement = avp.get_policy(policyStoreId=store_id, policyId=policy.policy_id)["definition"]["static"]
        result[policy.annotation] = (policy.policy_id, statement["statement"])
    return result


def ledger_items(pk: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").query(TableName=LEDGER_TABLE, KeyConditionExpression="pk = :pk",
                                          ExpressionAttributeValues={":pk": {"S": pk}})["Items"]


def planned_ids(plan: Path) -> dict[str, str]:
    """@id -> statement of every policy file."""
    from migrate.deploy.plan_input import load_plan

    return {p.policy_id: p.statement for p in load_plan(str(plan)).policies}


def test_deploy_dry_run_deploy_redeploy_edit_and_undeploy(demo, capsys, embedded_aws):
    api_id, pool_arn = demo.account.api_id, demo.account.user_pool_arn
    integrations_before = integrations_of(api_id)
    code, dry, _ = run(capsys, demo.deploy_args("--dry-run"))
    assert code == 2
    planned = change_lines(dry)
    assert planned[0].startswith("create verifiedpermissions policy store")
    assert sum(line.startswith("create verifiedpermissions policy \"") for line in planned) == 13
    assert sum(line.startswith("update apigateway method ") for line in planned) == 13
    assert planned[-1].startswith("create apigateway deployment of stage prod")
    assert not (demo.plan / "deployment.json").exists()
    assert boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == []
    assert [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]] == [
        DEMO.trigger_function]

    code, applied, err = run(capsys, demo.deploy_args("--yes"))
    assert code == 0, err
    assert change_lines(applied) == planned  # exactly the change set the dry run announced
    record = load_record(demo.plan)
    avp = boto3.client("verifiedpermissions")
    store = avp.get_policy_store(policyStoreId=record.policy_store_id)
    assert store["validationSettings"]["mode"] == "STRICT"
    in_store = store_policies(record.policy_store_id)
    assert {k: v[1] for k, v in in_store.items()} == planned_ids(demo.plan)
    assert record.policies == {k: v[0] for k, v in in_store.items()}
    (source,) = avp.list_identity_sources(policyStoreId=record.policy_store_id)["identitySources"]
    detail = avp.get_identity_source(policyStoreId=record.policy_store_id,
                                     identitySourceId=source["identitySourceId"])
    cognito = detail["configuration"]["cognitoUserPoolConfiguration"]
    assert cognito["userPoolArn"] == pool_arn
    assert sorted(cognito["clientIds"]) == sorted(demo.account.client_ids.values())
    assert (detail["principalEntityType"], cognito["groupConfiguration"]["groupEntityType"]) == (
        "MyApi::User", "MyApi::UserGroup")

    config = boto3.client("lambda").get_function(FunctionName=record.function_name)["Configuration"]
    assert (config["Runtime"], config["Handler"], config["Role"]) == (
        "python3.12", "authorizer.handler.lambda_handler", f"arn:aws:iam::123456789012:role/{record.role_name}")
    assert [layer["Arn"] for layer in config["Layers"]] == [demo.layer]
    modes = boto3.client("ssm").get_parameter(Name=record.mode_parameter)["Parameter"]["Value"]
    migrated = [r for r in methods_of(api_id) if r != "GET /health"]
    assert json.loads(modes) == {"version": 1, "default": "scope", "routes": dict.fromkeys(migrated, "shadow")}
    variables = dict(config["Environment"]["Variables"])
    fallback = variables.pop("AVP_AUTHZ_MODES")
    assert variables == {"AVP_AUTHZ_POLICY_STORE_ID": record.policy_store_id,
                         "AVP_AUTHZ_MODES_PARAMETER": record.mode_parameter}
    # the fallback: the same document in the compact spelling, over every route of the bundled configuration
    route_keys = sorted(AuthorizerConfig.from_json((demo.plan / "authorizer-config.json").read_text()).routes)
    read_back = ModeDocument.from_json(fallback, source="t", route_keys=route_keys)
    assert (read_back.version, read_back.pending) == (1, ())
    assert {r: read_back.mode_for(r) for r in route_keys} == {
        r: ("shadow" if r in migrated else "scope") for r in route_keys}
    (item,) = ledger_items(f"{api_id}#prod")
    assert (item["version"]["N"], item["action"]["S"], item["document"]["S"]) == ("1", "deploy", modes)
    assert sorted(v["S"] for v in item["routes"]["L"]) == sorted(migrated)

    apigw = boto3.client("apigateway")
    authorizer = apigw.get_authorizer(restApiId=api_id, authorizerId=record.authorizer_id)
    assert (authorizer["type"], authorizer["identitySource"], authorizer["authorizerResultTtlInSeconds"]) == (
        "REQUEST", IDENTITY_SOURCE, 300)
    assert authorizer["authorizerUri"] == (f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                           f"{config['FunctionArn']}/invocations")
    (permission,) = json.loads(boto3.client("lambda").get_policy(FunctionName=record.function_name)["Policy"])[
        "Statement"]
    assert permission["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert permission["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/authorizers/{record.authorizer_id}")
    live = methods_of(api_id)
    for route in migrated:
        assert (live[route]["authorizationType"], live[route]["authorizerId"]) == ("CUSTOM", record.authorizer_id)
        assert not live[route].get("authorizationScopes"), route
    assert live["GET /health"]["authorizationType"] == "NONE"
    assert set(record.methods) == set(migrated)
    assert record.methods["GET /orders/{orderId}/items"].original.authorizationScopes == [
        "MyApi/orders.read", "MyApi/reports.read"]
    assert integrations_of(api_id) == integrations_before

    # Again: nothing to do, and finding that out takes only reads.
    code, lines, _ = run(capsys, demo.deploy_args("--dry-run"))
    assert (code, change_lines(lines)) == (0, [])
    session = AwsSession(AwsTarget())
    change_set = plan_deploy(session, str(demo.plan), DeployOptions(package=PackageOptions("layers", (demo.layer,))))
    assert change_set.changes == []
    assert all(op.split(".")[1].startswith(READ_PREFIXES) for op in session.counter.calls), session.counter.calls
    code, lines, _ = run(capsys, demo.deploy_args("--yes"))
    assert (code, change_lines(lines)) == (0, [])

    # The plan changes: one policy gains an action (UpdatePolicy), one loses its file (DeletePolicy), one names
    # another principal (UpdatePolicy cannot do that: a new policy replaces it).
    avp_group = next(demo.plan.glob("policies/*-rule-avp-group-*.cedar"))
    avp_group.write_text(avp_group.read_text().replace(
        'action in [MyApi::Action::"MyApi/avp.read"]',
        'action in [MyApi::Action::"MyApi/avp.read", MyApi::Action::"MyApi/scope.read"]'))
    next(demo.plan.glob("policies/*-rule-erin-pets-read-*.cedar")).unlink()
    auditors = next(demo.plan.glob("policies/*-rule-auditors-*.cedar"))
    auditors.write_text(auditors.read_text().replace("|auditors", "|admins"))
    # Auditors now lose GET /orders: the gate refuses the edited plan, dry run included, changing nothing...
    code, lines, err = run(capsys, demo.deploy_args("--dry-run"))
    assert code == 1 and err.count("\n") == 1 and "the plan as it is on disk is not proven equivalent" in err
    assert "LOSES GET /orders [GET]: group auditors" in err and f"policies/{auditors.name}" in err
    assert load_record(demo.plan) == record
    # ...until the operator accepts exactly what verify reports.
    acceptance = demo.plan.parent / "acceptance.json"
    code, out, _ = run(capsys, ["verify", str(demo.plan / "inventory.json"), "--plan", str(demo.plan),
                                "--write-acceptance", str(acceptance)])
    assert code == 2 and f"wrote {acceptance}" in "\n".join(out)
    accept = ("--accept", str(acceptance), "--reason", "auditors move to the admins policy (ticket SEC-42)")
    code, lines, _ = run(capsys, demo.deploy_args("--dry-run", *accept))
    erin_id, auditors_id = record.policies["rule erin-pets-read: user erin"], record.policies[
        "rule auditors: group auditors"]
    assert code == 2
    assert lines[0].startswith("gate: NOT proven equivalent (") and lines[0].endswith("(ticket SEC-42)")
    assert change_lines(lines) == [
        f'update verifiedpermissions policy "rule avp-group: group avp-group": '
        f'{record.policies["rule avp-group: group avp-group"]} from policies/{avp_group.name}',
        f'update verifiedpermissions policy "rule auditors: group auditors": {auditors_id} replaced from '
        f"policies/{auditors.name} (its effect, principal or resource changed, which UpdatePolicy cannot change)",
        f'delete verifiedpermissions policy {erin_id}: @id "rule erin-pets-read: user erin" is not in the plan']
    assert run(capsys, demo.deploy_args(*accept, "--yes"))[0] == 0
    after = load_record(demo.plan)
    assert after.gate is not None and after.gate.verdict == "differences"
    assert after.gate.acceptance is not None
    assert (after.gate.acceptance.reason, after.gate.acceptance.accepted_by) == (
        accept[-1], "arn:aws:sts::123456789012:user/moto")
    assert after.gate.acceptance.sha256 == hashlib.sha256(acceptance.read_bytes()).hexdigest()
    assert sorted(after.gate.edited) == sorted([f"policies/{avp_group.name}", f"policies/{auditors.name}",
                                                next(f for f in record.gate.files if "erin-pets-read" in f)])
    in_store = store_policies(after.policy_store_id)
    assert {k: v[1] for k, v in in_store.items()} == planned_ids(demo.plan)
    assert "rule erin-pets-read: user erin" not in in_store
    assert after.policies["rule avp-group: group avp-group"] == record.policies["rule avp-group: group avp-group"]
    assert after.policies["rule auditors: group auditors"] != auditors_id
    untouched = set(record.policies) - {"rule erin-pets-read: user erin", "rule auditors: group auditors"}
    assert {k: after.policies[k] for k in untouched} == {k: record.policies[k] for k in untouched}

    code, lines, _ = run(capsys, ["undeploy", "--plan", str(demo.plan), "--dry-run"])
    assert code == 2 and len(change_lines(lines)) == 13 + 6
    code, lines, _ = run(capsys, ["undeploy", "--yes", "--plan", str(demo.plan)])
    assert code == 0
    assert any(f"kept dynamodb table {LEDGER_TABLE} and its 1 item(s)" in line for line in lines)
    assert stable(scan(demo.account)) == demo.before
    assert integrations_of(api_id) == integrations_before
    assert not (demo.plan / "deployment.json").exists()
    with pytest.raises(avp.exceptions.ResourceNotFoundException):
        avp.get_policy_store(policyStoreId=after.policy_store_id)
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_role(RoleName=after.role_name)
    assert [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]] == [
        DEMO.trigger_function]
    with pytest.raises(boto3.client("ssm").exceptions.ParameterNotFound):
        boto3.client("ssm").get_parameter(Name=after.mode_parameter)
    assert len(ledger_items(f"{api_id}#prod")) == 1  # the audit log stays


def test_role_policy_is_least_privilege(demo, capsys):
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))[0] == 0
    record = load_record(demo.plan)
    iam = boto3.client("iam")
    assert iam.get_role(RoleName=record.role_name)["Role"]["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}
    assert iam.list_role_policies(RoleName=record.role_name)["PolicyNames"] == ["avp-migrate-authorizer"]
    assert iam.list_attached_role_policies(RoleName=record.role_name)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=record.role_name, PolicyName="avp-migrate-authorizer")["PolicyDocument"]
    assert document == {"Version": "2012-10-17", "Statement": [
        {"Sid": "DecideWithVerifiedPermissions", "Effect": "Allow",
         "Action": ["verifiedpermissions:IsAuthorized", "verifiedpermissions:IsAuthorizedWithToken"],
         "Resource": f"arn:aws:verifiedpermissions::123456789012:policy-store/{record.policy_store_id}"},
        {"Sid": "ReadModeDocument", "Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:aws:ssm:us-east-1:123456789012:parameter/avp-migrate/{record.api_id}/prod/modes"},
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{record.function_name}:*"}]}
    # Somebody widens the role: the next deploy takes it back to exactly this.
    everything = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                                     "Resource": "*"}]})
    wide = iam.create_policy(PolicyName="everything", PolicyDocument=everything)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=record.role_name, PolicyArn=wide)
    iam.put_role_policy(RoleName=record.role_name, PolicyName="debugging", PolicyDocument=everything)
    code, lines, _ = run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))
    assert code == 0 and change_lines(lines) == [
        f"delete iam role policy {record.role_name}/debugging: not avp-migrate's: least privilege",
        f"delete iam role policy attachment {record.role_name}/everything: not avp-migrate's: least privilege"]
    assert iam.list_attached_role_policies(RoleName=record.role_name)["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName=record.role_name)["PolicyNames"] == ["avp-migrate-authorizer"]


def test_endpoint_subset_then_one_more_and_the_deployed_authorizer_decides(demo, capsys, embedded_aws, tmp_path):
    api_id = demo.account.api_id
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp", "--ttl", "60"))[0] == 0
    record = load_record(demo.plan)
    live = methods_of(api_id)
    assert live["GET /avp"]["authorizationType"] == "CUSTOM"
    assert {r for r, m in live.items() if m["authorizationType"] == "CUSTOM"} == {"GET /avp"}
    assert live["GET /scope"]["authorizationScopes"] == ["MyApi/scope.read"]
    assert boto3.client("apigateway").get_authorizer(
        restApiId=api_id, authorizerId=record.authorizer_id)["authorizerResultTtlInSeconds"] == 60

    # The function as deployed: its code is exactly the package deploy builds, its environment and the
    # configuration inside that package drive the real authorizer against the deployed store.
    config_text = (demo.plan / "authorizer-config.json").read_text()
    package = build_package(config_text, PackageOptions("layers", (demo.layer,)))
    function = boto3.client("lambda").get_function(FunctionName=record.function_name)["Configuration"]
    assert function["CodeSha256"] == package.sha256
    bundled = zipfile.ZipFile(io.BytesIO(package.zip_bytes)).read("authorizer/authorizer-config.json").decode()
    ssm = boto3.client("ssm")
    authorizer = harness(tmp_path, embedded_aws, AuthorizerConfig.from_json(bundled), store_id=None,
                         env=function["Environment"]["Variables"],
                         ssm_fetch=lambda name, max_age: ssm.get_parameter(Name=name)["Parameter"]["Value"])
    tokens = {user: demo.account.sign_in(user)["access"] for user in ("alice", "erin")}
    alice = authorizer.call(request_event("GET /avp", f"Bearer {tokens['alice']}", api_id=api_id))
    assert alice.status == "ALLOW"
    shadow = authorizer.last()
    assert (shadow.mode, shadow.scope_decision, shadow.avp_decision, shadow.agree) == ("shadow", "ALLOW", "ALLOW",
                                                                                       True)
    assert list(shadow.determining_policies) == [record.policies["rule avp-group: group avp-group"]]
    assert authorizer.call(request_event("GET /avp", f"Bearer {tokens['erin']}", api_id=api_id)).status == "401"
    assert (authorizer.last().avp_decision, authorizer.last().agree) == ("DENY", True)

    # One more endpoint: the mode document gets a version 2 (GET /avp keeps its mode), the function's fallback
    # follows it, one more method moves, the stage is deployed again.
    code, lines, _ = run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--endpoint", "get /scope", "--ttl",
                                                  "60", "--dry-run"))
    assert code == 2
    assert [line.split(":")[0] for line in change_lines(lines)] == [
        f"create dynamodb item {LEDGER_TABLE}[pk={api_id}#prod, version=2]",
        f"update ssm parameter {record.mode_parameter}",
        f"update lambda function {record.function_name}",
        "update apigateway method GET /scope",
        "create apigateway deployment of stage prod"]
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /scope", "--ttl", "60"))[0] == 0
    document = json.loads(boto3.client("ssm").get_parameter(Name=record.mode_parameter)["Parameter"]["Value"])
    assert document == {"version": 2, "default": "scope", "routes": {"GET /avp": "shadow", "GET /scope": "shadow"}}
    assert [i["version"]["N"] for i in ledger_items(f"{api_id}#prod")] == ["1", "2"]
    assert set(load_record(demo.plan).methods) == {"GET /avp", "GET /scope"}

    # Without its deployment.json (a plan folder regenerated in place), deploy cannot know what the moved methods
    # were: it refuses before changing anything rather than record CUSTOM as their original.
    saved = demo.plan / "deployment.json.saved"
    (demo.plan / "deployment.json").rename(saved)
    code, _, err = run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))
    assert code == 1 and "GET /avp already uses avp-migrate's authorizer but this deployment.json" in err
    assert not (demo.plan / "deployment.json").exists()
    assert len(boto3.client("verifiedpermissions").list_policy_stores()["policyStores"]) == 1
    saved.rename(demo.plan / "deployment.json")
    assert run(capsys, ["undeploy", "--yes", "--plan", str(demo.plan)])[0] == 0
    assert stable(scan(demo.account)) == demo.before


def test_bad_input_is_one_line_and_changes_nothing(demo, capsys, tmp_path):
    def refused(argv: list[str], *expected: str) -> None:
        code, _, err = run(capsys, argv)
        assert code == 1 and err.count("\n") == 1, err
        assert err.startswith("avp-migrate: error: ")
        for text in expected:
            assert text in err, err
        assert not (demo.plan / "deployment.json").exists()
        assert boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == []

    refused(demo.deploy_args("--yes", "--endpoint", "GET /nope"), "--endpoint: unknown route 'GET /nope'")
    refused(demo.deploy_args("--yes", "--endpoint", "GET /health"),
            "unknown route 'GET /health'")  # public: not migrated
    refused(["deploy", "--yes", "--plan", str(tmp_path / "missing"), "--mode", "shadow"], "plan folder not found")
    (tmp_path / "empty").mkdir()
    refused(["deploy", "--yes", "--plan", str(tmp_path / "empty"), "--mode", "shadow"], "not a plan folder")
    refused(demo.deploy_args("--yes", "--ttl", "7200"), "--ttl: must be between 0 and 3600")
    refused(["deploy", "--yes", "--plan", str(demo.plan), "--mode", "shadow", "--dependencies", "layers"],
            "--layer: --dependencies layers needs at least one --layer")
    refused(["deploy", "--yes", "--plan", str(demo.plan), "--mode", "shadow", "--dependencies", "layers", "--layer",
             "arn:aws:lambda:us-east-1:123456789012:layer:nope:3"], "--layer: layer version not found")
    refused(["undeploy", "--yes", "--plan", str(demo.plan)], "has not been deployed")
    # No index and no wheels: pip fails before anything is created.
    (tmp_path / "wheels").mkdir()
    refused(["deploy", "--yes", "--plan", str(demo.plan), "--mode", "shadow", "--wheelhouse", str(tmp_path / "wheels")],
            "packaging the authorizer: pip install -r requirements.txt", "--wheelhouse")
    policy = next(demo.plan.glob("policies/*-rule-admins-*.cedar"))
    original = policy.read_text()
    policy.write_text(original.replace('@id("rule admins: group admins")\n', ""))
    refused(demo.deploy_args("--yes"), f"{policy}: no @id", "annotation")
    policy.write_text(original)
    boto3.client("apigateway").delete_rest_api(restApiId=demo.account.api_id)
    refused(demo.deploy_args("--yes"), f"the plan's API {demo.account.api_id} (MyApi) does not exist in account "
                                "123456789012 region us-east-1")


def _fail(operation: str, code: str = "AccessDeniedException") -> Any:
    """A botocore before-call hook that answers ``operation`` with an error, as IAM would deny it."""

    def hook(**_: Any) -> Any:
        response = botocore.awsrequest.AWSResponse("https://example.invalid", 403, {}, None)
        return response, {"Error": {"Code": code, "Message": f"not allowed to call {operation}"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}

    return hook


def test_a_failed_deploy_records_what_it_created_so_undeploy_cleans_up(demo, capsys):
    session = AwsSession(AwsTarget())
    session.boto3_session.events.register("before-call.api-gateway.CreateAuthorizer", _fail("CreateAuthorizer"))
    change_set = plan_deploy(session, str(demo.plan), DeployOptions(package=PackageOptions("layers", (demo.layer,))))
    applied: list[str] = []
    with pytest.raises(UserError) as failure:
        apply_changes(change_set, applied.append)
    message = str(failure.value)
    assert "apigateway authorizer" in message and "access denied calling CreateAuthorizer" in message
    assert "stopped after" in message and "deployment.json records what exists" in message
    assert applied[-1].startswith("create apigateway authorizer")
    record = load_record(demo.plan)
    assert record.policy_store_id and record.function_name and record.role_name and record.mode_parameter
    assert (record.authorizer_id, record.methods, record.deployed_at) == ("", {}, "")
    assert {r for r, m in methods_of(demo.account.api_id).items() if m["authorizationType"] == "CUSTOM"} == set()

    # The next run finishes the job from where it stopped...
    code, lines, _ = run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--dry-run"))
    assert code == 2 and change_lines(lines)[0].startswith("create apigateway authorizer")
    # ...and undeploy removes what the failed run created.
    code, lines, _ = run(capsys, ["undeploy", "--yes", "--plan", str(demo.plan)])
    assert code == 0
    assert [line.split(":")[0] for line in change_lines(lines)] == [
        f"delete lambda function {record.function_name}", f"delete iam role {record.role_name}",
        f"delete ssm parameter {record.mode_parameter}",
        f"delete verifiedpermissions policy store {record.policy_store_id}"]
    assert boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == []
    assert stable(scan(demo.account)) == demo.before


def test_undeploy_keep_store_then_deploy_reuses_it(demo, capsys):
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))[0] == 0
    store = load_record(demo.plan).policy_store_id
    assert run(capsys, ["undeploy", "--yes", "--plan", str(demo.plan), "--keep-store"])[0] == 0
    kept = load_record(demo.plan)
    assert (kept.policy_store_id, kept.function_name, kept.authorizer_id, kept.methods) == (store, "", "", {})
    code, lines, _ = run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--dry-run"))
    assert code == 2 and not any(line.split()[1] == "verifiedpermissions" for line in change_lines(lines))
    # The ledger continues after the undeploy: a fresh document, numbered after the newest version.
    assert f"create dynamodb item {LEDGER_TABLE}[pk={demo.account.api_id}#prod, version=2]" in "\n".join(lines)
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))[0] == 0
    assert load_record(demo.plan).policy_store_id == store


def test_strangers_and_duplicates_in_the_store_are_removed(demo, capsys):
    assert run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))[0] == 0
    record = load_record(demo.plan)
    avp = boto3.client("verifiedpermissions")
    store = record.policy_store_id
    admins_id = record.policies["rule admins: group admins"]
    admins = avp.get_policy(policyStoreId=store, policyId=admins_id)["definition"]["static"]["statement"]
    copy = avp.create_policy(policyStoreId=store, definition={"static": {"statement": admins}})["policyId"]
    stranger = avp.create_policy(policyStoreId=store, definition={"static": {"statement": (
        'permit (principal, action in [MyApi::Action::"MyApi/admin"], resource);')}})["policyId"]
    # The same policy without its annotations (as a service that dropped them would return it): known by the
    # recorded id, and no change, since it decides the same.
    avp_group_id = record.policies["rule avp-group: group avp-group"]
    bare = "\n".join(line for line in avp.get_policy(policyStoreId=store, policyId=avp_group_id)["definition"][
        "static"]["statement"].splitlines() if not line.startswith("@"))
    avp.update_policy(policyStoreId=store, policyId=avp_group_id, definition={"static": {"statement": bare}})
    code, lines, _ = run(capsys, demo.deploy_args("--yes", "--endpoint", "GET /avp"))
    assert code == 0
    assert change_lines(lines) == [
        f"delete verifiedpermissions policy {stranger}: no @id annotation: not from this plan",
        f'delete verifiedpermissions policy {copy}: a second policy with @id "rule admins: group admins"']
    assert sorted(p["policyId"] for p in avp.list_policies(policyStoreId=store, maxResults=50)["policies"]) == sorted(
        record.policies.values())
    assert load_record(demo.plan).policies == record.policies
