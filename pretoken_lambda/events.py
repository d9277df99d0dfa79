"""The pre-token generation event Cognito sends, built from its parts.

One definition for everything that has to produce the documented event: the embedded Cognito (which runs the
trigger on sign-in) and `avp-migrate probe` (which calls a handler with synthetic events). Stdlib only.

Shape: Cognito developer guide, "Pre token generation Lambda trigger" (event versions V1_0, V2_0, V3_0;
``request.scopes`` from V2_0; ``response.claimsOverrideDetails`` for V1_0 and ``claimsAndScopeOverrideDetails``
after). A client-credentials event (``TokenGeneration_ClientCredentials``, V3_0) has no user: no ``userName``, no
attributes, and a null ``groupConfiguration``, as the guide's example shows.
"""

from __future__ import annotations

from typing import Any

CLIENT_CREDENTIALS_SOURCE = "TokenGeneration_ClientCredentials"
EVENT_VERSIONS = {"V1_0": "1", "V2_0": "2", "V3_0": "3"}


def build_event(*, version: str, trigger_source: str, region: str, pool_id: str, client_id: str,
                username: str | None, user_attributes: dict[str, str], groups: list[str],
                scopes: list[str] | None) -> dict[str, Any]:
    machine = trigger_source == CLIENT_CREDENTIALS_SOURCE
    request: dict[str, Any] = {
        "userAttributes": {} if machine else user_attributes,
        "groupConfiguration": None if machine else {
            "groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": None},
    }
    if version != "V1_0":
        request["scopes"] = list(scopes or [])
    details_key = "claimsOverrideDetails" if version == "V1_0" else "claimsAndScopeOverrideDetails"
    return {
        "version": EVENT_VERSIONS[version],
        "triggerSource": trigger_source,
        "region": region,
        "userPoolId": pool_id,
        "userName": None if machine else username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "request": request,
        "response": {details_key: None},
    }
