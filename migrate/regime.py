"""The scope regime: who can call each endpoint today, computed from the inventory snapshot alone.

API Gateway's Cognito authorizer (API Gateway developer guide, "Integrate a REST API with an Amazon Cognito user
pool"): a method with ``authorizationScopes`` takes an **access token** from one of the authorizer's pools whose
``scope`` claim holds any of those scopes; a method without scopes takes an **ID token** of any user of the
pool; ``NONE`` is public. What ends up in a token's ``scope`` depends on how it was obtained:

* sign-in (InitiateAuth / AdminInitiateAuth, SRP, custom auth) and refresh: ``aws.cognito.signin.user.admin``,
  then the pre-token trigger's changes (``TokenGeneration_Authentication`` / ``_RefreshTokens``);
* the hosted UI's OAuth flows (code, implicit): the scopes requested that the app client allows, and with no
  ``scope`` parameter all of them; then the trigger (``TokenGeneration_HostedAuth``). So any user of such a
  client can obtain any custom scope the client allows, whatever their groups;
* client credentials: the client's allowed scopes; then a V3_0 trigger (``TokenGeneration_ClientCredentials``).

A **principal class** is a kind of caller whose tokens are all alike: a combination of groups that real users
have, each group alone, a user in no group, each user a per-user or attribute rule touches, each
client-credentials client. For a class we derive every token it can obtain (one per app client and flow; a
hosted-UI token requesting everything the client allows, which is the most a user can get there) with the
pre-token rules' own evaluator (:func:`pretoken_lambda.rules.evaluate`), so the rules mean here exactly what
they mean in the trigger.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from migrate.errors import UserError
from migrate.inventory.model import AppClient, Method, User, UserPool
from pretoken_lambda.rules import CLIENT_CREDENTIALS, RulesError, RuleSet, Subject, evaluate, parse_rules

SIGNIN_SCOPE = "aws.cognito.signin.user.admin"
# ExplicitAuthFlows that sign a user in directly (Cognito API reference, CreateUserPoolClient ExplicitAuthFlows,
# including the legacy names).
SIGN_IN_AUTH_FLOWS = frozenset({
    "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH", "USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "CUSTOM_AUTH_FLOW_ONLY",
})
REFRESH_AUTH_FLOW = "ALLOW_REFRESH_TOKEN_AUTH"
# "If you don't specify a value for ExplicitAuthFlows, your user client supports ALLOW_REFRESH_TOKEN_AUTH,
# ALLOW_USER_SRP_AUTH, and ALLOW_CUSTOM_AUTH" (Cognito API reference, CreateUserPoolClient).
DEFAULT_AUTH_FLOWS = ("ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH")

FlowKind = Literal["sign-in", "refresh", "hosted-ui", "client-credentials"]
TRIGGER_SOURCE: dict[str, str] = {
    "sign-in": "TokenGeneration_Authentication",
    "refresh": "TokenGeneration_RefreshTokens",
    "hosted-ui": "TokenGeneration_HostedAuth",
    "client-credentials": CLIENT_CREDENTIALS,
}
ClassKind = Literal["group-combination", "group", "no-group", "user", "client"]


@dataclass(frozen=True)
class Flow:
    """One way to obtain tokens: an app client and a flow it allows."""

    client_id: str
    client_name: str
    kind: FlowKind
    requested_scopes: tuple[str, ...] = ()
    # The trigger source when it is not the flow kind's usual one (a sign-in that completes a new-password
    # challenge or authenticates a device: TokenGeneration_NewPasswordChallenge / _AuthenticateDevice).
    source: str = ""
    # For the verification space: how the requested scopes were chosen, shown in labels ("" = as the client
    # allows them all).
    variant: str = ""

    @property
    def trigger_source(self) -> str:
        return self.source or TRIGGER_SOURCE[self.kind]

    @property
    def issues_id_token(self) -> bool:
        # The token endpoint returns an ID token only when openid was requested (hosted UI); sign-in and refresh
        # always return one; client credentials never.
        if self.kind == "hosted-ui":
            return "openid" in self.requested_scopes
        return self.kind != "client-credentials"

    @property
    def label(self) -> str:
        detail = self.kind
        if self.source and self.source != TRIGGER_SOURCE[self.kind]:
            detail += f", {self.source.removeprefix('TokenGeneration_')}"
        if self.variant:
            detail += f", {self.variant}"
        return f"{self.client_name or self.client_id} ({detail})"


@dataclass(frozen=True)
class Token:
    """What one flow gives one principal class: the access token's scopes, and the groups in both tokens."""

    flow: Flow
    scopes: frozenset[str]
    groups: tuple[str, ...]
    matched_rules: tuple[str, ...] = ()
    # Claims the pre-token rules add (JSON objects as text, suppressed ones already removed): AVP sees them as
    # principal attributes (ID token) and under context.token (access token).
    id_claims: str = "{}"
    access_claims: str = "{}"

    @property
    def issues_id_token(self) -> bool:
        return self.flow.issues_id_token


@dataclass(frozen=True)
class PrincipalClass:
    key: str  # stable: "groups:a+b", "group:a", "no-group", "user:<sub>", "client:<id>"
    kind: ClassKind
    label: str
    pool_id: str
    groups: frozenset[str] = frozenset()
    username: str | None = None
    sub: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    client_id: str | None = None
    examples: tuple[str, ...] = ()  # real users (usernames) or the client name this class stands for

    @property
    def is_machine(self) -> bool:
        return self.kind == "client"

    @property
    def users(self) -> tuple[str, ...]:
        """The real users it stands for (a client's class names the client, no user)."""
        return () if self.is_machine else self.examples


def _flows_of(client: AppClient) -> list[Flow]:
    flows = []
    explicit = set(client.explicit_auth_flows) or set(DEFAULT_AUTH_FLOWS)
    if explicit & SIGN_IN_AUTH_FLOWS:
        flows.append(Flow(client.client_id, client.name, "sign-in"))
        if REFRESH_AUTH_FLOW in explicit:
            flows.append(Flow(client.client_id, client.name, "refresh"))
    if client.user_oauth_flows:
        flows.append(Flow(client.client_id, client.name, "hosted-ui", tuple(client.allowed_oauth_scopes)))
    return flows


def machine_flow(client: AppClient) -> Flow | None:
    if not client.is_client_credentials:
        return None
    return Flow(client.client_id, client.name, "client-credentials", tuple(client.allowed_oauth_scopes))


@dataclass
class PoolRegime:
    """The scope regime of one user pool: flows, principal classes and their tokens."""

    pool: UserPool
    rules: RuleSet | None = None
    rules_known: bool = True  # False when a trigger exists whose rules were not read
    _tokens: dict[str, tuple[Token, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_pool(cls, pool: UserPool) -> PoolRegime:
        # Read as they are, claims AVP refuses included: verify predicts the AVP error for the users who get them.
        try:
            rules = parse_rules(pool.pretoken_rules.document, where=f"user pool {pool.id} pre-token rules",
                                avp_claims=False) \
                if pool.pretoken_rules is not None else None
        except RulesError as exc:
            # The snapshot carries the rules as scan read them: the user fixes the rules (or the snapshot), not us.
            source = pool.pretoken_rules.source if pool.pretoken_rules is not None else "the snapshot"
            raise UserError(f"the snapshot's pre-token rules (read from {source}) are invalid: {exc}",
                            where=f"user pool {pool.id}") from None
        trigger = pool.pretoken_trigger
        known = trigger is None or rules is not None
        return cls(pool=pool, rules=rules, rules_known=known)

    @property
    def trigger_version(self) -> str | None:
        return self.pool.pretoken_trigger.version if self.pool.pretoken_trigger else None

    @cached_property
    def user_flows(self) -> tuple[Flow, ...]:
        if not self.pool.clients:
            # An offline scan knows no app client: assume a plain sign-in flow, the one every pool offers.
            return (Flow("", "any client", "sign-in"),)
        return tuple(flow for client in self.pool.clients for flow in _flows_of(client))

    @cached_property
    def machine_flows(self) -> tuple[Flow, ...]:
        return tuple(flow for client in self.pool.clients if (flow := machine_flow(client)) is not None)

    # --- principal classes ----------------------------------------------------------------------------------

    @cached_property
    def rule_users(self) -> frozenset[str]:
        """Usernames and subs the rules name."""
        return self.rules.named_users() if self.rules else frozenset()

    @cached_property
    def rule_attributes(self) -> frozenset[str]:
        """Attribute names the rules test."""
        return self.rules.tested_attributes() if self.rules else frozenset()

    def _touched_by_rules(self, user: User) -> bool:
        return (user.username in self.rule_users or user.sub in self.rule_users
                or any(name in user.attributes for name in self.rule_attributes))

    @cached_property
    def classes(self) -> tuple[PrincipalClass, ...]:
        pool_id = self.pool.id
        users = [u for u in self.pool.users if u.enabled]
        combos: dict[frozenset[str], list[str]] = {}
        for user in users:
            combos.setdefault(frozenset(user.groups), [])
            # A user a rule singles out gets a class of their own and is no example of "any user with these groups".
            if not self._touched_by_rules(user):
                combos[frozenset(user.groups)].append(user.username)
        result: dict[str, PrincipalClass] = {}

        def add(cls: PrincipalClass) -> None:
            result.setdefault(cls.key, cls)

        add(_group_class(pool_id, frozenset(), "no-group", combos.get(frozenset(), [])))
        for group in sorted(g.name for g in self.pool.groups):
            single = frozenset({group})
            add(_group_class(pool_id, single, "group", combos.get(single, [])))
        for groups, members in sorted(combos.items(), key=lambda item: sorted(item[0])):
            if len(groups) > 1:
                add(_group_class(pool_id, groups, "group-combination", members))
        for user in users:
            if self._touched_by_rules(user):
                add(PrincipalClass(key=f"user:{user.sub or user.username}", kind="user",
                                   label=f"user {user.username}", pool_id=pool_id, groups=frozenset(user.groups),
                                   username=user.username, sub=user.sub,
                                   attributes=tuple(sorted(user.attributes.items())), examples=(user.username,)))
        for flow in self.machine_flows:
            add(PrincipalClass(key=f"client:{flow.client_id}", kind="client", label=f"client {flow.client_name}",
                               pool_id=pool_id, client_id=flow.client_id, examples=(flow.client_name,)))
        return tuple(result.values())

    # --- tokens ---------------------------------------------------------------------------------------------

    def tokens(self, cls: PrincipalClass) -> tuple[Token, ...]:
        if cls.key not in self._tokens:
            flows = [f for f in self.machine_flows if f.client_id == cls.client_id] if cls.is_machine \
                else list(self.user_flows)
            self._tokens[cls.key] = tuple(self.token(cls, flow) for flow in flows)
        return self._tokens[cls.key]

    def token(self, cls: PrincipalClass, flow: Flow) -> Token:
        base = list(flow.requested_scopes) if flow.kind in {"hosted-ui", "client-credentials"} else [SIGNIN_SCOPE]
        groups = tuple(sorted(cls.groups))
        if not self._trigger_runs(flow):
            return Token(flow=flow, scopes=frozenset(base), groups=groups)
        subject = Subject(groups=cls.groups, username=cls.username if not cls.is_machine else None,
                          sub=cls.sub if not cls.is_machine else None, attributes=dict(cls.attributes),
                          client_id=flow.client_id or None, trigger_source=flow.trigger_source)
        outcome = evaluate(self.rules, subject)  # type: ignore[arg-type]
        scopes = set(base)
        if self.trigger_version != "V1_0":  # V1_0 triggers cannot change scopes
            scopes = {s for s in scopes if s not in set(outcome.scopes_to_suppress)} | set(outcome.scopes_to_add)
        if outcome.group_override is not None and not cls.is_machine:
            groups = tuple(outcome.group_override.groups)
        id_claims = "{}" if cls.is_machine else json.dumps(dict(outcome.id_token.add_claims or {}), sort_keys=True)
        access_claims = "{}" if self.trigger_version == "V1_0" else \
            json.dumps(dict(outcome.access_token.add_claims or {}), sort_keys=True)
        return Token(flow=flow, scopes=frozenset(scopes), groups=groups, matched_rules=outcome.matched_rule_ids,
                     id_claims=id_claims, access_claims=access_claims)

    def _trigger_runs(self, flow: Flow) -> bool:
        if self.rules is None:
            return False
        if flow.kind == "client-credentials":
            return self.trigger_version == "V3_0"  # Cognito calls the trigger for M2M tokens only with V3_0
        return True


def _group_class(pool_id: str, groups: frozenset[str], kind: ClassKind, members: list[str]) -> PrincipalClass:
    names = sorted(groups)
    if not names:
        key, label = "no-group", "users in no group"
    elif len(names) == 1:
        key, label = f"group:{names[0]}", f"group {names[0]}"
    else:
        key, label = f"groups:{'+'.join(names)}", f"groups {{{', '.join(names)}}}"
    # A synthetic identity that no per-user rule can name: the class stands for "any user with these groups".
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return PrincipalClass(key=key, kind=kind, label=label, pool_id=pool_id, groups=groups,
                          username=f"avp-migrate:{digest}", sub=f"avp-migrate-{digest}",
                          examples=tuple(sorted(members)))


# --- decisions ------------------------------------------------------------------------------------------------


# Which method a request reaches is API Gateway's choice (authorizer.routes: the most specific resource, then an
# explicit method before ANY). Each route's actions (translate: authorizer.routes.method_verbs) list only the
# verbs that method receives, so a GET on a resource with ANY and GET is decided by GET's scopes, never ANY's.
def expected_token_use(method: Method) -> Literal["access", "id"]:
    return "access" if method.authorization_scopes else "id"
