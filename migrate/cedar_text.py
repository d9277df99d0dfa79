"""Writing Cedar text safely: identifiers, string literals, entity references.

Cedar syntax (Cedar language reference, "Policy syntax" and "Schema"): type and namespace names are identifiers
``[_a-zA-Z][_a-zA-Z0-9]*`` that are not reserved words; an entity id is a string literal in which ``"`` and
``\\`` must be escaped (so ``|``, ``/``, ``{``, ``}``, spaces and any Unicode are fine as they are). Control
characters are written as escapes so that a policy never spans lines by accident.
"""

from __future__ import annotations

import re

# Cedar's reserved words may not be used as identifiers (Cedar language reference, "Grammar").
RESERVED = frozenset({"true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar", "principal",
                      "action", "resource", "context", "permit", "forbid", "when", "unless"})
_IDENTIFIER = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_NOT_IDENTIFIER_CHARS = re.compile(r"[^_a-zA-Z0-9]+")


def is_identifier(text: str) -> bool:
    return bool(_IDENTIFIER.match(text)) and text not in RESERVED


def namespace_for(api_name: str) -> str:
    """The Cedar namespace for an API: its name made a valid Cedar identifier.

    Rule (documented in the README): every run of characters outside ``[A-Za-z0-9_]`` becomes one ``_``;
    leading and trailing ``_`` are dropped; a name that is then empty, starts with a digit or is a reserved
    word gets the prefix ``Api_``. ``MyApi`` stays ``MyApi`` (as the AVP console writes it); ``Pet Store v2``
    becomes ``Pet_Store_v2``; ``2fa-service`` becomes ``Api_2fa_service``.
    """
    name = _NOT_IDENTIFIER_CHARS.sub("_", api_name).strip("_")
    if not name or name[0].isdigit() or name in RESERVED:
        name = f"Api_{name}" if name else "Api"
    return name


def string_literal(value: str) -> str:
    """A Cedar string literal for ``value``: quotes and backslashes escaped, control characters as escapes."""
    out = ['"']
    for char in value:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def entity(entity_type: str, entity_id: str) -> str:
    """``Type::"id"`` with the id escaped."""
    return f"{entity_type}::{string_literal(entity_id)}"


def annotation(key: str, value: str) -> str:
    if not is_identifier(key):
        raise ValueError(f"not a Cedar annotation key: {key!r}")
    return f"@{key}({string_literal(value)})"
