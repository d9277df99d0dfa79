"""`finalize`: once every migrated endpoint is on avp, take the scope regime off the API for good.

Order matters, so that a failure part-way can simply be run again:

1. Check, changing nothing: every endpoint the plan migrates is deployed and on avp in the ledger's newest
   version; every moved method still uses the Lambda authorizer (``authorizationType`` CUSTOM with the record's
   ``authorizer_id``); the inventory snapshot (for the list of unused rules and scopes) is readable; no endpoint
   reached avp by ``cutover --force`` without evidence unless the operator accepted it by name
   (``--accept-forced ROUTE``) or all of them (``--accept-forced-all``): see :func:`forced_without_evidence`.
   Then the caller's ``confirm`` (the CLI's prompt, or ``--yes``) sees exactly what will change.
2. On API Gateway: remove the scopes left on the moved methods (UpdateMethod, ``remove`` on
   ``/authorizationScopes``, one scope per operation: API Gateway API reference, "Patch operations"), delete each
   old Cognito authorizer that no method of the API uses any more (DeleteAuthorizer; one still used is kept and
   reported), and create a deployment of the stage (method changes reach callers only through a deployment).
3. Append a ``finalize`` entry to the ledger (same modes, next version) and publish it.

A second run finds nothing to change on the API and an existing finalize entry, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.cutover.changes import Clock, utc_now
from migrate.cutover.commit import commit
from migrate.cutover.deployment import Deployment, aws_errors
from migrate.cutover.ledger import Entry, Proposal
from migrate.cutover.transitions import apply, normalize_routes
from migrate.cutover.unused import (
    ScopeUse,
    Unused,
    inventory_scope_uses,
    scopes_read_by_policies,
    unused_after_finalize,
)
from migrate.errors import GateRefused, UserError
from migrate.inventory import load_inventory
from migrate.inventory.model import parse_user_pool_arn


@dataclass
class LiveMethod:
    route: str
    resource_id: str
    http_method: str
    authorization_type: str
    authorizer_id: str | None
    scopes: list[str]


@dataclass(frozen=True)
class ScopeRemoval:
    route: str
    resource_id: str
    http_method: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class AuthorizerFate:
    authorizer_id: str
    name: str
    delete: bool
    used_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForcedRoute:
    """An endpoint on avp whose move there was ``cutover --force`` without evidence for it."""

    route: str
    entry: Entry  # the ledger version that moved it to avp
    accepted: bool  # --accept-forced named it, or --accept-forced-all

    def describe(self) -> str:
        entry = self.entry
        return (f"{self.route} (ledger version {entry.version}, {entry.at or 'unknown time'}, by "
                f"{entry.who or 'unknown'}, reason: {entry.reason or 'none recorded'})")

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "version": self.entry.version, "at": self.entry.at, "who": self.entry.who,
                "reason": self.entry.reason, "accepted": self.accepted}


@dataclass
class FinalizeResult:
    label: str
    dry_run: bool
    removals: list[ScopeRemoval]
    authorizers: list[AuthorizerFate]
    needs_entry: bool  # no finalize entry in the ledger yet
    unused: Unused
    base: Entry
    stage: str
    deployment_id: str | None = None
    entry: Entry | None = None
    published: Entry | None = None
    warnings: list[str] = field(default_factory=list)
    forced: list[ForcedRoute] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.removals or any(a.delete for a in self.authorizers) or self.needs_entry)

    @property
    def api_changed(self) -> bool:
        return bool(self.removals or any(a.delete for a in self.authorizers))

    def to_json(self) -> dict[str, Any]:
        return {
            "api": self.label, "dry_run": self.dry_run, "changed": self.changed,
            "scopes_removed": [{"route": r.route, "scopes": list(r.scopes)} for r in self.removals],
            "authorizers": [{"id": a.authorizer_id, "name": a.name, "deleted": a.delete, "used_by": list(a.used_by)}
                            for a in self.authorizers],
            "deployment_id": self.deployment_id,
            "version": self.entry.version if self.entry else None,
            "published_version": self.published.version if self.published else None,
            "unused": self.unused.to_json(), "warnings": self.warnings,
            "forced_without_evidence": [f.to_json() for f in self.forced],
        }


def finalize(deployment: Deployment, *, inventory_path: str | None = None, dry_run: bool = False,
             clock: Clock = utc_now, accept_forced: Iterable[str] = (), accept_all_forced: bool = False,
             confirm: Callable[[FinalizeResult], None] | None = None) -> FinalizeResult:
    """``confirm`` is called with the result (nothing changed yet) just before the first change, and only when
    there is one: it raises to stop. Endpoints forced to avp without evidence refuse the run unless accepted."""
    record = deployment.record
    ledger = deployment.ledger
    plan = deployment.plan_document()
    with aws_errors(f"mode ledger {ledger.where}"):
        history = ledger.history()
    if not history:
        ledger.require_latest()
    newest = history[-1]
    _require_all_on_avp(deployment, plan, newest)
    forced = _forced_routes(deployment, history, accept_forced, accept_all_forced)
    inventory = load_inventory(_inventory_path(deployment, plan, inventory_path))
    apigw = deployment.client("apigateway")
    with aws_errors(f"API {record.api_id}"):
        live = _live_methods(apigw, record.api_id)
        authorizers = {a["id"]: a for a in _paginate(apigw, "get_authorizers", restApiId=record.api_id)}
    by_place = {(m.resource_id, m.http_method): m for m in live}
    removals: list[ScopeRemoval] = []
    wrong: list[str] = []
    for route, moved in sorted(record.methods.items()):
        method = by_place.get((moved.resource_id, moved.http_method))
        if method is None:
            wrong.append(f"'{route}' is no longer on the API (resource {moved.resource_id} {moved.http_method})")
        elif method.authorization_type != "CUSTOM" or method.authorizer_id != record.authorizer_id:
            wrong.append(f"'{route}' uses {method.authorization_type} authorizer {method.authorizer_id}, not the "
                         f"Lambda authorizer {record.authorizer_id}")
        elif method.scopes:
            removals.append(ScopeRemoval(route, method.resource_id, method.http_method, tuple(method.scopes)))
    if wrong:
        raise UserError("refused, nothing was changed: " + "; ".join(wrong) + " (run `avp-migrate deploy` again)",
                        where="finalize")
    removed = {(r.resource_id, r.http_method) for r in removals}
    after = [LiveMethod(m.route, m.resource_id, m.http_method, m.authorization_type, m.authorizer_id,
                        [] if (m.resource_id, m.http_method) in removed else m.scopes) for m in live]
    old_ids = sorted({m.original.authorizerId for m in record.methods.values()
                      if m.original.authorizationType == "COGNITO_USER_POOLS" and m.original.authorizerId})
    fates = []
    for old_id in old_ids:
        if old_id not in authorizers:
            continue  # deleted already (an earlier finalize, or by hand)
        used_by = tuple(sorted(m.route for m in after if m.authorizer_id == old_id))
        fates.append(AuthorizerFate(old_id, str(authorizers[old_id].get("name", "")), not used_by, used_by))
    pool_id = _pool_id(plan, inventory, authorizers, old_ids)
    uses = inventory_scope_uses(inventory, skip_api=record.api_id) + [
        ScopeUse(f"{record.api_name} ({record.api_id})", m.route, _pools(authorizers.get(m.authorizer_id or "")),
                 tuple(m.scopes))
        for m in after if m.authorization_type == "COGNITO_USER_POOLS" and m.scopes]
    unused = unused_after_finalize(inventory, pool_id, uses=uses,
                                   policy_scopes=scopes_read_by_policies(deployment.plan_dir))
    result = FinalizeResult(label=deployment.label, dry_run=dry_run, removals=removals, authorizers=fates,
                            needs_entry=not any(e.action == "finalize" for e in history), unused=unused, base=newest,
                            stage=record.stage, forced=forced)
    if dry_run or not result.changed:
        return result
    refused = [f for f in forced if not f.accepted]
    if refused:
        raise GateRefused(
            "refused, nothing was changed: these endpoints reached avp by `cutover --force` without evidence: "
            + "; ".join(f.describe() for f in refused) + ". Check each one (the shadow report, or `cutover --to "
            "avp --evidence FILE` after a rollback), then accept it by name with --accept-forced ROUTE "
            "(repeatable) or all of them with --accept-forced-all", where="finalize")
    if confirm is not None:
        confirm(result)
    _apply(deployment, result)
    who = deployment.caller()
    details = {"scopes_removed": {r.route: list(r.scopes) for r in removals},
               "authorizers_deleted": [a.authorizer_id for a in fates if a.delete],
               "authorizers_kept": {a.authorizer_id: list(a.used_by) for a in fates if not a.delete},
               "deployment_id": result.deployment_id}
    if forced:  # the audit log says who accepted which forced move (the finalize entry's "who")
        details["forced_accepted"] = {f.route: f.entry.version for f in forced}

    def propose(latest: Entry) -> Proposal:
        _require_all_on_avp(deployment, plan, latest, after_api_changes=result.api_changed)
        return Proposal(action="finalize", document=apply(latest.document, []), details=details)

    # No route changes its mode, so nothing is marked pending; the fallback still follows the new version.
    done = commit(deployment, propose, risky=(), who=who, at=lambda: clock().isoformat(timespec="seconds"))
    assert done.entry is not None and done.published is not None
    result.entry, result.published = done.entry, done.published
    return result


def forced_without_evidence(history: list[Entry], routes: Iterable[str]) -> dict[str, Entry]:
    """The routes on avp in the newest entry whose last move to avp was a ``force`` entry without evidence for
    them: its ``evidence`` is absent, names no report file (``cutover --force --no-evidence``), or its report does
    not cover the route. A route rolled back and cut over again with evidence is no longer listed."""
    found: dict[str, Entry] = {}
    for route in routes:
        previous = None
        moved_by: Entry | None = None
        for entry in history:
            mode = entry.mode_of(route)
            if mode == "avp" and previous != "avp":
                moved_by = entry
            elif mode != "avp":
                moved_by = None
            previous = mode
        if moved_by is not None and moved_by.action == "force" and not _evidence_covers(moved_by, route):
            found[route] = moved_by
    return found


def _evidence_covers(entry: Entry, route: str) -> bool:
    evidence = entry.evidence or {}
    return bool(evidence.get("file")) and route in (evidence.get("routes") or {})


def _forced_routes(deployment: Deployment, history: list[Entry], accept: Iterable[str],
                   accept_all: bool) -> list[ForcedRoute]:
    forced = forced_without_evidence(history, deployment.routes)
    try:
        accepted = normalize_routes(list(accept), deployment.routes)
    except UserError as exc:
        raise UserError(str(exc).removeprefix("ROUTE: "), where="--accept-forced") from None
    needless = [route for route in accepted if route not in forced]
    if needless:
        raise UserError(f"{', '.join(repr(r) for r in needless)} did not reach avp by --force without evidence "
                        f"(those that did: {', '.join(forced) or 'none'})", where="--accept-forced")
    return [ForcedRoute(route, entry, accept_all or route in accepted) for route, entry in sorted(forced.items())]


def _require_all_on_avp(deployment: Deployment, plan: dict[str, Any] | None, newest: Entry, *,
                        after_api_changes: bool = False) -> None:
    migrated = [r["route"] for r in (plan or {}).get("routes", []) if isinstance(r, dict) and r.get("migrated")]
    routes = sorted(set(migrated) | set(deployment.routes))
    missing = []
    for route in routes:
        if route not in deployment.record.methods:
            missing.append(f"'{route}' (not deployed to the Lambda authorizer)")
        elif newest.mode_of(route) != "avp":
            missing.append(f"'{route}' ({newest.mode_of(route)})")
    if missing:
        if after_api_changes:
            raise UserError(f"the API changes were made, but meanwhile these endpoints left avp: {', '.join(missing)}; "
                            "no finalize entry was written (cut them over again, then run finalize again)",
                            where="finalize")
        raise UserError(f"refused, nothing was changed: every migrated endpoint must be on avp first; not yet: "
                        f"{', '.join(missing)}", where="finalize")


def _inventory_path(deployment: Deployment, plan: dict[str, Any] | None, given: str | None) -> str:
    if given:
        return given
    recorded = ((plan or {}).get("inventory") or {}).get("path")
    if not recorded:
        raise UserError("plan.json names no inventory snapshot: pass --inventory FILE", where="finalize")
    # plan.json keeps the path as given to `plan`: relative to where plan ran, or failing that to the plan folder
    for candidate in (Path(recorded), deployment.plan_dir / recorded, deployment.plan_dir.parent / Path(recorded).name):
        if candidate.is_file():
            return str(candidate)
    raise UserError(f"the inventory snapshot plan.json names ({recorded}) is not there: pass --inventory FILE",
                    where="finalize")


def _pool_id(plan: dict[str, Any] | None, inventory: Any, authorizers: dict[str, Any], old_ids: list[str]) -> str:
    pool = ((plan or {}).get("user_pool") or {}).get("id")
    if pool:
        return str(pool)
    for old_id in old_ids:
        pools = _pools(authorizers.get(old_id))
        if pools:
            return pools[0]
    for api in inventory.apis:
        for authorizer in api.authorizers:
            if authorizer.id in old_ids and authorizer.user_pool_ids:
                return authorizer.user_pool_ids[0]
    raise UserError("cannot tell which user pool the old authorizer used (no plan.json user_pool, authorizer gone)",
                    where="finalize")


def _pools(authorizer: dict[str, Any] | None) -> tuple[str, ...]:
    pools = []
    for arn in (authorizer or {}).get("providerARNs") or []:
        parsed = parse_user_pool_arn(arn)
        pools.append(parsed[2] if parsed else arn)
    return tuple(pools)


def _paginate(client: Any, operation: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**kwargs, PaginationConfig={"PageSize": 500}):
        yield from page.get("items") or []


def _live_methods(apigw: Any, api_id: str) -> list[LiveMethod]:
    methods = []
    for resource in _paginate(apigw, "get_resources", restApiId=api_id, embed=["methods"]):
        for verb, method in (resource.get("resourceMethods") or {}).items():
            methods.append(LiveMethod(route=f"{verb} {resource['path']}", resource_id=resource["id"], http_method=verb,
                                      authorization_type=str(method.get("authorizationType") or "NONE"),
                                      authorizer_id=method.get("authorizerId"),
                                      scopes=list(method.get("authorizationScopes") or [])))
    return methods


def _apply(deployment: Deployment, result: FinalizeResult) -> None:
    record = deployment.record
    apigw = deployment.client("apigateway")
    for removal in result.removals:
        with aws_errors(f"method {removal.route}"):
            apigw.update_method(restApiId=record.api_id, resourceId=removal.resource_id,
                                httpMethod=removal.http_method,
                                patchOperations=[{"op": "remove", "path": "/authorizationScopes", "value": scope}
                                                 for scope in removal.scopes])
    for fate in result.authorizers:
        if fate.delete:
            with aws_errors(f"authorizer {fate.name} ({fate.authorizer_id})"):
                apigw.delete_authorizer(restApiId=record.api_id, authorizerId=fate.authorizer_id)
    if result.api_changed:
        with aws_errors(f"stage {record.stage}"):
            result.deployment_id = apigw.create_deployment(
                restApiId=record.api_id, stageName=record.stage,
                description="avp-migrate finalize: scopes and the Cognito authorizer removed")["id"]


def render(result: FinalizeResult) -> str:
    lines = [f"finalize {result.label}" + (" (dry run: nothing changed)" if result.dry_run else "")]
    lines += _change_lines(result, "would " if result.dry_run else "")
    unused = result.unused
    lines.append(f"no endpoint needs these any more (user pool {unused.pool_id}):")
    if unused.scopes:
        for scope in unused.scopes:
            clients = unused.clients.get(scope)
            lines.append(f"  scope {scope}" + (f" (allowed to app clients {', '.join(clients)})" if clients else ""))
    else:
        lines.append("  no scope")
    for rule in unused.rules:
        if rule.verdict == "remove":
            lines.append(f"  pre-token rule {rule.rule_id}: remove (it only sets {', '.join(rule.scopes)})")
        else:
            lines.append(f"  pre-token rule {rule.rule_id}: drop {', '.join(rule.scopes)} "
                         f"(keep {', '.join(rule.keeps)})")
    for scope, why in unused.needed.items():
        lines.append(f"still needed: {scope}: {'; '.join(why)}")
    lines += [f"note: {note}" for note in unused.notes]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def describe_pending(result: FinalizeResult) -> list[str]:
    """What finalize is about to do (for the confirmation prompt): the changes, and what cannot be undone."""
    lines = [f"finalize {result.label} will:", *_change_lines(result, "")]
    gone = [f for f in result.authorizers if f.delete]
    if gone:
        lines.append("this cannot be undone: API Gateway cannot bring a deleted authorizer back, so undeploy cannot "
                     "put back " + ", ".join(f"{f.name} ({f.authorizer_id})" for f in gone)
                     + ", and the endpoints that used it stay on the Lambda authorizer")
    return lines


def _change_lines(result: FinalizeResult, will: str) -> list[str]:
    lines: list[str] = []
    for removal in result.removals:
        lines.append(f"  {will}remove scopes from {removal.route}: {', '.join(removal.scopes)}")
    for fate in result.authorizers:
        if fate.delete:
            lines.append(f"  {will}delete Cognito authorizer {fate.name} ({fate.authorizer_id}): no method uses it")
        else:
            lines.append(f"  keep Cognito authorizer {fate.name} ({fate.authorizer_id}): still used by "
                         f"{', '.join(fate.used_by)}")
    if result.api_changed:
        lines.append(f"  {will}create a deployment of stage {result.stage}"
                     + (f": {result.deployment_id}" if result.deployment_id else ""))
    if result.needs_entry:
        lines.append(f"  {will}record a finalize entry in the mode ledger"
                     + (f": version {result.entry.version} by {result.entry.who}" if result.entry else ""))
    if not result.changed:
        lines.append("  nothing to change: already finalized")
    for forced in result.forced:
        verdict = ("accepted" if forced.accepted else
                   "finalize refuses it unless --accept-forced names it (or --accept-forced-all)")
        lines.append(f"  forced to avp without evidence: {forced.describe()}: {verdict}")
    return lines
