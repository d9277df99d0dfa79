"""The mode document: which routes run in ``scope``, ``shadow`` or ``avp`` mode.

One SSM parameter per API and stage, written by deploy and cutover::

    {"version": 7, "default": "scope", "routes": {"GET /avp": "avp", "GET /scope": "shadow"}}

* ``routes`` is keyed by the route keys of ``authorizer-config.json``; a route not listed uses ``default``, and a
  document without ``default`` means ``scope``. ``version`` (a whole number) is what makes concurrent cut-overs
  safe for the writers; the authorizer only reports it in each shadow record. Other top-level keys (an audit
  note, who changed it) are ignored.
* The parameter is read with Powertools Parameters (``SSMProvider.get(name, max_age=...)``, Powertools docs,
  "Parameters", https://docs.aws.amazon.com/powertools/python/latest/utilities/parameters/: values are cached
  for ``max_age`` seconds), through a botocore config with short timeouts so a slow SSM cannot stall requests
  for long.
* When the parameter cannot be read or holds an invalid document, the last good document stays in force; before
  any good read, the fallback applies (``AVP_AUTHZ_MODES``, else each route's ``initial_mode`` from the config).
  A failed read is retried after at most 5 s (never once per request), and each problem is logged once.

boto3 and Powertools Parameters are imported on the first read, not when this module is imported.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from authorizer.config import MODES, AuthorizerConfig

DEFAULT_MODE = "scope"
RETRY_AFTER_FAILURE_SECONDS = 5


class ModeDocumentError(ValueError):
    """The mode document is invalid; the message names the field."""


@dataclass(frozen=True)
class ModeDocument:
    version: int | None
    default: str = DEFAULT_MODE
    routes: Mapping[str, str] = field(default_factory=dict)
    source: str = "default"  # "ssm:<name>", "env", "config"

    def mode_for(self, route_key: str | None) -> str:
        if route_key is None:
            return self.default
        return self.routes.get(route_key, self.default)

    @classmethod
    def from_dict(cls, data: Any, *, source: str) -> ModeDocument:
        if not isinstance(data, dict):
            raise ModeDocumentError("expected a JSON object")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ModeDocumentError(f"version: expected a whole number, got {version!r}")
        default = data.get("default", DEFAULT_MODE)
        if default not in MODES:
            raise ModeDocumentError(f"default: expected one of {MODES}, got {default!r}")
        routes = data.get("routes", {})
        if not isinstance(routes, dict):
            raise ModeDocumentError("routes: expected an object of route key -> mode")
        for key, mode in routes.items():
            if mode not in MODES:
                raise ModeDocumentError(f"routes[{key!r}]: expected one of {MODES}, got {mode!r}")
        return cls(version=version, default=default, routes=dict(routes), source=source)

    @classmethod
    def from_json(cls, text: Any, *, source: str) -> ModeDocument:
        if not isinstance(text, str):
            raise ModeDocumentError(f"expected JSON text, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModeDocumentError(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_config(cls, config: AuthorizerConfig) -> ModeDocument:
        """What the plan says each route starts in: used when no mode document has been read."""
        return cls(version=None, default=config.default_mode,
                   routes={key: route.initial_mode for key, route in config.routes.items()}, source="config")


def fallback_document(config: AuthorizerConfig, env_text: str | None) -> ModeDocument:
    """``AVP_AUTHZ_MODES`` when set (an invalid one stops the function from starting), else the config's."""
    if env_text:
        return ModeDocument.from_json(env_text, source="env")
    return ModeDocument.from_config(config)


def ssm_fetcher(timeout_seconds: float = 0.5) -> Callable[[str, int], Any]:
    """``fetch(name, max_age)`` through a Powertools SSMProvider with short botocore timeouts and no retry: the
    read happens on a request (once per max age), so a slow SSM may cost that request about a second at worst;
    a failure keeps the last good document and is retried after a few seconds."""
    provider: Any = None
    lock = threading.Lock()

    def fetch(name: str, max_age: int) -> Any:
        nonlocal provider
        if provider is None:
            with lock:
                if provider is None:
                    from aws_lambda_powertools.utilities.parameters import SSMProvider
                    from botocore.config import Config

                    provider = SSMProvider(boto_config=Config(
                        connect_timeout=timeout_seconds, read_timeout=timeout_seconds,
                        retries={"total_max_attempts": 1, "mode": "standard"}))
        return provider.get(name, max_age=max_age)

    return fetch


class ModeSource:
    """The mode document in force now (see the module docstring)."""

    def __init__(self, *, parameter: str | None, max_age: int, fallback: ModeDocument,
                 fetch: Callable[[str, int], Any] | None = None, clock: Callable[[], float] = time.monotonic,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.parameter = parameter
        self.max_age = max_age
        self._fallback = fallback
        self._fetch = fetch or ssm_fetcher()
        self._clock = clock
        self._on_error = on_error
        self._active = fallback
        self._raw: Any = None
        self._retry_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> ModeDocument:
        if not self.parameter:
            return self._fallback
        with self._lock:
            if self._retry_at is not None and self._clock() < self._retry_at:
                return self._active
            try:
                raw = self._fetch(self.parameter, self.max_age)
            except Exception as exc:  # Powertools' GetParameterError, or anything under it
                self._fail(f"cannot read mode document ssm:{self.parameter}: {_cause(exc)}")
                return self._active
            self._retry_at = None
            if raw == self._raw:
                return self._active
            self._raw = raw  # a bad document is reported once, not on every request
            try:
                self._active = ModeDocument.from_json(raw, source=f"ssm:{self.parameter}")
            except ModeDocumentError as exc:
                self._report(f"invalid mode document ssm:{self.parameter} ({exc}); keeping the modes "
                             f"from {self._active.source} version {self._active.version}")
            return self._active

    def _fail(self, message: str) -> None:
        first = self._retry_at is None
        self._retry_at = self._clock() + min(max(self.max_age, 1), RETRY_AFTER_FAILURE_SECONDS)
        if first:
            self._report(f"{message}; keeping the modes from {self._active.source} "
                         f"version {self._active.version}")

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or type(cause).__name__)
    return type(cause).__name__
