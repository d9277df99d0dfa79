"""Helpers for the Lambda authorizer tests: a user pool and a policy store on the embedded AWS, the authorizer's
configuration for them, realistic REQUEST events, and a harness that runs the real handler and reads back what it
logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from authorizer.config import AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig
from authorizer.core import Authorizer
from authorizer.handler import build_authorizer
from authorizer.routes import action_id, split_route_key, verbs_of
from authorizer.shadow import ShadowRecord

NS = "TestApi"
API_ID = "a1b2c3d4e5"
STAGE = "prod"
REGION = "us-east-1"
ACCOUNT = "123456789012"
PASSWORD = "Authz-Test-Passw0rd!"
RESOURCE_SERVER = "api"
SCOPES = ("scope.read", "avp.read", "pets.read", "admin", "reports.read")


def s(name: str) -> str:
    return f"{RESOURCE_SERVER}/{name}"


# route key -> method scopes (no scopes: the method takes ID tokens), as the plan would write them
ROUTES: dict[str, tuple[str, ...]] = {
    "GET /scope": (s("scope.read"),),
    "GET /avp": (s("avp.read"),),
    "GET /pets/{petId}": (s("pets.read"),),
    "ANY /admin/{proxy+}": (s("admin"),),
    "GET /reports": (s("reports.read"),),
    "GET /profile": (),
}


def route_config(key: str, scopes: tuple[str, ...], mode: str = "scope") -> RouteConfig:
    verb, path = split_route_key(key)
    return RouteConfig(actions={v: action_id(v, path) for v in verbs_of(verb)}, scopes=scopes,
                       token_use="access" if scopes else "id", initial_mode=mode,
                       machine_to_machine=key == "GET /reports")


def all_actions() -> list[str]:
    return sorted({a for key, scopes in ROUTES.items() for a in route_config(key, scopes).actions.values()})


def schema() -> str:
    """The console's API-linked schema plus a Client type for machine-to-machine callers and ``context.token``."""
    token = {"type": "Record", "required": False, "attributes": {
        "scope": {"type": "Set", "element": {"type": "String"}, "required": False},
        "client_id": {"type": "String", "required": False}}}
    applies = {"principalTypes": ["User", "Client"], "resourceTypes": ["Application"],
               "context": {"type": "Record", "attributes": {"token": token}}}
    return json.dumps({NS: {
        "entityTypes": {"User": {"memberOfTypes": ["UserGroup"]}, "UserGroup": {}, "Client": {},
                        "Application": {}},
        "actions": {a: {"appliesTo": applies} for a in all_actions()},
    }})


def group_policy(pool_id: str, group: str, actions: list[str]) -> str:
    listed = ", ".join(f'{NS}::Action::"{a}"' for a in actions)
    return f'permit(principal in {NS}::UserGroup::"{pool_id}|{group}", action in [{listed}], resource);'


def client_policy(client_id: str, action: str, scope: str) -> str:
    return (f'permit(principal == {NS}::Client::"{client_id}", action == {NS}::Action::"{action}", resource) '
            f'when {{ context has token && context.token has scope && context.token.scope.contains("{scope}") }};')


# --- the embedded AWS side ------------------------------------------------------------------------------------


@dataclass
class World:
    """A user pool (users in groups, app clients) and a policy store with an identity source and policies."""

    pool_id: str
    pool_arn: str
    clients: dict[str, str]
    secrets: dict[str, str]
    store_id: str
    policies: dict[str, str] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    def sub(self, username: str) -> str:
        attributes = boto3.client("cognito-idp").admin_get_user(UserPoolId=self.pool_id,
                                                                Username=username)["UserAttributes"]
        return next(a["Value"] for a in attributes if a["Name"] == "sub")

    def sign_in(self, username: str, client: str = "app") -> tuple[str, str]:
        """(access token, ID token) from AdminInitiateAuth: the access token's scope is only the sign-in one."""
        result = boto3.client("cognito-idp").admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=self.clients[client], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]
        return result["AccessToken"], result["IdToken"]

    def sign(self, claims: dict[str, Any], *, kid: str = "dummy") -> str:
        """Claims of our choosing, signed with the key the pool's JWKS publishes (moto's)."""
        from moto.cognitoidp.models import cognitoidp_backends

        for per_region in cognitoidp_backends.values():
            backend = per_region.get(REGION)
            if backend is not None and self.pool_id in backend.user_pools:
                from joserfc import jwt

                return jwt.encode({"kid": kid, "alg": "RS256"}, claims, backend.user_pools[self.pool_id].json_web_key)
        raise AssertionError(f"pool {self.pool_id} not found in moto")

    def access_claims(self, username: str = "alice", **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"sub": self.sub(username), "iss": self.issuer, "client_id": self.clients["web"],
                  "token_use": "access", "scope": f"openid {s('scope.read')} {s('avp.read')}", "auth_time": now,
                  "iat": now, "exp": now + 3600, "jti": str(uuid.uuid4()), "username": username, "version": 2}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}


def make_world(embedded_aws: Any, *, users: dict[str, list[str]] | None = None, name: str = "authz",
               policies: dict[str, str] | None = None, identity_source_clients: list[str] | None = None) -> World:
    idp = boto3.client("cognito-idp")
    users = users if users is not None else {"alice": ["avp-group"], "bob": [], "carol": ["admins"]}
    pool = idp.create_user_pool(PoolName=name)["UserPool"]
    pool_id = pool["Id"]
    idp.create_resource_server(UserPoolId=pool_id, Identifier=RESOURCE_SERVER, Name=RESOURCE_SERVER,
                               Scopes=[{"ScopeName": n, "ScopeDescription": n} for n in SCOPES])
    for group in sorted({g for groups in users.values() for g in groups}):
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    for username, groups in users.items():
        idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS",
                              TemporaryPassword=PASSWORD,
                              UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}])
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    clients, secrets = {}, {}
    specs: dict[str, dict[str, Any]] = {
        "app": {"ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
        # the hosted-UI client: its tokens carry whichever of these scopes are requested
        "web": {"AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True,
                "AllowedOAuthScopes": ["openid", *(s(n) for n in SCOPES)], "SupportedIdentityProviders": ["COGNITO"],
                "CallbackURLs": ["https://app.example.com/callback"]},
        "reporting": {"GenerateSecret": True, "AllowedOAuthFlows": ["client_credentials"],
                      "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthScopes": [s("reports.read")]},
        "batch": {"GenerateSecret": True, "AllowedOAuthFlows": ["client_credentials"],
                  "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthScopes": [s("reports.read")]},
    }
    for client, options in specs.items():
        created = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=client, **options)["UserPoolClient"]
        clients[client] = created["ClientId"]
        if created.get("ClientSecret"):
            secrets[client] = created["ClientSecret"]
    avp = boto3.client("verifiedpermissions")
    store = avp.create_policy_store(validationSettings={"mode": "STRICT"})["policyStoreId"]
    avp.put_schema(policyStoreId=store, definition={"cedarJson": schema()})
    avp.create_identity_source(policyStoreId=store, principalEntityType=f"{NS}::User", configuration={
        "cognitoUserPoolConfiguration": {
            "userPoolArn": pool["Arn"], "clientIds": [clients[c] for c in identity_source_clients or []],
            "groupConfiguration": {"groupEntityType": f"{NS}::UserGroup"}}})
    world = World(pool_id, pool["Arn"], clients, secrets, store)
    default_policies = {
        "avp-group": group_policy(pool_id, "avp-group", ["get /avp", "get /scope", "get /profile"]),
        "admins": group_policy(pool_id, "admins", all_actions()),
        "reporting": client_policy(clients["reporting"], "get /reports", s("reports.read")),
    }
    for label, statement in (policies if policies is not None else default_policies).items():
        world.policies[label] = avp.create_policy(policyStoreId=store, definition={
            "static": {"statement": statement}})["policyId"]
    return world


def hosted_ui_access_token(embedded_aws: Any, world: World, username: str, scopes: list[str]) -> str:
    """An access token from the hosted-UI code flow: ``scope`` holds exactly the requested scopes."""
    return embedded_aws.tokens.hosted_ui_tokens(world.clients["web"], username, scopes)["access_token"]


def client_credentials_token(embedded_aws: Any, world: World, client: str = "reporting") -> str:
    return embedded_aws.tokens.client_credentials_token(world.clients[client], world.secrets[client])["access_token"]


def config_for(world: World, *, modes: dict[str, str] | None = None, client_ids: tuple[str, ...] = (),
               extra_pools: tuple[PoolConfig, ...] = ()) -> AuthorizerConfig:
    modes = modes or {}
    return AuthorizerConfig(
        api_id=API_ID, api_name=NS, stage=STAGE, namespace=NS,
        entity_types=EntityTypes(user=f"{NS}::User", group=f"{NS}::UserGroup", client=f"{NS}::Client",
                                 resource=f"{NS}::Application", action=f"{NS}::Action"),
        resource_id=NS,
        user_pools=(PoolConfig(world.pool_id, world.issuer, client_ids), *extra_pools),
        routes={key: route_config(key, scopes, modes.get(key, "scope")) for key, scopes in ROUTES.items()},
        machine_clients=(world.clients["reporting"], world.clients["batch"]),
    )


# --- events -----------------------------------------------------------------------------------------------------


def concrete_path(resource_path: str) -> tuple[str, dict[str, str]]:
    """A request path for a resource template, and the path parameters API Gateway would pass."""
    parameters, parts = {}, []
    for part in resource_path.strip("/").split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].rstrip("+")
            value = "reports/2026/q3" if part.endswith("+}") else "pet-42"
            parameters[name] = value
            parts.append(value)
        elif part:
            parts.append(part)
    return "/" + "/".join(parts), parameters


def request_event(route: str, authorization: str | None = None, *, verb: str | None = None,
                  path: str | None = None, api_id: str = API_ID, headers: dict[str, str] | None = None,
                  multi_authorization: list[str] | None = None) -> dict[str, Any]:
    """A REST API REQUEST authorizer event as API Gateway sends it (developer guide, "Input to an API Gateway
    Lambda authorizer", REQUEST input format; the shape of Powertools' apiGatewayAuthorizerRequestEvent.json)."""
    method_verb, resource_path = split_route_key(route)
    verb = verb or method_verb
    concrete, parameters = concrete_path(resource_path)
    path = path if path is not None else concrete
    request_id = str(uuid.uuid4())
    all_headers = {
        "Accept": "application/json", "Accept-Encoding": "gzip, deflate",
        "Host": f"{api_id}.execute-api.{REGION}.amazonaws.com", "User-Agent": "authz-tests/1.0",
        "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
        "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    if authorization is not None:
        all_headers["Authorization"] = authorization
    multi = {k: [v] for k, v in all_headers.items()}
    if multi_authorization is not None:
        multi["Authorization"] = list(multi_authorization)
        all_headers["Authorization"] = multi_authorization[-1]  # API Gateway keeps the last value in headers
    now = time.time()
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{STAGE}/{verb}{path}",
        "resource": resource_path, "path": path, "httpMethod": verb,
        "headers": all_headers, "multiValueHeaders": multi,
        "queryStringParameters": {}, "multiValueQueryStringParameters": {},
        "pathParameters": parameters, "stageVariables": {},
        "requestContext": {
            "resourceId": "r3s0rc", "resourcePath": resource_path, "httpMethod": verb,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": f"/{STAGE}{path}", "accountId": ACCOUNT, "protocol": "HTTP/1.1", "stage": STAGE,
            "domainPrefix": api_id, "requestTimeEpoch": int(now * 1000), "requestId": request_id,
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "authz-tests/1.0", "accessKey": None,
                         "accountId": None, "caller": None, "user": None, "userArn": None, "apiKey": None,
                         "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                         "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None},
            "domainName": f"{api_id}.execute-api.{REGION}.amazonaws.com", "apiId": api_id,
        },
    }


# --- running the authorizer -------------------------------------------------------------------------------------


@dataclass
class Result:
    """What API Gateway would make of one invocation: 200-path Allow, 403 Deny, or 401."""

    status: str  # "ALLOW", "DENY" or "401"
    response: dict[str, Any] | None

    @property
    def resource(self) -> str:
        assert self.response is not None
        (statement,) = self.response["policyDocument"]["Statement"]
        return statement["Resource"]


@dataclass
class Harness:
    authorizer: Authorizer
    logs: io.StringIO
    environ: dict[str, str]

    def call(self, event: dict[str, Any]) -> Result:
        try:
            answer = self.authorizer(event, None)
        except Exception as exc:
            # exactly what API Gateway turns into 401: a plain Exception whose message is "Unauthorized"
            assert type(exc) is Exception and str(exc) == "Unauthorized", repr(exc)
            return Result("401", None)
        (statement,) = answer["policyDocument"]["Statement"]
        assert statement["Action"] == "execute-api:Invoke"
        assert statement["Resource"] == event["methodArn"], "the policy must cover exactly the method ARN"
        return Result(statement["Effect"].upper(), answer)

    def lines(self) -> list[str]:
        return [line for line in self.logs.getvalue().splitlines() if line.strip()]

    def records(self) -> list[ShadowRecord]:
        return [r for r in (ShadowRecord.from_log_line(line) for line in self.lines()) if r is not None]

    def last(self) -> ShadowRecord:
        return self.records()[-1]


def make_logger(stream: io.StringIO) -> Any:
    """The authorizer's own logger (authorizer/lines.py), writing to ``stream``."""
    from authorizer.telemetry import make_logger as authorizer_logger

    return authorizer_logger(f"authz-test-{uuid.uuid4().hex[:8]}", stream=stream)


def harness(tmp_path: Path, embedded_aws: Any, config: AuthorizerConfig, *, store_id: str | None,
            env: dict[str, str] | None = None, **build: Any) -> Harness:
    path = tmp_path / f"authorizer-config-{uuid.uuid4().hex[:6]}.json"
    path.write_text(config.to_json())
    environ = {
        "AVP_AUTHZ_CONFIG_PATH": str(path),
        "AVP_AUTHZ_JWKS_URL_TEMPLATE": f"{embedded_aws.moto_url}/{{pool_id}}/.well-known/jwks.json",
        "AVP_AUTHZ_AVP_TIMEOUT_MS": "3000",  # the local endpoint on a busy test machine: ample
        **({"AVP_AUTHZ_POLICY_STORE_ID": store_id} if store_id else {}),
        **(env or {}),
    }
    if "AVP_AUTHZ_MODES" not in environ and "AVP_AUTHZ_MODES_PARAMETER" not in environ:
        # A deployed function always has its fallback: the config's initial modes, as a first deploy writes them.
        environ["AVP_AUTHZ_MODES"] = json.dumps({"version": 1, "default": config.default_mode, "routes": {
            key: route.initial_mode for key, route in config.routes.items()}})
    logs = io.StringIO()
    return Harness(build_authorizer(environ, logger=build.pop("logger", None) or make_logger(logs), **build),
                   logs, environ)


def modes_env(modes: dict[str, str], default: str = "scope", version: int = 1) -> dict[str, str]:
    return {"AVP_AUTHZ_MODES": json.dumps({"version": version, "default": default, "routes": modes})}


# --- adversarial tokens -----------------------------------------------------------------------------------------


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def alg_none(claims: dict[str, Any]) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'dummy'})}.{b64(claims)}."


def alg_none_with_junk(claims: dict[str, Any]) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'dummy'})}.{b64(claims)}.{b64(b'junk-signature')}"


def hs256_with_public_key(claims: dict[str, Any], public_jwk: dict[str, Any]) -> str:
    """The classic key-confusion forgery: HMAC-SHA256 keyed with the pool's public key (PEM and JWK forms)."""
    from cryptography.hazmat.primitives import serialization
    from jwt.algorithms import RSAAlgorithm

    public = RSAAlgorithm.from_jwk(json.dumps(public_jwk))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': 'dummy'})}.{b64(claims)}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def signed_by_stranger(claims: dict[str, Any], kid: str) -> str:
    """RS256 with a key the pool never published."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def tamper(token: str, **changes: Any) -> str:
    header, _, signature = token.split(".")
    claims = claims_of(token)
    claims.update(changes)
    return f"{header}.{b64(claims)}.{signature}"


# --- a misbehaving Verified Permissions endpoint -----------------------------------------------------------------


@dataclass
class FakeAvp:
    """An HTTP server speaking just enough AWS JSON 1.0 to throttle, fail or stall."""

    behaviour: str  # "throttle", "internal", "slow"
    delay: float = 2.0
    requests: int = 0
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)


@contextmanager
def fake_avp(behaviour: str, delay: float = 2.0) -> Iterator[FakeAvp]:
    state = FakeAvp(behaviour, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests += 1
            if state.behaviour == "slow":
                state.release.wait(state.delay)
                status, body = 200, {"decision": "ALLOW", "determiningPolicies": [], "errors": []}
            elif state.behaviour == "throttle":
                status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
            else:
                status, body = 500, {"__type": "InternalServerException", "message": "Internal failure"}
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                if status >= 300:
                    self.send_header("x-amzn-ErrorType", body["__type"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout): nothing to answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class StubAvpClient:
    """An in-process stand-in for boto3's Verified Permissions client: answers from a function, counts calls."""

    def __init__(self, decide: Callable[[str, dict[str, Any]], dict[str, Any]]) -> None:
        self.decide = decide
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def is_authorized_with_token(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("IsAuthorizedWithToken", params))
        return self.decide("IsAuthorizedWithToken", params)

    def is_authorized(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("IsAuthorized", params))
        return self.decide("IsAuthorized", params)


def always(decision: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    return lambda operation, params: {"decision": decision, "determiningPolicies": [{"policyId": "stub-policy"}],
                                      "errors": []}
