"""Placeholder while the local Verified Permissions service is being written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class AvpServiceError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra


class LocalVerifiedPermissions:
    def __init__(self, *, jwks_for_issuer: Callable[[str], dict[str, Any] | None],
                 user_pool_exists: Callable[[str], bool] | None = None) -> None:
        self.jwks_for_issuer = jwks_for_issuer
        self.user_pool_exists = user_pool_exists

    def reset(self) -> None:
        pass

    def dispatch(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise AvpServiceError("UnknownOperationException", f"not implemented yet: {operation}")
