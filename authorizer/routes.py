"""Shared names for routes and Cedar actions, and API Gateway's method selection (imported by `migrate` too,
never the other way round).

Names:

* Route key: ``"<VERB> <resource path template>"``, verb upper-case as API Gateway writes it, one per API Gateway
  method: ``GET /pets/{petId}``, ``ANY /admin/{proxy+}``.
* Cedar action id: the AVP console's form, lower-case verb, a space, the path template: ``get /pets/{petId}``.
* An ``ANY`` method is expanded into one action per verb it actually receives (see below): ``post /admin/{proxy+}``,
  ... A request reaches an ANY method with its real verb in ``httpMethod`` and the ANY method's template in
  ``resourcePath``; the action is the real verb's. (Which actions the AVP console generates for ANY is not
  documented; this expansion keeps every decision per verb, which is what a caller experiences.)

How API Gateway (REST APIs) selects the method a request reaches, and what this toolkit relies on:

1. **The resource.** A request path is matched against the API's resource templates; the most specific match
   wins, segment by segment from the left: a literal segment (``/pets``) before a path parameter
   (``/{petId}``), a path parameter before a greedy ``{proxy+}``. A greedy ``{proxy+}`` (always the last segment)
   matches one or more segments, so ``/parent/{proxy+}`` stands for ``/parent/*`` at any depth but never for
   ``/parent`` itself, and it is reached only by paths no more specific resource matches. Sources: API Gateway
   developer guide, "Set up a proxy integration with a proxy resource" (api-gateway-set-up-simple-proxy: "a
   special path parameter denoted as {proxy+} ... represents any of the child resources under its parent
   resource ... /parent/{proxy+} can stand for any resource matching the path pattern of /parent/*"), and
   "Create routes for HTTP APIs" (http-api-develop-routes, "Routing API requests": a full route match is chosen
   before a route with a greedy path variable). The REST guide does not spell out the tie-break order between a
   path parameter and a literal; the rule above is the one both guides describe for greedy variables, applied
   per segment.
2. **The method on that resource.** An explicit method (``GET``) always wins over ``ANY``: ``ANY`` "can coexist
   with other Operation objects and will catch any HTTP method that wasn't explicitly declared" (developer guide,
   "x-amazon-apigateway-any-method object"). ANY covers DELETE, GET, HEAD, OPTIONS, PATCH, POST and PUT
   (api-gateway-set-up-simple-proxy, "a special method, named ANY ... for all supported methods"). So on a
   resource with ``ANY`` and ``GET``, a GET never reaches ANY, whatever ``GET``'s authorization (even ``NONE``):
   ANY's actions, policies and authorizer route list only the verbs without their own method.
3. **No fallback.** When the selected resource has neither the verb nor ANY, API Gateway answers 403
   ``MissingAuthenticationToken``; it does not try a less specific resource (UNCONFIRMED by the guide; observed
   behaviour, and the answer a Lambda authorizer never sees).

Only step 2 matters to the authorizer: API Gateway has already resolved the resource and passes its template as
``requestContext.resourcePath`` (Lambda authorizer input, REQUEST type), so the authorizer looks up the explicit
route key first, then the resource's ANY (:func:`route_candidates`). Step 1 is implemented by
:func:`select_route` for tools and tests that start from a concrete path.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    """Every verb a method could serve on its own: itself, or every verb for ANY (before the explicit methods of
    its resource take theirs: see :func:`served_verbs`)."""
    return ANY_VERBS if http_method.upper() == "ANY" else (http_method.upper(),)


def served_verbs(http_method: str, resource_methods: Iterable[str]) -> tuple[str, ...]:
    """The request verbs API Gateway sends to ``http_method`` on a resource whose methods are
    ``resource_methods`` (every method of that resource, whatever its authorization): an explicit method serves
    its verb; ANY serves only the verbs that have no method of their own."""
    verb = http_method.upper()
    if verb != "ANY":
        return (verb,)
    explicit = {m.upper() for m in resource_methods}
    return tuple(v for v in ANY_VERBS if v not in explicit)


def method_verbs(route_keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Per route key (one per method of an API), the request verbs that method receives; independent of order."""
    keys = list(route_keys)
    by_path: dict[str, set[str]] = {}
    for key in keys:
        verb, path = split_route_key(key)
        by_path.setdefault(path, set()).add(verb.upper())
    return {key: served_verbs(split_route_key(key)[0], by_path[split_route_key(key)[1]]) for key in keys}


def route_candidates(http_method: str, resource_path: str) -> tuple[str, str]:
    """The route keys a request on an already selected resource may reach, in API Gateway's order: the explicit
    method, then the resource's ANY."""
    return f"{http_method.upper()} {resource_path}", f"ANY {resource_path}"


# --- resource selection from a concrete path (step 1) ---------------------------------------------------------

_LITERAL, _PARAMETER, _GREEDY = 2, 1, 0


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/") if s] if path.strip("/") else []


def _specificity(template: str, path: str) -> tuple[int, ...] | None:
    """How specifically ``template`` matches the concrete ``path`` (higher tuples win), or None."""
    parts, request = _segments(template), _segments(path)
    rank: list[int] = []
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(parts) - 1 or len(request) <= index:
                return None  # greedy: last segment only, and it needs at least one segment to match
            return (*rank, _GREEDY)
        if index >= len(request):
            return None
        if part.startswith("{") and part.endswith("}"):
            rank.append(_PARAMETER)
        elif part == request[index]:
            rank.append(_LITERAL)
        else:
            return None
    return tuple(rank) if len(request) == len(parts) else None


def select_resource(templates: Iterable[str], path: str) -> str | None:
    """The resource template API Gateway selects for a concrete request ``path`` (rule 1 above), or None."""
    best: tuple[tuple[int, ...], str] | None = None
    for template in set(templates):
        rank = _specificity(template, path)
        if rank is not None and (best is None or rank > best[0]):
            best = (rank, template)
    return best[1] if best else None


def select_route(route_keys: Iterable[str], http_method: str, path: str) -> str | None:
    """The method (route key) a request ``http_method path`` reaches among an API's methods, or None (API Gateway
    answers 403 without calling any authorizer)."""
    keys = set(route_keys)
    resource = select_resource((split_route_key(k)[1] for k in keys), path)
    if resource is None:
        return None
    return next((key for key in route_candidates(http_method, resource) if key in keys), None)
