"""Large APIs (issue 14): plans that fit every AVP quota at API Gateway's default resource quota, verified with
the same token-level rigour (the generator is bench/large_api.py)."""

from __future__ import annotations

import json

import pytest

from bench.large_api import large_inventory
from migrate.cli.main import main
from migrate.errors import ExitCode
from migrate.inventory import save_inventory
from migrate.translate import translate
from migrate.translate.render import POLICY_MAX_BYTES


def test_1200_methods_100_scopes_500_groups_fit_every_avp_quota():
    translation = translate(large_inventory(1_200, groups=500))
    assert translation.store_layout == "routes" and translation.findings[0].code == "store-layout"
    assert len(translation.migrated_routes) == 1_200
    assert all(q.fits for q in translation.quotas), translation.quotas
    assert max(p.size for p in translation.policies) <= POLICY_MAX_BYTES
    assert {q.name.split(" (")[0] for q in translation.quotas} >= {"schema", "largest policy statement",
                                                                   "policies naming one resource"}
    config = translation.authorizer_config()
    assert config.layout == "routes" and len(config.routes) == 1_200
    assert all(r.parents and all(t == "Api::Scope" or t.endswith("::Scope") for t, _ in r.parents)
               for r in config.routes.values())


def test_160_methods_keep_the_console_layout():
    translation = translate(large_inventory(160, groups=40))
    assert translation.store_layout == "actions" and all(q.fits for q in translation.quotas)


@pytest.mark.large  # about 13 s: plan writes every report for 1,200 routes (make test-large)
def test_a_1200_method_plan_folder_is_verified_equivalent(tmp_path, capsys):
    inventory_path = tmp_path / "inventory.json"
    save_inventory(large_inventory(1_200, groups=40), inventory_path)
    plan = tmp_path / "plan"
    assert main(["plan", str(inventory_path), "--out", str(plan)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "routes store layout" in out
    assert json.loads((plan / "plan.json").read_text())["store_layout"] == "routes"
    assert main(["verify", str(inventory_path), "--plan", str(plan)]) == ExitCode.OK, capsys.readouterr().out
    # a route moved out of its scope on disk is caught on that route only
    config = json.loads((plan / "authorizer-config.json").read_text())
    route = sorted(config["routes"])[7]
    config["routes"][route]["parents"] = []
    (plan / "authorizer-config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["verify", str(inventory_path), "--plan", str(plan)]) == ExitCode.DIFFERENCES
    losses = {line.split(":")[0] for line in capsys.readouterr().out.splitlines() if " LOSES " in f" {line.strip()}"}
    assert losses and all(route in line for line in losses)
