"""The AWS JSON 1.0 protocol front of :class:`~migrate.embedded.avp.service.LocalVerifiedPermissions`.

What botocore sends for the ``json`` protocol with ``jsonVersion`` 1.0 and ``targetPrefix``
VerifiedPermissions (botocore model metadata): ``POST /``, ``X-Amz-Target: VerifiedPermissions.<Operation>``,
``Content-Type: application/x-amz-json-1.0``, a JSON object body. Answers are JSON with the same content type;
errors carry the code in ``__type`` (botocore reads it from there) plus ``x-amzn-ErrorType``, and the shape's
members beside ``message``. A body that is not a JSON object is a ``SerializationException``; an unknown
target an ``UnknownOperationException``, as AWS JSON services answer.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

from migrate.embedded.avp.errors import AvpServiceError, internal_error

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_PREFIX = "VerifiedPermissions."
_log = logging.getLogger(__name__)


def make_wsgi_app(service: Any) -> Callable[..., Iterable[bytes]]:
    """A WSGI app answering Verified Permissions requests with ``service.dispatch``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request_id = str(uuid.uuid4())
        try:
            operation, params = _read(request)
            body, status = service.dispatch(operation, params), 200
        except AvpServiceError as exc:
            body, status = exc.body(), exc.status
        except Exception:  # a bug here must not look like a client error, nor kill the listener
            target = request.headers.get("X-Amz-Target")
            _log.exception("local Verified Permissions endpoint failed on %s", target)
            error = internal_error()
            body, status = error.body(), error.status
        response = Response(json.dumps(body), status=status, content_type=CONTENT_TYPE)
        response.headers["x-amzn-RequestId"] = request_id
        if status >= 300:
            response.headers["x-amzn-ErrorType"] = body["__type"]
        return response(environ, start_response)

    return app


def _read(request: Request) -> tuple[str, dict[str, Any]]:
    target = request.headers.get("X-Amz-Target", "")
    if request.method != "POST" or not target.startswith(TARGET_PREFIX):
        raise AvpServiceError("UnknownOperationException", f"Unknown operation target: {target!r}.")
    operation = target[len(TARGET_PREFIX):]
    raw = request.get_data()
    try:
        params = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AvpServiceError("SerializationException",
                              f"The request body is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise AvpServiceError("SerializationException", "The request body must be a JSON object.")
    return operation, params
