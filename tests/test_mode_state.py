# ruff: noqa: F811  (the demo fixture is imported from test_deploy and used as a parameter)
"""The mode state under faults: a route the ledger holds in ``avp`` is never decided by the scope rule.

The scenario of the issue, end to end on the embedded AWS: deploy the demo in shadow, cut ``GET /avp`` over, then
an operator deletes avp-group's policy, so Verified Permissions now denies alice while the scope rule still allows
her. Every cold start of the deployed function (its code's configuration, its environment as avp-migrate left
it) must then refuse alice, whatever happens to SSM: unreachable, parameter deleted, lagging behind, or the
fallback variable gone. Then the faults between the steps of a change (a publication that fails, a fallback update
that fails, a concurrent writer) and ``status`` comparing the three copies.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from authorizer.config import AuthorizerConfig
from authorizer.modes import ModeDocument
from migrate.awsconfig import AwsSession, AwsTarget
from migrate.cutover import changes
from migrate.cutover import fallback as fallback_module
from migrate.cutover.deployment import Deployment
from migrate.cutover.status import status
from migrate.deploy.record import load_record
from migrate.errors import UserError
from tests.authorizer_helpers import harness, request_event
from tests.test_deploy import Demo, _fail, demo, run  # noqa: F401  (demo is a fixture)


def evidence_for(tmp_path: Any, routes: list[str]) -> str:
    """A ready shadow report whose window ends now (after the routes entered shadow at deploy time)."""
    end = datetime.now(UTC) + timedelta(seconds=30)
    stamp = lambda moment: moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    path = tmp_path / "shadow-report.json"
    path.write_text(json.dumps({
        "report_format_version": 1,
        "window": {"start": stamp(end - timedelta(hours=1)), "end": stamp(end), "first_seen": stamp(end),
                   "last_seen": stamp(end), "bin_seconds": 60},
        "thresholds": {"min_decisions": 100, "max_avp_error_rate": 0.01, "allow_disagreements": 0},
        "routes": [{"route": r, "ready": True, "reasons": [], "decisions": 500, "avp_errors": 0,
                    "disagreements": {"scope_allow_avp_deny": 0, "scope_deny_avp_allow": 0}, "agreement_rate": 1.0}
                   for r in routes]}))
    return str(path)


def cold_start(demo: Demo, tmp_path: Any, embedded_aws: Any, *, ssm: str = "ok",
               drop_fallback: bool = False) -> Any:
    """A new execution environment of the deployed function: the configuration bundled in its code, its
    environment as it is now, and SSM as ``ssm`` says: ``ok``, ``unreachable`` (every read fails)."""
    record = load_record(demo.plan)
    function = boto3.client("lambda").get_function(FunctionName=record.function_name)
    # the bundled configuration is the plan's (test_deploy checks the function's code is exactly that package)
    config = AuthorizerConfig.from_json((demo.plan / "authorizer-config.json").read_text())
    env = dict(function["Configuration"]["Environment"]["Variables"])
    if drop_fallback:
        env.pop("AVP_AUTHZ_MODES")
    client = boto3.client("ssm")

    def fetch(name: str, max_age: int) -> Any:
        if ssm == "unreachable":
            raise TimeoutError("connect timeout on endpoint URL: ssm")
        return client.get_parameter(Name=name)["Parameter"]["Value"]

    return harness(tmp_path, embedded_aws, config, store_id=None, env=env, ssm_fetch=fetch)


def delete_avp_group_policy(demo: Demo) -> None:
    record = load_record(demo.plan)
    avp = boto3.client("verifiedpermissions")
    avp.delete_policy(policyStoreId=record.policy_store_id, policyId=record.policies["rule avp-group: group avp-group"])


def decide(demo: Demo, authorizer: Any, user: str) -> str:
    token = demo.account.sign_in(user)["access"]
    return authorizer.call(request_event("GET /avp", f"Bearer {token}", api_id=demo.account.api_id)).status


@pytest.fixture
def cut_over(demo, capsys, tmp_path, embedded_aws):
    """Deployed in shadow; GET /avp cut over to avp; then avp-group's policy deleted by an operator."""
    assert run(capsys, demo.deploy_args("--yes"))[0] == 0
    # before the cut-over, alice is allowed (shadow: the scope rule decides)
    assert decide(demo, cold_start(demo, tmp_path, embedded_aws), "alice") == "ALLOW"
    code, lines, err = run(capsys, ["cutover", "GET /avp", "--plan", str(demo.plan), "--evidence",
                                    evidence_for(tmp_path, ["GET /avp"]), "--yes"])
    assert code == 0 and "avp-migrate: error" not in err, err
    assert any("authorizer fallback" in line and "version 2" in line for line in lines)
    delete_avp_group_policy(demo)
    return demo


def test_after_a_cut_over_no_cold_start_falls_back_to_the_scope_rule(cut_over, tmp_path, embedded_aws):
    demo = cut_over
    ssm = boto3.client("ssm")
    parameter = load_record(demo.plan).mode_parameter
    # SSM answers: avp, so DENY
    assert decide(demo, authorizer := cold_start(demo, tmp_path, embedded_aws), "alice") == "DENY"
    assert (authorizer.last().mode, authorizer.last().modes_version) == ("avp", 2)
    # SSM unreachable on the first read: the fallback, kept in step by the cut-over, says avp
    authorizer = cold_start(demo, tmp_path, embedded_aws, ssm="unreachable")
    assert decide(demo, authorizer, "alice") == "DENY"
    assert (authorizer.last().mode, authorizer.last().modes_source, authorizer.last().modes_version) == (
        "avp", "fallback", 2)
    # the parameter deleted: the same
    ssm.delete_parameter(Name=parameter)
    authorizer = cold_start(demo, tmp_path, embedded_aws)
    assert decide(demo, authorizer, "alice") == "DENY"
    assert authorizer.last().modes_source == "fallback"
    # and with no fallback variable at all: both rules must allow, and AVP does not
    authorizer = cold_start(demo, tmp_path, embedded_aws, ssm="unreachable", drop_fallback=True)
    assert decide(demo, authorizer, "alice") == "DENY"
    assert (authorizer.last().mode, authorizer.last().modes_source) == ("both", "none")


def test_ssm_lagging_behind_the_ledger_is_overruled_by_the_fallback(cut_over, tmp_path, embedded_aws):
    demo = cut_over
    parameter = load_record(demo.plan).mode_parameter
    # An operator (or a failed publication) leaves SSM at version 1, where GET /avp is in shadow.
    ssm = boto3.client("ssm")
    document = json.loads(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    document.update(version=1, routes={**document["routes"], "GET /avp": "shadow"})
    ssm.put_parameter(Name=parameter, Value=json.dumps(document), Type="String", Overwrite=True)
    authorizer = cold_start(demo, tmp_path, embedded_aws)
    assert decide(demo, authorizer, "alice") == "DENY"
    assert (authorizer.last().mode, authorizer.last().modes_version) == ("avp", 2)


def session_failing(operation: str, code: str = "ThrottlingException") -> AwsSession:
    session = AwsSession(AwsTarget())
    service, name = operation.split(".")
    session.boto3_session.events.register(f"before-call.{service}.{name}", _fail(name, code))
    return session


def test_a_publication_that_fails_after_the_ledger_write_leaves_no_scope_decision(demo, capsys, tmp_path,
                                                                                embedded_aws):
    assert run(capsys, demo.deploy_args("--yes"))[0] == 0
    deployment = Deployment.load(str(demo.plan), session_failing("ssm.PutParameter"))
    with pytest.raises(UserError, match="PutParameter"):
        changes.cutover(deployment, ["GET /avp"], evidence_path=evidence_for(tmp_path, ["GET /avp"]))
    delete_avp_group_policy(demo)
    # the ledger holds version 2 (avp); SSM still version 1 (shadow); the fallback was settled at version 2
    for ssm in ("ok", "unreachable"):
        authorizer = cold_start(demo, tmp_path, embedded_aws, ssm=ssm)
        assert decide(demo, authorizer, "alice") == "DENY"
        assert (authorizer.last().mode, authorizer.last().modes_version) == ("avp", 2)
    found = status(Deployment.load(str(demo.plan), AwsSession(AwsTarget())))
    assert not found.in_sync and any("SSM holds version 1" in d for d in found.drift)
    assert not found.fallback_drift


def test_a_fallback_update_that_fails_leaves_the_route_to_both_rules_until_repaired(demo, capsys, tmp_path,
                                                                                   embedded_aws, monkeypatch):
    assert run(capsys, demo.deploy_args("--yes"))[0] == 0
    session = AwsSession(AwsTarget())
    calls = {"n": 0}

    def second_update_fails(**_: Any) -> Any:
        calls["n"] += 1  # the first update marks the route pending; the second (the settle) fails
        return _fail("UpdateFunctionConfiguration", "ServiceException")() if calls["n"] >= 2 else None

    session.boto3_session.events.register("before-call.lambda.UpdateFunctionConfiguration", second_update_fails)
    deployment = Deployment.load(str(demo.plan), session)
    with pytest.raises(UserError, match=r"GET /avp stay decided by the scope rule and Verified Permissions together"):
        changes.cutover(deployment, ["GET /avp"], evidence_path=evidence_for(tmp_path, ["GET /avp"]))
    delete_avp_group_policy(demo)
    authorizer = cold_start(demo, tmp_path, embedded_aws, ssm="unreachable")
    assert decide(demo, authorizer, "alice") == "DENY"
    assert authorizer.last().mode == "both"  # pending: neither rule decides alone
    bob_like = cold_start(demo, tmp_path, embedded_aws)  # SSM readable (avp): the mark still wins, both rules
    assert decide(demo, bob_like, "alice") == "DENY" and bob_like.last().mode == "both"

    healthy = Deployment.load(str(demo.plan), AwsSession(AwsTarget()))
    found = status(healthy)
    assert not found.in_sync and any("pending since" in d and "GET /avp" in d for d in found.fallback_drift)
    kept = status(healthy, repair=True)  # a recent mark may belong to a change still running: kept
    assert kept.repaired_fallback is not None and kept.repaired_fallback.pending and not kept.in_sync
    monkeypatch.setattr(fallback_module, "STALE_PENDING", timedelta(0))
    repaired = status(healthy, repair=True)
    assert repaired.in_sync and repaired.repaired_fallback is not None and not repaired.repaired_fallback.pending
    authorizer = cold_start(demo, tmp_path, embedded_aws, ssm="unreachable")
    assert decide(demo, authorizer, "alice") == "DENY" and authorizer.last().mode == "avp"


def test_concurrent_changes_keep_each_others_marks(demo, capsys, tmp_path, embedded_aws):
    """Two writers on two routes at once (their conditional function updates and ledger writes interleave): both
    changes land, every route ends in the ledger's mode, and no mark is left behind."""
    assert run(capsys, demo.deploy_args("--yes"))[0] == 0
    report = evidence_for(tmp_path, ["GET /avp", "GET /scope"])
    route_keys = tuple(AuthorizerConfig.from_json((demo.plan / "authorizer-config.json").read_text()).routes)
    function = load_record(demo.plan).function_name
    errors: list[BaseException] = []

    def move(route: str) -> None:
        try:
            changes.cutover(Deployment.load(str(demo.plan), AwsSession(AwsTarget())), [route], evidence_path=report)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(route,)) for route in ("GET /avp", "GET /scope")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    text = boto3.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"][
        "AVP_AUTHZ_MODES"]
    final = ModeDocument.from_json(text, source="t", route_keys=route_keys)
    assert final.version == 3 and final.pending == ()
    assert (final.mode_for("GET /avp"), final.mode_for("GET /scope")) == ("avp", "avp")


def test_a_1200_route_fallback_fits_the_function_environment():
    from authorizer.modes import PendingMark
    from migrate.cutover.fallback import ENV_LIMIT_BYTES, fallback_text

    keys = [f"GET /v2/organizations/{{organizationId}}/projects/{{projectId}}/collection{i:04}/{{itemId}}/details"
            for i in range(1200)]
    document = {"version": 41, "default": "scope",
                "routes": {k: ("avp", "shadow", "scope")[hash(k) % 3] for k in keys}}
    marks = [PendingMark(f"w{i}", "2026-12-07T12:00:00+00:00", frozenset(keys[i::7])) for i in range(3)]
    text = fallback_text(document, keys, marks)
    assert len(text) + 200 < ENV_LIMIT_BYTES  # with room for the other variables
    back = ModeDocument.from_json(text, source="t", route_keys=keys)
    assert dict(back.routes) == document["routes"]
    assert back.pending_routes == frozenset().union(*(m.routes for m in marks))


def test_the_operator_policy_lets_cutover_keep_the_fallback_in_step(demo, capsys, tmp_path):
    code, lines, _ = run(capsys, ["iam-policy", "--plan", str(demo.plan), "--for", "cutover", "--account-id",
                                  "123456789012", "--region", "us-east-1"])
    assert code == 0
    statements = {s["Sid"]: s for s in json.loads("\n".join(lines))["Statement"]}
    fallback = statements["AuthorizerFallback"]
    assert fallback["Action"] == ["lambda:GetFunctionConfiguration", "lambda:UpdateFunctionConfiguration"]
    assert fallback["Resource"] == [
        f"arn:aws:lambda:us-east-1:123456789012:function:avp-migrate-authz-{demo.account.api_id}-prod"]
    assert statements["ModeLedger"]["Action"] == ["dynamodb:PutItem", "dynamodb:Query"]
    assert "verifiedpermissions:*" not in json.dumps(statements)  # cut-over never touches the policy store


def test_a_1200_route_document_is_published_compact_and_read_back_by_both_sides(embedded_aws):
    from migrate.cutover.ledger import Entry
    from migrate.cutover.publish import STANDARD_TIER_BYTES, ModeParameter, in_sync

    keys = [f"GET /v2/organizations/{{organizationId}}/projects/{{projectId}}/collection{i:04}/{{itemId}}/details"
            for i in range(1200)]
    entry = Entry(version=7, document={"version": 7, "default": "scope",
                                       "routes": {k: ("avp", "shadow")[i % 2] for i, k in enumerate(keys)}})
    parameter = ModeParameter(boto3.client("ssm"), "/avp-migrate/big/prod/modes", keys)
    parameter.write(entry)
    stored = boto3.client("ssm").get_parameter(Name=parameter.name)["Parameter"]
    assert len(stored["Value"].encode()) <= STANDARD_TIER_BYTES and "index" in json.loads(stored["Value"])
    published = parameter.read()
    assert published.problem is None and in_sync(published, entry)
    seen = ModeDocument.from_json(stored["Value"], source="ssm", route_keys=keys)  # as the authorizer reads it
    assert dict(seen.routes) == entry.document["routes"]
    # a document read with another configuration's routes is refused, not misread
    assert ModeParameter(boto3.client("ssm"), parameter.name, keys[:-1]).read().problem
