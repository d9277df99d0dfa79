"""`avp-migrate demo`: the whole migration story on the embedded AWS, printing where each output is."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import Any

from migrate.errors import UserError


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "demo", help="run the demo migration end to end on the embedded AWS",
        description="Start the embedded AWS, seed the demo account (API MyApi, its user pool, pre-token rules) "
                    "and run every step of the migration that exists so far, writing outputs to --out.")
    parser.add_argument("--region", default=argparse.SUPPRESS, help="region of the embedded AWS (default us-east-1)")
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="directory for the demo's outputs (default: ./demo-output; replaced if it exists)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    refuse_account_options(args, "demo")
    from migrate.cli import scan as scan_cli
    from migrate.embedded import EmbeddedAws
    from migrate.embedded.seed import seed_demo

    out = Path(args.out)
    if out.exists() and not (out / ".avp-migrate-demo").exists():
        raise UserError("exists and is not a demo output directory; choose another --out", where=str(out))
    region = args.region or "us-east-1"
    saved_environment = dict(os.environ)
    with EmbeddedAws(port=0, region=region) as aws:
        try:
            aws.apply_environment()
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
                os.environ.pop(name, None)
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            (out / ".avp-migrate-demo").write_text("outputs of `avp-migrate demo`; safe to delete\n")

            _step(1, "embedded AWS", [f"moto on {aws.moto_url}, Verified Permissions on {aws.avp_url}"])
            account = seed_demo(region=region)
            _step(2, "seed the demo account", account.describe())

            inventory_path = out / "inventory.json"
            scan_args = argparse.Namespace(
                out=str(inventory_path), api_id=[account.api_id], stage=account.stage, openapi=[], user_pool_arn=[],
                rules=None, all_users=True, user_attribute=[], no_progress=True, profile=None, region=region,
                endpoint_url=None, format="text")
            inventory = scan_cli.scan_to_file(scan_args)
            _step(3, "scan", scan_cli.render_summary(scan_cli.summarize(inventory, str(inventory_path))).splitlines())
            _step(4, "tokens the demo pool issues today (pre-token trigger applied, signatures verified)",
                  _token_scopes(aws, account))
            plan_dir = out / "plan"
            _step(5, "plan", _plan(inventory_path, plan_dir))
            _step(6, "verify", _verify(inventory_path, plan_dir))
        finally:
            os.environ.clear()
            os.environ.update(saved_environment)
    print()
    print(f"demo outputs in {out}/:")
    print(f"  {inventory_path}  the inventory snapshot (scan)")
    print(f"  {plan_dir}/  the plan: schema, policies/, authorizer-config.json, cloudformation.json")
    print(f"  {plan_dir}/report.html  the migration plan report (also report.md, routes.csv, report.json)")
    print("next steps, once they land: deploy --mode shadow, report shadow, cutover")
    return 0


def _plan(inventory_path: Path, plan_dir: Path) -> list[str]:
    from migrate.cli.plan import render
    from migrate.inventory import load_inventory
    from migrate.plan import check, write_plan
    from migrate.translate import translate

    inventory = load_inventory(inventory_path)
    translation = translate(inventory)
    document = write_plan(translation, check(translation), plan_dir, inventory=inventory,
                          inventory_path=str(inventory_path))
    return render(document, str(plan_dir)).splitlines()


def _verify(inventory_path: Path, plan_dir: Path) -> list[str]:
    from migrate.cli.verify import render
    from migrate.inventory import load_inventory
    from migrate.plan_files import check_plan_folder

    return render(check_plan_folder(load_inventory(inventory_path), plan_dir)).splitlines()


def _token_scopes(aws: Any, account: Any) -> list[str]:
    """Each demo user's access-token scopes after sign-in, and the machine client's: what the scope regime sees."""
    import boto3

    from migrate.embedded.seed import DEMO

    idp = boto3.client("cognito-idp", region_name=account.region)
    lines = []
    for user in DEMO.users:
        result = idp.admin_initiate_auth(
            UserPoolId=account.user_pool_id, ClientId=account.client_ids["mobile"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user.username, "PASSWORD": account.password})["AuthenticationResult"]
        scopes = aws.verified_claims(result["AccessToken"])["scope"].split()
        groups = ", ".join(user.groups) or "no group"
        lines.append(f"{user.username:<6} ({groups}): {' '.join(s for s in scopes if s.startswith('MyApi/'))}")
    machine = aws.tokens.client_credentials_token(account.client_ids["reporting-service"],
                                                  account.client_secrets["reporting-service"])
    lines.append(f"reporting-service (client credentials): {aws.verified_claims(machine['access_token'])['scope']}")
    return lines


def refuse_account_options(args: argparse.Namespace, verb: str) -> None:
    """The demo and `local up` run their own embedded AWS: options that pick an account make no sense there."""
    for option, value in (("--profile", args.profile), ("--endpoint-url", args.endpoint_url)):
        if value:
            raise UserError(f"{verb} runs its own embedded AWS; {option} does not apply", where=option)


def _step(number: int, title: str, lines: list[str]) -> None:
    print(f"[{number}] {title}")
    for line in lines:
        print(f"    {line.strip()}")
