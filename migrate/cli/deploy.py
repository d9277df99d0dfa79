"""`avp-migrate deploy` and `avp-migrate undeploy`: put a plan's endpoints in shadow mode, and take them back.

Exit codes: 0 done (or nothing to do); 2 with --dry-run when there are changes; 1 on error or when the gate
refuses (one line, nothing changed; a failed real run leaves deployment.json naming what exists); 130 on
Ctrl-C (it says what was applied, what was not, and the commands that continue and undo the run). Changes
apply without a prompt only with --yes (migrate.cli.confirm).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from typing import Any

from migrate.cli.confirm import Confirmation, command_line, this_command
from migrate.cli.packaging import add_acceptance_options, add_packaging_options, packaging_options

EXIT_CHANGES = 2


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "deploy", parents=[common], help="deploy a plan in shadow mode: AVP store, Lambda authorizer, methods",
        description="Bring the account to what the plan says, creating or updating only what differs: the "
                    "Verified Permissions policy store (STRICT), schema, identity source and policies (by @id); "
                    "the Lambda authorizer with a least-privilege role; the mode document (SSM) and its ledger "
                    "(DynamoDB); the API Gateway REQUEST authorizer; then the selected methods move to it (their "
                    "integrations untouched, their configuration recorded in PLAN/deployment.json) and the stage "
                    "is deployed. Every change is printed; --dry-run prints them and exits 2 when there are any.")
    parser.add_argument("--plan", required=True, metavar="DIR", help="the plan folder `avp-migrate plan` wrote")
    parser.add_argument("--mode", required=True, choices=["shadow"],
                        help="shadow: the authorizer enforces today's scopes and records what AVP would decide")
    parser.add_argument("--endpoint", action="append", default=[], metavar="ROUTE",
                        help="move only this route, e.g. 'GET /avp' (repeatable; default: every migrated route)")
    parser.add_argument("--dry-run", action="store_true", help="print the change set and change nothing")
    parser.add_argument("--ttl", type=int, default=300, metavar="SECONDS",
                        help="API Gateway's authorizer result cache, 0-3600 (default 300)")
    parser.add_argument("--function-name", metavar="NAME",
                        help="the Lambda function (default avp-migrate-authz-<api id>-<stage>)")
    add_packaging_options(parser)
    parser.add_argument("--smoke-user", action="append", default=[], metavar="NAME",
                        help="smoke-test the deployed authorizer with this user's tokens before any method moves "
                             "(repeatable; password in AVP_MIGRATE_SMOKE_PASSWORD)")
    parser.add_argument("--smoke-client", metavar="ID",
                        help="the app client the smoke users sign in with (default: the plan's first client that "
                             "allows USER_PASSWORD_AUTH)")
    parser.add_argument("--log-retention-days", type=int, default=30, metavar="DAYS",
                        help="how long the authorizer's log group keeps records (default 30)")
    add_acceptance_options(parser, "deploy")
    parser.add_argument("--allow-drift", action="store_true",
                        help="change the methods of an API that a CloudFormation stack (or --managed-by) owns: its "
                             "next update will undo them unless its definition changes too")
    parser.add_argument("--managed-by", metavar="TOOL",
                        help="the IaC tool that defines the API when CloudFormation does not know it (terraform, "
                             "pulumi, ...): deploy then stops unless --allow-drift; 'none' says no tool does")
    parser.add_argument("--stack", metavar="NAME",
                        help="the infrastructure comes from this CloudFormation stack of the plan's "
                             "cloudformation.json (store, function, authorizer, mode parameter): deploy checks "
                             "it against the plan, records the modes and moves the methods (packaging options do "
                             "not apply)")
    parser.add_argument("--yes", action="store_true",
                        help="apply without a prompt; without it deploy asks on a terminal and refuses elsewhere")
    parser.set_defaults(run=run_deploy)

    undeploy = verbs.add_parser(
        "undeploy", parents=[common], help="restore the methods' original authorizers and remove what deploy made",
        description="Put each moved method back exactly as it was (authorizer and scopes), deploy the stage, then "
                    "delete the Lambda authorizer, its role, the mode document and (unless --keep-store) the "
                    "policy store. The log group and the mode ledger's items are kept (evidence and audit log).")
    undeploy.add_argument("--plan", required=True, metavar="DIR", help="the plan folder holding deployment.json")
    undeploy.add_argument("--dry-run", action="store_true", help="print the change set and change nothing")
    undeploy.add_argument("--keep-store", action="store_true", help="keep the Verified Permissions policy store")
    undeploy.add_argument("--yes", action="store_true",
                          help="apply without a prompt; without it undeploy asks on a terminal and refuses elsewhere")
    undeploy.set_defaults(run=run_undeploy)


def _session(args: argparse.Namespace) -> Any:
    from migrate.awsconfig import AwsSession, AwsTarget

    return AwsSession(AwsTarget(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))


def run_deploy(args: argparse.Namespace) -> int:
    from migrate.deploy.deployer import DeployOptions, plan_deploy
    from migrate.deploy.smoke import SmokeOptions

    confirmation = Confirmation.for_command("deploy", args, applies=not args.dry_run)
    package, check = packaging_options(args)
    options = DeployOptions(mode=args.mode, endpoints=tuple(args.endpoint), ttl=args.ttl,
                            function_name=args.function_name, package=package, check=check,
                            smoke=SmokeOptions(users=tuple(args.smoke_user), client_id=args.smoke_client),
                            log_retention_days=args.log_retention_days, accept=args.accept, reason=args.reason,
                            stack=args.stack)
    session = _session(args)
    if args.stack:
        owned = _stack_owned_api(session, args)
        options = replace(options, api_owned_by_stack=owned)
        drift_note = None
    else:
        drift_note = _drift_guard(session, args, confirmation)
    # No separate drift warning: the gate's lines name every file changed since `plan` (or its refusal does).
    change_set = plan_deploy(session, args.plan, options)
    if drift_note:
        change_set.ctx.notes.append(drift_note)
    ctx = change_set.ctx
    target = f"API {ctx.record.api_name} ({ctx.record.api_id}) stage {ctx.record.stage}"
    undo = command_line(args, "undeploy", "--plan", args.plan)
    return present(change_set, args, confirmation, done=f"deployed {target} in {args.mode} mode",
                   unchanged=f"no changes: {target} is deployed as the plan says",
                   next_steps=[f"to continue (deploy is idempotent: it does only what is missing): "
                               f"{this_command(args)}", f"to undo what was applied: {undo}"])


def _stack_owned_api(session: Any, args: argparse.Namespace) -> bool:
    """With --stack: is the API itself defined by a stack? Then its own template moves the methods, not deploy."""
    from migrate.deploy.drift import cloudformation_owner
    from migrate.plan_folder import PlanFolder

    api_id = PlanFolder.open(args.plan).config().api_id
    return cloudformation_owner(session.client("cloudformation"), api_id) is not None


def _drift_guard(session: Any, args: argparse.Namespace, confirmation: Confirmation) -> str | None:
    """Before anything else: is the API owned by infrastructure as code (migrate/deploy/drift.py)?"""
    from migrate.cli.confirm import stdin_is_terminal
    from migrate.deploy.drift import check_not_owned
    from migrate.plan_folder import PlanFolder

    api_id = PlanFolder.open(args.plan).config().api_id

    def ask(question: str) -> bool:
        print(f"{question} [y/N] ", end="", file=confirmation.out, flush=True)
        return sys.stdin.readline().strip().lower() in {"y", "yes"}

    interactive = stdin_is_terminal() and not args.yes and args.format != "json"
    return check_not_owned(session.client("cloudformation"), api_id, managed_by=args.managed_by,
                           allow_drift=args.allow_drift, ask=ask if interactive else None)


def run_undeploy(args: argparse.Namespace) -> int:
    from migrate.deploy.undeploy import finish, plan_undeploy
    from migrate.plan_folder import warn_if_changed

    warn_if_changed(args.plan)
    confirmation = Confirmation.for_command("undeploy", args, applies=not args.dry_run)
    change_set = plan_undeploy(_session(args), args.plan, keep_store=args.keep_store)
    ctx = change_set.ctx
    target = f"API {ctx.record.api_name} ({ctx.record.api_id}) stage {ctx.record.stage}"
    redeploy = command_line(args, "deploy", "--plan", args.plan, "--mode", "shadow")
    done = f"undeployed {'what it could of ' if change_set.preamble else ''}{target}"
    return present(change_set, args, confirmation, done=done,
                   unchanged=f"nothing to undeploy for {target}",
                   after=lambda: finish(change_set, keep_store=args.keep_store),
                   next_steps=[f"to continue: {this_command(args)}",
                               f"to undo (put the endpoints back in shadow mode): {redeploy} with the packaging "
                               "options you deployed with"])


def present(change_set: Any, args: argparse.Namespace, confirmation: Confirmation, *, done: str, unchanged: str,
            after: Any = None, next_steps: tuple[str, ...] | list[str] = ()) -> int:
    from migrate.deploy.runner import apply_changes, record_differs_from_file

    ctx, changes = change_set.ctx, change_set.changes
    as_json = args.format == "json"
    for line in change_set.preamble:  # before anything else, whatever the options (--yes prints it too)
        print(line, file=confirmation.out)
    if not as_json:
        for line in ctx.preface:
            print(line)
    if args.dry_run or not changes:
        if as_json:
            print(json.dumps({"dry_run": args.dry_run, "changes": [c.to_json() for c in changes],
                              "notes": ctx.notes, "preamble": change_set.preamble, "gate": ctx.preface}, indent=2))
        else:
            for change in changes:
                print(change.line)
            for note in ctx.notes:
                print(f"note: {note}")
            count = sum(c.action != "check" for c in changes)  # the smoke test is a check, not a change
            print(f"{count} change(s); dry run: nothing was changed" if changes else unchanged)
        if not args.dry_run:
            if after is not None:
                print(after())
            elif record_differs_from_file(ctx):
                ctx.save()  # the record catches up with what exists (nothing in AWS changed)
        return EXIT_CHANGES if args.dry_run and changes else 0
    confirmation.confirm_or_refuse(
        [change.line for change in changes],
        f"{change_set.verb}: apply these {len(changes)} changes to account {ctx.record.account_id} region "
        f"{ctx.record.region}?")
    apply_changes(change_set, echo=(lambda line: None) if as_json else print, next_steps=next_steps)
    message = after() if after is not None else f"wrote {ctx.record_file}"
    if as_json:
        print(json.dumps({"dry_run": False, "changes": [c.to_json() for c in changes], "notes": ctx.notes,
                          "preamble": change_set.preamble, "gate": ctx.preface, "result": message}, indent=2))
    else:
        for note in ctx.notes:
            print(f"note: {note}")
        print(f"{done}: {sum(c.action != 'check' for c in changes)} change(s) applied; {message}")
    return 0
