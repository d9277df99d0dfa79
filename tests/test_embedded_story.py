"""The embedded AWS as one piece: demo users sign in, the demo's pre-token trigger (avp-migrate's own
pretoken_lambda, rules in SSM) puts scopes in their access tokens, and the local Verified Permissions endpoint
decides on those real signed tokens."""

from __future__ import annotations

import json

import boto3
import pytest

from migrate.embedded.seed import DEMO, seed_demo

NS = "MyApi"
SCHEMA = {NS: {
    "entityTypes": {"User": {"memberOfTypes": ["UserGroup"]}, "UserGroup": {}, "Application": {}},
    "actions": {"get /avp": {"appliesTo": {
        "principalTypes": ["User"], "resourceTypes": ["Application"],
        "context": {"type": "Record", "attributes": {"token": {"type": "Record", "required": False, "attributes": {
            "scope": {"type": "Set", "element": {"type": "String"}, "required": False}}}}}}}},
}}


@pytest.fixture
def demo(embedded_aws):
    account = seed_demo(region=embedded_aws.region)
    avp = boto3.client("verifiedpermissions")
    store = avp.create_policy_store(validationSettings={"mode": "STRICT"})["policyStoreId"]
    avp.put_schema(policyStoreId=store, definition={"cedarJson": json.dumps(SCHEMA)})
    avp.create_identity_source(policyStoreId=store, principalEntityType=f"{NS}::User", configuration={
        "cognitoUserPoolConfiguration": {"userPoolArn": account.user_pool_arn,
                                         "clientIds": [account.client_ids["mobile"]],
                                         "groupConfiguration": {"groupEntityType": f"{NS}::UserGroup"}}})
    return account, avp, store


def sign_in(account, username):
    tokens = account.sign_in(username)
    return tokens["access"], tokens["id"]


def decide(avp, store, **tokens):
    return avp.is_authorized_with_token(policyStoreId=store, **tokens,
                                        action={"actionType": f"{NS}::Action", "actionId": "get /avp"},
                                        resource={"entityType": f"{NS}::Application", "entityId": NS})


def test_a_scope_policy_and_a_group_policy_agree_on_demo_tokens(demo):
    account, avp, store = demo
    scope_policy = avp.create_policy(policyStoreId=store, definition={"static": {"statement": (
        f'permit(principal, action == {NS}::Action::"get /avp", resource) '
        'when { context has token && context.token has scope && context.token.scope.contains("MyApi/avp.read") };')}}
    )["policyId"]
    # Who holds MyApi/avp.read per the demo rules: avp-group members and admins.
    holders = {u.username for u in DEMO.users if {"avp-group", "admins"} & set(u.groups)}
    assert holders == {"alice", "bob", "frank"}
    for user in DEMO.users:
        access, _ = sign_in(account, user.username)
        result = decide(avp, store, accessToken=access)
        expected = "ALLOW" if user.username in holders else "DENY"
        assert result["decision"] == expected, user.username
        assert result["determiningPolicies"] == ([{"policyId": scope_policy}] if expected == "ALLOW" else [])

    avp.delete_policy(policyStoreId=store, policyId=scope_policy)
    pool = account.user_pool_id
    for group in ("avp-group", "admins"):
        avp.create_policy(policyStoreId=store, definition={"static": {"statement": (
            f'permit(principal in {NS}::UserGroup::"{pool}|{group}", action in [{NS}::Action::"get /avp"], '
            'resource);')}})
    for user in DEMO.users:
        _, id_token = sign_in(account, user.username)
        expected = "ALLOW" if user.username in holders else "DENY"
        assert decide(avp, store, identityToken=id_token)["decision"] == expected, user.username


def test_tokens_from_a_client_the_identity_source_does_not_list_are_refused(embedded_aws, demo):
    account, avp, store = demo
    # The web client signs users in through the hosted UI; the identity source lists only the mobile client.
    hosted = embedded_aws.tokens.hosted_ui_tokens(account.client_ids["web"], "alice")
    with pytest.raises(avp.exceptions.ValidationException, match="client"):
        decide(avp, store, accessToken=hosted["access_token"])
