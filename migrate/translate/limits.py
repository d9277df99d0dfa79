"""AVP's own naming limits, checked in plan so that a plan never holds a name Verified Permissions refuses.

* **Namespace** (AVP user guide, "Differences between Amazon Verified Permissions and the Cedar policy language",
  Namespace definition): "Verified Permissions doesn't allow you to create a namespace that's an empty string or
  includes the following values: aws, amazon, or cedar". Some translations of the guide read "equal to" instead
  of "includes"; the safe reading taken here refuses both a namespace equal to one of them and one holding one of
  them as a path component (``aws::Orders``), in any case (``AWS``, ``Cedar``). A plain substring (``Laws``,
  ``Cedarwood``) is not refused: no reading of the guide names it, and refusing it would rename ordinary APIs.
  The botocore model caps ``Namespace`` at 100 characters. ``plan`` never refuses an API for its name: it
  derives a namespace that avoids all of this (:func:`avp_namespace`) and says so in a finding.
* **Entity ids** at most 200 bytes (AVP quotas; a longer id in a request is an error, so a Deny through the
  authorizer). The ids a plan makes AVP see: ``<poolId>|<group>`` for every group of the pool (AVP makes each
  group in a token a parent of the principal), ``<poolId>|<sub>`` for the users policies name, client ids, the
  route actions (``<verb> <path>``), the scope action groups (the scope names) and the resource id (the
  namespace). A route whose action id is too long is left on its Cognito authorizer (reported); any other id
  too long stops the plan with the name to change.
"""

from __future__ import annotations

import hashlib

from migrate.cedar_text import namespace_for

RESERVED_NAMESPACE_WORDS = ("aws", "amazon", "cedar")
NAMESPACE_MAX_CHARS = 100  # botocore verifiedpermissions model, shape Namespace (max 100)
ENTITY_ID_MAX_BYTES = 200


def namespace_problem(namespace: str) -> str | None:
    """Why AVP would refuse ``namespace`` (under the safe reading above), or None."""
    if not namespace:
        return "a namespace may not be empty"
    for component in namespace.split("::"):
        if component.lower() in RESERVED_NAMESPACE_WORDS:
            return (f"a namespace may not be or include {', '.join(RESERVED_NAMESPACE_WORDS)} (any case): "
                    f"{namespace!r} has the component {component!r}")
    if len(namespace) > NAMESPACE_MAX_CHARS:
        return f"a namespace is at most {NAMESPACE_MAX_CHARS} characters: {namespace!r} has {len(namespace)}"
    return None


def avp_namespace(api_name: str) -> tuple[str, str | None]:
    """The namespace for an API (:func:`migrate.cedar_text.namespace_for`, the console's convention) made
    acceptable to AVP, and why it differs from that convention (None when it does not)."""
    namespace = namespace_for(api_name)
    problem = namespace_problem(namespace)
    if problem is None:
        return namespace, None
    if namespace.lower() in RESERVED_NAMESPACE_WORDS:
        namespace = f"Api_{namespace}"
    if len(namespace) > NAMESPACE_MAX_CHARS:
        digest = hashlib.sha256(namespace.encode()).hexdigest()[:8]
        namespace = f"{namespace[:NAMESPACE_MAX_CHARS - 9].rstrip('_')}_{digest}"
    assert namespace_problem(namespace) is None, namespace
    return namespace, problem


def entity_id_too_long(entity_id: str) -> bool:
    return len(entity_id.encode("utf-8")) > ENTITY_ID_MAX_BYTES


def describe(kind: str, entity_id: str) -> str:
    return f"{kind} {entity_id!r} ({len(entity_id.encode('utf-8'))} bytes)"
