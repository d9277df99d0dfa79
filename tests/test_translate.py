"""Every translation rule, each checked with the Cedar engine against the scope regime (verify)."""

from __future__ import annotations

import json

import cedarpy
import pytest

from migrate.errors import UserError
from migrate.inventory import Authorizer, UserPool
from migrate.plan import check
from migrate.translate import translate
from migrate.translate.render import POLICY_MAX_BYTES
from tests.inventory_builder import (
    POOL_ID,
    hosted_client,
    inventory,
    machine_client,
    method,
    password_client,
    pool_arn,
    rule,
)

NS = "MyApi"


def group(name: str) -> str:
    return f'{NS}::UserGroup::"{POOL_ID}|{name}"'


def planned(inv, **options):
    translation = translate(inv, **options)
    return translation, check(translation)


def texts(translation) -> str:
    return "\n".join(p.text for p in translation.policies)


def diffs(result) -> set[tuple[str, str, str, str]]:
    return {(d.direction, d.route, d.verb, d.principal) for d in result.differences}


def test_group_rules_become_group_policies_over_scope_action_groups():
    inv = inventory([method("GET", "/items", ["api/read"]), method("POST", "/items", ["api/write"])],
                    users={"alice": ["readers"], "bob": ["writers"], "carl": []},
                    rules=[rule("readers", ["api/read"], groups=["readers"]),
                           rule("writers", ["api/read", "api/write"], groups=["writers"])])
    translation, result = planned(inv)
    assert result.equivalent, result.differences
    text = texts(translation)
    assert f"principal in\n    {group('readers')}" in text or f"principal in {group('readers')}" in text
    assert '@rule("writers")' in text and f'{NS}::Action::"api/write"' in text
    actions = translation.schema[NS]["actions"]
    assert actions["get /items"]["memberOf"] == [{"id": "api/read"}] and actions["api/read"] == {}
    assert actions["get /items"]["appliesTo"]["principalTypes"] == ["User"]
    assert result.today["GET /items"] == {"group:readers", "group:writers"} == result.after["GET /items"]
    assert result.today["POST /items"] == {"group:writers"}
    config = translation.authorizer_config()
    assert config.routes["POST /items"].scopes == ("api/write",) and config.routes["POST /items"].token_use == "access"


def test_any_method_is_one_action_per_verb():
    inv = inventory([method("ANY", "/admin/{proxy+}", ["api/admin"])], users={"root": ["admins"]},
                    rules=[rule("admins", ["api/admin"], groups=["admins"])])
    translation, result = planned(inv)
    assert result.equivalent
    config = translation.authorizer_config()
    assert config.routes["ANY /admin/{proxy+}"].actions == {
        v: f"{v.lower()} /admin/{{proxy+}}" for v in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")}
    assert {"delete /admin/{proxy+}", "put /admin/{proxy+}"} <= set(translation.schema[NS]["actions"])
    assert result.today["ANY /admin/{proxy+}"] == {"group:admins"}


def test_methods_without_scopes_take_id_tokens_of_every_user_but_no_machine():
    inv = inventory([method("GET", "/me"), method("GET", "/data", ["api/read"])], users={"a": [], "b": ["g"]},
                    clients=[password_client(), machine_client(["api/read"])])
    translation, result = planned(inv)
    assert result.equivalent, result.differences
    assert translation.authorizer_config().routes["GET /me"].token_use == "id"
    assert f"principal is {NS}::User" in texts(translation)
    assert result.today["GET /me"] == {"no-group", "group:g"} and "client:svc-client-id" not in result.after["GET /me"]
    assert result.after["GET /data"] == {"client:svc-client-id"}


def test_public_iam_and_lambda_methods_are_left_alone():
    inv = inventory([method("GET", "/health", auth="NONE"), method("GET", "/iam", auth="AWS_IAM"),
                     method("GET", "/custom", auth="CUSTOM", authorizer="lam"), method("GET", "/x", ["api/read"])],
                    users={"a": ["g"]}, rules=[rule("g", ["api/read"], groups=["g"])],
                    authorizers=[Authorizer(id="cog", name="cog", type="COGNITO_USER_POOLS",
                                            provider_arns=[pool_arn()]),
                                 Authorizer(id="lam", name="lam", type="REQUEST")])
    translation, result = planned(inv)
    assert [r.route for r in translation.migrated_routes] == ["GET /x"]
    assert set(translation.authorizer_config().routes) == {"GET /x"}
    skipped = next(f for f in translation.findings if f.code == "not-migrated")
    assert set(skipped.routes) == {"GET /health", "GET /iam", "GET /custom"}
    assert result.equivalent


def test_a_per_user_rule_names_the_user_by_sub():
    inv = inventory([method("GET", "/x", ["api/read"])], users={"alice": [], "bob": []},
                    rules=[rule("alice-only", ["api/read"], users=["alice"])])
    translation, result = planned(inv)
    assert f'principal == {NS}::User::"{POOL_ID}|sub-alice"' in texts(translation)
    assert result.equivalent
    assert result.today["GET /x"] == {"user:sub-alice"}


def test_attribute_rules_are_materialized_as_todays_users_and_reported():
    inv = inventory([method("GET", "/reports", ["api/reports"])], users={"fin": ["staff"], "eng": ["staff"]},
                    attributes={"fin": {"custom:dept": "finance"}, "eng": {"custom:dept": "eng"}},
                    rules=[rule("finance", ["api/reports"], attributes={"custom:dept": "finance"})])
    translation, result = planned(inv)
    assert result.equivalent
    assert f'{NS}::User::"{POOL_ID}|sub-fin"' in texts(translation) and "sub-eng" not in texts(translation)
    finding = next(f for f in translation.findings if f.code == "attribute-rule")
    assert finding.severity == "review" and finding.detail["users"] == ["fin"]


def test_all_groups_needs_every_group():
    inv = inventory([method("GET", "/x", ["api/read"])], users={"both": ["a", "b"], "only_a": ["a"]},
                    rules=[rule("both", ["api/read"], all_groups=["a", "b"])])
    translation, result = planned(inv)
    assert result.equivalent
    assert f"principal in {group('b')}" in texts(translation).replace("\n    ", " ")
    assert result.after["GET /x"] == {"groups:a+b"}


def test_a_suppression_becomes_unless():
    inv = inventory([method("GET", "/x", ["api/read"])], users={"emp": ["staff"], "ext": ["staff", "contractors"]},
                    rules=[rule("everyone", ["api/read"]), rule("no-contractors", None, groups=["contractors"],
                                                                   suppress=["api/read"])])
    translation, result = planned(inv)
    assert result.equivalent, result.differences
    assert "unless" in texts(translation)
    assert "groups:contractors+staff" not in result.after["GET /x"] and "group:staff" in result.after["GET /x"]


def test_a_client_condition_reads_the_access_tokens_client_id():
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": []},
                    clients=[password_client("mobile", "mobile-id"), password_client("kiosk", "kiosk-id")],
                    rules=[rule("mobile-only", ["api/read"], client_ids=["mobile-id"])])
    translation, result = planned(inv)
    assert result.equivalent
    assert '["mobile-id"].contains(context.token.client_id)' in texts(translation)
    assert "AccessTokenContext" in translation.schema[NS]["commonTypes"]


def test_a_flow_restricted_rule_is_a_real_difference_verify_explains():
    # AVP cannot see how a token was obtained: a member of g signing in with a password gets nothing today and
    # GET /x after the move. The class can call the route today (through the hosted UI), but the verdict is over
    # tokens, so this is a difference, named with its flow and why.
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": ["g"]},
                    clients=[password_client(), hosted_client(["openid"])],
                    rules=[rule("hosted-only", ["api/read"], groups=["g"],
                                trigger_sources=["TokenGeneration_HostedAuth"])])
    translation, result = planned(inv)
    assert any(f.code == "flow-dependent" for f in translation.findings)
    assert not result.equivalent and result.verdict == "differences"
    gain = next(d for d in result.differences if d.principal == "group:g")
    assert gain.direction == "gains" and gain.examples == ("u",) and "app (sign-in)" in gain.flows
    assert "'hosted-only'" in gain.why and "cannot see" in gain.why


def test_a_group_override_is_caught_by_verify():
    # The override writes "readers" into the token of a "legacy" user: AVP sees the token's groups, so the
    # readers policy lets that user in, while the rules (which read the directory groups) never gave the scope.
    inv = inventory([method("GET", "/x", ["api/read"])], users={"old": ["legacy"], "new": ["readers"]},
                    rules=[rule("legacy-as-readers", None, groups=["legacy"], override_groups=["readers"]),
                           rule("readers", ["api/read"], groups=["readers"])])
    translation, result = planned(inv)
    assert any(f.code == "group-override" for f in translation.findings)
    assert ("gains", "GET /x", "GET", "group:legacy") in diffs(result)


def test_latent_exposure_is_preserved_by_default_and_tightened_on_request():
    inv = inventory([method("GET", "/pets", ["api/pets.read"])], users={"nobody": [], "reader": ["readers"]},
                    clients=[password_client(), hosted_client(["openid", "api/pets.read"])],
                    rules=[rule("readers", ["api/pets.read"], groups=["readers"])])
    translation, result = planned(inv)
    assert result.equivalent
    exposure = next(f for f in translation.findings if f.code == "latent-exposure")
    assert exposure.severity == "review" and exposure.detail["exposed"] == ["no-group"]
    assert '["web-client-id"].contains(context.token.client_id)' in texts(translation)

    tightened, result = planned(inv, tighten=True)
    assert "web-client-id" not in texts(tightened)
    # users in no group (nobody) and users in a group nobody names: both hold the scope today only by asking the
    # hosted UI for it
    assert diffs(result) == {("loses", "GET /pets", "GET", "no-group"),
                             ("loses", "GET /pets", "GET", "group:avp-migrate-unnamed-group")}
    loss = next(d for d in result.differences if d.principal == "no-group")
    assert loss.examples == ("nobody",) and loss.scopes == ("api/pets.read",)
    assert loss.flows and all(f.startswith("web (hosted-ui") for f in loss.flows)


def test_machine_clients_get_their_scopes_on_the_client_principal():
    inv = inventory([method("GET", "/reports", ["api/reports"]), method("GET", "/extra", ["api/extra"]),
                     method("GET", "/users", ["api/users"])],
                    users={"u": ["g"]}, trigger_version="V3_0",
                    clients=[password_client(), machine_client(["api/reports"])],
                    rules=[rule("svc-extra", ["api/extra"], client_ids=["svc-client-id"]),
                           rule("g", ["api/users"], groups=["g"])])
    translation, result = planned(inv)
    assert result.equivalent, result.differences
    assert f'principal == {NS}::Client::"svc-client-id"' in texts(translation)
    actions = translation.schema[NS]["actions"]
    assert actions["get /reports"]["appliesTo"]["principalTypes"] == ["User", "Client"]
    assert actions["get /extra"]["appliesTo"]["principalTypes"] == ["User", "Client"]
    assert actions["get /users"]["appliesTo"]["principalTypes"] == ["User", "Client"]  # asked, answered DENY
    assert result.after["GET /extra"] == {"client:svc-client-id"}
    config = translation.authorizer_config()
    assert config.machine_clients == ("svc-client-id",) and config.routes["GET /reports"].machine_to_machine


def test_two_user_pools_stop_with_a_reason_or_plan_one_store_each():
    other = UserPool(id="us-east-1_Other2", arn=pool_arn("us-east-1_Other2"))
    inv = inventory([method("GET", "/a", ["api/read"]), method("GET", "/b", ["api/read"], authorizer="cog2")],
                    users={"u": ["g"]}, rules=[rule("g", ["api/read"], groups=["g"])], extra_pools=[other],
                    authorizers=[Authorizer(id="cog", name="cog", type="COGNITO_USER_POOLS",
                                            provider_arns=[pool_arn()]),
                                 Authorizer(id="cog2", name="cog2", type="COGNITO_USER_POOLS",
                                            provider_arns=[pool_arn("us-east-1_Other2")])])
    with pytest.raises(UserError, match="one identity source per policy store"):
        translate(inv)
    translation, result = planned(inv, pool_id=POOL_ID)
    assert [r.route for r in translation.migrated_routes] == ["GET /a"] and result.equivalent
    assert "this plan is for" in next(r for r in translation.routes if r.route == "GET /b").why_not_migrated


def test_the_console_layout_lists_actions_per_group():
    inv = inventory([method("GET", "/a", ["api/read"]), method("POST", "/a", ["api/write"])],
                    users={"r": ["readers"], "w": ["writers"]},
                    rules=[rule("r", ["api/read"], groups=["readers"]), rule("w1", ["api/read"], groups=["writers"]),
                           rule("w2", ["api/write"], groups=["writers"])])
    translation, result = planned(inv, layout="groups")
    assert result.equivalent
    writers = next(p for p in translation.policies if p.policy_id == "group writers")
    assert '@rule("w1 w2")' in writers.text and f'{NS}::Action::"post /a"' in writers.text
    assert not any("memberOf" in a for a in translation.schema[NS]["actions"].values())


def test_unknown_rules_block_the_plan():
    inv = inventory([method("GET", "/a", ["api/read"])], users={"u": ["g"]}, rules=[])
    pool = inv.user_pools[0]
    pool.pretoken_rules = None  # a trigger whose rules were not read
    translation, _ = planned(inv)
    assert any(f.code == "rules-unknown" and f.severity == "blocking" for f in translation.findings)


# --- the AVP user guide's PetStore example ---------------------------------------------------------------------

PETSTORE_SCHEMA = {"PetStore": {
    "entityTypes": {
        "Application": {"shape": {"type": "Record", "attributes": {}}},
        "User": {"memberOfTypes": ["UserGroup"], "shape": {"type": "Record", "attributes": {}}},
        "UserGroup": {"shape": {"type": "Record", "attributes": {}}},
    },
    "actions": {a: {"appliesTo": {"context": {"type": "Record", "attributes": {}}, "principalTypes": ["User"],
                                  "resourceTypes": ["Application"]}}
                for a in ("get /", "get /pets", "get /pets/{petId}", "post /pets")},
}}
PETSTORE_POLICY = """permit (
    principal in PetStore::UserGroup::"us-east-1_EXAMPLE|testgroup",
    action in [PetStore::Action::"get /pets", PetStore::Action::"get /pets/{petId}",
               PetStore::Action::"post /pets", PetStore::Action::"get /"],
    resource
);"""


def _normalised(policy_text: str) -> list[dict]:
    policies = json.loads(cedarpy.policies_to_json_str(policy_text))["staticPolicies"].values()
    out = []
    for policy in policies:
        policy = dict(policy)
        policy.pop("annotations", None)
        policy["action"] = dict(policy["action"], entities=sorted(policy["action"]["entities"], key=lambda e: e["id"]))
        out.append(policy)
    return out


def test_petstore_example_gives_the_documented_schema_and_policy():
    """AVP user guide, "Moving to production with AWS CloudFormation": API PetStore with GET /, GET /pets,
    GET /pets/{petId}, POST /pets, and the group testgroup allowed all four."""
    methods = [method("GET", "/", ["petstore/read"]), method("GET", "/pets", ["petstore/read"]),
               method("GET", "/pets/{petId}", ["petstore/read"]), method("POST", "/pets", ["petstore/write"])]
    inv = inventory(methods, api_name="PetStore", users={"tester": ["testgroup"], "visitor": []},
                    rules=[rule("testgroup", ["petstore/read", "petstore/write"], groups=["testgroup"])],
                    resource_server="petstore", pool_id="us-east-1_EXAMPLE")
    translation, result = planned(inv, layout="groups")
    assert result.equivalent
    assert translation.schema == PETSTORE_SCHEMA
    (policy,) = translation.policies
    assert _normalised(policy.text) == _normalised(PETSTORE_POLICY)
    # the default layout is equivalent too
    assert planned(inv)[1].equivalent


# --- names that need escaping -----------------------------------------------------------------------------------


def test_hostile_names_give_valid_cedar_that_round_trips():
    odd_group = 'we"ird \\ grp|ünïcode 日本'
    odd_path = '/pätz/{id}/a b/"q"'
    odd_scope = 'api/rëad"\\x'
    inv = inventory([method("GET", odd_path, [odd_scope])], users={"zoë": [odd_group], "x": []},
                    rules=[rule("odd", [odd_scope], groups=[odd_group])], api_name="Pet Store (v2)!")
    translation, result = planned(inv)
    assert translation.namespace == "Pet_Store_v2"
    assert result.equivalent and result.after[f"GET {odd_path}"] == {f"group:{odd_group}"}
    parsed = json.loads(cedarpy.policies_to_json_str(texts(translation)))["staticPolicies"]
    principals = {p["principal"].get("entity", {}).get("id") for p in parsed.values()}
    assert f"{POOL_ID}|{odd_group}" in principals
    actions = {e["id"] for p in parsed.values()
               for e in p["action"].get("entities", [p["action"].get("entity", {})])}
    assert odd_scope in actions
    assert f"get {odd_path}" in translation.schema["Pet_Store_v2"]["actions"]
    cedarpy.Schema.from_json_str(translation.schema_text)  # the schema parses


# --- quotas -------------------------------------------------------------------------------------------------------


def _wide_api(routes: int, segment: str = "x" * 60) -> list:
    return [method("GET", f"/r{i}/{segment}/{{id}}", ["api/read"]) for i in range(routes)]


def test_a_long_action_list_is_split_under_the_statement_quota():
    inv = inventory(_wide_api(150), users={"u": ["g"]}, rules=[rule("g", ["api/read"], groups=["g"])])
    translation, result = planned(inv, layout="groups")
    assert len(translation.policies) > 1 and all(p.size <= POLICY_MAX_BYTES for p in translation.policies)
    assert result.equivalent


def test_an_over_quota_schema_fails_naming_the_quota():
    inv = inventory(_wide_api(700, "y" * 120), users={"u": ["g"]}, rules=[rule("g", ["api/read"], groups=["g"])])
    with pytest.raises(UserError, match=r"AVP quota exceeded: schema \(bytes\) is [\d,]+, the limit is 100,000"):
        translate(inv, store_layout="actions")
    with pytest.raises(UserError, match=r"schema \(bytes\) would be [\d,]+ with one action per method"):
        translate(inv, layout="groups")  # the console's policy layout cannot switch: it lists each method's action


def test_an_api_over_the_actions_schema_quota_is_planned_in_the_routes_layout():
    inv = inventory(_wide_api(700, "y" * 120), users={"u": ["g"], "v": []},
                    rules=[rule("g", ["api/read"], groups=["g"])])
    translation, result = planned(inv)
    assert translation.store_layout == "routes" and result.equivalent
    assert translation.findings[0].code == "store-layout" and "over AVP's 100,000" in translation.findings[0].message
    schema_quota = next(q for q in translation.quotas if q.name == "schema (bytes)")
    assert schema_quota.used < 2_000  # the schema no longer grows with the API
    assert len(result.after) == 700 and all(v == {"group:g"} for v in result.after.values())


def test_too_many_policies_fail_naming_the_bucket():
    groups = [f"group-{i:04d}-{'z' * 80}" for i in range(700)]
    inv = inventory([method("GET", "/a", ["api/read"])], users={f"u{i}": [g] for i, g in enumerate(groups)},
                    rules=[rule(f"r{i}", ["api/read"], groups=[g]) for i, g in enumerate(groups)])
    with pytest.raises(UserError, match=r"policies with no resource in scope .* the limit is 200,000"):
        translate(inv)
    # the routes layout names the scope in each statement: one resource's total, the same 200,000 bytes
    with pytest.raises(UserError, match=r"policies naming one resource .*api/read.* the limit is 200,000"):
        translate(inv, store_layout="routes")


def _long_scopes(count: int = 330, width: int = 45) -> list[str]:
    return [f"api/{i:03d}.{'s' * width}" for i in range(count)]


@pytest.mark.parametrize("layout", ["scopes", "groups"])
def test_one_group_with_330_long_scopes_is_split_on_the_final_text(tmp_path, layout):
    """Issue 9, case 4: each split part once repeated the whole @scopes annotation (28 KB a part). The annotation
    now shrinks with its part, and the quota is measured on the text exactly as written to the policy files."""
    from migrate.plan import write_plan

    scopes = _long_scopes()
    inv = inventory([method("GET", f"/r{i}", [s]) for i, s in enumerate(scopes)], users={"u": ["g"], "v": []},
                    rules=[rule("g", scopes, groups=["g"])])
    translation, result = planned(inv, layout=layout)
    assert result.equivalent, result.differences
    assert len(translation.policies) > 1
    covered: list[str] = []
    for policy in translation.policies:
        parsed = next(iter(json.loads(cedarpy.policies_to_json_str(policy.text))["staticPolicies"].values()))
        actions = [e["id"] for e in parsed["action"]["entities"]]
        annotated = parsed["annotations"]["scopes"].split()
        expected = actions if layout == "scopes" else [s for s in scopes if f"get /r{scopes.index(s)}" in actions]
        assert sorted(annotated) == sorted(expected) == sorted(policy.scopes)  # the part's own scopes only
        covered += actions
    assert len(covered) == len(set(covered)) == 330

    write_plan(translation, result, tmp_path / "plan", inventory=inv, inventory_path="inventory.json")
    written = sorted((tmp_path / "plan" / "policies").glob("*.cedar"))
    assert len(written) == len(translation.policies)
    sizes = [len(path.read_bytes()) for path in written]
    assert max(sizes) <= POLICY_MAX_BYTES and max(sizes) > POLICY_MAX_BYTES * 0.9  # parts are filled, not tiny
    document = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert sorted(p["bytes"] for p in document["policies"]) == sorted(sizes)
    largest = next(q for q in document["quotas"] if q["name"] == "largest policy statement (bytes)")
    assert largest["used"] == max(sizes)
    cloudformation = json.loads((tmp_path / "plan" / "cloudformation.json").read_text())
    statements = [r["Properties"]["Definition"]["Static"]["Statement"] for r in cloudformation["Resources"].values()
                  if r["Type"] == "AWS::VerifiedPermissions::Policy"]
    assert sorted(len(s.encode()) for s in statements) == sorted(sizes)


# --- AVP's naming limits --------------------------------------------------------------------------------------------


def test_namespace_problems_follow_the_safe_reading_of_the_avp_guide():
    from migrate.translate.limits import namespace_problem

    for refused in ("", "aws", "AWS", "Amazon", "CEDAR", "MyApi::aws", "Cedar::Orders", "x" * 101):
        assert namespace_problem(refused), refused
    for accepted in ("MyApi", "Laws", "Cedarwood", "Api_aws", "AmazonOrders", "x" * 100):
        assert namespace_problem(accepted) is None, accepted


@pytest.mark.parametrize(("api_name", "expected"), [
    ("aws", "Api_aws"), ("AWS", "Api_AWS"), ("Amazon", "Api_Amazon"), ("cedar", "Api_cedar"), ("", "Api"),
    ("!!!", "Api"), ("  Cedar  ", "Api_Cedar"), ("PawsApi", "PawsApi")])
def test_the_namespace_is_never_empty_nor_a_name_avp_refuses(api_name, expected):
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": ["g"]},
                    rules=[rule("g", ["api/read"], groups=["g"])], api_name=api_name)
    translation, result = planned(inv)
    assert translation.namespace == expected and list(translation.schema) == [expected]
    assert translation.authorizer_config().resource_id == expected
    assert result.equivalent
    renamed = [f for f in translation.findings if f.code == "namespace"]
    assert bool(renamed) == (api_name.strip().lower() in ("aws", "amazon", "cedar"))
    if renamed:
        assert "AVP refuses" in renamed[0].message and repr(expected) in renamed[0].message


def test_a_very_long_api_name_gives_a_namespace_avp_accepts():
    from migrate.translate.limits import namespace_problem

    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": ["g"]},
                    rules=[rule("g", ["api/read"], groups=["g"])], api_name="Orders " * 40)
    translation, result = planned(inv)
    assert len(translation.namespace) <= 100 and namespace_problem(translation.namespace) is None
    assert result.equivalent and any(f.code == "namespace" for f in translation.findings)


def test_a_route_whose_action_id_is_over_200_bytes_stays_on_cognito():
    long_path = "/" + "/".join(["segment-" + "é" * 20] * 6)
    inv = inventory([method("GET", long_path, ["api/read"]), method("GET", "/short", ["api/read"])],
                    users={"u": ["g"]}, rules=[rule("g", ["api/read"], groups=["g"])])
    translation, result = planned(inv)
    route = next(r for r in translation.routes if r.method_path == long_path)
    assert not route.migrated and "200-byte entity id limit" in route.why_not_migrated
    assert set(translation.authorizer_config().routes) == {"GET /short"} and result.equivalent
    assert all(len(a.encode()) <= 200 for a in translation.schema[NS]["actions"])


def test_entity_ids_avp_would_refuse_stop_the_plan_naming_them():
    long_group = "équipe-" + "é" * 100  # 128 characters at most in Cognito, but 207 bytes: too long for AVP
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": [long_group], "v": ["g"]},
                    rules=[rule("g", ["api/read"], groups=["g"])])
    with pytest.raises(UserError, match=r"AVP limit exceeded: entity ids are at most 200 bytes; group "
                                        r"'us-east-1_TestPool1\|équipe-é+' \(\d+ bytes\) is longer: rename the group"):
        translate(inv)

    long_scope = "api/" + "r" * 200
    inv = inventory([method("GET", "/x", [long_scope])], users={"u": ["g"]},
                    rules=[rule("g", [long_scope], groups=["g"])])
    with pytest.raises(UserError, match=r"scope action group 'api/r+' \(204 bytes\) is longer: use --layout groups"):
        translate(inv)
    assert planned(inv, layout="groups")[1].equivalent


# --- gaps found by mutating the code (issue 9): each test fails on the mutant it names ------------------------------


@pytest.mark.parametrize("layout", ["scopes", "groups"])
def test_a_method_with_two_scopes_held_by_different_groups_admits_both(layout):
    """Mutants: a method made a member of its first scope's action group only (schema), or only its first scope's
    actions listed (groups layout), or the checker requiring all of a method's scopes instead of any."""
    inv = inventory([method("GET", "/x", ["api/read", "api/admin"]), method("POST", "/x", ["api/admin"])],
                    users={"r": ["readers"], "a": ["admins"], "n": []},
                    rules=[rule("readers", ["api/read"], groups=["readers"]),
                           rule("admins", ["api/admin"], groups=["admins"])])
    translation, result = planned(inv, layout=layout)
    assert result.today["GET /x"] == {"group:readers", "group:admins"}  # any one scope suffices today
    assert result.after["GET /x"] == {"group:readers", "group:admins"}
    assert result.today["POST /x"] == result.after["POST /x"] == {"group:admins"}
    assert result.equivalent, result.differences
    if layout == "scopes":
        assert translation.schema[NS]["actions"]["get /x"]["memberOf"] == [{"id": "api/admin"}, {"id": "api/read"}]


@pytest.mark.parametrize("suppressor", [
    {}, {"client_ids": ["app-client-id"]},
    {"trigger_sources": ["TokenGeneration_Authentication", "TokenGeneration_NewPasswordChallenge",
                         "TokenGeneration_AuthenticateDevice", "TokenGeneration_RefreshTokens"]}],
    ids=["no-condition", "the-only-client", "every-user-flow"])
def test_an_unconditional_suppression_leaves_the_scope_to_nobody(suppressor):
    """Mutant: the suppression of a rule with no condition (or only client/flow conditions that every token meets)
    dropped from the grants: the policy would grant a scope nobody holds today."""
    inv = inventory([method("GET", "/x", ["api/read"]), method("GET", "/y", ["api/other"])],
                    users={"r": ["readers"], "n": []},
                    rules=[rule("readers", ["api/read", "api/other"], groups=["readers"]),
                           rule("nobody", None, suppress=["api/read"], **suppressor)])
    translation, result = planned(inv)
    assert result.today["GET /x"] == set() == result.after["GET /x"]
    assert result.today["GET /y"] == {"group:readers"} == result.after["GET /y"]
    assert result.equivalent, result.differences
    assert not any("api/read" in g.scopes for g in translation.grants)
    assert "api/read" not in texts(translation)


def test_the_authorizer_config_allows_exactly_the_clients_whose_tokens_reach_the_api_today():
    """Mutants: an empty allow-list (any client of the pool), or one missing the hosted-UI or machine clients."""
    from migrate.inventory import AppClient
    from migrate.translate.cloudformation import template

    idle = AppClient(client_id="idle-client-id", name="idle", explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"])
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": ["g"]}, trigger_version="V3_0",
                    clients=[password_client("mobile", "mobile-id"), hosted_client(["openid", "api/read"]),
                             machine_client(["api/read"]), idle],
                    rules=[rule("g", ["api/read"], groups=["g"])])
    translation = translate(inv)
    expected = ("mobile-id", "svc-client-id", "web-client-id")  # the idle client obtains no token at all
    (pool,) = translation.authorizer_config().user_pools
    assert pool.client_ids == expected
    source = template(translation)["Resources"]["IdentitySource"]["Properties"]["Configuration"]
    assert tuple(source["CognitoUserPoolConfiguration"]["ClientIds"]) == expected
