"""Guard rails on the irreversible steps (issue 10, section 4), on the embedded AWS through the CLI.

* Every command that changes the account applies without a prompt only with ``--yes``; on a terminal it shows what
  it will do and asks; elsewhere it refuses (one line naming ``--yes``, exit 1, nothing changed). ``--dry-run``
  never needs ``--yes``.
* ``cutover --force`` needs ``--evidence FILE`` or an explicit ``--no-evidence``; finalize lists the endpoints forced
  to avp without evidence and refuses them unless accepted.
* ``undeploy`` after ``finalize`` says what it can and cannot restore before doing anything.
* Ctrl-C during deploy, undeploy, cutover or finalize says what was done and how to continue or undo it (exit 130).

The deploy tests use the demo account of ``tests/test_deploy.py``; the cut-over tests the state
``tests/test_cutover.py`` builds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from migrate.cli.main import main
from migrate.cutover import commit as cutover_commit
from migrate.deploy import deployer, undeploy
from migrate.deploy.record import load_record
from migrate.errors import ExitCode
from tests.test_cutover import (
    ROUTES,
    deploy_state,
    evidence,
    ledger_items,
    method_of,
    sc,
    ssm_document,
)
from tests.test_deploy import change_lines, methods_of, scan, stable
from tests.test_deploy import demo as demo  # the fixture


class Terminal(io.StringIO):
    """Standard input as a terminal, with the operator's answers already typed."""

    def isatty(self) -> bool:
        return True


class CtrlCAtThePrompt(Terminal):
    def readline(self, *_: Any) -> str:
        raise KeyboardInterrupt


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stores() -> list[dict[str, Any]]:
    return boto3.client("verifiedpermissions").list_policy_stores()["policyStores"]


def assert_refused_without_yes(code: int, out: str, err: str, verb: str) -> None:
    assert (code, out) == (1, ""), (out, err)
    assert err.count("\n") == 1 and err.startswith(f"avp-migrate: error: {verb}: refused, nothing was changed:")
    assert "standard input is not a terminal" in err and "pass --yes" in err


# --- 1. --yes, the prompt, the refusal --------------------------------------------------------------------------------


def test_deploy_and_undeploy_refuse_without_yes_off_a_terminal_and_dry_run_needs_none(demo, capsys):
    # Before: deploy applied silently whenever standard input was not a terminal.
    assert_refused_without_yes(*run(capsys, *demo.deploy_args()), "deploy")
    assert not (demo.plan / "deployment.json").exists() and stores() == []
    code, out, _ = run(capsys, *demo.deploy_args("--dry-run"))
    assert code == ExitCode.DIFFERENCES and "dry run: nothing was changed" in out
    assert stores() == []

    assert run(capsys, *demo.deploy_args("--yes"))[0] == 0
    record = load_record(demo.plan)
    assert_refused_without_yes(*run(capsys, "undeploy", "--plan", str(demo.plan)), "undeploy")
    assert load_record(demo.plan) == record and len(stores()) == 1
    assert run(capsys, "undeploy", "--plan", str(demo.plan), "--dry-run")[0] == ExitCode.DIFFERENCES
    assert run(capsys, "undeploy", "--plan", str(demo.plan), "--yes")[0] == 0
    assert stable(scan(demo.account)) == demo.before


def test_deploy_on_a_terminal_shows_the_changes_then_asks(demo, capsys, monkeypatch):
    # first the drift guard's question (is the API defined by IaC? no), then the change set and its question
    monkeypatch.setattr("sys.stdin", Terminal("n\nn\n"))
    code, out, err = run(capsys, *demo.deploy_args("--endpoint", "GET /avp"))
    assert code == 1 and "deploy: not confirmed: nothing was changed (answer y, or pass --yes)" in err
    assert "defined by Terraform or another IaC tool" in out
    shown = change_lines(out.splitlines())
    assert shown[0].startswith("create verifiedpermissions policy store") and "update apigateway method GET /avp" in out
    assert "deploy: apply these" in out and "changes to account 123456789012 region us-east-1? [y/N]" in out
    assert stores() == [] and not (demo.plan / "deployment.json").exists()

    monkeypatch.setattr("sys.stdin", Terminal("n\ny\n"))
    code, out, _ = run(capsys, *demo.deploy_args("--endpoint", "GET /avp"))
    assert code == 0 and "deployed API MyApi" in out
    assert methods_of(demo.account.api_id)["GET /avp"]["authorizationType"] == "CUSTOM"

    monkeypatch.setattr("sys.stdin", CtrlCAtThePrompt())
    code, _, err = run(capsys, "undeploy", "--plan", str(demo.plan))
    assert code == ExitCode.INTERRUPTED and "interrupted: at the undeploy prompt: nothing was changed" in err
    assert methods_of(demo.account.api_id)["GET /avp"]["authorizationType"] == "CUSTOM"
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    assert run(capsys, "undeploy", "--plan", str(demo.plan))[0] == 0
    assert stable(scan(demo.account)) == demo.before


@pytest.mark.parametrize("argv", [
    ["cutover", "GET /avp", "--evidence", "EVIDENCE"],
    ["rollback", "GET /pets"],
    ["status", "--repair"],
])
def test_ledger_verbs_refuse_without_yes_off_a_terminal(embedded_aws, tmp_path, capsys, argv):
    setup = deploy_state(tmp_path, modes={route: "shadow" for route in ROUTES} | {"GET /pets": "avp"})
    report = evidence(tmp_path, {"GET /avp": {}})
    argv = [report if a == "EVIDENCE" else a for a in argv]
    boto3.client("ssm").delete_parameter(Name=setup.parameter)  # drift, for status --repair
    assert_refused_without_yes(*run(capsys, *argv, "--plan", str(setup.plan)), argv[0])
    assert [int(i["version"]) for i in ledger_items(setup)] == [1]
    with pytest.raises(boto3.client("ssm").exceptions.ParameterNotFound):
        ssm_document(setup)
    if argv[0] != "status":
        assert run(capsys, *argv, "--plan", str(setup.plan), "--dry-run")[0] == ExitCode.DIFFERENCES
    else:
        assert run(capsys, "status", "--plan", str(setup.plan))[0] == ExitCode.DIFFERENCES  # reading needs no --yes
    assert run(capsys, *argv, "--plan", str(setup.plan), "--yes")[0] == 0
    assert ssm_document(setup)["version"] == len(ledger_items(setup))


def test_finalize_refuses_without_yes_and_asks_on_a_terminal(embedded_aws, tmp_path, capsys, monkeypatch):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES})
    plan = str(setup.plan)
    assert_refused_without_yes(*run(capsys, "finalize", "--plan", plan), "finalize")
    assert run(capsys, "finalize", "--plan", plan, "--dry-run")[0] == ExitCode.DIFFERENCES
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    code, out, err = run(capsys, "finalize", "--plan", plan)
    assert code == 1 and "finalize: not confirmed: nothing was changed" in err
    assert f"finalize API CutApi ({setup.api_id}) stage prod will:" in out
    assert "  remove scopes from GET /avp: api/avp.read" in out
    assert (f"this cannot be undone: API Gateway cannot bring a deleted authorizer back, so undeploy cannot put back "
            f"CutApiCognito ({setup.cognito_authorizer})") in out
    assert out.rstrip().endswith("finalize: make these changes to the API and the mode ledger? [y/N]")
    assert method_of(setup, "GET /avp")["authorizationScopes"] == [sc("avp.read")]
    assert len(ledger_items(setup)) == 1
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, "finalize", "--plan", plan)
    assert code == 0 and "record a finalize entry in the mode ledger: version 2" in out
    assert not method_of(setup, "GET /avp").get("authorizationScopes")


def test_cutover_and_status_repair_on_a_terminal_show_the_change_then_ask(embedded_aws, tmp_path, capsys,
                                                                          monkeypatch):
    setup = deploy_state(tmp_path)
    plan, report = str(setup.plan), evidence(tmp_path, {"GET /avp": {}})
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(capsys, "cutover", "GET /avp", "--plan", plan, "--evidence", report)
    assert code == 1 and "cutover: not confirmed" in err
    assert "would move GET /avp: shadow -> avp (evidence" in out
    assert f"cutover: write ledger version 2 (cutover) to dynamodb:avp-migrate-modes/{setup.pk}" in out
    assert len(ledger_items(setup)) == 1
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, "cutover", "GET /avp", "--plan", plan, "--evidence", report)
    assert code == 0 and "moved GET /avp: shadow -> avp" in out and ssm_document(setup)["version"] == 2
    # nothing to change: nothing asked (stdin would answer "n")
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, _ = run(capsys, "cutover", "GET /avp", "--plan", plan, "--to", "avp", "--evidence", report)
    assert code == 0 and "nothing to change" in out and "[y/N]" not in out

    boto3.client("ssm").delete_parameter(Name=setup.parameter)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, _ = run(capsys, "status", "--plan", plan, "--repair")
    assert code == 1 and "drift: the mode parameter does not exist" in out
    assert "status --repair: publish ledger version 2 to ssm:" in out
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, "status", "--plan", plan, "--repair")
    assert code == 0 and ssm_document(setup)["version"] == 2


# --- 2, 3. --force needs --evidence or --no-evidence; finalize lists what was forced ----------------------------------


def test_force_needs_evidence_or_an_explicit_no_evidence_and_the_ledger_records_which(embedded_aws, tmp_path,
                                                                                      capsys):
    setup = deploy_state(tmp_path)
    plan = str(setup.plan)
    report = evidence(tmp_path, {"GET /avp": {"ready": False, "reasons": ["only 12 decisions"]}})
    cases = [
        (["cutover", "GET /scope", "--force", "--reason", "INC-7"],
         "--force: --force needs --evidence FILE (the shadow report whose verdict you override) or an explicit "
         "--no-evidence"),
        (["cutover", "GET /scope", "--no-evidence"], "--no-evidence: --no-evidence only goes with --force"),
        (["cutover", "GET /scope", "--force", "--reason", "x", "--no-evidence", "--evidence", report],
         "--no-evidence and --evidence FILE contradict each other"),
    ]
    for argv, expected in cases:
        code, out, err = run(capsys, *argv, "--plan", plan, "--yes")
        assert (code, out) == (1, "") and err.count("\n") == 1 and expected in err, err
    assert len(ledger_items(setup)) == 1

    assert run(capsys, "cutover", "GET /scope", "--force", "--reason", "INC-7: no traffic, reviewed by hand",
               "--no-evidence", "--plan", plan, "--yes")[0] == 0
    assert run(capsys, "cutover", "GET /avp", "--force", "--reason", "INC-8", "--evidence", report, "--plan", plan,
               "--yes")[0] == 0
    without, with_report = ledger_items(setup)[1:]
    assert without["action"] == "force" and "file" not in without["evidence"]
    assert without["evidence"]["overridden"]["GET /scope"][0].startswith("no evidence")
    assert with_report["action"] == "force" and with_report["evidence"]["file"] == report
    assert with_report["evidence"]["routes"]["GET /avp"]["ready"] is False


def test_finalize_lists_endpoints_forced_without_evidence_and_refuses_them_unless_accepted(embedded_aws, tmp_path,
                                                                                          capsys):
    shadow = ("GET /scope", "GET /pets", "POST /pets")
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES} | dict.fromkeys(shadow, "shadow"))
    plan = str(setup.plan)
    ready = evidence(tmp_path, {"POST /pets": {}}, name="ready.json")
    assert run(capsys, "cutover", "GET /scope", "--force", "--reason", "INC-7: no traffic", "--no-evidence",
               "--plan", plan, "--yes")[0] == 0  # version 2
    # forced with a report that does not cover the route: no evidence for it either
    assert run(capsys, "cutover", "GET /pets", "--force", "--reason", "INC-8", "--evidence", ready, "--plan", plan,
               "--yes")[0] == 0  # version 3
    # forced without evidence, then rolled back and cut over properly: no longer listed
    assert run(capsys, "cutover", "POST /pets", "--force", "--reason", "INC-9", "--no-evidence", "--plan", plan,
               "--yes")[0] == 0
    assert run(capsys, "rollback", "POST /pets", "--plan", plan, "--yes")[0] == 0
    # a report whose window ends after the rollback (within the 5 minutes of clock skew the gate allows)
    later = evidence(tmp_path, {"POST /pets": {}}, name="later.json", end=datetime.now(UTC) + timedelta(minutes=2))
    assert run(capsys, "cutover", "POST /pets", "--evidence", later, "--plan", plan, "--yes")[0] == 0
    versions = len(ledger_items(setup))

    code, out, _ = run(capsys, "finalize", "--plan", plan, "--dry-run")
    assert code == ExitCode.DIFFERENCES
    forced_lines = [line for line in out.splitlines() if "forced to avp without evidence" in line]
    assert [line.split(": ", 1)[1].split(" (")[0] for line in forced_lines] == ["GET /pets", "GET /scope"]
    assert "GET /scope (ledger version 2, " in forced_lines[1] and "reason: INC-7: no traffic)" in forced_lines[1]
    assert forced_lines[0].endswith("finalize refuses it unless --accept-forced names it (or --accept-forced-all)")

    code, out, err = run(capsys, "finalize", "--plan", plan, "--yes")
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert "finalize: refused, nothing was changed: these endpoints reached avp by `cutover --force` without " in err
    assert "GET /pets (ledger version 3" in err and "GET /scope (ledger version 2" in err and "POST /pets" not in err
    assert "--accept-forced ROUTE (repeatable) or all of them with --accept-forced-all" in err
    code, _, err = run(capsys, "finalize", "--plan", plan, "--yes", "--accept-forced", "get /scope")
    assert code == 1 and "GET /pets (ledger version 3" in err and "GET /scope (ledger" not in err
    code, _, err = run(capsys, "finalize", "--plan", plan, "--yes", "--accept-forced", "GET /avp")
    assert code == 1 and "--accept-forced: 'GET /avp' did not reach avp by --force without evidence (those that " \
                         "did: GET /pets, GET /scope)" in err
    code, _, err = run(capsys, "finalize", "--plan", plan, "--yes", "--accept-forced", "GET /nope")
    assert code == 1 and err.startswith("avp-migrate: error: --accept-forced: unknown route 'GET /nope'")
    assert len(ledger_items(setup)) == versions
    assert method_of(setup, "GET /avp")["authorizationScopes"] == [sc("avp.read")]

    code, out, _ = run(capsys, "finalize", "--plan", plan, "--yes", "--accept-forced", "GET /scope",
                       "--accept-forced", "GET /pets")
    assert code == 0 and out.count(": accepted") == 2
    entry = ledger_items(setup)[-1]
    assert entry["action"] == "finalize"
    assert entry["details"]["forced_accepted"] == {"GET /pets": 3, "GET /scope": 2}


def test_accept_forced_all(embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES} | {"GET /scope": "shadow"})
    plan = str(setup.plan)
    assert run(capsys, "cutover", "GET /scope", "--force", "--reason", "r", "--no-evidence", "--plan", plan,
               "--yes")[0] == 0
    code, out, _ = run(capsys, "finalize", "--plan", plan, "--yes", "--accept-forced-all", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["changed"]
    assert [(f["route"], f["version"], f["accepted"]) for f in data["forced_without_evidence"]] == [
        ("GET /scope", 2, True)]


# --- 4. undeploy after finalize ---------------------------------------------------------------------------------------


def test_undeploy_after_finalize_says_what_it_can_and_cannot_restore_before_doing_anything(embedded_aws, tmp_path,
                                                                                          capsys, monkeypatch):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES})
    plan = str(setup.plan)
    assert run(capsys, "finalize", "--plan", plan, "--yes")[0] == 0
    # One moved method was public before deploy (its original authorizer cannot be deleted): that one can go back.
    record = json.loads((setup.plan / "deployment.json").read_text())
    record["methods"]["GET /avp"]["original"] = {"authorizationType": "NONE", "authorizerId": None,
                                                 "authorizationScopes": []}
    (setup.plan / "deployment.json").write_text(json.dumps(record))
    deployments = len(boto3.client("apigateway").get_deployments(restApiId=setup.api_id)["items"])

    # Before: undeploy stopped with "cannot restore GET /avp: its original authorizer ... (finalized?)".
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    code, out, err = run(capsys, "undeploy", "--plan", plan)
    assert code == 1 and "not confirmed" in err
    lines = out.splitlines()
    stranded = ", ".join(sorted(r for r in ROUTES if r != "GET /avp"))
    assert lines[0].startswith("undeploy after finalize (ledger version 2, ")
    assert lines[0].endswith(": what it can and cannot restore")
    assert lines[1:6] == [
        f"  cannot restore: the original authorizer {setup.cognito_authorizer}, deleted by finalize: API Gateway "
        "cannot bring a deleted authorizer back",
        f"  cannot restore: {stranded} to authorizer {setup.cognito_authorizer}: they stay on the Lambda authorizer, "
        "in the mode the ledger gives them",
        f"  the scopes finalize removed from {stranded} are not put back on them either (deployment.json keeps each "
        "method's original scopes)",
        f"  kept, because those endpoints depend on them: API Gateway authorizer {setup.lambda_authorizer}, function "
        f"avp-migrate-authz-{setup.api_id}-prod, role avp-migrate-authz, mode parameter {setup.parameter}, policy "
        f"store ps-1; {setup.plan / 'deployment.json'} stays and names them",
        "  can restore: GET /avp to NONE (it had no authorizer to lose)"]
    assert lines[6].startswith("  to go back to Cognito for the others: create a Cognito authorizer")
    # then, and only then, the changes and the question
    assert change_lines(lines[7:]) == ["update apigateway method GET /avp: CUSTOM avp-migrate -> NONE",
                                       "create apigateway deployment of stage prod: callers are back on the original "
                                       "authorizers"]
    assert method_of(setup, "GET /avp")["authorizationType"] == "CUSTOM"

    code, out, _ = run(capsys, "undeploy", "--plan", plan, "--yes")
    assert code == 0
    assert out.splitlines()[:7] == lines[:7]  # the same statement, first, with --yes
    assert method_of(setup, "GET /avp")["authorizationType"] == "NONE"
    for route in ROUTES:
        if route != "GET /avp":
            method = method_of(setup, route)
            assert (method["authorizationType"], method["authorizerId"]) == ("CUSTOM", setup.lambda_authorizer)
    apigw = boto3.client("apigateway")
    assert setup.lambda_authorizer in {a["id"] for a in apigw.get_authorizers(restApiId=setup.api_id)["items"]}
    assert len(apigw.get_deployments(restApiId=setup.api_id)["items"]) == deployments + 1
    assert ssm_document(setup)["routes"]["GET /scope"] == "avp"  # the mode document stays: the methods read it
    kept = load_record(setup.plan)
    assert sorted(kept.methods) == sorted(r for r in ROUTES if r != "GET /avp")
    assert kept.authorizer_id == setup.lambda_authorizer and kept.policy_store_id == "ps-1"
    assert (f"undeployed what it could of API CutApi ({setup.api_id}) stage prod: 2 change(s) applied; kept "
            f"{setup.plan / 'deployment.json'}: it names what undeploy could not remove") in out

    # again: nothing left that it can do, and it says so (and still keeps deployment.json)
    code, out, _ = run(capsys, "undeploy", "--plan", plan, "--yes")
    assert code == 0 and "  can restore: nothing (no moved method's original authorizer is left)" in out
    assert f"nothing to undeploy for API CutApi ({setup.api_id}) stage prod" in out
    assert (setup.plan / "deployment.json").exists()


def test_undeploy_after_finalize_that_kept_the_cognito_authorizer_restores_every_method_with_its_scopes(
        embedded_aws, tmp_path, capsys):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES}, legacy={"GET /legacy": [sc("legacy")]})
    plan = str(setup.plan)
    assert run(capsys, "finalize", "--plan", plan, "--yes")[0] == 0
    assert not method_of(setup, "GET /avp").get("authorizationScopes")  # finalize removed them
    code, out, _ = run(capsys, "undeploy", "--plan", plan, "--dry-run")
    assert code == ExitCode.DIFFERENCES
    lines = out.splitlines()
    assert lines[0].startswith("undeploy after finalize (ledger version 2, ")
    assert lines[1] == "  cannot restore: nothing (every moved method's original authorizer is still there)"
    assert lines[2:2 + len(ROUTES)] == [
        f"  can restore: {route} to COGNITO_USER_POOLS {setup.cognito_authorizer} [{', '.join(scopes)}] (its original "
        "authorizer still exists; finalize removed its scopes, they come back from deployment.json)"
        for route, scopes in ROUTES.items()]
    assert change_lines(lines[2 + len(ROUTES):])[0].startswith("update apigateway method ")
    code, out, _ = run(capsys, "undeploy", "--plan", plan, "--yes")
    assert code == 0 and out.splitlines()[:2] == lines[:2]
    for route, scopes in ROUTES.items():
        method = method_of(setup, route)
        assert (method["authorizationType"], method["authorizerId"], method["authorizationScopes"]) == (
            "COGNITO_USER_POOLS", setup.cognito_authorizer, scopes)
    assert not (setup.plan / "deployment.json").exists()


# --- 5. Ctrl-C --------------------------------------------------------------------------------------------------------


def _interrupt(monkeypatch: Any, module: Any, resource_prefix: str, *, after_apply: bool = False) -> None:
    """Make ``module.plan_*`` return a change set whose change on ``resource_prefix`` is interrupted by Ctrl-C:
    before its call, or after it (the call took effect, then the interrupt arrived)."""
    name = "plan_deploy" if module is deployer else "plan_undeploy"
    real = getattr(module, name)

    def planned(*args: Any, **kwargs: Any) -> Any:
        change_set = real(*args, **kwargs)
        index = next(i for i, c in enumerate(change_set.changes) if c.resource.startswith(resource_prefix))
        change = change_set.changes[index]

        def ctrl_c() -> None:
            if after_apply and change.apply is not None:
                change.apply()
            raise KeyboardInterrupt

        change_set.changes[index] = dataclasses.replace(change, apply=ctrl_c)
        return change_set

    monkeypatch.setattr(module, name, planned)


def test_ctrl_c_during_deploy_says_what_was_applied_and_how_to_continue_or_undo(demo, capsys, monkeypatch):
    dry = run(capsys, *demo.deploy_args("--dry-run"))[1].splitlines()
    total = len(change_lines(dry)) + sum(line.startswith("check ") for line in dry)  # the smoke test is a step too
    _interrupt(monkeypatch, deployer, "apigateway authorizer")
    code, out, err = run(capsys, *demo.deploy_args("--yes"))
    assert code == ExitCode.INTERRUPTED
    applied = change_lines(out.splitlines())
    report = err.splitlines()
    before = len(applied) - 1  # the echoed lines end with the interrupted one
    assert report[0] == f"avp-migrate: interrupted: deploy stopped (Ctrl-C) after {before} of {total} changes"
    assert [line.removeprefix("  applied:      ") for line in report[1:before + 1]] == applied[:-1]
    assert report[before + 1] == (f"  interrupted:  {applied[-1]} (its call may or may not have taken effect; the "
                                  "next run reads the account again)")
    not_applied = [line for line in report if line.startswith("  not applied:  ")]
    assert len(not_applied) == total - before - 1
    assert any(line.startswith("  not applied:  update apigateway method GET /avp:") for line in not_applied)
    assert f"{demo.plan / 'deployment.json'} records what exists" in report
    resume = next(line for line in report if line.startswith("to continue"))
    undo = next(line for line in report if line.startswith("to undo what was applied: "))
    assert resume.startswith("to continue (deploy is idempotent: it does only what is missing): avp-migrate deploy ")
    assert undo == f"to undo what was applied: avp-migrate undeploy --plan {demo.plan}"
    record = load_record(demo.plan)  # saved for what exists
    assert record.policy_store_id and record.function_name and record.role_name
    assert (record.authorizer_id, record.methods) == ("", {})
    assert {r for r, m in methods_of(demo.account.api_id).items() if m["authorizationType"] == "CUSTOM"} == set()

    # the printed commands work: continue, then undo
    monkeypatch.undo()
    command = shlex.split(resume[resume.index("avp-migrate "):])
    assert command[0] == "avp-migrate"
    code, out, _ = run(capsys, *command[1:])
    assert code == 0 and change_lines(out.splitlines())[0].startswith("create apigateway authorizer")
    assert set(load_record(demo.plan).methods) == set(methods_of(demo.account.api_id)) - {"GET /health"}
    assert run(capsys, *shlex.split(undo[undo.index("avp-migrate "):])[1:], "--yes")[0] == 0
    assert stable(scan(demo.account)) == demo.before


def test_ctrl_c_during_undeploy_saves_the_record_and_undeploy_finishes_the_job(demo, capsys, monkeypatch):
    assert run(capsys, *demo.deploy_args("--yes"))[0] == 0
    # interrupted just after the call of the third method's restore took effect
    _interrupt(monkeypatch, undeploy, "apigateway method GET /orders", after_apply=True)
    code, _, err = run(capsys, "undeploy", "--plan", str(demo.plan), "--yes")
    assert code == ExitCode.INTERRUPTED
    assert "interrupted:  update apigateway method GET /orders:" in err
    assert f"to continue: avp-migrate undeploy --plan {demo.plan} --yes" in err
    assert (f"to undo (put the endpoints back in shadow mode): avp-migrate deploy --plan {demo.plan} --mode shadow "
            "with the packaging options you deployed with") in err
    record = load_record(demo.plan)
    live = methods_of(demo.account.api_id)
    # the record names exactly the methods still on the Lambda authorizer (the interrupted restore took effect)
    assert set(record.methods) == {r for r, m in live.items() if m["authorizationType"] == "CUSTOM"}
    assert "GET /orders" not in record.methods and record.function_name and record.policy_store_id
    monkeypatch.undo()
    assert run(capsys, "undeploy", "--plan", str(demo.plan), "--yes")[0] == 0
    assert stable(scan(demo.account)) == demo.before


def test_ctrl_c_during_cutover_points_to_status_and_repair(embedded_aws, tmp_path, capsys, monkeypatch):
    setup = deploy_state(tmp_path)
    plan = str(setup.plan)

    def ctrl_c(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt  # after the ledger write, before SSM has it

    monkeypatch.setattr(cutover_commit, "publish", ctrl_c)
    code, out, err = run(capsys, "cutover", "GET /avp", "--plan", plan, "--evidence",
                         evidence(tmp_path, {"GET /avp": {}}), "--yes")
    assert (code, out) == (ExitCode.INTERRUPTED, "")
    lines = err.splitlines()
    assert lines[0].startswith("avp-migrate: interrupted: cutover stopped (Ctrl-C). Done: marked 1 route(s) pending")
    assert "wrote ledger version 2" in lines[0] and "settled lambda:" in lines[0]  # the fallback followed anyway
    assert lines[2:] == [
        f"  to see where it stands: avp-migrate status --plan {plan}",
        f"  to finish (republish SSM, settle the fallback): avp-migrate status --plan {plan} --repair --yes",
        f"  the ledger holds version 2; to undo it: `avp-migrate rollback 'GET /avp' --plan {plan}`"]
    assert len(ledger_items(setup)) == 2 and ssm_document(setup)["version"] == 1
    monkeypatch.undo()
    code, out, _ = run(capsys, "status", "--plan", plan)
    assert code == ExitCode.DIFFERENCES and "SSM holds version 1, the ledger's newest is 2" in out
    assert run(capsys, "status", "--plan", plan, "--repair", "--yes")[0] == 0
    assert ssm_document(setup)["version"] == 2


def test_ctrl_c_during_finalize_says_run_it_again(embedded_aws, tmp_path, capsys, monkeypatch):
    setup = deploy_state(tmp_path, modes={route: "avp" for route in ROUTES})
    plan = str(setup.plan)

    def ctrl_c(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt  # the API is finalized and the entry written; SSM does not have it yet

    monkeypatch.setattr(cutover_commit, "publish", ctrl_c)
    code, _, err = run(capsys, "finalize", "--plan", plan, "--yes")
    assert code == ExitCode.INTERRUPTED
    assert err.startswith("avp-migrate: interrupted: finalize stopped (Ctrl-C): the API may be partly finalized")
    assert f"  to finish finalize (it does only what is left): avp-migrate finalize --plan {plan} --yes" in err
    monkeypatch.undo()
    assert run(capsys, "status", "--plan", plan, "--repair", "--yes")[0] == 0
    code, out, _ = run(capsys, "finalize", "--plan", plan, "--yes")
    assert code == 0 and "nothing to change: already finalized" in out
