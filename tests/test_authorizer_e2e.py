"""End to end on the embedded AWS: the demo account (its user pool's V3_0 pre-token trigger is avp-migrate's
pretoken_lambda with rules in SSM, so scopes come from group membership), real sign-ins, the local Verified
Permissions endpoint deciding on group policies, and the real Lambda entry point reading its environment.

The group policies below mirror the demo's pre-token rules except one: the attribute rule that gives finance
users ``reports.read``. Shadow mode must therefore report exactly one disagreement, grace on ``GET /reports``
(scope allows, AVP denies), and agree everywhere else."""

from __future__ import annotations

import json

import boto3
import pytest

from authorizer import handler as handler_module
from authorizer.config import AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig
from authorizer.routes import action_id, route_key, verbs_of
from authorizer.shadow import ShadowRecord
from migrate.embedded.seed import DEMO, seed_demo
from tests.authorizer_helpers import request_event

NS = "MyApi"
GROUP_ACTIONS = {
    "avp-group": ["get /avp"],
    "pets-readers": ["get /pets", "get /pets/{petId}"],
    "pets-writers": ["get /pets", "get /pets/{petId}", "post /pets", "put /pets/{petId}"],
    "orders-team": ["get /orders", "get /orders/{orderId}/items", "post /orders"],
    "auditors": ["get /orders", "get /orders/{orderId}/items", "get /reports"],
}
EVERYONE = ["get /scope", "get /profile"]
ERIN = ["get /pets", "get /pets/{petId}"]
REPORTING_SERVICE = ["get /orders", "get /orders/{orderId}/items", "get /reports"]


def demo_routes() -> dict[str, RouteConfig]:
    routes = {}
    for method in DEMO.methods:
        if method.auth != "COGNITO_USER_POOLS":
            continue
        routes[route_key(method.verb, method.path)] = RouteConfig(
            actions={v: action_id(v, method.path) for v in verbs_of(method.verb)}, scopes=method.scopes,
            token_use="access" if method.scopes else "id")
    return routes


def actions_of(routes: dict[str, RouteConfig]) -> list[str]:
    return sorted({a for route in routes.values() for a in route.actions.values()})


@pytest.fixture
def demo(embedded_aws, tmp_path, monkeypatch):
    account = seed_demo(region=embedded_aws.region)
    routes = demo_routes()
    token_context = {"type": "Record", "required": False, "attributes": {
        "scope": {"type": "Set", "element": {"type": "String"}, "required": False},
        "client_id": {"type": "String", "required": False}}}
    applies = {"principalTypes": ["User", "Client"], "resourceTypes": ["Application"],
               "context": {"type": "Record", "attributes": {"token": token_context}}}
    avp = boto3.client("verifiedpermissions")
    store = avp.create_policy_store(validationSettings={"mode": "STRICT"})["policyStoreId"]
    avp.put_schema(policyStoreId=store, definition={"cedarJson": json.dumps({NS: {
        "entityTypes": {"User": {"memberOfTypes": ["UserGroup"]}, "UserGroup": {}, "Client": {},
                        "Application": {}},
        "actions": {a: {"appliesTo": applies} for a in actions_of(routes)}}})})
    avp.create_identity_source(policyStoreId=store, principalEntityType=f"{NS}::User", configuration={
        "cognitoUserPoolConfiguration": {"userPoolArn": account.user_pool_arn,
                                         "clientIds": [account.client_ids["mobile"]],
                                         "groupConfiguration": {"groupEntityType": f"{NS}::UserGroup"}}})
    pool = account.user_pool_id
    erin_sub = next(a["Value"] for a in boto3.client("cognito-idp").admin_get_user(
        UserPoolId=pool, Username="erin")["UserAttributes"] if a["Name"] == "sub")

    def listed(actions):
        return ", ".join(f'{NS}::Action::"{a}"' for a in actions)

    statements = [f'permit(principal in {NS}::UserGroup::"{pool}|{group}", action in [{listed(actions)}], resource);'
                  for group, actions in GROUP_ACTIONS.items()]
    statements.append(f'permit(principal in {NS}::UserGroup::"{pool}|admins", action, resource);')
    statements.append(f"permit(principal is {NS}::User, action in [{listed(EVERYONE)}], resource);")
    statements.append(f'permit(principal == {NS}::User::"{pool}|{erin_sub}", action in [{listed(ERIN)}], resource);')
    statements.append(f'permit(principal == {NS}::Client::"{account.client_ids["reporting-service"]}", '
                      f"action in [{listed(REPORTING_SERVICE)}], resource);")
    for statement in statements:
        avp.create_policy(policyStoreId=store, definition={"static": {"statement": statement}})

    issuer = f"https://cognito-idp.{embedded_aws.region}.amazonaws.com/{pool}"
    config = AuthorizerConfig(
        api_id=account.api_id, api_name=DEMO.api_name, stage=DEMO.stage, namespace=NS,
        entity_types=EntityTypes(user=f"{NS}::User", group=f"{NS}::UserGroup", client=f"{NS}::Client",
                                 resource=f"{NS}::Application", action=f"{NS}::Action"),
        resource_id=NS, user_pools=(PoolConfig(pool, issuer),), routes=routes,
        machine_clients=(account.client_ids["reporting-service"],))
    path = tmp_path / "authorizer-config.json"
    path.write_text(config.to_json())
    monkeypatch.setenv("AVP_AUTHZ_CONFIG_PATH", str(path))
    monkeypatch.setenv("AVP_AUTHZ_POLICY_STORE_ID", store)
    monkeypatch.setenv("AVP_AUTHZ_JWKS_URL_TEMPLATE", f"{embedded_aws.moto_url}/{{pool_id}}/.well-known/jwks.json")
    monkeypatch.setenv("AVP_AUTHZ_MODES_PARAMETER", "/myapi/prod/authorizer-modes")
    monkeypatch.setenv("AVP_AUTHZ_AVP_TIMEOUT_MS", "3000")
    return account, routes


def sign_in(account, username):
    result = boto3.client("cognito-idp").admin_initiate_auth(
        UserPoolId=account.user_pool_id, ClientId=account.client_ids["mobile"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": account.password})["AuthenticationResult"]
    return result["AccessToken"], result["IdToken"]


def set_modes(mode, version):
    boto3.client("ssm").put_parameter(Name="/myapi/prod/authorizer-modes", Type="String", Overwrite=True,
                                      Value=json.dumps({"version": version, "default": mode, "routes": {}}))


def invoke(event):
    try:
        answer = handler_module.lambda_handler(event, None)
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return "401"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == event["methodArn"]
    return answer["policyDocument"]["Statement"][0]["Effect"].upper()


def run_everyone(account, routes):
    """Every demo user on every route (ANY as GET), plus the reporting service on its routes."""
    calls = []
    for user in DEMO.users:
        access, id_token = sign_in(account, user.username)
        for key, route in routes.items():
            token = access if route.token_use == "access" else id_token
            verb = "GET" if key.startswith("ANY ") else None
            calls.append(((user.username, key), invoke(request_event(key, f"Bearer {token}", verb=verb,
                                                                     api_id=account.api_id))))
    return calls


def test_demo_tokens_through_the_real_handler_in_shadow_then_avp_mode(embedded_aws, demo, capsys, monkeypatch):
    account, routes = demo
    monkeypatch.setattr(handler_module, "_authorizer", None)
    set_modes("shadow", version=1)
    shadow_calls = run_everyone(account, routes)
    cc = embedded_aws.tokens.client_credentials_token(account.client_ids["reporting-service"],
                                                      account.client_secrets["reporting-service"])["access_token"]
    shadow_calls.append((("reporting-service", "GET /reports"),
                         invoke(request_event("GET /reports", cc, api_id=account.api_id))))
    out = capsys.readouterr().out
    records = [r for r in (ShadowRecord.from_log_line(line) for line in out.splitlines()) if r is not None]
    assert len(records) == len(shadow_calls) == len(DEMO.users) * len(routes) + 1
    assert all(r.mode == "shadow" and r.modes_version == 1 and r.avp_error is None for r in records)
    # shadow enforces the scope decision exactly
    for ((_, _), status), record in zip(shadow_calls, records, strict=True):
        assert status == ("ALLOW" if record.scope_decision == "ALLOW" else "401")
    disagreements = {(r.route, r.scope_decision, r.avp_decision) for r in records if not r.agree}
    assert disagreements == {("GET /reports", "ALLOW", "DENY")}
    [(who, _)] = [call for call, record in zip(shadow_calls, records, strict=True) if not record.agree]
    assert who == ("grace", "GET /reports")
    allowed_by_both = sum(r.agree and r.scope_decision == "ALLOW" for r in records)
    assert allowed_by_both > 40  # the demo grants a lot: the comparison is not vacuous
    cc_record = records[-1]
    assert cc_record.client_credentials and cc_record.avp_decision == "ALLOW"

    # cut over: AVP decides. New authorizer instance = a new container reading version 2.
    monkeypatch.setattr(handler_module, "_authorizer", None)
    set_modes("avp", version=2)
    avp_calls = run_everyone(account, routes)
    records = [r for r in (ShadowRecord.from_log_line(line) for line in capsys.readouterr().out.splitlines())
               if r is not None]
    for ((who, key), status), record in zip(avp_calls, records, strict=True):
        assert record.mode == "avp" and record.modes_version == 2
        assert status == record.avp_decision, (who, key)
        assert status == ("DENY" if (who, key) == ("grace", "GET /reports") else
                          "ALLOW" if record.scope_decision == "ALLOW" else "DENY")
    monkeypatch.setattr(handler_module, "_authorizer", None)
