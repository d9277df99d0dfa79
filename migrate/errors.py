"""Errors a user can act on.

Anything raised as :class:`UserError` is printed by the CLI as one line (``avp-migrate: error: ...``) with exit
code 1 and no stack trace. Everything else is a bug in avp-migrate and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or an environment problem the user can fix: names what went wrong and where."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class AwsAccessError(UserError):
    """An AWS call failed for a reason the user can fix (credentials, permissions, unknown resource)."""
