"""Tokens from the embedded Cognito, as Cognito would issue them: pre-token trigger applied, really signed.

moto issues RS256 tokens signed with one key (kid ``dummy``) whose JWKS it serves at
``/<poolId>/.well-known/jwks.json``, but it never calls a pre-token generation trigger and has no OAuth 2.0
token endpoint. This module fills both gaps, faithful to the Cognito developer guide ("Pre token generation
Lambda trigger", "The token endpoint"):

* **Trigger on sign-in.** moto's InitiateAuth/AdminInitiateAuth token creation is hooked: when the pool's
  ``LambdaConfig`` names a pre-token trigger (``PreTokenGenerationConfig`` with V1_0/V2_0/V3_0, or the legacy
  ``PreTokenGeneration`` field, V1_0), the trigger is called once per token pair with the documented event
  (``triggerSource`` ``TokenGeneration_Authentication``) and its response is applied: claims added or
  suppressed (suppression wins), scopes added or suppressed (V2_0+, access token), group override (an empty
  ``groupOverrideDetails`` removes the groups). Claims Cognito forbids changing fail the sign-in with
  ``UserLambdaValidationException``, as does a trigger that raises.
* **Hosted UI code flow** (:meth:`TokenService.hosted_ui_tokens`): the token endpoint's answer after an
  authorization-code sign-in: ``scope`` holds the requested scopes the app client allows (all of them when none
  is requested), then the trigger (``TokenGeneration_HostedAuth``) may change them. The ID token is issued only
  when ``openid`` is among the scopes.
* **Client credentials** (``POST /oauth2/token`` on the local-services listener, or
  :meth:`TokenService.client_credentials_token`): needs the client's secret and the ``client_credentials``
  flow; ``scope`` defaults to all the client's allowed scopes; a V3_0 trigger runs with
  ``TokenGeneration_ClientCredentials``.

Where does the trigger's code come from? Cognito invokes a Lambda function, and moto can only run Lambda
functions in Docker, so the embedded AWS runs triggers in this process: a function whose handler is
avp-migrate's ``pretoken_lambda.handler.lambda_handler`` is built from the function's own environment
variables (as Lambda would run it); any other function must be registered with :func:`register_trigger`.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import inspect
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from pretoken_lambda.events import build_event

TriggerHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

OUR_PRETOKEN_HANDLER = "pretoken_lambda.handler.lambda_handler"
ACCESS_TOKEN_LIFETIME = 3600
SIGNIN_SCOPE = "aws.cognito.signin.user.admin"
# Claims a pre-token trigger may not add, override or suppress (Cognito developer guide, "Pre token generation
# Lambda trigger": excluded claims). Cognito fails the token request when a trigger tries.
PROTECTED_CLAIMS = frozenset({
    "acr", "amr", "at_hash", "aud", "auth_time", "azp", "c_hash", "client_id", "exp", "iat", "identities",
    "iss", "jti", "nbf", "nonce", "origin_jti", "scope", "sub", "token_use", "username", "cognito:username",
    "event_id", "version",
})
PROTECTED_PREFIXES = ("cognito:",)

_registry: dict[str, TriggerHandler] = {}
_registry_lock = threading.Lock()


def register_trigger(lambda_arn: str, handler: TriggerHandler) -> None:
    """Run ``handler(event, context)`` in-process when a pool's trigger names ``lambda_arn``."""
    with _registry_lock:
        _registry[_unqualified(lambda_arn)] = handler


def unregister_all_triggers() -> None:
    with _registry_lock:
        _registry.clear()


def _unqualified(arn: str) -> str:
    # arn:aws:lambda:region:acct:function:name[:qualifier] -> without the qualifier
    parts = arn.split(":")
    return ":".join(parts[:7]) if len(parts) > 7 else arn


class TriggerFailed(Exception):
    """The trigger raised or returned something Cognito rejects; Cognito answers UserLambdaValidationException."""


def _user_lambda_error(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("UserLambdaValidationException", f"PreTokenGeneration failed with error {message}.")


# --- finding and calling the trigger ------------------------------------------------------------------------


def pool_trigger(pool: Any) -> tuple[str, str] | None:
    """(lambda arn, event version) of the pool's pre-token trigger, or None."""
    config = pool.extended_config.get("LambdaConfig") or {}
    modern = config.get("PreTokenGenerationConfig") or {}
    if modern.get("LambdaArn"):
        return modern["LambdaArn"], modern.get("LambdaVersion") or "V1_0"
    if config.get("PreTokenGeneration"):
        return config["PreTokenGeneration"], "V1_0"
    return None


def _resolve_handler(lambda_arn: str) -> TriggerHandler:
    with _registry_lock:
        handler = _registry.get(_unqualified(lambda_arn))
    if handler is not None:
        return handler
    function = _find_lambda_function(lambda_arn)
    if function is None:
        raise TriggerFailed(f"function {lambda_arn} not found")
    if function.get("Handler") == OUR_PRETOKEN_HANDLER:
        from pretoken_lambda.handler import build_handler

        environment = (function.get("Environment") or {}).get("Variables") or {}
        return build_handler(environment)
    raise TriggerFailed(
        f"the embedded AWS cannot run {lambda_arn} (handler {function.get('Handler')!r}): "
        "register an in-process handler with migrate.embedded.cognito_tokens.register_trigger")


def _find_lambda_function(lambda_arn: str) -> dict[str, Any] | None:
    from moto.awslambda.models import lambda_backends

    parts = lambda_arn.split(":")
    if len(parts) < 7:
        return None
    region, account, name = parts[3], parts[4], parts[6]
    try:
        backend = lambda_backends[account][region]
        function = backend.get_function(name)
    except Exception:  # moto raises its own not-found types
        return None
    return function.get_configuration()


def invoke_trigger(lambda_arn: str, event: dict[str, Any]) -> dict[str, Any]:
    handler = _resolve_handler(lambda_arn)
    try:
        result = handler(json.loads(json.dumps(event)), _LambdaContext(lambda_arn))
    except TriggerFailed:
        raise
    except Exception as exc:  # the trigger's own failure, reported as Cognito reports it
        raise TriggerFailed(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(result, dict):
        raise TriggerFailed("the trigger did not return the event")
    return result


class _LambdaContext:
    """The few attributes of a Lambda context object that handlers commonly read."""

    def __init__(self, arn: str) -> None:
        self.invoked_function_arn = arn
        self.function_name = arn.split(":")[6] if arn.count(":") >= 6 else arn
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "embedded"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


# --- events and their effect --------------------------------------------------------------------------------


class TokenChanges:
    """What the trigger's response asks for, checked the way Cognito checks it."""

    def __init__(self, version: str, response: dict[str, Any] | None) -> None:
        self.id_add: dict[str, Any] = {}
        self.id_suppress: set[str] = set()
        self.access_add: dict[str, Any] = {}
        self.access_suppress: set[str] = set()
        self.scopes_add: list[str] = []
        self.scopes_suppress: set[str] = set()
        self.group_override: dict[str, Any] | None = None
        response = response or {}
        if not isinstance(response, dict):
            response = {}
        if version == "V1_0":
            details = response.get("claimsOverrideDetails") or {}
            self._take_claims(details, self.id_add, self.id_suppress)
        else:
            details = response.get("claimsAndScopeOverrideDetails") or {}
            self._take_claims(details.get("idTokenGeneration") or {}, self.id_add, self.id_suppress)
            access = details.get("accessTokenGeneration") or {}
            self._take_claims(access, self.access_add, self.access_suppress)
            for scope in access.get("scopesToAdd") or []:
                if not isinstance(scope, str) or not scope or any(c.isspace() for c in scope):
                    raise TriggerFailed(f"invalid scope to add: {scope!r} (scopes cannot contain spaces)")
                self.scopes_add.append(scope)
            self.scopes_suppress = set(access.get("scopesToSuppress") or [])
        if "groupOverrideDetails" in details:
            # Present but empty or null: the groups are suppressed (developer guide: "If you return an empty or
            # null groupOverrideDetails object, ... groups are suppressed").
            self.group_override = details["groupOverrideDetails"] or {}

    @staticmethod
    def _take_claims(details: dict[str, Any], add: dict[str, Any], suppress: set[str]) -> None:
        for name, value in (details.get("claimsToAddOrOverride") or {}).items():
            _check_claim_name(name)
            add[name] = value
        for name in details.get("claimsToSuppress") or []:
            _check_claim_name(name)
            suppress.add(name)

    def apply_groups(self, claims: dict[str, Any], *, id_token: bool) -> None:
        if self.group_override is None:
            return
        # An empty groupOverrideDetails removes the groups (the override replaces them with nothing).
        groups = self.group_override.get("groupsToOverride") or []
        if groups:
            claims["cognito:groups"] = list(groups)
        else:
            claims.pop("cognito:groups", None)
        if id_token:
            roles = self.group_override.get("iamRolesToOverride") or []
            if roles:
                claims["cognito:roles"] = list(roles)
            if self.group_override.get("preferredRole"):
                claims["cognito:preferred_role"] = self.group_override["preferredRole"]


def _check_claim_name(name: str) -> None:
    if name in PROTECTED_CLAIMS or name.startswith(PROTECTED_PREFIXES):
        raise TriggerFailed(f"claim {name!r} cannot be added, overridden or suppressed")


def _apply_claims(claims: dict[str, Any], add: dict[str, Any], suppress: set[str]) -> None:
    claims.update(add)
    for name in suppress:  # a claim both suppressed and replaced is suppressed
        claims.pop(name, None)


def _final_scopes(base: Iterable[str], changes: TokenChanges) -> str:
    scopes = [s for s in base if s not in changes.scopes_suppress]
    for scope in changes.scopes_add:
        if scope not in scopes and scope not in changes.scopes_suppress:
            scopes.append(scope)
    return " ".join(scopes)


def sign(pool: Any, payload: dict[str, Any]) -> str:
    """Sign with the key moto's JWKS serves for every pool (kid ``dummy``, RS256)."""
    from joserfc import jwt

    return jwt.encode({"kid": "dummy", "alg": "RS256"}, payload, pool.json_web_key)


def _user_attributes(user: Any) -> dict[str, str]:
    attributes = {a["Name"]: a["Value"] for a in user.attributes}
    attributes.setdefault("sub", user.id)
    attributes["cognito:user_status"] = getattr(user.status, "value", str(user.status))
    return attributes


def issue_user_tokens(pool: Any, client_id: str, username: str, *, trigger_source: str,
                      scopes: list[str], origin_jti: str | None = None,
                      include_id_token: bool = True) -> tuple[str, str | None, int]:
    """Issue an (access, id, expires_in) triple for a user, running the pool's trigger once."""
    user = pool._get_user(username)
    # moto keeps a user's groups in a set; order them as a deterministic list (by precedence, then name).
    groups = [g.group_name for g in sorted(user.groups, key=lambda g: (
        g.precedence is None, g.precedence if g.precedence is not None else 0, g.group_name))]
    attributes = _user_attributes(user)
    changes = _run_trigger(pool, client_id, user.username, attributes, groups, scopes, trigger_source)
    now = int(time.time())
    origin_jti = origin_jti or str(uuid.uuid4())
    event_id = str(uuid.uuid4())
    common = {
        "sub": user.id,
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
        "origin_jti": origin_jti,
        "event_id": event_id,
        "auth_time": now,
        "iat": now,
        "exp": now + ACCESS_TOKEN_LIFETIME,
    }
    access: dict[str, Any] = {
        **common, "version": 2, "client_id": client_id, "token_use": "access", "jti": str(uuid.uuid4()),
        "username": user.username,
    }
    if groups:
        access["cognito:groups"] = groups
    access["scope"] = _final_scopes(scopes, changes)
    changes.apply_groups(access, id_token=False)
    _apply_claims(access, changes.access_add, changes.access_suppress)
    access_token = sign(pool, access)
    pool.access_tokens[access_token] = (client_id, user.username)

    id_token = None
    if include_id_token:
        id_claims: dict[str, Any] = {**common, "aud": client_id, "token_use": "id", "jti": str(uuid.uuid4()),
                                     "cognito:username": user.username}
        client = pool.clients.get(client_id)
        readable = client.get_readable_fields() if client is not None else []
        for name, value in attributes.items():
            if name in {"sub", "cognito:user_status"} or (readable and name not in readable):
                continue
            id_claims[name] = value
        if groups:
            id_claims["cognito:groups"] = groups
        changes.apply_groups(id_claims, id_token=True)
        _apply_claims(id_claims, changes.id_add, changes.id_suppress)
        id_token = sign(pool, id_claims)
        pool.id_tokens[id_token] = (client_id, user.username)
    return access_token, id_token, ACCESS_TOKEN_LIFETIME


def _run_trigger(pool: Any, client_id: str, username: str | None, attributes: dict[str, str],
                 groups: list[str], scopes: list[str], trigger_source: str) -> TokenChanges:
    trigger = pool_trigger(pool)
    if trigger is None:
        return TokenChanges("V2_0", None)
    arn, version = trigger
    if trigger_source == "TokenGeneration_ClientCredentials" and version != "V3_0":
        # Cognito calls the trigger for machine-to-machine tokens only with event version V3_0.
        return TokenChanges(version, None)
    event = build_event(version=version, trigger_source=trigger_source, region=pool.region, pool_id=pool.id,
                        client_id=client_id, username=username, user_attributes=attributes, groups=groups,
                        scopes=scopes)
    try:
        result = invoke_trigger(arn, event)
        return TokenChanges(version, result.get("response"))
    except TriggerFailed as exc:
        raise _user_lambda_error(str(exc)) from None


# --- moto hooks (InitiateAuth / AdminInitiateAuth / refresh) -------------------------------------------------

_pending: OrderedDict[tuple[str, str], str] = OrderedDict()
_pending_lock = threading.Lock()
# The trigger source of the sign-in being served: moto's token creation does not know whether it serves a
# password sign-in or a refresh, so the InitiateAuth entry points set it from the auth flow.
_trigger_source: contextvars.ContextVar[str] = contextvars.ContextVar(
    "trigger_source", default="TokenGeneration_Authentication")
_REFRESH_FLOWS = {"REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}


def install_token_hooks() -> None:
    """Make moto's sign-in paths issue tokens through :func:`issue_user_tokens` (called by moto_gaps.install)."""
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool

    def create_access_token(self: Any, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
        access, id_token, expires = issue_user_tokens(
            self, client_id, username, trigger_source=_trigger_source.get(),
            scopes=[SIGNIN_SCOPE], origin_jti=origin_jti)
        with _pending_lock:  # moto asks for the ID token next; both come from one trigger call, as in Cognito
            _pending[(self.id, origin_jti)] = id_token or ""
            while len(_pending) > 1000:
                _pending.popitem(last=False)
        return access, expires

    def create_id_token(self: Any, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
        with _pending_lock:
            id_token = _pending.pop((self.id, origin_jti), None)
        if not id_token:
            _, id_token, _ = issue_user_tokens(
                self, client_id, username, trigger_source=_trigger_source.get(),
                scopes=[SIGNIN_SCOPE], origin_jti=origin_jti)
        return id_token or "", ACCESS_TOKEN_LIFETIME

    CognitoIdpUserPool.create_access_token = create_access_token  # type: ignore[method-assign]
    CognitoIdpUserPool.create_id_token = create_id_token  # type: ignore[method-assign]
    for name in ("initiate_auth", "admin_initiate_auth"):
        setattr(CognitoIdpBackend, name, _with_trigger_source(getattr(CognitoIdpBackend, name)))


def _with_trigger_source(initiate: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap moto's InitiateAuth/AdminInitiateAuth: a refresh flow is TokenGeneration_RefreshTokens."""

    signature = inspect.signature(initiate)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        auth_flow = signature.bind(self, *args, **kwargs).arguments.get("auth_flow")
        source = "TokenGeneration_RefreshTokens" if auth_flow in _REFRESH_FLOWS else "TokenGeneration_Authentication"
        token = _trigger_source.set(source)
        try:
            return initiate(self, *args, **kwargs)
        finally:
            _trigger_source.reset(token)

    return wrapper


# --- the OAuth 2.0 flows moto lacks -------------------------------------------------------------------------


class OAuthError(Exception):
    """An OAuth 2.0 error response (RFC 6749 section 5.2), as Cognito's token endpoint returns it."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def _find_client(client_id: str) -> tuple[Any, Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    for per_region in list(cognitoidp_backends.values()):
        for backend in list(per_region.values()):
            for pool in list(backend.user_pools.values()):
                if client_id in pool.clients:
                    return pool, pool.clients[client_id]
    raise OAuthError("invalid_client")


class TokenService:
    """Hosted-UI and client-credentials tokens for the embedded user pools."""

    def __init__(self, *, region: str) -> None:
        self.region = region

    def reset(self) -> None:
        with _pending_lock:
            _pending.clear()

    def hosted_ui_tokens(self, client_id: str, username: str, scopes: list[str] | None = None) -> dict[str, Any]:
        """What the token endpoint returns after an authorization-code sign-in by ``username``."""
        pool, client = _find_client(client_id)
        config = client.extended_config
        if not config.get("AllowedOAuthFlowsUserPoolClient") or "code" not in (config.get("AllowedOAuthFlows") or []):
            raise OAuthError("unauthorized_client")
        allowed = list(config.get("AllowedOAuthScopes") or [])
        requested = allowed if scopes is None else list(scopes)
        if any(s not in allowed for s in requested):
            raise OAuthError("invalid_scope")
        access, id_token, expires = issue_user_tokens(
            pool, client_id, username, trigger_source="TokenGeneration_HostedAuth", scopes=requested,
            include_id_token="openid" in requested)
        result: dict[str, Any] = {"access_token": access, "expires_in": expires, "token_type": "Bearer"}
        if id_token:
            result["id_token"] = id_token
        return result

    def client_credentials_token(self, client_id: str, client_secret: str,
                                 scopes: list[str] | None = None) -> dict[str, Any]:
        pool, client = _find_client(client_id)
        if not client.generate_secret or client_secret != client.secret:
            raise OAuthError("invalid_client")
        config = client.extended_config
        if (not config.get("AllowedOAuthFlowsUserPoolClient")
                or "client_credentials" not in (config.get("AllowedOAuthFlows") or [])):
            raise OAuthError("unauthorized_client")
        allowed = list(config.get("AllowedOAuthScopes") or [])
        requested = allowed if not scopes else list(scopes)
        if any(s not in allowed for s in requested):
            raise OAuthError("invalid_scope")
        changes = _run_trigger(pool, client_id, None, {}, [], requested, "TokenGeneration_ClientCredentials")
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": client_id, "token_use": "access", "scope": _final_scopes(requested, changes),
            "auth_time": now, "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
            "exp": now + ACCESS_TOKEN_LIFETIME, "iat": now, "version": 2, "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }
        _apply_claims(claims, changes.access_add, changes.access_suppress)
        return {"access_token": sign(pool, claims), "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"}

    def wsgi_token_endpoint(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """``POST /oauth2/token`` with ``grant_type=client_credentials`` (Cognito's token endpoint)."""
        request = Request(environ)
        try:
            if request.method != "POST":
                raise OAuthError("invalid_request", status=405)
            form = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            auth = request.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                try:
                    client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
                except (binascii.Error, UnicodeDecodeError):
                    raise OAuthError("invalid_client") from None
            if form.get("grant_type") != "client_credentials":
                raise OAuthError("unsupported_grant_type")
            if not client_id or not secret:
                raise OAuthError("invalid_client")
            scopes = form.get("scope", "").split() or None
            body: dict[str, Any] = self.client_credentials_token(client_id, secret, scopes)
            status = 200
        except OAuthError as exc:
            body, status = {"error": exc.error}, exc.status
        except Exception as exc:  # UserLambdaValidationException from the trigger
            body, status = {"error": "invalid_request", "error_description": str(exc)}, 400
        return Response(json.dumps(body), status=status, content_type="application/json")(environ, start_response)
