"""What every step of deploy and undeploy shares: the session, the plan, the names, the deployment record.

The record is the ground truth of what exists. Steps update it in memory the moment they create or delete
something (before the call that could fail half-way, where the order matters), and the runner saves it after
every applied change and when a change fails: whatever happens, ``deployment.json`` names everything there is
to clean up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import botocore.exceptions

from migrate.awsconfig import AwsSession
from migrate.deploy.names import Names
from migrate.deploy.record import DeploymentRecord, record_path, save_record

T = TypeVar("T")

NOT_FOUND_CODES = frozenset({"NotFoundException", "ResourceNotFoundException", "NoSuchEntity", "ParameterNotFound"})


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    return None


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def retry_eventual(call: Callable[[], T], *, retry_if: Callable[[BaseException], bool], attempts: int = 8,
                   sleep: Callable[[float], None] = time.sleep) -> T:
    """Retry ``call`` while ``retry_if`` says the failure is AWS's eventual consistency (a role Lambda cannot
    assume yet, a store AVP does not show yet), with backoff 1, 2, 4, 8, 10, 10... seconds; anything else, or
    the last failure, is raised."""
    delay = 1.0
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not retry_if(exc):
                raise
            sleep(delay)
            delay = min(delay * 2, 10.0)
    raise AssertionError("unreachable")


@dataclass
class Context:
    session: AwsSession
    names: Names
    record: DeploymentRecord
    folder: Path  # the plan folder, where deployment.json lives
    caller_arn: str
    store_arn: str | None = None  # known once the policy store exists
    saved: bool = False  # deployment.json written by this run
    notes: list[str] = field(default_factory=list)
    preface: list[str] = field(default_factory=list)  # printed before the change set (deploy's gate)

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def save(self) -> None:
        save_record(self.record, self.folder)
        self.saved = True

    @property
    def record_file(self) -> Path:
        return record_path(self.folder)
