"""`avp-migrate cutover`, `rollback`, `status`, `finalize`: move endpoints between scope, shadow and avp mode.

Exit codes: 0 done (or nothing to change); 1 error or refusal (one line); 2 with --dry-run when there is a change
to make, and for `status` when SSM has drifted from the ledger and --repair was not given; 130 on Ctrl-C (it says
how to find out what the ledger holds and how to finish a publication).

Every verb here that writes (cutover, rollback, finalize, status --repair) applies without a prompt only with
--yes; on a terminal it shows what it will do and asks; elsewhere it refuses (:mod:`migrate.cli.confirm`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from migrate.cli.confirm import Confirmation, command_line, this_command
from migrate.errors import Interrupted, UserError

EXIT_CHANGES = 2


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    plan = argparse.ArgumentParser(add_help=False)
    plan.add_argument("--plan", required=True, metavar="DIR",
                      help="the plan folder deploy wrote deployment.json into")
    yes = argparse.ArgumentParser(add_help=False)
    yes.add_argument("--yes", action="store_true",
                     help="apply without a prompt; without it the command asks on a terminal and refuses elsewhere")

    parser = verbs.add_parser(
        "cutover", parents=[common, plan, yes], help="move endpoints one step on: scope -> shadow -> avp",
        description="Move each ROUTE one step on (scope -> shadow, shadow -> avp) in ONE versioned write of the mode "
                    "document (a DynamoDB ledger with conditional writes, then published to SSM). Going to avp needs "
                    "the route in shadow and ready in the shadow report (--evidence); anything else is refused, "
                    "naming what is missing. --force --reason overrides the readiness gate and records the reason; "
                    "it also needs --evidence FILE or an explicit --no-evidence, and the audit log records which.")
    parser.add_argument("routes", nargs="+", metavar="ROUTE", help="route key, e.g. 'GET /avp' (quote it)")
    parser.add_argument("--to", choices=["shadow", "avp"], help="the target mode (default: one step on)")
    parser.add_argument("--evidence", metavar="FILE", help="shadow-report.json from `avp-migrate report shadow`")
    parser.add_argument("--evidence-max-age", type=_hours, default=timedelta(hours=168), metavar="HOURS",
                        help="refuse evidence whose window ended longer ago than this (default 168)")
    parser.add_argument("--force", action="store_true",
                        help="override the readiness gate (needs --reason, and --evidence FILE or --no-evidence)")
    parser.add_argument("--no-evidence", action="store_true",
                        help="with --force: there is no shadow report; recorded in the audit log, and finalize "
                             "lists the endpoint until it is accepted (--accept-forced)")
    parser.add_argument("--reason", metavar="TEXT", help="why: recorded in the audit log (required with --force)")
    parser.add_argument("--dry-run", action="store_true", help="print the change; exit 2 if there is one, 0 if not")
    parser.set_defaults(run=run_cutover)

    parser = verbs.add_parser(
        "rollback", parents=[common, plan, yes], help="move endpoints back to shadow (or scope): one write, no gate",
        description="Move each ROUTE back to shadow (default) or scope in one versioned write; effective within the "
                    "authorizer's mode document cache age.")
    parser.add_argument("routes", nargs="+", metavar="ROUTE", help="route key, e.g. 'GET /avp' (quote it)")
    parser.add_argument("--to", choices=["shadow", "scope"], default="shadow", help="the target mode (shadow)")
    parser.add_argument("--reason", metavar="TEXT", help="why: recorded in the audit log")
    parser.add_argument("--dry-run", action="store_true", help="print the change; exit 2 if there is one, 0 if not")
    parser.set_defaults(run=run_rollback)

    parser = verbs.add_parser(
        "status", parents=[common, plan, yes], help="every endpoint's mode, readiness and last change; drift",
        description="Show each moved endpoint's mode (from the ledger), its readiness (with --evidence) and its last "
                    "change (when, who, action), and compare the SSM parameter with the ledger. Exit 2 on drift "
                    "unless --repair republishes the ledger's newest version (--repair changes the account: --yes).")
    parser.add_argument("--evidence", metavar="FILE", help="shadow-report.json, for the readiness column")
    parser.add_argument("--evidence-max-age", type=_hours, default=timedelta(hours=168), metavar="HOURS",
                        help="as for cutover (default 168)")
    parser.add_argument("--repair", action="store_true", help="on drift, republish the ledger's newest version")
    parser.set_defaults(run=run_status)

    parser = verbs.add_parser(
        "finalize", parents=[common, plan, yes],
        help="when every endpoint is on avp: drop scopes and the Cognito authorizer",
        description="Only when every migrated endpoint is on avp: remove the scopes left on the moved methods, delete "
                    "the old Cognito authorizer if no method uses it, deploy the stage, record a finalize entry, and "
                    "list the pre-token rules and scopes no endpoint needs any more. undeploy cannot undo this.")
    parser.add_argument("--inventory", metavar="FILE",
                        help="the inventory snapshot (default: the one plan.json names)")
    parser.add_argument("--accept-forced", action="append", default=[], metavar="ROUTE",
                        help="finalize although ROUTE reached avp by `cutover --force` without evidence (repeatable; "
                             "finalize lists them and refuses each one not accepted)")
    parser.add_argument("--accept-forced-all", action="store_true",
                        help="accept every endpoint forced to avp without evidence (they are still listed)")
    parser.add_argument("--dry-run", action="store_true", help="print the change; exit 2 if there is one, 0 if not")
    parser.set_defaults(run=run_finalize)


def _hours(text: str) -> timedelta:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of hours, got {text!r}") from None
    if hours <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of hours")
    return timedelta(hours=hours)


def _deployment(args: argparse.Namespace) -> Any:
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.cutover.deployment import Deployment
    from migrate.plan_folder import warn_if_changed

    session = AwsSession(AwsTarget(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))
    warn_if_changed(args.plan)
    return Deployment.load(args.plan, session)


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.format == "json" else text)


def _check_force_evidence(args: argparse.Namespace) -> None:
    """--force overrides the gate; which evidence it overrode (a report, or none at all) must be said."""
    if args.no_evidence and args.evidence:
        raise UserError("--no-evidence and --evidence FILE contradict each other: give one", where="--no-evidence")
    if args.no_evidence and not args.force:
        raise UserError("--no-evidence only goes with --force (without --force, going to avp needs --evidence FILE)",
                        where="--no-evidence")
    if args.force and not args.evidence and not args.no_evidence:
        raise UserError("--force needs --evidence FILE (the shadow report whose verdict you override) or an explicit "
                        "--no-evidence; the audit log records which", where="--force")


def _guarded(verb: str, args: argparse.Namespace, body: Callable[[Confirmation], int], *, applies: bool) -> int:
    """Refuse early without --yes off a terminal; on Ctrl-C once a write may have begun, say how to find out what
    happened and how to finish. The handler lives here, around the whole verb, so it holds whatever the verb does
    inside."""
    confirmation = Confirmation.for_command(verb, args, applies=applies)
    if not applies:
        return body(confirmation)
    try:
        return body(confirmation)
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_message(verb, args)) from None


def _interrupted_message(verb: str, args: argparse.Namespace) -> str:
    status = command_line(args, "status", "--plan", args.plan)
    progress = getattr(args, "progress", None)
    if progress is not None and verb in ("cutover", "rollback"):
        done = progress.steps_done or ["nothing (the change had not started writing)"]
        lines = [f"{verb} stopped (Ctrl-C). Done: " + "; ".join(done) + ".",
                 "  Routes marked pending in the authorizer's fallback are decided by both rules (safe) until the "
                 "fallback is settled.",
                 f"  to see where it stands: {status}",
                 f"  to finish (republish SSM, settle the fallback): {status} --repair --yes"]
        undo = "rollback" if verb == "cutover" else "cutover"
        if progress.entry is not None:
            lines.append(f"  the ledger holds version {progress.entry.version}; to undo it: `avp-migrate {undo} "
                         f"{' '.join(repr(r) for r in progress.entry.routes)} --plan {args.plan}`")
        else:
            lines.append(f"  the ledger does not hold the change: run the same {verb} again to make it")
        return "\n".join(lines)
    lines = [f"{verb} stopped (Ctrl-C): "
             + ("the API may be partly finalized, and the mode ledger may or may not hold the finalize entry"
                if verb == "finalize" else "SSM may or may not hold the ledger's newest version" if verb == "status"
                else "the mode ledger may or may not hold the change, and SSM may not have it yet"),
             f"  to see where it stands: {status}",
             f"  to finish a publication the ledger holds (status reports drift): {status} --repair --yes"]
    if verb == "finalize":
        lines.append(f"  to finish finalize (it does only what is left): {this_command(args)}")
    elif verb in ("cutover", "rollback"):
        undo = "rollback" if verb == "cutover" else "cutover"
        lines.append(f"  to undo a change the ledger holds: `avp-migrate {undo} ROUTE ... --plan {args.plan}` for "
                     "the routes it moved")
    return "\n".join(lines)


def _confirmed(confirmation: Confirmation, args: argparse.Namespace, attempt: Callable[[bool], Any],
               describe: Callable[[Any], list[str]], question: Callable[[Any], str]) -> Any:
    """Run ``attempt(dry_run)``: straight away with --dry-run or --yes; else preview it, ask, check the ledger
    did not move under the answer, then write."""
    if args.dry_run or confirmation.yes:
        return attempt(args.dry_run)
    preview = attempt(True)
    if not preview.changed:
        preview.dry_run = False  # nothing to write, nothing asked: an ordinary "nothing to change"
        return preview
    confirmation.confirm_or_refuse(describe(preview), question(preview))
    again = attempt(True)
    if _moves(again) != _moves(preview):
        raise UserError(f"the mode ledger changed while you were answering (now version {again.base.version}): "
                        "nothing was written; run the command again", where=args.command)
    return attempt(False)


def _moves(result: Any) -> list[tuple[str, str, str]]:
    return [(step.route, step.before, step.after) for step in result.steps]


def run_cutover(args: argparse.Namespace) -> int:
    _check_force_evidence(args)
    return _guarded("cutover", args, lambda confirmation: _change("cutover", args, confirmation),
                    applies=not args.dry_run)


def run_rollback(args: argparse.Namespace) -> int:
    return _guarded("rollback", args, lambda confirmation: _change("rollback", args, confirmation),
                    applies=not args.dry_run)


def _change(verb: str, args: argparse.Namespace, confirmation: Confirmation) -> int:
    from migrate.cutover.changes import cutover, render, rollback
    from migrate.cutover.commit import Committed

    deployment = _deployment(args)
    args.progress = Committed()  # filled as the write's steps complete: what a Ctrl-C reports

    def attempt(dry_run: bool) -> Any:
        if verb == "cutover":
            return cutover(deployment, args.routes, to=args.to, evidence_path=args.evidence, force=args.force,
                           reason=args.reason, dry_run=dry_run, max_age=args.evidence_max_age,
                           progress=None if dry_run else args.progress)
        return rollback(deployment, args.routes, to=args.to, reason=args.reason, dry_run=dry_run,
                        progress=None if dry_run else args.progress)

    result = _confirmed(
        confirmation, args, attempt,
        describe=lambda preview: [line for line in render(preview, deployment).splitlines()
                                  if not line.startswith("dry run:")],
        question=lambda preview: f"{verb}: write ledger version {preview.base.version + 1} ({preview.action}) to "
                                 f"{deployment.ledger.where} and publish it to {deployment.parameter.where}?")
    _print(args, result.to_json(), render(result, deployment))
    return EXIT_CHANGES if args.dry_run and result.changed else 0


def run_status(args: argparse.Namespace) -> int:
    return _guarded("status", args, lambda confirmation: _status(args, confirmation), applies=args.repair)


def _status(args: argparse.Namespace, confirmation: Confirmation) -> int:
    from migrate.cutover.status import render, status

    deployment = _deployment(args)
    repair = args.repair
    if repair and not confirmation.yes:
        found = status(deployment, max_age=args.evidence_max_age)
        if found.drift:
            confirmation.confirm_or_refuse(
                [f"drift: {line}" for line in found.drift],
                f"status --repair: publish ledger version {found.newest.version} to {found.parameter}?")
        else:
            repair = False  # in sync: nothing to repair, nothing to ask
    result = status(deployment, evidence_path=args.evidence, repair=repair, max_age=args.evidence_max_age)
    if args.format == "table":
        from migrate.cli.tables import status_table

        print(status_table(result.to_json()))
    else:
        _print(args, result.to_json(), render(result))
    return 0 if result.in_sync else EXIT_CHANGES


def run_finalize(args: argparse.Namespace) -> int:
    return _guarded("finalize", args, lambda confirmation: _finalize(args, confirmation), applies=not args.dry_run)


def _finalize(args: argparse.Namespace, confirmation: Confirmation) -> int:
    from migrate.cutover.finalize import describe_pending, finalize, render

    def confirm(pending: Any) -> None:
        confirmation.confirm_or_refuse(describe_pending(pending),
                                       "finalize: make these changes to the API and the mode ledger?")

    result = finalize(_deployment(args), inventory_path=args.inventory, dry_run=args.dry_run,
                      accept_forced=args.accept_forced, accept_all_forced=args.accept_forced_all, confirm=confirm)
    _print(args, result.to_json(), render(result))
    return EXIT_CHANGES if args.dry_run and result.changed else 0
