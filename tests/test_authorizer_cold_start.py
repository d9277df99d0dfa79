"""What keeps the authorizer's cold start lean, checked without building a zip (tests/test_authorizer_package.py
runs the built zip; bench/authorizer_bench.py measures it)."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil

import authorizer


def authorizer_dataclasses() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(authorizer.__path__):
        module = importlib.import_module(f"authorizer.{info.name}")
        found += [value for value in vars(module).values() if isinstance(value, type)
                  and dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
    return found


def test_every_authorizer_dataclass_has_its_own_docstring():
    # Without one, dataclasses computes inspect.signature(cls) at class creation to write one: import-time work.
    classes = authorizer_dataclasses()
    assert len(classes) >= 15
    generated = [c.__qualname__ for c in classes if not c.__doc__ or c.__doc__.startswith(f"{c.__name__}(")]
    assert generated == []
