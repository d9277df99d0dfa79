"""`scan --openapi`: an inventory from exports with no AWS call, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

from migrate.cli.main import main
from migrate.inventory import load_inventory
from pretoken_lambda.rules import parse_rules, to_document

FIXTURES = Path(__file__).parent / "fixtures" / "openapi"
POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Orders1"


def test_exports_become_one_snapshot(capsys, tmp_path, monkeypatch):
    # No AWS at all: an unreachable endpoint proves no call is made.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    out = tmp_path / "inventory.json"
    rules = {"version": 1, "rules": [{"id": "r", "when": {"groups": ["g"]}, "then": {"add_scopes": ["o/read"]}}]}
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    code = main(["scan", "--out", str(out), "--openapi", str(FIXTURES / "orders-api.yaml"),
                 "--user-pool-arn", f"OrdersCognito={POOL}", "--rules", f"file:{tmp_path / 'rules.json'}",
                 "--stage", "prod"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    inventory = load_inventory(out)
    (api,) = inventory.apis
    assert api.source == f"openapi:{FIXTURES / 'orders-api.yaml'}" and api.stage == "prod"
    (pool,) = inventory.user_pools
    assert (pool.id, pool.arn, pool.known_by_arn_only) == ("us-east-1_Orders1", POOL, True)
    assert pool.pretoken_rules.document == to_document(parse_rules(rules))
    assert inventory.total_calls == 0
    assert "known by ARN only" in stdout


def test_two_exports_and_a_broken_one(capsys, tmp_path):
    out = tmp_path / "inventory.json"
    assert main(["scan", "--out", str(out), "--openapi", str(FIXTURES / "petstore-oas3.json"),
                 "--openapi", str(FIXTURES / "inventory-swagger2.json")]) == 0
    assert len(load_inventory(out).apis) == 2
    capsys.readouterr()
    (tmp_path / "broken.json").write_text('{"openapi": "3.0.1", "paths": ')
    out.unlink()
    code = main(["scan", "--out", str(out), "--openapi", str(FIXTURES / "petstore-oas3.json"),
                 "--openapi", str(tmp_path / "broken.json")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "broken.json" in err
    assert not out.exists()


def test_rules_for_an_offline_scan_must_be_a_file(capsys, tmp_path):
    code = main(["scan", "--out", str(tmp_path / "i.json"), "--openapi", str(FIXTURES / "orders-api.yaml"),
                 "--user-pool-arn", f"OrdersCognito={POOL}", "--rules", "ssm:/x"])
    err = capsys.readouterr().err
    assert code == 1 and "--rules" in err and "file:PATH" in err
