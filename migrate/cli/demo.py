"""`avp-migrate demo`: the whole migration story on the embedded AWS, printing where each output is.

Each step runs the real command (the same code as `avp-migrate <verb>`) against the embedded AWS and shows its
output: scan, plan, verify, deploy in shadow mode, traffic through the deployed authorizer, the shadow report,
a cut-over, a refused cut-over, a rollback, status, and undeploy.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from migrate.errors import UserError

ROUTE_TO_CUT_OVER = "GET /avp"  # the blog post's endpoint
ROUTE_WITHOUT_TRAFFIC = "DELETE /pets/{petId}"  # gets no shadow traffic: not ready, its cut-over is refused
SHADOW_ROUNDS = 3
MIN_DECISIONS = 20  # readiness threshold for the demo's small traffic (the default is 100)


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "demo", help="run the demo migration end to end on the embedded AWS",
        description="Start the embedded AWS, seed the demo account (API MyApi, its user pool, pre-token rules) "
                    "and run the whole migration: scan, plan, verify, deploy in shadow mode, traffic, the shadow "
                    "report, cut-over, rollback, status, undeploy. Outputs go to --out.")
    parser.add_argument("--region", default=argparse.SUPPRESS, help="region of the embedded AWS (default us-east-1)")
    parser.add_argument("--out", default="demo-output", metavar="DIR",
                        help="directory for the demo's outputs (default: ./demo-output; replaced if it exists)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    refuse_account_options(args, "demo")
    from migrate.embedded import EmbeddedAws

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
            _story(aws, out, region)
        finally:
            os.environ.clear()
            os.environ.update(saved_environment)
    print()
    print(f"demo outputs in {out}/:")
    print(f"  {out}/inventory.json              the inventory snapshot (scan)")
    print(f"  {out}/plan/                       the plan: schema, policies/, authorizer-config.json, "
          "cloudformation.json")
    print(f"  {out}/plan/report.html            the migration plan report (also report.md, routes.csv, report.json)")
    print(f"  {out}/shadow/shadow-report.html   the shadow report (also .md, .csv, .json)")
    hint = path_hint()
    if hint:
        print(hint)
    return 0


def path_hint(executable: str | None = None, path: str | None = None) -> str | None:
    """How to run `avp-migrate` by name, when the folder holding it (the venv `make demo` made) is not on PATH."""
    folder = Path(executable or sys.argv[0] or sys.executable).resolve().parent
    on_path = (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep)
    if any(entry and Path(entry).resolve() == folder for entry in on_path):
        return None
    return (f"\nto run avp-migrate yourself (the README's examples): export PATH=\"{folder}:$PATH\" (or "
            f"`source {folder}/activate`)")


def _story(aws: Any, out: Path, region: str) -> None:
    from migrate.deploy.record import load_record
    from migrate.embedded.functions import LocalAuthorizerFunction, demo_traffic
    from migrate.embedded.seed import seed_demo

    _quiet_embedded_trigger()
    _step(1, "embedded AWS", [f"moto on {aws.moto_url}, Verified Permissions on {aws.avp_url}"])
    account = seed_demo(region=region)
    _step(2, "seed the demo account", account.describe())
    inventory, plan, shadow = out / "inventory.json", out / "plan", out / "shadow"
    _step(3, "scan", _cli("scan", "--api-id", account.api_id, "--stage", account.stage, "--all-users",
                          "--no-progress", "--out", str(inventory)))
    _step(4, "tokens the demo pool issues today (pre-token trigger applied, signatures verified)",
          _token_scopes(aws, account))
    _step(5, "plan", _cli("plan", str(inventory), "--out", str(plan)))
    _step(6, "verify", _cli("verify", str(inventory), "--plan", str(plan)))

    from migrate.deploy.smoke import PASSWORD_ENV
    from migrate.embedded.seed import DEMO

    layer = _dependencies_layer()
    # The smoke test signs every demo user in (the password is read from the environment, as on a real account).
    os.environ[PASSWORD_ENV] = account.password
    smoke_users = [argument for user in DEMO.users for argument in ("--smoke-user", user.username)]
    lines = _cli("deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer", layer,
                 *smoke_users, "--yes")
    changes = [line for line in lines if line.split(" ", 1)[0] in {"create", "update", "delete"}]
    _step(7, "deploy --mode shadow", [*[line for line in lines if line.startswith("gate:")],
                                      f"{len(changes)} changes, among them:",
                                      *[line for line in changes if "lambda function" in line or "authorizer" in line
                                        or line.startswith("update apigateway method GET /avp")],
                                      *[line for line in lines if line.startswith("note: package check")],
                                      *[line for line in lines if "smoke test" in line and not
                                        line.startswith("check ")], lines[-1]])

    function = LocalAuthorizerFunction(aws, load_record(plan).function_name)
    traffic = demo_traffic(function, account, rounds=SHADOW_ROUNDS, skip_routes=(ROUTE_WITHOUT_TRAFFIC,))
    _step(8, "traffic through the deployed authorizer (shadow mode everywhere)", [
        f"{traffic.calls} requests from every demo user and the client-credentials client, {SHADOW_ROUNDS} rounds, "
        f"none to {ROUTE_WITHOUT_TRAFFIC}: " + traffic.describe(),
        "(the authorizer's code runs in this process: moto stores Lambda functions but cannot invoke them; its "
        "log lines go to its CloudWatch log group)"])
    _step(9, "report shadow", _cli("report", "shadow", "--plan", str(plan), "--download", "--out", str(shadow),
                                   "--min-decisions", str(MIN_DECISIONS)))
    evidence = str(shadow / "shadow-report.json")
    _step(10, f"cutover {ROUTE_TO_CUT_OVER}", _cli("cutover", ROUTE_TO_CUT_OVER, "--plan", str(plan), "--evidence",
                                                  evidence, "--yes"))
    _step(11, f"cutover {ROUTE_WITHOUT_TRAFFIC} (not ready)",
          _cli("cutover", ROUTE_WITHOUT_TRAFFIC, "--plan", str(plan), "--evidence", evidence, "--yes"))
    # A warm authorizer picks the new mode document up within 30 s; a new execution environment (cold start)
    # reads it at once, which is what the demo does rather than wait.
    function.close()
    function = LocalAuthorizerFunction(aws, load_record(plan).function_name)
    after = demo_traffic(function, account, rounds=1, skip_routes=(ROUTE_WITHOUT_TRAFFIC,))
    _step(12, f"traffic after the cut-over (a new execution environment of the authorizer): {ROUTE_TO_CUT_OVER} "
              "is decided by Verified Permissions",
          [f"{after.calls} requests: " + after.describe(),
           "answers decided by Verified Permissions (mode avp): "
           + (", ".join(f"{route}: {n}" for route, n in sorted(after.enforced_by_avp.items())) or "none")])
    _step(13, f"rollback {ROUTE_TO_CUT_OVER}", _cli("rollback", ROUTE_TO_CUT_OVER, "--plan", str(plan), "--yes"))
    _step(14, "status", _cli("status", "--plan", str(plan), "--evidence", evidence))
    function.close()
    lines = _cli("undeploy", "--plan", str(plan), "--yes")
    after_undeploy = out / "inventory-after-undeploy.json"
    _cli("scan", "--api-id", account.api_id, "--stage", account.stage, "--all-users", "--no-progress", "--out",
         str(after_undeploy))
    same = _stable(inventory) == _stable(after_undeploy)
    _step(15, "undeploy", [lines[-1], f"a scan after undeploy {'equals' if same else 'DIFFERS FROM'} the scan before "
                                     "deploy"])


def _cli(*argv: str) -> list[str]:
    """Run one avp-migrate command in this process, as from a shell; its output as lines (errors included)."""
    from migrate.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(list(argv))
    lines = (stdout.getvalue() + stderr.getvalue()).splitlines()
    return [*lines, f"(exit {code})"] if code else lines


def _stable(path: Path) -> Any:
    import json

    data = json.loads(path.read_text())
    for volatile in ("created_at", "provenance"):
        data.pop(volatile, None)
    return data


def _dependencies_layer() -> str:
    """The authorizer's dependencies as a Lambda layer in the embedded account (`deploy --dependencies layers`):
    built with pip for Lambda's platform once, then kept (AVP_MIGRATE_CACHE, else ~/.cache/avp-migrate), so only
    the first demo on a machine needs PyPI. deploy checks that the handler imports with it."""
    import boto3

    from migrate.deploy.package import default_cache_dir, layer_zip

    return boto3.client("lambda").publish_layer_version(
        LayerName="avp-migrate-demo-authorizer-deps", Content={"ZipFile": layer_zip(cache_dir=default_cache_dir())},
        CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])["LayerVersionArn"]


def _quiet_embedded_trigger() -> None:
    """The pre-token trigger runs in this process and logs each sign-in to stdout, as it would to its log group;
    the demo shows the migration, not those lines."""
    from pretoken_lambda.handler import _get_logger

    _get_logger().setLevel("WARNING")


def _token_scopes(aws: Any, account: Any) -> list[str]:
    """Each demo user's access-token scopes after sign-in, and the machine client's: what the scope regime sees."""
    from migrate.embedded.seed import DEMO

    lines = []
    for user in DEMO.users:
        scopes = aws.verified_claims(account.sign_in(user.username)["access"])["scope"].split()
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
    print(f"[{number}] {title}", flush=True)
    for line in lines:
        print(f"    {line.rstrip()}")
