"""A local Amazon Verified Permissions endpoint (AWS JSON 1.0 protocol), decisions made by cedarpy."""

from migrate.embedded.avp.http import make_wsgi_app
from migrate.embedded.avp.service import AvpServiceError, LocalVerifiedPermissions

__all__ = ["AvpServiceError", "LocalVerifiedPermissions", "make_wsgi_app"]
