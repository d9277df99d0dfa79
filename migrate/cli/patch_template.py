"""`avp-migrate patch-template`: the plan's methods moved onto the avp-migrate authorizer in the team's own template,
as a unified diff (stdout, or --out FILE); the template itself is never written. CDK output gets guidance instead.

Offline: it reads the plan folder and the template, and calls no AWS API.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from migrate.errors import UserError


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "patch-template", parents=[common],
        help="write the change to your API template (SAM, CloudFormation, OpenAPI body) as a diff to review",
        description="Print a unified diff (apply with `patch -p1` or `git apply`) that moves the plan's migrated "
                    "methods of your own API template onto the avp-migrate Lambda authorizer, in shadow: SAM events "
                    "get Auth.Authorizer, AWS::ApiGateway::Method resources AuthorizationType CUSTOM and AuthorizerId, "
                    "OpenAPI bodies a custom security scheme and the operations' security. Blocked routes are never "
                    "moved. The authorizer function is imported from the migration stack (the plan's "
                    "cloudformation.json). For a CDK template (cdk.out), it prints the construct calls to change. "
                    "The template is not modified.")
    parser.add_argument("--plan", required=True, metavar="DIR", help="the plan folder `avp-migrate plan` wrote")
    parser.add_argument("--template", required=True, metavar="FILE",
                        help="your API's template (the one `scan --template` read for this plan)")
    parser.add_argument("--endpoint", action="append", default=[], metavar="ROUTE",
                        help="move only this route, e.g. 'GET /pets' (repeatable; default: every migrated route)")
    parser.add_argument("--ttl", type=int, default=300, metavar="SECONDS",
                        help="API Gateway's authorizer result cache, 0-3600 (default 300)")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="a value the template needs, as `scan --template --parameter` took it (repeatable)")
    parser.add_argument("--out", metavar="FILE", help="write the diff to FILE instead of printing it")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from migrate.fileio import atomic_write_text
    from migrate.iac.patch_template import patch_template
    from migrate.scan.iac import parse_parameters

    result = patch_template(args.plan, args.template, endpoints=tuple(args.endpoint), ttl=args.ttl,
                            parameters=parse_parameters(args.parameter))
    if args.out and result.form != "CDK":
        out = Path(args.out)
        if out.resolve() == Path(args.template).resolve():
            raise UserError("is the template: the template is never modified; write the diff elsewhere",
                            where="--out")
        atomic_write_text(out, result.diff)
    if args.format == "json":
        print(json.dumps({"form": result.form, "file": result.display_name, "moved": result.moved,
                          "already_moved": result.already, "skipped": result.skipped,
                          "diff": None if args.out else result.diff, "out": args.out,
                          "guidance": result.guidance or None, "notes": result.notes}, indent=2))
        return 0
    # The diff alone on stdout (so `... | patch -p1` works); what to know about it on stderr, or stdout with --out.
    notes = sys.stdout if args.out or result.form == "CDK" else sys.stderr
    if result.form == "CDK":
        print(result.guidance)
    elif not args.out:
        sys.stdout.write(result.diff)
    summary = [f"{result.form} template {result.display_name}: "
               + (f"{len(result.moved)} method(s) to move: {', '.join(result.moved)}" if result.moved
                  else "no method to change")]
    if args.out and result.form != "CDK":
        summary.append(f"wrote {args.out}: apply it from the directory the path {result.display_name} is relative to: "
                       f"patch -p1 < {args.out}  (or git apply {args.out})")
    summary += [f"already on the avp-migrate authorizer: {route}" for route in result.already]
    summary += [f"skipped {route}: {why}" for route, why in result.skipped.items()]
    summary += result.notes
    print("\n".join(summary), file=notes)
    return 0
