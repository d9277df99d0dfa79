"""Test helpers: a small Cognito set-up on the embedded AWS and verified decoding of the tokens it issues."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASSWORD = "Test-Passw0rd!"


@dataclass
class Pool:
    id: str
    arn: str
    clients: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


def make_pool(idp: Any, *, users: dict[str, list[str]], scopes: list[str] = ("read", "write", "admin"),
              clients: dict[str, dict[str, Any]] | None = None, attributes: dict[str, dict[str, str]] | None = None,
              name: str = "pool") -> Pool:
    """A pool with resource server ``api``, the given users (username -> groups) and app clients."""
    created = idp.create_user_pool(PoolName=name, Schema=[
        {"Name": "department", "AttributeDataType": "String", "Mutable": True}])["UserPool"]
    pool = Pool(created["Id"], created["Arn"])
    idp.create_resource_server(UserPoolId=pool.id, Identifier="api", Name="api",
                               Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in scopes])
    for group in sorted({g for groups in users.values() for g in groups}):
        idp.create_group(UserPoolId=pool.id, GroupName=group)
    for username, groups in users.items():
        extra = [{"Name": k, "Value": v} for k, v in (attributes or {}).get(username, {}).items()]
        idp.admin_create_user(UserPoolId=pool.id, Username=username, MessageAction="SUPPRESS",
                              TemporaryPassword=PASSWORD,
                              UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}, *extra])
        idp.admin_set_user_password(UserPoolId=pool.id, Username=username, Password=PASSWORD, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool.id, Username=username, GroupName=group)
    clients = clients or {"app": {}}
    for client_name, options in clients.items():
        created_client = idp.create_user_pool_client(
            UserPoolId=pool.id, ClientName=client_name,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], **options,
        )["UserPoolClient"]
        pool.clients[client_name] = created_client["ClientId"]
        if created_client.get("ClientSecret"):
            pool.secrets[client_name] = created_client["ClientSecret"]
    return pool


def sign_in(idp: Any, pool: Pool, username: str, client: str = "app") -> dict[str, str]:
    result = idp.admin_initiate_auth(UserPoolId=pool.id, ClientId=pool.clients[client],
                                     AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})
    return result["AuthenticationResult"]


def verified_claims(embedded_aws: Any, token: str, *, audience: str | None = None) -> dict[str, Any]:
    """Decode a token only after checking its RS256 signature against the pool's JWKS, as a verifier would."""
    return embedded_aws.verified_claims(token, audience=audience)
