"""`--output table`: what a command prints as data, drawn as tables (tabulate), as the AWS CLI's ``--output table``.

Built from the same data as ``--output json``, so a table never says more or less than the JSON; commands without
tabular output print text for ``table``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tabulate import tabulate

TABLE_FORMAT = "grid"  # ASCII, as the AWS CLI's tables
WRAP = 60  # long cells (a reason, the principal space) wrap at this many characters


def grid(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [["-" if cell is None else str(cell) for cell in row] for row in rows]
    return tabulate(cells, headers=list(headers), tablefmt=TABLE_FORMAT, disable_numparse=True,
                    maxcolwidths=WRAP if cells else None)


def facts(title: str, pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of named facts under a title line."""
    return f"{title}\n" + grid((), [(name, _cell(value)) for name, value in pairs])


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def verify_table(data: dict[str, Any]) -> str:
    """verify's --output json document as tables: the verdict and counts, every difference, what is unproven."""
    parts = [facts("verify", [
        ("verdict", data["verdict"]), ("principal classes", data["classes"]), ("tokens", data["tokens"]),
        ("routes", data["routes"]), ("Cedar decisions", data["decisions"]), ("requests", data["requests"]),
        ("seconds", data["seconds"]), ("space", data["coverage"]), ("acceptance written", data["acceptance"])])]
    if data["differences"]:
        parts.append(f"differences ({len(data['differences'])})\n" + grid(
            ["DIRECTION", "ROUTE", "VERB", "MODE", "PRINCIPAL", "EXAMPLES", "TOKENS", "WHY"],
            [(d["direction"], d["route"], d["verb"], d["mode"], d["principal_label"], _cell(d["examples"]),
              _cell(d["flows"]), d["why"]) for d in data["differences"]]))
    if data["token_mismatches"]:
        parts.append(f"tokens decided differently ({len(data['token_mismatches'])})\n" + grid(
            ["ROUTE", "VERB", "PRINCIPAL", "TOKEN", "TODAY", "AFTER"],
            [(m["route"], m["verb"], m["principal"], m["flow"], _cell(m["today"]), _cell(m["after"]))
             for m in data["token_mismatches"]]))
    if data["unproven_reasons"]:
        parts.append("unproven\n" + grid(["REASON"], [(reason,) for reason in data["unproven_reasons"]]))
    return "\n\n".join(parts)


def status_table(data: dict[str, Any]) -> str:
    """status's --output json document as tables: the ledger, SSM and fallback, then one row per endpoint."""
    last = data["last_change"]
    parts = [facts(str(data["api"]), [
        ("ledger", data["ledger"]), ("ledger version", data["ledger_version"]),
        ("last change", f"{last['action']} by {last['who'] or 'unknown'} at {last['at'] or 'unknown'}"),
        ("mode parameter", data["mode_parameter"]), ("SSM version", data["ssm_version"]),
        ("in sync", data["in_sync"]), ("drift", data["drift"] + data["fallback_drift"]),
        ("fallback", data["fallback"]), ("fallback version", data["fallback_version"]),
        ("repaired to", data["repaired_to"]), ("finalized", (data["finalized"] or {}).get("version")),
        ("evidence", data["evidence"])])]
    rows = []
    for route in data["routes"]:
        change = route["last_change"]
        ready = None if data["evidence"] is None else (
            "no evidence" if route["ready"] is None else "yes" if route["ready"] else
            "no: " + "; ".join(route["problems"]))
        rows.append((route["route"], route["mode"], route["ssm_mode"], route["fallback_mode"],
                     "-" if change is None else f"v{change['version']} {change['at']} {change['action']} by "
                                                f"{change['who'] or 'unknown'}", ready))
    parts.append(grid(["ROUTE", "MODE", "SSM", "FALLBACK", "LAST CHANGE", "READY"], rows))
    return "\n\n".join(parts)
