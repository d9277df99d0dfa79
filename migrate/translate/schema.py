"""The Cedar schema, in the shape the AVP console's "Set up with API Gateway and an identity source" generates.

The console writes (AVP user guide, "Moving to production with AWS CloudFormation"): a namespace named after
the API; entity types ``User`` (member of ``UserGroup``), ``UserGroup`` and ``Application``; one action per
method with id ``<lower-case verb> <path template>``, applying to principal ``User`` and resource
``Application`` with an empty context. A store made by avp-migrate looks the same, plus only what its policies
need:

* one action group per OAuth scope (``MyApi::Action::"MyApi/pets.read"``), of which every action whose method
  accepts that scope is a member (default layout; the console layout needs none);
* ``context.token`` (``client_id``, ``scope``) when a policy reads the access token's claims;
* ``Client`` as a principal type, on the actions a client-credentials client can call.
"""

from __future__ import annotations

import json
from typing import Any

from migrate.translate.layouts import INVOKE_GROUP
from migrate.translate.model import RoutePlan

EMPTY_RECORD: dict[str, Any] = {"type": "Record", "attributes": {}}
# Declared once as a common type and referenced by name from every access-token action: 500 routes would
# otherwise repeat it 500 times against the 100,000-byte schema quota.
TOKEN_CONTEXT_TYPE = "AccessTokenContext"
TOKEN_CONTEXT: dict[str, Any] = {"type": "Record", "attributes": {"token": {
    "type": "Record", "required": False, "attributes": {
        "client_id": {"type": "String", "required": False},
        "scope": {"type": "Set", "element": {"type": "String"}, "required": False},
    }}}}


def build_schema(namespace: str, routes: list[RoutePlan], *, scope_groups: set[str], token_context: bool,
                 client_actions: set[str]) -> dict[str, Any]:
    """``scope_groups``: scopes to declare as action groups; ``client_actions``: actions Client may be asked
    about (every access-token action when the pool has a client-credentials client)."""
    entity_types: dict[str, Any] = {
        "Application": {"shape": dict(EMPTY_RECORD)},
        "User": {"memberOfTypes": ["UserGroup"], "shape": dict(EMPTY_RECORD)},
        "UserGroup": {"shape": dict(EMPTY_RECORD)},
    }
    if client_actions:
        entity_types["Client"] = {"shape": dict(EMPTY_RECORD)}
    actions: dict[str, Any] = {}
    for route in routes:
        if not route.migrated:
            continue
        for action_id in route.actions.values():
            principal_types = ["User", "Client"] if action_id in client_actions else ["User"]
            reads_token = token_context and route.token_use == "access"
            declaration: dict[str, Any] = {"appliesTo": {
                "context": {"type": TOKEN_CONTEXT_TYPE} if reads_token else dict(EMPTY_RECORD),
                "principalTypes": principal_types, "resourceTypes": ["Application"]}}
            groups = sorted(s for s in route.scopes if s in scope_groups)
            if groups:
                declaration["memberOf"] = [{"id": g} for g in groups]
            actions[action_id] = declaration
    for scope in sorted(scope_groups):
        actions[scope] = {}
    return _schema(namespace, entity_types, actions, token_context=token_context)


def _schema(namespace: str, entity_types: dict[str, Any], actions: dict[str, Any], *, token_context: bool
            ) -> dict[str, Any]:
    fragment: dict[str, Any] = {}
    if token_context:
        fragment["commonTypes"] = {TOKEN_CONTEXT_TYPE: TOKEN_CONTEXT}
    fragment["entityTypes"] = dict(sorted(entity_types.items()))
    fragment["actions"] = dict(sorted(actions.items()))
    return {namespace: fragment}


def schema_json(schema: dict[str, Any], *, compact: bool = False) -> str:
    if compact:
        return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def build_routes_schema(namespace: str, routes: list[RoutePlan], *, token_context: bool,
                        has_machines: bool) -> dict[str, Any]:
    """The routes layout (:mod:`migrate.translate.layouts`): the route is the resource, member of its scopes (or
    of the ID-token route group); one action per request verb, each a member of ``invoke``. Its size does not
    depend on the number of methods."""
    migrated = [r for r in routes if r.migrated]
    parent_types = sorted({t.split("::")[-1] for r in migrated for t, _ in r.parents})
    entity_types: dict[str, Any] = {
        "Route": {"memberOfTypes": parent_types, "shape": dict(EMPTY_RECORD)},
        "User": {"memberOfTypes": ["UserGroup"], "shape": dict(EMPTY_RECORD)},
        "UserGroup": {"shape": dict(EMPTY_RECORD)},
        **{name: {"shape": dict(EMPTY_RECORD)} for name in parent_types},
    }
    if has_machines:
        entity_types["Client"] = {"shape": dict(EMPTY_RECORD)}
    verbs = sorted({action for r in migrated for action in r.actions.values()})
    actions: dict[str, Any] = {INVOKE_GROUP: {}}
    for verb in verbs:
        actions[verb] = {"appliesTo": {
            "context": {"type": TOKEN_CONTEXT_TYPE} if token_context else dict(EMPTY_RECORD),
            "principalTypes": ["User", "Client"] if has_machines else ["User"],
            "resourceTypes": ["Route"]}, "memberOf": [{"id": INVOKE_GROUP}]}
    return _schema(namespace, entity_types, actions, token_context=token_context)
