"""The plan report's data: JSON-native records derived from a `reports.plan_model.Plan`.

Everything the report shows is computed here, once; `reports.plan_report` only lays it out. These records are
also what ``report.json`` holds, so people and machines read the same numbers.

A *who* value is ``{"key", "label", "examples"}``: a principal class as the plan names it, with real users (or
the client name) it stands for.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reports.plan_model import STATUSES, Difference, Finding, Plan, Principal, Route

Record = dict[str, Any]

# Finding codes with a section of their own; every other code lands in "other findings".
SECTION_CODES = ("latent-exposure", "dead-scope", "claims-backend", "id-token-route", "machine-to-machine")
SEVERITY_ORDER = ("blocking", "review", "info")


def who(principal: Principal) -> Record:
    record: Record = {"key": principal.key, "label": principal.label, "examples": list(principal.examples)}
    if principal.users is not None:
        record["users"] = principal.users
    return record


def endpoint(route: str, verb: str) -> str:
    """``GET /pets`` as is; a verb of an ANY method as ``DELETE on ANY /admin/{proxy+}``."""
    return route if route.split(" ", 1)[0] == verb else f"{verb} on {route}"


# --- summary -----------------------------------------------------------------------------------------------------

def summary(plan: Plan) -> Record:
    by_status = {status: plan.summary.get(status, 0) for status in STATUSES}
    by_status.update({k: v for k, v in plan.summary.items() if k not in by_status})  # a status we do not know yet
    causes = [difference_cause(plan, d) for d in plan.differences]
    eq = plan.equivalence
    return {
        "endpoints": len(plan.routes),
        "migrated": sum(r.migrated for r in plan.routes),
        "by_status": by_status,
        "equivalence": {
            "equivalent": eq.equivalent, "differences": len(plan.differences),
            "tightened_differences": causes.count("tightened"), "unplanned_differences": causes.count("unplanned"),
            "token_mismatches": len(plan.token_mismatches), "decisions": eq.decisions, "requests": eq.requests,
            "seconds": eq.seconds, "principal_classes": eq.classes, "routes": eq.routes,
        },
        "findings_by_severity": {s: sum(f.severity == s for f in plan.findings) for s in SEVERITY_ORDER},
    }


# --- a row per endpoint ------------------------------------------------------------------------------------------

def route_rows(plan: Plan) -> list[Record]:
    proxies = proxy_routes(plan)
    changes = _changes_by_route(plan)
    return [_route_row(r, changes.get(r.route, {}), r.route in proxies) for r in plan.routes]


def _route_row(route: Route, changes: dict[str, list[Record]], proxy: bool) -> Record:
    return {
        "route": route.route,
        "authorization_type": route.authorization_type,
        "authorizer": route.authorizer,
        "scopes": list(route.scopes),
        "token_use": route.token_use,
        "actions": sorted(set(route.actions.values())),
        "migrated": route.migrated,
        "status": route.status,
        "reasons": list(route.reasons),
        "today": [who(p) for p in route.today],
        "after": [who(p) for p in route.after],
        "today_count": len(route.today),
        "after_count": len(route.after),
        "users_today": route.users_today,
        "users_after": route.users_after,
        "gains": changes.get("gains", []),
        "loses": changes.get("loses", []),
        "policies": list(route.policies),
        "backend_claims": list(route.backend_claims),
        "proxy_integration": proxy,
    }


def _changes_by_route(plan: Plan) -> dict[str, dict[str, list[Record]]]:
    """Per route and direction, who changes; ``verbs`` names the request verbs of an ANY method concerned."""
    verbs: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    first: dict[tuple[str, str, str], Difference] = {}
    for d in plan.differences:
        key = (d.route, d.direction, d.principal)
        verbs[key].append(d.verb)
        first.setdefault(key, d)
    out: dict[str, dict[str, list[Record]]] = defaultdict(lambda: defaultdict(list))
    for key, d in first.items():
        principal = plan.principal(d.principal, d.principal_label)
        own_verb = d.route.split(" ", 1)[0]
        out[d.route][d.direction].append({**who(principal), "examples": list(d.examples or principal.examples),
                                          "verbs": sorted({v for v in verbs[key] if v != own_verb})})
    return out


# --- differences -------------------------------------------------------------------------------------------------

def difference_cause(plan: Plan, diff: Difference) -> str:
    """``tightened`` when --tighten's dropped hosted-UI exposure explains the loss exactly; else ``unplanned``.

    Checked against the latent-exposure finding (its scope, its routes, the classes it exposed) rather than
    assumed for every loss under --tighten: a loss that tightening does not explain is a translation problem, and
    the report must not hide it behind the flag.
    """
    if diff.cause:
        return diff.cause  # the plan's own verdict (migrate.plan.difference_cause); older plans lack it
    if not plan.tighten or diff.direction != "loses":
        return "unplanned"
    for finding in plan.findings_with("latent-exposure"):
        detail = finding.detail
        if (detail.get("tightened") and detail.get("scope") in diff.scopes and diff.route in finding.routes
                and diff.principal in detail.get("exposed", ())):
            return "tightened"
    return "unplanned"


def difference_groups(plan: Plan) -> list[Record]:
    """One record per (direction, principal class, cause): who gains or loses which endpoints, and why."""
    groups: dict[tuple[str, str, str], Record] = {}
    for d in plan.differences:
        cause = difference_cause(plan, d)
        key = (d.direction, d.principal, cause)
        if key not in groups:
            principal = plan.principal(d.principal, d.principal_label)
            groups[key] = {"direction": d.direction, "principal": d.principal, "label": principal.label,
                           "examples": list(d.examples or principal.examples), "endpoints": [], "scopes": [],
                           "policies": [], "flows": [], "cause": cause}
        group = groups[key]
        _add_unique(group["endpoints"], [endpoint(d.route, d.verb)])
        _add_unique(group["scopes"], d.scopes)
        _add_unique(group["policies"], d.policies)
        _add_unique(group["flows"], d.flows)
    # Unplanned first (they block the plan), then losses before gains, then by who.
    return sorted(groups.values(), key=lambda g: (g["cause"] != "unplanned", g["direction"] != "loses", g["label"]))


def token_mismatch_rows(plan: Plan) -> list[Record]:
    return [{"route": m.route, "verb": m.verb, "endpoint": endpoint(m.route, m.verb), "principal": m.principal,
             "label": plan.principal(m.principal).label, "flow": m.flow, "today": m.today, "after": m.after}
            for m in plan.token_mismatches]


# --- findings ----------------------------------------------------------------------------------------------------

def latent_exposure_rows(plan: Plan) -> list[Record]:
    rows = []
    for f in plan.findings_with("latent-exposure"):
        detail, client_id = f.detail, str(f.detail.get("client_id", ""))
        exposed = [who(plan.principal(k)) for k in detail.get("exposed", ())]
        outcome = "no one exposed" if not exposed else ("tightened" if detail.get("tightened") else "preserved")
        rows.append({"client_id": client_id, "client": _client_name(f, client_id), "scope": detail.get("scope", ""),
                     "routes": list(f.routes), "exposed": exposed, "outcome": outcome, "severity": f.severity,
                     "message": f.message})
    return rows


def _client_name(finding: Finding, client_id: str) -> str:
    # plan.json's latent-exposure detail has the client id only; the name is in the message the translator writes
    # ("app client NAME (ID) lets ..."). Prefer a detail field if the plan ever carries one; fall back to the id.
    if finding.detail.get("client_name"):
        return str(finding.detail["client_name"])
    prefix, marker = "app client ", f" ({client_id})"
    if client_id and finding.message.startswith(prefix) and marker in finding.message:
        return finding.message[len(prefix):finding.message.index(marker)]
    return client_id


def dead_scope_rows(plan: Plan) -> list[Record]:
    return [{"scope": scope, "why": str(f.detail.get("why", "")), "severity": f.severity, "routes": list(f.routes)}
            for f in plan.findings_with("dead-scope") for scope in f.detail.get("scopes", ())]


def unreachable_rows(plan: Plan) -> list[Record]:
    return [{"route": r.route, "scopes": list(r.scopes), "token_use": r.token_use, "status": r.status,
             "after": [who(p) for p in r.after], "policies": list(r.policies)}
            for r in plan.routes if r.unreachable]


def proxy_routes(plan: Plan) -> list[str]:
    if any(r.proxy_integration is not None for r in plan.routes):
        return [r.route for r in plan.routes if r.migrated and r.proxy_integration and not r.backend_claims]
    # Older plans: the translator's proxy-integration finding is the claims-backend finding without a claims map.
    found: list[str] = []
    for f in plan.findings_with("claims-backend"):
        if "claims" not in f.detail:
            _add_unique(found, f.routes)
    return found


def claims_rows(plan: Plan) -> list[Record]:
    rows: list[Record] = [{"route": r.route, "claims": list(r.backend_claims), "kind": "reads claims",
                           "status": r.status} for r in plan.routes if r.backend_claims]
    status = {r.route: r.status for r in plan.routes}
    rows += [{"route": route, "claims": [], "kind": "proxy integration", "status": status.get(route, "")}
             for route in proxy_routes(plan) if not any(row["route"] == route for row in rows)]
    return rows


def id_token_rows(plan: Plan) -> list[Record]:
    return [{"route": r.route, "today": [who(p) for p in r.today], "after": [who(p) for p in r.after],
             "policies": list(r.policies), "status": r.status}
            for r in plan.routes if r.token_use == "id"]


def machine_rows(plan: Plan) -> list[Record]:
    rows = []
    for f in plan.findings_with("machine-to-machine"):
        client_id = str(f.detail.get("client_id", ""))
        principal = plan.principal(f"client:{client_id}", client_id)
        rows.append({"client_id": client_id, "client": principal.examples[0] if principal.examples else client_id,
                     "principal": principal.key, "routes": list(f.routes), "message": f.message})
    return rows


def other_finding_rows(plan: Plan) -> list[Record]:
    rest = [f for f in plan.findings if f.code not in SECTION_CODES]
    rest.sort(key=lambda f: _severity_rank(f.severity))  # stable: the plan's order within a severity
    return [{"severity": f.severity, "code": f.code, "message": f.message, "routes": list(f.routes),
             "detail": f.detail} for f in rest]


def messages(plan: Plan, code: str) -> list[str]:
    found: list[str] = []
    _add_unique(found, [f.message for f in plan.findings_with(code)])
    return found


# --- quotas, policies ------------------------------------------------------------------------------------------

def quota_rows(plan: Plan) -> list[Record]:
    return [{"name": q.name, "used": q.used, "limit": q.limit, "percent": round(q.percent, 1), "fits": q.fits}
            for q in plan.quotas]


def policy_rows(plan: Plan) -> list[Record]:
    return [{"id": p.id, "file": p.file, "kind": p.kind, "rule": p.rule, "scopes": list(p.scopes), "bytes": p.bytes}
            for p in plan.policies]


# --- helpers -----------------------------------------------------------------------------------------------------

def _severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _add_unique(target: list[Any], items: Any) -> None:
    for item in items:
        if item not in target:
            target.append(item)
