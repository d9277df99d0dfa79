"""Outcomes as types: the exit codes every verb shares, and the errors a user can act on.

Anything raised as :class:`UserError` is printed by the CLI as one line (``avp-migrate: error: ...``) with exit
code 1 and no stack trace. Everything else is a bug in avp-migrate and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """One table for every verb (the README's "Exit codes" section says the same)."""

    OK = 0  # success; verify: equivalent; --dry-run: nothing to change
    ERROR = 1  # an error, usage errors included: one line on stderr, nothing half-written
    DIFFERENCES = 2  # differences or changes found (verify, --dry-run, status drift)
    UNPROVEN = 3  # verify could not prove the verdict over every principal; it says what is missing
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class UserError(Exception):
    """Bad input or an environment problem the user can fix: names what went wrong and where."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        self.message = message  # without ``where``: the "error" of a JSON error (`--output json`)
        super().__init__(f"{where}: {message}" if where else message)


class AwsAccessError(UserError):
    """An AWS call failed for a reason the user can fix (credentials, permissions, unknown resource)."""


class GateRefused(UserError):
    """A safety gate refused the operation (an unproven plan, missing evidence, a changed file): nothing changed."""


class InvalidPlan(UserError):
    """The plan folder is missing, damaged or was edited in a way the command cannot accept."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, caught where we can say what was done, what was not, and the command that continues or undoes it.

    A KeyboardInterrupt still (nothing that catches ``Exception`` swallows it); the CLI prints its message and
    exits with :attr:`ExitCode.INTERRUPTED`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""
