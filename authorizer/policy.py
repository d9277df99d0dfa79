"""The authorizer's answer: principalId, an IAM policy covering exactly the request's method ARN, a flat context.

API Gateway developer guide, "Output from an API Gateway Lambda authorizer"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html):
``principalId``, ``policyDocument`` (``execute-api:Invoke``, ``Allow`` or ``Deny``, resource ARNs) and an optional
``context`` of strings, numbers and booleans. ``raise Exception("Unauthorized")`` is answered 401, a Deny policy
403, anything else 500.

Why exactly the method ARN, and why not Powertools' ``APIGatewayAuthorizerResponse``:

* API Gateway caches the whole answer under the identity sources and applies the cached policy to later requests
  (Knowledge Center, https://repost.aws/knowledge-center/api-gateway-lambda-authorization-errors: a cached
  exact-ARN policy answers 403 to other paths of a ``{proxy+}`` resource). A policy covering more than the method
  ARN (``*``, other verbs or paths) would allow routes this decision never looked at. So the policy holds the
  ``methodArn`` of the event, verbatim, and the identity sources must include the path (authorizer/README.md).
* ``APIGatewayAuthorizerResponse`` rebuilds ARNs from parts and refuses paths outside ``[/.a-zA-Z0-9-_*{}+]``
  (its ``path_regex``): a request path with ``%``, ``~`` or ``@`` would become a 500. Building the few keys here
  keeps the ARN byte for byte.
* A method ARN that itself contains ``*`` or ``?`` (a request path with those characters) would be a wildcard in
  the policy; an Allow for it could match other paths from the API Gateway cache. Such a request is never given
  an Allow (see :attr:`MethodArn.has_wildcards`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ALLOW = "Allow"
DENY = "Deny"
_METHOD_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):execute-api:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<api_id>[A-Za-z0-9]+)/(?P<stage>[^/]+)/(?P<verb>[A-Z]+)(?:/(?P<path>.*))?")


# Not frozen: built and dropped within one request, never cached nor shared (authorizer/__init__.py, cold start).
@dataclass
class MethodArn:
    """The parts of an execute-api method ARN (``arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH``)."""

    raw: str
    partition: str
    region: str
    account: str
    api_id: str
    stage: str
    verb: str
    path: str  # the request path after the verb, without its leading "/"

    @classmethod
    def parse(cls, text: Any) -> MethodArn | None:
        if not isinstance(text, str):
            return None
        match = _METHOD_ARN.fullmatch(text)
        if match is None:
            return None
        return cls(raw=text, path=match.group("path") or "",
                   **{k: match.group(k) for k in ("partition", "region", "account", "api_id", "stage", "verb")})

    @property
    def has_wildcards(self) -> bool:
        return "*" in self.raw or "?" in self.raw


def response(principal_id: str, effect: str, method_arn: MethodArn, context: dict[str, Any]) -> dict[str, Any]:
    assert effect in (ALLOW, DENY)
    if effect == ALLOW and method_arn.has_wildcards:
        raise ValueError("refusing to Allow a method ARN that contains IAM wildcards")
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn.raw}],
        },
        "context": context,
    }
