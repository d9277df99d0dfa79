"""The shadow report: is each endpoint ready to move from scope to Verified Permissions, and if not, why.

`write_shadow_report` turns :class:`reports.shadow_model.ShadowData` into four files:

``shadow-report.md``
    GitHub Markdown (tables by tabulate; the charts as block-character lines).
``shadow-report.html``
    the same content as one self-contained page: inline CSS, inline SVG charts, no script, no external reference.
``shadow-routes.csv``
    one row per endpoint (list cells joined with ``"; "``; a cell a spreadsheet would run as a formula is
    prefixed with ``'``).
``shadow-report.json``
    the data, stable keys (:meth:`ShadowData.to_json`): ``report_format_version``, ``source``, ``window``
    (``start``, ``end``, ``first_seen``, ``last_seen``, ``bin_seconds``), ``thresholds``, ``summary``, ``routes``
    (per route: ``route``, ``ready``, ``reasons``, ``checks``, ``decisions``, ``agreements``, ``disagreements``
    ``{scope_allow_avp_deny, scope_deny_avp_allow}``, ``avp_errors``, ``agreement_rate``, ``avp_error_rate``,
    ``avp_errors_by_type``, ``latency_ms`` ``{calls, p50, p95, p99}``, ``first_seen``, ``last_seen``,
    ``not_asked``, ``unauthenticated``, ``unauthenticated_by_code``, ``refused``, ``modes``, ``examples``,
    ``examples_untracked``, ``timeline``), ``lines``, ``problems``, ``policy_names``, ``latency_method``.
    ``cutover`` reads readiness from it. Every key is always present.

Pure: reads the data, writes files, calls no AWS API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from reports.document import (
    Badge,
    BarChart,
    Block,
    Cell,
    Code,
    Column,
    Facts,
    Paragraph,
    Report,
    Section,
    Series,
    Steps,
    Table,
)
from reports.html import render_html
from reports.markdown import render_markdown
from reports.shadow_model import REPORT_FORMAT_VERSION, ShadowData
from reports.shadow_readiness import DIRECTION_TEXT, DIRECTIONS, SCOPE_ALLOW_AVP_DENY, SCOPE_DENY_AVP_ALLOW
from reports.shadow_window import bin_label

FILES = ("shadow-report.md", "shadow-report.html", "shadow-routes.csv", "shadow-report.json")
EXAMPLES_SHOWN = 5  # per route and direction in Markdown/HTML; the JSON keeps more
CSV_COLUMNS = ("route", "ready", "reasons", "decisions", "agreements", "agreement_rate", "scope_allow_avp_deny",
               "scope_deny_avp_allow", "avp_errors", "avp_error_rate", "avp_errors_by_type", "latency_calls",
               "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "first_seen", "last_seen", "not_asked",
               "unauthenticated", "refused", "modes")
CSV_LIST_SEPARATOR = "; "


def write_shadow_report(data: ShadowData, folder: str | Path) -> list[Path]:
    """Write the four files into ``folder`` (created if needed); return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md, page, csv, machine = (folder / name for name in FILES)
    report = build_report(data)
    md.write_text(render_markdown(report), encoding="utf-8")
    page.write_text(render_html(report), encoding="utf-8")
    routes_frame(data).to_csv(csv, index=False, lineterminator="\n", encoding="utf-8")
    # cutover reads this one, maybe while a report is being written: never let it see half a file
    temporary = machine.with_name(f".{machine.name}.tmp")
    temporary.write_text(json.dumps(data.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, machine)
    return [md, page, csv, machine]


# --- CSV -------------------------------------------------------------------------------------------------------

def routes_frame(data: ShadowData) -> pd.DataFrame:
    rows = []
    for r in data.routes:
        latency = r["latency_ms"]
        rows.append({
            "route": r["route"], "ready": r["ready"], "reasons": r["reasons"], "decisions": r["decisions"],
            "agreements": r["agreements"], "agreement_rate": r["agreement_rate"],
            SCOPE_ALLOW_AVP_DENY: r["disagreements"][SCOPE_ALLOW_AVP_DENY],
            SCOPE_DENY_AVP_ALLOW: r["disagreements"][SCOPE_DENY_AVP_ALLOW],
            "avp_errors": r["avp_errors"], "avp_error_rate": r["avp_error_rate"],
            "avp_errors_by_type": [f"{k}={v}" for k, v in r["avp_errors_by_type"].items()],
            "latency_calls": latency["calls"], "latency_p50_ms": latency["p50"], "latency_p95_ms": latency["p95"],
            "latency_p99_ms": latency["p99"], "first_seen": r["first_seen"], "last_seen": r["last_seen"],
            "not_asked": r["not_asked"], "unauthenticated": r["unauthenticated"],
            "refused": sum(r["refused"].values()), "modes": [f"{k}={v}" for k, v in r["modes"].items()],
        })
    flat = [{column: _csv_value(row[column]) for column in CSV_COLUMNS} for row in rows]
    return pd.DataFrame(flat, columns=list(CSV_COLUMNS))


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        value = CSV_LIST_SEPARATOR.join(str(v) for v in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet would run it as a formula; the JSON keeps the exact value
    return value


# --- cells -----------------------------------------------------------------------------------------------------

def ready_badge(ready: bool) -> Badge:
    return Badge("ready", "ok") if ready else Badge("not ready", "bad")


def rate(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def count(value: int) -> str:
    return f"{value:,}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def when(value: str | None) -> str:
    return "—" if not value else value.replace("T", " ").replace("Z", " UTC")


def disagreement_cell(split: dict[str, int]) -> Cell:
    total = sum(split.values())
    if not total:
        return "0"
    return (f"{total:,}", *(f"{n:,} {DIRECTION_TEXT[d]}" for d, n in split.items() if n))


def by_type(counts: dict[str, int]) -> tuple[str, ...]:
    return tuple(f"{name}: {n:,}" for name, n in counts.items())


def policy_text(policy_id: str, names: dict[str, str]) -> str:
    name = names.get(policy_id)
    return f"{name} ({policy_id})" if name else policy_id


# --- the report ------------------------------------------------------------------------------------------------

def build_report(data: ShadowData) -> Report:
    return Report(
        title=title(data),
        intro=[title_facts(data), verdict(data)],
        sections=[readiness_section(data), evidence_section(data), disagreements_section(data),
                  errors_section(data), timeline_section(data), not_compared_section(data),
                  next_steps_section(data), method_section(data)],
        footer=f"Generated by avp-migrate {data.source.get('tool_version', '')} (shadow report format "
               f"{REPORT_FORMAT_VERSION}).",
    )


def title(data: ShadowData) -> str:
    api = data.source.get("api") or {}
    if api.get("id"):
        stage = f", stage {api['stage']}" if api.get("stage") else ""
        return f"Shadow report: {api.get('name') or api['id']} ({api['id']}){stage}"
    if data.source.get("log_group"):
        return f"Shadow report: {data.source['log_group']}"
    files = data.source.get("files") or []
    return f"Shadow report: {files[0]}" if len(files) == 1 else f"Shadow report: {len(files)} files"


def title_facts(data: ShadowData) -> Facts:
    source, window, t, lines = data.source, data.window, data.thresholds, data.lines
    kinds = {"insights": "CloudWatch Logs Insights (aggregated server-side)",
             "download": "CloudWatch Logs, events downloaded (FilterLogEvents)", "files": "JSON-lines files"}
    items: list[tuple[str, Cell]] = [("Source", kinds.get(source.get("kind", ""), str(source.get("kind"))))]
    if source.get("log_group"):
        items.append(("Log group", Code(source["log_group"])))
    if source.get("files"):
        items.append(("Files", tuple(source["files"])))
    if source.get("plan"):
        items.append(("Plan", Code(source["plan"])))
    window_text = (f"{when(window['start'])} to {when(window['end'])}" if window["start"] or window["end"]
                   else "whole files")
    items += [
        ("Window", window_text),
        ("Records seen", f"{when(window['first_seen'])} to {when(window['last_seen'])}"),
        ("Thresholds", f"at least {t.min_decisions:,} decisions; at most {t.allow_disagreements:,} disagreements; "
                       f"AVP error rate at most {rate(t.max_avp_error_rate)}"),
        ("Lines", f"{lines['lines']:,} read: {lines['records']:,} shadow records, {lines['skipped']:,} other lines "
                  f"skipped, {lines['invalid']:,} invalid, {lines['outside_window']:,} outside the window"
                  + (f", {lines['test_invocations']:,} from deploy's smoke test (not counted)"
                     if lines.get("test_invocations") else "")),
    ]
    return Facts(tuple(items))


def verdict(data: ShadowData) -> Paragraph:
    s = data.summary
    if not s["routes"]:
        return Paragraph.of("No endpoint in the records.")
    badge = Badge(f"{s['ready']} of {s['routes']} ready", "ok" if s["ready"] == s["routes"] else
                  ("warn" if s["ready"] else "bad"))
    split = s["disagreements"]
    return Paragraph.of("Readiness: ", badge, f" — {s['decisions']:,} decisions compared with AVP, "
                        f"{s['agreements']:,} agreements, {sum(split.values()):,} disagreements "
                        f"({split[SCOPE_ALLOW_AVP_DENY]:,} {DIRECTION_TEXT[SCOPE_ALLOW_AVP_DENY]}, "
                        f"{split[SCOPE_DENY_AVP_ALLOW]:,} {DIRECTION_TEXT[SCOPE_DENY_AVP_ALLOW]}), "
                        f"{s['avp_errors']:,} AVP errors; {s['unauthenticated']:,} requests refused for their token "
                        f"(401) and {s['refused']:,} refused before a decision, counted apart.")


def readiness_section(data: ShadowData) -> Section:
    table = Table.of(data.routes, [
        Column("route", "Route"),
        Column("ready", "Readiness", ready_badge),
        Column("decisions", "Decisions", count),
        Column("agreement_rate", "Agreement", rate),
        Column("disagreements", "Disagreements", disagreement_cell),
        Column("avp_errors", "AVP errors", count),
        Column(None, "AVP p95 (ms)", lambda r: ms(r["latency_ms"]["p95"])),
        Column("reasons", "Why not ready", lambda reasons: tuple(reasons) or "—"),
    ], empty="No endpoint in the records.")
    return Section("readiness", "Readiness per endpoint", [table])


def evidence_section(data: ShadowData) -> Section:
    # Nine columns, each value with its rate or count beside it, so the table fits a 1400 px page (a test renders
    # it in Chromium): shadow-routes.csv and shadow-report.json keep every figure in a column of its own.
    table = Table.of(data.routes, [
        Column("route", "Route"),
        Column("decisions", "Decisions", count),
        Column(None, "Agreements (rate)", lambda r: f"{count(r['agreements'])} ({rate(r['agreement_rate'])})"),
        Column(None, "Scope allows, AVP denies",
               lambda r: count(r["disagreements"][SCOPE_ALLOW_AVP_DENY])),
        Column(None, "Scope denies, AVP allows",
               lambda r: count(r["disagreements"][SCOPE_DENY_AVP_ALLOW])),
        Column(None, "AVP errors (rate)", lambda r: f"{count(r['avp_errors'])} ({rate(r['avp_error_rate'])})"),
        Column(None, "AVP latency p50 / p95 / p99 ms",
               lambda r: (" / ".join(ms(r["latency_ms"][p]) for p in ("p50", "p95", "p99")),
                          f"{count(r['latency_ms']['calls'])} calls timed")),
        Column(None, "First / last seen", lambda r: (when(r["first_seen"]), when(r["last_seen"]))),
    ], empty="No endpoint in the records.")
    note = Paragraph.of(f"Decisions: requests with a valid token for which AVP was asked. Latency: fresh AVP calls "
                        f"(cached answers left out), failures included; {data.latency_method}.")
    return Section("evidence", "Evidence per endpoint", [note, table])


def disagreements_section(data: ShadowData) -> Section:
    routes = [r for r in data.routes if sum(r["disagreements"].values())]
    if not routes:
        return Section("disagreements", "Disagreements", [
            Paragraph.of("None: on every endpoint AVP decided as the scopes did.")])
    intro = Paragraph.of(f"Who AVP decided differently for, the most frequent first ({EXAMPLES_SHOWN} per "
                         "direction; shadow-report.json keeps more). ", Badge(DIRECTION_TEXT[SCOPE_ALLOW_AVP_DENY],
                                                                             "bad"),
                         ": the caller would lose access after the cut-over. ",
                         Badge(DIRECTION_TEXT[SCOPE_DENY_AVP_ALLOW], "bad"),
                         ": the caller would gain it. Determining policies are AVP's (for a denial, usually none: "
                         "no policy permitted).")
    subsections = []
    for index, route in enumerate(routes, start=1):
        rows = [{"direction": d, **example} for d in DIRECTIONS for example in route["examples"][d][:EXAMPLES_SHOWN]]
        table = Table.of(rows, [
            Column("direction", "Direction", lambda d: Badge(DIRECTION_TEXT[d], "bad")),
            Column("principal", "Principal", lambda p: p or "—"),
            Column("groups", "Groups", lambda g: tuple(g) or "no group"),
            Column("determining_policies", "Determining policies",
                   lambda ps: tuple(policy_text(p, data.policy_names) for p in ps) or "none"),
            Column("count", "Requests", count),
            Column("first_seen", "First seen", when),
            Column("last_seen", "Last seen", when),
        ])
        blocks: list[Block] = [Paragraph.of(disagreement_summary(route)), table]
        if route["examples_untracked"]:
            blocks.append(Paragraph.of(f"{route['examples_untracked']:,} more disagreements from principals past the "
                                       "first 10,000 distinct ones are counted above but not listed."))
        subsections.append(Section(f"disagreements-{index}", route["route"], blocks))
    return Section("disagreements", f"Disagreements ({len(routes)} endpoint{'s' if len(routes) != 1 else ''})",
                   [intro], subsections)


def disagreement_summary(route: dict[str, Any]) -> str:
    split = route["disagreements"]
    parts = [f"{n:,} {DIRECTION_TEXT[d]}" for d, n in split.items() if n]
    return f"{sum(split.values()):,} of {route['decisions']:,} decisions: {', '.join(parts)}."


def errors_section(data: ShadowData) -> Section:
    rows = [{"route": r["route"], "error": name, "count": n, "decisions": r["decisions"]}
            for r in data.routes for name, n in r["avp_errors_by_type"].items()]
    table = Table.of(rows, [
        Column("route", "Route"),
        Column("error", "AVP error"),
        Column("count", "Requests", count),
        Column(None, "Of decisions", lambda r: rate(r["count"] / r["decisions"]) if r["decisions"] else "—"),
    ], empty="None: every AVP call answered.")
    note = Paragraph.of("In shadow mode an AVP error changes nothing for the caller; after the cut-over it is a "
                        "denial (fail closed).")
    return Section("avp-errors", "AVP errors", [note, table])


def _span_with_data(routes: list[dict[str, Any]]) -> tuple[int, int] | None:
    """The bins every chart shows: from one before the first bin with a decision, on any route, to one after the
    last (the same span on every chart, so they compare), not the whole window (records an hour long in a 24-hour
    window would be one bar)."""
    busy = [i for route in routes for i, p in enumerate(route["timeline"]) if p["decisions"]]
    if not busy:
        return None
    longest = max(len(route["timeline"]) for route in routes)
    return max(0, min(busy) - 1), min(longest, max(busy) + 2)


def timeline_section(data: ShadowData) -> Section:
    bin_text = bin_label(data.window["bin_seconds"])
    subsections = []
    span = _span_with_data(data.routes)
    for index, route in enumerate(data.routes, start=1):
        points = route["timeline"][span[0]:span[1]] if span else route["timeline"]
        if not points:
            continue
        if not any(p["decisions"] for p in points):
            subsections.append(Section(f"timeline-{index}", route["route"], [
                Paragraph.of("No decision compared with AVP in the window.")]))
            continue
        chart = BarChart(
            title=f"{route['route']}: decisions, disagreements by direction and AVP errors per {bin_text}",
            x_labels=tuple(when(p["start"]).replace(":00.000 UTC", " UTC") for p in points),
            series=(Series("decisions", tuple(p["decisions"] for p in points), "info"),
                    # .get: a shadow-report.json written before the directions were charted has only the sum
                    Series(DIRECTION_TEXT[SCOPE_ALLOW_AVP_DENY], tuple(p.get(SCOPE_ALLOW_AVP_DENY, 0) for p in points),
                           "bad"),
                    Series(DIRECTION_TEXT[SCOPE_DENY_AVP_ALLOW], tuple(p.get(SCOPE_DENY_AVP_ALLOW, 0) for p in points),
                           "warn"),
                    Series("AVP errors", tuple(p.get("avp_errors", 0) for p in points), "muted")),
            caption=f"One bar per {bin_text}; each panel on its own scale"
                    + ("; zoomed to the bins that hold records" if span and (span[0] or span[1] <
                                                                             len(route["timeline"])) else "") + ".",
        )
        subsections.append(Section(f"timeline-{index}", route["route"], [chart]))
    blocks: list[Block] = [] if subsections else [Paragraph.of("No decision to chart.")]
    return Section("timeline", "Over time", blocks, subsections)


def not_compared_section(data: ShadowData) -> Section:
    rows = [r for r in data.routes if r["unauthenticated"] or r["refused"] or r["not_asked"]]
    table = Table.of(rows, [
        Column("route", "Route"),
        Column("unauthenticated_by_code", "401 (token refused)", lambda c: by_type(c) or "0"),
        Column("refused", "Refused before a decision", lambda c: by_type(c) or "0"),
        Column("not_asked", "Scope mode (AVP not asked)", count),
        Column("modes", "Modes seen", by_type),
    ], empty="None.")
    blocks: list[Block] = [
        Paragraph.of("Requests that say nothing about AVP: a token the authorizer refused (401 in every mode; AVP is "
                     "not asked), a request the configuration could not place (denied), decisions in scope mode."),
        table]
    if data.summary["unrouted"]:
        blocks.append(Paragraph.of(f"{data.summary['unrouted']:,} requests were refused before a route could be "
                                   "named (no method ARN, or an authorizer failure)."))
    if data.problems:
        blocks.append(Paragraph.of("Problems reading the input:"))
        blocks.append(Steps(tuple(data.problems)))
    return Section("not-compared", "Not compared", blocks)


def next_steps_section(data: ShadowData) -> Section:
    ready = [r["route"] for r in data.routes if r["ready"]]
    plan = data.source.get("plan") or "PLAN_DIR"
    steps: list[Cell] = []
    if ready:
        quoted = " ".join(f"'{route}'" for route in ready)
        # Paths as given to `report shadow` (relative to where it ran), so the line works when pasted there.
        evidence = f"{data.source['out'].rstrip('/')}/shadow-report.json" if data.source.get("out") else \
            "shadow-report.json"
        steps.append(Code(f"avp-migrate cutover {quoted} --plan {plan} --evidence {evidence}"))
    if len(ready) < len(data.routes):
        steps.append("For an endpoint that is not ready: let traffic accumulate, fix the policies a disagreement "
                     "points to (then run avp-migrate verify and deploy), or accept a disagreement you have "
                     "explained with --allow-disagreements, and run this report again.")
    return Section("next-steps", "Next steps", [Steps(tuple(steps))] if steps else [Paragraph.of("None.")])


def method_section(data: ShadowData) -> Section:
    t = data.thresholds
    return Section("method", "How this report counts", [
        Paragraph.of("Each request the authorizer decides writes one shadow record. A record whose token was refused "
                     "(401) or that was refused before a decision is counted apart; otherwise it is a decision, "
                     "compared when AVP answered: it agrees when AVP's decision equals the scope decision."),
        Paragraph.of(f"An endpoint is ready when it has at least {t.min_decisions:,} decisions, at most "
                     f"{t.allow_disagreements:,} disagreements and an AVP error rate of at most "
                     f"{rate(t.max_avp_error_rate)} (--min-decisions, --allow-disagreements, --max-avp-error-rate)."),
        Paragraph.of("Percentiles: ", data.latency_method,
                     ". From files and downloaded events every latency is kept and the percentile is the smallest "
                     "observed value with at least that share of the values at or below it."),
    ])
