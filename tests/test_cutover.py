"""cutover, rollback, status and finalize against the embedded AWS, through the CLI and real boto3 calls.

Each test builds the state `deploy --mode shadow` leaves behind (deploy is not used: only its record format): a
REST API whose moved methods use a Lambda REQUEST authorizer and still carry their scopes, the old Cognito
authorizer, the mode document in SSM, the ledger table with deploy's version 1, deployment.json, plan.json and
the inventory snapshot.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeDeserializer

from authorizer.config import AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig
from authorizer.modes import ModeDocument
from migrate.awsconfig import AwsSession
from migrate.cli.main import main
from migrate.cutover import changes
from migrate.cutover.deployment import Deployment
from migrate.cutover.fallback import fallback_text
from migrate.cutover.ledger import Ledger, Proposal
from migrate.cutover.publish import publish
from migrate.deploy.record import DeploymentRecord, MovedMethod, OriginalMethod, load_record, save_record
from migrate.errors import UserError
from migrate.inventory import save_inventory
from migrate.inventory.model import Authorizer, Inventory, Method, ResourceServer, RestApi, RuleSet, Scope, UserPool
from tests.inventory_builder import hosted_client, machine_client

REGION = "us-east-1"
ACCOUNT = "123456789012"
RS = "api"
STAGE = "prod"
TABLE = "avp-migrate-modes"
DEPLOYER = f"arn:aws:iam::{ACCOUNT}:user/deployer"


def sc(name: str) -> str:
    return f"{RS}/{name}"


ROUTES: dict[str, list[str]] = {
    "GET /avp": [sc("avp.read")],
    "GET /scope": [sc("scope.read")],
    "GET /pets": [sc("pets.read")],
    "POST /pets": [sc("pets.write")],
    "DELETE /pets/{petId}": [sc("admin")],
}
RULES = [
    {"id": "avp-group", "when": {"groups": ["avp-group"]}, "then": {"add_scopes": [sc("avp.read")]}},
    {"id": "admins", "when": {"groups": ["admins"]}, "then": {"add_scopes": [sc("admin"), sc("pets.write")]}},
    {"id": "pets", "when": {"groups": ["pets"]}, "then": {"add_scopes": [sc("pets.read")]}},
    {"id": "tenant", "when": {"groups": ["scope-users"]},
     "then": {"add_scopes": [sc("scope.read")], "access_token": {"add_claims": {"tenant": "t1"}}}},
]
# the hosted-UI exposure policy the plan writes: it reads the token's scopes, so api/pets.read stays needed
HOSTED_POLICY = """@id("hosted UI of app client web: api/pets.read")
@kind("hosted-ui-exposure")
permit (principal is CutApi::User, action in [CutApi::Action::"get /pets"], resource)
when { context has token && context.token has scope && context.token.scope.containsAny(["api/pets.read"]) };
"""


@dataclass
class Setup:
    plan: Path
    api_id: str
    parameter: str
    pk: str
    pool_id: str
    cognito_authorizer: str
    lambda_authorizer: str
    resources: dict[str, str]  # route -> resource id


def _resource(apigw: Any, api_id: str, ids: dict[str, str], path: str) -> str:
    if path in ids:
        return ids[path]
    parent_path, _, part = path.rstrip("/").rpartition("/")
    parent = _resource(apigw, api_id, ids, parent_path or "/")
    ids[path] = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)["id"]
    return ids[path]


def deploy_state(tmp_path: Path, *, modes: dict[str, str] | None = None, routes: dict[str, list[str]] | None = None,
                 default: str = "scope", legacy: dict[str, list[str]] | None = None,
                 deployed_ago: timedelta = timedelta(hours=2)) -> Setup:
    """What deploy leaves behind, made with plain boto3 (see the module docstring)."""
    routes = routes if routes is not None else ROUTES
    modes = modes if modes is not None else {route: "shadow" for route in routes}
    legacy = legacy or {}
    idp, apigw = boto3.client("cognito-idp"), boto3.client("apigateway")
    pool = idp.create_user_pool(PoolName="cut")["UserPool"]
    names = sorted({s.split("/", 1)[1] for scopes in [*routes.values(), *legacy.values()] for s in scopes}
                   | {"reports.read"})
    idp.create_resource_server(UserPoolId=pool["Id"], Identifier=RS, Name=RS,
                               Scopes=[{"ScopeName": n, "ScopeDescription": n} for n in names])
    api_id = apigw.create_rest_api(name="CutApi")["id"]
    ids = {"/": next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")}
    cognito = apigw.create_authorizer(restApiId=api_id, name="CutApiCognito", type="COGNITO_USER_POOLS",
                                      providerARNs=[pool["Arn"]], identitySource="method.request.header.Authorization")
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:avp-migrate-authz-{api_id}-{STAGE}"
    lam = apigw.create_authorizer(
        restApiId=api_id, name="avp-migrate", type="REQUEST", authorizerResultTtlInSeconds=120,
        authorizerUri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        identitySource="method.request.header.Authorization,context.httpMethod,context.resourcePath")
    resources: dict[str, str] = {}
    moved: dict[str, MovedMethod] = {}
    plan_routes = []

    def method(route: str, auth: str, authorizer: str | None, scopes: list[str]) -> str:
        verb, path = route.split(" ", 1)
        rid = _resource(apigw, api_id, ids, path)
        extra = {"authorizerId": authorizer, "authorizationScopes": scopes} if authorizer else {}
        apigw.put_method(restApiId=api_id, resourceId=rid, httpMethod=verb, authorizationType=auth, **extra)
        apigw.put_integration(restApiId=api_id, resourceId=rid, httpMethod=verb, type="MOCK")
        resources[route] = rid
        return rid

    for route, scopes in routes.items():
        # deploy moved it to the Lambda authorizer and left its scopes (finalize removes them)
        rid = method(route, "CUSTOM", lam["id"], scopes)
        moved[route] = MovedMethod(rid, route.split(" ")[0], OriginalMethod("COGNITO_USER_POOLS", cognito["id"],
                                                                           list(scopes)))
        plan_routes.append({"route": route, "migrated": True, "scopes": scopes})
    for route, scopes in legacy.items():  # still on Cognito: the plan did not migrate it
        method(route, "COGNITO_USER_POOLS", cognito["id"], scopes)
        plan_routes.append({"route": route, "migrated": False, "scopes": scopes})
    method("GET /health", "NONE", None, [])
    plan_routes.append({"route": "GET /health", "migrated": False, "scopes": []})
    apigw.create_deployment(restApiId=api_id, stageName=STAGE)

    parameter, pk = f"/avp-migrate/{api_id}/{STAGE}/modes", f"{api_id}#{STAGE}"
    document = {"version": 1, "default": default, "routes": dict(modes)}
    boto3.client("ssm").put_parameter(Name=parameter, Type="String", Value=json.dumps(document))
    ddb = boto3.client("dynamodb")
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "version", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "version", "AttributeType": "N"}])
    deployed_at = (datetime.now(UTC) - deployed_ago).isoformat(timespec="seconds")
    ddb.put_item(TableName=TABLE, Item={
        "pk": {"S": pk}, "version": {"N": "1"}, "document": {"S": json.dumps(document)}, "at": {"S": deployed_at},
        "who": {"S": DEPLOYER}, "action": {"S": "deploy"}, "routes": {"L": [{"S": r} for r in routes]},
        "from": {"M": {}}, "to": {"M": {r: {"S": m} for r, m in modes.items()}}})

    plan = tmp_path / "plan"
    (plan / "policies").mkdir(parents=True)
    (plan / "policies" / "011-hosted-ui.cedar").write_text(HOSTED_POLICY)
    config = _authorizer_config(api_id, pool, routes)
    (plan / "authorizer-config.json").write_text(config.to_json())
    _function(function_arn.rsplit(":", 1)[1], parameter, document, tuple(config.routes))
    inventory_path = tmp_path / "inventory.json"
    save_inventory(_inventory(api_id, cognito["id"], pool, names, routes, legacy), inventory_path)
    (plan / "plan.json").write_text(json.dumps({
        "format_version": 1, "api": {"id": api_id, "name": "CutApi", "stage": STAGE},
        "user_pool": {"id": pool["Id"], "arn": pool["Arn"]},
        "inventory": {"path": str(inventory_path), "created_at": "2026-11-26T07:00:00+00:00"},
        "routes": plan_routes}))
    save_record(DeploymentRecord(
        api_id=api_id, api_name="CutApi", stage=STAGE, region=REGION, account_id=ACCOUNT, policy_store_id="ps-1",
        identity_source_id="is-1", function_name=function_arn.rsplit(":", 1)[1], function_arn=function_arn,
        role_name="avp-migrate-authz", log_group=f"/aws/lambda/{function_arn.rsplit(':', 1)[1]}",
        authorizer_id=lam["id"], mode_parameter=parameter, ledger_table=TABLE, deployed_at=deployed_at,
        methods=moved), plan)
    return Setup(plan, api_id, parameter, pk, pool["Id"], cognito["id"], lam["id"], resources)


def _authorizer_config(api_id: str, pool: dict[str, Any], routes: dict[str, list[str]]) -> AuthorizerConfig:
    ns = "CutApi"
    types = EntityTypes(user=f"{ns}::User", group=f"{ns}::UserGroup", client=f"{ns}::Client",
                        resource=f"{ns}::Application", action=f"{ns}::Action")
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"
    return AuthorizerConfig(
        api_id=api_id, api_name=ns, stage=STAGE, namespace=ns, entity_types=types, resource_id=ns,
        user_pools=(PoolConfig(pool["Id"], issuer),),
        routes={route: RouteConfig(actions={route.split(" ")[0]: route.split(" ")[0].lower() + " " +
                                            route.split(" ", 1)[1]}, scopes=tuple(scopes))
                for route, scopes in routes.items()})


def _function(name: str, parameter: str, document: dict[str, Any], route_keys: tuple[str, ...]) -> None:
    """The authorizer function as deploy leaves it: what matters here is its environment (the fallback)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("authorizer/__init__.py", "")
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="authorizer.handler.lambda_handler",
        Code={"ZipFile": buffer.getvalue()}, Environment={"Variables": {
            "AVP_AUTHZ_MODES_PARAMETER": parameter, "AVP_AUTHZ_POLICY_STORE_ID": "ps-1",
            "AVP_AUTHZ_MODES": fallback_text(document, route_keys)}})


def fallback_state(setup: Setup) -> ModeDocument:
    """The function's fallback, read back."""
    config = AuthorizerConfig.from_json((setup.plan / "authorizer-config.json").read_text())
    name = load_record(setup.plan).function_name
    text = boto3.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"][
        "AVP_AUTHZ_MODES"]
    return ModeDocument.from_json(text, source="fallback", route_keys=tuple(config.routes))


def _inventory(api_id: str, cognito_id: str, pool: dict[str, Any], names: list[str], routes: dict[str, list[str]],
               legacy: dict[str, list[str]]) -> Inventory:
    """The snapshot scanned before deploy: every method still on Cognito; another API on the same pool."""
    arn = pool["Arn"]
    methods = [Method(path=r.split(" ", 1)[1], http_method=r.split(" ", 1)[0], authorization_type="COGNITO_USER_POOLS",
                      authorizer_id=cognito_id, authorization_scopes=list(s)) for r, s in {**routes, **legacy}.items()]
    api = RestApi(id=api_id, name="CutApi", source="apigateway", stage=STAGE, stages=[STAGE], methods=methods,
                  authorizers=[Authorizer(cognito_id, "CutApiCognito", "COGNITO_USER_POOLS", provider_arns=[arn])])
    other = RestApi(id="other01", name="Reports", source="apigateway", stage=STAGE, stages=[STAGE],
                    authorizers=[Authorizer("oc1", "ReportsCognito", "COGNITO_USER_POOLS", provider_arns=[arn])],
                    methods=[Method(path="/reports", http_method="GET", authorization_type="COGNITO_USER_POOLS",
                                    authorizer_id="oc1", authorization_scopes=[sc("reports.read")])])
    user_pool = UserPool(id=pool["Id"], arn=arn, name="cut", region=REGION,
                         resource_servers=[ResourceServer(RS, RS, [Scope(n) for n in names])],
                         clients=[hosted_client([sc("pets.read")]), machine_client([sc("admin")])],
                         pretoken_rules=RuleSet("ssm:/cut/rules", "trigger", {"version": 1, "rules": RULES}))
    return Inventory(format_version=1, tool_version="test", created_at="2026-11-26T07:00:00+00:00", region=REGION,
                     account_id=ACCOUNT, apis=[api, other], user_pools=[user_pool])


def stamp(moment: datetime) -> str:
    """Time as the authorizer and the shadow report write it: ``2026-11-26T10:00:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evidence(tmp_path: Path, routes: dict[str, dict[str, Any]], *, end: datetime | None = None,
             open_window: bool = False, name: str = "shadow-report.json") -> str:
    """A shadow report in the shape `report shadow` writes (reports/shadow_model.py ShadowData.to_json): the keys
    the gate reads and a few it does not. ``open_window``: files read whole, the window bounded by the records."""
    end = end or datetime.now(UTC) - timedelta(minutes=1)
    first, last = stamp(end - timedelta(minutes=55)), stamp(end - timedelta(seconds=30))
    path = tmp_path / name
    path.write_text(json.dumps({
        "report_format_version": 1,
        "window": {"start": None if open_window else stamp(end - timedelta(hours=1)),
                   "end": None if open_window else stamp(end), "first_seen": first, "last_seen": last,
                   "bin_seconds": 60},
        "thresholds": {"min_decisions": 100, "max_avp_error_rate": 0.01, "allow_disagreements": 0},
        "routes": [{"route": route, "ready": True, "reasons": [], "decisions": 500, "avp_errors": 0,
                    "disagreements": {"scope_allow_avp_deny": 0, "scope_deny_avp_allow": 0},
                    "agreement_rate": 1.0, **values} for route, values in routes.items()]}))
    return str(path)


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def ledger_items(setup: Setup) -> list[dict[str, Any]]:
    deserialize = TypeDeserializer().deserialize
    items = boto3.client("dynamodb").query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                                           ExpressionAttributeValues={":pk": {"S": setup.pk}},
                                           ConsistentRead=True)["Items"]
    return [{k: deserialize(v) for k, v in item.items()} for item in items]


def ssm_document(setup: Setup) -> dict[str, Any]:
    return json.loads(boto3.client("ssm").get_parameter(Name=setup.parameter)["Parameter"]["Value"])


def caller_arn() -> str:
    return boto3.client("sts").get_caller_identity()["Arn"]


# --- cutover --------------------------------------------------------------------------------------------------------


def test_cutover_with_ready_evidence_writes_version_2_and_publishes_it(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    report = evidence(tmp_path, {"GET /avp": {}})
    code, out, err = run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence", report)
    assert (code, err) == (0, "")
    assert "moved GET /avp: shadow -> avp (evidence" in out and "500 decisions, 0 disagreements" in out
    assert "effective within 30 s" in out and "up to 120 s more" in out  # the Lambda authorizer's TTL
    items = ledger_items(setup)
    assert [int(i["version"]) for i in items] == [1, 2]
    v2 = items[1]
    assert (v2["action"], v2["who"], v2["routes"]) == ("cutover", caller_arn(), ["GET /avp"])
    assert (v2["from"], v2["to"]) == ({"GET /avp": "shadow"}, {"GET /avp": "avp"})
    assert v2["evidence"]["file"] == report and len(v2["evidence"]["sha256"]) == 64
    assert v2["evidence"]["routes"]["GET /avp"]["decisions"] == 500
    assert datetime.fromisoformat(v2["at"]) > datetime.now(UTC) - timedelta(hours=1)
    document = ssm_document(setup)
    assert document == json.loads(v2["document"])
    assert document["version"] == 2 and document["routes"]["GET /avp"] == "avp"
    assert {r: m for r, m in document["routes"].items() if r != "GET /avp"} == {r: "shadow" for r in ROUTES
                                                                                if r != "GET /avp"}


def test_a_route_that_is_not_ready_is_refused_naming_why_and_nothing_is_written(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    report = evidence(tmp_path, {"GET /avp": {}, "GET /scope": {
        "ready": False, "decisions": 12, "reasons": ["12 decisions, fewer than the minimum 100",
                                                      "1 unexplained disagreement (carol: scope ALLOW, avp DENY)"]}})
    code, out, err = run(capsys, "cutover", "--yes", "GET /avp", "GET /scope", "--plan", str(setup.plan), "--evidence",
                         report)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("avp-migrate: error: cutover: refused, nothing was written:")
    assert "'GET /scope' not ready: 12 decisions, fewer than the minimum 100; 1 unexplained disagreement" in err
    assert "GET /avp" not in err  # the ready one is fine, but one write means all or nothing
    assert [int(i["version"]) for i in ledger_items(setup)] == [1]
    assert ssm_document(setup)["version"] == 1


@pytest.mark.parametrize(("case", "expected"), [
    ("scope", "is in scope mode: it goes to shadow first"),
    ("no-evidence", "no evidence: pass --evidence"),
    ("not-in-report", "not in the shadow report"),
    ("stale", "h old (window ended"),
    ("before-shadow", "before the route entered shadow"),
    ("future", "ends in the future"),
    ("no-decisions", "no decisions in the report's window"),
    ("open-window-before-shadow", "before the route entered shadow"),
    ("on-avp-backwards", "is in avp mode; going back to shadow is a rollback"),
])
def test_the_gate_refuses(embedded_aws, tmp_path, capsys, case, expected):
    modes = {route: "shadow" for route in ROUTES} | {"GET /scope": "scope", "GET /pets": "avp"}
    setup = deploy_state(tmp_path, modes=modes, deployed_ago=timedelta(hours=2))
    now = datetime.now(UTC)
    route, extra = "GET /avp", ["--evidence", evidence(tmp_path, {"GET /avp": {}})]
    if case == "scope":
        route, extra = "GET /scope", ["--to", "avp", "--evidence", evidence(tmp_path, {"GET /scope": {}})]
    elif case == "no-evidence":
        extra = []
    elif case == "not-in-report":
        extra = ["--evidence", evidence(tmp_path, {"GET /scope": {}})]
    elif case == "stale":
        extra = ["--evidence", evidence(tmp_path, {"GET /avp": {}}, end=now - timedelta(hours=1)),
                 "--evidence-max-age", "0.5"]
    elif case == "before-shadow":  # the route entered shadow 2 h ago (deploy); this report ended 3 h ago
        extra = ["--evidence", evidence(tmp_path, {"GET /avp": {}}, end=now - timedelta(hours=3))]
    elif case == "future":
        extra = ["--evidence", evidence(tmp_path, {"GET /avp": {}}, end=now + timedelta(hours=1))]
    elif case == "open-window-before-shadow":  # files read whole: the records end 3 h ago
        extra = ["--evidence", evidence(tmp_path, {"GET /avp": {}}, end=now - timedelta(hours=3), open_window=True)]
    elif case == "no-decisions":
        extra = ["--evidence", evidence(tmp_path, {"GET /avp": {"decisions": 0}})]
    elif case == "on-avp-backwards":
        route, extra = "GET /pets", ["--to", "shadow"]
    code, out, err = run(capsys, "cutover", "--yes", route, "--plan", str(setup.plan), *extra)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert expected in err
    assert [int(i["version"]) for i in ledger_items(setup)] == [1]


def test_force_with_a_reason_overrides_the_gate_and_records_what_it_overrode(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    report = evidence(tmp_path, {"GET /avp": {"ready": False, "reasons": ["AVP error rate 2% above 0.1%"]}})
    code, _, err = run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence", report,
                       "--force")
    assert code == 1 and "--force needs --reason TEXT" in err
    code, out, err = run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence", report,
                         "--force", "--reason", "INC-42: the Cognito outage; AVP errors were the outage's")
    assert (code, err) == (0, "")
    assert "FORCED past: not ready: AVP error rate 2% above 0.1%" in out
    v2 = ledger_items(setup)[-1]
    assert (v2["action"], v2["reason"]) == ("force", "INC-42: the Cognito outage; AVP errors were the outage's")
    assert v2["evidence"]["overridden"] == {"GET /avp": ["not ready: AVP error rate 2% above 0.1%"]}
    assert ssm_document(setup)["routes"]["GET /avp"] == "avp"


def test_several_routes_are_one_write_and_to_shadow_needs_no_evidence(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "scope" for route in ROUTES})
    code, out, _ = run(capsys, "cutover", "--yes", "GET /pets", "post /pets", "GET /pets", "--plan", str(setup.plan))
    assert code == 0
    items = ledger_items(setup)
    assert [int(i["version"]) for i in items] == [1, 2]
    assert items[1]["routes"] == ["GET /pets", "POST /pets"]  # normalized, each once
    assert items[1]["to"] == {"GET /pets": "shadow", "POST /pets": "shadow"} and "evidence" not in items[1]
    assert ssm_document(setup)["routes"] == {**{r: "scope" for r in ROUTES}, "GET /pets": "shadow",
                                             "POST /pets": "shadow"}
    # run again: already there, nothing written
    code, out, _ = run(capsys, "cutover", "--yes", "GET /pets", "--plan", str(setup.plan), "--to", "shadow")
    assert code == 0 and "unchanged GET /pets: already shadow" in out and "nothing to change" in out
    assert len(ledger_items(setup)) == 2


# --- rollback -------------------------------------------------------------------------------------------------------


def create_authorizer_function(setup: Setup, max_age: str) -> None:
    """Set the authorizer function's mode document cache age, as an operator tuning it would."""
    lam = boto3.client("lambda")
    name = load_record(setup.plan).function_name
    variables = lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {
        **variables, "AVP_AUTHZ_MODES_MAX_AGE": max_age}})


def test_rollback_is_one_write_effective_within_the_cache_age(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES} | {"GET /scope": "shadow"})
    create_authorizer_function(setup, max_age="10")
    code, out, err = run(capsys, "rollback", "--yes", "GET /avp", "GET /pets", "--plan", str(setup.plan),
                         "--reason", "403s reported by the mobile team")
    assert (code, err) == (0, "")
    assert "moved GET /avp: avp -> shadow" in out and "moved GET /pets: avp -> shadow" in out
    assert "effective within 10 s (the authorizer caches the mode document for AVP_AUTHZ_MODES_MAX_AGE=10 s)" in out
    assert "up to 120 s more (authorizerResultTtlInSeconds)" in out
    v2 = ledger_items(setup)[-1]
    assert (int(v2["version"]), v2["action"], v2["reason"]) == (2, "rollback", "403s reported by the mobile team")
    assert v2["from"] == {"GET /avp": "avp", "GET /pets": "avp"} and v2["to"] == {"GET /avp": "shadow",
                                                                                  "GET /pets": "shadow"}
    code, out, _ = run(capsys, "rollback", "--yes", "GET /avp", "--to", "scope", "--plan", str(setup.plan))
    assert code == 0 and ssm_document(setup)["routes"]["GET /avp"] == "scope"
    code, _, err = run(capsys, "rollback", "--yes", "GET /avp", "--plan", str(setup.plan))  # scope -> shadow is forward
    assert code == 1 and "is in scope mode; moving it to shadow is a cut-over, not a rollback" in err
    assert [int(i["version"]) for i in ledger_items(setup)] == [1, 2, 3]


# --- dry run --------------------------------------------------------------------------------------------------------


def test_dry_run_exits_2_when_there_is_a_change_and_0_when_not_writing_nothing(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "shadow" for route in ROUTES} | {"GET /pets": "avp"})
    report = evidence(tmp_path, {"GET /avp": {}})
    code, out, _ = run(capsys, "cutover", "GET /avp", "--plan", str(setup.plan), "--evidence", report, "--dry-run")
    assert code == 2 and "would move GET /avp: shadow -> avp" in out and "would write ledger version 2" in out
    code, out, _ = run(capsys, "cutover", "GET /pets", "--plan", str(setup.plan), "--dry-run")
    assert code == 0 and "nothing to change" in out
    code, out, _ = run(capsys, "rollback", "GET /pets", "--plan", str(setup.plan), "--dry-run", "--format", "json")
    assert code == 2 and json.loads(out)["changes"] == [{"route": "GET /pets", "from": "avp", "to": "shadow"}]
    code, out, _ = run(capsys, "rollback", "GET /scope", "--plan", str(setup.plan), "--dry-run")
    assert code == 0
    assert [int(i["version"]) for i in ledger_items(setup)] == [1] and ssm_document(setup)["version"] == 1


# --- status ---------------------------------------------------------------------------------------------------------


def test_status_shows_modes_readiness_and_last_change(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    report = evidence(tmp_path, {"GET /avp": {}, "GET /scope": {"ready": False, "reasons": ["12 decisions < 100"]}},
                      open_window=True)
    assert run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence", report)[0] == 0
    code, out, err = run(capsys, "status", "--plan", str(setup.plan), "--evidence", report)
    assert (code, err) == (0, "")
    assert "version 2 (cutover by " in out and "version 2, in sync" in out
    rows = {line.split("  ")[0]: line for line in out.splitlines() if line.startswith(("GET ", "POST ", "DELETE "))}
    assert set(rows) == set(ROUTES)
    assert " avp " in rows["GET /avp"] and " v2 " in rows["GET /avp"]
    assert f"cutover by {caller_arn()}" in rows["GET /avp"]
    assert "not ready: 12 decisions < 100" in rows["GET /scope"] and " v1 " in rows["GET /scope"]
    assert f"deploy by {DEPLOYER}" in rows["GET /scope"]
    assert "no evidence" in rows["GET /pets"]
    code, out, _ = run(capsys, "status", "--plan", str(setup.plan), "--format", "json")
    data = json.loads(out)
    assert (code, data["ledger_version"], data["ssm_version"], data["in_sync"]) == (0, 2, 2, True)
    by_route = {r["route"]: r for r in data["routes"]}
    assert by_route["GET /avp"]["mode"] == "avp"
    assert by_route["GET /avp"]["last_change"] | {"at": None} == {
        "version": 2, "at": None, "who": caller_arn(), "action": "cutover", "from": "shadow", "to": "avp",
        "reason": None}
    assert by_route["GET /scope"]["last_change"]["action"] == "deploy"


def test_status_finds_drift_and_repair_republishes_the_ledgers_newest(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    assert run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence",
               evidence(tmp_path, {"GET /avp": {}}))[0] == 0
    ssm = boto3.client("ssm")
    # a publication that did not complete: SSM still holds version 1
    ssm.put_parameter(Name=setup.parameter, Type="String", Overwrite=True, Value=json.dumps(
        {"version": 1, "default": "scope", "routes": {r: "shadow" for r in ROUTES}}))
    code, out, _ = run(capsys, "status", "--plan", str(setup.plan))
    assert code == 2
    assert "DRIFT" in out and "SSM holds version 1, the ledger's newest is 2" in out
    assert "GET /avp: shadow in SSM, avp in the ledger" in out
    assert any(line.startswith("GET /avp ") and " avp (SSM: shadow) " in line for line in out.splitlines())
    code, out, _ = run(capsys, "status", "--plan", str(setup.plan), "--repair", "--yes")
    assert code == 0 and "repaired: republished ledger version 2" in out
    assert ssm_document(setup) == json.loads(ledger_items(setup)[-1]["document"])
    assert run(capsys, "status", "--plan", str(setup.plan))[0] == 0
    # a hand edit under the same version number is drift too
    ssm.put_parameter(Name=setup.parameter, Type="String", Overwrite=True,
                      Value=json.dumps({**ssm_document(setup), "routes": {"GET /avp": "scope"}}))
    code, out, _ = run(capsys, "status", "--plan", str(setup.plan), "--format", "json")
    data = json.loads(out)
    assert code == 2 and not data["in_sync"]
    assert data["drift"][0] == "SSM holds version 2 but not the ledger's document for it (edited outside avp-migrate)"
    ssm.delete_parameter(Name=setup.parameter)
    code, out, _ = run(capsys, "status", "--plan", str(setup.plan))
    assert code == 2 and "the mode parameter does not exist" in out
    assert run(capsys, "status", "--plan", str(setup.plan), "--repair", "--yes")[0] == 0
    assert ssm_document(setup)["version"] == 2


# --- concurrency ----------------------------------------------------------------------------------------------------


def test_concurrent_cutovers_and_rollbacks_never_lose_an_update(embedded_aws, tmp_path, capsys):
    # The embedded DynamoDB keeps DynamoDB's per-item atomic conditional writes (migrate/embedded/moto_gaps.py).
    routes = {f"GET /r{i}": [sc(f"r{i}")] for i in range(14)}
    modes = {f"GET /r{i}": "scope" for i in range(9)} | {f"GET /r{i}": "avp" for i in range(9, 14)}
    setup = deploy_state(tmp_path, routes=routes, modes=modes)
    plan = str(setup.plan)
    # four other processes, started first (they take longer to start) ...
    processes = [subprocess.Popen([sys.executable, "-m", "migrate", *argv, "--plan", plan], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for argv in (["cutover", "GET /r7", "--yes"], ["cutover", "GET /r8", "--yes"],
                              ["rollback", "GET /r12", "--yes"], ["rollback", "GET /r13", "--to", "scope", "--yes"])]
    # ... and ten threads of this one, released together
    jobs = [["cutover", f"GET /r{i}", "--yes"] for i in range(7)] + [["rollback", f"GET /r{i}", "--yes"]
                                                                   for i in (9, 10, 11)]
    barrier = threading.Barrier(len(jobs))
    codes: dict[int, int] = {}

    def work(index: int, argv: list[str]) -> None:
        barrier.wait()
        codes[index] = main([*argv, "--plan", plan])

    threads = [threading.Thread(target=work, args=(i, argv)) for i, argv in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [p.communicate(timeout=120) for p in processes]
    capsys.readouterr()
    assert list(codes.values()) == [0] * len(jobs)
    assert [p.returncode for p in processes] == [0] * 4, outcomes

    items = ledger_items(setup)
    assert [int(i["version"]) for i in items] == list(range(1, 16))  # 1 (deploy) + 14 changes, no gap, no duplicate
    changed = [route for item in items[1:] for route in item["routes"]]
    assert sorted(changed) == sorted(routes)  # every route changed exactly once
    # every version is its predecessor plus exactly its own change: nothing was lost on the way
    for before, item in itertools.pairwise(items):
        expected = {**json.loads(before["document"])["routes"], **item["to"]}
        assert json.loads(item["document"])["routes"] == expected, item["version"]
    final = json.loads(items[-1]["document"])["routes"]
    assert final == {f"GET /r{i}": "shadow" for i in range(13)} | {"GET /r13": "scope"}
    assert ssm_document(setup) == json.loads(items[-1]["document"])  # publications converged on the newest


class CompetingWriter:
    """A DynamoDB client that lets another writer commit ``item`` just before our first PutItem: a lost race,
    made to happen every time."""

    def __init__(self, client: Any, item: dict[str, Any]) -> None:
        self.client, self.item, self.puts = client, item, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_item(self, **kwargs: Any) -> Any:
        self.puts += 1
        if self.item is not None:
            item, self.item = self.item, None
            self.client.put_item(TableName=kwargs["TableName"], Item=item,
                                 ConditionExpression="attribute_not_exists(version)")
        return self.client.put_item(**kwargs)


def competitor_item(setup: Setup, version: int, routes: dict[str, str]) -> dict[str, Any]:
    document = {"version": version, "default": "scope", "routes": routes}
    return {"pk": {"S": setup.pk}, "version": {"N": str(version)}, "document": {"S": json.dumps(document)},
            "at": {"S": datetime.now(UTC).isoformat()}, "who": {"S": "arn:aws:iam::123456789012:user/other"},
            "action": {"S": "cutover"}, "routes": {"L": [{"S": "GET /scope"}]}}


def test_a_lost_race_is_retried_on_the_newest_version_and_merges(embedded_aws, tmp_path):
    setup = deploy_state(tmp_path, modes={route: "scope" for route in ROUTES})
    deployment = Deployment.load(str(setup.plan), AwsSession())
    other = {route: "scope" for route in ROUTES} | {"GET /scope": "shadow"}
    client = CompetingWriter(boto3.client("dynamodb"), competitor_item(setup, 2, other))
    deployment._ledger = Ledger(client, TABLE, setup.pk)
    result = changes.cutover(deployment, ["GET /pets"])
    assert result.entry is not None and result.entry.version == 3
    assert (client.puts, deployment.ledger.conflicts) == (2, 1)
    routes = json.loads(ledger_items(setup)[-1]["document"])["routes"]
    assert (routes["GET /scope"], routes["GET /pets"]) == ("shadow", "shadow")  # theirs kept, ours added
    assert ssm_document(setup)["version"] == 3


def test_a_race_on_the_same_route_is_refused_not_overwritten(embedded_aws, tmp_path):
    setup = deploy_state(tmp_path, modes={route: "scope" for route in ROUTES})
    deployment = Deployment.load(str(setup.plan), AwsSession())
    other = {route: "scope" for route in ROUTES} | {"GET /scope": "shadow"}
    deployment._ledger = Ledger(CompetingWriter(boto3.client("dynamodb"), competitor_item(setup, 2, other)),
                                TABLE, setup.pk)
    with pytest.raises(UserError, match=r"'GET /scope' changed while this command ran \(now shadow, ledger version 2"):
        changes.cutover(deployment, ["GET /scope"], to="shadow")
    assert [int(i["version"]) for i in ledger_items(setup)] == [1, 2]


def test_publications_that_interleave_leave_the_newest_version_in_ssm(embedded_aws, tmp_path):
    """Writer A commits v2, writer B commits v3 and publishes it, then A's late publication comes: SSM must end
    at v3, not go back to v2."""
    setup = deploy_state(tmp_path, modes={route: "scope" for route in ROUTES})
    deployment = Deployment.load(str(setup.plan), AwsSession())
    ledger, parameter = deployment.ledger, deployment.parameter

    def change(route: str):
        return lambda newest: Proposal("cutover", {**newest.document, "routes": {**newest.document["routes"],
                                                                                 route: "shadow"}}, (route,))

    a = ledger.append(change("GET /avp"), at=lambda: "2026-11-26T09:00:00+00:00", who="a")
    b = ledger.append(change("GET /pets"), at=lambda: "2026-11-26T09:00:01+00:00", who="b")
    assert (a.version, b.version) == (2, 3)
    assert publish(ledger, parameter, b).version == 3
    assert publish(ledger, parameter, a).version == 3  # A re-read the ledger after its put and put v3 back
    assert ssm_document(setup) == b.document


# --- finalize -------------------------------------------------------------------------------------------------------


def method_of(setup: Setup, route: str) -> dict[str, Any]:
    verb = route.split(" ")[0]
    return boto3.client("apigateway").get_method(restApiId=setup.api_id, resourceId=setup.resources[route],
                                                 httpMethod=verb)


def test_finalize_waits_for_every_endpoint_then_removes_the_scope_regime(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "shadow" for route in ROUTES} | {"GET /avp": "avp"})
    plan = str(setup.plan)
    code, out, err = run(capsys, "finalize", "--yes", "--plan", plan)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "every migrated endpoint must be on avp first; not yet: 'DELETE /pets/{petId}' (shadow)" in err
    assert "'GET /avp'" not in err and "GET /health" not in err
    report = evidence(tmp_path, {route: {} for route in ROUTES})
    assert run(capsys, "cutover", "--yes", *[r for r in ROUTES if r != "GET /avp"], "--plan", plan, "--evidence",
               report)[0] == 0

    code, out, _ = run(capsys, "finalize", "--plan", plan, "--dry-run")
    assert code == 2 and "would remove scopes from GET /avp: api/avp.read" in out
    assert method_of(setup, "GET /avp")["authorizationScopes"] == [sc("avp.read")]  # dry run: unchanged

    code, out, err = run(capsys, "finalize", "--yes", "--plan", plan)
    assert (code, err) == (0, ""), err
    for route, scopes in ROUTES.items():
        method = method_of(setup, route)
        assert (method["authorizationType"], method["authorizerId"]) == ("CUSTOM", setup.lambda_authorizer)
        assert not method.get("authorizationScopes"), route
        assert f"remove scopes from {route}: {', '.join(scopes)}" in out
    authorizers = {a["id"] for a in boto3.client("apigateway").get_authorizers(restApiId=setup.api_id)["items"]}
    assert authorizers == {setup.lambda_authorizer}
    assert f"delete Cognito authorizer CutApiCognito ({setup.cognito_authorizer}): no method uses it" in out
    deployments = boto3.client("apigateway").get_deployments(restApiId=setup.api_id)["items"]
    assert len(deployments) == 2 and "create a deployment of stage prod" in out
    entry = ledger_items(setup)[-1]
    assert (int(entry["version"]), entry["action"], entry["who"]) == (3, "finalize", caller_arn())
    assert entry["details"]["authorizers_deleted"] == [setup.cognito_authorizer]
    assert json.loads(entry["document"])["routes"] == {route: "avp" for route in ROUTES}
    assert ssm_document(setup)["version"] == 3
    # what no endpoint needs any more
    assert "scope api/admin (allowed to app clients svc)" in out
    for scope in ("avp.read", "pets.write", "scope.read"):
        assert f"  scope api/{scope}\n" in out
    assert "pre-token rule avp-group: remove (it only sets api/avp.read)" in out
    assert "pre-token rule admins: remove (it only sets api/admin, api/pets.write)" in out
    assert "pre-token rule tenant: drop api/scope.read (keep access-token claims)" in out
    assert "pre-token rule pets" not in out and "scope api/pets.read" not in out
    assert "still needed: api/pets.read: policy 'hosted UI of app client web: api/pets.read' reads" in out
    assert "still needed: api/reports.read: GET /reports of Reports (other01) (Cognito authorizer)" in out
    assert "app client svc uses client credentials: it needs at least one custom scope" in out

    code, out, _ = run(capsys, "finalize", "--plan", plan, "--dry-run")
    assert code == 0 and "nothing to change: already finalized" in out
    code, out, _ = run(capsys, "finalize", "--yes", "--plan", plan, "--format", "json")
    data = json.loads(out)
    assert (code, data["changed"], data["version"]) == (0, False, None)
    assert data["unused"]["scopes"] == [sc("admin"), sc("avp.read"), sc("pets.write"), sc("scope.read")]
    assert len(ledger_items(setup)) == 3
    code, out, _ = run(capsys, "rollback", "--yes", "GET /avp", "--plan", plan)
    assert code == 0 and "warning: the API was finalized (ledger version 3" in out


def test_finalize_keeps_a_cognito_authorizer_that_a_method_still_uses(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES}, legacy={"GET /legacy": [sc("legacy")]})
    code, out, err = run(capsys, "finalize", "--yes", "--plan", str(setup.plan), "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["authorizers"] == [{"id": setup.cognito_authorizer, "name": "CutApiCognito", "deleted": False,
                                    "used_by": ["GET /legacy"]}]
    assert setup.cognito_authorizer in {a["id"] for a in
                                        boto3.client("apigateway").get_authorizers(restApiId=setup.api_id)["items"]}
    assert method_of(setup, "GET /legacy")["authorizationScopes"] == [sc("legacy")]
    assert data["unused"]["still_needed"][sc("legacy")] == [
        f"GET /legacy of CutApi ({setup.api_id}) (Cognito authorizer)"]
    assert sc("legacy") not in data["unused"]["scopes"]


def test_finalize_refuses_a_moved_method_that_left_the_lambda_authorizer(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES})
    boto3.client("apigateway").update_method(
        restApiId=setup.api_id, resourceId=setup.resources["GET /pets"], httpMethod="GET", patchOperations=[
            {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
            {"op": "replace", "path": "/authorizerId", "value": setup.cognito_authorizer}])
    code, _, err = run(capsys, "finalize", "--yes", "--plan", str(setup.plan))
    assert code == 1 and err.count("\n") == 1
    assert (f"'GET /pets' uses COGNITO_USER_POOLS authorizer {setup.cognito_authorizer}, not the Lambda authorizer "
            f"{setup.lambda_authorizer}") in err
    assert method_of(setup, "GET /avp")["authorizationScopes"] == [sc("avp.read")]  # nothing changed
    assert len(ledger_items(setup)) == 1


# --- one-line errors ----------------------------------------------------------------------------------------------


def test_bad_input_is_one_line_and_writes_nothing(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    plan = str(setup.plan)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    no_window = tmp_path / "no-window.json"
    no_window.write_text(json.dumps({"routes": []}))
    no_ready = tmp_path / "no-ready.json"
    no_ready.write_text(json.dumps({"window": {"start": "2026-11-26T08:00:00Z", "end": "2026-11-26T09:00:00Z"},
                                    "routes": [{"route": "GET /avp", "reasons": [], "decisions": 1,
                                                "disagreements": 0, "avp_errors": 0}]}))
    cases = [
        (["cutover", "--yes", "GET /nope", "--plan", plan],
         "ROUTE: unknown route 'GET /nope': deploy moved these endpoints to the Lambda authorizer: DELETE /pets/"),
        (["cutover", "--yes", "avp", "--plan", plan], "ROUTE: not a route key (expected '<VERB> /path'"),
        (["status", "--plan", str(tmp_path / "nowhere")],
         "no deployment.json: this plan has not been deployed (run `avp-migrate deploy`)"),
        (["cutover", "--yes", "GET /avp", "--plan", plan, "--evidence", str(tmp_path / "missing.json")],
         "missing.json: shadow report not found"),
        (["cutover", "--yes", "GET /avp", "--plan", plan, "--evidence", str(bad_json)],
         "bad.json: invalid JSON at line 1"),
        (["cutover", "--yes", "GET /avp", "--plan", plan, "--evidence", str(no_window)], "no \"window\" object"),
        (["status", "--plan", plan, "--evidence", str(no_ready)], "no-ready.json: routes[0]: missing \"ready\""),
    ]
    for argv, expected in cases:
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == "", argv
        assert err.startswith("avp-migrate: error: ") and err.count("\n") == 1, err
        assert expected in err, (expected, err)
    assert [int(i["version"]) for i in ledger_items(setup)] == [1]


def test_a_missing_ledger_table_is_one_line_naming_it(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path)
    boto3.client("dynamodb").delete_table(TableName=TABLE)
    code, _, err = run(capsys, "status", "--plan", str(setup.plan))
    assert code == 1 and err.count("\n") == 1
    assert f"mode ledger dynamodb:{TABLE}/{setup.pk}: not found (Query" in err


# --- with the real authorizer ---------------------------------------------------------------------------------------


def test_the_authorizer_follows_a_cutover_and_a_rollback_after_its_cache_age(embedded_aws, tmp_path, capsys):
    from tests.authorizer_helpers import config_for, harness, hosted_ui_access_token, make_world, request_event

    world = make_world(embedded_aws)
    setup = deploy_state(tmp_path)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": setup.parameter, "AVP_AUTHZ_MODES_MAX_AGE": "1"})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", ["api/avp.read"])  # the scope, not the group
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert (h.last().mode, h.last().modes_version) == ("shadow", 1)
    assert run(capsys, "cutover", "--yes", "GET /avp", "--plan", str(setup.plan), "--evidence",
               evidence(tmp_path, {"GET /avp": {}}))[0] == 0
    time.sleep(1.2)  # past the 1 s cache age (a wait, not a timed assertion)
    assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert (h.last().mode, h.last().modes_version) == ("avp", 2)
    assert run(capsys, "rollback", "--yes", "GET /avp", "--plan", str(setup.plan))[0] == 0
    time.sleep(1.2)
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert (h.last().mode, h.last().modes_version) == ("shadow", 3)
