"""The mode state as the authorizer sees it: which rule decides each route (``scope``, ``shadow``, ``avp``, or
``both`` while a route's mode cannot be established).

Three copies of the mode state exist (the design and its argument are in ``authorizer/README.md``, "Mode state"):

* the **ledger** (DynamoDB, written by ``avp-migrate``): the source of truth; the authorizer never reads it;
* the **published document** (SSM parameter ``AVP_AUTHZ_MODES_PARAMETER``), read here at most every
  ``AVP_AUTHZ_MODES_MAX_AGE`` seconds;
* the **fallback** (environment variable ``AVP_AUTHZ_MODES``), which ``avp-migrate`` keeps in step with every
  ledger write and which marks the routes a change is in flight for (``pending``). The environment is the one copy
  that can never fail to be read: after UpdateFunctionConfiguration completes, "the function is processing events
  with the new configuration" (Lambda API reference, UpdateFunctionConfiguration).

The rule, per route ``r`` (:meth:`ModeSource.current`):

1. ``r`` is pending in the fallback -> ``both``: a change to ``r`` is in flight or was interrupted, so its mode
   is one of two and neither may decide alone.
2. The published document is usable (read at most ``max_age`` + 5 s ago, valid, made for this configuration) and
   its version is not older than the fallback's -> its mode for ``r``.
3. Else the fallback's mode for ``r``.
4. No usable copy at all (no fallback, SSM unreadable) -> ``both``.

``both`` allows a request only when the scope rule and Verified Permissions both allow it: whatever the ledger
holds for ``r``, the authorizer never allows what that mode would deny.

Two spellings of a document are read (both in SSM and in the environment):

* readable: ``{"version": 7, "default": "scope", "routes": {"GET /avp": "avp", "GET /scope": "shadow"}}``; a
  route not listed uses ``default``;
* compact, for large APIs (an SSM Standard parameter holds 4 KB, an Advanced one 8 KB; Lambda's environment holds
  4 KB in all): ``{"version": 7, "index": "<16 hex>", "modes": "ssha..."}``: one letter per route of
  ``authorizer-config.json`` in sorted route-key order (``s`` scope, ``h`` shadow, ``a`` avp), or ``z:`` and the
  base64 of the zlib-compressed letters; ``index`` is :func:`route_index` of those keys, so a document made for
  another configuration is refused rather than misread.

The fallback may also carry ``"pending": {"<writer id>": {"at": "<UTC ISO 8601>", "routes": "0-3,7"}}``: route
indexes (in the same sorted order) each in-flight change marked before it wrote the ledger. Route keys a document
names that the configuration does not have are reported (once) and have no effect.

botocore is imported on the first read (authorizer/aws.py), not when this module is imported.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from authorizer.config import MODES

DEFAULT_MODE = "scope"
BOTH = "both"  # decided by the scope rule AND Verified Permissions: the mode of a route whose mode is uncertain
RETRY_AFTER_FAILURE_SECONDS = 5
STALE_GRACE_SECONDS = 5
LETTERS = {"scope": "s", "shadow": "h", "avp": "a"}
MODE_OF_LETTER = {letter: mode for mode, letter in LETTERS.items()}
COMPRESSED_PREFIX = "z:"
BITMAP_PREFIX = "b:"


class ModeDocumentError(ValueError):
    """The mode document is invalid; the message names the field."""


def route_index(route_keys: Iterable[str]) -> str:
    """The fingerprint of a configuration's route list: compact documents name it so they cannot be misread."""
    return hashlib.sha256("\n".join(sorted(route_keys)).encode()).hexdigest()[:16]


def encode_modes(modes: Mapping[str, str], route_keys: Iterable[str], default: str = DEFAULT_MODE) -> str:
    """One letter per route in sorted key order; compressed when that is shorter."""
    letters = "".join(LETTERS[modes.get(key, default)] for key in sorted(route_keys))
    packed = COMPRESSED_PREFIX + base64.b64encode(zlib.compress(letters.encode(), 9)).decode()
    return packed if len(packed) < len(letters) else letters


def decode_modes(text: str, route_keys: Sequence[str]) -> dict[str, str]:
    keys = sorted(route_keys)
    letters = text
    if text.startswith(COMPRESSED_PREFIX):
        try:
            letters = zlib.decompress(base64.b64decode(text[len(COMPRESSED_PREFIX):], validate=True)).decode()
        except (ValueError, zlib.error) as exc:
            raise ModeDocumentError(f"modes: not valid compressed letters ({exc})") from None
    if len(letters) != len(keys):
        raise ModeDocumentError(f"modes: {len(letters)} letters for {len(keys)} routes")
    unknown = set(letters) - set(MODE_OF_LETTER)
    if unknown:
        raise ModeDocumentError(f"modes: unknown letter(s) {sorted(unknown)} (expected s, h or a)")
    return {key: MODE_OF_LETTER[letter] for key, letter in zip(keys, letters, strict=True)}


def encode_indexes(routes: Iterable[str], route_keys: Iterable[str]) -> str:
    """Route keys as ranges of their indexes in sorted order (``"0-3,7"``), or as ``b:`` and the base64 of a
    bitmap (bit i of byte i // 8, most significant first) when that is shorter: scattered routes stay small."""
    keys = sorted(route_keys)
    position = {key: i for i, key in enumerate(keys)}
    indexes = sorted({position[r] for r in routes if r in position})
    ranges = _ranges(indexes)
    bitmap = bytearray((len(keys) + 7) // 8)
    for i in indexes:
        bitmap[i // 8] |= 0x80 >> (i % 8)
    packed = BITMAP_PREFIX + base64.b64encode(bytes(bitmap)).decode()
    return packed if len(packed) < len(ranges) else ranges


def _ranges(indexes: list[int]) -> str:
    parts: list[str] = []
    start = previous = None
    for i in [*indexes, None]:
        if start is not None and (i is None or i != previous + 1):  # type: ignore[operator]
            parts.append(str(start) if start == previous else f"{start}-{previous}")
            start = None
        if i is not None and start is None:
            start = i
        previous = i
    return ",".join(parts)


def decode_indexes(text: str, route_keys: Sequence[str]) -> frozenset[str]:
    keys = sorted(route_keys)
    if text.startswith(BITMAP_PREFIX):
        try:
            bitmap = base64.b64decode(text[len(BITMAP_PREFIX):], validate=True)
        except ValueError:
            raise ModeDocumentError("pending routes: not a valid bitmap") from None
        if len(bitmap) != (len(keys) + 7) // 8:
            raise ModeDocumentError(f"pending routes: a bitmap of {len(bitmap)} bytes for {len(keys)} routes")
        return frozenset(key for i, key in enumerate(keys) if bitmap[i // 8] & (0x80 >> (i % 8)))
    found: set[str] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ModeDocumentError(f"pending routes: {part!r} is not an index or a range") from None
        if not 0 <= first <= last < len(keys):
            raise ModeDocumentError(f"pending routes: {part!r} is outside 0-{len(keys) - 1}")
        found.update(keys[first:last + 1])
    return frozenset(found)


@dataclass(frozen=True)
class PendingMark:
    """A change in flight (or interrupted): its writer marked these routes before writing the ledger."""

    writer: str
    at: str
    routes: frozenset[str]


@dataclass(frozen=True)
class ModeDocument:
    """A mode document (published in SSM, or the fallback), validated against the configuration."""

    version: int | None
    default: str = DEFAULT_MODE
    routes: Mapping[str, str] = field(default_factory=dict)
    source: str = "default"  # "ssm:<name>", "fallback"
    pending: tuple[PendingMark, ...] = ()
    unknown_routes: tuple[str, ...] = ()  # route keys the document names that the configuration does not have

    def mode_for(self, route_key: str | None) -> str:
        if route_key is None:
            return self.default
        return self.routes.get(route_key, self.default)

    @property
    def pending_routes(self) -> frozenset[str]:
        return frozenset().union(*(mark.routes for mark in self.pending))

    @classmethod
    def from_dict(cls, data: Any, *, source: str, route_keys: Sequence[str] | None = None) -> ModeDocument:
        """Either spelling (module docstring). ``route_keys`` (the configuration's) is needed for the compact one
        and to report unknown route keys; without it only the readable spelling is accepted."""
        if not isinstance(data, dict):
            raise ModeDocumentError("expected a JSON object")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ModeDocumentError(f"version: expected a whole number, got {version!r}")
        default = data.get("default", DEFAULT_MODE)
        if default not in MODES:
            raise ModeDocumentError(f"default: expected one of {MODES}, got {default!r}")
        if "modes" in data:
            routes = _compact_routes(data, route_keys)
        else:
            routes = data.get("routes", {})
            if not isinstance(routes, dict):
                raise ModeDocumentError("routes: expected an object of route key -> mode")
            for key, mode in routes.items():
                if mode not in MODES:
                    raise ModeDocumentError(f"routes[{key!r}]: expected one of {MODES}, got {mode!r}")
        pending = _pending(data.get("pending"), route_keys)
        known = set(route_keys) if route_keys is not None else None
        unknown = tuple(sorted(k for k in routes if known is not None and k not in known))
        return cls(version=version, default=default, routes=dict(routes), source=source, pending=pending,
                   unknown_routes=unknown)

    @classmethod
    def from_json(cls, text: Any, *, source: str, route_keys: Sequence[str] | None = None) -> ModeDocument:
        if not isinstance(text, str):
            raise ModeDocumentError(f"expected JSON text, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModeDocumentError(f"invalid JSON at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise ModeDocumentError("nested too deeply") from None
        return cls.from_dict(data, source=source, route_keys=route_keys)


def _compact_routes(data: dict[str, Any], route_keys: Sequence[str] | None) -> dict[str, str]:
    if route_keys is None:
        raise ModeDocumentError("a compact document (modes) needs the configuration's route keys to be read")
    index, text = data.get("index"), data.get("modes")
    if not isinstance(text, str) or not isinstance(index, str):
        raise ModeDocumentError("a compact document needs 'index' and 'modes' strings")
    if index != route_index(route_keys):
        raise ModeDocumentError(f"index {index} is not this configuration's ({route_index(route_keys)}): the "
                                "document was made for another authorizer-config.json")
    return decode_modes(text, route_keys)


def _pending(raw: Any, route_keys: Sequence[str] | None) -> tuple[PendingMark, ...]:
    if raw in (None, {}):
        return ()
    if not isinstance(raw, dict):
        raise ModeDocumentError("pending: expected an object of writer id -> {at, routes}")
    if route_keys is None:
        raise ModeDocumentError("pending routes need the configuration's route keys to be read")
    marks = []
    for writer, mark in sorted(raw.items()):
        if not isinstance(mark, dict) or not isinstance(mark.get("routes"), str):
            raise ModeDocumentError(f"pending[{writer!r}]: expected {{\"at\": ..., \"routes\": \"0-3,7\"}}")
        marks.append(PendingMark(writer=str(writer), at=str(mark.get("at") or ""),
                                 routes=decode_indexes(mark["routes"], route_keys)))
    return tuple(marks)


def compact_document(document: Mapping[str, Any], route_keys: Iterable[str],
                     pending: Iterable[PendingMark] = ()) -> dict[str, Any]:
    """The compact spelling of a readable document (and pending marks) for a configuration's route keys."""
    keys = sorted(route_keys)
    default = str(document.get("default") or DEFAULT_MODE)
    compact: dict[str, Any] = {"version": int(document["version"]), "index": route_index(keys),
                               "modes": encode_modes(dict(document.get("routes") or {}), keys, default)}
    marks = {mark.writer: {"at": mark.at, "routes": encode_indexes(mark.routes, keys)}
             for mark in pending if mark.routes & set(keys)}
    if marks:
        compact["pending"] = marks
    return compact


# Not frozen: built and dropped within one request, never cached nor shared (authorizer/__init__.py, cold start).
@dataclass
class EffectiveModes:
    """What decides each route right now (see the module docstring for the rule)."""

    base: ModeDocument | None  # the document in force: the published one or the fallback; None: neither usable
    pending: frozenset[str] = frozenset()

    def mode_for(self, route_key: str | None) -> str:
        if self.base is None or (route_key is not None and route_key in self.pending):
            return BOTH
        return self.base.mode_for(route_key)

    @property
    def version(self) -> int | None:
        return self.base.version if self.base is not None else None

    @property
    def source(self) -> str:
        if self.base is None:
            return "none"
        return self.base.source + ("+pending" if self.pending else "")


def fallback_document(env_text: str | None, route_keys: Sequence[str]) -> ModeDocument | None:
    """``AVP_AUTHZ_MODES``, or None when it is not set. Invalid text raises :class:`ModeDocumentError`."""
    if not env_text:
        return None
    return ModeDocument.from_json(env_text, source="fallback", route_keys=route_keys)


def ssm_fetcher(timeout_seconds: float = 0.5) -> Callable[[str, int], Any]:
    """``fetch(name, max_age)``: SSM GetParameter (``WithDecryption`` false: the document is a String parameter)
    through a botocore client built on the first read (authorizer/aws.py), with short timeouts and no retry: the
    read happens on a request (once per max age), so a slow SSM may cost that request about a second at worst; a
    failure is retried after a few seconds, and the fallback decides meanwhile. ``max_age`` is not used: this
    module caches.

    The same call Powertools' ``SSMProvider.get`` made (``get_parameter(Name=..., WithDecryption=False)`` and
    ``["Parameter"]["Value"]``), without importing Powertools, whose package ``__init__`` loads its Logger,
    Metrics and Tracer on the first request (see authorizer/lines.py)."""
    client: Any = None
    lock = threading.Lock()

    def fetch(name: str, max_age: int) -> Any:
        nonlocal client
        if client is None:
            with lock:
                if client is None:
                    from botocore.config import Config

                    from authorizer.aws import client as aws_client

                    client = aws_client("ssm", Config(
                        connect_timeout=timeout_seconds, read_timeout=timeout_seconds,
                        retries={"total_max_attempts": 1, "mode": "standard"}))
        return client.get_parameter(Name=name, WithDecryption=False)["Parameter"]["Value"]

    return fetch


class ModeSource:
    """The modes in force now (see the module docstring)."""

    def __init__(self, *, parameter: str | None, max_age: int, fallback: ModeDocument | None,
                 route_keys: Sequence[str] = (), fetch: Callable[[str, int], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, on_error: Callable[[str], None] | None = None) -> None:
        self.parameter = parameter
        self.max_age = max_age
        self.fallback = fallback
        # The fallback is the function's environment: fixed for the container's life, so its pending routes are
        # computed once here, not on every request.
        self._pending = fallback.pending_routes if fallback is not None else frozenset()
        self.route_keys = tuple(route_keys)
        self._fetch = fetch or ssm_fetcher()
        self._clock = clock
        self._on_error = on_error
        self._published: ModeDocument | None = None
        self._read_at: float | None = None  # when SSM last answered with a usable document
        self._next_read: float = float("-inf")
        self._raw: Any = None
        self._failing = False
        self._lock = threading.Lock()
        if fallback is not None and fallback.unknown_routes:
            self._report(f"the fallback mode document names route(s) this configuration does not have, ignored: "
                         f"{', '.join(fallback.unknown_routes)}")

    def current(self) -> EffectiveModes:
        published = self._current_published()
        fallback = self.fallback
        if published is not None and (fallback is None or (published.version or 0) >= (fallback.version or 0)):
            return EffectiveModes(published, self._pending)
        return EffectiveModes(fallback, self._pending)

    # --- the published document -------------------------------------------------------------------------------

    def _current_published(self) -> ModeDocument | None:
        if not self.parameter:
            return None
        with self._lock:
            now = self._clock()
            if now >= self._next_read:
                self._read(now)
            if self._read_at is None or now - self._read_at > self.max_age + STALE_GRACE_SECONDS:
                return None  # too old to trust: the fallback decides
            return self._published

    def _read(self, now: float) -> None:
        try:
            # max_age=0: no cache below this one (it would hide how old the value is); this class caches.
            raw = self._fetch(self.parameter or "", 0)
        except Exception as exc:  # botocore's ClientError, a connection error, or anything under it
            self._next_read = now + min(max(self.max_age, 1), RETRY_AFTER_FAILURE_SECONDS)
            self._fail(f"cannot read mode document ssm:{self.parameter}: {_cause(exc)}")
            return
        self._next_read = now + self.max_age
        if raw == self._raw and self._published is not None:
            self._read_at = now
            self._recovered()
            return
        self._raw = raw
        try:
            document = ModeDocument.from_json(raw, source=f"ssm:{self.parameter}", route_keys=self.route_keys)
        except ModeDocumentError as exc:
            self._published, self._read_at = None, None  # a bad document is not used, not even the last good one
            self._fail(f"invalid mode document ssm:{self.parameter} ({exc})")
            return
        if document.unknown_routes:
            self._report(f"mode document ssm:{self.parameter} version {document.version} names route(s) this "
                         f"configuration does not have, ignored: {', '.join(document.unknown_routes)}")
        self._published, self._read_at = document, now
        self._recovered()

    def _fail(self, message: str) -> None:
        if not self._failing:  # each outage is reported once, not once per request
            self._failing = True
            fallback = self.fallback
            then = (f"the fallback (version {fallback.version}) decides once the last document is "
                    f"{self.max_age + STALE_GRACE_SECONDS} s old" if fallback is not None else
                    "no fallback: routes are decided by the scope rule and Verified Permissions together")
            self._report(f"{message}; {then}")

    def _recovered(self) -> None:
        self._failing = False

    def _report(self, message: str) -> None:
        if self._on_error is not None:
            self._on_error(message)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__ or exc
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or type(cause).__name__)
    return type(cause).__name__
