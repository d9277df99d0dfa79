"""Prove that the Cedar policies decide exactly as the scope regime does, or name who gains and who loses.

For every principal class (see :mod:`migrate.regime`) and every token it can obtain, and for every migrated
route and request verb:

* **today**: API Gateway's Cognito authorizer rule: a scoped method wants an access token holding one of its
  scopes; an unscoped one an ID token;
* **after**: the Lambda authorizer in ``avp`` mode: the same token type (it keeps each route's token contract),
  decided by Cedar (cedarpy, Cedar's own engine) on the entities AVP builds from that token
  (:func:`migrate.embedded.avp.entities.identity_from_tokens`, the code the local Verified Permissions endpoint
  runs); client-credentials tokens on ``Client::"<client id>"`` with ``context.token``, as the authorizer asks
  IsAuthorized.

A class *can call* a route when any of its tokens gets through. The verdict compares that, per class and route
verb: a class that can call a route only after the move **gains** it, one that only could before **loses** it.
Tokens that disagree while their class agrees (a flow-dependent rule, say) are reported apart: shadow mode
will show them.

Speed: the policy set is parsed once and indexed by action (each action is evaluated against only the policies
whose action scope can include it); each token's entities are built once; identical requests are decided once.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

import cedarpy

from migrate.embedded.avp.entities import identity_from_tokens
from migrate.embedded.avp.schema import StoreSchema, parse_schema
from migrate.embedded.avp.store import IdentitySourceRecord
from migrate.regime import PoolRegime, PrincipalClass, Token
from migrate.translate.model import RoutePlan

Direction = Literal["gains", "loses"]


@dataclass(frozen=True)
class Difference:
    route: str
    verb: str
    action: str
    principal: str  # class key
    principal_label: str
    direction: Direction
    examples: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()  # policies that allow after the move (gains)
    scopes: tuple[str, ...] = ()  # scopes of the tokens that got in today (loses)
    flows: tuple[str, ...] = ()  # the tokens concerned (app client and flow)


@dataclass(frozen=True)
class TokenMismatch:
    """A token decided differently while its class as a whole agrees (it can call the route another way)."""

    route: str
    verb: str
    principal: str
    flow: str
    today: bool
    after: bool


@dataclass
class EquivalenceResult:
    classes: list[PrincipalClass]
    routes: list[RoutePlan]
    differences: list[Difference] = field(default_factory=list)
    token_mismatches: list[TokenMismatch] = field(default_factory=list)
    today: dict[str, set[str]] = field(default_factory=dict)  # route -> class keys that can call it (any verb)
    after: dict[str, set[str]] = field(default_factory=dict)
    policies: dict[str, set[str]] = field(default_factory=dict)  # route -> policies that allowed some request
    decisions: int = 0  # Cedar evaluations actually run
    requests: int = 0  # (token, action) pairs decided, including those answered from identical requests
    seconds: float = 0.0

    @property
    def equivalent(self) -> bool:
        return not self.differences


class PolicyIndex:
    """The policy set parsed once; per action, a PolicySet of only the policies that can apply to it."""

    def __init__(self, policies_text: str, schema_document: dict[str, Any], namespace: str,
                 *, indexed: bool = True) -> None:
        parsed = json.loads(cedarpy.policies_to_json_str(policies_text)) if policies_text.strip() else {
            "staticPolicies": {}, "templates": {}, "templateLinks": []}
        self.static: dict[str, dict[str, Any]] = parsed.get("staticPolicies", {})
        self.names = {pid: (p.get("annotations") or {}).get("id", pid) for pid, p in self.static.items()}
        self.namespace = namespace
        self.indexed = indexed
        self._ancestors = _action_ancestors(schema_document, namespace)
        self._sets: dict[frozenset[str], cedarpy.PolicySet] = {}
        self._by_action: dict[str, cedarpy.PolicySet] = {}
        self.full = self._policy_set(frozenset(self.static))
        self.named_principals = {
            (p["principal"]["entity"]["type"], p["principal"]["entity"]["id"])
            for p in self.static.values() if p["principal"].get("op") == "==" and "entity" in p["principal"]}
        self.reads_context = any(p.get("conditions") for p in self.static.values())

    def _policy_set(self, ids: frozenset[str]) -> cedarpy.PolicySet:
        if ids not in self._sets:
            document = {"staticPolicies": {pid: self.static[pid] for pid in sorted(ids)}, "templates": {},
                        "templateLinks": []}
            self._sets[ids] = cedarpy.PolicySet.from_json_str(json.dumps(document))
        return self._sets[ids]

    def for_action(self, action_id: str) -> cedarpy.PolicySet:
        if not self.indexed:
            return self.full
        if action_id not in self._by_action:
            reach = {action_id} | self._ancestors.get(action_id, set())
            ids = frozenset(pid for pid, policy in self.static.items() if _action_matches(policy["action"], reach,
                                                                                           self.namespace))
            self._by_action[action_id] = self._policy_set(ids)
        return self._by_action[action_id]


def _action_matches(constraint: dict[str, Any], reach: set[str], namespace: str) -> bool:
    op = constraint.get("op")
    if op == "All":
        return True
    if op == "==":
        entity = constraint["entity"]
        return entity.get("type") == f"{namespace}::Action" and entity.get("id") in reach
    if op == "in":
        entities = constraint.get("entities") or ([constraint["entity"]] if "entity" in constraint else [])
        return any(e.get("type") == f"{namespace}::Action" and e.get("id") in reach for e in entities)
    return True  # anything we do not model is kept: the index may only ever drop policies that cannot apply


def _action_ancestors(schema: dict[str, Any], namespace: str) -> dict[str, set[str]]:
    actions = (schema.get(namespace) or {}).get("actions") or {}
    parents = {name: {m["id"] for m in (decl or {}).get("memberOf") or [] if "id" in m}
               for name, decl in actions.items()}
    closure: dict[str, set[str]] = {}

    def walk(name: str, seen: set[str]) -> set[str]:
        if name in closure:
            return closure[name]
        result: set[str] = set()
        for parent in parents.get(name, ()):
            if parent not in seen:
                result |= {parent} | walk(parent, seen | {parent})
        closure[name] = result
        return result

    for name in actions:
        walk(name, {name})
    return closure


class Checker:
    """Evaluates both regimes for one pool's principal classes over the migrated routes."""

    def __init__(self, regime: PoolRegime, routes: list[RoutePlan], *, namespace: str, schema: dict[str, Any],
                 policies_text: str, indexed: bool = True, memo: bool = True) -> None:
        self.regime = regime
        self.routes = [r for r in routes if r.migrated]
        self.namespace = namespace
        self.schema_document = schema
        self.store_schema: StoreSchema = parse_schema(json.dumps(schema), 0.0, None)
        # Passed to every evaluation, as AVP evaluates a STRICT store: the schema gives the action hierarchy
        # (route actions are members of scope action groups) and validates each request.
        self.schema_handle = cedarpy.Schema.from_json_str(json.dumps(schema))
        self.index = PolicyIndex(policies_text, schema, namespace, indexed=indexed)
        self.memo_enabled = memo
        self._memo: dict[str, tuple[bool, tuple[str, ...]]] = {}
        pool = regime.pool
        self.source = IdentitySourceRecord(
            identity_source_id="verify", user_pool_arn=pool.arn if pool.arn.startswith("arn:") else
            f"arn:aws:cognito-idp:{pool.region or 'us-east-1'}:000000000000:userpool/{pool.id}",
            client_ids=[], group_entity_type=f"{namespace}::UserGroup",
            principal_entity_type=f"{namespace}::User", created=0.0, updated=0.0)
        self.resource = {"type": f"{namespace}::Application", "id": namespace}
        self.decisions = 0
        self.requests = 0

    # --- the two regimes for one token ---------------------------------------------------------------------

    @staticmethod
    def today(token: Token, route: RoutePlan, cls: PrincipalClass) -> bool:
        if route.token_use == "access":
            return bool(token.scopes & set(route.scopes))
        return token.issues_id_token and not cls.is_machine

    def after(self, token: Token, route: RoutePlan, cls: PrincipalClass) -> dict[str, tuple[bool, tuple[str, ...]]]:
        """Per request verb: (allowed, determining policy names)."""
        if route.token_use == "id" and (cls.is_machine or not token.issues_id_token):
            return {verb: (False, ()) for verb in route.actions}  # no ID token to present: refused, 401
        principal, entities, context = self._identity(token, cls, route.token_use or "access")
        out = {}
        for verb, action_id in route.actions.items():
            if principal["type"] not in self._principal_types(action_id):
                # AVP refuses a request whose principal type the action does not apply to (ValidationException
                # in a STRICT store); the authorizer denies on any AVP error.
                out[verb] = (False, ())
            else:
                out[verb] = self._decide(principal, entities, context, action_id)
        return out

    def _principal_types(self, action_id: str) -> set[str]:
        declaration = ((self.schema_document.get(self.namespace) or {}).get("actions") or {}).get(action_id) or {}
        names = (declaration.get("appliesTo") or {}).get("principalTypes") or []
        return {n if "::" in n else f"{self.namespace}::{n}" for n in names}

    def _identity(self, token: Token, cls: PrincipalClass, token_use: str
                  ) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
        ns = self.namespace
        if cls.is_machine:
            principal = {"type": f"{ns}::Client", "id": cls.client_id or ""}
            declared = self.store_schema.action_context(f"{ns}::Action", next(iter(self.routes[0].actions.values()))) \
                if self.routes else None
            context = {"token": {"client_id": cls.client_id or "", "scope": sorted(token.scopes)}} \
                if declared is not None and "token" in declared.attributes else {}
            return principal, [{"uid": principal, "attrs": {}, "parents": []}], context
        claims: dict[str, Any] = {"sub": cls.sub or "", "iss": self.source.issuer, "token_use": token_use}
        if token.groups:
            claims["cognito:groups"] = list(token.groups)
        if token_use == "access":
            claims.update(client_id=token.flow.client_id, scope=" ".join(sorted(token.scopes)),
                          username=cls.username or "")
            identity = identity_from_tokens(None, claims, self.source, self.store_schema, self._any_action(True))
        else:
            claims.update(aud=token.flow.client_id, **{"cognito:username": cls.username or ""})
            claims.update(dict(cls.attributes))
            identity = identity_from_tokens(claims, None, self.source, self.store_schema, self._any_action(False))
        context = {"token": identity.token_context} if identity.token_context is not None else {}
        return identity.principal, identity.entities, context

    def _any_action(self, access: bool) -> dict[str, str] | None:
        for route in self.routes:
            if (route.token_use == "access") == access:
                return {"type": f"{self.namespace}::Action", "id": next(iter(route.actions.values()))}
        return None

    def _decide(self, principal: dict[str, str], entities: list[dict[str, Any]], context: dict[str, Any],
                action_id: str) -> tuple[bool, tuple[str, ...]]:
        self.requests += 1
        principal_key = principal if (principal["type"], principal["id"]) in self.index.named_principals else None
        key = json.dumps([principal_key, [e for e in entities if e["uid"] != principal],
                          [e["parents"] for e in entities if e["uid"] == principal], context, action_id],
                         sort_keys=True) if self.memo_enabled else ""
        if self.memo_enabled and key in self._memo:
            return self._memo[key]
        self.decisions += 1
        request = {"principal": principal, "action": {"type": f"{self.namespace}::Action", "id": action_id},
                   "resource": self.resource, "context": context}
        result = cedarpy.is_authorized(request, self.index.for_action(action_id),
                                       [*entities, {"uid": self.resource, "attrs": {}, "parents": []}],
                                       schema=self.schema_handle)
        if result.diagnostics.errors:
            raise RuntimeError(f"Cedar evaluation error for {action_id}: {result.diagnostics.errors}")
        names = tuple(sorted(self.index.names.get(r, r) for r in result.diagnostics.reasons))
        answer = (result.allowed, names)
        if self.memo_enabled:
            self._memo[key] = answer
        return answer

    # --- the whole comparison -------------------------------------------------------------------------------

    def run(self) -> EquivalenceResult:
        started = time.perf_counter()
        result = EquivalenceResult(classes=list(self.regime.classes), routes=self.routes)
        for route in self.routes:
            result.today[route.route] = set()
            result.after[route.route] = set()
            result.policies[route.route] = set()
        for cls in self.regime.classes:
            tokens = self.regime.tokens(cls)
            for route in self.routes:
                per_verb_today: dict[str, list[Token]] = defaultdict(list)
                per_verb_after: dict[str, list[tuple[Token, tuple[str, ...]]]] = defaultdict(list)
                token_rows = []
                for token in tokens:
                    today = self.today(token, route, cls)
                    after = self.after(token, route, cls)
                    for verb in route.actions:
                        if today:
                            per_verb_today[verb].append(token)
                        if after[verb][0]:
                            per_verb_after[verb].append((token, after[verb][1]))
                            result.policies[route.route].update(after[verb][1])
                        token_rows.append((verb, token, today, after[verb][0]))
                for verb, action in route.actions.items():
                    can_today, can_after = bool(per_verb_today[verb]), bool(per_verb_after[verb])
                    if can_today:
                        result.today[route.route].add(cls.key)
                    if can_after:
                        result.after[route.route].add(cls.key)
                    if can_today != can_after:
                        result.differences.append(self._difference(route, verb, action, cls, per_verb_today[verb],
                                                                   per_verb_after[verb], can_after))
                    else:
                        for row_verb, token, today, after in token_rows:
                            if row_verb == verb and today != after:
                                result.token_mismatches.append(TokenMismatch(route.route, verb, cls.key,
                                                                             token.flow.label, today, after))
        result.decisions, result.requests = self.decisions, self.requests
        result.seconds = time.perf_counter() - started
        return result

    @staticmethod
    def _difference(route: RoutePlan, verb: str, action: str, cls: PrincipalClass, today: list[Token],
                    after: list[tuple[Token, tuple[str, ...]]], gains: bool) -> Difference:
        if gains:
            policies = tuple(sorted({p for _, names in after for p in names}))
            flows = tuple(t.flow.label for t, _ in after)
            scopes: tuple[str, ...] = ()
        else:
            policies = ()
            flows = tuple(t.flow.label for t in today)
            scopes = tuple(sorted({s for t in today for s in t.scopes} & set(route.scopes)))
        return Difference(route=route.route, verb=verb, action=action, principal=cls.key,
                          principal_label=cls.label, direction="gains" if gains else "loses",
                          examples=cls.examples, policies=policies, scopes=scopes, flows=flows)
