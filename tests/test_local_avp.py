"""The local Verified Permissions endpoint, through plain boto3 clients and real signed Cognito tokens."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.avp_helpers import (
    APPLICATION,
    GROUP,
    NAMESPACE,
    USER,
    Pool,
    action,
    add_identity_source,
    add_policy,
    claims_of,
    group_policy,
    make_pool,
    make_store,
    schema,
    tamper,
    unsigned_token,
)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def avp(aws_clients):
    return aws_clients("verifiedpermissions")


@pytest.fixture
def idp(aws_clients):
    return aws_clients("cognito-idp")


@pytest.fixture
def pool(idp) -> Pool:
    return make_pool(idp, users={"alice": ["admins"], "bob": ["viewers"], "carol": []})


@pytest.fixture
def pets(avp, pool):
    """A STRICT store like the console's API-linked one: admins may read and write, viewers may read."""
    store_id = make_store(avp, schema_json=schema())
    add_identity_source(avp, store_id, pool)
    admin = add_policy(avp, store_id, group_policy(pool.id, "admins", ["get /pets", "post /pets"]))
    viewer = add_policy(avp, store_id, group_policy(pool.id, "viewers", ["read"]))
    return {"store": store_id, "admin": admin, "viewer": viewer}


def ask(avp, store_id: str, action_id: str, **tokens: str) -> dict:
    return avp.is_authorized_with_token(policyStoreId=store_id, action=action(action_id),
                                        resource=APPLICATION, **tokens)


# --- policy stores ------------------------------------------------------------------------------------------


def test_policy_store_round_trip(avp):
    created = avp.create_policy_store(validationSettings={"mode": "STRICT"}, description="pets",
                                      deletionProtection="ENABLED")
    store_id = created["policyStoreId"]
    assert len(store_id) == 22 and store_id.isalnum()
    assert created["arn"] == f"arn:aws:verifiedpermissions::123456789012:policy-store/{store_id}"
    assert isinstance(created["createdDate"], dt.datetime)

    got = avp.get_policy_store(policyStoreId=store_id)
    assert got["validationSettings"] == {"mode": "STRICT"}
    assert got["description"] == "pets"
    assert got["deletionProtection"] == "ENABLED"
    assert got["createdDate"] == created["createdDate"]

    with pytest.raises(ClientError) as excinfo:
        avp.delete_policy_store(policyStoreId=store_id)
    assert error_of(excinfo)[0] == "InvalidStateException"

    avp.update_policy_store(policyStoreId=store_id, validationSettings={"mode": "OFF"},
                            deletionProtection="DISABLED")
    assert avp.get_policy_store(policyStoreId=store_id)["validationSettings"] == {"mode": "OFF"}
    avp.delete_policy_store(policyStoreId=store_id)
    avp.delete_policy_store(policyStoreId=store_id)  # idempotent: a missing store still answers 200
    with pytest.raises(ClientError) as excinfo:
        avp.get_policy_store(policyStoreId=store_id)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert excinfo.value.response["resourceType"] == "POLICY_STORE"
    assert excinfo.value.response["resourceId"] == store_id


def test_list_policy_stores_pages(avp):
    created = [make_store(avp, mode="OFF") for _ in range(5)]
    first = avp.list_policy_stores(maxResults=2)
    assert len(first["policyStores"]) == 2 and first["nextToken"]
    listed = [s["policyStoreId"] for s in first["policyStores"]]
    for page in avp.get_paginator("list_policy_stores").paginate(
            PaginationConfig={"PageSize": 2, "StartingToken": first["nextToken"]}):
        listed += [s["policyStoreId"] for s in page["policyStores"]]
    assert listed == created


def test_client_token_retries_and_conflicts(avp):
    first = avp.create_policy_store(validationSettings={"mode": "OFF"}, clientToken="token-1")
    again = avp.create_policy_store(validationSettings={"mode": "OFF"}, clientToken="token-1")
    assert again["policyStoreId"] == first["policyStoreId"]
    with pytest.raises(ClientError) as excinfo:
        avp.create_policy_store(validationSettings={"mode": "STRICT"}, clientToken="token-1")
    assert error_of(excinfo)[0] == "ConflictException"
    assert len(avp.list_policy_stores()["policyStores"]) == 1


def test_enum_outside_the_model_is_rejected_by_the_service(avp):
    with pytest.raises(ClientError) as excinfo:  # boto3 does not check enums; the service does
        avp.create_policy_store(validationSettings={"mode": "LOOSE"})
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert "validationSettings.mode" in message and "OFF, STRICT" in message


# --- schema -------------------------------------------------------------------------------------------------


def test_schema_round_trip_and_rejections(avp):
    store_id = make_store(avp)
    with pytest.raises(ClientError) as excinfo:
        avp.get_schema(policyStoreId=store_id)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"

    put = avp.put_schema(policyStoreId=store_id, definition={"cedarJson": schema()})
    assert put["namespaces"] == [NAMESPACE]
    got = avp.get_schema(policyStoreId=store_id)
    assert json.loads(got["schema"]) == json.loads(schema())
    assert got["namespaces"] == [NAMESPACE]

    bad = json.dumps({NAMESPACE: {"entityTypes": {"User": {"memberOfTypes": ["Nope"]}}, "actions": {}}})
    with pytest.raises(ClientError) as excinfo:
        avp.put_schema(policyStoreId=store_id, definition={"cedarJson": bad})
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "Nope" in message

    huge = json.dumps({NAMESPACE: {"entityTypes": {f"T{i:06d}": {} for i in range(8000)}, "actions": {}}})
    assert len(huge) > 100_000
    with pytest.raises(ClientError) as excinfo:
        avp.put_schema(policyStoreId=store_id, definition={"cedarJson": huge})
    assert error_of(excinfo)[0] == "ServiceQuotaExceededException"
    assert json.loads(avp.get_schema(policyStoreId=store_id)["schema"]) == json.loads(schema())  # unchanged


# --- identity sources ---------------------------------------------------------------------------------------


def test_identity_source_round_trip(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    source_id = add_identity_source(avp, store_id, pool, client_ids=[pool.clients["app"]])

    got = avp.get_identity_source(policyStoreId=store_id, identitySourceId=source_id)
    assert got["principalEntityType"] == USER
    cognito = got["configuration"]["cognitoUserPoolConfiguration"]
    assert cognito == {"userPoolArn": pool.arn, "clientIds": [pool.clients["app"]], "issuer": pool.issuer,
                       "groupConfiguration": {"groupEntityType": GROUP}}
    assert got["details"]["userPoolArn"] == pool.arn and got["details"]["discoveryUrl"] == pool.issuer

    listed = avp.list_identity_sources(policyStoreId=store_id)["identitySources"]
    assert [s["identitySourceId"] for s in listed] == [source_id]
    other_type = avp.list_identity_sources(policyStoreId=store_id,
                                           filters=[{"principalEntityType": "Other::User"}])
    assert other_type["identitySources"] == []

    avp.delete_identity_source(policyStoreId=store_id, identitySourceId=source_id)
    with pytest.raises(ClientError) as excinfo:
        avp.get_identity_source(policyStoreId=store_id, identitySourceId=source_id)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert excinfo.value.response["resourceType"] == "IDENTITY_SOURCE"


def test_only_one_identity_source_per_store(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    add_identity_source(avp, store_id, pool)
    with pytest.raises(ClientError) as excinfo:
        add_identity_source(avp, store_id, pool)
    assert error_of(excinfo)[0] == "ServiceQuotaExceededException"
    assert excinfo.value.response["resourceType"] == "IDENTITY_SOURCE"


def test_identity_source_needs_an_existing_user_pool(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    missing = pool.arn.rsplit("/", 1)[0] + "/us-east-1_doesnotexist"
    with pytest.raises(ClientError) as excinfo:
        avp.create_identity_source(policyStoreId=store_id, principalEntityType=USER,
                                   configuration={"cognitoUserPoolConfiguration": {"userPoolArn": missing}})
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "does not exist" in message


def test_identity_source_defaults(avp, pool):
    store_id = make_store(avp, mode="OFF")
    source_id = avp.create_identity_source(
        policyStoreId=store_id, configuration={"cognitoUserPoolConfiguration": {"userPoolArn": pool.arn}},
    )["identitySourceId"]
    got = avp.get_identity_source(policyStoreId=store_id, identitySourceId=source_id)
    assert got["principalEntityType"] == "AWS::Cognito"
    assert "groupConfiguration" not in got["configuration"]["cognitoUserPoolConfiguration"]
    # Groups still become parents, of the default group type AWS::CognitoGroup.
    add_policy(avp, store_id,
               f'permit(principal in AWS::CognitoGroup::"{pool.id}|admins", action, resource);')
    alice, bob = pool.sign_in("alice").access_token, pool.sign_in("bob").access_token
    assert ask(avp, store_id, "get /pets", accessToken=alice)["decision"] == "ALLOW"
    assert ask(avp, store_id, "get /pets", accessToken=bob)["decision"] == "DENY"


# --- policies -----------------------------------------------------------------------------------------------


def test_policy_round_trip(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    statement = group_policy(pool.id, "admins", ["get /pets", "post /pets"])
    created = avp.create_policy(policyStoreId=store_id,
                                definition={"static": {"statement": statement, "description": "admins"}})
    policy_id = created["policyId"]
    assert created["policyType"] == "STATIC" and created["effect"] == "Permit"
    assert created["principal"] == {"entityType": GROUP, "entityId": f"{pool.id}|admins"}
    assert "resource" not in created
    assert created["actions"] == [action("get /pets"), action("post /pets")]

    got = avp.get_policy(policyStoreId=store_id, policyId=policy_id)
    assert got["definition"]["static"] == {"statement": statement, "description": "admins"}

    updated_statement = group_policy(pool.id, "admins", ["get /pets"])
    updated = avp.update_policy(policyStoreId=store_id, policyId=policy_id,
                                definition={"static": {"statement": updated_statement}})
    assert updated["actions"] == [action("get /pets")]
    assert avp.get_policy(policyStoreId=store_id, policyId=policy_id)["definition"]["static"]["statement"] \
        == updated_statement

    avp.delete_policy(policyStoreId=store_id, policyId=policy_id)
    with pytest.raises(ClientError) as excinfo:
        avp.get_policy(policyStoreId=store_id, policyId=policy_id)
    assert error_of(excinfo)[0] == "ResourceNotFoundException"
    assert excinfo.value.response["resourceType"] == "POLICY"


@pytest.mark.parametrize("changed", [
    'forbid(principal in PetStore::UserGroup::"{pool}|admins", action in [PetStore::Action::"get /pets"], '
    'resource);',
    'permit(principal in PetStore::UserGroup::"{pool}|viewers", action in [PetStore::Action::"get /pets"], '
    'resource);',
    'permit(principal in PetStore::UserGroup::"{pool}|admins", action in [PetStore::Action::"get /pets"], '
    'resource == PetStore::Application::"PetStore");',
    'permit(principal in PetStore::UserGroup::"{pool}|admins", action in [PetStore::Action::"delete /pets"], '
    'resource);',
], ids=["effect", "principal", "resource", "strict-validation"])
def test_update_policy_refuses_what_avp_forbids(avp, pool, changed):
    store_id = make_store(avp, schema_json=schema())
    policy_id = add_policy(avp, store_id, group_policy(pool.id, "admins", ["get /pets"]))
    with pytest.raises(ClientError) as excinfo:
        avp.update_policy(policyStoreId=store_id, policyId=policy_id,
                          definition={"static": {"statement": changed.format(pool=pool.id)}})
    assert error_of(excinfo)[0] == "ValidationException"


def test_list_policies_filters_and_pages(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    admin = add_policy(avp, store_id, group_policy(pool.id, "admins", ["post /pets"]))
    viewer = add_policy(avp, store_id, group_policy(pool.id, "viewers", ["get /pets"]))
    anyone = add_policy(avp, store_id, 'permit(principal, action == PetStore::Action::"read", resource);')

    only_admins = avp.list_policies(policyStoreId=store_id, filter={"principal": {"identifier": {
        "entityType": GROUP, "entityId": f"{pool.id}|admins"}}})["policies"]
    assert [p["policyId"] for p in only_admins] == [admin]
    unscoped = avp.list_policies(policyStoreId=store_id,
                                 filter={"principal": {"unspecified": True}})["policies"]
    assert [p["policyId"] for p in unscoped] == [anyone]

    first = avp.list_policies(policyStoreId=store_id, maxResults=2)
    second = avp.list_policies(policyStoreId=store_id, maxResults=2, nextToken=first["nextToken"])
    assert [p["policyId"] for p in first["policies"] + second["policies"]] == [admin, viewer, anyone]
    assert "nextToken" not in second


def test_strict_mode_rejects_policies_the_schema_does_not_admit(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    undeclared_action = 'permit(principal, action == PetStore::Action::"delete /pets", resource);'
    with pytest.raises(ClientError) as excinfo:
        add_policy(avp, store_id, undeclared_action)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "delete /pets" in message

    undeclared_type = f'permit(principal in PetStore::Team::"{pool.id}|admins", action, resource);'
    with pytest.raises(ClientError) as excinfo:
        add_policy(avp, store_id, undeclared_type)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "PetStore::Team" in message
    assert excinfo.value.response["fieldList"][0]["path"] == "definition.static.statement"
    assert avp.list_policies(policyStoreId=store_id)["policies"] == []

    off = make_store(avp, mode="OFF", schema_json=schema())
    add_policy(avp, off, undeclared_action)  # OFF: no validation

    no_schema = make_store(avp, mode="STRICT")
    with pytest.raises(ClientError) as excinfo:
        add_policy(avp, no_schema, group_policy(pool.id, "admins", ["get /pets"]))
    assert error_of(excinfo)[0] == "ValidationException"


def test_policy_statement_quota_and_shape(avp):
    store_id = make_store(avp, mode="OFF")
    padding = " || ".join(f'context.k{i} == "{"x" * 40}"' for i in range(220))
    huge = f"permit(principal, action, resource) when {{ {padding} }};"
    assert len(huge.encode()) > 10_000
    with pytest.raises(ClientError) as excinfo:
        add_policy(avp, store_id, huge)
    assert error_of(excinfo)[0] == "ServiceQuotaExceededException"
    assert excinfo.value.response["resourceType"] == "POLICY"

    for statement in ("permit(principal, action, resource); forbid(principal, action, resource);",
                      "permit(principal, action, resource",
                      "permit(principal == ?principal, action, resource);"):
        with pytest.raises(ClientError) as excinfo:
            add_policy(avp, store_id, statement)
        assert error_of(excinfo)[0] == "ValidationException"

    with pytest.raises(ClientError) as excinfo:
        avp.create_policy(policyStoreId=store_id, definition={"templateLinked": {"policyTemplateId": "t1"}})
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "Template-linked" in message


def test_policy_set_is_parsed_once_per_change(embedded_aws, avp, pets, pool):
    record = embedded_aws.avp._backend.state.stores[pets["store"]]
    tokens = pool.sign_in("alice")
    ask(avp, pets["store"], "get /pets", accessToken=tokens.access_token)
    compiled = record.policy_set()
    ask(avp, pets["store"], "post /pets", accessToken=tokens.access_token)
    assert record.policy_set() is compiled
    add_policy(avp, pets["store"], group_policy(pool.id, "viewers", ["post /pets"]))
    assert record.policy_set() is not compiled


# --- IsAuthorizedWithToken ----------------------------------------------------------------------------------


def test_group_policies_allow_and_deny_with_access_tokens(avp, pool, pets):
    alice, bob, carol = (pool.sign_in(u).access_token for u in ("alice", "bob", "carol"))

    allowed = ask(avp, pets["store"], "post /pets", accessToken=alice)
    assert allowed["decision"] == "ALLOW"
    assert allowed["determiningPolicies"] == [{"policyId": pets["admin"]}]
    assert allowed["principal"] == {"entityType": USER, "entityId": f"{pool.id}|{pool.sub('alice')}"}
    assert allowed["errors"] == []

    # bob's group may "read", and "get /pets" is a member of the "read" action group in the schema.
    read = ask(avp, pets["store"], "get /pets", accessToken=bob)
    assert read["decision"] == "ALLOW" and read["determiningPolicies"] == [{"policyId": pets["viewer"]}]
    denied = ask(avp, pets["store"], "post /pets", accessToken=bob)
    assert denied["decision"] == "DENY" and denied["determiningPolicies"] == []
    assert ask(avp, pets["store"], "get /pets", accessToken=carol)["decision"] == "DENY"


def test_id_token_and_both_tokens(avp, pool, pets):
    tokens = pool.sign_in("alice")
    by_id = ask(avp, pets["store"], "post /pets", identityToken=tokens.id_token)
    both = ask(avp, pets["store"], "post /pets", identityToken=tokens.id_token,
               accessToken=tokens.access_token)
    assert by_id["decision"] == both["decision"] == "ALLOW"
    assert by_id["principal"] == both["principal"]

    other = pool.sign_in("bob")
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "post /pets", identityToken=tokens.id_token, accessToken=other.access_token)
    assert error_of(excinfo)[0] == "ValidationException"


@pytest.mark.parametrize("parameter", ["identityToken", "accessToken"])
def test_wrong_token_type(avp, pool, pets, parameter):
    tokens = pool.sign_in("alice")
    wrong = tokens.access_token if parameter == "identityToken" else tokens.id_token
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "get /pets", **{parameter: wrong})
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "token_use" in message


def test_expired_token(embedded_aws, monkeypatch, avp, pool, pets):
    tokens = pool.sign_in("alice")
    expires = claims_of(tokens.access_token)["exp"]
    monkeypatch.setattr(embedded_aws.avp, "clock", lambda: expires - 1)
    assert ask(avp, pets["store"], "get /pets", accessToken=tokens.access_token)["decision"] == "ALLOW"
    monkeypatch.setattr(embedded_aws.avp, "clock", lambda: expires + 1)
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "get /pets", accessToken=tokens.access_token)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "expired" in message


def test_token_from_another_pool(avp, idp, pets):
    other = make_pool(idp, name="other", users={"alice": ["admins"]})
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "get /pets", accessToken=other.sign_in("alice").access_token)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and other.id in message


def test_unknown_client(avp, idp):
    pool = make_pool(idp, users={"alice": ["admins"]}, clients=("app", "other"))
    store_id = make_store(avp, schema_json=schema())
    add_identity_source(avp, store_id, pool, client_ids=[pool.clients["app"]])
    add_policy(avp, store_id, group_policy(pool.id, "admins", ["get /pets"]))
    welcome = pool.sign_in("alice", "app").access_token
    assert ask(avp, store_id, "get /pets", accessToken=welcome)["decision"] == "ALLOW"
    intruder = pool.sign_in("alice", "other")
    for parameter, token, claim in (("accessToken", intruder.access_token, "client_id"),
                                    ("identityToken", intruder.id_token, "aud")):
        with pytest.raises(ClientError) as excinfo:
            ask(avp, store_id, "get /pets", **{parameter: token})
        code, message = error_of(excinfo)
        assert code == "ValidationException" and claim in message


def test_tampered_signature(avp, pool, pets):
    forged = tamper(pool.sign_in("bob").access_token)  # bob promotes himself to admins
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "post /pets", accessToken=forged)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "signature" in message


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_symmetric_tokens(avp, pool, pets, alg):
    claims = claims_of(pool.sign_in("alice").access_token)
    with pytest.raises(ClientError) as excinfo:
        ask(avp, pets["store"], "post /pets", accessToken=unsigned_token(claims, alg))
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "algorithm" in message


def test_tokens_we_sign_with_the_pool_key_are_accepted(avp, pool, pets):
    """Client-credentials shape (sub == client_id, no username, no groups): a principal, no group grants."""
    now = int(time.time())
    client_id = pool.clients["app"]
    token = pool.sign({"sub": client_id, "client_id": client_id, "token_use": "access", "scope": "api/read",
                       "iss": pool.issuer, "exp": now + 600, "iat": now})
    answer = ask(avp, pets["store"], "get /pets", accessToken=token)
    assert answer["decision"] == "DENY"
    assert answer["principal"] == {"entityType": USER, "entityId": f"{pool.id}|{client_id}"}


def test_store_without_identity_source_refuses_tokens(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    with pytest.raises(ClientError) as excinfo:
        ask(avp, store_id, "get /pets", accessToken=pool.sign_in("alice").access_token)
    assert error_of(excinfo)[0] == "ValidationException"


def test_token_entities_may_not_redefine_the_principal(avp, pool, pets):
    tokens = pool.sign_in("bob")
    principal = {"entityType": USER, "entityId": f"{pool.id}|{pool.sub('bob')}"}
    with pytest.raises(ClientError) as excinfo:
        avp.is_authorized_with_token(
            policyStoreId=pets["store"], accessToken=tokens.access_token, action=action("post /pets"),
            resource=APPLICATION, entities={"entityList": [{"identifier": principal, "parents": [
                {"entityType": GROUP, "entityId": f"{pool.id}|admins"}]}]})
    assert error_of(excinfo)[0] == "ValidationException"


def test_claims_map_to_principal_attributes_and_context_token(avp, pool):
    """STRICT store whose schema declares ID-token claims on the User and access-token claims under token."""
    store_id = make_store(avp, schema_json=schema(
        user_attributes={"email": {"type": "String", "required": False},
                         "email_verified": {"type": "Boolean", "required": False},
                         "cognito:username": {"type": "String", "required": False}},
        token={"scope": {"type": "Set", "element": {"type": "String"}, "required": False},
               "client_id": {"type": "String", "required": False}}))
    add_identity_source(avp, store_id, pool)
    by_name = add_policy(avp, store_id, (
        'permit(principal, action == PetStore::Action::"get /pets", resource) when { '
        'principal has email && principal.email == "bob@example.com" && '
        'principal has "cognito:username" && principal["cognito:username"] == "bob" && '
        'principal has email_verified && principal.email_verified };'))
    by_scope = add_policy(avp, store_id, (
        'permit(principal, action == PetStore::Action::"post /pets", resource) when { '
        'context has token && context.token has scope && '
        'context.token.scope.contains("aws.cognito.signin.user.admin") };'))
    bob = pool.sign_in("bob")
    by_id = ask(avp, store_id, "get /pets", identityToken=bob.id_token)
    assert by_id["decision"] == "ALLOW" and by_id["determiningPolicies"] == [{"policyId": by_name}]
    # An access token alone gives the principal no attributes: the same policy cannot match.
    assert ask(avp, store_id, "get /pets", accessToken=bob.access_token)["decision"] == "DENY"
    by_access = ask(avp, store_id, "post /pets", accessToken=bob.access_token)
    assert by_access["decision"] == "ALLOW" and by_access["determiningPolicies"] == [{"policyId": by_scope}]
    assert ask(avp, store_id, "post /pets", identityToken=bob.id_token)["decision"] == "DENY"


def test_dot_notation_for_cognito_claims_without_schema(avp, pool):
    store_id = make_store(avp, mode="OFF")
    add_identity_source(avp, store_id, pool)
    add_policy(avp, store_id, 'permit(principal, action, resource) when { principal.cognito.username == '
                              '"bob" && principal["cognito:username"] == "bob" };')
    assert ask(avp, store_id, "get /pets", identityToken=pool.sign_in("bob").id_token)["decision"] == "ALLOW"
    assert ask(avp, store_id, "get /pets", identityToken=pool.sign_in("carol").id_token)["decision"] == "DENY"


def test_cognito_and_custom_claims_cannot_clash(avp, pool, pets):
    now = int(time.time())
    base = {"sub": pool.sub("alice"), "aud": pool.clients["app"], "token_use": "id", "iss": pool.issuer,
            "exp": now + 600, "iat": now, "cognito:groups": ["admins"]}
    assert ask(avp, pets["store"], "post /pets", identityToken=pool.sign(
        {**base, "custom:team": "a"}))["decision"] == "ALLOW"
    with pytest.raises(ClientError) as excinfo:
        clash = pool.sign({**base, "custom:team": "a", "custom": 1})
        ask(avp, pets["store"], "post /pets", identityToken=clash)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "'custom'" in message


def test_batch_is_authorized_with_token(avp, pool, pets):
    bob = pool.sign_in("bob").access_token
    requests = [{"action": action("post /pets"), "resource": APPLICATION},
                {"action": action("get /pets"), "resource": APPLICATION},
                {"action": action("read"), "resource": APPLICATION}]
    answer = avp.batch_is_authorized_with_token(policyStoreId=pets["store"], accessToken=bob,
                                                requests=requests)
    assert [r["decision"] for r in answer["results"]] == ["DENY", "ALLOW", "ALLOW"]
    assert [r["request"]["action"]["actionId"] for r in answer["results"]] == [
        "post /pets", "get /pets", "read"]
    assert answer["results"][1]["determiningPolicies"] == [{"policyId": pets["viewer"]}]
    assert answer["principal"] == {"entityType": USER, "entityId": f"{pool.id}|{pool.sub('bob')}"}

    with pytest.raises(ClientError) as excinfo:
        avp.batch_is_authorized_with_token(policyStoreId=pets["store"], accessToken=bob,
                                           requests=requests * 11)
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "30" in message


# --- IsAuthorized -------------------------------------------------------------------------------------------


def test_is_authorized_with_entities_and_context(avp):
    store_id = make_store(avp, mode="OFF")
    owner = add_policy(avp, store_id, (
        'permit(principal, action == Photo::Action::"view", resource) when { '
        'resource.owner == principal && context.mfa && context.level >= 2 && '
        'context.ip.isInRange(ip("10.0.0.0/8")) && context.tags.contains("a") && '
        'context.meta.region == "eu" && context.when < datetime("2030-01-01") && '
        'context.limit.greaterThan(decimal("1.5")) && context.window == duration("90m") };'))
    add_policy(avp, store_id, 'forbid(principal in Photo::Group::"banned", action, resource);')
    alice = {"entityType": "Photo::User", "entityId": "alice"}
    photo = {"entityType": "Photo::Photo", "entityId": "p1"}
    entities = {"entityList": [
        {"identifier": photo, "attributes": {"owner": {"entityIdentifier": alice}}},
        {"identifier": alice, "attributes": {}, "parents": []},
    ]}
    context = {"contextMap": {
        "mfa": {"boolean": True}, "level": {"long": 3}, "ip": {"ipaddr": "10.1.2.3"},
        "tags": {"set": [{"string": "a"}, {"string": "b"}]}, "meta": {"record": {"region": {"string": "eu"}}},
        "when": {"datetime": "2024-10-15T11:35:00Z"}, "limit": {"decimal": "2.25"},
        "window": {"duration": "1h30m"}}}

    def decide(principal, ctx, ents=entities):
        return avp.is_authorized(policyStoreId=store_id, principal=principal,
                                 action={"actionType": "Photo::Action", "actionId": "view"}, resource=photo,
                                 context=ctx, entities=ents)

    allowed = decide(alice, context)
    assert allowed["decision"] == "ALLOW" and allowed["determiningPolicies"] == [{"policyId": owner}]
    low = json.loads(json.dumps(context))
    low["contextMap"]["level"] = {"long": 1}
    assert decide(alice, low)["decision"] == "DENY"
    assert decide({"entityType": "Photo::User", "entityId": "bob"}, context)["decision"] == "DENY"

    banned = {"entityList": [*entities["entityList"][:1], {"identifier": alice, "parents": [
        {"entityType": "Photo::Group", "entityId": "banned"}]}]}
    forbidden = decide(alice, context, banned)
    assert forbidden["decision"] == "DENY" and len(forbidden["determiningPolicies"]) == 1

    as_json = decide(alice, {"cedarJson": json.dumps({"mfa": True, "level": 5})},
                     {"cedarJson": json.dumps([{"uid": {"type": "Photo::Photo", "id": "p1"},
                                                "attrs": {"owner": {"__entity": {"type": "Photo::User",
                                                                                 "id": "alice"}}},
                                                "parents": []}])})
    assert as_json["decision"] == "DENY"  # the owner policy reads context.ip, which is missing: an error
    assert as_json["errors"] and owner in as_json["errors"][0]["errorDescription"]


def test_is_authorized_in_strict_mode_validates_the_request(avp, pool):
    store_id = make_store(avp, schema_json=schema())
    add_policy(avp, store_id, group_policy(pool.id, "admins", ["get /pets"]))
    principal = {"entityType": USER, "entityId": "u1"}
    member = {"entityList": [{"identifier": principal, "parents": [{"entityType": GROUP,
                                                                    "entityId": f"{pool.id}|admins"}]}]}
    answer = avp.is_authorized(policyStoreId=store_id, principal=principal, action=action("get /pets"),
                               resource=APPLICATION, entities=member)
    assert answer["decision"] == "ALLOW"
    with pytest.raises(ClientError) as excinfo:
        avp.is_authorized(policyStoreId=store_id, principal=principal, action=action("delete /pets"),
                          resource=APPLICATION)
    assert error_of(excinfo)[0] == "ValidationException"
    answers = avp.batch_is_authorized(policyStoreId=store_id, entities=member, requests=[
        {"principal": principal, "action": action("post /pets"), "resource": APPLICATION},
        {"principal": principal, "action": action("get /pets"), "resource": APPLICATION}])
    assert [r["decision"] for r in answers["results"]] == ["DENY", "ALLOW"]


# --- protocol -----------------------------------------------------------------------------------------------


def raw_call(embedded_aws, target: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(embedded_aws.avp_url + "/", data=body, method="POST", headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_protocol_errors(embedded_aws):
    status, body = raw_call(embedded_aws, "VerifiedPermissions.NoSuchThing", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw_call(embedded_aws, "VerifiedPermissions.ListPolicyStores", b"{not json")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw_call(embedded_aws, "VerifiedPermissions.GetPolicyStore", b"{}")
    assert (status, body["__type"]) == (400, "ValidationException")
    assert body["fieldList"][0]["path"] == "policyStoreId"
    status, body = raw_call(embedded_aws, "VerifiedPermissions.ListPolicyStores", b"{}")
    assert (status, body) == (200, {"policyStores": []})
