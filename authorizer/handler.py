"""The Lambda entry point: ``Handler: authorizer.handler.lambda_handler`` (Python 3.11+ runtime).

Deployment zip layout (``authorizer-config.json`` is what ``avp-migrate plan`` writes)::

    authorizer.zip
    ├── authorizer/                   this package, *.py
    │   └── authorizer-config.json    read at the first invocation (or AVP_AUTHZ_CONFIG_PATH)
    └── cryptography/ ...             authorizer/requirements.txt, installed for the function's architecture:
                                      pip install -r authorizer/requirements.txt
                                      --platform manylinux2014_x86_64 --only-binary=:all: -t build/
                                      (or a layer that carries it, e.g. Powertools' public layer)
    (and __pycache__/*.cpython-312.pyc next to every module: deploy compiles them, see migrate/deploy/bytecode.py)

boto3 is the runtime's. The function's role needs ``verifiedpermissions:IsAuthorizedWithToken`` and
``verifiedpermissions:IsAuthorized`` on the policy store and ``ssm:GetParameter`` on the mode document parameter.
The environment variables are listed in :mod:`authorizer.settings`. API Gateway: a ``REQUEST`` authorizer with
identity sources ``method.request.header.Authorization,context.httpMethod,context.resourcePath,context.path``
(the answer is cached under them, and its policy names exactly one method ARN; see ``authorizer/README.md``).

Everything is built on the first invocation, not at import: importing this module stays cheap (no boto3, no
Powertools: authorizer/lines.py writes the log and EMF lines) and tests can import it without an environment. If
the settings or the configuration are invalid, every invocation fails (API Gateway answers 500) and the reason is
logged: fail closed, visibly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from authorizer.avp import AvpClient
from authorizer.cache import DecisionCache
from authorizer.config import AuthorizerConfig, ConfigError
from authorizer.core import Authorizer
from authorizer.modes import ModeDocumentError, ModeSource, fallback_document
from authorizer.settings import ENV_MODES, Settings, SettingsError
from authorizer.telemetry import Telemetry, make_logger, make_metrics
from authorizer.tokens import JwksCache, TokenVerifier, fetch_jwks, jwks_url_template

# At DEBUG, botocore logs request bodies, and IsAuthorizedWithToken's body holds the caller's token. These
# loggers are held at WARNING whatever the function's log level is.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def load_config(path: Path) -> AuthorizerConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the authorizer configuration {path}: {exc.strerror or exc}") from None
    try:
        return AuthorizerConfig.from_json(text)
    except ConfigError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def build_authorizer(environ: Mapping[str, str] | None = None, *, logger: Any = None, metrics: Any = None,
                     avp_client_factory: Callable[[], Any] | None = None,
                     ssm_fetch: Callable[[str, int], Any] | None = None,
                     jwks_fetch: Callable[[str], dict[str, Any]] | None = None,
                     clock: Callable[[], float] = time.time) -> Authorizer:
    """An :class:`Authorizer` configured by ``environ`` (the function's environment variables).

    The keyword arguments replace the parts that talk to the outside world (tests, the benchmark); production
    passes none of them.
    """
    settings = Settings.from_environ(os.environ if environ is None else environ)
    config = load_config(settings.config_path)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    telemetry = Telemetry(logger=logger or make_logger(settings.service_name),
                          metrics=metrics or make_metrics(settings.metrics_namespace))
    jwks = JwksCache(jwks_url_template(settings.jwks_url_template),
                     min_refresh_seconds=settings.jwks_min_refresh_seconds,
                     max_age_seconds=settings.jwks_max_age_seconds, fetch=jwks_fetch or fetch_jwks,
                     on_error=lambda message: telemetry.error("cannot read a user pool's JWKS", detail=message))
    route_keys = tuple(config.routes)
    try:
        fallback = fallback_document(settings.modes_fallback, route_keys)
    except ModeDocumentError as exc:
        # Not a reason to refuse every request: without a fallback, a route whose published mode cannot be read
        # is decided by the scope rule and Verified Permissions together (authorizer/modes.py), which is safe.
        telemetry.error(f"{ENV_MODES} is not a usable mode document ({exc}); running without a fallback")
        fallback = None
    if fallback is None and not settings.modes_fallback:
        telemetry.error(f"{ENV_MODES} is not set: while the mode document cannot be read, every route is decided "
                        "by the scope rule and Verified Permissions together")
    modes = ModeSource(parameter=settings.modes_parameter, max_age=settings.modes_max_age, fallback=fallback,
                       route_keys=route_keys, fetch=ssm_fetch,
                       on_error=lambda message: telemetry.error(message))
    avp = AvpClient(policy_store_id=settings.policy_store_id, entity_types=config.entity_types,
                    resource_id=config.resource_id, timeout_seconds=settings.avp_timeout_ms / 1000,
                    client_factory=avp_client_factory)
    return Authorizer(
        config=config,
        verifier=TokenVerifier(config.user_pools, jwks, leeway_seconds=settings.leeway_seconds, clock=clock),
        modes=modes, avp=avp,
        cache=DecisionCache(max_entries=settings.cache_size, ttl_seconds=settings.cache_seconds, clock=clock),
        telemetry=telemetry, hash_principals=settings.hash_principals, clock=clock,
    )


_authorizer: Authorizer | None = None
_lock = threading.Lock()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _authorizer
    if _authorizer is None:
        with _lock:
            if _authorizer is None:
                _authorizer = build_authorizer(os.environ)
    return _authorizer(event, context)
