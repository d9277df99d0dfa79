"""Helpers for the local Verified Permissions tests: a Cognito pool with signed-in users, a schema, stores."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

PASSWORD = "Avp-Test-Passw0rd!"
NAMESPACE = "PetStore"
USER = f"{NAMESPACE}::User"
GROUP = f"{NAMESPACE}::UserGroup"
APPLICATION = {"entityType": f"{NAMESPACE}::Application", "entityId": NAMESPACE}
ACTION_TYPE = f"{NAMESPACE}::Action"


def action(action_id: str) -> dict[str, str]:
    return {"actionType": ACTION_TYPE, "actionId": action_id}


def schema(*, user_attributes: dict[str, Any] | None = None, token: dict[str, Any] | None = None) -> str:
    """The console's API-linked schema shape: User in UserGroup, Application, one action per route.

    ``user_attributes`` declares principal attributes (ID-token claims); ``token`` declares ``context.token``.
    """
    context: dict[str, Any] = {"type": "Record", "attributes": {}}
    if token is not None:
        context["attributes"]["token"] = {"type": "Record", "required": False, "attributes": token}
    applies = {"principalTypes": ["User"], "resourceTypes": ["Application"], "context": context}
    user: dict[str, Any] = {"memberOfTypes": ["UserGroup"]}
    if user_attributes is not None:
        user["shape"] = {"type": "Record", "attributes": user_attributes}
    return json.dumps({NAMESPACE: {
        "entityTypes": {"User": user, "UserGroup": {}, "Application": {}},
        "actions": {
            "read": {"appliesTo": applies},
            "get /pets": {"appliesTo": applies, "memberOf": [{"id": "read"}]},
            "post /pets": {"appliesTo": applies},
        },
    }})


def group_policy(pool_id: str, group: str, actions: list[str]) -> str:
    listed = ", ".join(f'{ACTION_TYPE}::"{a}"' for a in actions)
    return f'permit(principal in {GROUP}::"{pool_id}|{group}", action in [{listed}], resource);'


@dataclass
class Tokens:
    id_token: str
    access_token: str


@dataclass
class Pool:
    """A moto user pool with groups, users (all signed in through AdminInitiateAuth) and app clients."""

    idp: Any
    id: str
    arn: str
    clients: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.us-east-1.amazonaws.com/{self.id}"

    def sign_in(self, username: str, client: str = "app") -> Tokens:
        result = self.idp.admin_initiate_auth(
            UserPoolId=self.id, ClientId=self.clients[client], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]
        return Tokens(result["IdToken"], result["AccessToken"])

    def sub(self, username: str) -> str:
        attributes = self.idp.admin_get_user(UserPoolId=self.id, Username=username)["UserAttributes"]
        return next(a["Value"] for a in attributes if a["Name"] == "sub")

    def sign(self, claims: dict[str, Any]) -> str:
        """A token signed with the key this pool's JWKS serves (moto's key), with any claims we like."""
        from moto.cognitoidp.models import cognitoidp_backends

        from migrate.embedded.cognito_tokens import sign

        for per_region in cognitoidp_backends.values():
            backend = per_region.get("us-east-1")
            if backend is not None and self.id in backend.user_pools:
                return sign(backend.user_pools[self.id], claims)
        raise AssertionError(f"pool {self.id} not found in moto")


def make_pool(idp: Any, *, name: str = "pets", users: dict[str, list[str]],
              clients: tuple[str, ...] = ("app",)) -> Pool:
    created = idp.create_user_pool(PoolName=name)["UserPool"]
    pool = Pool(idp, created["Id"], created["Arn"])
    for group in sorted({g for groups in users.values() for g in groups}):
        idp.create_group(UserPoolId=pool.id, GroupName=group)
    for username, groups in users.items():
        idp.admin_create_user(UserPoolId=pool.id, Username=username, MessageAction="SUPPRESS",
                              TemporaryPassword=PASSWORD,
                              UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"},
                                              {"Name": "email_verified", "Value": "true"}])
        idp.admin_set_user_password(UserPoolId=pool.id, Username=username, Password=PASSWORD, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool.id, Username=username, GroupName=group)
    for client in clients:
        pool.clients[client] = idp.create_user_pool_client(
            UserPoolId=pool.id, ClientName=client,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
    return pool


def make_store(avp: Any, *, mode: str = "STRICT", schema_json: str | None = None) -> str:
    store_id = avp.create_policy_store(validationSettings={"mode": mode})["policyStoreId"]
    if schema_json is not None:
        avp.put_schema(policyStoreId=store_id, definition={"cedarJson": schema_json})
    return store_id


def add_identity_source(avp: Any, store_id: str, pool: Pool, *, client_ids: list[str] | None = None,
                        group_entity_type: str | None = GROUP) -> str:
    config: dict[str, Any] = {"userPoolArn": pool.arn, "clientIds": client_ids or []}
    if group_entity_type is not None:
        config["groupConfiguration"] = {"groupEntityType": group_entity_type}
    created = avp.create_identity_source(policyStoreId=store_id, principalEntityType=USER,
                                         configuration={"cognitoUserPoolConfiguration": config})
    return created["identitySourceId"]


def add_policy(avp: Any, store_id: str, statement: str) -> str:
    created = avp.create_policy(policyStoreId=store_id, definition={"static": {"statement": statement}})
    return created["policyId"]


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], alg: str = "none") -> str:
    """A JWT whose header claims ``alg`` and whose signature segment is junk (never valid for any key)."""
    return f"{b64({'alg': alg, 'typ': 'JWT', 'kid': 'dummy'})}.{b64(claims)}.{b64(b'not-a-signature')}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def tamper(token: str) -> str:
    """Same header and signature, one claim changed: the signature no longer matches."""
    header, _, signature = token.split(".")
    claims = claims_of(token)
    claims["cognito:groups"] = ["admins"]
    return f"{header}.{b64(claims)}.{signature}"
