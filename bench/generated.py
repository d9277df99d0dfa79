"""The inventory the generated benchmarks share: one API on one Cognito authorizer, one user pool with a resource
server ``api``, a pre-token trigger with the given rules, and three app clients (sign-in, hosted UI, client
credentials), so that every flow verify covers is in every benchmark."""

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


def scoped_method(path: str, verb: str, scopes: list[str]) -> Method:
    return Method(path=path, http_method=verb, authorization_type="COGNITO_USER_POOLS", authorizer_id="cog",
                  authorization_scopes=scopes)


def assemble(*, pool_id: str, api_name: str, methods: list[Method], scopes: list[str], groups: list[str],
             users: list[User], rules: list[dict[str, Any]], hosted_scopes: list[str], machine_scopes: list[str]
             ) -> Inventory:
    clients = [
        AppClient("mobile-id", "mobile", explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
        AppClient("web-id", "web", allowed_oauth_flows=["code"], allowed_oauth_scopes=["openid", *hosted_scopes],
                  allowed_oauth_flows_user_pool_client=True, explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"]),
        AppClient("svc-id", "svc", has_secret=True, allowed_oauth_flows=["client_credentials"],
                  allowed_oauth_scopes=machine_scopes, allowed_oauth_flows_user_pool_client=True,
                  explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"]),
    ]
    arn = f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{pool_id}"
    pool = UserPool(id=pool_id, arn=arn, name="bench", region="us-east-1",
                    resource_servers=[ResourceServer("api", "api", [Scope(s.split("/")[1]) for s in scopes])],
                    groups=[Group(g) for g in groups], users=users, clients=clients, users_complete=True,
                    pretoken_trigger=PreTokenTrigger("arn:aws:lambda:us-east-1:123456789012:function:p", "V2_0",
                                                     "PreTokenGenerationConfig", True, "file:r.json"),
                    pretoken_rules=RuleSet("file:r.json", "option", {"version": 1, "rules": rules}))
    api = RestApi(id="benchapi", name=api_name, source="apigateway", stage="prod",
                  authorizers=[Authorizer("cog", "cog", "COGNITO_USER_POOLS", [arn])], methods=methods)
    return Inventory(format_version=1, tool_version="bench", created_at="2026-12-07T00:00:00+00:00",
                     apis=[api], user_pools=[pool])
