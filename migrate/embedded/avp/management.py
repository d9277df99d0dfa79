"""Control-plane operations: policy stores, schemas, identity sources, policies.

Behaviour notes cite the botocore model's documentation (which is the AVP API reference text) or the AVP user
guide page they come from; where both are silent the choice is marked UNCONFIRMED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from migrate.embedded.avp import limits
from migrate.embedded.avp.backend import Backend, page
from migrate.embedded.avp.errors import (
    IDENTITY_SOURCE,
    POLICY,
    POLICY_STORE,
    SCHEMA,
    AvpServiceError,
    conflict,
    not_found,
    quota_exceeded,
    validation_error,
)
from migrate.embedded.avp.policies import STATEMENT_PATH, parse_statement, validate_against_schema
from migrate.embedded.avp.schema import SCHEMA_QUOTA_BYTES, parse_schema
from migrate.embedded.avp.store import (
    DEFAULT_PRINCIPAL_ENTITY_TYPE,
    USER_POOL_ARN,
    IdentitySourceRecord,
    PolicyRecord,
    PolicyStoreRecord,
    iso_timestamp,
    new_id,
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]

# "Policy stores per Region per account: 30,000" with quota code L-919F2C9C (AVP user guide, Quotas).
POLICY_STORE_QUOTA = 30_000
POLICY_STORE_QUOTA_CODE = "L-919F2C9C"
# "Identity sources per policy store: 1, not adjustable" (AVP user guide, Quotas).
IDENTITY_SOURCE_QUOTA = 1
CEDAR_VERSION = "CEDAR_4"  # cedarpy 4.x evaluates; GetPolicyStore reports the Cedar major version


class Management:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreatePolicyStore": self.create_policy_store,
            "GetPolicyStore": self.get_policy_store,
            "ListPolicyStores": self.list_policy_stores,
            "UpdatePolicyStore": self.update_policy_store,
            "DeletePolicyStore": self.delete_policy_store,
            "PutSchema": self.put_schema,
            "GetSchema": self.get_schema,
            "CreateIdentitySource": self.create_identity_source,
            "GetIdentitySource": self.get_identity_source,
            "ListIdentitySources": self.list_identity_sources,
            "UpdateIdentitySource": self.update_identity_source,
            "DeleteIdentitySource": self.delete_identity_source,
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "ListPolicies": self.list_policies,
            "UpdatePolicy": self.update_policy,
            "DeletePolicy": self.delete_policy,
            "BatchGetPolicy": self.batch_get_policy,
        }

    # --- policy stores --------------------------------------------------------------------------------------

    def create_policy_store(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        with b.lock:
            replayed = b.replay("CreatePolicyStore", params)
            if replayed is not None:
                return replayed
            if len(b.state.stores) >= POLICY_STORE_QUOTA:
                raise quota_exceeded("The number of policy stores in this Region would exceed the quota.",
                                     POLICY_STORE, quota_code=POLICY_STORE_QUOTA_CODE)
            now = b.now()
            store_id = new_id()
            store = PolicyStoreRecord(
                policy_store_id=store_id,
                arn=f"arn:aws:verifiedpermissions::{b.account_id}:policy-store/{store_id}",
                validation_mode=params["validationSettings"]["mode"],
                description=params.get("description"),
                # "The default state is DISABLED" (botocore model, CreatePolicyStoreInput.deletionProtection).
                deletion_protection=params.get("deletionProtection") or "DISABLED",
                tags=dict(params.get("tags") or {}),
                created=now, updated=now,
                encryption=params.get("encryptionSettings"),
            )
            b.state.stores[store_id] = store
            result = {"policyStoreId": store_id, "arn": store.arn, **_dates(now, now)}
            b.remember("CreatePolicyStore", params, result, (store_id, POLICY_STORE))
            return result

    def get_policy_store(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            result: dict[str, Any] = {
                "policyStoreId": store.policy_store_id,
                "arn": store.arn,
                "validationSettings": {"mode": store.validation_mode},
                "createdDate": iso_timestamp(store.created),
                "lastUpdatedDate": iso_timestamp(store.updated),
                "deletionProtection": store.deletion_protection,
                "encryptionState": _encryption_state(store.encryption),
                "cedarVersion": CEDAR_VERSION,
            }
            if store.description is not None:
                result["description"] = store.description
            # Tags only when asked for, and omitted when there are none (GetPolicyStoreInput.tags).
            if params.get("tags") and store.tags:
                result["tags"] = dict(store.tags)
            return result

    def list_policy_stores(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            stores = list(self.backend.state.stores.values())
            items, next_token = page(stores, params, "policy-stores")
            result: dict[str, Any] = {"policyStores": [_store_item(s) for s in items]}
            if next_token:
                result["nextToken"] = next_token
            return result

    def update_policy_store(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        with b.lock:
            store = b.store(params["policyStoreId"])
            store.validation_mode = params["validationSettings"]["mode"]
            if params.get("deletionProtection"):
                store.deletion_protection = params["deletionProtection"]
            if "description" in params:
                store.description = params["description"]
            store.updated = b.now()
            return {"policyStoreId": store.policy_store_id, "arn": store.arn,
                    **_dates(store.created, store.updated)}

    def delete_policy_store(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        with b.lock:
            store = b.state.stores.get(params["policyStoreId"])
            # "If you specify a policy store that does not exist, the request response will still return a
            # successful HTTP 200 status code" (botocore model, DeletePolicyStore).
            if store is None:
                return {}
            # InvalidStateException: "The policy store can't be deleted because deletion protection is
            # enabled" (botocore model, InvalidStateException).
            if store.deletion_protection == "ENABLED":
                raise AvpServiceError("InvalidStateException",
                                      f"The policy store {store.policy_store_id!r} can't be deleted because "
                                      "deletion protection is enabled. Disable it with UpdatePolicyStore "
                                      "first.")
            del b.state.stores[store.policy_store_id]
            return {}

    # --- schema ---------------------------------------------------------------------------------------------

    def put_schema(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        definition = params["definition"]
        if "cedarJson" not in definition:
            raise validation_error("The schema definition must be given as cedarJson.", path="definition")
        text = definition["cedarJson"]
        if len(text.encode("utf-8")) > SCHEMA_QUOTA_BYTES:
            # Quota from the AVP quotas page; the exception type past it is UNCONFIRMED.
            raise quota_exceeded(f"The schema is larger than the {SCHEMA_QUOTA_BYTES}-byte limit.", SCHEMA,
                                 resource_id=params["policyStoreId"])
        with b.lock:
            store = b.store(params["policyStoreId"])
            now = b.now()
            schema = parse_schema(text, now, store.schema)
            limits.check_schema_namespaces(schema.namespaces)
            # "To delete the schema, run PutSchema with {}" (botocore model, SchemaDefinition.cedarJson).
            # Existing policies are not re-validated (PutSchema documentation).
            store.schema = None if schema.is_empty else schema
            store.updated = now
            return {"policyStoreId": store.policy_store_id, "namespaces": schema.namespaces,
                    **_dates(schema.created, schema.updated)}

    def get_schema(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            if store.schema is None:
                # UNCONFIRMED: a store without a schema answers ResourceNotFoundException (resource type
                # SCHEMA).
                raise not_found(SCHEMA, store.policy_store_id, "schema of policy store")
            schema = store.schema
            return {"policyStoreId": store.policy_store_id, "schema": schema.text,
                    "namespaces": schema.namespaces, **_dates(schema.created, schema.updated)}

    # --- identity sources -----------------------------------------------------------------------------------

    def create_identity_source(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        config = _cognito_configuration(params["configuration"], "configuration")
        with b.lock:
            store = b.store(params["policyStoreId"])
            replayed = b.replay("CreateIdentitySource", params)
            if replayed is not None:
                return replayed
            self._check_user_pool(config["userPoolArn"],
                                  "configuration.cognitoUserPoolConfiguration.userPoolArn")
            if len(store.identity_sources) >= IDENTITY_SOURCE_QUOTA:
                # "Identity sources per policy store: 1, not adjustable" (AVP quotas). Answering
                # ServiceQuotaExceededException (modelled for CreateIdentitySource) is UNCONFIRMED.
                existing = next(iter(store.identity_sources))
                raise quota_exceeded("A policy store can have only one identity source, and this one already "
                                     "has one.", IDENTITY_SOURCE, resource_id=existing)
            now = b.now()
            source = IdentitySourceRecord(
                identity_source_id=new_id(),
                user_pool_arn=config["userPoolArn"],
                client_ids=list(config.get("clientIds") or []),
                group_entity_type=(config.get("groupConfiguration") or {}).get("groupEntityType"),
                principal_entity_type=params.get("principalEntityType") or DEFAULT_PRINCIPAL_ENTITY_TYPE,
                created=now, updated=now,
            )
            store.identity_sources[source.identity_source_id] = source
            result = {**_dates(now, now), "identitySourceId": source.identity_source_id,
                      "policyStoreId": store.policy_store_id}
            b.remember("CreateIdentitySource", params, result, (source.identity_source_id, IDENTITY_SOURCE))
            return result

    def _check_user_pool(self, arn: str, path: str) -> None:
        match = USER_POOL_ARN.fullmatch(arn)
        if match is None:
            raise validation_error(f"{arn!r} is not a Cognito user pool ARN.", path=path)
        # "Verified Permissions only works with Amazon Cognito user pools in the same AWS account" (AVP user
        # guide, identity-sources-cognito).
        if match.group(3) != self.backend.account_id:
            raise validation_error("The user pool must be in the same AWS account as the policy store.",
                                   path=path)
        if self.backend.user_pool_exists is not None and not self.backend.user_pool_exists(arn):
            # UNCONFIRMED wording; AVP refuses an identity source whose user pool does not exist.
            raise validation_error(f"The user pool {arn} does not exist.", path=path)

    def get_identity_source(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            source = _identity_source(store, params["identitySourceId"])
            return {**_identity_source_view(store, source), "configuration": _configuration(source)}

    def list_identity_sources(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            sources = list(store.identity_sources.values())
            for wanted in [f.get("principalEntityType") for f in params.get("filters") or []]:
                if wanted:
                    sources = [s for s in sources if s.principal_entity_type == wanted]
            items, next_token = page(sources, params, f"identity-sources/{store.policy_store_id}")
            result: dict[str, Any] = {"identitySources": [
                {**_identity_source_view(store, s), "configuration": _configuration(s)} for s in items]}
            if next_token:
                result["nextToken"] = next_token
            return result

    def update_identity_source(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        config = _cognito_configuration(params["updateConfiguration"], "updateConfiguration")
        with b.lock:
            store = b.store(params["policyStoreId"])
            source = _identity_source(store, params["identitySourceId"])
            self._check_user_pool(config["userPoolArn"],
                                  "updateConfiguration.cognitoUserPoolConfiguration.userPoolArn")
            source.user_pool_arn = config["userPoolArn"]
            source.client_ids = list(config.get("clientIds") or [])
            source.group_entity_type = (config.get("groupConfiguration") or {}).get("groupEntityType")
            if params.get("principalEntityType"):
                source.principal_entity_type = params["principalEntityType"]
            source.updated = b.now()
            return {**_dates(source.created, source.updated), "identitySourceId": source.identity_source_id,
                    "policyStoreId": store.policy_store_id}

    def delete_identity_source(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            source = _identity_source(store, params["identitySourceId"])
            del store.identity_sources[source.identity_source_id]
            return {}

    # --- policies -------------------------------------------------------------------------------------------

    def create_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        definition = params["definition"]
        if "templateLinked" in definition:
            raise validation_error("Template-linked policies are not supported by the local Verified "
                                   "Permissions endpoint (it has no policy templates); create a static "
                                   "policy.", path="definition.templateLinked")
        static = definition["static"]
        parsed = parse_statement(static["statement"])
        with b.lock:
            store = b.store(params["policyStoreId"])
            replayed = b.replay("CreatePolicy", params)
            if replayed is not None:
                return replayed
            name = params.get("name") or None
            same_name = store.find_policy(_name_reference(name)) if name is not None else None
            if same_name is not None:
                # "If you specify a name that is already associated with another policy in the policy store,
                # you receive a ConflictException error" (botocore model, CreatePolicyInput.name).
                raise conflict(f"A policy named {name!r} already exists in this policy store.",
                               [(same_name.policy_id, POLICY)])
            if store.validation_mode == "STRICT":
                validate_against_schema(static["statement"], store.schema)
            now = b.now()
            policy = PolicyRecord(policy_id=new_id(), statement=static["statement"],
                                  description=static.get("description"), name=name, parsed=parsed,
                                  created=now, updated=now)
            store.policies[policy.policy_id] = policy
            store.policies_changed()
            result = _policy_summary(store, policy)
            b.remember("CreatePolicy", params, result, (policy.policy_id, POLICY))
            return result

    def get_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            policy = _policy(store, params["policyId"])
            static: dict[str, Any] = {"statement": policy.statement}
            if policy.description is not None:
                static["description"] = policy.description
            result = {**_policy_summary(store, policy), "definition": {"static": static}}
            if policy.name is not None:
                result["name"] = policy.name
            return result

    def list_policies(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            policies = [p for p in store.policies.values() if _matches(p, params.get("filter") or {})]
            items, next_token = page(policies, params, f"policies/{store.policy_store_id}")
            listed = []
            for policy in items:
                item = {**_policy_summary(store, policy), "definition": {"static": _static_item(policy)}}
                if policy.name is not None:
                    item["name"] = policy.name
                listed.append(item)
            result: dict[str, Any] = {"policies": listed}
            if next_token:
                result["nextToken"] = next_token
            return result

    def update_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        b = self.backend
        with b.lock:
            store = b.store(params["policyStoreId"])
            policy = _policy(store, params["policyId"])
            static = (params.get("definition") or {}).get("static")
            name = params.get("name")
            if name and name != policy.name:
                other = store.find_policy(_name_reference(name))
                if other is not None and other.policy_id != policy.policy_id:
                    raise conflict(f"A policy named {name!r} already exists in this policy store.",
                                   [(other.policy_id, POLICY)])
            if static is not None:
                parsed = parse_statement(static["statement"])
                _check_allowed_change(policy.parsed.est, parsed.est)
                if store.validation_mode == "STRICT":
                    validate_against_schema(static["statement"], store.schema)
                policy.statement, policy.parsed = static["statement"], parsed
                if "description" in static:
                    policy.description = static["description"]
                store.policies_changed()
            if name is not None:
                # "To remove a name, set it to an empty string" (botocore model, UpdatePolicyInput.name).
                policy.name = name or None
            policy.updated = b.now()
            return _policy_summary(store, policy)

    def delete_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.backend.lock:
            store = self.backend.store(params["policyStoreId"])
            policy = _policy(store, params["policyId"])
            del store.policies[policy.policy_id]
            store.policies_changed()
            return {}

    def batch_get_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        results, errors = [], []
        with self.backend.lock:
            for request in params["requests"]:
                store_id, policy_id = request["policyStoreId"], request["policyId"]
                store = self.backend.state.stores.get(store_id)
                policy = store.find_policy(policy_id) if store is not None else None
                if store is None or policy is None:
                    code = "POLICY_STORE_NOT_FOUND" if store is None else "POLICY_NOT_FOUND"
                    errors.append({"code": code, "policyStoreId": store_id, "policyId": policy_id,
                                   "message": f"{'policy store' if store is None else 'policy'} not found"})
                    continue
                item = {"policyStoreId": store_id, "policyId": policy.policy_id, "policyType": "STATIC",
                        "definition": {"static": _static_detail(policy)},
                        "createdDate": iso_timestamp(policy.created),
                        "lastUpdatedDate": iso_timestamp(policy.updated)}
                if policy.name is not None:
                    item["name"] = policy.name
                results.append(item)
        return {"results": results, "errors": errors}


# --- helpers ------------------------------------------------------------------------------------------------


def _dates(created: float, updated: float) -> dict[str, str]:
    return {"createdDate": iso_timestamp(created), "lastUpdatedDate": iso_timestamp(updated)}


def _encryption_state(settings: dict[str, Any] | None) -> dict[str, Any]:
    kms = (settings or {}).get("kmsEncryptionSettings")
    if kms:
        context = kms.get("encryptionContext") or {}
        return {"kmsEncryptionState": {"key": kms["key"], "encryptionContext": context}}
    return {"default": {}}


def _store_item(store: PolicyStoreRecord) -> dict[str, Any]:
    item = {"policyStoreId": store.policy_store_id, "arn": store.arn, **_dates(store.created, store.updated)}
    if store.description is not None:
        item["description"] = store.description
    return item


def _cognito_configuration(configuration: dict[str, Any], path: str) -> dict[str, Any]:
    if "cognitoUserPoolConfiguration" not in configuration:
        raise AvpServiceError("NotImplementedException",
                              "The local Verified Permissions endpoint supports only Amazon Cognito identity "
                              f"sources ({path}.cognitoUserPoolConfiguration).", status=501)
    return configuration["cognitoUserPoolConfiguration"]


def _identity_source(store: PolicyStoreRecord, identity_source_id: str) -> IdentitySourceRecord:
    source = store.identity_sources.get(identity_source_id)
    if source is None:
        raise not_found(IDENTITY_SOURCE, identity_source_id, "identity source")
    return source


def _identity_source_view(store: PolicyStoreRecord, source: IdentitySourceRecord) -> dict[str, Any]:
    return {
        "createdDate": iso_timestamp(source.created),
        # Deprecated "details", still returned beside "configuration" (botocore model,
        # GetIdentitySourceOutput).
        "details": {"clientIds": list(source.client_ids), "userPoolArn": source.user_pool_arn,
                    "discoveryUrl": source.issuer, "openIdIssuer": "COGNITO"},
        "identitySourceId": source.identity_source_id,
        "lastUpdatedDate": iso_timestamp(source.updated),
        "policyStoreId": store.policy_store_id,
        "principalEntityType": source.principal_entity_type,
    }


def _configuration(source: IdentitySourceRecord) -> dict[str, Any]:
    cognito: dict[str, Any] = {"userPoolArn": source.user_pool_arn, "clientIds": list(source.client_ids),
                               "issuer": source.issuer}
    if source.group_entity_type is not None:
        cognito["groupConfiguration"] = {"groupEntityType": source.group_entity_type}
    return {"cognitoUserPoolConfiguration": cognito}


def _name_reference(name: str) -> str:
    # Names are referenced as "name/<name>"; accept a name given with or without that prefix (UNCONFIRMED
    # whether AVP stores the prefix as part of the name).
    return name if name.startswith("name/") else f"name/{name}"


def _policy(store: PolicyStoreRecord, reference: str) -> PolicyRecord:
    policy = store.find_policy(reference)
    if policy is None:
        raise not_found(POLICY, reference, "policy")
    return policy


def _policy_summary(store: PolicyStoreRecord, policy: PolicyRecord) -> dict[str, Any]:
    return {"policyStoreId": store.policy_store_id, "policyId": policy.policy_id, "policyType": "STATIC",
            **policy.parsed.output_fields(), "createdDate": iso_timestamp(policy.created),
            "lastUpdatedDate": iso_timestamp(policy.updated)}


def _static_item(policy: PolicyRecord) -> dict[str, Any]:
    # StaticPolicyDefinitionItem has only the description: ListPolicies does not return statements.
    return {"description": policy.description} if policy.description is not None else {}


def _static_detail(policy: PolicyRecord) -> dict[str, Any]:
    detail: dict[str, Any] = {"statement": policy.statement}
    if policy.description is not None:
        detail["description"] = policy.description
    return detail


def _matches(policy: PolicyRecord, policy_filter: dict[str, Any]) -> bool:
    """ListPolicies filter: principal/resource (an identifier or ``unspecified``), policyType, template."""
    if policy_filter.get("policyType") and policy_filter["policyType"] != "STATIC":
        return False
    if policy_filter.get("policyTemplateId"):
        return False  # only static policies exist here
    for part in ("principal", "resource"):
        reference = policy_filter.get(part)
        if not reference:
            continue
        actual = getattr(policy.parsed, part)
        if reference.get("unspecified"):
            if actual is not None:
                return False
        elif reference.get("identifier") is not None and actual != reference["identifier"]:
            return False
    return True


def _check_allowed_change(before: dict[str, Any], after: dict[str, Any]) -> None:
    """UpdatePolicy may change the actions and the conditions only (botocore model, UpdatePolicy)."""
    for part, label in (("effect", "effect (permit or forbid)"), ("principal", "principal"),
                        ("resource", "resource")):
        if before.get(part) != after.get(part):
            # UNCONFIRMED: the error type for a forbidden change; ValidationException fits a bad parameter.
            raise validation_error(f"UpdatePolicy cannot change the {label} of a static policy; create a new "
                                   "policy instead.", path=STATEMENT_PATH)
