"""AVP's own limits on the local endpoint (migrate/embedded/avp/limits.py), through a plain boto3 client and real
signed tokens: what AWS refuses, the local endpoint refuses, so neither the demo nor a test can pass it."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from migrate.embedded.avp import limits
from tests.avp_helpers import (
    APPLICATION,
    Pool,
    action,
    add_identity_source,
    add_policy,
    group_policy,
    make_pool,
    make_store,
    schema,
)


@pytest.fixture
def avp(aws_clients):
    return aws_clients("verifiedpermissions")


@pytest.fixture
def pool(aws_clients) -> Pool:
    return make_pool(aws_clients("cognito-idp"), users={"alice": ["admins"]})


@pytest.fixture
def store(avp, pool) -> str:
    store_id = make_store(avp, schema_json=schema())
    add_identity_source(avp, store_id, pool)
    add_policy(avp, store_id, group_policy(pool.id, "admins", ["get /pets", "post /pets"]))
    return store_id


@pytest.fixture
def open_store(avp) -> str:
    """No schema, OFF mode: any entity types; everyone is permitted, so only a limit can stop a request."""
    store_id = make_store(avp, mode="OFF")
    add_policy(avp, store_id, "permit(principal, action, resource);")
    return store_id


def id_claims(pool: Pool, **extra) -> dict:
    now = int(time.time())
    return {"sub": pool.sub("alice"), "aud": pool.clients["app"], "token_use": "id", "iss": pool.issuer,
            "exp": now + 600, "iat": now, "cognito:username": "alice", **extra}


def access_claims(pool: Pool, **extra) -> dict:
    now = int(time.time())
    return {"sub": pool.sub("alice"), "client_id": pool.clients["app"], "token_use": "access",
            "iss": pool.issuer, "exp": now + 600, "iat": now, "username": "alice",
            "scope": "aws.cognito.signin.user.admin", **extra}


def ask_with(avp, store_id: str, **tokens: str) -> dict:
    return avp.is_authorized_with_token(policyStoreId=store_id, action=action("post /pets"),
                                        resource=APPLICATION, **tokens)


def refused(call) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    return error["Message"]


def groups(count: int) -> list[str]:
    return ["admins", *(f"g{i:03}" for i in range(count - 1))]


# --- transitive parents -------------------------------------------------------------------------------------


def test_the_limits_are_the_ones_plan_and_verify_use():
    from migrate.space import MAX_PARENTS
    from migrate.translate.limits import ENTITY_ID_MAX_BYTES
    from pretoken_lambda.rules import AVP_REFUSED_CLAIMS

    assert limits.MAX_TRANSITIVE_PARENTS == MAX_PARENTS == 99
    assert set(limits.REFUSED_CLAIM_NAMES) == AVP_REFUSED_CLAIMS
    assert ENTITY_ID_MAX_BYTES == 200


def test_token_with_more_groups_than_parents_allowed_is_refused(avp, pool, store):
    at_limit = pool.sign(id_claims(pool, **{"cognito:groups": groups(99)}))
    assert ask_with(avp, store, identityToken=at_limit)["decision"] == "ALLOW"
    over = pool.sign(id_claims(pool, **{"cognito:groups": groups(100)}))
    message = refused(lambda: ask_with(avp, store, identityToken=over))
    assert "99 transitive parents" in message
    over_access = pool.sign(access_claims(pool, **{"cognito:groups": groups(100)}))
    refused(lambda: ask_with(avp, store, accessToken=over_access))
    refused(lambda: avp.batch_is_authorized_with_token(
        policyStoreId=store, identityToken=over,
        requests=[{"action": action("post /pets"), "resource": APPLICATION}]))


def _entity(entity_id: str, parents: list[str], entity_type: str = "User") -> dict:
    return {"identifier": {"entityType": entity_type, "entityId": entity_id},
            "parents": [{"entityType": "Group", "entityId": p} for p in parents]}


def _is_authorized(avp, store_id: str, entity_list: list[dict], *, principal: str = "alice",
                   resource: str = "r") -> dict:
    return avp.is_authorized(policyStoreId=store_id,
                             principal={"entityType": "User", "entityId": principal},
                             action={"actionType": "Action", "actionId": "view"},
                             resource={"entityType": "Doc", "entityId": resource},
                             entities={"entityList": entity_list})


def test_is_authorized_counts_transitive_parents(avp, open_store):
    direct = [f"g{i}" for i in range(99)]
    assert _is_authorized(avp, open_store, [_entity("alice", direct)])["decision"] == "ALLOW"
    message = refused(lambda: _is_authorized(avp, open_store, [_entity("alice", [*direct, "g99"])]))
    assert "99 transitive parents" in message
    # The API reference's example: 91 groups, one of them in 8 more, is 99 parents (100 with the entity).
    ninety_one = [f"g{i}" for i in range(91)]
    within = [_entity("alice", ninety_one), _entity("g0", [f"up{i}" for i in range(8)], "Group")]
    assert _is_authorized(avp, open_store, within)["decision"] == "ALLOW"
    beyond = [_entity("alice", ninety_one), _entity("g0", [f"up{i}" for i in range(9)], "Group")]
    refused(lambda: _is_authorized(avp, open_store, beyond))
    # A resource entity is held to the same limit, and so is a batch (its entities are shared).
    refused(lambda: _is_authorized(avp, open_store, [_entity("r", [*direct, "g99"], "Doc")]))
    refused(lambda: avp.batch_is_authorized(
        policyStoreId=open_store, entities={"entityList": [_entity("alice", [*direct, "g99"])]},
        requests=[{"principal": {"entityType": "User", "entityId": "alice"},
                   "action": {"actionType": "Action", "actionId": "view"},
                   "resource": {"entityType": "Doc", "entityId": "r"}}]))


def test_cedar_json_entities_are_held_to_the_same_limits(avp, open_store):
    entities = [{"uid": {"type": "User", "id": "alice"}, "attrs": {},
                 "parents": [{"type": "Group", "id": f"g{i}"} for i in range(100)]}]
    refused(lambda: avp.is_authorized(
        policyStoreId=open_store, principal={"entityType": "User", "entityId": "alice"},
        action={"actionType": "Action", "actionId": "view"}, resource={"entityType": "Doc", "entityId": "r"},
        entities={"cedarJson": json.dumps(entities)}))


# --- claims AVP cannot map ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cognito", "custom", "dev"])
def test_token_with_a_claim_avp_cannot_map_is_refused(avp, pool, store, name):
    assert ask_with(avp, store, identityToken=pool.sign(id_claims(
        pool, **{"cognito:groups": ["admins"]})))["decision"] == "ALLOW"
    token = pool.sign(id_claims(pool, **{"cognito:groups": ["admins"], name: "x"}))
    message = refused(lambda: ask_with(avp, store, identityToken=token))
    assert repr(name) in message
    access = pool.sign(access_claims(pool, **{"cognito:groups": ["admins"], name: "x"}))
    refused(lambda: ask_with(avp, store, accessToken=access))


def test_literal_claim_next_to_prefixed_claims_is_refused_in_the_access_token_too(avp, pool, store):
    # The ID-token clash was refused before; an access token carrying it went through.
    token = pool.sign(access_claims(pool, **{"cognito:groups": ["admins"], "custom:team": "a", "custom": "b"}))
    message = refused(lambda: ask_with(avp, store, accessToken=token))
    assert "custom:-prefixed" in message


# --- entity id length ---------------------------------------------------------------------------------------


def test_principal_id_from_a_long_sub_is_refused(avp, pool, store):
    room = 200 - len(f"{pool.id}|")
    fits = pool.sign(id_claims(pool, sub="s" * room, **{"cognito:groups": ["admins"]}))
    assert ask_with(avp, store, identityToken=fits)["decision"] == "ALLOW"
    too_long = pool.sign(id_claims(pool, sub="s" * (room + 1), **{"cognito:groups": ["admins"]}))
    message = refused(lambda: ask_with(avp, store, identityToken=too_long))
    assert "201 bytes" in message


def test_long_group_id_from_the_token_is_refused(avp, pool, store):
    room = 200 - len(f"{pool.id}|")
    fits = pool.sign(id_claims(pool, **{"cognito:groups": ["admins", "é" * (room // 2)]}))
    assert ask_with(avp, store, identityToken=fits)["decision"] == "ALLOW"
    # Bytes, not characters: "é" is two bytes in UTF-8.
    too_long = pool.sign(id_claims(pool, **{"cognito:groups": ["admins", "é" * (room // 2) + "ab"]}))
    refused(lambda: ask_with(avp, store, identityToken=too_long))


def test_is_authorized_refuses_ids_over_200_bytes_below_the_models_maximum(avp, open_store):
    assert _is_authorized(avp, open_store, [], resource="r" * 200)["decision"] == "ALLOW"
    for call in (lambda: _is_authorized(avp, open_store, [], resource="r" * 201),
                 lambda: _is_authorized(avp, open_store, [], principal="p" * 201),
                 lambda: _is_authorized(avp, open_store, [_entity("alice", ["g" * 201])]),
                 lambda: avp.is_authorized(policyStoreId=open_store,
                                           principal={"entityType": "User", "entityId": "alice"},
                                           action={"actionType": "Action", "actionId": "a" * 201},
                                           resource={"entityType": "Doc", "entityId": "r"})):
        assert "200 bytes" in refused(call)
    # Past the model's own maximum (EntityId, 612) the model walk answers, as before.
    assert "612" in refused(lambda: _is_authorized(avp, open_store, [], resource="r" * 613))


# --- namespace ----------------------------------------------------------------------------------------------


def _schema_with(namespace: str) -> str:
    return json.dumps({namespace: {"entityTypes": {"User": {}}, "actions": {}}})


@pytest.mark.parametrize("namespace", ["", "aws", "AWS", "amazon", "Amazon", "cedar", "CEDAR", "aws::Orders",
                                       "Orders::Cedar"])
def test_put_schema_refuses_reserved_namespaces(avp, namespace):
    store_id = make_store(avp)
    refused(lambda: avp.put_schema(policyStoreId=store_id, definition={"cedarJson": _schema_with(namespace)}))
    with pytest.raises(ClientError):
        avp.get_schema(policyStoreId=store_id)  # nothing half-written


@pytest.mark.parametrize("namespace", ["Laws", "Cedarwood", "PetStore", "Orders::Api"])
def test_put_schema_accepts_names_that_only_contain_the_words(avp, namespace):
    store_id = make_store(avp)
    answer = avp.put_schema(policyStoreId=store_id, definition={"cedarJson": _schema_with(namespace)})
    assert answer["namespaces"] == [namespace]


def test_put_schema_refuses_a_second_namespace(avp):
    store_id = make_store(avp)
    two = json.dumps({"A": {"entityTypes": {}, "actions": {}}, "B": {"entityTypes": {}, "actions": {}}})
    assert "only one namespace" in refused(
        lambda: avp.put_schema(policyStoreId=store_id, definition={"cedarJson": two}))
