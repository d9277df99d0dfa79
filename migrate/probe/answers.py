"""What a pre-token handler answered, reduced to what Cognito does with it.

A handler's response is compared with what our rules would answer, item by item. An *item* is one thing the
response asks of Cognito: add or suppress one scope, add one claim with one value or suppress one claim in one
token, or replace the groups. Both sides are reduced the same way, and the same way Cognito reads a response
(Cognito developer guide, "Pre token generation Lambda trigger",
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html):

* ``V1_0`` events are answered in ``response.claimsOverrideDetails`` (ID-token claims and the groups);
  ``V2_0``/``V3_0`` events in ``response.claimsAndScopeOverrideDetails`` (``idTokenGeneration``,
  ``accessTokenGeneration`` with scopes, ``groupOverrideDetails``). The other shape is not read.
* A claim or scope both added and suppressed is suppressed: only the suppression is kept.
* A client-credentials request has no ID token and no groups: those parts of its answer are dropped.
* A group override present but empty or null removes the groups; an override that repeats the request's own
  groups (and roles) changes nothing, so it is no item.
* A response Cognito would refuse (a claim it forbids changing, a scope with whitespace, not an object) fails
  the sign-in: it is an error, not a set of items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pretoken_lambda.handler import V1_DETAILS, V2_DETAILS, build_response_details, is_v1_event, subject_from_event
from pretoken_lambda.rules import (
    CLIENT_CREDENTIALS,
    PROTECTED_CLAIM_PREFIXES,
    PROTECTED_CLAIMS,
    RuleSet,
    evaluate,
)

# Item kinds. An item is a tuple: (kind, name) or (kind, name, value as canonical JSON) for claims, and
# (OVERRIDE_GROUPS, canonical JSON of the override) for the groups.
ADD_SCOPE = "add_scope"
SUPPRESS_SCOPE = "suppress_scope"
ID_CLAIM = "id_claim"
ID_SUPPRESS = "id_suppress"
ACCESS_CLAIM = "access_claim"
ACCESS_SUPPRESS = "access_suppress"
OVERRIDE_GROUPS = "override_groups"

Item = tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """One answer of a handler: the items it asks of Cognito, or the error that fails the sign-in."""

    items: frozenset[Item] = frozenset()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def canonical(value: Any) -> str:
    """A JSON value as one comparable string (object keys sorted)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _mapping(value: Any) -> Mapping[str, Any]:
    # Cognito sends (and handlers return) absent objects as null, {} or []: all mean "nothing".
    return value if isinstance(value, Mapping) else {}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value),
                                                                                      type(value).__name__)


def _claim_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name:
        return f"claim name {name!r} is not a non-empty string"
    if name in PROTECTED_CLAIMS or name.startswith(PROTECTED_CLAIM_PREFIXES):
        return f"claim {name!r} cannot be added, overridden or suppressed"
    return None


def _claims(part: Mapping[str, Any], add_kind: str, suppress_kind: str, where: str, items: set[Item],
            problems: list[str]) -> None:
    add = part.get("claimsToAddOrOverride")
    suppress = part.get("claimsToSuppress")
    suppressed: set[str] = set()
    if suppress is not None and not isinstance(suppress, list):
        problems.append(f"{where}.claimsToSuppress is {_kind(suppress)}, not a list")
    for name in suppress if isinstance(suppress, list) else ():
        problem = _claim_problem(name)
        if problem:
            problems.append(f"{where}.claimsToSuppress: {problem}")
            continue
        suppressed.add(name)
        items.add((suppress_kind, name))
    if add is not None and not isinstance(add, Mapping):
        problems.append(f"{where}.claimsToAddOrOverride is {_kind(add)}, not an object")
    for name, value in (add.items() if isinstance(add, Mapping) else ()):
        problem = _claim_problem(name)
        if problem:
            problems.append(f"{where}.claimsToAddOrOverride: {problem}")
        elif name not in suppressed:  # a claim both suppressed and replaced is suppressed
            items.add((add_kind, name, canonical(value)))


def _scopes(part: Mapping[str, Any], items: set[Item], problems: list[str]) -> None:
    lists: dict[str, list[str]] = {}
    for key in ("scopesToAdd", "scopesToSuppress"):
        raw = part.get(key)
        if raw is not None and not isinstance(raw, list):
            problems.append(f"accessTokenGeneration.{key} is {_kind(raw)}, not a list")
            raw = None
        lists[key] = []
        for scope in raw or ():
            if not isinstance(scope, str) or not scope or any(c.isspace() for c in scope):
                problems.append(f"accessTokenGeneration.{key}: invalid scope {scope!r} (scopes are non-empty "
                                "strings without whitespace)")
            else:
                lists[key].append(scope)
    suppressed = set(lists["scopesToSuppress"])
    items.update((SUPPRESS_SCOPE, s) for s in suppressed)
    items.update((ADD_SCOPE, s) for s in lists["scopesToAdd"] if s not in suppressed)


def _request_group_configuration(event: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str], Any]:
    configuration = _mapping(event.get("request")).get("groupConfiguration")
    if isinstance(configuration, list):  # the guide's V1_0 syntax shows a one-element list
        configuration = next((c for c in configuration if isinstance(c, Mapping)), None)
    configuration = _mapping(configuration)
    return (frozenset(configuration.get("groupsToOverride") or ()), frozenset(configuration.get("iamRolesToOverride")
                                                                              or ()),
            configuration.get("preferredRole"))


def _override(details: Mapping[str, Any], event: Mapping[str, Any], items: set[Item], problems: list[str]) -> None:
    if "groupOverrideDetails" not in details:
        return
    raw = details["groupOverrideDetails"]
    if raw is not None and not isinstance(raw, Mapping | list):
        problems.append(f"groupOverrideDetails is {_kind(raw)}, not an object")
        return
    raw = _mapping(raw)
    groups, roles, preferred = raw.get("groupsToOverride") or [], raw.get("iamRolesToOverride") or [], \
        raw.get("preferredRole")
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        problems.append("groupOverrideDetails.groupsToOverride is not a list of strings")
        return
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        problems.append("groupOverrideDetails.iamRolesToOverride is not a list of strings")
        return
    if preferred is not None and not isinstance(preferred, str):
        problems.append("groupOverrideDetails.preferredRole is not a string")
        return
    if (frozenset(groups), frozenset(roles), preferred) == _request_group_configuration(event):
        return  # the request's own groups given back: the tokens are unchanged
    items.add((OVERRIDE_GROUPS, canonical({"groups": groups, "iam_roles": roles, "preferred_role": preferred})))


def parse_answer(event: Mapping[str, Any], returned: Any) -> Answer:
    """The :class:`Answer` in ``returned`` (what the handler returned) to ``event`` (what it was sent)."""
    if not isinstance(returned, Mapping):
        return Answer(error=f"the handler returned {_kind(returned)}, not the event")
    v1 = is_v1_event(event)  # the event as sent decides how Cognito reads the answer
    machine = event.get("triggerSource") == CLIENT_CREDENTIALS
    response = returned.get("response")
    if response is not None and not isinstance(response, Mapping | list):
        return Answer(error=f"Cognito would refuse the response: response is {_kind(response)}")
    details = _mapping(_mapping(response).get(V1_DETAILS if v1 else V2_DETAILS))
    items: set[Item] = set()
    problems: list[str] = []
    if v1:
        _claims(details, ID_CLAIM, ID_SUPPRESS, V1_DETAILS, items, problems)
    else:
        if not machine:  # no ID token for client credentials
            _claims(_mapping(details.get("idTokenGeneration")), ID_CLAIM, ID_SUPPRESS, "idTokenGeneration", items,
                    problems)
        access = _mapping(details.get("accessTokenGeneration"))
        _claims(access, ACCESS_CLAIM, ACCESS_SUPPRESS, "accessTokenGeneration", items, problems)
        _scopes(access, items, problems)
    if not machine:  # no groups for client credentials
        _override(details, event, items, problems)
    if problems:
        return Answer(error="Cognito would refuse the response: " + "; ".join(problems))
    return Answer(frozenset(items))


def rules_answer(ruleset: RuleSet, event: Mapping[str, Any]) -> Answer:
    """What avp-migrate's handler answers to ``event`` with ``ruleset``: :func:`pretoken_lambda.rules.evaluate`
    on the event's subject, written as the handler writes its response, reduced like any other answer."""
    v1 = is_v1_event(event)
    subject = subject_from_event(event)
    outcome = evaluate(ruleset, subject)
    details, _ignored = build_response_details(outcome, v1=v1, machine=subject.is_machine)
    return parse_answer(event, {"response": {V1_DETAILS if v1 else V2_DETAILS: details}})


# --- words ----------------------------------------------------------------------------------------------------


def describe_item(item: Item) -> str:
    """One item in words, e.g. ``scope MyApi/admin`` or ``access claim tier="gold"``."""
    kind = item[0]
    if kind == ADD_SCOPE:
        return f"scope {item[1]}"
    if kind == SUPPRESS_SCOPE:
        return f"suppressed scope {item[1]}"
    if kind in (ID_CLAIM, ACCESS_CLAIM):
        token = "ID" if kind == ID_CLAIM else "access"
        return f"{token} claim {item[1]}={item[2]}"
    if kind in (ID_SUPPRESS, ACCESS_SUPPRESS):
        token = "ID" if kind == ID_SUPPRESS else "access"
        return f"suppressed {token} claim {item[1]}"
    if kind == OVERRIDE_GROUPS:
        override = json.loads(item[1])
        return "groups replaced by [" + ", ".join(override["groups"]) + "]"
    return " ".join(item)


def describe_items(items: Iterable[Item]) -> str:
    return ", ".join(describe_item(i) for i in sorted(items)) or "nothing"


def differences(handler: Answer, rules: Answer) -> list[str]:
    """How the rules' answer differs from the handler's, one line per difference."""
    if not handler.ok:
        return [f"the handler failed ({handler.error}), so Cognito refuses the sign-in; the rules issue tokens"]
    if not rules.ok:  # cannot happen for a valid rule set; kept so a bug shows instead of hiding
        return [f"the rules' answer is invalid: {rules.error}"]
    lines = [f"the handler gives {describe_item(i)}; the rules do not" for i in sorted(handler.items - rules.items)]
    lines += [f"the rules give {describe_item(i)}; the handler does not" for i in sorted(rules.items - handler.items)]
    return lines
