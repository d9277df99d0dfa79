"""One authorization decision, from a REQUEST event to an IAM policy (or 401), in the route's mode.

Order of work for a request (each step's refusal is final):

1. The event: no parseable ``methodArn`` -> 401 (there is nothing a policy could name). A ``methodArn`` of another
   API than the configuration's, of a stage the configuration does not name (``api.stage``/``api.stages``; a
   configuration without a stage accepts any), a route not in the configuration, or a verb the route does not
   serve -> Deny (``decision_source`` ``config``), logged: an authorizer must not guess which rules apply.
2. The token (:mod:`authorizer.tokens`): missing, malformed or invalid in any way -> 401 in every mode, and AVP is
   not asked. A repeat of the same token on the same action is answered from :mod:`authorizer.cache`.
3. The decision, by mode (from :mod:`authorizer.modes`):

   * ``scope``: the Cognito authorizer's rule (:mod:`authorizer.scope`): Allow, or 401.
   * ``shadow``: exactly the scope decision is enforced; AVP is asked too, under its timeout, and its answer (or
     failure) only goes into the shadow record.
   * ``avp``: AVP's ALLOW -> Allow, DENY -> Deny (403); an AVP failure or timeout -> Deny, logged (fail closed).
   * ``both`` (never set by an operator: the mode of a route whose mode cannot be established, see
     :mod:`authorizer.modes`): the scope rule's refusal -> 401; otherwise AVP's ALLOW -> Allow, DENY or a failure
     -> Deny. Whatever the route's real mode is, nothing is allowed that it would deny.
     The scope decision is still computed (no network) so the record shows both.

4. The answer: principalId ``<poolId>|<sub>`` (the client id for client-credentials tokens), a policy for exactly
   the method ARN (:mod:`authorizer.policy`), a flat context. An Allow is never given for a method ARN holding IAM
   wildcards (Deny, reason ``wildcard_method_arn``).
5. One shadow record and one metrics object per request (:mod:`authorizer.telemetry`), 401s included.

An unexpected exception anywhere is logged (redacted) and answered with Deny (or 401 without a method ARN): an
authorizer bug must fail closed, not open and not as an opaque 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from authorizer import __version__
from authorizer.avp import AvpClient, AvpResult, RouteResource
from authorizer.cache import CacheEntry, DecisionCache, cache_key
from authorizer.config import AuthorizerConfig, RouteConfig
from authorizer.modes import BOTH, ModeSource
from authorizer.policy import ALLOW, DENY, MethodArn, response
from authorizer.request import AuthorizerRequest
from authorizer.routes import route_candidates, route_key
from authorizer.scope import scope_allows
from authorizer.shadow import ShadowRecord, hash_principal
from authorizer.telemetry import Telemetry, redact
from authorizer.tokens import TokenError, TokenVerifier, VerifiedToken, bearer_token

MAX_EVALUATION_ERROR = 300  # characters of one AVP evaluation error kept in the record
TEST_INVOKE_STAGE = "ESTestInvoke-stage"  # the method ARN's stage in a TestInvokeAuthorizer call
UNAUTHORIZED = "Unauthorized"  # the exact message API Gateway turns into 401
ENFORCED_ALLOW, ENFORCED_DENY, ENFORCED_UNAUTHORIZED = "ALLOW", "DENY", "UNAUTHORIZED"


@dataclass
class _Outcome:
    """A decision as made: the shadow record to write and the answer (None: 401)."""

    record: ShadowRecord
    answer: dict[str, Any] | None  # None: 401


class Authorizer:
    def __init__(self, *, config: AuthorizerConfig, verifier: TokenVerifier, modes: ModeSource, avp: AvpClient,
                 cache: DecisionCache, telemetry: Telemetry, hash_principals: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.verifier = verifier
        self.modes = modes
        self.avp = avp
        self.cache = cache
        self.telemetry = telemetry
        self.hash_principals = hash_principals
        self._clock = clock

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        request = AuthorizerRequest.from_event(event)
        try:
            outcome = self._decide(request)
        except Exception as exc:
            outcome = self._failure(request, exc)
        self.telemetry.decision(outcome.record)
        if outcome.answer is None:
            raise Exception(UNAUTHORIZED)  # a plain Exception with this exact message: API Gateway answers 401
        return outcome.answer

    # --- the decision -----------------------------------------------------------------------------------------
    # The record's fields are gathered in a dict and the ShadowRecord is built once at the end: this runs on
    # every request, and dataclasses.replace() per step costs more than the rest of the bookkeeping.

    def _decide(self, request: AuthorizerRequest) -> _Outcome:
        document = self.modes.current()
        matched, route = self._route(request)
        rec: dict[str, Any] = {
            "time": self._now(), "request_id": request.request_id, "api_id": request.api_id,
            "stage": request.stage, "action_id": None, "mode": document.mode_for(matched),
            "route": matched or (route_key(request.http_method, request.resource_path)
                                 if request.http_method and request.resource_path else None),
            "modes_version": document.version, "modes_source": document.source, "principal": None,
            "policy_store_id": self.avp.policy_store_id, "authorizer_version": __version__,
        }
        arn = request.method_arn
        if arn is None:
            return self._outcome(rec, None, decision_source="config", reason="bad_method_arn")
        if arn.api_id != self.config.api_id:
            return self._config_deny(rec, arn, "api_mismatch")
        stages = self.config.allowed_stages
        # API Gateway's TestInvokeAuthorizer (deploy's smoke test) names the pseudo-stage "ESTestInvoke-stage":
        # only a caller allowed to call the management API can produce it, and it reaches no backend.
        if stages is not None and arn.stage not in stages and arn.stage != TEST_INVOKE_STAGE:
            return self._config_deny(rec, arn, "stage_mismatch", stage=arn.stage, configured_stages=sorted(stages))
        if route is None:
            return self._config_deny(rec, arn, "unknown_route")
        action = route.actions.get(request.http_method.upper())
        if action is None:
            return self._config_deny(rec, arn, "unknown_verb")
        rec["action_id"] = action
        resource = RouteResource(self.config.entity_types.resource, matched, route.parents) \
            if self.config.layout == "routes" else None

        try:
            token_text = bearer_token(request.authorization)
            # The route is part of the key: in the routes layout one action (the verb) serves every route.
            key = cache_key(token_text, f"{matched}\n{action}")
            entry = self.cache.get(key)
            fresh = entry is None
            if entry is None:
                verified = self.verifier.verify(token_text, route.token_use)
                entry = self.cache.entry(verified, scope_allows(route, verified))
        except TokenError as exc:
            return self._outcome(rec, None, token_error=exc.reason)

        token = entry.token
        rec.update(principal=self._principal(token), groups=token.groups, client_id=token.client_id,
                   token_use=token.token_use, client_credentials=token.client_credentials,
                   scope_decision="ALLOW" if entry.scope_allowed else "DENY")
        avp = None
        if rec["mode"] in ("shadow", "avp", BOTH):
            avp, entry, asked = self._avp_answer(token_text, entry, action, resource)
            fresh = fresh or asked
            rec.update(avp_decision=avp.decision, avp_error=avp.error, avp_cached=not asked,
                       avp_latency_ms=avp.latency_ms, determining_policies=avp.determining_policies,
                       avp_evaluation_errors=self._evaluation_errors(avp, token),
                       agree=(avp.decision == rec["scope_decision"]) if avp.decision else None)
        if fresh:
            self.cache.put(key, entry)
        return self._enforce(rec, arn, token, entry, avp)

    def _enforce(self, rec: dict[str, Any], arn: MethodArn, token: VerifiedToken, entry: CacheEntry,
                 avp: AvpResult | None) -> _Outcome:
        if rec["mode"] == "avp":
            assert avp is not None
            if avp.decision is None:
                self.telemetry.error("Verified Permissions failed; request denied (fail closed)",
                                     avp_error=avp.error, detail=avp.error_message or "", route=rec["route"],
                                     request_id=rec["request_id"])
                effect, source = DENY, "avp_error"
            else:
                effect, source = (ALLOW if avp.decision == "ALLOW" else DENY), "avp"
        elif not entry.scope_allowed:
            return self._outcome(rec, None, decision_source="scope")
        elif rec["mode"] == BOTH:
            # The route's mode cannot be established (authorizer/modes.py): allow only what both rules allow.
            assert avp is not None
            if avp.decision is None:
                self.telemetry.error("Verified Permissions failed while the route's mode is uncertain; request "
                                     "denied (fail closed)", avp_error=avp.error, detail=avp.error_message or "",
                                     route=rec["route"], request_id=rec["request_id"])
                effect, source = DENY, "avp_error"
            else:
                effect, source = (ALLOW if avp.decision == "ALLOW" else DENY), BOTH
        else:
            effect, source = ALLOW, "scope"
        reason = None
        if effect == ALLOW and arn.has_wildcards:
            effect, source, reason = DENY, "config", "wildcard_method_arn"
        principal_id = token.client_id if token.client_credentials else token.principal
        answer = response(principal_id, effect, arn, self._context(token, rec["mode"], source))
        return self._outcome(rec, answer, decision_source=source, reason=reason)

    def _avp_answer(self, token_text: str, entry: CacheEntry, action: str, resource: RouteResource | None
                    ) -> tuple[AvpResult, CacheEntry, bool]:
        """AVP's answer (cached when the cache has one) and the entry to keep; the bool says AVP was called."""
        if entry.avp is not None:
            return entry.avp, entry, False
        token = entry.token
        if token.client_credentials:
            result = self.avp.is_authorized_client(token.client_id, token.scopes, action, resource)
        else:
            result = self.avp.is_authorized_with_token(token_text, token.token_use, action, resource)
        if result.decision is not None:  # errors are not cached: the next request asks again
            entry = replace(entry, avp=result)
        return result, entry, True

    @staticmethod
    def _outcome(rec: dict[str, Any], answer: dict[str, Any] | None, **fields: Any) -> _Outcome:
        if answer is None:
            enforced = ENFORCED_UNAUTHORIZED
        else:
            enforced = ENFORCED_ALLOW if answer["policyDocument"]["Statement"][0]["Effect"] == ALLOW else ENFORCED_DENY
        return _Outcome(ShadowRecord(**rec, **fields, enforced=enforced), answer)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _route(self, request: AuthorizerRequest) -> tuple[str | None, RouteConfig | None]:
        if not request.http_method or not request.resource_path:
            return None, None
        # API Gateway has selected the resource (resourcePath); on it an explicit method wins over ANY
        # (authorizer.routes, rule 2), and the plan lists on ANY only the verbs without their own method.
        for key in route_candidates(request.http_method, request.resource_path):
            route = self.config.routes.get(key)
            if route is not None:
                return key, route
        return None, None

    def _config_deny(self, rec: dict[str, Any], arn: MethodArn, reason: str, **detail: Any) -> _Outcome:
        self.telemetry.error("request does not match the authorizer configuration; denied", reason=reason,
                             route=rec["route"], api_id=rec["api_id"], configured_api_id=self.config.api_id,
                             **detail)
        answer = response("unknown", DENY, arn, {"mode": rec["mode"], "decision_source": "config"})
        return self._outcome(rec, answer, decision_source="config", reason=reason)

    def _failure(self, request: AuthorizerRequest, exc: Exception) -> _Outcome:
        import traceback

        detail = redact("".join(traceback.format_exception(exc)), limit=4000)
        self.telemetry.error("authorizer failure; request refused (fail closed)", error=type(exc).__name__,
                             detail=detail, request_id=request.request_id)
        record = ShadowRecord(time=self._now(), request_id=request.request_id, api_id=request.api_id,
                              stage=request.stage, route=None, action_id=None, mode="unknown",
                              modes_version=None, modes_source="unknown", principal=None,
                              decision_source="error", reason=type(exc).__name__,
                              policy_store_id=self.avp.policy_store_id, authorizer_version=__version__)
        if request.method_arn is None:
            return _Outcome(record, None)
        answer = response("unknown", DENY, request.method_arn, {"decision_source": "error"})
        return _Outcome(replace(record, enforced=ENFORCED_DENY), answer)

    def _principal(self, token: VerifiedToken) -> str | None:
        return hash_principal(token.principal) if self.hash_principals else token.principal

    def _evaluation_errors(self, avp: AvpResult, token: VerifiedToken) -> tuple[str, ...]:
        """AVP's ``errors[]`` for the record: redacted, and with the principal hashed when principals are (Cedar's
        messages can name the principal entity, ``<User type>::"<poolId>|<sub>"``)."""
        if not avp.evaluation_errors:
            return ()
        hashed = self._principal(token) if self.hash_principals else None
        return tuple(redact(e if hashed is None else e.replace(token.principal, hashed), limit=MAX_EVALUATION_ERROR)
                     for e in avp.evaluation_errors)

    @staticmethod
    def _context(token: VerifiedToken, mode: str, source: str) -> dict[str, Any]:
        # Flat strings only (a Lambda authorizer cannot return objects); what backends read instead of
        # $context.authorizer.claims.* (see authorizer/README.md).
        return {
            "sub": token.sub,
            "username": token.username or "",
            "groups": ",".join(token.groups),  # kept as it was for backends that split it; ambiguous with commas
            "groups_json": json.dumps(token.groups, ensure_ascii=False, separators=(",", ":")),
            "scope": token.scope_text,
            "client_id": token.client_id,
            "token_use": token.token_use,
            "mode": mode,
            "decision_source": source,
        }

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), tz=UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
