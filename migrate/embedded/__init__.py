"""The embedded AWS: moto's server on loopback plus local services moto lacks (Verified Permissions, the Cognito
token endpoint, pre-token triggers). Used by `avp-migrate local up`, the demo and the tests; never imported by
the Lambda packages.

Imports are lazy: `verify` uses the AVP entity semantics in :mod:`migrate.embedded.avp.entities` and must not
need the server's dependencies (werkzeug, moto), which only the ``local`` extra installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrate.embedded.server import EmbeddedAws

__all__ = ["EmbeddedAws"]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedAws":
        from migrate.embedded.server import EmbeddedAws

        return EmbeddedAws
    raise AttributeError(name)
