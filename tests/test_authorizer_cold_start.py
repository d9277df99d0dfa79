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

    per_request = (AuthorizerRequest, MethodArn, EffectiveModes, RouteResource, ShadowRecord, Settings)
    shared = (AuthorizerConfig, EntityTypes, PoolConfig, RouteConfig, ModeDocument, PendingMark, VerifiedToken,
              AvpResult, CacheEntry)
    params = {c.__name__: c.__dataclass_params__.frozen for c in (*per_request, *shared)}  # type: ignore[attr-defined]
    assert params == {**{c.__name__: False for c in per_request}, **{c.__name__: True for c in shared}}


def test_the_ssm_and_verified_permissions_clients_share_one_session(tmp_path, embedded_aws, monkeypatch):
    """A client from a session of its own loads the SDK's endpoint rules and partitions again: about 120 ms of
    CPU on the first request after a cold start (authorizer/aws.py)."""
    import json

    import boto3
    import botocore.session

    from tests.authorizer_helpers import config_for, hosted_ui_access_token, make_world, modes_env, request_event, s
    from tests.authorizer_helpers import harness as build

    world = make_world(embedded_aws)
    parameter = "/avp-migrate/test/session-modes"
    document = {"version": 2, "default": "scope", "routes": {"GET /avp": "shadow"}}
    boto3.client("ssm").put_parameter(Name=parameter, Type="String", Overwrite=True, Value=json.dumps(document))
    made: list[tuple[str, int]] = []
    original = botocore.session.Session.create_client

    def spy(self, service_name, *args, **kwargs):  # boto3's clients are made here too
        made.append((service_name, id(self)))
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", spy)
    h = build(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
              env={**modes_env({}), "AVP_AUTHZ_MODES_PARAMETER": parameter})
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read")])
    assert h.call(request_event("GET /avp", f"Bearer {token}")).status == "ALLOW"
    assert h.last().mode == "shadow" and h.last().avp_decision is not None  # read from SSM, then AVP asked
    sessions = {service: session for service, session in made}
    assert set(sessions) == {"ssm", "verifiedpermissions"} and sessions["ssm"] == sessions["verifiedpermissions"]
