"""`avp-migrate local up`: run the embedded AWS on loopback until interrupted."""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from typing import Any

from migrate.embedded.server import DEFAULT_PORT


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "local", help="the embedded AWS (moto + a local Verified Permissions endpoint)",
        description="Run an AWS you can use with no account: moto's server and avp-migrate's local services "
                    "(Verified Permissions, the Cognito token endpoint) on 127.0.0.1.")
    actions = parser.add_subparsers(dest="local_action", metavar="ACTION", required=True)
    up = actions.add_parser(
        "up", help="start the embedded AWS and print the environment that points at it",
        description="Start moto's server on --port and the local services on --port + 1, print `export` lines "
                    "for the standard AWS SDK variables, and run until interrupted (Ctrl-C). For example: "
                    "`avp-migrate local up --seed demo > local.env &` then `. <(grep ^export local.env)` in the "
                    "shell that should use it.")
    up.add_argument("--region", default=argparse.SUPPRESS, help="region of the embedded AWS (default us-east-1)")
    up.add_argument("--port", type=_port, default=DEFAULT_PORT,
                    help=f"port for moto (default {DEFAULT_PORT}); the local services use port + 1; 0: free ports, "
                         "printed")
    up.add_argument("--seed", choices=["demo"], help="create the demo account (API MyApi, its user pool, ...)")
    up.set_defaults(run=run_up)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65534:  # the local services listen on port + 1
        raise argparse.ArgumentTypeError(f"not a port number: {port} (0 for free ports, or 1 to 65534)")
    return port


def run_up(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    from migrate.cli.demo import refuse_account_options
    from migrate.embedded import EmbeddedAws

    refuse_account_options(args, "local up")
    region = args.region or "us-east-1"
    with EmbeddedAws(port=args.port, region=region) as aws:
        for name, value in aws.environment().items():
            print(f"export {name}={shlex.quote(value)}")
        print(f"# ports: {aws.moto_port} (moto: {aws.moto_url}), {aws.local_port} (local services: {aws.local_url})")
        if args.seed == "demo":
            from migrate.embedded.seed import seed_demo

            aws.apply_environment()
            account = seed_demo(region=region)
            for line in account.describe():
                print(f"# {line}")
        try:
            # Inside the try: a Ctrl-C as soon as this line is read is still a clean stop.
            print("# embedded AWS running; Ctrl-C to stop", flush=True)
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            print("# stopped", file=sys.stderr)
    return 0
