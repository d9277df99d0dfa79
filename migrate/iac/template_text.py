"""A team's template as text to edit: load it keeping everything a reviewer would see, dump it the same way.

* YAML goes through ruamel.yaml's round-trip mode, which keeps comments, key order, quoting, flow/block style and
  CloudFormation's short-form tags (``!Ref X`` stays ``!Ref X``: an unknown tag is kept on the node it marks); PyYAML
  keeps none of these. The indentation is not recorded by ruamel, so the file's own is found by trying the usual
  layouts and keeping the one that dumps the untouched file back byte for byte (when none does, the diff would
  show unchanged lines: the caller is told, see :attr:`EditableTemplate.exact`).
* JSON keeps key order (``dict`` does) and the file's indentation (read from its first indented line).

New values are written in the file's own idiom: short-form tags in YAML, ``{"Fn::...": ...}`` in JSON.
"""

from __future__ import annotations

import copy
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tag import Tag

from migrate.errors import UserError

_FIRST_NESTED = re.compile(r"^[^\s#][^\n]*:\s*\n(?:\s*(?:#[^\n]*)?\n)*( +)[^\s#-]", re.M)
_JSON_INDENT = re.compile(r"^\{\s*\n([ \t]+)\S", re.S)


@dataclass
class EditableTemplate:
    text: str
    is_yaml: bool
    document: Any
    exact: bool  # the untouched document dumps back to the file's text
    _layout: tuple[int, int, int] | None = None
    _json_indent: int | str | None = None

    @classmethod
    def load(cls, text: str, where: str) -> EditableTemplate:
        if text.lstrip().startswith("{"):
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UserError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                                where=where) from None
            found = _JSON_INDENT.match(text)
            indent: int | str | None = None
            if found:
                indent = len(found.group(1)) if set(found.group(1)) == {" "} else found.group(1)
            template = cls(text=text, is_yaml=False, document=document, exact=False, _json_indent=indent)
            template.exact = template.dump() == text
            return template
        best: tuple[int, tuple[int, int, int], Any] | None = None
        for layout in _layouts(text):
            try:
                document = _yaml(layout).load(text)
            except YAMLError as exc:
                raise UserError(f"invalid YAML: {' '.join(str(exc).split())}", where=where) from None
            dumped = _dump_yaml(document, layout)
            distance = sum(a != b for a, b in zip(dumped.splitlines(), text.splitlines(), strict=False)) \
                + abs(len(dumped.splitlines()) - len(text.splitlines()))
            if best is None or distance < best[0]:
                best = (distance, layout, document)
            if distance == 0:
                break
        assert best is not None
        return cls(text=text, is_yaml=True, document=best[2], exact=best[0] == 0, _layout=best[1])

    def dump(self) -> str:
        if self.is_yaml:
            assert self._layout is not None
            return _dump_yaml(self.document, self._layout)
        text = json.dumps(self.document, indent=self._json_indent, ensure_ascii=False)
        return text + "\n" if self.text.endswith("\n") else text

    # --- new values, in the file's idiom ---

    def mapping(self, items: dict[str, Any] | None = None, *, flow: bool = False) -> Any:
        if not self.is_yaml:
            return dict(items or {})
        result = CommentedMap(items or {})
        if flow:
            result.fa.set_flow_style()
        return result

    def sequence(self, items: list[Any], *, flow: bool = True) -> Any:
        if not self.is_yaml:
            return list(items)
        result = CommentedSeq(items)
        if flow:
            result.fa.set_flow_style()
        return result

    def ref(self, logical_id: str) -> Any:
        return TaggedScalar(logical_id, tag="!Ref") if self.is_yaml else {"Ref": logical_id}

    def import_value(self, name: str) -> Any:
        return TaggedScalar(name, tag="!ImportValue") if self.is_yaml else {"Fn::ImportValue": name}

    def sub(self, text: str, variables: dict[str, Any] | None = None) -> Any:
        if not variables:
            return TaggedScalar(text, tag="!Sub") if self.is_yaml else {"Fn::Sub": text}
        if not self.is_yaml:
            return {"Fn::Sub": [text, dict(variables)]}
        seq = CommentedSeq([text, CommentedMap(variables)])
        seq.yaml_set_ctag(Tag(suffix="!Sub"))
        return seq

    @staticmethod
    def copy(node: Any) -> Any:
        return copy.deepcopy(node)


def _layouts(text: str) -> list[tuple[int, int, int]]:
    """(mapping indent, sequence indent, dash offset) to try, the file's own mapping indent first: for each, the
    dash flush with its key ("key:\n- a"), indented like a key ("key:\n  - a") or by 2 less."""
    found = _FIRST_NESTED.search(text)
    widths = [len(found.group(1))] if found else []
    layouts: list[tuple[int, int, int]] = []
    for width in [*widths, 2, 4]:
        for layout in ((width, width + 2, width), (width, width, 0), (width, width, max(width - 2, 0))):
            if layout not in layouts:
                layouts.append(layout)
    return layouts


def _yaml(layout: tuple[int, int, int]) -> YAML:
    yaml = YAML()  # round-trip: comments, order, styles, tags kept
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never re-wrap a long line the file has
    yaml.indent(mapping=layout[0], sequence=layout[1], offset=layout[2])
    return yaml


def _dump_yaml(document: Any, layout: tuple[int, int, int]) -> str:
    out = io.StringIO()
    _yaml(layout).dump(document, out)
    return out.getvalue()
