"""What the shadow report counts, and how the counts become per-endpoint evidence.

Two readers fill the same :class:`Tallies`: :mod:`reports.shadow_reader` from log lines (files, or events
FilterLogEvents downloaded) and :mod:`reports.shadow_insights` from the rows of Logs Insights queries that
aggregated server-side. :func:`summarize` turns either into the route entries of ``shadow-report.json``, with
readiness from :func:`reports.shadow_readiness.readiness`. Pure: no I/O.

How a record counts (fields as :mod:`authorizer.shadow` defines them), per route:

* ``token_error`` set: a 401 before any decision; counted apart (``unauthenticated``, by code). AVP was not asked.
* no ``scope_decision`` (and no token error): refused before a decision (``decision_source`` ``config`` or
  ``error``); counted apart (``refused``, by the record's ``reason``: ``unknown_route``, ``api_mismatch``...).
* ``avp_decision`` set: a compared decision; it agrees when it equals ``scope_decision`` (exactly the record's
  ``agree``), else it is a disagreement in the direction of the scope decision.
* ``avp_error`` set: AVP was asked and failed (by error code).
* otherwise: a decision in scope mode, where AVP is not asked (``not_asked``).

``decisions`` = agreements + disagreements + AVP errors: the requests for which AVP was asked.

AVP latency counts fresh calls only (``avp_cached`` false: a cached answer repeats the original call's latency),
failed calls included (a timeout counts as the time waited). From lines the percentiles are exact, nearest-rank
(the smallest observed value with at least p % of the values at or below it: numpy's ``inverted_cdf``); from Logs
Insights they are CloudWatch's ``pct()``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from reports.shadow_readiness import SCOPE_ALLOW_AVP_DENY, SCOPE_DENY_AVP_ALLOW, Thresholds, readiness
from reports.shadow_window import Window, choose_bin, parse_record_time, record_time

REPORT_FORMAT_VERSION = 1
PERCENTILES = (50, 95, 99)
EXAMPLES_KEPT = 20  # per route and direction, in the JSON; the most frequent first
MAX_EXAMPLE_KEYS = 10_000  # distinct (principal, groups, policies) tracked per route and direction
MAX_PROBLEMS = 5  # messages about unreadable lines kept for the report

# (mode, decision_source, reason, token_error, scope_decision, avp_decision, avp_error): what one record tells
Outcome = tuple[str | None, str | None, str | None, str | None, str | None, str | None, str | None]
# (direction, principal, groups, determining policies)
ExampleKey = tuple[str, str | None, tuple[str, ...], tuple[str, ...]]


def direction_of(scope_decision: str | None) -> str:
    return SCOPE_ALLOW_AVP_DENY if scope_decision == "ALLOW" else SCOPE_DENY_AVP_ALLOW


@dataclass
class ExampleTally:
    count: int
    first_seen: str
    last_seen: str

    def add(self, count: int, first_seen: str, last_seen: str) -> None:
        self.count += count
        self.first_seen = min(self.first_seen, first_seen)
        self.last_seen = max(self.last_seen, last_seen)


@dataclass
class Latency:
    """Percentiles computed elsewhere (Logs Insights ``pct``), with the number of calls they cover."""

    calls: int
    p50: float | None
    p95: float | None
    p99: float | None


@dataclass
class RouteTally:
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    first_seen: str | None = None
    last_seen: str | None = None
    latencies: list[float] = field(default_factory=list)  # every fresh AVP call's latency (from lines)
    server_latency: Latency | None = None  # from Logs Insights
    decisions_at: Counter[int] = field(default_factory=Counter)  # bucket start (epoch s) -> decisions
    disagreements_at: Counter[int] = field(default_factory=Counter)
    directions_at: Counter[tuple[int, str]] = field(default_factory=Counter)  # (bucket, direction) -> disagreements
    errors_at: Counter[int] = field(default_factory=Counter)  # bucket -> decisions whose AVP call failed
    examples: dict[ExampleKey, ExampleTally] = field(default_factory=dict)
    examples_untracked: int = 0  # disagreements past MAX_EXAMPLE_KEYS distinct examples (counted, not shown)
    _keys_per_direction: Counter[str] = field(default_factory=Counter, repr=False)

    def seen(self, first: str | None, last: str | None) -> None:
        if first is not None and (self.first_seen is None or first < self.first_seen):
            self.first_seen = first
        if last is not None and (self.last_seen is None or last > self.last_seen):
            self.last_seen = last

    def example(self, key: ExampleKey, count: int, first_seen: str, last_seen: str) -> None:
        tally = self.examples.get(key)
        if tally is not None:
            tally.add(count, first_seen, last_seen)
        elif self._keys_per_direction[key[0]] < MAX_EXAMPLE_KEYS:
            self.examples[key] = ExampleTally(count, first_seen, last_seen)
            self._keys_per_direction[key[0]] += 1
        else:
            self.examples_untracked += count

    def merge(self, other: RouteTally) -> None:
        self.outcomes.update(other.outcomes)
        self.seen(other.first_seen, other.last_seen)
        self.latencies.extend(other.latencies)
        self.decisions_at.update(other.decisions_at)
        self.disagreements_at.update(other.disagreements_at)
        self.directions_at.update(other.directions_at)
        self.errors_at.update(other.errors_at)
        for key, tally in other.examples.items():
            self.example(key, tally.count, tally.first_seen, tally.last_seen)
        self.examples_untracked += other.examples_untracked


@dataclass
class LineCounts:
    lines: int = 0  # non-blank lines (log events)
    records: int = 0  # shadow records read (in the window or not)
    skipped: int = 0  # lines that hold no shadow record: other log lines, Lambda's START/END/REPORT, non-JSON
    invalid: int = 0  # a "shadow" key whose value is not a record of this version
    outside_window: int = 0  # records before --start or after --end
    test_invocations: int = 0  # records of TestInvokeAuthorizer calls (deploy's smoke test): not traffic

    def merge(self, other: LineCounts) -> None:
        for name in ("lines", "records", "skipped", "invalid", "outside_window", "test_invocations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Tallies:
    routes: dict[str | None, RouteTally] = field(default_factory=dict)
    lines: LineCounts = field(default_factory=LineCounts)
    resolution: int = 60  # seconds per timeline bucket as tallied (lines: minutes; Insights: the chart bin)
    problems: list[str] = field(default_factory=list)

    def route(self, name: str | None) -> RouteTally:
        tally = self.routes.get(name)
        if tally is None:
            tally = self.routes[name] = RouteTally()
        return tally

    def problem(self, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def merge(self, other: Tallies) -> None:
        if other.resolution != self.resolution:
            raise ValueError("cannot merge tallies of different timeline resolutions")
        for name, tally in other.routes.items():
            self.route(name).merge(tally)
        self.lines.merge(other.lines)
        for message in other.problems:
            self.problem(message)


# --- from tallies to the report's data -----------------------------------------------------------------------

@dataclass
class ShadowData:
    """Everything the report shows, JSON-native (``shadow-report.json`` is :meth:`to_json`)."""

    source: dict[str, Any]
    window: dict[str, Any]
    thresholds: Thresholds
    summary: dict[str, Any]
    routes: list[dict[str, Any]]
    lines: dict[str, int]
    problems: list[str]
    policy_names: dict[str, str]
    latency_method: str

    def to_json(self) -> dict[str, Any]:
        return {
            "report_format_version": REPORT_FORMAT_VERSION,
            "source": self.source,
            "window": self.window,
            "thresholds": self.thresholds.to_json(),
            "summary": self.summary,
            "routes": self.routes,
            "lines": self.lines,
            "problems": self.problems,
            "policy_names": self.policy_names,
            "latency_method": self.latency_method,
        }


def summarize(tallies: Tallies, *, thresholds: Thresholds, window: Window, source: dict[str, Any],
              expected_routes: tuple[str, ...] = (), policy_names: dict[str, str] | None = None) -> ShadowData:
    """Route entries (sorted by route), readiness, the chart's timeline and the totals.

    ``expected_routes`` (the routes deploy moved to the authorizer) are listed even with no record: a route that
    saw no traffic is not ready, and the report should say so rather than leave it out.
    """
    named = {name: tally for name, tally in tallies.routes.items() if name is not None}
    for name in expected_routes:
        named.setdefault(name, RouteTally())
    first, last = _overall_seen(named.values())
    bin_seconds, buckets = _buckets(window, first, last, tallies.resolution)
    routes = [_route_entry(name, named[name], thresholds, bin_seconds, buckets) for name in sorted(named)]
    unrouted = tallies.routes.get(None)
    summary = _summary(routes, sum(unrouted.outcomes.values()) if unrouted else 0)
    start, end = window.bounds_text()
    exact = all(t.server_latency is None for t in tallies.routes.values())
    return ShadowData(
        source=source,
        window={"start": start, "end": end, "first_seen": first, "last_seen": last, "bin_seconds": bin_seconds},
        thresholds=thresholds, summary=summary, routes=routes,
        lines={"lines": tallies.lines.lines, "records": tallies.lines.records, "skipped": tallies.lines.skipped,
               "invalid": tallies.lines.invalid, "outside_window": tallies.lines.outside_window,
               "test_invocations": tallies.lines.test_invocations},
        problems=list(tallies.problems), policy_names=dict(policy_names or {}),
        latency_method="exact (nearest rank)" if exact else "CloudWatch Logs Insights pct()",
    )


def _route_entry(name: str, tally: RouteTally, thresholds: Thresholds, bin_seconds: int,
                 buckets: list[int]) -> dict[str, Any]:
    counts = _classify(tally.outcomes)
    compared = counts["agreements"] + sum(counts["disagreements"].values())
    entry: dict[str, Any] = {
        "route": name,
        "ready": False,
        "reasons": [],
        "decisions": compared + sum(counts["avp_errors_by_type"].values()),
        "agreements": counts["agreements"],
        "disagreements": counts["disagreements"],
        "avp_errors": sum(counts["avp_errors_by_type"].values()),
        "agreement_rate": round(counts["agreements"] / compared, 6) if compared else None,
        "avp_error_rate": None,
        "avp_errors_by_type": dict(sorted(counts["avp_errors_by_type"].items())),
        "latency_ms": _latency(tally),
        "first_seen": tally.first_seen,
        "last_seen": tally.last_seen,
        "not_asked": counts["not_asked"],
        "unauthenticated": sum(counts["unauthenticated"].values()),
        "unauthenticated_by_code": dict(sorted(counts["unauthenticated"].items())),
        "refused": dict(sorted(counts["refused"].items())),
        "modes": dict(sorted(counts["modes"].items())),
        "examples": _examples(tally),
        "examples_untracked": tally.examples_untracked,
        "timeline": _timeline(tally, bin_seconds, buckets),
        "checks": [],
    }
    if entry["decisions"]:
        entry["avp_error_rate"] = round(entry["avp_errors"] / entry["decisions"], 6)
    verdict = readiness(entry, thresholds).to_json()
    entry.update(ready=verdict["ready"], reasons=verdict["reasons"], checks=verdict["checks"])
    return entry


def _classify(outcomes: Counter[Outcome]) -> dict[str, Any]:
    counts: dict[str, Any] = {"agreements": 0, "not_asked": 0,
                              "disagreements": {SCOPE_ALLOW_AVP_DENY: 0, SCOPE_DENY_AVP_ALLOW: 0},
                              "avp_errors_by_type": Counter(), "unauthenticated": Counter(), "refused": Counter(),
                              "modes": Counter()}
    for (mode, source, reason, token_error, scope, avp, avp_error), n in outcomes.items():
        counts["modes"][mode or "unknown"] += n
        if token_error is not None:
            counts["unauthenticated"][token_error] += n
        elif scope is None:
            counts["refused"][reason or source or "unknown"] += n
        elif avp is not None:
            if avp == scope:
                counts["agreements"] += n
            else:
                counts["disagreements"][direction_of(scope)] += n
        elif avp_error is not None:
            counts["avp_errors_by_type"][avp_error] += n
        else:
            counts["not_asked"] += n
    return counts


def _latency(tally: RouteTally) -> dict[str, Any]:
    if tally.server_latency is not None:
        s = tally.server_latency
        return {"calls": s.calls, "p50": s.p50, "p95": s.p95, "p99": s.p99}
    if not tally.latencies:
        return {"calls": 0, "p50": None, "p95": None, "p99": None}
    values = np.asarray(tally.latencies, dtype=float)
    p50, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES, method="inverted_cdf"))
    return {"calls": int(values.size), "p50": p50, "p95": p95, "p99": p99}


def _examples(tally: RouteTally) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {SCOPE_ALLOW_AVP_DENY: [], SCOPE_DENY_AVP_ALLOW: []}
    ranked = sorted(tally.examples.items(), key=lambda kv: (-kv[1].count, kv[1].first_seen, str(kv[0])))
    for (direction, principal, groups, policies), seen in ranked:
        if len(out[direction]) < EXAMPLES_KEPT:
            out[direction].append({"principal": principal, "groups": list(groups),
                                   "determining_policies": list(policies), "count": seen.count,
                                   "first_seen": seen.first_seen, "last_seen": seen.last_seen})
    return out


def _overall_seen(tallies: Any) -> tuple[str | None, str | None]:
    firsts = [t.first_seen for t in tallies if t.first_seen is not None]
    lasts = [t.last_seen for t in tallies if t.last_seen is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def _buckets(window: Window, first: str | None, last: str | None, resolution: int) -> tuple[int, list[int]]:
    """The chart's bin (never finer than the tallies' resolution) and every bucket start from the window's (or
    the data's) start to its end, so that quiet periods show as zero bars rather than disappear."""
    start = window.start or (parse_record_time(first) if first else None)
    end = window.end or (parse_record_time(last) if last else None)
    if start is None or end is None:
        return max(resolution, choose_bin(None)), []
    if first is not None:  # records outside a given window are dropped, but be safe with bars
        start = min(start, parse_record_time(first))
    if last is not None:
        end = max(end, parse_record_time(last))
    span = (end - start).total_seconds()
    bin_seconds = max(resolution, choose_bin(span))
    lo, hi = int(start.timestamp()) // bin_seconds, int(end.timestamp()) // bin_seconds
    return bin_seconds, [b * bin_seconds for b in range(lo, hi + 1)]


def _timeline(tally: RouteTally, bin_seconds: int, buckets: list[int]) -> list[dict[str, Any]]:
    decisions: Counter[int] = Counter()
    disagreements: Counter[int] = Counter()
    for at, n in tally.decisions_at.items():
        decisions[at - at % bin_seconds] += n
    for at, n in tally.disagreements_at.items():
        disagreements[at - at % bin_seconds] += n
    directions: Counter[tuple[int, str]] = Counter()
    for (at, direction), n in tally.directions_at.items():
        directions[(at - at % bin_seconds, direction)] += n
    errors: Counter[int] = Counter()
    for at, n in tally.errors_at.items():
        errors[at - at % bin_seconds] += n
    return [{"start": record_time(datetime.fromtimestamp(b, tz=UTC)), "decisions": decisions[b],
             "disagreements": disagreements[b], SCOPE_ALLOW_AVP_DENY: directions[(b, SCOPE_ALLOW_AVP_DENY)],
             SCOPE_DENY_AVP_ALLOW: directions[(b, SCOPE_DENY_AVP_ALLOW)], "avp_errors": errors[b]} for b in buckets]


def _summary(routes: list[dict[str, Any]], unrouted: int) -> dict[str, Any]:
    def total(key: str) -> int:
        return sum(r[key] for r in routes)

    return {
        "routes": len(routes),
        "ready": sum(1 for r in routes if r["ready"]),
        "not_ready": sum(1 for r in routes if not r["ready"]),
        "decisions": total("decisions"),
        "agreements": total("agreements"),
        "disagreements": {d: sum(r["disagreements"][d] for r in routes)
                          for d in (SCOPE_ALLOW_AVP_DENY, SCOPE_DENY_AVP_ALLOW)},
        "avp_errors": total("avp_errors"),
        "not_asked": total("not_asked"),
        "unauthenticated": total("unauthenticated"),
        "refused": sum(sum(r["refused"].values()) for r in routes) + unrouted,
        "unrouted": unrouted,  # refused before a route could be named (no method ARN, authorizer failure)
    }
