"""`avp-migrate probe`: derive pre-token rules in our format from a handler we did not write, by calling it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.probe.events import EVENT_VERSIONS
from migrate.probe.verify import CALLS_PER_EVENT


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "probe", parents=[common], help="derive pre-token rules from a handler we did not write, by calling it",
        description="Call a Cognito pre-token generation handler with synthetic events (no groups, each group, "
                    "each pair, the snapshot's real users and their combinations, each app client, each trigger "
                    "source; every event twice) and derive rules in avp-migrate's format that reproduce its "
                    "answers, with a confidence section. The derived rules are checked against every answer. "
                    "Exit 0: they reproduce every answer; 2: they do not (rules still written, differences "
                    "listed); 1: error.")
    handler = parser.add_mutually_exclusive_group(required=True)
    handler.add_argument("--handler", metavar="FILE.py:FUNCTION",
                         help="run this Python handler function in this process (a fresh import per run)")
    handler.add_argument("--template", metavar="FILE",
                         help="run the Python function --function names in this CloudFormation/SAM/CDK template: its "
                              "inline code or local code folder, in this process")
    handler.add_argument("--function-name", metavar="NAME",
                         help="invoke this deployed Lambda function (it may have side effects: asks for "
                              "confirmation, or --yes)")
    parser.add_argument("--function", metavar="LOGICAL_ID",
                        help="with --template: the function's logical id (its pool in the template, when it is that "
                             "pool's pre-token trigger, gives the groups, clients and trigger version)")
    parser.add_argument("--inventory", metavar="FILE",
                        help="inventory snapshot (scan): its groups, users, app clients and trigger version")
    parser.add_argument("--user-pool-id", metavar="ID", help="the snapshot's user pool, when it has several")
    parser.add_argument("--groups", action="append", default=[], metavar="G1,G2,...",
                        help="group names to probe, besides the snapshot's (comma-separated, repeatable)")
    parser.add_argument("--client-id", action="append", default=[], metavar="ID",
                        help="app client id to probe, besides the snapshot's (repeatable)")
    parser.add_argument("--version", dest="event_version", choices=EVENT_VERSIONS,
                        help="event version (default: the snapshot's trigger version, else V2_0)")
    parser.add_argument("--out", metavar="FILE", help="write the derived rules document here (rules format 1)")
    parser.add_argument("--report", metavar="FILE", help="also write the whole report (as --format json) here")
    parser.add_argument("--yes", action="store_true",
                        help="with --function-name: invoke without asking for confirmation")
    parser.set_defaults(run=run)


def _check_writable(path: str | None, option: str) -> None:
    # Checked before the handler is called: a long probe should not end in "directory does not exist".
    if path is not None and not (Path(path).parent if str(Path(path).parent) else Path(".")).is_dir():
        raise UserError(f"directory does not exist: {Path(path).parent}", where=option)


def _confirm(function_name: str, events: int, assume_yes: bool) -> None:
    calls = events * CALLS_PER_EVENT
    print(f"avp-migrate: warning: --function-name: the deployed function {function_name} will be invoked {calls} "
          f"times ({events} synthetic events, each twice). It may have side effects (writes, notifications, "
          "counters, audit logs, metrics), and will see synthetic users and app client ids.", file=sys.stderr)
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise UserError("refusing to invoke a deployed function without confirmation: pass --yes (stdin is not a "
                        "terminal)", where="--function-name")
    print(f"Invoke {function_name} {calls} times? [y/N] ", end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
        raise UserError("not confirmed; the function was not invoked", where="--function-name")


def run(args: argparse.Namespace) -> int:
    _check_writable(args.out, "--out")
    _check_writable(args.report, "--report")
    if bool(args.template) != bool(args.function):
        raise UserError("--template and --function go together", where="--template" if args.template else "--function")
    from_template = None
    if args.template:
        from migrate.scan.template_code import template_handler

        from_template = template_handler(args.template, args.function)
    try:
        return _run(args, from_template)
    finally:
        if from_template is not None:
            from_template.close()


def _run(args: argparse.Namespace, from_template: Any) -> int:
    from migrate.fileio import atomic_write_json
    from migrate.inventory import load_inventory
    from migrate.probe import run_probe
    from migrate.probe.events import plan_probes
    from migrate.probe.target import build_target, choose_pool

    pool = from_template.pool if from_template is not None else None
    if args.inventory:
        pool = choose_pool(load_inventory(args.inventory), args.user_pool_id, where=args.inventory)
    elif args.user_pool_id:
        raise UserError("only meaningful with --inventory", where="--user-pool-id")
    groups = [g.strip() for item in args.groups for g in item.split(",") if g.strip()]
    target = build_target(pool=pool, groups=groups, client_ids=args.client_id, version=args.event_version)
    invoker = _invoker(args, events=len(plan_probes(target)), from_template=from_template)
    progress = _progress(args)
    try:
        report = run_probe(invoker, target, on_call=progress.advance)
    finally:
        progress.close()
        invoker.close()
    trigger = pool.pretoken_trigger if pool is not None else None
    if trigger is not None and trigger.recognised:
        report.warnings.append(f"the snapshot's trigger is avp-migrate's own handler: its rules are in "
                               f"{trigger.rules_source}; probing is for handlers we did not write")
    if trigger is not None and args.function_name and args.function_name not in (
            trigger.lambda_arn, trigger.lambda_arn.split(":")[6] if trigger.lambda_arn.count(":") >= 6 else None):
        report.warnings.append(f"the snapshot's trigger is {trigger.lambda_arn}, not {args.function_name}: the "
                               "derived rules describe the function probed")
    if args.out:
        atomic_write_json(args.out, report.rules)
        report.rules_file = args.out
    if args.report:
        report.report_file = args.report
        atomic_write_json(args.report, report.to_json())
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print(report.render_text())
    return report.exit_code


def _invoker(args: argparse.Namespace, *, events: int, from_template: Any = None) -> Any:
    from migrate.probe.invoke import InProcessInvoker, LambdaInvoker, lambda_client

    if from_template is not None:
        return InProcessInvoker(from_template.spec, import_root=from_template.import_root)
    if args.handler:
        return InProcessInvoker(args.handler)
    from migrate.awsconfig import AwsSession, AwsTarget

    session = AwsSession(AwsTarget(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))
    _confirm(args.function_name, events, args.yes)
    return LambdaInvoker(lambda_client(session), args.function_name)


def _progress(args: argparse.Namespace) -> Any:
    from migrate.scan.progress import Progress

    # Only for a deployed function: in-process handlers answer in microseconds.
    progress = Progress(enabled=None if args.function_name else False)
    progress.describe("probing")
    return progress
