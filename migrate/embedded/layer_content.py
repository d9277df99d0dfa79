"""Lambda layer content and function code the way GetLayerVersion and GetFunction hand them out: a link that
downloads the zip.

moto 5.2.5 answers GetLayerVersion (and GetLayerVersionByArn) with ``Content.Location`` ``"s3://"``, which
nothing can download. AWS answers with "a link to the layer archive in Amazon S3 that is valid for 10 minutes"
(Lambda API reference, LayerVersionContentOutput): a presigned S3 URL, fetched without AWS credentials. The
embedded AWS serves the zip moto stored on its local-services listener, at a link signed with a key of this
process and valid for 10 minutes, so deploy's package check downloads layers exactly as it does from S3.

GetFunction's ``Code.Location`` is the same kind of link ("a presigned URL that you can use to download the
deployment package", valid for 10 minutes: Lambda API reference, FunctionCodeLocation); moto gives an address
that does not exist. ``deploy --stack`` downloads a stack's function code to check that it carries the plan's
``authorizer-config.json``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.wrappers import Request, Response

PREFIX = "/lambda-layer-content/"
FUNCTION_PREFIX = "/lambda-function-code/"
LINK_SECONDS = 600  # "valid for 10 minutes"
_KEY = secrets.token_bytes(32)
_state: dict[str, str] = {}
_lock = threading.Lock()


def serve_at(base_url: str) -> None:
    """Where the local-services listener is: links point there."""
    with _lock:
        _state["base"] = base_url


def _signature(path: str, expires: int) -> str:
    return hmac.new(_KEY, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()


def link(account_id: str, region: str, name: str, version: int, now: float | None = None,
         prefix: str = PREFIX) -> str | None:
    base = _state.get("base")
    if not base:
        return None
    path = f"{prefix}{account_id}/{region}/{quote(name, safe='')}/{version}"
    expires = int(now if now is not None else time.time()) + LINK_SECONDS
    return f"{base}{path}?X-Amz-Expires={LINK_SECONDS}&Expires={expires}&Signature={_signature(path, expires)}"


def install() -> None:
    """Patch moto's LayerVersion so GetLayerVersion's Location is a working link."""
    from moto.awslambda.models import LayerVersion

    original = LayerVersion.get_layer_version
    if getattr(original, "_avp_migrate", False):
        return

    def get_layer_version(self: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(self)
        if getattr(self, "code_bytes", b""):
            url = link(self.account_id, self.region, self.name, self.version)
            if url:
                answer["Content"]["Location"] = url
        return answer

    get_layer_version._avp_migrate = True  # type: ignore[attr-defined]
    LayerVersion.get_layer_version = get_layer_version  # type: ignore[method-assign]
    _install_function_code()


def _install_function_code() -> None:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction.get_code

    def get_code(self: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(self)
        if getattr(self, "code_bytes", b"") and "Code" in answer:
            url = link(self.account_id, self.region, self.function_name, 0, prefix=FUNCTION_PREFIX)
            if url:
                answer["Code"]["Location"] = url
        return answer

    LambdaFunction.get_code = get_code  # type: ignore[method-assign]


def matches(request: Request) -> bool:
    return request.method == "GET" and request.path.startswith((PREFIX, FUNCTION_PREFIX))


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    request = Request(environ)
    path = request.path
    try:
        expires = int(request.args.get("Expires", ""))
    except ValueError:
        expires = 0
    signature = request.args.get("Signature", "")
    # S3 answers 403 AccessDenied for a link whose signature does not match or that has expired.
    if not hmac.compare_digest(signature, _signature(path, expires)) or expires < time.time():
        return Response("<Error><Code>AccessDenied</Code><Message>Request has expired or is not signed"
                        "</Message></Error>", status=403, content_type="application/xml")(environ, start_response)
    function = path.startswith(FUNCTION_PREFIX)
    account_id, region, name, version = path[len(FUNCTION_PREFIX if function else PREFIX):].split("/")
    from moto.awslambda.models import lambda_backends

    try:
        backend = lambda_backends[account_id][region]
        layer = backend.get_function(unquote(name)) if function else backend.get_layer_version(unquote(name), version)
    except Exception:
        layer = None
    if layer is None or not getattr(layer, "code_bytes", b""):
        return Response("<Error><Code>NoSuchKey</Code></Error>", status=404,
                        content_type="application/xml")(environ, start_response)
    return Response(layer.code_bytes, status=200, content_type="application/zip")(environ, start_response)
