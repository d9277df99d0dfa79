"""The IaC path (issue 12): the plan's cloudformation.json holds the whole migration; applied on the embedded AWS
(moto's CloudFormation, with the Verified Permissions and API Gateway authorizer types filled in) and adopted by
`deploy --stack`, it gives a working shadow deployment; a cut-over survives a second apply of the stack, and the
ledger outlives the stack."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from migrate.cli.main import main
from migrate.embedded import traffic
from migrate.embedded.functions import LocalAuthorizerFunction, demo_traffic
from migrate.embedded.seed import PASSWORD
from migrate.errors import ExitCode
from migrate.iac.names import INITIAL_MODE_DOCUMENT
from migrate.translate.cloudformation import INLINE_TEMPLATE_BYTES
from tests.test_deploy import demo as demo  # the fixture
from tests.test_deploy import methods_of, store_policies

STACK = "avp-migrate-demo"
BUCKET = "artifacts"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def package(capsys, demo, tmp_path: Path, key: str) -> str:
    zip_path = tmp_path / "authorizer.zip"
    code, out, err = run(capsys, "package", "--plan", str(demo.plan), "--out", str(zip_path), "--dependencies",
                         "layers", "--layer", demo.layer)
    assert code == 0, err
    assert f"wrote {zip_path}" in out and "aws cloudformation deploy" in out
    s3 = boto3.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=key, Body=zip_path.read_bytes())
    return key


def template_argument(plan: Path) -> dict[str, str]:
    """TemplateBody when CloudFormation takes it inline, else TemplateURL through S3 (its quotas)."""
    body = (plan / "cloudformation.json").read_text()
    if len(body.encode()) <= INLINE_TEMPLATE_BYTES:
        return {"TemplateBody": body}
    boto3.client("s3").put_object(Bucket=BUCKET, Key="cloudformation.json", Body=body.encode())
    return {"TemplateURL": f"https://{BUCKET}.s3.amazonaws.com/cloudformation.json"}


def parameters(demo, key: str, **extra: str) -> list[dict[str, str]]:
    values = {"ArtifactBucket": BUCKET, "ArtifactKey": key, "Layers": demo.layer, **extra}
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def apply_stack(demo, key: str, *, update: bool = False, **extra: str) -> dict:
    cloudformation = boto3.client("cloudformation")
    call = cloudformation.update_stack if update else cloudformation.create_stack
    call(StackName=STACK, Parameters=parameters(demo, key, **extra), Capabilities=["CAPABILITY_NAMED_IAM"],
         **template_argument(demo.plan))
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}, stack
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}


def ledger(api_id: str) -> list[dict]:
    items = boto3.client("dynamodb").query(
        TableName="avp-migrate-modes", KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{api_id}#prod"}}, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: int(item["version"]["N"]))


def modes_document(api_id: str) -> dict:
    value = boto3.client("ssm").get_parameter(Name=f"/avp-migrate/{api_id}/prod/modes")["Parameter"]["Value"]
    return json.loads(value)


def function_environment(name: str) -> dict[str, str]:
    configuration = boto3.client("lambda").get_function(FunctionName=name)["Configuration"]
    return (configuration.get("Environment") or {}).get("Variables") or {}


def test_the_stack_holds_the_migration_and_a_cutover_survives_a_second_apply(demo, embedded_aws, tmp_path, capsys,
                                                                             monkeypatch):
    api_id = demo.account.api_id
    template = json.loads((demo.plan / "cloudformation.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::VerifiedPermissions::PolicyStore", "AWS::VerifiedPermissions::IdentitySource",
            "AWS::VerifiedPermissions::Policy", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Logs::LogGroup",
            "AWS::ApiGateway::Authorizer", "AWS::Lambda::Permission", "AWS::SSM::Parameter",
            "AWS::DynamoDB::Table"} <= types
    ledger_table = template["Resources"]["ModeLedger"]
    assert (ledger_table["DeletionPolicy"], ledger_table["UpdateReplacePolicy"]) == ("Retain", "Retain")

    key = package(capsys, demo, tmp_path, "v1/authorizer.zip")
    outputs = apply_stack(demo, key)
    function_name = outputs["AuthorizerFunctionName"]
    assert modes_document(api_id) == INITIAL_MODE_DOCUMENT
    assert "AVP_AUTHZ_MODES" not in function_environment(function_name)  # never written by the stack
    planned = sorted(p.read_text().strip() for p in (demo.plan / "policies").glob("*.cedar"))
    assert sorted(text.strip() for _, text in store_policies(outputs["PolicyStoreId"]).values()) == planned

    # deploy --stack: checks the stack against the plan, records the modes, smoke-tests with the demo users'
    # real tokens (decisions as the plan says), moves the methods onto the stack's authorizer
    monkeypatch.setenv("AVP_MIGRATE_SMOKE_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", STACK, "--yes",
                         *[arg for user in ("alice", "bob", "carol", "dave") for arg in ("--smoke-user", user)])
    assert code == ExitCode.OK, out + err
    assert "signed-in user(s)" in out and "got plan.json's decisions" in out and "deployed API" in out
    record = json.loads((demo.plan / "deployment.json").read_text())
    assert record["stack_name"] == STACK and record["authorizer_id"] == outputs["AuthorizerId"]
    assert record["policy_store_id"] == outputs["PolicyStoreId"]
    moved = {route for route, m in methods_of(api_id).items() if m.get("authorizerId") == outputs["AuthorizerId"]}
    assert "GET /avp" in moved and moved == set(record["methods"])
    first = ledger(api_id)
    assert [int(i["version"]["N"]) for i in first] == [1]
    assert function_environment(function_name)["AVP_AUTHZ_MODES"]  # the fallback: tool-owned

    # a second deploy --stack changes nothing
    code, out, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", STACK,
                         "--dry-run")
    assert code == ExitCode.OK, out + err

    # the newcomer's shadow step, by hand: demo traffic through the deployed authorizer (`local traffic`), the
    # shadow report from its log group, and a cut-over its evidence lets through (no --force)
    route = (traffic.matches, traffic.app(embedded_aws, demo.account))
    embedded_aws.local_services.routes.insert(0, type(embedded_aws.local_services.routes[0])(*route))
    try:
        code, out, err = run(capsys, "local", "traffic", "--plan", str(demo.plan), "--rounds", "1", "--local-url",
                             embedded_aws.local_url)
    finally:
        del embedded_aws.local_services.routes[0]
    sent_line = next(line for line in out.splitlines() if line.startswith("sent "))  # (in-process: the pre-token
    assert code == ExitCode.OK and "allowed" in sent_line, out + err                 # trigger's log lines too)
    shadow = tmp_path / "shadow"
    code, out, err = run(capsys, "report", "shadow", "--plan", str(demo.plan), "--out", str(shadow), "--download",
                         "--start", "-1h", "--min-decisions", "5")
    assert code == ExitCode.OK, out + err
    readiness = {r["route"]: r for r in json.loads((shadow / "shadow-report.json").read_text())["routes"]}
    assert readiness["GET /avp"]["ready"] and readiness["GET /avp"]["disagreements"] == {"scope_allow_avp_deny": 0,
                                                                                          "scope_deny_avp_allow": 0}
    code, out, err = run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(demo.plan), "--evidence",
                         str(shadow / "shadow-report.json"))
    assert code == ExitCode.OK and "FORCED" not in out, out + err
    after_cutover = modes_document(api_id)
    history = ledger(api_id)
    assert len(history) == 2

    # the stack applied again, with a new package key and new settings: the function is updated (its whole
    # environment replaced), nothing the stack owns touches the mode state
    key2 = package(capsys, demo, tmp_path, "v2/authorizer.zip")
    apply_stack(demo, key2, update=True, AuthorizerTtl="120", LogRetentionDays="60")
    assert modes_document(api_id) == after_cutover
    assert ledger(api_id) == history
    # the update replaced the function's environment: the fallback is gone (never stale: without it a route whose
    # published mode cannot be read is decided by both rules), and status says so
    assert "AVP_AUTHZ_MODES" not in function_environment(function_name)
    code, out, err = run(capsys, "status", "--plan", str(demo.plan))
    assert code == ExitCode.DIFFERENCES and "has no fallback" in out + err, out + err
    function = LocalAuthorizerFunction(embedded_aws, function_name)
    try:
        sent = demo_traffic(function, demo.account)
    finally:
        function.close()
    assert sent.enforced_by_avp.get("GET /avp") and set(sent.enforced_by_avp) == {"GET /avp"}
    # deploy --stack puts the fallback back in step with the ledger; the route stays in avp
    code, out, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", STACK, "--yes")
    assert code == ExitCode.OK, out + err
    assert modes_document(api_id) == after_cutover and ledger(api_id) == history
    code, out, err = run(capsys, "status", "--plan", str(demo.plan))
    assert code == ExitCode.OK, out + err

    # undeploy puts the methods back and leaves what the stack owns to the stack
    code, out, err = run(capsys, "undeploy", "--plan", str(demo.plan), "--yes")
    assert code == ExitCode.OK and "delete the stack to remove them" in out, out + err
    assert all(m.get("authorizerId") != outputs["AuthorizerId"] for m in methods_of(api_id).values())
    assert function_environment(function_name) and modes_document(api_id) == after_cutover

    # deleting the stack keeps the audit trail
    boto3.client("cloudformation").delete_stack(StackName=STACK)
    assert ledger(api_id) == history


def test_deploy_stack_refuses_a_stack_that_is_not_the_plans(demo, tmp_path, capsys):
    """No stack, a stray policy in the stack's store, a function built from another configuration: each a one-line
    refusal, nothing moved, no deployment.json."""
    code, _, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", "nosuch", "--yes")
    assert code == ExitCode.ERROR and "--stack nosuch: no such stack" in err
    key = package(capsys, demo, tmp_path, "v1/authorizer.zip")
    outputs = apply_stack(demo, key)
    avp = boto3.client("verifiedpermissions")
    stray = avp.create_policy(policyStoreId=outputs["PolicyStoreId"], definition={"static": {
        "statement": 'permit (principal, action, resource);'}})["policyId"]
    code, _out, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", STACK, "--yes")
    assert code == ExitCode.ERROR and "differs from the plan as verified" in err and err.count("\n") == 1, err
    assert not (demo.plan / "deployment.json").exists()
    assert all(m.get("authorizationType") != "CUSTOM" for m in methods_of(demo.account.api_id).values())
    avp.delete_policy(policyStoreId=outputs["PolicyStoreId"], policyId=stray)
    # the function runs a package built from another configuration
    import io
    import zipfile

    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())) as old, \
            zipfile.ZipFile(data, "w") as new:
        for item in old.infolist():
            content = old.read(item.filename)
            if item.filename == "authorizer/authorizer-config.json":
                config = json.loads(content)
                config["routes"]["GET /avp"]["scopes"] = []
                content = json.dumps(config).encode()
            new.writestr(item, content)
    boto3.client("lambda").update_function_code(FunctionName=outputs["AuthorizerFunctionName"],
                                                ZipFile=data.getvalue())
    code, _, err = run(capsys, "deploy", "--plan", str(demo.plan), "--mode", "shadow", "--stack", STACK, "--yes")
    assert code == ExitCode.ERROR and "carries another authorizer-config.json" in err, err
    assert not (demo.plan / "deployment.json").exists()

API_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Description: the team's own API, defined by its stack (the pool lives elsewhere)
Parameters:
  PoolArn:
    Type: String
Resources:
  # the API and its Cognito authorizer
  PetsApi:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: PetsFromStack
  PetsAuthorizer:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      Name: PetsCognito
      Type: COGNITO_USER_POOLS
      RestApiId: !Ref PetsApi
      IdentitySource: method.request.header.Authorization
      ProviderARNs:
        - !Ref PoolArn
  PetsResource:
    Type: AWS::ApiGateway::Resource
    Properties:
      RestApiId: !Ref PetsApi
      ParentId: !GetAtt PetsApi.RootResourceId
      PathPart: pets
  GetPets:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref PetsApi
      ResourceId: !Ref PetsResource
      HttpMethod: GET
      AuthorizationType: COGNITO_USER_POOLS
      AuthorizerId: !Ref PetsAuthorizer
      AuthorizationScopes:
        - MyApi/pets.read
      Integration:
        Type: MOCK
"""


def test_an_api_its_own_stack_defines_moves_by_its_template_and_deploy_stack_records_it(demo, embedded_aws, tmp_path,
                                                                                         capsys, monkeypatch):
    cloudformation = boto3.client("cloudformation")
    pool_arn = demo.account.user_pool_arn
    api_template = tmp_path / "api" / "template.yaml"
    api_template.parent.mkdir()
    api_template.write_text(API_TEMPLATE)
    cloudformation.create_stack(StackName="pets-api", TemplateBody=API_TEMPLATE,
                                Parameters=[{"ParameterKey": "PoolArn", "ParameterValue": pool_arn}])
    api_id = next(r["PhysicalResourceId"] for r in cloudformation.describe_stack_resources(
        StackName="pets-api")["StackResources"] if r["LogicalResourceId"] == "PetsApi")
    boto3.client("apigateway").create_deployment(restApiId=api_id, stageName="prod")
    # the plan of the live API, and the migration stack without an authorizer of its own
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.plan import check, write_plan
    from migrate.scan.aws import AwsScanner, ScanOptions
    from migrate.translate import translate

    inventory = AwsScanner(AwsSession(AwsTarget()), ScanOptions(api_ids=[api_id], stage="prod",
                                                                all_users=True)).scan()
    translation = translate(inventory)
    plan = tmp_path / "plan"
    write_plan(translation, check(translation), plan, inventory=inventory, inventory_path="inventory.json")
    demo.plan = plan
    key = package(capsys, demo, tmp_path, "v1/authorizer.zip")
    apply_stack(demo, key, CreateAuthorizer="false")

    # deploy alone stops: the API's stack would undo it
    code, _, err = run(capsys, "deploy", "--plan", str(plan), "--mode", "shadow", "--dry-run", "--dependencies",
                       "layers", "--layer", demo.layer)
    assert code == ExitCode.ERROR and "patch-template" in err
    # the team's template moves the method (its own stack update), then deploy --stack records it
    monkeypatch.chdir(tmp_path)  # the diff names the template as given, relative to here
    code, diff, err = run(capsys, "patch-template", "--plan", str(plan), "--template", "api/template.yaml",
                          "--parameter", f"PetsApi={api_id}")
    assert code == ExitCode.OK and "+      AuthorizationType: CUSTOM" in diff, diff + err
    patch = tmp_path / "api.patch"
    patch.write_text(diff)
    import subprocess

    subprocess.run(["patch", "-p1", "-s", "-i", str(patch)], cwd=tmp_path, check=True)
    cloudformation.update_stack(StackName="pets-api", TemplateBody=api_template.read_text(),
                                Parameters=[{"ParameterKey": "PoolArn", "ParameterValue": pool_arn}])
    assert methods_of(api_id)["GET /pets"]["authorizationType"] == "CUSTOM"

    monkeypatch.setenv("AVP_MIGRATE_SMOKE_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "deploy", "--plan", str(plan), "--mode", "shadow", "--stack", STACK, "--yes",
                         "--smoke-user", "heidi", "--smoke-user", "alice")
    assert code == ExitCode.OK, out + err
    assert "1 moved there are recorded" in out and "signed-in user(s)" in out and "update apigateway method" not in out
    record = json.loads((plan / "deployment.json").read_text())
    assert list(record["methods"]) == ["GET /pets"] and record["api_owner"] == "CloudFormation"
    code, out, err = run(capsys, "cutover", "--yes", "GET /pets", "--plan", str(plan), "--force", "--no-evidence",
                         "--reason", "test")
    assert code == ExitCode.OK, out + err
    code, out, err = run(capsys, "undeploy", "--plan", str(plan), "--yes")
    assert "revert the avp-migrate patch there" in out + err
    assert methods_of(api_id)["GET /pets"]["authorizationType"] == "CUSTOM"  # the template's to change back


def test_package_checks_its_layers_as_deploy_does(demo, embedded_aws, tmp_path, capsys, dependencies_layer_zip):
    """The layers `package` is given are checked as deploy checks them: a layer for another architecture, or one
    that does not exist, is a one-line refusal, and no zip is written."""
    arm_only = boto3.client("lambda").publish_layer_version(
        LayerName="deps-arm64", Content={"ZipFile": dependencies_layer_zip}, CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["arm64"])["LayerVersionArn"]
    missing = arm_only.rsplit(":", 1)[0] + ":99"
    out = tmp_path / "authorizer.zip"
    for layer, expected in ((arm_only, "is for arm64, not x86_64"), (missing, "layer version not found")):
        code, _, err = run(capsys, "package", "--plan", str(demo.plan), "--out", str(out), "--dependencies",
                           "layers", "--layer", layer)
        assert code == ExitCode.ERROR and expected in err and err.count("\n") == 1, err
        assert not out.exists()
