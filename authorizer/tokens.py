"""Cognito user pool token verification, the checks API Gateway's Cognito authorizer makes.

* The token comes from the ``Authorization`` header, raw or as ``Bearer <token>`` (scheme case-insensitive). One
  header value only: two ``Authorization`` headers, a doubled ``Bearer``, anything that is not three base64url
  segments, or more than :data:`MAX_TOKEN_BYTES` is refused before any parsing. (Whether the Cognito authorizer
  accepts the ``Bearer`` prefix is not in the API Gateway guide; a public deployment test, awslabs/nx-plugin-for-aws
  pull request 828, shows ``Bearer <id token>`` accepted, and refusing it would break clients that send it.)
* RS256 only (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 section 3.3): the header's ``alg`` must be exactly
  ``RS256``, and the signature is checked with that algorithm whatever the header says, so ``none`` and HS256
  signed with the public key are refused. Keys shorter than 2048 bits are not used (RFC 7518 section 3.3: "A key
  of size 2048 bits or larger MUST be used"). A header with ``crit`` (an extension this verifier would have to
  understand, RFC 7515 section 4.1.11) or ``b64`` (RFC 7797's unencoded payload) is refused.
* Each segment must be canonical base64url (the alphabet only, no padding, no stray bits): one token has one
  spelling, as PyJWT requires too.
* The key is picked by ``kid`` from the JWKS of the pool whose issuer URL equals the token's ``iss``; a token from
  any other issuer is refused before a key is touched, and the JWKS URL comes from the configured pool, never
  from the token. A JWKS is fetched on first use; an unknown ``kid`` re-reads it at most once per
  ``min_refresh_seconds`` (a rotation is picked up; a flood of made-up kids does not become a flood of fetches),
  and it is re-read on schedule once ``max_age_seconds`` old. Each read replaces the set, so a key the pool
  withdraws is refused within the maximum age (see :class:`JwksCache` for a failing re-read).
* After the signature: ``exp`` (required), ``nbf`` and ``iat`` against this module's clock with a small leeway
  (default 5 s, for clock skew between Cognito and Lambda); ``token_use`` must be what the route takes (API
  Gateway's rule: ``access`` on a method with scopes, ``id`` on one without); ``sub`` present; ``client_id``
  (access) or ``aud`` (ID) in the pool's client allow-list when one is configured.

The JWS itself (RFC 7515 compact serialization) is checked here with ``cryptography`` directly, not through
PyJWT: the header and payload are decoded once (PyJWT would decode them a second time), and ``import jwt`` alone
loads PyJWT's JWKS client (urllib, http.client, ssl, email) and ``cryptography.x509``, about 40 ms of every cold
start for code the authorizer never runs. Every check PyJWT made for us is made here (tests/test_authorizer_tokens.py
and tests/test_authorizer_hardening.py hold each). Time checks are ours too, so that one injectable clock governs
verification and the decision cache.

Every failure is a :class:`TokenError` whose ``reason`` is a short code, safe to log: never the token, never a
claim value.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from authorizer.config import PoolConfig

ALGORITHM = "RS256"
# API Gateway refuses requests whose headers exceed 10,240 bytes, so a longer value can only be hostile.
MAX_TOKEN_BYTES = 10_240
JWKS_MAX_BYTES = 256 * 1024
JWKS_FETCH_TIMEOUT_SECONDS = 2.0
MIN_KEY_BITS = 2048  # RFC 7518 section 3.3
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_PADDING = PKCS1v15()
_HASH = SHA256()


class TokenError(Exception):
    """The request carries no acceptable token. ``reason`` is a short code for logs and shadow records."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedToken:
    """What the authorizer uses from a token, taken only after every check passed."""

    pool_id: str
    sub: str
    token_use: str  # "access" or "id"
    client_id: str  # client_id (access token) or aud (ID token)
    username: str | None
    groups: tuple[str, ...]
    scopes: frozenset[str]
    scope_text: str  # the access token's scope claim as issued (for the authorizer context)
    exp: float
    client_credentials: bool  # a machine-to-machine token: no user, sub == client_id

    @property
    def principal(self) -> str:
        """``<poolId>|<sub>``, as Verified Permissions names a user (and as the shadow records do)."""
        return f"{self.pool_id}|{self.sub}"


def bearer_token(values: Sequence[str]) -> str:
    """The one token in the ``Authorization`` header values of a request."""
    if not values:
        raise TokenError("missing")
    if len(values) > 1:
        raise TokenError("ambiguous")  # two Authorization headers: which one API Gateway cached is unknowable
    raw = values[0]
    if not isinstance(raw, str) or not raw.strip():
        raise TokenError("missing")
    if len(raw) > MAX_TOKEN_BYTES:
        raise TokenError("too_large")
    text = raw.strip()
    scheme, space, rest = text.partition(" ")
    if space and scheme.lower() == "bearer":
        text = rest.strip()
    if not _JWT_SHAPE.fullmatch(text):
        raise TokenError("malformed")
    return text


# --- JWKS -----------------------------------------------------------------------------------------------------


class JwksError(Exception):
    """The JWKS could not be fetched or holds no usable key; the message names the URL, never a token."""


def fetch_jwks(url: str, timeout: float = JWKS_FETCH_TIMEOUT_SECONDS) -> dict[str, Any]:
    """GET a JWKS document with a timeout and a size limit: a slow or huge answer must not stall requests."""
    import urllib.error
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise JwksError(f"{url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # the scheme is checked above
            body = response.read(JWKS_MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise JwksError(f"{url}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
    if len(body) > JWKS_MAX_BYTES:
        raise JwksError(f"{url}: larger than {JWKS_MAX_BYTES} bytes")
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JwksError(f"{url}: not JSON") from None
    if not isinstance(document, dict):
        raise JwksError(f"{url}: not a JSON object")
    return document


def signing_keys(document: dict[str, Any]) -> dict[str, Any]:
    """kid -> public key object for every RSA signing key usable with RS256."""
    keys: dict[str, Any] = {}
    entries = document.get("keys")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        key = _rsa_public_key(entry)
        if key is not None:  # one broken key must not hide the others
            keys[kid] = key
    return keys


def _rsa_public_key(entry: dict[str, Any]) -> RSAPublicKey | None:
    """The public key of an RSA JWK (RFC 7518 section 6.3.1: ``n`` and ``e``, base64url big-endian unsigned
    integers), or None when it is no usable RS256 key. Private members (``d``...) are never read: only the public
    key is ever built, whatever the JWKS holds."""
    n, e = (_jwk_uint(entry.get(name)) for name in ("n", "e"))
    if n is None or e is None:
        return None
    try:
        key = RSAPublicNumbers(e, n).public_key()
    except (ValueError, TypeError):  # cryptography refuses e.g. an even or tiny exponent, or n smaller than e
        return None
    return key if key.key_size >= MIN_KEY_BITS else None


def _jwk_uint(value: Any) -> int | None:
    # Read as leniently as PyJWT read it (padding optional): the JWKS comes from the configured pool, not from the
    # caller, and a refused key would refuse every token of that pool.
    if not isinstance(value, str) or not value:
        return None
    try:
        return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")
    except (binascii.Error, ValueError):
        return None


@dataclass
class _PoolKeys:
    """One user pool's signing keys and when they were last read."""

    keys: dict[str, Any] = field(default_factory=dict)
    fetched_at: float | None = None  # the last successful fetch: the age of ``keys``
    failed_at: float | None = None  # the last failed attempt
    stale_logged: bool = False  # the current failure to refresh a stale set has been logged


class JwksCache:
    """Public keys per user pool. Fetched on first use; re-read on an unknown ``kid`` at most once per
    ``min_refresh_seconds``; re-read on schedule once the set is ``max_age_seconds`` old.

    Every successful fetch REPLACES the set: a key the pool no longer publishes (withdrawn, perhaps compromised)
    is refused from the next fetch on, at most ``max_age_seconds`` after the pool withdrew it.

    A scheduled re-read that fails keeps the old set for ``grace_seconds`` more (default: ``max_age_seconds``),
    retried at most every ``retry_seconds`` and logged once; past that bound the set is dropped and every token
    of the pool is refused (``jwks_unavailable``, 401) until a fetch succeeds. So no key set is ever used more
    than ``max_age_seconds + grace_seconds`` after it was last read from the pool (fail closed). After any failed
    fetch the next attempt waits ``retry_seconds`` (at most the refresh interval), so an unreachable JWKS
    endpoint is not hit by every request."""

    def __init__(self, url_for: Callable[[PoolConfig], str], *, min_refresh_seconds: float = 300,
                 max_age_seconds: float = 3600, grace_seconds: float | None = None, retry_seconds: float = 5,
                 fetch: Callable[[str], dict[str, Any]] = fetch_jwks,
                 clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[str], None] | None = None) -> None:
        self._url_for = url_for
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._grace = max_age_seconds if grace_seconds is None else grace_seconds
        self._retry = min(retry_seconds, min_refresh_seconds)
        self._fetch = fetch
        self._clock = clock
        self._on_error = on_error
        self._pools: dict[str, _PoolKeys] = {}
        self._lock = threading.Lock()

    def key(self, pool: PoolConfig, kid: str) -> Any:
        state = self._pools.get(pool.id)
        if (state is not None and kid in state.keys and state.fetched_at is not None
                and self._clock() - state.fetched_at < self._max_age):  # the warm path: no lock
            return state.keys[kid]
        with self._lock:
            state = self._pools.setdefault(pool.id, _PoolKeys())
            now = self._clock()
            if state.fetched_at is not None and now - state.fetched_at >= self._max_age:
                self._refresh_stale(pool, state, now)
            elif kid not in state.keys and self._may_fetch(state, now):
                self._refresh(pool, state)
            if kid in state.keys:
                return state.keys[kid]
            raise TokenError("jwks_unavailable" if not state.keys and state.failed_at is not None
                             else "unknown_kid")

    def _may_fetch(self, state: _PoolKeys, now: float) -> bool:
        if state.failed_at is not None and now - state.failed_at < self._retry:
            return False
        return state.fetched_at is None or now - state.fetched_at >= self._min_refresh

    def _refresh_stale(self, pool: PoolConfig, state: _PoolKeys, now: float) -> None:
        """The set is due for its scheduled re-read (whatever ``kid`` is asked for)."""
        assert state.fetched_at is not None
        if state.failed_at is None or now - state.failed_at >= self._retry:
            error = self._refresh(pool, state, report=False)
            if error is None:
                return
            if not state.stale_logged:
                state.stale_logged = True
                self._report(f"{error}; keeping the key set read {now - state.fetched_at:.0f} s ago for at most "
                             f"{state.fetched_at + self._max_age + self._grace - now:.0f} s more, then refusing "
                             "every token of this pool until the JWKS can be read")
        if now - state.fetched_at >= self._max_age + self._grace:
            # Fail closed: a set this old may still hold a key the pool has withdrawn.
            self._report(f"{self._url_for(pool)}: the key set is {now - state.fetched_at:.0f} s old and could not "
                         "be re-read; tokens of this pool are refused until it can be")
            state.keys, state.fetched_at, state.stale_logged = {}, None, False

    def _refresh(self, pool: PoolConfig, state: _PoolKeys, *, report: bool = True) -> str | None:
        """Fetch the pool's set; returns the error (reported unless ``report`` is false), None on success."""
        url = self._url_for(pool)
        try:
            keys = signing_keys(self._fetch(url))
            if not keys:
                raise JwksError(f"{url}: no RSA signing key for {ALGORITHM}")
        except JwksError as exc:
            state.failed_at = self._clock()
            if report:
                self._report(str(exc))
            return str(exc)
        # A re-read replaces the set: a key the pool no longer publishes stops being accepted.
        state.keys, state.fetched_at, state.failed_at, state.stale_logged = keys, self._clock(), None, False
        return None

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)


def jwks_url_template(template: str) -> Callable[[PoolConfig], str]:
    """The JWKS URL of a pool from a template with ``{issuer}``, ``{pool_id}`` and ``{region}``."""

    def url_for(pool: PoolConfig) -> str:
        return template.format(issuer=pool.issuer.rstrip("/"), pool_id=pool.id, region=pool.id.split("_", 1)[0])

    return url_for


# --- verification ---------------------------------------------------------------------------------------------


def _segment(segment: str) -> bytes:
    """The bytes of one base64url segment (RFC 7515 section 2: no padding). Only the canonical spelling is taken:
    ``urlsafe_b64decode`` alone would skip characters outside the alphabet, accept ``+`` and ``/``, and ignore
    the unused low bits of the last character, so many strings would decode to the same bytes; re-encoding and
    comparing refuses all of them (PyJWT makes the same check)."""
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed") from None
    if base64.urlsafe_b64encode(data).rstrip(b"=") != segment.encode("ascii", "replace"):
        raise TokenError("malformed")
    return data


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a deeply nested array or object ("[[[[...") exhausts the decoder's recursion limit long
        # before the 10,240-byte bound. It is a malformed token like any other (401, no error log), not a fault.
        raise TokenError("malformed") from None
    if not isinstance(value, dict):
        raise TokenError("malformed")
    return value


def _number(value: Any) -> bool:
    # Python's json reads 1e999 as inf and NaN as nan; neither is a time (an exp of inf would never expire).
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class TokenVerifier:
    """Verifies tokens from the configured user pools (see the module docstring for every check)."""

    def __init__(self, pools: Iterable[PoolConfig], jwks: JwksCache, *, leeway_seconds: float = 5,
                 clock: Callable[[], float] = time.time) -> None:
        self._pools = {pool.issuer: pool for pool in pools}
        self._jwks = jwks
        self._leeway = leeway_seconds
        self._clock = clock

    def verify(self, token: str, token_use: str) -> VerifiedToken:
        """The verified token, for a route that takes ``token_use`` tokens; :class:`TokenError` otherwise.

        ``token`` is what :func:`bearer_token` returned (three base64url segments).
        """
        if not isinstance(token, str) or not _JWT_SHAPE.fullmatch(token):
            raise TokenError("malformed")
        signing_input, _, signature_segment = token.rpartition(".")
        header_segment, _, payload_segment = signing_input.partition(".")
        header = _json_object(_segment(header_segment))
        if header.get("alg") != ALGORITHM:
            raise TokenError("algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("malformed")
        if "crit" in header or "b64" in header:
            # RFC 7515 section 4.1.11: extensions listed in crit that are not understood MUST make the JWS invalid;
            # this verifier understands none (PyJWT knew only b64, and refused b64=false without a detached
            # payload). RFC 7797's b64 changes what the signature covers: refused whatever its value.
            raise TokenError("malformed")
        # Decoded once: read before the signature check only to choose the key set (the issuer) and then, once the
        # signature over these very bytes is verified, used as the claims. Nothing is decided on them before that.
        claims = _json_object(_segment(payload_segment))
        signature = _segment(signature_segment)
        issuer = claims.get("iss")
        pool = self._pools.get(issuer) if isinstance(issuer, str) else None
        if pool is None:
            raise TokenError("wrong_issuer")
        key = self._jwks.key(pool, kid)
        try:
            key.verify(signature, signing_input.encode("ascii"), _PADDING, _HASH)
        except InvalidSignature:
            raise TokenError("bad_signature") from None
        for name in ("sub", "jti"):  # PyJWT refused these when present and not strings; so do we
            if name in claims and not isinstance(claims[name], str):
                raise TokenError("malformed")
        self._check_times(claims)
        return self._identity(pool, claims, token_use)

    def _check_times(self, claims: dict[str, Any]) -> None:
        now, leeway = self._clock(), self._leeway
        exp = claims.get("exp")
        if not _number(exp):
            raise TokenError("missing_claim")
        if now >= exp + leeway:
            raise TokenError("expired")
        for name in ("nbf", "iat"):  # Cognito sets iat and never nbf; a token from the future is not valid yet
            value = claims.get(name)
            if value is None:
                continue
            if not _number(value):
                raise TokenError("malformed")
            if value > now + leeway:
                raise TokenError("not_yet_valid")

    @staticmethod
    def _identity(pool: PoolConfig, claims: dict[str, Any], token_use: str) -> VerifiedToken:
        actual_use = claims.get("token_use")
        if actual_use != token_use:
            raise TokenError("wrong_token_use")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("missing_claim")
        client = claims.get("client_id") if token_use == "access" else claims.get("aud")
        if isinstance(client, list) and len(client) == 1:
            client = client[0]
        if not isinstance(client, str) or not client:
            raise TokenError("missing_claim")
        if pool.client_ids and client not in pool.client_ids:
            raise TokenError("wrong_client")
        username = claims.get("username") if token_use == "access" else claims.get("cognito:username")
        raw_groups = claims.get("cognito:groups")
        groups = tuple(g for g in raw_groups if isinstance(g, str)) if isinstance(raw_groups, list) else ()
        scope_text = claims.get("scope") if token_use == "access" else None
        scope_text = scope_text if isinstance(scope_text, str) else ""
        return VerifiedToken(
            pool_id=pool.id, sub=sub, token_use=token_use, client_id=client,
            username=username if isinstance(username, str) else None, groups=groups,
            scopes=frozenset(scope_text.split()), scope_text=scope_text, exp=float(claims["exp"]),
            # Cognito's client-credentials tokens name no user: sub is the app client id, no username claim.
            client_credentials=token_use == "access" and "username" not in claims and sub == client,
        )
