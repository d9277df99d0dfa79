"""The errors the local Verified Permissions endpoint answers with, shaped as the botocore model defines them.

Every error shape in the model (``ValidationException``, ``ResourceNotFoundException``...) has a ``message``
and some extra members; :class:`AvpServiceError` carries the code, the message and those members, and the
protocol layer (:mod:`migrate.embedded.avp.http`) writes them as
``{"__type": code, "message": ..., **extra}``.

HTTP status: the botocore model gives no ``error.httpStatusCode`` for any Verified Permissions error, so the
AWS JSON 1.0 protocol rule applies: client faults are 400, server faults (``InternalServerException``, the
only shape with ``"fault": true``) are 500. botocore reads the code from ``__type`` whatever the status is.
"""

from __future__ import annotations

from typing import Any

# ResourceType enum of the model: what ResourceNotFound/ServiceQuotaExceeded/Conflict errors name.
POLICY_STORE = "POLICY_STORE"
POLICY = "POLICY"
IDENTITY_SOURCE = "IDENTITY_SOURCE"
SCHEMA = "SCHEMA"
POLICY_TEMPLATE = "POLICY_TEMPLATE"


class AvpServiceError(Exception):
    """An error answer: ``code`` is the ``__type``, ``extra`` the shape's members besides ``message``."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.extra}


def validation_error(message: str, *, path: str | None = None,
                     fields: list[tuple[str, str]] | None = None) -> AvpServiceError:
    """``ValidationException`` with its ``fieldList`` ({path, message} per offending field)."""
    field_list = [{"path": p, "message": m} for p, m in (fields or [])]
    if path is not None and not field_list:
        field_list = [{"path": path, "message": message}]
    return AvpServiceError("ValidationException", message, fieldList=field_list or None)


def not_found(resource_type: str, resource_id: str, what: str | None = None) -> AvpServiceError:
    label = what or resource_type.replace("_", " ").lower()
    return AvpServiceError("ResourceNotFoundException", f"The {label} {resource_id!r} does not exist.",
                           resourceId=resource_id, resourceType=resource_type)


def conflict(message: str, resources: list[tuple[str, str]]) -> AvpServiceError:
    return AvpServiceError("ConflictException", message,
                           resources=[{"resourceId": rid, "resourceType": rtype} for rid, rtype in resources])


def quota_exceeded(message: str, resource_type: str, resource_id: str | None = None,
                   quota_code: str | None = None) -> AvpServiceError:
    return AvpServiceError("ServiceQuotaExceededException", message, resourceType=resource_type,
                           resourceId=resource_id, serviceCode="verifiedpermissions", quotaCode=quota_code)


def internal_error(message: str = "An internal error occurred.") -> AvpServiceError:
    return AvpServiceError("InternalServerException", message, status=500)
