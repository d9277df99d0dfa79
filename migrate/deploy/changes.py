"""A change set: what deploy or undeploy would do, one line per change, each with the call that does it.

The lines are computed before anything is applied, so ``--dry-run`` prints exactly what a real run prints as it
applies them. An ``apply`` function may depend on values earlier changes produce (a new policy store's id, a new
authorizer's id): they read them from the shared :class:`~migrate.deploy.context.Context`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ACTIONS = ("create", "update", "delete", "check")  # check: a test run between changes (deploy's smoke test)


@dataclass(frozen=True)
class Change:
    action: str  # create, update, delete, check
    resource: str  # "<service> <kind> <name>"
    detail: str = ""
    apply: Callable[[], Any] | None = None

    @property
    def line(self) -> str:
        return f"{self.action:<6} {self.resource}" + (f": {self.detail}" if self.detail else "")

    def to_json(self) -> dict[str, str]:
        return {"action": self.action, "resource": self.resource, "detail": self.detail}
