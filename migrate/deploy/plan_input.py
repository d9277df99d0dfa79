"""The plan folder as deploy reads it: checked completely before any AWS call, so bad input costs nothing.

What deploy takes from the folder (see :mod:`migrate.plan` for the layout):

* ``plan.json``: the API (id, name, stage) and, per route, how the method is authorized today (type, authorizer,
  scopes): deploy refuses to move a method whose live configuration no longer matches what the plan proved.
* ``authorizer-config.json``: the migrated routes (the only ones ``--endpoint`` may name), bundled verbatim into
  the Lambda package.
* ``schema.json`` and ``policies/*.cedar`` as they are on disk (possibly edited, as ``verify --plan`` accepts):
  one policy per file, each with a unique ``@id`` annotation, which is how deploy recognises a policy in the store.
  They are validated in STRICT mode against the schema here, so the store never refuses them half-way. The reading
  is :class:`migrate.plan_folder.PlanFolder`'s, the same as verify's; whether they may be deployed at all is the
  gate's question (:mod:`.gate`).
* ``plan.json``'s status of each endpoint: a *blocked* one is never moved.
* ``cloudformation.json``: the identity source (pool ARN, client ids, principal and group entity types) and each
  policy's description.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authorizer.config import AuthorizerConfig
from authorizer.routes import split_route_key
from migrate.errors import InvalidPlan
from migrate.plan_folder import PlanFolder, policy_est, policy_id_of

__all__ = ["PlanInput", "PlannedPolicy", "PlannedRoute", "load_plan", "policy_est", "policy_id_of"]

MAX_POLICY_DESCRIPTION = 150  # StaticPolicyDefinition.description, botocore model: max 150


@dataclass(frozen=True)
class PlannedPolicy:
    policy_id: str  # the @id annotation: the policy's identity across deploys
    statement: str
    description: str | None
    file: str  # path relative to the plan folder, for messages
    est: dict[str, Any]  # Cedar's JSON form: compared, so formatting changes are not changes


@dataclass(frozen=True)
class PlannedRoute:
    route: str
    verb: str
    path: str
    authorization_type: str  # as the scan saw the method
    authorizer_id: str | None
    scopes: tuple[str, ...]
    status: str = "exact"  # the plan's verdict for the endpoint: exact, needs review, blocked
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanInput:
    folder: Path
    api_id: str
    api_name: str
    stage: str
    namespace: str
    pool_arn: str
    client_ids: tuple[str, ...]
    principal_entity_type: str
    group_entity_type: str
    schema: dict[str, Any]
    policies: tuple[PlannedPolicy, ...]
    routes: dict[str, PlannedRoute]  # migrated routes, in the plan's order
    config_text: str  # authorizer-config.json, bundled as is

    def where(self, name: str) -> str:
        return str(self.folder / name)


def load_plan(folder_text: str) -> PlanInput:
    plan = PlanFolder.open(folder_text)
    folder = plan.path
    document = plan.plan_document()
    config_text = plan.config_text()
    config = plan.config()
    api = document.get("api") or {}
    if api.get("id") != config.api_id or not api.get("stage"):
        raise InvalidPlan(f"plan.json names API {api.get('id')!r} stage {api.get('stage')!r}, authorizer-config.json "
                          f"API {config.api_id!r}: the folder is inconsistent (plan again)", where=str(folder))
    schema = plan.schema()
    identity = plan.identity_source()
    descriptions = _descriptions(plan)
    policies = tuple(PlannedPolicy(policy_id=p.policy_id, statement=p.text, description=descriptions.get(p.policy_id),
                                   file=p.file, est=p.est) for p in plan.policies(schema))
    routes = _routes(folder, document, config)
    return PlanInput(
        folder=folder, api_id=config.api_id, api_name=str(api.get("name") or config.api_name),
        stage=str(api["stage"]), namespace=config.namespace, pool_arn=identity["pool_arn"],
        client_ids=tuple(identity["client_ids"]), principal_entity_type=identity["principal_entity_type"],
        group_entity_type=identity["group_entity_type"], schema=schema, policies=policies, routes=routes,
        config_text=config_text)


def _descriptions(plan: PlanFolder) -> dict[str, str]:
    """Each policy's description, from cloudformation.json and its nested stacks' templates (a nicety: the policies
    come from policies/*.cedar)."""
    descriptions: dict[str, str] = {}
    resources = list(plan.cloudformation()["Resources"].values())
    for child in sorted(plan.path.glob("cloudformation-policies-*.json")):
        try:
            resources += list((json.loads(child.read_text(encoding="utf-8")).get("Resources") or {}).values())
        except (OSError, ValueError, AttributeError):
            continue  # descriptions only: a broken child template is cfn-lint's and CloudFormation's to report
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::VerifiedPermissions::Policy":
            continue
        static = ((resource.get("Properties") or {}).get("Definition") or {}).get("Static") or {}
        try:
            ests = policy_est(static.get("Statement") or "")
        except ValueError:
            continue
        for est in ests:
            policy_id = policy_id_of(est)
            if policy_id and static.get("Description"):
                descriptions[policy_id] = str(static["Description"])[:MAX_POLICY_DESCRIPTION]
    return descriptions


def _routes(folder: Path, document: dict[str, Any], config: AuthorizerConfig) -> dict[str, PlannedRoute]:
    by_route = {r.get("route"): r for r in document.get("routes") or [] if isinstance(r, dict)}
    routes: dict[str, PlannedRoute] = {}
    for key in config.routes:
        today = by_route.get(key)
        if today is None:
            raise InvalidPlan(f"authorizer-config.json has route {key!r} but plan.json does not (plan again)",
                              where=str(folder))
        verb, path = split_route_key(key)
        authorizer = today.get("authorizer") or {}
        routes[key] = PlannedRoute(route=key, verb=verb, path=path,
                                   authorization_type=str(today.get("authorization_type")),
                                   authorizer_id=authorizer.get("id"), scopes=tuple(today.get("scopes") or ()),
                                   status=str(today.get("status") or "exact"),
                                   reasons=tuple(str(r) for r in today.get("reasons") or ()))
    return routes
