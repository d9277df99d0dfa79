"""The IAM policy an operator's role needs for each avp-migrate command, scoped to one API stage's resources.

Printed by ``avp-migrate iam-policy``. Action names and resource ARN formats follow the Service Authorization
Reference of each service (Amazon API Gateway's ``apigateway:GET/POST/PATCH/PUT/DELETE`` on
``arn:aws:apigateway:REGION::/restapis/ID/*``; AWS Lambda, IAM, SSM, DynamoDB, CloudWatch Logs, Amazon Verified
Permissions). ``sts:GetCallerIdentity`` needs no permission (STS API reference).

The cut-over verbs update the authorizer function's configuration because the function's fallback mode document
(``AVP_AUTHZ_MODES``) is kept in step with every ledger write (``authorizer/README.md``, "Mode state").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from migrate.deploy.names import LEDGER_TABLE

READ_ONLY = ("scan", "plan", "verify", "report")


@dataclass(frozen=True)
class Target:
    """What the policy is scoped to: known after a deploy (deployment.json), else the names deploy would use."""

    partition: str
    region: str
    account_id: str
    api_id: str
    stage: str
    function_name: str
    mode_parameter: str
    log_group: str

    @property
    def function_arn(self) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.function_name}-role"

    @property
    def parameter_arn(self) -> str:
        return f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter/{self.mode_parameter.lstrip('/')}"

    @property
    def table_arn(self) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{LEDGER_TABLE}"

    @property
    def api_arn(self) -> str:
        return f"arn:{self.partition}:apigateway:{self.region}::/restapis/{self.api_id}"

    @property
    def log_group_arn(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{self.log_group}"


def statements(target: Target, command: str) -> list[dict[str, Any]]:
    """The statements ``command`` needs: ``deploy`` (also undeploy), ``cutover`` (also rollback, status), ``finalize``
    or ``all``."""
    cut = [
        _statement("ModeLedger", ["dynamodb:Query", "dynamodb:PutItem"], [target.table_arn]),
        _statement("ModeDocument", ["ssm:GetParameter", "ssm:PutParameter"], [target.parameter_arn]),
        _statement("AuthorizerFallback", ["lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration"],
                   [target.function_arn]),
        _statement("ReadAuthorizerTtl", ["apigateway:GET"], [f"{target.api_arn}/authorizers/*"]),
    ]
    finalize = [
        _statement("FinalizeApi", ["apigateway:GET", "apigateway:PATCH", "apigateway:DELETE", "apigateway:POST"],
                   [target.api_arn, f"{target.api_arn}/*"]),
    ]
    deploy = [
        _statement("PolicyStore", ["verifiedpermissions:*"], ["*"]),  # the store's id is not known before it exists
        _statement("AuthorizerFunction", [
            "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission",
            "lambda:RemovePermission", "lambda:GetPolicy"], [target.function_arn]),
        _statement("Layers", ["lambda:GetLayerVersion"], ["*"]),
        _statement("AuthorizerRole", [
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy",
            "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
            "iam:DetachRolePolicy"], [target.role_arn]),
        _statement("PassAuthorizerRole", ["iam:PassRole"], [target.role_arn]),
        _statement("Api", ["apigateway:GET", "apigateway:POST", "apigateway:PATCH", "apigateway:PUT",
                           "apigateway:DELETE"], [target.api_arn, f"{target.api_arn}/*"]),
        _statement("ModeState", ["ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"],
                   [target.parameter_arn]),
        _statement("Ledger", ["dynamodb:DescribeTable", "dynamodb:CreateTable", "dynamodb:Query", "dynamodb:PutItem"],
                   [target.table_arn]),
        _statement("LogGroup", ["logs:CreateLogGroup", "logs:DescribeLogGroups", "logs:PutRetentionPolicy"], ["*"]),
        # The drift guard (migrate/deploy/drift.py): which stack, if any, holds the API; deploy --stack reads the
        # stack it adopts (migrate/deploy/stack.py). Stack ids are not known in advance; both calls read names,
        # ids and statuses only.
        _statement("DriftGuard", ["cloudformation:DescribeStackResources", "cloudformation:DescribeStacks"], ["*"]),
    ]
    groups = {"cutover": cut, "finalize": cut + finalize, "deploy": deploy, "all": deploy + cut + finalize}
    if command not in groups:
        raise ValueError(command)
    return groups[command]


def policy(target: Target, command: str) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {}
    for statement in statements(target, command):
        merged.setdefault(statement["Sid"], statement)
    return {"Version": "2012-10-17", "Statement": list(merged.values())}


def _statement(sid: str, actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
