"""`avp-migrate plan`: the Cedar schema, policies, authorizer config and the migration plan report."""

from __future__ import annotations

import argparse
import json
from typing import Any

from migrate.inventory import load_inventory


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "plan", parents=[common], help="translate an inventory to Cedar and write the migration plan",
        description="Translate the scope regime of one API in an inventory snapshot to a Cedar schema, "
                    "group-based policies and an authorizer configuration; check them with the Cedar engine against "
                    "today's behaviour; write everything, with the migration plan report, to --out. Offline.")
    parser.add_argument("inventory", metavar="INVENTORY", help="the snapshot `avp-migrate scan` wrote")
    parser.add_argument("--out", required=True, metavar="DIR", help="the plan folder (replaced if it holds a plan)")
    parser.add_argument("--api-id", help="the API to plan, when the snapshot holds several")
    parser.add_argument("--user-pool", metavar="POOL_ID",
                        help="the user pool to plan, when the API's methods use several (one policy store each)")
    parser.add_argument("--layout", choices=["scopes", "groups"], default="scopes",
                        help="scopes (default): one policy per rule over scope action groups; groups: the AVP "
                             "console's layout, one policy per group listing its actions")
    parser.add_argument("--store-layout", choices=["auto", "actions", "routes"], default="auto",
                        help="how requests reach Verified Permissions: actions (the console's, one Cedar action per "
                             "method), routes (each method a resource, member of its scopes; the schema does not "
                             "grow with the API), or auto (default): actions while its schema fits AVP's quota")
    parser.add_argument("--tighten", action="store_true",
                        help="drop the access app clients give any user through the hosted UI (latent exposure); "
                             "the plan then names who loses what")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from migrate.plan import check, write_plan
    from migrate.translate import translate

    inventory = load_inventory(args.inventory)
    translation = translate(inventory, api_id=args.api_id, pool_id=args.user_pool, layout=args.layout,
                            tighten=args.tighten, store_layout=args.store_layout)
    result = check(translation)
    document = write_plan(translation, result, args.out, inventory=inventory, inventory_path=args.inventory)
    if args.format == "json":
        print(json.dumps(facts(document, args.out, iac=_template_note(args.out)), indent=2))
    else:
        print(render(document, args.out, iac=_template_note(args.out)))
    return 0


def facts(document: dict[str, Any], out: str, iac: str | None = None) -> dict[str, Any]:
    """Every fact the text output gives, as data (`--output json`)."""
    return {
        "plan": out, "api": document["api"], "user_pool": document["user_pool"], "namespace": document["namespace"],
        "layout": document["layout"], "store_layout": document.get("store_layout", "actions"),
        "policies": len(document["policies"]), "summary": document["summary"], "equivalence": document["equivalence"],
        "differences": len(document["differences"]),
        "findings": [{"severity": f["severity"], "code": f.get("code"), "message": f["message"]}
                     for f in document["findings"]],
        "files": {"report": [f"{out}/report.md", f"{out}/report.html"], "cloudformation": f"{out}/cloudformation.json"},
        "iac": iac, "next_steps": list(document["next_steps"]),
    }


def _template_note(out: str) -> str:
    """How the plan's CloudFormation template reaches CloudFormation (inline, S3, nested stacks)."""
    from pathlib import Path

    from migrate.translate.cloudformation import size_note

    files = {p.name: p.read_text(encoding="utf-8") for p in Path(out).glob("cloudformation*.json")}
    return size_note(files)


def render(document: dict[str, Any], out: str, iac: str | None = None) -> str:
    summary, eq = document["summary"], document["equivalence"]
    populations = document.get("populations") or {}
    if document["differences"]:
        verdict = f"{len(document['differences'])} differences"
    elif eq.get("unproven_reasons"):
        verdict = "UNPROVEN (" + "; ".join(eq["unproven_reasons"]) + "): run `avp-migrate verify` for details"
    else:
        verdict = "equivalent"
    lines = [f"wrote plan for API {document['api']['name']} ({document['api']['id']}), user pool "
             f"{document['user_pool']['id']} to {out}/",
             f"  {len(document['policies'])} Cedar policies ({document['layout']} layout, "
             f"{document.get('store_layout', 'actions')} store layout), namespace "
             f"{document['namespace']}; schema, authorizer-config.json, cloudformation.json, terraform/, "
             "report.md, report.html",
             "  endpoints: " + ", ".join(f"{n} {status}" for status, n in summary.items()),
             f"  equivalence: {verdict}"
             f" ({eq['classes']} principal classes x {eq['routes']} routes, {eq['decisions']} Cedar decisions in "
             f"{eq['seconds']} s)" + (f"; {populations['users']:,} users in {populations['combinations']:,} other "
                                      "group combinations decided through the classes of their groups"
                                      if populations.get("combinations") else "")]
    for finding in document["findings"]:
        if finding["severity"] != "info":
            lines.append(f"  {finding['severity']}: {console_text(finding['message'], out)}")
    lines.append(f"  report: {out}/report.md, {out}/report.html")
    if iac:
        lines.append(f"  iac: {iac}")
    lines += [f"  next: {step}" for step in document["next_steps"]]
    return "\n".join(lines)


MAX_CONSOLE_MESSAGE = 600  # characters: a finding naming thousands of principal classes stays one readable line


def console_text(message: str, out: str) -> str:
    """A finding's message for the console: whole when short, else cut with where to read it whole (the report
    and `--output json` carry every finding in full)."""
    if len(message) <= MAX_CONSOLE_MESSAGE:
        return message
    return f"{message[:MAX_CONSOLE_MESSAGE].rstrip()}... ({len(message):,} characters: {out}/report.md has it whole)"
