"""The mode ledger: an append-only DynamoDB log of mode documents, written with optimistic concurrency.

See :mod:`migrate.cutover` for the design. Only three DynamoDB operations are used:

* Query ``pk = :pk`` with ``ScanIndexForward=False, Limit=1`` for the newest item (items of one partition are
  returned in sort-key order; false reverses it: DynamoDB API reference, Query ``ScanIndexForward``), with
  ``ConsistentRead=True`` so a write that succeeded before the read is always seen (DynamoDB developer guide,
  "Read consistency": strongly consistent reads reflect all prior successful writes).
* Query of the whole partition (paginated) for the history.
* PutItem with ``ConditionExpression="attribute_not_exists(version)"``: fails with
  ``ConditionalCheckFailedException`` when that version exists already, so each version is written once.

**Item size.** DynamoDB refuses an item over 400 KB, attribute names included (:mod:`migrate.cutover.limits`).
Readable, one version of 1,200 routes of 100+ characters is 0.5 to 0.8 MB (the document lists every route;
``routes``, ``from``, ``to`` and a cut-over's evidence list the moved ones again). So an item that would exceed
:data:`PACK_ABOVE_BYTES` keeps ``pk``, ``version``, ``at``, ``who``, ``action`` and ``reason`` as readable
attributes, adds ``route_count`` (N) and ``packing`` (``"zlib+json"``), and holds ``document``, ``routes``,
``from``, ``to``, ``evidence`` and ``details`` in one Binary attribute ``packed``: the zlib-compressed JSON object of
those attributes, with the same names and values as the readable item. Every reader (``status``, ``rollback``,
``cutover``, ``finalize``, ``undeploy``, ``deploy``) reads both forms through :func:`entry_from_item`. Repeated
path prefixes compress about 40 to 1: measured for 1,200 routes of 118 characters, deploy's version 1 is 602,614
bytes readable (refused by DynamoDB) and 14,388 packed; a cut-over of all 1,200 with its evidence 815,159 and
18,760 (``tests/test_deploy_fit.py`` holds each version under 25,000).
"""

from __future__ import annotations

import base64
import json
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from authorizer.modes import ModeDocument, ModeDocumentError
from migrate.cutover.limits import check_dynamodb_item, dynamodb_item_size
from migrate.errors import UserError

MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 2.0
ACTIONS = ("deploy", "cutover", "rollback", "force", "finalize")
# An item larger than this keeps its bulky attributes packed (module docstring). 64 KB is a few hundred long routes:
# past that the readable item is no longer read by eye anyway, and packing keeps every version a few KB, so
# `status` (which reads the whole history) reads kilobytes, not megabytes, and no version nears the 400 KB limit.
PACK_ABOVE_BYTES = 64 * 1024
PACKED_FIELDS = ("document", "routes", "from", "to", "evidence", "details")
PACKING = "zlib+json"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Entry:
    """One ledger item."""

    version: int
    document: dict[str, Any]
    at: str = ""
    who: str = ""
    action: str = ""
    routes: tuple[str, ...] = ()
    before: dict[str, str] = field(default_factory=dict)  # the item's "from"
    after: dict[str, str] = field(default_factory=dict)  # the item's "to"
    evidence: dict[str, Any] | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None  # what finalize changed on the API

    def mode_of(self, route: str) -> str:
        return mode_of(self.document, route)

    @property
    def document_text(self) -> str:
        return document_text(self.document)


@dataclass(frozen=True)
class Proposal:
    """What one change writes, apart from the version and the stamp (at, who) the ledger adds."""

    action: str
    document: dict[str, Any]  # without "version": the ledger sets it
    routes: tuple[str, ...] = ()
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] | None = None
    reason: str | None = None
    details: dict[str, Any] | None = None


def mode_of(document: dict[str, Any], route: str) -> str:
    """A route's mode in a document, as the authorizer reads it (listed, else the default, else scope)."""
    routes = document.get("routes") or {}
    return str(routes.get(route, document.get("default", "scope")))


def document_text(document: dict[str, Any]) -> str:
    """The JSON we store and publish: compact and key-sorted, so the same document is always the same text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def validate_document(document: dict[str, Any], *, where: str) -> None:
    """Refuse to write a document the authorizer would reject (it would keep the last good one, silently)."""
    try:
        ModeDocument.from_dict(document, source=where)
    except ModeDocumentError as exc:
        raise UserError(f"invalid mode document: {exc}", where=where) from None


class Ledger:
    """The ledger partition of one API stage."""

    def __init__(self, client: Any, table: str, pk: str, *, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random, attempts: int = MAX_ATTEMPTS) -> None:
        self.client = client
        self.table = table
        self.pk = pk
        self._sleep = sleep
        self._jitter = jitter
        self._attempts = attempts
        self.conflicts = 0  # conditional writes lost to another writer, over this object's life

    @property
    def where(self) -> str:
        return f"dynamodb:{self.table}/{self.pk}"

    def latest(self) -> Entry | None:
        response = self.client.query(
            TableName=self.table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": self.pk}},
            ScanIndexForward=False, Limit=1, ConsistentRead=True)
        items = response.get("Items") or []
        return self._entry(items[0]) if items else None

    def require_latest(self) -> Entry:
        entry = self.latest()
        if entry is None:
            raise UserError("the mode ledger has no entry for this API stage: run `avp-migrate deploy` first",
                            where=self.where)
        return entry

    def history(self) -> list[Entry]:
        """Every entry, oldest first."""
        entries: list[Entry] = []
        params: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": {"S": self.pk}}, "ConsistentRead": True}
        while True:
            response = self.client.query(**params)
            entries += [self._entry(item) for item in response.get("Items") or []]
            if not response.get("LastEvaluatedKey"):
                return entries
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def append(self, propose: Callable[[Entry], Proposal | None], *, at: Callable[[], str],
               who: str) -> Entry | None:
        """Write ``propose(newest)`` as the next version; None when ``propose`` finds nothing to change.

        ``propose`` runs again on the newest entry after every lost race, so it must decide from the entry it is
        given (and raise a UserError to refuse). After :data:`MAX_ATTEMPTS` lost races nothing is written.
        """
        for attempt in range(self._attempts):
            newest = self.require_latest()
            proposal = propose(newest)
            if proposal is None:
                return None
            document = {**proposal.document, "version": newest.version + 1}
            validate_document(document, where=self.where)
            entry = Entry(version=newest.version + 1, document=document, at=at(), who=who, action=proposal.action,
                          routes=proposal.routes, before=proposal.before, after=proposal.after,
                          evidence=proposal.evidence, reason=proposal.reason, details=proposal.details)
            try:
                self.client.put_item(TableName=self.table, Item=self._item(entry),
                                     ConditionExpression="attribute_not_exists(version)")
                return entry
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
            self.conflicts += 1
            # Exponential back-off with full jitter: writers that collided spread out instead of colliding again.
            self._sleep(self._jitter() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** attempt))
        raise UserError(f"the mode ledger kept changing under us ({self._attempts} attempts lost to other "
                        "writers): nothing was written; run the command again", where=self.where)

    # --- items ------------------------------------------------------------------------------------------------

    def _item(self, entry: Entry) -> dict[str, Any]:
        return ledger_item(self.pk, entry, where=self.where)

    def _entry(self, item: dict[str, Any]) -> Entry:
        return entry_from_item(item, where=self.where)


def ledger_item(pk: str, entry: Entry, *, where: str) -> dict[str, Any]:
    """The DynamoDB item of ``entry``: readable attributes while it is at most :data:`PACK_ABOVE_BYTES`, else packed
    (module docstring); refused (UserError) when even the packed item exceeds DynamoDB's 400 KB. Deploy and every
    later change write through here, so the size each would send is known before anything is written."""
    data: dict[str, Any] = {
        "pk": pk, "version": entry.version, "document": entry.document_text, "at": entry.at,
        "who": entry.who, "action": entry.action, "routes": list(entry.routes),
        "from": dict(entry.before), "to": dict(entry.after),
    }
    if entry.evidence is not None:
        data["evidence"] = entry.evidence
    if entry.reason:
        data["reason"] = entry.reason
    if entry.details is not None:
        data["details"] = entry.details
    item = {key: _serializer.serialize(_plain(value)) for key, value in data.items()}
    if dynamodb_item_size(item) <= PACK_ABOVE_BYTES:
        return item
    bulky = {key: data.pop(key) for key in PACKED_FIELDS if key in data}
    packed = zlib.compress(json.dumps(bulky, sort_keys=True, separators=(",", ":")).encode(), 9)
    item = {key: _serializer.serialize(_plain(value)) for key, value in data.items()}
    item["packed"] = {"B": packed}
    item["packing"] = {"S": PACKING}
    item["route_count"] = {"N": str(len(entry.routes))}
    check_dynamodb_item(item, where=where, what=f"ledger version {entry.version}")
    return item


def entry_from_item(item: dict[str, Any], *, where: str) -> Entry:
    data = {key: _from_dynamo(_deserializer.deserialize(value)) for key, value in item.items()
            if key != "packed"}
    version = data.get("version")
    if not isinstance(version, int):
        raise UserError(f"ledger item without a whole-number version: {version!r}", where=where)
    where = f"{where} version {version}"
    if "packed" in item:
        if data.get("packing") != PACKING:
            raise UserError(f"a packed ledger item in an unknown packing {data.get('packing')!r} (this avp-migrate "
                            f"reads {PACKING})", where=where)
        raw = item["packed"].get("B")
        try:
            bulky = json.loads(zlib.decompress(raw if isinstance(raw, bytes) else base64.b64decode(raw)))
        except (TypeError, ValueError, zlib.error):
            raise UserError("the ledger item's packed attributes cannot be read", where=where) from None
        if not isinstance(bulky, dict):
            raise UserError("the ledger item's packed attributes are not a JSON object", where=where)
        data.update(bulky)
    try:
        document = json.loads(data.get("document") or "")
    except (TypeError, json.JSONDecodeError):
        raise UserError("the ledger item's document is not JSON", where=where) from None
    if not isinstance(document, dict):
        raise UserError("the ledger item's document is not a JSON object", where=where)
    return Entry(version=version, document=document, at=str(data.get("at") or ""), who=str(data.get("who") or ""),
                 action=str(data.get("action") or ""), routes=tuple(data.get("routes") or ()),
                 before=dict(data.get("from") or {}), after=dict(data.get("to") or {}),
                 evidence=data.get("evidence"), reason=data.get("reason"), details=data.get("details"))


def _plain(value: Any) -> Any:
    """JSON-like data for DynamoDB: floats become Decimal (boto3's serializer refuses float), None stays NULL."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    """boto3 gives numbers as Decimal and string sets as set: turn them back into JSON-like values."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_dynamo(v) for v in value)
    return value
