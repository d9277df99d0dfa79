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
from collections.abc import Callable
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
    return _decoder(cls)(data, path)


Decoder = Callable[[Any, str], Any]


@functools.cache
def _decoder(cls: Any) -> Decoder:
    """The function that reads JSON data as ``cls``, made once per type: inspecting the typing form on every value
    cost most of a 100,000-user snapshot's 10 s read."""
    origin = get_origin(cls)
    if origin in (Union, types.UnionType):
        return _union_decoder(cls)
    if origin is typing.Literal:
        allowed = get_args(cls)

        def literal(data: Any, path: str) -> Any:
            if data not in allowed:
                raise SnapshotError(path, f"expected one of {', '.join(map(repr, allowed))}, got {data!r}")
            return data
        return literal
    if origin is list:
        (item_type,) = get_args(cls)

        def listing(data: Any, path: str) -> Any:
            if not isinstance(data, list):
                raise SnapshotError(path, f"expected a list, got {_describe(data)}")
            item = _decoder(item_type)
            return [item(value, f"{path}[{i}]") for i, value in enumerate(data)]
        return listing
    if origin is dict:
        key_type, value_type = get_args(cls)

        def mapping(data: Any, path: str) -> Any:
            if not isinstance(data, dict):
                raise SnapshotError(path, f"expected an object, got {_describe(data)}")
            key, value = _decoder(key_type), _decoder(value_type)
            return {key(k, path): value(v, f"{path}.{k}" if path else k) for k, v in data.items()}
        return mapping
    if cls is Any:
        return lambda data, path: data
    if dataclasses.is_dataclass(cls):
        return functools.partial(_dataclass_from, cls)
    if cls is float:
        def number(data: Any, path: str) -> Any:
            if isinstance(data, (int, float)) and not isinstance(data, bool):
                return float(data)
            raise SnapshotError(path, f"expected {_TYPE_NAMES[float]}, got {_describe(data)}")
        return number
    if cls in _TYPE_NAMES:
        def exact(data: Any, path: str) -> Any:
            # bool is a subclass of int in Python; JSON keeps them apart, and so do we.
            if type(data) is cls:
                return data
            raise SnapshotError(path, f"expected {_TYPE_NAMES[cls]}, got {_describe(data)}")
        return exact
    raise TypeError(f"unsupported type in model: {cls!r}")  # pragma: no cover - a model bug, not a snapshot problem


def _union_decoder(cls: Any) -> Decoder:
    options = get_args(cls)
    optional = type(None) in options
    others = [option for option in options if option is not type(None)]

    def union(data: Any, path: str) -> Any:
        if data is None and optional:
            return None
        errors = []
        for option in others:
            try:
                return _decoder(option)(data, path)
            except SnapshotError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else SnapshotError(path, f"unexpected value {data!r}")
    return union


@functools.cache
def _model_of(cls: Any) -> tuple[dict[str, Any], dict[str, dataclasses.Field[Any]]]:
    """A model class's resolved type hints and init fields, once per class: resolving the hints costs more than
    reading an object (a 10,000-user snapshot spent 4 s in get_type_hints)."""
    return get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls) if f.init}


def _dataclass_from(cls: Any, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise SnapshotError(path, f"expected an object, got {_describe(data)}")
    hints, fields = _model_of(cls)
    unknown = [name for name in data if name not in fields]
    if unknown:
        first = sorted(unknown)[0]
        raise SnapshotError(f"{path}.{first}" if path else first, "unknown field")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _decoder(hints[name])(data[name], f"{path}.{name}" if path else name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SnapshotError(f"{path}.{name}" if path else name, "missing required field")
    return cls(**kwargs)


def _describe(data: Any) -> str:
    if isinstance(data, dict):
        return "an object"
    if isinstance(data, list):
        return "a list"
    text = repr(data)
    return text if len(text) <= 40 else text[:37] + "..."
