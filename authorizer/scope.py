"""The decision API Gateway's Cognito user pool authorizer makes today, for a token already verified.

API Gateway developer guide, "Integrate a REST API with an Amazon Cognito user pool", and the AWS Knowledge
Center article https://repost.aws/knowledge-center/api-gateway-cognito-401-unauthorized (no scopes on the method:
send an ID token; scopes on the method: send an access token):

* a method with ``authorizationScopes`` takes an access token and allows the call when **any** method scope is in
  the token's ``scope`` claim;
* a method without scopes takes an ID token and checks identity only.

Which token type a route takes is checked during verification (:mod:`authorizer.tokens`, the route's
``token_use``), so a wrong token type never reaches this function. A refusal here is answered like the Cognito
authorizer answers it: 401 Unauthorized, not 403.
"""

from __future__ import annotations

from authorizer.config import RouteConfig
from authorizer.tokens import VerifiedToken


def scope_allows(route: RouteConfig, token: VerifiedToken) -> bool:
    if not route.scopes:
        return True  # identity check only: the token verified, with the token_use the route takes
    return token.token_use == "access" and not token.scopes.isdisjoint(route.scopes)
