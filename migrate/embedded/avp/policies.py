"""Static policies: parsed once by cedarpy when created or updated, never again per authorization call.

For each statement we keep cedarpy's JSON form (EST). It gives the fields CreatePolicy/GetPolicy/ListPolicies
return (``effect``, ``principal``, ``resource``, ``actions``), lets UpdatePolicy compare scopes, and lets the
store build its ``cedarpy.PolicySet`` from ``{"staticPolicies": {<AVP policy id>: <EST>}}`` so that cedarpy's
``reasons`` (and so ``determiningPolicies``) are the AVP policy ids themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from migrate.embedded.avp.errors import quota_exceeded, validation_error
from migrate.embedded.avp.schema import StoreSchema

# "Policy size: 10,000 bytes, not adjustable" (AVP user guide, Quotas for Amazon Verified Permissions). The
# error type AVP uses past it is UNCONFIRMED; CreatePolicy/UpdatePolicy model ServiceQuotaExceededException.
POLICY_QUOTA_BYTES = 10_000
STATEMENT_PATH = "definition.static.statement"


@dataclass(frozen=True)
class ParsedPolicy:
    est: dict[str, Any]

    @property
    def effect(self) -> str:
        return "Permit" if self.est.get("effect") == "permit" else "Forbid"

    @property
    def principal(self) -> dict[str, str] | None:
        return _scope_entity(self.est.get("principal") or {})

    @property
    def resource(self) -> dict[str, str] | None:
        return _scope_entity(self.est.get("resource") or {})

    @property
    def actions(self) -> list[dict[str, str]]:
        scope = self.est.get("action") or {}
        if "entities" in scope:  # action in [A, B]
            return [_action_identifier(e) for e in scope["entities"]]
        if "entity" in scope:  # action == A, action in A
            return [_action_identifier(scope["entity"])]
        return []  # any action

    def output_fields(self) -> dict[str, Any]:
        """``principal``/``resource`` only when the scope names one, as the model documents."""
        fields: dict[str, Any] = {"effect": self.effect, "actions": self.actions}
        if self.principal is not None:
            fields["principal"] = self.principal
        if self.resource is not None:
            fields["resource"] = self.resource
        return fields


def _action_identifier(entity: dict[str, str]) -> dict[str, str]:
    return {"actionType": entity["type"], "actionId": entity["id"]}


def _scope_entity(scope: dict[str, Any]) -> dict[str, str] | None:
    # principal == E / principal in E / principal is T in E all name an entity; "All" and a bare "is T" do
    # not.
    entity = scope.get("entity") or (scope.get("in") or {}).get("entity")
    if not isinstance(entity, dict) or "type" not in entity:
        return None
    return {"entityType": entity["type"], "entityId": entity["id"]}


def parse_statement(statement: str) -> ParsedPolicy:
    """Exactly one static Cedar policy, within the size quota, else the error AVP would give."""
    if len(statement.encode("utf-8")) > POLICY_QUOTA_BYTES:
        raise quota_exceeded(f"The policy statement is larger than the {POLICY_QUOTA_BYTES}-byte limit for a "
                             "single policy.", "POLICY")
    try:
        document = json.loads(cedarpy.policies_to_json_str(statement))
    except ValueError as exc:
        raise validation_error(f"The policy statement could not be parsed: {exc}",
                               path=STATEMENT_PATH) from None
    statics = document.get("staticPolicies") or {}
    templates = document.get("templates") or {}
    if templates:
        # A slot (?principal/?resource) makes it a template; templates have their own API
        # (CreatePolicyTemplate).
        raise validation_error("A static policy cannot contain template slots such as ?principal or "
                               "?resource.", path=STATEMENT_PATH)
    if len(statics) != 1:
        raise validation_error("The statement must contain exactly one Cedar policy; it contains "
                               f"{len(statics)}.", path=STATEMENT_PATH)
    return ParsedPolicy(est=next(iter(statics.values())))


def validate_against_schema(statement: str, schema: StoreSchema | None) -> None:
    """STRICT mode: reject a policy the schema does not admit, with cedarpy's messages.

    "If Mode=STRICT and the policy store doesn't contain a schema, Verified Permissions rejects all static
    policies" (botocore model, ValidationSettings.mode).
    """
    if schema is None or schema.handle is None:
        raise validation_error("The policy store's validation mode is STRICT and it has no schema, so no "
                               "policy can pass validation. Put a schema first or set the validation mode "
                               "to OFF.", path=STATEMENT_PATH)
    result = cedarpy.validate_policies(statement, schema.handle)
    if result.validation_passed:
        return
    # cedarpy names the policy by its parser id ("for policy `policy0`, ..."); that id means nothing to
    # callers.
    messages = [_strip_policy_prefix(error.error) for error in result.errors] or ["validation failed"]
    raise validation_error("The policy failed validation against the schema: " + "; ".join(messages),
                           fields=[(STATEMENT_PATH, m) for m in messages])


def _strip_policy_prefix(message: str) -> str:
    if message.startswith("for policy `"):
        _, _, rest = message.partition("`, ")
        return rest or message
    return message


def build_policy_set(policies: dict[str, ParsedPolicy]) -> cedarpy.PolicySet:
    """One PolicySet for the store, keyed by AVP policy id (cedarpy reports these ids as reasons)."""
    document = {"staticPolicies": {pid: p.est for pid, p in policies.items()}, "templates": {},
                "templateLinks": []}
    return cedarpy.PolicySet.from_json_str(json.dumps(document))
