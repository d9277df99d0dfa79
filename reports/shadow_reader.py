"""The fast local reader: JSON-lines log files (or downloaded log events) -> :class:`reports.shadow_model.Tallies`.

A million authorizer log lines (about 1 GB) are read and aggregated in about a second on two cores, where
``pandas.read_json(lines=True)`` takes tens of seconds just to load them (``python -m bench shadow_bench``). How:

* msgspec (a maintained C library) decodes many lines per call (``Decoder.decode_lines``) straight into a small
  ``Struct`` holding only the fields the report reads; every other key of the Powertools line and of the record is
  skipped by the parser, never turned into Python objects. The Struct is built from :class:`ShadowRecord`'s own
  fields (names, types, defaults, which are required), so the record stays defined once, in
  :mod:`authorizer.shadow`. Its instances are not tracked by the garbage collector (``gc=False``): a million
  tracked objects make CPython's collector dominate the run.
* The closed-set fields (mode, decision source, decisions) are decoded as ``Literal`` values, which msgspec
  returns as the same interned objects: counting them then hashes nothing new. A chunk holding a value outside
  those sets (an authorizer newer than this reader) is decoded again with plain ``str`` fields: exact either way.
* Counting is done by C iterators (``operator.attrgetter``, ``zip``, ``Counter.update``) over each batch; one
  Python loop per record remains, for first/last seen and latencies.
* Files are split at line boundaries and read by one process per core (``fork``; ``forkserver`` when this process
  runs threads), each returning its tallies to merge. Small inputs are read in-process.

Lines that are not shadow records (other log lines, Lambda's START/END/REPORT, anything not JSON) are skipped
and counted; a "shadow" key whose value is not a record of this version is counted as invalid. A chunk that
fails to decode as a whole is decoded line by line (lines without the text ``"shadow"`` skipped at once), so junk
slows down only the chunks that hold it. Validation covers the fields the report reads (their types, and
``record_version`` 1); keys the report does not read are not checked.
"""

from __future__ import annotations

import os
import threading
import typing
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from itertools import groupby, islice, pairwise
from operator import attrgetter, itemgetter, le
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from authorizer.shadow import LOG_KEY, RECORD_VERSION, TEST_INVOKE_STAGE, ShadowRecord
from reports.shadow_model import ExampleKey, Tallies, direction_of
from reports.shadow_window import Window

CHUNK_BYTES = 1 << 20  # lines decoded per call: a batch's objects stay in the CPU cache across the passes
MIN_PARALLEL_BYTES = 64 << 20  # below this, starting processes costs more than it saves
_SHADOW_TEXT = f'"{LOG_KEY}"'.encode()

# The fields the report reads. Lists are kept raw (undecoded) and decoded only for the rare disagreement.
_USED = ("time", "route", "mode", "decision_source", "reason", "token_error", "scope_decision", "avp_decision",
         "avp_error", "avp_latency_ms", "avp_cached", "principal", "groups", "determining_policies", "record_version",
         "stage")
_LAZY = ("principal", "groups", "determining_policies")
# Values the authorizer writes today (authorizer/shadow.py): decoded as interned literals on the fast path.
_CLOSED: dict[str, Any] = {
    "mode": Literal["scope", "shadow", "avp", "both", "unknown"],
    "decision_source": Literal["scope", "avp", "both", "avp_error", "config", "error"],
    "scope_decision": Literal["ALLOW", "DENY"] | None,
    "avp_decision": Literal["ALLOW", "DENY"] | None,
}


def _record_struct(name: str, closed: bool) -> type:
    hints = typing.get_type_hints(ShadowRecord)
    spec = []
    for f in fields(ShadowRecord):
        if f.name not in _USED:
            continue
        kind: Any = msgspec.Raw if f.name in _LAZY else hints[f.name]
        if closed and f.name in _CLOSED:
            kind = _CLOSED[f.name]
        if f.name == "record_version":  # required and exact, as ShadowRecord.from_dict demands
            spec.append((f.name, Literal[RECORD_VERSION]))
        elif f.default is MISSING:
            spec.append((f.name, kind))
        elif f.name in _LAZY:
            spec.append((f.name, kind, msgspec.Raw(msgspec.json.encode(f.default))))
        else:
            spec.append((f.name, kind, f.default))
    spec.sort(key=lambda item: len(item) == 3)  # required fields first
    return msgspec.defstruct(name, spec, gc=False)


def _line_struct(name: str, record: Any) -> type:
    return msgspec.defstruct(name, [(LOG_KEY, record | None, None)], gc=False)


_FAST = msgspec.json.Decoder(_line_struct("FastLine", _record_struct("FastRecord", closed=True)))
_GENERAL = msgspec.json.Decoder(_line_struct("Line", _record_struct("Record", closed=False)))
_PROBE = msgspec.json.Decoder()  # any JSON: tells a line that holds a bad record from one that holds none

_TIME = attrgetter("time")
_ROUTE = attrgetter("route")
_MINUTE = itemgetter(slice(0, 16))  # "2026-11-26T10:03"
_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_LATENCY = attrgetter("avp_latency_ms")
_CACHED = attrgetter("avp_cached")
_OUTCOME = attrgetter("route", "mode", "decision_source", "reason", "token_error", "scope_decision", "avp_decision",
                      "avp_error")


class _Codes(dict[Any, int]):
    """Route -> small integer, assigned on first sight (``__getitem__`` stays a C call for known routes)."""

    def __missing__(self, key: Any) -> int:
        code = self[key] = len(self)
        return code


class ShadowInputError(ValueError):
    """An input that cannot be read at all (a missing or unreadable file)."""


class Accumulator:
    """Tallies records batch by batch. Works on the decoder's Structs and on :class:`ShadowRecord` alike (the
    same attribute names)."""

    def __init__(self, window: Window | None = None) -> None:
        self.tallies = Tallies(resolution=60)
        self._minutes: dict[str, Counter[tuple[Any, ...]]] = {}  # "2026-11-26T10:03" -> outcome (with route) -> n
        self._start, self._end = (window or Window()).bounds_text()
        self._lo: dict[str | None, str] = {}
        self._hi: dict[str | None, str] = {}
        self._latency: list[float | None] = []
        self._cached: list[bool] = []
        self._route_codes: list[int] = []
        self._codes = _Codes()

    def add_lines(self, lines: Sequence[Any]) -> None:
        records = [line.shadow for line in lines if line.shadow is not None]
        counts = self.tallies.lines
        counts.lines += len(lines)
        counts.skipped += len(lines) - len(records)
        self.add_records(records)

    def add_records(self, records: Sequence[Any]) -> None:
        self.tallies.lines.records += len(records)
        tests = [r for r in records if r.stage == TEST_INVOKE_STAGE]
        if tests:  # deploy's smoke test (TestInvokeAuthorizer): decisions, but not traffic, so not evidence
            self.tallies.lines.test_invocations += len(tests)
            records = [r for r in records if r.stage != TEST_INVOKE_STAGE]
        if self._start is not None or self._end is not None:
            kept = [r for r in records if (self._start is None or r.time >= self._start)
                    and (self._end is None or r.time <= self._end)]
            self.tallies.lines.outside_window += len(records) - len(kept)
            records = kept
        if not records:
            return
        times = list(map(_TIME, records))
        routes = list(map(_ROUTE, records))
        in_order = all(map(le, times, islice(times, 1, None)))
        self._count(records, times, in_order)
        self._seen(routes, times, in_order)
        # latencies are grouped by route once, at the end, with numpy: here they are only appended (C loops)
        self._latency.extend(map(_LATENCY, records))
        self._cached.extend(map(_CACHED, records))
        self._route_codes.extend(map(self._codes.__getitem__, routes))
        for record in [r for r in records if r.avp_decision is not None and r.avp_decision != r.scope_decision]:
            key: ExampleKey = (direction_of(record.scope_decision), _text(record.principal),
                               _texts(record.groups), _texts(record.determining_policies))
            self.tallies.route(record.route).example(key, 1, record.time, record.time)

    def _count(self, records: Sequence[Any], times: list[str], in_order: bool) -> None:
        """Outcomes per minute. In a batch in time order (the usual case: one authorizer's lines) each minute is
        one slice, found by bisection, and counted without making a key per record."""
        if not in_order:
            for minute, outcomes in groupby(sorted(zip(map(_MINUTE, times), map(_OUTCOME, records), strict=True),
                                                   key=_FIRST), key=_FIRST):
                self._minutes.setdefault(minute, Counter()).update(map(_SECOND, outcomes))
            return
        start = 0
        while start < len(times):
            minute = times[start][:16]
            stop = bisect_right(times, minute + "\U0010ffff", start)  # sorts after any longer time in that minute
            counter = self._minutes.get(minute)
            if counter is None:
                counter = self._minutes[minute] = Counter()
            counter.update(map(_OUTCOME, records[start:stop]))
            start = stop

    def _seen(self, routes: list[str | None], times: list[str], in_order: bool) -> None:
        """First and last time per route. In a batch in time order a route's first occurrence is its earliest,
        so no loop is needed; any other order takes the loop."""
        lo, hi = self._lo, self._hi
        if in_order:
            firsts = dict(zip(reversed(routes), reversed(times), strict=True))
            lasts = dict(zip(routes, times, strict=True))
        else:
            firsts, lasts = {}, {}
            for route, at in zip(routes, times, strict=True):
                if route not in firsts:
                    firsts[route] = lasts[route] = at
                elif at < firsts[route]:
                    firsts[route] = at
                elif at > lasts[route]:
                    lasts[route] = at
        for route, at in firsts.items():
            if route not in lo or at < lo[route]:
                lo[route] = at
        for route, at in lasts.items():
            if route not in hi or at > hi[route]:
                hi[route] = at

    def _group_latencies(self, tallies: Tallies) -> None:
        """Fresh AVP calls' latencies by route (None becomes NaN and is dropped, as are cached answers)."""
        values = np.array(self._latency, dtype=float)
        keep = ~np.isnan(values) & ~np.array(self._cached, dtype=bool)
        codes = np.array(self._route_codes, dtype=np.int64)
        for route, code in self._codes.items():
            chosen = values[keep & (codes == code)]
            if chosen.size:
                tallies.route(route).latencies.extend(chosen.tolist())
        self._latency, self._cached, self._route_codes = [], [], []

    def finish(self) -> Tallies:
        tallies = self.tallies
        for route, first in self._lo.items():
            tallies.route(route).seen(first, self._hi[route])
        self._group_latencies(tallies)
        for minute, outcomes in self._minutes.items():
            at = _minute_epoch(minute, tallies)
            for (route, *outcome), n in outcomes.items():
                tally = tallies.route(route)
                mode, source, reason, token_error, scope, avp, avp_error = outcome
                tally.outcomes[(mode, source, reason, token_error, scope, avp, avp_error)] += n
                if at is None or token_error is not None or scope is None or (avp is None and avp_error is None):
                    continue  # not a decision AVP was asked about: not on the chart
                tally.decisions_at[at] += n
                if avp is not None and avp != scope:
                    tally.disagreements_at[at] += n
                    tally.directions_at[(at, direction_of(scope))] += n
                if avp_error is not None:
                    tally.errors_at[at] += n
        self._minutes.clear()
        return tallies


def _minute_epoch(minute: str, tallies: Tallies) -> int | None:
    try:
        return int(datetime.fromisoformat(minute + ":00+00:00").timestamp())
    except ValueError:
        tallies.problem(f"a record time that is not ISO 8601 ({minute!r}...): left off the chart")
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, msgspec.Raw):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            return bytes(value).decode("utf-8", "replace")
    return None if value is None else str(value)


def _texts(value: Any) -> tuple[str, ...]:
    if isinstance(value, msgspec.Raw):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError:
            return (bytes(value).decode("utf-8", "replace"),)
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return () if value is None else (str(value),)


# --- decoding -------------------------------------------------------------------------------------------------

def _decode_chunk(chunk: bytes | memoryview, acc: Accumulator, where: str, offset: int) -> None:
    try:
        lines = _FAST.decode_lines(chunk)
    except msgspec.MsgspecError:
        try:
            lines = _GENERAL.decode_lines(chunk)  # a value outside the closed sets, or junk
        except msgspec.MsgspecError:
            _salvage(bytes(chunk), acc, where, offset)
            return
    acc.add_lines(lines)


def _salvage(chunk: bytes, acc: Accumulator, where: str, offset: int) -> None:
    """Line by line, for a chunk with junk in it: lines without ``"shadow"`` are skipped unparsed."""
    counts = acc.tallies.lines
    candidates: list[tuple[int, bytes]] = []
    position = 0
    for raw in chunk.split(b"\n"):
        start, position = position, position + len(raw) + 1
        if not raw.strip():
            continue
        if _SHADOW_TEXT in raw:
            candidates.append((start, raw))
        else:
            counts.lines += 1
            counts.skipped += 1
    try:
        acc.add_lines(_GENERAL.decode_lines(b"\n".join(raw for _, raw in candidates)))
        return
    except msgspec.MsgspecError:
        pass
    decoded = []
    for start, raw in candidates:
        try:
            decoded.append(_GENERAL.decode(raw))
        except msgspec.MsgspecError as exc:
            counts.lines += 1
            if _holds_shadow(raw):
                counts.invalid += 1
                acc.tallies.problem(f"{where} byte {offset + start}: not a shadow record of version "
                                    f"{RECORD_VERSION}: {exc}")
            else:
                counts.skipped += 1
    acc.add_lines(decoded)


def _holds_shadow(raw: bytes) -> bool:
    try:
        value = _PROBE.decode(raw)
    except msgspec.MsgspecError:
        return False
    return isinstance(value, dict) and value.get(LOG_KEY) is not None


def _read_range(path: str, start: int, end: int, window: Window | None) -> Tallies:
    """The lines in bytes [start, end) of a file (both at line starts). Plain reads into one reused buffer:
    cheaper than mapping the file, whose page faults cost a fifth of the decoding."""
    acc = Accumulator(window)
    buffer = bytearray(2 * CHUNK_BYTES)
    view = memoryview(buffer)
    held = 0  # bytes at the front of the buffer not decoded yet (a partial last line)
    offset = start  # file offset of buffer[0]
    with open(path, "rb", buffering=0) as handle:
        handle.seek(start)
        remaining = end - start
        while True:
            if held == len(buffer):  # a single line longer than the buffer: grow it
                buffer.extend(bytes(len(buffer)))
                view.release()
                view = memoryview(buffer)
            got = handle.readinto(view[held:held + min(CHUNK_BYTES, remaining, len(buffer) - held)]) if remaining else 0
            remaining -= got
            held += got
            cut = held if not got else buffer.rfind(b"\n", 0, held) + 1
            if cut:
                _decode_chunk(view[:cut], acc, path, offset)
                buffer[:held - cut] = buffer[cut:held]
                held -= cut
                offset += cut
            if not got:
                break
    view.release()
    return acc.finish()


# --- entry points ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Task:
    path: str
    start: int
    end: int


def read_files(paths: Iterable[str | os.PathLike[str]], window: Window | None = None, *, workers: int | None = None,
               min_parallel_bytes: int = MIN_PARALLEL_BYTES) -> Tallies:
    """Tally every shadow record in the JSON-lines files (the authorizer's log lines)."""
    sizes: list[tuple[str, int]] = []
    for path in paths:
        try:
            sizes.append((str(path), Path(path).stat().st_size))
        except FileNotFoundError:
            raise ShadowInputError(f"{path}: no such file") from None
        except OSError as exc:
            raise ShadowInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    total = sum(size for _, size in sizes)
    workers = workers or os.cpu_count() or 1
    if workers == 1 or total < min_parallel_bytes:
        tasks = [_Task(path, 0, size) for path, size in sizes]
        return _merge(_read_range(t.path, t.start, t.end, window) for t in tasks)
    tasks = [task for path, size in sizes for task in _split(path, size, max(1, round(workers * size / total)))]
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_context()) as pool:
        futures = [pool.submit(_read_range, t.path, t.start, t.end, window) for t in tasks]
        return _merge(f.result() for f in futures)


def read_lines(data: bytes, window: Window | None = None, *, where: str = "log events") -> Tallies:
    """Tally the shadow records in a buffer of log lines (e.g. FilterLogEvents' messages, one per line)."""
    acc = Accumulator(window)
    view = memoryview(data)
    position = 0
    while position < len(data):
        stop = data.find(b"\n", min(position + CHUNK_BYTES, len(data)) - 1)
        stop = len(data) if stop < 0 else stop + 1
        _decode_chunk(view[position:stop], acc, where, position)
        position = stop
    return acc.finish()


def tally_records(records: Iterable[ShadowRecord], window: Window | None = None) -> Tallies:
    """Tally ShadowRecord objects (as :meth:`ShadowRecord.from_log_line` reads them): the reference path."""
    acc = Accumulator(window)
    acc.add_records(list(records))
    return acc.finish()


def _split(path: str, size: int, parts: int) -> list[_Task]:
    """``parts`` ranges of about equal size, each starting at a line start."""
    if parts <= 1 or size == 0:
        return [_Task(path, 0, size)]
    bounds = [0]
    with open(path, "rb") as handle:
        for i in range(1, parts):
            handle.seek(max(bounds[-1], size * i // parts))
            handle.readline()  # to the end of the line the cut fell in
            if handle.tell() >= size:
                break
            bounds.append(handle.tell())
    bounds.append(size)
    return [_Task(path, lo, hi) for lo, hi in pairwise(bounds) if hi > lo]


def _context() -> Any:
    import multiprocessing

    # fork is the cheapest start, but forking a process that runs other threads can copy a lock some thread
    # holds; forkserver starts clean then.
    methods = multiprocessing.get_all_start_methods()
    method = "fork" if "fork" in methods and threading.active_count() == 1 else (
        "forkserver" if "forkserver" in methods else "spawn")
    return multiprocessing.get_context(method)


def _merge(parts: Iterable[Tallies]) -> Tallies:
    merged = Tallies(resolution=60)
    for part in parts:
        merged.merge(part)
    return merged
