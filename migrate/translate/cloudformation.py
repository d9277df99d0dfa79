"""The plan's CloudFormation template: the whole migration, for teams that deploy with CloudFormation.

What it holds (AWS CloudFormation template reference for each type):

* Verified Permissions: the policy store (``ValidationSettings.Mode`` STRICT, ``Schema.CedarJson``), the Cognito
  identity source (``UserPoolArn``, ``ClientIds``, ``GroupConfiguration.GroupEntityType``, ``PrincipalEntityType``)
  and one static policy per Cedar policy. ``Ref`` of a policy store is its id; ``Fn::GetAtt ... Arn`` its ARN.
* The authorizer as ``deploy`` makes it (:mod:`migrate.deploy.function`, :mod:`migrate.deploy.apigw`): its log
  group with a retention, its role (trusts ``lambda.amazonaws.com`` only, one inline policy with the same three
  statements), the function (code from the zip ``avp-migrate package`` builds, in the bucket and key the
  ``ArtifactBucket``/``ArtifactKey`` parameters name), the REQUEST authorizer on the plan's API with the same
  identity sources and result TTL, and API Gateway's permission to invoke the function.
* The mode state: the SSM parameter, created with a value that never depends on the plan
  (:data:`migrate.iac.names.INITIAL_MODE_DOCUMENT`), so a later stack update never rewrites what ``cutover`` wrote
  (CloudFormation updates only resources whose template properties changed); and the mode ledger table with
  ``DeletionPolicy`` and ``UpdateReplacePolicy`` ``Retain``: deleting or replacing the stack never loses the audit
  trail. The function's fallback copy of the mode document is not in the template (migrate/iac/names.py says why).

Size (AWS CloudFormation quotas): a template body of at most 51,200 bytes can be passed inline, at most 1 MB from
S3, and a template holds at most 500 resources. Past either of the last two, the policies go into nested stacks
(``cloudformation-policies-NN.json``, each a child template, one ``AWS::CloudFormation::Stack`` per file with a
relative ``TemplateURL`` that ``aws cloudformation package`` uploads and rewrites). :func:`size_note` says which
way to deploy. The templates pass cfn-lint (tested).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrate.deploy.apigw import IDENTITY_SOURCE, MAX_TTL
from migrate.deploy.function import (
    DEFAULT_LOG_RETENTION_DAYS,
    LOG_RETENTION_DAYS,
    MEMORY_MB,
    TIMEOUT_SECONDS,
    TRUST_POLICY,
    role_policy,
)
from migrate.deploy.names import ROLE_POLICY_NAME, ROLE_SUFFIX
from migrate.deploy.package import HANDLER, RUNTIME
from migrate.iac import names
from migrate.translate.schema import schema_json

if TYPE_CHECKING:
    from migrate.translate import Translation

INLINE_TEMPLATE_BYTES = 51_200  # "Template body size in a request" (AWS CloudFormation quotas)
S3_TEMPLATE_BYTES = 1_048_576  # "Template body size in an Amazon S3 object: 1 MB"
MAX_RESOURCES = 500  # "Resources: maximum number of resources that you can declare in your template"
# Children stay well inside both limits; the parent keeps room for the authorizer's resources.
CHILD_MAX_RESOURCES = 400
CHILD_MAX_BYTES = 900_000
CHILD_FILE = "cloudformation-policies-{:02d}.json"
JSON_INDENT = 2


@dataclass(frozen=True)
class Templates:
    """The parent template and, for large plans, the child templates of its nested stacks (file name -> body)."""

    parent: dict[str, Any]
    children: dict[str, dict[str, Any]]

    def files(self) -> dict[str, str]:
        return {"cloudformation.json": dump(self.parent), **{name: dump(body) for name, body in self.children.items()}}


def dump(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=JSON_INDENT) + "\n"


def template(translation: Translation) -> dict[str, Any]:
    """The whole migration in one template (policies inline, whatever the size): what the plan proof and tests
    read. :func:`templates` is what plan writes."""
    parent = _parent(translation)
    parent["Resources"].update(_policy_resources(translation, {"Ref": "PolicyStore"}))
    return parent


def templates(translation: Translation) -> Templates:
    whole = template(translation)
    policies = _policy_resources(translation, {"Ref": "PolicyStoreId"})
    if len(whole["Resources"]) <= MAX_RESOURCES and len(dump(whole).encode()) <= S3_TEMPLATE_BYTES:
        return Templates(whole, {})
    parent = _parent(translation)
    children: dict[str, dict[str, Any]] = {}
    chunk: dict[str, Any] = {}

    def close() -> None:
        number = len(children) + 1
        name = CHILD_FILE.format(number)
        children[name] = _child(translation, number, dict(chunk))
        parent["Resources"][f"Policies{number:02d}"] = {
            "Type": "AWS::CloudFormation::Stack",
            # A local TemplateURL is for `aws cloudformation package`, which uploads the file and writes its S3 URL:
            # the way this template is meant to be deployed, so cfn-lint's warning that it is (W3002) is silenced.
            "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W3002"]}}},
            "Properties": {"TemplateURL": name, "Parameters": {"PolicyStoreId": {"Ref": "PolicyStore"}}},
        }
        chunk.clear()

    size = 0
    for logical, resource in policies.items():
        grows = len(json.dumps({logical: resource}, indent=JSON_INDENT).encode())
        if chunk and (len(chunk) >= CHILD_MAX_RESOURCES or size + grows > CHILD_MAX_BYTES):
            close()
            size = 0
        chunk[logical] = resource
        size += grows
    if chunk:
        close()
    return Templates(parent, children)


def size_note(files: dict[str, str]) -> str:
    """How this template reaches CloudFormation, by its size (one line, for the plan's console output)."""
    parent = len(files["cloudformation.json"].encode())
    nested = len(files) - 1
    if nested:
        return (f"cloudformation.json: {parent:,} bytes and {nested} nested stack template(s) of policies: "
                "`aws cloudformation package --s3-bucket BUCKET` uploads them, then deploy the packaged template")
    if parent <= INLINE_TEMPLATE_BYTES:
        return f"cloudformation.json: {parent:,} bytes, deployable inline (at most {INLINE_TEMPLATE_BYTES:,})"
    return (f"cloudformation.json: {parent:,} bytes, over the {INLINE_TEMPLATE_BYTES:,} bytes CloudFormation takes "
            "inline: deploy through S3 (`aws cloudformation deploy --s3-bucket BUCKET`)")


def _parent(translation: Translation) -> dict[str, Any]:
    config = translation.authorizer_config()
    pool = config.user_pools[0]
    api_id, stage = translation.api.id, translation.api.stage
    function_name = names.default_function_name(api_id, stage)
    parameter = names.mode_parameter_name(api_id, stage)
    log_group = f"/aws/lambda/{function_name}"
    policy = role_policy(
        {"Fn::GetAtt": ["PolicyStore", "Arn"]},
        {"Fn::Sub": f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"},
        {"Fn::Sub": f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group}:*"})
    resources: dict[str, Any] = {
        "PolicyStore": {
            "Type": "AWS::VerifiedPermissions::PolicyStore",
            "Properties": {
                "Description": f"{translation.api.name} ({translation.api.id}): policies migrated from OAuth "
                               "scopes by avp-migrate"[:150],
                "ValidationSettings": {"Mode": "STRICT"},
                "Schema": {"CedarJson": schema_json(translation.schema, compact=True)},
            },
        },
        "IdentitySource": {
            "Type": "AWS::VerifiedPermissions::IdentitySource",
            "Properties": {
                "PolicyStoreId": {"Ref": "PolicyStore"},
                "PrincipalEntityType": config.entity_types.user,
                "Configuration": {"CognitoUserPoolConfiguration": {
                    "UserPoolArn": translation.pool.arn,
                    "ClientIds": list(pool.client_ids),
                    "GroupConfiguration": {"GroupEntityType": config.entity_types.group},
                }},
            },
        },
        "AuthorizerLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": log_group, "RetentionInDays": {"Ref": "LogRetentionDays"}},
        },
        "AuthorizerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": f"{function_name}{ROLE_SUFFIX}",
                "AssumeRolePolicyDocument": TRUST_POLICY,
                "Policies": [{"PolicyName": ROLE_POLICY_NAME, "PolicyDocument": policy}],
            },
        },
        "AuthorizerFunction": {
            "Type": "AWS::Lambda::Function",
            # The log group (with its retention) exists before the function can write to it.
            "DependsOn": "AuthorizerLogGroup",
            "Properties": {
                "FunctionName": function_name,
                "Description": f"avp-migrate Lambda authorizer for API {api_id} stage {stage}",
                "Runtime": RUNTIME,
                "Handler": HANDLER,
                "Role": {"Fn::GetAtt": ["AuthorizerRole", "Arn"]},
                "Timeout": TIMEOUT_SECONDS,
                "MemorySize": MEMORY_MB,
                "Architectures": [{"Ref": "Architecture"}],
                "Layers": {"Fn::If": ["HasLayers", {"Ref": "Layers"}, {"Ref": "AWS::NoValue"}]},
                "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "ArtifactKey"}},
                # No AVP_AUTHZ_MODES: a stack update replaces the whole environment, so a fallback written here
                # would be stale after the first cut-over (migrate/iac/names.py).
                "Environment": {"Variables": {
                    "AVP_AUTHZ_POLICY_STORE_ID": {"Ref": "PolicyStore"},
                    "AVP_AUTHZ_MODES_PARAMETER": parameter,
                }},
            },
        },
        "ModeParameter": {
            "Type": "AWS::SSM::Parameter",
            # The stack creates the document; its later versions belong to `avp-migrate cutover`. This value must
            # never change in the template: CloudFormation would write it back over the cut-over.
            "Properties": {
                "Name": parameter,
                "Type": "String",
                "Value": json.dumps(names.INITIAL_MODE_DOCUMENT, sort_keys=True, separators=(",", ":")),
                "Description": "avp-migrate mode document (scope/shadow/avp per route)",
            },
        },
        "ModeLedger": {
            "Type": "AWS::DynamoDB::Table",
            "Condition": "CreateLedgerTable",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": names.LEDGER_TABLE_NAME,
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "version", "AttributeType": "N"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "version", "KeyType": "RANGE"}],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        },
        "Authorizer": {
            "Type": "AWS::ApiGateway::Authorizer",
            "Condition": "CreateAuthorizer",
            "Properties": {
                "Name": function_name,
                "RestApiId": api_id,
                "Type": "REQUEST",
                # "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/[FunctionARN]/invocations"
                # (API Gateway API reference, CreateAuthorizer, authorizerUri)
                "AuthorizerUri": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                                             "2015-03-31/functions/${AuthorizerFunction.Arn}/invocations"},
                "IdentitySource": IDENTITY_SOURCE,
                "AuthorizerResultTtlInSeconds": {"Ref": "AuthorizerTtl"},
            },
        },
        "AuthorizerPermission": {
            "Type": "AWS::Lambda::Permission",
            "Condition": "CreateAuthorizer",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Ref": "AuthorizerFunction"},
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}"
                                         f":{api_id}/authorizers/${{Authorizer}}"},
            },
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"avp-migrate: API {translation.api.name} ({api_id}, stage {stage}) on Amazon Verified "
                       "Permissions through a Lambda authorizer (generated; see the plan's report)",
        "Parameters": _parameters(),
        "Conditions": {
            "CreateAuthorizer": {"Fn::Equals": [{"Ref": "CreateAuthorizer"}, "true"]},
            "CreateLedgerTable": {"Fn::Equals": [{"Ref": "CreateLedgerTable"}, "true"]},
            "HasLayers": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "Layers"}]}, ""]}]},
        },
        "Resources": resources,
        "Outputs": _outputs(api_id, stage),
    }


def _parameters() -> dict[str, Any]:
    return {
        "ArtifactBucket": {"Type": "String", "MinLength": 3,
                           "Description": "S3 bucket holding the authorizer package (avp-migrate package)"},
        "ArtifactKey": {"Type": "String", "MinLength": 1, "Description": "S3 key of the authorizer package zip"},
        "Architecture": {"Type": "String", "Default": "x86_64", "AllowedValues": ["x86_64", "arm64"],
                         "Description": "the platform the package was built for (avp-migrate package --architecture)"},
        "Layers": {"Type": "CommaDelimitedList", "Default": "",
                   "Description": "layer version ARNs, for a package built with --dependencies layers (else empty)"},
        "AuthorizerTtl": {"Type": "Number", "Default": 300, "MinValue": 0, "MaxValue": MAX_TTL,
                          "Description": "seconds API Gateway caches a decision (0 to 3600)"},
        "LogRetentionDays": {"Type": "Number", "Default": str(DEFAULT_LOG_RETENTION_DAYS),
                             "AllowedValues": [str(days) for days in LOG_RETENTION_DAYS],
                             "Description": "days the authorizer's decision log is kept"},
        "CreateAuthorizer": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"],
                             "Description": "false when the API's own template declares the authorizer "
                                            "(avp-migrate patch-template)"},
        "CreateLedgerTable": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"],
                              "Description": f"false when the account and region already have the "
                                             f"{names.LEDGER_TABLE_NAME} table (one per account and region)"},
    }


def _outputs(api_id: str, stage: str) -> dict[str, Any]:
    def output(value: Any, description: str, *, export: str | None = None,
               condition: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"Description": description, "Value": value}
        if export:
            body["Export"] = {"Name": names.export_name(api_id, stage, export)}
        if condition:
            body["Condition"] = condition
        return body

    return {
        names.OUTPUT_POLICY_STORE_ID: output({"Ref": "PolicyStore"}, "the policy store the authorizer asks"),
        names.OUTPUT_FUNCTION_NAME: output({"Ref": "AuthorizerFunction"}, "the Lambda authorizer function"),
        names.OUTPUT_FUNCTION_ARN: output({"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
                                          "what an API template's authorizer imports",
                                          export=names.OUTPUT_FUNCTION_ARN),
        names.OUTPUT_AUTHORIZER_ID: output({"Ref": "Authorizer"}, "the REQUEST authorizer on the API",
                                           export=names.OUTPUT_AUTHORIZER_ID, condition="CreateAuthorizer"),
        names.OUTPUT_MODE_PARAMETER: output({"Ref": "ModeParameter"}, "the mode document (owned by cutover)"),
        names.OUTPUT_LEDGER_TABLE: output(names.LEDGER_TABLE_NAME, "the mode ledger (audit trail, retained)"),
    }


def _policy_resources(translation: Translation, store: dict[str, Any]) -> dict[str, Any]:
    return {f"Policy{index:03d}": {
        "Type": "AWS::VerifiedPermissions::Policy",
        "Properties": {"PolicyStoreId": store,
                       "Definition": {"Static": {"Description": policy.description, "Statement": policy.text}}},
    } for index, policy in enumerate(translation.policies, start=1)}


def _child(translation: Translation, number: int, resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"avp-migrate: policies of API {translation.api.id} stage {translation.api.stage}, "
                       f"part {number} (a nested stack of cloudformation.json)",
        "Parameters": {"PolicyStoreId": {"Type": "String", "Description": "the parent stack's policy store"}},
        "Resources": resources,
    }
