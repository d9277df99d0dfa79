"""What the authorizer reads from a REST API ``REQUEST`` authorizer event.

API Gateway developer guide, "Input to an API Gateway Lambda authorizer", REQUEST input format
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html): ``type``,
``methodArn``, ``resource``, ``path``, ``httpMethod``, ``headers``, ``multiValueHeaders``,
``queryStringParameters``, ``pathParameters``, ``stageVariables`` and ``requestContext`` (``resourcePath``,
``httpMethod``, ``stage``, ``apiId``, ``requestId``...). Powertools models the same event as
``APIGatewayAuthorizerRequestEvent`` (``aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event``);
its properties raise ``KeyError`` on absent keys (``headers`` may be null), so the few fields needed are read here
defensively instead: a malformed event must end in a refusal, never in a 500.

* The route is ``requestContext.httpMethod`` + ``requestContext.resourcePath`` (the method's template, e.g.
  ``/pets/{petId}``), falling back to the top-level ``httpMethod`` and ``resource``. For an ``ANY`` method the
  verb is the request's real one.
* The ``Authorization`` header is looked up case-insensitively, in ``multiValueHeaders`` when present (it shows a
  repeated header) else in ``headers``; every value found is kept so that a doubled header can be refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authorizer.policy import MethodArn

AUTHORIZATION = "authorization"


# Not frozen: built and dropped within one request, never cached nor shared (authorizer/__init__.py, cold start).
@dataclass
class AuthorizerRequest:
    """What the authorizer reads from a REQUEST event."""

    method_arn: MethodArn | None
    http_method: str
    resource_path: str
    request_id: str | None
    api_id: str | None
    stage: str | None
    authorization: tuple[str, ...]

    @classmethod
    def from_event(cls, event: Any) -> AuthorizerRequest:
        event = event if isinstance(event, Mapping) else {}
        context = event.get("requestContext")
        context = context if isinstance(context, Mapping) else {}
        method_arn = MethodArn.parse(event.get("methodArn"))
        return cls(
            method_arn=method_arn,
            http_method=_string(context.get("httpMethod")) or _string(event.get("httpMethod")),
            resource_path=_string(context.get("resourcePath")) or _string(event.get("resource")),
            request_id=_string(context.get("requestId")) or None,
            api_id=_string(context.get("apiId")) or (method_arn.api_id if method_arn else None),
            stage=_string(context.get("stage")) or (method_arn.stage if method_arn else None),
            authorization=_header_values(event, AUTHORIZATION),
        )


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _header_values(event: Mapping[str, Any], name: str) -> tuple[str, ...]:
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        values = [v for key, items in multi.items() if isinstance(key, str) and key.lower() == name
                  for v in (items if isinstance(items, list) else [items])]
        if values:
            return tuple(v if isinstance(v, str) else "" for v in values)
    single = event.get("headers")
    if isinstance(single, Mapping):
        return tuple(v if isinstance(v, str) else "" for key, v in single.items()
                     if isinstance(key, str) and key.lower() == name)
    return ()
