"""`avp-migrate plan` and `verify` on the demo account: real scan, real Cedar, cfn-lint, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cedarpy
import pytest

from migrate.cli.main import main
from migrate.embedded.seed import seed_demo


@pytest.fixture
def demo_inventory(embedded_aws, tmp_path, capsys) -> Path:
    account = seed_demo(region=embedded_aws.region)
    path = tmp_path / "inventory.json"
    # --all-users, as the demo scans: the rules test a user attribute, and a user in no group may hold it
    assert main(["scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out", str(path)]) == 0
    capsys.readouterr()
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_writes_a_valid_store_and_verify_says_equivalent(demo_inventory, tmp_path, capsys):
    plan = tmp_path / "plan"
    code, out, _ = run(capsys, "plan", str(demo_inventory), "--out", str(plan))
    assert code == 0 and "equivalence: equivalent" in out
    expected = {"schema.json", "schema.cedarschema", "policies", "authorizer-config.json", "cloudformation.json",
                "plan.json", "report.md", "report.html", "routes.csv", "report.json"}
    assert expected <= {p.name for p in plan.iterdir()}

    schema = (plan / "schema.json").read_text()
    cedarpy.Schema.from_json_str(schema)
    files = sorted((plan / "policies").glob("*.cedar"))
    policies = "\n".join(f.read_text() for f in files)
    assert cedarpy.validate_policies(policies, schema).validation_passed
    for file in files:  # `cedar format --check`: every file is as Cedar's formatter writes it
        assert cedarpy.format_policies(file.read_text()).strip() == file.read_text().strip()
    cfn_lint = Path(sys.executable).with_name("cfn-lint")  # the dev dependency's console script, in this venv
    lint = subprocess.run([str(cfn_lint), str(plan / "cloudformation.json")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    config = json.loads((plan / "authorizer-config.json").read_text())
    assert config["routes"]["GET /avp"] == {"actions": {"GET": "get /avp"}, "scopes": ["MyApi/avp.read"],
                                            "token_use": "access", "initial_mode": "scope",
                                            "machine_to_machine": False}
    assert config["routes"]["GET /profile"]["token_use"] == "id" and "GET /health" not in config["routes"]

    code, out, _ = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert code == 0 and "equivalent:" in out
    code, out, _ = run(capsys, "verify", str(demo_inventory), "--plan", str(plan), "--format", "json")
    assert code == 0 and json.loads(out)["equivalent"] is True


def test_changing_one_rule_makes_verify_name_who_loses(demo_inventory, tmp_path, capsys):
    plan = tmp_path / "plan"
    assert run(capsys, "plan", str(demo_inventory), "--out", str(plan))[0] == 0
    changed = json.loads(demo_inventory.read_text())
    rules = changed["user_pools"][0]["pretoken_rules"]["document"]["rules"]
    next(r for r in rules if r["id"] == "pets-readers")["then"]["add_scopes"].append("MyApi/orders.read")
    edited = tmp_path / "inventory-changed.json"
    edited.write_text(json.dumps(changed))

    code, out, _ = run(capsys, "verify", str(edited), "--plan", str(plan))
    assert code == 2 and "NOT equivalent" in out
    # dave (pets-readers and pets-writers) loses with pets-readers; carol (orders-team and pets-readers) does not:
    # she already holds orders.read through orders-team.
    assert "LOSES GET /orders [GET]: group pets-readers (e.g. heidi, dave)" in out
    assert "carol" not in out

    code, out, _ = run(capsys, "verify", str(edited), "--plan", str(plan), "--format", "json")
    losers = {(d["principal_label"], d["route"]) for d in json.loads(out)["differences"]}
    assert ("group pets-readers", "GET /orders") in losers and code == 2


def test_tightened_plan_names_who_loses_the_hosted_ui_scope(demo_inventory, tmp_path, capsys):
    plan = tmp_path / "tight"
    code, out, _ = run(capsys, "plan", str(demo_inventory), "--out", str(plan), "--tighten")
    assert code == 0 and "differences" in out
    document = json.loads((plan / "plan.json").read_text())
    assert {d["cause"] for d in document["differences"]} == {"tightened"}
    assert document["summary"]["blocked"] == 0
    code, out, _ = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert code == 2
    assert "LOSES GET /pets [GET]: group avp-group (e.g. alice, frank)" in out and "via web (hosted-ui" in out


def assert_one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 1 and err.startswith("avp-migrate: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_bad_inputs_are_one_line_and_write_nothing(demo_inventory, tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format_version": 1, "apis": [{"id": 3}]}')
    code, _, err = run(capsys, "plan", str(broken), "--out", str(tmp_path / "p1"))
    assert_one_line(code, err, "broken.json", "invalid inventory snapshot")
    assert not (tmp_path / "p1").exists()

    code, _, err = run(capsys, "plan", str(demo_inventory), "--out", str(tmp_path / "p2"), "--api-id", "nope")
    assert_one_line(code, err, "--api-id", "no API 'nope'")

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "plan", str(demo_inventory), "--out", str(occupied))
    assert_one_line(code, err, "holds no plan")
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]

    code, _, err = run(capsys, "verify", str(demo_inventory), "--plan", str(tmp_path / "missing"))
    assert_one_line(code, err, "plan folder not found")


def test_verify_reads_the_plan_as_edited(demo_inventory, tmp_path, capsys):
    plan = tmp_path / "plan"
    assert run(capsys, "plan", str(demo_inventory), "--out", str(plan))[0] == 0
    avp = next((plan / "policies").glob("*avp-group*"))

    avp.write_text("permit (principal, action, resource")  # not Cedar
    code, _, err = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert_one_line(code, err, avp.name, "not valid Cedar")

    avp.write_text('@id("nowhere")\npermit (principal, action == MyApi::Action::"get /nowhere", resource);')
    code, _, err = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert_one_line(code, err, "fails strict validation")

    # verify reads the folder as deploy does (one PlanFolder): what deploy would refuse, verify refuses too.
    avp.write_text('permit (principal, action == MyApi::Action::"get /avp", resource);')
    code, _, err = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert_one_line(code, err, avp.name, "no @id")

    avp.unlink()  # a hand edit that drops the avp-group policy: alice loses GET /avp
    code, out, _ = run(capsys, "verify", str(demo_inventory), "--plan", str(plan))
    assert code == 2 and "LOSES GET /avp [GET]: group avp-group (e.g. alice, frank)" in out


def test_plan_replaces_a_previous_plan(demo_inventory, tmp_path, capsys):
    plan = tmp_path / "plan"
    assert run(capsys, "plan", str(demo_inventory), "--out", str(plan), "--layout", "groups")[0] == 0
    first = {p.name for p in (plan / "policies").iterdir()}
    assert run(capsys, "plan", str(demo_inventory), "--out", str(plan))[0] == 0
    second = {p.name for p in (plan / "policies").iterdir()}
    assert first != second and json.loads((plan / "plan.json").read_text())["layout"] == "scopes"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind
    (plan / "deployment.json").write_text('{"format_version": 1}')
    assert run(capsys, "plan", str(demo_inventory), "--out", str(plan))[0] == 0
    assert (plan / "deployment.json").read_text() == '{"format_version": 1}'  # a deployed plan keeps its record


def test_a_usage_error_exits_1_so_that_2_always_means_differences(capsys):
    import pytest as _pytest

    from migrate.cli.main import main as cli_main
    from migrate.errors import ExitCode

    for argv in (["verify", "inv.json", "--plna", "plan"], ["cutover", "--plan", "p"], ["no-such-verb"]):
        with _pytest.raises(SystemExit) as stopped:
            cli_main(argv)
        assert stopped.value.code == ExitCode.ERROR, argv
        assert "error:" in capsys.readouterr().err
