"""The plan folder as deploy reads it: checked completely before any AWS call, so bad input costs nothing.

What deploy takes from the folder (see :mod:`migrate.plan` for the layout):

* ``plan.json``: the API (id, name, stage) and, per route, how the method is authorized today (type, authorizer,
  scopes): deploy refuses to move a method whose live configuration no longer matches what the plan proved.
* ``authorizer-config.json``: the migrated routes (the only ones ``--endpoint`` may name), bundled verbatim into
  the Lambda package.
* ``schema.json`` and ``policies/*.cedar`` as they are on disk (possibly edited, as ``verify --plan`` accepts):
  one policy per file, each with a unique ``@id`` annotation, which is how deploy recognises a policy in the store.
  They are validated in STRICT mode against the schema here, so the store never refuses them half-way.
* ``cloudformation.json``: the identity source (pool ARN, client ids, principal and group entity types) and each
  policy's description.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from authorizer.config import AuthorizerConfig, ConfigError
from authorizer.routes import split_route_key
from migrate.errors import UserError
from migrate.fileio import read_json

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


def policy_est(statement: str) -> list[dict[str, Any]]:
    """The static policies of ``statement`` in Cedar's JSON form (raises ValueError when it does not parse)."""
    parsed = json.loads(cedarpy.policies_to_json_str(statement))
    if parsed.get("templates"):
        raise ValueError("policy templates are not supported")
    return list(parsed.get("staticPolicies", {}).values())


def policy_id_of(est: dict[str, Any]) -> str | None:
    value = (est.get("annotations") or {}).get("id")
    return value if isinstance(value, str) and value else None


def load_plan(folder_text: str) -> PlanInput:
    folder = Path(folder_text)
    if not folder.is_dir():
        raise UserError("plan folder not found", where=str(folder))
    if not (folder / "plan.json").is_file():
        raise UserError("not a plan folder (no plan.json; write one with `avp-migrate plan`)", where=str(folder))
    document = read_json(folder / "plan.json", what="plan")
    if not isinstance(document, dict) or document.get("format_version") != 1:
        raise UserError("not a plan of format 1", where=str(folder / "plan.json"))
    config_text = _read_text(folder / "authorizer-config.json", "authorizer config")
    try:
        config = AuthorizerConfig.from_json(config_text)
    except ConfigError as exc:
        raise UserError(str(exc), where=str(folder / "authorizer-config.json")) from None
    api = document.get("api") or {}
    if api.get("id") != config.api_id or not api.get("stage"):
        raise UserError(f"plan.json names API {api.get('id')!r} stage {api.get('stage')!r}, authorizer-config.json "
                        f"API {config.api_id!r}: the folder is inconsistent (plan again)", where=str(folder))
    schema = read_json(folder / "schema.json", what="Cedar schema")
    try:
        cedarpy.Schema.from_json_str(json.dumps(schema))
    except ValueError as exc:
        raise UserError(f"not a valid Cedar schema: {' '.join(str(exc).split())[:300]}",
                        where=str(folder / "schema.json")) from None
    identity, descriptions = _cloudformation(folder)
    policies = _policies(folder, schema, descriptions)
    routes = _routes(folder, document, config)
    return PlanInput(
        folder=folder, api_id=config.api_id, api_name=str(api.get("name") or config.api_name),
        stage=str(api["stage"]), namespace=config.namespace, pool_arn=identity["pool_arn"],
        client_ids=tuple(identity["client_ids"]), principal_entity_type=identity["principal_entity_type"],
        group_entity_type=identity["group_entity_type"], schema=schema, policies=policies, routes=routes,
        config_text=config_text)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{what} not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what}: {exc}", where=str(path)) from None


def _cloudformation(folder: Path) -> tuple[dict[str, Any], dict[str, str]]:
    path = folder / "cloudformation.json"
    template = read_json(path, what="CloudFormation template")
    try:
        resources = template["Resources"]
        source = resources["IdentitySource"]["Properties"]
        cognito = source["Configuration"]["CognitoUserPoolConfiguration"]
        identity = {"pool_arn": cognito["UserPoolArn"], "client_ids": list(cognito.get("ClientIds") or []),
                    "principal_entity_type": source["PrincipalEntityType"],
                    "group_entity_type": cognito["GroupConfiguration"]["GroupEntityType"]}
    except (KeyError, TypeError):
        raise UserError("no Resources.IdentitySource with a CognitoUserPoolConfiguration", where=str(path)) from None
    descriptions: dict[str, str] = {}
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::VerifiedPermissions::Policy":
            continue
        static = ((resource.get("Properties") or {}).get("Definition") or {}).get("Static") or {}
        try:
            ests = policy_est(static.get("Statement") or "")
        except ValueError:
            continue  # descriptions are a nicety; the policies themselves come from policies/*.cedar
        for est in ests:
            policy_id = policy_id_of(est)
            if policy_id and static.get("Description"):
                descriptions[policy_id] = str(static["Description"])[:MAX_POLICY_DESCRIPTION]
    return identity, descriptions


def _policies(folder: Path, schema: Any, descriptions: dict[str, str]) -> tuple[PlannedPolicy, ...]:
    directory = folder / "policies"
    if not directory.is_dir():
        raise UserError("no policies/ folder: not a plan folder", where=str(folder))
    policies: list[PlannedPolicy] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.cedar")):
        relative = f"policies/{path.name}"
        text = _read_text(path, "Cedar policy")
        try:
            ests = policy_est(text)
        except ValueError as exc:
            raise UserError(f"not valid Cedar: {' '.join(str(exc).split())[:300]}", where=str(path)) from None
        if len(ests) != 1:
            raise UserError(f"holds {len(ests)} policies; deploy needs exactly one per file (each becomes one AVP "
                            "policy)", where=str(path))
        policy_id = policy_id_of(ests[0])
        if policy_id is None:
            raise UserError('no @id("...") annotation: deploy recognises policies in the store by it',
                            where=str(path))
        if policy_id in seen:
            raise UserError(f"@id {policy_id!r} is also used by {seen[policy_id]}", where=str(path))
        seen[policy_id] = relative
        policies.append(PlannedPolicy(policy_id=policy_id, statement=text, description=descriptions.get(policy_id),
                                      file=relative, est=ests[0]))
    if policies:
        result = cedarpy.validate_policies("\n".join(p.statement for p in policies), json.dumps(schema))
        if not result.validation_passed:
            first = result.errors[0]
            ids = result.id_annotations_by_policy_id
            raise UserError(f"policy {ids.get(first.policy_id, first.policy_id)!r} fails strict validation against "
                            f"schema.json: {first.error}", where=str(directory))
    return tuple(policies)


def _routes(folder: Path, document: dict[str, Any], config: AuthorizerConfig) -> dict[str, PlannedRoute]:
    by_route = {r.get("route"): r for r in document.get("routes") or [] if isinstance(r, dict)}
    routes: dict[str, PlannedRoute] = {}
    for key in config.routes:
        today = by_route.get(key)
        if today is None:
            raise UserError(f"authorizer-config.json has route {key!r} but plan.json does not (plan again)",
                            where=str(folder))
        verb, path = split_route_key(key)
        authorizer = today.get("authorizer") or {}
        routes[key] = PlannedRoute(route=key, verb=verb, path=path,
                                   authorization_type=str(today.get("authorization_type")),
                                   authorizer_id=authorizer.get("id"), scopes=tuple(today.get("scopes") or ()))
    return routes
