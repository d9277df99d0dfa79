"""The shadow report at scale: CloudWatch Logs Insights aggregates server-side; only counts come back.

Five queries over the authorizer's log group and the window (StartQuery, then GetQueryResults until each is
``Complete``), all counting with ``stats ... by route``. Their rows fill the same :class:`Tallies` the local
reader fills, so both paths share :func:`reports.shadow_model.summarize`.

Query language, as the CloudWatch Logs user guide documents it ("CloudWatch Logs Insights query syntax",
"Supported logs and discovered fields", "Boolean, comparison, numeric, datetime, and other functions"):

* JSON log events are flattened at ingestion with dot notation: the record's fields are ``shadow.route``,
  ``shadow.token_error``... Only names with other characters than letters, digits, ``@``, ``.`` need backticks
  (underscores work bare: awsdocs/amazon-cloudwatch-logs-user-guide issue 22).
* JSON booleans are indexed as 1 and 0 (aws-powertools/powertools-lambda-dotnet issue 667): ``shadow.avp_cached =
  0``. Nothing else here depends on booleans: agreement is derived from the two decisions, as the record's
  ``agree`` is.
* A JSON null (or absent) value becomes a group key through ``coalesce(field, "-")`` in ``fields``; "-" is never
  a route key, a decision, nor an error code, and is read back as null.
* ``stats count(*)``, ``earliest()``/``latest()`` (the value from the event with the earliest / latest timestamp),
  ``pct(field, p)``; ``datefloor(@timestamp, 1h)`` in ``fields`` for the chart's buckets; ``parse`` with a
  named-capture regex for the two lists (Insights flattens arrays to ``.0``, ``.1``... which cannot be grouped).
* ``limit``: at most 10,000 rows per query (StartQuery's ``limit``); a result that reaches it is reported as
  possibly truncated.

API shapes (botocore's ``logs`` model): StartQuery(logGroupName, startTime, endTime (epoch seconds), queryString,
limit) -> queryId; GetQueryResults(queryId) -> status (``Scheduled``, ``Running``, ``Complete``, ``Failed``,
``Cancelled``, ``Timeout``, ``Unknown``), results (a list of rows, each a list of ``{"field", "value"}``, every
value a string; null fields left out), statistics (``recordsMatched``, ``recordsScanned``, ``bytesScanned``...).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from authorizer.shadow import TEST_INVOKE_STAGE
from reports.shadow_model import Latency, Tallies, direction_of
from reports.shadow_window import Window, epoch, parse_record_time, period_text

QUERY_LIMIT = 10_000
EXAMPLES_LIMIT = 1_000
NULL = "-"
RUNNING = ("Scheduled", "Running")
FAILED = ("Failed", "Cancelled", "Timeout", "Unknown")

_ROUTE = f'coalesce(shadow.route, "{NULL}") as route'
_DECISION_FIELDS = ", ".join([
    _ROUTE, f'coalesce(shadow.token_error, "{NULL}") as token_error',
    f'coalesce(shadow.scope_decision, "{NULL}") as scope', f'coalesce(shadow.avp_decision, "{NULL}") as avp',
    f'coalesce(shadow.avp_error, "{NULL}") as avp_error',
])
# "decided_by", not "source": SOURCE is a command of the query language
_OUTCOME_FIELDS = ", ".join([
    _DECISION_FIELDS, f'coalesce(shadow.mode, "{NULL}") as mode',
    f'coalesce(shadow.decision_source, "{NULL}") as decided_by', f'coalesce(shadow.reason, "{NULL}") as reason',
])
_DECIDED = f'token_error = "{NULL}" and scope != "{NULL}"'


def queries(bin_seconds: int) -> dict[str, str]:
    """The five query strings, by name. ``bin_seconds`` is the chart's bucket (see shadow_window.BIN_LADDER)."""
    period = period_text(bin_seconds)
    bucket = f"datefloor(@timestamp, {period}) as bucket"
    return {
        # every record, by route and outcome: the counts, first and last seen
        "outcomes": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\"",
            f"| fields {_OUTCOME_FIELDS}",
            "| stats count(*) as records, earliest(shadow.time) as first_seen, latest(shadow.time) as last_seen"
            " by route, mode, decided_by, reason, token_error, scope, avp, avp_error",
            f"| limit {QUERY_LIMIT}",
        ]),
        # fresh AVP calls (not cached answers), failures included
        "latency": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\" and shadow.avp_cached = 0 "
            "and shadow.avp_latency_ms >= 0",
            f"| fields {_ROUTE}",
            "| stats count(*) as calls, pct(shadow.avp_latency_ms, 50) as p50, pct(shadow.avp_latency_ms, 95) as p95,"
            " pct(shadow.avp_latency_ms, 99) as p99 by route",
            f"| limit {QUERY_LIMIT}",
        ]),
        # the chart: decisions AVP was asked about, per route and bucket
        "decisions_over_time": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\"",
            f"| fields {_DECISION_FIELDS}, {bucket}",
            f'| filter {_DECIDED} and (avp != "{NULL}" or avp_error != "{NULL}")',
            "| stats count(*) as records by route, bucket",
            f"| limit {QUERY_LIMIT}",
        ]),
        "disagreements_over_time": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\"",
            f"| fields {_DECISION_FIELDS}, {bucket}",
            f'| filter {_DECIDED} and avp != "{NULL}" and avp != scope',
            "| stats count(*) as records by route, bucket, scope",  # the scope decision gives the direction
            f"| limit {QUERY_LIMIT}",
        ]),
        "errors_over_time": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\"",
            f"| fields {_DECISION_FIELDS}, {bucket}",
            f'| filter {_DECIDED} and avp_error != "{NULL}"',
            "| stats count(*) as records by route, bucket",
            f"| limit {QUERY_LIMIT}",
        ]),
        # who disagrees: principal, groups and determining policies, the most frequent first
        "disagreement_examples": "\n".join([
            f"filter shadow.record_version = 1 and shadow.stage != \"{TEST_INVOKE_STAGE}\"",
            f'| fields {_ROUTE}, coalesce(shadow.scope_decision, "{NULL}") as scope,'
            f' coalesce(shadow.avp_decision, "{NULL}") as avp, coalesce(shadow.principal, "{NULL}") as principal',
            f'| filter avp != "{NULL}" and avp != scope',
            '| parse @message /"groups":\\s*\\[(?<group_list>[^\\]]*)\\]/',
            '| parse @message /"determining_policies":\\s*\\[(?<policy_list>[^\\]]*)\\]/',
            '| fields coalesce(group_list, "") as groups, coalesce(policy_list, "") as policies',
            "| stats count(*) as records, earliest(shadow.time) as first_seen, latest(shadow.time) as last_seen"
            " by route, scope, principal, groups, policies",
            "| sort records desc",
            f"| limit {EXAMPLES_LIMIT}",
        ]),
    }


class InsightsError(RuntimeError):
    """A query that failed, was cancelled, timed out, or did not finish in time."""


@dataclass
class QueryResult:
    name: str
    query_id: str
    status: str
    rows: list[dict[str, str | None]]
    statistics: dict[str, float]


@dataclass
class InsightsRunner:
    """Starts the queries together and polls them with backoff until all are done."""

    client: Any  # boto3 "logs" client
    log_group: str
    window: Window
    first_poll: float = 1.0
    max_poll: float = 10.0
    deadline_seconds: float = 900.0  # Insights itself stops a query after 60 minutes
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    started: dict[str, str] = field(default_factory=dict)  # name -> queryId

    def run(self, texts: dict[str, str]) -> dict[str, QueryResult]:
        from botocore.exceptions import ClientError

        if self.window.start is None or self.window.end is None:
            raise InsightsError("a Logs Insights query needs a window with a start and an end")
        try:
            for name, text in texts.items():
                self.started[name] = self.client.start_query(
                    logGroupName=self.log_group, startTime=epoch(self.window.start), endTime=epoch(self.window.end),
                    queryString=text, limit=EXAMPLES_LIMIT if name == "disagreement_examples" else QUERY_LIMIT,
                )["queryId"]
            return self._poll()
        except ClientError as exc:
            self._stop_all()
            error = exc.response.get("Error", {})
            raise InsightsError(f"{exc.operation_name} failed on log group {self.log_group}: "
                                f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")) from None
        except BaseException:
            self._stop_all()
            raise

    def _poll(self) -> dict[str, QueryResult]:
        done: dict[str, QueryResult] = {}
        delay, give_up = self.first_poll, self.clock() + self.deadline_seconds
        while True:
            for name, query_id in self.started.items():
                if name in done:
                    continue
                answer = self.client.get_query_results(queryId=query_id)
                status = answer.get("status", "Unknown")
                if status == "Complete":
                    done[name] = QueryResult(name, query_id, status, parse_rows(answer.get("results", [])),
                                             dict(answer.get("statistics", {})))
                elif status in FAILED:
                    raise InsightsError(f"the Logs Insights query {name!r} ({query_id}) ended with status {status}")
                elif status not in RUNNING:
                    raise InsightsError(f"the Logs Insights query {name!r} ({query_id}): unexpected status {status!r}")
            if len(done) == len(self.started):
                return done
            if self.clock() >= give_up:
                raise InsightsError(f"the Logs Insights queries did not complete within {self.deadline_seconds:.0f} s "
                                    f"(still running: {', '.join(n for n in self.started if n not in done)})")
            self.sleep(delay)
            delay = min(self.max_poll, delay * 1.5)

    def _stop_all(self) -> None:
        """Stop what is still running: a query left behind keeps scanning (and billing) for up to an hour."""
        for query_id in self.started.values():
            with contextlib.suppress(Exception):  # already finished, or cannot be stopped: nothing more to do
                self.client.stop_query(queryId=query_id)


def parse_rows(results: list[list[dict[str, str]]]) -> list[dict[str, str | None]]:
    """GetQueryResults' rows as dicts; ``@ptr`` (a pointer to the raw event) is dropped, "-" read as null."""
    rows = []
    for row in results:
        values: dict[str, str | None] = {}
        for item in row:
            name = item.get("field")
            if name is None or name == "@ptr":
                continue
            value = item.get("value")
            values[name] = None if value == NULL else value
        rows.append(values)
    return rows


def tallies_from_results(results: dict[str, QueryResult], bin_seconds: int) -> Tallies:
    """The query rows as tallies (the timeline at the chart's bucket size)."""
    tallies = Tallies(resolution=bin_seconds)
    outcomes = results["outcomes"]
    for row in outcomes.rows:
        tally = tallies.route(row.get("route"))
        n = _int(row.get("records"))
        tally.outcomes[(row.get("mode"), row.get("decided_by"), row.get("reason"), row.get("token_error"),
                        row.get("scope"), row.get("avp"), row.get("avp_error"))] += n
        tally.seen(row.get("first_seen"), row.get("last_seen"))
        tallies.lines.records += n
    scanned = int(outcomes.statistics.get("recordsScanned", 0) or 0)
    tallies.lines.lines = max(scanned, tallies.lines.records)
    tallies.lines.skipped = tallies.lines.lines - tallies.lines.records
    for row in results["latency"].rows:
        calls = _int(row.get("calls"))
        tallies.route(row.get("route")).server_latency = Latency(calls, _float(row.get("p50")), _float(row.get("p95")),
                                                                 _float(row.get("p99")))
    for name, target in (("decisions_over_time", "decisions_at"), ("disagreements_over_time", "disagreements_at"),
                         ("errors_over_time", "errors_at")):
        for row in results[name].rows:
            bucket = row.get("bucket")
            if bucket is None:
                continue
            tally = tallies.route(row.get("route"))
            at, n = epoch(parse_record_time(bucket)), _int(row.get("records"))
            getattr(tally, target)[at] += n
            if name == "disagreements_over_time":
                tally.directions_at[(at, direction_of(row.get("scope")))] += n
    for row in results["disagreement_examples"].rows:
        key = (direction_of(row.get("scope")), row.get("principal"), _list(row.get("groups")),
               _list(row.get("policies")))
        tallies.route(row.get("route")).example(key, _int(row.get("records")), row.get("first_seen") or "",
                                                row.get("last_seen") or "")
    for result in results.values():
        if len(result.rows) >= (EXAMPLES_LIMIT if result.name == "disagreement_examples" else QUERY_LIMIT):
            tallies.problem(f"the Logs Insights query {result.name!r} returned its limit of {len(result.rows):,} "
                            "rows: its part of the report may be incomplete (narrow the window)")
    return tallies


def _list(text: str | None) -> tuple[str, ...]:
    """The inside of a JSON list as ``parse`` captured it: ``"admins","pets-readers"``."""
    if not text:
        return ()
    try:
        values = json.loads(f"[{text}]")
    except ValueError:
        return (text,)
    return tuple(str(v) for v in values)


def _int(text: str | None) -> int:
    return int(float(text)) if text else 0


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None
