"""The JWS checks the authorizer makes itself (authorizer/tokens.py) since it no longer hands tokens to PyJWT: each
check PyJWT made is made here, and a few more. PyJWT is used below only to sign test tokens."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from authorizer.config import PoolConfig
from authorizer.tokens import JwksCache, TokenError, TokenVerifier, signing_keys

POOL = PoolConfig("us-east-1_Jws", "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Jws")


def public_jwk(key: rsa.RSAPrivateKey, kid: str = "k1") -> dict:
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(key) -> TokenVerifier:
    return TokenVerifier([POOL], JwksCache(lambda p: "https://jwks.example/keys",
                                           fetch=lambda url: {"keys": [public_jwk(key)]}))


def claims(**changes) -> dict:
    # Whole seconds: a float's repr varies in length, and the canonical-spelling test needs payloads whose lengths
    # step by one byte as its padding grows (a CI run once drew four with no unused bits).
    now = int(time.time())
    return {"iss": POOL.issuer, "sub": "s", "token_use": "access", "client_id": "c", "iat": now, "exp": now + 600,
            "jti": "j", **changes}


def sign(key, payload: dict, **headers) -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "k1", **headers})


def test_the_control_passes(key, verifier):
    assert verifier.verify(sign(key, claims()), "access").sub == "s"


@pytest.mark.parametrize("headers", [
    {"crit": ["exp"], "exp": 1},  # an extension nobody here understands (RFC 7515 section 4.1.11)
    {"crit": ["b64"], "b64": False},  # RFC 7797: the signature covers an unencoded payload
    {"crit": ["b64"], "b64": True},
    {"b64": False},
    {"crit": []},
])
def test_critical_extensions_and_unencoded_payloads_are_refused(key, verifier, headers):
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify(sign(key, claims(), **headers), "access")


@pytest.mark.parametrize(("name", "value"), [("jti", 7), ("jti", None), ("sub", ["s"]), ("sub", 7)])
def test_a_sub_or_jti_that_is_not_a_string_is_refused_as_pyjwt_did(key, verifier, name, value):
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify(sign(key, claims(**{name: value})), "access")


def flip_unused_bits(segment: str) -> str:
    """Another spelling of the same bytes: the last character's unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused = {2: 4, 3: 2}[len(segment) % 4]
    last = alphabet.index(segment[-1])
    assert last % (1 << unused) == 0
    return segment[:-1] + alphabet[last + 1]


@pytest.mark.parametrize("part", [0, 1, 2])
def test_only_the_canonical_base64url_spelling_of_a_segment_is_taken(key, verifier, part):
    tokens = (sign(key, claims(pad="x" * n)) for n in range(4))
    segments = next(t for t in tokens if len(t.split(".")[1]) % 4 in (2, 3)).split(".")
    if len(segments[part]) % 4 not in (2, 3):
        pytest.skip("this segment's length leaves no unused bits")
    same_bytes = segments.copy()
    same_bytes[part] = flip_unused_bits(segments[part])
    assert base64.urlsafe_b64decode(same_bytes[part] + "==") == base64.urlsafe_b64decode(segments[part] + "==")
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify(".".join(same_bytes), "access")


@pytest.mark.parametrize("junk", ["+", "/", "=", "!", " "])
def test_characters_outside_the_base64url_alphabet_are_refused(key, verifier, junk):
    header, payload, signature = sign(key, claims()).split(".")
    for token in (f"{header}.{payload}{junk}.{signature}", f"{header}.{payload}.{signature}{junk}",
                  f"{header[:4]}{junk}{header[4:]}.{payload}.{signature}"):
        with pytest.raises(TokenError, match="malformed"):
            verifier.verify(token, "access")


def test_a_signature_of_the_wrong_length_or_another_token_s_is_a_bad_signature(key, verifier):
    header, payload, signature = sign(key, claims()).split(".")
    other = sign(key, claims(sub="t")).split(".")[2]
    short = base64.urlsafe_b64encode(base64.urlsafe_b64decode(signature + "==")[:-1]).rstrip(b"=").decode()
    for bad in (other, short):
        with pytest.raises(TokenError, match="bad_signature"):
            verifier.verify(f"{header}.{payload}.{bad}", "access")


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits long")  # PyJWT, signing the test token
def test_keys_shorter_than_2048_bits_and_private_members_are_not_used(key):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # PyJWT only warned about it
    jwk_with_private = {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": "priv", "use": "sig", "alg": "RS256"}
    assert "d" in jwk_with_private
    keys = signing_keys({"keys": [public_jwk(weak, "weak"), public_jwk(key, "ok"), jwk_with_private,
                                  {**public_jwk(key, "no-e"), "e": ""}, {**public_jwk(key, "bad-n"), "n": "!!"}]})
    assert set(keys) == {"ok", "priv"}
    assert not hasattr(keys["priv"], "private_numbers")  # only ever the public key, whatever the JWKS holds
    published = {"keys": [public_jwk(weak), public_jwk(key, "k2")]}
    verifier = TokenVerifier([POOL], JwksCache(lambda p: "u", fetch=lambda url: published))
    with pytest.raises(TokenError, match="unknown_kid"):  # RFC 7518 section 3.3: 2048 bits or larger
        verifier.verify(sign(weak, claims()), "access")


def test_the_header_and_payload_are_decoded_once(key, verifier, monkeypatch):
    """PyJWT decoded both again after ours: now one base64 decode and one JSON parse each, whatever the token."""
    import authorizer.tokens as tokens

    verifier.verify(sign(key, claims()), "access")  # the JWKS read (itself JSON) is not what is counted
    calls = []
    real = tokens.json.loads
    monkeypatch.setattr(tokens.json, "loads", lambda data, *a, **k: calls.append(data) or real(data, *a, **k))
    verifier.verify(sign(key, claims()), "access")
    assert len(calls) == 2


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_segment_of_impossible_length_is_malformed(key, verifier, part):
    # A base64url segment is never 1 more than a multiple of 4 characters long: the decoder refuses it, and so does
    # the verifier, as a malformed token (not an unexpected error).
    segments = sign(key, claims()).split(".")
    segments[part] += "A" * ((1 - len(segments[part])) % 4 or 4)
    assert len(segments[part]) % 4 == 1
    with pytest.raises(TokenError, match="malformed"):
        verifier.verify(".".join(segments), "access")
