"""The authorizer's environment variables, read and checked once when the function starts.

=====================================  ==========================================================================
Variable                               Meaning (default)
=====================================  ==========================================================================
``AVP_AUTHZ_CONFIG_PATH``              the ``authorizer-config.json`` to read (the one bundled next to this code)
``AVP_AUTHZ_POLICY_STORE_ID``          the Verified Permissions policy store (required for shadow and avp modes;
                                       without it those modes record an AVP error: shadow enforces scope, avp
                                       denies)
``AVP_AUTHZ_MODES_PARAMETER``          SSM parameter holding the mode document (none: the fallback below only)
``AVP_AUTHZ_MODES_MAX_AGE``            seconds a fetched mode document is reused (30)
``AVP_AUTHZ_MODES``                    the fallback mode document (JSON, kept in step with the ledger by
                                       avp-migrate, with its pending marks: authorizer/modes.py); without it, a
                                       route whose published mode cannot be read is decided by both rules
``AVP_AUTHZ_AVP_TIMEOUT_MS``           wall-clock bound on one Verified Permissions call (300)
``AVP_AUTHZ_LEEWAY_SECONDS``           clock-skew allowance on ``exp``, ``nbf`` and ``iat`` (5, at most 60)
``AVP_AUTHZ_JWKS_URL_TEMPLATE``        where a pool's JWKS is fetched: ``{issuer}/.well-known/jwks.json``;
                                       placeholders ``{issuer}``, ``{pool_id}``, ``{region}`` (only the embedded
                                       AWS needs another value)
``AVP_AUTHZ_JWKS_MIN_REFRESH_SECONDS`` a token with an unknown ``kid`` re-reads the JWKS at most this often (300)
``AVP_AUTHZ_JWKS_MAX_AGE_SECONDS``     the JWKS is re-read on schedule once this old, and the new set replaces
                                       the old one: a key the pool withdraws is refused within this time (3600,
                                       60 to 86400). If that re-read fails, the old set is kept as long again at
                                       most, then every token of the pool is refused until a read succeeds
``AVP_AUTHZ_CACHE_SIZE``               entries of the in-Lambda decision cache (1024; 0 turns it off)
``AVP_AUTHZ_CACHE_SECONDS``            how long a decision is reused, never past the token's ``exp`` (60; 0 off)
``AVP_AUTHZ_HASH_PRINCIPALS``          ``true``: shadow records carry ``sha256:<hex>`` of the principal (false)
``POWERTOOLS_METRICS_NAMESPACE``       CloudWatch namespace of the EMF metrics (``AvpMigrate/Authorizer``)
``POWERTOOLS_SERVICE_NAME``            the Logger's ``service`` field (``avp-migrate-authorizer``); it is kept
                                       out of the metrics' dimensions
=====================================  ==========================================================================

A bad value stops the function from starting (every request then fails with 500): an authorizer that guesses
its settings is worse than one that is visibly broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_CONFIG_PATH = "AVP_AUTHZ_CONFIG_PATH"
ENV_POLICY_STORE_ID = "AVP_AUTHZ_POLICY_STORE_ID"
ENV_MODES_PARAMETER = "AVP_AUTHZ_MODES_PARAMETER"
ENV_MODES_MAX_AGE = "AVP_AUTHZ_MODES_MAX_AGE"
ENV_MODES = "AVP_AUTHZ_MODES"
ENV_AVP_TIMEOUT_MS = "AVP_AUTHZ_AVP_TIMEOUT_MS"
ENV_LEEWAY = "AVP_AUTHZ_LEEWAY_SECONDS"
ENV_JWKS_URL_TEMPLATE = "AVP_AUTHZ_JWKS_URL_TEMPLATE"
ENV_JWKS_MIN_REFRESH = "AVP_AUTHZ_JWKS_MIN_REFRESH_SECONDS"
ENV_JWKS_MAX_AGE = "AVP_AUTHZ_JWKS_MAX_AGE_SECONDS"
ENV_CACHE_SIZE = "AVP_AUTHZ_CACHE_SIZE"
ENV_CACHE_SECONDS = "AVP_AUTHZ_CACHE_SECONDS"
ENV_HASH_PRINCIPALS = "AVP_AUTHZ_HASH_PRINCIPALS"
ENV_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
ENV_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"

CONFIG_FILE_NAME = "authorizer-config.json"
DEFAULT_JWKS_URL_TEMPLATE = "{issuer}/.well-known/jwks.json"
DEFAULT_METRICS_NAMESPACE = "AvpMigrate/Authorizer"
DEFAULT_SERVICE_NAME = "avp-migrate-authorizer"
JWKS_PLACEHOLDERS = ("issuer", "pool_id", "region")


class SettingsError(ValueError):
    """An environment variable is missing or wrong; the message names it."""


# Not frozen: read once by build_authorizer and dropped there, never shared (authorizer/__init__.py, cold start).
@dataclass
class Settings:
    """The function's settings, from its environment variables (see the module docstring)."""

    config_path: Path
    policy_store_id: str | None = None
    modes_parameter: str | None = None
    modes_max_age: int = 30
    modes_fallback: str | None = None  # the JSON text of AVP_AUTHZ_MODES, parsed by authorizer.modes
    avp_timeout_ms: int = 300
    leeway_seconds: int = 5
    jwks_url_template: str = DEFAULT_JWKS_URL_TEMPLATE
    jwks_min_refresh_seconds: int = 300
    jwks_max_age_seconds: int = 3600
    cache_size: int = 1024
    cache_seconds: int = 60
    hash_principals: bool = False
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    service_name: str = DEFAULT_SERVICE_NAME

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], *, default_config_path: Path | None = None) -> Settings:
        path_text = _text(environ, ENV_CONFIG_PATH)
        config_path = Path(path_text) if path_text else (
            default_config_path or Path(__file__).with_name(CONFIG_FILE_NAME))
        template = _text(environ, ENV_JWKS_URL_TEMPLATE) or DEFAULT_JWKS_URL_TEMPLATE
        _check_template(template)
        return cls(
            config_path=config_path,
            policy_store_id=_text(environ, ENV_POLICY_STORE_ID),
            modes_parameter=_text(environ, ENV_MODES_PARAMETER),
            modes_max_age=_integer(environ, ENV_MODES_MAX_AGE, 30, 0, 3600),
            modes_fallback=_text(environ, ENV_MODES),
            avp_timeout_ms=_integer(environ, ENV_AVP_TIMEOUT_MS, 300, 10, 10_000),
            leeway_seconds=_integer(environ, ENV_LEEWAY, 5, 0, 60),
            jwks_url_template=template,
            jwks_min_refresh_seconds=_integer(environ, ENV_JWKS_MIN_REFRESH, 300, 1, 86_400),
            jwks_max_age_seconds=_integer(environ, ENV_JWKS_MAX_AGE, 3600, 60, 86_400),
            cache_size=_integer(environ, ENV_CACHE_SIZE, 1024, 0, 100_000),
            cache_seconds=_integer(environ, ENV_CACHE_SECONDS, 60, 0, 3600),
            hash_principals=_boolean(environ, ENV_HASH_PRINCIPALS),
            metrics_namespace=_text(environ, ENV_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE,
            service_name=_text(environ, ENV_SERVICE_NAME) or DEFAULT_SERVICE_NAME,
        )


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    return value or None


def _integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _text(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _boolean(environ: Mapping[str, str], name: str) -> bool:
    raw = (_text(environ, name) or "false").lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _check_template(template: str) -> None:
    import string

    try:
        names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    except ValueError as exc:
        raise SettingsError(f"{ENV_JWKS_URL_TEMPLATE}: {exc}") from None
    unknown = names - set(JWKS_PLACEHOLDERS)
    if unknown:
        raise SettingsError(f"{ENV_JWKS_URL_TEMPLATE}: unknown placeholder(s) {sorted(unknown)}; "
                            f"use {', '.join('{' + p + '}' for p in JWKS_PLACEHOLDERS)}")
    if not template.startswith(("https://", "http://", "{issuer}")):
        raise SettingsError(f"{ENV_JWKS_URL_TEMPLATE} must be an http(s) URL, got {template!r}")
