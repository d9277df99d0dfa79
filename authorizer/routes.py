"""Shared names for routes and Cedar actions (imported by `migrate` too, never the other way round).

* Route key: ``"<VERB> <resource path template>"``, verb upper-case as API Gateway writes it, one per API Gateway
  method: ``GET /pets/{petId}``, ``ANY /admin/{proxy+}``.
* Cedar action id: the AVP console's form, lower-case verb, a space, the path template: ``get /pets/{petId}``.
* An ``ANY`` method is expanded into one action per verb API Gateway's ANY covers (DELETE, GET, HEAD, OPTIONS,
  PATCH, POST, PUT): ``get /admin/{proxy+}``, ``post /admin/{proxy+}``, ... A request reaches an ANY method with
  its real verb in ``httpMethod`` and the ANY method's template in ``resourcePath``; the action is the real
  verb's. (Which actions the AVP console generates for ANY is not documented; this expansion keeps every
  decision per verb, which is what a caller experiences.)
"""

from __future__ import annotations

ANY_VERBS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def route_key(http_method: str, path: str) -> str:
    return f"{http_method.upper()} {path}"


def split_route_key(key: str) -> tuple[str, str]:
    verb, _, path = key.partition(" ")
    if not verb or not path.startswith("/"):
        raise ValueError(f"not a route key (expected '<VERB> /path'): {key!r}")
    return verb, path


def action_id(http_method: str, path: str) -> str:
    return f"{http_method.lower()} {path}"


def verbs_of(http_method: str) -> tuple[str, ...]:
    """The request verbs an API Gateway method serves: itself, or every verb for ANY."""
    return ANY_VERBS if http_method.upper() == "ANY" else (http_method.upper(),)
