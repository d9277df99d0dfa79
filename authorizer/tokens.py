"""Cognito user pool token verification, the checks API Gateway's Cognito authorizer makes.

* The token comes from the ``Authorization`` header, raw or as ``Bearer <token>`` (scheme case-insensitive). One
  header value only: two ``Authorization`` headers, a doubled ``Bearer``, anything that is not three base64url
  segments, or more than :data:`MAX_TOKEN_BYTES` is refused before any parsing. (Whether the Cognito authorizer
  accepts the ``Bearer`` prefix is not in the API Gateway guide; a public deployment test, awslabs/nx-plugin-for-aws
  pull request 828, shows ``Bearer <id token>`` accepted, and refusing it would break clients that send it.)
* RS256 only: the header's ``alg`` must be exactly ``RS256`` and PyJWT is given only that algorithm, so ``none``
  and HS256 signed with the public key are refused.
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

Time checks are done here rather than by PyJWT so that one injectable clock governs verification and the
decision cache (PyJWT reads the system clock itself).

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

import jwt

from authorizer.config import PoolConfig

ALGORITHM = "RS256"
# API Gateway refuses requests whose headers exceed 10,240 bytes, so a longer value can only be hostile.
MAX_TOKEN_BYTES = 10_240
JWKS_MAX_BYTES = 256 * 1024
JWKS_FETCH_TIMEOUT_SECONDS = 2.0
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Signature and the structure of header/payload only: the time, issuer and audience checks are ours (see above).
_DECODE_OPTIONS: Any = {"verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                        "verify_aud": False, "verify_iss": False}


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
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            continue  # one broken key must not hide the others
    return keys


@dataclass
class _PoolKeys:
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


def _segment_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a deeply nested array or object ("[[[[...") exhausts the decoder's recursion limit long
        # before the 10,240-byte bound. It is a malformed token like any other (401, no error log), not a fault.
        raise TokenError("malformed") from None


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
        header_segment, payload_segment, _ = token.split(".")
        header = _segment_json(header_segment)
        if not isinstance(header, dict):
            raise TokenError("malformed")
        if header.get("alg") != ALGORITHM:
            raise TokenError("algorithm_not_allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("malformed")
        # Read unverified only to choose the key set; every decision below uses the verified claims.
        unverified = _segment_json(payload_segment)
        if not isinstance(unverified, dict):
            raise TokenError("malformed")
        issuer = unverified.get("iss")
        pool = self._pools.get(issuer) if isinstance(issuer, str) else None
        if pool is None:
            raise TokenError("wrong_issuer")
        key = self._jwks.key(pool, kid)
        try:
            claims = jwt.decode(token, key, algorithms=[ALGORITHM], options=_DECODE_OPTIONS)
        except jwt.InvalidSignatureError:
            raise TokenError("bad_signature") from None
        except jwt.InvalidAlgorithmError:
            raise TokenError("algorithm_not_allowed") from None
        except (jwt.InvalidTokenError, RecursionError):  # PyJWT decodes the same JSON again: same answer
            raise TokenError("malformed") from None
        if claims.get("iss") != pool.issuer:
            raise TokenError("wrong_issuer")
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
