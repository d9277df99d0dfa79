"""The in-Lambda decision cache: (token digest, route and action) -> verified token, scope decision, AVP answer.

Why: a client usually sends the same token many times within minutes; the cache skips the RS256 verification and
the AVP round trip for repeats. What keeps it safe:

* the key is the SHA-256 of the token (the token itself is never kept) and the Cedar action id, so an entry only
  answers the exact same token on the exact same route and verb;
* an entry expires at ``min(token exp, stored + ttl)``, compared with the same clock as the verification, so it
  never outlives the token; ``ttl`` also bounds how stale an AVP answer can be after a policy change;
* only definite AVP answers (ALLOW/DENY) are kept, never errors, so the next request retries AVP;
* the size is bounded (least recently used entries go first), so hostile traffic cannot grow memory.

API Gateway's own authorizer cache (``authorizerResultTtlInSeconds``) sits in front of this one; this one still
pays off when that cache is off or keyed more finely.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from authorizer.avp import AvpResult
from authorizer.tokens import VerifiedToken

CacheKey = tuple[bytes, str]


@dataclass(frozen=True)
class CacheEntry:
    """One cached decision: the verified token, the scope rule's verdict and AVP's answer, until expires_at."""

    token: VerifiedToken
    scope_allowed: bool
    avp: AvpResult | None
    expires_at: float


def cache_key(token: str, action_id: str) -> CacheKey:
    return hashlib.sha256(token.encode()).digest(), action_id


class DecisionCache:
    def __init__(self, *, max_entries: int, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[CacheKey, CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.ttl_seconds > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> CacheEntry | None:
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() >= entry.expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def entry(self, token: VerifiedToken, scope_allowed: bool, avp: AvpResult | None = None) -> CacheEntry:
        """A new entry for a token verified now: it expires at the token's exp or after the ttl, whichever
        comes first."""
        return CacheEntry(token, scope_allowed, avp, min(token.exp, self._clock() + self.ttl_seconds))

    def put(self, key: CacheKey, entry: CacheEntry) -> None:
        if not self.enabled or self._clock() >= entry.expires_at:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
