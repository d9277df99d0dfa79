"""Which mode each route moves to: the pure rules of cutover and rollback (no AWS, no files).

Modes are ordered scope < shadow < avp. ``cutover`` only moves forward, one step unless ``--to`` says where (and
avp can only be reached from shadow: shadow is where the evidence comes from); ``rollback`` only moves back.
A route already where it is asked to go is left alone, not refused, so a command can be run again safely.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from authorizer.routes import split_route_key
from migrate.cutover.ledger import mode_of
from migrate.errors import UserError

ORDER = {"scope": 0, "shadow": 1, "avp": 2}
NEXT = {"scope": "shadow", "shadow": "avp"}


@dataclass(frozen=True)
class Step:
    route: str
    before: str
    after: str


@dataclass
class Moves:
    steps: list[Step] = field(default_factory=list)
    unchanged: list[Step] = field(default_factory=list)  # before == after: already there
    refusals: dict[str, str] = field(default_factory=dict)  # route -> why


def normalize_routes(routes: Iterable[str], known: Iterable[str]) -> list[str]:
    """Route keys as the deployment record writes them (``get /avp`` -> ``GET /avp``), each once, in the order
    given; an unknown route is a one-line error naming the routes deploy moved."""
    known_list = sorted(known)
    by_upper = {key.upper(): key for key in known_list}
    result: list[str] = []
    unknown: list[str] = []
    for raw in routes:
        text = " ".join(raw.split())
        try:
            verb, path = split_route_key(text)
        except ValueError:
            raise UserError(f"not a route key (expected '<VERB> /path', e.g. 'GET /avp'): {raw!r}",
                            where="ROUTE") from None
        key = f"{verb.upper()} {path}"
        match = key if key in known_list else by_upper.get(key.upper())
        if match is None:
            unknown.append(key)
        elif match not in result:
            result.append(match)
    if unknown:
        listed = ", ".join(known_list) if known_list else "none"
        raise UserError(f"unknown route {', '.join(repr(u) for u in unknown)}: deploy moved these endpoints to "
                        f"the Lambda authorizer: {listed}", where="ROUTE")
    return result


def plan_cutover(document: dict, routes: Iterable[str], *, to: str | None = None) -> Moves:
    moves = Moves()
    for route in routes:
        current = mode_of(document, route)
        target = to or NEXT.get(current, current)
        step = Step(route, current, target)
        if target == current:
            moves.unchanged.append(step)
        elif ORDER[target] < ORDER[current]:
            moves.refusals[route] = (f"is in {current} mode; going back to {target} is a rollback "
                                     f"(avp-migrate rollback '{route}' --to {target})")
        elif target == "avp" and current != "shadow":
            moves.refusals[route] = (f"is in {current} mode: it goes to shadow first, where the evidence for avp "
                                     f"comes from (avp-migrate cutover '{route}' --to shadow)")
        else:
            moves.steps.append(step)
    return moves


def plan_rollback(document: dict, routes: Iterable[str], *, to: str = "shadow") -> Moves:
    moves = Moves()
    for route in routes:
        current = mode_of(document, route)
        step = Step(route, current, to)
        if to == current:
            moves.unchanged.append(step)
        elif ORDER[to] > ORDER[current]:
            moves.refusals[route] = (f"is in {current} mode; moving it to {to} is a cut-over, not a rollback "
                                     f"(avp-migrate cutover '{route}' --to {to})")
        else:
            moves.steps.append(step)
    return moves


def apply(document: dict, steps: Iterable[Step]) -> dict:
    """The document with the steps applied (without "version": the ledger sets it)."""
    routes = dict(document.get("routes") or {})
    for step in steps:
        routes[step.route] = step.after
    new = {key: value for key, value in document.items() if key != "version"}
    new["routes"] = dict(sorted(routes.items()))
    new.setdefault("default", "scope")
    return new
