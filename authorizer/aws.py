"""The authorizer's boto3 clients (SSM for the mode document, Verified Permissions), all from boto3's default
session, created one at a time.

Why one session: a client built from a session of its own loads the SDK's endpoint rules, partitions and defaults
again. Measured after a cold start, CPython 3.12.1 with the runtime's boto3 and its bytecode, median of 9 fresh
processes: the Verified Permissions client cost 119 ms of CPU after the SSM client when each had its own session
(as when Powertools' SSMProvider read the mode document), 14 ms from the same session; a shadow or avp route
pays both on the first request.

Why the lock: sessions are not thread-safe, clients once created are (boto3 guide, "Session": "Similar to
Resource objects, Session objects are not thread safe and should not be shared across threads and processes";
boto/boto3 issue 1592: concurrent ``boto3.client`` calls on the default session fail intermittently), and the
mode document's read and the first AVP call may build their clients from two threads when requests run
concurrently (tests, the embedded function runner). Lambda itself serves one request at a time per container.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()


def client(service: str, config: Any) -> Any:
    with _lock:
        import boto3

        return boto3.client(service, config=config)
