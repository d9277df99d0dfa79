"""Many Cedar decisions in one call, reduced to what verify needs: allowed, the deciding policies, the errors.

cedarpy's public ``is_authorized_batch`` turns each answer into a dict and then an object; for verify's hundreds
of thousands of decisions that costs about as much as Cedar's own evaluation. This calls the same engine entry
point (``cedarpy._internal.is_authorized_batch``, what the public function calls after normalising its arguments:
cedarpy is pinned in pyproject.toml) and reads each answer's JSON only when it has reasons or errors.
``tests/test_cedar_batch.py`` holds the two to the same answers.
"""

from __future__ import annotations

import json
from typing import Any

import cedarpy

Answer = tuple[bool, tuple[str, ...], tuple[str, ...]]  # allowed, reasons (policy ids), errors

_engine = getattr(getattr(cedarpy, "_internal", None), "is_authorized_batch", None)

# The answer is serde's serialisation of cedarpy's response: within a JSON string a quote is always escaped, so
# these byte sequences can occur only as the structure itself (the top-level decision; the diagnostics' lists).
_ALLOW = '"decision":"Allow"'
_DENY = '"decision":"Deny"'
_NO_REASON = '"reason":[]'
_NO_ERROR = '"errors":[]'
_EMPTY: tuple[str, ...] = ()


def decide_batch(requests: list[dict[str, Any]], policies: cedarpy.PolicySet, entities: cedarpy.Entities
                 ) -> list[Answer]:
    """Cedar's answer to each request, in order. Requests as cedarpy takes them, any context as JSON text."""
    if _engine is None:  # a cedarpy without the entry point: its public API, slower, same answers
        return [(answer.allowed, tuple(answer.diagnostics.reasons), tuple(answer.diagnostics.errors))
                for answer in cedarpy.is_authorized_batch(requests, policies, entities)]
    return [_read(text) for text in _engine(requests, policies, entities._inner, None, False)]


def _read(text: str) -> Answer:
    if _NO_REASON in text and _NO_ERROR in text:
        if _ALLOW in text:
            return True, _EMPTY, _EMPTY
        if _DENY in text:
            return False, _EMPTY, _EMPTY
    answer = json.loads(text)
    diagnostics = answer.get("diagnostics") or {}
    return (answer.get("decision") == "Allow", tuple(diagnostics.get("reason") or ()),
            tuple(str(e) for e in diagnostics.get("errors") or ()))
