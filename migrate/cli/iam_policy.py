"""`avp-migrate iam-policy`: the IAM policy an operator's role needs for deploy, the cut-over verbs, or both.

Offline: it reads the plan folder (and deployment.json when deploy has run) and calls no AWS API.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from migrate.errors import UserError


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "iam-policy", help="print the IAM policy an operator needs for scan, deploy, cutover/rollback/status, finalize",
        description="Print (JSON) the IAM policy for the role that runs avp-migrate against one API stage, scoped to "
                    "the resources deploy creates. The cut-over verbs need lambda:UpdateFunctionConfiguration on "
                    "the authorizer function: its fallback mode document follows every ledger write.")
    parser.add_argument("--plan", metavar="DIR",
                        help="the plan folder (required, except for --for scan: there it scopes the policy to the "
                             "plan's API and user pool)")
    parser.add_argument("--for", dest="command", choices=["scan", "deploy", "cutover", "finalize", "all"],
                        default="all", help="scan (read-only); deploy (and undeploy); cutover (and rollback, status); "
                                            "finalize; all (default: deploy, cutover and finalize)")
    parser.add_argument("--account-id", default="*", help="before deploy: the account (default *)")
    parser.add_argument("--region", dest="policy_region", default="*", help="before deploy: the region (default *)")
    parser.add_argument("--partition", default="aws", help="before deploy: aws, aws-cn or aws-us-gov (default aws)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from migrate.deploy.names import Names
    from migrate.deploy.record import load_record, record_path
    from migrate.fileio import read_json
    from migrate.permissions import Target, policy

    if args.command == "scan":
        print(json.dumps(_scan_policy(args), indent=2))
        return 0
    if not args.plan:
        raise UserError(f"--for {args.command} needs the plan folder: add --plan DIR", where="--plan")
    folder = Path(args.plan)
    if record_path(folder).exists():
        record = load_record(args.plan)
        partition = record.function_arn.split(":")[1] if record.function_arn.startswith("arn:") else args.partition
        target = Target(partition=partition, region=record.region, account_id=record.account_id,
                        api_id=record.api_id, stage=record.stage, function_name=record.function_name,
                        mode_parameter=record.mode_parameter, log_group=record.log_group)
    else:
        plan = read_json(folder / "plan.json", what="plan")
        api = plan.get("api") if isinstance(plan, dict) else None
        if not isinstance(api, dict) or not api.get("id") or not api.get("stage"):
            raise UserError("plan.json names no API id and stage", where=str(folder / "plan.json"))
        names = Names.make(api_id=str(api["id"]), stage=str(api["stage"]), region=args.policy_region,
                           account_id=args.account_id, partition=args.partition)
        target = Target(partition=args.partition, region=args.policy_region, account_id=args.account_id,
                        api_id=names.api_id, stage=names.stage, function_name=names.function_name,
                        mode_parameter=names.mode_parameter, log_group=names.log_group)
    print(json.dumps(policy(target, args.command), indent=2))
    return 0


def _scan_policy(args: argparse.Namespace) -> dict[str, Any]:
    """Read-only: every API and user pool in the account and region, or the plan's API and pool (a re-scan)."""
    from migrate.fileio import read_json
    from migrate.scan_permissions import ScanTarget, scan_statements

    target = ScanTarget(partition=args.partition, region=args.policy_region, account_id=args.account_id)
    if args.plan:
        where = str(Path(args.plan) / "plan.json")
        plan = read_json(Path(args.plan) / "plan.json", what="plan")
        api = plan.get("api") if isinstance(plan, dict) else None
        pool = plan.get("user_pool") if isinstance(plan, dict) else None
        if not isinstance(api, dict) or not api.get("id") or not isinstance(pool, dict) or not pool.get("id"):
            raise UserError("plan.json names no API id and user pool", where=where)
        pool_arn = str(pool.get("arn") or f"arn:{args.partition}:cognito-idp:{args.policy_region}:"
                                            f"{args.account_id}:userpool/{pool['id']}")
        target = ScanTarget(partition=args.partition, region=args.policy_region, account_id=args.account_id,
                            api_id=str(api["id"]), user_pool_arns=[pool_arn])
    return {"Version": "2012-10-17", "Statement": scan_statements(target)}
