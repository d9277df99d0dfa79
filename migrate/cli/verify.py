"""`avp-migrate verify`: prove the Cedar policies decide as the scope regime does, or name who gains and loses.

Exit codes (:class:`migrate.errors.ExitCode`): 0 equivalent, 2 differences found, 3 unproven (no difference
found, but the snapshot does not show every principal: the output says what is missing), 1 error.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from migrate.errors import ExitCode, UserError
from migrate.fileio import atomic_write_bytes
from migrate.inventory import load_inventory

EXIT_DIFFERENCES = ExitCode.DIFFERENCES
EXITS = {"equivalent": ExitCode.OK, "differences": ExitCode.DIFFERENCES, "unproven": ExitCode.UNPROVEN}
REAL_SHOWN = 50  # differences that reach real users, shown before "... and N more" (the console stays readable)
HYPOTHETICAL_SHOWN = 10  # differences for principals no real user is today, shown before "... and N more"


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "verify", parents=[common], help="check a plan's policies against today's scope behaviour (Cedar engine)",
        description="Evaluate both regimes for every route and every principal class (each group alone, the "
                    "group combinations conditions make matter, a user in no group, each user a per-user or "
                    "attribute rule touches, each client-credentials client; every token each can obtain; every "
                    "real user through the classes of their groups) and compare. Exit 0 "
                    "when equivalent, 2 when anyone gains or loses access, 3 when the snapshot does not show "
                    "every principal (unproven: the output says what is missing), 1 on error. Offline.")
    parser.add_argument("inventory", metavar="INVENTORY", help="the snapshot to check against (today's regime)")
    parser.add_argument("--plan", metavar="DIR",
                        help="the plan folder to check (its schema.json and policies/*.cedar, as edited); "
                             "default: translate the snapshot afresh and check that")
    parser.add_argument("--api-id", help="the API, when the snapshot holds several (default: the plan's)")
    parser.add_argument("--user-pool", metavar="POOL_ID", help="the user pool (default: the plan's)")
    parser.add_argument("--write-acceptance", metavar="FILE",
                        help="with --plan, when the plan is not proven equivalent: write what verify found (the "
                             "differences, or why it is unproven) with the hashes of the files it read, for "
                             "`deploy --accept FILE --reason TEXT`")
    parser.add_argument("--users", metavar="FILE",
                        help="also write every real user by name, gzip-compressed JSON lines: per route who can call "
                             "it today and after, per difference everyone it reaches (the console and --output json "
                             "give counts and a few examples)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from migrate.plan import check
    from migrate.plan_folder import PlanFolder, warn_if_changed
    from migrate.plan_proof import prove
    from migrate.translate import translate

    if args.write_acceptance and not args.plan:
        raise UserError("an acceptance is about a plan folder: add --plan DIR", where="--write-acceptance")
    if args.users and not Path(args.users).parent.is_dir():
        raise UserError(f"directory does not exist: {Path(args.users).parent}", where="--users")  # before the work
    inventory = load_inventory(args.inventory)
    proof = None
    if args.plan:
        proof = prove(PlanFolder.open(args.plan), inventory, api_id=args.api_id, pool_id=args.user_pool,
                      users_detail=bool(args.users))
        # After the proof: an error stays one line, naming the file at fault.
        warn_if_changed(args.plan, without_manifest=True)
        result, status, reasons = proof.result, proof.status, proof.unproven_reasons
    else:
        result = check(translate(inventory, api_id=args.api_id, pool_id=args.user_pool), users_detail=bool(args.users))
        reasons = list(result.unproven_reasons)
        status = result.verdict
    accepted = _acceptance(args, proof)
    if args.users:
        write_users(args.users, result)
    if args.format in ("json", "table"):
        data = {
            "verdict": status, "equivalent": status == "equivalent", "unproven_reasons": reasons,
            "coverage": result.coverage, "acceptance": accepted,
            "differences": [asdict(d) for d in result.differences],
            "token_mismatches": [asdict(m) for m in result.token_mismatches],
            "classes": len(result.classes), "tokens": result.tokens, "routes": len(result.routes),
            "populations": {"combinations": result.populations, "users": result.population_users},
            "decisions": result.decisions, "requests": result.requests, "seconds": round(result.seconds, 3)}
        if args.format == "table":
            from migrate.cli.tables import verify_table

            print(verify_table(data))
        else:
            print(json.dumps(data, indent=2))
    else:
        print(render(result, reasons=reasons))
        if accepted:
            print(f"wrote {accepted}: deploy this plan as it is with `avp-migrate deploy --plan {args.plan} "
                  f"--accept {accepted} --reason TEXT` (refused if anything changes meanwhile)")
    return int(EXITS[status])


def write_users(path: str, result: Any) -> None:
    """``--users``: one JSON object per line, gzip-compressed, written whole or not at all. Lines:
    ``{"route", "users_today": [...], "users_after": [...]}`` for each migrated route, then
    ``{"difference": {route, verb, direction, mode, principal}, "users": [...]}`` for each difference."""
    lines = [json.dumps({"route": route, "users_today": today, "users_after": after}, ensure_ascii=False)
             for route, (today, after) in (result.route_users or {}).items()]
    lines += [json.dumps({"difference": {"route": d.route, "verb": d.verb, "direction": d.direction, "mode": d.mode,
                                         "principal": d.principal}, "users": users}, ensure_ascii=False)
              for d, users in zip(result.differences, result.difference_users or [], strict=True)]
    atomic_write_bytes(path, gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))


def _acceptance(args: argparse.Namespace, proof: Any) -> str | None:
    if not args.write_acceptance:
        return None
    if proof.status == "equivalent":
        print(f"note: the plan is proven equivalent: nothing to accept, {args.write_acceptance} not written",
              file=sys.stderr)
        return None
    from migrate.acceptance import write_acceptance

    write_acceptance(args.write_acceptance, proof, plan=args.plan)
    return str(args.write_acceptance)


def render(result: Any, *, reasons: list[str] | None = None) -> str:
    reasons = list(result.unproven_reasons) if reasons is None else list(reasons)
    actions = sum(len(r.actions) for r in result.routes)
    lines = [f"checked {len(result.classes)} principal classes ({result.tokens} tokens) x {actions} route actions "
             f"({len(result.routes)} routes): {result.decisions} Cedar decisions for {result.requests} requests in "
             f"{result.seconds:.2f} s"]
    if result.coverage:
        lines.append(f"space: {result.coverage}")
    if result.populations:
        lines.append(f"users: {result.population_users:,} users in {result.populations:,} other group combinations, "
                     "each decided through the classes of its groups (allowed exactly when one of them is)")
    if result.differences:
        lines.append(f"NOT equivalent: {len(result.differences)} differences")
        # Differences for real users first; those for principals nobody is today (a group combination, a named
        # user in another group) after them, capped: --format json lists every one.
        real = [d for d in result.differences if d.examples]
        hypothetical = [d for d in result.differences if not d.examples]
        for diff in real[:REAL_SHOWN] + hypothetical[:HYPOTHETICAL_SHOWN]:
            lines.append(_difference_line(diff))
        if len(real) > REAL_SHOWN:
            lines.append(f"  ... and {len(real) - REAL_SHOWN} more that reach real users "
                         "(--format json lists them all)")
        if len(hypothetical) > HYPOTHETICAL_SHOWN:
            lines.append(f"  ... and {len(hypothetical) - HYPOTHETICAL_SHOWN} more for principals no user is today "
                         "(--format json lists them all)")
    elif reasons:
        lines.append("UNPROVEN: no difference found, but the check did not cover every possible principal:")
    else:
        lines.append("equivalent: every principal class can call exactly the routes it can call today, "
                     "with every token it can obtain")
    if reasons:
        if result.differences:
            lines.append("also unproven beyond these differences:")
        lines += [f"  - {reason}" for reason in reasons]
    return "\n".join(lines)


def _difference_line(diff: Any) -> str:
    count = f"; {diff.users:,} users" if diff.users > min(len(diff.examples), 5) else ""
    examples = f" (e.g. {', '.join(diff.examples[:5])}{count})" if diff.examples else " (no such user today)"
    if diff.direction == "loses":
        how = f"today through {', '.join(diff.scopes) or 'its token'} via {', '.join(diff.flows[:3])}"
    else:
        how = f"via {', '.join(diff.flows[:3])}"
    more = f" (+{len(diff.flows) - 3} more)" if len(diff.flows) > 3 else ""
    mode = " in scope/shadow mode" if diff.mode == "scope" else ""
    return (f"  {diff.direction.upper():5} {diff.route} [{diff.verb}]{mode}: {diff.principal_label}{examples}; "
            f"{how}{more}; why: {diff.why}")
