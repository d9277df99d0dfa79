"""A local Amazon Verified Permissions endpoint (AWS JSON 1.0 protocol), decisions made by cedarpy.

Modules, from the wire inwards:

* :mod:`~migrate.embedded.avp.http`: the AWS JSON 1.0 protocol (``X-Amz-Target``, ``__type`` errors).
* :mod:`~migrate.embedded.avp.service`: :class:`LocalVerifiedPermissions`, operation dispatch.
* :mod:`~migrate.embedded.avp.validation`: input checks against botocore's model of the service.
* :mod:`~migrate.embedded.avp.management`: policy stores, schemas, identity sources, policies.
* :mod:`~migrate.embedded.avp.authorization`: IsAuthorized and the token variants.
* :mod:`~migrate.embedded.avp.tokens`: Cognito token checks; :mod:`~migrate.embedded.avp.entities`: tokens and
  request shapes to Cedar entities; :mod:`~migrate.embedded.avp.schema` and
  :mod:`~migrate.embedded.avp.policies`: what cedarpy parses, kept parsed.
* :mod:`~migrate.embedded.avp.store`, :mod:`~migrate.embedded.avp.backend`: state, ids, idempotency, paging.
"""

from migrate.embedded.avp.errors import AvpServiceError
from migrate.embedded.avp.http import make_wsgi_app
from migrate.embedded.avp.service import LocalVerifiedPermissions

__all__ = ["AvpServiceError", "LocalVerifiedPermissions", "make_wsgi_app"]
