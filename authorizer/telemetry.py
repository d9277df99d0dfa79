"""Shadow records and metrics: one JSON log line and one EMF metrics line per decision.

* Logs: structured JSON lines on stdout in Powertools Logger's shape (:class:`authorizer.lines.JsonLogger`). The
  record goes under ``"shadow"`` (see :mod:`authorizer.shadow`). Operator messages (AVP failures, mode document
  problems) are separate lines whose free text passes through :func:`redact`, which removes anything shaped like
  a JWT or a piece of one (see ``_jwt_part``): error messages from libraries are not trusted to leave tokens out.
* Metrics: CloudWatch Embedded Metric Format in Powertools Metrics' shape (:class:`authorizer.lines.EmfMetrics`;
  Powertools docs, "Metrics", https://docs.aws.amazon.com/powertools/python/latest/core/metrics/; flushed with
  ``flush_metrics()`` once per invocation, which prints one EMF object). Dimensions are ``route`` and ``mode``
  only (no ``service`` dimension, which Powertools would add from ``POWERTOOLS_SERVICE_NAME``). Per decision:
  ``Decisions`` 1, plus whichever applies of ``Agreements``, ``DisagreementsScopeAllowsAvpDenies``,
  ``DisagreementsScopeDeniesAvpAllows`` and ``AvpErrors`` (each 1). Zeros are not written (each metric cost
  about 7 µs per request in Powertools): read them with ``SUM`` per period and ``FILL(m, 0)`` in metric math, or
  treat missing data as not breaching in alarms.

Telemetry never changes a decision: a failure here is reported on stderr and the answer goes out unchanged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import sys
from typing import Any

from authorizer.shadow import LOG_KEY, LOG_MESSAGE, ShadowRecord

METRIC_DECISIONS = "Decisions"
METRIC_AGREEMENTS = "Agreements"
METRIC_SCOPE_ALLOWS_AVP_DENIES = "DisagreementsScopeAllowsAvpDenies"
METRIC_SCOPE_DENIES_AVP_ALLOWS = "DisagreementsScopeDeniesAvpAllows"
METRIC_AVP_ERRORS = "AvpErrors"

# What the redactor removes: every run of base64url segments joined by "." or "%2E" (a URL-encoded dot) in
# which any segment looks like a piece of a JWT; the whole run goes, so a token's other parts go with it.
# A segment looks like a piece of a JWT when it
# * starts with "eyJ" (base64url of '{"', how header and payload begin), or
# * decodes as base64url to the start of a JSON object, '{' then '"' with optional whitespace (a header or
#   payload encoded from JSON with spaces or a line break, which do not start with "eyJ"), or
# * is a signature: 40 characters or more (an RS256 signature has 342, the shortest of any JWS algorithm 43)
#   mixing upper case, lower case and digits, as random base64url does. Words, identifiers, host names, ARNs,
#   UUIDs and hex digests lack one of the three classes or are shorter, and are kept.
_SEGMENTS = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]+(?:(?:\.|%2[Ee])[A-Za-z0-9_-]+)*")
_SEPARATOR = re.compile(r"\.|%2[Ee]")
_JSON_OBJECT_START = re.compile(rb"[ \t\r\n]*\{[ \t\r\n]*\"")
_SIGNATURE_LENGTH = 40
REDACTED = "[redacted]"
MAX_MESSAGE = 500


def redact(text: Any, limit: int = MAX_MESSAGE) -> str:
    text = _SEGMENTS.sub(_redact_run, str(text))
    return text if len(text) <= limit else text[:limit] + "..."


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    return REDACTED if any(_jwt_part(part) for part in _SEPARATOR.split(run)) else run


def _jwt_part(part: str) -> bool:
    if len(part) < 8:
        return False
    if part.startswith("eyJ"):
        return True
    if _JSON_OBJECT_START.match(_b64url_prefix(part)):
        return True
    return (len(part) >= _SIGNATURE_LENGTH and any(c.isupper() for c in part)
            and any(c.islower() for c in part) and any(c.isdigit() for c in part))


def _b64url_prefix(part: str) -> bytes:
    """The bytes that the longest decodable prefix of ``part`` stands for (``b""`` if none)."""
    usable = part[:len(part) - len(part) % 4]
    try:
        return base64.urlsafe_b64decode(usable[:64])
    except (binascii.Error, ValueError):
        return b""


class Telemetry:
    def __init__(self, *, logger: Any, metrics: Any) -> None:
        self.logger = logger
        self.metrics = metrics

    def decision(self, record: ShadowRecord) -> None:
        try:
            self.logger.info(LOG_MESSAGE, extra={LOG_KEY: record.to_dict()})
        except Exception as exc:  # never let logging turn a decision into a 500
            print(f"avp-migrate authorizer: cannot log a decision: {type(exc).__name__}", file=sys.stderr)
        try:
            self._metrics(record)
        except Exception as exc:
            self._clear_metrics()
            print(f"avp-migrate authorizer: cannot emit metrics: {type(exc).__name__}", file=sys.stderr)

    def warning(self, message: str, **fields: Any) -> None:
        self._log("warning", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log("error", message, fields)

    def _log(self, level: str, message: str, fields: dict[str, Any]) -> None:
        extra = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        try:
            getattr(self.logger, level)(redact(message), extra=extra)
        except Exception as exc:
            print(f"avp-migrate authorizer: cannot log: {type(exc).__name__}", file=sys.stderr)

    def _metrics(self, record: ShadowRecord) -> None:
        metrics, count = self.metrics, "Count"  # CloudWatch's unit name (Powertools' MetricUnit.Count)
        metrics.add_dimension(name="route", value=record.route or "unknown")
        metrics.add_dimension(name="mode", value=record.mode)
        metrics.add_metric(name=METRIC_DECISIONS, unit=count, value=1)
        if record.avp_error is not None:
            metrics.add_metric(name=METRIC_AVP_ERRORS, unit=count, value=1)
        if record.agree is True:
            metrics.add_metric(name=METRIC_AGREEMENTS, unit=count, value=1)
        elif record.agree is False:
            direction = (METRIC_SCOPE_ALLOWS_AVP_DENIES if record.scope_decision == "ALLOW"
                         else METRIC_SCOPE_DENIES_AVP_ALLOWS)
            metrics.add_metric(name=direction, unit=count, value=1)
        metrics.flush_metrics()

    def _clear_metrics(self) -> None:
        with contextlib.suppress(Exception):  # nothing more can be done; the next flush starts from what is left
            self.metrics.clear_metrics()


class CurrentStdout:
    """A stream that writes to whatever ``sys.stdout`` is at the time of the write.

    Powertools' Logger binds its handler to the stream it is given (default: ``sys.stdout`` as it is when the
    first Logger of a service name is built) and every later Logger of that service reuses that handler, while
    EMF metrics are printed to the current ``sys.stdout``. Wherever stdout is redirected between two builds (the
    embedded AWS runs the function in-process, a local runner, the test suite's capture), log lines would go to
    a stream that nobody reads any more while the metrics go elsewhere. In Lambda, where stdout never changes,
    this is the same stream."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def make_logger(service: str, **options: Any) -> Any:
    # Not Powertools' Logger: importing it costs the cold start about 28 ms more (authorizer/lines.py).
    from authorizer.lines import JsonLogger

    options.setdefault("stream", CurrentStdout())
    return JsonLogger(service, **options)


def make_metrics(namespace: str) -> Any:
    from authorizer.lines import EmfMetrics

    return EmfMetrics(namespace)  # no service dimension (Powertools' Metrics was built with service="" for that)
