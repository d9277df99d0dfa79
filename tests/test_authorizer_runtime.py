"""The authorizer over time: the mode document in SSM, the decision cache, the Lambda entry point, and the logs
(which must never hold a token)."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import boto3
import pytest

from authorizer import handler as handler_module
from authorizer.cache import DecisionCache, cache_key
from authorizer.modes import ModeDocument, ModeDocumentError
from authorizer.settings import Settings, SettingsError
from authorizer.shadow import ShadowRecord, ShadowRecordError
from tests.authorizer_helpers import (
    StubAvpClient,
    always,
    client_credentials_token,
    config_for,
    harness,
    hosted_ui_access_token,
    make_world,
    modes_env,
    request_event,
    s,
)

PARAMETER = "/testapi/prod/authorizer-modes"


@pytest.fixture
def world(embedded_aws):
    return make_world(embedded_aws)


def put_modes(routes, version, default="scope"):
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Overwrite=True, Value=json.dumps(
        {"version": version, "default": default, "routes": routes}))


# --- the mode document ---------------------------------------------------------------------------------------------


def test_a_mode_change_in_ssm_is_picked_up_after_the_cache_age(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow"}, version=1)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "1"})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])  # scope yes, group no
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert (h.last().mode, h.last().modes_version, h.last().modes_source) == ("shadow", 1, f"ssm:{PARAMETER}")
    put_modes({"GET /avp": "avp"}, version=2)
    time.sleep(1.2)  # past the 1 s cache age (a wait, not a timed assertion)
    assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert (h.last().mode, h.last().modes_version) == ("avp", 2)


def test_a_mode_change_is_not_seen_within_the_cache_age(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow"}, version=1)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "3600"})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    put_modes({"GET /avp": "avp"}, version=2)
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert [r.modes_version for r in h.records()] == [1, 1]


def test_unlisted_routes_use_the_default_and_scope_without_one(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "avp"}, version=3, default="shadow")
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER})
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    h.call(request_event("GET /scope", token))
    assert h.last().mode == "shadow"
    assert ModeDocument.from_dict({"version": 1, "routes": {}}, source="t").mode_for("GET /x") == "scope"


def test_with_no_readable_mode_state_every_route_is_decided_by_both_rules(tmp_path, embedded_aws, world):
    # No parameter and no fallback: the mode cannot be established, so neither rule decides alone (a route the
    # ledger holds in avp must never be decided by the scope rule; one it holds in scope never by AVP alone).
    h = harness(tmp_path, embedded_aws, config_for(world, modes={"GET /avp": "shadow"}), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "0"})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])  # scope yes, group no
    for _ in range(3):
        assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert {(r.mode, r.modes_source, r.decision_source) for r in h.records()} == {("both", "none", "both")}
    assert sum("cannot read mode document" in line for line in h.lines()) == 1  # once, not once per request
    nobody = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])  # not even the scope
    assert h.call(request_event("GET /avp", nobody)).status == "401"
    put_modes({"GET /avp": "shadow"}, version=5)
    h.authorizer.modes._next_read = float("-inf")  # skip the 5 s back-off rather than wait for it
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert (h.last().mode, h.last().modes_version) == ("shadow", 5)


def test_an_invalid_published_document_is_not_used_not_even_the_last_good_one(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow"}, version=5)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "0",
                     **modes_env({"GET /avp": "avp"}, version=4)})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    assert (h.last().mode, h.last().modes_version) == ("shadow", 5)
    boto3.client("ssm").put_parameter(Name=PARAMETER, Type="String", Overwrite=True,
                                      Value='{"version": 6, "routes": {"GET /avp": "yolo"}}')
    for _ in range(2):
        assert h.call(request_event("GET /avp", bob)).status == "DENY"  # the fallback: avp, version 4
    assert (h.last().mode, h.last().modes_version, h.last().modes_source) == ("avp", 4, "fallback")
    assert sum("invalid mode document" in line for line in h.lines()) == 1


def test_a_published_document_too_old_to_trust_gives_way_to_the_fallback(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow"}, version=7)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "30",
                     **modes_env({"GET /avp": "avp"}, version=7)})
    now = [1000.0]
    h.authorizer.modes._clock = lambda: now[0]
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"  # SSM, version 7: shadow
    h.authorizer.modes._fetch = lambda name, max_age: (_ for _ in ()).throw(TimeoutError("read timeout"))
    now[0] += 34  # past the cache age: SSM fails, the last document is 34 s old, still within 30 + 5 s
    assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    now[0] += 2  # 36 s: too old to trust
    assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert (h.last().mode, h.last().modes_source) == ("avp", "fallback")


def test_a_published_document_older_than_the_fallback_is_not_used(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow"}, version=3)  # SSM lags behind: its publication failed after version 4
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, **modes_env({"GET /avp": "avp"}, version=4)})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert (h.last().mode, h.last().modes_version, h.last().modes_source) == ("avp", 4, "fallback")


def test_a_route_pending_in_the_fallback_is_decided_by_both_rules_whatever_ssm_says(tmp_path, embedded_aws, world):
    config = config_for(world)
    keys = sorted(config.routes)
    put_modes({"GET /avp": "shadow"}, version=8)
    fallback = {"version": 8, "default": "scope", "routes": {"GET /avp": "shadow"},
                "pending": {"w1": {"at": "2026-12-07T12:00:00Z", "routes": str(keys.index("GET /avp"))}}}
    h = harness(tmp_path, embedded_aws, config, store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES": json.dumps(fallback)})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "DENY"  # scope allows, AVP denies
    assert (h.last().mode, h.last().modes_source) == ("both", f"ssm:{PARAMETER}+pending")
    scope_only = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    assert h.call(request_event("GET /scope", scope_only)).status == "ALLOW"  # not pending: SSM's scope


def test_the_environment_fallback_document(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "avp"}, version=9))
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    assert h.call(request_event("GET /avp", bob)).status == "DENY"
    assert (h.last().modes_source, h.last().modes_version) == ("fallback", 9)


def test_compact_documents_round_trip_and_refuse_another_configuration():
    from authorizer.modes import PendingMark, compact_document, decode_indexes, encode_indexes

    keys = [f"GET /v2/organizations/{{organizationId}}/projects/{{projectId}}/collection{i:04}/{{itemId}}/details"
            for i in range(1200)]
    modes = {key: ("avp", "shadow", "scope")[i % 3] for i, key in enumerate(keys)}
    pending = [PendingMark("w1", "2026-12-07T12:00:00Z", frozenset(keys[10:400] + keys[999:1000]))]
    compact = compact_document({"version": 12, "default": "scope", "routes": modes}, keys, pending)
    text = json.dumps(compact, separators=(",", ":"))
    assert len(text) < 1024  # fits Lambda's 4 KB environment next to the other variables
    back = ModeDocument.from_json(text, source="t", route_keys=keys)
    assert dict(back.routes) == modes and back.version == 12
    assert back.pending_routes == frozenset(keys[10:400] + keys[999:1000])
    assert encode_indexes(keys[10:400] + keys[999:1000], keys) == "10-399,999"
    assert decode_indexes("0,2-3", ["a", "b", "c", "d"]) == frozenset({"a", "c", "d"})
    with pytest.raises(ModeDocumentError, match="another authorizer-config"):
        ModeDocument.from_json(text, source="t", route_keys=keys[:-1])
    with pytest.raises(ModeDocumentError, match="outside"):
        decode_indexes("3-9", ["a", "b"])


@pytest.mark.parametrize("document", [
    [], {"routes": {}}, {"version": "7"}, {"version": 1, "default": "allow-all"},
    {"version": 1, "routes": {"GET /a": "off"}}, {"version": 1, "routes": []},
    {"version": 1, "modes": "sss"}, {"version": 1, "routes": {}, "pending": {"w": {"routes": "0"}}},
])
def test_invalid_mode_documents_are_refused(document):
    with pytest.raises(ModeDocumentError):
        ModeDocument.from_dict(document, source="test")


# --- the decision cache ----------------------------------------------------------------------------------------------


def test_the_cache_skips_verification_and_avp_for_a_repeated_token(tmp_path, embedded_aws, world):
    stub = StubAvpClient(always("ALLOW"))
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "shadow"}), avp_client_factory=lambda: stub)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    verified = []
    verify = h.authorizer.verifier.verify
    h.authorizer.verifier.verify = lambda *a: verified.append(1) or verify(*a)
    for _ in range(3):
        assert h.call(request_event("GET /avp", token)).status == "ALLOW"
    assert len(verified) == 1 and len(stub.calls) == 1
    assert [r.avp_cached for r in h.records()] == [False, True, True]
    # another action is another entry: verified and asked again
    h.call(request_event("GET /scope", token))
    assert len(verified) == 2


def test_a_cached_decision_never_outlives_the_token(tmp_path, embedded_aws, world):
    base = time.time()
    clock = {"now": base}
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_CACHE_SECONDS": "3600", "AVP_AUTHZ_LEEWAY_SECONDS": "0"},
                clock=lambda: clock["now"])
    token = world.sign(world.access_claims("bob", exp=int(base) + 30))
    assert h.call(request_event("GET /scope", token)).status == "ALLOW"
    assert len(h.authorizer.cache) == 1
    clock["now"] = base + 31
    assert h.call(request_event("GET /scope", token)).status == "401"  # not the cached Allow
    assert h.last().token_error == "expired"
    assert len(h.authorizer.cache) == 0


def test_the_cache_is_bounded_and_evicts_the_least_recently_used(world):
    from authorizer.tokens import VerifiedToken

    clock = {"now": 1000.0}
    cache = DecisionCache(max_entries=3, ttl_seconds=60, clock=lambda: clock["now"])

    def token(exp):
        return VerifiedToken("pool", "sub", "access", "client", "u", (), frozenset(), "", exp, False)

    keys = [cache_key(f"token-{i}", "get /x") for i in range(5)]
    for key in keys[:3]:
        cache.put(key, cache.entry(token(5000), True))
        clock["now"] += 1
    assert cache.get(keys[0]) is not None  # keys[0] is now the most recently used
    for key in keys[3:]:
        cache.put(key, cache.entry(token(5000), True))
    assert len(cache) == 3
    assert cache.get(keys[1]) is None and cache.get(keys[2]) is None
    assert cache.get(keys[0]) is not None
    short = cache_key("short-lived", "get /x")
    cache.put(short, cache.entry(token(clock["now"] + 5), True))
    assert cache.get(short).expires_at == clock["now"] + 5  # exp before the ttl
    clock["now"] += 5
    assert cache.get(short) is None
    assert cache_key("a", "get /x") != cache_key("a", "get /y")
    assert b"token-0" not in cache_key("token-0", "get /x")[0]  # only a digest is kept


def test_a_disabled_cache_keeps_nothing(world):
    cache = DecisionCache(max_entries=0, ttl_seconds=60)
    assert not cache.enabled


# --- logs never hold a token ------------------------------------------------------------------------------------------


JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{10,}")


def test_no_log_line_holds_a_token(tmp_path, embedded_aws, world, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, botocore's included, at DEBUG
    root_capture = io.StringIO()
    root_handler = logging.StreamHandler(root_capture)
    logging.getLogger().addHandler(root_handler)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        leaky = StubAvpClient(lambda op, params: (_ for _ in ()).throw(
            ValueError(f"cannot evaluate {params.get('accessToken') or params.get('identityToken')}")))
        harnesses = [
            harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                    env={**modes_env({"GET /avp": mode, "GET /profile": mode, "GET /reports": mode}),
                         "POWERTOOLS_LOG_LEVEL": "DEBUG"})
            for mode in ("scope", "shadow", "avp")
        ] + [harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                     env=modes_env({"GET /avp": "avp"}), avp_client_factory=lambda: leaky)]
        for h in harnesses:
            h.authorizer.telemetry.logger.setLevel("DEBUG")
        tokens = [
            hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read")]),
            hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")]),
            world.sign_in("alice")[1],
            world.sign(world.access_claims("bob", exp=int(time.time()) - 100)),
            client_credentials_token(embedded_aws, world, "reporting"),
        ]
        tampered = tokens[0][:-6] + "AAAAAA"
        for h in harnesses:
            for token in [*tokens, tampered]:
                for route in ("GET /avp", "GET /profile", "GET /reports"):
                    h.call(request_event(route, f"Bearer {token}"))
            h.call(request_event("GET /avp", multi_authorization=[tokens[0], tokens[1]]))
    finally:
        logging.getLogger().removeHandler(root_handler)
    captured = capsys.readouterr()
    everything = "\n".join([captured.out, captured.err, root_capture.getvalue(), caplog.text,
                            *(h.logs.getvalue() for h in harnesses)])
    assert sum(len(h.records()) for h in harnesses) == 4 * (6 * 3 + 1)
    assert '"level":"ERROR"' in everything  # the leaky AVP stub's message was logged, redacted
    for token in [*tokens, tampered]:
        header, payload, signature = token.split(".")
        for part in (token, payload, signature, f"{header}.{payload}"):
            assert part not in everything
    assert not JWT_LIKE.search(everything), JWT_LIKE.search(everything).group(0)[:20]


# --- the shadow record and the settings -------------------------------------------------------------------------------


def test_shadow_records_read_back_exactly_from_log_lines(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "shadow"}))
    h.call(request_event("GET /avp", hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read")])))
    (line,) = [line for line in h.lines() if '"shadow"' in line]
    data = json.loads(line)
    record = ShadowRecord.from_log_line(line)
    assert record.to_dict() == data["shadow"]
    assert set(data["shadow"]) == {
        "record_version", "time", "request_id", "api_id", "stage", "route", "action_id", "mode", "modes_version",
        "modes_source", "principal", "groups", "client_id", "token_use", "client_credentials", "token_error",
        "scope_decision", "avp_decision", "agree", "determining_policies", "avp_error", "avp_latency_ms",
        "avp_cached", "enforced", "decision_source", "reason", "policy_store_id", "authorizer_version",
        "avp_evaluation_errors"}
    assert ShadowRecord.from_log_line('{"level": "INFO", "message": "other"}') is None
    with pytest.raises(ShadowRecordError):
        ShadowRecord.from_dict({**data["shadow"], "token": "x"})
    with pytest.raises(ShadowRecordError):
        ShadowRecord.from_dict({**data["shadow"], "record_version": 99})


@pytest.mark.parametrize(("name", "value"), [
    ("AVP_AUTHZ_AVP_TIMEOUT_MS", "fast"), ("AVP_AUTHZ_AVP_TIMEOUT_MS", "0"), ("AVP_AUTHZ_LEEWAY_SECONDS", "3600"),
    ("AVP_AUTHZ_HASH_PRINCIPALS", "maybe"), ("AVP_AUTHZ_JWKS_URL_TEMPLATE", "{issuer}/{kid}"),
    ("AVP_AUTHZ_JWKS_URL_TEMPLATE", "file:///etc/passwd"), ("AVP_AUTHZ_CACHE_SIZE", "-1"),
])
def test_bad_settings_stop_the_function(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value})


def test_a_missing_or_invalid_configuration_stops_the_function(tmp_path):
    with pytest.raises(SettingsError, match="cannot read"):
        handler_module.build_authorizer({"AVP_AUTHZ_CONFIG_PATH": str(tmp_path / "nope.json")})
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1}')
    with pytest.raises(SettingsError, match="api"):
        handler_module.build_authorizer({"AVP_AUTHZ_CONFIG_PATH": str(bad)})


def test_the_lambda_entry_point_reads_its_environment(tmp_path, embedded_aws, world, monkeypatch):
    path = tmp_path / "authorizer-config.json"
    path.write_text(config_for(world).to_json())
    monkeypatch.setenv("AVP_AUTHZ_CONFIG_PATH", str(path))
    monkeypatch.setenv("AVP_AUTHZ_POLICY_STORE_ID", world.store_id)
    monkeypatch.setenv("AVP_AUTHZ_JWKS_URL_TEMPLATE", f"{embedded_aws.moto_url}/{{pool_id}}/.well-known/jwks.json")
    monkeypatch.setenv("AVP_AUTHZ_MODES", json.dumps({"version": 1, "routes": {"GET /avp": "avp"}}))
    monkeypatch.setattr(handler_module, "_authorizer", None)
    alice = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])
    answer = handler_module.lambda_handler(request_event("GET /avp", alice), None)
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        handler_module.lambda_handler(request_event("GET /avp", "garbage"), None)
    monkeypatch.setattr(handler_module, "_authorizer", None)


def test_route_keys_the_configuration_does_not_have_are_logged_not_silently_ignored(tmp_path, embedded_aws, world):
    put_modes({"GET /avp": "shadow", "GET /avq": "avp"}, version=4)  # a typo: GET /avq is no route
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_MODES_PARAMETER": PARAMETER, "AVP_AUTHZ_MODES_MAX_AGE": "0",
                     **modes_env({"GET /avp": "shadow", "DELETE /nowhere": "avp"}, version=4)})
    bob = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")])
    for _ in range(3):
        assert h.call(request_event("GET /avp", bob)).status == "ALLOW"
    lines = h.lines()
    assert sum("GET /avq" in line and "does not have" in line for line in lines) == 1  # once, not per request
    assert sum("DELETE /nowhere" in line and "fallback" in line for line in lines) == 1
    assert all('"level":"ERROR"' in line for line in lines if "does not have" in line)
