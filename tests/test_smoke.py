"""The smoke test (TestInvokeAuthorizer, after the function and the authorizer exist, before any method moves) and
the log group's retention, on the embedded AWS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.awsrequest
import pytest

from migrate.awsconfig import AwsSession, AwsTarget
from migrate.deploy.deployer import DeployOptions, plan_deploy
from migrate.deploy.package import PackageOptions
from migrate.deploy.record import load_record
from migrate.deploy.runner import apply_changes
from migrate.deploy.smoke import PASSWORD_ENV, SmokeOptions
from migrate.embedded.seed import DEMO, PASSWORD
from migrate.errors import UserError
from tests.test_deploy import Demo, change_lines, make_demo, methods_of, run

USERS = tuple(user.username for user in DEMO.users)


@pytest.fixture
def demo(embedded_aws, tmp_path, dependencies_layer) -> Demo:
    return make_demo(embedded_aws, tmp_path, dependencies_layer)


def smoke_args(*users: str) -> list[str]:
    return [argument for user in users for argument in ("--smoke-user", user)]


def custom_methods(api_id: str) -> set[str]:
    return {route for route, method in methods_of(api_id).items() if method["authorizationType"] == "CUSTOM"}


def test_deploy_smoke_tests_with_every_user_before_moving(demo, capsys, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    code, dry, _ = run(capsys, demo.deploy_args(*smoke_args(*USERS), "--dry-run"))
    assert code == 2
    checks = [line for line in dry if line.startswith("check ")]
    assert checks == [f"check  apigateway test-invoke-authorizer avp-migrate-authz-{demo.account.api_id}-prod: a "
                      "request with an invalid token must get 401; 8 user(s) signed in through Cognito x 13 route(s) "
                      "must get plan.json's decisions (TestInvokeAuthorizer, before any method moves)"]
    # The check comes after the authorizer and its permission and before the first method moves.
    order = [line.split(":")[0] for line in dry if line.split(" ", 1)[0] in {"create", "update", "check"}]
    check_at = next(i for i, line in enumerate(order) if line.startswith("check"))
    assert order[check_at - 1].startswith("create lambda permission")
    assert order[check_at + 1].startswith("update apigateway method")
    assert "13 change(s); dry run" not in "\n".join(dry) and any("change(s); dry run" in line for line in dry)

    code, lines, err = run(capsys, demo.deploy_args(*smoke_args(*USERS), "--yes"))
    assert code == 0, err
    (smoke,) = [line for line in lines if line.startswith("note: smoke test")]
    assert smoke == ("note: smoke test passed: an invalid token got 401; 104 requests as 8 signed-in user(s) on 13 "
                     "route(s) got plan.json's decisions (55 denied, 49 allowed)")


def test_test_invoke_authorizer_runs_the_deployed_function(demo, capsys):
    assert run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--yes"))[0] == 0
    record = load_record(demo.plan)
    apigw = boto3.client("apigateway")

    def invoke(token: str, verb: str = "GET", path: str = "/avp") -> dict[str, Any]:
        return apigw.test_invoke_authorizer(
            restApiId=demo.account.api_id, authorizerId=record.authorizer_id,
            headers={"Authorization": f"Bearer {token}"}, pathWithQueryString=path,
            additionalContext={"httpMethod": verb, "resourcePath": path, "path": path})

    assert invoke("not-a-token")["clientStatus"] == 401
    alice = invoke(demo.account.sign_in("alice")["access"])
    assert alice["clientStatus"] == 0
    (statement,) = json.loads(alice["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == (f"arn:aws:execute-api:us-east-1:123456789012:{demo.account.api_id}/"
                                     "ESTestInvoke-stage/GET/avp")
    assert alice["principalId"].endswith("|" + boto3.client("cognito-idp").admin_get_user(
        UserPoolId=demo.account.user_pool_id, Username="alice")["Username"]) or alice["principalId"]
    assert invoke(demo.account.sign_in("erin")["access"])["clientStatus"] == 401  # no avp.read: the scope rule
    # Without API Gateway's permission on the function, API Gateway cannot invoke it.
    boto3.client("lambda").remove_permission(FunctionName=record.function_name, StatementId="avp-migrate-apigateway")
    denied = invoke(demo.account.sign_in("alice")["access"])
    assert denied["clientStatus"] == 500 and "Invalid permissions on Lambda function" in denied["log"]


def _forge_allow_for(token_of: str, path: str) -> Any:
    """A botocore hook that answers TestInvokeAuthorizer with an Allow when the request carries this token on this
    path (as a deployed function with a bug would), and lets every other call through."""

    def hook(params: dict[str, Any], **_: Any) -> Any:
        body = json.loads(params.get("body") or b"{}")
        if (body.get("headers", {}).get("Authorization"), body.get("pathWithQueryString")) != (
                f"Bearer {token_of}", path):
            return None
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                          "Resource": "*"}]}
        response = botocore.awsrequest.AWSResponse("https://example.invalid", 200, {}, None)
        return response, {"clientStatus": 0, "policy": json.dumps(policy), "principalId": "someone",
                          "ResponseMetadata": {"HTTPStatusCode": 200}}

    return hook


def test_an_answer_that_differs_stops_deploy_before_any_method_moves(demo, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    session = AwsSession(AwsTarget())
    # erin has no MyApi/avp.read: the plan expects 401 on GET /avp; the function answers Allow.
    erin = demo.account.sign_in("erin")["access"]
    session.boto3_session.events.register("before-call.api-gateway.TestInvokeAuthorizer",
                                          _forge_allow_for(erin, "/avp"))
    # The smoke test's own sign-in of erin gets a new token: make it the one the forged answer recognises.
    session.boto3_session.events.register(
        "after-call.cognito-identity-provider.InitiateAuth",
        lambda parsed, **_: parsed["AuthenticationResult"].update(AccessToken=erin))
    change_set = plan_deploy(session, str(demo.plan), DeployOptions(
        package=PackageOptions("layers", (demo.layer,)), smoke=SmokeOptions(users=("erin",))))
    with pytest.raises(UserError) as stopped:
        apply_changes(change_set, lambda line: None)
    message = str(stopped.value)
    assert "smoke test: 1 of 13 answers differ from the plan: GET /avp as erin: expected 401 (the token holds none " \
           "of MyApi/avp.read), got ALLOW; no method was moved" in message
    assert "deployment.json records what exists" in message
    record = load_record(demo.plan)
    assert record.function_name and record.authorizer_id and record.methods == {} and record.deployed_at == ""
    assert custom_methods(demo.account.api_id) == set()


def test_a_function_that_fails_stops_deploy_before_the_next_method_moves(demo, capsys):
    assert run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--yes"))[0] == 0
    record = load_record(demo.plan)
    lam = boto3.client("lambda")
    variables = lam.get_function(FunctionName=record.function_name)["Configuration"]["Environment"]["Variables"]
    # Someone sets a tuning variable to nonsense: the function fails at every invocation (API Gateway 500). deploy
    # keeps variables it does not own, so the next deploy must find out before it moves another method.
    lam.update_function_configuration(FunctionName=record.function_name, Environment={"Variables": {
        **variables, "AVP_AUTHZ_AVP_TIMEOUT_MS": "banana"}})
    code, _, err = run(capsys, demo.deploy_args("--endpoint", "GET /scope", "--yes"))
    assert code == 1
    assert "smoke test: an invalid token on " in err and "got ERROR 500, not 401" in err
    assert "AVP_AUTHZ_AVP_TIMEOUT_MS must be a whole number" in err and "no method was moved" in err
    assert custom_methods(demo.account.api_id) == {"GET /avp"}


def test_smoke_users_need_the_password_variable_before_anything_is_created(demo, capsys, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    code, _, err = run(capsys, demo.deploy_args("--smoke-user", "alice", "--yes"))
    assert code == 1 and err == (f"avp-migrate: error: --smoke-user: set the smoke users' password in the "
                                 f"environment variable {PASSWORD_ENV} (never on the command line)\n")
    assert not (demo.plan / "deployment.json").exists()
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    code, _, err = run(capsys, demo.deploy_args("--smoke-user", "alice", "--endpoint", "GET /avp", "--yes"))
    assert code == 1 and "user alice cannot sign in through app client" in err and "no method was moved" in err
    assert custom_methods(demo.account.api_id) == set()


def test_the_log_group_keeps_records_30_days_by_default(demo, capsys):
    assert run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--yes"))[0] == 0
    logs = boto3.client("logs")
    name = load_record(demo.plan).log_group

    def retention() -> Any:
        (group,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
                    if g["logGroupName"] == name]
        return group.get("retentionInDays")

    assert retention() == 30
    logs.delete_retention_policy(logGroupName=name)  # someone made it "never expire"
    code, lines, _ = run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--dry-run"))
    assert code == 2 and change_lines(lines) == [f"update logs log group {name}: retention never expire -> 30 days"]
    assert run(capsys, demo.deploy_args("--endpoint", "GET /avp", "--log-retention-days", "90", "--yes"))[0] == 0
    assert retention() == 90
    code, _, err = run(capsys, demo.deploy_args("--log-retention-days", "10", "--yes"))
    assert code == 1 and "--log-retention-days: CloudWatch Logs keeps logs for one of 1, 3, 5, 7, 14, 30" in err
