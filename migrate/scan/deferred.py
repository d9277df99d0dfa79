"""Values a template leaves to deploy time, as the readers carry them.

A template says ``!GetAtt UserPool.Arn`` or ``!ImportValue shared-pool-arn`` where an export would say an ARN.
Whatever cannot be worked out from the file and ``--parameter`` becomes a :class:`Deferred`: a ``str`` (so it
flows through code that expects text) whose text is a readable rendering (``${UserPool.Arn}``) and which says
what it depends on. Readers that meet one report it by that text; nothing is guessed.
"""

from __future__ import annotations

import json
from typing import Any

# The CloudFormation intrinsic functions and condition functions, by their long-form keys.
_FUNCTIONS = frozenset({
    "Ref", "Condition", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::FindInMap",
    "Fn::ImportValue", "Fn::GetAZs", "Fn::Base64", "Fn::Cidr", "Fn::If", "Fn::Equals", "Fn::And", "Fn::Or",
    "Fn::Not", "Fn::Transform", "Fn::Length", "Fn::ToJsonString", "Fn::ForEach",
})


class Deferred(str):
    """Text standing for a value only known at deploy time.

    ``ref``: when the value is (an attribute of) one resource of the template, ``(logical id, attribute or None)``.
    """

    ref: tuple[str, str | None] | None

    def __new__(cls, text: str, ref: tuple[str, str | None] | None = None) -> Deferred:
        value = super().__new__(cls, text)
        value.ref = ref
        return value


def is_intrinsic(value: Any) -> bool:
    """``{"Ref": ...}``, ``{"Fn::Sub": ...}``, ...: a one-key mapping named after an intrinsic function."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _FUNCTIONS


def render(value: Any) -> str:
    """A short readable form of an intrinsic, for messages: ``${X}``, ``${A.B}``, ``Fn::ImportValue(name)``."""
    if isinstance(value, Deferred):
        return str(value)
    if is_intrinsic(value):
        name, arg = next(iter(value.items()))
        if name == "Ref" and isinstance(arg, str):
            return "${" + arg + "}"
        if name == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                return "${" + ".".join(parts) + "}"
        if name == "Fn::Sub" and isinstance(arg, str):
            return arg
        return f"{name}({_compact(arg)})"
    return _compact(value)


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(render(v) for v in value)
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):  # pragma: no cover - YAML gives JSON-able values
        return repr(value)


def defer_intrinsics(value: Any) -> Any:
    """A copy of ``value`` with every intrinsic left in it replaced by a :class:`Deferred` of its rendering."""
    if isinstance(value, Deferred):
        return value
    if is_intrinsic(value):
        return Deferred(render(value))
    if isinstance(value, dict):
        return {k: defer_intrinsics(v) for k, v in value.items()}
    if isinstance(value, list):
        return [defer_intrinsics(v) for v in value]
    return value
