"""The authorizer's AWS clients (SSM for the mode document, Verified Permissions), all from one botocore session,
created one at a time.

Why one session: a client built from a session of its own loads the SDK's endpoint rules, partitions and defaults
again. Measured after a cold start, CPython 3.12.1 with the runtime's boto3 and its bytecode, median of 9 fresh
processes: the Verified Permissions client cost 119 ms of CPU after the SSM client when each had its own session
(as when Powertools' SSMProvider read the mode document), 14 ms from the same session; a shadow or avp route
pays both on the first request.

Why botocore and not boto3: the clients are the same objects (boto3's ``Session.client`` calls botocore's
``create_client``), and ``import boto3`` costs 35 ms more than ``import botocore.session`` (293 against 258 ms,
median of 9 fresh processes, same conditions), for its resource layer, which the authorizer does not use.

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
_session: Any = None


def client(service: str, config: Any) -> Any:
    """A client for ``service``; region, credentials and endpoint from the environment, as boto3's would."""
    global _session
    with _lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        return _session.create_client(service, config=config)
