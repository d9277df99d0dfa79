"""Placeholder: AWS JSON 1.0 protocol front for LocalVerifiedPermissions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response


def make_wsgi_app(service: Any) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        operation = request.headers.get("X-Amz-Target", "").split(".", 1)[-1]
        try:
            body = service.dispatch(operation, json.loads(request.get_data() or b"{}"))
            status = 200
        except Exception as exc:
            body, status = {"__type": getattr(exc, "code", "InternalServerException"), "message": str(exc)}, 400
        return Response(json.dumps(body), status=status,
                        content_type="application/x-amz-json-1.0")(environ, start_response)

    return app
