"""AVP's own limits, enforced by the local endpoint the way the service answers, so nothing passes here that AWS
refuses. The same limits are checked in ``plan`` (:mod:`migrate.translate.limits`) and predicted by ``verify``
(:mod:`migrate.space`, :mod:`pretoken_lambda.rules`); the constants are shared or tested equal.

* **Transitive parents.** "A principal or resource entity can be defined with at most 99 transitive parents per
  authorization request. A transitive parent is an entity in the hierarchy of entities including all direct
  parents, and parents of parents" (API reference, EntityItem.parents; the quotas page counts the entity itself,
  100). The botocore model sets no maximum on ``ParentList``, so the model walk in
  :mod:`migrate.embedded.avp.validation` does not catch it. 99 is the count used, as in
  :data:`migrate.space.MAX_PARENTS`. With a token, the parents are the groups in ``cognito:groups``.
* **Entity ids** at most 200 bytes (AVP quotas, as :mod:`migrate.translate.limits` reads them). The botocore
  model allows an ``EntityId`` of up to 612 characters (``ActionId`` 512), so an id between 201 bytes and the
  model's maximum passes the model walk and is refused here. Under the safe reading taken in plan, action ids are
  entity ids too (an action is a Cedar entity), so a longer action id is refused as well.
* **Claims AVP cannot map.** A token carrying a claim named ``cognito``, ``custom`` or ``dev``, which includes
  every literal ``cognito``/``custom`` claim next to ``cognito:``/``custom:`` ones, fails token processing (AVP
  user guide, identity-sources-cognito, Note; Cognito developer guide, amazon-cognito-authorization-with-avp).
  Checked in both the ID and the access token, as :func:`migrate.space.refused_claims` predicts.
* **Namespace.** "Verified Permissions doesn't allow you to create a namespace that's an empty string or includes
  the following values: aws, amazon, or cedar" (AVP user guide, "Differences between Amazon Verified Permissions
  and the Cedar policy language"); :func:`migrate.translate.limits.namespace_problem` holds the safe reading (equal
  to one of them, or one of them as a path component, in any case). The one namespace per schema of the same page
  is enforced as well. ``CreatePolicyStore`` takes no namespace in the botocore model, so PutSchema is where it
  is checked.

How AVP answers each: the guide says these requests fail but not with which error. Every one is answered here
with a ValidationException (the only client error these operations list for bad input), never with a DENY in
``errors[]``: UNCONFIRMED. Either way the authorizer denies (it denies on any AVP error), and verify predicts
"an error, so a Deny" for these principals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from migrate.embedded.avp.errors import validation_error
from migrate.translate.limits import ENTITY_ID_MAX_BYTES, namespace_problem

MAX_TRANSITIVE_PARENTS = 99
REFUSED_CLAIM_NAMES = ("cognito", "custom", "dev")


def _id_bytes(entity_id: Any) -> int:
    return len(str(entity_id).encode("utf-8"))


def check_entity_id(entity_uid: dict[str, Any], what: str, path: str | None = None) -> None:
    """ValidationException when ``entity_uid`` (Cedar JSON ``{"type", "id"}``) has an id over the quota."""
    size = _id_bytes(entity_uid.get("id", ""))
    if size > ENTITY_ID_MAX_BYTES:
        # Entity ids are sensitive in the model: the type is named, the id is not echoed.
        raise validation_error(f"The {what} id of type {entity_uid.get('type')} is {size} bytes; Verified "
                               f"Permissions allows entity ids of at most {ENTITY_ID_MAX_BYTES} bytes.",
                               path=path)


def check_entity_ids(entities: Iterable[dict[str, Any]], path: str = "entities") -> None:
    for entity in entities:
        check_entity_id(entity["uid"], "entity", path)
        for parent in entity.get("parents") or []:
            if isinstance(parent, dict):
                check_entity_id(parent, "parent entity", path)


def check_transitive_parents(entities: list[dict[str, Any]], path: str = "entities") -> None:
    """ValidationException when an entity has more than :data:`MAX_TRANSITIVE_PARENTS` ancestors in ``entities``
    (direct parents, their parents, and so on; a parent absent from the list still counts once)."""
    parents_of: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for entity in entities:
        key = (str(entity["uid"].get("type")), str(entity["uid"].get("id")))
        parents_of[key] = [(str(p.get("type")), str(p.get("id"))) for p in entity.get("parents") or []
                           if isinstance(p, dict)]
    for key in parents_of:
        seen: set[tuple[str, str]] = set()
        stack = list(parents_of[key])
        while stack and len(seen) <= MAX_TRANSITIVE_PARENTS:
            parent = stack.pop()
            if parent in seen or parent == key:
                continue
            seen.add(parent)
            stack.extend(parents_of.get(parent, ()))
        if len(seen) > MAX_TRANSITIVE_PARENTS:
            raise validation_error(f"The entity of type {key[0]} has more than {MAX_TRANSITIVE_PARENTS} transitive "
                                   f"parents; Verified Permissions allows at most {MAX_TRANSITIVE_PARENTS} per "
                                   "authorization request.", path=path)


def check_token_claims(claims: dict[str, Any], parameter: str) -> None:
    """ValidationException when a token carries a claim AVP cannot map (see the module docstring)."""
    for name in REFUSED_CLAIM_NAMES:
        if name in claims:
            clash = any(claim.startswith(f"{name}:") for claim in claims)
            detail = f" next to {name}:-prefixed claims" if clash else ""
            raise validation_error(f"The {parameter} carries a claim named {name!r}{detail}, which Verified "
                                   "Permissions cannot map to Cedar; the token cannot be processed.",
                                   path=parameter)


def check_schema_namespaces(namespaces: list[str]) -> None:
    """ValidationException for a schema whose namespace AVP refuses, or that declares more than one."""
    if len(namespaces) > 1:
        raise validation_error(f"A Verified Permissions schema supports only one namespace; this one declares "
                               f"{len(namespaces)}.", path="definition.cedarJson")
    for namespace in namespaces:
        problem = namespace_problem(namespace)
        if problem is not None:
            raise validation_error(f"The schema's namespace is not allowed: {problem}.",
                                   path="definition.cedarJson")
