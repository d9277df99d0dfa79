"""The embedded AWS: moto's server on loopback plus local services moto lacks (Verified Permissions, the Cognito
token endpoint, pre-token triggers). Used by `avp-migrate local up`, the demo and the tests; never imported by
the Lambda packages."""

from migrate.embedded.server import EmbeddedAws

__all__ = ["EmbeddedAws"]
