"""``report shadow --log-group NAME --download``: the raw log events of a small window, read locally.

FilterLogEvents, paginated with botocore's paginator (``nextToken``; the ``logs`` paginator model names
``events`` as the result key), from ``startTime`` to ``endTime`` in epoch milliseconds, both inclusive
(API reference, FilterLogEvents). Each event's ``message`` is one log line; the lines go through the same fast
reader as files (:func:`reports.shadow_reader.read_lines`), so a window downloaded and the same lines in a file
give the same report. FilterLogEvents is limited to 5 requests per second per account and Region: for more than
:data:`MAX_EVENTS` events, aggregate server-side with Logs Insights instead (leave out ``--download``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.shadow_model import Tallies
from reports.shadow_reader import read_lines
from reports.shadow_window import Window

MAX_EVENTS = 1_000_000
PAGE_SIZE = 10_000  # FilterLogEvents' largest page


class DownloadError(RuntimeError):
    """More events than a download should fetch."""


@dataclass
class Download:
    events: int
    pages: int
    tallies: Tallies


def download(client: Any, log_group: str, window: Window, *, max_events: int = MAX_EVENTS,
             page_size: int = PAGE_SIZE) -> Download:
    if window.start is None or window.end is None:
        raise DownloadError("a download needs a window with a start and an end")
    paginator = client.get_paginator("filter_log_events")
    pages = paginator.paginate(logGroupName=log_group, startTime=int(window.start.timestamp() * 1000),
                               endTime=int(window.end.timestamp() * 1000), PaginationConfig={"PageSize": page_size})
    lines: list[bytes] = []
    count = 0
    for page in pages:
        count += 1
        lines.extend(event.get("message", "").rstrip("\n").encode("utf-8") for event in page.get("events", []))
        if len(lines) > max_events:
            raise DownloadError(f"more than {max_events:,} log events in the window: narrow it, or leave out "
                                "--download to aggregate server-side with Logs Insights")
    return Download(events=len(lines), pages=count, tallies=read_lines(b"\n".join(lines), window,
                                                                       where=f"log group {log_group}"))
