"""Reading a plan folder back (for `verify --plan`): the schema and policies as they are on disk, maybe edited."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cedarpy

from authorizer.config import AuthorizerConfig, ConfigError
from migrate.equivalence import Checker, EquivalenceResult
from migrate.errors import UserError
from migrate.fileio import read_json
from migrate.inventory.model import Inventory
from migrate.translate import translate


def read_policies(folder: Path) -> str:
    """Every ``policies/*.cedar`` file, each parsed on its own so that an error names its file."""
    directory = folder / "policies"
    if not directory.is_dir():
        raise UserError("no policies/ folder: not a plan folder", where=str(folder))
    texts = []
    for path in sorted(directory.glob("*.cedar")):
        text = path.read_text(encoding="utf-8")
        try:
            cedarpy.policies_to_json_str(text)
        except ValueError as exc:
            raise UserError(f"not valid Cedar: {' '.join(str(exc).split())[:300]}", where=str(path)) from None
        texts.append(text)
    return "\n".join(texts)


def check_plan_folder(inventory: Inventory, plan: str | os.PathLike[str], *, api_id: str | None = None,
                      pool_id: str | None = None) -> EquivalenceResult:
    folder = Path(plan)
    if not folder.is_dir():
        raise UserError("plan folder not found", where=str(folder))
    config = read_json(folder / "authorizer-config.json", what="authorizer config")
    schema: dict[str, Any] = read_json(folder / "schema.json", what="Cedar schema")
    try:
        cedarpy.Schema.from_json_str(json.dumps(schema))
    except ValueError as exc:
        raise UserError(f"not a valid Cedar schema: {' '.join(str(exc).split())[:300]}",
                        where=str(folder / "schema.json")) from None
    policies = read_policies(folder)
    result = cedarpy.validate_policies(policies, json.dumps(schema)) if policies.strip() else None
    if result is not None and not result.validation_passed:
        ids = result.id_annotations_by_policy_id
        first = result.errors[0]
        raise UserError(f"policy {ids.get(first.policy_id, first.policy_id)!r} fails strict validation against "
                        f"schema.json: {first.error}", where=str(folder / "policies"))
    try:
        namespace = config["namespace"]
        planned_api = config["api"]["id"]
        planned_pool = config["user_pools"][0]["id"]
    except (KeyError, IndexError, TypeError):
        raise UserError("missing namespace, api.id or user_pools[0].id",
                        where=str(folder / "authorizer-config.json")) from None
    translation = translate(inventory, api_id=api_id or planned_api, pool_id=pool_id or planned_pool)
    planned_routes = set((config.get("routes") or {}).keys())
    missing = sorted(r.route for r in translation.migrated_routes if r.route not in planned_routes)
    if missing:
        raise UserError(f"the plan does not cover {', '.join(missing)} (the snapshot has methods the plan does "
                        "not know: plan again)", where=str(folder))
    declared = set((schema.get(namespace) or {}).get("actions") or {})
    undeclared = sorted(a for r in translation.migrated_routes for a in r.actions.values() if a not in declared)
    if undeclared:
        raise UserError(f"schema.json declares no action {undeclared[0]!r}", where=str(folder / "schema.json"))
    # The authorizer config as deploy ships it: its actions per verb, token types, scopes and client allow-list
    # are what the authorizer enforces, so they are what verify checks (a hand edit is verified as edited).
    try:
        authorizer_config = AuthorizerConfig.from_dict(config)
    except ConfigError as exc:
        raise UserError(f"invalid authorizer config: {exc}", where=str(folder / "authorizer-config.json")) from None
    undeclared = sorted(a for r in authorizer_config.routes.values() for a in r.actions.values() if a not in declared)
    if undeclared:
        raise UserError(f"authorizer-config.json names action {undeclared[0]!r}, which schema.json does not declare",
                        where=str(folder / "authorizer-config.json"))
    return Checker(translation.regime, translation.routes, namespace=namespace, schema=schema,
                   policies_text=policies, config=authorizer_config).run()
