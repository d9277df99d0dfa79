"""API Gateway: the Lambda REQUEST authorizer, moving methods onto it (and back), and the stage deployment.

* Authorizer: type ``REQUEST``, identity sources ``method.request.header.Authorization,context.httpMethod,
  context.resourcePath,context.path`` (why all four: ``authorizer/README.md``), result TTL ``--ttl`` (API Gateway
  allows 0-3600, default 300: API reference, CreateAuthorizer). Found again by the recorded id, else by name.
* Moving a method is one ``UpdateMethod`` with patch operations: remove each scope from
  ``/authorizationScopes`` (scopes belong to Cognito authorizers), replace ``/authorizationType`` with ``CUSTOM``
  and ``/authorizerId`` with ours. The integration is not touched. The method's configuration before the move is
  recorded first, so undeploy can always put it back exactly (type, authorizer, scopes in their order).
* A method is only moved while it is configured as the plan saw it: otherwise the plan's equivalence proof is
  about another configuration, and deploy asks for a new scan and plan.
* Methods, authorizers and their settings reach callers only with a deployment of the stage, created last. While
  API Gateway changes are applied but not yet deployed, the record's ``deployed_at`` is empty; a run that
  finds it empty deploys the stage even when nothing else changed (a failed run is finished by the next one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from migrate.deploy.changes import Change
from migrate.deploy.context import Context, is_not_found
from migrate.deploy.plan_input import PlannedRoute
from migrate.deploy.record import MovedMethod, OriginalMethod
from migrate.errors import UserError

IDENTITY_SOURCE = "method.request.header.Authorization,context.httpMethod,context.resourcePath,context.path"
MAX_TTL = 3600


def read_methods(apigw: Any, api_id: str) -> dict[str, dict[str, Any]]:
    """Route key -> {"resource_id", "http_method", "method": GetMethod-shaped dict}, in one paged read."""
    methods: dict[str, dict[str, Any]] = {}
    position: str | None = None
    while True:
        page = apigw.get_resources(restApiId=api_id, embed=["methods"], limit=500,
                                   **({"position": position} if position else {}))
        for resource in page.get("items") or []:
            for verb, method in (resource.get("resourceMethods") or {}).items():
                methods[f"{verb} {resource['path']}"] = {"resource_id": resource["id"], "http_method": verb,
                                                         "method": method}
        position = page.get("position")
        if not position:
            return methods


def describe_method(method: dict[str, Any], names: dict[str, str]) -> str:
    kind = method.get("authorizationType") or "NONE"
    authorizer = method.get("authorizerId")
    text = kind + (f" {names.get(authorizer, authorizer)}" if authorizer else "")
    scopes = method.get("authorizationScopes") or []
    return text + (f" [{', '.join(scopes)}]" if scopes else "")


def plan_authorizer(ctx: Context, ttl: int) -> tuple[list[Change], dict[str, str]]:
    """The authorizer's changes, and authorizer id -> name for describing methods."""
    apigw = ctx.client("apigateway")
    api_id = ctx.names.api_id
    existing = apigw.get_authorizers(restApiId=api_id, limit=500).get("items") or []
    names = {a["id"]: a.get("name", a["id"]) for a in existing}
    current = next((a for a in existing if a["id"] == ctx.record.authorizer_id), None) or next(
        (a for a in existing if a.get("name") == ctx.names.authorizer_name), None)
    wanted = {"name": ctx.names.authorizer_name, "authorizerUri": ctx.names.authorizer_uri,
              "identitySource": IDENTITY_SOURCE, "authorizerResultTtlInSeconds": ttl}
    detail = f"REQUEST, TTL {ttl} s, identity sources {IDENTITY_SOURCE}"
    if current is None:
        ctx.record.authorizer_id = ""

        def create() -> None:
            ctx.record.deployed_at = ""
            created = apigw.create_authorizer(restApiId=api_id, type="REQUEST", **wanted)
            ctx.record.authorizer_id = created["id"]

        return [Change("create", f"apigateway authorizer {ctx.names.authorizer_name}", detail, apply=create)], names
    if current.get("type") != "REQUEST":
        raise UserError(f"authorizer {current['id']} named {current.get('name')!r} is of type {current.get('type')}, "
                        "not avp-migrate's REQUEST authorizer: rename it or pass --function-name",
                        where=f"API {api_id}")
    ctx.record.authorizer_id = current["id"]
    patches = [{"op": "replace", "path": f"/{key}", "value": str(value)} for key, value in wanted.items()
               if current.get(key, 300 if key == "authorizerResultTtlInSeconds" else None) != value]
    if not patches:
        return [], names

    def update() -> None:
        ctx.record.deployed_at = ""
        apigw.update_authorizer(restApiId=api_id, authorizerId=current["id"], patchOperations=patches)

    changed = ", ".join(p["path"].lstrip("/") for p in patches)
    return [Change("update", f"apigateway authorizer {ctx.names.authorizer_name} ({current['id']})",
                   f"{changed} -> {detail}", apply=update)], names


def plan_moves(ctx: Context, routes: list[PlannedRoute], live: dict[str, dict[str, Any]],
               names: dict[str, str]) -> list[Change]:
    apigw = ctx.client("apigateway")
    ours = ctx.record.authorizer_id  # "" while the authorizer is still to be created
    changes: list[Change] = []
    for route in routes:
        found = live.get(route.route)
        if found is None:
            raise UserError(f"{route.route}: no such method on API {ctx.names.api_id} (the API changed since the "
                            "scan: scan and plan again)", where=f"API {ctx.names.api_id}")
        method = found["method"]
        kind, authorizer = method.get("authorizationType"), method.get("authorizerId")
        scopes = list(method.get("authorizationScopes") or [])
        if kind == "CUSTOM" and ours and authorizer == ours:
            if route.route not in ctx.record.methods:
                raise UserError(f"{route.route} already uses avp-migrate's authorizer but this deployment.json does "
                                "not record its configuration before the move: put back the deployment.json of the "
                                "plan folder that deployed it (`avp-migrate plan --out` replaces a folder)",
                                where=str(ctx.record_file))
            continue
        today = (route.authorization_type, route.authorizer_id, sorted(route.scopes))
        if (kind, authorizer, sorted(scopes)) != today:
            raise UserError(f"{route.route}: the method is now {describe_method(method, names)}, the plan saw "
                            f"{describe_method(_as_method(route), names)}: scan and plan again",
                            where=f"API {ctx.names.api_id}")
        original = OriginalMethod(authorizationType=kind, authorizerId=authorizer, authorizationScopes=scopes)
        moved = MovedMethod(resource_id=found["resource_id"], http_method=found["http_method"], original=original)
        changes.append(Change("update", f"apigateway method {route.route}",
                              f"{describe_method(method, names)} -> CUSTOM {ctx.names.authorizer_name}",
                              apply=_mover(ctx, apigw, route.route, moved)))
    return changes


def _as_method(route: PlannedRoute) -> dict[str, Any]:
    return {"authorizationType": route.authorization_type, "authorizerId": route.authorizer_id,
            "authorizationScopes": list(route.scopes)}


def _mover(ctx: Context, apigw: Any, route: str, moved: MovedMethod) -> Any:
    def move() -> None:
        ctx.record.deployed_at = ""
        ctx.record.methods[route] = moved  # before the call: undeploy must know the original whatever happens
        patches = [{"op": "remove", "path": "/authorizationScopes", "value": s}
                   for s in moved.original.authorizationScopes]
        patches += [{"op": "replace", "path": "/authorizationType", "value": "CUSTOM"},
                    {"op": "replace", "path": "/authorizerId", "value": ctx.record.authorizer_id}]
        apigw.update_method(restApiId=ctx.names.api_id, resourceId=moved.resource_id,
                            httpMethod=moved.http_method, patchOperations=patches)

    return move


def restore_patches(original: OriginalMethod) -> list[dict[str, str]]:
    patches = [{"op": "replace", "path": "/authorizationType", "value": original.authorizationType}]
    if original.authorizerId:
        patches.append({"op": "replace", "path": "/authorizerId", "value": original.authorizerId})
    patches += [{"op": "add", "path": "/authorizationScopes", "value": s} for s in original.authorizationScopes]
    return patches


def plan_stage_deployment(ctx: Context, changed: bool, description: str) -> list[Change]:
    pending = not ctx.record.deployed_at and bool(ctx.record.methods or ctx.record.authorizer_id)
    if not changed and not pending:
        return []
    apigw = ctx.client("apigateway")

    def deploy() -> None:
        apigw.create_deployment(restApiId=ctx.names.api_id, stageName=ctx.names.stage, description=description)
        ctx.record.deployed_at = datetime.now(UTC).isoformat(timespec="seconds")

    why = description if changed else f"{description} (a previous run stopped before deploying the stage)"
    return [Change("create", f"apigateway deployment of stage {ctx.names.stage}", why, apply=deploy)]


def check_stage(apigw: Any, api_id: str, stage: str) -> None:
    try:
        apigw.get_stage(restApiId=api_id, stageName=stage)
    except Exception as exc:
        if is_not_found(exc):
            raise UserError(f"stage {stage!r} not found on API {api_id} (deploying would create it)",
                            where="plan.json api.stage") from None
        raise
