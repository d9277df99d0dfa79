"""Verified Permissions calls under a strict wall-clock bound.

* Users: ``IsAuthorizedWithToken`` with the very token the caller sent, in ``accessToken`` or ``identityToken``
  according to its ``token_use`` (AVP refuses a token sent in the other parameter; API reference,
  https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_IsAuthorizedWithToken.html, and the
  Cognito guide, https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-authorization-with-avp.html),
  action
  ``<action type>::"<action id>"`` and resource ``<resource type>::"<resource id>"`` as the plan defines them.
  AVP builds the principal ``<User type>::"<poolId>|<sub>"`` and its groups from the token itself.
* Client-credentials tokens (no user, no groups): ``IsAuthorized`` on ``<Client type>::"<client id>"`` with
  context ``{"token": {"scope": [...], "client_id": "..."}}``, the same shape AVP gives an access token's
  claims (``context.token``), so one policy style covers both. Only verified values are sent.

The bound: each call runs in a small thread pool and the caller waits at most ``timeout_seconds``
(``Future.result(timeout=...)``); botocore's connect and read timeouts equal that bound and retries are off
(``total_max_attempts`` 1), so an abandoned call also ends soon and a throttled call is not retried past the
deadline. Nothing AVP does can delay the answer by more than the timeout, and every failure comes back as an
:class:`AvpResult` with ``error`` set (never as an exception): the caller decides what an error means (shadow:
nothing; avp: Deny).

botocore is imported when the first call needs the client (authorizer/aws.py), not when this module is imported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from authorizer.config import EntityTypes

DECISIONS = ("ALLOW", "DENY")


# Not frozen: built and dropped within one request, never cached nor shared (authorizer/__init__.py, cold start).
@dataclass
class RouteResource:
    """The routes layout's resource: the route entity and its parents (the method's scopes)."""

    type: str
    id: str
    parents: tuple[tuple[str, str], ...]

MAX_WORKERS = 4
MAX_EVALUATION_ERRORS = 5


@dataclass(frozen=True)
class AvpResult:
    """Verified Permissions' answer to one request, or why there is none."""

    decision: str | None  # "ALLOW" or "DENY"; None when the call failed
    determining_policies: tuple[str, ...] = ()
    error: str | None = None  # an error code: "Timeout", "ThrottlingException", "EndpointConnectionError"...
    error_message: str | None = None  # for the operator's log line only (redacted there)
    latency_ms: float = 0.0
    # The response's errors[].errorDescription: policies that failed to evaluate and were skipped (Cedar semantics;
    # the decision stands without them). At most MAX_EVALUATION_ERRORS, then a count of the rest.
    evaluation_errors: tuple[str, ...] = ()


def default_client_factory(timeout_seconds: float, max_workers: int = MAX_WORKERS) -> Callable[[], Any]:
    """A boto3 Verified Permissions client as the authorizer needs it; endpoint and region come from the
    environment (``AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS`` is how the embedded AWS is reached)."""

    def make() -> Any:
        from botocore.config import Config

        from authorizer.aws import client

        config = Config(connect_timeout=timeout_seconds, read_timeout=timeout_seconds,
                        retries={"total_max_attempts": 1, "mode": "standard"},
                        max_pool_connections=max_workers)
        return client("verifiedpermissions", config)  # one session, shared with the SSM client

    return make


class AvpClient:
    def __init__(self, *, policy_store_id: str | None, entity_types: EntityTypes, resource_id: str,
                 timeout_seconds: float, client_factory: Callable[[], Any] | None = None,
                 max_workers: int = MAX_WORKERS) -> None:
        self.policy_store_id = policy_store_id
        self._types = entity_types
        self._resource = {"entityType": entity_types.resource, "entityId": resource_id}
        self.timeout_seconds = timeout_seconds
        self._factory = client_factory or default_client_factory(timeout_seconds, max_workers)
        self._max_workers = max_workers
        self._client: Any = None
        self._executor: Any = None
        self._client_lock = threading.Lock()

    def is_authorized_with_token(self, token: str, token_use: str, action_id: str,
                                 route: RouteResource | None = None) -> AvpResult:
        parameter = "accessToken" if token_use == "access" else "identityToken"
        return self._call("is_authorized_with_token", {
            "policyStoreId": self.policy_store_id, parameter: token,
            "action": {"actionType": self._types.action, "actionId": action_id},
            **self._resource_params(route),
        })

    def is_authorized_client(self, client_id: str, scopes: Iterable[str], action_id: str,
                             route: RouteResource | None = None) -> AvpResult:
        token = {"record": {"scope": {"set": [{"string": s} for s in sorted(scopes)]},
                            "client_id": {"string": client_id}}}
        return self._call("is_authorized", {
            "policyStoreId": self.policy_store_id,
            "principal": {"entityType": self._types.client, "entityId": client_id},
            "action": {"actionType": self._types.action, "actionId": action_id},
            **self._resource_params(route),
            "context": {"contextMap": {"token": token}},
        })

    def _resource_params(self, route: RouteResource | None) -> dict[str, Any]:
        """The configured resource (actions layout), or the route with its parents (routes layout): AVP keeps no
        entities, so the route's membership in its scopes travels with each request (API reference,
        IsAuthorizedWithToken ``entities``, EntitiesDefinition ``entityList``)."""
        if route is None:
            return {"resource": self._resource}
        identifier = {"entityType": route.type, "entityId": route.id}
        return {"resource": identifier, "entities": {"entityList": [{
            "identifier": identifier, "parents": [{"entityType": t, "entityId": i} for t, i in route.parents]}]}}

    def _get_client(self) -> Any:
        # Built outside the timed section: creating a boto3 client is local work (~100 ms once per container)
        # and must not make the first decision after a cold start time out. The thread pool is created here
        # too, so that a function whose routes all run in scope mode never imports concurrent.futures.
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    if self._executor is None:
                        from concurrent.futures import ThreadPoolExecutor

                        self._executor = ThreadPoolExecutor(max_workers=self._max_workers,
                                                            thread_name_prefix="avp-call")
                    self._client = self._factory()
        return self._client

    def _call(self, operation: str, params: dict[str, Any]) -> AvpResult:
        if not self.policy_store_id:
            return AvpResult(None, error="NoPolicyStore", error_message="AVP_AUTHZ_POLICY_STORE_ID is not set")
        try:
            method = getattr(self._get_client(), operation)
        except Exception as exc:  # no region, no credentials provider...: an AVP error like any other
            return AvpResult(None, error="ClientInitError", error_message=f"{type(exc).__name__}: {exc}")
        from concurrent.futures import TimeoutError as FutureTimeout  # already imported by _get_client

        started = time.perf_counter()
        future = self._executor.submit(method, **params)
        try:
            response = future.result(timeout=self.timeout_seconds)
        except FutureTimeout:
            future.cancel()  # still queued behind stuck calls: do not send it at all
            return AvpResult(None, error="Timeout", latency_ms=_since(started),
                             error_message=f"no answer within {self.timeout_seconds * 1000:.0f} ms")
        except Exception as exc:
            return AvpResult(None, error=_error_code(exc), error_message=str(exc), latency_ms=_since(started))
        latency = _since(started)
        decision = response.get("decision") if isinstance(response, dict) else None
        if decision not in DECISIONS:
            return AvpResult(None, error="InvalidResponse", latency_ms=latency,
                             error_message=f"unexpected decision {decision!r}")
        policies = tuple(p["policyId"] for p in response.get("determiningPolicies") or []
                         if isinstance(p, dict) and isinstance(p.get("policyId"), str))
        return AvpResult(decision, policies, latency_ms=latency, evaluation_errors=_evaluation_errors(response))


def _evaluation_errors(response: dict[str, Any]) -> tuple[str, ...]:
    """``errors`` of an IsAuthorized/IsAuthorizedWithToken response: a list of ``{"errorDescription": str}``
    (API reference, IsAuthorizedWithToken, Response Elements, EvaluationErrorItem)."""
    items = response.get("errors")
    if not isinstance(items, list):
        return ()
    texts = [item["errorDescription"] for item in items
             if isinstance(item, dict) and isinstance(item.get("errorDescription"), str)]
    if len(texts) > MAX_EVALUATION_ERRORS:
        rest = len(texts) - MAX_EVALUATION_ERRORS + 1
        texts = [*texts[:MAX_EVALUATION_ERRORS - 1], f"... and {rest} more evaluation errors"]
    return tuple(texts)


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _error_code(exc: Exception) -> str:
    """botocore's ClientError carries the service's error code; other failures are named by their type."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(exc).__name__
