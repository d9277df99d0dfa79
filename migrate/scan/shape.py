"""Type checks for hand-edited infrastructure files: a wrong shape is a one-line UserError naming where, never a
traceback. ``None`` (absent) reads as empty."""

from __future__ import annotations

from typing import Any

from migrate.errors import UserError


def mapping(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{what}: expected a mapping, got {describe(value)}", where=where)
    return value


def listing(value: Any, what: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UserError(f"{what}: expected a list, got {describe(value)}", where=where)
    return value


def strings(value: Any, what: str, where: str) -> list[str]:
    items = listing(value, what, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise UserError(f"{what}[{i}]: expected a string, got {describe(item)}", where=where)
    return items


def text(value: Any, what: str, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise UserError(f"{what}: expected a string, got {describe(value)}", where=where)


def describe(value: Any) -> str:
    """A value's kind in an error message ("a mapping", "the string 'x'", "null"...): one wording for every
    reader of hand-written files (templates, Terraform documents, OpenAPI exports)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"
