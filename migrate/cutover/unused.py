"""After finalize: which OAuth scopes, and which pre-token rules, no endpoint needs any more (pure: no AWS).

A scope is still needed when something still checks it:

* a method that is still authorized by a Cognito authorizer of the same user pool and lists the scope (this API's
  methods as they are after finalize, and every other API in the inventory snapshot);
* a Cedar policy of the plan that reads the access token's scopes (``context.token.scope.contains...``: the
  hosted-UI exposure policies), because the Lambda authorizer passes the token's scopes to Verified Permissions.

Every other custom scope of the pool (defined by its resource servers, added by a rule or allowed to an app
client) is no longer needed. A rule is no longer needed when all it does is add or suppress such scopes; a rule
that also changes claims or groups is to be trimmed, not removed (groups are what the Cedar policies test).

This is a list for a person to act on, not something finalize changes: other consumers of the tokens (backends
reading the ``scope`` claim, APIs not in the snapshot) are out of its sight, and once the scopes are gone a
rollback to scope or shadow mode would deny the callers that relied on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.inventory.model import Inventory
from pretoken_lambda.rules import BUILTIN_SCOPES, RulesError, parse_rules

_SCOPE_TEST = re.compile(r"context\.token\.scope\.contains(?:Any|All)?\(\s*(\[[^\]]*\]|\"[^\"]*\")\s*\)")
_QUOTED = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")
_POLICY_ID = re.compile(r"@id\(\"((?:[^\"\\]|\\.)*)\"\)")


@dataclass(frozen=True)
class ScopeUse:
    """A method still checking scopes after finalize."""

    api: str
    route: str
    user_pool_ids: tuple[str, ...]
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class RuleVerdict:
    rule_id: str
    verdict: str  # "remove" (it only adds/suppresses unused scopes) or "trim" (drop those scopes from it)
    scopes: tuple[str, ...]  # the unused scopes it adds or suppresses
    keeps: tuple[str, ...] = ()  # what else it does (trim only)


@dataclass
class Unused:
    pool_id: str
    scopes: list[str] = field(default_factory=list)
    clients: dict[str, list[str]] = field(default_factory=dict)  # unused scope -> app clients allowing it
    rules: list[RuleVerdict] = field(default_factory=list)
    needed: dict[str, list[str]] = field(default_factory=dict)  # scope -> why it is still needed
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"user_pool": self.pool_id, "scopes": self.scopes, "clients_allowing": self.clients,
                "rules": [{"rule": r.rule_id, "verdict": r.verdict, "scopes": list(r.scopes), "keeps": list(r.keeps)}
                          for r in self.rules],
                "still_needed": self.needed, "notes": self.notes}


def scopes_read_by_policies(plan_dir: Path) -> dict[str, list[str]]:
    """scope -> ids of the plan's policies that test it in ``context.token.scope``."""
    found: dict[str, list[str]] = {}
    for path in sorted((plan_dir / "policies").glob("*.cedar")):
        text = path.read_text(encoding="utf-8")
        policy_id = _POLICY_ID.search(text)
        label = policy_id.group(1) if policy_id else path.name
        for match in _SCOPE_TEST.finditer(text):
            for scope in _QUOTED.findall(match.group(1)):
                found.setdefault(scope, []).append(label)
    return found


def inventory_scope_uses(inventory: Inventory, *, skip_api: str) -> list[ScopeUse]:
    """Scope checks of every Cognito method of the snapshot's other APIs (``skip_api`` is read live instead)."""
    uses = []
    for api in inventory.apis:
        if api.id == skip_api:
            continue
        for method in api.methods:
            authorizer = api.authorizer(method.authorizer_id)
            if method.authorization_type == "COGNITO_USER_POOLS" and method.authorization_scopes and authorizer:
                uses.append(ScopeUse(f"{api.name} ({api.id})", method.route_key, tuple(authorizer.user_pool_ids),
                                     tuple(method.authorization_scopes)))
    return uses


def unused_after_finalize(inventory: Inventory, pool_id: str, *, uses: Iterable[ScopeUse],
                          policy_scopes: dict[str, list[str]]) -> Unused:
    result = Unused(pool_id=pool_id)
    pool = inventory.user_pool(pool_id)
    if pool is None:
        result.notes.append(f"user pool {pool_id} is not in the inventory snapshot: nothing to list")
        return result
    needed: dict[str, list[str]] = {}
    for use in uses:
        if pool_id in use.user_pool_ids:
            for scope in use.scopes:
                needed.setdefault(scope, []).append(f"{use.route} of {use.api} (Cognito authorizer)")
    for scope, policies in policy_scopes.items():
        needed.setdefault(scope, []).extend(f"policy {p!r} reads context.token.scope" for p in policies)
    ruleset = None
    if pool.pretoken_rules is not None:
        try:
            ruleset = parse_rules(pool.pretoken_rules.document, where=pool.pretoken_rules.source)
        except RulesError as exc:
            result.notes.append(f"the pre-token rules ({pool.pretoken_rules.source}) do not parse, so no rule is "
                                f"listed: {exc}")
    candidates = set(pool.defined_scopes)
    for client in pool.clients:
        candidates.update(client.allowed_oauth_scopes)
    for rule in ruleset.rules if ruleset else ():
        candidates.update(rule.then.add_scopes or ())
        candidates.update(rule.then.suppress_scopes or ())
    candidates -= BUILTIN_SCOPES
    result.needed = {scope: needed[scope] for scope in sorted(needed) if scope in candidates}
    unused = sorted(candidates - set(needed))
    result.scopes = unused
    for scope in unused:
        allowing = sorted(c.name or c.client_id for c in pool.clients if scope in c.allowed_oauth_scopes)
        if allowing:
            result.clients[scope] = allowing
    unused_set = set(unused)
    for rule in ruleset.rules if ruleset else ():
        then = rule.then
        scope_effects = [*(then.add_scopes or ()), *(then.suppress_scopes or ())]
        gone = tuple(dict.fromkeys(s for s in scope_effects if s in unused_set))
        if not gone:
            continue
        keeps = [f"scope {s}" for s in dict.fromkeys(scope_effects) if s not in unused_set]
        if then.id_token is not None and not then.id_token.is_empty:
            keeps.append("ID-token claims")
        if then.access_token is not None and not then.access_token.is_empty:
            keeps.append("access-token claims")
        if then.override_groups is not None:
            keeps.append("group override")
        result.rules.append(RuleVerdict(rule.id, "trim" if keeps else "remove", gone, tuple(keeps)))
    for client in pool.clients:
        if client.is_client_credentials and client.allowed_oauth_scopes and set(client.allowed_oauth_scopes) <= (
                unused_set | BUILTIN_SCOPES):
            result.notes.append(f"app client {client.name or client.client_id} uses client credentials: it needs at "
                                "least one custom scope to obtain a token, so keep one of its scopes")
    if unused:
        result.notes.append("once these scopes are gone, a rollback to scope or shadow mode denies the callers that "
                            "relied on them; other consumers of the tokens (backends reading the scope claim, APIs "
                            "not in the snapshot) are not visible here")
    return result
