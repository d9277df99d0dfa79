"""The principal space verify checks: every kind of caller either regime can tell apart, and their tokens.

A caller is a user (or a client-credentials client) holding one token. What can change a decision, in either
regime, is finite and named somewhere, so the space is built from *atoms*:

* **groups**: every group the snapshot lists, the pre-token rules name (``groups``, ``all_groups``, group
  overrides) or the policies on disk name (``UserGroup::"<pool>|<group>"``), plus **a group nobody names**, which
  stands for every other group (nothing in either regime can tell two unnamed groups apart);
* **identities**: every user a rule names (``users``) or a policy names (``User::"<pool>|<sub>"``), every user
  whose attributes a rule tests, grouped by what the regimes can see of them (which rules and policies name
  them, the tested attribute values); plus **a user nobody names**;
* **tokens**: every app client of the pool and every flow it allows (sign-in, with each trigger source a rule
  distinguishes; refresh; the hosted UI with every combination of the requested scopes that decide anything;
  client credentials), each through the pre-token rules' own evaluator.

Groups are combined as the regimes require. A group is *additive* when adding it to a user can only add what
that group alone adds, in both regimes: every rule that names it does so in an any-of ``groups`` list and only
adds scopes (no suppression, no group override, no ``all_groups``, no claims a policy reads), and every policy
that names it is a ``permit`` with it as ``principal in`` and no other group. Every other named group is
*non-additive*. For a fixed set N of non-additive groups both regimes are then disjunctive in the additive
ones: a token of N plus additive groups A is allowed exactly when a token of N is, or a token of N plus one
group of A is (the rules add scopes, Cedar's permits add up, and nothing subtracts). So checking every subset
N of the non-additive groups, alone and with each additive group, checks every combination of groups; the same
argument covers the hosted-UI scopes a user asks for (a requested scope no policy names changes only today's
side, which is disjunctive in scopes). Each distinct group combination real users have is checked as well, so
that differences name real people.

When that is more than :data:`MAX_GROUP_SUBSETS` subsets, or the pool's app clients, rules or users are not in
the snapshot, the space is *unproven*: :attr:`PrincipalSpace.unproven` says what is missing, and verify never
calls such a check equivalent.

Limits of the argument, stated rather than hidden: a user's attribute values are those the scan read (a user
nobody names holds none of the attribute values the rules test); a client-credentials token is checked for each
combination of its client's scopes that a policy can tell apart (as a hosted-UI request is); a principal in more
than :data:`MAX_PARENTS` groups is only checked where a real user is.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from migrate.inventory.model import User
from migrate.regime import Flow, PoolRegime, PrincipalClass, Token, machine_flow
from pretoken_lambda.rules import AVP_REFUSED_CLAIMS, TRIGGER_SOURCES

UNNAMED_GROUP = "avp-migrate-unnamed-group"
MAX_GROUP_SUBSETS = 4096  # 2**12: subsets of non-additive groups checked before the space is called too large
MAX_SCOPE_SUBSETS = 1024  # per hosted-UI client: combinations of requested scopes that decide something
# "A principal or resource entity can be defined with at most 99 transitive parents per authorization request"
# (Verified Permissions API reference, EntityItem.parents). The quotas page counts the entity itself (100);
# 99 parents is the reading under which fewer users are assumed to pass, so it is the one verify uses.
MAX_PARENTS = 99
SIGN_IN_SOURCES = ("TokenGeneration_Authentication", "TokenGeneration_NewPasswordChallenge",
                   "TokenGeneration_AuthenticateDevice")
_STANDARD_ID_CLAIMS = frozenset({"sub", "iss", "aud", "token_use", "cognito:username", "cognito:groups", "exp",
                                 "iat", "auth_time", "jti", "origin_jti", "event_id"})


# --- what the policies on disk name -------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyFacts:
    """The atoms the Cedar policies name, and which groups they combine."""

    groups: frozenset[str] = frozenset()  # group names of this pool
    users: frozenset[str] = frozenset()  # subs of this pool's users
    strings: frozenset[str] = frozenset()  # every string literal
    nonadditive_groups: frozenset[str] = frozenset()
    all_nonadditive: bool = False  # a construct the analysis does not model (templates)
    principal_attributes: frozenset[str] = frozenset()  # principal.<name> / principal has <name>
    token_attributes: frozenset[str] = frozenset()  # context.token.<name>
    scope_read_freely: bool = False  # context.token.scope used other than as contains/containsAny/containsAll's set


def walk_json(node: Any) -> Iterator[Any]:
    """Every value in a JSON value (a policy in Cedar's JSON), itself first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk_json(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_json(value)


def entity_refs(node: Any) -> list[tuple[str, str]]:
    """Every entity reference (``{"type", "id"}``) in a JSON value."""
    return [(n["type"], n["id"]) for n in walk_json(node)
            if isinstance(n, dict) and isinstance(n.get("type"), str) and isinstance(n.get("id"), str)]


def _attr_of(node: Any, var: str) -> str | None:
    """``X`` when node is ``<var>.X`` or ``<var> has X``."""
    for op in (".", "has"):
        inner = node.get(op) if isinstance(node, dict) else None
        if isinstance(inner, dict) and inner.get("left") == {"Var": var}:
            return inner.get("attr")
    return None


_TOKEN = {".": {"left": {"Var": "context"}, "attr": "token"}}
_SCOPE = {".": {"left": _TOKEN, "attr": "scope"}}


def policy_facts(document: dict[str, Any], namespace: str, pool_id: str) -> PolicyFacts:
    """``document`` is the policy set as Cedar's JSON (``cedarpy.policies_to_json_str``)."""
    group_type, user_type = f"{namespace}::UserGroup", f"{namespace}::User"
    prefix = f"{pool_id}|"
    groups: set[str] = set()
    users: set[str] = set()
    strings: set[str] = set()
    nonadditive: set[str] = set()
    principal_attributes: set[str] = set()
    token_attributes: set[str] = set()
    scope_uses = scope_in_contains = 0
    for policy in (document.get("staticPolicies") or {}).values():
        refs = entity_refs([policy.get("principal"), policy.get("conditions")])
        named = {i[len(prefix):] for t, i in refs if t == group_type and i.startswith(prefix)}
        groups |= named
        users |= {i[len(prefix):] for t, i in refs if t == user_type and i.startswith(prefix)}
        principal = policy.get("principal") or {}
        in_conditions = {i[len(prefix):] for t, i in entity_refs(policy.get("conditions"))
                         if t == group_type and i.startswith(prefix)}
        additive = (policy.get("effect") == "permit" and len(named) == 1 and not in_conditions
                    and principal.get("op") == "in")
        if not additive:
            nonadditive |= named
        for node in walk_json(policy.get("conditions")):
            if not isinstance(node, dict):
                continue
            if isinstance(node.get("Value"), str):
                strings.add(node["Value"])
            if (name := _attr_of(node, "principal")) is not None:
                principal_attributes.add(name)
            for op in (".", "has"):
                inner = node.get(op)
                if isinstance(inner, dict) and inner.get("left") == _TOKEN:
                    token_attributes.add(inner.get("attr", ""))
            if node == _SCOPE:
                scope_uses += 1
            for op in ("contains", "containsAny", "containsAll"):
                inner = node.get(op)
                if isinstance(inner, dict) and inner.get("left") == _SCOPE:
                    scope_in_contains += 1
    return PolicyFacts(
        groups=frozenset(groups), users=frozenset(users), strings=frozenset(strings),
        nonadditive_groups=frozenset(nonadditive),
        all_nonadditive=bool(document.get("templates") or document.get("templateLinks")),
        principal_attributes=frozenset(principal_attributes), token_attributes=frozenset(token_attributes),
        scope_read_freely=scope_uses != scope_in_contains)


# --- identities ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Users the regimes cannot tell apart (apart from their groups): the same rules and policies name them,
    with the same tested attribute values."""

    key: str  # "" for a user nobody names, else "user:<sub>"
    label: str
    username: str
    sub: str
    attributes: tuple[tuple[str, str], ...] = ()
    members: Mapping[frozenset[str], tuple[str, ...]] = field(default_factory=dict)  # real combination -> users

    @property
    def real_groups(self) -> tuple[frozenset[str], ...]:
        """The group combinations its real users have."""
        return tuple(self.members)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _group_key(groups: frozenset[str]) -> tuple[str, str]:
    names = sorted(groups)
    shown = ["a group nobody names" if g == UNNAMED_GROUP else g for g in names]
    if not names:
        return "no-group", "users in no group"
    if len(names) == 1:
        return f"group:{names[0]}", f"group {shown[0]}"
    return f"groups:{'+'.join(names)}", f"groups {{{', '.join(shown)}}}"


# --- the space -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """Real users with one combination of groups that verify does not decide as a class of its own: by the
    disjunctive argument (module docstring), a token of theirs is allowed exactly when the same flow's token of one
    of the *components* is: their non-additive groups alone, or those plus one of their additive groups. So the
    verdict is decided on the components, and these users are named where a component's difference reaches them.

    Deciding them so is what keeps verify's work proportional to the groups, not to the users: with varied real
    memberships nearly every user has a combination of their own."""

    identity: str  # "" (a user nobody names) or the identity's key
    groups: frozenset[str]
    users: tuple[str, ...]
    components: tuple[str, ...]  # class keys


@dataclass(frozen=True)
class _Derivable:
    """Which real group combinations are populations: their non-additive part is a checked base, and they hold at
    most :data:`MAX_PARENTS` groups (more is an AVP error for the combination, not for its components)."""

    nonadditive: frozenset[str]
    bases: set[frozenset[str]]

    def __call__(self, groups: frozenset[str]) -> bool:
        return len(groups) <= MAX_PARENTS and (groups & self.nonadditive) in self.bases

    def components(self, groups: frozenset[str]) -> list[frozenset[str]]:
        base = groups & self.nonadditive
        return [base, *(base | {g} for g in sorted(groups - base))]


@dataclass
class PrincipalSpace:
    """The principal classes verify decides, the tokens of each, and what keeps the check from being a proof."""

    regime: PoolRegime
    classes: list[PrincipalClass] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)
    coverage: str = ""
    reported: set[str] = field(default_factory=set)  # class keys shown as "who can call it" (real populations)
    populations: list[Population] = field(default_factory=list)  # real users decided through components
    _flows: dict[bool, tuple[Flow, ...]] = field(default_factory=dict, repr=False)
    _tokens: dict[str, tuple[Token, ...]] = field(default_factory=dict, repr=False)

    def tokens(self, cls: PrincipalClass) -> tuple[Token, ...]:
        if cls.key not in self._tokens:
            flows = [f for f in self._flows[True] if f.client_id == cls.client_id] if cls.is_machine \
                else list(self._flows[False])
            self._tokens[cls.key] = tuple(self.regime.token(cls, flow) for flow in flows)
        return self._tokens[cls.key]

    @classmethod
    def build(cls, regime: PoolRegime, facts: PolicyFacts, *, populations: bool = True) -> PrincipalSpace:
        """``populations=False`` decides every real group combination as a class of its own (what the populations
        are held to by tests/test_populations.py)."""
        return _Builder(regime, facts, populations=populations).build()


class _Builder:
    def __init__(self, regime: PoolRegime, facts: PolicyFacts, *, populations: bool = True) -> None:
        self.populations = populations
        self.regime = regime
        self.facts = facts
        self.pool = regime.pool
        self.rules = regime.rules.rules if regime.rules is not None else ()
        self.unproven: list[str] = []
        self._presence_tested: set[str] = set()
        self._bases: set[frozenset[str]] = set()  # the subsets of non-additive groups checked

    # groups

    def group_atoms(self) -> tuple[list[str], list[str]]:
        named = {g.name for g in self.pool.groups} | set(self.facts.groups)
        nonadditive = set(self.facts.nonadditive_groups)
        reads_claims = bool(self.facts.principal_attributes - {"sub"}) or bool(
            self.facts.token_attributes - {"scope", "client_id"})
        for rule in self.rules:
            when, then = rule.when, rule.then
            mentioned = set(when.groups or ()) | set(when.all_groups or ()) if when is not None else set()
            named |= mentioned | set(then.override_groups.groups if then.override_groups else ())
            claims = bool((then.id_token and not then.id_token.is_empty)
                          or (then.access_token and not then.access_token.is_empty))
            if when is not None and when.all_groups:
                nonadditive |= set(when.all_groups)
            if then.suppress_scopes or then.override_groups is not None or (claims and reads_claims):
                nonadditive |= mentioned
        for user in self.pool.users:
            named |= set(user.groups)
        if self.facts.all_nonadditive:
            nonadditive = set(named)
        named.discard(UNNAMED_GROUP)
        nonadditive &= named
        additive = [*sorted(named - nonadditive), UNNAMED_GROUP]
        return sorted(nonadditive), additive

    def group_combinations(self, nonadditive: list[str], additive: list[str]) -> list[frozenset[str]]:
        if 2 ** len(nonadditive) > MAX_GROUP_SUBSETS:
            self.unproven.append(
                f"{len(nonadditive)} groups are combined by conditions ({', '.join(nonadditive[:8])}"
                f"{', ...' if len(nonadditive) > 8 else ''}): their {2 ** len(nonadditive):,} combinations are more "
                f"than the {MAX_GROUP_SUBSETS:,} verify enumerates; only each alone and the combinations real "
                "users have were checked")
            bases: Iterable[tuple[str, ...]] = [()] + [(g,) for g in nonadditive]
        else:
            bases = itertools.chain.from_iterable(
                itertools.combinations(nonadditive, size) for size in range(len(nonadditive) + 1))
        combos: dict[frozenset[str], None] = {}
        for base in bases:
            self._bases.add(frozenset(base))
            combos[frozenset(base)] = None
            for group in additive:
                combos[frozenset(base) | {group}] = None
        return list(combos)

    # identities

    def _tested_attributes(self) -> dict[str, set[str]]:
        values: dict[str, set[str]] = {}
        for rule in self.rules:
            if rule.when is None:
                continue
            for name, value in (rule.when.attributes or {}).items():
                values.setdefault(name, set()).add(value)
            for name in rule.when.attributes_present or ():
                values.setdefault(name, set())
                self._presence_tested.add(name)
        for name in self.facts.principal_attributes:
            if name not in _STANDARD_ID_CLAIMS:
                values.setdefault(name, set())
        return values

    def identities(self) -> list[Identity]:
        tested = self._tested_attributes()
        rule_users = {u: rule.id for rule in self.rules if rule.when is not None for u in rule.when.users or ()}
        policy_users = self.facts.users

        naming: dict[str, set[str]] = {}  # username or sub -> ids of the rules that name it
        for rule in self.rules:
            for name in (rule.when.users or ()) if rule.when is not None else ():
                naming.setdefault(name, set()).add(rule.id)
        sorted_tested = sorted(tested)

        def signature(user: User) -> tuple[Any, ...]:
            named_by = tuple(sorted(naming.get(user.username, set()) | naming.get(user.sub, set())))
            attributes = []
            for name in sorted_tested:
                value = user.attributes.get(name)
                if not value:
                    continue
                if value in tested[name] or name in self.facts.principal_attributes:
                    attributes.append((name, value))
                elif name in self._presence_tested:  # any other value: only its presence can count
                    attributes.append((name, "(another value)"))
            return named_by, tuple(attributes), user.sub if user.sub in policy_users else None

        anonymous: dict[frozenset[str], list[str]] = {}
        grouped: dict[tuple[Any, ...], list[User]] = {}
        for user in self.pool.users:
            sig = signature(user)
            if sig == ((), (), None):
                anonymous.setdefault(frozenset(user.groups), []).append(user.username)
            else:
                grouped.setdefault(sig, []).append(user)
        digest = _digest(f"nobody:{self.pool.id}")
        out = [Identity(key="", label="", username=f"avp-migrate:{digest}", sub=f"avp-migrate-{digest}",
                        members={g: tuple(sorted(n)) for g, n in anonymous.items()})]
        for users in grouped.values():
            first = min(users, key=lambda u: u.username)
            names = sorted(u.username for u in users)
            label = f"user {names[0]}" if len(names) == 1 else "users " + ", ".join(names[:3]) + (
                ", ..." if len(names) > 3 else "")
            members: dict[frozenset[str], list[str]] = {}
            for user in users:
                members.setdefault(frozenset(user.groups), []).append(user.username)
            out.append(Identity(key=f"user:{first.sub or first.username}", label=label, username=first.username,
                                sub=first.sub, attributes=tuple(sorted(first.attributes.items())),
                                members={g: tuple(sorted(n)) for g, n in members.items()}))
        known = {u.username for u in self.pool.users} | {u.sub for u in self.pool.users}
        for name in sorted(set(rule_users) - known):
            if not self.pool.users_complete:
                self.unproven.append(f"rule {rule_users[name]!r} names user {name!r}, who is not in the snapshot, "
                                     "and users in no group were not scanned: rescan with --all-users")
                continue
            # Nobody has that name today; a user created with it would get the rule's scopes.
            out.append(Identity(key=f"user:{name}", label=f"a new user named {name} (not in the snapshot)",
                                username=name, sub=f"avp-migrate-{_digest('new:' + name)}"))
        for sub in sorted(policy_users - known):
            if self.pool.users_complete:
                continue  # a sub nobody has: subs are never reused, so no user can ever present it
            out.append(Identity(key=f"user:{sub}", label=f"user with sub {sub} (not in the snapshot)",
                                username=f"avp-migrate:{_digest('sub:' + sub)}", sub=sub))
        if not self.pool.users_complete and tested:
            # The users a rule names are read by name; those an attribute condition matches may be in no group.
            names = sorted(tested)
            self.unproven.append(f"the rules test user attributes ({', '.join(names[:5])}) but users in no group "
                                 "were not scanned, so users these conditions match may be missing: rescan with "
                                 "--all-users")
        return out

    # tokens

    def flows(self) -> tuple[tuple[Flow, ...], tuple[Flow, ...]]:
        sources_tested = {s for r in self.rules if r.when is not None for s in r.when.trigger_sources or ()}
        split_sign_in = bool(sources_tested & set(SIGN_IN_SOURCES)) and not set(SIGN_IN_SOURCES) <= sources_tested
        deciding = self._deciding_scopes()
        user_flows: list[Flow] = []
        for flow in self.regime.user_flows:
            if flow.kind == "sign-in" and split_sign_in:
                user_flows += [Flow(flow.client_id, flow.client_name, "sign-in", source=s) for s in SIGN_IN_SOURCES
                               if s in TRIGGER_SOURCES]
            elif flow.kind == "hosted-ui":
                user_flows += self._hosted_variants(flow, deciding)
            else:
                user_flows.append(flow)
        machine: list[Flow] = []
        for client in self.pool.clients:
            if (flow := machine_flow(client)) is not None:
                machine += self._requested_variants(flow, deciding, empty_allowed=False)
        return tuple(user_flows), tuple(machine)

    def _deciding_scopes(self) -> frozenset[str] | None:
        """Requested scopes that can change a decision after the move (None: any scope can)."""
        if self.facts.scope_read_freely:
            return None
        return frozenset(self.facts.strings) | {"openid"}

    def _hosted_variants(self, flow: Flow, deciding: frozenset[str] | None) -> list[Flow]:
        return self._requested_variants(flow, deciding, empty_allowed=True)

    def _requested_variants(self, flow: Flow, deciding: frozenset[str] | None, *,
                            empty_allowed: bool) -> list[Flow]:
        """The flow once per combination of requested scopes that a policy can tell apart. A hosted-UI request
        may ask for none of the client's scopes; a client-credentials request that asks for none gets them all
        (Cognito: "If you don't request any scopes, ... all custom scopes"), so it is the all-scopes variant."""
        allowed = list(dict.fromkeys(flow.requested_scopes))
        nonadditive = [s for s in allowed if deciding is None or s in deciding]
        additive = [s for s in allowed if s not in nonadditive]
        where = "in the hosted UI" if flow.kind == "hosted-ui" else "in client-credentials requests"
        if 2 ** len(nonadditive) > MAX_SCOPE_SUBSETS:
            self.unproven.append(f"app client {flow.client_name or flow.client_id} allows {len(nonadditive)} scopes "
                                 f"the policies can tell apart {where}: too many combinations to enumerate; "
                                 "only the request for all of them was checked")
            return [flow]
        variants: dict[tuple[str, ...], str] = {}
        for size in range(len(nonadditive) + 1):
            for base in itertools.combinations(nonadditive, size):
                for extra in [None, *additive]:
                    chosen = set(base) | ({extra} if extra else set())
                    requested = tuple(s for s in allowed if s in chosen)
                    if not requested and not empty_allowed:
                        continue
                    if requested == tuple(allowed):
                        variants.setdefault(requested, "")
                    else:
                        variants.setdefault(requested, "asking for " + (" ".join(requested) or "no scope it allows"))
        return [Flow(flow.client_id, flow.client_name, flow.kind, requested, variant=label)
                for requested, label in variants.items()]

    # all together

    def _add_class(self, classes: dict[str, PrincipalClass], space: PrincipalSpace, identity: Identity,
                   groups: frozenset[str], *, real: bool, examples: tuple[str, ...]) -> str:
        group_key, group_label = _group_key(groups)
        if identity.key:
            key = identity.key if real and len(identity.members) == 1 else f"{identity.key}+{group_key}"
            label = identity.label if key == identity.key else f"{identity.label} in {group_label}"
            kind = "user"
        else:
            key, label = group_key, group_label
            kind = "no-group" if not groups else "group" if len(groups) == 1 else "group-combination"
        if key not in classes:
            classes[key] = PrincipalClass(
                key=key, kind=kind, label=label, pool_id=self.pool.id, groups=groups,  # type: ignore[arg-type]
                username=identity.username, sub=identity.sub, attributes=identity.attributes,
                examples=tuple(examples))
            # "Who can call it" in the reports: real populations, and (as before) each group alone and no
            # group; the other combinations are checked for the verdict only.
            if real or (not identity.key and len(groups) <= 1 and UNNAMED_GROUP not in groups):
                space.reported.add(key)
        return key

    def build(self) -> PrincipalSpace:
        space = PrincipalSpace(regime=self.regime)
        pool = self.pool
        if pool.known_by_arn_only:
            self.unproven.append(f"user pool {pool.id} is known by ARN only (offline scan): its app clients, flows "
                                 "and users are unknown; scan the account")
        elif not pool.clients:
            self.unproven.append(f"user pool {pool.id}: the snapshot lists no app client, so the tokens callers "
                                 "can obtain are unknown (a plain sign-in was assumed)")
        if not self.regime.rules_known:
            self.unproven.append(f"user pool {pool.id} has a pre-token trigger whose rules are not in the snapshot: "
                                 "rescan with --rules, or derive them with `avp-migrate probe`")
        unread = self.facts.principal_attributes - _STANDARD_ID_CLAIMS - set(self._tested_attributes())
        if unread:
            self.unproven.append(f"policies read principal attributes the snapshot does not hold "
                                 f"({', '.join(sorted(unread))}): rescan with --user-attribute")
        user_flows, machine_flows = self.flows()
        space._flows = {False: user_flows, True: machine_flows}
        nonadditive, additive = self.group_atoms()
        combinations = self.group_combinations(nonadditive, additive)
        identities = self.identities()
        classes: dict[str, PrincipalClass] = {}
        combination_set = set(combinations)
        derivable = _Derivable(frozenset(nonadditive), self._bases)
        pending: list[tuple[frozenset[str], tuple[str, ...]]] = []
        for identity in identities:
            members = identity.members
            key_of: dict[frozenset[str], str] = {}
            for groups in [*members, *combinations]:
                real = groups in members
                if self.populations and real and groups not in combination_set and derivable(groups):
                    pending.append((groups, members.get(groups, ())))
                    continue
                key = self._add_class(classes, space, identity, groups, real=real,
                                      examples=members.get(groups, ()) if real or not identity.key else ())
                key_of[groups] = key
            for groups, users in pending:
                space.populations.append(Population(
                    identity=identity.key, groups=groups, users=users,
                    components=tuple(key_of[g] for g in derivable.components(groups))))
            pending.clear()
        # A component whose token carries a claim Verified Permissions refuses is denied outright, and so is every
        # population holding it: "allowed when one of its components is" fails there, so such a population is
        # checked as a class of its own.
        kept = []
        refusing = {key for key in {c for p in space.populations for c in p.components}
                    if any(refused_claims(t) for t in space.tokens(classes[key]))}
        for population in space.populations:
            if refusing.intersection(population.components):
                identity = next(i for i in identities if i.key == population.identity)
                self._add_class(classes, space, identity, population.groups, real=True, examples=population.users)
            else:
                kept.append(population)
        space.populations = kept
        for flow in machine_flows:
            key = f"client:{flow.client_id}"
            classes[key] = PrincipalClass(key=key, kind="client", label=f"client {flow.client_name}", pool_id=pool.id,
                                          client_id=flow.client_id, examples=(flow.client_name,))
            space.reported.add(key)
        space.classes = list(classes.values())
        space.unproven = self.unproven
        clients = len({f.client_id for f in (*user_flows, *machine_flows) if f.client_id})
        space.coverage = (f"{len(nonadditive) + len(additive) - 1} named groups and a group nobody names "
                          f"({len(nonadditive)} combined by conditions), {len(identities) - 1} named users and a user "
                          f"nobody names, {clients} app clients, {len(user_flows) + len(machine_flows)} token kinds")
        return space


def refused_claims(token: Token) -> str | None:
    """Why AVP would refuse this token's claims (None: it would not)."""
    for text in (token.id_claims, token.access_claims):
        names = set(json.loads(text))
        bad = sorted(names & AVP_REFUSED_CLAIMS)
        if bad:
            return f"the token carries a {bad[0]!r} claim, which Verified Permissions refuses"
    return None
