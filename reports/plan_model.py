"""A typed, read-only view of ``plan.json`` (format 1), the document `migrate.plan.plan_document` builds.

The report reads the plan only through this view, so a change of the plan format shows up here, in one place,
instead of as a ``KeyError`` deep inside a table builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_FORMATS = (1,)
STATUSES = ("exact", "needs review", "blocked", "unchanged")  # the order the summary lists them in


class PlanFormatError(ValueError):
    """The document is not a plan this report knows how to read."""


@dataclass(frozen=True)
class Principal:
    """A principal class: a group, a group combination, a user a rule names, users in no group, a client."""

    key: str
    label: str
    kind: str = ""
    examples: tuple[str, ...] = ()  # a few of its real users (or the client's name)
    users: int | None = None  # how many real users it stands for (None: a plan written before the count)


@dataclass(frozen=True)
class Route:
    route: str
    authorization_type: str
    scopes: tuple[str, ...]
    token_use: str | None
    actions: dict[str, str]
    migrated: bool
    status: str
    reasons: tuple[str, ...]
    today: tuple[Principal, ...]
    after: tuple[Principal, ...]
    policies: tuple[str, ...]
    backend_claims: tuple[str, ...]
    proxy_integration: bool | None = None  # None: a plan written before the field
    authorizer: str = ""  # "name (TYPE)" of today's authorizer, when the plan says
    # Real users who can call it, those decided through their groups' classes included (None: an older plan).
    users_today: int | None = None
    users_after: int | None = None

    @property
    def unreachable(self) -> bool:
        # A migrated method no principal class can call today: a scope nobody obtains, usually.
        return self.migrated and not self.today and not self.users_today


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    routes: tuple[str, ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Difference:
    route: str
    verb: str
    action: str
    principal: str
    principal_label: str
    direction: str  # "gains" | "loses"
    examples: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()
    cause: str = ""  # "tightened" | "unplanned" (plans written before the field: "")


@dataclass(frozen=True)
class TokenMismatch:
    route: str
    verb: str
    principal: str
    flow: str
    today: bool
    after: bool


@dataclass(frozen=True)
class Quota:
    name: str
    used: int
    limit: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    @property
    def fits(self) -> bool:
        return self.used <= self.limit


@dataclass(frozen=True)
class Policy:
    id: str
    file: str
    kind: str
    rule: str
    scopes: tuple[str, ...]
    bytes: int


@dataclass(frozen=True)
class Equivalence:
    equivalent: bool
    decisions: int
    requests: int
    seconds: float
    classes: int
    routes: int


@dataclass(frozen=True)
class Plan:
    format_version: int
    tool_version: str
    api_id: str
    api_name: str
    stage: str | None
    pool_id: str
    pool_name: str
    pool_arn: str
    namespace: str
    layout: str
    tighten: bool
    inventory_path: str
    inventory_created_at: str
    summary: dict[str, int]
    routes: tuple[Route, ...]
    classes: dict[str, Principal]
    policies: tuple[Policy, ...]
    findings: tuple[Finding, ...]
    differences: tuple[Difference, ...]
    token_mismatches: tuple[TokenMismatch, ...]
    quotas: tuple[Quota, ...]
    equivalence: Equivalence
    next_steps: tuple[str, ...]
    store_layout: str = "actions"

    def principal(self, key: str, label: str = "") -> Principal:
        """The class behind a key; a key the plan does not list still gets a readable label."""
        return self.classes.get(key) or Principal(key=key, label=label or key)

    def findings_with(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]


def load_plan(document: dict[str, Any]) -> Plan:
    version = document.get("format_version")
    if version not in SUPPORTED_FORMATS:
        raise PlanFormatError(f"plan format_version {version!r} is not supported by this report "
                              f"(supported: {', '.join(map(str, SUPPORTED_FORMATS))})")
    classes = {c["key"]: _principal(c) for c in document.get("principal_classes", [])}
    api, pool, inventory = document["api"], document["user_pool"], document.get("inventory", {})
    return Plan(
        format_version=version,
        tool_version=str(document.get("tool_version", "")),
        api_id=api["id"], api_name=api.get("name") or api["id"], stage=api.get("stage"),
        pool_id=pool["id"], pool_name=pool.get("name") or "", pool_arn=pool.get("arn") or "",
        namespace=document["namespace"], layout=document["layout"], tighten=bool(document["tighten"]),
        store_layout=str(document.get("store_layout") or "actions"),
        inventory_path=inventory.get("path", ""), inventory_created_at=inventory.get("created_at", ""),
        summary={str(k): int(v) for k, v in document["summary"].items()},
        routes=tuple(_route(r, classes) for r in document["routes"]),
        classes=classes,
        policies=tuple(_policy(p) for p in document.get("policies", [])),
        findings=tuple(_finding(f) for f in document.get("findings", [])),
        differences=tuple(_difference(d) for d in document.get("differences", [])),
        token_mismatches=tuple(_token_mismatch(m) for m in document.get("token_mismatches", [])),
        quotas=tuple(Quota(q["name"], int(q["used"]), int(q["limit"])) for q in document.get("quotas", [])),
        equivalence=_equivalence(document["equivalence"]),
        next_steps=tuple(document.get("next_steps", [])),
    )


def _principal(entry: dict[str, Any], known: dict[str, Principal] | None = None) -> Principal:
    kind = entry.get("kind") or (known[entry["key"]].kind if known and entry["key"] in known else "")
    return Principal(key=entry["key"], label=entry.get("label") or entry["key"], kind=kind,
                     examples=tuple(entry.get("examples", ())), users=entry.get("users"))


def _route(entry: dict[str, Any], classes: dict[str, Principal]) -> Route:
    return Route(
        route=entry["route"], authorization_type=entry["authorization_type"], scopes=tuple(entry.get("scopes", ())),
        token_use=entry.get("token_use"), actions=dict(entry.get("actions", {})), migrated=bool(entry["migrated"]),
        status=entry["status"], reasons=tuple(entry.get("reasons", ())),
        today=tuple(_principal(p, classes) for p in entry.get("today", ())),
        after=tuple(_principal(p, classes) for p in entry.get("after", ())),
        policies=tuple(entry.get("policies", ())), backend_claims=tuple(entry.get("backend_claims", ())),
        proxy_integration=entry.get("proxy_integration"),
        authorizer=_authorizer(entry.get("authorizer")),
        users_today=entry.get("users_today"), users_after=entry.get("users_after"),
    )


def _authorizer(entry: dict[str, Any] | None) -> str:
    return f"{entry['name']} ({entry['type']})" if entry else ""


def _policy(entry: dict[str, Any]) -> Policy:
    return Policy(id=entry["id"], file=entry.get("file", ""), kind=entry.get("kind", ""),
                  rule=entry.get("rule", ""), scopes=tuple(entry.get("scopes", ())), bytes=int(entry.get("bytes", 0)))


def _finding(entry: dict[str, Any]) -> Finding:
    return Finding(code=entry["code"], severity=entry["severity"], message=entry["message"],
                   routes=tuple(entry.get("routes", ())), detail=dict(entry.get("detail") or {}))


def _difference(entry: dict[str, Any]) -> Difference:
    return Difference(
        route=entry["route"], verb=entry["verb"], action=entry.get("action", ""), principal=entry["principal"],
        principal_label=entry.get("principal_label") or entry["principal"], direction=entry["direction"],
        examples=tuple(entry.get("examples", ())), policies=tuple(entry.get("policies", ())),
        scopes=tuple(entry.get("scopes", ())), flows=tuple(entry.get("flows", ())), cause=entry.get("cause", ""),
    )


def _token_mismatch(entry: dict[str, Any]) -> TokenMismatch:
    return TokenMismatch(route=entry["route"], verb=entry["verb"], principal=entry["principal"],
                         flow=entry.get("flow", ""), today=bool(entry["today"]), after=bool(entry["after"]))


def _equivalence(entry: dict[str, Any]) -> Equivalence:
    return Equivalence(equivalent=bool(entry["equivalent"]), decisions=int(entry.get("decisions", 0)),
                       requests=int(entry.get("requests", 0)), seconds=float(entry.get("seconds", 0.0)),
                       classes=int(entry.get("classes", 0)), routes=int(entry.get("routes", 0)))
