"""Input validation against the botocore service model, as the real service validates before it acts.

boto3 validates some constraints client-side (required members, types, minimum lengths, one member per union)
but not enums, maximum lengths or patterns, and a raw HTTP client or another SDK validates nothing. Walking
the same model here keeps the local endpoint honest for every caller without restating each shape by hand.

The messages follow the AWS wording for constraint failures ("1 validation error detected: Value ... at
'validationSettings.mode' failed to satisfy constraint: Member must satisfy enum value set: [OFF, STRICT]").
Values of shapes the model marks ``sensitive`` (tokens, policy statements, entity ids) are never echoed.
Members the model does not know are ignored, as AWS JSON services ignore unknown members.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from migrate.embedded.avp.errors import validation_error

_MAX_ECHO = 64


@functools.cache
def service_model() -> ServiceModel:
    """The Verified Permissions model shipped with the installed botocore (loaded once per process)."""
    import botocore.session

    return botocore.session.get_session().get_service_model("verifiedpermissions")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:  # a pattern Python cannot read is skipped rather than rejecting valid input
        return None


@dataclass
class _Report:
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, constraint: str, value: Any, shape: Shape) -> None:
        shown = ""
        if not shape.metadata.get("sensitive") and isinstance(value, str | int | bool) \
                and len(str(value)) <= _MAX_ECHO:
            shown = f" '{value}'"
        self.problems.append((path, f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}"))


def validate_input(operation: str, params: dict[str, Any]) -> None:
    """Raise ``ValidationException`` when ``params`` break the operation's input shape."""
    input_shape = service_model().operation_model(operation).input_shape
    if input_shape is None:
        return
    report = _Report()
    _check(input_shape, params, "", report)
    if report.problems:
        count = len(report.problems)
        noun = "error" if count == 1 else "errors"
        message = f"{count} validation {noun} detected: " + "; ".join(m for _, m in report.problems)
        raise validation_error(message, fields=report.problems)


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _check(shape: Shape, value: Any, path: str, report: _Report) -> None:
    type_name = shape.type_name
    if type_name == "structure":
        _check_structure(shape, value, path, report)  # type: ignore[arg-type]
    elif type_name == "list":
        _check_list(shape, value, path, report)  # type: ignore[arg-type]
    elif type_name == "map":
        _check_map(shape, value, path, report)  # type: ignore[arg-type]
    elif type_name == "string":
        _check_string(shape, value, path, report)
    elif type_name in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            report.add(path, "Member must be a number", value, shape)
        elif "min" in shape.metadata and value < shape.metadata["min"]:
            report.add(path, f"Member must have value greater than or equal to {shape.metadata['min']}",
                       value, shape)
    elif type_name == "boolean" and not isinstance(value, bool):
        report.add(path, "Member must be a boolean", value, shape)


def _check_structure(shape: StructureShape, value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, dict):
        report.add(path or "input", "Member must be a structure", value, shape)
        return
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            report.add(_join(path, name), "Member must not be null", None, members[name])
    if shape.is_tagged_union:
        present = [name for name in members if value.get(name) is not None]
        if len(present) != 1:
            report.problems.append((path, f"Value at '{path}' failed to satisfy constraint: exactly one of "
                                          f"{', '.join(members)} must be set"))
    for name, member_value in value.items():
        if name in members and member_value is not None:
            _check(members[name], member_value, _join(path, name), report)


def _check_list(shape: ListShape, value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, list):
        report.add(path, "Member must be a list", value, shape)
        return
    _check_size(shape, len(value), value, path, report, "length")
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}.{index + 1}", report)


def _check_map(shape: MapShape, value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, dict):
        report.add(path, "Member must be a map", value, shape)
        return
    _check_size(shape, len(value), value, path, report, "length")
    for key, item in value.items():
        _check(shape.key, key, f"{path}.key", report)
        _check(shape.value, item, f"{path}.{key}", report)


def _check_string(shape: Shape, value: Any, path: str, report: _Report) -> None:
    if not isinstance(value, str):
        report.add(path, "Member must be a string", value, shape)
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        report.add(path, f"Member must satisfy enum value set: [{', '.join(enum)}]", value, shape)
        return
    _check_size(shape, len(value), value, path, report, "length")
    pattern = shape.metadata.get("pattern")
    if pattern:
        compiled = _compiled(pattern)
        # AWS matches the whole value against the pattern (the service-side validators anchor it).
        if compiled is not None and compiled.fullmatch(value) is None:
            report.add(path, f"Member must satisfy regular expression pattern: {pattern}", value, shape)


def _check_size(shape: Shape, size: int, value: Any, path: str, report: _Report, what: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        report.add(path, f"Member must have {what} greater than or equal to {low}", value, shape)
    if high is not None and size > high:
        report.add(path, f"Member must have {what} less than or equal to {high}", value, shape)


def operation_names() -> frozenset[str]:
    return frozenset(service_model().operation_names)

