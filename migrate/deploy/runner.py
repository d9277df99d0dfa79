"""Applying a change set, so that a failure half-way leaves ``deployment.json`` describing what exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from migrate.awsconfig import describe_aws_error
from migrate.deploy.changes import Change
from migrate.deploy.context import Context
from migrate.deploy.record import DeploymentRecord
from migrate.errors import UserError
from migrate.inventory.serde import to_jsonable


@dataclass
class ChangeSet:
    ctx: Context
    changes: list[Change]
    verb: str  # "deploy" or "undeploy", for messages


def holds_resources(record: DeploymentRecord) -> bool:
    return any((record.policy_store_id, record.function_name, record.role_name, record.authorizer_id,
                record.mode_parameter, record.log_group, record.ledger_table, record.methods))


def record_differs_from_file(ctx: Context) -> bool:
    path = ctx.record_file
    if not path.exists():
        return True
    try:
        return json.loads(path.read_text(encoding="utf-8")) != to_jsonable(ctx.record)
    except (OSError, ValueError):
        return True


def apply_changes(change_set: ChangeSet, echo: Callable[[str], None]) -> None:
    """Apply every change in order, echoing its line first; save the record after each one. On a failure, save
    what exists and raise a one-line UserError saying how far it got."""
    ctx, changes = change_set.ctx, change_set.changes
    existed = ctx.record_file.exists()
    for index, change in enumerate(changes):
        echo(change.line)
        try:
            if change.apply is not None:
                change.apply()
        except BaseException as exc:  # Ctrl-C too: whatever stops the run, the record says what exists
            if existed or holds_resources(ctx.record):
                ctx.save()
            if not isinstance(exc, Exception):
                raise
            error = exc if isinstance(exc, UserError) else describe_aws_error(exc, what=change.resource)
            if error is None:
                raise
            recorded = (f"{ctx.record_file} records what exists" if ctx.saved
                        else "nothing was created")
            raise UserError(f"{error} (stopped after {index} of {len(changes)} changes; {recorded}: fix the cause "
                            f"and run {change_set.verb} again"
                            + (", or undeploy to remove it" if ctx.saved and change_set.verb == "deploy" else "")
                            + ")") from None
        ctx.save()
