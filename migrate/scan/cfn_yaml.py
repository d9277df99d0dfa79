"""Every YAML and JSON document avp-migrate reads goes through here: CloudFormation short forms, no duplicate keys.

* CloudFormation's short-form intrinsics (``!Ref X``, ``!GetAtt A.B``, ``!Sub ...``, ``!If [...]``) become their
  long forms (``{"Ref": "X"}``, ``{"Fn::GetAtt": ["A", "B"]}``, ...), as CloudFormation itself reads them
  ("Intrinsic function reference", CloudFormation user guide: "Fn::GetAtt ... short form ``!GetAtt
  logicalNameOfResource.attributeName``"). A plain ``yaml.safe_load`` refuses these tags outright, and SAM output
  and API exports cut out of templates carry them.
* A mapping that repeats a key is refused, naming the line of the second occurrence: ``yaml.safe_load`` keeps the
  last value silently, so an export with ``/pets`` twice would lose the first one's methods. JSON objects are
  held to the same rule (``json.loads`` also keeps the last).
* Values stay strings where CloudFormation keeps them strings: the YAML 1.1 timestamp resolver is dropped, so
  ``AWSTemplateFormatVersion: 2010-09-09`` stays ``"2010-09-09"``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from migrate.errors import UserError

# The pure-Python parser, not CSafeLoader: its error messages are the same whichever way PyYAML was built.
_Base = yaml.SafeLoader

# Short form -> long form. Fn::GetAtt's scalar short form "A.B" splits at the first dot (the user guide's form).
_SHORT_FORMS = {
    "Ref": "Ref", "Condition": "Condition", "GetAtt": "Fn::GetAtt", "Sub": "Fn::Sub", "Join": "Fn::Join",
    "Select": "Fn::Select", "Split": "Fn::Split", "FindInMap": "Fn::FindInMap", "ImportValue": "Fn::ImportValue",
    "GetAZs": "Fn::GetAZs", "Base64": "Fn::Base64", "Cidr": "Fn::Cidr", "If": "Fn::If", "Equals": "Fn::Equals",
    "And": "Fn::And", "Or": "Fn::Or", "Not": "Fn::Not", "Transform": "Fn::Transform", "Length": "Fn::Length",
    "ToJsonString": "Fn::ToJsonString", "ForEach": "Fn::ForEach",
}


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping repeats a key; ``problem_mark`` is the second occurrence."""


class _Loader(_Base):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<" merges are overridden by the mapping's own keys, by design: not duplicates
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base constructor reports it
            if first is not None:
                raise DuplicateKeyError(None, None, f"duplicate key {key!r} (first at line {first.line + 1})",
                                        key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def _short_form(loader: _Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SHORT_FORMS.get(tag_suffix)
    if name is None:
        raise yaml.constructor.ConstructorError(None, None, f"unknown tag '!{tag_suffix}'", node.start_mark)
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _short_form)
# Drop the timestamp resolver (a copy per loader class, so yaml.SafeLoader itself is untouched).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}


def load_yaml(text: str, where: str) -> Any:
    """One YAML document; :class:`UserError` naming the line (and for a duplicate key, both lines)."""
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader derives from SafeLoader: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = _one_line(exc.problem or exc.context or "syntax error")
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise UserError(f"invalid YAML{at}: {problem}", where=where) from None
    except yaml.YAMLError as exc:
        raise UserError(f"invalid YAML: {_one_line(str(exc))}", where=where) from None


class _DuplicateJsonKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateJsonKey(key)
        result[key] = value
    return result


def load_json(text: str, where: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateJsonKey as exc:
        # json gives no position to a hook; the key names the spot well enough to find it.
        raise UserError(f"invalid JSON: duplicate key {exc.args[0]!r} in one object", where=where) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=where) from None


def load_document(text: str, where: str) -> Any:
    """JSON or YAML, told apart by content (files are saved under any name)."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return load_json(text, where)
        except UserError as json_error:
            if "duplicate key" in str(json_error):
                raise
            # A YAML flow mapping also opens with "{"; only if YAML fails too is it broken JSON.
            try:
                return load_yaml(text, where)
            except UserError:
                raise json_error from None
    return load_yaml(text, where)


def read_text(path: Any, where: str, what: str) -> str:
    """A file as text (UTF-8, a byte-order mark dropped), or a one-line UserError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{what} not found", where=where) from None
    except IsADirectoryError:
        raise UserError(f"expected a {what} file, found a directory", where=where) from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror}", where=where) from None
    try:
        # utf-8-sig: editors on Windows prepend a byte-order mark, which JSON and YAML parsers reject.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})", where=where) from None


def _one_line(text: str) -> str:
    return " ".join(text.split())
