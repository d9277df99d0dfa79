"""verify's speed-ups decide exactly as the plain evaluation does: the policy index (by action and principal
type), the context projection, the shared requests and the batch reader, each held to cedarpy's public API on
the whole policy set and the whole context."""

from __future__ import annotations

import json
import random

import cedarpy
import pytest

from migrate.cedar_batch import decide_batch
from migrate.context_projection import ContextProjection
from migrate.equivalence import Checker
from migrate.translate import translate
from migrate.translate.render import policy_set_text
from tests.inventory_builder import hosted_client, inventory, machine_client, method, password_client, rule

# Hand edits a plan folder may hold, beside the translation's own policies: each reads the context or names a
# principal type in a way the index and the projection must get right.
EDITS = """
@id("edit: forbid users with no scopes")
forbid (principal is MyApi::User, action, resource)
when { context has token && context.token has scope && context.token.scope.isEmpty() };

@id("edit: svc may also delete")
permit (principal == MyApi::Client::"svc-client-id", action == MyApi::Action::"delete /orders/{id}", resource);

@id("edit: writers through web only")
permit (principal in MyApi::UserGroup::"us-east-1_TestPool1|writers", action, resource)
when { context has token && context.token has client_id && context.token.client_id == "web-client-id" &&
       context.token.scope.containsAll(["api/orders.write", "api/orders.read"]) };

@id("edit: not admins who also read")
forbid (principal is MyApi::User in MyApi::UserGroup::"us-east-1_TestPool1|admins", action == MyApi::Action::"get /me",
        resource) when { principal in MyApi::UserGroup::"us-east-1_TestPool1|readers" };

@id("edit: writers by is-in")
permit (principal is MyApi::User in MyApi::UserGroup::"us-east-1_TestPool1|writers",
        action == MyApi::Action::"delete /orders/{id}", resource);

@id("edit: not user a")
forbid (principal == MyApi::User::"us-east-1_TestPool1|sub-a", action == MyApi::Action::"post /orders", resource);
"""


def _mixed_translation():
    methods = [method("GET", "/orders", ["api/orders.read"]), method("POST", "/orders", ["api/orders.write"]),
               method("DELETE", "/orders/{id}", ["api/orders.admin", "api/orders.write"]),
               method("GET", "/me"), method("ANY", "/{proxy+}", ["api/orders.read"])]
    inv = inventory(methods, users={"r": ["readers"], "w": ["writers"], "a": ["admins", "writers"], "n": []},
                    rules=[rule("readers", ["api/orders.read"], groups=["readers"]),
                           rule("writers", ["api/orders.read", "api/orders.write"], groups=["writers"]),
                           rule("admins", ["api/orders.admin"], groups=["admins"]),
                           rule("no-readers-on-web", None, groups=["readers"], client_ids=["web-client-id"],
                                suppress=["api/orders.read"])],
                    clients=[password_client(), hosted_client(["openid", "api/orders.read", "api/orders.write"]),
                             machine_client(["api/orders.read", "api/orders.admin"])])
    return translate(inv)


@pytest.mark.parametrize("edited", [False, True])
def test_every_decision_matches_the_whole_policy_set_and_context(edited):
    translation = _mixed_translation()
    policies = policy_set_text(translation.policies) + (EDITS if edited else "")
    fast = Checker(translation.regime, translation.routes, namespace=translation.namespace,
                   schema=translation.schema, policies_text=policies)
    plain = Checker(translation.regime, translation.routes, namespace=translation.namespace,
                    schema=translation.schema, policies_text=policies, indexed=False)
    plain.index.projection = ContextProjection([])  # the whole context
    if edited:
        assert not fast.index.projection.literals  # isEmpty() reads the scope set whole: nothing is cut
    got = fast.decide_all()
    schema = cedarpy.Schema.from_json_str(json.dumps(translation.schema))
    resource = {"type": f"{translation.namespace}::Application", "id": translation.namespace}
    checked = allowed = 0
    for cls in plain.space.classes:
        for index, token in enumerate(plain.space.tokens(cls)):
            answers = got[(cls.key, index)]
            for route in plain.routes:
                after = plain.after[route.route]
                for action in after.actions.values():
                    expected = False
                    issued = after.token_use == "access" or (token.issues_id_token and not cls.is_machine)
                    if plain._refusal(token, cls) is None and issued:
                        principal, entities, context = plain._identity(token, cls, after.token_use)
                        if principal["type"] in plain._principal_types(action):
                            request = {"principal": principal, "resource": resource, "context": context,
                                       "action": {"type": f"{translation.namespace}::Action", "id": action}}
                            answer = cedarpy.is_authorized(
                                request, policies, [*entities, {"uid": resource, "attrs": {}, "parents": []}],
                                schema=schema)
                            assert not answer.diagnostics.errors
                            expected = answer.allowed
                    assert answers[action][0] == expected, (cls.key, token.flow.label, action)
                    checked += 1
                    allowed += expected
    assert checked > 300 and 0 < allowed < checked
    assert fast.decisions < checked  # shared requests were decided once


# --- the context projection -----------------------------------------------------------------------------------


def _conditions(text: str):
    parsed = json.loads(cedarpy.policies_to_json_str(text))
    return [p["conditions"] for p in parsed["staticPolicies"].values()]


@pytest.mark.parametrize(("condition", "projected"), [
    ('context.token.scope.contains("a")', {("token", "scope"): {"a"}}),
    ('context.token.scope.containsAny(["a", "b"]) && context.token has scope', {("token", "scope"): {"a", "b"}}),
    ('context.token.scope.containsAll(["a"]) || context["token"]["scope"].contains("c")',
     {("token", "scope"): {"a", "c"}}),
    ('context.token.scope.isEmpty()', {}),
    ('context.token.scope == ["a"]', {}),
    ('context.token.scope.contains("a") && context.token == {"scope": ["a"]}', {}),
    ('context.token.scope.contains("a") && context == {}', {}),
    ('context.token.scope.containsAny(principal.scopes)', {}),
    ('context.token.scope.contains("a") && context.token.scope.containsAny([context.token.client_id])', {}),
    ('["x"].contains(context.token.client_id) && context.token.scope.contains("a")', {("token", "scope"): {"a"}}),
])
def test_projection_keeps_a_set_whole_unless_every_use_is_a_literal_membership_test(condition, projected):
    found = ContextProjection(_conditions(f"permit (principal, action, resource) when {{ {condition} }};"))
    assert {path: set(names) for path, names in found.literals.items()} == projected


_USES = ['context.token.scope.contains("{a}")', 'context.token.scope.containsAny(["{a}", "{b}"])',
         'context.token.scope.containsAll(["{a}", "{b}"])', '!context.token.scope.contains("{a}")',
         'context.token.scope.isEmpty()', 'context.token.scope == ["{a}"]', 'context.token.client_id == "{a}"']


def test_projection_never_changes_a_decision():
    rng = random.Random(20261207)
    names = ["s0", "s1", "s2", "s3", "s4", "s5"]
    for _ in range(150):
        policies = []
        for number in range(rng.randint(1, 3)):
            uses = [rng.choice(_USES).format(a=rng.choice(names), b=rng.choice(names))
                    for _ in range(rng.randint(1, 2))]
            effect = rng.choice(["permit", "permit", "forbid"])
            policies.append(f'@id("p{number}") {effect} (principal, action, resource) when {{ context has token && '
                            f'{rng.choice([" && ", " || "]).join(uses)} }};')
        text = "\n".join(policies)
        projection = ContextProjection(_conditions(text))
        for _ in range(6):
            scopes = sorted(rng.sample([*names, "other1", "other2"], rng.randint(0, 5)))
            context = {"token": {"client_id": rng.choice(names), "scope": scopes}}
            request = {"principal": 'User::"u"', "action": 'Action::"a"', "resource": 'App::"r"'}
            whole = cedarpy.is_authorized({**request, "context": context}, text, [])
            cut = cedarpy.is_authorized({**request, "context": projection.apply(context)}, text, [])
            assert whole.allowed == cut.allowed, (text, context)
            assert sorted(whole.diagnostics.reasons) == sorted(cut.diagnostics.reasons), (text, context)


# --- the batch reader ------------------------------------------------------------------------------------------


def test_batch_reader_answers_as_cedarpy_does():
    document = {"staticPolicies": {
        'weird "] id': json.loads(cedarpy.policies_to_json_str(
            'permit (principal == User::"a", action, resource);'))["staticPolicies"]["policy0"],
        "forbid-b": json.loads(cedarpy.policies_to_json_str(
            'forbid (principal == User::"b", action, resource);'))["staticPolicies"]["policy0"],
        "errs": json.loads(cedarpy.policies_to_json_str(
            'permit (principal == User::"c", action, resource) when { principal.missing == 1 };'))
        ["staticPolicies"]["policy0"],
        "everyone": json.loads(cedarpy.policies_to_json_str(
            'permit (principal, action, resource) when { context.flag };'))["staticPolicies"]["policy0"],
    }, "templates": {}, "templateLinks": []}
    policies = cedarpy.PolicySet.from_json_str(json.dumps(document))
    entities = cedarpy.Entities.from_json_str(json.dumps([
        {"uid": {"type": "User", "id": u}, "attrs": {}, "parents": []} for u in "abcd"]))
    requests = [{"principal": {"type": "User", "id": u}, "action": {"type": "Action", "id": "x"},
                 "resource": {"type": "App", "id": "r"}, "context": json.dumps({"flag": flag})}
                for u in "abcd" for flag in (True, False)]
    got = decide_batch(requests, policies, entities)
    public = cedarpy.is_authorized_batch(requests, policies, entities)
    # Cedar lists the deciding policies in no set order: compared as sets
    assert [(allowed, sorted(reasons), errors) for allowed, reasons, errors in got] == \
        [(a.allowed, sorted(a.diagnostics.reasons), tuple(a.diagnostics.errors)) for a in public]
    assert any(errors for _, _, errors in got) and any('weird "] id' in reasons for _, reasons, _ in got)
    assert {allowed for allowed, _, _ in got} == {True, False}
