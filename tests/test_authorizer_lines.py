"""The authorizer's own log and EMF lines (authorizer/lines.py) against Powertools' Logger and Metrics, which
wrote them before: the same calls through both give the same lines, byte for byte once the clock's fields (the
log timestamp, the EMF Timestamp) are set equal, so Logs Insights queries, metric filters, CloudWatch's EMF
extraction and ``reports/`` read them alike."""

from __future__ import annotations

import io
import json
import re
import uuid
from contextlib import redirect_stdout

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from authorizer.lines import EmfMetrics, JsonLogger
from authorizer.shadow import ShadowRecord
from authorizer.telemetry import Telemetry

TIMESTAMP = re.compile(r'"timestamp":"[^"]*"')
EMF_TIMESTAMP = re.compile(r'"Timestamp":\d+')

RECORD = ShadowRecord(
    time="2026-11-26T10:00:00.000Z", request_id="r-1", api_id="a1b2c3", stage="prod", route="GET /avp",
    action_id="get /avp", mode="shadow", modes_version=7, modes_source="ssm:/x", principal="pool|sub-é",
    groups=("admins", "ünïcode"), client_id="c" * 26, token_use="access", scope_decision="ALLOW",
    avp_decision="DENY", agree=False, determining_policies=("p1",), avp_latency_ms=12.5, enforced="ALLOW",
    decision_source="scope", policy_store_id="ps", authorizer_version="0.1.0")


def both_loggers(environ: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[io.StringIO, io.StringIO,
                                                                                      Logger, JsonLogger]:
    for name in ("AWS_LAMBDA_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "LOG_LEVEL", "POWERTOOLS_DEV", "_X_AMZN_TRACE_ID",
                 "POWERTOOLS_LOGGER_SAMPLE_RATE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    theirs, ours = io.StringIO(), io.StringIO()
    return theirs, ours, Logger(service=f"lines-{uuid.uuid4().hex[:8]}", stream=theirs), JsonLogger(
        "SERVICE", stream=ours)


def same_calls(logger: object) -> None:
    """The calls the authorizer makes (Telemetry.decision and Telemetry._log), and a few edge values."""
    Telemetry(logger=logger, metrics=EmfMetrics("Ns")).decision(RECORD)
    telemetry = Telemetry(logger=logger, metrics=EmfMetrics("Ns"))
    telemetry.error("cannot read mode document ssm:/x: ThrottlingException", detail="line 1\nline 2", n=None)
    telemetry.warning("naïve ✓ message", count=3, ratio=0.5, flag=True, items=("a", "b"))
    logger.info("42")  # a message that parses as JSON is written as that JSON value, by both
    logger.info('{"a": [1, 2]}')
    logger.info("")
    logger.info("not json", extra={"odd": {1}, "none": None})  # default=str; None values left out


def lines(stream: io.StringIO, service: str | None = None) -> list[str]:
    text = TIMESTAMP.sub('"timestamp":"T"', stream.getvalue())
    return text.replace(f'"service":"{service}"', '"service":"SERVICE"').splitlines() if service else \
        text.splitlines()


@pytest.mark.parametrize("environ", [
    {},
    {"_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
    {"POWERTOOLS_LOGGER_SAMPLE_RATE": "0.25"},
    {"POWERTOOLS_DEV": "true"},
])
def test_log_lines_are_powertools_lines(environ, monkeypatch):
    theirs, ours, powertools, own = both_loggers(environ, monkeypatch)
    with redirect_stdout(io.StringIO()):
        same_calls(powertools)
        same_calls(own)
    expected = lines(theirs, powertools.service)
    assert lines(ours) == expected
    if "POWERTOOLS_DEV" in environ:  # indented: one object over many lines
        assert len(expected) > 7 and expected[1].startswith("    ")
        return
    assert len(expected) == 7
    first = json.loads(expected[0])
    assert list(first)[:5] == ["level", "location", "message", "timestamp", "service"]
    assert first["location"].startswith("decision:") and json.loads(expected[1])["location"].startswith("_log:")
    assert first["shadow"] == RECORD.to_dict() and ShadowRecord.from_log_line(expected[0]) == RECORD
    assert ("xray_trace_id" in first) == ("_X_AMZN_TRACE_ID" in environ)
    assert ("sampling_rate" in first) == ("POWERTOOLS_LOGGER_SAMPLE_RATE" in environ)


def test_the_timestamp_is_powertools_format(monkeypatch):
    theirs, ours, powertools, own = both_loggers({}, monkeypatch)
    powertools.info("x")
    own.info("x")
    shape = re.compile(r'"timestamp":"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}[+-]\d{4}"')
    assert shape.search(theirs.getvalue()) and shape.search(ours.getvalue())


@pytest.mark.parametrize(("environ", "written"), [
    ({}, ["INFO", "WARNING", "ERROR"]),
    ({"POWERTOOLS_LOG_LEVEL": "error"}, ["ERROR"]),
    ({"LOG_LEVEL": "WARNING"}, ["WARNING", "ERROR"]),
    ({"POWERTOOLS_LOG_LEVEL": "DEBUG"}, ["DEBUG", "INFO", "WARNING", "ERROR"]),
    ({"AWS_LAMBDA_LOG_LEVEL": "WARN", "POWERTOOLS_LOG_LEVEL": "DEBUG"}, ["WARNING", "ERROR"]),
    ({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, []),
])
def test_the_log_level_is_chosen_as_powertools_chooses_it(environ, written, monkeypatch):
    theirs, ours, powertools, own = both_loggers(environ, monkeypatch)
    for logger in (powertools, own):
        for level in ("debug", "info", "warning", "error"):
            getattr(logger, level)(f"at {level}")
    assert [json.loads(x)["level"] for x in lines(ours)] == written
    assert [json.loads(x)["level"] for x in lines(theirs)] == written


def test_an_unknown_level_fails_when_built_as_with_powertools(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "verbose")
    with pytest.raises(ValueError, match="Unknown level"):
        Logger(service=f"lines-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ValueError, match="Unknown level"):
        JsonLogger("s")


def emf(metrics: object, calls: list[tuple[str, str, object]]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        for kind, name, value in calls:
            if kind == "dimension":
                metrics.add_dimension(name=name, value=value)  # type: ignore[attr-defined]
            else:
                metrics.add_metric(name=name, unit=MetricUnit.Count if kind == "enum" else "Count",  # type: ignore
                                   value=value)
        metrics.flush_metrics()  # type: ignore[attr-defined]
    return EMF_TIMESTAMP.sub('"Timestamp":0', out.getvalue())


@pytest.mark.parametrize("calls", [
    [("dimension", "route", "GET /avp"), ("dimension", "mode", "shadow"), ("metric", "Decisions", 1),
     ("metric", "DisagreementsScopeAllowsAvpDenies", 1)],
    [("dimension", "route", "GET /ünïcode/{id}"), ("dimension", "mode", "avp"), ("enum", "Decisions", 1),
     ("metric", "AvpErrors", 1), ("metric", "AvpErrors", 2)],
    [("dimension", "route", "  "), ("dimension", "mode", 7), ("metric", "Decisions", 1.5)],
])
def test_emf_lines_are_powertools_lines(calls, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    with pytest.warns() if any(c[2] == "  " for c in calls) else _nothing():
        expected = emf(Metrics(namespace="AvpMigrate/Authorizer", service=""), calls)
    ours = EmfMetrics("AvpMigrate/Authorizer")
    assert emf(ours, calls) == expected and expected.count("\n") == 1
    assert emf(ours, calls) == expected  # flushing started afresh: the same again


def test_emf_lines_are_not_written_when_metrics_are_disabled(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    calls = [("dimension", "mode", "scope"), ("metric", "Decisions", 1)]
    powertools = Metrics(namespace="N", service="")
    try:
        assert emf(powertools, calls) == "" == emf(EmfMetrics("N"), calls)
    finally:
        powertools.clear_metrics()  # disabled, Powertools keeps them (in a set shared by every Metrics)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    monkeypatch.setenv("POWERTOOLS_DEV", "1")
    assert emf(EmfMetrics("N"), calls) == ""


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
