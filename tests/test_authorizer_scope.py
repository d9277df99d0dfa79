"""The authorizer's own scope rule (scope mode), the rule of API Gateway's Cognito authorizer: any one of the
method's scopes suffices; a method without scopes checks identity only. Fast unit tests: this rule decides every
request until a route moves to avp mode, and was guarded only by an end-to-end test."""

from __future__ import annotations

from authorizer.config import RouteConfig
from authorizer.scope import scope_allows
from authorizer.tokens import VerifiedToken


def token(*scopes: str, token_use: str = "access") -> VerifiedToken:
    return VerifiedToken(pool_id="us-east-1_Pool", sub="sub-1", token_use=token_use, client_id="client-1",
                         username="alice", groups=(), scopes=frozenset(scopes), scope_text=" ".join(scopes),
                         exp=0.0, client_credentials=False)


SCOPED = RouteConfig(actions={"GET": "get /x"}, scopes=("api/read", "api/admin"), token_use="access")
UNSCOPED = RouteConfig(actions={"GET": "get /me"}, scopes=(), token_use="id")


def test_any_one_of_the_method_scopes_suffices():
    assert scope_allows(SCOPED, token("api/read"))
    assert scope_allows(SCOPED, token("api/admin", "openid"))
    assert scope_allows(SCOPED, token("api/read", "api/admin"))


def test_a_token_with_none_of_the_method_scopes_is_refused():
    assert not scope_allows(SCOPED, token("api/write", "openid"))
    assert not scope_allows(SCOPED, token())
    assert not scope_allows(SCOPED, token("api/read", token_use="id"))  # scopes in an ID token count for nothing


def test_a_method_without_scopes_checks_identity_only():
    assert scope_allows(UNSCOPED, token(token_use="id"))
    assert scope_allows(UNSCOPED, token("anything", token_use="id"))
