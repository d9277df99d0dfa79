"""Time for the shadow report: the window (``--start``/``--end``), record timestamps, and chart bins.

Records carry ``time`` as the authorizer writes it (:meth:`authorizer.core.Authorizer._now`): UTC, milliseconds,
``Z``, e.g. ``2026-11-26T10:00:00.123Z``. Every such string has the same width, so comparing the strings compares
the instants: the window is applied to records by string comparison, without parsing a million timestamps.

Chart bins are a fixed ladder of periods, the smallest that keeps a window within :data:`MAX_BINS` bars. The
ladder stays within what Logs Insights accepts in ``datefloor(@timestamp, period)``: units ``m`` and ``h``, with
``h`` capped at 24 (user guide, "Boolean, comparison, numeric, datetime, and other functions": "the caps for s
and m are 60, and the cap for h is 24").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_BINS = 60
BIN_LADDER = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600)
_RELATIVE = re.compile(r"^-?(\d+)([smhdw])$")  # "-24h"; "24h" too (argparse takes "-24h" for an option)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class WindowError(ValueError):
    """A time the user gave that cannot be read."""


def parse_time(text: str, now: datetime) -> datetime:
    """``-24h`` / ``-90m`` / ``-7d`` (before ``now``; the minus may be left out), or ISO 8601 (a date, or a time;
    without an offset: UTC)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        return now - timedelta(seconds=int(relative.group(1)) * _UNIT_SECONDS[relative.group(2)])
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"expected ISO 8601 (2026-11-26T10:00:00Z) or a relative time (-24h, -90m, -7d), "
                          f"got {text!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A closed interval [start, end]; either end may be open (None) for files read whole."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise WindowError(f"the window starts ({record_time(self.start)}) after it ends ({record_time(self.end)})")

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def bounds_text(self) -> tuple[str | None, str | None]:
        """The ends as record time strings, for comparing with records' ``time``."""
        return (record_time(self.start) if self.start else None, record_time(self.end) if self.end else None)

    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


def record_time(moment: datetime) -> str:
    """The authorizer's format: ``2026-11-26T10:00:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_record_time(text: str) -> datetime:
    """A record's ``time``, or a Logs Insights timestamp (``2026-11-26 10:00:00.000``, UTC)."""
    parsed = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def choose_bin(span_seconds: float | None) -> int:
    """The smallest period of the ladder that fits the span into MAX_BINS bars."""
    if not span_seconds or span_seconds <= 0:
        return BIN_LADDER[0]
    for seconds in BIN_LADDER:
        if span_seconds / seconds <= MAX_BINS:
            return seconds
    return BIN_LADDER[-1]  # more than MAX_BINS days: daily bars, the chart gets wider


def period_text(seconds: int) -> str:
    """A bin as Logs Insights writes a period: ``5m``, ``1h``, ``24h``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    raise ValueError(f"not a bin of the ladder: {seconds} s")


def bin_label(seconds: int) -> str:
    return {60: "minute", 3600: "hour", 86400: "day"}.get(seconds, period_text(seconds))
