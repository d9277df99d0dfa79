"""The migration plan report: what `avp-migrate plan` will change, for whom, and what to check first.

`write_plan_report` turns the plan's ``plan.json`` document into four files in the plan folder:

``report.md``
    GitHub Markdown, for a pull request or a ticket (tables by tabulate).
``report.html``
    the same content as one self-contained page: inline CSS, no script, no external reference.
``routes.csv``
    one row per endpoint, for spreadsheets (list cells joined with ``"; "``; a cell that a spreadsheet would
    run as a formula is prefixed with ``'``: `report.json` keeps the exact values).
``report.json``
    the report's data for machines: ``report_format_version``, ``plan``, ``summary``, ``routes``,
    ``differences``, ``token_mismatches``, ``findings`` (``latent_exposures``, ``dead_scopes``, ``unreachable``,
    ``claims_backends``, ``id_token_routes``, ``machine_to_machine``, ``other``), ``quotas``, ``policies``,
    ``next_steps``. Every key is always present.

The report's order: title block, summary, a row per endpoint, differences (and token-level mismatches),
findings by kind, quota usage, next commands, and the Cedar policies as an appendix. Pure: reads the document,
writes files, calls no AWS API.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from migrate.fileio import pretty_json
from reports import plan_data
from reports.document import Badge, Block, Cell, Code, Column, Facts, Paragraph, Report, Section, Steps, Table, Tone
from reports.html import render_html
from reports.markdown import render_markdown
from reports.plan_data import Record
from reports.plan_model import Plan, load_plan

REPORT_FORMAT_VERSION = 1
EXAMPLES_SHOWN = 3  # "a few example users" per principal class; plan.json keeps 20 of them and the count
CSV_COLUMNS = ("route", "authorization_type", "scopes", "token_use", "actions", "status", "reasons", "today",
               "today_count", "after", "after_count", "gains", "loses", "policies", "backend_claims",
               "proxy_integration")
CSV_LIST_SEPARATOR = "; "

STATUS_TONES: dict[str, Tone] = {"exact": "ok", "needs review": "warn", "blocked": "bad", "unchanged": "muted"}
STATUS_MEANING = {
    "exact": "Cedar decides exactly as the scopes do today",
    "needs review": "same access (or access changed on purpose with --tighten), with something to check first",
    "blocked": "someone would gain or lose access without the plan saying so, or a blocking finding",
    "unchanged": "not migrated: stays as it is",
}
STORE_LAYOUTS = {"actions": "one Cedar action per method, resource the application (the AVP console's)",
                 "routes": "each method a resource (Route), member of its scopes; the action is the verb"}
LAYOUTS = {"scopes": "one policy per pre-token rule over scope action groups",
           "groups": "one policy per group listing its actions (the AVP console's layout)"}


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, as JSON-native records (see `reports.plan_data`)."""

    summary: Record
    routes: list[Record]
    differences: list[Record]
    token_mismatches: list[Record]
    latent_exposures: list[Record]
    dead_scopes: list[Record]
    unreachable: list[Record]
    claims_backends: list[Record]
    id_token_routes: list[Record]
    machine_to_machine: list[Record]
    other_findings: list[Record]
    quotas: list[Record]
    policies: list[Record]
    next_steps: list[str]


def write_plan_report(document: dict[str, Any], folder: Path) -> list[Path]:
    """Write report.md, report.html, routes.csv and report.json into ``folder``; return their paths."""
    plan = load_plan(document)
    data = report_data(plan)
    report = build_report(plan, data)
    folder = Path(folder)
    md, page, csv, machine = (folder / n for n in ("report.md", "report.html", "routes.csv", "report.json"))
    md.write_text(render_markdown(report), encoding="utf-8")
    page.write_text(render_html(report), encoding="utf-8")
    routes_frame(data.routes).to_csv(csv, index=False, lineterminator="\n", encoding="utf-8")
    machine.write_text(pretty_json(report_json(plan, data)), encoding="utf-8")
    return [md, page, csv, machine]


def report_data(plan: Plan) -> ReportData:
    return ReportData(
        summary=plan_data.summary(plan),
        routes=plan_data.route_rows(plan),
        differences=plan_data.difference_groups(plan),
        token_mismatches=plan_data.token_mismatch_rows(plan),
        latent_exposures=plan_data.latent_exposure_rows(plan),
        dead_scopes=plan_data.dead_scope_rows(plan),
        unreachable=plan_data.unreachable_rows(plan),
        claims_backends=plan_data.claims_rows(plan),
        id_token_routes=plan_data.id_token_rows(plan),
        machine_to_machine=plan_data.machine_rows(plan),
        other_findings=plan_data.other_finding_rows(plan),
        quotas=plan_data.quota_rows(plan),
        policies=plan_data.policy_rows(plan),
        next_steps=list(plan.next_steps),
    )


# --- machine outputs ---------------------------------------------------------------------------------------------

def report_json(plan: Plan, data: ReportData) -> dict[str, Any]:
    return {
        "report_format_version": REPORT_FORMAT_VERSION,
        "plan": {
            "format_version": plan.format_version, "tool_version": plan.tool_version,
            "api": {"id": plan.api_id, "name": plan.api_name, "stage": plan.stage},
            "user_pool": {"id": plan.pool_id, "name": plan.pool_name, "arn": plan.pool_arn},
            "namespace": plan.namespace, "layout": plan.layout, "tighten": plan.tighten,
            "inventory": {"path": plan.inventory_path, "created_at": plan.inventory_created_at},
        },
        "summary": data.summary,
        "routes": data.routes,
        "differences": data.differences,
        "token_mismatches": data.token_mismatches,
        "findings": {
            "latent_exposures": data.latent_exposures, "dead_scopes": data.dead_scopes,
            "unreachable": data.unreachable, "claims_backends": data.claims_backends,
            "id_token_routes": data.id_token_routes, "machine_to_machine": data.machine_to_machine,
            "other": data.other_findings,
        },
        "quotas": data.quotas,
        "policies": data.policies,
        "next_steps": data.next_steps,
    }


def routes_frame(rows: list[Record]) -> pd.DataFrame:
    """routes.csv: one flat row per endpoint."""
    flat = [{column: _csv_value(column, row[column]) for column in CSV_COLUMNS} for row in rows]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS))


def _csv_value(column: str, value: Any) -> Any:
    if column in ("today", "after", "gains", "loses"):
        return _csv_text(CSV_LIST_SEPARATOR.join(who_line(w) for w in value))
    if isinstance(value, list):
        return _csv_text(CSV_LIST_SEPARATOR.join(str(v) for v in value))
    if isinstance(value, str):
        return _csv_text(value)
    return value


def _csv_text(text: str) -> str:
    # Spreadsheets run a cell starting with = + - @ (or a tab / CR) as a formula; names come from the account.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- cells -------------------------------------------------------------------------------------------------------

def who_line(entry: Record) -> str:
    """``group admins (e.g. bob, carol)``; a user or client class already named by its label shows no example."""
    label = entry["label"]
    examples = [e for e in entry.get("examples", ()) if not label.endswith(f" {e}")]
    verbs = entry.get("verbs")  # the verbs of an ANY method a change concerns
    suffix = f" [{', '.join(verbs)}]" if verbs else ""
    if not examples:
        return label + suffix
    users = entry.get("users") or 0
    more = f", … {users:,} users" if users > EXAMPLES_SHOWN else ", …" if len(examples) > EXAMPLES_SHOWN else ""
    return f"{label} (e.g. {', '.join(examples[:EXAMPLES_SHOWN])}{more}){suffix}"


def who_cell(entries: list[Record]) -> tuple[str, ...]:
    return tuple(who_line(e) for e in entries)


def _users(count: int | None) -> tuple[str, ...]:
    """The count of real users first: with large pools most of them are in group combinations no class names."""
    return () if count is None else (f"{count:,} user{'' if count == 1 else 's'}",)


def today_cell(row: Record) -> Cell:
    if not row["migrated"]:
        return "— (not migrated)"
    return (*_users(row.get("users_today")), *who_cell(row["today"])) or ("no one",)


def after_cell(row: Record) -> Cell:
    if not row["migrated"]:
        return "— (not migrated)"
    if (not row["gains"] and not row["loses"] and _keys(row["after"]) == _keys(row["today"])
            and row.get("users_after") == row.get("users_today")):
        return "same as today" if row["today"] or row.get("users_today") else ("no one",)
    lines = [*_users(row.get("users_after")), *who_cell(row["after"])] or ["no one"]
    lines += [f"loses: {who_line(w)}" for w in row["loses"]]
    lines += [f"gains: {who_line(w)}" for w in row["gains"]]
    return tuple(lines)


def _keys(entries: list[Record]) -> set[str]:
    return {e["key"] for e in entries}


def status_badge(status: str) -> Badge:
    return Badge(status, STATUS_TONES.get(status, "muted"))


def token_text(token_use: str | None) -> str:
    return {"access": "access", "id": "ID"}.get(token_use or "", "—")


def lines(values: list[Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


# --- the report --------------------------------------------------------------------------------------------------

def build_report(plan: Plan, data: ReportData) -> Report:
    stage = f", stage {plan.stage}" if plan.stage else ""
    return Report(
        title=f"Migration plan: {plan.api_name} ({plan.api_id}){stage}",
        intro=[title_facts(plan)],
        sections=[summary_section(plan, data), endpoints_section(data), differences_section(data),
                  findings_section(plan, data), quota_section(data), next_steps_section(data),
                  policies_section(data)],
        footer=f"Generated by avp-migrate {plan.tool_version} from plan.json (format {plan.format_version}).",
    )


def title_facts(plan: Plan) -> Facts:
    pool = f"{plan.pool_name} ({plan.pool_id})" if plan.pool_name else plan.pool_id
    tighten = ("yes: access any user gets through an app client's hosted UI is dropped" if plan.tighten
               else "no: today's access is preserved, latent exposures included")
    return Facts((
        ("API", f"{plan.api_name} ({plan.api_id})"),
        ("Stage", plan.stage or "—"),
        ("User pool", pool),
        ("Cedar namespace", plan.namespace),
        ("Layout", f"{plan.layout}: {LAYOUTS[plan.layout]}" if plan.layout in LAYOUTS else plan.layout),
        ("Store layout", f"{plan.store_layout}: {STORE_LAYOUTS.get(plan.store_layout, '')}".rstrip(": ")),
        ("Tighten", tighten),
        ("Inventory", Code(plan.inventory_path) if plan.inventory_path else "—"),
        ("Inventory created", plan.inventory_created_at or "—"),
    ))


def summary_section(plan: Plan, data: ReportData) -> Section:
    counts = data.summary["by_status"]
    rows = [{"status": s, "count": n, "meaning": STATUS_MEANING.get(s, "")} for s, n in counts.items()]
    table = Table.of([*rows, {"status": "total", "count": data.summary["endpoints"], "meaning": ""}], [
        Column("status", "Status", lambda s: s if s == "total" else status_badge(s)),
        Column("count", "Endpoints"),
        Column("meaning", "Meaning"),
    ])
    severities = data.summary["findings_by_severity"]
    findings = Paragraph.of("Findings: ", f"{severities['blocking']} blocking, {severities['review']} to review, "
                            f"{severities['info']} for information.")
    return Section("summary", "Summary", [table, verdict(plan, data.summary["equivalence"]), findings])


def verdict(plan: Plan, eq: Record) -> Paragraph:
    scale = (f" over {eq['principal_classes']} principal classes × {eq['routes']} migrated routes: "
             f"{eq['decisions']:,} Cedar decisions ({eq['requests']:,} requests) in {eq['seconds']} s.")
    if eq["equivalent"]:
        return Paragraph.of("Equivalence: ", Badge("equivalent", "ok"), scale)
    n = eq["differences"]
    badge = Badge(f"{n} difference{'s' if n != 1 else ''}", "bad" if eq["unplanned_differences"] else "warn")
    split = f" ({eq['tightened_differences']} from --tighten, {eq['unplanned_differences']} unplanned)"
    return Paragraph.of("Equivalence: ", badge, split + scale)


def authorizer_text(row: Record) -> str:
    """``COGNITO_USER_POOLS: MyApiCognito`` when the plan names the authorizer, else the type alone."""
    name = str(row.get("authorizer") or "").split(" (")[0]
    return f"{row['authorization_type']}: {name}" if name else str(row["authorization_type"])


def endpoints_section(data: ReportData) -> Section:
    table = Table.of(data.routes, [
        Column("route", "Route"),
        Column(None, "Authorizer today", authorizer_text),
        Column("scopes", "Scopes"),
        Column("token_use", "Token", token_text),
        Column(None, "Who reaches it today", today_cell),
        Column(None, "Who after", after_cell),
        Column("policies", "Cedar policies"),
        Column("status", "Status", status_badge),
        Column("reasons", "Reasons"),
    ], empty="The plan has no endpoints.")
    note = Paragraph.of("Who: first how many real users can call it, then the principal classes (each group alone, "
                        "group combinations conditions make matter, users a rule names, users in no group, "
                        "client-credentials clients) with example users; a user in several groups counts where "
                        "one of their groups can call.")
    return Section("endpoints", "Endpoints", [note, table])


def differences_section(data: ReportData) -> Section:
    intro = (Paragraph.of("None: every principal class reaches exactly the endpoints it reaches today.")
             if not data.differences else
             Paragraph.of("Who gains or loses what after the move. ", Badge("unplanned", "bad"),
                          " differences block the plan; ", Badge("tightened", "info"),
                          " ones are the hosted-UI access --tighten drops on purpose."))
    table = Table.of(data.differences, [
        Column("direction", "Change", lambda d: Badge(d, "bad" if d == "gains" else "warn")),
        Column("label", "Who"),
        Column("examples", "Example users"),
        Column("endpoints", "Endpoints"),
        Column("scopes", "Scopes (today)"),
        Column("policies", "Policies (after)"),
        Column("flows", "Tokens"),
        Column("cause", "Cause", lambda c: Badge(c, "info" if c == "tightened" else "bad")),
    ])
    blocks = [intro, table] if data.differences else [intro]
    mismatches = Section("token-mismatches", "Token-level mismatches", [
        Paragraph.of("Single tokens decided differently while their principal class as a whole agrees (it can call "
                     "the route another way); shadow mode will show them."),
        Table.of(data.token_mismatches, [
            Column("endpoint", "Endpoint"),
            Column("label", "Who"),
            Column("flow", "Token"),
            Column("today", "Today", _allow),
            Column("after", "After", _allow),
        ]),
    ])
    return Section("differences", "Differences", blocks, [mismatches])


def _allow(allowed: bool) -> Badge:
    return Badge("allow", "ok") if allowed else Badge("deny", "bad")


# --- findings ----------------------------------------------------------------------------------------------------

def findings_section(plan: Plan, data: ReportData) -> Section:
    return Section("findings", "Findings", [], [
        latent_exposures(data), dead_scopes(data), unreachable(data), claims_backends(plan, data),
        id_token_routes(plan, data), machine_to_machine(plan, data), other_findings(data)])


def latent_exposures(data: ReportData) -> Section:
    tones: dict[str, Tone] = {"preserved": "warn", "tightened": "info", "no one exposed": "muted"}
    table = Table.of(data.latent_exposures, [
        Column(None, "App client", lambda r: r["client"] if r["client"] == r["client_id"]
               else f"{r['client']} ({r['client_id']})"),
        Column("scope", "Scope"),
        Column("routes", "Endpoints"),
        Column("exposed", "Who gets it only this way", lambda e: who_cell(e) or "no one: the rules grant it anyway"),
        Column("outcome", "Outcome", lambda o: Badge(o, tones.get(o, "muted"))),
    ], empty="None.")
    note = Paragraph.of("A custom scope in an app client's allowed OAuth scopes can be requested through the hosted "
                        "UI by any user of that client, whatever their groups. Preserved: a policy conditioned on "
                        "the client keeps today's access. Tightened: dropped; the differences name who loses it.")
    return Section("latent-exposures", f"Latent exposures ({len(data.latent_exposures)})", [note, table])


def dead_scopes(data: ReportData) -> Section:
    table = Table.of(data.dead_scopes, [
        Column("scope", "Scope"),
        Column("why", "Why dead"),
        Column("routes", "Endpoints that require only dead scopes"),
        Column("severity", "Severity", _severity_badge),
    ], empty="None: every scope the pool defines is required by a method, and every required scope is granted.")
    return Section("dead-scopes", f"Dead scopes ({len(data.dead_scopes)})", [table])


def unreachable(data: ReportData) -> Section:
    table = Table.of(data.unreachable, [
        Column("route", "Route"),
        Column("scopes", "Scopes"),
        Column("token_use", "Token", token_text),
        Column("after", "Who after", lambda a: who_cell(a) or ("no one",)),
        Column("status", "Status", status_badge),
    ], empty="None: someone can call every migrated endpoint today.")
    note = Paragraph.of("Migrated endpoints no principal class can call today (usually a scope nobody obtains).")
    return Section("unreachable", f"Endpoints no one can reach ({len(data.unreachable)})", [note, table])


def claims_backends(plan: Plan, data: ReportData) -> Section:
    what = {"reads claims": "change the backend: a Lambda authorizer hands it a flat context (authorizer.sub, "
                            "authorizer.groups, ...), not authorizer.claims",
            "proxy integration": "check whether its code reads requestContext.authorizer.claims"}
    table = Table.of(data.claims_backends, [
        Column("route", "Route"),
        Column(None, "Reads", lambda r: tuple(f"authorizer.claims.{c}" for c in r["claims"]) or "unknown (proxy)"),
        Column("kind", "What to do", lambda k: what.get(k, k)),
        # Nobody has checked these backends: say that, not the route's plan status (a green "exact" here read as
        # "checked and fine").
        Column("kind", "Check", lambda k: Badge("change needed" if k == "reads claims" else "not checked",
                                                "warn")),
    ], empty="None.")
    blocks = [Paragraph.of(m) for m in plan_data.messages(plan, "claims-backend")]
    reading = sum(1 for r in data.claims_backends if r["claims"])
    proxies = len(data.claims_backends) - reading
    return Section("claims-backends", f"Backends that read authorizer.claims ({reading}; {proxies} proxy "
                   f"integration{'s' if proxies != 1 else ''} to check)", [*blocks, table])


def id_token_routes(plan: Plan, data: ReportData) -> Section:
    table = Table.of(data.id_token_routes, [
        Column("route", "Route"),
        Column("today", "Who reaches it today", lambda w: who_cell(w) or ("no one",)),
        Column("after", "Who after", lambda w: who_cell(w) or ("no one",)),
        Column("policies", "Cedar policies"),
        Column("status", "Status", status_badge),
    ], empty="None.")
    blocks = [Paragraph.of(m) for m in plan_data.messages(plan, "id-token-route")]
    return Section("id-token-routes", f"ID-token endpoints ({len(data.id_token_routes)})", [*blocks, table])


def machine_to_machine(plan: Plan, data: ReportData) -> Section:
    table = Table.of(data.machine_to_machine, [
        Column(None, "Client", lambda r: r["client"] if r["client"] == r["client_id"]
               else f"{r['client']} ({r['client_id']})"),
        Column("routes", "Endpoints it calls"),
        Column("client_id", "Cedar principal", lambda c: Code(f'{plan.namespace}::Client::"{c}"')),
    ], empty="None.")
    note = Paragraph.of("Client-credentials clients have no user and no groups: the authorizer verifies their token "
                        "itself and asks IsAuthorized with the client as principal.")
    return Section("machine-to-machine", f"Machine-to-machine endpoints ({len(data.machine_to_machine)})",
                   [note, table])


def other_findings(data: ReportData) -> Section:
    table = Table.of(data.other_findings, [
        Column("severity", "Severity", _severity_badge),
        Column("code", "Kind"),
        Column("message", "Finding"),
        Column("routes", "Endpoints"),
    ], empty="None.")
    return Section("other-findings", f"Other findings ({len(data.other_findings)})", [table])


def _severity_badge(severity: str) -> Badge:
    tones: dict[str, Tone] = {"blocking": "bad", "review": "warn", "info": "info"}
    return Badge(severity, tones.get(severity, "muted"))


# --- quotas, next steps, policies --------------------------------------------------------------------------------

def quota_section(data: ReportData) -> Section:
    table = Table.of(data.quotas, [
        Column("name", "Quota"),
        Column("used", "Used", lambda n: f"{n:,}"),
        Column("limit", "Limit", lambda n: f"{n:,}"),
        Column("percent", "Usage", lambda p: f"{p:.1f} %"),
        Column("fits", "Fits", lambda ok: Badge("fits", "ok") if ok else Badge("over the limit", "bad")),
    ], empty="The plan reports no quota.")
    return Section("quotas", "Quota usage", [table])


def next_steps_section(data: ReportData) -> Section:
    # A step is either a command to paste or an instruction; the plan writes commands starting with the tool name.
    steps = tuple(Code(s) if s.startswith("avp-migrate ") else s for s in data.next_steps)
    blocks: list[Block] = [Steps(steps)] if steps else [Paragraph.of("None.")]
    if any("PLAN_DIR" in s for s in data.next_steps):
        blocks.append(Paragraph.of("PLAN_DIR: the folder this report is in."))
    return Section("next-steps", "Next commands to run", blocks)


def policies_section(data: ReportData) -> Section:
    table = Table.of(data.policies, [
        Column("id", "Policy (@id)"),
        Column("file", "File", lambda f: Code(f) if f else ""),
        Column("kind", "Kind"),
        Column("rule", "Pre-token rule"),
        Column("scopes", "Scopes"),
        Column("bytes", "Bytes", lambda n: f"{n:,}"),
    ], empty="The plan has no policies.")
    return Section("policies", "Appendix: Cedar policies", [table])

