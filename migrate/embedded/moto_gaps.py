"""APIs that moto 5.2.5 lacks and avp-migrate calls, filled in faithfully to the AWS API reference.

Production code never knows about these: it makes the same boto3 calls it makes against a real account. Each
gap is installed by patching moto's response/backends classes once per process (:func:`install`).

Filled gaps:

* **API Gateway UpdateMethod** (``PATCH /restapis/{id}/resources/{rid}/methods/{verb}``): moto raises
  NotImplementedError. Implemented for the paths the toolkit patches, with the operations the API Gateway
  "Patch operations" reference lists for a Method: ``replace`` on ``/authorizationType``, ``/authorizerId``,
  ``/apiKeyRequired``, ``/operationName``, ``/requestValidatorId``; ``add``/``remove`` on
  ``/authorizationScopes`` (one scope per operation, in ``value``). Anything else is a BadRequestException, as
  API Gateway answers unsupported patches. An authorizer id must exist on the API (``Invalid authorizer ID
  specified``) and match the type: CUSTOM needs a TOKEN/REQUEST authorizer, COGNITO_USER_POOLS a Cognito one.
* **DynamoDB conditional writes are atomic per item**: DynamoDB evaluates a write's condition and applies the
  write as one step (DynamoDB developer guide, "Condition expressions"); moto 5.2.5's threaded server checks and
  inserts without a lock in between (``moto/dynamodb/models/table.py``, ``Table.put_item``), so two concurrent
  conditional puts of the same key could both succeed. The table's write and read operations are serialized.
* **Lambda RevisionId**: moto 5.2.5 gives a function one RevisionId for life and ignores the ``RevisionId``
  parameter of UpdateFunctionConfiguration and UpdateFunctionCode. Lambda changes the RevisionId on every update
  and, when the request names a RevisionId that is not the latest, refuses the update with
  PreconditionFailedException (HTTP 412) (Lambda API reference, UpdateFunctionConfiguration: "RevisionId: Update
  the function only if the revision ID matches the ID that's specified"). avp-migrate's mode-state fallback relies
  on that check, so both are filled: the check, and a new RevisionId per update.
* **API Gateway GetResources paging**: moto ignores ``limit``/``position`` and returns everything in one page.
  The real API returns at most ``limit`` items (default 25, maximum 500) and a ``position`` token; paging
  matters to us because the scan's cost (calls per resource) is part of the product.
* **Size limits** (:mod:`migrate.embedded.size_limits`): SSM parameter values by tier (4 KB Standard, 8 KB
  Advanced), a Lambda function's environment (4,096 bytes of JSON), DynamoDB items (400 KB by the documented
  count); moto accepts a 9,000-byte Standard parameter and a 6,000-byte environment.
* **Lambda GetLayerVersion's Content.Location** (:mod:`migrate.embedded.layer_content`): a link that downloads
  the layer's zip, where moto answers ``"s3://"``.
* **API Gateway TestInvokeAuthorizer** (:mod:`migrate.embedded.authorizer_invoke`): runs the authorizer's
  function in this process.
* **CloudFormation DescribeStackResources by PhysicalResourceId** (:mod:`migrate.embedded.cfn_gaps`).
* **CloudFormation types** ``AWS::VerifiedPermissions::*`` (backed by the local endpoint) and
  ``AWS::ApiGateway::Authorizer`` (:mod:`migrate.embedded.cfn_types`).
"""

from __future__ import annotations

import json
import threading
from typing import Any

_installed = False
_lock = threading.Lock()

GET_RESOURCES_DEFAULT_LIMIT = 25
GET_RESOURCES_MAX_LIMIT = 500
_METHOD_REPLACE_PATHS = {
    "/authorizationType": "authorization_type",
    "/authorizerId": "authorizer_id",
    "/apiKeyRequired": "api_key_required",
    "/operationName": "operation_name",
    "/requestValidatorId": "request_validator_id",
}
_AUTHORIZATION_TYPES = {"NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"}


def install() -> None:
    """Patch moto once per process. Safe to call repeatedly."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.apigateway.models import APIGatewayBackend
        from moto.apigateway.responses import APIGatewayResponse

        from migrate.embedded import authorizer_invoke, cfn_gaps, cfn_types, cognito_tokens, layer_content, size_limits

        APIGatewayBackend.update_method = _backend_update_method  # type: ignore[attr-defined]
        APIGatewayResponse.update_method = _response_update_method  # type: ignore[attr-defined]
        APIGatewayResponse.get_resources = _response_get_resources  # type: ignore[method-assign]
        _serialize_dynamodb_tables()
        _lambda_revision_ids()
        size_limits.install()  # after the RevisionId wrapper: a refused update changes nothing
        cognito_tokens.install_token_hooks()
        layer_content.install()
        authorizer_invoke.install()
        cfn_gaps.install()
        cfn_types.install()
        _installed = True


# --- UpdateMethod -------------------------------------------------------------------------------------------


def _response_update_method(self: Any) -> Any:
    parts = self.path.split("/")
    rest_api_id, resource_id, http_method = parts[2], parts[4], parts[6]
    patch_operations = self._get_param("patchOperations") or []
    method = self.backend.update_method(rest_api_id, resource_id, http_method, patch_operations)
    return 200, {}, json.dumps(method.to_json())


def _backend_update_method(self: Any, rest_api_id: str, resource_id: str, http_method: str,
                           patch_operations: list[dict[str, Any]]) -> Any:
    from moto.apigateway.exceptions import BadRequestException

    rest_api = self.get_rest_api(rest_api_id)  # NotFoundException when unknown, as AWS
    method = self.get_method(rest_api_id, resource_id, http_method)  # NotFoundException when unknown
    # Validate everything before changing anything: a PATCH is all or nothing.
    staged = {
        "authorization_type": method.authorization_type,
        "authorizer_id": method.authorizer_id,
        "api_key_required": method.api_key_required,
        "operation_name": method.operation_name,
        "request_validator_id": method.request_validator_id,
        "authorization_scopes": list(method.authorization_scopes or []),
    }
    for op in patch_operations:
        kind, path, value = op.get("op"), op.get("path"), op.get("value")
        if path in _METHOD_REPLACE_PATHS and kind == "replace":
            attr = _METHOD_REPLACE_PATHS[path]
            if attr == "api_key_required":
                if str(value).lower() not in {"true", "false"}:
                    raise BadRequestException(f"Invalid boolean value for apiKeyRequired: {value}")
                staged[attr] = str(value).lower() == "true"
            elif attr == "authorization_type":
                if value not in _AUTHORIZATION_TYPES:
                    raise BadRequestException(
                        f"Invalid authorization type specified. Valid values: {sorted(_AUTHORIZATION_TYPES)}")
                staged[attr] = value
            else:
                staged[attr] = value or None
        elif path == "/authorizationScopes" and kind in {"add", "remove"}:
            if not value:
                raise BadRequestException("Invalid patch operation: value is required for /authorizationScopes")
            if kind == "add" and value not in staged["authorization_scopes"]:
                staged["authorization_scopes"].append(value)
            elif kind == "remove" and value in staged["authorization_scopes"]:
                staged["authorization_scopes"].remove(value)
        else:
            raise BadRequestException(f"Invalid patch path '{path}' specified for op '{kind}'. "
                                      "Must be one of: " + ", ".join([*_METHOD_REPLACE_PATHS, "/authorizationScopes"]))
    auth_type, authorizer_id = staged["authorization_type"], staged["authorizer_id"]
    if auth_type in {"CUSTOM", "COGNITO_USER_POOLS"}:
        authorizer = rest_api.authorizers.get(authorizer_id) if authorizer_id else None
        if authorizer is None:
            raise BadRequestException("Invalid authorizer ID specified. Setting the authorization type to "
                                      f"{auth_type} requires a valid authorizer.")
        is_cognito = str(authorizer.type).upper() == "COGNITO_USER_POOLS"
        if (auth_type == "COGNITO_USER_POOLS") != is_cognito:
            raise BadRequestException(
                f"Unable to complete operation due to concurrent modification or incompatible authorizer: "
                f"authorizer {authorizer_id} has type {authorizer.type}, which cannot be used with "
                f"authorizationType {auth_type}.")
    else:
        staged["authorizer_id"] = None
    for attr, value in staged.items():
        setattr(method, attr, value or ([] if attr == "authorization_scopes" else value))
    if not method.authorization_scopes:
        method.authorization_scopes = None
    return method


# --- GetResources paging ------------------------------------------------------------------------------------


def _response_get_resources(self: Any) -> Any:
    from moto.apigateway.exceptions import BadRequestException

    rest_api_id = self.path.replace("/restapis/", "", 1).split("/")[0]
    resources = self.backend.get_resources(rest_api_id)
    limit_param = self._get_param("limit")
    try:
        limit = int(limit_param) if limit_param is not None else GET_RESOURCES_DEFAULT_LIMIT
    except ValueError:
        raise BadRequestException(f"Invalid limit: {limit_param}") from None
    if not 1 <= limit <= GET_RESOURCES_MAX_LIMIT:
        raise BadRequestException(f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                                  f"constraint: Member must have value less than or equal to {GET_RESOURCES_MAX_LIMIT}")
    position = self._get_param("position")
    start = 0
    if position:
        ids = [r.id for r in resources]
        if position not in ids:
            raise BadRequestException("Invalid position parameter")
        start = ids.index(position)
    page = resources[start:start + limit]
    body: dict[str, Any] = {"item": [r.to_dict() for r in page]}
    if start + limit < len(resources):
        body["position"] = resources[start + limit].id
    return 200, {}, json.dumps(body)


# --- DynamoDB: conditional writes atomic per item ----------------------------------------------------------------

_dynamodb_lock = threading.RLock()


def _serialize_dynamodb_tables() -> None:
    from moto.dynamodb.models.table import Table

    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan"):
        original = getattr(Table, name, None)
        if original is None:
            continue

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _dynamodb_lock:
                return _original(self, *args, **kwargs)

        setattr(Table, name, locked)



def _lambda_revision_ids() -> None:
    from moto.awslambda.exceptions import PreconditionFailedException
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.moto_api._internal import mock_random

    guard = threading.Lock()  # the check and the update are one step, as Lambda applies them

    def revision(fn: Any) -> str:
        if getattr(fn, "_gap_revision_id", None) is None:
            fn._gap_revision_id = str(mock_random.uuid4())
        return str(fn._gap_revision_id)

    get_configuration = LambdaFunction.get_configuration

    def configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = get_configuration(self, *args, **kwargs)
        config["RevisionId"] = revision(self)  # every FunctionConfiguration carries it (Lambda API reference)
        return config

    LambdaFunction.get_configuration = configuration  # type: ignore[method-assign]
    originals = {name: getattr(LambdaBackend, name) for name in ("update_function_configuration",
                                                                  "update_function_code")}

    def wrap(name: str) -> Any:
        original = originals[name]

        def update(self: Any, function_name: str, qualifier: str, body: dict[str, Any]) -> Any:
            with guard:
                fn = self.get_function(function_name, qualifier)
                expected = (body or {}).get("RevisionId")
                if expected is not None and expected != revision(fn):
                    raise PreconditionFailedException(
                        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                        "GetAlias API to retrieve the latest Revision Id")
                if not (body or {}).get("DryRun"):
                    fn._gap_revision_id = str(mock_random.uuid4())
                return original(self, function_name, qualifier, body)

        return update

    for name in originals:
        setattr(LambdaBackend, name, wrap(name))
