"""The local Amazon Verified Permissions service: operation name + parameters in, response shape out.

:class:`LocalVerifiedPermissions` is what :mod:`migrate.embedded.server` mounts (through
:func:`migrate.embedded.avp.http.make_wsgi_app`). Tests and in-process callers may also call :meth:`dispatch`
directly; it raises :class:`AvpServiceError` for every error answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from migrate.embedded.avp.authorization import Authorization
from migrate.embedded.avp.backend import Backend
from migrate.embedded.avp.errors import AvpServiceError
from migrate.embedded.avp.management import Handler, Management
from migrate.embedded.avp.store import DEFAULT_ACCOUNT_ID
from migrate.embedded.avp.validation import operation_names, validate_input

__all__ = ["AvpServiceError", "LocalVerifiedPermissions"]


class LocalVerifiedPermissions:
    """An in-memory Verified Permissions endpoint whose decisions are made by cedarpy.

    ``jwks_for_issuer(iss)`` returns the JWKS document for a token issuer (None when the issuer is unknown);
    ``user_pool_exists(arn)``, when given, lets CreateIdentitySource refuse a pool that does not exist;
    ``clock`` is read for token expiry and timestamps and may be replaced on a live instance (``svc.clock =
    ...``).
    """

    def __init__(self, *, jwks_for_issuer: Callable[[str], dict[str, Any] | None],
                 user_pool_exists: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time,
                 account_id: str = DEFAULT_ACCOUNT_ID) -> None:
        self._backend = Backend(jwks_for_issuer=jwks_for_issuer, user_pool_exists=user_pool_exists,
                                clock=clock, account_id=account_id)
        self._handlers: dict[str, Handler] = {
            **Management(self._backend).handlers(),
            **Authorization(self._backend).handlers(),
        }

    @property
    def clock(self) -> Callable[[], float]:
        return self._backend.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._backend.clock = clock

    @property
    def jwks_for_issuer(self) -> Callable[[str], dict[str, Any] | None]:
        return self._backend.jwks_for_issuer

    @property
    def user_pool_exists(self) -> Callable[[str], bool] | None:
        return self._backend.user_pool_exists

    def reset(self) -> None:
        """Forget every policy store (and remembered client tokens)."""
        self._backend.reset()

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(operation)
        if handler is None:
            if operation in operation_names():
                # A real operation this endpoint does not implement (policy templates, aliases, tags): say so
                # plainly, with a status botocore does not retry.
                message = f"{operation} is not implemented by the local Verified Permissions endpoint."
                raise AvpServiceError("NotImplementedException", message, status=501)
            raise AvpServiceError("UnknownOperationException", f"Unknown operation: {operation!r}.")
        validate_input(operation, params)
        return handler(params)
