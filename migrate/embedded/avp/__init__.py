"""A local Amazon Verified Permissions endpoint (AWS JSON 1.0 protocol), decisions made by cedarpy.

Imports are lazy (see :mod:`migrate.embedded`): the pure AVP semantics (entities, schema, policies) are used
by `verify` without the HTTP front's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrate.embedded.avp.http import make_wsgi_app
    from migrate.embedded.avp.service import AvpServiceError, LocalVerifiedPermissions

__all__ = ["AvpServiceError", "LocalVerifiedPermissions", "make_wsgi_app"]


def __getattr__(name: str) -> Any:
    if name == "make_wsgi_app":
        from migrate.embedded.avp.http import make_wsgi_app

        return make_wsgi_app
    if name in {"AvpServiceError", "LocalVerifiedPermissions"}:
        from migrate.embedded.avp import service

        return getattr(service, name)
    raise AttributeError(name)
