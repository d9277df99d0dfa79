"""The authorizer's log lines and EMF metric lines, written with the standard library's ``json`` alone, in the
shape Powertools' Logger and Metrics (aws-lambda-powertools 3.x, which wrote them until now) give them.

Why not Powertools itself: importing any of its modules runs the package's ``__init__``, which imports the
Logger, Metrics and Tracer (and through them jmespath, typing_extensions and some 40 Powertools modules) whatever
one uses; no supported import leaves that out. Measured on CPython 3.12.1 from the zip deploy builds (as
``python -m bench authorizer_bench`` does, median of 15 fresh processes, CPU, the two zips alternately in the
same minutes): import + build of the authorizer went from 159.8 to 131.9 ms with these writers (Powertools'
Logger and Metrics imported alone measured 95 ms, most of it standard library that botocore loads on the first
request anyway; what goes is Powertools' own code), and writing one decision's log line and EMF object from 217
to about 90 µs. The mode document is read with botocore directly for the same reason
(:func:`authorizer.modes.ssm_fetcher`), so no request imports Powertools either.

What stays the same, line for line (``tests/test_authorizer_lines.py`` writes the same calls through both and
compares them):

* Log lines (Powertools ``Logger(service=..., stream=...)`` with its default formatter): one JSON object per
  line, keys in the order ``level``, ``location`` (``function:line`` of the caller), ``message``,
  ``timestamp`` (``%Y-%m-%d %H:%M:%S,mmm%z``, local time: UTC in Lambda), ``service``, ``sampling_rate`` (when
  ``POWERTOOLS_LOGGER_SAMPLE_RATE`` is set), the ``extra`` keys, ``xray_trace_id`` (from ``_X_AMZN_TRACE_ID``);
  keys whose value is None are left out; ``ensure_ascii=False``, values JSON cannot hold written with ``str``,
  indented by 4 when ``POWERTOOLS_DEV`` is true (as Powertools does for SAM local). A message that parses as JSON
  is written as that JSON value, as Powertools does. The level: ``AWS_LAMBDA_LOG_LEVEL`` (Lambda's advanced
  logging controls) first, else ``POWERTOOLS_LOG_LEVEL``, else ``LOG_LEVEL``, else INFO; an unknown level name is
  an error when the logger is built (the authorizer then fails closed, as with Powertools).
* EMF lines (Powertools ``Metrics(namespace=..., service="")`` and ``flush_metrics()``): ``{"_aws":
  {"Timestamp": ms, "CloudWatchMetrics": [{"Namespace": ..., "Dimensions": [[names]], "Metrics": [{"Name": ...,
  "Unit": ...}]}]}, <dimension>: <value>, ..., <metric>: [values as floats]}``, compact, ASCII, printed to the
  current ``sys.stdout``; nothing when ``POWERTOOLS_METRICS_DISABLED`` is true (or ``POWERTOOLS_DEV`` is true and
  it is unset). A dimension with an empty name or value is left out, as Powertools does (with a warning).

Not carried over, because the authorizer uses none of it: log sampling of debug lines, ``inject_lambda_context``
keys, exception fields (the authorizer logs tracebacks as redacted text), high-resolution metrics, metadata,
default dimensions and the cold-start metric.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

LEVELS = {"NOTSET": 0, "DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50,
          "FATAL": 50}
# Lambda's advanced logging controls (AWS_LAMBDA_LOG_LEVEL) -> logging level, as Powertools maps them
# (aws_lambda_powertools/shared/constants.py, LAMBDA_ADVANCED_LOGGING_LEVELS).
LAMBDA_LEVELS = {"TRACE": "NOTSET", "DEBUG": "DEBUG", "INFO": "INFO", "WARN": "WARNING", "ERROR": "ERROR",
                 "FATAL": "CRITICAL"}
# What a JSON text can start with (Python's json also reads NaN and Infinity): any other message is not parsed.
_JSON_START = frozenset('{["-0123456789tfnNI \t\r\n')
TRUE = ("1", "y", "yes", "t", "true", "on")  # Powertools' strtobool


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE


def log_level(environ: Mapping[str, str]) -> int:
    name = LAMBDA_LEVELS.get(environ.get("AWS_LAMBDA_LOG_LEVEL", "")) or (
        environ.get("POWERTOOLS_LOG_LEVEL") or environ.get("LOG_LEVEL") or "INFO").upper()
    if name not in LEVELS:
        raise ValueError(f"Unknown level: {name!r}")
    return LEVELS[name]


class JsonLogger:
    """``info``/``warning``/``error``/``debug``/``critical`` (message, ``extra=`` keys) -> one JSON line."""

    def __init__(self, service: str, *, stream: TextIO | Any = None, environ: Mapping[str, str] | None = None):
        environ = os.environ if environ is None else environ
        self.service = service
        self.stream = stream if stream is not None else sys.stdout
        self.level = log_level(environ)
        self._sampling_rate = environ.get("POWERTOOLS_LOGGER_SAMPLE_RATE") or None
        self._indent = 4 if _true(environ.get("POWERTOOLS_DEV")) else None
        self._environ = environ
        self._lock = threading.Lock()  # one line at a time, as a logging handler writes

    def setLevel(self, level: str | int) -> None:  # Powertools' (and logging's) name
        if isinstance(level, str):
            level = level.upper()
            if level not in LEVELS:
                raise ValueError(f"Unknown level: {level!r}")
            level = LEVELS[level]
        self.level = level

    def debug(self, message: Any, *, extra: Mapping[str, Any] | None = None) -> None:
        if self.level <= 10:
            self._write("DEBUG", message, extra, sys._getframe(1))

    def info(self, message: Any, *, extra: Mapping[str, Any] | None = None) -> None:
        if self.level <= 20:
            self._write("INFO", message, extra, sys._getframe(1))

    def warning(self, message: Any, *, extra: Mapping[str, Any] | None = None) -> None:
        if self.level <= 30:
            self._write("WARNING", message, extra, sys._getframe(1))

    def error(self, message: Any, *, extra: Mapping[str, Any] | None = None) -> None:
        if self.level <= 40:
            self._write("ERROR", message, extra, sys._getframe(1))

    def critical(self, message: Any, *, extra: Mapping[str, Any] | None = None) -> None:
        if self.level <= 50:
            self._write("CRITICAL", message, extra, sys._getframe(1))

    def _write(self, level: str, message: Any, extra: Mapping[str, Any] | None, caller: Any) -> None:
        created = time.time()
        line: dict[str, Any] = {
            "level": level,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": _message(message),
            "timestamp": time.strftime(f"%Y-%m-%d %H:%M:%S,{int((created - int(created)) * 1000):03d}%z",
                                       time.localtime(created)),
            "service": self.service,
            "sampling_rate": self._sampling_rate,
        }
        if extra:
            line.update(extra)
        trace = self._environ.get("_X_AMZN_TRACE_ID")
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "") if trace else None
        text = json.dumps({k: v for k, v in line.items() if v is not None}, default=str, separators=(",", ":"),
                          indent=self._indent, ensure_ascii=False)
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()


def _message(message: Any) -> Any:
    if isinstance(message, str) and message[:1] in _JSON_START:
        try:
            return json.loads(message)
        except ValueError:
            pass
    return message


class EmfMetrics:
    """``add_dimension``/``add_metric``, then ``flush_metrics()`` prints one EMF object and starts afresh."""

    def __init__(self, namespace: str, *, environ: Mapping[str, str] | None = None):
        self.namespace = namespace
        self._environ = os.environ if environ is None else environ
        self._dimensions: dict[str, str] = {}
        self._metrics: dict[str, tuple[str, list[float]]] = {}

    def add_dimension(self, name: str, value: Any) -> None:
        value = value if isinstance(value, str) else str(value)
        if name.strip() and value.strip():
            self._dimensions[name] = value

    def add_metric(self, name: str, unit: str, value: float) -> None:
        name = name.strip()
        unit = getattr(unit, "value", unit)  # a Powertools MetricUnit member is accepted too
        entry = self._metrics.get(name)
        if entry is None:
            self._metrics[name] = (unit, [float(value)])
        else:
            self._metrics[name] = (unit, [*entry[1], float(value)])

    def flush_metrics(self) -> None:
        if self._metrics and not self._disabled():
            print(json.dumps(self.serialize(), separators=(",", ":")))
        self.clear_metrics()

    def serialize(self) -> dict[str, Any]:
        return {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [{"Namespace": self.namespace, "Dimensions": [list(self._dimensions)],
                                       "Metrics": [{"Name": name, "Unit": unit}
                                                   for name, (unit, _) in self._metrics.items()]}],
            },
            **self._dimensions,
            **{name: values for name, (_, values) in self._metrics.items()},
        }

    def clear_metrics(self) -> None:
        self._dimensions = {}
        self._metrics = {}

    def _disabled(self) -> bool:
        disabled = self._environ.get("POWERTOOLS_METRICS_DISABLED")
        return _true(disabled) or (disabled is None and _true(self._environ.get("POWERTOOLS_DEV")))
