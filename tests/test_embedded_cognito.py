"""Tokens from the embedded Cognito: the pre-token trigger is applied as Cognito applies it, and every token is
signed with a key the embedded JWKS serves."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from migrate.embedded.cognito_tokens import OAuthError, register_trigger
from tests.tokens import make_pool, sign_in, verified_claims

TRIGGER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:pretoken"


def _use_trigger(idp, pool, handler, version="V2_0"):
    register_trigger(TRIGGER_ARN, handler)
    idp.update_user_pool(UserPoolId=pool.id, LambdaConfig={
        "PreTokenGenerationConfig": {"LambdaArn": TRIGGER_ARN, "LambdaVersion": version}})


def test_without_trigger_access_token_has_only_the_signin_scope(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["readers"]})
    tokens = sign_in(idp, pool, "alice")
    access = verified_claims(embedded_aws, tokens["AccessToken"])
    assert access["scope"] == "aws.cognito.signin.user.admin"
    assert access["token_use"] == "access" and access["client_id"] == pool.clients["app"]
    assert access["cognito:groups"] == ["readers"]
    id_claims = verified_claims(embedded_aws, tokens["IdToken"])
    assert id_claims["token_use"] == "id" and id_claims["aud"] == pool.clients["app"]
    assert id_claims["email"] == "alice@example.com" and id_claims["sub"] == access["sub"]
    # moto still knows the token it issued (GetUser works with it)
    assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"


def test_v2_trigger_response_is_applied_once_per_sign_in(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["readers", "writers"]})
    events = []

    def handler(event, context):
        events.append(event)
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "accessTokenGeneration": {"scopesToAdd": ["api/read", "api/write"], "scopesToSuppress": ["api/write"],
                                      "claimsToAddOrOverride": {"tier": "gold"}},
            "idTokenGeneration": {"claimsToAddOrOverride": {"email": "hidden", "team": "blue"},
                                  "claimsToSuppress": ["email"]},
        }
        return event

    _use_trigger(idp, pool, handler)
    tokens = sign_in(idp, pool, "alice")
    assert len(events) == 1
    event = events[0]
    assert event["version"] == "2" and event["triggerSource"] == "TokenGeneration_Authentication"
    assert event["request"]["groupConfiguration"]["groupsToOverride"] == ["readers", "writers"]
    assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
    assert event["callerContext"]["clientId"] == pool.clients["app"]
    assert event["request"]["userAttributes"]["email"] == "alice@example.com"

    access = verified_claims(embedded_aws, tokens["AccessToken"])
    assert access["scope"].split() == ["aws.cognito.signin.user.admin", "api/read"]  # suppression wins
    assert access["tier"] == "gold"
    id_claims = verified_claims(embedded_aws, tokens["IdToken"])
    assert "email" not in id_claims  # both suppressed and replaced: suppressed
    assert id_claims["team"] == "blue"
    assert id_claims["cognito:groups"] == ["readers", "writers"]


@pytest.mark.parametrize("override, expected", [
    ({"groupsToOverride": ["only-this"]}, ["only-this"]),
    ({}, None),  # an empty groupOverrideDetails removes the groups
])
def test_group_override(embedded_aws, aws_clients, override, expected):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["readers"]})

    def handler(event, context):
        event["response"]["claimsAndScopeOverrideDetails"] = {"groupOverrideDetails": override}
        return event

    _use_trigger(idp, pool, handler)
    tokens = sign_in(idp, pool, "alice")
    for token in (tokens["AccessToken"], tokens["IdToken"]):
        assert verified_claims(embedded_aws, token).get("cognito:groups") == expected


def test_v1_trigger_changes_only_the_id_token(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": []})
    seen = []

    def handler(event, context):
        seen.append(event)
        event["response"]["claimsOverrideDetails"] = {"claimsToAddOrOverride": {"team": "blue"}}
        return event

    _use_trigger(idp, pool, handler, version="V1_0")
    tokens = sign_in(idp, pool, "alice")
    assert seen[0]["version"] == "1" and "scopes" not in seen[0]["request"]
    assert verified_claims(embedded_aws, tokens["IdToken"])["team"] == "blue"
    assert "team" not in verified_claims(embedded_aws, tokens["AccessToken"])


@pytest.mark.parametrize("details", [
    {"accessTokenGeneration": {"claimsToAddOrOverride": {"sub": "someone-else"}}},
    {"idTokenGeneration": {"claimsToSuppress": ["cognito:groups"]}},
    {"accessTokenGeneration": {"scopesToAdd": ["two words"]}},
])
def test_forbidden_changes_fail_the_sign_in(aws_clients, details):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": []})

    def handler(event, context):
        event["response"]["claimsAndScopeOverrideDetails"] = details
        return event

    _use_trigger(idp, pool, handler)
    with pytest.raises(ClientError) as caught:
        sign_in(idp, pool, "alice")
    assert caught.value.response["Error"]["Code"] == "UserLambdaValidationException"


def test_a_failing_trigger_fails_the_sign_in(aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": []})

    def handler(event, context):
        raise RuntimeError("rules table unavailable")

    _use_trigger(idp, pool, handler)
    with pytest.raises(ClientError) as caught:
        sign_in(idp, pool, "alice")
    error = caught.value.response["Error"]
    assert error["Code"] == "UserLambdaValidationException" and "rules table unavailable" in error["Message"]


def test_unknown_trigger_function_fails_the_sign_in(aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": []})
    idp.update_user_pool(UserPoolId=pool.id, LambdaConfig={
        "PreTokenGenerationConfig": {"LambdaArn": TRIGGER_ARN + "-missing", "LambdaVersion": "V2_0"}})
    with pytest.raises(ClientError) as caught:
        sign_in(idp, pool, "alice")
    assert caught.value.response["Error"]["Code"] == "UserLambdaValidationException"


def _web_client():
    return {"AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": ["openid", "api/read"], "CallbackURLs": ["https://example.com/cb"],
            "SupportedIdentityProviders": ["COGNITO"]}


def test_hosted_ui_code_flow_gives_the_client_scopes_to_any_user(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"nobody": []}, clients={"web": _web_client()})
    sources = []

    def handler(event, context):
        sources.append((event["triggerSource"], event["request"]["scopes"]))
        return event

    _use_trigger(idp, pool, handler)
    tokens = embedded_aws.tokens.hosted_ui_tokens(pool.clients["web"], "nobody")
    access = verified_claims(embedded_aws, tokens["access_token"])
    assert access["scope"].split() == ["openid", "api/read"]
    assert sources == [("TokenGeneration_HostedAuth", ["openid", "api/read"])]
    assert verified_claims(embedded_aws, tokens["id_token"])["cognito:username"] == "nobody"
    only_read = embedded_aws.tokens.hosted_ui_tokens(pool.clients["web"], "nobody", ["api/read"])
    assert "id_token" not in only_read  # no openid scope, no ID token
    with pytest.raises(OAuthError, match="invalid_scope"):
        embedded_aws.tokens.hosted_ui_tokens(pool.clients["web"], "nobody", ["api/admin"])


def _token_request(embedded_aws, form, auth=None):
    request = urllib.request.Request(embedded_aws.oauth_token_url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_client_credentials_token_endpoint(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    m2m = {"GenerateSecret": True, "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthFlowsUserPoolClient": True,
           "AllowedOAuthScopes": ["api/read", "api/write"]}
    pool = make_pool(idp, users={}, clients={"svc": m2m, "app": {}})
    seen = []

    def handler(event, context):
        seen.append(event["triggerSource"])
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "accessTokenGeneration": {"scopesToSuppress": ["api/write"]}}
        return event

    _use_trigger(idp, pool, handler, version="V3_0")
    client_id, secret = pool.clients["svc"], pool.secrets["svc"]
    status, body = _token_request(embedded_aws, {"grant_type": "client_credentials"}, (client_id, secret))
    assert status == 200 and body["token_type"] == "Bearer"
    claims = verified_claims(embedded_aws, body["access_token"])
    assert claims["scope"] == "api/read" and claims["sub"] == client_id and claims["client_id"] == client_id
    assert "username" not in claims and "cognito:groups" not in claims
    assert seen == ["TokenGeneration_ClientCredentials"]

    status, body = _token_request(embedded_aws, {"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret, "scope": "api/write"})
    assert status == 200 and verified_claims(embedded_aws, body["access_token"])["scope"] == ""

    assert _token_request(embedded_aws, {"grant_type": "client_credentials"}, (client_id, "wrong")) == (
        400, {"error": "invalid_client"})
    assert _token_request(embedded_aws, {"grant_type": "client_credentials", "scope": "api/admin"},
                          (client_id, secret)) == (400, {"error": "invalid_scope"})
    assert _token_request(embedded_aws, {"grant_type": "password"}, (client_id, secret)) == (
        400, {"error": "unsupported_grant_type"})


def test_client_credentials_skip_a_v2_trigger(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    m2m = {"GenerateSecret": True, "AllowedOAuthFlows": ["client_credentials"], "AllowedOAuthFlowsUserPoolClient": True,
           "AllowedOAuthScopes": ["api/read"]}
    pool = make_pool(idp, users={}, clients={"svc": m2m})
    calls = []
    _use_trigger(idp, pool, lambda event, context: calls.append(event) or event, version="V2_0")
    body = embedded_aws.tokens.client_credentials_token(pool.clients["svc"], pool.secrets["svc"])
    assert verified_claims(embedded_aws, body["access_token"])["scope"] == "api/read"
    assert calls == []  # Cognito calls the trigger for M2M tokens only with event version V3_0


def test_refresh_runs_the_trigger_as_a_refresh_and_groups_come_in_a_stable_order(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["zeta", "alpha", "mid"]})
    seen = []

    def handler(event, context):
        seen.append((event["triggerSource"], event["request"]["groupConfiguration"]["groupsToOverride"]))
        return event

    _use_trigger(idp, pool, handler)
    tokens = sign_in(idp, pool, "alice")
    idp.admin_initiate_auth(UserPoolId=pool.id, ClientId=pool.clients["app"], AuthFlow="REFRESH_TOKEN_AUTH",
                            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert seen == [("TokenGeneration_Authentication", ["alpha", "mid", "zeta"]),
                    ("TokenGeneration_RefreshTokens", ["alpha", "mid", "zeta"])]


def test_null_group_override_suppresses_the_groups(embedded_aws, aws_clients):
    idp = aws_clients("cognito-idp")
    pool = make_pool(idp, users={"alice": ["readers"]})

    def handler(event, context):
        event["response"]["claimsAndScopeOverrideDetails"] = {"groupOverrideDetails": None}
        return event

    _use_trigger(idp, pool, handler)
    assert "cognito:groups" not in verified_claims(embedded_aws, sign_in(idp, pool, "alice")["AccessToken"])
