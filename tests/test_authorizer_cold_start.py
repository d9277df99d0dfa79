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


def test_per_request_records_are_plain_and_what_outlives_a_request_is_frozen():
    from authorizer.avp import AvpResult, RouteResource
    from authorizer.cache import CacheEntry
    from authorizer.config import AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig
    from authorizer.modes import EffectiveModes, ModeDocument, PendingMark
    from authorizer.policy import MethodArn
    from authorizer.request import AuthorizerRequest
    from authorizer.settings import Settings
    from authorizer.shadow import ShadowRecord
    from authorizer.tokens import VerifiedToken

    per_request = (AuthorizerRequest, MethodArn, EffectiveModes, RouteResource, ShadowRecord)
    shared = (AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig, Settings, ModeDocument, PendingMark,
              VerifiedToken, AvpResult, CacheEntry)
    params = {c.__name__: c.__dataclass_params__.frozen for c in (*per_request, *shared)}  # type: ignore[attr-defined]
    assert params == {**{c.__name__: False for c in per_request}, **{c.__name__: True for c in shared}}
