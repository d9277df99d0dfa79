"""`cutover` and `rollback`: decide the moves, gate them, write one ledger version, publish it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from migrate.cutover.commit import Committed, commit, routes_changing_rule
from migrate.cutover.deployment import Delay, Deployment, aws_errors
from migrate.cutover.evidence import DEFAULT_MAX_AGE, Evidence, iso, load_evidence, parse_time, readiness_problems
from migrate.cutover.ledger import Entry, Proposal, ledger_item
from migrate.cutover.limits import ssm_tier
from migrate.cutover.publish import published_text
from migrate.cutover.transitions import Moves, Step, apply, normalize_routes, plan_cutover, plan_rollback
from migrate.errors import UserError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ChangeResult:
    command: str  # "cutover" or "rollback"
    action: str  # the ledger action: cutover, force or rollback
    base: Entry  # the newest entry when the change was decided
    steps: list[Step]
    unchanged: list[Step]
    dry_run: bool = False
    entry: Entry | None = None  # what was written
    published: Entry | None = None  # what SSM holds afterwards
    overridden: dict[str, list[str]] = field(default_factory=dict)  # --force: the gate's objections, per route
    evidence: Evidence | None = None
    reason: str | None = None
    delay: Delay | None = None
    warnings: list[str] = field(default_factory=list)
    progress: Committed = field(default_factory=Committed)  # how far the write got (for Ctrl-C and errors)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command, "action": self.action, "dry_run": self.dry_run,
            "changes": [{"route": s.route, "from": s.before, "to": s.after} for s in self.steps],
            "unchanged": [{"route": s.route, "mode": s.after} for s in self.unchanged],
            "base_version": self.base.version,
            "version": self.entry.version if self.entry else None,
            "who": self.entry.who if self.entry else None, "at": self.entry.at if self.entry else None,
            "published_version": self.published.version if self.published else None,
            "overridden": self.overridden, "reason": self.reason,
            "evidence": {"file": self.evidence.path, "sha256": self.evidence.sha256} if self.evidence else None,
            "effective": self.delay.to_json() if self.delay else None,
            "warnings": self.warnings,
        }


def entered_shadow_at(history: list[Entry], route: str) -> datetime | None:
    """When ``route`` last went into shadow (the ``at`` of the version that put it there), per the ledger."""
    since: datetime | None = None
    previous: str | None = None
    for entry in history:
        mode = entry.mode_of(route)
        if mode == "shadow" and previous != "shadow":
            try:
                since = parse_time(entry.at, where=f"ledger version {entry.version}: at")
            except UserError:
                since = None
        previous = mode
    return since if previous == "shadow" else None


def cutover(deployment: Deployment, routes: list[str], *, to: str | None = None, evidence_path: str | None = None,
            force: bool = False, reason: str | None = None, dry_run: bool = False, clock: Clock = utc_now,
            max_age: timedelta = DEFAULT_MAX_AGE, progress: Committed | None = None) -> ChangeResult:
    """``progress`` (optional) is filled as the write's steps complete: what a Ctrl-C handler reports."""
    if force and not (reason and reason.strip()):
        raise UserError("--force needs --reason TEXT: the reason is recorded in the audit log", where="--force")
    keys = normalize_routes(routes, deployment.routes)
    evidence = load_evidence(evidence_path) if evidence_path else None
    with aws_errors(f"mode ledger {deployment.ledger.where}"):
        history = deployment.ledger.history()
    if not history:
        deployment.ledger.require_latest()  # raises the one-line "run deploy first"
    base = history[-1]
    moves = plan_cutover(base.document, keys, to=to)
    now = clock()
    overridden: dict[str, list[str]] = {}
    for step in moves.steps:
        if step.after != "avp":
            continue  # to shadow: the authorizer still enforces today's scope decision, nothing to prove yet
        if evidence is None:
            problems = ["no evidence: pass --evidence shadow-report.json (from `avp-migrate report shadow`)"]
        else:
            since = entered_shadow_at(history, step.route)
            problems = readiness_problems(evidence, step.route, entered_shadow_at=since, now=now, max_age=max_age)
        if problems and force:
            overridden[step.route] = problems
        elif problems:
            moves.refusals[step.route] = "; ".join(problems)
    _refuse(moves, "cutover")
    action = "force" if force else "cutover"
    result = ChangeResult(command="cutover", action=action, base=base, steps=moves.steps, unchanged=moves.unchanged,
                          dry_run=dry_run, overridden=overridden, evidence=evidence, reason=reason,
                          progress=progress if progress is not None else Committed())
    record_evidence = _evidence_record(evidence, moves.steps, overridden)
    return _write(deployment, result, record_evidence, clock)


def rollback(deployment: Deployment, routes: list[str], *, to: str = "shadow", reason: str | None = None,
             dry_run: bool = False, clock: Clock = utc_now, progress: Committed | None = None) -> ChangeResult:
    keys = normalize_routes(routes, deployment.routes)
    with aws_errors(f"mode ledger {deployment.ledger.where}"):
        history = deployment.ledger.history()
    if not history:
        deployment.ledger.require_latest()
    base = history[-1]
    moves = plan_rollback(base.document, keys, to=to)
    _refuse(moves, "rollback")
    result = ChangeResult(command="rollback", action="rollback", base=base, steps=moves.steps,
                          unchanged=moves.unchanged, dry_run=dry_run, reason=reason,
                          progress=progress if progress is not None else Committed())
    finalized = next((e for e in reversed(history) if e.action == "finalize"), None)
    if finalized is not None and moves.steps:
        result.warnings.append(
            f"the API was finalized (ledger version {finalized.version}, {finalized.at}): the methods no longer "
            "carry scopes and the Cognito authorizer is gone, so scope and shadow mode rely on the Lambda "
            "authorizer's own scope check, and on tokens still carrying the scopes the pre-token rules add")
    return _write(deployment, result, None, clock)


def _refuse(moves: Moves, command: str) -> None:
    if moves.refusals:
        why = "; ".join(f"'{route}' {reason}" for route, reason in moves.refusals.items())
        raise UserError(f"refused, nothing was written: {why}", where=command)


def _evidence_record(evidence: Evidence | None, steps: list[Step],
                     overridden: dict[str, list[str]]) -> dict[str, Any] | None:
    if evidence is None and not overridden:
        return None
    record: dict[str, Any] = {}
    if evidence is not None:
        record = {"file": evidence.path, "sha256": evidence.sha256,
                  "window": {"start": iso(evidence.window_start), "end": iso(evidence.window_end)},
                  "routes": {s.route: _route_summary(evidence, s.route) for s in steps if s.route in evidence.routes}}
    else:
        record["no_evidence"] = True  # `cutover --force --no-evidence`: said explicitly, recorded explicitly
    if overridden:
        record["overridden"] = overridden
    return record


def _route_summary(evidence: Evidence, route: str) -> dict[str, Any]:
    found = evidence.routes[route]
    return {"ready": found.ready, "reasons": list(found.reasons), "decisions": found.decisions,
            "disagreements": found.disagreements, "avp_errors": found.avp_errors}


def _write(deployment: Deployment, result: ChangeResult, evidence: dict[str, Any] | None,
           clock: Clock) -> ChangeResult:
    if not result.steps:
        return result
    steps = {step.route: step for step in result.steps}
    _check_fits(deployment, result, steps, evidence, clock)  # what the write would send: a dry run refuses it too
    if result.dry_run:
        return result
    who = deployment.caller()

    def propose(newest: Entry) -> Proposal:
        # Decided on result.base; if another writer changed one of our routes since, its change wins and ours is
        # refused (a different route changed meanwhile is merged: that is the point of re-reading).
        for route, step in steps.items():
            now_mode = newest.mode_of(route)
            if now_mode != step.before:
                raise UserError(f"'{route}' changed while this command ran (now {now_mode}, ledger version "
                                f"{newest.version}, {newest.action} by {newest.who or 'unknown'}): nothing was "
                                "written; check `avp-migrate status` and run again", where=result.command)
        return Proposal(action=result.action, document=apply(newest.document, result.steps),
                        routes=tuple(steps), before={r: s.before for r, s in steps.items()},
                        after={r: s.after for r, s in steps.items()}, evidence=evidence, reason=result.reason)

    risky = routes_changing_rule({r: s.before for r, s in steps.items()}, {r: s.after for r, s in steps.items()})
    done = commit(deployment, propose, risky=risky, who=who, at=lambda: clock().isoformat(timespec="seconds"),
                  progress=result.progress)
    assert done.entry is not None and done.published is not None  # propose never declines: there are steps
    result.entry, result.published = done.entry, done.published
    result.delay = deployment.delay()
    return result


def _check_fits(deployment: Deployment, result: ChangeResult, steps: dict[str, Step],
                evidence: dict[str, Any] | None, clock: Clock) -> None:
    """The ledger item and the SSM value this change would write, built as the write builds them, against
    DynamoDB's and SSM's size limits (migrate.cutover.limits), before the fallback is marked or anything written.
    (The fallback's own check runs before its update, which is the change's first step.)"""
    base = result.base
    document = {**apply(base.document, result.steps), "version": base.version + 1}
    entry = Entry(version=base.version + 1, document=document, at=clock().isoformat(timespec="seconds"),
                  who="x" * 2048,  # the caller's ARN is read at write time: counted at IAM's longest ARN
                  action=result.action, routes=tuple(steps), before={r: s.before for r, s in steps.items()},
                  after={r: s.after for r, s in steps.items()}, evidence=evidence, reason=result.reason)
    ledger_item(deployment.ledger.pk, entry, where=deployment.ledger.where)
    ssm_tier(published_text(document, deployment.parameter.route_keys), where=deployment.parameter.where)


def render(result: ChangeResult, deployment: Deployment) -> str:
    lines: list[str] = []
    verb = "would move" if result.dry_run else "moved"
    for step in result.steps:
        line = f"{verb} {step.route}: {step.before} -> {step.after}"
        if result.evidence is not None and step.route in result.evidence.routes:
            found = result.evidence.routes[step.route]
            line += (f" (evidence {result.evidence.path}: {'ready' if found.ready else 'NOT ready'}, "
                     f"{found.decisions} decisions, {found.disagreements} disagreements, {found.avp_errors} AVP "
                     f"errors)")
        lines.append(line)
        for problem in result.overridden.get(step.route, []):
            lines.append(f"  FORCED past: {problem}")
    for step in result.unchanged:
        lines.append(f"unchanged {step.route}: already {step.after}")
    if not result.steps:
        lines.append(f"nothing to change (ledger version {result.base.version})")
        return "\n".join(lines)
    if result.dry_run:
        lines.append(f"dry run: would write ledger version {result.base.version + 1} ({result.action}) to "
                     f"{deployment.ledger.where} and publish it to {deployment.parameter.where}; nothing written")
        return "\n".join(lines)
    entry, published = result.entry, result.published
    assert entry is not None and published is not None
    lines.append(f"ledger version {entry.version} ({entry.action}) by {entry.who} at {entry.at}"
                 + (f", reason: {entry.reason}" if entry.reason else ""))
    if published.version == entry.version:
        lines.append(f"published to {deployment.parameter.where} (version {published.version})")
    else:
        lines.append(f"published to {deployment.parameter.where}: version {published.version}, the ledger's newest "
                     f"(another change landed right after this one)")
    settled = result.progress.fallback
    if settled is not None:
        lines.append(f"authorizer fallback {deployment.fallback.where} at version {settled.version}"
                     + (f" ({len(result.progress.marked)} route(s) were decided by both rules while it changed)"
                        if result.progress.marked else ""))
    if result.delay is not None:
        lines.append(result.delay.text())
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)
