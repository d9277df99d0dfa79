"""A small writer of HCL (Terraform's native syntax) that produces text ``terraform fmt`` leaves unchanged.

Only what the generated module needs: attributes, blocks, comments, and values (strings, numbers, booleans, null,
lists, objects, raw expressions). ``terraform fmt`` aligns the ``=`` of consecutive single-line attributes (one
space past the longest name); a blank line, a comment line, a block, or an attribute whose value spans lines ends
the run (hclwrite's format.go: a line whose value opens more brackets than it closes has no "assign" cell).
The tests run ``terraform fmt -check`` on every generated file.

Strings: HCL quoted templates interpolate ``${`` and ``%{``; a literal one is written ``$${`` / ``%%{`` (HCL native
syntax specification, "Template Literals"). Escapes are those HCL knows (``\\n``, ``\\r``, ``\\t``, ``\\"``,
``\\\\``, ``\\uNNNN``); JSON's ``\\b`` and ``\\f`` are not among them, so other control characters are written
``\\uNNNN``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

INDENT = "  "
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Expr:
    """A raw HCL expression, written as is (a reference, a function call, a template the module means)."""

    text: str


@dataclass(frozen=True)
class Attr:
    name: str
    value: Any


@dataclass(frozen=True)
class Comment:
    text: str  # one or more lines, each written as "# ..."


@dataclass(frozen=True)
class Blank:
    pass


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...] = ()
    body: list[Any] = field(default_factory=list)


BLANK = Blank()


def string(text: str) -> str:
    """``text`` as an HCL quoted string whose value is exactly ``text`` (nothing interpolated)."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    # "$${" is a literal "${" and "%%{" a literal "%{"; any other "$" or "%" is itself.
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else string(name)


def value(item: Any, indent: int = 0) -> str:
    """An expression for ``item``; continuation lines are indented for a value that starts at ``indent``."""
    if isinstance(item, Expr):
        return item.text
    if isinstance(item, bool):
        return "true" if item else "false"
    if item is None:
        return "null"
    if isinstance(item, int | float):
        return repr(item)
    if isinstance(item, str):
        return string(item)
    pad = INDENT * indent
    if isinstance(item, list | tuple):
        if not any(isinstance(i, dict | list | tuple) for i in item):
            return "[" + ", ".join(value(i) for i in item) + "]"
        lines = [f"{pad}{INDENT}{value(i, indent + 1)}," for i in item]
        return "[\n" + "\n".join(lines) + f"\n{pad}]"
    if isinstance(item, dict):
        if not item:
            return "{}"
        inner = _aligned([Attr(key(k), v) for k, v in item.items()], indent + 1)
        return "{\n" + "\n".join(inner) + f"\n{pad}}}"
    raise TypeError(f"no HCL form for {type(item).__name__}")


def body(items: list[Any], indent: int = 0) -> list[str]:
    return _aligned(items, indent)


def _aligned(items: list[Any], indent: int) -> list[str]:
    pad = INDENT * indent
    lines: list[str] = []
    run: list[tuple[str, str]] = []  # consecutive single-line attributes: aligned together

    def flush() -> None:
        width = max((len(name) for name, _ in run), default=0)
        lines.extend(f"{pad}{name.ljust(width)} = {text}" for name, text in run)
        run.clear()

    for item in items:
        if isinstance(item, Attr):
            text = value(item.value, indent)
            if "\n" in text:
                flush()
                lines.append(f"{pad}{item.name} = {text}")
            else:
                run.append((item.name, text))
            continue
        flush()
        if isinstance(item, Blank):
            lines.append("")
        elif isinstance(item, Comment):
            lines.extend(f"{pad}# {line}".rstrip() for line in item.text.splitlines())
        elif isinstance(item, Block):
            header = " ".join([item.type, *(string(label) for label in item.labels)])
            if item.body:
                lines.append(f"{pad}{header} {{")
                lines.extend(_aligned(item.body, indent + 1))
                lines.append(f"{pad}}}")
            else:
                lines.append(f"{pad}{header} {{}}")
        else:
            raise TypeError(f"not an HCL body item: {type(item).__name__}")
    flush()
    return lines


def document(items: list[Any]) -> str:
    return "\n".join(body(items)).rstrip("\n") + "\n"
