"""boto3 sessions and clients as every avp-migrate command makes them.

One place decides how we talk to AWS, so that the embedded AWS and a real account take the same code path:

* ``--profile`` / ``--region`` pick the session, exactly as the AWS CLI does.
* ``--endpoint-url`` sends every service to one endpoint (the embedded AWS). A service-specific
  ``AWS_ENDPOINT_URL_<SERVICE>`` variable still wins for its service, so the local Verified Permissions
  endpoint, which lives on its own port, keeps working. Without either, botocore resolves endpoints itself
  (including the standard ``AWS_ENDPOINT_URL`` variables).
* Retries are botocore's ``adaptive`` mode: throttling slows a scan down, it does not abort it.
  (botocore docs, "Retries": adaptive mode adds client-side rate limiting on top of standard retries.)
  An endpoint that cannot be reached (connection refused, connect timeout) is not throttling: it is retried
  once, not ``max_attempts`` times with backoff (about 22 s for a refused connection), so a wrong
  ``--endpoint-url`` or a stopped ``local up`` is reported at once.
* Every API call is counted per service operation, so a scan can report what it cost.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from migrate import __version__
from migrate.errors import AwsAccessError, UserError

MAX_ATTEMPTS = 10  # throttling and 5xx: botocore's adaptive retries, this many after the first attempt
CONNECT_ATTEMPTS = 2  # an endpoint that cannot be reached: one retry (a blip), then the error
CONNECT_TIMEOUT = 5  # seconds to open a connection (a black-holed endpoint); a refused one fails at once

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
    user_agent_extra=f"avp-migrate/{__version__}",
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=60,
)


def stop_retrying_unreachable(attempts: int = 0, caught_exception: BaseException | None = None,
                              **_: Any) -> bool | None:
    """A ``needs-retry`` handler registered before botocore's own: False (no retry) once an unreachable endpoint
    has had CONNECT_ATTEMPTS attempts; None (botocore decides, as for throttling) otherwise.

    botocore's Endpoint._needs_retry takes the first handler answer that is not None, and False means "do not
    retry" (botocore/endpoint.py); EndpointConnectionError covers ConnectTimeoutError and a refused connection
    (botocore/exceptions.py)."""
    if isinstance(caught_exception, botocore.exceptions.EndpointConnectionError) and attempts >= CONNECT_ATTEMPTS:
        return False
    return None


@dataclass(frozen=True)
class AwsTarget:
    """Where AWS calls go: the AWS CLI's global options."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass
class CallCounter:
    """Counts API calls per ``service.Operation``: one per operation call, whatever retries it took."""

    calls: Counter[str] = field(default_factory=Counter)

    def on_after_call(self, model: Any = None, **_: Any) -> None:
        if model is not None:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.calls.items()))


class AwsSession:
    """A boto3 session plus our client policy (endpoint, retries, call counting)."""

    def __init__(self, target: AwsTarget | None = None) -> None:
        self.target = target or AwsTarget()
        try:
            self._session = boto3.Session(profile_name=self.target.profile, region_name=self.target.region)
        except botocore.exceptions.ProfileNotFound as exc:
            # Without --profile, the profile came from AWS_PROFILE (or AWS_DEFAULT_PROFILE): say which, and its name
            # as botocore read it.
            name = exc.kwargs.get("profile") or self.target.profile
            where = "--profile" if self.target.profile else (
                "AWS_PROFILE" if os.environ.get("AWS_PROFILE") else "AWS_DEFAULT_PROFILE")
            raise UserError(f"AWS profile not found: {name} (not in the AWS config or credentials file)",
                            where=where) from None
        self.counter = CallCounter()
        self._session.events.register("after-call", self.counter.on_after_call)
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        region = self._session.region_name
        if not region:
            raise UserError("no AWS region: pass --region or set AWS_DEFAULT_REGION", where="--region")
        return region

    def endpoint_for(self, service: str) -> str | None:
        specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
        if specific:
            return specific
        return self.target.endpoint_url

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached client for ``service`` in ``region`` (default: the session's region)."""
        region = region or self.region
        key = f"{service}@{region}"
        if key not in self._clients:
            client = self._session.client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_for(service),
                config=RETRY_CONFIG,
            )
            # On the service's own event, first: botocore's retry handler is registered on that event too.
            client.meta.events.register_first(f"needs-retry.{client.meta.service_model.service_id.hyphenize()}",
                                              stop_retrying_unreachable)
            self._clients[key] = client
        return self._clients[key]

    @property
    def boto3_session(self) -> boto3.Session:
        return self._session


def describe_aws_error(exc: BaseException, *, what: str) -> UserError | None:
    """Turn a botocore failure the user can fix into a one-line UserError naming ``what`` was being read.

    Returns None for anything that is not such a failure (a bug should keep its traceback).
    """
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AwsAccessError(
            "no AWS credentials found: set AWS_PROFILE / AWS_ACCESS_KEY_ID, pass --profile, "
            "or run `avp-migrate local up` and export what it prints",
            where=what,
        )
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return AwsAccessError("no AWS region: pass --region or set AWS_DEFAULT_REGION", where=what)
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        reason = "timed out" if isinstance(exc, botocore.exceptions.ConnectTimeoutError) else "connection failed"
        if any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)):
            reason = "connection refused"
        return AwsAccessError(f"cannot reach the AWS endpoint {exc.kwargs.get('endpoint_url', '')} ({reason}; "
                              "check --endpoint-url / AWS_ENDPOINT_URL, or that `avp-migrate local up` runs)",
                              where=what)
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        message = error.get("Message") or ""
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # Some error bodies arrive as XML inside a JSON-protocol error (seen with IAM enforcement): take the
        # code and message out of it, and never print a multi-line body.
        xml_code, xml_message = re.search(r"<Code>([^<]+)</Code>", message), re.search(r"<Message>([^<]+)</Message>",
                                                                                     message)
        if xml_code:
            code = xml_code.group(1)
        if xml_message:
            message = xml_message.group(1)
        message = " ".join(message.split())
        operation = exc.operation_name
        if status == 403 and code.isdigit():
            code = "AccessDenied"
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                    "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException"}:
            return AwsAccessError(f"access denied calling {operation} ({code}): {message}".rstrip(": "), where=what)
        if code in {"NotFoundException", "ResourceNotFoundException", "ParameterNotFound"}:
            return AwsAccessError(f"not found ({operation}: {message or code})", where=what)
        return AwsAccessError(f"{operation} failed with {code}: {message}".rstrip(": "), where=what)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return AwsAccessError(str(exc), where=what)
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it was raised from, and botocore's ``error`` keyword, as far as they go."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        kwargs = getattr(current, "kwargs", None)
        todo += [current.__cause__, current.__context__,
                 kwargs.get("error") if isinstance(kwargs, dict) else None]
        todo += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return seen
