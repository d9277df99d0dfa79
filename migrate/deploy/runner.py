"""Applying a change set, so that a failure half-way leaves ``deployment.json`` describing what exists."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from migrate.awsconfig import describe_aws_error
from migrate.deploy.changes import Change
from migrate.deploy.context import Context
from migrate.deploy.record import DeploymentRecord
from migrate.errors import Interrupted, UserError
from migrate.inventory.serde import to_jsonable


@dataclass
class ChangeSet:
    ctx: Context
    changes: list[Change]
    verb: str  # "deploy" or "undeploy", for messages
    # said before anything else, even with --yes or --dry-run: what this run cannot do (undeploy after finalize)
    preamble: list[str] = field(default_factory=list)


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


def apply_changes(change_set: ChangeSet, echo: Callable[[str], None], *,
                  next_steps: Sequence[str] = ()) -> None:
    """Apply every change in order, echoing its line first; save the record after each one. On a failure, save
    what exists and raise a one-line UserError saying how far it got. On Ctrl-C, save what exists and raise
    :class:`~migrate.errors.Interrupted` listing the changes applied and not applied, then ``next_steps`` (the
    commands that continue or undo the run)."""
    ctx, changes = change_set.ctx, change_set.changes
    existed = ctx.record_file.exists()
    done = 0  # changes whose apply returned
    for index, change in enumerate(changes):
        try:
            echo(change.line)
            if change.apply is not None:
                change.apply()
            done = index + 1
            ctx.save()
        except BaseException as exc:  # Ctrl-C too: whatever stops the run, the record says what exists
            if existed or holds_resources(ctx.record):
                ctx.save()
            if isinstance(exc, KeyboardInterrupt):
                raise Interrupted(interruption_report(change_set, done, next_steps)) from None
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


def interruption_report(change_set: ChangeSet, done: int, next_steps: Sequence[str]) -> str:
    """What a Ctrl-C after ``done`` completed changes leaves: applied, interrupted (its call may or may not have
    reached AWS), not applied; where the record is; how to go on."""
    ctx, changes = change_set.ctx, change_set.changes
    lines = [f"{change_set.verb} stopped (Ctrl-C) after {done} of {len(changes)} changes"]
    lines += [f"  applied:      {change.line}" for change in changes[:done]]
    pending = changes[done:]
    if pending and pending[0].apply is not None:
        current, pending = pending[0], pending[1:]
        lines.append(f"  interrupted:  {current.line} (its call may or may not have taken effect; the next run "
                     "reads the account again)")
        if current.action == "create" and current.resource == "verifiedpermissions policy store":
            lines.append("                a policy store has no name to find it by: if one was created, "
                         "deployment.json does not name it (its description starts with 'avp-migrate:'); "
                         "delete it by hand")
    lines += [f"  not applied:  {change.line}" for change in pending]
    lines.append(f"{ctx.record_file} records what exists" if ctx.saved or ctx.record_file.exists()
                 else "nothing was recorded: nothing had been created")
    lines += list(next_steps) or [f"to continue, run {change_set.verb} again"]
    return "\n".join(lines)
