"""From API shapes and token claims to the Cedar JSON cedarpy evaluates.

Two jobs:

1. Request shapes -> Cedar JSON. ``AttributeValue`` is a union (boolean, entityIdentifier, long, string, set,
   record, ipaddr, decimal, datetime, duration; botocore model); ``EntitiesDefinition`` and
   ``ContextDefinition`` come either as lists/maps of those or as ``cedarJson`` text.
2. Tokens -> entities, as AVP builds them for a Cognito identity source:

   * principal ``<principalEntityType>::"<userPoolId>|<sub>"``, the same for ID and access tokens ("Any
     combination of identity and access tokens results in the same Cedar principal": botocore model,
     CreateIdentitySource; "<userpool-id>|<sub>": AVP user guide, identity-sources-cognito);
   * ``cognito:groups`` -> parents ``<groupEntityType>::"<userPoolId>|<group>"``, and those group entities
     exist ("Verified Permissions maps the contents of this claim to parent entities of the user entity": AVP
     user guide, cognito-map-token-to-schema);
   * ID-token claims -> principal attributes; access-token claims other than the groups claim ->
     ``context.token`` with ``scope`` as a Set of strings ("In access token authorization, Verified
     Permissions maps claims to context. In ID token authorization, Verified Permissions maps claims to
     principal attributes": same page). An access token alone gives the principal no attributes;
   * ``cognito:`` / ``custom:`` claims are reachable both with brackets (``principal["cognito:username"]``)
     and with the older dot notation (``principal.cognito.username``), which is why a token that also carries
     a literal ``cognito`` or ``custom`` claim fails with a ValidationException (same page, "Alternative
     notation" and identity-sources-cognito, Note).

   When the request is evaluated against the store's schema, only the claims the schema declares for the
   principal type (or under ``token`` in the action's context) are included, converted to the declared types.
   That is why a console-generated schema with no attributes and an empty context works with any token ("When
   you create an identity source in the Verified Permissions console, no attributes are marked as required.
   This prevents missing claims from causing validation errors in authorization requests": same page). The
   exact filtering rule is UNCONFIRMED beyond that statement; declared-and-present is the careful reading.
   Claim typing without a schema (strings, integers, booleans, arrays as sets, objects as records; floats and
   nulls dropped because Cedar has no such values) is UNCONFIRMED.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from migrate.embedded.avp.errors import validation_error
from migrate.embedded.avp.schema import (
    ANY,
    AnyType,
    CedarType,
    EntityRef,
    Extension,
    Prim,
    Record,
    SetOf,
    StoreSchema,
)
from migrate.embedded.avp.store import IdentitySourceRecord

_EXTENSION_FUNCTIONS = {"ipaddr": "ip", "decimal": "decimal", "datetime": "datetime", "duration": "duration"}
_CEDAR_LONG_MIN, _CEDAR_LONG_MAX = -(2**63), 2**63 - 1
GROUPS_CLAIM = "cognito:groups"
PREFIXED_CLAIM_ROOTS = ("cognito", "custom")


class _Missing:
    """A claim that cannot be (or must not be) represented in Cedar."""


MISSING = _Missing()


# --- request shapes -> Cedar JSON ---------------------------------------------------------------------------


def uid(identifier: dict[str, str]) -> dict[str, str]:
    return {"type": identifier["entityType"], "id": identifier["entityId"]}


def action_uid(action: dict[str, str]) -> dict[str, str]:
    return {"type": action["actionType"], "id": action["actionId"]}


def attribute_value(value: dict[str, Any], path: str) -> Any:
    """One ``AttributeValue`` union member -> its Cedar JSON value."""
    if len(value) != 1:
        raise validation_error(f"{path} must set exactly one attribute type.", path=path)
    (kind, inner), = value.items()
    if kind in ("boolean", "long", "string"):
        return inner
    if kind == "entityIdentifier":
        return {"__entity": uid(inner)}
    if kind == "set":
        return [attribute_value(item, f"{path}.set.{i + 1}") for i, item in enumerate(inner)]
    if kind == "record":
        return {key: attribute_value(item, f"{path}.record.{key}") for key, item in inner.items()}
    if kind in _EXTENSION_FUNCTIONS:
        return {"__extn": {"fn": _EXTENSION_FUNCTIONS[kind], "arg": inner}}
    raise validation_error(f"{path} has an unknown attribute type {kind!r}.", path=path)


def context_from(definition: dict[str, Any] | None, path: str = "context") -> dict[str, Any]:
    if not definition:
        return {}
    if "cedarJson" in definition:
        try:
            context = json.loads(definition["cedarJson"])
        except json.JSONDecodeError as exc:
            raise validation_error(f"{path}.cedarJson is not valid JSON: {exc.msg}",
                                   path=f"{path}.cedarJson") from None
        if not isinstance(context, dict):
            raise validation_error(f"{path}.cedarJson must be a JSON object.", path=f"{path}.cedarJson")
        return context
    return {key: attribute_value(value, f"{path}.contextMap.{key}")
            for key, value in (definition.get("contextMap") or {}).items()}


def entities_from(definition: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The caller's entities as Cedar JSON; for a repeated identifier only the last is kept (botocore model,
    EntitiesDefinition.entityList: "only the last one is processed")."""
    if not definition:
        return []
    if "cedarJson" in definition:
        try:
            entities = json.loads(definition["cedarJson"])
        except json.JSONDecodeError as exc:
            raise validation_error(f"entities.cedarJson is not valid JSON: {exc.msg}",
                                   path="entities.cedarJson") from None
        if not isinstance(entities, list) or not all(isinstance(e, dict) and isinstance(e.get("uid"), dict)
                                                     for e in entities):
            raise validation_error("entities.cedarJson must be a JSON array of entities with a uid.",
                                   path="entities.cedarJson")
    else:
        entities = [_entity_item(item, i) for i, item in enumerate(definition.get("entityList") or [])]
    return _last_wins(entities)


def _entity_item(item: dict[str, Any], index: int) -> dict[str, Any]:
    path = f"entities.entityList.{index + 1}"
    entity: dict[str, Any] = {
        "uid": uid(item["identifier"]),
        "attrs": {key: attribute_value(value, f"{path}.attributes.{key}")
                  for key, value in (item.get("attributes") or {}).items()},
        "parents": [uid(parent) for parent in item.get("parents") or []],
    }
    if item.get("tags"):
        entity["tags"] = {key: attribute_value(value, f"{path}.tags.{key}")
                          for key, value in item["tags"].items()}
    return entity


def _last_wins(entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    by_uid: dict[tuple[Any, Any], dict[str, Any]] = {}
    for entity in entities:
        key = (entity["uid"].get("type"), entity["uid"].get("id"))
        by_uid.pop(key, None)
        by_uid[key] = entity
    return list(by_uid.values())


def merge_entities(*groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Concatenate entity lists; a later entity with the same uid replaces an earlier one."""
    return _last_wins(entity for group in groups for entity in group)


def entity_types(entities: Iterable[dict[str, Any]]) -> set[str]:
    return {str(entity["uid"].get("type")) for entity in entities}


# --- claims -> Cedar values ---------------------------------------------------------------------------------


def natural_value(value: Any) -> Any:
    """A claim as Cedar JSON by its JSON type (no schema to say otherwise)."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if _CEDAR_LONG_MIN <= value <= _CEDAR_LONG_MAX else MISSING
    if isinstance(value, list):
        items = [natural_value(item) for item in value]
        return MISSING if any(item is MISSING for item in items) else items
    if isinstance(value, dict):
        if "__entity" in value or "__extn" in value:  # would be read as an entity or extension literal
            return MISSING
        record = {key: natural_value(item) for key, item in value.items()}
        return {key: item for key, item in record.items() if item is not MISSING}
    return MISSING  # floats, null


def conform(value: Any, cedar_type: CedarType) -> Any:
    """A claim converted to a declared type, or MISSING when it cannot be.

    Cognito writes every user attribute as a string in tokens (``"email_verified": "true"``,
    ``"custom:level": "3"``), so strings are read as the declared Boolean or Long; ``scope`` is a
    space-separated string declared as a Set of strings. These conversions are UNCONFIRMED in AVP's
    documentation beyond ``scope``; without them a schema declaring the natural types could not be met.
    """
    if isinstance(cedar_type, AnyType):
        return natural_value(value)
    if isinstance(cedar_type, Prim):
        return _conform_primitive(value, cedar_type.kind)
    if isinstance(cedar_type, SetOf):
        items = value.split() if isinstance(value, str) else value
        if not isinstance(items, list):
            return MISSING
        converted = [conform(item, cedar_type.element) for item in items]
        return MISSING if any(item is MISSING for item in converted) else converted
    if isinstance(cedar_type, Record):
        return _conform_record(value, cedar_type) if isinstance(value, dict) else MISSING
    if isinstance(cedar_type, EntityRef):
        return MISSING  # a token claim never names an entity
    if isinstance(cedar_type, Extension):
        fn = _EXTENSION_FUNCTIONS.get(cedar_type.name, cedar_type.name)
        return {"__extn": {"fn": fn, "arg": value}} if isinstance(value, str) else MISSING
    return MISSING


def _conform_primitive(value: Any, kind: str) -> Any:
    if kind == "String":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else str(value) if isinstance(value, int) else MISSING
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return MISSING
    if kind == "Long":
        if isinstance(value, bool):
            return MISSING
        if isinstance(value, str):
            try:
                value = int(value, 10)
            except ValueError:
                return MISSING
        return value if isinstance(value, int) and _CEDAR_LONG_MIN <= value <= _CEDAR_LONG_MAX else MISSING
    return MISSING


def _conform_record(values: dict[str, Any], record: Record) -> Any:
    out = {}
    for name, attribute in record.attributes.items():
        if name in values:
            converted = conform(values[name], attribute.type)
            if converted is not MISSING:
                out[name] = converted
    if record.open:
        for name, value in values.items():
            if name not in record.attributes:
                converted = natural_value(value)
                if converted is not MISSING:
                    out[name] = converted
    return out


# --- tokens -> principal, groups, context.token -------------------------------------------------------------


def _claims_with_dot_notation(claims: dict[str, Any]) -> dict[str, Any]:
    """Bracket names as they are, plus ``cognito``/``custom`` records for the dot notation."""
    out = dict(claims)
    for root in PREFIXED_CLAIM_ROOTS:
        prefix = f"{root}:"
        nested = {name[len(prefix):]: value for name, value in claims.items() if name.startswith(prefix)}
        if nested:
            if root in claims:
                raise validation_error(f"The token has both a {root!r} claim and {prefix}-prefixed claims, "
                                       "which Verified Permissions cannot map to distinct attributes.")
            out[root] = nested
    return out


def _attributes(claims: dict[str, Any], shape: Record | None, *, dot_notation: bool) -> dict[str, Any]:
    """Claims as entity/record attributes: all of them by JSON type, or exactly what ``shape`` declares."""
    candidates = _claims_with_dot_notation(claims) if dot_notation else claims
    if shape is None:
        values = {name: natural_value(value) for name, value in candidates.items()}
        return {name: value for name, value in values.items() if value is not MISSING}
    return _conform_record(candidates, shape)


@dataclass
class TokenIdentity:
    """What the tokens contribute to a request."""

    principal: dict[str, str]
    entities: list[dict[str, Any]] = field(default_factory=list)
    token_context: dict[str, Any] | None = None  # the value of context.token, when an access token was given


def identity_from_tokens(id_claims: dict[str, Any] | None, access_claims: dict[str, Any] | None,
                         source: IdentitySourceRecord, schema: StoreSchema | None,
                         action: dict[str, str] | None) -> TokenIdentity:
    """Build the principal entity, its group entities and ``context.token``.

    ``schema`` is the store's schema when the request is evaluated against it (STRICT mode with a schema),
    else None; ``action`` picks the declared context type for ``context.token``.
    """
    primary = id_claims if id_claims is not None else access_claims
    assert primary is not None, "at least one token is required"
    if (id_claims is not None and access_claims is not None
            and id_claims.get("sub") != access_claims.get("sub")):
        # UNCONFIRMED: AVP documents that both tokens give the same principal; tokens of two different users
        # cannot, so they are refused rather than silently mixing one user's attributes with another's scopes.
        raise validation_error("The identityToken and accessToken belong to different users (different sub).")
    sub = primary.get("sub")
    if not isinstance(sub, str) or not sub:
        raise validation_error("The token has no sub claim to identify the principal.")
    pool_id = source.user_pool_id
    principal = {"type": source.principal_entity_type, "id": f"{pool_id}|{sub}"}

    # Groups: from the ID token when one is given, else from the access token (UNCONFIRMED which wins when
    # both carry different groups; Cognito writes the same groups into both unless a pre-token trigger changes
    # one).
    groups_claim = primary.get(GROUPS_CLAIM)
    groups = [g for g in groups_claim if isinstance(g, str)] if isinstance(groups_claim, list) else []
    group_type = source.effective_group_entity_type
    parents = [{"type": group_type, "id": f"{pool_id}|{group}"} for group in groups]

    attributes: dict[str, Any] = {}
    if id_claims is not None:
        shape = schema.entity_shape(principal["type"]) if schema is not None else None
        if schema is not None and shape is None:
            shape = Record()  # undeclared principal type: no attributes; cedarpy reports the type itself
        attributes = _attributes({k: v for k, v in id_claims.items() if k != GROUPS_CLAIM}, shape,
                                 dot_notation=True)
    entities = [{"uid": principal, "attrs": attributes, "parents": parents}]
    entities += [{"uid": parent, "attrs": {}, "parents": []} for parent in parents]

    token_context = None
    if access_claims is not None:
        token_claims = {k: v for k, v in access_claims.items() if k != GROUPS_CLAIM}
        if isinstance(token_claims.get("scope"), str):
            token_claims["scope"] = token_claims["scope"].split()
        token_shape = _declared_token_shape(schema, action)
        if not isinstance(token_shape, _Missing):
            token_context = _attributes(token_claims, token_shape, dot_notation=False)
    return TokenIdentity(principal=principal, entities=entities, token_context=token_context)


def _declared_token_shape(schema: StoreSchema | None,
                          action: dict[str, str] | None) -> Record | _Missing | None:
    """None: no schema, keep every claim. MISSING: the context declares no ``token``, add nothing."""
    if schema is None or action is None:
        return None
    context = schema.action_context(action["type"], action["id"])
    if context is None:
        return None  # undeclared action: cedarpy rejects the request and says why
    declared = context.attributes.get("token")
    if declared is None:
        return None if context.open else MISSING
    return declared.type if isinstance(declared.type, Record) else Record(open=True)


__all__ = ["ANY", "MISSING", "TokenIdentity", "action_uid", "attribute_value", "conform", "context_from",
           "entities_from", "entity_types", "identity_from_tokens", "merge_entities", "natural_value", "uid"]
