"""The read-only IAM statements `avp-migrate scan` needs, from the calls :mod:`migrate.scan.aws` makes.

Actions and resource ARN formats per the Service Authorization Reference: API Gateway's management API is
authorized by HTTP verb (every read is ``apigateway:GET``) on ``arn:aws:apigateway:REGION::/restapis/...``
(``GetRestApis`` on ``/restapis``); Amazon Cognito user pools actions on
``arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID``; ``lambda:GetFunctionConfiguration`` on the trigger function;
``sts:GetCallerIdentity`` needs no permission (STS API reference).

Which operation each read is, is kept here next to its action (:data:`SCAN_CALLS`), and a test runs a real scan
and checks that every call it made is in the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# service.Operation (as botocore names them, and as the snapshot's provenance counts them) -> IAM action.
SCAN_CALLS: dict[str, str | None] = {
    "sts.GetCallerIdentity": None,  # no permission needed
    "apigateway.GetRestApis": "apigateway:GET",
    "apigateway.GetRestApi": "apigateway:GET",
    "apigateway.GetStages": "apigateway:GET",
    "apigateway.GetAuthorizers": "apigateway:GET",
    "apigateway.GetResources": "apigateway:GET",
    "cognito-idp.DescribeUserPool": "cognito-idp:DescribeUserPool",
    "cognito-idp.ListResourceServers": "cognito-idp:ListResourceServers",
    "cognito-idp.ListGroups": "cognito-idp:ListGroups",
    "cognito-idp.ListUserPoolClients": "cognito-idp:ListUserPoolClients",
    "cognito-idp.DescribeUserPoolClient": "cognito-idp:DescribeUserPoolClient",
    "cognito-idp.ListUsersInGroup": "cognito-idp:ListUsersInGroup",
    "cognito-idp.ListUsers": "cognito-idp:ListUsers",
    "cognito-idp.AdminGetUser": "cognito-idp:AdminGetUser",
    "lambda.GetFunctionConfiguration": "lambda:GetFunctionConfiguration",
    # the pre-token rules, where the trigger's AVP_MIGRATE_RULES_SOURCE (or --rules) says they are
    "ssm.GetParameter": "ssm:GetParameter",
    "dynamodb.GetItem": "dynamodb:GetItem",
}


@dataclass(frozen=True)
class ScanTarget:
    """What a scan reads: one API and its user pools when known (a plan folder), else every API and pool."""

    partition: str = "aws"
    region: str = "*"
    account_id: str = "*"
    api_id: str | None = None
    user_pool_arns: list[str] = field(default_factory=list)


def scan_statements(target: ScanTarget) -> list[dict[str, Any]]:
    p, region, account = target.partition, target.region, target.account_id
    apis = f"arn:{p}:apigateway:{region}::/restapis"
    api_resources = [f"{apis}/{target.api_id}", f"{apis}/{target.api_id}/*"] if target.api_id else [apis, f"{apis}/*"]
    pools = target.user_pool_arns or [f"arn:{p}:cognito-idp:{region}:{account}:userpool/*"]
    by_service: dict[str, list[str]] = {}
    for call, action in SCAN_CALLS.items():
        if action is not None:
            by_service.setdefault(call.split(".", 1)[0], []).append(action)
    return [
        _statement("ScanApis", by_service["apigateway"], api_resources),
        _statement("ScanUserPools", by_service["cognito-idp"], pools),
        # The trigger's function is named by the pool's LambdaConfig: not known before the scan.
        _statement("ScanPreTokenTrigger", by_service["lambda"], [f"arn:{p}:lambda:*:{account}:function:*"]),
        # Only when the rules live in SSM or DynamoDB (a SecureString under a customer key also needs kms:Decrypt):
        # narrow these to the rules source the trigger names.
        _statement("ScanPreTokenRules", by_service["ssm"] + by_service["dynamodb"],
                   [f"arn:{p}:ssm:{region}:{account}:parameter/*", f"arn:{p}:dynamodb:{region}:{account}:table/*"]),
    ]


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": resources}
