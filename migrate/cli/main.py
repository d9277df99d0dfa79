"""The `avp-migrate` command line: global options, one module per verb, exit codes a CI can use.

Exit codes: 0 success; 1 error (one line on stderr, no stack trace for anything the user can fix);
2 "differences or changes found" for the verbs where that applies (verify, deploy --dry-run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from migrate import __version__
from migrate.awsconfig import describe_aws_error
from migrate.errors import ExitCode, Interrupted, UserError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = ExitCode.OK, ExitCode.ERROR, ExitCode.DIFFERENCES


def _global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    """AWS CLI style options, accepted before or after the verb."""
    default = argparse.SUPPRESS if suppress_defaults else None
    group = parser.add_argument_group("AWS options (as the AWS CLI)")
    group.add_argument("--profile", default=default, help="named profile from your AWS config")
    group.add_argument("--region", default=default, help="AWS region (default: from the profile or environment)")
    group.add_argument("--endpoint-url", default=default, metavar="URL",
                       help="send every AWS call to URL (a service-specific AWS_ENDPOINT_URL_<SERVICE> still wins)")
    output = parser.add_argument_group("output")
    output.add_argument("--format", choices=["text", "json"], default=argparse.SUPPRESS if suppress_defaults
                        else "text", help="output format for data (default: text)")


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; here 2 means "differences or changes found", so a usage error is an
    error like any other: exit 1 (as Terraform does), with argparse's usage line and message."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.ERROR), f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from migrate.cli import cutover, demo, deploy, iam_policy, local, plan, probe, report, scan, verify

    parser = Parser(
        prog="avp-migrate",
        description="Move API Gateway REST APIs from Cognito OAuth scopes to Cedar policies in Amazon Verified "
                    "Permissions, without anyone gaining or losing access by accident.",
    )
    parser.add_argument("--version", action="version", version=f"avp-migrate {__version__}")
    _global_options(parser, suppress_defaults=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress_defaults=True)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (scan, plan, verify, deploy, report, local, demo, probe, cutover, iam_policy):
        module.register(verbs, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command_line = list(sys.argv[1:] if argv is None else argv)  # for "to continue, run ..." after Ctrl-C
    try:
        return int(args.run(args) or EXIT_OK)
    except UserError as exc:
        print(f"avp-migrate: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        detail = exc.message if isinstance(exc, Interrupted) else ""
        print("avp-migrate: interrupted" + (f": {detail}" if detail else ""), file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        # A botocore failure that escaped a command's own handling is still the user's to fix (credentials,
        # permissions); anything else is our bug and keeps its traceback.
        user_error = describe_aws_error(exc, what=args.command)
        if user_error is None:
            raise
        print(f"avp-migrate: error: {user_error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
