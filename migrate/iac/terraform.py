"""The plan's migration as a Terraform module: ``PLAN/terraform/*.tf``, for teams whose infrastructure is Terraform.

The same resources as the plan's CloudFormation template and as ``deploy`` makes them: the Verified Permissions
policy store (STRICT), its schema, the Cognito identity source and the policies; the authorizer's log group, role
(least privilege: :func:`migrate.deploy.function.role_policy`'s three statements), function, API Gateway REQUEST
authorizer and invoke permission; the mode parameter and the mode ledger table.

Resource and argument names as the Terraform AWS provider documents them (registry.terraform.io/providers/hashicorp/
aws/latest/docs/resources/<name>, source: the provider's website/docs/r/<name>.html.markdown); each resource in the
module cites its page. The tests parse the module and check every argument and block against those pages.

**The module reads the plan folder's own files.** The schema is ``file("../schema.json")`` and there is one
``aws_verifiedpermissions_policy`` per ``../policies/*.cedar`` (``fileset``): a reviewed edit of a policy file is what
``terraform apply`` deploys, the same files ``deploy`` ships, and no Cedar text passes through HCL (nothing to
escape, nothing Terraform could interpolate). Terraform does not re-prove an edited plan, so a ``check`` block
compares those files with the plan's manifest and warns, naming them, when they changed since ``avp-migrate plan``
(run ``avp-migrate verify --plan`` first). Values the plan decided (API, pool, client ids, entity types, policy
descriptions) are written into ``plan.tf`` as HCL strings, escaped so that ``${`` and ``%{`` stay literal.

**What the module never owns** (:mod:`migrate.iac.names`): the mode document's value after creation (``cutover``
writes it: ``ignore_changes``) and the function's fallback ``AVP_AUTHZ_MODES`` (never set). The ledger table is
shared by every API of the account and region: ``create_ledger_table = false`` when another stack or ``deploy``
made it; ``prevent_destroy`` and DynamoDB deletion protection keep its audit trail.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from authorizer.settings import ENV_JWKS_URL_TEMPLATE, ENV_MODES_PARAMETER, ENV_POLICY_STORE_ID
from migrate.deploy.apigw import IDENTITY_SOURCE, MAX_TTL
from migrate.deploy.function import (
    DEFAULT_LOG_RETENTION_DAYS,
    LOG_RETENTION_DAYS,
    MEMORY_MB,
    TIMEOUT_SECONDS,
    TRUST_POLICY,
    role_policy,
)
from migrate.deploy.names import MAX_FUNCTION_NAME, PERMISSION_STATEMENT_ID, ROLE_POLICY_NAME, ROLE_SUFFIX
from migrate.deploy.package import HANDLER, RUNTIME
from migrate.iac.hcl import BLANK, Attr, Block, Comment, Expr, document, key, value
from migrate.iac.names import (
    INITIAL_MODE_DOCUMENT,
    LEDGER_TABLE_NAME,
    OUTPUT_AUTHORIZER_ID,
    OUTPUT_FUNCTION_ARN,
    OUTPUT_FUNCTION_NAME,
    OUTPUT_LEDGER_TABLE,
    OUTPUT_MODE_PARAMETER,
    OUTPUT_POLICY_STORE_ID,
    default_function_name,
    mode_parameter_name,
)
from migrate.translate.render import file_name

if TYPE_CHECKING:
    from migrate.translate import Translation

MODULE_DIR = "terraform"
DEFAULT_TTL_SECONDS = 300  # deploy --ttl's default
# Provider 6 reads the region from aws_region's `region` (its `name` is deprecated since 6.0); check blocks need
# Terraform 1.5.
REQUIRED_VERSION = ">= 1.5.0"
PROVIDER_VERSION = ">= 6.0, < 7.0"
DOCS = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs"

STORE = "aws_verifiedpermissions_policy_store.this"
LOG_GROUP = "aws_cloudwatch_log_group.authorizer"
PARAMETER = "aws_ssm_parameter.modes"
FUNCTION = "aws_lambda_function.authorizer"
AUTHORIZER = "aws_api_gateway_authorizer.avp"


def _snake(output: str) -> str:
    """``PolicyStoreId`` -> ``policy_store_id``: the module's outputs are names.py's, in Terraform's spelling."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in output).lstrip("_")


OUTPUTS = {name: _snake(name) for name in (OUTPUT_POLICY_STORE_ID, OUTPUT_FUNCTION_NAME, OUTPUT_FUNCTION_ARN,
                                           OUTPUT_AUTHORIZER_ID, OUTPUT_MODE_PARAMETER, OUTPUT_LEDGER_TABLE)}


def module_files(translation: Translation) -> dict[str, str]:
    """{file name inside ``terraform/``: text}."""
    return {"versions.tf": _versions(), "variables.tf": _variables(translation), "plan.tf": _plan(translation),
            "plan_files.tf": _plan_files(), "main.tf": _main(translation), "outputs.tf": _outputs()}


def _doc(resource: str, kind: str = "resources") -> Comment:
    return Comment(f"{DOCS}/{kind}/{resource.removeprefix('aws_')}")


def _versions() -> str:
    return document([
        Comment("Written by `avp-migrate plan`. A module: call it from your configuration, or init and apply it here.\n"
                "The aws provider is configured by the caller (or by the environment: AWS_REGION, credentials)."),
        Block("terraform", (), [
            Attr("required_version", REQUIRED_VERSION),
            BLANK,
            Block("required_providers", (), [
                Attr("aws", {"source": "hashicorp/aws", "version": PROVIDER_VERSION}),
            ]),
        ]),
    ])


def _variable(name: str, description: str, type_: str, default: Any = ..., validations: tuple[tuple[str, str], ...]
              = (), nullable: bool | None = None) -> Block:
    body: list[Any] = [Attr("description", description), Attr("type", Expr(type_))]
    if default is not ...:
        body.append(Attr("default", default))
    if nullable is not None:
        body.append(Attr("nullable", nullable))
    for condition, message in validations:
        body += [BLANK, Block("validation", (), [Attr("condition", Expr(condition)), Attr("error_message", message)])]
    return Block("variable", (name,), body)


def _variables(translation: Translation) -> str:
    api = translation.api
    retention = "[" + ", ".join(str(d) for d in LOG_RETENTION_DAYS) + "]"
    items = [
        _variable("artifact_bucket", "S3 bucket holding the authorizer package (the zip `avp-migrate package` "
                  "builds), in the function's region", "string"),
        BLANK,
        _variable("artifact_key", "S3 key of the authorizer package zip", "string"),
        BLANK,
        _variable("artifact_object_version", "S3 object version of the package (a versioned bucket); null: the "
                  "latest. A new key or version is what updates the function's code", "string", None),
        BLANK,
        _variable("architecture", "Lambda architecture the package's dependencies were built for", "string",
                  "x86_64", (('contains(["x86_64", "arm64"], var.architecture)',
                              "architecture is x86_64 or arm64."),)),
        BLANK,
        _variable("layers", "Lambda layer ARNs the package needs (none when the zip holds its dependencies)",
                  "list(string)", []),
        BLANK,
        _variable("function_name", f"The authorizer function's name (as deploy names it: also the role's, with "
                  f"'{ROLE_SUFFIX}', and the API Gateway authorizer's)", "string",
                  default_function_name(api.id, api.stage),
                  ((f'can(regex("^[A-Za-z0-9_-]{{1,{MAX_FUNCTION_NAME}}}$", var.function_name))',
                    f"function_name is 1-{MAX_FUNCTION_NAME} letters, digits, '-' or '_' (the role name adds "
                    f"'{ROLE_SUFFIX}' and IAM allows 64 characters)."),)),
        BLANK,
        _variable("log_retention_days", "Days CloudWatch Logs keeps the authorizer's records (principals included)",
                  "number", DEFAULT_LOG_RETENTION_DAYS,
                  ((f"contains({retention}, var.log_retention_days)",
                    "log_retention_days is one of the values CloudWatch Logs accepts (PutRetentionPolicy)."),)),
        BLANK,
        _variable("authorizer_ttl_seconds", "How long API Gateway caches an authorizer decision (0-3600)", "number",
                  DEFAULT_TTL_SECONDS, ((f"var.authorizer_ttl_seconds >= 0 && var.authorizer_ttl_seconds <= {MAX_TTL}",
                                         f"authorizer_ttl_seconds is 0 to {MAX_TTL}."),)),
        BLANK,
        _variable("jwks_url_template", "Where the authorizer fetches a pool's JWKS (placeholders {issuer}, "
                  "{pool_id}, {region}); null: {issuer}/.well-known/jwks.json", "string", None),
        BLANK,
        _variable("create_authorizer", "Create the API Gateway REQUEST authorizer and its invoke permission on "
                  "the plan's API (false: the API's own template defines them)", "bool", True),
        BLANK,
        _variable("create_ledger_table", f"Create the mode ledger table {LEDGER_TABLE_NAME} (false when another "
                  "stack or `avp-migrate deploy` already made it: one table serves every API of the account and "
                  "region)", "bool", True),
    ]
    return document(items)


def _plan(translation: Translation) -> str:
    """What the plan decided, as HCL literals (everything else the module reads from the plan folder's files)."""
    api, config = translation.api, translation.authorizer_config()
    pool = config.user_pools[0]
    descriptions = {file_name(index, policy.policy_id): policy.description
                    for index, policy in enumerate(translation.policies, start=1)}
    return document([
        Comment("Written by `avp-migrate plan` from the plan's translation: the same values as cloudformation.json.\n"
                "Plan again rather than editing this file."),
        Block("locals", (), [
            Attr("api_id", api.id),
            Attr("stage", api.stage),
            Attr("mode_parameter_name", mode_parameter_name(api.id, api.stage)),
            Attr("ledger_table_name", LEDGER_TABLE_NAME),
            Attr("policy_store_description", f"{api.name} ({api.id}): policies migrated from OAuth scopes by "
                                             "avp-migrate"[:150]),
            Attr("function_description", f"avp-migrate Lambda authorizer for API {api.id} stage {api.stage}"),
            BLANK,
            Comment("The identity source: cloudformation.json's IdentitySource"),
            Attr("user_pool_arn", translation.pool.arn),
            Attr("client_ids", list(pool.client_ids)),
            Attr("principal_entity_type", config.entity_types.user),
            Attr("group_entity_type", config.entity_types.group),
            BLANK,
            Comment("policies/<file> -> the policy's description (its @id, as cloudformation.json has it)"),
            Attr("policy_descriptions", descriptions),
        ]),
    ])


def _plan_files() -> str:
    """What the module reads from the plan folder, and the check that they are as planned."""
    changed = ('sort(concat([for f in local.deployed_files : f if try(local.manifest[f], "") != '
               'filesha256("${local.plan_dir}/${f}")], [for f in keys(local.manifest) : f if startswith(f, '
               '"policies/") && !contains(local.deployed_files, f)]))')
    return document([
        Comment("The module deploys the plan folder's schema and policy files as they are on disk."),
        Block("locals", (), [
            Attr("plan_dir", Expr('"${path.module}/.."')),
            Attr("policy_files", Expr('fileset("${local.plan_dir}/policies", "*.cedar")')),
            BLANK,
            Comment("Files changed since `avp-migrate plan` (its manifest.json), added or deleted among policies/"),
            Attr("deployed_files", Expr('concat(["schema.json"], [for f in local.policy_files : "policies/${f}"])')),
            Attr("manifest", Expr('try(jsondecode(file("${local.plan_dir}/manifest.json")).files, {})')),
            Attr("changed_plan_files", Expr(changed)),
        ]),
        BLANK,
        Comment("Terraform does not re-prove a plan: an edited schema or policy file is deployed as it is. Warn,\n"
                "naming the files, when they differ from the plan's manifest; run `avp-migrate verify --plan` on "
                "the folder."),
        Block("check", ("plan_files_as_planned",), [Block("assert", (), [
            Attr("condition", Expr("length(local.changed_plan_files) == 0")),
            Attr("error_message", Expr('"changed since avp-migrate plan (run avp-migrate verify --plan on the plan '
                                       'folder before applying): ${join(", ", local.changed_plan_files)}"')),
        ])]),
    ])


def _role_policy() -> dict[str, Any]:
    return role_policy(Expr(f"{STORE}.arn"), Expr(f"{PARAMETER}.arn"), Expr('"${' + LOG_GROUP + '.arn}:*"'))


def _main(translation: Translation) -> str:
    environment = {ENV_POLICY_STORE_ID: Expr(f"{STORE}.policy_store_id"),
                   ENV_MODES_PARAMETER: Expr(f"{PARAMETER}.name")}
    items: list[Any] = [
        _doc("aws_partition", "data-sources"),
        Block("data", ("aws_partition", "current")),
        BLANK,
        _doc("aws_region", "data-sources"),
        Block("data", ("aws_region", "current")),
        BLANK,
        _doc("aws_caller_identity", "data-sources"),
        Block("data", ("aws_caller_identity", "current")),
        BLANK,
        Block("locals", (), [
            Attr("account_id", Expr("data.aws_caller_identity.current.account_id")),
            BLANK,
            Comment("migrate/deploy/function.py role_policy: exactly these three statements (least privilege)."),
            Attr("role_policy", _role_policy()),
            BLANK,
            Comment("Never AVP_AUTHZ_MODES: a fallback written by Terraform would be stale after the first "
                    "cut-over\n(migrate/iac/names.py). The mode document is read from the parameter."),
            Attr("function_environment", environment),
            Attr("jwks_environment", Expr(f"{{ for k, v in {{ {ENV_JWKS_URL_TEMPLATE} = var.jwks_url_template }} : "
                                          "k => v if v != null }")),
        ]),
        BLANK,
        # --- Verified Permissions --------------------------------------------------------------------------
        _doc("aws_verifiedpermissions_policy_store"),
        Block("resource", ("aws_verifiedpermissions_policy_store", "this"), [
            Attr("description", Expr("local.policy_store_description")),
            BLANK,
            Block("validation_settings", (), [Attr("mode", "STRICT")]),
        ]),
        BLANK,
        _doc("aws_verifiedpermissions_schema"),
        Comment("The provider compares the JSON semantically (jsontypes.Normalized): the file's formatting makes no\n"
                "diff."),
        Block("resource", ("aws_verifiedpermissions_schema", "this"), [
            Attr("policy_store_id", Expr(f"{STORE}.policy_store_id")),
            BLANK,
            Block("definition", (), [Attr("value", Expr('file("${local.plan_dir}/schema.json")'))]),
        ]),
        BLANK,
        _doc("aws_verifiedpermissions_identity_source"),
        Block("resource", ("aws_verifiedpermissions_identity_source", "cognito"), [
            Attr("policy_store_id", Expr(f"{STORE}.policy_store_id")),
            Attr("principal_entity_type", Expr("local.principal_entity_type")),
            BLANK,
            Block("configuration", (), [Block("cognito_user_pool_configuration", (), [
                Attr("user_pool_arn", Expr("local.user_pool_arn")),
                Attr("client_ids", Expr("local.client_ids")),
                BLANK,
                Block("group_configuration", (), [Attr("group_entity_type", Expr("local.group_entity_type"))]),
            ])]),
            BLANK,
            Comment("The entity types must exist in the schema first (STRICT store)"),
            Attr("depends_on", Expr("[aws_verifiedpermissions_schema.this]")),
        ]),
        BLANK,
        _doc("aws_verifiedpermissions_policy"),
        Comment("One policy per file of ../policies, read from the file: a reviewed edit of a policy file is what\n"
                "terraform apply deploys, and no Cedar text passes through HCL (nothing can be interpolated)."),
        Block("resource", ("aws_verifiedpermissions_policy", "plan"), [
            Attr("for_each", Expr("local.policy_files")),
            BLANK,
            Attr("policy_store_id", Expr(f"{STORE}.policy_store_id")),
            BLANK,
            Block("definition", (), [Block("static", (), [
                Attr("description", Expr("lookup(local.policy_descriptions, each.key, null)")),
                Attr("statement", Expr('file("${local.plan_dir}/policies/${each.key}")')),
            ])]),
            BLANK,
            Comment("STRICT validation needs the schema first. A changed principal, resource or effect replaces the\n"
                    "policy (the provider's statementReplaceIf): create the new one before deleting the old, so a\n"
                    "route in avp mode never meets a window without its permit."),
            Attr("depends_on", Expr("[aws_verifiedpermissions_schema.this]")),
            BLANK,
            Block("lifecycle", (), [Attr("create_before_destroy", True)]),
        ]),
        BLANK,
        # --- The authorizer ---------------------------------------------------------------------------------
        _doc("aws_cloudwatch_log_group"),
        Comment("Made before the function, so the role needs no logs:CreateLogGroup (migrate/deploy/function.py)."),
        Block("resource", ("aws_cloudwatch_log_group", "authorizer"), [
            Attr("name", Expr('"/aws/lambda/${var.function_name}"')),
            Attr("retention_in_days", Expr("var.log_retention_days")),
        ]),
        BLANK,
        _doc("aws_iam_role"),
        Block("resource", ("aws_iam_role", "authorizer"), [
            Attr("name", Expr(f'"${{var.function_name}}{ROLE_SUFFIX}"')),
            Attr("description", Expr('"avp-migrate Lambda authorizer ${var.function_name}"')),
            Attr("assume_role_policy", Expr(f"jsonencode({_inline(TRUST_POLICY)})")),
        ]),
        BLANK,
        _doc("aws_iam_role_policy"),
        Block("resource", ("aws_iam_role_policy", "authorizer"), [
            Attr("name", ROLE_POLICY_NAME),
            Attr("role", Expr("aws_iam_role.authorizer.id")),
            Attr("policy", Expr("jsonencode(local.role_policy)")),
        ]),
        BLANK,
        _doc("aws_lambda_function"),
        Block("resource", ("aws_lambda_function", "authorizer"), [
            Attr("function_name", Expr("var.function_name")),
            Attr("description", Expr("local.function_description")),
            Attr("role", Expr("aws_iam_role.authorizer.arn")),
            Attr("runtime", RUNTIME),
            Attr("handler", HANDLER),
            Attr("timeout", TIMEOUT_SECONDS),
            Attr("memory_size", MEMORY_MB),
            Attr("architectures", Expr("[var.architecture]")),
            Attr("layers", Expr("var.layers")),
            Attr("s3_bucket", Expr("var.artifact_bucket")),
            Attr("s3_key", Expr("var.artifact_key")),
            Attr("s3_object_version", Expr("var.artifact_object_version")),
            BLANK,
            Block("environment", (), [
                Attr("variables", Expr("merge(local.function_environment, local.jwks_environment)")),
            ]),
            BLANK,
            Attr("depends_on", Expr(f"[{LOG_GROUP}, aws_iam_role_policy.authorizer]")),
        ]),
        BLANK,
        _doc("aws_api_gateway_authorizer"),
        Comment("Identity sources and TTL as deploy sets them (migrate/deploy/apigw.py; why all four:\n"
                "authorizer/README.md)."),
        Block("resource", ("aws_api_gateway_authorizer", "avp"), [
            Attr("count", Expr("var.create_authorizer ? 1 : 0")),
            BLANK,
            Attr("name", Expr("var.function_name")),
            Attr("rest_api_id", Expr("local.api_id")),
            Attr("type", "REQUEST"),
            Attr("authorizer_uri", Expr(f"{FUNCTION}.invoke_arn")),
            Attr("identity_source", IDENTITY_SOURCE),
            Attr("authorizer_result_ttl_in_seconds", Expr("var.authorizer_ttl_seconds")),
        ]),
        BLANK,
        _doc("aws_lambda_permission"),
        Comment("API Gateway may invoke the function for this authorizer only: the ARN it presents is\n"
                "execute-api:REGION:ACCOUNT:API/authorizers/ID (API Gateway developer guide, Lambda authorizers)."),
        Block("resource", ("aws_lambda_permission", "apigateway"), [
            Attr("count", Expr("var.create_authorizer ? 1 : 0")),
            BLANK,
            Attr("statement_id", PERMISSION_STATEMENT_ID),
            Attr("action", "lambda:InvokeFunction"),
            Attr("function_name", Expr(f"{FUNCTION}.function_name")),
            Attr("principal", "apigateway.amazonaws.com"),
            Attr("source_account", Expr("local.account_id")),
            Attr("source_arn", Expr('"arn:${data.aws_partition.current.partition}:execute-api:'
                                    '${data.aws_region.current.region}:${local.account_id}:${local.api_id}/'
                                    f'authorizers/${{{AUTHORIZER}[0].id}}"')),
        ]),
        BLANK,
        # --- Mode state -------------------------------------------------------------------------------------
        _doc("aws_ssm_parameter"),
        Comment("Created once with the initial document (every route in shadow). Its later values belong to\n"
                "`avp-migrate cutover`/`rollback`, never to terraform apply; cutover may also move it to the Advanced\n"
                "tier, and the provider would recreate a parameter whose tier goes back to Standard."),
        Block("resource", ("aws_ssm_parameter", "modes"), [
            Attr("name", Expr("local.mode_parameter_name")),
            Attr("description", Expr('"avp-migrate route modes for API ${local.api_id} stage ${local.stage}"')),
            Attr("type", "String"),
            Attr("value", Expr(f"jsonencode({_inline(INITIAL_MODE_DOCUMENT)})")),
            BLANK,
            Block("lifecycle", (), [Attr("ignore_changes", Expr("[value, tier]"))]),
        ]),
        BLANK,
        _doc("aws_dynamodb_table"),
        Comment("The mode ledger (the audit trail of every mode change), shared by every API of the account and\n"
                "region: never destroyed by Terraform, nor deleted by anyone while deletion protection is on."),
        Block("resource", ("aws_dynamodb_table", "ledger"), [
            Attr("count", Expr("var.create_ledger_table ? 1 : 0")),
            BLANK,
            Attr("name", Expr("local.ledger_table_name")),
            Attr("billing_mode", "PAY_PER_REQUEST"),
            Attr("hash_key", "pk"),
            Attr("range_key", "version"),
            Attr("deletion_protection_enabled", True),
            BLANK,
            Block("attribute", (), [Attr("name", "pk"), Attr("type", "S")]),
            Block("attribute", (), [Attr("name", "version"), Attr("type", "N")]),
            BLANK,
            Block("lifecycle", (), [Attr("prevent_destroy", True)]),
        ]),
    ]
    return document(items)


def _inline(item: Any) -> str:
    """A single-line HCL object/list (for jsonencode of a small document)."""
    if isinstance(item, dict):
        if not item:
            return "{}"
        return "{ " + ", ".join(f"{key(k)} = {_inline(v)}" for k, v in item.items()) + " }"
    if isinstance(item, list | tuple):
        return "[" + ", ".join(_inline(v) for v in item) + "]"
    return value(item)


def _outputs() -> str:
    values = {
        OUTPUT_POLICY_STORE_ID: (f"{STORE}.policy_store_id", "The policy store id (the authorizer's "
                                 "AVP_AUTHZ_POLICY_STORE_ID)"),
        OUTPUT_FUNCTION_NAME: (f"{FUNCTION}.function_name", "The Lambda authorizer's name"),
        OUTPUT_FUNCTION_ARN: (f"{FUNCTION}.arn", "The Lambda authorizer's ARN"),
        OUTPUT_AUTHORIZER_ID: (f"one({AUTHORIZER}[*].id)", "The API Gateway authorizer's id (null when "
                               "create_authorizer is false)"),
        OUTPUT_MODE_PARAMETER: (f"{PARAMETER}.name", "The SSM parameter holding the route modes (written by "
                                "avp-migrate cutover)"),
        OUTPUT_LEDGER_TABLE: ("local.ledger_table_name", "The DynamoDB mode ledger table"),
    }
    items: list[Any] = []
    for output, (expression, description) in values.items():
        if items:
            items.append(BLANK)
        items.append(Block("output", (OUTPUTS[output],), [Attr("description", description),
                                                          Attr("value", Expr(expression))]))
    return document(items)


# Terraform's working files in terraform/ when the module is applied in place: its state above all. A new plan
# replaces the folder (migrate.plan.write_plan); losing the state would leave every resource unmanaged.
STATE_FILES = ("terraform.tfstate", "terraform.tfstate.backup", ".terraform.lock.hcl")
WORKING_DIR = ".terraform"  # providers and modules `terraform init` installed (hundreds of MB: moved, not copied)


def keep_working_files(old: Path, new: Path) -> None:
    """Carry Terraform's working files from the folder being replaced (``old``) into the new one. The state is
    copied, so the old folder keeps it until the new one is in place; ``.terraform/`` is moved (``terraform init``
    makes it again should the re-plan fail after this)."""
    for name in STATE_FILES:
        if (old / name).is_file():
            shutil.copy2(old / name, new / name)
    if (old / WORKING_DIR).is_dir() and not (old / WORKING_DIR).is_symlink():
        (old / WORKING_DIR).rename(new / WORKING_DIR)
