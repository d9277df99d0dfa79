"""The Verified Permissions side: policy store (STRICT), schema, Cognito identity source, policies.

Diffing rules:

* The store is the one ``deployment.json`` names; without a record (or when that store is gone) a new one is
  created. Nothing else identifies a store reliably (stores have no name), so deploy never adopts a stranger's.
* Schema: PutSchema only when it differs, compared as JSON and, failing that, as Cedar's own rendering (AVP may
  return the schema reformatted).
* Identity source: one per store (AVP quota); created, or updated with UpdateIdentitySource when the pool,
  client ids, principal or group entity type differ.
* Policies are matched by their ``@id`` annotation and compared in Cedar's JSON form (formatting is not a
  change). A changed policy is updated in place with UpdatePolicy when only its actions or conditions changed;
  UpdatePolicy cannot change the effect, principal or resource of a static policy (AVP API reference,
  UpdatePolicy), so such a policy is replaced: the new one is created before the old one is deleted, so no
  request is ever decided with neither. Store policies with no ``@id``, an ``@id`` the plan does not have, or a
  second copy of an ``@id`` are deleted: the store must hold exactly the policy set that ``verify`` proved.
  Order: creates, updates, then deletes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cedarpy

from migrate.deploy.changes import Change
from migrate.deploy.context import Context, is_not_found, retry_eventual
from migrate.deploy.plan_input import PlanInput, PlannedPolicy, policy_est, policy_id_of

BATCH_GET_MAX = 100  # BatchGetPolicy: up to 100 requests (botocore model, BatchGetPolicyInputList)


@dataclass(frozen=True)
class StorePolicy:
    policy_id: str
    annotation: str | None  # @id
    est: dict[str, Any] | None
    description: str | None


def plan_avp(ctx: Context, plan: PlanInput) -> list[Change]:
    avp = ctx.client("verifiedpermissions")
    store = _recorded_store(ctx, avp)
    changes: list[Change] = []
    if store is None:
        changes.append(Change("create", "verifiedpermissions policy store", f"STRICT validation, for API "
                              f"{plan.api_name} ({plan.api_id}) stage {plan.stage}",
                              apply=lambda: _create_store(ctx, avp, plan)))
        current_schema, source, policies = None, None, []
    else:
        ctx.store_arn = store["arn"]
        if (store.get("validationSettings") or {}).get("mode") != "STRICT":
            changes.append(Change("update", f"verifiedpermissions policy store {store['policyStoreId']}",
                                  "validation mode -> STRICT", apply=lambda: avp.update_policy_store(
                                      policyStoreId=ctx.record.policy_store_id,
                                      validationSettings={"mode": "STRICT"})))
        current_schema = _schema(avp, store["policyStoreId"])
        source = _identity_source(ctx, avp, store["policyStoreId"])
        policies = read_store_policies(avp, store["policyStoreId"])
    changes += _schema_changes(ctx, avp, plan, current_schema)
    changes += _identity_changes(ctx, avp, plan, source)
    changes += _policy_changes(ctx, avp, plan, policies)
    return changes


def _recorded_store(ctx: Context, avp: Any) -> dict[str, Any] | None:
    if not ctx.record.policy_store_id:
        return None
    try:
        return avp.get_policy_store(policyStoreId=ctx.record.policy_store_id)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        ctx.notes.append(f"the recorded policy store {ctx.record.policy_store_id} no longer exists: a new one is "
                         "created")
        ctx.record.policy_store_id, ctx.record.identity_source_id, ctx.record.policies = "", "", {}
        return None


def _create_store(ctx: Context, avp: Any, plan: PlanInput) -> None:
    created = avp.create_policy_store(
        validationSettings={"mode": "STRICT"},
        description=f"avp-migrate: {plan.api_name} ({plan.api_id}) stage {plan.stage}"[:150])
    ctx.record.policy_store_id, ctx.store_arn = created["policyStoreId"], created["arn"]
    ctx.record.identity_source_id, ctx.record.policies = "", {}


def _schema(avp: Any, store_id: str) -> str | None:
    try:
        return avp.get_schema(policyStoreId=store_id)["schema"]
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise


def same_schema(current: str | None, planned: dict[str, Any]) -> bool:
    if current is None:
        return False
    try:
        if json.loads(current) == planned:
            return True
        return str(cedarpy.Schema.from_json_str(current)) == str(cedarpy.Schema.from_json_str(json.dumps(planned)))
    except ValueError:
        return False


def _schema_changes(ctx: Context, avp: Any, plan: PlanInput, current: str | None) -> list[Change]:
    if same_schema(current, plan.schema):
        return []
    namespace = plan.schema.get(plan.namespace) or {}
    detail = (f"namespace {plan.namespace}, {len(namespace.get('entityTypes') or {})} entity types, "
              f"{len(namespace.get('actions') or {})} actions")
    text = json.dumps(plan.schema, separators=(",", ":"))

    def put() -> None:
        # Right after CreatePolicyStore, AVP may not show the store yet ("Verified Permissions is eventually
        # consistent", AVP API reference): a not-found here is retried.
        retry_eventual(lambda: avp.put_schema(policyStoreId=ctx.record.policy_store_id,
                                              definition={"cedarJson": text}), retry_if=is_not_found)

    return [Change("create" if current is None else "update", "verifiedpermissions schema", detail, apply=put)]


def _identity_source(ctx: Context, avp: Any, store_id: str) -> dict[str, Any] | None:
    items = avp.list_identity_sources(policyStoreId=store_id, maxResults=50).get("identitySources") or []
    ids = [i["identitySourceId"] for i in items]
    if not ids:
        ctx.record.identity_source_id = ""
        return None
    chosen = ctx.record.identity_source_id if ctx.record.identity_source_id in ids else ids[0]
    ctx.record.identity_source_id = chosen
    return avp.get_identity_source(policyStoreId=store_id, identitySourceId=chosen)


def _identity_changes(ctx: Context, avp: Any, plan: PlanInput, source: dict[str, Any] | None) -> list[Change]:
    configuration = {"cognitoUserPoolConfiguration": {
        "userPoolArn": plan.pool_arn, "clientIds": list(plan.client_ids),
        "groupConfiguration": {"groupEntityType": plan.group_entity_type}}}
    detail = (f"user pool {plan.pool_arn.rsplit('/', 1)[-1]}, {len(plan.client_ids)} client ids, principal "
              f"{plan.principal_entity_type}, groups {plan.group_entity_type}")
    if source is None:
        def create() -> None:
            created = avp.create_identity_source(policyStoreId=ctx.record.policy_store_id,
                                                 principalEntityType=plan.principal_entity_type,
                                                 configuration=configuration)
            ctx.record.identity_source_id = created["identitySourceId"]

        return [Change("create", "verifiedpermissions identity source", detail, apply=create)]
    cognito = (source.get("configuration") or {}).get("cognitoUserPoolConfiguration") or {}
    current = (cognito.get("userPoolArn"), sorted(cognito.get("clientIds") or []),
               (cognito.get("groupConfiguration") or {}).get("groupEntityType"), source.get("principalEntityType"))
    wanted = (plan.pool_arn, sorted(plan.client_ids), plan.group_entity_type, plan.principal_entity_type)
    if current == wanted:
        return []
    return [Change("update", f"verifiedpermissions identity source {ctx.record.identity_source_id}", detail,
                   apply=lambda: avp.update_identity_source(
                       policyStoreId=ctx.record.policy_store_id, identitySourceId=ctx.record.identity_source_id,
                       updateConfiguration=configuration, principalEntityType=plan.principal_entity_type))]


def read_store_policies(avp: Any, store_id: str) -> list[StorePolicy]:
    """Every policy of the store with its statement: ListPolicies pages, then BatchGetPolicy by 100 (ListPolicies
    returns no statements)."""
    ids: list[str] = []
    token: str | None = None
    while True:
        page = avp.list_policies(policyStoreId=store_id, maxResults=50, **({"nextToken": token} if token else {}))
        ids += [p["policyId"] for p in page.get("policies") or []]
        token = page.get("nextToken")
        if not token:
            break
    policies: list[StorePolicy] = []
    for start in range(0, len(ids), BATCH_GET_MAX):
        chunk = ids[start:start + BATCH_GET_MAX]
        answer = avp.batch_get_policy(requests=[{"policyStoreId": store_id, "policyId": i} for i in chunk])
        found = {item["policyId"]: item for item in answer.get("results") or []}
        for policy_id in chunk:
            static = ((found.get(policy_id) or {}).get("definition") or {}).get("static")
            if static is None:  # template-linked, or deleted meanwhile: not one of ours
                policies.append(StorePolicy(policy_id, None, None, None))
                continue
            try:
                ests = policy_est(static.get("statement") or "")
            except ValueError:
                ests = []
            est = ests[0] if len(ests) == 1 else None
            policies.append(StorePolicy(policy_id, policy_id_of(est) if est else None, est,
                                        static.get("description")))
    return policies


def _policy_changes(ctx: Context, avp: Any, plan: PlanInput, existing: list[StorePolicy]) -> list[Change]:
    # A policy is known by its @id; one the record names is known by its policy id too, in case the service
    # returned a statement without its annotations (that AVP keeps them verbatim is what the plan relies on).
    recorded = {policy_id: annotation for annotation, policy_id in ctx.record.policies.items()}
    existing = [p if p.annotation or p.est is None or p.policy_id not in recorded
                else StorePolicy(p.policy_id, recorded[p.policy_id], p.est, p.description) for p in existing]
    by_annotation: dict[str, list[StorePolicy]] = {}
    for policy in existing:
        if policy.annotation is not None:
            by_annotation.setdefault(policy.annotation, []).append(policy)
    planned_ids = {p.policy_id for p in plan.policies}
    kept: dict[str, str] = {}
    creates: list[Change] = []
    updates: list[Change] = []
    deletes: list[StorePolicy] = [p for p in existing if p.annotation is None or p.annotation not in planned_ids]
    for planned in plan.policies:
        candidates = by_annotation.get(planned.policy_id, [])
        recorded_id = ctx.record.policies.get(planned.policy_id)
        candidates.sort(key=lambda p: p.policy_id != recorded_id)  # the recorded one first, if it is there
        current = candidates[0] if candidates else None
        deletes += candidates[1:]  # duplicates: never two policies with one @id
        if current is None:
            creates.append(Change("create", f'verifiedpermissions policy "{planned.policy_id}"', planned.file,
                                  apply=_creator(ctx, avp, planned)))
            continue
        kept[planned.policy_id] = current.policy_id
        if same_policy(current.est, planned.est) and (planned.description is None
                                                      or current.description == planned.description):
            continue
        if current.est is not None and all(current.est.get(k) == planned.est.get(k)
                                           for k in ("effect", "principal", "resource")):
            updates.append(Change("update", f'verifiedpermissions policy "{planned.policy_id}"',
                                  f"{current.policy_id} from {planned.file}",
                                  apply=_updater(ctx, avp, planned, current.policy_id)))
        else:
            updates.append(Change("update", f'verifiedpermissions policy "{planned.policy_id}"',
                                  f"{current.policy_id} replaced from {planned.file} (its effect, principal or "
                                  "resource changed, which UpdatePolicy cannot change)",
                                  apply=_replacer(ctx, avp, planned, current.policy_id)))
    # The record maps exactly what will be there; creates add to it as they happen.
    ctx.record.policies = kept
    delete_changes = [Change("delete", f"verifiedpermissions policy {p.policy_id}", _why_delete(p, planned_ids),
                             apply=_deleter(ctx, avp, p.policy_id))
                      for p in sorted(deletes, key=lambda p: (p.annotation or "", p.policy_id))]
    return creates + updates + delete_changes


def _why_delete(policy: StorePolicy, planned_ids: set[str]) -> str:
    if policy.annotation is None:
        return "no @id annotation: not from this plan"
    if policy.annotation not in planned_ids:
        return f'@id "{policy.annotation}" is not in the plan'
    return f'a second policy with @id "{policy.annotation}"'



def same_policy(current: dict[str, Any] | None, planned: dict[str, Any]) -> bool:
    if current is None:
        return False
    if current == planned:
        return True
    # Without any annotation, the stored copy can only be compared on what it decides.
    return not current.get("annotations") and {**current, "annotations": planned.get("annotations")} == planned


def _definition(planned: PlannedPolicy) -> dict[str, Any]:
    static: dict[str, Any] = {"statement": planned.statement}
    if planned.description is not None:
        static["description"] = planned.description
    return {"static": static}


def _creator(ctx: Context, avp: Any, planned: PlannedPolicy) -> Any:
    def create() -> None:
        created = avp.create_policy(policyStoreId=ctx.record.policy_store_id, definition=_definition(planned))
        ctx.record.policies[planned.policy_id] = created["policyId"]

    return create


def _updater(ctx: Context, avp: Any, planned: PlannedPolicy, policy_id: str) -> Any:
    return lambda: avp.update_policy(policyStoreId=ctx.record.policy_store_id, policyId=policy_id,
                                     definition=_definition(planned))


def _replacer(ctx: Context, avp: Any, planned: PlannedPolicy, old_id: str) -> Any:
    def replace() -> None:
        created = avp.create_policy(policyStoreId=ctx.record.policy_store_id, definition=_definition(planned))
        ctx.record.policies[planned.policy_id] = created["policyId"]
        avp.delete_policy(policyStoreId=ctx.record.policy_store_id, policyId=old_id)

    return replace


def _deleter(ctx: Context, avp: Any, policy_id: str) -> Any:
    def delete() -> None:
        try:
            avp.delete_policy(policyStoreId=ctx.record.policy_store_id, policyId=policy_id)
        except Exception as exc:
            if not is_not_found(exc):  # already gone: the state we want
                raise

    return delete
