"""Translate one API's scope regime to a Cedar schema, group-based policies and an authorizer configuration.

Pure: reads the inventory snapshot, makes no AWS call. :func:`translate` is the entry point; see
:mod:`migrate.translate.grants` for how rules become grants, :mod:`migrate.translate.schema` for the schema and
:mod:`migrate.translate.render` for the policy text and quotas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from authorizer.config import AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig
from authorizer.routes import ANY_VERBS, action_id, method_verbs, route_key
from migrate.cedar_text import namespace_for
from migrate.errors import UserError
from migrate.inventory.model import COGNITO_POOL_ID, Inventory, Method, RestApi, UserPool, parse_user_pool_arn
from migrate.regime import PoolRegime, expected_token_use
from migrate.translate.grants import GrantBuilder
from migrate.translate.layouts import ID_TOKEN_GROUP, MAX_ROUTE_PARENTS, STORE_LAYOUTS, verb_action
from migrate.translate.limits import ENTITY_ID_MAX_BYTES, avp_namespace, describe, entity_id_too_long
from migrate.translate.model import CedarPolicy, Finding, Grant, QuotaUsage, RoutePlan
from migrate.translate.render import (
    NO_RESOURCE_BUCKET_BYTES,
    POLICY_MAX_BYTES,
    SCHEMA_MAX_BYTES,
    Names,
    render,
    render_routes,
    validate,
)
from migrate.translate.schema import build_routes_schema, build_schema, schema_json
from migrate.translate.scope_reach import ScopeReach

LAYOUTS = ("scopes", "groups")


@dataclass
class Translation:
    api: RestApi
    pool: UserPool
    regime: PoolRegime
    namespace: str
    layout: str
    tighten: bool
    routes: list[RoutePlan]
    grants: list[Grant]
    policies: list[CedarPolicy]
    schema: dict[str, Any]
    findings: list[Finding]
    quotas: list[QuotaUsage] = field(default_factory=list)
    store_layout: str = "actions"  # "actions" or "routes" (migrate.translate.layouts)

    @property
    def schema_text(self) -> str:
        return schema_json(self.schema)

    @property
    def migrated_routes(self) -> list[RoutePlan]:
        return [r for r in self.routes if r.migrated]

    def authorizer_config(self) -> AuthorizerConfig:
        ns = self.namespace
        # Every app client whose tokens may reach the API today: user sign-in clients and client-credentials ones
        # (the authorizer's allow-list rejects any other client's token, in every mode).
        client_ids = tuple(sorted({f.client_id for f in (*self.regime.user_flows, *self.regime.machine_flows)
                                   if f.client_id}))
        machine_routes = self.machine_routes
        resource_type = f"{ns}::Route" if self.store_layout == "routes" else f"{ns}::Application"
        return AuthorizerConfig(
            api_id=self.api.id, api_name=self.api.name, stage=self.api.stage, namespace=ns,
            layout=self.store_layout,
            entity_types=EntityTypes(user=f"{ns}::User", group=f"{ns}::UserGroup", client=f"{ns}::Client",
                                     resource=resource_type, action=f"{ns}::Action"),
            resource_id=ns,
            user_pools=(PoolConfig(id=self.pool.id, issuer=issuer(self.pool), client_ids=client_ids),),
            machine_clients=tuple(f.client_id for f in self.regime.machine_flows),
            routes={r.route: RouteConfig(actions=dict(r.actions), scopes=r.scopes,
                                         token_use=r.token_use or "access", initial_mode="scope",
                                         machine_to_machine=r.route in machine_routes, parents=r.parents)
                    for r in self.migrated_routes},
        )

    @property
    def machine_routes(self) -> set[str]:
        scopes = {s for g in self.grants if g.kind == "machine-to-machine" for s in g.scopes}
        return {r.route for r in self.migrated_routes if scopes & set(r.scopes)}


def issuer(pool: UserPool) -> str:
    region = pool.region or (parse_user_pool_arn(pool.arn) or ("",))[0] or pool.id.split("_", 1)[0]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool.id}"


def select_api(inventory: Inventory, api_id: str | None) -> RestApi:
    if api_id is not None:
        for api in inventory.apis:
            if api.id == api_id:
                return api
        raise UserError(f"no API {api_id!r} in the snapshot (it has: "
                        f"{', '.join(a.id for a in inventory.apis) or 'none'})", where="--api-id")
    if len(inventory.apis) == 1:
        return inventory.apis[0]
    if not inventory.apis:
        raise UserError("the snapshot holds no API")
    listed = ", ".join(f"{a.id} ({a.name})" for a in inventory.apis)
    raise UserError(f"the snapshot holds {len(inventory.apis)} APIs; choose one with --api-id: {listed}")


def _route_plan(api: RestApi, method: Method, pool_id: str, verbs: tuple[str, ...], *, store_layout: str = "actions",
                namespace: str = "") -> RoutePlan:
    """``verbs``: the request verbs API Gateway sends to this method (for ANY, those without their own method on
    the resource: :func:`authorizer.routes.method_verbs`). ``store_layout``: the Cedar action per verb is the
    method's own (``actions``) or the verb's (``routes``, where the method is the resource)."""
    key = route_key(method.http_method, method.path)
    common = {"route": key, "method_path": method.path, "http_method": method.http_method,
              "authorization_type": method.authorization_type, "scopes": tuple(method.authorization_scopes),
              "authorizer_id": method.authorizer_id, "backend_reads_claims": tuple(method.claims_to_backend),
              "proxy_integration": method.integration_type in {"AWS_PROXY", "HTTP_PROXY"}}
    if method.authorization_type == "NONE":
        return RoutePlan(**common, token_use=None, actions={}, migrated=False, why_not_migrated="public (NONE)")
    if method.authorization_type != "COGNITO_USER_POOLS":
        kind = "IAM" if method.authorization_type == "AWS_IAM" else "Lambda authorizer"
        return RoutePlan(**common, token_use=None, actions={}, migrated=False,
                         why_not_migrated=f"{kind} ({method.authorization_type}): not an OAuth-scope method")
    authorizer = api.authorizer(method.authorizer_id)
    pools = authorizer.user_pool_ids if authorizer else []
    if pools != [pool_id]:
        reason = (f"its Cognito authorizer names user pools {', '.join(pools) or 'none'}; this plan is for {pool_id}"
                  if pool_id not in pools else
                  f"its Cognito authorizer accepts tokens from {len(pools)} user pools ({', '.join(pools)}); AVP "
                  "allows one identity source per policy store")
        return RoutePlan(**common, token_use=None, actions={}, migrated=False, why_not_migrated=reason)
    if not verbs:
        return RoutePlan(**common, token_use=None, actions={}, migrated=False,
                         why_not_migrated="unreachable: every verb ANY covers has its own method on this resource")
    token_use = expected_token_use(method)
    if store_layout == "routes":
        if entity_id_too_long(key):
            return RoutePlan(**common, token_use=None, actions={}, migrated=False,
                             why_not_migrated=f"its route entity id {describe('', key).strip()} is over AVP's "
                             f"{ENTITY_ID_MAX_BYTES}-byte entity id limit")
        if len(method.authorization_scopes) > MAX_ROUTE_PARENTS:
            return RoutePlan(**common, token_use=None, actions={}, migrated=False,
                             why_not_migrated=f"its {len(method.authorization_scopes)} scopes would be the route "
                             f"entity's parents, over AVP's {MAX_ROUTE_PARENTS}")
        parents = tuple((f"{namespace}::Scope", s) for s in method.authorization_scopes) if token_use == "access" \
            else ((f"{namespace}::RouteGroup", ID_TOKEN_GROUP),)
        return RoutePlan(**common, token_use=token_use, actions={verb: verb_action(verb) for verb in verbs},
                         migrated=True, parents=parents)
    actions = {verb: action_id(verb, method.path) for verb in verbs}
    long_ids = [a for a in actions.values() if entity_id_too_long(a)]
    if long_ids:
        return RoutePlan(**common, token_use=None, actions={}, migrated=False,
                         why_not_migrated=f"its Cedar action id {describe('', long_ids[0]).strip()} is over AVP's "
                         f"{ENTITY_ID_MAX_BYTES}-byte entity id limit")
    return RoutePlan(**common, token_use=token_use, actions=actions, migrated=True)


def _served_verbs(api: RestApi) -> dict[str, tuple[str, ...]]:
    """Per method, the verbs API Gateway sends it; refuses an API that declares one method twice (the result
    would depend on which came first)."""
    keys = [route_key(m.http_method, m.path) for m in api.methods]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise UserError(f"API {api.id} ({api.name}) declares method {key} twice: a snapshot cannot hold two "
                            "methods with one verb on one resource", where="snapshot")
        seen.add(key)
    return method_verbs(keys)


def _choose_pool(inventory: Inventory, api: RestApi, pool_id: str | None) -> str:
    pools: dict[str, list[str]] = {}
    for method in api.methods:
        if method.authorization_type == "COGNITO_USER_POOLS":
            authorizer = api.authorizer(method.authorizer_id)
            for pool in (authorizer.user_pool_ids if authorizer else []):
                pools.setdefault(pool, []).append(route_key(method.http_method, method.path))
    if pool_id is not None:
        if pool_id not in pools:
            raise UserError(f"API {api.id} has no Cognito method of user pool {pool_id!r} "
                            f"(its pools: {', '.join(pools) or 'none'})", where="--user-pool")
        return pool_id
    if not pools:
        raise UserError(f"API {api.id} ({api.name}) has no method with a Cognito user pool authorizer that names a "
                        "pool: nothing to migrate (for an export without providerARNs, rescan with --user-pool-arn)")
    if len(pools) > 1:
        listed = "; ".join(f"{p}: {len(r)} methods" for p, r in pools.items())
        raise UserError(f"API {api.id} ({api.name}) authorizes with {len(pools)} user pools ({listed}); AVP allows one "
                        "identity source per policy store, so plan one store per pool with --user-pool POOL_ID")
    return next(iter(pools))


def translate(inventory: Inventory, *, api_id: str | None = None, pool_id: str | None = None,
              layout: str = "scopes", tighten: bool = False, store_layout: str = "auto") -> Translation:
    if layout not in LAYOUTS:
        raise UserError(f"unknown layout {layout!r} (choose {' or '.join(LAYOUTS)})", where="--layout")
    if store_layout not in STORE_LAYOUTS:
        raise UserError(f"unknown store layout {store_layout!r} (choose {', '.join(STORE_LAYOUTS)})",
                        where="--store-layout")
    if store_layout == "routes" and layout == "groups":
        raise UserError("the groups policy layout lists each method's action, and the routes store layout has none "
                        "(the method is the resource): use --layout scopes", where="--layout")
    api = select_api(inventory, api_id)
    chosen = _choose_pool(inventory, api, pool_id)
    pool = inventory.user_pool(chosen)
    if pool is None:
        arn = next((a for auth in api.authorizers for a in auth.provider_arns
                    if (parse_user_pool_arn(a) or ("", "", ""))[2] == chosen), chosen)
        pool = UserPool(id=chosen, arn=arn, known_by_arn_only=True)
    namespace, renamed = avp_namespace(api.name)
    served = _served_verbs(api)
    regime = PoolRegime.from_pool(pool)
    reach = ScopeReach(regime)  # who holds which scope: one per translation, whichever layout it ends in
    has_machines = bool(regime.machine_flows) and not pool.known_by_arn_only

    def plan_routes(kind: str) -> list[RoutePlan]:
        return [_route_plan(api, m, chosen, served[route_key(m.http_method, m.path)], store_layout=kind,
                            namespace=namespace) for m in api.methods]

    chosen_layout = "routes" if store_layout == "routes" else "actions"
    routes = plan_routes(chosen_layout)
    grants, findings = GrantBuilder(regime, routes, tighten=tighten, reach=reach).build()
    # context.token is declared when a policy reads it, and whenever a client-credentials client calls: the
    # authorizer sends its token's claims as context.token with IsAuthorized.
    token_context = any(g.client_ids or g.require_scope_in_token for g in grants) or bool(regime.machine_flows)
    switched = ""
    if chosen_layout == "actions":
        schema = _actions_schema(namespace, routes, grants, layout=layout, token_context=token_context,
                                 has_machines=has_machines)
        size = len(schema_json(schema, compact=True).encode())
        if size > SCHEMA_MAX_BYTES and store_layout == "auto":
            if layout == "groups":
                raise UserError(f"AVP quota exceeded: schema (bytes) would be {size:,} with one action per method, "
                                f"the limit is {SCHEMA_MAX_BYTES:,}; --layout scopes lets the plan make each method "
                                "a resource instead (the routes store layout)")
            switched = (f"one Cedar action per method (the console's layout) would make a schema of {size:,} bytes, "
                        f"over AVP's {SCHEMA_MAX_BYTES:,}: the plan uses the routes layout (each method is a "
                        "resource, Route::\"<route key>\", member of its scopes; the action is the verb)")
            chosen_layout = "routes"
            routes = plan_routes("routes")
            grants, findings = GrantBuilder(regime, routes, tighten=tighten, reach=reach).build()
    if chosen_layout == "routes":
        schema = build_routes_schema(namespace, routes, token_context=token_context, has_machines=has_machines)
    if switched:
        findings.insert(0, Finding("store-layout", "info", switched, detail={"store_layout": "routes"}))
    if renamed:
        findings.insert(0, Finding(
            "namespace", "info", f"API name {api.name!r} would give the namespace {namespace_for(api.name)!r}, which "
            f"AVP refuses ({renamed}); the plan uses {namespace!r}", detail={"namespace": namespace}))
    if not pool.known_by_arn_only and not COGNITO_POOL_ID.fullmatch(pool.id):
        findings.insert(0, Finding(
            "pool-id-placeholder", "blocking", f"user pool {pool.id!r} is not a Cognito user pool id (a template's "
            "logical id, read before the pool exists or without its --parameter): Verified Permissions names groups "
            f"'<pool id>|<group>', so these policies would match no one; scan again with --parameter "
            f"{pool.id}=<pool id> (and the account and region)",
            routes=tuple(r.route for r in routes if r.migrated)))
    if pool.known_by_arn_only:
        findings.insert(0, Finding(
            "pool-unknown", "blocking", f"user pool {pool.id} is known by ARN only (offline scan): its groups, users, "
            "app clients and pre-token rules are unknown, so who can call what cannot be computed; scan the account",
            routes=tuple(r.route for r in routes if r.migrated)))

    names = Names(namespace, pool.id)
    policies = render_routes(grants, names) if chosen_layout == "routes" else \
        render(grants, routes, names, layout=layout)
    translation = Translation(api=api, pool=pool, regime=regime, namespace=namespace, layout=layout,
                              tighten=tighten, routes=routes, grants=grants, policies=policies, schema=schema,
                              findings=findings, store_layout=chosen_layout)
    _check(translation)
    translation.findings.extend(_route_findings(translation, reach))
    return translation


def _actions_schema(namespace: str, routes: list[RoutePlan], grants: list[Grant], *, layout: str,
                    token_context: bool, has_machines: bool) -> dict[str, Any]:
    scope_groups = {s for g in grants for s in g.scopes} if layout == "scopes" else set()
    # With any client-credentials client, every access-token action takes Client as a principal: the authorizer
    # asks AVP about a machine's token on whatever route it calls, and AVP must answer DENY where no policy
    # grants it, not refuse the request as invalid (a ValidationException would count as an AVP error).
    client_actions = {a for r in routes if r.migrated and r.token_use == "access" for a in r.actions.values()} \
        if has_machines else set()
    return build_schema(namespace, routes, scope_groups=scope_groups, token_context=token_context,
                        client_actions=client_actions)


def _check(translation: Translation) -> None:
    """Quotas, then strict validation: fail naming the problem rather than write a plan AVP would refuse. The
    sizes come first: they are cheap, and a plan over quota should not wait for validation to say so."""
    _check_entity_ids(translation)
    largest = max((p.size for p in translation.policies), default=0)
    # AVP totals policy sizes per resource named in the policy's scope, and those naming none in one
    # "unspecified" total (AVP user guide, "Policy size per resource"; 200,000 bytes by default).
    buckets: dict[str, int] = {}
    for policy in translation.policies:
        buckets[policy.resource] = buckets.get(policy.resource, 0) + policy.size
    unspecified = buckets.pop("", 0)
    schema_size = len(schema_json(translation.schema, compact=True).encode())
    translation.quotas = [
        QuotaUsage("largest policy statement (bytes)", largest, POLICY_MAX_BYTES),
        QuotaUsage("policies with no resource in scope (bytes, one bucket)", unspecified, NO_RESOURCE_BUCKET_BYTES),
        QuotaUsage("schema (bytes)", schema_size, SCHEMA_MAX_BYTES),
    ]
    if buckets:
        resource, used = max(buckets.items(), key=lambda item: item[1])
        translation.quotas.insert(2, QuotaUsage(f"policies naming one resource (bytes, largest: {resource})", used,
                                                NO_RESOURCE_BUCKET_BYTES))
    for quota in translation.quotas:
        if not quota.fits:
            hint = " (the scopes layout is smaller: --layout scopes)" if translation.layout == "groups" else ""
            raise UserError(f"AVP quota exceeded: {quota.name} is {quota.used:,}, the limit is {quota.limit:,}{hint}")
    errors = validate(translation.policies, translation.schema_text)
    if errors:
        raise UserError(f"the generated policies fail strict validation against the generated schema: {errors[0]}"
                        + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))


def _check_entity_ids(translation: Translation) -> None:
    """AVP refuses entity ids over 200 bytes (an error, so a Deny): stop naming what to change. Routes whose own
    action id is too long were left unmigrated already (:func:`_route_plan`)."""
    pool_id = translation.pool.id
    ids: list[tuple[str, str, str]] = []  # (kind, entity id, what to do)
    ids += [("group", f"{pool_id}|{g.name}", "rename the group: AVP gives every token holding it an error")
            for g in translation.pool.groups]
    for grant in translation.grants:
        if grant.principal.kind == "user":
            ids.append(("user", f"{pool_id}|{grant.principal.value}", "name the user by a group instead"))
        ids += [("user", f"{pool_id}|{sub}", "name the user by a group instead") for sub in grant.unless_users]
        if grant.principal.kind == "client":
            ids.append(("client", grant.principal.value, "AVP cannot name this client"))
    if translation.store_layout == "routes":
        ids += [("scope entity", s, "rename the scope") for s in sorted({s for g in translation.grants
                                                                        for s in g.scopes})]
    else:
        if translation.layout == "scopes":
            ids += [("scope action group", s, "use --layout groups, which needs no scope action group")
                    for s in sorted({s for g in translation.grants for s in g.scopes})]
        ids.append(("resource", translation.namespace, "rename the API"))
    over = [(kind, entity, hint) for kind, entity, hint in dict.fromkeys(ids) if entity_id_too_long(entity)]
    if over:
        kind, entity, hint = over[0]
        more = f" (and {len(over) - 1} more)" if len(over) > 1 else ""
        raise UserError(f"AVP limit exceeded: entity ids are at most {ENTITY_ID_MAX_BYTES} bytes; "
                        f"{describe(kind, entity)} is longer{more}: {hint}")


def _route_findings(translation: Translation, reach: ScopeReach) -> list[Finding]:
    findings: list[Finding] = []
    pool = translation.pool
    used = {s for r in translation.migrated_routes for s in r.scopes}
    # Clients' tokens directly; users' through one class per kind that holds a scope alike (ScopeReach).
    machines = {s for cls in translation.regime.classes if cls.is_machine for t in translation.regime.tokens(cls)
                for s in t.scopes}
    granted = machines | {s for s in used - machines if reach.obtainable(s)}
    defined = set(pool.defined_scopes)
    unused = sorted(defined - used)
    if unused:
        findings.append(Finding("dead-scope", "info", f"scopes no method requires: {', '.join(unused)}",
                                detail={"scopes": unused, "why": "required by no method"}))
    if not pool.known_by_arn_only and translation.regime.rules_known:
        ungranted = sorted(used - granted)
        if ungranted:
            findings.append(Finding(
                "dead-scope", "review", f"scopes methods require that no user or client can obtain: "
                f"{', '.join(ungranted)}", routes=tuple(r.route for r in translation.migrated_routes
                                                       if set(r.scopes) <= set(ungranted) and r.scopes),
                detail={"scopes": ungranted, "why": "granted by no rule or client"}))
    for route in translation.migrated_routes:
        if route.http_method.upper() == "ANY" and len(route.actions) < len(ANY_VERBS):
            own = [v for v in ANY_VERBS if v not in route.actions]
            findings.append(Finding(
                "any-narrowed", "info", f"{route.route} receives only {', '.join(route.actions)}: "
                f"{', '.join(own)} {'has its' if len(own) == 1 else 'have their'} own method on this resource, "
                "to which API Gateway sends every such request (ANY's scopes never decide it)",
                routes=(route.route,), detail={"verbs": list(route.actions), "own_methods": own}))
    claims = [r for r in translation.migrated_routes if r.backend_reads_claims]
    if claims:
        findings.append(Finding(
            "claims-backend", "review", "integrations that read $context.authorizer.claims: a Lambda authorizer "
            "returns a flat context instead (authorizer.sub, authorizer.groups, ...), so these backends must change",
            routes=tuple(r.route for r in claims),
            detail={"claims": {r.route: list(r.backend_reads_claims) for r in claims}}))
    proxies = [r for r in translation.migrated_routes if r.proxy_integration and not r.backend_reads_claims]
    if proxies:
        findings.append(Finding(
            "claims-backend", "info", "proxy integrations receive requestContext.authorizer: check whether their "
            "code reads authorizer.claims", routes=tuple(r.route for r in proxies)))
    skipped = [r for r in translation.routes if not r.migrated]
    if skipped:
        findings.append(Finding("not-migrated", "info", "methods left as they are: "
                                + "; ".join(f"{r.route} ({r.why_not_migrated})" for r in skipped),
                                routes=tuple(r.route for r in skipped)))
    return findings
