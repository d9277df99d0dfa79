"""Issue 10, sections 5 and 6: the smaller authorizer findings and the holes mutation testing found. Each test
here failed against the code before its fix (or, for the wildcard test, fails when the refusal is removed)."""

from __future__ import annotations

import base64
import io
import json
import secrets
import sys
from contextlib import redirect_stdout

import boto3
import pytest

from authorizer.config import AuthorizerConfig, ConfigError, PoolConfig
from authorizer.policy import ALLOW, MethodArn, response
from authorizer.settings import Settings, SettingsError
from authorizer.shadow import ShadowRecord
from authorizer.telemetry import REDACTED, make_logger, redact
from authorizer.tokens import JwksCache, JwksError, TokenError, TokenVerifier, fetch_jwks
from tests.authorizer_helpers import (
    API_ID,
    NS,
    b64,
    closed_port_url,
    config_for,
    harness,
    hosted_ui_access_token,
    make_world,
    modes_env,
    request_event,
    s,
)


@pytest.fixture
def world(embedded_aws):
    return make_world(embedded_aws)


def error_lines(h):
    return [json.loads(line) for line in h.lines() if json.loads(line).get("level") == "ERROR"]


# --- 1. deeply nested JSON in a token -------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_deeply_nested_token_json_is_a_malformed_token_not_a_failure(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "shadow"}))
    valid = world.sign(world.access_claims("alice", scope=s("avp.read")))
    header, payload, signature = valid.split(".")
    depth = sys.getrecursionlimit() + 1000  # well past the decoder's limit, well under the 10,240-byte bound
    deep_header = b64(b'{"alg":"RS256","kid":"dummy","x":' + nested(depth) + b"}")
    deep_claims = b64(b'{"iss":' + nested(depth) + b"}")
    tokens = {
        "header": f"{deep_header}.{payload}.{signature}",
        "payload": f"{header}.{b64(nested(depth))}.{signature}",
        "payload in an object": f"{header}.{deep_claims}.{signature}",
    }
    for name, token in tokens.items():
        assert len(token) < 10_240, name
        result = h.call(request_event("GET /avp", f"Bearer {token}"))
        assert result.status == "401", name
        record = h.last()
        assert (record.token_error, record.decision_source, record.enforced) == (
            "malformed", "scope", "UNAUTHORIZED"), name
    assert error_lines(h) == []  # a hostile token is not an authorizer fault: no ERROR line per request
    assert h.call(request_event("GET /avp", valid)).status == "ALLOW"  # the control


# --- 2. groups_json next to groups ----------------------------------------------------------------------------


def test_groups_json_is_unambiguous_where_the_comma_joined_groups_is_not(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id)
    ambiguous = [["a,b", "c"], ["a", "b,c"], ["a", "b", "c"]]
    contexts = []
    for groups in ambiguous:
        token = world.sign(world.access_claims("alice", **{"cognito:groups": groups}))
        result = h.call(request_event("GET /scope", token))
        assert result.status == "ALLOW"
        contexts.append(result.response["context"])
    assert {c["groups"] for c in contexts} == {"a,b,c"}  # unchanged for backends that split it...
    assert [json.loads(c["groups_json"]) for c in contexts] == ambiguous  # ...and exact here
    assert all(isinstance(c["groups_json"], str) for c in contexts)  # a Lambda authorizer context holds strings
    no_groups = h.call(request_event("GET /scope", world.sign(world.access_claims("bob"))))
    assert no_groups.response["context"]["groups_json"] == "[]"
    unicode = h.call(request_event("GET /scope", world.sign(world.access_claims("bob", **{
        "cognito:groups": ['équipe "α"']}))))
    assert json.loads(unicode.response["context"]["groups_json"]) == ['équipe "α"']


# --- 3. the redactor ------------------------------------------------------------------------------------------


def b64text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_the_redactor_removes_every_piece_of_a_jwt(world):
    token = world.sign(world.access_claims("alice"))
    header, payload, signature = token.split(".")
    spaced_header = b64text(b'{ "alg": "RS256", "kid": "dummy" }')  # "eyAi...": no "eyJ"
    lined_payload = b64text(b'{\n  "sub": "4b0d6c3e", "token_use": "access"\n}')  # "ewog..."
    leading_space = b64text(b' {"alg":"RS256"}')  # "IHsi..."
    hs256_signature = b64text(secrets.token_bytes(32))  # 43 characters, the shortest JWS signature
    cases = [
        token, f"Bearer {token}", signature, payload, header, f"{header}.{payload}", f"{payload}.{signature}",
        spaced_header, lined_payload, leading_space, hs256_signature,
        f"{spaced_header}.{lined_payload}.{signature}",
        token.replace(".", "%2E"), token.replace(".", "%2e"), f"{header}%2E{payload}", f"{payload}%2E{signature}",
        f"https://app.example.com/callback?access_token={token.replace('.', '%2E')}&x=1",
    ]
    for secret in cases:
        text = redact(f"cannot evaluate ({secret}) for alice", limit=20_000)
        assert text.startswith("cannot evaluate (") and text.endswith(") for alice"), secret[:30]
        for part in (header, payload, signature, spaced_header, lined_payload, leading_space, hs256_signature):
            if part in secret:
                assert part not in text, (secret[:30], part[:30])
        assert REDACTED in text


def test_the_redactor_keeps_ordinary_words():
    kept = [
        "ThrottlingException", "EndpointConnectionError", "AVP_AUTHZ_POLICY_STORE_ID is not set",
        "cognito-idp.us-east-1.amazonaws.com", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbcDEF123/"
        ".well-known/jwks.json", "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/pet-42",
        "test_demo_tokens_through_the_real_handler_in_shadow_then_avp_mode", "DisagreementsScopeAllowsAvpDenies",
        "exceptionalCircumstances expired eyebrows everything", "3f1c2a6e-1234-4abc-8def-0123456789ab",
        "sha256:" + "0123456789abcdef" * 4, "PSEXAMPLEabcdefg111111", "us-east-1_AbcDEF123|4b0d6c3e-5f1a",
        'File "/var/task/authorizer/core.py", line 120, in _decide', "no answer within 300 ms",
        "MyApi::UserGroup::\"us-east-1_Abc|avp-group\"", "a1b2c3d4e5%2Eexecute-api%2Eus-east-1",
        "1.2.3.4", "v1.2.3", "x-amzn-RequestId", "Root=1-5759e988-bd862e3fe1be46a994272793",
    ]
    for text in kept:
        assert redact(text, limit=10_000) == text


# --- 4. the method ARN's stage --------------------------------------------------------------------------------


def with_stage(event, stage):
    prefix, rest = event["methodArn"].split(f"/{'prod'}/", 1)
    event["methodArn"] = f"{prefix}/{stage}/{rest}"
    event["requestContext"]["stage"] = stage
    return event


def test_another_stage_is_denied_and_logged(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "avp"}))
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read"), s("avp.read")])
    assert h.call(request_event("GET /scope", token)).status == "ALLOW"  # the configured stage, "prod"
    for route in ("GET /scope", "GET /avp"):
        result = h.call(with_stage(request_event(route, token), "test"))
        assert result.status == "DENY", route
        assert result.response["context"]["decision_source"] == "config"
        record = h.last()
        assert (record.decision_source, record.reason, record.stage, record.enforced) == (
            "config", "stage_mismatch", "test", "DENY")
        assert record.avp_decision is None and record.scope_decision is None  # decided before the token
    logged = error_lines(h)
    assert len(logged) == 2 and all(e["reason"] == "stage_mismatch" and e["stage"] == "test"
                                    and e["configured_stages"] == ["prod"] for e in logged)


def test_test_invoke_authorizer_s_pseudo_stage_is_decided_like_the_configured_one(tmp_path, embedded_aws, world):
    # deploy's smoke test calls TestInvokeAuthorizer: API Gateway names the stage "ESTestInvoke-stage" in the
    # method ARN. Only the management API can produce it, and its answer must be the real rule's.
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id)
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])
    assert h.call(with_stage(request_event("GET /scope", token), "ESTestInvoke-stage")).status == "ALLOW"
    assert h.call(with_stage(request_event("GET /scope", "garbage"), "ESTestInvoke-stage")).status == "401"
    assert h.call(with_stage(request_event("GET /scope", token), "esTestInvoke-stage")).status == "DENY"


def test_configured_stages_and_no_stage(tmp_path, embedded_aws, world):
    from dataclasses import replace

    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])
    several = harness(tmp_path, embedded_aws, replace(config_for(world), stages=("prod", "canary")),
                      store_id=world.store_id)
    assert several.call(with_stage(request_event("GET /scope", token), "canary")).status == "ALLOW"
    assert several.call(with_stage(request_event("GET /scope", token), "test")).status == "DENY"
    any_stage = harness(tmp_path, embedded_aws, replace(config_for(world), stage=None), store_id=world.store_id)
    assert any_stage.call(with_stage(request_event("GET /scope", token), "test")).status == "ALLOW"


def test_the_stages_field_in_the_config_file(world):
    data = config_for(world).to_dict()
    assert "stages" not in data["api"]  # a config without it is written exactly as before
    assert AuthorizerConfig.from_dict(data).allowed_stages == {"prod"}
    data["api"]["stages"] = ["prod", "canary"]
    config = AuthorizerConfig.from_dict(data)
    assert config.allowed_stages == {"prod", "canary"} and config.stage == "prod"
    assert AuthorizerConfig.from_json(config.to_json()) == config
    data["api"]["stage"] = None
    del data["api"]["stages"]
    assert AuthorizerConfig.from_dict(data).allowed_stages is None
    for api, message in [({"stage": "prod", "stages": ["canary"]}, "must include api.stage"),
                         ({"stage": "prod", "stages": "prod"}, "api.stages"),
                         ({"stage": "prod", "stages": ["prod", "prod"]}, "api.stages"),
                         ({"stage": "prod", "stages": ["prod", ""]}, "api.stages"),
                         ({"stage": ""}, "api.stage"), ({"stage": ["prod"]}, "api.stage")]:
        bad = config_for(world).to_dict()
        bad["api"].update(api)
        with pytest.raises(ConfigError, match=message):
            AuthorizerConfig.from_dict(bad)


# --- 5. AVP's errors[] in the shadow record ---------------------------------------------------------------------


def test_avp_evaluation_errors_are_recorded(tmp_path, embedded_aws):
    # Passes STRICT validation (Long + Long is a Long) and fails at evaluation: Cedar's integer overflow error.
    overflow = (f'permit(principal, action == {NS}::Action::"get /avp", resource) '
                "when { 9223372036854775807 + 1 > 0 };")
    world = make_world(embedded_aws, name="errors")
    boto3.client("verifiedpermissions").create_policy(policyStoreId=world.store_id,
                                                      definition={"static": {"statement": overflow}})
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "shadow", "GET /scope": "shadow"}))
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read"), s("scope.read")])
    assert h.call(request_event("GET /avp", token)).status == "ALLOW"
    record = h.last()
    assert record.avp_decision == "ALLOW"  # alice's group policy; the erroring policy was skipped
    assert len(record.avp_evaluation_errors) == 1 and "overflow" in record.avp_evaluation_errors[0]
    assert ShadowRecord.from_log_line(h.lines()[-1]) == record
    h.call(request_event("GET /scope", token))
    assert h.last().avp_evaluation_errors == ()  # the overflow policy is not about GET /scope


def test_evaluation_errors_naming_the_principal_are_hashed_with_it(tmp_path, embedded_aws, world):
    from tests.authorizer_helpers import StubAvpClient

    principal = f"{world.pool_id}|{world.sub('alice')}"
    errors = [{"errorDescription": f'while evaluating policy p{i}: `{NS}::User::"{principal}"` does not have '
                                   f"the attribute `dept`"} for i in range(7)]
    stub = StubAvpClient(lambda op, params: {"decision": "DENY", "determiningPolicies": [], "errors": errors})
    token = hosted_ui_access_token(embedded_aws, world, "alice", [s("avp.read")])
    plain = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                    env=modes_env({"GET /avp": "avp"}), avp_client_factory=lambda: stub)
    assert plain.call(request_event("GET /avp", token)).status == "DENY"
    recorded = plain.last().avp_evaluation_errors
    assert len(recorded) == 5 and recorded[-1] == "... and 3 more evaluation errors"
    assert all(principal in e for e in recorded[:4])
    hashed = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                     env={**modes_env({"GET /avp": "avp"}), "AVP_AUTHZ_HASH_PRINCIPALS": "true"},
                     avp_client_factory=lambda: stub)
    hashed.call(request_event("GET /avp", token))
    record = hashed.last()
    assert world.sub("alice") not in hashed.lines()[-1]
    assert all(record.principal in e for e in record.avp_evaluation_errors[:4])


def test_old_log_lines_without_evaluation_errors_still_read(tmp_path):
    from reports.shadow_reader import read_files, read_lines

    old = {"record_version": 1, "time": "2026-11-26T10:00:00.000Z", "request_id": "r1", "api_id": API_ID,
           "stage": "prod", "route": "GET /avp", "action_id": "get /avp", "mode": "shadow", "modes_version": 1,
           "modes_source": "ssm", "principal": "p", "groups": ["g"], "client_id": "c", "token_use": "access",
           "client_credentials": False, "token_error": None, "scope_decision": "ALLOW", "avp_decision": "DENY",
           "agree": False, "determining_policies": [], "avp_error": None, "avp_latency_ms": 12.5,
           "avp_cached": False, "enforced": "ALLOW", "decision_source": "scope", "reason": None,
           "policy_store_id": "ps", "authorizer_version": "0.1.0"}
    new = {**old, "request_id": "r2", "time": "2026-11-26T10:00:01.000Z", "avp_evaluation_errors": ["e1"]}
    lines = [json.dumps({"level": "INFO", "message": "authorization decision", "shadow": r}) for r in (old, new)]
    assert ShadowRecord.from_log_line(lines[0]).avp_evaluation_errors == ()
    assert ShadowRecord.from_log_line(lines[1]).avp_evaluation_errors == ("e1",)
    path = tmp_path / "shadow.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for tallies in (read_files([path]), read_lines(path.read_bytes())):
        assert (tallies.lines.records, tallies.lines.skipped, tallies.lines.invalid) == (2, 0, 0)


# --- 6. key withdrawal: the JWKS has a maximum age --------------------------------------------------------------


class Jwks:
    """A pool's JWKS endpoint whose published keys the test changes; counts fetches, can fail."""

    def __init__(self, document):
        self.document, self.fetches, self.down = document, 0, False

    def __call__(self, url):
        self.fetches += 1
        if self.down:
            raise JwksError(f"{url}: connection refused")
        return self.document


def published(embedded_aws, world):
    document = fetch_jwks(f"{embedded_aws.moto_url}/{world.pool_id}/.well-known/jwks.json")
    (key,) = document["keys"]
    return key


def test_a_scheduled_refresh_replaces_the_key_set(embedded_aws, world):
    key = published(embedded_aws, world)
    jwks = Jwks({"keys": [key, dict(key, kid="second")]})
    clock = {"now": 0.0}
    cache = JwksCache(lambda pool: "https://jwks.example/keys", min_refresh_seconds=300, max_age_seconds=3600,
                      fetch=jwks, clock=lambda: clock["now"])
    verifier = TokenVerifier([PoolConfig(world.pool_id, world.issuer)], cache)
    first = world.sign(world.access_claims("alice"), kid="dummy")
    second = world.sign(world.access_claims("alice"), kid="second")
    assert verifier.verify(first, "access").sub == verifier.verify(second, "access").sub
    clock["now"] = 3599
    assert verifier.verify(first, "access") and jwks.fetches == 1  # within the maximum age: no fetch
    jwks.document = {"keys": [dict(key, kid="second")]}  # the pool withdraws "dummy"
    clock["now"] = 3600
    with pytest.raises(TokenError, match="unknown_kid"):
        verifier.verify(first, "access")
    assert jwks.fetches == 2
    assert verifier.verify(second, "access")  # the key still published is still accepted
    with pytest.raises(TokenError, match="unknown_kid"):
        verifier.verify(first, "access")  # and the withdrawn one stays refused (no refetch within 300 s)
    assert jwks.fetches == 2
    jwks.document = {"keys": [key, dict(key, kid="second")]}  # "dummy" published again (a rotation back)
    clock["now"] = 3899
    with pytest.raises(TokenError, match="unknown_kid"):
        verifier.verify(first, "access")
    clock["now"] = 3900  # 300 s after the last read: an unknown kid may re-read it
    assert verifier.verify(first, "access") and jwks.fetches == 3


def test_a_failed_scheduled_refresh_keeps_the_set_for_a_bounded_grace_and_logs_once(embedded_aws, world):
    key = published(embedded_aws, world)
    jwks = Jwks({"keys": [key]})
    clock, errors = {"now": 0.0}, []
    cache = JwksCache(lambda pool: "https://jwks.example/keys", max_age_seconds=600, retry_seconds=5, fetch=jwks,
                      clock=lambda: clock["now"], on_error=errors.append)
    pool = PoolConfig(world.pool_id, world.issuer)
    assert cache.key(pool, "dummy") is not None
    jwks.down = True
    for now in (600, 601, 605, 900, 1199):
        clock["now"] = now
        assert cache.key(pool, "dummy") is not None, now  # the old set, within the grace
    assert jwks.fetches == 5  # 600, 605, 900, 1199 retried (601 is within retry_seconds of 600)
    assert len(errors) == 1 and "keeping the key set" in errors[0]
    clock["now"] = 1200  # max age + grace: fail closed
    with pytest.raises(TokenError, match="jwks_unavailable"):
        cache.key(pool, "dummy")
    assert len(errors) == 2 and "refused" in errors[1]
    jwks.down = False
    clock["now"] = 1205
    assert cache.key(pool, "dummy") is not None  # a read succeeds: accepted again, on a fresh set
    clock["now"] = 1805
    jwks.down = True
    assert cache.key(pool, "dummy") is not None
    assert len(errors) == 3  # a new episode is logged once again
    jwks.down, jwks.document = False, {"keys": [dict(key, use="enc")]}  # answers, but with no signing key
    clock["now"] = 1810
    assert cache.key(pool, "dummy") is not None  # not a replacement: a failed read, within the grace
    assert len(errors) == 3  # the same episode


def test_the_jwks_max_age_setting():
    assert Settings.from_environ({}).jwks_max_age_seconds == 3600
    assert Settings.from_environ({"AVP_AUTHZ_JWKS_MAX_AGE_SECONDS": "900"}).jwks_max_age_seconds == 900
    for bad in ("0", "59", "86401", "an hour"):
        with pytest.raises(SettingsError, match="AVP_AUTHZ_JWKS_MAX_AGE_SECONDS"):
            Settings.from_environ({"AVP_AUTHZ_JWKS_MAX_AGE_SECONDS": bad})


def test_the_jwks_max_age_setting_reaches_the_key_cache(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_JWKS_MAX_AGE_SECONDS": "900"})
    assert h.authorizer.verifier._jwks._max_age == 900


# --- 6. "?" in the method ARN ------------------------------------------------------------------------------------


def test_a_question_mark_in_the_method_arn_never_gets_an_allow(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "avp"}))
    pets = hosted_ui_access_token(embedded_aws, world, "alice", [s("pets.read"), s("avp.read")])
    for route, path in (("GET /pets/{petId}", "/pets/pet-4?"), ("GET /pets/{petId}", "/pets/?"),
                        ("GET /avp", "/av?")):
        assert h.call(request_event(route, pets)).status == "ALLOW"  # the control: the same call, no "?"
        result = h.call(request_event(route, pets, path=path))
        assert result.status == "DENY", path
        assert (h.last().decision_source, h.last().reason) == ("config", "wildcard_method_arn"), path
    arn = MethodArn.parse(f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/prod/GET/pets/pet-4?")
    assert arn is not None and arn.has_wildcards
    assert (arn.api_id, arn.stage, arn.verb, arn.path) == (API_ID, "prod", "GET", "pets/pet-4?")
    root = MethodArn.parse(f"arn:aws:execute-api:us-east-1:123456789012:{API_ID}/prod/GET")
    assert root is not None and root.path == "" and not root.has_wildcards
    with pytest.raises(ValueError, match="wildcards"):
        response("someone", ALLOW, arn, {})


# --- 6. decision cache boundaries (mutants of authorizer/cache.py that survived the other tests) --------------------


def test_the_smallest_cache_works_and_a_disabled_or_expired_entry_is_never_kept():
    from authorizer.cache import CacheEntry, DecisionCache, cache_key
    from authorizer.tokens import VerifiedToken

    clock = {"now": 1000.0}
    token = VerifiedToken("pool", "sub", "access", "client", "u", (), frozenset(), "", 5000.0, False)
    key = cache_key("token", "get /x")
    smallest = DecisionCache(max_entries=1, ttl_seconds=1, clock=lambda: clock["now"])
    assert smallest.enabled
    smallest.put(key, smallest.entry(token, True))
    assert smallest.get(key) is not None and len(smallest) == 1
    clock["now"] += 1  # the ttl has passed
    assert smallest.get(key) is None and len(smallest) == 0
    for cache in (DecisionCache(max_entries=0, ttl_seconds=60, clock=lambda: clock["now"]),
                  DecisionCache(max_entries=10, ttl_seconds=0, clock=lambda: clock["now"])):
        assert not cache.enabled
        cache.put(key, CacheEntry(token, True, None, expires_at=clock["now"] + 60))
        assert len(cache) == 0 and cache.get(key) is None
    enabled = DecisionCache(max_entries=10, ttl_seconds=60, clock=lambda: clock["now"])
    enabled.put(key, CacheEntry(token, True, None, expires_at=clock["now"]))  # expires this very instant
    assert len(enabled) == 0


# --- 6. token check boundaries (mutants of authorizer/tokens.py that survived the other tests) ----------------------


def test_the_token_size_bound_and_only_the_bearer_scheme():
    from authorizer.tokens import MAX_TOKEN_BYTES, bearer_token

    assert MAX_TOKEN_BYTES == 10_240  # API Gateway's limit on a request's headers
    largest = "a." + "b" * (MAX_TOKEN_BYTES - 4) + ".c"  # exactly the bound: API Gateway lets it through
    assert len(largest) == MAX_TOKEN_BYTES and bearer_token([largest]) == largest
    with pytest.raises(TokenError, match="too_large"):
        bearer_token([largest + "c"])
    for scheme in ("Basic", "Token", "JWT", "Bearer:", "Bearer-", "xBearer"):
        with pytest.raises(TokenError, match="malformed"):
            bearer_token([f"{scheme} a.b.c"])
    assert bearer_token(["bEaReR a.b.c"]) == "a.b.c"


def test_fetch_jwks_takes_http_urls_and_answers_up_to_256_kib_only():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # http.server's naming
            body = bodies[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    def document_of(size):  # a JSON object of exactly ``size`` bytes
        head = b'{"keys": [], "pad": "'
        return head + b"x" * (size - len(head) - 2) + b'"}'

    bodies.update({"/fits": document_of(256 * 1024), "/over": document_of(256 * 1024 + 1), "/list": b"[]",
                   "/text": b"not json"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_jwks(f"{base}/fits")["keys"] == []
        for path, message in (("/over", "larger than"), ("/list", "not a JSON object"), ("/text", "not JSON")):
            with pytest.raises(JwksError, match=message):
                fetch_jwks(f"{base}{path}")
        for url in ("file:///etc/passwd", "ftp://example.com/jwks.json", f"{base[7:]}/fits"):
            with pytest.raises(JwksError, match="not an http"):
                fetch_jwks(url)
        with pytest.raises(JwksError, match="URLError"):
            fetch_jwks(closed_port_url() + "/jwks.json")  # connection refused: a JwksError like the others
    finally:
        server.shutdown()
        server.server_close()


def test_the_jwks_url_template_placeholders():
    from authorizer.tokens import jwks_url_template

    pool = PoolConfig("eu-west-3_AbC", "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbC/")
    url = jwks_url_template("https://keys.example/{region}/{pool_id}?from={issuer}")(pool)
    assert url == "https://keys.example/eu-west-3/eu-west-3_AbC?from=https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbC"


def test_the_injected_clock_alone_governs_the_token_times():
    """exp, nbf and iat are checked against the verifier's clock, never against PyJWT's (the system clock): the
    decision cache uses the same clock, so the two can never disagree about whether a token is alive."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig", "alg": "RS256"}
    pool = PoolConfig("us-east-1_Clock", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Clock")
    cache = JwksCache(lambda p: "https://jwks.example/keys", fetch=lambda url: {"keys": [jwk]})
    real = time.time()

    def token(**times):
        claims = {"iss": pool.issuer, "sub": "s", "token_use": "access", "client_id": "c", **times}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    past = token(iat=real - 7200, nbf=real - 7200, exp=real - 3600)  # expired by the system clock
    future = token(iat=real + 3600, nbf=real + 3600, exp=real + 7200)  # not yet valid by the system clock
    assert TokenVerifier([pool], cache, clock=lambda: real - 5000).verify(past, "access").sub == "s"
    assert TokenVerifier([pool], cache, clock=lambda: real + 5000).verify(future, "access").sub == "s"
    now = TokenVerifier([pool], cache)
    with pytest.raises(TokenError, match="expired"):
        now.verify(past, "access")
    with pytest.raises(TokenError, match="not_yet_valid"):
        now.verify(future, "access")
    _, payload, signature = past.split(".")
    for header in ("WzFd", "MQ", "bnVsbA", "IiI"):  # [1], 1, null, "": JSON, but no object
        with pytest.raises(TokenError, match="malformed"):
            now.verify(f"{header}.{payload}.{signature}", "access")
    alive = {"iat": real, "exp": real + 3600}
    assert now.verify(token(**alive), "access").client_id == "c"
    access = now.verify(token(**alive, username="u1", aud="not-the-client"), "access")
    assert (access.username, access.client_id, access.token_use) == ("u1", "c", "access")
    id_claims = {"iss": pool.issuer, "sub": "s", "token_use": "id", "aud": ["c"], "cognito:username": "u2",
                 "username": "not-this", "client_id": "not-this-either", **alive}
    identity = now.verify(jwt.encode(id_claims, key, algorithm="RS256", headers={"kid": "k1"}), "id")
    assert (identity.username, identity.client_id, identity.token_use) == ("u2", "c", "id")
    fixed = TokenVerifier([pool], cache, clock=lambda: real, leeway_seconds=5)  # the leeway's exact edges
    assert fixed.verify(token(iat=real + 5, nbf=real + 5, exp=real - 4.5), "access")
    for times, reason in (({"iat": real + 5.5, "exp": real + 60}, "not_yet_valid"),
                          ({"nbf": real + 5.5, "exp": real + 60}, "not_yet_valid"), ({"exp": real - 5}, "expired")):
        with pytest.raises(TokenError, match=reason):
            fixed.verify(token(**times), "access")
    for sub, reason in (("", "missing_claim"), (7, "malformed")):  # no principal can be named (PyJWT refuses 7)
        claims = {"iss": pool.issuer, "sub": sub, "token_use": "access", "client_id": "c", **alive}
        with pytest.raises(TokenError, match=reason):
            now.verify(jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"}), "access")
    for kid in ("", None):
        headers = {"kid": kid} if kid is not None else {}
        claims = {"iss": pool.issuer, "sub": "s", "token_use": "access", "client_id": "c", **alive}
        with pytest.raises(TokenError, match="malformed"):
            now.verify(jwt.encode(claims, key, algorithm="RS256", headers=headers), "access")
    machine = {"iss": pool.issuer, "sub": "c", "token_use": "access", "client_id": "c", **alive}  # no username
    assert now.verify(jwt.encode(machine, key, algorithm="RS256", headers={"kid": "k1"}), "access").client_credentials
    assert not now.verify(token(**alive, username="u1"), "access").client_credentials
    assert not now.verify(token(**alive), "access").client_credentials  # a user's token: sub is not the client
    id_machine_like = {**id_claims, "sub": "c"}
    del id_machine_like["cognito:username"], id_machine_like["username"]
    assert not now.verify(jwt.encode(id_machine_like, key, algorithm="RS256", headers={"kid": "k1"}),
                          "id").client_credentials
    header, payload, _ = token(**alive).split(".")
    for bad_signature in ("A", "abcde"):  # not decodable base64url: PyJWT refuses it before the signature check
        with pytest.raises(TokenError, match="malformed"):
            now.verify(f"{header}.{payload}.{bad_signature}", "access")
    for name, value in (("iat", "yesterday"), ("nbf", [1]), ("iat", True), ("exp", "tomorrow")):
        with pytest.raises(TokenError, match="malformed" if name != "exp" else "missing_claim"):
            now.verify(token(**{**alive, name: value}), "access")
    for client in (None, "", ["c", "d"], 7):  # client_id missing, empty, several, not a string
        claims = {"iss": pool.issuer, "sub": "s", "token_use": "access", **alive}
        if client is not None:
            claims["client_id"] = client
        with pytest.raises(TokenError, match="missing_claim"):
            now.verify(jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"}), "access")


# --- 6. order dependence: log lines follow the current stdout ----------------------------------------------------


def test_log_lines_go_to_the_current_stdout_whichever_logger_was_built_first():
    service = f"authz-stdout-{secrets.token_hex(4)}"
    first, second = io.StringIO(), io.StringIO()
    with redirect_stdout(first):
        make_logger(service).info("built while stdout was the first stream")
    with redirect_stdout(second):
        # Powertools reuses the first Logger's handler for a second Logger of the same service name
        make_logger(service).info("written while stdout is the second stream")
    assert "first stream" in first.getvalue() and "second stream" not in first.getvalue()
    assert "second stream" in second.getvalue()



def test_non_canonical_segments_crit_headers_and_broken_jwks_entries():
    """A token segment whose base64url has bits set past its last byte decodes to the same bytes, so its signature
    still verifies: it is another string for the same token, refused as malformed. A JWKS entry whose exponent is
    a JSON number, not base64url text, is skipped, not a reason to refuse the pool's good keys."""
    import time

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "k1", "use": "sig", "alg": "RS256"}
    broken = [dict(jwk, kid="k2", e=65537), dict(jwk, kid="k3", n=12345), dict(jwk, kid="k4", e="")]
    pool = PoolConfig("us-east-1_Canon", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Canon")
    cache = JwksCache(lambda p: "https://jwks.example/keys", fetch=lambda url: {"keys": [*broken, jwk]})
    verifier = TokenVerifier([pool], cache)
    now = time.time()
    claims = {"iss": pool.issuer, "sub": "s", "token_use": "access", "client_id": "c", "iat": now, "exp": now + 600}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert verifier.verify(token, "access").sub == "s"  # the broken entries did not cost the good key
    header, payload, signature = token.split(".")
    # 256 signature bytes are 342 base64url characters: the last one carries 2 bits and 4 unused ones
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last | 0b0001 if not last & 0b0001 else last & ~0b0001]
    assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(signature + "==") and twin != signature
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify(f"{header}.{payload}.{twin}", "access")
    # RFC 7515 section 4.1.11: a "crit" extension this verifier does not understand makes the JWS invalid, and
    # RFC 7797's "b64" changes what the signature covers: each refused alone, however well signed
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def signed(extra: dict) -> str:  # by hand: PyJWT leaves "b64": true out of the header
        def part(value: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        signing_input = f"{part({'alg': 'RS256', 'kid': 'k1', **extra})}.{part(claims)}"
        raw = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}"

    assert verifier.verify(signed({}), "access").sub == "s"  # signed by hand, as PyJWT signs
    for extra in ({"crit": ["exp"]}, {"b64": True}, {"b64": False, "crit": ["b64"]}):
        with pytest.raises(TokenError, match="malformed"):
            verifier.verify(signed(extra), "access")
