"""`avp-migrate cutover`, `rollback`, `status`, `finalize`: move endpoints between scope, shadow and avp mode.

Exit codes: 0 done (or nothing to change); 1 error or refusal (one line); 2 with --dry-run when there is a change
to make, and for `status` when SSM has drifted from the ledger and --repair was not given.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from typing import Any

EXIT_CHANGES = 2


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    plan = argparse.ArgumentParser(add_help=False)
    plan.add_argument("--plan", required=True, metavar="DIR",
                      help="the plan folder deploy wrote deployment.json into")

    parser = verbs.add_parser(
        "cutover", parents=[common, plan], help="move endpoints one step on: scope -> shadow -> avp",
        description="Move each ROUTE one step on (scope -> shadow, shadow -> avp) in ONE versioned write of the mode "
                    "document (a DynamoDB ledger with conditional writes, then published to SSM). Going to avp needs "
                    "the route in shadow and ready in the shadow report (--evidence); anything else is refused, "
                    "naming what is missing. --force --reason overrides the readiness gate and records the reason.")
    parser.add_argument("routes", nargs="+", metavar="ROUTE", help="route key, e.g. 'GET /avp' (quote it)")
    parser.add_argument("--to", choices=["shadow", "avp"], help="the target mode (default: one step on)")
    parser.add_argument("--evidence", metavar="FILE", help="shadow-report.json from `avp-migrate report shadow`")
    parser.add_argument("--evidence-max-age", type=_hours, default=timedelta(hours=168), metavar="HOURS",
                        help="refuse evidence whose window ended longer ago than this (default 168)")
    parser.add_argument("--force", action="store_true", help="override the readiness gate (needs --reason)")
    parser.add_argument("--reason", metavar="TEXT", help="why: recorded in the audit log (required with --force)")
    parser.add_argument("--dry-run", action="store_true", help="print the change; exit 2 if there is one, 0 if not")
    parser.set_defaults(run=run_cutover)

    parser = verbs.add_parser(
        "rollback", parents=[common, plan], help="move endpoints back to shadow (or scope): one write, no gate",
        description="Move each ROUTE back to shadow (default) or scope in one versioned write; effective within the "
                    "authorizer's mode document cache age.")
    parser.add_argument("routes", nargs="+", metavar="ROUTE", help="route key, e.g. 'GET /avp' (quote it)")
    parser.add_argument("--to", choices=["shadow", "scope"], default="shadow", help="the target mode (shadow)")
    parser.add_argument("--reason", metavar="TEXT", help="why: recorded in the audit log")
    parser.add_argument("--dry-run", action="store_true", help="print the change; exit 2 if there is one, 0 if not")
    parser.set_defaults(run=run_rollback)

    parser = verbs.add_parser(
        "status", parents=[common, plan], help="every endpoint's mode, readiness and last change; drift",
        description="Show each moved endpoint's mode (from the ledger), its readiness (with --evidence) and its last "
                    "change (when, who, action), and compare the SSM parameter with the ledger. Exit 2 on drift "
                    "unless --repair republishes the ledger's newest version.")
    parser.add_argument("--evidence", metavar="FILE", help="shadow-report.json, for the readiness column")
    parser.add_argument("--evidence-max-age", type=_hours, default=timedelta(hours=168), metavar="HOURS",
                        help="as for cutover (default 168)")
    parser.add_argument("--repair", action="store_true", help="on drift, republish the ledger's newest version")
    parser.set_defaults(run=run_status)

    parser = verbs.add_parser(
        "finalize", parents=[common, plan],
        help="when every endpoint is on avp: drop scopes and the Cognito authorizer",
        description="Only when every migrated endpoint is on avp: remove the scopes left on the moved methods, delete "
                    "the old Cognito authorizer if no method uses it, deploy the stage, record a finalize entry, and "
                    "list the pre-token rules and scopes no endpoint needs any more. undeploy cannot undo this.")
    parser.add_argument("--inventory", metavar="FILE",
                        help="the inventory snapshot (default: the one plan.json names)")
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


def run_cutover(args: argparse.Namespace) -> int:
    from migrate.cutover.changes import cutover, render

    deployment = _deployment(args)
    result = cutover(deployment, args.routes, to=args.to, evidence_path=args.evidence, force=args.force,
                     reason=args.reason, dry_run=args.dry_run, max_age=args.evidence_max_age)
    _print(args, result.to_json(), render(result, deployment))
    return EXIT_CHANGES if args.dry_run and result.changed else 0


def run_rollback(args: argparse.Namespace) -> int:
    from migrate.cutover.changes import render, rollback

    deployment = _deployment(args)
    result = rollback(deployment, args.routes, to=args.to, reason=args.reason, dry_run=args.dry_run)
    _print(args, result.to_json(), render(result, deployment))
    return EXIT_CHANGES if args.dry_run and result.changed else 0


def run_status(args: argparse.Namespace) -> int:
    from migrate.cutover.status import render, status

    result = status(_deployment(args), evidence_path=args.evidence, repair=args.repair,
                    max_age=args.evidence_max_age)
    _print(args, result.to_json(), render(result))
    return 0 if result.in_sync else EXIT_CHANGES


def run_finalize(args: argparse.Namespace) -> int:
    from migrate.cutover.finalize import finalize, render

    result = finalize(_deployment(args), inventory_path=args.inventory, dry_run=args.dry_run)
    _print(args, result.to_json(), render(result))
    return EXIT_CHANGES if args.dry_run and result.changed else 0
