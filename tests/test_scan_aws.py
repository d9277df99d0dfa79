"""The scanner against the embedded AWS: everything seeded comes back exactly, at the documented cost."""

from __future__ import annotations

import json
import math
from contextlib import contextmanager

import boto3
import pytest

from migrate.awsconfig import AwsSession, AwsTarget
from migrate.cli.main import main
from migrate.embedded.seed import DEMO, RESOURCE_SERVER, seed_demo
from migrate.inventory import Authorizer, load_inventory
from migrate.scan.aws import AwsScanner, ScanOptions
from pretoken_lambda.rules import parse_rules, to_document
from tests.tokens import make_pool


def scan(**options):
    return AwsScanner(AwsSession(AwsTarget()), ScanOptions(**options)).scan()


def test_scan_brings_back_exactly_what_was_seeded(embedded_aws):
    account = seed_demo(region=embedded_aws.region)
    inventory = scan(api_ids=[account.api_id], stage="prod")

    assert inventory.account_id == "123456789012" and inventory.region == embedded_aws.region
    assert inventory.endpoint_url == embedded_aws.moto_url
    (api,) = inventory.apis
    assert (api.id, api.name, api.stage, api.stages, api.source) == (account.api_id, "MyApi", "prod", ["prod"],
                                                                      "apigateway")
    (authorizer,) = api.authorizers
    assert authorizer == Authorizer(id=authorizer.id, name="MyApiCognito", type="COGNITO_USER_POOLS",
                                    provider_arns=[account.user_pool_arn],
                                    identity_source="method.request.header.Authorization",
                                    result_ttl_seconds=authorizer.result_ttl_seconds)
    seeded = {(m.verb, m.path): m for m in DEMO.methods}
    assert sorted((m.http_method, m.path) for m in api.methods) == sorted(seeded)
    for method in api.methods:
        spec = seeded[(method.http_method, method.path)]
        assert method.authorization_type == spec.auth
        assert method.authorization_scopes == list(spec.scopes)
        assert method.authorizer_id == (authorizer.id if spec.auth == "COGNITO_USER_POOLS" else None)
        assert method.integration_type == spec.integration
        assert method.claims_to_backend == (["email"] if spec.request_template else [])
        assert method.route_key == f"{spec.verb} {spec.path}"

    (pool,) = inventory.user_pools
    assert (pool.id, pool.arn, pool.name) == (account.user_pool_id, account.user_pool_arn, DEMO.pool_name)
    assert [(rs.identifier, [(s.name, s.description) for s in rs.scopes]) for rs in pool.resource_servers] == [
        (RESOURCE_SERVER, list(DEMO.scopes))]
    assert [(g.name, g.description) for g in pool.groups] == sorted(DEMO.groups)
    # Group members, plus erin, whom a rule names although she is in no group; attributes: only those the rules
    # test (custom:department), never the whole user record.
    assert [(u.username, u.groups, u.attributes) for u in pool.users] == [
        (u.username, sorted(u.groups), {k: v for k, v in u.attributes if k == "custom:department"})
        for u in sorted(DEMO.users, key=lambda u: u.username)]
    assert all(u.sub and u.enabled and u.status == "CONFIRMED" for u in pool.users)
    assert pool.users_complete is False
    clients = {c.name: c for c in pool.clients}
    for spec in DEMO.clients:
        client = clients[spec.name]
        assert client.client_id == account.client_ids[spec.name]
        assert client.allowed_oauth_flows == sorted(spec.oauth_flows)
        assert client.allowed_oauth_scopes == sorted(spec.oauth_scopes)
        assert client.allowed_oauth_flows_user_pool_client == bool(spec.oauth_flows)
        assert client.has_secret == spec.secret
        assert client.explicit_auth_flows == sorted(spec.auth_flows)
    assert clients["web"].user_oauth_flows == ["code"] and clients["reporting-service"].is_client_credentials

    trigger = pool.pretoken_trigger
    assert (trigger.lambda_arn, trigger.version, trigger.config_field) == (
        account.trigger_arn, "V3_0", "PreTokenGenerationConfig")
    assert trigger.recognised and trigger.rules_source == f"ssm:{DEMO.rules_parameter}"
    assert pool.pretoken_rules.source == f"ssm:{DEMO.rules_parameter}"
    assert pool.pretoken_rules.obtained_from == "trigger"
    assert pool.pretoken_rules.document == to_document(parse_rules(DEMO.rules))
    assert inventory.warnings == []


def _api_with(apigw, pool_arn, resources, verbs=("GET", "POST", "PUT", "DELETE")):
    api_id = apigw.create_rest_api(name="cost")["id"]
    authorizer = apigw.create_authorizer(restApiId=api_id, name="c", type="COGNITO_USER_POOLS",
                                         providerARNs=[pool_arn], identitySource="method.request.header.Authorization")
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    for i in range(resources):
        resource = apigw.create_resource(restApiId=api_id, parentId=root, pathPart=f"r{i}")["id"]
        for verb in verbs:
            apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb,
                             authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer["id"],
                             authorizationScopes=["api/read"])
            apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod=verb, type="MOCK")
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return api_id


def test_scan_cost_grows_with_pages_not_with_methods(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    members = {f"user{i:03d}": ["big"] + (["small"] if i % 10 == 0 else []) for i in range(130)}
    members["loner"] = []
    pool = make_pool(idp, users=members, clients={"a": {}, "b": {}})
    api_id = _api_with(aws_clients("apigateway"), pool.arn, resources=30)

    inventory = scan(api_ids=[api_id])
    assert len(inventory.apis[0].methods) == 120
    calls = {op: n for record in inventory.provenance for op, n in record.calls.items()}
    assert calls == {
        "sts.GetCallerIdentity": 1,
        "apigateway.GetRestApi": 1, "apigateway.GetStages": 1, "apigateway.GetAuthorizers": 1,
        "apigateway.GetResources": 1,  # 31 resources, 500 a page: one call for 120 methods
        "cognito-idp.DescribeUserPool": 1, "cognito-idp.ListResourceServers": 1, "cognito-idp.ListGroups": 1,
        "cognito-idp.ListUsersInGroup": math.ceil(130 / 60) + math.ceil(13 / 60),  # per group, 60 a page
        "cognito-idp.ListUserPoolClients": 1, "cognito-idp.DescribeUserPoolClient": 2,
    }
    # users in no group are not listed unless asked for
    assert "loner" not in {u.username for u in inventory.user_pools[0].users}


def test_all_users_also_reads_users_in_no_group(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"member": ["g"], "loner": []})
    api_id = _api_with(aws_clients("apigateway"), pool.arn, resources=1, verbs=("GET",))
    inventory = scan(api_ids=[api_id], all_users=True, user_attributes=["email"])
    (scanned,) = inventory.user_pools
    assert scanned.users_complete is True
    assert [(u.username, u.groups, u.attributes) for u in scanned.users] == [
        ("loner", [], {"email": "loner@example.com"}), ("member", ["g"], {"email": "member@example.com"})]


def test_foreign_trigger_is_reported_and_rules_can_be_given(embedded_aws, aws_clients, tmp_path):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["g"]})
    arn = "arn:aws:lambda:us-east-1:123456789012:function:someone-elses"
    idp.update_user_pool(UserPoolId=pool.id, LambdaConfig={
        "PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V2_0"}})
    api_id = _api_with(aws_clients("apigateway"), pool.arn, resources=1, verbs=("GET",))

    inventory = scan(api_ids=[api_id])
    (scanned,) = inventory.user_pools
    assert scanned.pretoken_trigger.lambda_arn == arn and not scanned.pretoken_trigger.recognised
    assert scanned.pretoken_rules is None
    assert any("not avp-migrate's pretoken_lambda" in w and "--rules" in w for w in inventory.warnings)

    rules = {"version": 1, "rules": [{"id": "g", "when": {"groups": ["g"]}, "then": {"add_scopes": ["api/read"]}}]}
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    inventory = scan(api_ids=[api_id], rules_source=f"file:{tmp_path / 'rules.json'}")
    assert inventory.user_pools[0].pretoken_rules.document == to_document(parse_rules(rules))
    assert inventory.user_pools[0].pretoken_rules.obtained_from == "option"


def test_legacy_v1_trigger_field_is_read(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["g"]})
    arn = "arn:aws:lambda:us-east-1:123456789012:function:legacy"
    idp.update_user_pool(UserPoolId=pool.id, LambdaConfig={"PreTokenGeneration": arn})
    api_id = _api_with(aws_clients("apigateway"), pool.arn, resources=1, verbs=("GET",))
    trigger = scan(api_ids=[api_id]).user_pools[0].pretoken_trigger
    assert (trigger.lambda_arn, trigger.version, trigger.config_field) == (arn, "V1_0", "PreTokenGeneration")


# --- the command line -----------------------------------------------------------------------------------------


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 1
    assert err.startswith("avp-migrate: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_scan_command_writes_a_snapshot_that_reads_back_identically(embedded_aws, capsys, tmp_path):
    account = seed_demo(region=embedded_aws.region)
    out = tmp_path / "inventory.json"
    code, stdout, _ = run_cli(capsys, "scan", "--out", str(out), "--api-id", account.api_id, "--format", "json")
    assert code == 0
    summary = json.loads(stdout)
    assert summary["apis"][0]["methods"] == len(DEMO.methods)
    assert summary["user_pools"][0]["rules"] == len(DEMO.rules["rules"])
    inventory = load_inventory(out)
    assert inventory.apis[0].id == account.api_id
    assert summary["aws_calls"] == inventory.total_calls > 0


def test_unknown_api_id_is_one_line_and_writes_nothing(embedded_aws, capsys, tmp_path):
    out = tmp_path / "inventory.json"
    code, _, err = run_cli(capsys, "scan", "--out", str(out), "--api-id", "nope123")
    assert_one_line_error(code, err, "--api-id", "unknown REST API id 'nope123'")
    assert list(tmp_path.iterdir()) == []


def test_unknown_stage_is_one_line(embedded_aws, capsys, tmp_path, aws_clients):
    api_id = aws_clients("apigateway").create_rest_api(name="x")["id"]
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"), "--api-id", api_id, "--stage", "qa")
    assert_one_line_error(code, err, "--stage", "no stage 'qa'")


def test_missing_credentials_is_one_line(embedded_aws, capsys, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"))
    assert_one_line_error(code, err, "no AWS credentials")
    assert not (tmp_path / "i.json").exists()


def test_unknown_profile_is_one_line(embedded_aws, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"), "--profile", "ghost")
    assert_one_line_error(code, err, "--profile", "ghost")


@contextmanager
def iam_enforced_after(requests: int):
    """moto checks IAM permissions once it has served ``requests`` more requests (its INITIAL_NO_AUTH_ACTION_COUNT
    mechanism), so a scan can run as a restricted user up to the point we want refused."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    saved = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = requests
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = saved


def test_access_denied_is_one_line_naming_the_part(embedded_aws, capsys, tmp_path, monkeypatch):
    account = seed_demo(region=embedded_aws.region)
    iam = boto3.client("iam")
    iam.create_user(UserName="api-reader")
    iam.put_user_policy(UserName="api-reader", PolicyName="apigateway-only", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:GetCallerIdentity", "apigateway:GET"], "Resource": "*"}]}))
    key = iam.create_access_key(UserName="api-reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    out = tmp_path / "i.json"
    # The API Gateway part of the scan is 5 requests (sts + 4 apigateway); moto's IAM check begins after them,
    # at DescribeUserPool, which this user may not call.
    with iam_enforced_after(5):
        code, _, err = run_cli(capsys, "scan", "--out", str(out), "--api-id", account.api_id)
    assert_one_line_error(code, err, f"user pool {account.user_pool_id}", "access denied", "DescribeUserPool")
    assert not out.exists()


def test_invalid_rules_source_is_one_line(embedded_aws, capsys, tmp_path, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["g"]})
    api_id = _api_with(aws_clients("apigateway"), pool.arn, resources=1, verbs=("GET",))
    (tmp_path / "bad.json").write_text(json.dumps({"version": 1, "rules": [{"id": "x", "then": {
        "add_scopes": ["two words"]}}]}))
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"), "--api-id", api_id,
                           "--rules", f"file:{tmp_path / 'bad.json'}")
    assert_one_line_error(code, err, "pre-token rules", "bad.json", "'x'")
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"), "--api-id", api_id,
                           "--rules", "s3:bucket/rules.json")
    assert_one_line_error(code, err, "not a rules source")
    assert not (tmp_path / "i.json").exists()


def test_output_directory_must_exist(embedded_aws, capsys, tmp_path):
    account = seed_demo(region=embedded_aws.region)
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "missing" / "i.json"), "--api-id", account.api_id)
    assert_one_line_error(code, err, "directory does not exist")


@pytest.mark.parametrize("argv, fragment", [
    (["--openapi", "x.json", "--api-id", "abc"], "--api-id"),
    (["--user-pool-arn", "A=arn"], "--user-pool-arn"),
])
def test_conflicting_options_are_one_line(embedded_aws, capsys, tmp_path, argv, fragment):
    code, _, err = run_cli(capsys, "scan", "--out", str(tmp_path / "i.json"), *argv)
    assert_one_line_error(code, err, fragment)
