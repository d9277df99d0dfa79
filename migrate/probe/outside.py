"""What a handler reaches outside the event while it runs: AWS SDK calls and other network connections.

A pre-token handler that reads a table or calls a service answers from state the probe cannot vary: every probed
user may hit the same "not found" path, and rules derived from those answers describe that path, not the
handler. So while the handler runs in this process, every AWS SDK call (botocore's ``BaseClient._make_api_call``,
the one path every boto3 client operation takes) and every other outgoing connection (``socket.connect`` and
``connect_ex``, which every Python network client ends in) made from the handler's thread is recorded. A call is
recorded when it is made, whether it then succeeds, fails, or never reaches the network (no credentials): the
handler tried to look outside, which is what matters.

A deployed function (``--function``) runs elsewhere: what it calls cannot be seen from here, and the probe says so.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_state = threading.local()


def _recording() -> list[str] | None:
    return getattr(_state, "calls", None)


@contextmanager
def record_outside_calls() -> Iterator[list[str]]:
    """Record, in the list it yields, the calls this thread makes outside the process while the block runs:
    ``"aws dynamodb.GetItem"``, ``"network 10.0.0.5:5432"``."""
    import botocore.client

    calls: list[str] = []
    client_method = botocore.client.BaseClient._make_api_call
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        recording = _recording()
        if recording is None:
            return client_method(self, operation_name, api_params)
        recording.append(f"aws {self.meta.service_model.service_name}.{operation_name}")
        _state.calls = None  # the SDK's own connection is this call, not another one
        try:
            return client_method(self, operation_name, api_params)
        finally:
            _state.calls = recording

    def record_connection(address: Any) -> None:
        recording = _recording()
        if recording is not None:
            where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else str(address)
            recording.append(f"network {where}")

    def patched_connect(self: socket.socket, address: Any) -> Any:
        record_connection(address)
        return connect(self, address)

    def patched_connect_ex(self: socket.socket, address: Any) -> Any:
        record_connection(address)
        return connect_ex(self, address)

    botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    socket.socket.connect = patched_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = patched_connect_ex  # type: ignore[method-assign]
    _state.calls = calls  # only this thread's calls: other threads (a server in the same process) are not the handler
    try:
        yield calls
    finally:
        _state.calls = None
        botocore.client.BaseClient._make_api_call = client_method  # type: ignore[method-assign]
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
