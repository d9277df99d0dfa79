"""One change of the mode state, in the order that keeps every copy safe: mark, write, publish, settle.

``cutover``, ``rollback`` and ``finalize`` all change the ledger through :func:`commit` (``deploy`` writes the
fallback with the function it creates; ``status --repair`` settles). See :mod:`migrate.cutover.fallback` for the
protocol and its invariant, and ``authorizer/README.md`` for why it makes a cut-over route safe from every fault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from migrate.cutover.deployment import Deployment, aws_errors
from migrate.cutover.fallback import FallbackState, new_writer_id
from migrate.cutover.ledger import Entry, Proposal
from migrate.cutover.publish import publish
from migrate.errors import UserError


@dataclass
class Committed:
    """How far a change got: each field is set when its step completed."""

    marked: tuple[str, ...] = ()  # routes marked pending in the fallback before the ledger write
    entry: Entry | None = None  # the ledger version written (None: nothing to change, or not written)
    published: Entry | None = None  # what SSM holds afterwards
    fallback: FallbackState | None = None  # the fallback after settling
    steps_done: list[str] = field(default_factory=list)


def routes_changing_rule(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The routes whose deciding rule changes: into or out of ``avp`` (scope and shadow both enforce the scope
    rule, so a move between them cannot allow anything either mode would deny)."""
    return sorted(r for r in set(before) | set(after)
                  if before.get(r) != after.get(r) and "avp" in (before.get(r), after.get(r)))


def commit(deployment: Deployment, propose: Callable[[Entry], Proposal | None], *, risky: Iterable[str],
           who: str, at: Callable[[], str], progress: Committed | None = None) -> Committed:
    """Mark ``risky`` routes pending, append ``propose(newest)`` to the ledger, publish it, settle the fallback.

    ``progress`` (optional) is filled as the steps complete, so a caller interrupted by Ctrl-C can say what was
    done. The settle step runs even when the write or the publication failed (or was interrupted): the fallback
    then holds the ledger's newest document, which is what the authorizer should fall back on.
    """
    done = progress if progress is not None else Committed()
    ledger, parameter, fallback = deployment.ledger, deployment.parameter, deployment.fallback
    writer = new_writer_id()
    risky = tuple(sorted(set(risky)))
    if risky:
        with aws_errors(f"authorizer fallback {fallback.where}"):
            fallback.mark_pending(writer, risky, at())
        done.marked = risky
        done.steps_done.append(f"marked {len(risky)} route(s) pending in {fallback.where}")
    try:
        with aws_errors(f"mode ledger {ledger.where}"):
            done.entry = ledger.append(propose, at=at, who=who)
        if done.entry is not None:
            done.steps_done.append(f"wrote ledger version {done.entry.version} to {ledger.where}")
            with aws_errors(f"mode parameter {parameter.where}"):
                done.published = publish(ledger, parameter, done.entry)
            done.steps_done.append(f"published version {done.published.version} to {parameter.where}")
    except BaseException as exc:
        problem = _settle(deployment, writer, done)
        if problem is not None and isinstance(exc, UserError):
            raise UserError(f"{exc}; {problem}") from exc
        raise
    problem = _settle(deployment, writer, done)
    if problem is not None:
        raise UserError(problem, where=fallback.where)
    return done


def _settle(deployment: Deployment, writer: str, done: Committed) -> str | None:
    """Settle the fallback; a failure is described (the marks it leaves are safe), never raised."""
    fallback = deployment.fallback
    try:
        done.fallback = fallback.settle(deployment.ledger.require_latest, writer=writer)
    except (UserError, ClientError, BotoCoreError) as exc:
        left = f"route(s) {', '.join(done.marked)} stay" if done.marked else "nothing is"
        return (f"the authorizer's fallback could not be brought in step with the ledger ({exc}): {left} decided "
                "by the scope rule and Verified Permissions together until `avp-migrate status --repair` succeeds")
    done.steps_done.append(f"settled {fallback.where} at version {done.fallback.version}")
    return None
