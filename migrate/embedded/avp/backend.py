"""What every operation shares: the state, its lock, the clock, idempotency and paging."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from migrate.embedded.avp.errors import POLICY_STORE, conflict, not_found, validation_error
from migrate.embedded.avp.store import IdempotencyCache, PolicyStoreRecord, State
from migrate.embedded.avp.tokens import JwksLookup, KeySets

T = TypeVar("T")

# ListPolicyStores / ListPolicies / ListIdentitySources: "defaults to 10 ... per response. You can specify a
# maximum of 50" (botocore model). A larger maxResults is served as 50 ("the service might return fewer
# results than the maximum", same page); whether AWS rejects it instead is UNCONFIRMED.
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


@dataclass
class Backend:
    jwks_for_issuer: JwksLookup
    user_pool_exists: Callable[[str], bool] | None
    clock: Callable[[], float]
    account_id: str
    state: State = field(default_factory=State)
    lock: threading.RLock = field(default_factory=threading.RLock)
    idempotency: IdempotencyCache = field(init=False)
    key_sets: KeySets = field(init=False)

    def __post_init__(self) -> None:
        # Late-bound so that replacing ``clock`` on the service (tests do) is seen everywhere.
        self.idempotency = IdempotencyCache(clock=lambda: self.clock())
        self.key_sets = KeySets(lookup=lambda issuer: self.jwks_for_issuer(issuer))

    def now(self) -> float:
        return self.clock()

    def reset(self) -> None:
        with self.lock:
            self.state = State()
            self.idempotency.entries.clear()

    def store(self, policy_store_id: str) -> PolicyStoreRecord:
        found = self.state.stores.get(policy_store_id)
        if found is None:
            raise not_found(POLICY_STORE, policy_store_id, "policy store")
        return found

    # --- ClientToken ----------------------------------------------------------------------------------------

    def replay(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first answer for a retried ClientToken; ConflictException when the parameters differ.

        "If you retry the operation with the same ClientToken, but with different parameters, the retry fails
        with an ConflictException error" (botocore model, CreatePolicyStoreInput.clientToken).
        """
        token = params.get("clientToken")
        entry = self.idempotency.lookup(operation, token)
        if entry is None:
            return None
        if entry.fingerprint != self.idempotency.fingerprint(params):
            raise conflict(f"The clientToken {token!r} was already used with different parameters.",
                           [entry.resource])
        return entry.result

    def remember(self, operation: str, params: dict[str, Any], result: dict[str, Any],
                 resource: tuple[str, str]) -> None:
        self.idempotency.remember(operation, params.get("clientToken"), params, result, resource)


# --- paging -------------------------------------------------------------------------------------------------


def page(items: Sequence[T], params: dict[str, Any], scope: str) -> tuple[list[T], str | None]:
    """One page of ``items`` and the nextToken for the rest (opaque: an offset bound to the listing)."""
    size = min(int(params.get("maxResults") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    start = 0
    token = params.get("nextToken")
    if token:
        start = _read_token(token, scope)
    end = start + size
    next_token = _write_token(end, scope) if end < len(items) else None
    return list(items[start:end]), next_token


def _write_token(offset: int, scope: str) -> str:
    # Not base64 of a JSON object: botocore's paginators take such a token for one of their own resume tokens.
    return base64.urlsafe_b64encode(f"{scope}|{offset}".encode()).decode()


def _read_token(token: str, scope: str) -> int:
    try:
        token_scope, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition("|")
        if token_scope == scope and offset.isdigit():
            return int(offset)
    except (binascii.Error, ValueError):
        pass
    raise validation_error("The nextToken is not valid for this request.", path="nextToken")
