"""The embedded AWS: moto's server and our local services, on loopback, in this process.

Two HTTP listeners:

* **moto** (``--port``, default 5000): API Gateway, Cognito, SSM, DynamoDB, Lambda, IAM, CloudWatch Logs, STS...
  with the gaps this toolkit needs filled by :mod:`migrate.embedded.moto_gaps`.
* **local services** (``--port + 1``): the local Amazon Verified Permissions endpoint (AWS JSON 1.0 protocol,
  ``X-Amz-Target: VerifiedPermissions.<Operation>``) and the Cognito OAuth 2.0 token endpoint
  (``POST /oauth2/token``) that moto does not have, and the links GetLayerVersion gives to download a layer.

:meth:`EmbeddedAws.environment` gives the standard AWS SDK variables that point any boto3 program or the AWS
CLI at them (``AWS_ENDPOINT_URL`` for moto, ``AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS`` for the local endpoint).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from migrate.errors import UserError

DEFAULT_PORT = 5000
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
# Dummy credentials: moto accepts any; real AWS would reject them, which is the point.
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"  # not a secret: moto accepts any

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def cognito_issuer(region: str, pool_id: str) -> str:
    """The ``iss`` claim of a Cognito user pool token (the real AWS URL; moto writes the same)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


@dataclass
class _Route:
    """A piece of the local-services listener: it claims requests with ``matches`` and answers them."""

    matches: Callable[[Request], bool]
    app: WsgiApp


@dataclass
class LocalServices:
    """The second listener's WSGI app: dispatches to registered routes, 404 otherwise."""

    routes: list[_Route] = field(default_factory=list)

    def add(self, matches: Callable[[Request], bool], app: WsgiApp) -> None:
        self.routes.append(_Route(matches, app))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        for route in self.routes:
            if route.matches(request):
                return route.app(environ, start_response)
        body = json.dumps({"message": f"no local service at {request.method} {request.path}"})
        return Response(body, status=404, content_type="application/json")(environ, start_response)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port (0: a free port), or a one-line UserError naming the port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As Werkzeug's own server (http.server.HTTPServer.allow_reuse_address): a port in TIME_WAIT is free; on
        # Linux a port another program listens on is still refused.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        taken = " (in use by another program: stop it, or pass another --port; --port 0 picks free ports)" \
            if exc.errno == errno.EADDRINUSE else ""
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}{taken}", where="--port") from None
    except OverflowError:
        sock.close()
        raise UserError(f"not a port number: {port} (0 to 65535)", where="--port") from None
    return sock


def _moto_server(host: str, sock: socket.socket) -> Any:
    """moto's ThreadedMotoServer on a socket we bound (moto 5.2.5's ``_server_entry``, with Werkzeug's ``fd``).
    Imported here: the CLI imports this module, and moto is the optional ``local`` extra."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer

    class MotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler,
                                       fd=sock.fileno())
            self._server_ready_event.set()
            self._server.serve_forever()

    return MotoServer(ip_address=host, port=sock.getsockname()[1], verbose=False)


class EmbeddedAws:
    """Start/stop the embedded AWS. Use as a context manager, or call start() and stop()."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, local_port: int | None = None,
                 region: str = DEFAULT_REGION) -> None:
        self.host = host
        self.requested_port = port
        self.requested_local_port = local_port
        self.region = region
        self.local_services = LocalServices()
        self._moto_server: Any = None
        self._local_server: BaseWSGIServer | None = None
        self._local_thread: threading.Thread | None = None
        self._jwks_cache: dict[str, dict[str, Any]] = {}
        self.avp: Any = None  # the local Verified Permissions service, once started
        self.tokens: Any = None  # migrate.embedded.cognito_tokens.TokenService, once started

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> EmbeddedAws:
        from migrate.embedded import cognito_paging, moto_gaps

        moto_gaps.install()
        cognito_paging.install()
        # werkzeug logs every request at INFO; the embedded AWS is infrastructure, keep it quiet.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Both servers get a socket we bound ourselves: Werkzeug, binding its own, prints its message and calls
        # sys.exit() when the port is taken, and in moto's server thread that leaves `local up` waiting forever.
        moto_socket = listening_socket(self.host, self.requested_port)
        try:
            local_port = self.requested_local_port
            if local_port is None:
                local_port = moto_socket.getsockname()[1] + 1 if self.requested_port else 0
            local_socket = listening_socket(self.host, local_port)
        except BaseException:
            moto_socket.close()
            raise
        self._moto_server = _moto_server(self.host, moto_socket)
        try:
            self._moto_server.start()
        finally:
            moto_socket.close()  # the server holds its own duplicate of the descriptor
        self._install_local_services()
        try:
            self._local_server = make_server(self.host, 0, self.local_services, threaded=True,
                                             fd=local_socket.fileno())
        finally:
            local_socket.close()
        from migrate.embedded import authorizer_invoke, cfn_types, layer_content

        layer_content.serve_at(self.local_url)
        authorizer_invoke.attach(self)
        cfn_types.attach(self)
        self._local_thread = threading.Thread(target=self._local_server.serve_forever, daemon=True,
                                              name="avp-migrate-local-services")
        self._local_thread.start()
        return self

    def stop(self) -> None:
        if self._local_server is not None:
            self._local_server.shutdown()
            self._local_server = None
        if self._moto_server is not None:
            self._moto_server.stop()
            self._moto_server = None

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every resource (moto's backends and the local services' state)."""
        from moto.core.base_backend import BackendDict

        from migrate.embedded import authorizer_invoke

        authorizer_invoke.reset()
        BackendDict.reset()
        self._jwks_cache.clear()
        if self.avp is not None:
            self.avp.reset()
        if self.tokens is not None:
            self.tokens.reset()

    def _install_local_services(self) -> None:
        from migrate.embedded import cognito_tokens
        from migrate.embedded.avp import LocalVerifiedPermissions, make_wsgi_app

        self.avp = LocalVerifiedPermissions(jwks_for_issuer=self.jwks_for_issuer,
                                            user_pool_exists=self._user_pool_exists)
        self.local_services.add(
            lambda r: r.method == "POST" and r.headers.get("X-Amz-Target", "").startswith("VerifiedPermissions."),
            make_wsgi_app(self.avp),
        )
        self.tokens = cognito_tokens.TokenService(region=self.region)
        self.local_services.add(lambda r: r.path == "/oauth2/token", self.tokens.wsgi_token_endpoint)
        from migrate.embedded import layer_content

        self.local_services.add(layer_content.matches, layer_content.wsgi_app)

    # --- addresses and environment --------------------------------------------------------------------------

    @property
    def moto_port(self) -> int:
        return self._moto_server.get_host_and_port()[1]

    @property
    def local_port(self) -> int:
        assert self._local_server is not None, "start() first"
        return self._local_server.server_address[1]

    @property
    def moto_url(self) -> str:
        return f"http://{self.host}:{self.moto_port}"

    @property
    def local_url(self) -> str:
        return f"http://{self.host}:{self.local_port}"

    @property
    def avp_url(self) -> str:
        return self.local_url

    @property
    def oauth_token_url(self) -> str:
        return f"{self.local_url}/oauth2/token"

    def environment(self) -> dict[str, str]:
        """Standard AWS SDK variables (boto3, AWS CLI v2) that point at the embedded AWS."""
        return {
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS": self.avp_url,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            # Not an SDK variable: where the embedded Cognito token endpoint (client credentials) listens.
            "AVP_MIGRATE_COGNITO_TOKEN_URL": self.oauth_token_url,
        }

    def apply_environment(self) -> None:
        os.environ.update(self.environment())

    # --- Cognito JWKS, as a token verifier would fetch it -----------------------------------------------------

    def jwks_url_for_issuer(self, issuer: str) -> str | None:
        """Map a Cognito issuer URL to where the embedded pool's JWKS is served.

        On AWS the JWKS is at ``<iss>/.well-known/jwks.json``; moto serves it at
        ``<moto>/<poolId>/.well-known/jwks.json``.
        """
        prefix = f"https://cognito-idp.{self.region}.amazonaws.com/"
        if not issuer.startswith(prefix):
            return None
        pool_id = issuer[len(prefix):]
        if not pool_id or "/" in pool_id or not self._user_pool_exists_by_id(pool_id):
            return None
        return f"{self.moto_url}/{pool_id}/.well-known/jwks.json"

    def jwks_for_issuer(self, issuer: str) -> dict[str, Any] | None:
        url = self.jwks_url_for_issuer(issuer)
        if url is None:
            return None
        if url not in self._jwks_cache:
            with urllib.request.urlopen(url, timeout=5) as response:  # a loopback URL we built
                self._jwks_cache[url] = json.load(response)
        return self._jwks_cache[url]

    def verified_claims(self, token: str, *, audience: str | None = None) -> dict[str, Any]:
        """A token's claims, only after its RS256 signature verifies against the issuing pool's JWKS (as any
        verifier would check it); ``audience`` also checks ``aud`` (ID tokens). Raises PyJWT's errors."""
        import jwt

        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        jwks = self.jwks_for_issuer(issuer)
        if jwks is None:
            raise jwt.InvalidIssuerError(f"no embedded user pool issues {issuer!r}")
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token).get("kid")]
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer, audience=audience,
                          options={"verify_aud": audience is not None})

    def _user_pool_exists_by_id(self, pool_id: str) -> bool:
        from moto.cognitoidp.models import cognitoidp_backends

        region = pool_id.split("_", 1)[0]
        return any(pool_id in backend.user_pools
                   for (_, r), backend in _iter_backends(cognitoidp_backends) if r == region)

    def _user_pool_exists(self, user_pool_arn: str) -> bool:
        from migrate.inventory.model import parse_user_pool_arn

        parsed = parse_user_pool_arn(user_pool_arn)
        return parsed is not None and self._user_pool_exists_by_id(parsed[2])


def _iter_backends(backend_dict: Any) -> Iterable[tuple[tuple[str, str], Any]]:
    """(account, region) -> backend pairs that moto has already created (never creates new ones)."""
    for account_id, per_region in list(backend_dict.items()):
        for region, backend in list(per_region.items()):
            yield (account_id, region), backend
