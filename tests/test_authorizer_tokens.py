"""Hostile and broken tokens: none may ever get an Allow, in any mode, and none may reach Verified Permissions.

A valid token of the same shape is allowed in every mode (the control), so each refusal below is the token's
fault; each case also names the check that refused it."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from authorizer.tokens import JwksCache, TokenError, fetch_jwks, signing_keys
from tests.authorizer_helpers import (
    alg_none,
    alg_none_with_junk,
    claims_of,
    config_for,
    harness,
    hosted_ui_access_token,
    hs256_with_public_key,
    make_world,
    modes_env,
    request_event,
    s,
    signed_by_stranger,
    tamper,
)

MODES = ("scope", "shadow", "avp")


@pytest.fixture
def world(embedded_aws):
    return make_world(embedded_aws)


@pytest.fixture
def harnesses(tmp_path, embedded_aws, world):
    return {mode: harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                          env=modes_env({"GET /avp": mode, "GET /profile": mode}))
            for mode in MODES}


def adversarial_cases(embedded_aws, world):
    """(name, route, Authorization header values, the reason the authorizer must give)."""
    now = int(time.time())
    claims = world.access_claims("alice", scope=s("avp.read"), **{"cognito:groups": ["avp-group"]})
    valid = world.sign(claims)
    _, id_token = world.sign_in("alice")
    plain_access, _ = world.sign_in("alice")
    other = make_world(embedded_aws, name="other-pool", users={"mallory": ["avp-group"]}, policies={})
    foreign = hosted_ui_access_token(embedded_aws, other, "mallory", [s("avp.read")])
    public_jwk = json.load(urllib.request.urlopen(
        f"{embedded_aws.moto_url}/{world.pool_id}/.well-known/jwks.json"))["keys"][0]
    from joserfc import jwt as jose

    from migrate.embedded.cognito_tokens import _find_client

    pool, _ = _find_client(world.clients["web"])
    no_kid = jose.encode({"alg": "RS256"}, claims, pool.json_web_key)
    huge = world.sign({**claims, "padding": "x" * 11_000})
    return [
        ("alg none, empty signature", "GET /avp", [alg_none(claims)], "malformed"),
        ("alg none, junk signature", "GET /avp", [alg_none_with_junk(claims)], "algorithm_not_allowed"),
        ("HS256 keyed with the public key", "GET /avp", [hs256_with_public_key(claims, public_jwk)],
         "algorithm_not_allowed"),
        ("unknown kid", "GET /avp", [signed_by_stranger(claims, "rotated-key-2031")], "unknown_kid"),
        ("published kid, another key", "GET /avp", [signed_by_stranger(claims, "dummy")], "bad_signature"),
        ("no kid", "GET /avp", [no_kid], "malformed"),
        ("tampered payload", "GET /avp", [tamper(valid, scope=f"{s('avp.read')} {s('admin')}")], "bad_signature"),
        ("tampered sub", "GET /avp", [tamper(valid, sub=world.sub("carol"))], "bad_signature"),
        ("expired", "GET /avp", [world.sign({**claims, "iat": now - 7200, "exp": now - 3600})], "expired"),
        ("not yet valid", "GET /avp", [world.sign({**claims, "nbf": now + 3600})], "not_yet_valid"),
        ("issued in the future", "GET /avp", [world.sign({**claims, "iat": now + 3600})], "not_yet_valid"),
        ("no exp", "GET /avp", [world.sign({k: v for k, v in claims.items() if k != "exp"})], "missing_claim"),
        ("no sub", "GET /avp", [world.sign({k: v for k, v in claims.items() if k != "sub"})], "missing_claim"),
        ("no token_use", "GET /avp", [world.sign({k: v for k, v in claims.items() if k != "token_use"})],
         "wrong_token_use"),
        ("another pool's real token (same moto key)", "GET /avp", [foreign], "wrong_issuer"),
        ("an issuer that is no configured pool", "GET /avp",
         [world.sign({**claims, "iss": "https://idp.example.com/us-east-1_Evil"})], "wrong_issuer"),
        ("issuer as a list", "GET /avp", [world.sign({**claims, "iss": [world.issuer]})], "wrong_issuer"),
        ("payload not an object", "GET /avp", [f"{valid.split('.')[0]}.WzFd.{valid.split('.')[2]}"], "malformed"),
        ("ID token on a scoped method", "GET /avp", [id_token], "wrong_token_use"),
        ("access token on an unscoped method", "GET /profile", [plain_access], "wrong_token_use"),
        ("oversized signed token", "GET /avp", [huge], "too_large"),
        ("oversized garbage", "GET /avp", ["Bearer " + "A" * 20_000], "too_large"),
        ("garbage", "GET /avp", ["not a token at all"], "malformed"),
        ("two segments", "GET /avp", [".".join(valid.split(".")[:2])], "malformed"),
        ("basic auth", "GET /avp", ["Basic YWxpY2U6cGFzc3dvcmQ="], "malformed"),
        ("Bearer alone", "GET /avp", ["Bearer"], "malformed"),
        ("doubled Bearer", "GET /avp", [f"Bearer Bearer {valid}"], "malformed"),
        ("token then junk", "GET /avp", [f"Bearer {valid} extra"], "malformed"),
        ("two Authorization headers", "GET /avp", [f"Bearer {valid}", f"Bearer {valid}"], "ambiguous"),
        ("blank header", "GET /avp", ["   "], "missing"),
        ("no header", "GET /avp", [], "missing"),
    ], valid, id_token


def event_with(route, values):
    if not values:
        return request_event(route)
    if len(values) == 1:
        return request_event(route, values[0])
    return request_event(route, multi_authorization=values)


def test_no_adversarial_token_is_ever_allowed_in_any_mode(embedded_aws, world, harnesses):
    cases, valid, id_token = adversarial_cases(embedded_aws, world)
    for mode, h in harnesses.items():
        # the controls: a well-formed token of the same shape passes every mode
        assert h.call(request_event("GET /avp", f"Bearer {valid}")).status == "ALLOW", mode
        assert h.call(request_event("GET /profile", id_token)).status == "ALLOW", mode
        controls = len(h.records())
        for name, route, values, reason in cases:
            result = h.call(event_with(route, values))
            assert result.status == "401", (mode, name, result)
            record = h.last()
            assert record.token_error == reason, (mode, name, record.token_error)
            assert (record.enforced, record.scope_decision) == ("UNAUTHORIZED", None), (mode, name)
            # a token that fails verification never reaches Verified Permissions
            assert (record.avp_decision, record.avp_error) == (None, None), (mode, name)
        assert len(h.records()) == controls + len(cases)


def test_client_allow_list(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world, client_ids=(world.clients["app"],)),
                store_id=world.store_id)
    web = hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")])
    assert h.call(request_event("GET /scope", web)).status == "401"
    assert h.last().token_error == "wrong_client"
    _, id_token = world.sign_in("alice", client="app")  # aud = the listed client
    assert h.call(request_event("GET /profile", id_token)).status == "ALLOW"


def test_bearer_scheme_is_optional_and_case_insensitive(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    for header in (token, f"Bearer {token}", f"bearer {token}", f"BEARER  {token} "):
        assert h.call(request_event("GET /scope", header)).status == "ALLOW", header[:12]


def test_a_lower_case_authorization_header_is_read(tmp_path, embedded_aws, world):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("scope.read")])
    event = request_event("GET /scope", headers={"authorization": token})
    del event["multiValueHeaders"]  # headers alone, as in the guide's REQUEST example
    assert h.call(event).status == "ALLOW"


def test_leeway_accepts_small_clock_skew_only(tmp_path, embedded_aws, world):
    base = time.time()
    clock = {"now": base}
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env={"AVP_AUTHZ_LEEWAY_SECONDS": "5", "AVP_AUTHZ_CACHE_SIZE": "0"}, clock=lambda: clock["now"])
    token = world.sign(world.access_claims("bob", exp=int(base) + 100))
    clock["now"] = base + 103  # 3 s past exp, within the leeway
    assert h.call(request_event("GET /scope", token)).status == "ALLOW"
    clock["now"] = base + 106
    assert h.call(request_event("GET /scope", token)).status == "401"
    assert h.last().token_error == "expired"


# --- the JWKS cache --------------------------------------------------------------------------------------------


def test_jwks_is_fetched_once_and_refetched_on_unknown_kid_at_most_once_per_interval(embedded_aws, world):
    from authorizer.config import PoolConfig

    url = f"{embedded_aws.moto_url}/{world.pool_id}/.well-known/jwks.json"
    fetched = []
    document = fetch_jwks(url)

    def fetch(target):
        fetched.append(target)
        return document

    clock = {"now": 1000.0}
    cache = JwksCache(lambda pool: url, min_refresh_seconds=60, fetch=fetch, clock=lambda: clock["now"])
    pool = PoolConfig(world.pool_id, world.issuer)
    key = cache.key(pool, "dummy")
    for _ in range(5):
        assert cache.key(pool, "dummy") is key
    assert fetched == [url]
    with pytest.raises(TokenError, match="unknown_kid"):
        cache.key(pool, "new-kid")  # fetched at 1000: too soon to fetch again
    assert len(fetched) == 1
    clock["now"] += 61
    with pytest.raises(TokenError, match="unknown_kid"):
        cache.key(pool, "new-kid")  # one re-read...
    with pytest.raises(TokenError, match="unknown_kid"):
        cache.key(pool, "another-kid")  # ...and no more within the interval
    assert len(fetched) == 2
    # a rotation: the pool now publishes the new kid; after the interval it is picked up
    rotated = dict(document["keys"][0], kid="new-kid")
    document = {"keys": [document["keys"][0], rotated]}
    clock["now"] += 61
    assert cache.key(pool, "new-kid") is not None
    assert len(fetched) == 3


def test_an_unreachable_jwks_refuses_tokens_and_is_not_hammered(world):
    from authorizer.config import PoolConfig
    from authorizer.tokens import JwksError

    attempts, errors = [], []

    def fetch(url):
        attempts.append(url)
        raise JwksError(f"{url}: connection refused")

    clock = {"now": 0.0}
    cache = JwksCache(lambda pool: "https://jwks.invalid/keys", min_refresh_seconds=300, retry_seconds=5,
                      fetch=fetch, clock=lambda: clock["now"], on_error=errors.append)
    pool = PoolConfig(world.pool_id, world.issuer)
    for _ in range(3):
        with pytest.raises(TokenError, match="jwks_unavailable"):
            cache.key(pool, "dummy")
    assert len(attempts) == 1 and len(errors) == 1
    clock["now"] = 6
    with pytest.raises(TokenError, match="jwks_unavailable"):
        cache.key(pool, "dummy")
    assert len(attempts) == 2


def test_only_rsa_signing_keys_for_rs256_are_taken(embedded_aws, world):
    document = fetch_jwks(f"{embedded_aws.moto_url}/{world.pool_id}/.well-known/jwks.json")
    good = document["keys"][0]
    keys = signing_keys({"keys": [
        good,
        dict(good, kid="enc", use="enc"),
        dict(good, kid="hs", alg="HS256"),
        {"kty": "oct", "kid": "sym", "k": "c2VjcmV0"},
        dict(good, kid="broken", n="AA"),
        "not a key",
    ]})
    assert set(keys) == {"dummy"}
    assert claims_of(world.sign({"sub": "x"}))["sub"] == "x"  # the helper signs with that very key
