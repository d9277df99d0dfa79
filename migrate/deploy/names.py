"""Names and ARNs of what deploy creates: derived from the API id and stage, so a re-run finds them again.

One Lambda function, role, API Gateway authorizer and mode document per API and stage; the mode ledger table is
shared by every API of the account and region (its partition key is ``<api_id>#<stage>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from migrate.errors import UserError

LEDGER_TABLE = "avp-migrate-modes"
ROLE_POLICY_NAME = "avp-migrate-authorizer"
PERMISSION_STATEMENT_ID = "avp-migrate-apigateway"
FUNCTION_PREFIX = "avp-migrate-authz"
ROLE_SUFFIX = "-role"
# Lambda: function names 1-64 of [a-zA-Z0-9-_] (CreateFunction, FunctionName). IAM: role names up to 64
# characters (IAM quotas), so the function name leaves room for the role suffix.
MAX_FUNCTION_NAME = 64 - len(ROLE_SUFFIX)
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Names:
    api_id: str
    stage: str
    region: str
    account_id: str
    partition: str  # "aws", "aws-cn", "aws-us-gov": from the caller's ARN, never assumed
    function_name: str

    @classmethod
    def make(cls, *, api_id: str, stage: str, region: str, account_id: str, partition: str,
             function_name: str | None = None) -> Names:
        name = function_name or f"{FUNCTION_PREFIX}-{api_id}-{stage}"
        where = "--function-name" if function_name else "the default function name"
        if not _FUNCTION_NAME.match(name):
            raise UserError(f"{name!r}: a Lambda function name is letters, digits, '-' and '_' only", where=where)
        if len(name) > MAX_FUNCTION_NAME:
            raise UserError(f"{name!r} is {len(name)} characters; at most {MAX_FUNCTION_NAME} leave room for the "
                            f"role name (64 at most): give a shorter --function-name", where=where)
        return cls(api_id=api_id, stage=stage, region=region, account_id=account_id, partition=partition,
                   function_name=name)

    @property
    def role_name(self) -> str:
        return f"{self.function_name}{ROLE_SUFFIX}"

    @property
    def authorizer_name(self) -> str:
        return self.function_name

    @property
    def log_group(self) -> str:
        # Lambda writes to /aws/lambda/<function name> by default (Lambda developer guide, "Monitoring ...
        # CloudWatch Logs").
        return f"/aws/lambda/{self.function_name}"

    @property
    def mode_parameter(self) -> str:
        return f"/avp-migrate/{self.api_id}/{self.stage}/modes"

    @property
    def ledger_pk(self) -> str:
        return f"{self.api_id}#{self.stage}"

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name}"

    @property
    def function_arn(self) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def authorizer_uri(self) -> str:
        # "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/[FunctionARN]/invocations" (API Gateway
        # API reference, CreateAuthorizer, authorizerUri).
        return (f"arn:{self.partition}:apigateway:{self.region}:lambda:path/2015-03-31/functions/"
                f"{self.function_arn}/invocations")

    def authorizer_source_arn(self, authorizer_id: str) -> str:
        # What API Gateway presents when it invokes a Lambda authorizer:
        # arn:aws:execute-api:region:account-id:api-id/authorizers/authorizer-id (API Gateway developer guide,
        # Lambda authorizers, "lambda add-permission ... --source-arn").
        return (f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:{self.api_id}/authorizers/"
                f"{authorizer_id}")

    @property
    def parameter_arn(self) -> str:
        # A parameter whose name starts with "/" has the ARN ...:parameter/<name without the leading slash>
        # (Systems Manager user guide, "Working with parameter hierarchies" / IAM resource ARNs for SSM).
        return f"arn:{self.partition}:ssm:{self.region}:{self.account_id}:parameter{self.mode_parameter}"

    @property
    def log_group_arn(self) -> str:
        # Log streams of the group: arn:aws:logs:region:account:log-group:NAME:* (as AWSLambdaBasicExecutionRole
        # scopes CreateLogStream and PutLogEvents).
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{self.log_group}:*"


def partition_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" and parts[1] else "aws"
