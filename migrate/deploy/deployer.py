"""`deploy`: compute the change set that brings the account to what the plan says, in shadow mode.

Everything that can be checked is checked before the first change: the plan folder (:mod:`.plan_input`), the
gate (:mod:`.gate`: the folder as it is on disk proven equivalent, or accepted exactly as verified), the
endpoints (blocked ones are never moved), the caller's account against the record, the API and stage, the live
methods against the plan, the layers, the package (pip runs here) and whether it runs: the zip and its layers,
unpacked, must import in a clean CPython of the runtime's version (:mod:`.package_check`). Then every resource
is read and compared; the result is a list of :class:`~migrate.deploy.changes.Change` in the order they must be
applied:

1. Verified Permissions: store, schema, identity source, policies (:mod:`.avp_store`)
2. the mode ledger table, its item for this version, the mode document (:mod:`.modes`)
3. the log group (with its retention), the role and its policy, the function (:mod:`.function`)
4. the API Gateway authorizer, Lambda's permission for it (:mod:`.apigw`, :mod:`.function`)
5. the smoke test, through API Gateway's TestInvokeAuthorizer (:mod:`.smoke`): a check, not a change; when it
   fails, deploy stops here, before any method has moved
6. the methods, the stage deployment (:mod:`.apigw`)

Resources a later step needs (the store's ARN for the role policy, the authorizer's id for the permission) are
read from the shared context when the change is applied, so one run can create everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authorizer.config import AuthorizerConfig
from migrate.awsconfig import AwsSession
from migrate.deploy import apigw, avp_store, function, modes, stack
from migrate.deploy.changes import Change
from migrate.deploy.context import Context, is_not_found
from migrate.deploy.gate import Gate, run_gate
from migrate.deploy.names import Names, partition_of
from migrate.deploy.package import PackageOptions, build_package
from migrate.deploy.package_check import CheckOptions, check_artifact, fetch_layers
from migrate.deploy.plan_input import PlanInput, PlannedRoute, load_plan
from migrate.deploy.record import DeploymentRecord, load_record, record_path
from migrate.deploy.runner import ChangeSet
from migrate.deploy.smoke import SmokeOptions, plan_smoke, smoke_change
from migrate.errors import UserError
from migrate.plan_folder import PlanFolder

MODES = ("shadow",)  # deploy puts endpoints in shadow; `cutover` moves them on


@dataclass(frozen=True)
class DeployOptions:
    mode: str = "shadow"
    endpoints: tuple[str, ...] = ()
    ttl: int = 300
    function_name: str | None = None
    package: PackageOptions = field(default_factory=PackageOptions)
    accept: str | None = None  # an acceptance file (verify --write-acceptance)
    reason: str | None = None  # why it is accepted
    check: CheckOptions = field(default_factory=CheckOptions)
    smoke: SmokeOptions = field(default_factory=SmokeOptions)
    log_retention_days: int = function.DEFAULT_LOG_RETENTION_DAYS
    stack: str | None = None  # --stack NAME: the infrastructure comes from this stack (migrate/deploy/stack.py)
    api_owned_by_stack: bool = False  # the API's own template moves its methods: deploy leaves them alone


BLOCKED = "blocked"


def select_routes(plan: PlanInput, endpoints: tuple[str, ...]) -> tuple[list[PlannedRoute], dict[str, str]]:
    """The routes to move, in the plan's order: all migrated routes, or those named (``get /avp`` is ``GET
    /avp``); and the routes skipped because the plan blocks them, with why (never moved, even when named)."""
    selected, skipped = [], {}
    for route in _named_routes(plan, endpoints):
        if route.status == BLOCKED:
            why = "; ".join(route.reasons) or "no reason given"
            skipped[route.route] = (f"blocked in the plan ({why[:300]}): never moved, even with --accept or "
                                    "--endpoint; fix the cause and plan again")
        else:
            selected.append(route)
    return selected, skipped


def _named_routes(plan: PlanInput, endpoints: tuple[str, ...]) -> list[PlannedRoute]:
    if not endpoints:
        return list(plan.routes.values())
    wanted = set()
    for endpoint in endpoints:
        verb, _, path = " ".join(endpoint.split()).partition(" ")
        key = f"{verb.upper()} {path}"
        if key not in plan.routes:
            examples = ", ".join(list(plan.routes)[:3])
            raise UserError(f"unknown route {endpoint!r}: not a migrated route of the plan in {plan.folder} "
                            f"(routes look like {examples})", where="--endpoint")
        wanted.add(key)
    return [route for key, route in plan.routes.items() if key in wanted]


def plan_deploy(session: AwsSession, plan_dir: str, options: DeployOptions) -> ChangeSet:
    plan = load_plan(plan_dir)
    gate: Gate = run_gate(PlanFolder.open(plan_dir), accept=options.accept, reason=options.reason)
    selected, gate.skipped = select_routes(plan, options.endpoints)
    if options.mode not in MODES:
        raise UserError(f"expected one of {', '.join(MODES)}, got {options.mode!r} (cut-over is `avp-migrate "
                        "cutover`)", where="--mode")
    if not 0 <= options.ttl <= apigw.MAX_TTL:
        raise UserError(f"must be between 0 and {apigw.MAX_TTL} seconds (API Gateway's limit), got {options.ttl}",
                        where="--ttl")
    if options.stack is None:
        options.package.check()
    if options.log_retention_days not in function.LOG_RETENTION_DAYS:
        raise UserError(f"CloudWatch Logs keeps logs for one of {', '.join(map(str, function.LOG_RETENTION_DAYS))} "
                        f"days, got {options.log_retention_days}", where="--log-retention-days")
    identity = session.client("sts").get_caller_identity()
    account, caller = identity["Account"], identity["Arn"]
    record = _existing_record(plan, session.region, account)
    if options.function_name and record.function_name and options.function_name != record.function_name:
        raise UserError(f"deployment.json records function {record.function_name}; undeploy before deploying "
                        f"under another name", where="--function-name")
    names = Names.make(api_id=plan.api_id, stage=plan.stage, region=session.region, account_id=account,
                       partition=partition_of(caller), function_name=options.function_name or
                       record.function_name or None)
    ctx = Context(session=session, names=names, record=record, folder=plan.folder, caller_arn=caller)
    ctx.record.gate = gate.record(caller)
    ctx.preface = gate.lines()
    resources = stack.read_stack(ctx, options.stack) if options.stack is not None else None
    if resources is not None:
        stack.adopt(ctx, resources)
    client = ctx.client("apigateway")
    try:
        client.get_rest_api(restApiId=plan.api_id)
    except Exception as exc:
        if is_not_found(exc):
            raise UserError(f"the plan's API {plan.api_id} ({plan.api_name}) does not exist in account {account} "
                            f"region {session.region}: wrong --profile/--region, or the API was deleted",
                            where=plan_dir) from None
        raise
    apigw.check_stage(client, plan.api_id, plan.stage)
    live = apigw.read_methods(client, plan.api_id)
    if resources is not None:
        return _plan_stack_deploy(ctx, plan, options, resources, selected, live)
    layers = fetch_layers(ctx.client("lambda"), options.package.layers, options.package.architecture,
                          account_id=ctx.names.account_id)
    package = build_package(plan.config_text, options.package)
    report = check_artifact(package, layers, options.check)
    ctx.notes += [report.summary, *report.notes]

    changes = avp_store.plan_avp(ctx, plan)
    route_keys = tuple(sorted(AuthorizerConfig.from_json(plan.config_text).routes))
    mode_plan = modes.plan_modes(ctx, [r.route for r in selected], options.mode, route_keys)
    smoke = plan_smoke(ctx, plan, dict(mode_plan.document.get("routes") or {}),
                       str(mode_plan.document.get("default") or "scope"), options.smoke)
    changes += mode_plan.changes
    changes += function.plan_log_group(ctx, options.log_retention_days)
    changes += function.plan_role(ctx)
    function_changes = function.plan_function(ctx, package, mode_plan.document, route_keys)
    changes += function_changes
    authorizer_changes, authorizer_names = apigw.plan_authorizer(ctx, options.ttl)
    changes += authorizer_changes
    function_exists = not any(c.action == "create" for c in function_changes)
    permission = function.plan_permission(ctx, function_exists, authorizer_known=bool(ctx.record.authorizer_id))
    changes += permission
    moves = apigw.plan_moves(ctx, selected, live, authorizer_names)
    if moves or function_changes or authorizer_changes or permission:
        # What the methods are about to be given must answer as the plan says, before the first one moves.
        changes.append(smoke_change(ctx, smoke))
    changes += moves
    total = len(ctx.record.methods) + len(moves)
    changes += apigw.plan_stage_deployment(
        ctx, changed=bool(authorizer_changes or moves),
        description=f"avp-migrate deploy: {total} method(s) on the Lambda authorizer ({options.mode})")
    return ChangeSet(ctx=ctx, changes=changes, verb="deploy")


def _plan_stack_deploy(ctx: Context, plan: PlanInput, options: DeployOptions, resources: stack.StackResources,
                       selected: list[PlannedRoute], live: dict[str, Any]) -> ChangeSet:
    """What deploy does beside a stack of the plan's template: check, record modes, settle the fallback, smoke
    test, move methods (migrate/deploy/stack.py)."""
    stack.check_store(avp_store.plan_avp(ctx, plan), resources)
    current_env = stack.check_function(ctx, resources, plan.config_text)
    authorizers = stack.check_authorizer(ctx, resources)
    authorizer_names = {a["id"]: a.get("name", a["id"]) for a in authorizers}
    route_keys = tuple(sorted(AuthorizerConfig.from_json(plan.config_text).routes))
    moving = selected
    if options.api_owned_by_stack:
        # The API's own template moved its methods (patch-template): record the ones it moved, change none.
        moving = stack.adopt_template_moves(ctx, selected, live, authorizers)
    mode_plan = modes.plan_modes(ctx, [r.route for r in moving], options.mode, route_keys)
    changes = list(mode_plan.changes)
    wanted = function.fallback_for(current_env, mode_plan.document, route_keys)
    if mode_plan.changes or current_env.get(function.ENV_MODES) != wanted:
        changes.append(Change("update", f"lambda function {resources.function_name}",
                              "fallback mode document (AVP_AUTHZ_MODES, owned by avp-migrate, not by the stack)",
                              apply=lambda: function.settle_fallback(ctx, route_keys)))
    moves: list[Change] = []
    if ctx.record.authorizer_id and not options.api_owned_by_stack:
        moves = apigw.plan_moves(ctx, moving, live, authorizer_names)
    elif not options.api_owned_by_stack:
        ctx.notes.append(f"stack {resources.name} made no authorizer (CreateAuthorizer=false): no method moves")
    if ctx.record.authorizer_id and (moves or changes):
        smoke = plan_smoke(ctx, plan, dict(mode_plan.document.get("routes") or {}),
                           str(mode_plan.document.get("default") or "scope"), options.smoke)
        changes.append(smoke_change(ctx, smoke))
    changes += moves
    if options.api_owned_by_stack:  # its stage deploys with its own stack
        return ChangeSet(ctx=ctx, changes=changes, verb="deploy")
    total = len(ctx.record.methods) + len(moves)
    changes += apigw.plan_stage_deployment(
        ctx, changed=bool(moves),
        description=f"avp-migrate deploy --stack {resources.name}: {total} method(s) on the Lambda authorizer")
    return ChangeSet(ctx=ctx, changes=changes, verb="deploy")


def _existing_record(plan: PlanInput, region: str, account: str) -> DeploymentRecord:
    if not record_path(plan.folder).exists():
        return DeploymentRecord(api_id=plan.api_id, api_name=plan.api_name, stage=plan.stage, region=region,
                                account_id=account, policy_store_id="", identity_source_id="", function_name="",
                                function_arn="", role_name="", log_group="", authorizer_id="", mode_parameter="",
                                ledger_table="", deployed_at="")
    record = load_record(plan.folder)
    where = str(record_path(plan.folder))
    if (record.api_id, record.stage) != (plan.api_id, plan.stage):
        raise UserError(f"records API {record.api_id} stage {record.stage}, the plan is for {plan.api_id} stage "
                        f"{plan.stage}", where=where)
    if (record.account_id, record.region) != (account, region):
        raise UserError(f"records account {record.account_id} region {record.region}; you are in account {account} "
                        f"region {region} (check --profile/--region)", where=where)
    return record
