"""The shadow record: one per authorization decision, in every mode. Defined once here; ``reports/`` imports it.

The authorizer writes each record as one JSON log line in Powertools Logger's shape, under the key
:data:`LOG_KEY`::

    {"level": "INFO", "message": "authorization decision", "timestamp": "...", "service": "...",
     "shadow": {"record_version": 1, "time": "2026-11-26T10:00:00.123Z", "route": "GET /avp", ...}}

so Logs Insights can query ``shadow.agree`` and :meth:`ShadowRecord.from_log_line` can read the line back
exactly. What a record never holds: the token, or any claim beyond ``sub`` (inside ``principal``), the groups,
``client_id`` and ``token_use``. ``principal`` may be a ``sha256:`` digest (``AVP_AUTHZ_HASH_PRINCIPALS``).

Values:

* ``mode``: ``scope``, ``shadow``, ``avp``, or ``both`` (the route's mode could not be established: both rules
  decided, see :mod:`authorizer.modes`); ``modes_version``/``modes_source``: the mode document in force
  (``ssm:<name>``, ``fallback``, ``+pending`` when a change is in flight, ``none``).
* ``scope_decision``: ``ALLOW`` or ``DENY`` (what the Cognito authorizer would do; its DENY is a 401), null when
  no valid token reached a decision (then ``token_error`` says why: ``expired``, ``bad_signature``...).
* ``avp_decision``: ``ALLOW``, ``DENY`` or null (not asked, or failed: ``avp_error`` names the failure, e.g.
  ``Timeout``, ``ThrottlingException``). ``avp_cached``: the AVP answer came from the in-Lambda decision cache
  (then ``avp_latency_ms`` is that of the original call).
* ``avp_evaluation_errors``: AVP's ``errors[].errorDescription`` for the answer recorded (policies that failed
  to evaluate and were skipped; the decision stands without them), redacted, principal hashed when principals
  are; at most five. Absent from lines written before it existed, which read back as an empty list.
* ``agree``: ``scope_decision == avp_decision`` when both exist, else null.
* ``enforced``: what the caller got: ``ALLOW``, ``DENY`` (403) or ``UNAUTHORIZED`` (401);
  ``decision_source``: ``scope``, ``avp``, ``both``, ``avp_error`` (AVP failed in avp or both mode: denied),
  ``config`` (the request cannot be matched to the configuration: denied) or ``error`` (a bug in the authorizer:
  denied, and logged); ``reason``: a short code for a refusal that is not the policies' (``unknown_route``,
  ``api_mismatch``, ``stage_mismatch``, ``unknown_verb``, ``bad_method_arn``, ``wildcard_method_arn``, or the
  exception type).
* ``token_error`` codes (:mod:`authorizer.tokens`): ``missing``, ``ambiguous``, ``too_large``, ``malformed``,
  ``algorithm_not_allowed``, ``wrong_issuer``, ``unknown_kid``, ``jwks_unavailable``, ``bad_signature``,
  ``expired``, ``not_yet_valid``, ``missing_claim``, ``wrong_token_use``, ``wrong_client``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

RECORD_VERSION = 1
LOG_KEY = "shadow"
LOG_MESSAGE = "authorization decision"


class ShadowRecordError(ValueError):
    """A record (or log line) that is not a shadow record of this version."""


# API Gateway's TestInvokeAuthorizer (deploy's smoke test) calls the function with this requestContext.stage; its
# decisions are records like any other, but they are not traffic, so the shadow report leaves them out.
TEST_INVOKE_STAGE = "test-invoke-stage"

# Not frozen: built and dropped within one request, never cached nor shared (authorizer/__init__.py, cold start).
@dataclass
class ShadowRecord:
    """One authorization decision, as logged (see the module docstring for the values)."""

    time: str
    request_id: str | None
    api_id: str | None
    stage: str | None
    route: str | None
    action_id: str | None
    mode: str
    modes_version: int | None
    modes_source: str
    principal: str | None
    groups: tuple[str, ...] = ()
    client_id: str | None = None
    token_use: str | None = None
    client_credentials: bool = False
    token_error: str | None = None
    scope_decision: str | None = None
    avp_decision: str | None = None
    agree: bool | None = None
    determining_policies: tuple[str, ...] = ()
    avp_error: str | None = None
    avp_latency_ms: float | None = None
    avp_cached: bool = False
    enforced: str = "UNAUTHORIZED"
    decision_source: str = "scope"
    reason: str | None = None
    policy_store_id: str | None = None
    authorizer_version: str = ""
    # Added after record_version 1 was first written: optional, so older lines still read (as ``()``).
    avp_evaluation_errors: tuple[str, ...] = ()
    record_version: int = field(default=RECORD_VERSION)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, and this runs once per request.
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        data["groups"] = list(self.groups)
        data["determining_policies"] = list(self.determining_policies)
        data["avp_evaluation_errors"] = list(self.avp_evaluation_errors)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> ShadowRecord:
        if not isinstance(data, dict):
            raise ShadowRecordError("a shadow record is a JSON object")
        if data.get("record_version") != RECORD_VERSION:
            raise ShadowRecordError(f"record_version: expected {RECORD_VERSION}, got {data.get('record_version')!r}")
        unknown = set(data) - set(_FIELD_NAMES)
        if unknown:
            raise ShadowRecordError(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        for name in ("groups", "determining_policies", "avp_evaluation_errors"):
            if not isinstance(values.get(name, []), list):
                raise ShadowRecordError(f"{name}: expected a list")
            values[name] = tuple(values.get(name, []))
        try:
            return cls(**values)
        except TypeError as exc:
            raise ShadowRecordError(str(exc)) from None

    @classmethod
    def from_json(cls, text: str) -> ShadowRecord:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_log_line(cls, line: str) -> ShadowRecord | None:
        """The record in one log line the authorizer wrote, or None when the line holds no shadow record."""
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return None
        if not isinstance(data, dict) or LOG_KEY not in data:
            return None
        return cls.from_dict(data[LOG_KEY])


_FIELD_NAMES = tuple(f.name for f in fields(ShadowRecord))


def hash_principal(principal: str | None) -> str | None:
    """A stable pseudonym: the same user maps to the same value across records and functions."""
    if principal is None:
        return None
    return "sha256:" + hashlib.sha256(principal.encode()).hexdigest()
