"""The readiness evidence: the parts of ``report shadow``'s ``shadow-report.json`` the cut-over gate reads.

Only these keys are read (the report holds more)::

    {"report_format_version": 1,
     "window": {"start": "2026-11-26T08:00:00.000Z", "end": "2026-11-26T09:00:00.000Z",
                "first_seen": "...", "last_seen": "..."},
     "routes": [{"route": "GET /avp", "ready": true, "reasons": [], "decisions": 240,
                 "disagreements": {"scope_allow_avp_deny": 0, "scope_deny_avp_allow": 0}, "avp_errors": 0}, ...]}

A window end left open (``null``: files read whole) is bounded by the records seen (``first_seen``,
``last_seen``). ``routes`` may also be an object keyed by route; ``disagreements`` a number or a list. A file
without these keys is refused in one line naming the key. Times without a zone are UTC (the authorizer logs UTC).

What the gate checks for a route going to avp (:func:`readiness_problems`): the route is in the report;
``ready`` is true (else the report's reasons are named); it saw at least one decision; the window ends after the
route last entered shadow (evidence from before that is about another configuration); the window does not end in
the future (more than :data:`CLOCK_SKEW` ahead: a wrong clock or a hand-made file); the window ended at most
``max_age`` ago.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.fileio import read_json

REPORT_FORMAT_VERSION = 1
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(hours=168)


@dataclass(frozen=True)
class RouteEvidence:
    route: str
    ready: bool
    reasons: tuple[str, ...]
    decisions: int
    disagreements: int
    avp_errors: int


@dataclass(frozen=True)
class Evidence:
    path: str
    sha256: str
    window_start: datetime
    window_end: datetime
    routes: dict[str, RouteEvidence]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(value: Any, *, where: str) -> datetime:
    if not isinstance(value, str):
        raise UserError(f"expected an ISO 8601 time, got {value!r}", where=where)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"expected an ISO 8601 time, got {value!r}", where=where) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def load_evidence(path: str) -> Evidence:
    data = read_json(path, what="shadow report")
    raw = Path(path).read_bytes()
    if not isinstance(data, dict):
        raise UserError("not a shadow report (expected a JSON object)", where=path)
    version = data.get("report_format_version", REPORT_FORMAT_VERSION)
    if version != REPORT_FORMAT_VERSION:
        raise UserError(f"shadow report format {version!r} is not supported (this avp-migrate reads "
                        f"{REPORT_FORMAT_VERSION})", where=path)
    window = data.get("window")
    if not isinstance(window, dict):
        raise UserError("not a shadow report: no \"window\" object (report shadow writes one)", where=path)
    end = window.get("end") or window.get("last_seen")
    start = window.get("start") or window.get("first_seen") or end
    if end is None:
        raise UserError("window: no \"end\" and no record seen (\"last_seen\"): the report holds no evidence",
                        where=path)
    window_start = parse_time(start, where=f"{path}: window.start")
    window_end = parse_time(end, where=f"{path}: window.end")
    if window_end < window_start:
        raise UserError(f"window ends ({end}) before it starts ({start})", where=path)
    routes_raw = data.get("routes")
    if isinstance(routes_raw, dict):
        routes_raw = [{"route": key, **value} if isinstance(value, dict) else value
                      for key, value in routes_raw.items()]
    if not isinstance(routes_raw, list):
        raise UserError("not a shadow report: no \"routes\" list (report shadow writes one per endpoint)", where=path)
    routes: dict[str, RouteEvidence] = {}
    for index, item in enumerate(routes_raw):
        parsed = _route(item, where=f"{path}: routes[{index}]")
        routes[parsed.route] = parsed
    return Evidence(path=str(path), sha256=hashlib.sha256(raw).hexdigest(), window_start=window_start,
                    window_end=window_end, routes=routes)


def _route(item: Any, *, where: str) -> RouteEvidence:
    if not isinstance(item, dict):
        raise UserError("expected an object per route", where=where)
    for key in ("route", "ready", "reasons", "decisions", "disagreements", "avp_errors"):
        if key not in item:
            raise UserError(f"missing \"{key}\"", where=where)
    route, ready, reasons = item["route"], item["ready"], item["reasons"]
    if not isinstance(route, str) or not route:
        raise UserError(f"route: expected a route key, got {route!r}", where=where)
    if not isinstance(ready, bool):
        raise UserError(f"ready: expected true or false, got {ready!r}", where=where)
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise UserError("reasons: expected a list of strings", where=where)
    return RouteEvidence(route=route, ready=ready, reasons=tuple(reasons),
                         decisions=_count(item["decisions"], where=f"{where}.decisions"),
                         disagreements=_count(item["disagreements"], where=f"{where}.disagreements"),
                         avp_errors=_count(item["avp_errors"], where=f"{where}.avp_errors"))


def _count(value: Any, *, where: str) -> int:
    """A count: a whole number, a list (its length), or an object of counts (their sum; a report may split
    disagreements by direction)."""
    if isinstance(value, bool):
        raise UserError(f"expected a count, got {value!r}", where=where)
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        total = 0
        for key, part in value.items():
            if isinstance(part, dict):
                part = part.get("count", 0)
            total += _count(part, where=f"{where}.{key}")
        return total
    raise UserError(f"expected a count, got {value!r}", where=where)


def readiness_problems(evidence: Evidence, route: str, *, entered_shadow_at: datetime | None, now: datetime,
                       max_age: timedelta = DEFAULT_MAX_AGE) -> list[str]:
    """Why ``route`` may not go to avp on this evidence; empty when it may."""
    found = evidence.routes.get(route)
    if found is None:
        return [f"not in the shadow report {evidence.path}"]
    problems: list[str] = []
    if not found.ready:
        problems.append("not ready: " + ("; ".join(found.reasons) if found.reasons else
                                         "the report gives no reason"))
    if found.decisions == 0:
        problems.append("no decisions in the report's window")
    end = evidence.window_end
    if entered_shadow_at is None:
        problems.append("the ledger does not say when it entered shadow, so the evidence cannot be dated against it")
    elif end <= entered_shadow_at:
        problems.append(f"the report's window ends {iso(end)}, before the route entered shadow "
                        f"({iso(entered_shadow_at)}): the evidence is about an earlier configuration")
    if end > now + CLOCK_SKEW:
        problems.append(f"the report's window ends in the future ({iso(end)}; now {iso(now)})")
    elif now - end > max_age:
        hours = (now - end).total_seconds() / 3600
        problems.append(f"the evidence is {hours:.0f} h old (window ended {iso(end)}; at most "
                        f"{max_age.total_seconds() / 3600:.0f} h, see --evidence-max-age)")
    return problems
