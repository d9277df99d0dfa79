"""`avp-migrate package`: the authorizer's deployment package as a zip file, for the IaC path.

The same builder and the same checks as `deploy` (:mod:`migrate.deploy.package`, :mod:`migrate.deploy.
package_check`): the plan folder must pass deploy's gate (the ``authorizer-config.json`` the zip carries decides
requests), the zip is deterministic, and the handler must import in a clean CPython of the runtime's version
with only the zip, its layers and the runtime's SDK on its path. The zip goes where the plan's CloudFormation
template (parameters ``ArtifactBucket``/``ArtifactKey``) or Terraform module (``artifact_bucket``/``artifact_key``)
takes it from.

Exit codes: 0 written; 1 on error (nothing written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from migrate.cli.packaging import add_acceptance_options, add_packaging_options, packaging_options
from migrate.errors import UserError
from migrate.fileio import atomic_write_bytes


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "package", parents=[common], help="build the authorizer's zip for CloudFormation or Terraform",
        description="Build the Lambda authorizer's deployment package for a plan folder (the plan must pass "
                    "deploy's gate), check that it imports as Lambda would run it, and write it as a zip for the "
                    "plan's CloudFormation template (ArtifactBucket/ArtifactKey) or Terraform module.")
    parser.add_argument("--plan", required=True, metavar="DIR", help="the plan folder `avp-migrate plan` wrote")
    parser.add_argument("--out", required=True, metavar="FILE", help="the zip to write, e.g. authorizer.zip")
    add_packaging_options(parser)
    add_acceptance_options(parser, "package")
    parser.set_defaults(run=run_package)


def run_package(args: argparse.Namespace) -> int:
    from migrate.deploy.gate import run_gate
    from migrate.deploy.package import build_package
    from migrate.deploy.package_check import check_artifact
    from migrate.plan_folder import PlanFolder
    from migrate.translate.cloudformation import size_note

    out = Path(args.out)
    if out.is_dir():
        raise UserError("is a folder; --out names the zip file to write", where=str(out))
    if not out.parent.is_dir():
        raise UserError(f"directory does not exist: {out.parent}", where="--out")
    folder = PlanFolder.open(args.plan)
    gate = run_gate(folder, accept=args.accept, reason=args.reason)
    options, check = packaging_options(args)
    options.check()
    layers = _layers(args, options.layers, options.architecture)
    package = build_package(folder.file("authorizer-config.json").read_text(encoding="utf-8"), options)
    report = check_artifact(package, layers, check)
    atomic_write_bytes(out, package.zip_bytes)
    files = {path.name: path.read_text(encoding="utf-8")
             for path in sorted(Path(args.plan).glob("cloudformation*.json"))}
    facts = {"package": str(out), "bytes": len(package.zip_bytes), "code_sha256": package.sha256,
             "architecture": package.architecture, "describe": package.describe(), "check": report.summary,
             "notes": [*gate.lines(), *package.notes, *report.notes],
             "template": size_note(files) if "cloudformation.json" in files else None}
    if getattr(args, "format", "text") == "json":
        print(json.dumps(facts, indent=2))
        return 0
    for line in facts["notes"]:
        print(line)
    print(f"wrote {out}: {package.describe()}, CodeSha256 {package.sha256}")
    print(report.summary)
    if facts["template"]:
        print(facts["template"])
    layers_note = f" Layers={','.join(options.layers)}" if options.layers else ""
    print("next: upload it, then create or update the stack, e.g.\n"
          f"  aws s3 cp {out} s3://BUCKET/KEY\n"
          f"  aws cloudformation deploy --template-file {Path(args.plan) / 'cloudformation.json'} --stack-name NAME "
          "--capabilities CAPABILITY_NAMED_IAM --parameter-overrides ArtifactBucket=BUCKET ArtifactKey=KEY "
          f"Architecture={package.architecture}{layers_note}\n"
          f"  avp-migrate deploy --plan {args.plan} --mode shadow --stack NAME")
    return 0


def _layers(args: argparse.Namespace, arns: tuple[str, ...], architecture: str) -> list[Any]:
    """The layers, checked and downloaded as deploy does (migrate.deploy.package_check.fetch_layers)."""
    if not arns:
        return []
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.deploy.package_check import fetch_layers

    session = AwsSession(AwsTarget(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url))
    account = session.client("sts").get_caller_identity()["Account"]
    return fetch_layers(session.client("lambda"), arns, architecture, account_id=account)
