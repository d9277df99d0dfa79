"""`avp-migrate report shadow`, on real shadow records.

The records come from the real Lambda authorizer in shadow mode on the embedded AWS: the demo account scanned and
planned, the plan's policy store loaded into the local Verified Permissions endpoint with one policy left out (the
avp-group rule's, so AVP denies what the scopes allow on GET /avp), every demo user and the client-credentials
client calling every migrated route, plus refused tokens, a request for a route the configuration does not know,
one route kept in scope mode and AVP throttling on GET /scope. Those log lines are written to a JSON-lines file and
put into a CloudWatch Logs log group (moto): both paths must give the same numbers. Logs Insights is not evaluated
by moto: the queries' text, the polling, and the parsing of results in GetQueryResults' exact shape (validated by
botocore's Stubber against the service model) are tested apart. No test measures time.
"""

from __future__ import annotations

import html
import json
import math
import random
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber

from authorizer.config import AuthorizerConfig
from authorizer.shadow import LOG_KEY, LOG_MESSAGE, ShadowRecord
from migrate.awsconfig import AwsSession, AwsTarget
from migrate.cli.main import main
from migrate.embedded.seed import seed_demo
from migrate.plan import check, write_plan
from migrate.scan.aws import AwsScanner, ScanOptions
from migrate.translate import translate
from reports.document import BarChart, Report, Section, Series
from reports.html import render_html
from reports.markdown import render_markdown
from reports.shadow_download import download
from reports.shadow_insights import (
    EXAMPLES_LIMIT,
    QUERY_LIMIT,
    InsightsError,
    InsightsRunner,
    queries,
    tallies_from_results,
)
from reports.shadow_model import summarize
from reports.shadow_reader import read_files, read_lines, tally_records
from reports.shadow_readiness import Thresholds, readiness, readiness_of_report
from reports.shadow_report import write_shadow_report
from reports.shadow_window import Window, parse_time, record_time
from tests.authorizer_helpers import fake_avp, harness, modes_env, request_event
from tests.test_plan_authorizer import load_store, tokens_of

SCOPE_MODE_ROUTE = "DELETE /pets/{petId}"
THROTTLED_ROUTE = "GET /scope"
UNKNOWN_ROUTE = "GET /nope"
JUNK = ["START RequestId: 8f5c1f0e-1111-4c1b-9d3e-3a1b2c3d4e5f Version: $LATEST", "not json at all {",
        '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "route": "GET /avp", "Decisions": [1]}']
ALLOW_DENY, DENY_ALLOW = "scope_allow_avp_deny", "scope_deny_avp_allow"


# --- real traffic ----------------------------------------------------------------------------------------------

class Traffic:
    def __init__(self, lines: list[str], account: Any, config: AuthorizerConfig) -> None:
        self.lines = lines  # every log line the authorizer wrote, then a few lines that are no record
        self.account = account
        self.config = config

    @property
    def records(self) -> list[ShadowRecord]:
        return [r for r in (ShadowRecord.from_log_line(line) for line in self.lines) if r is not None]

    def write(self, path: Path) -> Path:
        path.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def traffic(_embedded_aws_session, tmp_path_factory) -> Traffic:
    aws = _embedded_aws_session
    aws.reset()
    tmp = tmp_path_factory.mktemp("shadow")
    account = seed_demo(region=aws.region)
    inventory = AwsScanner(AwsSession(AwsTarget()), ScanOptions(api_ids=[account.api_id], stage="prod",
                                                               all_users=True)).scan()
    translation = translate(inventory)
    plan = tmp / "plan"
    write_plan(translation, check(translation), plan, inventory=inventory, inventory_path="inventory.json")
    store = load_store(plan, account.user_pool_arn)
    avp = boto3.client("verifiedpermissions")
    for item in avp.list_policies(policyStoreId=store, maxResults=50)["policies"]:
        statement = avp.get_policy(policyStoreId=store, policyId=item["policyId"])["definition"]["static"]["statement"]
        if '@rule("avp-group")' in statement:
            avp.delete_policy(policyStoreId=store, policyId=item["policyId"])
    config = AuthorizerConfig.from_json((plan / "authorizer-config.json").read_text())
    tokens = tokens_of(account, aws)
    modes = modes_env({SCOPE_MODE_ROUTE: "scope"}, default="shadow")
    shadow = harness(tmp, aws, config, store_id=store, env=modes)
    for caller, own in tokens.items():
        for route, settings in config.routes.items():
            token = own.get(settings.token_use)
            if token is None:
                continue
            for verb in settings.actions:
                event = request_event(route, f"Bearer {token}", verb=verb, api_id=account.api_id)
                shadow.call(event)
                if caller in ("alice", "bob"):
                    shadow.call(event)  # the same token again: answered from the decision cache
    for header in ("Bearer not-a-jwt", "Bearer a.b.c", None):
        shadow.call(request_event(THROTTLED_ROUTE, header, api_id=account.api_id))
    shadow.call(request_event(UNKNOWN_ROUTE, f"Bearer {tokens['bob']['access']}", api_id=account.api_id))
    with fake_avp("throttle") as server, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS", server.url)
        throttled = harness(tmp, aws, config, store_id=store, env={**modes, "AVP_AUTHZ_CACHE_SIZE": "0"})
        for caller in ("carol", "dave", "erin"):
            throttled.call(request_event(THROTTLED_ROUTE, f"Bearer {tokens[caller]['access']}", api_id=account.api_id))
    return Traffic(shadow.lines() + throttled.lines() + JUNK, account, config)


def expected_by_route(records: list[ShadowRecord]) -> dict[str, dict[str, Any]]:
    """The numbers, straight from the records' own fields (``agree`` included), without the report's code."""
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "decisions": 0, "agreements": 0, ALLOW_DENY: 0, DENY_ALLOW: 0, "avp_errors": 0, "unauthenticated": 0,
        "not_asked": 0, "times": [], "latencies": []})
    for r in records:
        if r.route is None:
            continue
        e = out[r.route]
        e["times"].append(r.time)
        if r.token_error:
            e["unauthenticated"] += 1
            continue
        if r.scope_decision is None:
            continue
        if r.avp_decision is None and r.avp_error is None:
            e["not_asked"] += 1
            continue
        e["decisions"] += 1
        if r.agree is True:
            e["agreements"] += 1
        elif r.agree is False:
            e[ALLOW_DENY if r.scope_decision == "ALLOW" else DENY_ALLOW] += 1
        else:
            e["avp_errors"] += 1
        if r.avp_latency_ms is not None and not r.avp_cached:
            e["latencies"].append(r.avp_latency_ms)
    return dict(out)


def nearest_rank(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", "shadow", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def routes_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["route"]: r for r in report["routes"]}


def put_in_log_group(logs: Any, name: str, lines: list[str]) -> None:
    """The lines as Lambda's log events: the record's time as the event's, other lines at their neighbour's."""
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="2026/11/26/[$LATEST]abc")
    at = int(datetime.now(UTC).timestamp() * 1000) - 60_000
    events = []
    for line in lines:
        record = ShadowRecord.from_log_line(line)
        if record is not None:
            at = int(parse_time(record.time, datetime.now(UTC)).timestamp() * 1000)
        events.append({"timestamp": at, "message": line + "\n"})  # Lambda keeps the newline
    events.sort(key=lambda e: e["timestamp"])
    for i in range(0, len(events), 100):
        logs.put_log_events(logGroupName=name, logStreamName="2026/11/26/[$LATEST]abc", logEvents=events[i:i + 100])


# --- the story: files and log group ------------------------------------------------------------------------------

def test_the_file_report_counts_what_the_records_say(traffic, tmp_path, capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    code, out, err = run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "out"), "--min-decisions", "1")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    routes = routes_of(report)
    expected = expected_by_route(traffic.records)
    assert set(routes) == set(expected) == set(traffic.config.routes) | {UNKNOWN_ROUTE}
    for name, want in expected.items():
        got = routes[name]
        assert (got["decisions"], got["agreements"], got["disagreements"][ALLOW_DENY],
                got["disagreements"][DENY_ALLOW], got["avp_errors"], got["unauthenticated"], got["not_asked"]) == (
            want["decisions"], want["agreements"], want[ALLOW_DENY], want[DENY_ALLOW], want["avp_errors"],
            want["unauthenticated"], want["not_asked"]), name
        assert (got["first_seen"], got["last_seen"]) == (min(want["times"]), max(want["times"]))
        for p in (50, 95, 99):
            assert got["latency_ms"][f"p{p}"] == nearest_rank(want["latencies"], p), (name, p)
        assert got["latency_ms"]["calls"] == len(want["latencies"])

    # the story, in plain facts
    avp = routes["GET /avp"]
    assert avp["disagreements"][ALLOW_DENY] >= 2 and avp["disagreements"][DENY_ALLOW] == 0
    assert not avp["ready"] and any("disagreement" in reason for reason in avp["reasons"])
    examples = avp["examples"][ALLOW_DENY]
    assert {tuple(e["groups"]) for e in examples} >= {("avp-group",), ("auditors", "avp-group")}
    assert all(e["determining_policies"] == [] for e in examples)  # a denial: no policy permitted
    assert routes[THROTTLED_ROUTE]["avp_errors_by_type"] == {"ThrottlingException": 3}
    assert routes[THROTTLED_ROUTE]["unauthenticated_by_code"] and routes[THROTTLED_ROUTE]["unauthenticated"] == 3
    assert routes[SCOPE_MODE_ROUTE]["decisions"] == 0 and routes[SCOPE_MODE_ROUTE]["not_asked"] > 0
    assert "scope mode" in routes[SCOPE_MODE_ROUTE]["reasons"][0]
    assert routes[UNKNOWN_ROUTE]["refused"] == {"unknown_route": 1}
    assert "refused before a decision (unknown_route: 1)" in routes[UNKNOWN_ROUTE]["reasons"][0]
    agreeing = [r for r in routes.values() if r["decisions"] and not sum(r["disagreements"].values())
                and not r["avp_errors"]]
    assert agreeing and all(r["ready"] and r["agreement_rate"] == 1.0 for r in agreeing)
    lines = report["lines"]
    assert lines["records"] == len(traffic.records)
    assert lines["skipped"] == len(traffic.lines) - len(traffic.records)  # operator lines and the junk
    assert lines["invalid"] == 0
    assert "NOT READY  GET /avp" in out and "wrote " in out


def test_the_log_group_downloaded_gives_the_same_numbers_as_the_file(traffic, embedded_aws, aws_clients, tmp_path,
                                                                      capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    assert run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "files"))[0] == 0
    put_in_log_group(aws_clients("logs"), "/aws/lambda/avp-migrate-authz", traffic.lines)
    code, _out, err = run_cli(capsys, "--log-group", "/aws/lambda/avp-migrate-authz", "--download", "--start=-2h",
                             "--out", str(tmp_path / "logs"))
    assert code == 0, err
    from_files = json.loads((tmp_path / "files" / "shadow-report.json").read_text())
    from_logs = json.loads((tmp_path / "logs" / "shadow-report.json").read_text())
    assert from_logs["source"]["kind"] == "download" and from_logs["source"]["events"] == len(traffic.lines)

    def comparable(report: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "timeline"} for r in report["routes"]]

    assert comparable(from_logs) == comparable(from_files)
    assert from_logs["summary"] == from_files["summary"]
    assert from_logs["lines"] == from_files["lines"]
    for a, b in zip(from_files["routes"], from_logs["routes"], strict=True):  # same counts, maybe other buckets
        assert sum(p["decisions"] for p in a["timeline"]) == sum(p["decisions"] for p in b["timeline"]) == a[
            "decisions"]
        assert sum(p["disagreements"] for p in a["timeline"]) == sum(p["disagreements"] for p in b["timeline"])

    # FilterLogEvents pages: small pages give the same tallies as one
    logs = aws_clients("logs")
    window = Window(datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC))
    paged, whole = (download(logs, "/aws/lambda/avp-migrate-authz", window, page_size=size) for size in (40, 10_000))
    assert paged.pages > 2 and whole.pages == 1
    assert summarize(paged.tallies, thresholds=Thresholds(), window=window, source={}).routes == summarize(
        whole.tallies, thresholds=Thresholds(), window=window, source={}).routes


def test_a_deployed_plan_names_the_log_group_the_endpoints_and_the_policies(traffic, embedded_aws, aws_clients,
                                                                           tmp_path, capsys):
    from migrate.deploy.record import DeploymentRecord, MovedMethod, OriginalMethod, save_record

    put_in_log_group(aws_clients("logs"), "/aws/lambda/avp-migrate-authz-demo-prod", traffic.lines)
    avp_examples = [r for r in traffic.records if r.route == "GET /scope" and r.determining_policies]
    policy_id = avp_examples[0].determining_policies[0]
    methods = {route: MovedMethod("r1", route.split()[0], OriginalMethod("COGNITO_USER_POOLS", "c1", ["s"]))
               for route in [*traffic.config.routes, "GET /quiet"]}
    plan = tmp_path / "plan"
    plan.mkdir()
    save_record(DeploymentRecord(
        api_id=traffic.account.api_id, api_name="MyApi", stage="prod", region=embedded_aws.region,
        account_id="123456789012", policy_store_id="ps", identity_source_id="is", function_name="f",
        function_arn="arn", role_name="r", log_group="/aws/lambda/avp-migrate-authz-demo-prod", authorizer_id="a",
        mode_parameter="/m", ledger_table="t", deployed_at="2026-11-26T08:00:00+00:00",
        policies={"everyone-scope-read": policy_id}, methods=methods), plan)
    code, _out, err = run_cli(capsys, "--plan", str(plan), "--download", "--out", str(tmp_path / "out"),
                              "--min-decisions", "1")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    assert report["source"]["log_group"] == "/aws/lambda/avp-migrate-authz-demo-prod"
    quiet = routes_of(report)["GET /quiet"]  # moved, but no traffic: listed, and not ready
    assert quiet["decisions"] == 0 and not quiet["ready"] and quiet["first_seen"] is None
    assert report["policy_names"] == {policy_id: "everyone-scope-read"}
    md = (tmp_path / "out" / "shadow-report.md").read_text()
    assert f"# Shadow report: MyApi ({traffic.account.api_id}), stage prod" in md
    assert "avp-migrate cutover" in md and str(plan) in md


# --- readiness -------------------------------------------------------------------------------------------------

def test_readiness_flips_with_each_threshold(traffic, tmp_path, capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    report_json = tmp_path / "out" / "shadow-report.json"

    def ready(*flags: str) -> dict[str, bool]:
        assert run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "out"), *flags)[0] == 0
        return {r["route"]: r["ready"] for r in json.loads(report_json.read_text())["routes"]}

    default = ready()  # at least 100 decisions: the demo's traffic is too little anywhere
    assert not any(default.values())
    enough = ready("--min-decisions", "1")
    assert enough["GET /pets"] and not enough["GET /avp"] and not enough[THROTTLED_ROUTE]
    disagreements = routes_of(json.loads(report_json.read_text()))["GET /avp"]["disagreements"]
    explained = ready("--min-decisions", "1", "--allow-disagreements", str(sum(disagreements.values())))
    assert explained["GET /avp"] and not explained[THROTTLED_ROUTE]
    tolerant = ready("--min-decisions", "1", "--max-avp-error-rate", "100%")
    assert tolerant[THROTTLED_ROUTE] and not tolerant["GET /avp"] and not tolerant[SCOPE_MODE_ROUTE]

    # the same function cutover imports, on the report as written
    report = json.loads(report_json.read_text())
    again = readiness_of_report(report)
    assert {route: r.ready for route, r in again.items()} == tolerant
    stricter = readiness_of_report(report, Thresholds(min_decisions=1, max_avp_error_rate=0.0))
    assert not stricter[THROTTLED_ROUTE].ready
    assert any("AVP error rate" in reason for reason in stricter[THROTTLED_ROUTE].reasons)


def test_readiness_names_every_reason_and_its_check():
    route = {"route": "GET /x", "decisions": 40, "agreements": 30, "avp_errors": 8,
             "disagreements": {ALLOW_DENY: 1, DENY_ALLOW: 1}}
    verdict = readiness(route, Thresholds(min_decisions=50, max_avp_error_rate=0.1, allow_disagreements=1))
    assert not verdict.ready
    assert verdict.reasons == (
        "only 40 decisions compared with AVP (minimum 50)",
        "2 disagreements (1 scope allows, AVP denies, 1 scope denies, AVP allows); 1 allowed",
        "AVP error rate 20 % (8 of 40 decisions); maximum 10 %")
    assert [(c.name, c.passed) for c in verdict.checks] == [("min_decisions", False), ("disagreements", False),
                                                            ("avp_error_rate", False)]
    assert readiness(route, Thresholds(min_decisions=40, max_avp_error_rate=0.2, allow_disagreements=2)).ready
    assert readiness({"route": "GET /y", "decisions": 0, "not_asked": 7}, Thresholds(min_decisions=0)).ready
    assert "scope mode" in readiness({"route": "GET /y", "decisions": 0, "not_asked": 7}, Thresholds()).reasons[0]
    with pytest.raises(ValueError):
        Thresholds(max_avp_error_rate=1.5)


# --- the fast reader against the reference -------------------------------------------------------------------------

def test_the_fast_reader_equals_reading_each_line_with_from_log_line(traffic, tmp_path):
    lines = list(traffic.lines)
    random.Random(7).shuffle(lines)  # out of time order: the slow paths of the reader
    lines += ['{"shadow": {"record_version": 2, "time": "x"}}', '{"level": "INFO", "shadow": {"route": 1}}']
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    reference = tally_records(r for r in (_from_log_line(line) for line in lines) if r is not None)

    def as_json(tallies: Any) -> dict[str, Any]:
        return summarize(tallies, thresholds=Thresholds(min_decisions=1), window=Window(), source={}).to_json()

    inline = read_files([path], workers=1)
    split = read_files([path], workers=3, min_parallel_bytes=0)  # one file cut in three at line starts
    parallel = read_files([path, traffic.write(tmp_path / "sorted.jsonl")], workers=2, min_parallel_bytes=0)
    buffered = read_lines(path.read_bytes())
    assert inline.lines.invalid == 2 and len(inline.problems) == 2
    assert "byte" in inline.problems[0] and "not a shadow record of version 1" in inline.problems[0]
    assert as_json(inline)["routes"] == as_json(reference)["routes"] == as_json(buffered)["routes"]
    assert as_json(split) == as_json(inline)
    assert inline.lines.records == len(traffic.records)
    doubled = as_json(parallel)["routes"]
    assert [r["decisions"] for r in doubled] == [2 * r["decisions"] for r in as_json(reference)["routes"]]


def _from_log_line(line: str) -> ShadowRecord | None:
    try:
        return ShadowRecord.from_log_line(line)
    except ValueError:
        return None


def test_a_window_keeps_only_its_records(traffic, tmp_path, capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    times = sorted(r.time for r in traffic.records)
    middle = times[len(times) // 2]
    code, _out, err = run_cli(capsys, "--files", str(source), "--start", middle, "--out", str(tmp_path / "out"))
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    kept = sum(1 for t in times if t >= middle)
    assert report["lines"]["outside_window"] == len(times) - kept
    assert report["window"]["start"] == middle and report["window"]["first_seen"] >= middle


def test_deploy_s_smoke_test_decisions_are_not_evidence(traffic, tmp_path, capsys):
    """TestInvokeAuthorizer calls (requestContext.stage test-invoke-stage) are real decisions of the deployed
    function, but not traffic: counted apart, never towards a route's readiness."""
    from dataclasses import replace

    from authorizer.shadow import TEST_INVOKE_STAGE

    source = traffic.write(tmp_path / "authorizer.jsonl")
    plain = tally_records(traffic.records)
    smoke = [replace(r, stage=TEST_INVOKE_STAGE) for r in traffic.records]
    mixed = tally_records([*traffic.records, *smoke])
    assert mixed.lines.test_invocations == len(smoke) and plain.lines.test_invocations == 0
    assert {k: sum(v.outcomes.values()) for k, v in mixed.routes.items()} == {
        k: sum(v.outcomes.values()) for k, v in plain.routes.items()}
    with source.open("a") as handle:
        handle.writelines(json.dumps({"shadow": r.to_dict()}) + "\n" for r in smoke)
    code, out, err = run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "out"))
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    assert report["lines"]["test_invocations"] == len(smoke)
    assert f"{len(smoke):,} from deploy's smoke test (not evidence)" in out
    for text in queries(3600).values():
        assert f'shadow.stage != "{TEST_INVOKE_STAGE}"' in text


# --- Logs Insights: the queries, the polling, the results --------------------------------------------------------

def test_the_insights_queries_aggregate_server_side_by_route():
    texts = queries(3600)
    assert list(texts) == ["outcomes", "latency", "decisions_over_time", "disagreements_over_time",
                           "errors_over_time", "disagreement_examples"]
    for name, text in texts.items():
        assert text.startswith("filter shadow.record_version = 1"), name
        assert re.search(r"\| stats count\(\*\) as \w+.* by route\b", text), name
        assert "limit" in text and text.count('"') % 2 == 0 and text.count("(") == text.count(")"), name
        # an alias must not be a command's name (SOURCE is one) nor a top-level key of the Powertools line
        commands = {"fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup", "unnest", "source",
                    "pattern", "diff", "lookup", "join", "anomaly", "unmask", "filterindex"}
        powertools = {"level", "location", "message", "timestamp", "service", "xray_trace_id", "shadow"}
        assert not set(re.findall(r" as (\w+)", text)) & (commands | powertools), name
        # a bare field name may hold letters, digits, "_", "." and "@" only (else it needs backticks)
        for field in re.findall(r"(?<![\w\"])(?:shadow|@)[\w.@]*", text):
            assert re.fullmatch(r"[@\w.]+", field), field
    assert "pct(shadow.avp_latency_ms, 50)" in texts["latency"] and "pct(shadow.avp_latency_ms, 99)" in texts[
        "latency"]
    assert "shadow.avp_cached = 0" in texts["latency"]  # JSON false is 0 in Insights
    assert "datefloor(@timestamp, 1h) as bucket" in texts["decisions_over_time"]
    assert "datefloor(@timestamp, 5m) as bucket" in queries(300)["disagreements_over_time"]
    assert "datefloor(@timestamp, 24h)" in queries(86400)["decisions_over_time"]  # hours are capped at 24
    assert "avp != scope" in texts["disagreements_over_time"]
    assert '(?<group_list>[^\\]]*)' in texts["disagreement_examples"] and "sort records desc" in texts[
        "disagreement_examples"]
    assert "earliest(shadow.time) as first_seen" in texts["outcomes"]


WINDOW = Window(datetime(2026, 11, 26, 8, tzinfo=UTC), datetime(2026, 11, 26, 10, tzinfo=UTC))
OUTCOMES = [  # route, mode, decided_by, reason, token_error, scope, avp, avp_error, records, first_seen, last_seen
    ("GET /avp", "shadow", "scope", "-", "-", "ALLOW", "ALLOW", "-", 120, "2026-11-26T08:00:01.000Z",
     "2026-11-26T09:59:58.500Z"),
    ("GET /avp", "shadow", "scope", "-", "-", "ALLOW", "DENY", "-", 3, "2026-11-26T08:10:00.000Z",
     "2026-11-26T09:00:00.000Z"),
    ("GET /avp", "shadow", "scope", "-", "-", "DENY", "DENY", "-", 40, "2026-11-26T08:00:00.250Z",
     "2026-11-26T09:30:00.000Z"),
    ("GET /avp", "shadow", "scope", "-", "-", "ALLOW", "-", "Timeout", 2, "2026-11-26T08:20:00.000Z",
     "2026-11-26T08:21:00.000Z"),
    ("GET /avp", "shadow", "scope", "-", "expired", "-", "-", "-", 5, "2026-11-26T08:05:00.000Z",
     "2026-11-26T09:05:00.000Z"),
    ("GET /scope", "shadow", "scope", "-", "-", "ALLOW", "ALLOW", "-", 300, "2026-11-26T08:00:00.500Z",
     "2026-11-26T09:59:59.900Z"),
    ("GET /scope", "shadow", "scope", "-", "-", "DENY", "ALLOW", "-", 1, "2026-11-26T09:15:00.000Z",
     "2026-11-26T09:15:00.000Z"),
    ("-", "shadow", "config", "bad_method_arn", "-", "-", "-", "-", 2, "2026-11-26T08:30:00.000Z",
     "2026-11-26T08:31:00.000Z"),
]
OUTCOME_FIELDS = ("route", "mode", "decided_by", "reason", "token_error", "scope", "avp", "avp_error", "records",
                  "first_seen", "last_seen")


def handwritten_results() -> dict[str, dict[str, Any]]:
    """GetQueryResults answers as CloudWatch gives them: every value a string, "-" for our nulls."""

    def row(**values: str) -> list[dict[str, str]]:
        return [{"field": k, "value": v} for k, v in values.items()]

    def answer(rows: list[list[dict[str, str]]], scanned: float) -> dict[str, Any]:
        return {"status": "Complete", "results": rows,
                "statistics": {"recordsMatched": float(len(rows)), "recordsScanned": scanned, "bytesScanned": 1e6}}

    outcomes = [row(**{k: str(v) for k, v in zip(OUTCOME_FIELDS, values, strict=True)}) for values in OUTCOMES]
    outcomes[0].append({"field": "@ptr", "value": "CmQKKQolNDcxMTEyNjIzMjA2Oi9hd3MvbGFtYmRhL2F1dGh6EAIiDgiAgN"})
    return {
        "outcomes": answer(outcomes, 480.0),
        "latency": answer([row(route="GET /avp", calls="150", p50="11.2", p95="23.9", p99="41.5"),
                           row(route="GET /scope", calls="240", p50="10.1", p95="19.8", p99="30.2")], 480.0),
        "decisions_over_time": answer([row(route="GET /avp", bucket="2026-11-26 08:00:00.000", records="80"),
                                       row(route="GET /avp", bucket="2026-11-26 09:00:00.000", records="85"),
                                       row(route="GET /scope", bucket="2026-11-26 09:00:00.000", records="301")],
                                      480.0),
        "disagreements_over_time": answer([
            row(route="GET /avp", bucket="2026-11-26 08:00:00.000", scope="ALLOW", records="2"),
            row(route="GET /avp", bucket="2026-11-26 09:00:00.000", scope="ALLOW", records="1"),
            row(route="GET /scope", bucket="2026-11-26 09:00:00.000", scope="DENY", records="1")], 480.0),
        "errors_over_time": answer([row(route="GET /avp", bucket="2026-11-26 09:00:00.000", records="2")], 480.0),
        "disagreement_examples": answer([
            row(route="GET /avp", scope="ALLOW", principal="us-east-1_abc|alice-sub", groups='"avp-group"',
                policies="", records="2", first_seen="2026-11-26T08:10:00.000Z", last_seen="2026-11-26T09:00:00.000Z"),
            row(route="GET /avp", scope="ALLOW", principal="us-east-1_abc|frank-sub",
                groups='"auditors","avp-group"', policies="", records="1", first_seen="2026-11-26T08:40:00.000Z",
                last_seen="2026-11-26T08:40:00.000Z"),
            row(route="GET /scope", scope="DENY", principal="reporting-client-id", groups="",
                policies='"PolicyABC123"', records="1", first_seen="2026-11-26T09:15:00.000Z",
                last_seen="2026-11-26T09:15:00.000Z")], 480.0),
    }


def stubbed_logs(answers: dict[str, list[dict[str, Any]]], texts: dict[str, str], *,
                 stops: int = 0) -> tuple[Any, Stubber]:
    """A logs client whose answers botocore's Stubber checks against the service model (shapes, enum values)."""
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    stub = Stubber(client)
    for name, text in texts.items():
        stub.add_response("start_query", {"queryId": f"q-{name}"}, {
            "logGroupName": "/aws/lambda/authz", "startTime": int(WINDOW.start.timestamp()),
            "endTime": int(WINDOW.end.timestamp()), "queryString": text,
            "limit": EXAMPLES_LIMIT if name == "disagreement_examples" else QUERY_LIMIT})
    for round_ in range(max(len(a) for a in answers.values())):
        for name in texts:
            if round_ < len(answers[name]):
                stub.add_response("get_query_results", answers[name][round_], {"queryId": f"q-{name}"})
    for name in list(texts)[:stops]:
        stub.add_response("stop_query", {"success": True}, {"queryId": f"q-{name}"})
    stub.activate()
    return client, stub


def test_insights_results_in_the_api_shape_become_the_report_numbers():
    texts = queries(3600)
    running = {"status": "Running", "results": [], "statistics": {"recordsMatched": 0.0, "recordsScanned": 10.0}}
    answers = {name: [running, done] if name == "outcomes" else [done]
               for name, done in handwritten_results().items()}
    client, stub = stubbed_logs(answers, texts)
    sleeps: list[float] = []
    results = InsightsRunner(client, "/aws/lambda/authz", WINDOW, sleep=sleeps.append).run(texts)
    stub.assert_no_pending_responses()
    assert sleeps == [1.0]  # one backoff while "outcomes" was still running
    data = summarize(tallies_from_results(results, 3600), thresholds=Thresholds(min_decisions=100), window=WINDOW,
                     source={"kind": "insights"})
    routes = routes_of(data.to_json())
    avp = routes["GET /avp"]
    assert (avp["decisions"], avp["agreements"], avp["disagreements"], avp["avp_errors"], avp["unauthenticated"]) == (
        165, 160, {ALLOW_DENY: 3, DENY_ALLOW: 0}, 2, 5)
    assert avp["avp_errors_by_type"] == {"Timeout": 2} and avp["unauthenticated_by_code"] == {"expired": 5}
    assert avp["latency_ms"] == {"calls": 150, "p50": 11.2, "p95": 23.9, "p99": 41.5}
    assert (avp["first_seen"], avp["last_seen"]) == ("2026-11-26T08:00:00.250Z", "2026-11-26T09:59:58.500Z")
    assert avp["reasons"] == ["3 disagreements (3 scope allows, AVP denies); 0 allowed",
                              "AVP error rate 1.21 % (2 of 165 decisions); maximum 1 %"]
    assert [(e["principal"], e["groups"], e["count"]) for e in avp["examples"][ALLOW_DENY]] == [
        ("us-east-1_abc|alice-sub", ["avp-group"], 2), ("us-east-1_abc|frank-sub", ["auditors", "avp-group"], 1)]
    assert [(p["start"], p["decisions"], p["disagreements"]) for p in avp["timeline"]] == [
        ("2026-11-26T08:00:00.000Z", 80, 2), ("2026-11-26T09:00:00.000Z", 85, 1), ("2026-11-26T10:00:00.000Z", 0, 0)]
    # the chart's disagreements by direction, and its AVP errors
    assert [(p[ALLOW_DENY], p[DENY_ALLOW], p["avp_errors"]) for p in avp["timeline"]] == [(2, 0, 0), (1, 0, 2),
                                                                                          (0, 0, 0)]
    assert [(p[ALLOW_DENY], p[DENY_ALLOW]) for p in routes["GET /scope"]["timeline"]][1] == (0, 1)
    scope = routes["GET /scope"]
    assert (scope["decisions"], scope["disagreements"][DENY_ALLOW], scope["ready"]) == (301, 1, False)
    assert scope["examples"][DENY_ALLOW][0]["determining_policies"] == ["PolicyABC123"]
    assert data.summary["unrouted"] == 2 and data.lines == {"lines": 480, "records": 473, "skipped": 7,
                                                             "invalid": 0, "outside_window": 0,
                                                             "test_invocations": 0}
    assert data.latency_method == "CloudWatch Logs Insights pct()"


def test_report_shadow_on_a_log_group_runs_the_queries_and_writes_the_report(tmp_path, capsys, monkeypatch):
    """The CLI's Insights path end to end, AWS answering through the Stubber (moto does not run Insights)."""
    texts = queries(300)  # a two-hour window: 5-minute bars
    client, stub = stubbed_logs({name: [rows] for name, rows in handwritten_results().items()}, texts)
    monkeypatch.setattr(AwsSession, "client", lambda self, service, region=None: client)
    code, out, err = run_cli(capsys, "--log-group", "/aws/lambda/authz", "--start", "2026-11-26T08:00:00Z",
                             "--end", "2026-11-26T10:00:00Z", "--out", str(tmp_path / "out"), "--region", "us-east-1")
    assert code == 0, err
    stub.assert_no_pending_responses()
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    assert report["source"]["kind"] == "insights"
    assert report["source"]["insights"]["outcomes"] == {"query_id": "q-outcomes", "recordsMatched": 8.0,
                                                        "recordsScanned": 480.0, "bytesScanned": 1e6}
    assert report["window"] == {"start": "2026-11-26T08:00:00.000Z", "end": "2026-11-26T10:00:00.000Z",
                                "first_seen": "2026-11-26T08:00:00.250Z", "last_seen": "2026-11-26T09:59:59.900Z",
                                "bin_seconds": 300}
    assert routes_of(report)["GET /avp"]["decisions"] == 165 and "NOT READY  GET /avp" in out


def test_insights_results_from_the_real_records_give_the_local_numbers(traffic, tmp_path):
    """The records aggregated as the five queries say, in GetQueryResults' shape: the same report as read here."""
    records = traffic.records
    path = traffic.write(tmp_path / "authorizer.jsonl")
    start = min(parse_time(r.time, datetime.now(UTC)) for r in records) - timedelta(minutes=1)
    window = Window(start, start + timedelta(hours=4))  # 5-minute bars, from files and from Insights alike
    local = summarize(read_files([path]), thresholds=Thresholds(min_decisions=1), window=window, source={})
    texts = queries(300)
    client, stub = stubbed_logs({name: [rows] for name, rows in emulated_insights(records, 300).items()}, texts)
    results = InsightsRunner(client, "/aws/lambda/authz", WINDOW, sleep=lambda s: None).run(texts)
    stub.assert_no_pending_responses()
    server = summarize(tallies_from_results(results, 300), thresholds=Thresholds(min_decisions=1), window=window,
                       source={})
    keys = ("route", "ready", "reasons", "decisions", "agreements", "disagreements", "avp_errors", "avp_errors_by_type",
            "latency_ms", "first_seen", "last_seen", "not_asked", "unauthenticated_by_code", "refused", "modes",
            "timeline")
    assert [{k: r[k] for k in keys} for r in server.routes] == [{k: r[k] for k in keys} for r in local.routes]
    for a, b in zip(server.routes, local.routes, strict=True):
        assert sorted(map(_example_key, a["examples"][ALLOW_DENY])) == sorted(map(_example_key,
                                                                                  b["examples"][ALLOW_DENY]))


def _example_key(example: dict[str, Any]) -> tuple[Any, ...]:
    return example["principal"], tuple(example["groups"]), tuple(example["determining_policies"]), example["count"]


def emulated_insights(records: list[ShadowRecord], bin_seconds: int) -> dict[str, dict[str, Any]]:
    """What CloudWatch would answer to the five queries over these records (by the queries' own terms)."""

    def v(value: Any) -> str:
        return "-" if value is None else str(value)

    def bucket(r: ShadowRecord) -> str:
        at = parse_time(r.time, datetime.now(UTC)).timestamp()
        return datetime.fromtimestamp(at - at % bin_seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.000")

    def answer(groups: dict[tuple[Any, ...], list[ShadowRecord]], names: tuple[str, ...],
               extra: Any) -> dict[str, Any]:
        rows = [[{"field": n, "value": value} for n, value in zip(names, key, strict=True)] + extra(rs)
                for key, rs in groups.items()]
        return {"status": "Complete", "results": rows, "statistics": {"recordsScanned": float(len(records))}}

    def seen(rs: list[ShadowRecord]) -> list[dict[str, str]]:
        return [{"field": "records", "value": str(len(rs))},
                {"field": "first_seen", "value": min(r.time for r in rs)},
                {"field": "last_seen", "value": max(r.time for r in rs)}]

    def counted(rs: list[ShadowRecord]) -> list[dict[str, str]]:
        return [{"field": "records", "value": str(len(rs))}]

    def group(rs: list[ShadowRecord], key: Any) -> dict[tuple[Any, ...], list[ShadowRecord]]:
        out: dict[tuple[Any, ...], list[ShadowRecord]] = defaultdict(list)
        for r in rs:
            out[key(r)].append(r)
        return out

    decided = [r for r in records if r.token_error is None and r.scope_decision is not None
               and (r.avp_decision is not None or r.avp_error is not None)]
    disagreeing = [r for r in decided if r.avp_decision is not None and r.avp_decision != r.scope_decision]
    fresh = [r for r in records if not r.avp_cached and r.avp_latency_ms is not None]
    return {
        "outcomes": answer(group(records, lambda r: (v(r.route), v(r.mode), v(r.decision_source), v(r.reason),
                                                     v(r.token_error), v(r.scope_decision), v(r.avp_decision),
                                                     v(r.avp_error))),
                           ("route", "mode", "decided_by", "reason", "token_error", "scope", "avp", "avp_error"),
                           seen),
        "latency": answer(group(fresh, lambda r: (v(r.route),)), ("route",), lambda rs: [
            {"field": "calls", "value": str(len(rs))},
            *({"field": f"p{p}", "value": str(nearest_rank([r.avp_latency_ms for r in rs], p))}
              for p in (50, 95, 99))]),
        "decisions_over_time": answer(group(decided, lambda r: (v(r.route), bucket(r))), ("route", "bucket"),
                                      counted),
        "disagreements_over_time": answer(group(disagreeing, lambda r: (v(r.route), bucket(r), v(r.scope_decision))),
                                          ("route", "bucket", "scope"), counted),
        "errors_over_time": answer(group([r for r in decided if r.avp_error is not None],
                                         lambda r: (v(r.route), bucket(r))), ("route", "bucket"), counted),
        "disagreement_examples": answer(group(disagreeing, lambda r: (
            v(r.route), v(r.scope_decision), v(r.principal), ",".join(json.dumps(g) for g in r.groups),
            ",".join(json.dumps(p) for p in r.determining_policies))),
            ("route", "scope", "principal", "groups", "policies"), seen),
    }


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout"])
def test_an_insights_query_that_fails_is_one_error_and_the_others_are_stopped(status):
    texts = queries(3600)
    failed = {"status": status, "results": []}
    # the first poll sees "outcomes" fail: no other query is polled, and every query is stopped
    client, stub = stubbed_logs({name: [failed] if name == "outcomes" else [] for name in texts}, texts,
                                stops=len(texts))
    with pytest.raises(InsightsError, match=f"'outcomes' .*ended with status {status}"):
        InsightsRunner(client, "/aws/lambda/authz", WINDOW, sleep=lambda s: None).run(texts)
    stub.assert_no_pending_responses()


def test_insights_queries_that_run_too_long_are_stopped():
    texts = {"outcomes": queries(3600)["outcomes"]}
    running = {"status": "Running", "results": []}
    client, stub = stubbed_logs({"outcomes": [running, running]}, texts, stops=1)
    clock = iter([0.0, 5.0, 11.0, 30.0])
    with pytest.raises(InsightsError, match="did not complete within 10 s"):
        InsightsRunner(client, "/aws/lambda/authz", WINDOW, sleep=lambda s: None, clock=lambda: next(clock),
                       deadline_seconds=10).run(texts)
    stub.assert_no_pending_responses()


# --- outputs -------------------------------------------------------------------------------------------------------

HOSTILE = '<script>alert(1)</script> & "Ops"|pipe'


def hostile_lines() -> list[str]:
    """Powertools-shaped lines whose route, principal and groups are hostile markup."""
    base = dict(request_id="r", api_id="a1", stage="prod", action_id="x", mode="shadow", modes_version=1,
                modes_source="ssm", client_id="c", token_use="access", decision_source="scope", enforced="ALLOW")
    records = [
        ShadowRecord(time=f"2026-11-26T08:{i:02d}:00.000Z", route=f"GET /{HOSTILE}", principal=f"p|{HOSTILE}",
                     groups=(HOSTILE,), scope_decision="ALLOW", avp_decision="DENY" if i == 3 else "ALLOW",
                     agree=i != 3, avp_latency_ms=10.0 + i, **base)
        for i in range(6)]
    records.append(ShadowRecord(time="2026-11-26T08:09:00.000Z", route="=HYPERLINK(\"http://x\")", principal="p",
                                scope_decision="ALLOW", avp_decision="ALLOW", agree=True, **base))
    return [json.dumps({"level": "INFO", "message": LOG_MESSAGE, "service": "authz", LOG_KEY: r.to_dict()})
            for r in records]


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def test_hostile_names_come_out_escaped_and_the_page_is_self_contained(tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(hostile_lines()) + "\n", encoding="utf-8")
    data = summarize(read_files([path]), thresholds=Thresholds(min_decisions=1), window=Window(),
                     source={"kind": "files", "files": [str(path)]})
    write_shadow_report(data, tmp_path / "out")
    page = (tmp_path / "out" / "shadow-report.html").read_text()
    md = (tmp_path / "out" / "shadow-report.md").read_text()
    assert "<script" not in page.lower()
    assert html.escape(HOSTILE) in page  # route, principal and group, as text
    parser = _Attributes()
    parser.feed(page)
    for forbidden in ("script", "link", "img", "iframe", "object", "embed", "foreignobject"):
        assert forbidden not in parser.tags
    assert "svg" in parser.tags and "rect" in parser.tags  # the chart, inline
    assert not [v for _, v in parser.attributes if "http" in v.lower() or "//" in v]
    assert "url(" not in page and "@import" not in page
    assert not re.search(r"(?<!\\)<script", md)
    assert "\\<script\\>alert(1)\\</script\\> \\& \"Ops\"\\|pipe" in md
    csv = pd.read_csv(tmp_path / "out" / "shadow-routes.csv", keep_default_na=False, dtype=str)
    assert "'=HYPERLINK(\"http://x\")" in set(csv["route"])  # a spreadsheet formula, neutralised
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    assert {r["route"] for r in report["routes"]} == {f"GET /{HOSTILE}", "=HYPERLINK(\"http://x\")"}


def test_the_four_files_have_stable_keys_and_the_csv_one_row_per_endpoint(traffic, tmp_path, capsys):
    source = traffic.write(tmp_path / "authorizer.jsonl")
    code, out, _ = run_cli(capsys, "--files", str(source), "--out", str(tmp_path / "out"), "--format", "json")
    assert code == 0
    printed = json.loads(out)
    assert [Path(p).name for p in printed["files"]] == ["shadow-report.md", "shadow-report.html",
                                                        "shadow-routes.csv", "shadow-report.json"]
    report = json.loads((tmp_path / "out" / "shadow-report.json").read_text())
    assert list(report) == ["report_format_version", "source", "window", "thresholds", "summary", "routes", "lines",
                            "problems", "policy_names", "latency_method"]
    assert report["thresholds"] == {"min_decisions": 100, "max_avp_error_rate": 0.01, "allow_disagreements": 0}
    for route in report["routes"]:
        assert list(route) == ["route", "ready", "reasons", "decisions", "agreements", "disagreements", "avp_errors",
                               "agreement_rate", "avp_error_rate", "avp_errors_by_type", "latency_ms", "first_seen",
                               "last_seen", "not_asked", "unauthenticated", "unauthenticated_by_code", "refused",
                               "modes", "examples", "examples_untracked", "timeline", "checks"]
        assert list(route["latency_ms"]) == ["calls", "p50", "p95", "p99"]
        assert list(route["disagreements"]) == [ALLOW_DENY, DENY_ALLOW]
    csv = pd.read_csv(tmp_path / "out" / "shadow-routes.csv", keep_default_na=False, dtype=str)
    assert list(csv["route"]) == [r["route"] for r in report["routes"]]
    assert list(csv["decisions"]) == [str(r["decisions"]) for r in report["routes"]]
    md = (tmp_path / "out" / "shadow-report.md").read_text()
    page = (tmp_path / "out" / "shadow-report.html").read_text()
    for route in report["routes"]:
        assert route["route"] in md and html.escape(route["route"]) in page
    for heading in ("## Readiness per endpoint", "## Evidence per endpoint", "## Disagreements (1 endpoint)",
                    "## AVP errors", "## Over time", "## Not compared", "## Next steps"):
        assert heading in md


def test_charts_draw_bars_in_svg_and_block_characters_in_markdown():
    chart = BarChart("GET /x: decisions", ("08:00", "09:00", "10:00"),
                     (Series("decisions", (4, 0, 8), "info"), Series("disagreements", (0, 0, 1), "bad")))
    report = Report("t", [], [Section("timeline", "Over time", [chart])])
    page = render_html(report)
    # three bars, and one key per series in the legend
    assert page.count("<rect") == 3 + 2 and "<title>10:00: 1 disagreements</title>" in page
    legend = page[page.index('<div class="legend">'):]
    assert legend.count('class="key"') == 2 and "decisions</span>" in legend and "disagreements</span>" in legend
    assert "max 8" in page and 'class="bad"' in page
    md = render_markdown(report)
    assert "- decisions: `▄ █` (max 8)" in md and "- disagreements: `  █` (max 1)" in md


# --- bad inputs ------------------------------------------------------------------------------------------------------

def test_bad_inputs_are_one_line_errors(embedded_aws, aws_clients, tmp_path, capsys):
    def error(*args: str) -> str:
        code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "out"))
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
        return err

    assert "missing.jsonl: no such file" in error("--files", str(tmp_path / "missing.jsonl"))
    junk = tmp_path / "junk.jsonl"
    junk.write_text("START RequestId: 1\n{not json\n[1, 2]\n{\"level\": \"INFO\"}\n", encoding="utf-8")
    assert "no shadow records (4 lines: 4 not shadow records, 0 invalid)" in error("--files", str(junk))
    wrong = tmp_path / "wrong-version.jsonl"
    wrong.write_text('{"shadow": {"record_version": 9, "time": "2026-11-26T08:00:00.000Z"}}\n', encoding="utf-8")
    message = error("--files", str(wrong))
    assert "1 invalid" in message and "not a shadow record of version 1" in message
    logs = aws_clients("logs")
    logs.create_log_group(logGroupName="/aws/lambda/empty")
    assert "log group /aws/lambda/empty: no shadow records between" in error("--log-group", "/aws/lambda/empty",
                                                                             "--download")
    assert "not found" in error("--log-group", "/aws/lambda/nowhere", "--download")
    assert "either --log-group or --files" in error("--log-group", "g", "--files", str(junk))
    assert "--log-group NAME, --plan DIR or --files" in error()
    assert "--start/--end" in error("--files", str(junk), "--start", "yesterday")
    assert "no deployment.json" in error("--plan", str(tmp_path))
    assert "starts" in error("--log-group", "g", "--start", "2026-11-26T10:00:00Z", "--end", "2026-11-26T09:00:00Z")


def test_window_times_read_as_iso_or_relative():
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert parse_time("-24h", now) == parse_time("24h", now) == datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert parse_time("-90m", now) == datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
    assert parse_time("2026-11-26T10:00:00+02:00", now) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert parse_time("2026-11-26", now) == datetime(2026, 11, 26, tzinfo=UTC)
    assert record_time(datetime(2026, 11, 26, 8, 0, 0, 123456, tzinfo=UTC)) == "2026-11-26T08:00:00.123Z"


def test_the_next_steps_cutover_line_names_the_evidence_where_it_was_written(traffic, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = traffic.write(tmp_path / "authorizer.jsonl")
    code, _, _ = run_cli(capsys, "--files", "authorizer.jsonl", "--out", "reports/today", "--min-decisions", "1",
                         "--allow-disagreements", "1000000", "--max-avp-error-rate", "1")
    assert code == 0 and source.exists()
    md = (tmp_path / "reports" / "today" / "shadow-report.md").read_text()
    line = next(line for line in md.splitlines() if "avp-migrate cutover" in line)
    evidence = re.search(r"--evidence (\S+?)`?$", line.strip()).group(1)
    assert evidence == "reports/today/shadow-report.json" and (tmp_path / evidence).is_file()


def test_the_charts_zoom_to_the_bins_that_hold_records():
    from reports.shadow_report import _span_with_data

    empty = {"decisions": 0, "disagreements": 0}
    busy = {"decisions": 5, "disagreements": 0}
    routes = [{"timeline": [empty] * 10 + [busy, busy] + [empty] * 12},
              {"timeline": [empty] * 11 + [busy] + [empty] * 12}]
    assert _span_with_data(routes) == (9, 13)  # one bin of context each side, the same span for every route
    assert _span_with_data([{"timeline": [empty] * 5}]) is None
    assert _span_with_data([{"timeline": [busy] + [empty] * 3}]) == (0, 2)
