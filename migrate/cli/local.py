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
    traffic = actions.add_parser(
        "traffic", help="send the demo users' requests through a deployed authorizer (embedded AWS only)",
        description="Ask the embedded AWS started by `avp-migrate local up --seed demo` to send every demo user's "
                    "requests (real sign-in, signed tokens; the client-credentials client too) to every route the "
                    "deployed authorizer serves, as API Gateway would. The authorizer logs its shadow records to its "
                    "log group: `avp-migrate report shadow --plan DIR` then has evidence, and a `cutover` its gate.")
    traffic.add_argument("--plan", required=True, metavar="DIR", help="a deployed plan folder (deployment.json)")
    traffic.add_argument("--rounds", type=int, default=12, metavar="N",
                         help="how many times each caller calls each route (default 12: nine callers, so the 100 "
                              "decisions per route `report shadow` wants by default; at most 100)")
    traffic.add_argument("--local-url", metavar="URL",
                         help="the local services' address (default: AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS, as "
                              "`local up` prints it)")
    traffic.set_defaults(run=run_traffic)


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
        from migrate.embedded import traffic

        aws.local_services.add(traffic.matches, traffic.app(aws, account if args.seed == "demo" else None))
        try:
            # Inside the try: a Ctrl-C as soon as this line is read is still a clean stop.
            print("# embedded AWS running; Ctrl-C to stop", flush=True)
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            print("# stopped", file=sys.stderr)
    return 0


def run_traffic(args: argparse.Namespace) -> int:
    import json
    import os
    import urllib.error
    import urllib.parse
    import urllib.request

    from migrate.deploy.record import load_record
    from migrate.embedded.traffic import MAX_ROUNDS, PATH
    from migrate.errors import UserError

    if not 1 <= args.rounds <= MAX_ROUNDS:
        raise UserError(f"expected 1 to {MAX_ROUNDS}, got {args.rounds}", where="--rounds")
    record = load_record(args.plan)
    base = args.local_url or os.environ.get("AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS") or ""
    host = urllib.parse.urlparse(base).hostname or ""
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise UserError("sends requests only through the embedded AWS (`avp-migrate local up --seed demo`): set "
                        "its environment (AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS) or give --local-url; on AWS, "
                        "your callers are the traffic", where="local traffic")
    request = urllib.request.Request(base.rstrip("/") + PATH, method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"function_name": record.function_name,
                                                               "rounds": args.rounds}).encode())
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message") or exc.reason
        raise UserError(str(message), where=base) from None
    except OSError as exc:
        raise UserError(f"cannot reach the embedded AWS: {exc}", where=base) from None
    if args.format == "json":
        print(json.dumps(answer, indent=2))
        return 0
    print(f"sent {answer['calls']} requests through {record.function_name} ({answer['described']}); shadow "
          f"records in {answer['log_group']}")
    if answer["enforced_by_avp"]:
        print("decided by Verified Permissions (routes in avp): " + ", ".join(
            f"{route} {n}" for route, n in sorted(answer["enforced_by_avp"].items())))
    # FilterLogEvents: the embedded AWS's Logs Insights cannot run the report's queries
    print(f"next: avp-migrate report shadow --plan {args.plan} --out shadow --download --start -1h")
    return 0
