"""`status`: every moved endpoint's mode, readiness and last change; every copy of the mode state (the ledger,
SSM, the authorizer function's fallback) against the ledger's newest version: drift, and ``--repair``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from migrate.cutover.changes import Clock, entered_shadow_at, utc_now
from migrate.cutover.deployment import Deployment, aws_errors
from migrate.cutover.evidence import DEFAULT_MAX_AGE, Evidence, load_evidence, readiness_problems
from migrate.cutover.fallback import STALE_PENDING, FallbackState, older_than
from migrate.cutover.ledger import Entry, mode_of
from migrate.cutover.publish import Published, in_sync, publish


@dataclass
class RouteStatus:
    route: str
    mode: str  # per the ledger's newest version
    ssm_mode: str | None  # per the parameter, when it holds a document
    last_change: Entry | None
    fallback_mode: str | None = None  # per the function's fallback ("both" while pending), when readable
    ready: bool | None = None  # None: no evidence given, or the route is not in it
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        last = self.last_change
        return {"route": self.route, "mode": self.mode, "ssm_mode": self.ssm_mode,
                "fallback_mode": self.fallback_mode, "ready": self.ready,
                "problems": self.problems,
                "last_change": None if last is None else {
                    "version": last.version, "at": last.at, "who": last.who, "action": last.action,
                    "from": last.before.get(self.route), "to": last.after.get(self.route, self.mode),
                    "reason": last.reason}}


@dataclass
class Status:
    label: str
    ledger: str
    parameter: str
    newest: Entry
    published: Published
    routes: list[RouteStatus]
    drift: list[str]
    fallback: FallbackState | None = None
    fallback_where: str = ""
    fallback_drift: list[str] = field(default_factory=list)
    repaired: Entry | None = None
    repaired_fallback: FallbackState | None = None
    finalized: Entry | None = None
    evidence: Evidence | None = None
    entries: int = 0

    @property
    def in_sync(self) -> bool:
        ssm_ok = not self.drift or self.repaired is not None
        fallback_ok = not self.fallback_drift or (self.repaired_fallback is not None
                                                  and not fallback_drift_of(self.repaired_fallback, self.newest,
                                                                            [r.route for r in self.routes]))
        return ssm_ok and fallback_ok

    def to_json(self) -> dict[str, Any]:
        newest = self.newest
        return {
            "api": self.label, "ledger": self.ledger, "mode_parameter": self.parameter,
            "ledger_version": newest.version, "ledger_entries": self.entries,
            "last_change": {"version": newest.version, "at": newest.at, "who": newest.who, "action": newest.action},
            "ssm_version": self.published.version, "in_sync": self.in_sync, "drift": self.drift,
            "fallback": self.fallback_where,
            "fallback_version": self.fallback.version if self.fallback else None,
            "fallback_pending": [{"writer": m.writer, "at": m.at, "routes": sorted(m.routes)}
                                 for m in (self.fallback.pending if self.fallback else ())],
            "fallback_drift": self.fallback_drift,
            "repaired_to": self.repaired.version if self.repaired else None,
            "fallback_repaired_to": self.repaired_fallback.version if self.repaired_fallback else None,
            "finalized": None if self.finalized is None else {"version": self.finalized.version,
                                                               "at": self.finalized.at, "who": self.finalized.who},
            "evidence": self.evidence.path if self.evidence else None,
            "routes": [r.to_json() for r in self.routes],
        }


def drift_of(published: Published, newest: Entry, routes: list[str]) -> list[str]:
    if not published.exists:
        return ["the mode parameter does not exist: the authorizer runs on its fallback modes"]
    if published.problem:
        return [f"the mode parameter holds no mode document ({published.problem}): the authorizer keeps its last "
                "good one"]
    if in_sync(published, newest):
        return []
    version = published.version
    if version is not None and version < newest.version:
        drift = [f"SSM holds version {version}, the ledger's newest is {newest.version} (a publication did not "
                 "complete)"]
    elif version is not None and version > newest.version:
        drift = [f"SSM holds version {version}, newer than the ledger's newest {newest.version} (written outside "
                 "avp-migrate)"]
    else:
        drift = [f"SSM holds version {version} but not the ledger's document for it (edited outside avp-migrate)"]
    assert published.document is not None
    for route in routes:
        ssm_mode, mode = mode_of(published.document, route), newest.mode_of(route)
        if ssm_mode != mode:
            drift.append(f"{route}: {ssm_mode} in SSM, {mode} in the ledger")
    return drift


def fallback_drift_of(state: FallbackState, newest: Entry, routes: list[str]) -> list[str]:
    """How the function's fallback differs from the ledger's newest version (empty: in step)."""
    if state.document is None:
        if state.problem == "not set":
            return ["the authorizer function has no fallback (AVP_AUTHZ_MODES): while SSM cannot be read, every "
                    "route is decided by the scope rule and Verified Permissions together"]
        return [f"the authorizer function's fallback is not a mode document ({state.problem}): while SSM cannot "
                "be read, every route is decided by both rules"]
    drift = []
    if state.version != newest.version:
        drift.append(f"the fallback holds version {state.version}, the ledger's newest is {newest.version}")
    for route in routes:
        mode, fallback = newest.mode_of(route), state.document.mode_for(route)
        if mode != fallback:
            drift.append(f"{route}: {fallback} in the fallback, {mode} in the ledger")
    cutoff = datetime.now(UTC) - STALE_PENDING
    for mark in state.pending:
        age = "older than 15 minutes: an interrupted change" if older_than(mark, cutoff) else "a change in flight?"
        drift.append(f"pending since {mark.at} (writer {mark.writer}, {age}): {', '.join(sorted(mark.routes))} "
                     "decided by both rules")
    return drift


def last_change(history: list[Entry], route: str) -> Entry | None:
    """The newest entry that changed ``route`` (deploy's entries list the routes they add); else the oldest."""
    for entry in reversed(history):
        if route in entry.routes:
            return entry
    return history[0] if history else None


def status(deployment: Deployment, *, evidence_path: str | None = None, repair: bool = False,
           clock: Clock = utc_now, max_age: timedelta = DEFAULT_MAX_AGE) -> Status:
    evidence = load_evidence(evidence_path) if evidence_path else None
    ledger, parameter = deployment.ledger, deployment.parameter
    with aws_errors(f"mode ledger {ledger.where}"):
        history = ledger.history()
    if not history:
        ledger.require_latest()
    newest = history[-1]
    with aws_errors(f"mode parameter {parameter.where}"):
        published = parameter.read()
    routes = deployment.routes
    drift = drift_of(published, newest, routes)
    fallback = deployment.fallback
    with aws_errors(f"authorizer fallback {fallback.where}"):
        state = fallback.read()
    fallback_drift = fallback_drift_of(state, newest, routes)
    repaired = repaired_fallback = None
    if drift and repair:
        with aws_errors(f"mode parameter {parameter.where}"):
            repaired = publish(ledger, parameter, newest)
    if fallback_drift and repair:
        # Marks younger than STALE_PENDING may belong to a change still running: they are kept (and reported).
        with aws_errors(f"authorizer fallback {fallback.where}"):
            repaired_fallback = fallback.settle(ledger.require_latest, clear_stale=True)
    now = clock()
    rows = []
    for route in routes:
        current = repaired_fallback or state
        fallback_mode = (None if current.document is None else
                         "both" if route in current.document.pending_routes else current.document.mode_for(route))
        row = RouteStatus(route=route, mode=newest.mode_of(route),
                          ssm_mode=mode_of(published.document, route) if published.document is not None else None,
                          last_change=last_change(history, route), fallback_mode=fallback_mode)
        if evidence is not None and route in evidence.routes:
            if row.mode == "shadow":
                # the full gate cutover would apply, so "ready" here means "cutover would accept it"
                row.problems = readiness_problems(evidence, route, entered_shadow_at=entered_shadow_at(history, route),
                                                  now=now, max_age=max_age)
                row.ready = not row.problems
            else:
                found = evidence.routes[route]
                row.ready, row.problems = found.ready, list(found.reasons)
        elif evidence is not None:
            row.problems = ["not in the shadow report"]
        rows.append(row)
    finalized = next((e for e in reversed(history) if e.action == "finalize"), None)
    return Status(label=deployment.label, ledger=ledger.where, parameter=parameter.where, newest=newest,
                  published=published, routes=rows, drift=drift, fallback=state, fallback_where=fallback.where,
                  fallback_drift=fallback_drift, repaired=repaired, repaired_fallback=repaired_fallback,
                  finalized=finalized, evidence=evidence, entries=len(history))


def render(result: Status) -> str:
    newest = result.newest
    lines = [f"{result.label}",
             f"ledger {result.ledger}: version {newest.version} ({newest.action} by {newest.who or 'unknown'} at "
             f"{newest.at or 'unknown'}; {result.entries} entries)"]
    if not result.drift:
        lines.append(f"SSM {result.parameter}: version {result.published.version}, in sync")
    else:
        lines.append(f"SSM {result.parameter}: DRIFT")
        lines += [f"  {d}" for d in result.drift]
        if result.repaired is not None:
            lines.append(f"  repaired: republished ledger version {result.repaired.version}")
        else:
            lines.append("  run `avp-migrate status --plan DIR --repair --yes` to republish the ledger's newest "
                         "version")
    if not result.fallback_drift:
        lines.append(f"fallback {result.fallback_where}: version "
                     f"{result.fallback.version if result.fallback else None}, in step")
    else:
        lines.append(f"fallback {result.fallback_where}: DRIFT")
        lines += [f"  {d}" for d in result.fallback_drift]
        if result.repaired_fallback is not None:
            left = result.repaired_fallback.pending
            lines.append(f"  repaired: the fallback holds ledger version {result.repaired_fallback.version}"
                         + (f"; {len(left)} recent pending mark(s) kept (a change may still be running)" if left
                            else ""))
        else:
            lines.append("  run `avp-migrate status --plan DIR --repair --yes` to bring it in step with the ledger's "
                         "newest version")
    if result.finalized is not None:
        lines.append(f"finalized at ledger version {result.finalized.version} ({result.finalized.at})")
    # READY goes last: its reasons are long, and the other columns should stay aligned
    header = ("ROUTE", "MODE", "LAST CHANGE", "READY" if result.evidence is not None else "")
    table: list[tuple[str, str, str, str]] = []
    for row in result.routes:
        mode = row.mode if row.ssm_mode in (None, row.mode) else f"{row.mode} (SSM: {row.ssm_mode})"
        if row.fallback_mode not in (None, row.mode):
            mode += f" (fallback: {row.fallback_mode})"
        if result.evidence is None:
            ready = ""
        elif row.ready is None:
            ready = "no evidence"
        else:
            ready = "yes" if row.ready else "no: " + "; ".join(row.problems)
        last = row.last_change
        change = "-" if last is None else f"v{last.version} {last.at} {last.action} by {last.who or 'unknown'}"
        table.append((row.route, mode, change, ready))
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(3)]
    for cells in [header, *table]:
        lines.append(("  ".join(c.ljust(w) for c, w in zip(cells[:3], widths, strict=True)) + "  " + cells[3])
                     .rstrip())
    return "\n".join(lines)
