"""Work out a CloudFormation template's values as far as the file and ``--parameter`` allow, and no further.

What the resolver knows:

* ``--parameter KEY=VALUE``: KEY is a template parameter, a pseudo parameter (``AWS::Region``,
  ``AWS::AccountId``, ``AWS::StackName``, ``AWS::Partition``), a resource's logical id (its ``Ref``: a user pool's
  id, a client's id), ``LogicalId.Attribute`` (a ``Fn::GetAtt``), or another stack's export name (``Fn::ImportValue``).
* A parameter's ``Default`` when no value is given, reported ("its Default is used").
* The template's ``Mappings`` (``Fn::FindInMap``) and ``Conditions`` (``Fn::If``, ``Fn::Equals``, ``Fn::And``,
  ``Fn::Or``, ``Fn::Not``) when their inputs are known.
* ``Ref`` of an ``AWS::Cognito::UserPoolResourceServer`` is its ``Identifier``: the AWS CDK builds scope names as
  ``${server.userPoolResourceServerId}/${scope}`` from that ``Ref`` (aws-cdk-lib aws-cognito, ``OAuthScope.
  resourceServer``), and Cognito names a scope ``<identifier>/<scope>``. ``Ref`` of an
  ``AWS::Cognito::UserPoolGroup`` with a ``GroupName`` is that name.
* A user pool's ``Fn::GetAtt Pool.Arn`` (or the ``Fn::Sub``/``Fn::Join`` that spells its ARN around
  ``${Pool}``) stays tied to the pool's logical id (``Deferred.ref``), so that an authorizer naming it is linked
  to the pool defined in the same template even though its ARN only exists after deployment.

Everything else becomes a :class:`Deferred` (its text names what it waits for); the parameters and imports that
lack a value are reported once each, by name. Nothing is guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from migrate.scan.deferred import Deferred, is_intrinsic, render
from migrate.scan.shape import mapping

NOVALUE = object()  # AWS::NoValue: the property is removed
PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::StackId",
          "AWS::NotificationARNs")
USER_POOL = "AWS::Cognito::UserPool"
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_POOL_ARN_TEXT = re.compile(r"^arn:[^:]*:cognito-idp:[^:]*:[^:]*:userpool/\$\{([A-Za-z0-9]+)\}$")


class Resolver:
    def __init__(self, template: dict[str, Any], where: str, given: Mapping[str, str],
                 imports: Mapping[str, str] | None = None) -> None:
        self.where = where
        self.imports = dict(imports or {})  # other templates' exports read in the same scan: name -> value
        self.resources: dict[str, Any] = mapping(template.get("Resources"), "Resources", where)
        self.declared: dict[str, Any] = mapping(template.get("Parameters"), "Parameters", where)
        self.mappings: dict[str, Any] = mapping(template.get("Mappings"), "Mappings", where)
        self.conditions: dict[str, Any] = mapping(template.get("Conditions"), "Conditions", where)
        self.given = dict(given)
        self.used: set[str] = set()  # --parameter keys this template used
        self.notes: list[str] = []  # deploy-time values reported, once each
        self._evaluating: set[str] = set()

    # --- reporting ---

    def note(self, text: str) -> None:
        line = f"{self.where}: {text}"
        if line not in self.notes:
            self.notes.append(line)

    def type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        kind = resource.get("Type") if isinstance(resource, dict) else None
        return kind if isinstance(kind, str) else None

    def properties(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources.get(logical_id)
        props = resource.get("Properties") if isinstance(resource, dict) else None
        return props if isinstance(props, dict) else {}

    def lookup(self, key: str) -> str | None:
        if key in self.given:
            self.used.add(key)
            return self.given[key]
        return None

    # --- values ---

    def resolve(self, value: Any) -> Any:
        if isinstance(value, Deferred):
            return value
        if isinstance(value, dict):
            if is_intrinsic(value):
                return self.intrinsic(value)
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NOVALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NOVALUE]
        return value

    def intrinsic(self, value: dict[str, Any]) -> Any:
        name, arg = next(iter(value.items()))
        handler = {
            "Ref": self.ref, "Fn::GetAtt": self.get_att, "Fn::Sub": self.sub, "Fn::Join": self.join,
            "Fn::Select": self.select, "Fn::Split": self.split, "Fn::FindInMap": self.find_in_map,
            "Fn::ImportValue": self.import_value, "Fn::If": self.if_,
        }.get(name)
        if handler is None:
            return Deferred(render(value))
        return handler(arg, value)

    def ref(self, name: Any, whole: Any = None) -> Any:
        if not isinstance(name, str):
            return Deferred(render({"Ref": name}))
        if name == "AWS::NoValue":
            return NOVALUE
        given = self.lookup(name)
        if given is not None:
            return given
        if name in PSEUDO:
            # Not noted here: integration URIs are full of these; a reader that needs the value reports it.
            return Deferred("${" + name + "}", ref=(name, None))
        if name in self.declared:
            return self.parameter(name)
        kind = self.type_of(name)
        if kind is None:
            self.note(f"Ref {name}: no parameter or resource of that name in the template")
            return Deferred("${" + name + "}")
        props = self.properties(name)
        if kind == "AWS::Cognito::UserPoolResourceServer" and "Identifier" in props:
            return self.resolve(props["Identifier"])
        if kind == "AWS::Cognito::UserPoolGroup" and "GroupName" in props:
            return self.resolve(props["GroupName"])
        return Deferred("${" + name + "}", ref=(name, None))

    def parameter(self, name: str) -> Any:
        declared = self.declared.get(name)
        default = declared.get("Default") if isinstance(declared, dict) else None
        if default is None:
            self.note(f"parameter {name} has no value; give it with --parameter {name}=VALUE")
            return Deferred("${" + name + "}", ref=(name, None))
        kind = declared.get("Type", "String") if isinstance(declared, dict) else "String"
        self.note(f"parameter {name}: its Default {default!r} is used; give --parameter {name}=VALUE if the stack "
                  f"is deployed with another value")
        if isinstance(kind, str) and kind.startswith(("CommaDelimitedList", "List<")) and isinstance(default, str):
            return [part.strip() for part in default.split(",")]
        return default if isinstance(default, str) else str(default)

    def get_att(self, arg: Any, whole: Any = None) -> Any:
        parts = arg.split(".", 1) if isinstance(arg, str) else arg
        if not (isinstance(parts, list) and len(parts) == 2):
            return Deferred(render({"Fn::GetAtt": arg}))
        logical, attribute = self.resolve(parts[0]), self.resolve(parts[1])
        if not (isinstance(logical, str) and isinstance(attribute, str)):
            return Deferred(render({"Fn::GetAtt": arg}))
        given = self.lookup(f"{logical}.{attribute}")
        if given is not None:
            return given
        if self.type_of(logical) == USER_POOL and attribute == "Arn":
            arn = self.pool_arn(logical)
            if arn is not None:
                return arn
        return Deferred("${" + f"{logical}.{attribute}" + "}", ref=(logical, attribute))

    def pool_arn(self, logical: str) -> str | None:
        """A template pool's ARN when its id and account are given (the region: given, or the id's prefix)."""
        pool_id = self.lookup(logical)
        account = self.lookup("AWS::AccountId")
        if pool_id is None or account is None:
            return None
        region = self.lookup("AWS::Region") or pool_id.split("_", 1)[0]
        partition = self.lookup("AWS::Partition") or "aws"
        return f"arn:{partition}:cognito-idp:{region}:{account}:userpool/{pool_id}"

    def sub(self, arg: Any, whole: Any = None) -> Any:
        if isinstance(arg, str):
            template, variables = arg, {}
        elif isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
            template, variables = arg[0], arg[1]
        else:
            return Deferred(render({"Fn::Sub": arg}))
        parts: list[Any] = []
        position = 0
        for match in _SUB_VAR.finditer(template):
            parts.append(template[position:match.start()])
            position = match.end()
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the text ${Literal}
                parts.append("${" + name[1:] + "}")
            elif name in variables:
                parts.append(self.resolve(variables[name]))
            elif "." in name and not name.startswith("AWS::"):
                parts.append(self.get_att(name))
            else:
                parts.append(self.ref(name))
        parts.append(template[position:])
        return self.combine(parts)

    def combine(self, parts: list[Any]) -> Any:
        """Concatenate; a Deferred part makes the whole Deferred (a pool ARN spelled out keeps its pool)."""
        texts = []
        for part in parts:
            if part is NOVALUE:
                continue
            if not isinstance(part, str):
                return Deferred("".join(render(p) for p in parts if p is not NOVALUE))
            texts.append(part)
        text = "".join(texts)
        if not any(isinstance(p, Deferred) for p in parts):
            return text
        match = _POOL_ARN_TEXT.match(text)
        if match and self.type_of(match.group(1)) == USER_POOL:
            return Deferred(text, ref=(match.group(1), "Arn"))
        return Deferred(text)

    def join(self, arg: Any, whole: Any = None) -> Any:
        if not (isinstance(arg, list) and len(arg) == 2):
            return Deferred(render({"Fn::Join": arg}))
        delimiter, items = self.resolve(arg[0]), self.resolve(arg[1])
        if not isinstance(delimiter, str) or not isinstance(items, list) or isinstance(items, Deferred):
            return Deferred(render({"Fn::Join": arg}))
        parts: list[Any] = []
        for i, item in enumerate(items):
            if i:
                parts.append(delimiter)
            parts.append(item)
        return self.combine(parts)

    def select(self, arg: Any, whole: Any = None) -> Any:
        if isinstance(arg, list) and len(arg) == 2:
            index, items = self.resolve(arg[0]), self.resolve(arg[1])
            try:
                position = int(index)
            except (TypeError, ValueError):
                position = None
            if position is not None and isinstance(items, list) and 0 <= position < len(items):
                return items[position]
        return Deferred(render({"Fn::Select": arg}))

    def split(self, arg: Any, whole: Any = None) -> Any:
        if isinstance(arg, list) and len(arg) == 2:
            delimiter, text = self.resolve(arg[0]), self.resolve(arg[1])
            if isinstance(delimiter, str) and isinstance(text, str) and not isinstance(text, Deferred):
                return text.split(delimiter)
        return Deferred(render({"Fn::Split": arg}))

    def find_in_map(self, arg: Any, whole: Any = None) -> Any:
        if isinstance(arg, list) and len(arg) >= 3:
            keys = [self.resolve(k) for k in arg[:3]]
            if all(isinstance(k, str) and not isinstance(k, Deferred) for k in keys):
                value: Any = self.mappings
                for key in keys:
                    value = value.get(key) if isinstance(value, dict) else None
                if value is not None:
                    return self.resolve(value)
        return Deferred(render({"Fn::FindInMap": arg}))

    def import_value(self, arg: Any, whole: Any = None) -> Any:
        name = self.resolve(arg)
        if isinstance(name, str) and not isinstance(name, Deferred):
            given = self.lookup(name)
            if given is not None:
                return given
            if name in self.imports:
                return self.imports[name]
            self.note(f"Fn::ImportValue {name!r} is another stack's export; give it with --parameter {name}=VALUE "
                      "(or read the exporting template too)")
        return Deferred(render({"Fn::ImportValue": name if isinstance(name, str) else arg}))

    def if_(self, arg: Any, whole: Any = None) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str)):
            return Deferred(render({"Fn::If": arg}))
        chosen = self.condition(arg[0])
        if chosen is None:
            return Deferred(render({"Fn::If": arg}))
        return self.resolve(arg[1] if chosen else arg[2])

    # --- conditions: True, False, or None (depends on what is only known at deploy time) ---

    def condition(self, name: str) -> bool | None:
        if name not in self.conditions:
            self.note(f"condition {name} is not defined in the template")
            return None
        if name in self._evaluating:
            self.note(f"condition {name} refers to itself")
            return None
        self._evaluating.add(name)
        try:
            result = self.evaluate(self.conditions[name])
        finally:
            self._evaluating.discard(name)
        if result is None:
            self.note(f"condition {name} depends on values only known at deploy time; give them with --parameter")
        return result

    def evaluate(self, expression: Any) -> bool | None:
        if not is_intrinsic(expression):
            return None
        name, arg = next(iter(expression.items()))
        if name == "Condition" and isinstance(arg, str):
            return self.condition(arg)
        if name == "Fn::Equals" and isinstance(arg, list) and len(arg) == 2:
            left, right = self.resolve(arg[0]), self.resolve(arg[1])
            if isinstance(left, Deferred) or isinstance(right, Deferred) or left is NOVALUE or right is NOVALUE:
                return None
            return str(left) == str(right)
        if name in {"Fn::And", "Fn::Or"} and isinstance(arg, list):
            values = [self.evaluate(item) for item in arg]
            if name == "Fn::And":
                return False if False in values else (None if None in values else True)
            return True if True in values else (None if None in values else False)
        if name == "Fn::Not" and isinstance(arg, list) and len(arg) == 1:
            value = self.evaluate(arg[0])
            return None if value is None else not value
        return None

    def resource_present(self, logical_id: str) -> bool:
        """False when the resource's Condition is false; a condition that cannot be decided is reported and the
        resource read as present (it is in the template, and may well be deployed)."""
        resource = self.resources.get(logical_id)
        name = resource.get("Condition") if isinstance(resource, dict) else None
        if not isinstance(name, str):
            return True
        value = self.condition(name)
        if value is None:
            self.note(f"{logical_id} exists only if condition {name} holds, which depends on deploy-time values: "
                      "read as present")
            return True
        return value
