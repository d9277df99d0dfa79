"""What a translation produces: routes, grants, Cedar policies and findings (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["info", "review", "blocking"]
GrantKind = Literal["pretoken-rule", "id-token", "hosted-ui-exposure", "machine-to-machine"]
PrincipalKind = Literal["group", "user", "any-user", "client"]


@dataclass(frozen=True)
class RoutePlan:
    """One API Gateway method and what the migration does with it."""

    route: str  # route key: "GET /pets/{petId}"
    method_path: str
    http_method: str
    authorization_type: str
    scopes: tuple[str, ...]
    token_use: Literal["access", "id"] | None  # None: not migrated
    actions: dict[str, str]  # request verb -> Cedar action id ({} when not migrated)
    migrated: bool
    why_not_migrated: str = ""
    authorizer_id: str | None = None
    backend_reads_claims: tuple[str, ...] = ()
    proxy_integration: bool = False
    # routes layout: the route entity's parents, (entity type, id): its scopes, or the ID-token route group
    parents: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PrincipalRef:
    kind: PrincipalKind
    value: str = ""  # group name, user sub, client id
    label: str = ""  # human: group name, username, client name


@dataclass(frozen=True)
class Grant:
    """Principals given scopes (each scope an action group) or, for ID-token routes, actions directly."""

    kind: GrantKind
    principal: PrincipalRef
    scopes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()  # direct action ids (ID-token routes)
    also_in_groups: tuple[str, ...] = ()  # all_groups: the principal must also be in these groups
    client_ids: tuple[str, ...] = ()  # the access token's client_id must be one of these
    require_scope_in_token: bool = False  # hosted-UI exposure: context.token.scope must hold the scope
    unless_groups: tuple[str, ...] = ()  # a suppressing rule's groups
    unless_users: tuple[str, ...] = ()  # a suppressing rule's users (subs)
    rule_id: str = ""
    note: str = ""


@dataclass
class CedarPolicy:
    policy_id: str  # the @id annotation; also the file name under policies/
    text: str  # formatted Cedar, with annotations
    kind: GrantKind
    rule_id: str = ""
    scopes: tuple[str, ...] = ()
    description: str = ""
    resource: str = ""  # the entity the policy's resource scope names ("": none, the "unspecified" bucket)

    @property
    def size(self) -> int:
        return len(self.text.encode("utf-8"))


@dataclass(frozen=True)
class Finding:
    code: str  # latent-exposure, dead-scope, unreachable, claims-backend, id-token-route, machine-to-machine, ...
    severity: Severity
    message: str
    routes: tuple[str, ...] = ()
    detail: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class QuotaUsage:
    name: str
    used: int
    limit: int

    @property
    def fits(self) -> bool:
        return self.used <= self.limit
