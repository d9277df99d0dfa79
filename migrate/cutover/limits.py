"""The size limits AWS puts on each copy of the mode state, counted the way AWS counts them.

One function per limit, used both when a change set is computed (so ``--dry-run`` refuses what the apply would)
and right before the call that writes the copy (so a writer never sends what AWS would refuse half-way through a
change). Each refusal is a one-line :class:`~migrate.errors.UserError` naming the limit.

* **Lambda environment**: "The maximum size of the variables object that is stored in the function's
  configuration must not exceed 4096 bytes. This includes key names, values, quotes, commas, and brackets"; it is
  measured as the JSON text without white space (``{"BUCKET":"amzn-s3-demo-bucket","KEY":"file.txt"}`` is 39
  bytes), non-ASCII characters as their UTF-8 bytes (Lambda developer guide, "Troubleshoot deployment issues in
  Lambda"; the refusal is InvalidParameterValueException "... exceeded the 4KB limit. String measured: {...}").
  A JSON value inside a variable (our fallback) therefore also pays one backslash per quote.
* **SSM parameter value**: "Standard parameters have a value limit of 4 KB. Advanced parameters have a value limit
  of 8 KB" (botocore ``ssm`` model, PutParameter ``Value``; SSM user guide, "Managing parameter tiers"). A
  Standard parameter refuses more with ValidationException "Standard tier parameters support a maximum parameter
  value of 4096 characters...". We count UTF-8 bytes (at least the characters), so we never send more.
* **DynamoDB item**: at most 400 KB, "which includes both attribute name binary length (UTF-8 length) and
  attribute value lengths" (DynamoDB developer guide, "Service, account, and table quotas"), each attribute sized
  as "DynamoDB item sizes and formats" says (:func:`dynamodb_item_size`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from migrate.errors import UserError

LAMBDA_ENVIRONMENT_BYTES = 4096
SSM_STANDARD_BYTES = 4096
SSM_ADVANCED_BYTES = 8192
DYNAMODB_ITEM_BYTES = 400 * 1024


def lambda_environment_size(variables: Mapping[str, str]) -> int:
    """The bytes Lambda counts for a function's environment: its variables as JSON without white space."""
    return len(json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False).encode())


def check_lambda_environment(variables: Mapping[str, str], *, where: str, why: str = "") -> int:
    size = lambda_environment_size(variables)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        largest = max(variables, key=lambda k: len(str(variables[k]).encode()))
        raise UserError(f"the function's environment would be {size} bytes as Lambda measures it (its variables as "
                        f"JSON), over Lambda's limit of {LAMBDA_ENVIRONMENT_BYTES} bytes for all variables together; "
                        f"the largest is {largest} ({len(str(variables[largest]).encode())} bytes)"
                        + (f": {why}" if why else ""), where=where)
    return size


def ssm_tier(value: str, *, where: str) -> str:
    """The tier a parameter needs for ``value``: Standard up to 4 KB, Advanced up to 8 KB; more is refused."""
    size = len(value.encode())
    if size <= SSM_STANDARD_BYTES:
        return "Standard"
    if size <= SSM_ADVANCED_BYTES:
        return "Advanced"
    raise UserError(f"the mode document would be {size} bytes, over SSM's limit of {SSM_ADVANCED_BYTES} bytes for an "
                    f"Advanced parameter (Standard: {SSM_STANDARD_BYTES})", where=where)


def dynamodb_item_size(item: Mapping[str, Any]) -> int:
    """An item's size (DynamoDB JSON, as the low-level client sends it) by DynamoDB's own rules (DynamoDB developer
    guide, "DynamoDB item sizes and formats"): each attribute is its name's UTF-8 bytes plus its value's size."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":  # raw bytes count, not their base64
        return len(data) if isinstance(data, bytes | bytearray) else len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(_value_size({"B": b}) for b in data)
    # "A List or Map requires 3 bytes of overhead, regardless of its contents" and "each List or Map element
    # requires 1 additional byte"; a Map's element also counts its key like an attribute name.
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    raise ValueError(f"not a DynamoDB attribute value type: {kind}")


def _number_size(text: str) -> int:
    """"(1 byte per two significant digits) + (1 byte)", leading and trailing zeroes trimmed."""
    digits = str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0") or "0"
    if "E" in digits:  # normalize() may give 1E+3: only the significant digits count
        digits = digits.split("E")[0]
    return (len(digits) + 1) // 2 + 1


def check_dynamodb_item(item: Mapping[str, Any], *, where: str, what: str = "the ledger item") -> int:
    size = dynamodb_item_size(item)
    if size > DYNAMODB_ITEM_BYTES:
        raise UserError(f"{what} would be {size} bytes, over DynamoDB's item limit of {DYNAMODB_ITEM_BYTES} bytes "
                        "(400 KB, attribute names included)", where=where)
    return size
