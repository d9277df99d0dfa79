"""Calling the handler under probe: in this process (a Python file) or as a deployed Lambda function.

Both invokers take the event as JSON would carry it and give back what the handler returned, or raise
:class:`HandlerFailed` for a failure of the handler itself (the probe records it as that event's answer).
Anything that stops the probe as a whole (the file cannot be imported, the function does not exist, no
permission) is a :class:`~migrate.errors.UserError`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import uuid
from pathlib import Path
from typing import Any, Protocol

from migrate.errors import UserError
from migrate.probe.outside import record_outside_calls


class HandlerFailed(Exception):
    """The handler raised (in-process) or reported a function error (Lambda): Cognito would refuse the sign-in."""


class Invoker(Protocol):
    """Something that runs the handler once for one event."""

    description: str
    # True when the calls the handler makes outside the event are recorded (``last_outside`` after each invoke)
    sees_outside: bool

    def invoke(self, event: dict[str, Any]) -> Any: ...

    def close(self) -> None: ...


class LambdaContext:
    """The attributes of a Lambda context object that handlers commonly read."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "avp-migrate-probe"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


def _json_copy(value: Any, what: str) -> Any:
    """``value`` after a JSON round trip, as Lambda delivers events and returns results."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise HandlerFailed(f"{what} is not JSON: {exc}") from None


class InProcessInvoker:
    """A handler function in a Python file, imported as a fresh module (module state never carries over from
    another probe run, and never leaks into avp-migrate's own modules)."""

    def __init__(self, spec: str, *, import_root: Path | None = None) -> None:
        """``import_root``: the folder Lambda would put on the import path (the code's root) when the handler's
        file sits deeper (``src/app.py`` for ``src.app.handler``); by default the file's own folder."""
        path_text, sep, function = spec.rpartition(":")
        if not sep or not path_text or not function:
            raise UserError(f"expected FILE.py:FUNCTION, got {spec!r}", where="--handler")
        path = Path(path_text)
        if path.is_dir():
            raise UserError("expected a Python file, found a directory", where=path_text)
        if not path.is_file():
            raise UserError("handler file not found", where=path_text)
        self.description = f"{path_text}:{function} (in-process)"
        self._module_name = f"_avp_migrate_probe_{uuid.uuid4().hex}"
        module_spec = importlib.util.spec_from_file_location(self._module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise UserError("not a Python module (give a .py file)", where=path_text)
        module = importlib.util.module_from_spec(module_spec)
        # Registered under its unique name while it runs: dataclasses and pickling look modules up by name.
        self._modules_before = set(sys.modules)
        sys.modules[self._module_name] = module
        # The file's folder on the import path, as Lambda puts the package root there, so sibling modules import.
        folder = str((import_root or path.parent).resolve())
        self._folder = Path(folder)
        sys.path.insert(0, folder)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep our stdout (maybe JSON) clean of the handler's prints
                module_spec.loader.exec_module(module)
        except BaseException as exc:
            self.close()
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise UserError(f"cannot import the handler: {type(exc).__name__}: {exc}", where=path_text) from None
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
        handler = getattr(module, function, None)
        if handler is None:
            names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                           and getattr(v, "__module__", None) == self._module_name)
            self.close()
            raise UserError(f"no function {function!r} in the file (functions defined there: "
                            f"{', '.join(names) or 'none'})", where=path_text)
        if not callable(handler):
            self.close()
            raise UserError(f"{function!r} is not callable (it is {type(handler).__name__})", where=path_text)
        self._handler = handler
        self._context_name = path.stem

    sees_outside = True  # what the handler calls outside the event is recorded (migrate.probe.outside)

    def invoke(self, event: dict[str, Any]) -> Any:
        payload = _json_copy(event, "the event")
        self.last_outside: tuple[str, ...] = ()
        try:
            with contextlib.redirect_stdout(sys.stderr), record_outside_calls() as calls:
                try:
                    result = self._handler(payload, LambdaContext(self._context_name))
                finally:
                    self.last_outside = tuple(calls)
        except (Exception, SystemExit) as exc:  # the handler's own failure is this event's answer
            raise HandlerFailed(f"{type(exc).__name__}: {exc}") from exc
        return _json_copy(result, "the handler's result")

    def close(self) -> None:
        """Forget the handler's module and the sibling modules it imported, so the next run starts afresh."""
        for name in set(sys.modules) - self._modules_before:
            origin = getattr(sys.modules[name], "__file__", None)
            if name == self._module_name or (origin and self._folder in Path(origin).resolve().parents):
                del sys.modules[name]


class LambdaInvoker:
    """A deployed Lambda function, invoked synchronously with the event as its payload.

    Lambda ``Invoke`` (boto3 ``Lambda.Client.invoke``,
    https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/lambda/client/invoke.html):
    ``InvocationType="RequestResponse"`` runs the function and returns its result in ``Payload`` (a stream);
    the status code does not reflect function errors: a function error sets ``FunctionError`` (``Handled`` or
    ``Unhandled``) and ``Payload`` holds the error object (``errorType``, ``errorMessage``; Lambda API
    reference, ErrorObject). Errors that keep the function from running (not found, no permission,
    throttling after retries) are the service's and stop the probe.
    """

    sees_outside = False  # it runs in Lambda: what it calls cannot be seen from here

    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self.function_name = function_name
        self.description = f"Lambda function {function_name}"

    def invoke(self, event: dict[str, Any]) -> Any:
        import botocore.exceptions

        from migrate.awsconfig import describe_aws_error

        try:
            response = self._client.invoke(FunctionName=self.function_name, InvocationType="RequestResponse",
                                           Payload=json.dumps(event).encode("utf-8"))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            error = describe_aws_error(exc, what=f"--function-name {self.function_name}")
            if error is None:
                raise
            raise error from None
        body = response["Payload"].read()
        if response.get("FunctionError"):
            try:
                detail = json.loads(body)
            except ValueError:
                detail = None
            if isinstance(detail, dict):
                message = f"{detail.get('errorType') or 'Error'}: {detail.get('errorMessage') or ''}".rstrip(": ")
            else:
                message = body.decode("utf-8", "replace")[:200]
            raise HandlerFailed(f"{response['FunctionError']} function error: {message}")
        try:
            return json.loads(body)
        except ValueError:
            raise HandlerFailed("the function's result is not JSON") from None

    def close(self) -> None:
        pass


def lambda_client(session: Any) -> Any:
    """A Lambda client for probing: botocore retries stay (throttled calls never ran), but the read timeout
    exceeds Lambda's 900-second maximum run time, so a slow function is never retried, that is run twice."""
    from botocore.config import Config

    from migrate.awsconfig import RETRY_CONFIG

    return session.boto3_session.client("lambda", region_name=session.region,
                                        endpoint_url=session.endpoint_for("lambda"),
                                        config=RETRY_CONFIG.merge(Config(read_timeout=905)))
