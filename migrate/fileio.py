"""File output that is never half-written: write to a temporary sibling, then rename over the target."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from migrate.errors import UserError


def pretty_json(value: Any) -> str:
    """``value`` as indented JSON text with a final newline, as ``json.dumps(value, indent=2, ensure_ascii=False)``
    writes it (keys in order, UTF-8 kept), but encoded by msgspec in C: with an indent, the standard library falls
    back to its pure-Python encoder, which spent 6 s of a 10,000-user plan writing plan.json and report.json."""
    return msgspec.json.format(msgspec.json.encode(value), indent=2).decode("utf-8") + "\n"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise UserError(f"directory does not exist: {directory}", where=str(target))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike[str], *, what: str = "file") -> Any:
    """Read a JSON file or raise a one-line UserError naming the file (and line/column for syntax errors)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise UserError(f"{what} not found", where=str(path)) from None
    except IsADirectoryError:
        raise UserError(f"expected a {what}, found a directory", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} is not UTF-8 text ({exc.reason})", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror}", where=str(path)) from None
