"""`avp-migrate verify`: prove the Cedar policies decide as the scope regime does, or name who gains and loses.

Exit codes: 0 equivalent, 2 differences found, 1 error.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from migrate.inventory import load_inventory

EXIT_DIFFERENCES = 2


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "verify", parents=[common], help="check a plan's policies against today's scope behaviour (Cedar engine)",
        description="Evaluate both regimes for every route and every principal class (each group combination "
                    "real users have, each group alone, a user in no group, each user a per-user or attribute rule "
                    "touches, each client-credentials client; every token each can obtain) and compare. Exit 0 "
                    "when equivalent, 2 when anyone gains or loses access, 1 on error. Offline.")
    parser.add_argument("inventory", metavar="INVENTORY", help="the snapshot to check against (today's regime)")
    parser.add_argument("--plan", metavar="DIR",
                        help="the plan folder to check (its schema.json and policies/*.cedar, as edited); "
                             "default: translate the snapshot afresh and check that")
    parser.add_argument("--api-id", help="the API, when the snapshot holds several (default: the plan's)")
    parser.add_argument("--user-pool", metavar="POOL_ID", help="the user pool (default: the plan's)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from migrate.plan import check
    from migrate.plan_files import check_plan_folder
    from migrate.translate import translate

    inventory = load_inventory(args.inventory)
    if args.plan:
        result = check_plan_folder(inventory, args.plan, api_id=args.api_id, pool_id=args.user_pool)
    else:
        result = check(translate(inventory, api_id=args.api_id, pool_id=args.user_pool))
    if args.format == "json":
        print(json.dumps({
            "equivalent": result.equivalent,
            "differences": [asdict(d) for d in result.differences],
            "token_mismatches": [asdict(m) for m in result.token_mismatches],
            "classes": len(result.classes), "routes": len(result.routes), "decisions": result.decisions,
            "requests": result.requests, "seconds": round(result.seconds, 3)}, indent=2))
    else:
        print(render(result))
    return 0 if result.equivalent else EXIT_DIFFERENCES


def render(result: Any) -> str:
    actions = sum(len(r.actions) for r in result.routes)
    lines = [f"checked {len(result.classes)} principal classes x {actions} route actions ({len(result.routes)} routes):"
             f" {result.decisions} Cedar decisions for {result.requests} requests in {result.seconds:.2f} s"]
    if result.equivalent:
        lines.append("equivalent: every principal class can call exactly the routes it can call today")
    else:
        lines.append(f"NOT equivalent: {len(result.differences)} differences")
        for diff in result.differences:
            examples = f" (e.g. {', '.join(diff.examples[:5])})" if diff.examples else " (no such user today)"
            if diff.direction == "loses":
                how = f"today through {', '.join(diff.scopes)} via {', '.join(diff.flows[:3])}"
            else:
                how = f"allowed by {', '.join(diff.policies)}"
            lines.append(f"  {diff.direction.upper():5} {diff.route} [{diff.verb}]: {diff.principal_label}{examples}; "
                         f"{how}")
    if result.token_mismatches:
        lines.append(f"{len(result.token_mismatches)} tokens are decided differently although their principal class "
                     "agrees (shadow mode will show them):")
        lines += [f"  {m.route} [{m.verb}] {m.principal} via {m.flow}: today {'allow' if m.today else 'deny'}, "
                  f"after {'allow' if m.after else 'deny'}" for m in result.token_mismatches[:20]]
    return "\n".join(lines)
