"""JSON round-trip for the inventory dataclasses, strict and with errors that name the exact field.

Why our own ~80 lines and not a library: the snapshot is the contract between `scan` and every later step, so
reading it must reject anything it does not understand (unknown keys, wrong types) with a message such as
``apis[0].methods[3].http_method: expected a string, got 42``. The dataclasses' type hints are the schema.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Union, get_args, get_origin, get_type_hints


class SnapshotError(ValueError):
    """A value in a snapshot does not fit the model; ``path`` names where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path or '<root>'}: {message}")


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}


def from_jsonable(cls: Any, data: Any, path: str = "") -> Any:
    """Build ``cls`` (a dataclass or a typing form) from JSON data, or raise SnapshotError naming the path."""
    origin = get_origin(cls)
    if origin in (Union, types.UnionType):
        options = get_args(cls)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_jsonable(option, data, path)
            except SnapshotError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else SnapshotError(path, f"unexpected value {data!r}")
    if origin is typing.Literal:
        allowed = get_args(cls)
        if data not in allowed:
            raise SnapshotError(path, f"expected one of {', '.join(map(repr, allowed))}, got {data!r}")
        return data
    if origin is list:
        if not isinstance(data, list):
            raise SnapshotError(path, f"expected a list, got {_describe(data)}")
        (item_type,) = get_args(cls)
        return [from_jsonable(item_type, item, f"{path}[{i}]") for i, item in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise SnapshotError(path, f"expected an object, got {_describe(data)}")
        key_type, value_type = get_args(cls)
        return {
            from_jsonable(key_type, k, path): from_jsonable(value_type, v, f"{path}.{k}" if path else k)
            for k, v in data.items()
        }
    if cls is Any:
        return data
    if dataclasses.is_dataclass(cls):
        return _dataclass_from(cls, data, path)
    if cls is float:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return float(data)
    elif cls in _TYPE_NAMES:
        # bool is a subclass of int in Python; JSON keeps them apart, and so do we.
        if type(data) is cls:
            return data
    else:  # pragma: no cover - a model bug, not a snapshot problem
        raise TypeError(f"unsupported type in model: {cls!r}")
    raise SnapshotError(path, f"expected {_TYPE_NAMES[cls]}, got {_describe(data)}")


@functools.cache
def _model_of(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A model class's resolved type hints and init fields, once per class: resolving the hints costs more than
    reading an object (a 10,000-user snapshot spent 4 s in get_type_hints)."""
    return get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def _dataclass_from(cls: Any, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise SnapshotError(path, f"expected an object, got {_describe(data)}")
    hints, fields = _model_of(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise SnapshotError(where, "unknown field")
    kwargs = {}
    for name, f in fields.items():
        field_path = f"{path}.{name}" if path else name
        if name in data:
            kwargs[name] = from_jsonable(hints[name], data[name], field_path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SnapshotError(field_path, "missing required field")
    return cls(**kwargs)


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        return "an object"
    if isinstance(data, list):
        return "a list"
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."
