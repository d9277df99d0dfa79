"""Deploy is gated on the proof, and the plan folder cannot drift (issue 10, item 2), on the demo plan.

The manifest names what changed since `plan`; deploy re-verifies the folder as it is on disk and refuses anything
but "equivalent" unless an acceptance written by `verify --write-acceptance` still matches exactly; blocked
endpoints are never moved.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest

from migrate.cutover.ledger import Ledger
from migrate.deploy.record import load_record
from migrate.plan import check, write_plan
from migrate.plan_folder import PlanFolder
from migrate.translate import translate
from tests.test_deploy import Demo, change_lines, make_demo, methods_of, run, scan

ADMIN = 'MyApi::Action::"MyApi/admin"'


@pytest.fixture
def demo(embedded_aws, tmp_path, dependencies_layer) -> Demo:
    return make_demo(embedded_aws, tmp_path, dependencies_layer)


def nothing_created(plan: Path) -> bool:
    return not (plan / "deployment.json").exists() and \
        boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == []


def refused(capsys, argv: list[str], *fragments: str) -> str:
    code, _, err = run(capsys, argv)
    assert code == 1 and err.startswith("avp-migrate: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def grant_admin_to_avp_group(plan: Path) -> Path:
    """The issue's attack: a hand edit gives avp-group MyApi/admin (ANY /admin/{proxy+})."""
    policy = next(plan.glob("policies/*-rule-avp-group-*.cedar"))
    policy.write_text(policy.read_text().replace('action in [MyApi::Action::"MyApi/avp.read"]',
                                                 f'action in [MyApi::Action::"MyApi/avp.read", {ADMIN}]'))
    assert ADMIN in policy.read_text()
    return policy


def test_the_manifest_names_every_file_plan_wrote_and_readers_say_what_changed(demo: Demo, capsys):
    plan = demo.plan
    manifest = json.loads((plan / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["algorithm"] == "sha256"
    written = sorted(p.relative_to(plan).as_posix() for p in plan.rglob("*") if p.is_file()
                     and p.name != "manifest.json")
    assert sorted(manifest["files"]) == written
    assert {"inventory.json", "plan.json", "schema.json", "authorizer-config.json", "cloudformation.json",
            "report.html"} <= set(written)
    assert all(manifest["files"][n] == hashlib.sha256((plan / n).read_bytes()).hexdigest() for n in written)
    assert PlanFolder.open(plan).drift().files == ()

    # A formatting-only edit of a policy (still equivalent) and a stale report.
    policy = next(plan.glob("policies/*-rule-admins-*.cedar"))
    policy.write_text(policy.read_text() + "\n// reviewed\n")
    (plan / "report.html").write_text("<p>edited</p>")
    code, out, err = run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan)])
    assert code == 0 and "equivalent:" in "\n".join(out)
    (warning,) = err.splitlines()
    assert warning.startswith(f"warning: {plan}: 2 file(s) changed since `avp-migrate plan`: ")
    assert f"policies/{policy.name} (edited)" in warning and "report.html (edited)" in warning

    # deploy re-verifies the edited policy, says so, and warns about the report only.
    code, lines, err = run(capsys, demo.deploy_args("--yes"))
    assert code == 0 and err == ""
    assert lines[0].startswith("gate: proven equivalent: 13 policies, schema.json, authorizer-config.json")
    assert lines[1] == f"gate: edited since `avp-migrate plan`, and re-verified: policies/{policy.name} (edited)"
    assert lines[2].startswith("warning: changed since `avp-migrate plan` (deploy does not use them") and \
        lines[2].endswith("report.html (edited)")
    gate = load_record(plan).gate
    assert gate is not None and (gate.verdict, gate.edited, gate.acceptance) == (
        "equivalent", [f"policies/{policy.name}"], None)
    assert gate.files[f"policies/{policy.name}"] == hashlib.sha256(policy.read_bytes()).hexdigest()

    # Commands that read deployment.json next to the plan say it too.
    code, _, err = run(capsys, ["status", "--plan", str(plan)])
    assert code == 0 and err.startswith(f"warning: {plan}: 2 file(s) changed") and err.count("\n") == 1


def test_deploy_refuses_an_edited_plan_that_is_not_equivalent_unless_accepted_exactly(demo: Demo, capsys, tmp_path):
    plan = demo.plan
    policy = grant_admin_to_avp_group(plan)
    # Before: `deploy --dry-run` listed the edited policy for creation without a word.
    err = refused(capsys, demo.deploy_args("--dry-run"), "deploy gate", "not proven equivalent",
                  "GAINS ANY /admin/{proxy+}", f"edited since plan: policies/{policy.name}")
    assert "--write-acceptance" in err
    refused(capsys, demo.deploy_args("--yes"), "not proven equivalent")
    assert nothing_created(plan)

    acceptance = tmp_path / "accept.json"
    code, _, _ = run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan), "--write-acceptance",
                              str(acceptance)])
    assert code == 2
    document = json.loads(acceptance.read_text())
    assert document["verdict"] == "differences" and document["kind"] == "avp-migrate acceptance"
    assert document["files"][f"policies/{policy.name}"] == hashlib.sha256(policy.read_bytes()).hexdigest()
    assert any(i.startswith("GAINS ANY /admin/{proxy+} [DELETE]: group avp-group") for i in document["items"])
    assert "ANY /admin/{proxy+}" in {d["route"] for d in document["differences"]}
    assert all(d["direction"] == "gains" and "avp-group" in d["principal_label"] for d in document["differences"])

    refused(capsys, demo.deploy_args("--accept", str(acceptance), "--yes"), "--reason: --accept needs --reason")
    refused(capsys, demo.deploy_args("--reason", "why", "--yes"), "--reason goes with --accept")
    reason = ("--reason", "avp-group administers the API from now on (CHG-7)")

    # Anything that changed since verify wrote it is refused, naming what.
    other = next(plan.glob("policies/*-rule-pets-readers-*.cedar"))
    saved = other.read_text()
    other.write_text(saved.replace("MyApi/pets.read", "MyApi/orders.read"))
    refused(capsys, demo.deploy_args("--accept", str(acceptance), *reason, "--yes"), "does not match the plan as it is",
            f"files changed since it was written: policies/{other.name} (edited)", "finding(s) it does not name")
    other.write_text(saved)
    tampered = dict(document, items=document["items"][1:])
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    refused(capsys, demo.deploy_args("--accept", str(tmp_path / "tampered.json"), *reason, "--yes"),
            "1 finding(s) it does not name: " + document["items"][0])
    stale = dict(document, inventory_sha256="0" * 64)
    (tmp_path / "stale.json").write_text(json.dumps(stale))
    refused(capsys, demo.deploy_args("--accept", str(tmp_path / "stale.json"), *reason, "--yes"), "another inventory")
    refused(capsys, demo.deploy_args("--accept", str(tmp_path / "missing.json"), *reason, "--yes"),
            "acceptance file not found")
    assert nothing_created(plan)

    code, lines, _ = run(capsys, demo.deploy_args("--accept", str(acceptance), *reason, "--yes"))
    assert code == 0
    assert lines[0].startswith("gate: NOT proven equivalent (") and lines[0].endswith(reason[1])
    accepted = load_record(plan).gate.acceptance
    assert accepted is not None
    assert (accepted.file, accepted.reason, accepted.verdict) == (str(acceptance), reason[1], "differences")
    assert accepted.sha256 == hashlib.sha256(acceptance.read_bytes()).hexdigest()
    assert accepted.accepted_by == "arn:aws:sts::123456789012:user/moto" and accepted.items == document["items"]
    # the audit log (the mode ledger's deploy entry) records the acceptance too
    record = load_record(plan)
    (entry,) = Ledger(boto3.client("dynamodb"), record.ledger_table, f"{record.api_id}#{record.stage}").history()
    assert entry.action == "deploy" and entry.reason and reason[1] in entry.reason
    assert entry.details["acceptance"]["sha256"] == accepted.sha256
    assert entry.details["acceptance"]["items"] == document["items"]


def test_files_deploy_reads_but_the_proof_cannot_judge_are_refused_or_unproven(demo: Demo, capsys, tmp_path):
    plan = demo.plan
    # authorizer-config.json is shipped as is: an edited route contract is not what the proof covered.
    config_path = plan / "authorizer-config.json"
    original = config_path.read_text()
    config = json.loads(original)
    config["routes"]["GET /avp"]["actions"]["GET"] = "get /scope"
    config_path.write_text(json.dumps(config, indent=2))
    code, out, _ = run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan)])
    text = "\n".join(out)
    # The checker decides with the file's contract, so what the edit does is a real difference (GET /avp now asks
    # AVP about get /scope); the departure from the snapshot's translation is also named.
    assert code == 2 and "NOT equivalent" in text and "GET /avp [GET]" in text
    assert "authorizer-config.json differs from what the snapshot translates to (routes['GET /avp'].actions.GET: " \
           "'get /scope' on disk, 'get /avp' planned)" in text
    refused(capsys, demo.deploy_args("--dry-run"), "not proven equivalent", "1 reason(s) it is unproven")
    config_path.write_text(original)

    # cloudformation.json gives deploy the identity source.
    template_path = plan / "cloudformation.json"
    original = template_path.read_text()
    template_path.write_text(original.replace('"GroupEntityType": "MyApi::UserGroup"',
                                              '"GroupEntityType": "MyApi::User"'))
    code, out, _ = run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan), "--format", "json"])
    verdict = json.loads("\n".join(out))
    assert code == 3 and verdict["verdict"] == "unproven"
    assert any("cloudformation.json (identity source)" in r and "group_entity_type" in r
               for r in verdict["unproven_reasons"])
    template_path.write_text(original)

    # plan.json (endpoint status, today's configuration) and the snapshot are records: never accepted edited.
    acceptance = tmp_path / "accept.json"
    grant_admin_to_avp_group(plan)
    assert run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan), "--write-acceptance",
                        str(acceptance)])[0] == 2
    document = json.loads((plan / "plan.json").read_text())
    for route in document["routes"]:
        route["status"] = "exact"
    (plan / "plan.json").write_text(json.dumps(document))
    refused(capsys, demo.deploy_args("--accept", str(acceptance), "--reason", "r", "--yes"),
            "plan.json (edited) changed since `avp-migrate plan`", "plan again")
    (plan / "manifest.json").unlink()
    refused(capsys, demo.deploy_args("--yes"), "no manifest.json", "plan again")
    assert nothing_created(plan)


def test_blocked_endpoints_are_never_moved(demo: Demo, capsys, tmp_path):
    # A snapshot whose pre-token rules are unknown: every scoped endpoint is blocked, GET /profile (ID tokens) not.
    inventory = scan(demo.account)
    inventory.user_pools[0].pretoken_rules = None
    translation = translate(inventory)
    plan = tmp_path / "blocked-plan"
    document = write_plan(translation, check(translation), plan, inventory=inventory, inventory_path="inv.json")
    blocked = sorted(r["route"] for r in document["routes"] if r["status"] == "blocked")
    assert "GET /avp" in blocked and "GET /profile" not in blocked and len(blocked) == 12
    args = ["deploy", "--plan", str(plan), "--mode", "shadow", "--dependencies", "layers", "--layer", demo.layer]
    code, _, _ = run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan)])
    accept: list[str] = []
    if code != 0:  # whatever verify says of such a plan, accepting it never moves a blocked endpoint
        acceptance = tmp_path / "accept.json"
        run(capsys, ["verify", str(plan / "inventory.json"), "--plan", str(plan), "--write-acceptance",
                     str(acceptance)])
        accept = ["--accept", str(acceptance), "--reason", "try to move everything"]

    code, lines, _ = run(capsys, [*args, *accept, "--endpoint", "GET /avp", "--endpoint", "GET /profile", "--yes"])
    assert code == 0
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert skipped == [f"skipped GET /avp: blocked in the plan (user pool {demo.account.user_pool_id} has a "
                       f"pre-token trigger" + skipped[0].split("pre-token trigger", 1)[1]]
    assert "never moved, even with --accept or --endpoint" in skipped[0]
    assert not any(line.startswith("update apigateway method GET /avp") for line in change_lines(lines))
    live = methods_of(demo.account.api_id)
    assert live["GET /avp"]["authorizationType"] == "COGNITO_USER_POOLS"
    assert live["GET /profile"]["authorizationType"] == "CUSTOM"
    record = load_record(plan)
    assert set(record.methods) == {"GET /profile"} and "GET /avp" in record.gate.skipped

    # Every endpoint: the 12 blocked ones are skipped, named one per line.
    code, lines, _ = run(capsys, [*args, *accept, "--yes"])
    assert code == 0
    assert sorted(line.split(":")[0].removeprefix("skipped ") for line in lines if line.startswith("skipped ")) \
        == blocked
    assert {r for r, m in methods_of(demo.account.api_id).items() if m["authorizationType"] == "CUSTOM"} == {
        "GET /profile"}
