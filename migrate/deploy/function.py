"""The authorizer's Lambda function, its execution role and log group, and API Gateway's permission to invoke it.

Least privilege: the role trusts only ``lambda.amazonaws.com`` and carries exactly one inline policy with
three statements; any other inline or attached policy on it is removed (the role is ours alone):

* ``verifiedpermissions:IsAuthorizedWithToken`` and ``verifiedpermissions:IsAuthorized`` on the policy store's ARN
  (``arn:aws:verifiedpermissions::ACCOUNT:policy-store/ID``; Service Authorization Reference, Amazon Verified
  Permissions: both actions take the ``policy-store`` resource type);
* ``ssm:GetParameter`` on the mode document parameter (authorizer/modes.py calls GetParameter);
* ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the function's log group. deploy creates the log group
  itself, so the function does not need ``logs:CreateLogGroup`` (which AWSLambdaBasicExecutionRole grants on
  every log group of the account).

The log group keeps records ``--log-retention-days`` (default 30). The function: ``python3.12``, ``x86_64`` or
``arm64`` (``--architecture``: the platform the dependencies are built for), handler
``authorizer.handler.lambda_handler``, environment ``AVP_AUTHZ_POLICY_STORE_ID``, ``AVP_AUTHZ_MODES_PARAMETER``,
``AVP_AUTHZ_MODES`` (the fallback: the ledger's newest mode document in the compact spelling, kept in step by
every later change: migrate.cutover.fallback; authorizer/README.md "Mode state"). Other
variables someone set on the function (tuning such as ``AVP_AUTHZ_AVP_TIMEOUT_MS``) are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from authorizer.modes import ModeDocument, ModeDocumentError, PendingMark
from authorizer.settings import ENV_MODES, ENV_MODES_PARAMETER, ENV_POLICY_STORE_ID
from migrate.cutover.fallback import FunctionFallback, fallback_text
from migrate.cutover.ledger import Ledger
from migrate.cutover.limits import check_lambda_environment
from migrate.deploy.changes import Change
from migrate.deploy.context import Context, error_code, is_not_found, retry_eventual
from migrate.deploy.names import LEDGER_TABLE, PERMISSION_STATEMENT_ID, ROLE_POLICY_NAME
from migrate.deploy.package import HANDLER, RUNTIME, Package

TIMEOUT_SECONDS = 10  # the AVP call is bounded at 300 ms; a cold start with a JWKS fetch needs a few seconds
MEMORY_MB = 256  # cryptography's import is CPU-bound and Lambda's CPU grows with memory
# PutRetentionPolicy's retentionInDays takes only these values (CloudWatch Logs API reference).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
DEFAULT_LOG_RETENTION_DAYS = 30
ENV_STORE, ENV_PARAMETER = ENV_POLICY_STORE_ID, ENV_MODES_PARAMETER

TRUST_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def role_policy(store_arn: Any, parameter_arn: Any, log_group_arn: Any) -> dict[str, Any]:
    """The role's one inline policy (ARNs as strings, or as CloudFormation intrinsics in the plan's template)."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "DecideWithVerifiedPermissions", "Effect": "Allow",
         "Action": ["verifiedpermissions:IsAuthorized", "verifiedpermissions:IsAuthorizedWithToken"],
         "Resource": store_arn},
        {"Sid": "ReadModeDocument", "Effect": "Allow", "Action": "ssm:GetParameter", "Resource": parameter_arn},
        {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": log_group_arn},
    ]}


def plan_log_group(ctx: Context, retention_days: int = DEFAULT_LOG_RETENTION_DAYS) -> list[Change]:
    """The function's log group, with a retention period (PutRetentionPolicy; updated when it differs): without
    one, CloudWatch Logs keeps the shadow records, principals included, forever."""
    logs = ctx.client("logs")
    name = ctx.names.log_group
    groups = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups") or []
    found = next((g for g in groups if g["logGroupName"] == name), None)
    retain = _bind(logs.put_retention_policy, logGroupName=name, retentionInDays=retention_days)
    if found is not None:
        ctx.record.log_group = name
        current = found.get("retentionInDays")  # absent: "Never expire"
        if current == retention_days:
            return []
        return [Change("update", f"logs log group {name}",
                       f"retention {current or 'never expire'} -> {retention_days} days", apply=retain)]

    def create() -> None:
        ctx.record.log_group = name
        try:
            logs.create_log_group(logGroupName=name)
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        retain()

    return [Change("create", f"logs log group {name}",
                   f"the authorizer's shadow records, kept {retention_days} days", apply=create)]


def plan_role(ctx: Context) -> list[Change]:
    iam = ctx.client("iam")
    name = ctx.names.role_name
    changes: list[Change] = []
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except Exception as exc:
        if not is_not_found(exc):
            raise
        role = None
    if role is None:
        def create() -> None:
            ctx.record.role_name = name
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
                            Description=f"avp-migrate Lambda authorizer {ctx.names.function_name}")

        changes.append(Change("create", f"iam role {name}", "trusted by lambda.amazonaws.com only", apply=create))
        inline, attached, current_policy = [], [], None
    else:
        ctx.record.role_name = name
        if _document(role.get("AssumeRolePolicyDocument")) != TRUST_POLICY:
            changes.append(Change("update", f"iam role {name}", "trust policy -> lambda.amazonaws.com only",
                                  apply=lambda: iam.update_assume_role_policy(
                                      RoleName=name, PolicyDocument=json.dumps(TRUST_POLICY))))
        inline = list(iam.list_role_policies(RoleName=name).get("PolicyNames") or [])
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies")
                    or []]
        current_policy = (_document(iam.get_role_policy(RoleName=name, PolicyName=ROLE_POLICY_NAME)
                                    ["PolicyDocument"]) if ROLE_POLICY_NAME in inline else None)
    wanted = (role_policy(ctx.store_arn, ctx.names.parameter_arn, ctx.names.log_group_arn)
              if ctx.store_arn else None)  # a store created by this run: its ARN is not known yet
    if current_policy is None or current_policy != wanted:
        def put() -> None:
            assert ctx.store_arn, "the policy store exists by now"
            iam.put_role_policy(RoleName=name, PolicyName=ROLE_POLICY_NAME, PolicyDocument=json.dumps(
                role_policy(ctx.store_arn, ctx.names.parameter_arn, ctx.names.log_group_arn)))

        store = ctx.store_arn or "the new policy store"
        changes.append(Change("create" if current_policy is None else "update",
                              f"iam role policy {name}/{ROLE_POLICY_NAME}",
                              f"verifiedpermissions:IsAuthorized* on {store}; ssm:GetParameter on "
                              f"{ctx.names.mode_parameter}; logs on {ctx.names.log_group}", apply=put))
    for other in sorted(p for p in inline if p != ROLE_POLICY_NAME):
        changes.append(Change("delete", f"iam role policy {name}/{other}", "not avp-migrate's: least privilege",
                              apply=_bind(iam.delete_role_policy, RoleName=name, PolicyName=other)))
    for arn in sorted(attached):
        changes.append(Change("delete", f"iam role policy attachment {name}/{arn.rsplit('/', 1)[-1]}",
                              "not avp-migrate's: least privilege",
                              apply=_bind(iam.detach_role_policy, RoleName=name, PolicyArn=arn)))
    return changes


def _bind(call: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
    return lambda: call(**kwargs)


def _document(value: Any) -> Any:
    # boto3 returns IAM policy documents decoded (a dict); be tolerant of a JSON string too.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def fallback_for(current: dict[str, str], document: dict[str, Any], route_keys: tuple[str, ...]) -> str:
    """``AVP_AUTHZ_MODES`` for ``document``, keeping the pending marks the function holds now (a cut-over may be
    in flight: its marks are not deploy's to drop; see migrate.cutover.fallback)."""
    marks: tuple[PendingMark, ...] = ()
    try:
        if current.get(ENV_MODES):
            marks = ModeDocument.from_json(current[ENV_MODES], source="fallback", route_keys=route_keys).pending
    except ModeDocumentError:
        marks = ()  # made for another configuration (the code changes with this deploy): nothing to keep
    return fallback_text(document, route_keys, marks)


def settle_fallback(ctx: Context, route_keys: tuple[str, ...]) -> None:
    """Bring the function's fallback in step with the ledger's newest version, read now (not when the change set
    was computed: a cut-over may have landed meanwhile), with a conditional update."""
    ledger = Ledger(ctx.client("dynamodb"), LEDGER_TABLE, ctx.names.ledger_pk)
    if ledger.latest() is None:
        return
    FunctionFallback(ctx.client("lambda"), ctx.names.function_name, route_keys).settle(ledger.require_latest)


# A store this run creates has no id yet when the change set is computed: its variable is counted at the longest
# id Verified Permissions may return (botocore verifiedpermissions model, PolicyStoreId: max 200), so the check
# made then never passes an environment the apply (with the real id, 22 characters today) would refuse.
UNKNOWN_STORE_ID = "x" * 200


def desired_environment(ctx: Context, current: dict[str, str], modes_text: str) -> dict[str, str]:
    """The function's variables after deploy; a UserError when Lambda would refuse them (4,096 bytes as Lambda
    measures them). Called when the change set is computed (a store not created yet counted at the longest id) and
    again right before CreateFunction/UpdateFunctionConfiguration."""
    store_id = ctx.record.policy_store_id or UNKNOWN_STORE_ID
    environment = {**current, ENV_STORE: store_id, ENV_PARAMETER: ctx.names.mode_parameter, ENV_MODES: modes_text}
    check_lambda_environment(environment, where=f"lambda function {ctx.names.function_name}",
                             why=f"the fallback mode document ({ENV_MODES}) is {len(modes_text.encode())} bytes"
                             + ("" if ctx.record.policy_store_id else "; the policy store to be created is counted "
                                f"at the longest id AVP may give ({len(UNKNOWN_STORE_ID)} characters)"))
    return environment


def plan_function(ctx: Context, package: Package, document: dict[str, Any],
                  route_keys: tuple[str, ...]) -> list[Change]:
    """``document``: the mode document as this deploy leaves it (readable); the function's fallback follows it."""
    lam = ctx.client("lambda")
    name = ctx.names.function_name
    try:
        config = lam.get_function(FunctionName=name)["Configuration"]
    except Exception as exc:
        if not is_not_found(exc):
            raise
        config = None
    description = f"avp-migrate Lambda authorizer for API {ctx.names.api_id} stage {ctx.names.stage}"
    settings = {"Runtime": RUNTIME, "Handler": HANDLER, "Role": ctx.names.role_arn, "Timeout": TIMEOUT_SECONDS,
                "MemorySize": MEMORY_MB, "Description": description}
    if config is None:
        desired_environment(ctx, {}, fallback_for({}, document, route_keys))  # refused now if it cannot fit

        def create() -> None:
            ctx.record.function_name, ctx.record.function_arn = name, ctx.names.function_arn
            environment = desired_environment(ctx, {}, fallback_for({}, document, route_keys))
            # A role created seconds ago may not be assumable by Lambda yet (IAM is eventually consistent):
            # CreateFunction then fails with InvalidParameterValueException "...cannot be assumed by Lambda".
            created = retry_eventual(lambda: lam.create_function(
                FunctionName=name, Code={"ZipFile": package.zip_bytes}, Architectures=[package.architecture],
                Layers=list(package.layers), Environment={"Variables": environment}, Publish=False,
                **settings), retry_if=_role_not_ready)
            ctx.record.function_arn = created["FunctionArn"]
            # A new function is Pending until Active; updates before that fail (Lambda developer guide,
            # "Lambda function states").
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
            settle_fallback(ctx, route_keys)

        return [Change("create", f"lambda function {name}", f"{RUNTIME} {package.architecture}, {package.describe()}",
                       apply=create)]
    ctx.record.function_name, ctx.record.function_arn = name, config["FunctionArn"]
    current_env = (config.get("Environment") or {}).get("Variables") or {}
    wanted_env = desired_environment(ctx, current_env, fallback_for(current_env, document, route_keys))
    differences = [key.lower() for key, value in settings.items() if config.get(key) != value]
    if not ctx.record.policy_store_id or wanted_env != current_env:
        differences.append("environment")
    if [layer["Arn"] for layer in config.get("Layers") or []] != list(package.layers):
        differences.append("layers")
    code_changed = (config.get("CodeSha256") != package.sha256
                    or (config.get("Architectures") or ["x86_64"]) != [package.architecture])
    if not differences and not code_changed:
        return []

    def update() -> None:
        if code_changed:
            lam.update_function_code(FunctionName=name, ZipFile=package.zip_bytes,
                                     Architectures=[package.architecture])
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        if differences:
            environment = desired_environment(ctx, current_env, fallback_for(current_env, document, route_keys))
            lam.update_function_configuration(FunctionName=name, Environment={"Variables": environment},
                                              Layers=list(package.layers), **settings)
            lam.get_waiter("function_updated_v2").wait(FunctionName=name)
        settle_fallback(ctx, route_keys)  # the ledger may have moved since the change set was computed

    what = (["code"] if code_changed else []) + differences
    return [Change("update", f"lambda function {name}", ", ".join(what) + (f" ({package.describe()})"
                                                                           if code_changed else ""), apply=update)]


def _role_not_ready(exc: BaseException) -> bool:
    return error_code(exc) == "InvalidParameterValueException" and "assumed" in str(exc)


def plan_permission(ctx: Context, function_exists: bool, authorizer_known: bool) -> list[Change]:
    """API Gateway may invoke the function for this authorizer only (SourceArn ...:API/authorizers/ID; Lambda
    compares it with ArnLike)."""
    lam = ctx.client("lambda")
    name = ctx.names.function_name
    current = None
    if function_exists:
        try:
            policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
        except Exception as exc:
            if not is_not_found(exc):
                raise
            policy = {}
        current = next((s for s in policy.get("Statement") or [] if s.get("Sid") == PERMISSION_STATEMENT_ID), None)
    wanted_arn = ctx.names.authorizer_source_arn(ctx.record.authorizer_id) if authorizer_known else None
    if current is not None and wanted_arn is not None:
        source = ((current.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
        service = (current.get("Principal") or {}).get("Service")
        if source == wanted_arn and service == "apigateway.amazonaws.com":
            return []

    def apply() -> None:
        if current is not None:
            lam.remove_permission(FunctionName=name, StatementId=PERMISSION_STATEMENT_ID)
        lam.add_permission(FunctionName=name, StatementId=PERMISSION_STATEMENT_ID, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com",
                           SourceArn=ctx.names.authorizer_source_arn(ctx.record.authorizer_id),
                           SourceAccount=ctx.names.account_id)

    target = wanted_arn or f"{ctx.names.api_id}/authorizers/(new authorizer)"
    return [Change("create" if current is None else "update", f"lambda permission {name}/{PERMISSION_STATEMENT_ID}",
                   f"apigateway.amazonaws.com may invoke it from {target.rsplit(':', 1)[-1]}", apply=apply)]
