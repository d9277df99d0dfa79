"""A policy store's schema: checked by cedarpy once, and read by us for what cedarpy does not expose.

AVP accepts schemas only as Cedar JSON ("The schema definition must be written in Cedar schema JSON": botocore
model, PutSchemaInput.definition). cedarpy parses and checks it (``Schema.from_json_str``) and keeps the
handle for validation and authorization. We also need to *read* it, which cedarpy cannot do for us:

* the namespaces PutSchema/GetSchema return;
* the declared attributes of the principal entity type and of the requested action's context, because AVP maps
  token claims to exactly what the schema declares (see :mod:`migrate.embedded.avp.entities`);
* the action hierarchy (``memberOf``), so a store whose validation mode is OFF still resolves
  ``action in [group]`` the way the schema says.

Types are resolved to small immutable values (:class:`Prim`, :class:`SetOf`, :class:`Record`,
:class:`EntityRef`, :class:`Extension`); anything we cannot resolve becomes :data:`ANY` and is passed through
to cedarpy, whose errors are then reported as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cedarpy

from migrate.embedded.avp.errors import validation_error

SCHEMA_QUOTA_BYTES = 100_000  # "Schema size: 100,000 bytes, not adjustable" (AVP user guide, Quotas)

_PRIMITIVES = {"String": "String", "Long": "Long", "Boolean": "Boolean", "Bool": "Boolean"}
_EXTENSIONS = {"ipaddr", "decimal", "datetime", "duration"}


@dataclass(frozen=True)
class Prim:
    kind: str  # String | Long | Boolean


@dataclass(frozen=True)
class SetOf:
    element: CedarType


@dataclass(frozen=True)
class Attribute:
    type: CedarType
    required: bool


@dataclass(frozen=True)
class Record:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    open: bool = False  # additionalAttributes: true


@dataclass(frozen=True)
class EntityRef:
    name: str


@dataclass(frozen=True)
class Extension:
    name: str


@dataclass(frozen=True)
class AnyType:
    """A type we could not resolve: values pass through unchanged and cedarpy has the last word."""


ANY = AnyType()
CedarType = Prim | SetOf | Record | EntityRef | Extension | AnyType


def _qualify(namespace: str, name: str) -> str:
    return f"{namespace}::{name}" if namespace else name


def _split(qualified: str) -> tuple[str, str]:
    namespace, _, name = qualified.rpartition("::")
    return namespace, name


@dataclass
class StoreSchema:
    """One PutSchema: the text as stored, cedarpy's handle, and our read-only view of its declarations."""

    text: str
    document: dict[str, Any]
    handle: cedarpy.Schema | None  # None for the empty schema "{}" (the documented way to delete a schema)
    created: float
    updated: float
    # Resolved declarations, memoised: the schema never changes once stored (PutSchema stores a new one).
    _shapes: dict[str, Record | None] = field(default_factory=dict, repr=False)
    _contexts: dict[tuple[str, str], Record | None] = field(default_factory=dict, repr=False)

    @property
    def namespaces(self) -> list[str]:
        return list(self.document)

    @property
    def is_empty(self) -> bool:
        return not self.document

    # --- declarations ---------------------------------------------------------------------------------------

    def _fragments(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for namespace, fragment in self.document.items():
            if isinstance(fragment, dict):
                yield namespace, fragment

    def declares_entity_type(self, qualified: str) -> bool:
        namespace, name = _split(qualified)
        fragment = self.document.get(namespace)
        return isinstance(fragment, dict) and name in (fragment.get("entityTypes") or {})

    def entity_shape(self, qualified: str) -> Record | None:
        """The attributes declared for an entity type; None when the type is not declared at all."""
        if qualified not in self._shapes:
            self._shapes[qualified] = self._entity_shape(qualified)
        return self._shapes[qualified]

    def _entity_shape(self, qualified: str) -> Record | None:
        namespace, name = _split(qualified)
        fragment = self.document.get(namespace)
        if not isinstance(fragment, dict):
            return None
        declaration = (fragment.get("entityTypes") or {}).get(name)
        if declaration is None:
            return None
        shape = declaration.get("shape")
        if shape is None:
            return Record()
        resolved = self._resolve(shape, namespace, 0)
        return resolved if isinstance(resolved, Record) else Record(open=True)

    def action_context(self, action_type: str, action_id: str) -> Record | None:
        """The context type declared for an action; None when the action is not declared."""
        key = (action_type, action_id)
        if key not in self._contexts:
            self._contexts[key] = self._action_context(action_type, action_id)
        return self._contexts[key]

    def _action_context(self, action_type: str, action_id: str) -> Record | None:
        namespace, name = _split(action_type)
        if name != "Action":
            return None
        fragment = self.document.get(namespace)
        if not isinstance(fragment, dict):
            return None
        declaration = (fragment.get("actions") or {}).get(action_id)
        if declaration is None:
            return None
        context = (declaration.get("appliesTo") or {}).get("context")
        if context is None:
            return Record()
        resolved = self._resolve(context, namespace, 0)
        return resolved if isinstance(resolved, Record) else Record(open=True)

    @cached_property
    def action_entities(self) -> list[dict[str, Any]]:
        """Cedar JSON entities for every declared action, with ``memberOf`` as parents (built once)."""
        entities = []
        for namespace, fragment in self._fragments():
            action_type = _qualify(namespace, "Action")
            for action_id, declaration in (fragment.get("actions") or {}).items():
                parents = []
                for parent in (declaration or {}).get("memberOf") or []:
                    parent_type = parent.get("type") or action_type
                    if "::" not in parent_type and parent_type != "Action":
                        parent_type = _qualify(namespace, parent_type)
                    elif parent_type == "Action":
                        parent_type = action_type
                    parents.append({"type": parent_type, "id": parent["id"]})
                uid = {"type": action_type, "id": action_id}
                entities.append({"uid": uid, "attrs": {}, "parents": parents})
        return entities

    # --- type resolution ------------------------------------------------------------------------------------

    def _common_type(self, namespace: str, name: str) -> tuple[str, dict[str, Any]] | None:
        candidates = [_split(name)] if "::" in name else [(namespace, name), ("", name)]
        for candidate_ns, candidate_name in candidates:
            fragment = self.document.get(candidate_ns)
            if isinstance(fragment, dict):
                common = (fragment.get("commonTypes") or {}).get(candidate_name)
                if common is not None:
                    return candidate_ns, common
        return None

    def _entity_name(self, namespace: str, name: str) -> str | None:
        if "::" in name:
            return name if self.declares_entity_type(name) else None
        for candidate in (_qualify(namespace, name), name):
            if self.declares_entity_type(candidate):
                return candidate
        return None

    def _named(self, name: str, namespace: str, depth: int) -> CedarType:
        bare = name.removeprefix("__cedar::")
        if bare != name:  # __cedar::String and friends are always the built-ins
            return Prim(_PRIMITIVES[bare]) if bare in _PRIMITIVES else (
                Extension(bare) if bare in _EXTENSIONS else ANY)
        common = self._common_type(namespace, name)
        if common is not None:
            return self._resolve(common[1], common[0], depth + 1)
        entity = self._entity_name(namespace, name)
        if entity is not None:
            return EntityRef(entity)
        if name in _PRIMITIVES:
            return Prim(_PRIMITIVES[name])
        if name in _EXTENSIONS:
            return Extension(name)
        return ANY

    def _resolve(self, node: Any, namespace: str, depth: int) -> CedarType:
        if depth > 32 or not isinstance(node, dict):  # cycles are rejected by cedarpy; this is a guard
            return ANY
        kind = node.get("type")
        if kind == "Set":
            return SetOf(self._resolve(node.get("element"), namespace, depth + 1))
        if kind == "Record":
            attributes = {}
            for attr_name, attr in (node.get("attributes") or {}).items():
                attributes[attr_name] = Attribute(self._resolve(attr, namespace, depth + 1),
                                                  bool(attr.get("required", True)))
            return Record(attributes, bool(node.get("additionalAttributes", False)))
        if kind == "Entity":
            name = node.get("name", "")
            return EntityRef(self._entity_name(namespace, name) or name)
        if kind == "Extension":
            return Extension(node.get("name", ""))
        if kind == "EntityOrCommon":
            return self._named(node.get("name", ""), namespace, depth)
        if isinstance(kind, str):
            return self._named(kind, namespace, depth)
        return ANY


def parse_schema(text: str, now: float, previous: StoreSchema | None) -> StoreSchema:
    """Check a PutSchema ``cedarJson`` and build the stored schema (ValidationException on any problem)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise validation_error(f"The schema is not valid JSON: {exc.msg} at line {exc.lineno} column "
                               f"{exc.colno}", path="definition.cedarJson") from None
    if not isinstance(document, dict):
        raise validation_error("The schema must be a JSON object whose keys are namespaces.",
                               path="definition.cedarJson")
    handle = None
    if document:
        try:
            handle = cedarpy.Schema.from_json_str(text)
        except ValueError as exc:
            raise validation_error(f"The schema is not valid: {exc}", path="definition.cedarJson") from None
    created = previous.created if previous is not None else now
    return StoreSchema(text=text, document=document, handle=handle, created=created, updated=now)
