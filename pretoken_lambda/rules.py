"""The pre-token rules: the document format, its validation, and evaluation against one token request.

This module is the single source of truth for what a rules document means. The pre-token generation
handler (:mod:`pretoken_lambda.handler`) applies it to Cognito trigger events; the scanner and the
translation to Cedar call :func:`evaluate` to learn exactly which scopes, claims and groups a user's
tokens end up with. It is pure Python (standard library only): it is imported inside the Lambda, where
cold start matters.

Rules document, format version 1
================================

A JSON object with exactly two keys::

    {
      "version": 1,
      "rules": [
        {
          "id": "avp-group-gets-avp-scope",
          "description": "optional text",
          "when": {
            "groups": ["avp-group", "admins"],
            "all_groups": ["a", "b"],
            "users": ["alice", "<sub uuid>"],
            "attributes": {"custom:dept": "eng"},
            "attributes_present": ["custom:tenant"],
            "client_ids": ["abc"],
            "trigger_sources": ["TokenGeneration_HostedAuth"]
          },
          "then": {
            "add_scopes": ["MyApi/avp.read"],
            "suppress_scopes": ["MyApi/admin"],
            "id_token": {"add_claims": {"tenant": "t1"}, "suppress_claims": ["email"]},
            "access_token": {"add_claims": {"tier": "gold"}, "suppress_claims": []},
            "override_groups": {"groups": ["x"], "iam_roles": [], "preferred_role": null}
          }
        }
      ]
    }

``version``
    Required, the integer ``1``.
``rules``
    Required, a list (may be empty). Order matters (see Semantics).

Each rule:

``id``
    Required, unique in the document, 1-128 characters of ``[A-Za-z0-9_.:-]``. Logged when the rule matches.
``description``
    Optional string.
``when``
    Optional object of conditions. Every condition present must hold; an absent or empty ``when`` always
    holds.
    A condition's list must not be empty (an empty "any of" list would silently match nobody).

    - ``groups``: the user is in ANY of these Cognito groups.
    - ``all_groups``: the user is in ALL of these groups.
    - ``users``: the event's ``userName``, or the user's ``sub`` attribute, equals one of these (exact,
      case-sensitive; prefer ``sub``, which never changes).
    - ``attributes``: object of attribute name to string; each user attribute equals the string exactly
      (attribute values are strings in the event, so ``"true"``, not ``true``).
    - ``attributes_present``: each named attribute is present and non-empty.
    - ``client_ids``: the app client (``callerContext.clientId``) is one of these.
    - ``trigger_sources``: the event's ``triggerSource`` is one of the documented ``TokenGeneration_*``
      values (:data:`TRIGGER_SOURCES`).

    Conditions about the user (``groups``, ``all_groups``, ``users``, ``attributes``, ``attributes_present``)
    never hold for a client-credentials request (``TokenGeneration_ClientCredentials``): there is no user.
    Conditions see the request as Cognito sent it: a group override by an earlier rule does not change them.
``then``
    Required object with at least one action that has an effect:

    - ``add_scopes`` / ``suppress_scopes``: lists of OAuth scopes for the access token. A scope is a non-empty
      string without whitespace (Cognito cannot add a scope containing a space).
    - ``id_token`` / ``access_token``: ``{"add_claims": {name: JSON value}, "suppress_claims": [name]}``.
      Claims Cognito forbids changing are rejected (:data:`PROTECTED_CLAIMS`, and every ``cognito:`` claim:
      group claims change through ``override_groups``; scopes through ``add_scopes``/``suppress_scopes``).
      ``null`` values are rejected (suppress the claim instead). In the ID token, ``email_verified``,
      ``phone_number_verified``, ``updated_at`` and ``address`` take only a string, number or boolean.
    - ``override_groups``: ``{"groups": [...], "iam_roles": [...], "preferred_role": "arn" | null}``;
      ``groups`` is required and replaces the user's groups in both tokens (an empty list removes them);
      ``iam_roles`` and ``preferred_role`` (ID token) are optional.

Unknown keys are errors at every level, so a misspelt condition can never silently widen a rule.

Semantics
=========

Every rule whose ``when`` holds applies, in document order.

- Scopes: the union of every matching rule's ``add_scopes``; a scope named in any matching rule's
  ``suppress_scopes`` is suppressed, and suppression wins over adding (as Cognito does for a claim both
  suppressed and replaced).
- Claims, per token: for the same claim a later rule's value wins; suppression (by any matching rule) wins
  over adding.
- ``override_groups``: the last matching rule that has one wins; with none, the groups are left alone.

The response the handler builds never asks Cognito to add a scope or claim it also suppresses, so the result
does not depend on the order in which Cognito applies the two.

Event versions: a ``V1_0`` trigger can only change the ID token and the groups, so scope and access-token
actions are ignored there (the handler logs that they were). A client-credentials token has no ID token and
no groups, so ``id_token`` and ``override_groups`` are ignored for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FORMAT_VERSION = 1

CLIENT_CREDENTIALS = "TokenGeneration_ClientCredentials"
# triggerSource values of the pre token generation trigger (Cognito developer guide, "Pre token generation
# Lambda trigger", trigger sources; client credentials from the V3_0 event of the same page).
TRIGGER_SOURCES = frozenset({
    "TokenGeneration_HostedAuth",
    "TokenGeneration_Authentication",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
    CLIENT_CREDENTIALS,
})

# Claims a pre token generation trigger may not add, override or suppress. The developer guide's page lists
# acr, amr, aud, at_hash, auth_time, azp, cognito:username, exp, iat, identities, iss, jti, nbf, nonce,
# origin_jti, sub and token_use; the access-token claims (client_id, username, scope, version, event_id,
# device_key) are Cognito's own too. c_hash is the OIDC code hash. Kept a superset of what the embedded
# Cognito (migrate/embedded/cognito_tokens.PROTECTED_CLAIMS) rejects, so a valid rules document never fails
# a sign-in there; a test checks that.
PROTECTED_CLAIMS = frozenset({
    "acr", "amr", "at_hash", "aud", "auth_time", "azp", "c_hash", "client_id", "device_key", "event_id",
    "exp", "iat", "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "scope", "sub", "token_use",
    "username", "version",
})
PROTECTED_CLAIM_PREFIXES = ("cognito:",)
# ID-token claims that cannot hold a complex (list or object) value (same page, V2_0 claim value types).
ID_TOKEN_SCALAR_CLAIMS = frozenset({"email_verified", "phone_number_verified", "updated_at", "address"})
# Claim names Verified Permissions cannot map: ``cognito``, ``custom`` and ``dev`` as plain names. AVP reads
# ``cognito:``/``custom:`` claims both with brackets and in dot notation (``principal.cognito.username``), so a
# literal claim of the same name clashes with them and the token fails to process (AVP user guide,
# identity-sources-cognito, Note; Cognito developer guide, amazon-cognito-authorization-with-avp). Every ID
# token carries ``cognito:username``, so a plain ``cognito`` claim always clashes; refusing the three plain
# names also refuses every literal/prefixed clash a rule could cause.
AVP_REFUSED_CLAIMS = frozenset({"cognito", "custom", "dev"})
# Scopes every user pool has without a resource server defining them.
BUILTIN_SCOPES = frozenset({"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"})

_RULE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_DOCUMENT_KEYS = ("version", "rules")
_RULE_KEYS = ("id", "description", "when", "then")
_WHEN_KEYS = ("groups", "all_groups", "users", "attributes", "attributes_present", "client_ids",
              "trigger_sources")
_THEN_KEYS = ("add_scopes", "suppress_scopes", "id_token", "access_token", "override_groups")
_TOKEN_KEYS = ("add_claims", "suppress_claims")
_OVERRIDE_KEYS = ("groups", "iam_roles", "preferred_role")


class RulesError(ValueError):
    """A rules document is invalid. ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the rules document: "
                         + "; ".join(self.problems))


# --- the model ----------------------------------------------------------------------------------------------


def _frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else MappingProxyType(dict(value))


def _tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class Conditions:
    """A rule's ``when``. ``None`` means the condition is absent (it holds)."""

    groups: tuple[str, ...] | None = None
    all_groups: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None
    attributes: Mapping[str, str] | None = None
    attributes_present: tuple[str, ...] | None = None
    client_ids: tuple[str, ...] | None = None
    trigger_sources: tuple[str, ...] | None = None
    # Precomputed for evaluate(): sets for membership tests, and whether any condition is about the user.
    _groups: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    _all_groups: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    _users: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    _attributes: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False, default=())
    _client_ids: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    _trigger_sources: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)
    _about_user: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        for name in ("groups", "all_groups", "users", "attributes_present", "client_ids", "trigger_sources"):
            value = _tuple(getattr(self, name))
            object.__setattr__(self, name, value)
            if name != "attributes_present":
                object.__setattr__(self, f"_{name}", None if value is None else frozenset(value))
        object.__setattr__(self, "attributes", _frozen_map(self.attributes))
        object.__setattr__(self, "_attributes", tuple((self.attributes or {}).items()))
        object.__setattr__(self, "_about_user", any(
            getattr(self, name) is not None
            for name in ("groups", "all_groups", "users", "attributes", "attributes_present")))

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in _WHEN_KEYS)

    def matches(self, subject: Subject) -> bool:
        if self._client_ids is not None and subject.client_id not in self._client_ids:
            return False
        if self._trigger_sources is not None and subject.trigger_source not in self._trigger_sources:
            return False
        if not self._about_user:
            return True
        if subject._machine:
            return False  # no user: user conditions never hold for client credentials
        if self._groups is not None and self._groups.isdisjoint(subject.groups):
            return False
        if self._all_groups is not None and not self._all_groups <= subject.groups:
            return False
        if self._users is not None and subject.username not in self._users and subject.sub not in self._users:
            return False
        attributes = subject.attributes
        for name, value in self._attributes:
            if attributes.get(name) != value:
                return False
        return not any(not attributes.get(name) for name in self.attributes_present or ())


@dataclass(frozen=True)
class TokenClaims:
    """Claims to add or override, and claims to suppress, in one token. ``None`` means the key is absent."""

    add_claims: Mapping[str, Any] | None = None
    suppress_claims: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "add_claims", _frozen_map(self.add_claims))
        object.__setattr__(self, "suppress_claims", _tuple(self.suppress_claims))

    @property
    def is_empty(self) -> bool:
        return not self.add_claims and not self.suppress_claims


@dataclass(frozen=True)
class GroupOverride:
    """Replaces the user's groups (``cognito:groups``), and optionally IAM roles, in both tokens."""

    groups: tuple[str, ...] = ()
    iam_roles: tuple[str, ...] = ()
    preferred_role: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "iam_roles", tuple(self.iam_roles))


@dataclass(frozen=True)
class Actions:
    """A rule's ``then``. ``None`` means the key is absent (kept so documents round-trip exactly)."""

    add_scopes: tuple[str, ...] | None = None
    suppress_scopes: tuple[str, ...] | None = None
    id_token: TokenClaims | None = None
    access_token: TokenClaims | None = None
    override_groups: GroupOverride | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "add_scopes", _tuple(self.add_scopes))
        object.__setattr__(self, "suppress_scopes", _tuple(self.suppress_scopes))

    @property
    def has_effect(self) -> bool:
        return bool(self.add_scopes or self.suppress_scopes or self.override_groups is not None
                    or (self.id_token is not None and not self.id_token.is_empty)
                    or (self.access_token is not None and not self.access_token.is_empty))


@dataclass(frozen=True)
class Rule:
    id: str
    then: Actions
    when: Conditions | None = None
    description: str | None = None

    def matches(self, subject: Subject) -> bool:
        return self.when is None or self.when.matches(subject)


_Index = dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class RuleSet:
    """A parsed rules document. Build it with :func:`parse_rules` (which validates) or directly in code."""

    rules: tuple[Rule, ...] = ()
    version: int = FORMAT_VERSION
    # Rules indexed by a condition that must hold for them to match, so evaluate() looks only at rules that
    # can match the subject (plus the rules with no indexable condition). Positions keep document order.
    _by_group: _Index = field(init=False, repr=False, compare=False, default_factory=dict)
    _by_user: _Index = field(init=False, repr=False, compare=False, default_factory=dict)
    _by_client: _Index = field(init=False, repr=False, compare=False, default_factory=dict)
    _by_trigger: _Index = field(init=False, repr=False, compare=False, default_factory=dict)
    _by_attribute: dict[tuple[str, str], tuple[int, ...]] = field(init=False, repr=False, compare=False,
                                                                  default_factory=dict)
    _by_present: _Index = field(init=False, repr=False, compare=False, default_factory=dict)
    _unindexed: tuple[int, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        indexes: dict[str, dict[Any, list[int]]] = {
            "group": {}, "user": {}, "client": {}, "trigger": {}, "attribute": {}, "present": {}}
        unindexed: list[int] = []
        for position, rule in enumerate(self.rules):
            kind, keys = _index_keys(rule.when)
            if kind is None:
                unindexed.append(position)
                continue
            for key in dict.fromkeys(keys):
                indexes[kind].setdefault(key, []).append(position)
        for kind, index in indexes.items():
            object.__setattr__(self, f"_by_{kind}", {k: tuple(v) for k, v in index.items()})
        object.__setattr__(self, "_unindexed", tuple(unindexed))

    def named_users(self) -> frozenset[str]:
        """Usernames and subs that ``when.users`` conditions name."""
        return frozenset(u for rule in self.rules if rule.when is not None for u in rule.when.users or ())

    def tested_attributes(self) -> frozenset[str]:
        """Attribute names that ``when.attributes`` / ``when.attributes_present`` conditions test."""
        names: set[str] = set()
        for rule in self.rules:
            if rule.when is not None:
                names.update((rule.when.attributes or {}).keys())
                names.update(rule.when.attributes_present or ())
        return frozenset(names)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def candidates(self, subject: Subject) -> list[Rule]:
        """The rules that may match ``subject``, in document order (a superset of those that do)."""
        found: set[int] = set()
        for group in subject.groups:
            found.update(self._by_group.get(group, ()))
        if subject.username is not None:
            found.update(self._by_user.get(subject.username, ()))
        if subject.sub is not None:
            found.update(self._by_user.get(subject.sub, ()))
        if subject.client_id is not None:
            found.update(self._by_client.get(subject.client_id, ()))
        if subject.trigger_source is not None:
            found.update(self._by_trigger.get(subject.trigger_source, ()))
        if self._by_attribute or self._by_present:
            for pair in subject.attributes.items():
                found.update(self._by_attribute.get(pair, ()))
                if pair[1]:
                    found.update(self._by_present.get(pair[0], ()))
        rules = self.rules
        if not found:
            return [rules[i] for i in self._unindexed]
        found.update(self._unindexed)
        return [rules[i] for i in sorted(found)]


def _index_keys(when: Conditions | None) -> tuple[str | None, tuple[Any, ...]]:
    """One condition that must hold for the rule to match, as (index kind, keys any of which may match).

    The most selective condition present is chosen; a rule with no condition is checked for every request.
    """
    if when is None:
        return None, ()
    if when.groups is not None:
        return "group", when.groups
    if when.users is not None:
        return "user", when.users
    if when.all_groups is not None:
        return "group", when.all_groups[:1]  # the user must be in every one, so in the first
    if when.attributes:
        return "attribute", tuple(when.attributes.items())[:1]  # every pair must match, so the first
    if when.client_ids is not None:
        return "client", when.client_ids
    if when.attributes_present:
        return "present", when.attributes_present[:1]
    if when.trigger_sources is not None:
        return "trigger", when.trigger_sources
    return None, ()


# --- evaluation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """Who a token is being issued to, as the pre token generation event describes them.

    ``username`` and ``sub`` are None for a client-credentials request (no user); ``groups`` are the groups
    the event lists (``request.groupConfiguration.groupsToOverride``).
    """

    groups: frozenset[str] = frozenset()
    username: str | None = None
    sub: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    client_id: str | None = None
    trigger_source: str | None = None
    _machine: bool = field(init=False, repr=False, compare=False, default=False)

    def __post_init__(self) -> None:
        if not isinstance(self.groups, frozenset):
            object.__setattr__(self, "groups", frozenset(self.groups))
        object.__setattr__(self, "_machine", self.trigger_source == CLIENT_CREDENTIALS)

    @property
    def is_machine(self) -> bool:
        """A client-credentials (machine-to-machine) request: there is no user."""
        return self._machine


@dataclass(frozen=True)
class Outcome:
    """What the matching rules ask of Cognito for one token request, conflicts already resolved.

    ``scopes_to_add`` never contains a suppressed scope and ``add_claims`` never a suppressed claim
    (suppression wins), so applying the adds and the suppressions in either order gives the same tokens.
    """

    matched_rule_ids: tuple[str, ...] = ()
    scopes_to_add: tuple[str, ...] = ()
    scopes_to_suppress: tuple[str, ...] = ()
    id_token: TokenClaims = field(default_factory=lambda: TokenClaims({}, ()))
    access_token: TokenClaims = field(default_factory=lambda: TokenClaims({}, ()))
    group_override: GroupOverride | None = None

    @property
    def has_effect(self) -> bool:
        return bool(self.scopes_to_add or self.scopes_to_suppress or self.group_override is not None
                    or not self.id_token.is_empty or not self.access_token.is_empty)

    def final_scopes(self, requested: Iterable[str]) -> tuple[str, ...]:
        """The access token's scopes, given the scopes Cognito would issue without the trigger."""
        suppressed = set(self.scopes_to_suppress)
        scopes = [s for s in dict.fromkeys(requested) if s not in suppressed]
        scopes.extend(s for s in self.scopes_to_add if s not in scopes)
        return tuple(scopes)

    def final_groups(self, groups: Iterable[str]) -> tuple[str, ...]:
        """The ``cognito:groups`` the tokens carry, given the user's groups."""
        return tuple(groups) if self.group_override is None else self.group_override.groups


def evaluate(ruleset: RuleSet, subject: Subject) -> Outcome:
    """Apply every matching rule, in document order, to one token request (see the module docstring)."""
    matched: list[str] = []
    scopes_add: dict[str, None] = {}
    scopes_suppress: dict[str, None] = {}
    id_add: dict[str, Any] = {}
    id_suppress: dict[str, None] = {}
    access_add: dict[str, Any] = {}
    access_suppress: dict[str, None] = {}
    override: GroupOverride | None = None
    for rule in ruleset.candidates(subject):
        if rule.when is not None and not rule.when.matches(subject):
            continue
        matched.append(rule.id)
        then = rule.then
        if then.add_scopes:
            scopes_add.update(dict.fromkeys(then.add_scopes))
        if then.suppress_scopes:
            scopes_suppress.update(dict.fromkeys(then.suppress_scopes))
        if then.id_token is not None:
            id_add.update(then.id_token.add_claims or {})
            id_suppress.update(dict.fromkeys(then.id_token.suppress_claims or ()))
        if then.access_token is not None:
            access_add.update(then.access_token.add_claims or {})
            access_suppress.update(dict.fromkeys(then.access_token.suppress_claims or ()))
        if then.override_groups is not None:
            override = then.override_groups
    if not matched:
        return _NOTHING
    return Outcome(
        matched_rule_ids=tuple(matched),
        scopes_to_add=tuple(s for s in scopes_add if s not in scopes_suppress),
        scopes_to_suppress=tuple(scopes_suppress),
        id_token=TokenClaims({k: v for k, v in id_add.items() if k not in id_suppress}, tuple(id_suppress)),
        access_token=TokenClaims({k: v for k, v in access_add.items() if k not in access_suppress},
                                 tuple(access_suppress)),
        group_override=override,
    )


_NOTHING = Outcome()


# --- parsing and validation ---------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _show(value: Any) -> str:
    """A value as JSON on one line, shortened: problems are one line each."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Problems:
    def __init__(self, *, avp_claims: bool = True) -> None:
        self.items: list[str] = []
        self.avp_claims = avp_claims

    def add(self, label: str, path: str, message: str) -> None:
        self.items.append(": ".join(part for part in (label, path, message) if part))

    def unknown_keys(self, label: str, path: str, value: Mapping[str, Any], allowed: Sequence[str]) -> None:
        for key in value:
            if key not in allowed:
                self.add(label, path, f"unknown key {_show(key)} (allowed: {', '.join(allowed)})")


def parse_rules(document: Any, *, where: str = "rules", avp_claims: bool = True) -> RuleSet:
    """Validate a rules document (parsed JSON) and build the :class:`RuleSet`.

    Raises :class:`RulesError` listing every problem, each naming the rule as ``<where>[<index>] '<id>'``.
    ``avp_claims=False`` accepts claims Verified Permissions refuses (:data:`AVP_REFUSED_CLAIMS`): only for
    reading a document that exists already, so that ``verify`` can name the users whose tokens AVP would refuse.
    """
    problems = _Problems(avp_claims=avp_claims)
    if not isinstance(document, Mapping):
        raise RulesError([f"the rules document must be a JSON object, got {_kind(document)}"])
    problems.unknown_keys("", "", document, _DOCUMENT_KEYS)
    if "version" not in document:
        problems.add("", "version", f"missing (this avp-migrate reads version {FORMAT_VERSION})")
    elif document["version"] != FORMAT_VERSION or isinstance(document["version"], bool):
        problems.add("", "version", f"unsupported version {_show(document['version'])} "
                                    f"(this avp-migrate reads version {FORMAT_VERSION})")
    rules: list[Rule] = []
    raw_rules = document.get("rules")
    if "rules" not in document:
        problems.add("", "rules", "missing (give a list of rules, possibly empty)")
    elif not isinstance(raw_rules, list):
        problems.add("", "rules", f"must be a list of rules, got {_kind(raw_rules)}")
    else:
        first_seen: dict[str, int] = {}
        for index, raw in enumerate(raw_rules):
            label = f"{where}[{index}]"
            rule_id = raw.get("id") if isinstance(raw, Mapping) else None
            if isinstance(rule_id, str) and _RULE_ID.fullmatch(rule_id):
                label += f" '{rule_id}'"
                if rule_id in first_seen:
                    problems.add(label, "id", f"duplicate id (also {where}[{first_seen[rule_id]}])")
                else:
                    first_seen[rule_id] = index
            rule = _parse_rule(raw, label, problems)
            if rule is not None:
                rules.append(rule)
    if problems.items:
        raise RulesError(problems.items)
    return RuleSet(tuple(rules), FORMAT_VERSION)


def _parse_rule(raw: Any, label: str, problems: _Problems) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.add(label, "", f"a rule must be an object, got {_kind(raw)}")
        return None
    before = len(problems.items)
    problems.unknown_keys(label, "", raw, _RULE_KEYS)
    rule_id = raw.get("id")
    if "id" not in raw:
        problems.add(label, "id", "missing")
    elif not isinstance(rule_id, str):
        problems.add(label, "id", f"must be a string, got {_kind(rule_id)}")
    elif not _RULE_ID.fullmatch(rule_id):
        problems.add(label, "id", f"must be 1-128 characters of A-Z a-z 0-9 _ . : - , got {_show(rule_id)}")
    description = raw.get("description")
    if "description" in raw and not isinstance(description, str):
        problems.add(label, "description", f"must be a string, got {_kind(description)}")
    when = _parse_when(raw["when"], label, problems) if "when" in raw else None
    then = None
    if "then" not in raw:
        problems.add(label, "then", "missing (a rule needs at least one action)")
    else:
        then = _parse_then(raw["then"], label, problems)
    if len(problems.items) > before or then is None:
        return None
    return Rule(id=rule_id, then=then, when=when, description=description)


def _string_list(value: Any, label: str, path: str, problems: _Problems, *, allow_empty: bool,
                 what: str = "string") -> tuple[str, ...] | None:
    if not isinstance(value, list):
        problems.add(label, path, f"must be a list of {what}s, got {_kind(value)}")
        return None
    ok = True
    if not value and not allow_empty:
        problems.add(label, path, "empty list (omit the condition instead)")
        ok = False
    for index, item in enumerate(value):
        if not isinstance(item, str):
            problems.add(label, f"{path}[{index}]", f"must be a {what}, got {_kind(item)}")
            ok = False
        elif not item:
            problems.add(label, f"{path}[{index}]", f"empty {what}")
            ok = False
    return tuple(value) if ok else None


def _parse_when(raw: Any, label: str, problems: _Problems) -> Conditions | None:
    if not isinstance(raw, Mapping):
        problems.add(label, "when",
                     f"must be an object (omit it for a rule that always applies), got {_kind(raw)}")
        return None
    problems.unknown_keys(label, "when", raw, _WHEN_KEYS)
    values: dict[str, Any] = {}
    for key in ("groups", "all_groups", "users", "attributes_present", "client_ids", "trigger_sources"):
        if key in raw:
            values[key] = _string_list(raw[key], label, f"when.{key}", problems, allow_empty=False)
    for index, source in enumerate(values.get("trigger_sources") or ()):
        if source not in TRIGGER_SOURCES:
            known = ", ".join(sorted(TRIGGER_SOURCES))
            problems.add(label, f"when.trigger_sources[{index}]",
                         f"unknown trigger source {_show(source)} (known: {known})")
    if "attributes" in raw:
        attributes = raw["attributes"]
        if not isinstance(attributes, Mapping):
            problems.add(label, "when.attributes", f"must be an object of attribute name to string, "
                                                   f"got {_kind(attributes)}")
        elif not attributes:
            problems.add(label, "when.attributes", "empty object (omit the condition instead)")
        else:
            for name, value in attributes.items():
                if not name:
                    problems.add(label, "when.attributes", "empty attribute name")
                elif not isinstance(value, str):
                    problems.add(label, f"when.attributes.{name}",
                                 "must be a string (attribute values are strings in the event, "
                                 f"e.g. \"true\"), got {_kind(value)}")
            values["attributes"] = dict(attributes)
    return Conditions(**values)


def _parse_then(raw: Any, label: str, problems: _Problems) -> Actions | None:
    if not isinstance(raw, Mapping):
        problems.add(label, "then", f"must be an object of actions, got {_kind(raw)}")
        return None
    before = len(problems.items)
    problems.unknown_keys(label, "then", raw, _THEN_KEYS)
    values: dict[str, Any] = {}
    for key in ("add_scopes", "suppress_scopes"):
        if key in raw:
            scopes = _string_list(raw[key], label, f"then.{key}", problems, allow_empty=True, what="scope")
            for index, scope in enumerate(scopes or ()):
                if " " in scope:
                    problems.add(label, f"then.{key}[{index}]", f"scope contains a space: {_show(scope)}")
                elif any(c.isspace() for c in scope):
                    problems.add(label, f"then.{key}[{index}]", f"scope contains whitespace: {_show(scope)}")
            values[key] = scopes
    both = set(values.get("add_scopes") or ()) & set(values.get("suppress_scopes") or ())
    for scope in sorted(both):
        problems.add(label, "then", f"scope {_show(scope)} is both added and suppressed by this rule")
    for key in ("id_token", "access_token"):
        if key in raw:
            values[key] = _parse_token(raw[key], label, f"then.{key}", problems, id_token=key == "id_token")
    if "override_groups" in raw:
        values["override_groups"] = _parse_override(raw["override_groups"], label, problems)
    if len(problems.items) > before:
        return None
    actions = Actions(**values)
    if not actions.has_effect:
        problems.add(label, "then", "no action with an effect (give at least one of: " + ", ".join(_THEN_KEYS)
                     + ")")
        return None
    return actions


def _claim_name_problem(name: str) -> str | None:
    if not name:
        return "empty claim name"
    if name == "scope":
        return "the scope claim cannot be changed as a claim: use add_scopes / suppress_scopes"
    if name in PROTECTED_CLAIMS:
        return f"claim {_show(name)} cannot be added, overridden or suppressed (Cognito forbids it)"
    if name.startswith(PROTECTED_CLAIM_PREFIXES):
        return (f"claim {_show(name)} cannot be changed: Cognito forbids changing cognito: claims "
                "(groups and roles change through override_groups)")
    return None


def _json_value_problem(value: Any) -> str | None:
    if value is None or isinstance(value, str | bool | int | float):
        return None
    if isinstance(value, list):
        return next((p for p in map(_json_value_problem, value) if p), None)
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) for k in value):
            return "object keys must be strings"
        return next((p for p in map(_json_value_problem, value.values()) if p), None)
    return f"not a JSON value: {type(value).__name__}"


def _parse_token(raw: Any, label: str, path: str, problems: _Problems, *,
                 id_token: bool) -> TokenClaims | None:
    if not isinstance(raw, Mapping):
        problems.add(label, path,
                     f"must be an object with add_claims and/or suppress_claims, got {_kind(raw)}")
        return None
    before = len(problems.items)
    problems.unknown_keys(label, path, raw, _TOKEN_KEYS)
    add = raw.get("add_claims")
    if "add_claims" in raw:
        if not isinstance(add, Mapping):
            problems.add(label, f"{path}.add_claims",
                         f"must be an object of claim name to value, got {_kind(add)}")
        else:
            for name, value in add.items():
                claim_path = f"{path}.add_claims.{name}"
                problem = _claim_name_problem(name)
                if problem:
                    problems.add(label, claim_path, problem)
                elif problems.avp_claims and name in AVP_REFUSED_CLAIMS:
                    problems.add(label, claim_path, f"claim {_show(name)}: Verified Permissions refuses tokens with "
                                                    "a plain cognito, custom or dev claim (it clashes with the "
                                                    "cognito:/custom: claims); choose another name")
                elif value is None:
                    problems.add(label, claim_path,
                                 "null value (to remove a claim, list it in suppress_claims)")
                elif (problem := _json_value_problem(value)) is not None:
                    problems.add(label, claim_path, problem)
                elif id_token and name in ID_TOKEN_SCALAR_CLAIMS and isinstance(value, list | Mapping):
                    problems.add(label, claim_path, "this ID-token claim takes a string, number or boolean, "
                                                    "not a list or object")
    suppress = None
    if "suppress_claims" in raw:
        suppress = _string_list(raw["suppress_claims"], label, f"{path}.suppress_claims", problems,
                                allow_empty=True, what="claim name")
        for index, name in enumerate(suppress or ()):
            problem = _claim_name_problem(name)
            if problem:
                problems.add(label, f"{path}.suppress_claims[{index}]", problem)
    if isinstance(add, Mapping) and suppress:
        for name in sorted(set(add) & set(suppress)):
            problems.add(label, path, f"claim {_show(name)} is both added and suppressed by this rule")
    if len(problems.items) > before:
        return None
    return TokenClaims(dict(add) if isinstance(add, Mapping) else None, suppress)


def _parse_override(raw: Any, label: str, problems: _Problems) -> GroupOverride | None:
    path = "then.override_groups"
    if not isinstance(raw, Mapping):
        problems.add(label, path, "must be an object with groups (and optionally iam_roles, "
                                  f"preferred_role), got {_kind(raw)}")
        return None
    before = len(problems.items)
    problems.unknown_keys(label, path, raw, _OVERRIDE_KEYS)
    groups: tuple[str, ...] | None = ()
    if "groups" not in raw:
        problems.add(label, f"{path}.groups", "missing (the override replaces the groups: list them, "
                                              "or give [] to remove them)")
    else:
        groups = _string_list(raw["groups"], label, f"{path}.groups", problems, allow_empty=True,
                              what="group")
    roles: tuple[str, ...] | None = ()
    if "iam_roles" in raw:
        roles = _string_list(raw["iam_roles"], label, f"{path}.iam_roles", problems, allow_empty=True,
                             what="role ARN")
    preferred = raw.get("preferred_role")
    if preferred is not None and (not isinstance(preferred, str) or not preferred):
        problems.add(label, f"{path}.preferred_role", f"must be a role ARN or null, got {_show(preferred)}")
    if len(problems.items) > before:
        return None
    return GroupOverride(groups or (), roles or (), preferred)


# --- serialisation and checks -------------------------------------------------------------------------------


def to_document(ruleset: RuleSet) -> dict[str, Any]:
    """The rules document for ``ruleset``: ``parse_rules(to_document(r)) == r``.

    For a document ``parse_rules`` accepted, ``to_document`` gives it back unchanged, except that
    ``override_groups`` always lists all three of its keys.
    """
    return {"version": ruleset.version, "rules": [_rule_document(rule) for rule in ruleset.rules]}


def _rule_document(rule: Rule) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule.id}
    if rule.description is not None:
        out["description"] = rule.description
    if rule.when is not None:
        when: dict[str, Any] = {}
        for key in _WHEN_KEYS:
            value = getattr(rule.when, key)
            if value is not None:
                when[key] = dict(value) if key == "attributes" else list(value)
        out["when"] = when
    then: dict[str, Any] = {}
    actions = rule.then
    for key in ("add_scopes", "suppress_scopes"):
        if getattr(actions, key) is not None:
            then[key] = list(getattr(actions, key))
    for key in ("id_token", "access_token"):
        token: TokenClaims | None = getattr(actions, key)
        if token is not None:
            part: dict[str, Any] = {}
            if token.add_claims is not None:
                part["add_claims"] = json.loads(json.dumps(dict(token.add_claims)))  # a deep, plain copy
            if token.suppress_claims is not None:
                part["suppress_claims"] = list(token.suppress_claims)
            then[key] = part
    if actions.override_groups is not None:
        override = actions.override_groups
        then["override_groups"] = {"groups": list(override.groups), "iam_roles": list(override.iam_roles),
                                   "preferred_role": override.preferred_role}
    out["then"] = then
    return out


def check_rules(ruleset: RuleSet, defined_scopes: Iterable[str]) -> list[str]:
    """Warnings about a valid rule set: scopes no resource server defines, rules that can never match."""
    defined = set(defined_scopes) | BUILTIN_SCOPES
    warnings: list[str] = []
    for index, rule in enumerate(ruleset.rules):
        label = f"rules[{index}] '{rule.id}'"
        for key in ("add_scopes", "suppress_scopes"):
            for position, scope in enumerate(getattr(rule.then, key) or ()):
                if scope not in defined:
                    warnings.append(f"{label}: then.{key}[{position}]: scope {_show(scope)} is not defined "
                                    "by any resource server of the user pool")
        when = rule.when
        machine_only = when is not None and set(when.trigger_sources or ()) == {CLIENT_CREDENTIALS}
        if machine_only and when._about_user:
            warnings.append(f"{label}: when: never matches: it has conditions about the user, and "
                            "client-credentials requests have no user")
        elif machine_only and (rule.then.id_token is not None or rule.then.override_groups is not None):
            warnings.append(f"{label}: then: id_token and override_groups have no effect on "
                            "client-credentials tokens (no ID token, no groups)")
    return warnings
