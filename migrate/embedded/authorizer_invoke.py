"""API Gateway ``TestInvokeAuthorizer`` for Lambda authorizers, which moto 5.2.5 lacks.

``POST /restapis/{restapi_id}/authorizers/{authorizer_id}`` (API Gateway API reference, TestInvokeAuthorizer):
API Gateway builds the authorizer's input from the request (``headers``, ``multiValueHeaders``,
``pathWithQueryString``, ``stageVariables``, ``additionalContext``), invokes the authorizer's function and
answers ``clientStatus`` (the status the client would get; 0 when the authorizer returned a policy),
``log``, ``latency``, ``principalId``, ``policy`` (the returned policy document, as JSON text) and
``authorization`` (the returned context).

The function runs in this process, as the demo's traffic runs it (:class:`~migrate.embedded.functions.
LocalAuthorizerFunction`: the configuration inside the deployed zip, the function's own environment, the
``authorizer`` package's code); its log lines go to its log group. A warm instance is kept per function, code
and environment, as Lambda keeps an execution environment. What API Gateway checks before invoking is checked
here too:

* the authorizer must be a Lambda authorizer (``TOKEN``/``REQUEST``) of the API (NotFoundException otherwise);
* API Gateway needs permission to invoke the function: without ``authorizerCredentials``, a statement of the
  function's resource policy must allow ``apigateway.amazonaws.com`` with a ``SourceArn`` matching
  ``arn:aws:execute-api:REGION:ACCOUNT:API/authorizers/ID``; otherwise ``clientStatus`` 500 and the log says
  "Execution failed due to configuration error: Invalid permissions on Lambda function", as API Gateway does;
* a ``REQUEST`` authorizer with caching (TTL > 0) is not invoked when a header identity source is missing or
  empty: 401 (developer guide, "Input to an API Gateway Lambda authorizer").

The input event of a test invocation, as API Gateway's execution log shows it: ``methodArn``
``arn:aws:execute-api:REGION:ACCOUNT:API/ESTestInvoke-stage/VERB/PATH``, ``requestContext.stage``
``test-invoke-stage``, ``resourceId`` ``test-invoke-resource-id``, the path from ``pathWithQueryString``. The
verb, resource path and path come from ``additionalContext`` (``httpMethod``, ``resourcePath``, ``path``, the
``context.*`` variables a REQUEST authorizer's identity sources name) and default to ``GET`` and the given path.
An authorizer that raises ``Unauthorized`` gives ``clientStatus`` 401; any other failure 500.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
import uuid
from typing import Any

_state: dict[str, Any] = {}
_warm: dict[tuple[str, ...], Any] = {}
_lock = threading.RLock()
TEST_STAGE_IN_ARN = "ESTestInvoke-stage"
TEST_STAGE = "test-invoke-stage"


def attach(aws: Any) -> None:
    """The embedded AWS whose functions run here (its region and JWKS addresses)."""
    _state["aws"] = aws


def reset() -> None:
    with _lock:
        for function in _warm.values():
            function.close()
        _warm.clear()


def install() -> None:
    from moto.apigateway.responses import APIGatewayResponse

    APIGatewayResponse.test_invoke_authorizer = _response_test_invoke_authorizer  # type: ignore[attr-defined]


def _response_test_invoke_authorizer(self: Any) -> Any:
    parts = self.path.split("/")
    rest_api_id, authorizer_id = parts[2], parts[4]
    authorizer = self.backend.get_authorizer(rest_api_id, authorizer_id)  # NotFoundException, as AWS
    body = json.loads(self.body or "{}") if self.body else {}
    started = time.time()
    answer = _invoke(self.current_account, self.region, rest_api_id, authorizer, body)
    answer["latency"] = int((time.time() - started) * 1000)
    return 200, {}, json.dumps(answer)


def _invoke(account: str, region: str, api_id: str, authorizer: Any, body: dict[str, Any]) -> dict[str, Any]:
    from moto.apigateway.exceptions import BadRequestException

    kind = str(getattr(authorizer, "type", "") or "").upper()
    if kind not in {"TOKEN", "REQUEST"}:
        raise BadRequestException(f"Authorizer {authorizer.id} is not a Lambda authorizer")
    uri = getattr(authorizer, "authorizer_uri", None) or ""
    function_arn = uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0] if "/functions/" in uri else ""
    log = [f"Starting authorizer: {authorizer.id} for request: test-request"]
    headers = dict(body.get("headers") or {})
    multi = {k: list(v) for k, v in (body.get("multiValueHeaders") or {}).items()} or {
        k: [v] for k, v in headers.items()}
    for key, values in multi.items():
        headers.setdefault(key, values[-1] if values else "")
    if kind == "REQUEST" and int(getattr(authorizer, "authorizer_result_ttl", 300) or 0) > 0:
        for source in str(getattr(authorizer, "identity_source", "") or "").split(","):
            source = source.strip()
            if source.startswith("method.request.header."):
                name = source.rsplit(".", 1)[1].lower()
                if not any(k.lower() == name and v for k, v in headers.items()):
                    log.append(f"The identity source {source} is missing or empty: Unauthorized")
                    return {"clientStatus": 401, "log": "\n".join(log)}
    function_name = function_arn.rsplit(":", 1)[-1]
    lam = _lambda_backend(account, region)
    try:
        function = lam.get_function(function_name)
    except Exception:
        function = None
    if function is None:
        log.append(f"Execution failed due to configuration error: function {function_arn} not found")
        return {"clientStatus": 500, "log": "\n".join(log)}
    if not getattr(authorizer, "authorizer_credentials", None) and not _permitted(
            lam, function_name, f"arn:aws:execute-api:{region}:{account}:{api_id}/authorizers/{authorizer.id}"):
        log.append("Execution failed due to configuration error: Invalid permissions on Lambda function")
        return {"clientStatus": 500, "log": "\n".join(log)}
    event = _event(account, region, api_id, kind, body, headers, multi)
    log.append("Endpoint request body after transformations: " + json.dumps({"type": kind,
                                                                              "methodArn": event["methodArn"]}))
    try:
        instance = _warm_instance(function_name, function)
        invocation = instance.invoke(event)
        instance.ship_logs()
    except Exception as exc:  # the function failed (an import error, invalid settings, a bug): API Gateway 500
        log.append(f"Execution failed due to configuration error: Authorizer error ({type(exc).__name__}: {exc})")
        return {"clientStatus": 500, "log": "\n".join(log)}
    if invocation.response is None:
        log.append("Unauthorized request: test-request")
        return {"clientStatus": 401, "log": "\n".join(log)}
    response = invocation.response
    log.append(f"Authorizer result: {invocation.status}")
    context = response.get("context") or {}
    return {"clientStatus": 0, "log": "\n".join(log), "principalId": str(response.get("principalId", "")),
            "policy": json.dumps(response.get("policyDocument")),
            "authorization": {str(k): [str(v)] for k, v in context.items()}}


def _event(account: str, region: str, api_id: str, kind: str, body: dict[str, Any], headers: dict[str, str],
           multi: dict[str, list[str]]) -> dict[str, Any]:
    context = {str(k): str(v) for k, v in (body.get("additionalContext") or {}).items()}
    raw = str(body.get("pathWithQueryString") or "/")
    path, _, query = raw.partition("?")
    path = context.get("path", path) or "/"
    verb = context.get("httpMethod", "GET")
    resource = context.get("resourcePath", path)
    method_arn = f"arn:aws:execute-api:{region}:{account}:{api_id}/{TEST_STAGE_IN_ARN}/{verb}{path}"
    if kind == "TOKEN":
        token = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
    parameters: dict[str, list[str]] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        parameters.setdefault(key, []).append(value)
    return {
        "type": "REQUEST", "methodArn": method_arn, "resource": resource, "path": path, "httpMethod": verb,
        "headers": headers, "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in parameters.items()},
        "multiValueQueryStringParameters": parameters, "pathParameters": {},
        "stageVariables": dict(body.get("stageVariables") or {}),
        "requestContext": {"resourceId": "test-invoke-resource-id", "resourcePath": resource, "httpMethod": verb,
                           "path": path, "accountId": account, "stage": TEST_STAGE, "apiId": api_id,
                           "requestId": str(uuid.uuid4()), "protocol": "HTTP/1.1"},
    }


def _lambda_backend(account: str, region: str) -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account][region]


def _permitted(lam: Any, function_name: str, source_arn: str) -> bool:
    try:
        policy = json.loads(lam.get_policy(function_name))  # GetPolicy's answer: {"Policy": "<JSON text>", ...}
        policy = json.loads(policy["Policy"]) if isinstance(policy.get("Policy"), str) else policy
    except Exception:
        return False
    for statement in policy.get("Statement") or []:
        principal = statement.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if statement.get("Effect") != "Allow" or service != "apigateway.amazonaws.com" or not any(
                a in {"lambda:InvokeFunction", "lambda:*", "*"} for a in actions):
            continue
        condition = statement.get("Condition") or {}
        patterns = [v for test in ("ArnLike", "ArnEquals", "StringEquals", "StringLike")
                    for v in _values((condition.get(test) or {}).get("AWS:SourceArn"))]
        if not patterns or any(fnmatch.fnmatchcase(source_arn, p) for p in patterns):
            return True
    return False


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _warm_instance(function_name: str, function: Any) -> Any:
    from migrate.embedded.functions import LocalAuthorizerFunction

    environment = json.dumps(getattr(function, "environment_vars", None) or {}, sort_keys=True)
    key = (function_name, str(getattr(function, "code_sha_256", "")), environment)
    with _lock:
        instance = _warm.get(key)
        if instance is None:
            for stale in [k for k in _warm if k[0] == function_name]:
                _warm.pop(stale).close()
            instance = LocalAuthorizerFunction(_state["aws"], function_name)
            _warm[key] = instance
        return instance
