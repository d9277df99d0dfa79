"""Grants to Cedar policy text, in one of two layouts, within AVP's size quotas.

* ``scopes`` (default): one policy per grant, its actions the scope action groups
  (``action in [MyApi::Action::"MyApi/pets.read"]``): small policies that read like the pre-token rules they
  come from, and a schema change (a new method) needs no policy change.
* ``groups``: the console's layout, one policy per principal listing its actions
  (``action in [MyApi::Action::"get /pets", ...]``).

Every policy carries annotations naming where it came from: ``@id`` (unique, also the file name),
``@rule`` (the pre-token rule), ``@scopes``, ``@kind``. Annotations never change evaluation.

Quotas (AVP user guide, "Quotas"): a policy statement is at most 10,000 bytes; policies whose scope names no
resource share one 200,000-byte bucket (all of ours: ``resource`` is left open, as the console writes it); a
schema is at most 100,000 bytes. A statement over the quota is split by its action list, each part measured on
its final text (Cedar-formatted, annotations included: the bytes written to ``policies/*.cedar`` and sent as the
CloudFormation ``Statement``), and each part's ``@scopes`` names only the scopes of its own actions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import cedarpy

from migrate.cedar_text import annotation, entity, string_literal
from migrate.translate.layouts import ID_TOKEN_GROUP, INVOKE_GROUP
from migrate.translate.model import CedarPolicy, Grant, PrincipalRef, RoutePlan

POLICY_MAX_BYTES = 10_000
NO_RESOURCE_BUCKET_BYTES = 200_000
SCHEMA_MAX_BYTES = 100_000
DESCRIPTION_MAX = 150  # AVP StaticPolicyDefinition.description (botocore model)


@dataclass(frozen=True)
class Names:
    namespace: str
    pool_id: str

    def user(self, sub: str) -> str:
        return entity(f"{self.namespace}::User", f"{self.pool_id}|{sub}")

    def group(self, name: str) -> str:
        return entity(f"{self.namespace}::UserGroup", f"{self.pool_id}|{name}")

    def client(self, client_id: str) -> str:
        return entity(f"{self.namespace}::Client", client_id)

    def action(self, action_id: str) -> str:
        return entity(f"{self.namespace}::Action", action_id)


def _principal(grant: Grant, names: Names) -> str:
    ref = grant.principal
    if ref.kind == "group":
        return f"principal in {names.group(ref.value)}"
    if ref.kind == "user":
        return f"principal == {names.user(ref.value)}"
    if ref.kind == "client":
        return f"principal == {names.client(ref.value)}"
    return f"principal is {names.namespace}::User"


def _conditions(grant: Grant, names: Names) -> tuple[list[str], list[str]]:
    when = [f"principal in {names.group(g)}" for g in grant.also_in_groups]
    if grant.client_ids or grant.require_scope_in_token:
        token = ["context has token"]
        if grant.client_ids:
            listed = ", ".join(string_literal(c) for c in grant.client_ids)
            token += ["context.token has client_id", f"[{listed}].contains(context.token.client_id)"]
        if grant.require_scope_in_token:
            listed = ", ".join(string_literal(s) for s in grant.scopes)
            token += ["context.token has scope", f"context.token.scope.containsAny([{listed}])"]
        when.append(" && ".join(token))
    unless = [f"principal in {names.group(g)}" for g in grant.unless_groups]
    unless += [f"principal == {names.user(u)}" for u in grant.unless_users]
    return when, unless


def _statement(annotations: list[tuple[str, str]], principal: str, action: str, when: list[str],
               unless: list[str], resource: str = "resource") -> str:
    """``action``, ``resource``: the scope's constraints as written (``action in [...]``, ``resource in ...``)."""
    head = "\n".join(annotation(k, v) for k, v in annotations if v)
    body = f"permit (\n  {principal},\n  {action},\n  {resource}\n)"
    if when:
        body += " when { " + " && ".join(f"({c})" if " || " in c else c for c in when) + " }"
    if unless:
        body += " unless { " + " || ".join(unless) + " }"
    return f"{head}\n{body};"


def _who(ref: PrincipalRef) -> str:
    return {"group": f"group {ref.label}", "user": f"user {ref.label}", "client": f"client {ref.label or ref.value}",
            "any-user": "any user"}[ref.kind]


def _grant_label(grant: Grant) -> str:
    who = _who(grant.principal)
    if grant.kind == "pretoken-rule":
        return f"rule {grant.rule_id}: {who}"
    if grant.kind == "hosted-ui-exposure":
        return f"{grant.note}: {grant.scopes[0]}"
    if grant.kind == "machine-to-machine":
        return f"machine: {who}: {grant.scopes[0]}" if grant.require_scope_in_token else f"machine: {who}"
    return "ID-token routes: any user"


def _unique(label: str, used: set[str]) -> str:
    candidate = _unique_preview(label, used)
    used.add(candidate)
    return candidate


def _unique_preview(label: str, used: set[str]) -> str:
    candidate, n = label, 2
    while candidate in used:
        candidate, n = f"{label} #{n}", n + 1
    return candidate


def render(grants: list[Grant], routes: list[RoutePlan], names: Names, *, layout: str) -> list[CedarPolicy]:
    """Cedar policies for ``grants``; a statement over 10,000 bytes is split by its action list, measured on the
    final formatted text, annotations included (see :func:`_split`)."""
    scope_actions: dict[str, list[str]] = {}
    for route in routes:
        if route.migrated:
            for scope in route.scopes:
                scope_actions.setdefault(scope, []).extend(route.actions.values())
    used: set[str] = set()
    policies: list[CedarPolicy] = []
    items = _merged_by_principal(grants) if layout == "groups" else [(g, [g]) for g in grants]
    for head, members in items:
        # Each action with the scopes it stands for: a part's @scopes names only the scopes of its own actions.
        if layout == "groups":
            action_scopes: dict[str, set[str]] = {}
            for grant in members:
                for scope in grant.scopes:
                    for action in scope_actions.get(scope, []):
                        action_scopes.setdefault(action, set()).add(scope)
                for action in grant.actions:
                    action_scopes.setdefault(action, set())
            entries = [(a, tuple(sorted(action_scopes[a]))) for a in sorted(action_scopes)]
        else:
            entries = [(s, (s,)) for s in head.scopes] + [(a, ()) for a in head.actions]
        if not entries:
            continue
        rules = " ".join(sorted({g.rule_id for g in members if g.rule_id}))
        label = _grant_label(head) if layout == "scopes" else _merged_label(head)
        when, unless = _conditions(head, names)
        principal = _principal(head, names)

        def text_of(policy_id: str, part: list[tuple[str, tuple[str, ...]]], head: Grant = head, rules: str = rules,
                    principal: str = principal, when: list[str] = when, unless: list[str] = unless) -> str:
            scopes = " ".join(sorted({s for _, of in part for s in of}))
            return format_policy(_statement([("id", policy_id), ("kind", head.kind), ("rule", rules),
                                             ("scopes", scopes), ("note", head.note)],
                                            principal, f"action in [{', '.join(names.action(a) for a, _ in part)}]",
                                            when, unless))

        for policy_id, part, text in _split(entries, label, used, text_of):
            policies.append(CedarPolicy(policy_id=policy_id, text=text, kind=head.kind, rule_id=rules,
                                        scopes=tuple(sorted({s for _, of in part for s in of})),
                                        description=policy_id[:DESCRIPTION_MAX]))
    return policies


Entry = tuple[str, tuple[str, ...]]  # an action id and the scopes it stands for


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _split(entries: list[Entry], label: str, used: set[str], text_of: Callable[[str, list[Entry]], str]
           ) -> list[tuple[str, list[Entry], str]]:
    """``(policy id, entries, final text)`` per statement, each final text (annotations and formatting included,
    exactly as written to the policy file and sent to AVP) at most POLICY_MAX_BYTES.

    Parts are cut greedily, each the longest prefix of the remaining actions whose text fits (found by
    doubling then bisection: a text only grows with its actions). A part id carries a ``(part N)`` suffix; the
    cut is measured with the widest such suffix, then the final text is measured again with the real id, and the
    cut is redone with a smaller budget in the rare case it does not fit. A single action whose statement alone
    is over the quota stays one statement; the quota check then fails naming it.
    """
    whole = _unique_preview(label, used)
    text = text_of(whole, entries)
    if _size(text) <= POLICY_MAX_BYTES:
        used.add(whole)
        return [(whole, entries, text)]
    budget = POLICY_MAX_BYTES
    while True:
        probe = f"{label} (part {len(entries)}) #{len(used) + 2}"  # at least as wide as any id given below
        parts: list[list[Entry]] = []
        rest = entries
        while rest:
            count = _longest_fit(rest, lambda n, rest=rest, probe=probe, budget=budget:
                                 _size(text_of(probe, rest[:n])) <= budget)
            parts.append(rest[:count])
            rest = rest[count:]
        taken = set(used)
        out = []
        for index, part in enumerate(parts, start=1):
            policy_id = _unique(f"{label} (part {index})", taken)
            out.append((policy_id, part, text_of(policy_id, part)))
        over = max(_size(t) for _, part, t in out if len(part) > 1) if any(len(p) > 1 for p in parts) else 0
        if over <= POLICY_MAX_BYTES:
            used.update(taken)
            return out
        budget -= over - POLICY_MAX_BYTES


def _longest_fit(entries: list[Entry], fits: Callable[[int], bool]) -> int:
    """The largest n (at least 1) with ``fits(n)``, assuming fits is monotonic (true up to some n)."""
    if fits(len(entries)):
        return len(entries)
    low, high = 1, 2  # fits(low) is assumed (or low is 1: one action per statement at least)
    while high < len(entries) and fits(high):
        low, high = high, high * 2
    high = min(high, len(entries))  # fits(high) is false
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def render_routes(grants: list[Grant], names: Names) -> list[CedarPolicy]:
    """The routes layout (:mod:`migrate.translate.layouts`): one statement per grant and scope, its resource
    scope the scope's entity (``resource in MyApi::Scope::"..."``), its action the ``invoke`` group; the ID-token
    grant names the ID-token route group. A statement whose conditions read the token's scopes tests only its own
    scope (a token holding one scope must not reach the routes of another)."""
    used: set[str] = set()
    policies: list[CedarPolicy] = []
    invoke = names.action(INVOKE_GROUP)
    for grant in grants:
        if grant.kind == "id-token":
            targets = [(entity(f"{names.namespace}::RouteGroup", ID_TOKEN_GROUP), grant, ())]
        else:
            targets = [(entity(f"{names.namespace}::Scope", scope), replace(grant, scopes=(scope,)), (scope,))
                       for scope in grant.scopes]
        rules = grant.rule_id
        for resource, part, scopes in targets:
            label = _grant_label(part)
            if scopes and not label.endswith(f": {scopes[0]}"):
                label = f"{label}: {scopes[0]}"
            policy_id = _unique(label, used)
            when, unless = _conditions(part, names)
            text = _statement([("id", policy_id), ("kind", grant.kind), ("rule", rules),
                               ("scopes", " ".join(scopes)), ("note", grant.note)],
                              _principal(grant, names), f"action in {invoke}", when, unless,
                              resource=f"resource in {resource}")
            policies.append(CedarPolicy(policy_id=policy_id, text=format_policy(text), kind=grant.kind,
                                        rule_id=rules, scopes=scopes, description=policy_id[:DESCRIPTION_MAX],
                                        resource=resource))
    return policies


def _merged_by_principal(grants: list[Grant]) -> list[tuple[Grant, list[Grant]]]:
    """The console layout: grants with the same principal and conditions become one policy."""
    merged: dict[tuple, list[Grant]] = {}
    for grant in grants:
        key = (grant.principal, grant.also_in_groups, grant.client_ids, grant.require_scope_in_token,
               grant.unless_groups, grant.unless_users, grant.kind if grant.require_scope_in_token else "",
               grant.scopes if grant.require_scope_in_token else ())
        merged.setdefault(key, []).append(grant)
    return [(members[0], members) for members in merged.values()]


def _merged_label(head: Grant) -> str:
    extra = ""
    if head.also_in_groups:
        extra += f" and {' and '.join(head.also_in_groups)}"
    if head.client_ids:
        extra += f" via {' '.join(head.client_ids)}"
    if head.unless_groups or head.unless_users:
        extra += " (with exceptions)"
    return f"{_who(head.principal)}{extra}"


def format_policy(text: str) -> str:
    """Cedar's own formatter (``cedar format``), so that files diff cleanly and `format --check` passes."""
    return cedarpy.format_policies(text).strip() + "\n"


def policy_set_text(policies: Iterable[CedarPolicy]) -> str:
    return "\n".join(p.text for p in policies)


def validate(policies: list[CedarPolicy], schema_text: str) -> list[str]:
    """Strict validation with cedarpy; one line per error, naming the policy by its @id."""
    if not policies:
        return []
    result = cedarpy.validate_policies(policy_set_text(policies), schema_text)
    if result.validation_passed:
        return []
    ids = result.id_annotations_by_policy_id if hasattr(result, "id_annotations_by_policy_id") else {}
    return [f"{ids.get(e.policy_id, e.policy_id)}: {e.error}" for e in result.errors]


_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def file_name(index: int, policy_id: str) -> str:
    slug = _FILE_CHARS.sub("-", policy_id).strip("-").lower()[:80] or "policy"
    return f"{index:03d}-{slug}.cedar"
