"""`avp-migrate scan`: read how APIs are authorized today into an inventory snapshot."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from migrate import __version__
from migrate.awsconfig import AwsSession, AwsTarget
from migrate.cli.confirm import this_command
from migrate.errors import Interrupted, UserError
from migrate.inventory import Inventory, save_inventory
from migrate.scan.progress import Progress


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "scan", parents=[common], help="read APIs, user pools and pre-token rules into an inventory snapshot",
        description="Read API Gateway REST APIs (resources, methods, authorizers, scopes), the Cognito user pools "
                    "their authorizers name (resource servers, groups and members, app clients, the pre-token "
                    "trigger) and the pre-token rules into one JSON snapshot that later steps use offline. "
                    "With --openapi, read API Gateway exports instead of an account; with --template or --terraform, "
                    "CloudFormation/SAM/CDK templates or `terraform show -json` output.")
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the snapshot (JSON)")
    parser.add_argument("--api-id", action="append", default=[], metavar="ID",
                        help="scan this REST API (repeatable; default: every REST API in the region)")
    parser.add_argument("--stage", help="the stage to migrate (checked to exist)")
    parser.add_argument("--openapi", action="append", default=[], metavar="FILE",
                        help="read an API Gateway export (OpenAPI 3 or Swagger 2, JSON or YAML) instead of the "
                             "account (repeatable; no AWS calls)")
    parser.add_argument("--template", action="append", default=[], metavar="FILE",
                        help="read a CloudFormation, SAM or CDK-synthesized template (JSON or YAML) instead of the "
                             "account (repeatable; no AWS calls)")
    parser.add_argument("--terraform", action="append", default=[], metavar="FILE",
                        help="read `terraform show -json` output (a state or a saved plan) instead of the account "
                             "(repeatable; no AWS calls)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="with --template: a value only known at deploy time (a template parameter, "
                             "AWS::Region/AWS::AccountId/AWS::StackName, a resource's logical id for its physical "
                             "id, LogicalId.Attribute, or an export name)")
    parser.add_argument("--user-pool-arn", action="append", default=[], metavar="SCHEME=ARN",
                        help="with --openapi: the user pool of an authorizer whose export lacks providerARNs")
    parser.add_argument("--rules", metavar="SOURCE",
                        help="pre-token rules when the trigger is not avp-migrate's: file:PATH, ssm:NAME or "
                             "dynamodb:TABLE/RULESET")
    parser.add_argument("--all-users", action="store_true",
                        help="also read users in no group (ListUsers); default reads group members only")
    parser.add_argument("--user-attribute", action="append", default=[], metavar="NAME",
                        help="keep this user attribute in the snapshot (repeatable; the rules' own are kept)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an account scan that stopped (Ctrl-C, throttling, an unreachable endpoint) "
                             "from its checkpoint, FILE.checkpoint next to --out FILE")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a TTY)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    summary = summarize(scan_to_file(args), args.out)
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(render_summary(summary))
    return 0


def scan_to_file(args: argparse.Namespace) -> Inventory:
    """Scan as the options say and write the snapshot (nothing is written when the scan fails)."""
    kinds = [option for option, given in (("--openapi", args.openapi), ("--template", args.template),
                                          ("--terraform", args.terraform)) if given]
    if len(kinds) > 1 and kinds != ["--template", "--terraform"]:
        raise UserError(f"cannot be combined with {kinds[1]} (read exports, or templates and Terraform, in one "
                        "scan)", where=kinds[0])
    if args.parameter and not args.template:
        raise UserError("only meaningful with --template", where="--parameter")
    if args.resume and kinds:
        raise UserError(f"only meaningful for a scan of an account (files are read again in a moment, not with "
                        f"{kinds[0]})", where="--resume")
    if args.template or args.terraform:
        inventory = _scan_iac(args)
    elif args.openapi:
        inventory = _scan_exports(args)
    else:
        return _scan_account(args)
    save_inventory(inventory, args.out)
    return inventory


def _scan_account(args: argparse.Namespace) -> Inventory:
    """Scan the account, keeping a checkpoint next to --out while it runs (removed once the snapshot is written)."""
    from migrate.scan.aws import AwsScanner, ScanOptions
    from migrate.scan.checkpoint import CheckpointFile, ScanKey, checkpoint_path

    if args.user_pool_arn:
        raise UserError("only meaningful with --openapi", where="--user-pool-arn")
    out = Path(args.out)
    if not out.parent.is_dir():  # before minutes of reading, not after
        raise UserError(f"directory does not exist: {out.parent}", where=str(out))
    session = AwsSession(AwsTarget(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))
    options = ScanOptions(api_ids=args.api_id, stage=args.stage, rules_source=args.rules,
                          all_users=args.all_users, user_attributes=args.user_attribute)
    # the endpoint as botocore resolves it (--endpoint-url, AWS_ENDPOINT_URL..., or AWS's own)
    endpoint = session.client("cognito-idp").meta.endpoint_url
    key = ScanKey(tool_version=__version__, region=session.region, endpoint_url=endpoint,
                  profile=args.profile, api_ids=list(args.api_id), stage=args.stage, rules_source=args.rules,
                  all_users=args.all_users, user_attributes=list(args.user_attribute))
    checkpoint = CheckpointFile(checkpoint_path(out), key)
    resume = None
    if args.resume:
        if not checkpoint.exists():
            raise UserError(f"no checkpoint to resume ({checkpoint.path} does not exist); run without --resume",
                            where="--resume")
        resume = checkpoint.load()
    elif checkpoint.exists():
        print(f"note: {checkpoint.path} holds a stopped scan's progress; starting over (--resume continues it)",
              file=sys.stderr)
        checkpoint.remove()
    progress = Progress(enabled=False if args.no_progress else None)
    scanner = AwsScanner(session, options, progress, checkpoint=checkpoint, resume=resume)
    try:
        inventory = scanner.scan()
    except Interrupted as exc:
        raise Interrupted(f"{exc.message}; to continue, run: {_resume_command(args)}") from None
    finally:
        progress.close()
    for note in scanner.notes:
        print(f"note: {note}", file=sys.stderr)
    save_inventory(inventory, args.out)
    checkpoint.remove()
    return inventory


def _resume_command(args: argparse.Namespace) -> str:
    argv = list(getattr(args, "command_line", None) or [])
    if argv and "--resume" not in argv:
        return shlex.join(["avp-migrate", *argv, "--resume"])
    return this_command(args) if argv else "the same scan command with --resume"


def _scan_exports(args: argparse.Namespace) -> Inventory:
    from migrate.scan.offline import scan_exports

    if args.api_id:
        raise UserError("cannot be combined with --openapi (exports are read offline)", where="--api-id")
    pool_arns: dict[str, str] = {}
    for item in args.user_pool_arn:
        scheme, sep, arn = item.partition("=")
        if not sep or not scheme or not arn:
            raise UserError(f"expected SCHEME=ARN, got {item!r}", where="--user-pool-arn")
        pool_arns[scheme] = arn
    return scan_exports([Path(p) for p in args.openapi], user_pool_arns=pool_arns, stage=args.stage,
                        rules_source=args.rules)


def _scan_iac(args: argparse.Namespace) -> Inventory:
    from migrate.scan.iac import parse_parameters, scan_iac

    for option, value in (("--api-id", args.api_id), ("--user-pool-arn", args.user_pool_arn)):
        if value:
            raise UserError("cannot be combined with --template/--terraform", where=option)
    return scan_iac([Path(p) for p in args.template], [Path(p) for p in args.terraform],
                    parameters=parse_parameters(args.parameter), stage=args.stage, rules_source=args.rules)


def summarize(inventory: Inventory, path: str) -> dict[str, Any]:
    return {
        "snapshot": str(path),
        "format_version": inventory.format_version,
        "apis": [
            {"id": api.id, "name": api.name, "methods": len(api.methods),
             "by_authorization": dict(sorted(Counter(m.authorization_type for m in api.methods).items())),
             "authorizers": len(api.authorizers)}
            for api in inventory.apis
        ],
        "user_pools": [
            {"id": pool.id, "name": pool.name, "scopes": len(pool.defined_scopes), "groups": len(pool.groups),
             "users": len(pool.users), "clients": len(pool.clients),
             "pretoken_trigger": pool.pretoken_trigger.version if pool.pretoken_trigger else None,
             "rules": (len(pool.pretoken_rules.document.get("rules", [])) if pool.pretoken_rules else None),
             "rules_source": pool.pretoken_rules.source if pool.pretoken_rules else None,
             "known_by_arn_only": pool.known_by_arn_only}
            for pool in inventory.user_pools
        ],
        "aws_calls": inventory.total_calls,
        "seconds": round(sum(r.seconds for r in inventory.provenance), 2),
        "warnings": inventory.warnings,
    }


def render_summary(summary: dict[str, Any]) -> str:
    lines = [f"wrote {summary['snapshot']} (inventory format {summary['format_version']})"]
    for api in summary["apis"]:
        kinds = ", ".join(f"{n} {k}" for k, n in api["by_authorization"].items())
        lines.append(f"  API {api['name']} ({api['id']}): {api['methods']} methods ({kinds}), "
                     f"{api['authorizers']} authorizers")
    for pool in summary["user_pools"]:
        rules = (f"{pool['rules']} pre-token rules from {pool['rules_source']}" if pool["rules"] is not None
                 else "no pre-token rules read")
        trigger = f"trigger {pool['pretoken_trigger']}" if pool["pretoken_trigger"] else "no pre-token trigger"
        if pool["known_by_arn_only"]:
            lines.append(f"  user pool {pool['id']}: known by ARN only (offline), {rules}")
            continue
        lines.append(f"  user pool {pool['name']} ({pool['id']}): {pool['scopes']} scopes, {pool['groups']} groups, "
                     f"{pool['users']} users, {pool['clients']} app clients, {trigger}, {rules}")
    lines.append(f"  {summary['aws_calls']} AWS calls in {summary['seconds']} s")
    lines.extend(f"  warning: {w}" for w in summary["warnings"])
    return "\n".join(lines)
