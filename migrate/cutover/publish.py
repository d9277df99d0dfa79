"""Publishing the ledger's newest mode document to the SSM parameter the authorizer reads.

SSM PutParameter with ``Overwrite=True`` replaces the value unconditionally (there is no "only if the version is
still N" option), so SSM cannot arbitrate between writers; the ledger does, and this module only makes SSM
converge to the ledger's newest version: put, re-read the ledger, put again if something newer was committed.
Parameter Store keeps the 100 most recent versions of a parameter and deletes the oldest on the next put, unless
that one carries a label (then PutParameter fails with ParameterMaxVersionLimitExceeded: botocore SSM exceptions);
we never label versions, and the ledger, not SSM's history, is the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from authorizer.modes import ModeDocument, ModeDocumentError, compact_document
from migrate.cutover.ledger import Entry, Ledger, document_text, mode_of
from migrate.cutover.limits import SSM_STANDARD_BYTES, ssm_tier

# A Standard parameter holds at most 4 KB, an Advanced one 8 KB (SSM user guide, "Managing parameter tiers").
# About 40 long routes fit in 4 KB as readable JSON; past that the compact spelling (authorizer.modes: one letter
# per route of the configuration) is published instead, which keeps 1,200 routes in a Standard parameter.
STANDARD_TIER_BYTES = SSM_STANDARD_BYTES
MAX_PUBLISH_ROUNDS = 10


@dataclass(frozen=True)
class Published:
    """What the parameter holds now."""

    exists: bool
    text: str | None = None
    document: dict[str, Any] | None = None
    problem: str | None = None  # why the value is not a mode document

    @property
    def version(self) -> int | None:
        value = (self.document or {}).get("version")
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def published_text(document: dict[str, Any], route_keys: Sequence[str]) -> str:
    """What the parameter holds for a (readable) ledger document: the readable spelling when it fits a Standard
    parameter, else the compact one."""
    text = document_text(document)
    if len(text.encode()) <= STANDARD_TIER_BYTES or not route_keys:
        return text
    return document_text(compact_document(document, route_keys))


class ModeParameter:
    def __init__(self, client: Any, name: str, route_keys: Sequence[str] = ()) -> None:
        self.client = client
        self.name = name
        self.route_keys = tuple(route_keys)

    @property
    def where(self) -> str:
        return f"ssm:{self.name}"

    def read(self) -> Published:
        try:
            value = self.client.get_parameter(Name=self.name)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                return Published(exists=False, problem="the parameter does not exist")
            raise
        try:
            document = json.loads(value)
        except json.JSONDecodeError as exc:
            return Published(exists=True, text=value, problem=f"not JSON (line {exc.lineno} column {exc.colno})")
        if not isinstance(document, dict):
            return Published(exists=True, text=value, problem="not a JSON object")
        if "modes" in document:  # the compact spelling: read it back as the readable one, to compare
            try:
                parsed = ModeDocument.from_dict(document, source=self.where, route_keys=self.route_keys or None)
            except ModeDocumentError as exc:
                return Published(exists=True, text=value, problem=str(exc))
            document = {"version": parsed.version, "default": parsed.default, "routes": dict(parsed.routes)}
        return Published(exists=True, text=value, document=document)

    def write(self, entry: Entry) -> None:
        text = published_text(entry.document, self.route_keys)
        tier = ssm_tier(text, where=self.where)
        extra = {"Tier": tier} if tier != "Standard" else {}
        self.client.put_parameter(Name=self.name, Value=text, Type="String", Overwrite=True, **extra)


def publish(ledger: Ledger, parameter: ModeParameter, entry: Entry) -> Entry:
    """Put ``entry``'s document, then keep putting the ledger's newest until it is what we put last.

    Returns the entry left in SSM. Bounded: if writers keep committing for :data:`MAX_PUBLISH_ROUNDS` rounds, the
    last of them publishes after us anyway (each writer publishes after its own commit).
    """
    current = entry
    for _ in range(MAX_PUBLISH_ROUNDS):
        parameter.write(current)
        newest = ledger.require_latest()
        if newest.version <= current.version:
            return current
        current = newest
    return current


def in_sync(published: Published, newest: Entry) -> bool:
    """SSM holds exactly the ledger's newest document (same content, not only the same version number; a
    compact document is compared route by route)."""
    if published.document is None:
        return False
    if published.document == newest.document:
        return True
    return (published.version == newest.version
            and all(mode_of(published.document, r) == newest.mode_of(r) for r in _routes(published, newest)))


def _routes(published: Published, newest: Entry) -> set[str]:
    return set((published.document or {}).get("routes") or {}) | set(newest.document.get("routes") or {})
