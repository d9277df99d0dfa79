"""verify's verdict (issue 9): over every token of a complete principal space; 0 equivalent, 2 differences,
3 unproven; the plan folder on disk is what is checked."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from migrate.cli.main import main
from migrate.embedded.seed import seed_demo
from migrate.errors import ExitCode
from migrate.plan import check
from migrate.translate import translate
from pretoken_lambda.rules import RulesError, parse_rules
from tests.inventory_builder import inventory, method, password_client, rule

POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Store1"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo_plan(embedded_aws, tmp_path, capsys) -> tuple[Path, Path]:
    account = seed_demo(region=embedded_aws.region)
    inventory_path = tmp_path / "inventory.json"
    assert main(["scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out",
                 str(inventory_path)]) == 0
    plan = tmp_path / "plan"
    assert main(["plan", str(inventory_path), "--out", str(plan)]) == 0
    capsys.readouterr()
    return inventory_path, plan


# --- case 1: a token decided differently is a difference ------------------------------------------------------


def test_deleting_the_pets_readers_policy_is_not_equivalent(demo_plan, capsys):
    inventory_path, plan = demo_plan
    assert run(capsys, "verify", str(inventory_path), "--plan", str(plan))[0] == ExitCode.OK
    (policy,) = (plan / "policies").glob("005-rule-pets-readers-*.cedar")
    policy.unlink()
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES and "NOT equivalent" in out and "\nequivalent:" not in out
    # heidi (pets-readers) signs in through the mobile client: today she holds pets.read, after the edit nothing
    # allows GET /pets; carol holds it only through the hosted UI of web, not through mobile.
    # carol (orders-team and pets-readers) is decided through her groups' classes: she loses with pets-readers.
    line = next(line for line in out.splitlines()
                if "LOSES GET /pets [GET]: group pets-readers (e.g. heidi, carol)" in line)
    assert "MyApi/pets.read" in line and "mobile (sign-in)" in line and "why: no policy on disk allows it" in line
    assert "users: 3 users in 3 other group combinations" in out
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan), "--format", "json")
    document = json.loads(out)
    assert code == 2 and document["verdict"] == "differences" and document["equivalent"] is False
    assert document["unproven_reasons"] == [] and document["token_mismatches"] == []
    # --users: every user by name, per route and per difference, in one gzip file of JSON lines.
    users = inventory_path.parent / "users.jsonl.gz"
    assert run(capsys, "verify", str(inventory_path), "--plan", str(plan), "--users", str(users))[0] == 2
    lines = [json.loads(line) for line in gzip.decompress(users.read_bytes()).decode().splitlines()]
    routes = {line["route"]: line for line in lines if "route" in line}
    # They keep GET /pets through the hosted UI (any user may ask for pets.read there): a route lists who can call
    # it with some token; the difference, who loses it with some token.
    assert {"heidi", "carol"} <= set(routes["GET /pets"]["users_today"]) & set(routes["GET /pets"]["users_after"])
    reached = [line for line in lines if line.get("difference", {}).get("principal") == "group:pets-readers"
               and line["difference"]["route"] == "GET /pets"]
    assert [line["users"] for line in reached] == [["carol", "heidi"]]


def test_an_allow_list_without_a_client_is_a_difference(demo_plan, capsys):
    # authorizer-config.json is shipped as it is: a client dropped from its allow-list gets 401 in every mode.
    inventory_path, plan = demo_plan
    config = json.loads((plan / "authorizer-config.json").read_text())
    scanned = json.loads(inventory_path.read_text())["user_pools"][0]["clients"]
    mobile = next(c["client_id"] for c in scanned if c["name"] == "mobile")
    config["user_pools"][0]["client_ids"] = [c for c in config["user_pools"][0]["client_ids"] if c != mobile]
    assert config["user_pools"][0]["client_ids"]
    (plan / "authorizer-config.json").write_text(json.dumps(config))
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES
    assert re.search(r"LOSES GET /avp \[GET\]: group avp-group \(e\.g\. alice, frank\); "
                     r".*allow-list does not include mobile", out)
    assert "in scope/shadow mode" in out  # scope mode refuses the client too


# --- case 2: a pool known by ARN only, and policies edited by hand ---------------------------------------------


EXPORT = {
    "openapi": "3.0.1", "info": {"title": "Store", "version": "1"},
    "paths": {"/items": {
        "get": {"security": [{"StoreCognito": ["st/read"]}], "responses": {"200": {"description": "ok"}}},
        "post": {"security": [{"StoreCognito": ["st/write"]}], "responses": {"200": {"description": "ok"}}},
        "delete": {"security": [{"StoreCognito": ["st/admin"]}], "responses": {"200": {"description": "ok"}}}}},
    "components": {"securitySchemes": {"StoreCognito": {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools"}}}},
}
RULES = {"version": 1, "rules": [
    {"id": "readers", "when": {"groups": ["readers"]}, "then": {"add_scopes": ["st/read"]}},
    {"id": "writers", "when": {"groups": ["writers"]}, "then": {"add_scopes": ["st/read", "st/write"]}},
    {"id": "admins", "when": {"groups": ["admins"]}, "then": {"add_scopes": ["st/read", "st/write", "st/admin"]}},
]}


def test_a_pool_known_by_arn_only_is_unproven_and_a_widened_policy_is_caught(tmp_path, capsys):
    (tmp_path / "store.json").write_text(json.dumps(EXPORT))
    (tmp_path / "rules.json").write_text(json.dumps(RULES))
    inventory_path, plan = tmp_path / "inventory.json", tmp_path / "plan"
    assert main(["scan", "--out", str(inventory_path), "--openapi", str(tmp_path / "store.json"),
                 "--user-pool-arn", f"StoreCognito={POOL_ARN}", "--rules", f"file:{tmp_path / 'rules.json'}"]) == 0
    assert main(["plan", str(inventory_path), "--out", str(plan)]) == 0
    planned = capsys.readouterr().out  # plan's own summary never says "equivalent" over a space it did not see
    assert "equivalence: UNPROVEN (" in planned and "known by ARN only" in planned
    assert json.loads((plan / "plan.json").read_text())["equivalence"]["verdict"] == "unproven"

    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.UNPROVEN, out
    assert "UNPROVEN" in out and "known by ARN only" in out and "app clients" in out
    assert "\nequivalent:" not in out

    (writers,) = (plan / "policies").glob("*writers*.cedar")
    text = writers.read_text()
    widened = text.replace('Store::Action::"st/write"', 'Store::Action::"st/write", Store::Action::"st/admin"')
    writers.write_text(widened)
    assert writers.read_text() != text
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES, out
    assert "GAINS DELETE /items [DELETE]: group writers" in out and "known by ARN only" in out
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan), "--format", "json")
    document = json.loads(out)
    assert document["verdict"] == "differences" and document["unproven_reasons"]


def test_groups_only_the_policies_name_are_in_the_space():
    # No user is in "ghosts" and no rule names it; a policy granting it a scope is still checked.
    inv = inventory([method("GET", "/x", ["api/read"])], users={"a": ["readers"]},
                    rules=[rule("readers", ["api/read"], groups=["readers"])])
    translation = translate(inv)
    extra = translation.policies[-1].text.replace('|readers"', '|ghosts"').replace('@id("', '@id("ghost ')
    from migrate.equivalence import Checker
    from migrate.translate.render import policy_set_text

    policies = policy_set_text(translation.policies) + "\n" + extra
    result = Checker(translation.regime, translation.routes, namespace=translation.namespace,
                     schema=translation.schema, policies_text=policies).run()
    assert ("gains", "group:ghosts") in {(d.direction, d.principal) for d in result.differences}


# --- the space: combinations conditions distinguish ----------------------------------------------------------


def test_all_groups_and_suppressions_are_checked_in_combination():
    # a suppression for auditors: a user in readers AND auditors holds no scope today. No real user is in both.
    inv = inventory([method("GET", "/x", ["api/read"])], users={"r": ["readers"], "a": ["auditors"]},
                    rules=[rule("readers", ["api/read"], groups=["readers"]),
                           rule("no-auditors", None, groups=["auditors"], suppress=["api/read"])])
    translation, result = translate(inv), None
    result = check(translation)
    assert result.equivalent, result.differences  # the translation writes the unless-clause
    assert any(c.groups == frozenset({"readers", "auditors"}) for c in result.classes)
    # the same policy without its unless: readers+auditors gains
    text = "\n".join(p.text for p in translation.policies)
    stripped = re.sub(r"unless\s*\{[^}]*\}", "", text)
    from migrate.equivalence import Checker

    result = Checker(translation.regime, translation.routes, namespace=translation.namespace,
                     schema=translation.schema, policies_text=stripped).run()
    assert {(d.direction, d.principal) for d in result.differences} == {("gains", "groups:auditors+readers")}


def test_too_many_combined_groups_is_unproven():
    groups = [f"g{i:02d}" for i in range(14)]
    inv = inventory([method("GET", "/x", ["api/read"])], users={"u": groups[:1]}, groups=groups,
                    rules=[rule("all", ["api/read"], all_groups=groups)])
    result = check(translate(inv))
    assert result.verdict == "unproven" and result.exit_code == ExitCode.UNPROVEN
    assert "combinations" in result.unproven_reasons[0]


def test_a_user_in_more_groups_than_avp_allows_is_named():
    groups = [f"team-{i:03d}" for i in range(100)]
    inv = inventory([method("GET", "/x", ["api/read"])], users={"busy": groups, "calm": ["team-000"]},
                    rules=[rule("team", ["api/read"], groups=["team-000"])])
    result = check(translate(inv))
    (loss,) = [d for d in result.differences if d.examples]
    assert loss.direction == "loses" and loss.examples == ("busy",) and "99" in loss.why


def test_a_claim_avp_refuses_is_refused_by_the_rules_and_predicted_by_verify():
    document = {"version": 1, "rules": [{"id": "tag", "when": {"groups": ["g"]},
                                         "then": {"id_token": {"add_claims": {"dev": "1"}}}}]}
    with pytest.raises(RulesError, match="refuses tokens with a plain cognito, custom or dev claim"):
        parse_rules(document)
    for name in ("cognito", "custom"):
        with pytest.raises(RulesError, match="Verified Permissions refuses"):
            parse_rules({"version": 1, "rules": [{"id": "t", "then": {"access_token": {"add_claims": {name: "x"}}}}]})
    assert parse_rules(document, avp_claims=False).rules[0].id == "tag"
    # a snapshot holding such rules (written before the validator refused them): verify names who is denied
    inv = inventory([method("GET", "/me")], users={"u": ["g"], "v": []}, clients=[password_client()],
                    rules=[*document["rules"]])
    result = check(translate(inv))
    (loss,) = [d for d in result.differences if d.examples]
    assert loss.examples == ("u",) and loss.direction == "loses" and "'dev' claim" in loss.why


# --- the routes store layout: the route's parents travel in authorizer-config.json --------------------------------


@pytest.fixture
def routes_plan(tmp_path, capsys) -> tuple[Path, Path]:
    from migrate.inventory import save_inventory

    inv = inventory([method("GET", "/orders", ["api/orders.read"]), method("POST", "/orders", ["api/orders.write"]),
                     method("GET", "/me")],
                    users={"r": ["readers"], "w": ["writers"], "n": []},
                    rules=[rule("readers", ["api/orders.read"], groups=["readers"]),
                           rule("writers", ["api/orders.read", "api/orders.write"], groups=["writers"])])
    inventory_path = tmp_path / "inventory.json"
    save_inventory(inv, inventory_path)
    plan = tmp_path / "plan"
    assert main(["plan", str(inventory_path), "--out", str(plan), "--store-layout", "routes"]) == 0
    assert json.loads((plan / "plan.json").read_text())["store_layout"] == "routes"
    assert run(capsys, "verify", str(inventory_path), "--plan", str(plan))[0] == ExitCode.OK
    return inventory_path, plan


def _edit_config(plan: Path, edit) -> None:
    path = plan / "authorizer-config.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document, indent=2))


def test_routes_layout_a_route_without_its_scope_parent_is_a_loss(routes_plan, capsys):
    inventory_path, plan = routes_plan
    _edit_config(plan, lambda d: d["routes"]["GET /orders"].update(parents=[]))
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES
    assert "LOSES GET /orders [GET]: group readers" in out and "LOSES GET /orders [GET]: group writers" in out
    assert "GAINS" not in out


def test_routes_layout_a_route_given_another_scope_parent_is_a_gain(routes_plan, capsys):
    inventory_path, plan = routes_plan
    _edit_config(plan, lambda d: d["routes"]["POST /orders"]["parents"].append(
        {"type": "MyApi::Scope", "id": "api/orders.read"}))
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES and "GAINS POST /orders [POST]: group readers" in out
    assert "LOSES" not in out


def test_routes_layout_a_policy_widened_to_every_resource_is_a_gain(routes_plan, capsys):
    inventory_path, plan = routes_plan
    (policy,) = [p for p in (plan / "policies").glob("*.cedar") if "group-readers" in p.name]
    policy.write_text(policy.read_text().replace('resource in MyApi::Scope::"api/orders.read"', "resource"))
    code, out, _ = run(capsys, "verify", str(inventory_path), "--plan", str(plan))
    assert code == ExitCode.DIFFERENCES
    assert "GAINS POST /orders [POST]: group readers" in out and "GAINS GET /me [GET]: group readers" not in out


def test_a_pool_named_by_a_template_logical_id_is_blocking_and_unproven_not_a_false_loss():
    # A template read without --parameter names the pool by its logical id: the policies say "UserPool|admins".
    # verify decides them as written (no false LOSES for the admins), and says why this is no proof for the
    # deployed pool, which AVP will name by its real id.
    inv = inventory([method("DELETE", "/pets/{petId}", ["api/admin"]), method("GET", "/pets", ["api/read"])],
                    users={"a": ["admins"], "r": ["readers"]},
                    rules=[rule("admins", ["api/admin"], groups=["admins"]),
                           rule("readers", ["api/read"], groups=["readers"])])
    # as scan --template writes a pool it knows by logical id only (no ARN, no pool id)
    pool = inv.user_pools[0]
    pool.id = pool.arn = "UserPool"
    inv.apis[0].authorizers[0].provider_arns = ["UserPool"]
    translation = translate(inv)
    assert translation.findings[0].code == "pool-id-placeholder" and translation.findings[0].severity == "blocking"
    result = check(translation)
    assert result.differences == [] and result.verdict == "unproven"
    assert "--parameter UserPool=<pool id>" in result.unproven_reasons[-1]
    assert result.after["DELETE /pets/{petId}"] == {"group:admins"}
