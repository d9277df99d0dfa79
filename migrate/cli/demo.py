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
        "demo", parents=[common], help="run the demo migration end to end on the embedded AWS",
        description="Start the embedded AWS, seed the demo account (API MyApi, its user pool, pre-token rules) "
                    "and run every step of the migration that exists so far, writing outputs to --out.")
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="directory for the demo's outputs (default: ./demo-output; replaced if it exists)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
                rules=None, all_users=False, user_attribute=[], no_progress=True, profile=None, region=region,
                endpoint_url=None, format="text")
            inventory = scan_cli.scan_to_file(scan_args)
            _step(3, "scan", scan_cli.render_summary(scan_cli.summarize(inventory, str(inventory_path))).splitlines())
        finally:
            os.environ.clear()
            os.environ.update(saved_environment)
    print()
    print(f"demo outputs in {out}/:")
    print(f"  {inventory_path}  the inventory snapshot (scan)")
    print("next steps, once they land: plan, verify, deploy --mode shadow, report shadow, cutover")
    return 0


def _step(number: int, title: str, lines: list[str]) -> None:
    print(f"[{number}] {title}")
    for line in lines:
        print(f"    {line.strip()}")
