"""CloudFormation resource types moto 5.2.5 lacks and the plan's template uses.

* ``AWS::VerifiedPermissions::PolicyStore``, ``::IdentitySource``, ``::Policy``: backed by the local Verified
  Permissions endpoint (the same service boto3 reaches), through the API operations their CloudFormation handlers
  call. Behaviour from the resource schemas (as cfn-lint ships them) and the CloudFormation template reference:
  ``Ref`` of a policy store is its id and ``Fn::GetAtt`` gives ``Arn`` and ``PolicyStoreId``; an identity source
  gives ``IdentitySourceId``, a policy ``PolicyId`` and ``PolicyType``; ``PolicyStoreId`` is create-only for an
  identity source and a policy (a change replaces the resource); other changes are updates: UpdatePolicyStore and
  PutSchema, UpdateIdentitySource, UpdatePolicy (which AVP refuses for a change of effect, principal or resource
  scope: the stack update then fails, as it would on AWS).
* ``AWS::Logs::LogGroup`` updates, which moto cannot make (it drops the resource from the stack): a change of
  ``RetentionInDays`` is PutRetentionPolicy (or DeleteRetentionPolicy when removed); ``LogGroupName`` is
  create-only (replacement).
* ``AWS::ApiGateway::Method``: moto's model drops ``AuthorizerId`` and ``AuthorizationScopes``, requires an
  integration ``Uri`` even for MOCK, and cannot update. Here: PutMethod with every property the API reference's
  PutMethod takes, PutIntegration when ``Integration`` is given; an update changes the method in place
  (CloudFormation template reference: ``RestApiId``, ``ResourceId`` and ``HttpMethod`` replace the resource,
  everything else updates it), keeping its integration when ``Integration`` is unchanged.
* ``AWS::ApiGateway::Authorizer``: on moto's API Gateway backend. ``Ref`` is the authorizer id;
  ``RestApiId`` is create-only; other properties are updated in place (UpdateAuthorizer).

An error from the backend makes the stack operation fail, as a handler's failure does on AWS.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from moto.core.common_models import CloudFormationModel

_state: dict[str, Any] = {}


def attach(aws: Any) -> None:
    """The embedded AWS whose local Verified Permissions endpoint backs the AVP types."""
    _state["aws"] = aws


def _avp(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    aws = _state.get("aws")
    if aws is None or aws.avp is None:
        raise RuntimeError("the local Verified Permissions endpoint is not running")
    return aws.avp.dispatch(operation, params)


def _props(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def _cognito(configuration: dict[str, Any]) -> dict[str, Any]:
    cognito = configuration.get("CognitoUserPoolConfiguration") or {}
    body: dict[str, Any] = {"userPoolArn": cognito.get("UserPoolArn")}
    if cognito.get("ClientIds") is not None:
        body["clientIds"] = list(cognito["ClientIds"])
    group = cognito.get("GroupConfiguration")
    if group:
        body["groupConfiguration"] = {"groupEntityType": group.get("GroupEntityType")}
    return {"cognitoUserPoolConfiguration": body}


def _replaced(cls: Any, original: Any, new_resource_name: str, cloudformation_json: Any, account_id: str,
              region_name: str) -> Any:
    """A create-only property changed: CloudFormation creates the replacement, then deletes the original."""
    replacement = cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)
    original.delete(account_id, region_name)
    return replacement


def _avp_delete(operation: str, params: dict[str, Any]) -> None:
    """Deleting what is already gone (with its store) succeeds, as CloudFormation treats a handler's NotFound."""
    try:
        _avp(operation, params)
    except Exception as exc:
        if "ResourceNotFound" not in type(exc).__name__ + str(getattr(exc, "code", "")):
            raise


class PolicyStore(CloudFormationModel):
    def __init__(self, policy_store_id: str, arn: str) -> None:
        self.policy_store_id = policy_store_id
        self.arn = arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::VerifiedPermissions::PolicyStore"

    @property
    def physical_resource_id(self) -> str:
        return self.policy_store_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Arn", "PolicyStoreId")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.arn if attribute_name == "Arn" else self.policy_store_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> PolicyStore:
        props = _props(cloudformation_json)
        params: dict[str, Any] = {"validationSettings": {"mode": (props.get("ValidationSettings") or {}).get("Mode")}}
        if props.get("Description") is not None:
            params["description"] = props["Description"]
        created = _avp("CreatePolicyStore", params)
        store = cls(created["policyStoreId"], created["arn"])
        try:
            store._put_schema(props)
        except Exception:
            _avp("DeletePolicyStore", {"policyStoreId": store.policy_store_id})  # a failed create leaves nothing
            raise
        return store

    def _put_schema(self, props: dict[str, Any]) -> None:
        cedar_json = (props.get("Schema") or {}).get("CedarJson")
        if cedar_json is not None:
            text = cedar_json if isinstance(cedar_json, str) else json.dumps(cedar_json)
            _avp("PutSchema", {"policyStoreId": self.policy_store_id, "definition": {"cedarJson": text}})

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str, region_name: str) -> PolicyStore:
        props = _props(cloudformation_json)
        params: dict[str, Any] = {"policyStoreId": original_resource.policy_store_id,
                                  "validationSettings": {"mode": (props.get("ValidationSettings") or {}).get("Mode")}}
        if props.get("Description") is not None:
            params["description"] = props["Description"]
        _avp("UpdatePolicyStore", params)
        original_resource._put_schema(props)
        return original_resource  # type: ignore[no-any-return]

    def delete(self, account_id: str, region_name: str) -> None:
        _avp("DeletePolicyStore", {"policyStoreId": self.policy_store_id})


class IdentitySource(CloudFormationModel):
    def __init__(self, policy_store_id: str, identity_source_id: str) -> None:
        self.policy_store_id = policy_store_id
        self.identity_source_id = identity_source_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::VerifiedPermissions::IdentitySource"

    @property
    def physical_resource_id(self) -> str:
        return self.identity_source_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("IdentitySourceId",)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.identity_source_id

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> IdentitySource:
        props = _props(cloudformation_json)
        params: dict[str, Any] = {"policyStoreId": props.get("PolicyStoreId"),
                                  "configuration": _cognito(props.get("Configuration") or {})}
        if props.get("PrincipalEntityType") is not None:
            params["principalEntityType"] = props["PrincipalEntityType"]
        created = _avp("CreateIdentitySource", params)
        return cls(created["policyStoreId"], created["identitySourceId"])

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str) -> IdentitySource:
        props = _props(cloudformation_json)
        if props.get("PolicyStoreId") != original_resource.policy_store_id:  # create-only: replacement
            return _replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        params: dict[str, Any] = {"policyStoreId": original_resource.policy_store_id,
                                  "identitySourceId": original_resource.identity_source_id,
                                  "updateConfiguration": _cognito(props.get("Configuration") or {})}
        if props.get("PrincipalEntityType") is not None:
            params["principalEntityType"] = props["PrincipalEntityType"]
        _avp("UpdateIdentitySource", params)
        return original_resource  # type: ignore[no-any-return]

    def delete(self, account_id: str, region_name: str) -> None:
        _avp_delete("DeleteIdentitySource", {"policyStoreId": self.policy_store_id,
                                             "identitySourceId": self.identity_source_id})


class Policy(CloudFormationModel):
    def __init__(self, policy_store_id: str, policy_id: str, policy_type: str) -> None:
        self.policy_store_id = policy_store_id
        self.policy_id = policy_id
        self.policy_type = policy_type

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::VerifiedPermissions::Policy"

    @property
    def physical_resource_id(self) -> str:
        return self.policy_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("PolicyId", "PolicyType")

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.policy_id if attribute_name == "PolicyId" else self.policy_type

    @staticmethod
    def _definition(props: dict[str, Any]) -> dict[str, Any]:
        static = (props.get("Definition") or {}).get("Static")
        if static is None:
            raise ValueError("only static policies are supported by the embedded AWS")
        body: dict[str, Any] = {"statement": static.get("Statement")}
        if static.get("Description") is not None:
            body["description"] = static["Description"]
        return {"static": body}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Policy:
        props = _props(cloudformation_json)
        created = _avp("CreatePolicy", {"policyStoreId": props.get("PolicyStoreId"),
                                        "definition": cls._definition(props)})
        return cls(created["policyStoreId"], created["policyId"], created.get("policyType", "STATIC"))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str, region_name: str) -> Policy:
        props = _props(cloudformation_json)
        if props.get("PolicyStoreId") != original_resource.policy_store_id:  # create-only: replacement
            return _replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        _avp("UpdatePolicy", {"policyStoreId": original_resource.policy_store_id,
                              "policyId": original_resource.policy_id, "definition": cls._definition(props)})
        return original_resource  # type: ignore[no-any-return]

    def delete(self, account_id: str, region_name: str) -> None:
        _avp_delete("DeletePolicy", {"policyStoreId": self.policy_store_id, "policyId": self.policy_id})


class ApiGatewayAuthorizer(CloudFormationModel):
    def __init__(self, rest_api_id: str, authorizer_id: str) -> None:
        self.rest_api_id = rest_api_id
        self.authorizer_id = authorizer_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::Authorizer"

    @property
    def physical_resource_id(self) -> str:
        return self.authorizer_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("AuthorizerId",)

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.authorizer_id

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        from moto.apigateway.models import apigateway_backends

        return apigateway_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> ApiGatewayAuthorizer:
        props = _props(cloudformation_json)
        ttl = props.get("AuthorizerResultTtlInSeconds")
        created = cls._backend(account_id, region_name).create_authorizer(
            restapi_id=props["RestApiId"], name=props["Name"], authorizer_type=props["Type"],
            provider_arns=props.get("ProviderARNs"), auth_type=props.get("AuthType"),
            authorizer_uri=props.get("AuthorizerUri"), authorizer_credentials=props.get("AuthorizerCredentials"),
            identity_source=props.get("IdentitySource"),
            identiy_validation_expression=props.get("IdentityValidationExpression"),
            authorizer_result_ttl=None if ttl is None else int(ttl))
        return cls(props["RestApiId"], created["id"] if isinstance(created, dict) else created.id)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str,
                                        region_name: str) -> ApiGatewayAuthorizer:
        props = _props(cloudformation_json)
        if props.get("RestApiId") != original_resource.rest_api_id:  # create-only: replacement
            return _replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        paths = {"Name": "/name", "Type": "/type", "AuthorizerUri": "/authorizerUri",
                 "IdentitySource": "/identitySource", "AuthorizerResultTtlInSeconds": "/authorizerResultTtlInSeconds",
                 "IdentityValidationExpression": "/identityValidationExpression",
                 "AuthorizerCredentials": "/authorizerCredentials"}
        operations = [{"op": "replace", "path": path, "value": str(props[key])}
                      for key, path in paths.items() if key in props]
        cls._backend(account_id, region_name).update_authorizer(original_resource.rest_api_id,
                                                                original_resource.authorizer_id, operations)
        return original_resource  # type: ignore[no-any-return]

    def delete(self, account_id: str, region_name: str) -> None:
        # Deleting what is already gone succeeds (CloudFormation treats a handler's NotFound on delete so).
        with contextlib.suppress(KeyError):
            self._backend(account_id, region_name).delete_authorizer(self.rest_api_id, self.authorizer_id)


def _update_log_group(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                      account_id: str, region_name: str) -> Any:
    from moto.logs.models import logs_backends

    props = _props(cloudformation_json)
    backend = logs_backends[account_id][region_name]
    if props.get("LogGroupName", original_resource.name) != original_resource.name:  # create-only: replacement
        return _replaced(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    if props.get("RetentionInDays") is None:
        backend.delete_retention_policy(original_resource.name)
    else:
        backend.put_retention_policy(original_resource.name, int(props["RetentionInDays"]))
    return original_resource


def _put_method(props: dict[str, Any], account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    backend = apigateway_backends[account_id][region_name]
    api, resource, verb = props["RestApiId"], props["ResourceId"], props["HttpMethod"]
    method = backend.put_method(
        function_id=api, resource_id=resource, method_type=verb,
        authorization_type=props.get("AuthorizationType", "NONE"), api_key_required=props.get("ApiKeyRequired"),
        request_parameters=props.get("RequestParameters"), request_models=props.get("RequestModels"),
        operation_name=props.get("OperationName"), authorizer_id=props.get("AuthorizerId"),
        authorization_scopes=props.get("AuthorizationScopes"), request_validator_id=props.get("RequestValidatorId"))
    integration = props.get("Integration")
    if integration:
        backend.put_integration(
            function_id=api, resource_id=resource, method_type=verb, integration_type=integration.get("Type"),
            uri=integration.get("Uri"), integration_method=integration.get("IntegrationHttpMethod"),
            credentials=integration.get("Credentials"), request_templates=integration.get("RequestTemplates"),
            passthrough_behavior=integration.get("PassthroughBehavior"),
            request_parameters=integration.get("RequestParameters"))
    method.rest_api_id, method.resource_id = api, resource  # for the update and delete below
    return method


def _create_method(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                   **kwargs: Any) -> Any:
    return _put_method(_props(cloudformation_json), account_id, region_name)


def _update_method(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                   account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    props = _props(cloudformation_json)
    backend = apigateway_backends[account_id][region_name]
    old = (getattr(original_resource, "rest_api_id", None), getattr(original_resource, "resource_id", None),
           original_resource.http_method)
    same_place = old == (props["RestApiId"], props["ResourceId"], props["HttpMethod"])
    integration = original_resource.method_integration if same_place and not props.get("Integration") else None
    if all(old):
        backend.delete_method(old[0], old[1], old[2])
    method = _put_method(props, account_id, region_name)
    if integration is not None:  # kept as it was: the template did not describe one
        method.method_integration = integration
    return method


def install() -> None:
    """Register the types (moto finds models among CloudFormationModel's subclasses, through cached lookups)."""
    from moto.cloudformation import parsing
    from moto.logs.models import LogGroup

    LogGroup.update_from_cloudformation_json = classmethod(_update_log_group)  # type: ignore[method-assign,assignment]
    from moto.apigateway.models import Method

    Method.create_from_cloudformation_json = classmethod(_create_method)  # type: ignore[method-assign,assignment]
    Method.update_from_cloudformation_json = classmethod(_update_method)  # type: ignore[method-assign,assignment]
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
