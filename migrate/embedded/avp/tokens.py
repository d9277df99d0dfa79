"""Token checks for IsAuthorizedWithToken / BatchIsAuthorizedWithToken with a Cognito identity source.

What AVP checks is listed in the Amazon Cognito developer guide, "Authorization with Amazon Verified
Permissions" (amazon-cognito-authorization-with-avp): the user pool is the store's identity source; ``aud``
(ID token) or ``client_id`` (access token) is one of the identity source's client IDs when client IDs are
configured (AVP user guide, "Client and audience validation for Amazon Cognito"); the token is not expired;
``token_use`` matches the parameter the token was sent in (``id`` for ``identityToken``, ``access`` for
``accessToken``; botocore model, IsAuthorizedWithTokenInput); the signature comes from the pool's published
JWKS. Revocation is not checked ("Token revocation and resource deletion have no effect on the validity of a
token", IsAuthorizedWithToken API reference).

Every failure is a ValidationException (the operation's only client error for bad input); the exact wording
AVP uses is UNCONFIRMED, so the messages say plainly which check failed. The signature is verified before any
claim is trusted for a decision; the issuer is read first only to pick the key set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from migrate.embedded.avp.errors import validation_error
from migrate.embedded.avp.store import IdentitySourceRecord

# Cognito signs user pool tokens with RS256 only; anything else (alg "none", HS256 with the public key as the
# secret...) is refused before any key is touched.
ACCEPTED_ALGORITHMS = ("RS256",)
TOKEN_USE = {"identityToken": "id", "accessToken": "access"}

JwksLookup = Callable[[str], dict[str, Any] | None]


@dataclass
class KeySets:
    """PyJWKSet per issuer, rebuilt only when the JWKS document the lookup returns changes."""

    lookup: JwksLookup
    _cache: dict[str, tuple[dict[str, Any], jwt.PyJWKSet]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def key_for(self, issuer: str, kid: str | None, parameter: str) -> jwt.PyJWK:
        document = self.lookup(issuer)
        if document is None:
            raise validation_error(f"The {parameter} could not be validated: no JSON web key set is "
                                   f"published for its issuer {issuer}.", path=parameter)
        with self._lock:
            cached = self._cache.get(issuer)
            if cached is None or cached[0] != document:  # a rotated key set is read again
                try:
                    cached = (document, jwt.PyJWKSet.from_dict(document))
                except jwt.PyJWKSetError as exc:
                    raise validation_error(f"The {parameter} could not be validated: the issuer's JSON web "
                                           f"key set is unusable ({exc}).", path=parameter) from None
                self._cache[issuer] = cached
        key_set = cached[1]
        try:
            return key_set[kid] if kid is not None else key_set.keys[0]
        except (KeyError, IndexError):
            raise validation_error(f"The {parameter} is signed with a key (kid {kid!r}) that its issuer does "
                                   "not publish.", path=parameter) from None


def verify(token: str, parameter: str, source: IdentitySourceRecord, key_sets: KeySets,
           now: float) -> dict[str, Any]:
    """The token's claims, once every check AVP documents has passed; ValidationException otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.DecodeError as exc:
        raise validation_error(f"The {parameter} is not a valid JSON web token: {exc}",
                               path=parameter) from None
    algorithm = header.get("alg")
    if algorithm not in ACCEPTED_ALGORITHMS:
        raise validation_error(f"The {parameter} is signed with algorithm {algorithm!r}; Cognito user pool "
                               "tokens are signed with RS256.", path=parameter)
    issuer = unverified.get("iss")
    if issuer != source.issuer:
        raise validation_error(f"The {parameter} was issued by {issuer!r}, not by the user pool of this "
                               f"policy store's identity source ({source.issuer}).", path=parameter)
    key = key_sets.key_for(issuer, header.get("kid"), parameter)
    try:
        claims = jwt.decode(token, key.key, algorithms=list(ACCEPTED_ALGORITHMS),
                            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False, "verify_iss": False})
    except jwt.InvalidSignatureError:
        raise validation_error(f"The {parameter} signature does not verify against the user pool's JSON web "
                               "keys.", path=parameter) from None
    except jwt.InvalidTokenError as exc:
        raise validation_error(f"The {parameter} could not be validated: {exc}", path=parameter) from None
    _check_expiry(claims, parameter, now)
    _check_token_use(claims, parameter)
    _check_client(claims, parameter, source)
    return claims


def _check_expiry(claims: dict[str, Any], parameter: str, now: float) -> None:
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        raise validation_error(f"The {parameter} has no valid exp claim.", path=parameter)
    if now >= expires:
        raise validation_error(f"The {parameter} has expired.", path=parameter)


def _check_token_use(claims: dict[str, Any], parameter: str) -> None:
    expected = TOKEN_USE[parameter]
    actual = claims.get("token_use")
    if actual != expected:
        raise validation_error(f"The {parameter} must have token_use {expected!r}, but this token's "
                               f"token_use is {actual!r}.", path=parameter)


def _check_client(claims: dict[str, Any], parameter: str, source: IdentitySourceRecord) -> None:
    if not source.client_ids:  # no client IDs configured: any app client of the pool is accepted
        return
    claim = "aud" if parameter == "identityToken" else "client_id"
    value = claims.get(claim)
    values = value if isinstance(value, list) else [value]
    if not any(v in source.client_ids for v in values):
        raise validation_error(f"The {parameter} {claim} claim {value!r} is not one of the identity "
                               "source's client IDs.", path=parameter)
