"""Build inventory snapshots in tests without AWS: a few lines per scenario."""

from __future__ import annotations

from typing import Any

from migrate.inventory import (
    AppClient,
    Authorizer,
    Group,
    Inventory,
    Method,
    PreTokenTrigger,
    ResourceServer,
    RestApi,
    RuleSet,
    Scope,
    User,
    UserPool,
)

REGION = "us-east-1"
POOL_ID = "us-east-1_TestPool1"


def pool_arn(pool_id: str = POOL_ID) -> str:
    return f"arn:aws:cognito-idp:{REGION}:123456789012:userpool/{pool_id}"


def method(verb: str, path: str, scopes: list[str] | None = None, *, auth: str = "COGNITO_USER_POOLS",
           authorizer: str = "cog", **extra: Any) -> Method:
    """``scopes=None`` with Cognito auth: a method without scopes (ID token)."""
    return Method(path=path, http_method=verb, authorization_type=auth,  # type: ignore[arg-type]
                  authorizer_id=authorizer if auth in {"COGNITO_USER_POOLS", "CUSTOM"} else None,
                  authorization_scopes=list(scopes or []), **extra)


def password_client(name: str = "app", client_id: str = "app-client-id") -> AppClient:
    return AppClient(client_id=client_id, name=name, explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH",
                                                                         "ALLOW_REFRESH_TOKEN_AUTH"])


def hosted_client(scopes: list[str], name: str = "web", client_id: str = "web-client-id") -> AppClient:
    return AppClient(client_id=client_id, name=name, allowed_oauth_flows=["code"], allowed_oauth_scopes=scopes,
                     allowed_oauth_flows_user_pool_client=True, explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"])


def machine_client(scopes: list[str], name: str = "svc", client_id: str = "svc-client-id") -> AppClient:
    # As the Cognito console creates a machine-to-machine client: no user sign-in flow of its own.
    return AppClient(client_id=client_id, name=name, has_secret=True, allowed_oauth_flows=["client_credentials"],
                     allowed_oauth_scopes=scopes, allowed_oauth_flows_user_pool_client=True,
                     explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"])


def inventory(methods: list[Method], *, users: dict[str, list[str]] | None = None, rules: list[dict] | None = None,
              scopes: list[str] | None = None, clients: list[AppClient] | None = None, api_name: str = "MyApi",
              attributes: dict[str, dict[str, str]] | None = None, trigger_version: str = "V2_0",
              groups: list[str] | None = None, resource_server: str = "api", pool_id: str = POOL_ID,
              extra_pools: list[UserPool] | None = None, authorizers: list[Authorizer] | None = None) -> Inventory:
    users = users if users is not None else {}
    all_groups = sorted({g for gs in users.values() for g in gs} | set(groups or []))
    scope_names = scopes if scopes is not None else sorted(
        {s.split("/", 1)[1] for m in methods for s in m.authorization_scopes if s.startswith(f"{resource_server}/")})
    pool = UserPool(
        id=pool_id, arn=pool_arn(pool_id), name="pool", region=REGION,
        resource_servers=[ResourceServer(resource_server, resource_server, [Scope(s) for s in scope_names])],
        groups=[Group(g) for g in all_groups],
        users=[User(username=name, sub=f"sub-{name}", groups=sorted(gs),
                    attributes=(attributes or {}).get(name, {})) for name, gs in sorted(users.items())],
        clients=clients if clients is not None else [password_client()],
        pretoken_trigger=PreTokenTrigger("arn:aws:lambda:us-east-1:123456789012:function:pretoken",
                                         trigger_version, "PreTokenGenerationConfig", True,  # type: ignore[arg-type]
                                         "file:rules.json") if rules is not None else None,
        pretoken_rules=RuleSet("file:rules.json", "option", {"version": 1, "rules": rules})
        if rules is not None else None,
        users_complete=True,
    )
    api = RestApi(id="api123", name=api_name, source="apigateway", stage="prod", stages=["prod"],
                  authorizers=authorizers or [Authorizer(id="cog", name="cog", type="COGNITO_USER_POOLS",
                                                         provider_arns=[pool.arn])],
                  methods=methods)
    return Inventory(format_version=1, tool_version="test", created_at="2026-11-26T00:00:00+00:00", region=REGION,
                     account_id="123456789012", apis=[api], user_pools=[pool, *(extra_pools or [])])


def rule(rule_id: str, scopes: list[str] | None = None, **when: Any) -> dict:
    then: dict[str, Any] = {"add_scopes": scopes} if scopes else {}
    suppress = when.pop("suppress", None)
    if suppress:
        then["suppress_scopes"] = suppress
    override = when.pop("override_groups", None)
    if override is not None:
        then["override_groups"] = {"groups": override}
    document: dict[str, Any] = {"id": rule_id, "then": then}
    if when:
        document["when"] = when
    return document
