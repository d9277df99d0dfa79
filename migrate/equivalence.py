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

The principal classes and their tokens are the space of :mod:`migrate.space`: every group, user, client, flow
and requested scope either regime can tell apart. The verdict is over tokens: any token decided differently on
any route verb is a difference, naming who (the class, example users), through which app client and flow, and
why. Where the plan folder is given, the after side is the plan as it is on disk: the policies, the schema, and
``authorizer-config.json`` (the Cedar action per verb, the token type, the app-client allow-list; its scopes are
what ``scope`` and ``shadow`` modes enforce, so they are checked against today too). Tokens Verified Permissions
would refuse (a principal in more than 99 groups, a claim it cannot map) are decided as the authorizer decides
an AVP error: deny.

The verdict: **equivalent** (no difference, and the space is complete), **differences**, or **unproven** (no
difference found, but the space misses something the snapshot does not say: :attr:`unproven_reasons`).

Speed: the policy set is parsed once and indexed by action and principal type (a request is evaluated against
only the policies whose scope can apply to it); each token's entities are built once; the context is cut to what
the policies test (:mod:`migrate.context_projection`); identical requests are decided once. Each of these is held
to the plain evaluation (whole policy set, whole context, cedarpy's public API) by tests/test_verify_engine.py.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import cedarpy

from authorizer.config import AuthorizerConfig
from migrate.cedar_batch import decide_batch
from migrate.context_projection import ContextProjection
from migrate.embedded.avp.entities import identity_from_tokens
from migrate.embedded.avp.schema import StoreSchema, parse_schema
from migrate.embedded.avp.store import IdentitySourceRecord
from migrate.errors import ExitCode
from migrate.inventory.model import COGNITO_POOL_ID
from migrate.regime import PoolRegime, PrincipalClass, Token
from migrate.space import MAX_PARENTS, Population, PrincipalSpace, entity_refs, policy_facts, refused_claims, walk_json
from migrate.translate.model import RoutePlan

Direction = Literal["gains", "loses"]
EXAMPLES_KEPT = 20  # users named in a difference that reaches populations (Difference.users counts them all)


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
    why: str = ""  # what makes the two regimes decide differently, as far as verify can tell
    mode: str = "avp"  # "avp": the Cedar decision; "scope": what scope and shadow modes enforce from the config
    users: int = 0  # real users it reaches (the class's own, and those of populations it decides for)


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
    users_today: dict[str, int] = field(default_factory=dict)  # route -> real users who can call it (any verb)
    users_after: dict[str, int] = field(default_factory=dict)
    populations: int = 0  # real group combinations decided through their components (migrate.space.Population)
    population_users: int = 0
    # Only when asked (Checker(users_detail=True), `verify --users`): every real user per route (today, after) and
    # per difference (aligned with `differences`).
    route_users: dict[str, tuple[list[str], list[str]]] | None = None
    difference_users: list[list[str]] | None = None
    decisions: int = 0  # Cedar evaluations actually run
    requests: int = 0  # (token, action) pairs decided, including those answered from identical requests
    tokens: int = 0  # tokens checked (every class, every token it can obtain)
    seconds: float = 0.0
    unproven_reasons: list[str] = field(default_factory=list)  # empty when the space is complete
    coverage: str = ""  # what the space covers, in one line

    @property
    def equivalent(self) -> bool:
        return not self.differences and not self.unproven_reasons

    @property
    def verdict(self) -> Literal["equivalent", "differences", "unproven"]:
        if self.differences:
            return "differences"
        return "unproven" if self.unproven_reasons else "equivalent"

    @property
    def exit_code(self) -> ExitCode:
        return {"equivalent": ExitCode.OK, "differences": ExitCode.DIFFERENCES,
                "unproven": ExitCode.UNPROVEN}[self.verdict]


@dataclass(eq=False)
class _Identity:
    """What AVP builds from one token: the principal, its entities, the context; and the actions asked."""

    principal: dict[str, str]
    entities: list[dict[str, Any]]
    context: dict[str, Any]
    key: str = ""
    action_lists: dict[int, tuple[str, ...]] = field(default_factory=dict)  # the action tuples asked of it


@dataclass
class _PoolSource(IdentitySourceRecord):
    """The identity source verify decides with: the pool id is the plan's, even when it is not (yet) a real one."""

    pool_id: str = ""

    @property
    def user_pool_id(self) -> str:
        return self.pool_id or super().user_pool_id


class PolicyIndex:
    """The policy set parsed once; per action and principal type, a PolicySet of only the policies that can apply.

    A policy can apply to a request only if its action scope can include the action and its principal scope can
    hold a principal of that type (``principal == T::"x"`` and ``principal is T`` hold only for type ``T``).
    Cedar evaluates a policy's scope before its conditions, so a policy dropped here could neither allow, forbid
    nor raise an error for the request: the decision is the same as with the whole set.
    """

    def __init__(self, policies_text: str, schema_document: dict[str, Any], namespace: str,
                 *, indexed: bool = True) -> None:
        parsed = json.loads(cedarpy.policies_to_json_str(policies_text)) if policies_text.strip() else {
            "staticPolicies": {}, "templates": {}, "templateLinks": []}
        self.document: dict[str, Any] = parsed
        self.static: dict[str, dict[str, Any]] = parsed.get("staticPolicies", {})
        self.names = {pid: (p.get("annotations") or {}).get("id", pid) for pid, p in self.static.items()}
        self.namespace = namespace
        self.indexed = indexed
        self._ancestors = _action_ancestors(schema_document, namespace)
        self._index_scopes()
        self._sets: dict[frozenset[str], cedarpy.PolicySet] = {}
        self._applicable_ids: dict[tuple[str, str], frozenset[str]] = {}
        self._by_request: dict[tuple[str, str], cedarpy.PolicySet] = {}
        self._context_readers = {pid for pid, p in self.static.items() if '"context"' in json.dumps(p["conditions"])}
        self._principal_readers = {pid for pid, p in self.static.items()
                                   if any(isinstance(n, dict) and n.get("Var") == "principal"
                                          for n in walk_json(p["conditions"]))}
        self._projections: dict[tuple[str, str], frozenset[tuple[str, str]] | None] = {}
        self.projection = ContextProjection(p["conditions"] for p in self.static.values())
        # Every string any policy holds (entity ids, literals): a route named here is decided on its own.
        self.named_strings = _strings_in(self.static)
        self.full = self._policy_set(frozenset(self.static))
        self.named_principals = {
            (p["principal"]["entity"]["type"], p["principal"]["entity"]["id"])
            for p in self.static.values() if p["principal"].get("op") == "==" and "entity" in p["principal"]}

    def _policy_set(self, ids: frozenset[str]) -> cedarpy.PolicySet:
        if ids not in self._sets:
            document = {"staticPolicies": {pid: self.static[pid] for pid in sorted(ids)}, "templates": {},
                        "templateLinks": []}
            self._sets[ids] = cedarpy.PolicySet.from_json_str(json.dumps(document))
        return self._sets[ids]

    def for_request(self, target: Target, principal_type: str) -> cedarpy.PolicySet:
        """The policies to evaluate a request of this target and principal type against."""
        if not self.indexed:
            return self.full
        key = (target.key, principal_type)
        found = self._by_request.get(key)
        if found is None:
            found = self._by_request[key] = self._policy_set(self._applicable(target, principal_type))
        return found

    def action_ancestors(self, action_id: str) -> set[str]:
        return self._ancestors.get(action_id, set())

    def _applicable(self, target: Target, principal_type: str) -> frozenset[str]:
        key = (target.key, principal_type)
        if key not in self._applicable_ids:
            reach = {target.action} | self._ancestors.get(target.action, set())
            resource = (target.resource["type"], target.resource["id"])
            # Only the policies whose action scope names an action in reach (or that the action index cannot
            # place) are looked at: each target costs what its own policies cost, not the whole set's.
            candidates = set(self._by_action_unplaced).union(*(self._by_action.get(a, ()) for a in reach))
            # ... and, of those, only the ones whose resource scope names the resource or one of its parents (or
            # that the resource index cannot place): in the routes layout every policy names the same action.
            candidates &= self._by_resource_unplaced.union(
                *(self._by_resource.get(uid, ()) for uid in (resource, *target.parents)))
            self._applicable_ids[key] = frozenset(
                pid for pid in candidates
                if _action_matches(self.static[pid]["action"], reach, self.namespace)
                and _principal_may_match(self.static[pid]["principal"], principal_type)
                and _resource_may_match(self.static[pid]["resource"], resource, set(target.parents)))
        return self._applicable_ids[key]

    def _index_scopes(self) -> None:
        """Policy ids per action id their action scope names (``==``, ``in`` an entity or a list); the policies
        whose scope is anything else (``All``, a form not modelled) are candidates for every action."""
        self._by_action: dict[str, set[str]] = {}
        self._by_action_unplaced: set[str] = set()
        action_type = f"{self.namespace}::Action"
        for pid, policy in self.static.items():
            constraint = policy["action"]
            op = constraint.get("op")
            entities = constraint.get("entities") or ([constraint["entity"]] if "entity" in constraint else [])
            if op in ("==", "in") and entities:
                for entity in entities:
                    if entity.get("type") == action_type and isinstance(entity.get("id"), str):
                        self._by_action.setdefault(entity["id"], set()).add(pid)
            else:
                self._by_action_unplaced.add(pid)
        # Resource scopes: ``==``/``in`` a literal entity are placed under it; ``All``, ``is`` and anything else
        # are candidates for every resource (the exact test is still _resource_may_match).
        self._by_resource: dict[tuple[str, str], set[str]] = {}
        self._by_resource_unplaced: set[str] = set()
        for pid, policy in self.static.items():
            constraint = policy["resource"]
            entity = constraint.get("entity")
            if constraint.get("op") in ("==", "in") and isinstance(entity, dict) and "slot" not in constraint \
                    and isinstance(entity.get("type"), str) and isinstance(entity.get("id"), str):
                self._by_resource.setdefault((entity["type"], entity["id"]), set()).add(pid)
            else:
                self._by_resource_unplaced.add(pid)

    def principal_projection(self, target: Target, principal_type: str) -> frozenset[tuple[str, str]] | None:
        """The entities through which the principal can matter to this request's policies, or None when it can
        matter otherwise.

        When no applicable policy's conditions mention ``principal`` and every principal scope is ``All``, ``==``,
        ``in`` or ``is`` of literal entities, Cedar reads the principal only in the scopes: its type, whether it
        *is* one of these entities, and which of them are its ancestors. Two requests alike in those (same action,
        resource and context) get the same decision, reasons and errors; verify decides one of them for both.
        """
        key = (target.key, principal_type)
        if key not in self._projections:
            ids = self._applicable(target, principal_type)
            named: set[tuple[str, str]] = set()
            projectable = True
            for pid in ids:
                policy = self.static[pid]
                scope = policy["principal"]
                if scope.get("op") not in ("All", "==", "in", "is") or "slot" in json.dumps(scope) \
                        or pid in self._principal_readers:
                    projectable = False
                    break
                named.update(entity_refs(scope))
            self._projections[key] = frozenset(named) if projectable else None
        return self._projections[key]

    def reads_context(self, target: Target, principal_type: str) -> bool:
        """Whether any policy that can apply to the request reads ``context``. When none does, the context cannot
        change the decision, and Cedar is spared parsing it (the costliest part of a request)."""
        return bool(self._applicable(target, principal_type) & self._context_readers)


def _strings_in(value: Any) -> set[str]:
    """Every string in a JSON value, keys included."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.add(item)
        elif isinstance(item, dict):
            found.update(k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _resource_may_match(constraint: dict[str, Any], resource: tuple[str, str], ancestors: set[tuple[str, str]]
                        ) -> bool:
    """Whether a policy's resource scope can hold this resource, whose ancestors are all in ``ancestors`` (the
    route's parents; nothing else in a verify request has ancestors)."""
    op = constraint.get("op")
    entity = constraint.get("entity")
    uid = (entity.get("type"), entity.get("id")) if isinstance(entity, dict) else None
    if op == "==" and uid is not None:
        return uid == resource
    if op == "in" and uid is not None:
        return uid == resource or uid in ancestors
    # All, is (of its type), slots, anything we do not model: kept
    return not (op == "is" and constraint.get("entity_type") != resource[0])


def _principal_may_match(constraint: dict[str, Any], principal_type: str) -> bool:
    op = constraint.get("op")
    if op == "==" and "entity" in constraint:
        return constraint["entity"].get("type") == principal_type
    if op == "is":
        return constraint.get("entity_type") == principal_type
    return True  # All, in, slots, anything we do not model: kept (the index may only drop what cannot apply)


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


@dataclass(frozen=True)
class Target:
    """What one route verb is put to Verified Permissions as: the action, and the resource with its parents (the
    routes layout sends the route entity with its scopes; the actions layout names the one application)."""

    key: str  # unique per route verb: the action id (actions layout), "<action> on <route>" (routes layout)
    action: str
    resource: dict[str, str]
    parents: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _After:
    """What the authorizer does with one route after the move, from authorizer-config.json (or the translation)."""

    actions: dict[str, str]  # verb -> target key (the Cedar action id in the actions layout)
    token_use: str
    scopes: tuple[str, ...]  # what scope and shadow modes enforce


@dataclass
class _Trace:
    """Per token, the decisions of the classes that populations are decided through (their components)."""

    keys: set[str]
    today: dict[tuple[str, str], list[bool]] = field(default_factory=dict)  # (class, route)
    after: dict[tuple[str, str, str], list[bool]] = field(default_factory=dict)  # (class, route, verb)
    scope: dict[tuple[str, str], list[bool]] = field(default_factory=dict)  # (class, route): scope/shadow modes
    can_today: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # route -> component keys
    can_after: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


class Checker:
    """Evaluates both regimes for one pool's principal space over the migrated routes."""

    def __init__(self, regime: PoolRegime, routes: list[RoutePlan], *, namespace: str, schema: dict[str, Any],
                 policies_text: str, indexed: bool = True, store_layout: str = "actions",
                 config: AuthorizerConfig | None = None, space: PrincipalSpace | None = None,
                 populations: bool = True, users_detail: bool = False) -> None:
        self.users_detail = users_detail  # also list every real user per route and per difference (verify --users)
        self.regime = regime
        self.routes = [r for r in routes if r.migrated]
        self.namespace = namespace
        self.schema_document = schema
        self.store_schema: StoreSchema = parse_schema(json.dumps(schema), 0.0, None)
        # Passed to every evaluation, as AVP evaluates a STRICT store: the schema gives the action hierarchy
        # (route actions are members of scope action groups) and validates each request.
        self.schema_handle = cedarpy.Schema.from_json_str(json.dumps(schema))
        self.index = PolicyIndex(policies_text, schema, namespace, indexed=indexed)
        pool = regime.pool
        self.space = space or PrincipalSpace.build(regime, policy_facts(self.index.document, namespace, pool.id),
                                                   populations=populations)
        self.config = config
        # What the authorizer sends is what its configuration says: the file's layout when there is one.
        self.store_layout = config.layout if config is not None else store_layout
        self.resource = {"type": f"{namespace}::Application", "id": namespace}
        if config is not None and config.layout == "actions":
            self.resource = {"type": config.entity_types.resource, "id": config.resource_id}
        self.after: dict[str, _After] = {}
        self.targets: dict[str, Target] = {}
        self._representative: dict[str, str] = {}
        self._first_of: dict[Any, str] = {}
        self._reps_cache: dict[int, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._required = {route.route: frozenset(route.scopes) for route in self.routes}
        for route in self.routes:
            planned = config.routes.get(route.route) if config is not None else None
            actions, parents = (planned.actions, planned.parents) if planned is not None else \
                (route.actions, route.parents)
            keys = {verb: self._target(route.route, action, parents) for verb, action in actions.items()}
            self.after[route.route] = _After(keys, planned.token_use, tuple(planned.scopes)) \
                if planned is not None else _After(keys, route.token_use or "access", route.scopes)
        pools = [p for p in (config.user_pools if config is not None else ()) if p.id == pool.id]
        # The authorizer's app-client allow-list: a token of another client is a 401 in every mode.
        self.allowed_clients: frozenset[str] | None = frozenset(pools[0].client_ids) \
            if pools and pools[0].client_ids else None
        self.source = _PoolSource(
            identity_source_id="verify", user_pool_arn=pool.arn if pool.arn.startswith("arn:") else
            f"arn:aws:cognito-idp:{pool.region or 'us-east-1'}:000000000000:userpool/{pool.id}",
            client_ids=[], group_entity_type=f"{namespace}::UserGroup",
            principal_entity_type=f"{namespace}::User", created=0.0, updated=0.0, pool_id=pool.id)
        # A pool named by a template's logical id (no --parameter gave its deployed id): the policies name groups
        # '<that name>|<group>' and are decided so here, but AVP will name them by the deployed pool's id.
        self.placeholder_pool = not pool.known_by_arn_only and not COGNITO_POOL_ID.fullmatch(pool.id)
        self.decisions = 0
        self.requests = 0
        self._principal_types_cache: dict[str, set[str]] = {}
        self._action_uids: dict[str, dict[str, str]] = {}
        self.refused: dict[tuple[str, int], str] = {}  # (class, token) -> why AVP or the authorizer refuses it
        self._actions_cache: dict[str, tuple[str, ...]] = {}
        self._split_cache: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
        self._route_index: tuple[dict[str, set[int]], dict[str, set[int]], set[int]] | None = None
        self._classes = {c.key: c for c in self.space.classes}

    def _target(self, route: str, action: str, parents: tuple[tuple[str, str], ...]) -> str:
        if self.store_layout == "routes":
            resource_type = self.config.entity_types.resource if self.config is not None else \
                f"{self.namespace}::Route"
            target = Target(f"{action} on {route}", action, {"type": resource_type, "id": route}, tuple(parents))
        else:
            target = Target(action, action, self.resource)
        self.targets[target.key] = target
        # Two routes with the same action and the same parents are decided alike for every principal, unless a
        # policy names one of them: Cedar can tell routes apart only by their ancestors or by naming the route
        # entity (a Route has no attributes, and an entity's id is not readable as a string). Each class of such
        # routes is evaluated once, through its first member.
        same = (self._action_class(target.action), frozenset(target.parents)) \
            if self.store_layout == "routes" and route not in self.index.named_strings else target.key
        self._representative[target.key] = self._first_of.setdefault(same, target.key)
        return target.key

    def _action_class(self, action: str) -> tuple[Any, ...]:
        """What of an action any policy can see: the action and its groups that some policy names, and its
        declaration (principal types, context). Actions alike in all of these are decided alike (the verb actions
        of the routes layout, when every policy says ``action in ...::"invoke"``)."""
        reach = ({action} | self.index.action_ancestors(action)) & self.index.named_strings
        return frozenset(reach), json.dumps(self._declaration(action).get("appliesTo"), sort_keys=True)

    def _declaration(self, action_id: str) -> dict[str, Any]:
        """The schema's declaration of an action ({} when it declares none)."""
        return ((self.schema_document.get(self.namespace) or {}).get("actions") or {}).get(action_id) or {}

    def _representatives(self, keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(each key's representative, aligned with keys; the distinct representatives), cached per tuple."""
        found = self._reps_cache.get(id(keys))
        if found is None:
            aligned = tuple(self._representative[k] for k in keys)
            found = self._reps_cache[id(keys)] = (aligned, tuple(dict.fromkeys(aligned)))
        return found

    # --- the two regimes for one token ---------------------------------------------------------------------

    @staticmethod
    def today(token: Token, route: RoutePlan, cls: PrincipalClass) -> bool:
        if route.token_use == "access":
            return bool(token.scopes & set(route.scopes))
        return token.issues_id_token and not cls.is_machine

    def scope_mode(self, token: Token, route: RoutePlan, cls: PrincipalClass) -> bool:
        """What the Lambda authorizer enforces in scope and shadow modes: API Gateway's rule, on the config's
        scopes and token type."""
        after = self.after[route.route]
        if not self._client_allowed(token):
            return False
        if after.token_use == "access":
            return bool(token.scopes & set(after.scopes))
        return token.issues_id_token and not cls.is_machine

    def _client_allowed(self, token: Token) -> bool:
        return self.allowed_clients is None or token.flow.client_id in self.allowed_clients

    def _refusal(self, token: Token, cls: PrincipalClass) -> str | None:
        if not self._client_allowed(token):
            return (f"authorizer-config.json's app-client allow-list does not include "
                    f"{token.flow.client_name or token.flow.client_id} ({token.flow.client_id}): 401 in every mode")
        if cls.is_machine:
            return None
        if len(token.groups) > MAX_PARENTS:
            return (f"the token lists {len(token.groups)} groups: Verified Permissions refuses a principal with more "
                    f"than {MAX_PARENTS} parents, and the authorizer denies on an AVP error")
        refused = refused_claims(token)
        return f"{refused}, and the authorizer denies on an AVP error" if refused else None

    def _requests_of(self, token: Token, cls: PrincipalClass, slot: tuple[str, int]
                     ) -> list[tuple[_Identity | None, tuple[str, ...]]]:
        """The identities this token presents (one per token type) and the route actions each is asked for; an
        identity of None means those actions are refused without asking (no token of that type to present: 401;
        or a token AVP would refuse: an error, so a deny)."""
        out: list[tuple[_Identity | None, tuple[str, ...]]] = []
        refusal = self._refusal(token, cls)
        if refusal is not None:
            self.refused[slot] = refusal
        for token_use in ("access", "id"):
            actions = self._actions_of(token_use)
            if not actions:
                continue
            if refusal is not None or (token_use == "id" and (cls.is_machine or not token.issues_id_token)):
                out.append((None, actions))
                continue
            principal, entities, context = self._identity(token, cls, token_use)
            # AVP refuses a request whose principal type the action does not apply to (ValidationException in a
            # STRICT store); the authorizer denies on any AVP error.
            with_context, without_context, refused = self._split_by_principal_type(token_use, principal["type"])
            if refused:
                out.append((None, refused))
            identity = _Identity(principal, entities, context)
            # Actions some applicable policy reads the context for are asked with it; the others without it, so
            # that tokens differing only by what their context holds share those decisions.
            if with_context:
                out.append((identity, with_context))
            if without_context:
                out.append((_Identity(principal, entities, {}), without_context))
        return out

    def _actions_of(self, token_use: str) -> tuple[str, ...]:
        if token_use not in self._actions_cache:
            self._actions_cache[token_use] = tuple(a for r in self.routes if self.after[r.route].token_use == token_use
                                                   for a in self.after[r.route].actions.values())
        return self._actions_cache[token_use]

    def _split_by_principal_type(self, token_use: str, principal_type: str
                                 ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """The token type's actions for this principal type: (asked with the context, asked without it, refused
        by AVP because the action does not apply to the principal type)."""
        key = (token_use, principal_type)
        if key not in self._split_cache:
            actions = self._actions_of(token_use)
            applicable = [a for a in actions if principal_type in self._principal_types(a)]
            reads = {a: self.index.reads_context(self.targets[a], principal_type) for a in applicable}
            self._split_cache[key] = (
                tuple(a for a in applicable if reads[a]),
                tuple(a for a in applicable if not reads[a]),
                tuple(a for a in actions if principal_type not in self._principal_types(a)))
        return self._split_cache[key]

    def decide_all(self) -> dict[tuple[str, int], dict[str, tuple[bool, tuple[str, ...]]]]:
        """Cedar's decision for every (class, token) and route action, all tokens decided together.

        Identical requests are decided once: two identities with the same parents and context differ only by
        the principal's id, which matters only when a policy names it. All distinct identities share one entity
        set (each unnamed principal under an id of its own), so each policy subset of the index is one batch
        call for the whole run.
        """
        wanted: dict[tuple[str, int], list[tuple[str | None, tuple[str, ...]]]] = {}
        unique: dict[str, _Identity] = {}
        for cls in self.space.classes:
            for index, token in enumerate(self.space.tokens(cls)):
                parts: list[tuple[str | None, tuple[str, ...]]] = []
                for identity, actions in self._requests_of(token, cls, (cls.key, index)):
                    if identity is None:
                        parts.append((None, actions))
                        continue
                    self.requests += len(actions)
                    identity.key = self._identity_key(identity)
                    # The action tuples are the split cache's own: one entry per distinct tuple, however many
                    # tokens share the identity.
                    evaluated = self._representatives(actions)[1]
                    unique.setdefault(identity.key, identity).action_lists.setdefault(id(evaluated), evaluated)
                    parts.append((identity.key, actions))
                wanted[(cls.key, index)] = parts
        decisions = self._evaluate(list(unique.values()))
        refused = (False, ())
        out: dict[tuple[str, int], dict[str, tuple[bool, tuple[str, ...]]]] = {}
        for slot, parts in wanted.items():
            answers: dict[str, tuple[bool, tuple[str, ...]]] = {}
            for key, actions in parts:
                if key is None:
                    answers.update(dict.fromkeys(actions, refused))
                else:
                    aligned = self._representatives(actions)[0]
                    answers.update(zip(actions, map(decisions[key].__getitem__, aligned), strict=True))
            out[slot] = answers
        return out

    def _identity_key(self, identity: _Identity) -> str:
        principal = identity.principal
        named = (principal["type"], principal["id"]) in self.index.named_principals
        own = next((e for e in identity.entities if e["uid"] == principal), {})
        others = [e for e in identity.entities if e["uid"] != principal]
        return json.dumps([principal if named else principal["type"], own.get("parents"), own.get("attrs"), others,
                           identity.context], sort_keys=True)

    def _evaluate(self, identities: list[_Identity]) -> dict[str, dict[str, tuple[bool, tuple[str, ...]]]]:
        results: dict[str, dict[str, tuple[bool, tuple[str, ...]]]] = {i.key: {} for i in identities}
        named: dict[tuple[str, ...], tuple[str, ...]] = {}  # Cedar's policy ids -> the policies' @id names
        for partition in self._partitions(identities):
            # The resources, as the authorizer sends them: the application (actions layout), or each route with
            # its parents (routes layout).
            entities: dict[str, dict[str, Any]] = {
                json.dumps(target.resource, sort_keys=True): {
                    "uid": target.resource, "attrs": {},
                    "parents": [{"type": t, "id": i} for t, i in target.parents]}
                for target in self.targets.values()}
            for identity in partition:
                for item in identity.entities:
                    entities[json.dumps(item["uid"], sort_keys=True)] = item
            # Parsed with the schema: that also brings in the action entities and their groups (scope groups).
            handle = cedarpy.Entities.from_json_str(json.dumps(list(entities.values())), schema=self.schema_handle)
            by_set: dict[int, tuple[cedarpy.PolicySet, list[tuple[_Identity, str, dict[str, Any]]]]] = {}
            # Requests the principal projection shows alike are decided once (PolicyIndex.principal_projection):
            # the first of each kind is asked, the others copy its answer.
            first_of: dict[tuple[Any, ...], tuple[_Identity, str]] = {}
            copies: list[tuple[_Identity, str, _Identity, str]] = []
            for identity in partition:
                principal_type = identity.principal["type"]
                context_text = json.dumps(identity.context) if identity.context else None
                uid = (principal_type, identity.principal["id"])
                ancestors = self._flat_ancestors(identity)
                lists = list(identity.action_lists.values())
                asked = lists[0] if len(lists) == 1 else dict.fromkeys(a for actions in lists for a in actions)
                for action in asked:
                    target = self.targets[action]
                    policy_set = self.index.for_request(target, principal_type)
                    reads_context = context_text is not None and self.index.reads_context(target, principal_type)
                    seen_by = self.index.principal_projection(target, principal_type) \
                        if ancestors is not None and self.index.indexed else None
                    if seen_by is not None:
                        kind = (action, principal_type, uid if uid in seen_by else None, ancestors & seen_by,
                                context_text if reads_context else None)
                        seen = first_of.get(kind)
                        if seen is not None:
                            copies.append((identity, action, *seen))
                            continue
                        first_of[kind] = (identity, action)
                    # Dicts, not Cedar text, for the entity references: cedarpy takes them in about twice as fast.
                    # The context is left out where no applicable policy reads it (Cedar then sees an empty record).
                    request = {"principal": identity.principal, "action": self._action_uid(target.action),
                               "resource": target.resource}
                    if reads_context:
                        request["context"] = context_text
                    by_set.setdefault(id(policy_set), (policy_set, []))[1].append((identity, action, request))
            for policy_set, batch in by_set.values():
                # No schema argument: the entities were parsed with it, and the requests are built from its own
                # declarations (principal types checked, context conformed by identity_from_tokens); validating
                # each request again would cost more than the decision itself.
                answers = decide_batch([request for _, _, request in batch], policy_set, handle)
                self.decisions += len(batch)
                for (identity, action, _), (allowed, reasons, errors) in zip(batch, answers, strict=True):
                    if errors:
                        raise RuntimeError(f"Cedar evaluation error for {action}: {errors}")
                    names = named.get(reasons)
                    if names is None:
                        names = named[reasons] = tuple(sorted(self.index.names.get(r, r) for r in reasons))
                    results[identity.key][action] = (allowed, names)
            for identity, action, decided, decided_action in copies:
                results[identity.key][action] = results[decided.key][decided_action]
        return results

    @staticmethod
    def _flat_ancestors(identity: _Identity) -> frozenset[tuple[str, str]] | None:
        """The principal's ancestors, when its parents have none of their own (as in every entity set AVP builds
        from a Cognito token: the groups are the user's parents and nothing else's children); None otherwise."""
        own = None
        for item in identity.entities:
            if item["uid"] == identity.principal:
                own = item
            elif item.get("parents"):
                return None
        if own is None:
            return None
        return frozenset((p["type"], p["id"]) for p in own.get("parents") or ())

    def _action_uid(self, action_id: str) -> dict[str, str]:
        if action_id not in self._action_uids:
            self._action_uids[action_id] = {"type": f"{self.namespace}::Action", "id": action_id}
        return self._action_uids[action_id]

    def _partitions(self, identities: list[_Identity]) -> list[list[_Identity]]:
        """Split so that no entity id stands for two different entities within one entity set. An unnamed
        principal gets an id of its own (its id decides nothing); a named one keeps its id."""
        partitions: list[tuple[dict[str, str], list[_Identity]]] = []
        for number, identity in enumerate(identities):
            principal = identity.principal
            if (principal["type"], principal["id"]) not in self.index.named_principals:
                renamed = {"type": principal["type"], "id": f"{principal['id']}#verify{number}"}
                identity.entities = [dict(e, uid=renamed) if e["uid"] == principal else e for e in identity.entities]
                identity.principal = renamed
            fingerprints = {json.dumps(e["uid"], sort_keys=True): json.dumps(e, sort_keys=True)
                            for e in identity.entities}
            for seen, members in partitions:
                if all(seen.get(uid, fp) == fp for uid, fp in fingerprints.items()):
                    seen.update(fingerprints)
                    members.append(identity)
                    break
            else:
                partitions.append((dict(fingerprints), [identity]))
        return [members for _, members in partitions]

    def _principal_types(self, key: str) -> set[str]:
        if key not in self._principal_types_cache:
            action_id = self.targets[key].action
            declaration = self._declaration(action_id)
            names = (declaration.get("appliesTo") or {}).get("principalTypes") or []
            self._principal_types_cache[key] = {n if "::" in n else f"{self.namespace}::{n}" for n in names}
        return self._principal_types_cache[key]

    def _identity(self, token: Token, cls: PrincipalClass, token_use: str
                  ) -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
        ns = self.namespace
        if cls.is_machine:
            principal = {"type": f"{ns}::Client", "id": cls.client_id or ""}
            first = self._any_action(True)
            declared = self.store_schema.action_context(f"{ns}::Action", first["id"]) if first else None
            context = {"token": {"client_id": cls.client_id or "", "scope": sorted(token.scopes)}} \
                if declared is not None and "token" in declared.attributes else {}
            return principal, [{"uid": principal, "attrs": {}, "parents": []}], self.index.projection.apply(context)
        # Rule-added claims first: Cognito's own claims (which a trigger cannot change) are written over them.
        claims: dict[str, Any] = json.loads(token.access_claims if token_use == "access" else token.id_claims)
        if token_use == "id":
            claims.update(dict(cls.attributes))
        claims.update({"sub": cls.sub or "", "iss": self.source.issuer, "token_use": token_use})
        if token.groups:
            claims["cognito:groups"] = list(token.groups)
        if token_use == "access":
            claims.update(client_id=token.flow.client_id, scope=" ".join(sorted(token.scopes)),
                          username=cls.username or "")
            identity = identity_from_tokens(None, claims, self.source, self.store_schema, self._any_action(True))
        else:
            claims.update(aud=token.flow.client_id, **{"cognito:username": cls.username or ""})
            identity = identity_from_tokens(claims, None, self.source, self.store_schema, self._any_action(False))
        context = {"token": identity.token_context} if identity.token_context is not None else {}
        # Only the scopes some policy tests can change a decision (see migrate.context_projection).
        return identity.principal, identity.entities, self.index.projection.apply(context)

    def _any_action(self, access: bool) -> dict[str, str] | None:
        for route in self.routes:
            after = self.after[route.route]
            if (after.token_use == "access") == access and after.actions:
                first = self.targets[next(iter(after.actions.values()))]
                return {"type": f"{self.namespace}::Action", "id": first.action}
        return None

    # --- the whole comparison -------------------------------------------------------------------------------

    def run(self) -> EquivalenceResult:
        started = time.perf_counter()
        space = self.space
        result = EquivalenceResult(classes=list(space.classes), routes=self.routes,
                                   unproven_reasons=list(space.unproven), coverage=space.coverage)
        if self.placeholder_pool:
            result.unproven_reasons.append(
                f"user pool {self.regime.pool.id!r} is not a Cognito user pool id (a template's logical id?): the "
                "policies name its groups by it, and Verified Permissions will name them by the deployed pool's id; "
                f"scan again with --parameter {self.regime.pool.id}=<pool id> (and the account and region)")
        for route in self.routes:
            result.today[route.route] = set()
            result.after[route.route] = set()
            result.policies[route.route] = set()
            result.users_today[route.route] = result.users_after[route.route] = 0
        everything = self.decide_all()
        trace = _Trace({c for p in space.populations for c in p.components})
        detail: dict[str, tuple[list[str], list[str]]] | None = \
            {r.route: ([], []) for r in self.routes} if self.users_detail else None
        for cls in space.classes:
            tokens = space.tokens(cls)
            result.tokens += len(tokens)
            reported = cls.key in space.reported
            traced = cls.key in trace.keys
            users = len(cls.users)
            decided = [everything[(cls.key, index)] for index in range(len(tokens))]
            denied = [(False, ())] * len(tokens)
            denied_allowed = [False] * len(tokens)
            by_representative: dict[str, tuple[list[tuple[bool, tuple[str, ...]]], list[bool]]] = {}
            today_by_scopes: dict[frozenset[str], list[bool]] = {}
            scope_by_rule: dict[tuple[str, tuple[str, ...]], list[bool]] = {}
            id_token_today = [t.issues_id_token and not cls.is_machine for t in tokens]
            for route in self._active_routes(cls, tokens, decided):
                after = self.after[route.route]
                if route.token_use == "access":
                    required = self._required[route.route]
                    today = today_by_scopes.get(required)
                    if today is None:
                        today = today_by_scopes[required] = [not required.isdisjoint(t.scopes) for t in tokens]
                else:
                    today = id_token_today
                can_today = True in today
                if can_today:
                    if reported:
                        result.today[route.route].add(cls.key)
                    result.users_today[route.route] += users
                    if detail is not None and users:
                        detail[route.route][0].append(cls.key)
                if traced:
                    trace.today[(cls.key, route.route)] = today
                    if can_today:
                        trace.can_today[route.route].add(cls.key)
                if self.config is not None:  # scope and shadow modes: one rule per route, whatever the verb
                    rule = (after.token_use, after.scopes)  # what scope mode decides by: alike for alike routes
                    scope = scope_by_rule.get(rule)
                    if scope is None:
                        scope = scope_by_rule[rule] = [self.scope_mode(t, route, cls) for t in tokens]
                    if traced:
                        trace.scope[(cls.key, route.route)] = scope
                    if scope != today:
                        for verb in route.actions:
                            result.differences += self._scope_differences(route, verb, cls, tokens, today, scope)
                can_after = False
                for verb in route.actions:
                    action = after.actions.get(verb)
                    if action is None:
                        cedar, allowed = denied, denied_allowed
                    else:
                        # Actions with one representative are decided alike for every token (see _target).
                        found = by_representative.get(self._representative[action])
                        if found is None:
                            cedar = [d[action] for d in decided]
                            found = by_representative[self._representative[action]] = (cedar, [a for a, _ in cedar])
                        cedar, allowed = found
                    if traced:
                        trace.after[(cls.key, route.route, verb)] = allowed
                    if True in allowed:
                        can_after = True
                        if reported:
                            result.after[route.route].add(cls.key)
                            for a, names in cedar:
                                if a:
                                    result.policies[route.route].update(names)
                    if today != allowed:
                        result.differences += self._differences(route, verb, action, cls, tokens, today, cedar)
                if can_after:
                    result.users_after[route.route] += users
                    if detail is not None and users:
                        detail[route.route][1].append(cls.key)
                    if traced:
                        trace.can_after[route.route].add(cls.key)
        reached = self._decide_populations(result, trace)
        if detail is not None:
            self._list_users(result, trace, detail, reached)
        result.decisions, result.requests = self.decisions, self.requests
        result.seconds = time.perf_counter() - started
        return result

    def _active_routes(self, cls: PrincipalClass, tokens: tuple[Token, ...],
                       decided: list[dict[str, tuple[bool, tuple[str, ...]]]]) -> list[RoutePlan]:
        """The routes some token of this class may call in either regime (today, the config's scope rule, or
        Cedar). On every other route both regimes deny every token: nothing to record, nothing can differ. For a
        class of one group that is a handful of routes, not all of them."""
        if self._route_index is None:
            index: dict[str, set[int]] = {}  # scope -> routes a token holding it may call (today or scope mode)
            by_action: dict[str, set[int]] = {}
            id_routes: set[int] = set()
            for number, route in enumerate(self.routes):
                after = self.after[route.route]
                for token_use, scopes in ((route.token_use, route.scopes), (after.token_use, after.scopes)):
                    if token_use == "access":
                        for scope in scopes:
                            index.setdefault(scope, set()).add(number)
                    else:
                        id_routes.add(number)
                for action in after.actions.values():
                    by_action.setdefault(action, set()).add(number)
            self._route_index = (index, by_action, id_routes)
        index, by_action, id_routes = self._route_index
        active: set[int] = set()
        for token in tokens:
            for scope in token.scopes:
                active.update(index.get(scope, ()))
        if not cls.is_machine and any(t.issues_id_token for t in tokens):
            active |= id_routes
        for answers in decided:
            for action, (allowed, _) in answers.items():
                if allowed:
                    active.update(by_action.get(action, ()))
        return [self.routes[n] for n in sorted(active)]

    def _list_users(self, result: EquivalenceResult, trace: _Trace, detail: dict[str, tuple[list[str], list[str]]],
                    reached: dict[int, list[Population]]) -> None:
        """Every real user by name (``verify --users``): per route, who can call it today and after; per difference,
        everyone it reaches."""
        populations, holding = self.space.populations, self._holding

        def names(class_keys: list[str], components: set[str]) -> list[str]:
            found = [u for key in class_keys for u in self._classes[key].users]
            numbers = sorted({n for key in components for n in holding.get(key, ())})
            return sorted(found + [u for n in numbers for u in populations[n].users])

        result.route_users = {
            route.route: (names(detail[route.route][0], trace.can_today[route.route]),
                          names(detail[route.route][1], trace.can_after[route.route])) for route in self.routes}
        result.difference_users = [
            sorted([*self._classes[d.principal].users, *(u for p in reached.get(n, ()) for u in p.users)])
            for n, d in enumerate(result.differences)]

    @cached_property
    def _holding(self) -> dict[str, list[int]]:
        """Component class key -> the populations (their numbers in the space) it decides for."""
        holding: dict[str, list[int]] = {}
        for number, population in enumerate(self.space.populations):
            for key in population.components:
                holding.setdefault(key, []).append(number)
        return holding

    def _decide_populations(self, result: EquivalenceResult, trace: _Trace) -> dict[int, list[Population]]:
        """The real users of populations (:class:`migrate.space.Population`): counted where they can call a route,
        and named in the differences of the components that decide for them. A population's token is allowed
        exactly when the same flow's token of one of its components is, so it can differ from today only where a
        component differs in the same direction (every component denies after and one allowed today, for a loss):
        attaching them to the components' differences names every affected user."""
        populations = self.space.populations
        result.populations = len(populations)
        result.population_users = sum(len(p.users) for p in populations)
        found: dict[int, list[Population]] = {}  # difference -> the populations it reaches
        if not populations:
            return found
        holding = self._holding
        counted: dict[frozenset[str], int] = {}

        def users_reached(keys: set[str]) -> int:
            frozen = frozenset(keys)
            if frozen not in counted:
                reached = {n for key in frozen for n in holding.get(key, ())}
                counted[frozen] = sum(len(populations[n].users) for n in reached)
            return counted[frozen]

        for route in self.routes:
            result.users_today[route.route] += users_reached(trace.can_today[route.route])
            result.users_after[route.route] += users_reached(trace.can_after[route.route])
        reached_by: dict[tuple[str, str, str, str], bool] = {}

        def differs(number: int, diff: Difference) -> bool:
            key = (str(number), diff.route, diff.verb, diff.mode + diff.direction)
            if key not in reached_by:
                components = populations[number].components
                # A component the route was not active for denies every token there in both regimes.
                denied = [False] * len(self.space.tokens(self._classes[components[0]]))
                today = [any(column) for column in
                         zip(*(trace.today.get((c, diff.route), denied) for c in components), strict=True)]
                after = [any(column) for column in zip(*(
                    trace.scope.get((c, diff.route), denied) if diff.mode == "scope"
                    else trace.after.get((c, diff.route, diff.verb), denied) for c in components), strict=True)]
                gains = diff.direction == "gains"
                reached_by[key] = any(a != t and a == gains for t, a in zip(today, after, strict=True))
            return reached_by[key]

        for position, diff in enumerate(result.differences):
            reached = [populations[n] for n in holding.get(diff.principal, ()) if differs(n, diff)]
            if reached:
                found[position] = reached
                names = [*diff.examples, *(u for p in reached[:EXAMPLES_KEPT] for u in p.users[:EXAMPLES_KEPT])]
                result.differences[position] = replace(diff, examples=tuple(names[:EXAMPLES_KEPT]),
                                                       users=diff.users + sum(len(p.users) for p in reached))
        return found

    def _differences(self, route: RoutePlan, verb: str, action: str | None, cls: PrincipalClass,
                     tokens: tuple[Token, ...], today: list[bool], cedar: list[tuple[bool, tuple[str, ...]]]
                     ) -> list[Difference]:
        out = []
        for gains in (True, False):
            which = [i for i, (t, (a, _)) in enumerate(zip(today, cedar, strict=True)) if a != t and a == gains]
            if not which:
                continue
            policies = tuple(sorted({p for i in which for p in cedar[i][1]})) if gains else ()
            scopes = () if gains else tuple(sorted({s for i in which for s in tokens[i].scopes} & set(route.scopes)))
            why = self._why(route, verb, action, cls, tokens, which, gains, policies)
            out.append(Difference(route=route.route, verb=verb, action=action or "", principal=cls.key,
                                  principal_label=cls.label, direction="gains" if gains else "loses",
                                  examples=cls.examples[:EXAMPLES_KEPT], policies=policies, scopes=scopes,
                                  flows=tuple(dict.fromkeys(tokens[i].flow.label for i in which)), why=why,
                                  users=len(cls.users)))
        return out

    def _scope_differences(self, route: RoutePlan, verb: str, cls: PrincipalClass, tokens: tuple[Token, ...],
                           today: list[bool], scope: list[bool]) -> list[Difference]:
        after = self.after[route.route]
        out = []
        for gains in (True, False):
            which = [i for i, (t, s) in enumerate(zip(today, scope, strict=True)) if s != t and s == gains]
            if not which:
                continue
            reasons = {self.refused.get((cls.key, i), "") for i in which} - {""}
            why = "; ".join(sorted(reasons)) or (
                f"authorizer-config.json gives {route.route} token type {after.token_use} and scopes "
                f"{' '.join(after.scopes) or '(none)'}; today API Gateway wants {route.token_use} and "
                f"{' '.join(route.scopes) or '(none)'}")
            scopes = tuple(sorted({s for i in which for s in tokens[i].scopes} & set(route.scopes)))
            out.append(Difference(route=route.route, verb=verb, action=after.actions.get(verb, ""), principal=cls.key,
                                  principal_label=cls.label, direction="gains" if gains else "loses",
                                  examples=cls.examples[:EXAMPLES_KEPT], scopes=scopes,
                                  flows=tuple(dict.fromkeys(tokens[i].flow.label for i in which)), why=why,
                                  mode="scope", users=len(cls.users)))
        return out

    def _why(self, route: RoutePlan, verb: str, action: str | None, cls: PrincipalClass, tokens: tuple[Token, ...],
             which: list[int], gains: bool, policies: tuple[str, ...]) -> str:
        """The most specific reason verify can give for these tokens' differing decisions."""
        refusals = sorted({self.refused[(cls.key, i)] for i in which if (cls.key, i) in self.refused})
        if refusals:
            return "; ".join(refusals)
        after = self.after[route.route]
        if action is None:
            return f"authorizer-config.json maps no Cedar action for {verb} on {route.route}"
        if after.token_use != route.token_use:
            return (f"authorizer-config.json sends {after.token_use} tokens to AVP for {route.route}; today the route "
                    f"takes {route.token_use} tokens")
        sent = self.targets[action].parents
        if self.store_layout == "routes" and set(sent) != set(route.parents):
            def names(parents: Iterable[tuple[str, str]]) -> str:
                return ", ".join(f"{t.split('::')[-1]} {i}" for t, i in sorted(parents)) or "none"
            return (f"authorizer-config.json sends {route.route} with the parents {names(sent)}; its scopes make "
                    f"{names(route.parents)}")
        # A rule about some flows only, that adds or suppresses a scope of this route, and a class whose tokens
        # split on it: the flow decides today, and AVP cannot see it.
        rules = self.regime.rules.rules if self.regime.rules is not None else ()
        flow_rules = sorted(r.id for r in rules if r.when is not None and r.when.trigger_sources is not None
                            and set(route.scopes) & set((r.then.add_scopes or ()) + (r.then.suppress_scopes or ())))
        if flow_rules and len(which) < len(tokens):
            return (f"rule {', '.join(repr(r) for r in flow_rules)} depends on how the token was obtained "
                    "(trigger source), which Verified Permissions cannot see")
        if all(tokens[i].flow.variant for i in which):
            return "depends on the scopes asked for in the hosted UI"
        if gains:
            return f"allowed by {', '.join(policies)}; no scope in today's tokens gives it"
        return "no policy on disk allows it"
