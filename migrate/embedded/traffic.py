"""Demo traffic on request: the embedded AWS sends the demo users' requests through a deployed authorizer.

On AWS, callers send requests and API Gateway invokes the authorizer; the embedded AWS has no API Gateway data
plane and moto cannot run functions. So that a newcomer can follow the README by hand (deploy, let traffic
build up, `report shadow`, a gated `cutover` without `--force`), `avp-migrate local up --seed demo` serves
``POST /_avp-migrate/traffic`` on its local-services listener: every demo user (real sign-in, pre-token trigger,
signed tokens) and the client-credentials client call every route the deployed function serves, with the token
type the route takes, as API Gateway's REQUEST events (:func:`migrate.embedded.functions.demo_traffic`); the
function is the deployed one (its own package's configuration, its own environment), and its log lines go to
its log group, where `report shadow` reads them. ``avp-migrate local traffic`` is the client.

Request body: ``{"function_name": "...", "rounds": 1}``; answer: ``{"calls", "by_status", "outcomes",
"described", "enforced_by_avp", "log_group"}`` (outcomes in the shadow report's words); 409 when the embedded AWS
was started without ``--seed demo`` (no demo users), 404 when the function does not exist.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wrappers import Request, Response

PATH = "/_avp-migrate/traffic"
MAX_ROUNDS = 100
_lock = threading.Lock()  # one traffic run at a time: the function's logger and stdout are shared


def matches(request: Request) -> bool:
    return request.method == "POST" and request.path == PATH


def app(aws: Any, account: Any | None) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def answer(status: int, body: dict[str, Any]) -> Iterable[bytes]:
            return Response(json.dumps(body), status=status, content_type="application/json")(environ,
                                                                                               start_response)

        if account is None:
            return answer(409, {"message": "the embedded AWS was started without --seed demo: it has no demo users "
                                           "to send requests as"})
        try:
            body = json.loads(Request(environ).get_data() or b"{}")
            name = str(body["function_name"])
            rounds = int(body.get("rounds", 1))
        except (ValueError, KeyError, TypeError):
            return answer(400, {"message": "expected {\"function_name\": NAME, \"rounds\": N}"})
        if not 1 <= rounds <= MAX_ROUNDS:
            return answer(400, {"message": f"rounds: 1 to {MAX_ROUNDS}"})
        from migrate.embedded.functions import LocalAuthorizerFunction, demo_traffic

        with _lock:
            from pretoken_lambda.handler import _get_logger

            # The pre-token trigger runs in this process and logs each sign-in to stdout: `local up`'s stdout is
            # the environment file a shell sources, so keep those lines out of it.
            _get_logger().setLevel("WARNING")
            try:
                function = LocalAuthorizerFunction(aws, name)
            except Exception as exc:  # the function does not exist (GetFunction's error)
                return answer(404, {"message": f"no function {name}: {exc}"})
            try:
                traffic = demo_traffic(function, account, rounds=rounds)
            finally:
                function.close()
        return answer(200, {"calls": traffic.calls, "by_status": traffic.by_status, "outcomes": traffic.outcomes,
                            "described": traffic.describe(),
                            "enforced_by_avp": traffic.enforced_by_avp, "log_group": function.log_group})

    return wsgi
