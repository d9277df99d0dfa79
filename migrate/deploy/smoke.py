"""The smoke test: after the function and the API Gateway authorizer exist, and before any method moves to it,
API Gateway's ``TestInvokeAuthorizer`` runs the deployed function as API Gateway will (its permission to invoke
the function included).

* Always: a request with an invalid token must come back 401. That proves the deployed code starts, reads its
  configuration and answers; a function that cannot import, or that API Gateway may not invoke, answers 500.
* With ``--smoke-user NAME`` (repeatable; the password in the environment variable ``AVP_MIGRATE_SMOKE_PASSWORD``,
  never on the command line): each user signs in through Cognito (``InitiateAuth`` ``USER_PASSWORD_AUTH`` with
  an app client of the plan that allows it, or ``--smoke-client ID``) and calls every route of the authorizer's
  configuration that is in ``scope`` or ``shadow`` mode with the token type the route takes. In those modes
  the authorizer enforces exactly today's Cognito rule, so each answer must be the one plan.json's scopes give
  for that token: ALLOW when the method has no scopes (an ID token) or the access token holds one of them, else
  401. Routes already in ``avp`` mode (a re-deploy after a cut-over) are left out and said so.

Any other answer stops deploy before the first method moves, naming the route, the user and both answers; what
was created is in ``deployment.json`` (the runner saves it), so a fixed re-run continues from there.

A test invocation reaches the function with the stage ``ESTestInvoke-stage`` in its method ARN and
``test-invoke-stage`` in its request context (API Gateway's execution log shows both); the verb, resource path
and path are given as ``additionalContext`` (the ``context.*`` identity sources of the REQUEST authorizer).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from authorizer.config import AuthorizerConfig
from migrate.deploy.changes import Change
from migrate.deploy.context import Context
from migrate.deploy.plan_input import PlanInput
from migrate.errors import UserError

PASSWORD_ENV = "AVP_MIGRATE_SMOKE_PASSWORD"
INVALID_TOKEN = "Bearer avp-migrate-smoke-test.not-a.token"
PASSWORD_FLOWS = {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"}
MAX_LISTED = 5

# In the shadow report's words (one meaning per word): the signed-in users' tokens are valid, so each answer is a
# decision; API Gateway answers the scope rule's refusal with 401, as the Cognito authorizer does, and a policy's
# refusal with 403 ("denied by policy"). "401 (token refused)" is kept for a token the authorizer refuses.
OUTCOME_WORDS = {"ALLOW": "allowed", "401": "denied", "DENY": "denied by policy"}


@dataclass(frozen=True)
class SmokeOptions:
    users: tuple[str, ...] = ()
    client_id: str | None = None


@dataclass(frozen=True)
class Probe:
    route: str
    verb: str
    resource: str  # the method's resource path template
    path: str  # a concrete path of it
    token_use: str  # access or id
    scopes: tuple[str, ...]  # the method's scopes in plan.json


@dataclass
class SmokePlan:
    authorizer_name: str
    probes: list[Probe]
    skipped_avp: list[str]
    users: tuple[str, ...]
    pool_id: str = ""
    client_id: str = ""
    client_secret: str | None = None
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        text = "a request with an invalid token must get 401"
        if self.users:
            text += (f"; {len(self.users)} user(s) signed in through Cognito x {len(self.probes)} route(s) must get "
                     "plan.json's decisions")
        return text + " (TestInvokeAuthorizer, before any method moves)"


def concrete_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "smoke-test", template)


def plan_smoke(ctx: Context, plan: PlanInput, modes: dict[str, str], default_mode: str,
               options: SmokeOptions) -> SmokePlan:
    """Everything the smoke test needs, checked now (before anything is created): the password variable, an app
    client that allows password sign-in."""
    config = AuthorizerConfig.from_json(plan.config_text)
    probes, skipped = [], []
    for key, route in plan.routes.items():
        served = config.routes.get(key)
        if served is None:
            continue
        if modes.get(key, default_mode) == "avp":
            skipped.append(key)
            continue
        verb = sorted(served.actions)[0] if route.verb == "ANY" else route.verb
        probes.append(Probe(route=key, verb=verb, resource=route.path, path=concrete_path(route.path),
                            token_use=served.token_use, scopes=route.scopes))
    smoke = SmokePlan(authorizer_name=ctx.names.authorizer_name, probes=probes, skipped_avp=skipped,
                      users=tuple(options.users))
    if not options.users:
        return smoke
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise UserError(f"set the smoke users' password in the environment variable {PASSWORD_ENV} (never on the "
                        "command line)", where="--smoke-user")
    smoke.password = password
    smoke.pool_id = plan.pool_arn.rsplit("/", 1)[-1]
    idp = ctx.client("cognito-idp")
    candidates = [options.client_id] if options.client_id else list(plan.client_ids)
    for client_id in candidates:
        try:
            client = idp.describe_user_pool_client(UserPoolId=smoke.pool_id, ClientId=client_id)["UserPoolClient"]
        except Exception as exc:
            if options.client_id:
                raise UserError(f"not an app client of user pool {smoke.pool_id}: {exc}",
                                where="--smoke-client") from None
            continue
        if PASSWORD_FLOWS & set(client.get("ExplicitAuthFlows") or []):
            smoke.client_id, smoke.client_secret = client_id, client.get("ClientSecret")
            return smoke
        if options.client_id:
            raise UserError(f"app client {client_id} does not allow USER_PASSWORD_AUTH sign-in",
                            where="--smoke-client")
    raise UserError(f"no app client of the plan ({', '.join(plan.client_ids) or 'none'}) allows USER_PASSWORD_AUTH "
                    "sign-in: name one with --smoke-client ID", where="--smoke-user")


def smoke_change(ctx: Context, smoke: SmokePlan) -> Change:
    return Change("check", f"apigateway test-invoke-authorizer {smoke.authorizer_name}", smoke.describe(),
                  apply=lambda: run_smoke(ctx, smoke))


def run_smoke(ctx: Context, smoke: SmokePlan) -> str:
    apigw = ctx.client("apigateway")
    if not smoke.probes and not smoke.skipped_avp:
        raise UserError("no route to call", where="smoke test")
    first = smoke.probes[0] if smoke.probes else None
    if first is not None:
        status, detail = _call(ctx, apigw, first, INVALID_TOKEN)
        if status != "401":
            raise UserError(f"an invalid token on {first.route} got {status}, not 401: the deployed function does not "
                            f"work{detail}; no method was moved", where="smoke test")
    counts: dict[str, int] = {}
    differences: list[str] = []
    calls = 0
    for user in smoke.users:
        tokens = _sign_in(ctx, smoke, user)
        for probe in smoke.probes:
            token = tokens[probe.token_use]
            expected, why = expected_answer(probe, token)
            status, detail = _call(ctx, apigw, probe, f"Bearer {token}")
            calls += 1
            counts[status] = counts.get(status, 0) + 1
            if status != expected:
                differences.append(f"{probe.route} as {user}: expected {expected} ({why}), got {status}{detail}")
    if differences:
        listed = "; ".join(differences[:MAX_LISTED]) + (f"; and {len(differences) - MAX_LISTED} more"
                                                         if len(differences) > MAX_LISTED else "")
        raise UserError(f"{len(differences)} of {calls} answers differ from the plan: {listed}; no method was moved",
                        where="smoke test")
    text = "smoke test passed: an invalid token got 401"
    if smoke.users:
        text += (f"; {calls} requests as {len(smoke.users)} signed-in user(s) on {len(smoke.probes)} route(s) got "
                 f"plan.json's decisions (" + ", ".join(f"{n} {OUTCOME_WORDS.get(s, s)}" for s, n in
                                                        sorted(counts.items())) + ")")
    else:
        text += f" (no signed-in requests: give --smoke-user NAME and {PASSWORD_ENV})"
    if smoke.skipped_avp:
        text += f"; {len(smoke.skipped_avp)} route(s) in avp mode not called"
    ctx.notes.append(text)
    return text


def expected_answer(probe: Probe, token: str) -> tuple[str, str]:
    """What today's Cognito authorizer answers for this token on this method (plan.json's scopes): the answer a
    route in scope or shadow mode must give."""
    if not probe.scopes:
        return "ALLOW", "no scopes on the method: an ID token is enough"
    granted = set(str(claims(token).get("scope") or "").split())
    held = sorted(granted.intersection(probe.scopes))
    if held:
        return "ALLOW", f"the token holds {held[0]}"
    return "401", f"the token holds none of {', '.join(probe.scopes)}"


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified: the token came from Cognito a moment ago, and the authorizer verifies it."""
    try:
        payload = token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _sign_in(ctx: Context, smoke: SmokePlan, user: str) -> dict[str, str]:
    parameters = {"USERNAME": user, "PASSWORD": smoke.password}
    if smoke.client_secret:
        # SECRET_HASH = Base64(HMAC-SHA256(client secret, username + client id)) (Cognito developer guide,
        # "Computing secret hash values").
        digest = hmac.new(smoke.client_secret.encode(), (user + smoke.client_id).encode(), hashlib.sha256).digest()
        parameters["SECRET_HASH"] = base64.b64encode(digest).decode()
    try:
        answer = ctx.client("cognito-idp").initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=smoke.client_id,
                                                         AuthParameters=parameters)
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise UserError(f"user {user} cannot sign in through app client {smoke.client_id}: {code}; no method was "
                        "moved", where="--smoke-user") from None
    result = answer.get("AuthenticationResult")
    if not result:
        raise UserError(f"user {user}: Cognito asks for {answer.get('ChallengeName')}; the smoke test needs a user "
                        "who signs in with a password alone; no method was moved", where="--smoke-user")
    return {"access": result["AccessToken"], "id": result.get("IdToken", "")}


def _call(ctx: Context, apigw: Any, probe: Probe, authorization: str) -> tuple[str, str]:
    """(ALLOW, DENY, 401 or ERROR <status>, detail for a message)."""
    answer = apigw.test_invoke_authorizer(
        restApiId=ctx.names.api_id, authorizerId=ctx.record.authorizer_id,
        headers={"Authorization": authorization}, multiValueHeaders={"Authorization": [authorization]},
        pathWithQueryString=probe.path,
        additionalContext={"httpMethod": probe.verb, "resourcePath": probe.resource, "path": probe.path})
    status = int(answer.get("clientStatus") or 0)
    if status == 401:
        return "401", ""
    policy = answer.get("policy")
    if policy:
        try:
            statements = json.loads(policy).get("Statement") or []
        except (ValueError, AttributeError):
            statements = []
        effects = {str(s.get("Effect", "")).upper() for s in statements if isinstance(s, dict)}
        if len(effects) == 1:
            return effects.pop(), ""
    log = [line for line in str(answer.get("log") or "").splitlines() if line.strip()]
    return f"ERROR {status}", f" ({log[-1][:200]})" if log else ""
