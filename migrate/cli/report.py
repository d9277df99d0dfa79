"""`avp-migrate report shadow`: read the authorizer's shadow records and say which endpoints are ready to cut over.

Sources (one): ``--log-group NAME`` (Logs Insights aggregates server-side; ``--download`` reads the raw events of
a small window instead), ``--plan DIR`` (the log group deploy recorded in ``deployment.json``), ``--files FILE
...`` (JSON-lines files of the authorizer's log lines). With ``--plan`` the endpoints deploy moved are listed even
without traffic, and policy ids are shown with their ``@id``. Exit 0 when the report is written (whatever the
readiness; ``shadow-report.json`` says it per endpoint), 1 on error.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate import __version__
from migrate.errors import UserError


def register(verbs: Any, common: argparse.ArgumentParser) -> None:
    report = verbs.add_parser("report", help="reports on a migration in progress (shadow: readiness per endpoint)",
                              description="Reports on a migration in progress.")
    kinds = report.add_subparsers(dest="report", metavar="REPORT", required=True)
    shadow = kinds.add_parser(
        "shadow", parents=[common], help="which endpoints are ready to move to Verified Permissions, and why not",
        description="Read the shadow records the Lambda authorizer writes (one per decision) and report per "
                    "endpoint: decisions, agreement with the scopes, disagreements by direction with examples, AVP "
                    "errors and latency, first and last seen, and readiness against the thresholds. Writes "
                    "shadow-report.md, shadow-report.html, shadow-routes.csv and shadow-report.json (which "
                    "`cutover` reads) into --out.")
    source = shadow.add_argument_group("source (one of)")
    source.add_argument("--log-group", metavar="NAME", help="the authorizer's CloudWatch log group (Logs Insights)")
    source.add_argument("--plan", metavar="DIR",
                        help="a deployed plan folder: its deployment.json names the log group (unless --log-group or "
                             "--files is given), the endpoints deploy moved and the policies' @id")
    source.add_argument("--files", nargs="+", metavar="FILE", help="JSON-lines files of the authorizer's log lines")
    shadow.add_argument("--download", action="store_true",
                        help="with a log group: download the window's events (FilterLogEvents) and read them here "
                             "instead of aggregating server-side (small windows)")
    shadow.add_argument("--start", metavar="ISO|-24h",
                        help="window start: ISO 8601, or how long ago (-24h, -90m, -7d; the minus may be left out); "
                             "log groups default to 24h ago, files to their first record")
    shadow.add_argument("--end", metavar="ISO|-1h", help="window end (default: now for log groups, the last record "
                                                         "for files)")
    shadow.add_argument("--out", required=True, metavar="DIR", help="folder for the four report files")
    gate = shadow.add_argument_group("readiness thresholds")
    gate.add_argument("--min-decisions", type=_count, default=100, metavar="N",
                      help="decisions compared with AVP an endpoint needs (default: 100)")
    gate.add_argument("--max-avp-error-rate", type=_rate, default=0.01, metavar="R",
                      help="largest share of AVP errors among decisions, 0 to 1 (default: 0.01)")
    gate.add_argument("--allow-disagreements", type=_count, default=0, metavar="N",
                      help="disagreements an endpoint may have and still be ready: those you have explained "
                           "(default: 0)")
    shadow.add_argument("--workers", type=_count, metavar="N", help="processes reading files (default: one per core)")
    shadow.set_defaults(run=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1 (or a percentage), got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    from reports.shadow_model import summarize
    from reports.shadow_readiness import Thresholds
    from reports.shadow_report import write_shadow_report

    thresholds = Thresholds(min_decisions=args.min_decisions, max_avp_error_rate=args.max_avp_error_rate,
                            allow_disagreements=args.allow_disagreements)
    record = _deployment(args.plan) if args.plan else None
    if args.files and args.log_group:
        raise UserError("give either --log-group or --files, not both", where="report shadow")
    if args.files and args.download:
        raise UserError("--download reads a log group; files are read directly", where="--download")
    log_group = None if args.files else (args.log_group or (record.log_group if record else None))
    if not args.files and not log_group:
        raise UserError("say where the shadow records are: --log-group NAME, --plan DIR or --files FILE ...",
                        where="report shadow")

    window = _window(args, bounded=log_group is not None)
    source: dict[str, Any] = {"kind": "files" if args.files else ("download" if args.download else "insights"),
                              "log_group": log_group, "files": [str(f) for f in args.files or []],
                              "plan": str(args.plan) if args.plan else None, "tool_version": __version__,
                              "out": str(args.out),
                              "api": ({"id": record.api_id, "name": record.api_name, "stage": record.stage}
                                      if record else None)}
    if args.files:
        tallies = _read_files(args.files, window, args.workers)
    else:
        tallies = _read_log_group(args, log_group, window, record, source)
    _require_records(tallies, source, window)
    data = summarize(tallies, thresholds=thresholds, window=window, source=source,
                     expected_routes=tuple(record.methods) if record else (),
                     policy_names={policy_id: name for name, policy_id in record.policies.items()} if record else {})
    paths = write_shadow_report(data, Path(args.out))
    if args.format == "json":
        print(json.dumps(summary_json(data, paths), indent=2, ensure_ascii=False))
    else:
        print(render(data, paths))
    return 0


def _deployment(plan: str) -> Any:
    from migrate.deploy.record import load_record
    from migrate.plan_folder import warn_if_changed

    warn_if_changed(plan)
    return load_record(plan)


def _window(args: argparse.Namespace, *, bounded: bool) -> Any:
    from reports.shadow_window import Window, WindowError, parse_time

    now = datetime.now(UTC)
    try:
        start = parse_time(args.start, now) if args.start else None
        end = parse_time(args.end, now) if args.end else None
        if bounded:  # a log group is always queried over a window: the last day unless told
            start = start or parse_time("-24h", end or now)
            end = end or now
        return Window(start, end)
    except WindowError as exc:
        raise UserError(str(exc), where="--start/--end") from None


def _read_files(files: list[str], window: Any, workers: int | None) -> Any:
    from reports.shadow_reader import ShadowInputError, read_files

    for name in files:
        path = Path(name)
        if not path.exists():
            raise UserError("no such file", where=name)
        if path.is_dir():
            raise UserError("is a directory (give the JSON-lines files)", where=name)
    try:
        return read_files(files, window, workers=workers)
    except ShadowInputError as exc:
        raise UserError(str(exc)) from None


def _read_log_group(args: argparse.Namespace, log_group: str, window: Any, record: Any,
                    source: dict[str, Any]) -> Any:
    from migrate.awsconfig import AwsSession, AwsTarget
    from reports.shadow_download import DownloadError, download
    from reports.shadow_insights import InsightsError, InsightsRunner, queries, tallies_from_results
    from reports.shadow_window import choose_bin

    if record is not None:
        from migrate.cutover.deployment import check_region

        check_region(args.region, record.region, args.plan)
    session = AwsSession(AwsTarget(profile=args.profile, region=args.region or (record.region if record else None),
                                   endpoint_url=args.endpoint_url))
    client = session.client("logs")
    source["region"] = session.region
    if args.download:
        try:
            fetched = download(client, log_group, window)
        except DownloadError as exc:
            raise UserError(str(exc), where=f"log group {log_group}") from None
        source["events"] = fetched.events
        return fetched.tallies
    bin_seconds = choose_bin(window.seconds())
    try:
        results = InsightsRunner(client, log_group, window).run(queries(bin_seconds))
    except InsightsError as exc:
        raise UserError(str(exc), where=f"log group {log_group}") from None
    source["insights"] = {name: {"query_id": r.query_id, **r.statistics} for name, r in results.items()}
    return tallies_from_results(results, bin_seconds)


def _require_records(tallies: Any, source: dict[str, Any], window: Any) -> None:
    """No shadow record at all is an error (a wrong file, an empty log group, a wrong window), not an empty report."""
    lines = tallies.lines
    if lines.records - lines.outside_window - lines.test_invocations > 0:
        return
    where = (f"log group {source['log_group']}" if source["log_group"] else ", ".join(source["files"]))
    start, end = window.bounds_text()
    span = f" between {start} and {end}" if start or end else ""
    detail = (f"{lines.lines:,} lines: {lines.skipped:,} not shadow records, {lines.invalid:,} invalid"
              + (f", {lines.outside_window:,} outside the window" if lines.outside_window else "")
              + (f", {lines.test_invocations:,} from deploy's smoke test" if lines.test_invocations else ""))
    first = f"; first problem: {tallies.problems[0]}" if tallies.problems else ""
    raise UserError(f"no shadow records{span} ({detail}){first}", where=where)


def summary_json(data: Any, paths: list[Path]) -> dict[str, Any]:
    keys = ("route", "ready", "reasons", "decisions", "agreements", "disagreements", "avp_errors", "agreement_rate",
            "avp_error_rate", "latency_ms", "first_seen", "last_seen", "unauthenticated")
    return {"files": [str(p) for p in paths], "window": data.window, "thresholds": data.thresholds.to_json(),
            "summary": data.summary, "lines": data.lines,
            "routes": [{k: r[k] for k in keys} for r in data.routes]}


def render(data: Any, paths: list[Path]) -> str:
    from reports.shadow_readiness import DIRECTION_TEXT
    from reports.shadow_report import rate, when

    s, lines, t = data.summary, data.lines, data.thresholds
    out = [f"wrote {', '.join(str(p) for p in paths)}",
           f"read {lines['lines']:,} lines: {lines['records']:,} shadow records, {lines['skipped']:,} other lines, "
           f"{lines['invalid']:,} invalid, {lines['outside_window']:,} outside the window"
           + (f", {lines['test_invocations']:,} from deploy's smoke test (not evidence)"
              if lines.get("test_invocations") else ""),
           f"records from {when(data.window['first_seen'])} to {when(data.window['last_seen'])}",
           f"{s['ready']} of {s['routes']} endpoints ready (at least {t.min_decisions:,} decisions, at most "
           f"{t.allow_disagreements:,} disagreements, AVP error rate at most {rate(t.max_avp_error_rate)})"]
    width = max((len(r["route"]) for r in data.routes), default=0)
    for r in data.routes:
        split = r["disagreements"]
        total = sum(split.values())
        directions = ", ".join(f"{n:,} {DIRECTION_TEXT[d]}" for d, n in split.items() if n)
        parts = [f"{r['decisions']:>9,} decisions", f"agree {rate(r['agreement_rate'])}",
                 f"{total:,} disagreement{'' if total == 1 else 's'}" + (f" ({directions})" if total else ""),
                 f"{r['avp_errors']:,} AVP error{'' if r['avp_errors'] == 1 else 's'}"]
        if r["latency_ms"]["p95"] is not None:
            parts.append(f"p95 {r['latency_ms']['p95']:,.1f} ms")
        verdict = "ready    " if r["ready"] else "NOT READY"
        out.append(f"  {verdict}  {r['route']:<{width}}  " + ", ".join(parts))
        out.extend(f"             - {reason}" for reason in r["reasons"])
    out.extend(f"  problem: {p}" for p in data.problems)
    return "\n".join(out)
