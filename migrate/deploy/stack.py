"""`deploy --stack NAME`: a deployment whose infrastructure a CloudFormation stack of the plan's template made.

The stack (``cloudformation.json``, applied with ``aws cloudformation deploy``) owns the policy store, the
authorizer's function, role, log group and REQUEST authorizer, and creates the mode parameter and the ledger
table. deploy then does only what the template cannot do, and checks what it must not trust:

* the stack is at rest and is this plan's (its resources by logical id, the mode parameter and function names
  this API and stage give);
* the policy store holds exactly the plan's policy set as the gate proved it (policies/*.cedar, schema.json and
  the identity source as they are on disk): any difference stops deploy, since the stack, not deploy, must change
  it;
* the function's code carries the plan's ``authorizer-config.json`` (GetFunction's ``Code.Location``), and its
  environment names the stack's store and the mode parameter;
* the authorizer (when the stack made it, ``CreateAuthorizer=true``) calls the function with the identity
  sources deploy uses.

Then, as for any deploy: the ledger records the mode document (the stack's version 0 first), the function's
fallback copy of it is brought in step (tool-owned, never in the template), the smoke test runs, and the selected
methods move, unless the API itself is defined by a stack: then its own template moves them
(``avp-migrate patch-template``) and deploy leaves the methods alone.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from authorizer.settings import ENV_MODES_PARAMETER, ENV_POLICY_STORE_ID
from migrate.deploy.apigw import IDENTITY_SOURCE
from migrate.deploy.context import Context, error_code
from migrate.deploy.plan_input import PlannedRoute
from migrate.deploy.record import MovedMethod, OriginalMethod
from migrate.errors import UserError

# Stack statuses with no operation in progress and resources as the last successful template left them.
AT_REST = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
           "IMPORT_ROLLBACK_COMPLETE"}
REQUIRED = ("PolicyStore", "IdentitySource", "AuthorizerFunction", "AuthorizerRole", "AuthorizerLogGroup",
            "ModeParameter")
CONFIG_IN_ZIP = "authorizer/authorizer-config.json"
MAX_CODE_BYTES = 50 * 1024 * 1024  # a zip uploaded directly is at most 50 MB (Lambda quotas)


@dataclass(frozen=True)
class StackResources:
    name: str
    policy_store_id: str
    identity_source_id: str
    function_name: str
    role_name: str
    log_group: str
    mode_parameter: str
    authorizer_id: str | None  # None: the API's own template declares the authorizer (CreateAuthorizer=false)


def read_stack(ctx: Context, name: str) -> StackResources:
    cloudformation = ctx.client("cloudformation")
    where = f"--stack {name}"
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        if error_code(exc) == "ValidationError":
            raise UserError(f"no such stack in account {ctx.names.account_id} region {ctx.names.region} (create it "
                            "from the plan's cloudformation.json first)", where=where) from None
        raise
    status = stacks[0].get("StackStatus", "")
    if status not in AT_REST:
        raise UserError(f"is {status}: deploy --stack needs a stack at rest ({', '.join(sorted(AT_REST))})",
                        where=where)
    resources = {r["LogicalResourceId"]: r for r in
                 cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
    missing = [logical for logical in REQUIRED if logical not in resources]
    if missing:
        raise UserError(f"has no {', '.join(missing)}: not a stack of an avp-migrate plan's cloudformation.json",
                        where=where)
    physical = {logical: str(r.get("PhysicalResourceId") or "") for logical, r in resources.items()}
    if physical["ModeParameter"] != ctx.names.mode_parameter:
        raise UserError(f"holds mode parameter {physical['ModeParameter']}, not {ctx.names.mode_parameter}: it was "
                        f"made from the plan of another API or stage", where=where)
    if physical["AuthorizerFunction"] != ctx.names.function_name:
        raise UserError(f"holds function {physical['AuthorizerFunction']}, this deployment's is "
                        f"{ctx.names.function_name} (--function-name must match the stack's)", where=where)
    return StackResources(name=name, policy_store_id=physical["PolicyStore"],
                          identity_source_id=physical["IdentitySource"], function_name=physical["AuthorizerFunction"],
                          role_name=physical["AuthorizerRole"], log_group=physical["AuthorizerLogGroup"],
                          mode_parameter=physical["ModeParameter"], authorizer_id=physical.get("Authorizer") or None)


def adopt(ctx: Context, stack: StackResources) -> None:
    """Record the stack's resources as this deployment's."""
    record = ctx.record
    if record.stack_name and record.stack_name != stack.name:
        raise UserError(f"deployment.json records stack {record.stack_name}; undeploy it before adopting another",
                        where=f"--stack {stack.name}")
    if not record.stack_name and record.function_arn:
        raise UserError("this plan was deployed without a stack (deployment.json names its resources): undeploy "
                        "first, or keep deploying without --stack", where=f"--stack {stack.name}")
    record.stack_name = stack.name
    record.policy_store_id, record.identity_source_id = stack.policy_store_id, stack.identity_source_id
    record.role_name, record.log_group = stack.role_name, stack.log_group
    record.authorizer_id = stack.authorizer_id or ""


def check_store(changes: list[Any], stack: StackResources) -> None:
    """The store must already be what the gate proved: the stack owns it, so deploy changes nothing there."""
    if changes:
        listed = "; ".join(f"{c.action} {c.resource}: {c.detail}" for c in changes[:3])
        more = f" (and {len(changes) - 3} more)" if len(changes) > 3 else ""
        raise UserError(f"its policy store {stack.policy_store_id} differs from the plan as verified: {listed}{more}; "
                        "update the stack with this plan's cloudformation.json (plan again if policies/*.cedar were "
                        "edited: the template is written by plan)", where=f"--stack {stack.name}")


def check_function(ctx: Context, stack: StackResources, config_text: str) -> dict[str, str]:
    """The function's configuration and code, against the plan; its environment variables."""
    lam = ctx.client("lambda")
    found = lam.get_function(FunctionName=stack.function_name)
    configuration = found["Configuration"]
    ctx.record.function_name, ctx.record.function_arn = stack.function_name, configuration["FunctionArn"]
    variables = dict((configuration.get("Environment") or {}).get("Variables") or {})
    where = f"--stack {stack.name}"
    if variables.get(ENV_POLICY_STORE_ID) != stack.policy_store_id:
        raise UserError(f"function {stack.function_name} asks policy store {variables.get(ENV_POLICY_STORE_ID)!r}, "
                        f"the stack's is {stack.policy_store_id}", where=where)
    if variables.get(ENV_MODES_PARAMETER) != stack.mode_parameter:
        raise UserError(f"function {stack.function_name} reads modes from {variables.get(ENV_MODES_PARAMETER)!r}, "
                        f"the stack's parameter is {stack.mode_parameter}", where=where)
    shipped = _config_in_code(found.get("Code") or {}, stack)
    if json.loads(shipped) != json.loads(config_text):
        raise UserError(f"function {stack.function_name} carries another authorizer-config.json than the plan's: "
                        "build the package from this plan (`avp-migrate package`), upload it and update the stack "
                        "(a new ArtifactKey)", where=where)
    return variables


def _config_in_code(code: dict[str, Any], stack: StackResources) -> str:
    from migrate.deploy.package_check import download_presigned

    where = f"--stack {stack.name}"
    data = download_presigned(str(code.get("Location") or ""), limit=MAX_CODE_BYTES,
                              what=f"the code of {stack.function_name}", operation="GetFunction", where=where)
    try:
        return zipfile.ZipFile(io.BytesIO(data)).read(CONFIG_IN_ZIP).decode("utf-8")
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError):
        raise UserError(f"the code of {stack.function_name} is not an avp-migrate package (no {CONFIG_IN_ZIP})",
                        where=where) from None


def check_authorizer(ctx: Context, stack: StackResources) -> list[dict[str, Any]]:
    """The stack's REQUEST authorizer must call the function with deploy's identity sources; the API's
    authorizers, read once (for describing methods and for adopt_template_moves)."""
    apigw = ctx.client("apigateway")
    existing: list[dict[str, Any]] = apigw.get_authorizers(restApiId=ctx.names.api_id, limit=500).get("items") or []
    if stack.authorizer_id is None:
        return existing
    current = next((a for a in existing if a["id"] == stack.authorizer_id), None)
    where = f"--stack {stack.name}"
    if current is None:
        raise UserError(f"its authorizer {stack.authorizer_id} is not on API {ctx.names.api_id}", where=where)
    wrong = [key for key, value in (("type", "REQUEST"), ("identitySource", IDENTITY_SOURCE),
                                    ("authorizerUri", ctx.names.authorizer_uri)) if current.get(key) != value]
    if wrong:
        raise UserError(f"its authorizer {stack.authorizer_id} differs from avp-migrate's in {', '.join(wrong)}",
                        where=where)
    return existing


def adopt_template_moves(ctx: Context, selected: list[PlannedRoute], live: dict[str, Any],
                         authorizers: list[dict[str, Any]]) -> list[PlannedRoute]:
    """For an API its own stack defines: the selected routes whose methods that stack already put on a REQUEST
    authorizer calling this deployment's function (`avp-migrate patch-template`), recorded as moved (their
    original authorization from the plan) so cutover, status and the shadow report know them. deploy moves none:
    routes the template has not moved yet are named in a note."""
    ours = {a["id"] for a in authorizers
            if a.get("type") == "REQUEST" and a.get("authorizerUri") == ctx.names.authorizer_uri}
    adopted, waiting, used = [], [], set()
    for route in selected:
        method = (live.get(route.route) or {}).get("method") or {}
        if method.get("authorizationType") == "CUSTOM" and method.get("authorizerId") in ours:
            used.add(method["authorizerId"])
            adopted.append(route)
            found = live[route.route]
            ctx.record.methods[route.route] = MovedMethod(
                resource_id=found["resource_id"], http_method=found["http_method"],
                original=OriginalMethod(authorizationType=route.authorization_type, authorizerId=route.authorizer_id,
                                        authorizationScopes=list(route.scopes)))
        else:
            waiting.append(route.route)
    if len(used) > 1:
        raise UserError(f"methods of API {ctx.names.api_id} use {len(used)} authorizers calling "
                        f"{ctx.names.function_name} ({', '.join(sorted(used))}): keep one", where="deploy --stack")
    if used:
        ctx.record.authorizer_id = used.pop()
    ctx.record.api_owner = "CloudFormation"
    ctx.notes.append(f"the API is defined by a CloudFormation stack: its own template moves its methods "
                     f"(`avp-migrate patch-template`); {len(adopted)} moved there are recorded"
                     + (f"; not moved yet: {', '.join(waiting[:5])}{' ...' if len(waiting) > 5 else ''}"
                        if waiting else ""))
    return adopted
