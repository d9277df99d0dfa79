"""The mode state's third copy: the authorizer function's fallback, its environment variable ``AVP_AUTHZ_MODES``.

Why it exists and why it is safe is argued in ``authorizer/README.md`` ("Mode state"); how the authorizer reads
it, in :mod:`authorizer.modes`. Here: how ``avp-migrate`` keeps it in step with the ledger.

**Every change to the ledger is bracketed** (:mod:`migrate.cutover.commit`):

1. *mark*: before the ledger write, the routes whose decision rule changes (any move into or out of ``avp``)
   are added to the fallback's ``pending`` marks under this writer's id;
2. the ledger write (conditional, :mod:`migrate.cutover.ledger`) and the SSM publication;
3. *settle*: the fallback becomes the ledger's newest document, without this writer's marks (other writers'
   marks are kept: their changes may still be in flight). Step 3 runs even when step 2 failed.

Each update of the function is conditional on the RevisionId read just before (UpdateFunctionConfiguration
``RevisionId``: "Update the function only if the revision ID matches the ID that's specified", else
PreconditionFailedException; Lambda API reference), and re-read and recomputed when another writer got there
first. In *settle*, the function is read before the ledger, so any ledger write that the settle does not see was
preceded by a mark that the settle either saw (and kept) or that made its conditional update fail.

Invariant: for every route, the fallback's mode equals the ledger's newest mode, or the route is pending (decided
by both rules). A crash, a Ctrl-C or a failed call between the steps leaves marks behind: safe, reported by
``status``, cleared by ``status --repair`` once older than :data:`STALE_PENDING`.

UpdateFunctionConfiguration replaces the whole environment, so the other variables are read and written back
as they were. Lambda allows 4,096 bytes of environment in all, measured as the variables' JSON
(:mod:`migrate.cutover.limits`); the compact document (one letter per route, compressed when that is shorter)
keeps 1,200 routes well inside it.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from authorizer.modes import ModeDocument, ModeDocumentError, PendingMark, compact_document, route_index
from authorizer.settings import ENV_MODES
from migrate.cutover.evidence import parse_time
from migrate.cutover.ledger import Entry
from migrate.cutover.limits import LAMBDA_ENVIRONMENT_BYTES, check_lambda_environment, lambda_environment_size
from migrate.errors import UserError

ENV_LIMIT_BYTES = LAMBDA_ENVIRONMENT_BYTES  # all variables together, as Lambda measures them (limits module)
MAX_ATTEMPTS = 10
STALE_PENDING = timedelta(minutes=15)  # a change's three steps take seconds; older marks belong to dead writers


def new_writer_id() -> str:
    return uuid.uuid4().hex[:12]


def fallback_text(document: dict[str, Any], route_keys: Iterable[str], pending: Iterable[PendingMark] = ()) -> str:
    """The value of ``AVP_AUTHZ_MODES`` for a readable ledger document (and the pending marks to keep)."""
    return json.dumps(compact_document(document, route_keys, pending), sort_keys=True, separators=(",", ":"))


def environment_size(variables: dict[str, str]) -> int:
    """As Lambda counts it: the variables as JSON, quotes, commas and brackets included."""
    return lambda_environment_size(variables)


@dataclass(frozen=True)
class FallbackState:
    """The function's fallback as read now."""

    revision_id: str | None
    variables: dict[str, str]
    document: ModeDocument | None  # None: not set, or not readable (``problem`` says why)
    problem: str | None = None

    @property
    def version(self) -> int | None:
        return self.document.version if self.document is not None else None

    @property
    def pending(self) -> tuple[PendingMark, ...]:
        return self.document.pending if self.document is not None else ()

    def mode_of(self, route: str) -> str | None:
        return self.document.mode_for(route) if self.document is not None else None


class FunctionFallback:
    """The fallback of one authorizer function, for the routes of the configuration it runs."""

    def __init__(self, client: Any, function_name: str, route_keys: Sequence[str], *,
                 sleep: Callable[[float], None] = time.sleep, jitter: Callable[[], float] = random.random,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.function_name = function_name
        self.route_keys = tuple(sorted(route_keys))
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self.conflicts = 0  # conditional updates lost to another writer

    @property
    def where(self) -> str:
        return f"lambda:{self.function_name} {ENV_MODES}"

    def read(self) -> FallbackState:
        config = self.client.get_function_configuration(FunctionName=self.function_name)
        variables = dict((config.get("Environment") or {}).get("Variables") or {})
        text = variables.get(ENV_MODES)
        revision = config.get("RevisionId")
        if not text:
            return FallbackState(revision, variables, None, "not set")
        try:
            document = ModeDocument.from_json(text, source="fallback", route_keys=self.route_keys)
        except ModeDocumentError as exc:
            index = _index_of(text)
            if index is not None and index != route_index(self.route_keys):
                raise UserError(f"the function runs another authorizer-config.json (route index {index}) than the "
                                f"plan folder's ({route_index(self.route_keys)}): run `avp-migrate deploy` with this "
                                "plan first, or use the plan folder that was deployed", where=self.where) from None
            return FallbackState(revision, variables, None, str(exc))
        return FallbackState(revision, variables, document)

    def mark_pending(self, writer: str, routes: Iterable[str], at: str) -> FallbackState:
        """Step 1: add ``routes`` to the pending marks under ``writer`` (the current document stays as it is)."""
        wanted = frozenset(routes) & set(self.route_keys)

        def compute(state: FallbackState) -> str | None:
            if not wanted:
                return None
            base = _readable(state.document) if state.document is not None else None
            if base is None:
                # No readable fallback: the authorizer already decides by both rules whenever SSM cannot be read.
                # Write one anyway, every route pending, so a half-finished change can never be read as settled.
                base = {"version": 0, "default": "scope", "routes": {}}
                marks = (PendingMark(writer, at, frozenset(self.route_keys)),)
            else:
                marks = (*[m for m in state.pending if m.writer != writer], PendingMark(writer, at, wanted))
            return fallback_text(base, self.route_keys, marks)

        return self._update(compute)

    def settle(self, newest: Callable[[], Entry], *, writer: str | None = None,
               clear_stale: bool = False) -> FallbackState:
        """Step 3: the ledger's newest document, keeping other writers' marks (all but ``writer``'s; with
        ``clear_stale``, also dropping marks older than :data:`STALE_PENDING`)."""
        cutoff = self._clock() - STALE_PENDING

        def compute(state: FallbackState) -> str | None:
            entry = newest()  # read after the function (see the module docstring)
            keep = [m for m in state.pending if m.writer != writer and not (clear_stale and older_than(m, cutoff))]
            document = {**entry.document, "version": entry.version}
            text = fallback_text(document, self.route_keys, keep)
            return None if state.variables.get(ENV_MODES) == text else text

        return self._update(compute)

    def _update(self, compute: Callable[[FallbackState], str | None]) -> FallbackState:
        for attempt in range(MAX_ATTEMPTS):
            state = self.read()
            text = compute(state)
            if text is None:
                return state
            variables = {**state.variables, ENV_MODES: text}
            check_lambda_environment(variables, where=self.where, why=f"the fallback is {len(text)} bytes")
            try:
                kwargs = {"RevisionId": state.revision_id} if state.revision_id else {}
                self.client.update_function_configuration(FunctionName=self.function_name,
                                                          Environment={"Variables": variables}, **kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "PreconditionFailedException":  # another writer updated the function first
                    self.conflicts += 1
                    self._sleep(self._jitter() * min(2.0, 0.05 * 2 ** attempt))
                    continue
                if code == "ResourceConflictException":  # an update is still in progress: wait for it
                    self._wait()
                    continue
                raise
            self._wait()
            return self.read()
        raise UserError(f"the function kept changing under us ({MAX_ATTEMPTS} conditional updates lost to other "
                        "writers)", where=self.where)

    def _wait(self) -> None:
        # After an update the function is InProgress until Successful; only then is it "processing events with the
        # new configuration" (Lambda API reference, UpdateFunctionConfiguration; "Lambda function states").
        self.client.get_waiter("function_updated_v2").wait(FunctionName=self.function_name,
                                                           WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def _readable(document: ModeDocument) -> dict[str, Any]:
    return {"version": document.version or 0, "default": document.default, "routes": dict(document.routes)}


def older_than(mark: PendingMark, cutoff: datetime) -> bool:
    try:
        at = parse_time(mark.at, where="pending mark")
    except UserError:
        return True  # an unreadable time is no reason to keep a mark forever
    return at < cutoff


def _index_of(text: str) -> str | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    index = data.get("index") if isinstance(data, dict) else None
    return index if isinstance(index, str) else None
