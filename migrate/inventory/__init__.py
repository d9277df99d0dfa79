"""The inventory snapshot: model, and reading/writing it as JSON."""

from __future__ import annotations

import os
from typing import Any

from migrate.errors import UserError
from migrate.fileio import atomic_write_json, read_json
from migrate.inventory.model import (
    FORMAT_VERSION,
    AppClient,
    Authorizer,
    Group,
    Inventory,
    Method,
    PreTokenTrigger,
    ReadRecord,
    ResourceServer,
    RestApi,
    RuleSet,
    Scope,
    User,
    UserPool,
)
from migrate.inventory.serde import SnapshotError, from_jsonable, to_jsonable

__all__ = [
    "FORMAT_VERSION",
    "AppClient",
    "Authorizer",
    "Group",
    "Inventory",
    "Method",
    "PreTokenTrigger",
    "ReadRecord",
    "ResourceServer",
    "RestApi",
    "RuleSet",
    "Scope",
    "User",
    "UserPool",
    "inventory_from_dict",
    "inventory_to_dict",
    "load_inventory",
    "save_inventory",
]


def inventory_to_dict(inventory: Inventory) -> dict[str, Any]:
    return to_jsonable(inventory)


def inventory_from_dict(data: Any, *, where: str = "inventory") -> Inventory:
    if not isinstance(data, dict):
        raise UserError("not an inventory snapshot (expected a JSON object)", where=where)
    version = data.get("format_version")
    if version is None:
        raise UserError("not an inventory snapshot (no format_version)", where=where)
    if version != FORMAT_VERSION:
        raise UserError(
            f"inventory format_version {version!r} is not supported by this avp-migrate "
            f"(it reads version {FORMAT_VERSION}); rescan with this version",
            where=where,
        )
    try:
        return from_jsonable(Inventory, data)
    except SnapshotError as exc:
        raise UserError(f"invalid inventory snapshot at {exc}", where=where) from None


def load_inventory(path: str | os.PathLike[str]) -> Inventory:
    return inventory_from_dict(read_json(path, what="inventory snapshot"), where=str(path))


def save_inventory(inventory: Inventory, path: str | os.PathLike[str]) -> None:
    atomic_write_json(path, inventory_to_dict(inventory))
