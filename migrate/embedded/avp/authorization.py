"""Data-plane operations: IsAuthorized, BatchIsAuthorized, IsAuthorizedWithToken, BatchIsAuthorizedWithToken.

Decisions are cedarpy's, over the store's PolicySet compiled once per change. Policy ids in that set are the
AVP policy ids, so cedarpy's reasons are the ``determiningPolicies``; evaluation errors (a policy that errors
is skipped, Cedar semantics) come back as ``errors[].errorDescription`` with the decision.

A request is evaluated against the store's schema when the store is STRICT and has one, so a request that does
not fit the schema (an undeclared action, an attribute of the wrong type) is a ValidationException rather than
a silent DENY. Whether AVP also validates requests in OFF mode is UNCONFIRMED; here OFF mode does not, but the
schema's action hierarchy still applies (action entities are built from ``memberOf``) so that
``action in [group]`` means the same in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cedarpy

from migrate.embedded.avp import entities as ent
from migrate.embedded.avp import limits
from migrate.embedded.avp.backend import Backend
from migrate.embedded.avp.errors import validation_error
from migrate.embedded.avp.schema import StoreSchema
from migrate.embedded.avp.store import IdentitySourceRecord, PolicyStoreRecord
from migrate.embedded.avp.tokens import verify

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# "The requests of a BatchIsAuthorizedWithToken API request can contain up to 30 requests" (botocore model);
# BatchIsAuthorized has the same limit in the API reference.
BATCH_LIMIT = 30


@dataclass(frozen=True)
class _Snapshot:
    """What one authorization call reads, taken under the lock and evaluated outside it."""

    policy_set: cedarpy.PolicySet
    schema: StoreSchema | None  # applied to the request (STRICT with a schema), else None
    action_entities: list[dict[str, Any]]  # OFF mode with a schema: the declared action hierarchy
    identity_source: IdentitySourceRecord | None


class Authorization:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handlers(self) -> dict[str, Handler]:
        return {
            "IsAuthorized": self.is_authorized,
            "BatchIsAuthorized": self.batch_is_authorized,
            "IsAuthorizedWithToken": self.is_authorized_with_token,
            "BatchIsAuthorizedWithToken": self.batch_is_authorized_with_token,
        }

    def _snapshot(self, policy_store_id: str) -> _Snapshot:
        with self.backend.lock:
            store = self.backend.store(policy_store_id)
            return _snapshot_of(store)

    # --- with explicit principals ---------------------------------------------------------------------------

    def is_authorized(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = self._snapshot(params["policyStoreId"])
        entities = ent.entities_from(params.get("entities"))
        _refuse_action_entities(entities)
        _check_entity_limits(entities)
        request = _cedar_request(params, principal=ent.uid(_required(params, "principal")), path="")
        return _evaluate(snapshot, [request], entities)[0]

    def batch_is_authorized(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = self._snapshot(params["policyStoreId"])
        items = params["requests"]
        _check_batch_size(items)
        entities = ent.entities_from(params.get("entities"))
        _refuse_action_entities(entities)
        _check_entity_limits(entities)
        requests = []
        for i, item in enumerate(items):
            prefix = f"requests.{i + 1}."
            principal = ent.uid(_required(item, "principal", prefix))
            requests.append(_cedar_request(item, principal=principal, path=prefix))
        results = _evaluate(snapshot, requests, entities)
        return {"results": [{"request": item, **result} for item, result in zip(items, results, strict=True)]}

    # --- with tokens ----------------------------------------------------------------------------------------

    def is_authorized_with_token(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = self._snapshot(params["policyStoreId"])
        source, id_claims, access_claims = self._verified_claims(snapshot, params)
        action = ent.action_uid(_required(params, "action"))
        identity = ent.identity_from_tokens(id_claims, access_claims, source, snapshot.schema, action)
        entities = self._token_entities(snapshot, source, params, identity)
        request = _cedar_request(params, principal=identity.principal, path="",
                                 token_context=identity.token_context)
        result = _evaluate(snapshot, [request], entities)[0]
        return {**result, "principal": _identifier(identity.principal)}

    def batch_is_authorized_with_token(self, params: dict[str, Any]) -> dict[str, Any]:
        snapshot = self._snapshot(params["policyStoreId"])
        items = params["requests"]
        _check_batch_size(items)
        source, id_claims, access_claims = self._verified_claims(snapshot, params)
        requests, identity = [], None
        for i, item in enumerate(items):
            action = ent.action_uid(_required(item, "action", f"requests.{i + 1}."))
            # context.token depends on the action's declared context, so it is built per request; the
            # principal and its groups are the same for every request.
            identity = ent.identity_from_tokens(id_claims, access_claims, source, snapshot.schema, action)
            requests.append(_cedar_request(item, principal=identity.principal, path=f"requests.{i + 1}.",
                                           token_context=identity.token_context))
        assert identity is not None
        entities = self._token_entities(snapshot, source, params, identity)
        results = _evaluate(snapshot, requests, entities)
        return {"principal": _identifier(identity.principal),
                "results": [{"request": item, **result} for item, result in zip(items, results, strict=True)]}

    def _verified_claims(self, snapshot: _Snapshot, params: dict[str, Any]
                         ) -> tuple[IdentitySourceRecord, dict[str, Any] | None, dict[str, Any] | None]:
        id_token, access_token = params.get("identityToken"), params.get("accessToken")
        if not id_token and not access_token:
            # "You must specify either an accessToken, an identityToken, or both" (botocore model).
            raise validation_error("Specify an identityToken, an accessToken, or both.")
        source = snapshot.identity_source
        if source is None:
            # "Your user pool is a configured Verified Permissions identity source for the requested policy
            # store" is the first check (Cognito developer guide, amazon-cognito-authorization-with-avp).
            raise validation_error("The policy store has no identity source, so it cannot accept tokens.")
        now = self.backend.now()
        key_sets = self.backend.key_sets
        id_claims = verify(id_token, "identityToken", source, key_sets, now) if id_token else None
        access_claims = verify(access_token, "accessToken", source, key_sets, now) if access_token else None
        # Claim names AVP cannot map are refused once the token is known to be genuine (see limits).
        if id_claims is not None:
            limits.check_token_claims(id_claims, "identityToken")
        if access_claims is not None:
            limits.check_token_claims(access_claims, "accessToken")
        return source, id_claims, access_claims

    def _token_entities(self, snapshot: _Snapshot, source: IdentitySourceRecord, params: dict[str, Any],
                        identity: ent.TokenIdentity) -> list[dict[str, Any]]:
        given = ent.entities_from(params.get("entities"))
        # "This parameter can't include any entities of a type that matches the user or group entity types
        # that you defined in your identity source" (botocore model, IsAuthorizedWithTokenInput.entities).
        token_types = {source.principal_entity_type, source.effective_group_entity_type}
        forbidden = token_types & ent.entity_types(given)
        if forbidden:
            names = ", ".join(sorted(forbidden))
            raise validation_error("The entities cannot include the identity source's principal or group "
                                   f"entity types ({names}); they come from the token.", path="entities")
        if snapshot.schema is not None or snapshot.action_entities:
            given = [e for e in given if not _is_action_type(str(e["uid"].get("type")))]  # the schema's win
        # The token's principal ("<poolId>|<sub>") and groups ("<poolId>|<group>") are entities like any other:
        # the id quota and the parent count apply to them (the groups in the token are the principal's parents).
        combined = given + identity.entities
        _check_entity_limits(combined)
        return combined


# --- helpers ------------------------------------------------------------------------------------------------


def _snapshot_of(store: PolicyStoreRecord) -> _Snapshot:
    schema = store.schema
    strict = store.validation_mode == "STRICT" and schema is not None and schema.handle is not None
    return _Snapshot(
        policy_set=store.policy_set(),
        schema=schema if strict else None,
        action_entities=schema.action_entities if schema is not None and not strict else [],
        identity_source=next(iter(store.identity_sources.values()), None),
    )


def _required(params: dict[str, Any], name: str, prefix: str = "") -> Any:
    value = params.get(name)
    if value is None:
        # UNCONFIRMED: the model leaves principal/action/resource optional, but a Cedar request needs all
        # three.
        raise validation_error(f"{prefix}{name} is required for an authorization request.",
                               path=f"{prefix}{name}")
    return value


def _check_batch_size(items: list[Any]) -> None:
    if len(items) > BATCH_LIMIT:
        raise validation_error(f"A batch can contain at most {BATCH_LIMIT} requests; this one has "
                               f"{len(items)}.", path="requests")


def _is_action_type(entity_type: str) -> bool:
    return entity_type == "Action" or entity_type.endswith("::Action")


def _check_entity_limits(entities: list[dict[str, Any]]) -> None:
    limits.check_entity_ids(entities)
    limits.check_transitive_parents(entities)


def _refuse_action_entities(entities: list[dict[str, Any]]) -> None:
    # "You can include only principal and resource entities in this parameter; you can't include actions. You
    # must specify actions in the schema" (botocore model, IsAuthorizedInput.entities).
    if any(_is_action_type(str(e["uid"].get("type"))) for e in entities):
        raise validation_error("The entities cannot include actions; actions come from the schema.",
                               path="entities")


def _cedar_request(params: dict[str, Any], *, principal: dict[str, str], path: str,
                   token_context: dict[str, Any] | None = None) -> dict[str, Any]:
    context = ent.context_from(params.get("context"), f"{path}context")
    if token_context is not None:
        if "token" in context:
            # UNCONFIRMED: AVP puts the access token under context.token; a caller's own "token" would
            # collide.
            raise validation_error("The context cannot contain a 'token' entry when an accessToken is given.",
                                   path=f"{path}context")
        context["token"] = token_context
    request = {
        "principal": principal,
        "action": ent.action_uid(_required(params, "action", path)),
        "resource": ent.uid(_required(params, "resource", path)),
        "context": context,
    }
    for role in ("principal", "action", "resource"):
        limits.check_entity_id(request[role], role, f"{path}{role}")
    return request


def _identifier(entity_uid: dict[str, str]) -> dict[str, str]:
    return {"entityType": entity_uid["type"], "entityId": entity_uid["id"]}


def _evaluate(snapshot: _Snapshot, requests: list[dict[str, Any]],
              entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    all_entities = ent.merge_entities(snapshot.action_entities, entities)
    schema_handle = snapshot.schema.handle if snapshot.schema is not None else None
    results = cedarpy.is_authorized_batch(requests, snapshot.policy_set, all_entities, schema=schema_handle)
    answers = []
    for result in results:
        errors = result.diagnostics.errors
        if result.decision == cedarpy.Decision.NoDecision:
            # cedarpy could not build the request or the entities (for instance they do not fit the schema).
            reasons = "; ".join(errors or ["unknown"])
            raise validation_error(f"The authorization request is not valid: {reasons}")
        answers.append({
            "decision": "ALLOW" if result.decision == cedarpy.Decision.Allow else "DENY",
            "determiningPolicies": [{"policyId": pid} for pid in result.diagnostics.reasons],
            "errors": [{"errorDescription": error} for error in errors],
        })
    return answers
