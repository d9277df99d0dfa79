"""The authorizer in each mode, driven with REQUEST events and real tokens from the embedded Cognito; AVP decisions
from the local Verified Permissions endpoint."""

from __future__ import annotations

import json

import pytest

from authorizer.shadow import ShadowRecord
from tests.authorizer_helpers import (
    API_ID,
    NS,
    client_credentials_token,
    config_for,
    harness,
    hosted_ui_access_token,
    make_world,
    modes_env,
    request_event,
    s,
)


@pytest.fixture
def world(embedded_aws):
    return make_world(embedded_aws)


def metric(blob, name):
    value = blob[name]  # Powertools writes each metric's values as a list
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def run(tmp_path, embedded_aws, world, modes=None, **kwargs):
    return harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                   env=modes_env(modes or {}), **kwargs)


# --- scope mode: API Gateway's Cognito authorizer -----------------------------------------------------------------


def test_scope_mode_allows_any_method_scope_and_answers_401_otherwise(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world)
    holder = hosted_ui_access_token(embedded_aws, world, "bob", [s("pets.read")])
    other = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])

    allowed = h.call(request_event("GET /pets/{petId}", holder))
    assert allowed.status == "ALLOW"
    assert allowed.response["principalId"] == f"{world.pool_id}|{world.sub('bob')}"
    assert allowed.response["context"] == {
        "sub": world.sub("bob"), "username": "bob", "groups": "", "groups_json": "[]", "scope": s("pets.read"),
        "client_id": world.clients["web"], "token_use": "access", "mode": "scope", "decision_source": "scope"}
    assert all(isinstance(v, str) for v in allowed.response["context"].values())

    assert h.call(request_event("GET /pets/{petId}", other)).status == "401"
    record = h.last()
    assert (record.scope_decision, record.enforced, record.avp_decision) == ("DENY", "UNAUTHORIZED", None)


def test_scope_mode_takes_id_tokens_on_unscoped_methods_only(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world)
    access, id_token = world.sign_in("alice")
    result = h.call(request_event("GET /profile", f"Bearer {id_token}"))
    assert result.status == "ALLOW"
    assert result.response["context"]["groups"] == "avp-group"
    assert result.response["context"]["token_use"] == "id"
    assert h.call(request_event("GET /profile", access)).status == "401"
    assert h.last().token_error == "wrong_token_use"
    assert h.call(request_event("GET /scope", id_token)).status == "401"  # an ID token on a scoped method
    assert h.last().token_error == "wrong_token_use"


def test_any_method_uses_the_request_verb_action_and_the_exact_method_arn(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world, modes={"ANY /admin/{proxy+}": "shadow"})
    admin = hosted_ui_access_token(embedded_aws, world, "carol", [s("admin")])
    event = request_event("ANY /admin/{proxy+}", admin, verb="DELETE")
    result = h.call(event)
    assert result.status == "ALLOW"
    assert result.resource == f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/prod/DELETE/admin/reports/2026/q3"
    record = h.last()
    assert (record.route, record.action_id) == ("ANY /admin/{proxy+}", "delete /admin/{proxy+}")
    assert (record.avp_decision, record.agree) == ("ALLOW", True)  # carol is in admins


# --- shadow mode: enforce scope, ask AVP, record both --------------------------------------------------------------


def test_shadow_mode_enforces_scope_and_records_both_decisions(tmp_path, embedded_aws, world, capsys):
    h = run(tmp_path, embedded_aws, world, modes={"GET /avp": "shadow"})
    # bob has the scope (any user of the web client can request it) but no group: AVP denies
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    # alice is in avp-group but her token lacks the scope: AVP allows, scope refuses
    alice = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])

    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert h.call(request_event("GET /avp", alice)).status == "401"
    bob_record, alice_record = h.records()
    assert (bob_record.scope_decision, bob_record.avp_decision, bob_record.agree) == ("ALLOW", "DENY", False)
    assert bob_record.determining_policies == ()
    assert (alice_record.scope_decision, alice_record.avp_decision, alice_record.agree) == ("DENY", "ALLOW", False)
    assert alice_record.determining_policies == (world.policies["avp-group"],)
    assert alice_record.groups == ("avp-group",)
    assert alice_record.principal == f"{world.pool_id}|{world.sub('alice')}"
    assert {r.mode for r in h.records()} == {"shadow"}
    assert {r.policy_store_id for r in h.records()} == {world.store_id}

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emf) == 2
    for blob in emf:
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["route", "mode"]]
        assert (blob["route"], blob["mode"]) == ("GET /avp", "shadow")
        assert metric(blob, "Decisions") == 1
        assert "Agreements" not in blob and "AvpErrors" not in blob
    assert metric(emf[0], "DisagreementsScopeAllowsAvpDenies") == 1  # bob: scope allows, AVP denies
    assert "DisagreementsScopeDeniesAvpAllows" not in emf[0]
    assert metric(emf[1], "DisagreementsScopeDeniesAvpAllows") == 1  # alice: the reverse
    assert "DisagreementsScopeAllowsAvpDenies" not in emf[1]


def test_metrics_carry_route_and_mode_only_even_with_a_service_name(tmp_path, embedded_aws, world, capsys,
                                                                    monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "payments")
    h = run(tmp_path, embedded_aws, world, modes={"GET /avp": "shadow"})
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read")])
    assert h.call(request_event("GET /avp", token)).status == "ALLOW"
    (blob,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["route", "mode"]]
    assert "service" not in blob
    assert metric(blob, "Agreements") == 1


# --- avp mode: enforce AVP ------------------------------------------------------------------------------------------


def test_avp_mode_allows_on_allow_and_denies_with_403_on_deny(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world, modes={"GET /avp": "avp"})
    alice = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])  # group yes, scope no
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])  # scope yes, group no

    allowed = h.call(request_event("GET /avp", alice))
    assert allowed.status == "ALLOW"
    assert allowed.response["context"]["decision_source"] == "avp"
    assert allowed.response["context"]["mode"] == "avp"
    denied = h.call(request_event("GET /avp", bob))
    assert denied.status == "DENY"  # 403, not 401: the token is valid, the policies say no
    assert denied.response["principalId"] == f"{world.pool_id}|{world.sub('bob')}"
    a, b = h.records()
    assert (a.enforced, a.decision_source, a.scope_decision, a.avp_decision) == ("ALLOW", "avp", "DENY", "ALLOW")
    assert (b.enforced, b.decision_source, b.scope_decision, b.avp_decision) == ("DENY", "avp", "ALLOW", "DENY")


def test_avp_mode_sends_id_tokens_as_identity_tokens(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world, modes={"GET /profile": "avp"})
    _, alice = world.sign_in("alice")
    _, bob = world.sign_in("bob")
    assert h.call(request_event("GET /profile", alice)).status == "ALLOW"
    assert h.call(request_event("GET /profile", bob)).status == "DENY"
    assert [r.avp_decision for r in h.records()] == ["ALLOW", "DENY"]


def test_client_credentials_tokens_are_decided_with_is_authorized_on_the_client(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world, modes={"GET /reports": "avp"})
    reporting = client_credentials_token(embedded_aws, world, "reporting")
    batch = client_credentials_token(embedded_aws, world, "batch")  # same scope, but no policy names it

    allowed = h.call(request_event("GET /reports", reporting))
    assert allowed.status == "ALLOW"
    assert allowed.response["principalId"] == world.clients["reporting"]
    assert allowed.response["context"]["username"] == ""
    denied = h.call(request_event("GET /reports", batch))
    assert denied.status == "DENY"
    first, second = h.records()
    assert first.client_credentials and first.token_use == "access" and first.groups == ()
    assert first.determining_policies == (world.policies["reporting"],)
    assert first.principal == f"{world.pool_id}|{world.clients['reporting']}"
    assert second.avp_decision == "DENY" and second.scope_decision == "ALLOW"


def test_client_credentials_in_scope_mode_follow_the_scope_rule(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world)
    token = client_credentials_token(embedded_aws, world, "batch")
    assert h.call(request_event("GET /reports", token)).status == "ALLOW"
    assert h.call(request_event("GET /scope", token)).status == "401"


# --- what the authorizer refuses to guess --------------------------------------------------------------------------


def test_requests_outside_the_configuration_are_denied(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    assert h.call(request_event("GET /unknown", token)).status == "DENY"
    assert h.last().reason == "unknown_route"
    assert h.call(request_event("POST /scope", token)).status == "DENY"
    assert h.last().reason == "unknown_route"
    assert h.call(request_event("GET /scope", token, api_id="zzzzzzzzzz")).status == "DENY"
    assert h.last().reason == "api_mismatch"
    event = request_event("GET /scope", token)
    del event["methodArn"]
    assert h.call(event).status == "401"
    assert h.last().reason == "bad_method_arn"
    assert all(r.decision_source in {"config", "scope"} for r in h.records())


def test_a_method_arn_with_iam_wildcards_never_gets_an_allow(tmp_path, embedded_aws, world):
    h = run(tmp_path, embedded_aws, world)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("pets.read")])
    assert h.call(request_event("GET /pets/{petId}", token, path="/pets/*")).status == "DENY"
    assert h.last().reason == "wildcard_method_arn"
    assert h.call(request_event("GET /pets/{petId}", token, path="/pets/a%20b~c@d")).status == "ALLOW"


def test_principals_can_be_hashed_in_shadow_records(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_HASH_PRINCIPALS": "true"})
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    result = h.call(request_event("GET /scope", token))
    assert result.response["principalId"] == f"{world.pool_id}|{world.sub('bob')}"  # the response is not hashed
    record = h.last()
    assert record.principal.startswith("sha256:") and world.sub("bob") not in record.principal
    assert ShadowRecord.from_json(record.to_json()) == record


def test_namespace_and_resource_are_the_configured_ones(tmp_path, embedded_aws, world):
    from tests.authorizer_helpers import StubAvpClient, always

    stub = StubAvpClient(always("ALLOW"))
    h = run(tmp_path, embedded_aws, world, modes={"GET /scope": "avp"}, avp_client_factory=lambda: stub)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    assert h.call(request_event("GET /scope", token)).status == "ALLOW"
    ((operation, params),) = stub.calls
    assert operation == "IsAuthorizedWithToken"
    assert params == {"policyStoreId": world.store_id, "accessToken": token,
                      "action": {"actionType": f"{NS}::Action", "actionId": "get /scope"},
                      "resource": {"entityType": f"{NS}::Application", "entityId": NS}}
