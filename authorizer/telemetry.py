"""Shadow records and metrics: one JSON log line and one EMF metrics line per decision.

* Logs: Powertools Logger (structured JSON on stdout). The record goes under ``"shadow"`` (see
  :mod:`authorizer.shadow`). Operator messages (AVP failures, mode document problems) are separate lines whose
  free text passes through :func:`redact`, which removes anything shaped like a JWT: error messages from
  libraries are not trusted to leave tokens out.
* Metrics: Powertools Metrics, CloudWatch Embedded Metric Format (Powertools docs, "Metrics",
  https://docs.aws.amazon.com/powertools/python/latest/core/metrics/; flushed with
  ``flush_metrics()`` once per invocation, which prints one EMF object). Dimensions are ``route`` and ``mode``
  only: the Metrics object is built with ``service=""`` because Powertools otherwise adds a ``service`` dimension
  from ``POWERTOOLS_SERVICE_NAME``. Per decision: ``Decisions`` 1, plus whichever applies of ``Agreements``,
  ``DisagreementsScopeAllowsAvpDenies``, ``DisagreementsScopeDeniesAvpAllows`` and ``AvpErrors`` (each 1). Zeros
  are not written (each metric costs about 7 µs per request in Powertools): read them with ``SUM`` per period and
  ``FILL(m, 0)`` in metric math, or treat missing data as not breaching in alarms.

Telemetry never changes a decision: a failure here is reported on stderr and the answer goes out unchanged.
"""

from __future__ import annotations

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

# A JWT's header and payload are base64url JSON objects, so both start with "eyJ" ('{"'): anything from such a
# run to the end of the dotted token goes. (Plain dotted words such as host names are left alone.)
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*){0,2}")
MAX_MESSAGE = 500


def redact(text: Any, limit: int = MAX_MESSAGE) -> str:
    text = _JWT_LIKE.sub("[redacted]", str(text))
    return text if len(text) <= limit else text[:limit] + "..."


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
        from aws_lambda_powertools.metrics import MetricUnit

        metrics, count = self.metrics, MetricUnit.Count
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


def make_logger(service: str, **options: Any) -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=service, **options)


def make_metrics(namespace: str) -> Any:
    from aws_lambda_powertools.metrics import Metrics

    return Metrics(namespace=namespace, service="")  # "" (not None): no service dimension, whatever the env says
