"""Which parts of a request's context a policy set can tell apart, so verify can drop the rest.

Cedar parses a request's context for every decision, and a token's scope set is most of it (a dozen strings cost
more than the decision itself). When every use of a set in the context, in every policy, is a membership test
against literal strings (``S.contains("a")``, ``S.containsAny(["a", "b"])``, ``S.containsAll(["a"])``), only
the set's members among those literals can change any decision:

* ``S.contains(l)``     holds iff ``l`` is in ``S``, iff ``l`` is in ``S ∩ L`` (``l`` is in ``L``);
* ``S.containsAny(A)``  holds iff ``A ∩ S`` is not empty, iff ``A ∩ (S ∩ L)`` is not empty (``A ⊆ L``);
* ``S.containsAll(A)``  holds iff ``A ⊆ S``, iff ``A ⊆ S ∩ L`` (``A ⊆ L``);

where ``L`` is every literal any such test names. So ``S`` may be replaced by ``S ∩ L`` without changing any
decision, and tokens that differ only in members no policy names share one request. Any other use of the set,
or of a record holding it (``==``, ``isEmpty()``, ``context.token`` as a value, ...), keeps the set whole.
``has`` tests are unaffected (the attribute stays, possibly as an empty set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Path = tuple[str, ...]  # attribute names below ``context``

_MEMBERSHIP = ("contains", "containsAny", "containsAll")


def _context_path(node: Any) -> Path | None:
    """The attribute path of ``context.a.b...`` (``()`` for ``context`` itself), or None if not such a chain."""
    names: list[str] = []
    while isinstance(node, dict) and len(node) == 1:
        if "." in node and isinstance(node["."], dict):
            names.append(node["."].get("attr", ""))
            node = node["."].get("left")
        elif node.get("Var") == "context":
            return tuple(reversed(names))
        else:
            return None
    return None


def _string_literals(node: Any) -> list[str] | None:
    if isinstance(node, dict) and len(node) == 1:
        if isinstance(node.get("Value"), str):
            return [node["Value"]]
        if isinstance(node.get("Set"), list):
            out = []
            for item in node["Set"]:
                if not (isinstance(item, dict) and len(item) == 1 and isinstance(item.get("Value"), str)):
                    return None
                out.append(item["Value"])
            return out
    return None


class _Uses:
    def __init__(self) -> None:
        self.literals: dict[Path, set[str]] = {}
        self.other: set[Path] = set()

    def walk(self, node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                self.walk(item)
            return
        if not isinstance(node, dict):
            return
        path = _context_path(node)
        if path is not None:
            self.other.add(path)  # a context value used as a value: kept whole
            return
        if len(node) == 1:
            (op, body), = node.items()
            if op in _MEMBERSHIP and isinstance(body, dict):
                left, right = _context_path(body.get("left")), _string_literals(body.get("right"))
                if left is not None and right is not None:
                    self.literals.setdefault(left, set()).update(right)
                    return
            if op == "has" and isinstance(body, dict) and _context_path(body.get("left")) is not None:
                return  # presence of an attribute: projection keeps every attribute
        for value in node.values():
            self.walk(value)


class ContextProjection:
    """The sets in the context that may be cut down to the literals the policies test them against."""

    def __init__(self, conditions: Iterable[Any]) -> None:
        uses = _Uses()
        for condition in conditions:
            uses.walk(condition)
        self.literals: dict[Path, frozenset[str]] = {
            path: frozenset(names) for path, names in uses.literals.items()
            if path and not any(_related(path, other) for other in uses.other)}

    def apply(self, context: dict[str, Any]) -> dict[str, Any]:
        """The context with each projectable set cut down to its members some policy names (sorted)."""
        if not self.literals or not context:
            return context
        out = context
        for path, names in self.literals.items():
            out = _replace(out, path, names)
        return out


def _related(path: Path, other: Path) -> bool:
    shorter = min(len(path), len(other))
    return path[:shorter] == other[:shorter]


def _replace(record: Any, path: Path, names: frozenset[str]) -> Any:
    if not isinstance(record, dict) or path[0] not in record:
        return record
    value = record[path[0]]
    if len(path) > 1:
        new = _replace(value, path[1:], names)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        new = sorted(set(value) & names)
    else:
        return record
    return record if new is value else {**record, path[0]: new}
