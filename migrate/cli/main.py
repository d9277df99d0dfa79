"""The `avp-migrate` command line: global options, one module per verb, exit codes a CI can use.

Exit codes (:class:`migrate.errors.ExitCode`): 0 success; 1 error, usage errors included (one line on stderr, no
stack trace for anything the user can fix; with --output json, a JSON object ``{"error", "where"}``); 2 "differences
or changes found" where that applies (verify, --dry-run, status drift); 3 unproven (verify); 130 interrupted.
A closed stdout (``| head``) changes none of them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from migrate import __version__
from migrate.awsconfig import describe_aws_error
from migrate.errors import ExitCode, Interrupted, UserError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = ExitCode.OK, ExitCode.ERROR, ExitCode.DIFFERENCES
OUTPUTS = ("text", "json", "table")
# Options that take a time, which may be relative and written with a minus ("--start -24h"): argparse would take
# "-24h" for an option of its own (only negative numbers are exempt), so main() joins them ("--start=-24h") first.
TIME_OPTIONS = ("--start", "--end")
RELATIVE_TIME = re.compile(r"^-\d+[smhdw]$")  # as reports.shadow_window.parse_time reads them


def _global_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    """AWS CLI style options, accepted before or after the verb."""
    default = argparse.SUPPRESS if suppress_defaults else None
    group = parser.add_argument_group("AWS options (as the AWS CLI)")
    group.add_argument("--profile", default=default, help="named profile from your AWS config")
    group.add_argument("--region", default=default, help="AWS region (default: from the profile or environment)")
    group.add_argument("--endpoint-url", default=default, metavar="URL",
                       help="send every AWS call to URL (a service-specific AWS_ENDPOINT_URL_<SERVICE> still wins)")
    _output_option(parser, suppress_defaults=suppress_defaults)


def _output_option(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    output = parser.add_argument_group("output")
    # --output as the AWS CLI spells it; --format, the older spelling, stays an alias. "table" draws tables where a
    # command's output is tabular (verify, status) and is text elsewhere.
    output.add_argument("--output", "--format", dest="format", choices=OUTPUTS,
                        default=argparse.SUPPRESS if suppress_defaults else "text",
                        help="output format: text (default), json, or table (as the AWS CLI's --output)")


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on a usage error; here 2 means "differences or changes found", so a usage error is an
    error like any other: exit 1 (as Terraform does), with argparse's usage line and message."""

    json_errors = False  # set by main() from the command line: --output json makes errors JSON too

    def error(self, message: str) -> NoReturn:
        if Parser.json_errors:
            self.exit(int(ExitCode.ERROR), _json_error(message, self.prog) + "\n")
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.ERROR), f"{self.prog}: error: {message}\n")


def _json_error(message: str, where: str | None) -> str:
    return json.dumps({"error": message, "where": where})


def _message_and_where(exc: UserError) -> tuple[str, str | None]:
    message = getattr(exc, "message", None)
    if not isinstance(message, str):  # a subclass that does not pass through UserError.__init__
        return str(exc), None
    return message, exc.where


def _join_relative_times(argv: Sequence[str]) -> list[str]:
    joined: list[str] = []
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            joined.extend(argv[index:])
            break
        if arg in TIME_OPTIONS and index + 1 < len(argv) and RELATIVE_TIME.match(argv[index + 1]):
            joined.append(f"{arg}={argv[index + 1]}")
            index += 2
            continue
        joined.append(arg)
        index += 1
    return joined


def _wants_json(argv: Sequence[str]) -> bool:
    """--output json (or --format json) anywhere on the command line, read before argparse so that a usage error
    is JSON as well."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in ("--output", "--format") and index + 1 < len(argv):
            if argv[index + 1] == "json":
                return True
        elif arg in ("--output=json", "--format=json"):
            return True
    return False


class _ClosedPipeGuard:
    """stdout for one command: when the reader goes away (`avp-migrate ... | head`), the rest of the output is
    dropped and the command finishes with the exit code it would have had, without a BrokenPipeError traceback.

    Python's recipe (docs, signal module, "Note on SIGPIPE"): point stdout's descriptor at devnull, so that the
    interpreter's final flush does not fail again."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._broke()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._broke()

    def _broke(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation, AttributeError):
            pass  # not a real file (a test's capture): nothing more will be written to it anyway

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def build_parser() -> argparse.ArgumentParser:
    from migrate.cli import (
        cutover,
        demo,
        deploy,
        iam_policy,
        local,
        package,
        patch_template,
        plan,
        probe,
        report,
        scan,
        verify,
    )

    parser = Parser(
        prog="avp-migrate",
        description="Move API Gateway REST APIs from Cognito OAuth scopes to Cedar policies in Amazon Verified "
                    "Permissions, without anyone gaining or losing access by accident.",
    )
    parser.add_argument("--version", action="version", version=f"avp-migrate {__version__}")
    _global_options(parser, suppress_defaults=False)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress_defaults=True)
    # Commands that never call AWS take only --output: no --profile/--region/--endpoint-url to suggest otherwise.
    offline = argparse.ArgumentParser(add_help=False)
    _output_option(offline, suppress_defaults=True)
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (scan, plan, verify, package, patch_template, deploy, report, local, demo, probe, cutover,
                   iam_policy):
        module.register(verbs, offline if module in (plan, verify, patch_template) else common)
    return parser


OFFLINE_COMMANDS = ("plan", "verify", "patch-template")
AWS_OPTIONS = (("profile", "--profile"), ("region", "--region"), ("endpoint_url", "--endpoint-url"))


def refuse_unused_aws_options(args: argparse.Namespace) -> None:
    """An AWS option given before a verb that never calls AWS (or `report shadow` reading only files) would be
    silently ignored: say so instead."""
    given = [flag for name, flag in AWS_OPTIONS if getattr(args, name, None) is not None]
    if not given:
        return
    if args.command in OFFLINE_COMMANDS:
        raise UserError(f"{args.command} never calls AWS: {', '.join(given)} would have no effect", where=given[0])
    if args.command == "report" and getattr(args, "files", None) and not getattr(args, "log_group", None):
        raise UserError(f"report shadow --files reads only files: {', '.join(given)} would have no effect (AWS "
                        "options go with --log-group or --plan, which read CloudWatch Logs)", where=given[0])


def main(argv: Sequence[str] | None = None) -> int:
    guard = _ClosedPipeGuard(sys.stdout)
    sys.stdout = guard
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
        guard.flush()
        return code
    finally:
        if sys.stdout is guard:
            sys.stdout = guard.stream


def _main(argv: list[str]) -> int:
    argv = _join_relative_times(argv)
    as_json = _wants_json(argv)
    Parser.json_errors = as_json
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    finally:
        Parser.json_errors = False
    args.command_line = argv  # for "to continue, run ..." after Ctrl-C
    as_json = getattr(args, "format", "text") == "json"

    def error(message: str, where: str | None) -> None:
        if as_json:
            print(_json_error(message, where), file=sys.stderr)
        else:
            print(f"avp-migrate: error: {f'{where}: ' if where else ''}{message}", file=sys.stderr)

    try:
        refuse_unused_aws_options(args)
        return int(args.run(args) or EXIT_OK)
    except UserError as exc:
        error(*_message_and_where(exc))
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        detail = exc.message if isinstance(exc, Interrupted) else ""
        if as_json:
            print(_json_error("interrupted" + (f": {detail}" if detail else ""), args.command), file=sys.stderr)
        else:
            print("avp-migrate: interrupted" + (f": {detail}" if detail else ""), file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        # A botocore failure that escaped a command's own handling is still the user's to fix (credentials,
        # permissions); anything else is our bug and keeps its traceback.
        user_error = describe_aws_error(exc, what=args.command)
        if user_error is None:
            raise
        error(*_message_and_where(user_error))
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
