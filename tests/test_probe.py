"""`avp-migrate probe`: rules derived from handlers we did not write, checked against those handlers on inputs the
probe never sent.

The handlers under tests/fixtures/probe_handlers/ are written in the styles teams use (README there). Every
behavioural test runs a real handler in this process; the deployed-Lambda path is checked for its request and
response shape with botocore's Stubber only, because moto cannot run a Lambda function without Docker.

The fresh-input check reads both sides through the embedded Cognito's own reading of a trigger response
(`TokenChanges`), not through the probe's answer parser: the handler's response to a fresh event, against the
response avp-migrate's handler (`apply_rules`) gives with the derived rules.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import runpy
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from migrate.cli.main import main
from migrate.embedded.cognito_tokens import TokenChanges, build_event
from migrate.errors import UserError
from migrate.inventory import AppClient, Group, Inventory, PreTokenTrigger, User, UserPool, save_inventory
from migrate.probe import plan_probes
from migrate.probe.answers import (
    ACCESS_CLAIM,
    ADD_SCOPE,
    ID_CLAIM,
    OVERRIDE_GROUPS,
    SUPPRESS_SCOPE,
    parse_answer,
    rules_answer,
)
from migrate.probe.events import SYNTHETIC_IDENTITY, ClientInfo, ProbeTarget
from migrate.probe.invoke import HandlerFailed, InProcessInvoker, LambdaInvoker
from migrate.probe.verify import Observation, verify
from pretoken_lambda.handler import apply_rules
from pretoken_lambda.rules import CLIENT_CREDENTIALS, RuleSet, parse_rules

HANDLERS = Path(__file__).parent / "fixtures" / "probe_handlers"
POOL_ID = "us-east-1_Probe1"
WEB = AppClient(client_id="webclient00000000000000001", name="web", allowed_oauth_flows=["code"],
                allowed_oauth_scopes=["openid", "MyApi/pets.read"], allowed_oauth_flows_user_pool_client=True,
                explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"])
MOBILE = AppClient(client_id="mobileclient000000000000001", name="mobile",
                   explicit_auth_flows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
REPORTING = AppClient(client_id="reportingclient00000000001", name="reporting", has_secret=True,
                      allowed_oauth_flows=["client_credentials"], allowed_oauth_scopes=["MyApi/orders.read"],
                      allowed_oauth_flows_user_pool_client=True)
USER_SOURCES = ["TokenGeneration_Authentication", "TokenGeneration_HostedAuth", "TokenGeneration_RefreshTokens",
                "TokenGeneration_NewPasswordChallenge", "TokenGeneration_AuthenticateDevice"]


def sub_of(username: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"probe-test/{username}"))


def write_inventory(path: Path, *, groups: list[str], users: list[tuple[str, list[str], dict[str, str]]],
                    clients: list[AppClient], version: str = "V2_0") -> Path:
    pool = UserPool(
        id=POOL_ID, arn=f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/{POOL_ID}", name="probe-pool",
        region="us-east-1", users_complete=True, groups=[Group(g) for g in groups],
        users=[User(username=u, sub=sub_of(u), groups=list(g), attributes=dict(a), status="CONFIRMED")
               for u, g, a in users],
        clients=clients,
        pretoken_trigger=PreTokenTrigger(lambda_arn="arn:aws:lambda:us-east-1:123456789012:function:pretoken",
                                         version=version, config_field="PreTokenGenerationConfig"))
    save_inventory(Inventory(format_version=1, tool_version="test", created_at="2026-01-01T00:00:00Z",
                             user_pools=[pool]), path)
    return path


def probe(capsys: Any, tmp_path: Path, handler: str, inventory: Path | None, *extra: str) -> tuple[int, dict[str, Any]]:
    """Run `avp-migrate probe --format json` and return (exit code, report); the rules file must be the report's."""
    out = tmp_path / "rules.json"
    argv = ["probe", "--handler", f"{HANDLERS / handler}", "--out", str(out), "--format", "json", *extra]
    if inventory is not None:
        argv += ["--inventory", str(inventory)]
    code = main(argv)
    stdout, stderr = capsys.readouterr()
    assert code in (0, 2, 3), stderr
    report = json.loads(stdout)
    assert json.loads(out.read_text()) == report["rules"]
    parse_rules(report["rules"])  # a valid rules document
    assert report["exit_code"] == code
    return code, report


# --- the fresh-input check --------------------------------------------------------------------------------------


def fresh_event(version: str, *, username: str | None, groups: Iterable[str] = (),
                attributes: dict[str, str] | None = None, client: AppClient = MOBILE,
                source: str = "TokenGeneration_Authentication") -> dict[str, Any]:
    machine = source == CLIENT_CREDENTIALS
    user_attributes = {} if machine else {"sub": sub_of(username or ""), "cognito:user_status": "CONFIRMED",
                                          **(attributes or {})}
    scopes = (client.allowed_oauth_scopes if source in (CLIENT_CREDENTIALS, "TokenGeneration_HostedAuth")
              else ["aws.cognito.signin.user.admin"])
    return build_event(version=version, trigger_source=source, region="us-east-1", pool_id=POOL_ID,
                       client_id=client.client_id, username=None if machine else username,
                       user_attributes=user_attributes, groups=list(groups), scopes=list(scopes))


def token_effect(version: str, event: dict[str, Any], returned: dict[str, Any]) -> dict[str, Any]:
    """What the tokens end up with, as the embedded Cognito applies a trigger response."""
    changes = TokenChanges(version, returned.get("response"))
    requested = event["request"].get("scopes") or []
    scopes = {s for s in requested if s not in changes.scopes_suppress}
    scopes |= {s for s in changes.scopes_add if s not in changes.scopes_suppress}
    machine = event["triggerSource"] == CLIENT_CREDENTIALS
    groups = (event["request"]["groupConfiguration"] or {}).get("groupsToOverride") or []
    if changes.group_override is not None:
        groups = changes.group_override.get("groupsToOverride") or []
    effect = {
        "scopes": scopes,
        "access": {k: v for k, v in changes.access_add.items() if k not in changes.access_suppress},
        "access_suppressed": changes.access_suppress,
    }
    if not machine:
        effect.update(id={k: v for k, v in changes.id_add.items() if k not in changes.id_suppress},
                      id_suppressed=changes.id_suppress, groups=set(groups))
    return effect


def load_handler(name: str, function: str) -> Any:
    """A fresh instance of a fixture handler, loaded independently of the probe."""
    sys.path.insert(0, str(HANDLERS))  # for the handlers that import a sibling module
    before = set(sys.modules)
    try:
        return runpy.run_path(str(HANDLERS / name))[function]
    finally:
        sys.path.remove(str(HANDLERS))
        for module in set(sys.modules) - before:  # leave no fixture module behind for other tests
            if str(getattr(sys.modules[module], "__file__", "")).startswith(str(HANDLERS)):
                del sys.modules[module]


def fresh_differences(handler: Any, rules: dict[str, Any], events: list[dict[str, Any]],
                      version: str) -> list[tuple[str, str, Any, Any]]:
    """(event description, part, handler's, rules') for every part of the tokens where they differ."""
    ruleset: RuleSet = parse_rules(rules)
    found = []
    for event in events:
        theirs = token_effect(version, event, handler(copy.deepcopy(event), None))
        ours = token_effect(version, event, apply_rules(copy.deepcopy(event), ruleset))
        label = f"{event['userName']} {event['request']['groupConfiguration']} {event['triggerSource']}"
        found += [(label, part, theirs[part], ours[part]) for part in theirs if theirs[part] != ours[part]]
    return found


def scope_differences(found: list[tuple[str, str, Any, Any]]) -> tuple[set[str], set[str]]:
    """Scopes the rules miss, and scopes the rules grant that the handler does not."""
    missing, extra = set(), set()
    for _label, part, theirs, ours in found:
        if part == "scopes":
            missing |= theirs - ours
            extra |= ours - theirs
    return missing, extra


def finding_kinds(report: dict[str, Any]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for finding in report["findings"]:
        kinds.setdefault(finding["kind"], []).append(finding["message"])
    return kinds


# --- handlers in several styles ---------------------------------------------------------------------------------

DICT_GROUPS = ["admins", "auditors", "orders-team", "pets-readers", "pets-writers"]


def test_dictionary_handler_gives_additive_group_rules(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "inv.json", groups=DICT_GROUPS, version="V3_0",
                                clients=[WEB, MOBILE, REPORTING],
                                users=[("alice", ["admins"], {}), ("bob", ["orders-team", "pets-readers"], {}),
                                       ("erin", [], {})])
    code, report = probe(capsys, tmp_path, "dict_lookup.py:lambda_handler", inventory)
    assert code == 0 and report["verification"]["all_reproduced"]
    rules = {r["id"]: r for r in report["rules"]["rules"]}
    assert rules["group-admins"]["when"] == {"groups": ["admins"]}
    assert rules["group-admins"]["then"] == {
        "add_scopes": ["MyApi/admin", "MyApi/orders.read", "MyApi/orders.write", "MyApi/pets.read", "MyApi/pets.write"],
        "access_token": {"add_claims": {"tier": "gold"}}}
    assert rules["group-auditors"]["then"] == {"add_scopes": ["MyApi/orders.read", "MyApi/reports.read"]}
    # Everyone signed in (every user trigger source, not client credentials) gets scope.read.
    assert rules["all-users"]["when"]["trigger_sources"] == [
        "TokenGeneration_Authentication", "TokenGeneration_HostedAuth", "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice", "TokenGeneration_RefreshTokens"]
    assert rules["client-mobile"]["then"] == {"add_scopes": ["MyApi/mobile.sync"]}
    assert rules["source-RefreshTokens"]["then"] == {"suppress_scopes": ["MyApi/admin"]}
    assert not any("user" in r.get("when", {}) for r in report["rules"]["rules"])
    kinds = finding_kinds(report)
    assert set(kinds) == {"client", "trigger_source"}
    coverage = report["coverage"]
    assert coverage["by_kind"]["pair"] == 10 and coverage["by_kind"]["client_credentials"] == 1
    assert coverage["calls"] == 2 * coverage["events"]
    assert coverage["notes"] == ["attributes are those the snapshot holds (scan --user-attribute NAME keeps more)"]

    # Fresh inputs: users and combinations the probe never sent, every client and trigger source.
    events = [fresh_event("V3_0", username=f"new{i}", groups=combo, client=client, source=source)
              for i, (combo, client, source) in enumerate(itertools.product(
                  [DICT_GROUPS[:3], DICT_GROUPS[2:], DICT_GROUPS, ["pets-writers", "unknown-group"]],
                  [WEB, MOBILE], USER_SOURCES))]
    events.append(fresh_event("V3_0", username=None, client=REPORTING, source=CLIENT_CREDENTIALS))
    events.append(fresh_event("V3_0", username=None, client=WEB, source=CLIENT_CREDENTIALS))
    handler = load_handler("dict_lookup.py", "lambda_handler")
    assert fresh_differences(handler, report["rules"], events, "V3_0") == []


RANK_GROUPS = ["admins", "editors", "viewers", "staff"]


def test_highest_role_wins_is_reported_and_never_over_granted(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "inv.json", groups=RANK_GROUPS, clients=[WEB, MOBILE],
                                users=[("alice", ["admins", "editors"], {}), ("bob", ["editors"], {}),
                                       ("carol", ["editors", "viewers"], {}), ("erin", [], {}),
                                       ("sam", ["staff"], {})])
    code, report = probe(capsys, tmp_path, "rank.py:handler", inventory)
    assert code == 2  # synthetic combinations the format cannot express are not reproduced, and listed
    not_additive = " | ".join(finding_kinds(report)["not_additive"])
    assert "scope MyApi/drafts.write: 'groups editors' has it, 'groups admins+editors' does not" in not_additive
    assert "scope MyApi/public.read: 'no groups' has it" in not_additive
    assert "given per user for 2 real users" in not_additive
    ranked = finding_kinds(report)["ranked"]
    assert any('role="guest" < access claim role="viewer" < access claim role="editor" < access claim role="admin"'
               in m for m in ranked)
    mismatches = report["verification"]["mismatches"]
    assert mismatches and {m["cause"] for m in mismatches} == {"not_reproduced"}
    assert all(any("drafts.write" in d or "public.read" in d for d in m["differences"]) for m in mismatches)
    # Real users are reproduced exactly (per-user rules for what groups cannot express).
    assert not [m for m in mismatches if m["event"].startswith("user ")]
    user_rules = [r for r in report["rules"]["rules"] if "users" in r.get("when", {})]
    assert {r["when"]["users"][0] for r in user_rules} == {sub_of(u) for u in ("bob", "carol", "erin", "sam")}

    # Fresh inputs: the role claim (ranked by rule order) is always right; the only scopes the rules miss are
    # the two reported ones, and the rules never grant a scope the handler refuses.
    events = [fresh_event("V2_0", username=f"new{i}", groups=combo, source=source)
              for i, (combo, source) in enumerate(itertools.product(
                  [[], ["viewers"], ["editors"], ["admins", "editors", "viewers"], ["editors", "viewers", "staff"],
                   ["staff", "viewers"], ["admins", "staff"]], USER_SOURCES[:2]))]
    found = fresh_differences(load_handler("rank.py", "handler"), report["rules"], events, "V2_0")
    assert {part for _, part, _, _ in found} == {"scopes"}
    missing, extra = scope_differences(found)
    assert missing == {"MyApi/drafts.write", "MyApi/public.read"}
    assert extra == set()


def test_attribute_handler_gives_attribute_rules(capsys, tmp_path):
    inventory = write_inventory(
        tmp_path / "inv.json", groups=["staff", "admins"], clients=[MOBILE],
        users=[("fin", ["staff"], {"custom:department": "finance"}),
               ("eng", [], {"custom:department": "engineering", "custom:tenant": "t1"}),
               ("ten", ["staff"], {"custom:tenant": "t2"}), ("plain", ["admins"], {})])
    code, report = probe(capsys, tmp_path, "attribute.py:handler", inventory)
    assert code == 0
    whens = {json.dumps(r.get("when")): r["then"] for r in report["rules"]["rules"]}
    assert whens['{"attributes": {"custom:department": "finance"}}'] == {"add_scopes": ["MyApi/reports.read"]}
    assert whens['{"attributes": {"custom:department": "engineering"}}'] == {"add_scopes": ["MyApi/deploy"]}
    # Every tenant seen gives the scope, and no tenant-less probe does: presence is the simpler explanation.
    assert whens['{"attributes_present": ["custom:tenant"]}'] == {"add_scopes": ["MyApi/tenant.read"]}
    attribute_findings = finding_kinds(report)["attribute"]
    assert len(attribute_findings) == 3
    events = [fresh_event("V2_0", username=f"new{i}", groups=groups, attributes=attributes)
              for i, (groups, attributes) in enumerate(itertools.product(
                  [[], ["admins"], ["staff", "admins"]],
                  [{}, {"custom:department": "finance", "custom:tenant": "t9"}, {"custom:department": "legal"},
                   {"custom:tenant": ""}, {"custom:department": "engineering"}]))]
    assert fresh_differences(load_handler("attribute.py", "handler"), report["rules"], events, "V2_0") == []


@pytest.fixture
def entitlements_table(aws_clients: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    dynamodb = aws_clients("dynamodb")
    dynamodb.create_table(TableName="entitlements", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    items = {"group#admins": ["MyApi/admin", "MyApi/pets.read"], "group#readers": ["MyApi/pets.read"],
             "group#writers": ["MyApi/pets.write"], "user#bob": ["MyApi/beta"]}
    for key, scopes in items.items():
        dynamodb.put_item(TableName="entitlements",
                          Item={"pk": {"S": key}, "scopes": {"L": [{"S": s} for s in scopes]}})
    monkeypatch.setenv("ENTITLEMENTS_TABLE", "entitlements")
    return "entitlements"


def test_table_lookup_handler_through_boto3(capsys, tmp_path, entitlements_table):
    inventory = write_inventory(tmp_path / "inv.json", groups=["admins", "readers", "writers"], clients=[MOBILE],
                                users=[("bob", ["readers"], {}), ("dana", ["readers"], {}),
                                       ("ed", ["admins", "writers"], {})])
    code, report = probe(capsys, tmp_path, "table_lookup.py:lambda_handler", inventory)
    assert code == 3  # the rules reproduce every answer, but the answers came from a table: unproven
    (outside,) = finding_kinds(report)["outside"]
    assert "aws dynamodb.GetItem" in outside and "not for your users" in outside
    rules = {r["id"]: r for r in report["rules"]["rules"]}
    assert rules["group-admins"]["then"] == {"add_scopes": ["MyApi/admin", "MyApi/pets.read"]}
    assert rules["group-writers"]["then"] == {"add_scopes": ["MyApi/pets.write"]}
    assert rules["user-bob"] == {"id": "user-bob", "description": rules["user-bob"]["description"],
                                 "when": {"users": [sub_of("bob")]}, "then": {"add_scopes": ["MyApi/beta"]}}
    (identity,) = finding_kinds(report)["identity"]
    assert identity.startswith("scope MyApi/beta: 'user bob (groups readers)' has it, 'groups readers' (same groups "
                               "and attributes, another user) does not")
    # Fresh inputs: new users, and bob in groups the probe never saw him in.
    events = [fresh_event("V2_0", username=name, groups=groups)
              for name, groups in [("zoe", ["admins", "readers", "writers"]), ("yan", []), ("bob", ["admins"]),
                                   ("bob", ["writers", "readers"]), ("xi", ["readers", "unknown"])]]
    assert fresh_differences(load_handler("table_lookup.py", "lambda_handler"), report["rules"], events,
                             "V2_0") == []


def test_state_outside_the_event_is_found(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "inv.json", groups=["admins", "readers"], clients=[MOBILE],
                                users=[("a", ["admins"], {})])
    code, report = probe(capsys, tmp_path, "stateful.py:handler", inventory)
    assert code == 2
    (unstable,) = finding_kinds(report)["unstable"]
    assert "access claim invocation" in unstable and "scope MyApi/burst" in unstable
    assert {m["cause"] for m in report["verification"]["mismatches"]} == {"unstable"}
    assert all("burst" not in json.dumps(r) and "invocation" not in json.dumps(r) for r in report["rules"]["rules"])
    # Each run imports the handler afresh: its counter starts again at 1.
    evidence = next(f for f in report["findings"] if f["kind"] == "unstable")["evidence"]
    assert evidence[0].startswith("no groups: access claim invocation=1 / access claim invocation=2")
    _, again = probe(capsys, tmp_path, "stateful.py:handler", inventory)
    assert next(f for f in again["findings"] if f["kind"] == "unstable")["evidence"] == evidence
    # Fresh inputs, apart from what varies between calls: the group rules hold.
    handler = load_handler("stateful.py", "handler")
    events = [fresh_event("V2_0", username=f"n{i}", groups=g) for i, g in
              enumerate([["admins", "readers"], [], ["readers", "other"]])]
    for _, part, theirs, ours in fresh_differences(handler, report["rules"], events, "V2_0"):
        assert part in {"scopes", "access"}
        if part == "scopes":
            assert theirs ^ ours == {"MyApi/burst"}
        else:
            assert set(theirs) == {"invocation"} and ours == {}


def test_handler_errors_are_reported(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "inv.json", groups=["admins", "readers", "writers", "contractors"],
                                clients=[MOBILE], users=[("c", ["contractors", "readers"], {})])
    code, report = probe(capsys, tmp_path, "raising.py:handler", inventory)
    assert code == 2
    (error,) = finding_kinds(report)["error"]
    assert error.endswith("so Cognito refuses those sign-ins: KeyError: 'contractors'")
    mismatches = report["verification"]["mismatches"]
    assert {m["cause"] for m in mismatches} == {"error"}
    assert all("contractors" in m["event"] for m in mismatches)
    events = [fresh_event("V2_0", username="n", groups=g) for g in [["admins", "writers"], ["readers"], []]]
    assert fresh_differences(load_handler("raising.py", "handler"), report["rules"], events, "V2_0") == []


def test_v1_handler_claims(capsys, tmp_path):
    inventory = write_inventory(tmp_path / "inv.json", groups=["admins", "contractors"], clients=[MOBILE],
                                users=[("f", ["contractors"], {"custom:department": "finance", "email": "f@x"})],
                                version="V2_0")
    code, report = probe(capsys, tmp_path, "v1_claims.py:handler", inventory, "--version", "V1_0")
    assert code == 0 and report["event_version"] == "V1_0"
    thens = [r["then"] for r in report["rules"]["rules"]]
    assert {"id_token": {"add_claims": {"is_admin": "true"}}} in thens
    assert {"id_token": {"suppress_claims": ["email"]}} in thens
    assert {"id_token": {"add_claims": {"cost_center": "cc-100"}}} in thens
    events = [fresh_event("V1_0", username="n", groups=g, attributes=a)
              for g, a in itertools.product([["admins", "contractors"], []],
                                            [{"custom:department": "finance", "email": "n@x"}, {}])]
    assert fresh_differences(load_handler("v1_claims.py", "handler"), report["rules"], events, "V1_0") == []


def test_our_own_handler_round_trips(capsys, tmp_path):
    """Probing avp-migrate's handler gives rules that behave as the rules it runs, on fresh inputs."""
    groups = ["admins", "auditors", "avp-group", "orders-team", "pets-readers", "pets-writers", "contractors"]
    inventory = write_inventory(
        tmp_path / "inv.json", groups=groups, clients=[WEB, MOBILE, REPORTING], version="V3_0",
        users=[("alice", ["avp-group"], {}), ("erin", [], {}),
               ("grace", ["orders-team"], {"custom:department": "finance"}),
               ("heidi", ["pets-readers"], {"custom:department": "engineering"}),
               ("kim", ["contractors"], {"email": "k@x"})])
    code, report = probe(capsys, tmp_path, "our_rules.py:handler", inventory)
    assert code == 0
    original = json.loads((HANDLERS / "our_rules.json").read_text())
    events = [fresh_event("V3_0", username=f"n{i}", groups=g, attributes=a, client=c, source=s)
              for i, (g, a, c, s) in enumerate(itertools.product(
                  [["orders-team", "auditors", "pets-writers"], ["admins", "contractors"], []],
                  [{"custom:department": "finance", "email": "x@y"}, {}], [WEB, MOBILE], USER_SOURCES))]
    events += [fresh_event("V3_0", username=None, client=c, source=CLIENT_CREDENTIALS) for c in (REPORTING, WEB)]
    events.append(fresh_event("V3_0", username="erin", groups=["pets-writers"]))  # a real user, new groups
    ours = parse_rules(original)

    def original_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        return apply_rules(event, ours)

    assert fresh_differences(original_handler, report["rules"], events, "V3_0") == []


# --- the core, piece by piece -----------------------------------------------------------------------------------


def v2_event(groups: list[str] | None = None, source: str = "TokenGeneration_Authentication") -> dict[str, Any]:
    return fresh_event("V2_0", username="u", groups=groups or [], source=source)


@pytest.mark.parametrize("response", [[], {}, None, {"claimsAndScopeOverrideDetails": None},
                                      {"claimsAndScopeOverrideDetails": []}])
def test_an_empty_response_asks_nothing(response):
    event = v2_event()
    assert parse_answer(event, {**event, "response": response}).items == frozenset()


def test_answers_are_read_as_cognito_reads_them():
    event = v2_event(["a"])
    details = {"accessTokenGeneration": {"scopesToAdd": ["x", "y"], "scopesToSuppress": ["y"],
                                         "claimsToAddOrOverride": {"tier": "gold", "gone": 1},
                                         "claimsToSuppress": ["gone"]},
               "groupOverrideDetails": {"groupsToOverride": ["a"], "iamRolesToOverride": [], "preferredRole": None}}
    answer = parse_answer(event, {"response": {"claimsAndScopeOverrideDetails": details}})
    # suppression wins; the override repeats the request's groups, so it changes nothing
    assert answer.items == {(ADD_SCOPE, "x"), (SUPPRESS_SCOPE, "y"), (ACCESS_CLAIM, "tier", '"gold"'),
                            ("access_suppress", "gone")}
    removed = parse_answer(event, {"response": {"claimsAndScopeOverrideDetails": {"groupOverrideDetails": None}}})
    assert removed.items == {(OVERRIDE_GROUPS, '{"groups":[],"iam_roles":[],"preferred_role":null}')}


def test_answers_cognito_would_refuse_are_errors():
    event = v2_event()
    for details, words in [({"idTokenGeneration": {"claimsToAddOrOverride": {"sub": "x"}}}, "claim 'sub' cannot"),
                           ({"accessTokenGeneration": {"scopesToAdd": ["a b"]}}, "invalid scope 'a b'"),
                           ({"accessTokenGeneration": {"claimsToSuppress": ["cognito:groups"]}}, "cognito:groups")]:
        answer = parse_answer(event, {"response": {"claimsAndScopeOverrideDetails": details}})
        assert not answer.ok and words in answer.error
    assert parse_answer(event, "nope").error == "the handler returned a string, not the event"


def test_v1_and_client_credentials_answers_keep_what_cognito_uses():
    v1 = fresh_event("V1_0", username="u", groups=["a"])
    both = {"claimsOverrideDetails": {"claimsToAddOrOverride": {"dept": "x"}},
            "claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["s"]}}}
    assert parse_answer(v1, {"response": both}).items == {(ID_CLAIM, "dept", '"x"')}
    machine = fresh_event("V3_0", username=None, client=REPORTING, source=CLIENT_CREDENTIALS)
    details = {"idTokenGeneration": {"claimsToAddOrOverride": {"dept": "x"}},
               "accessTokenGeneration": {"scopesToAdd": ["s"]}, "groupOverrideDetails": None}
    assert parse_answer(machine, {"response": {"claimsAndScopeOverrideDetails": details}}).items == {(ADD_SCOPE, "s")}


def test_verification_catches_rules_that_do_not_reproduce():
    target = ProbeTarget(groups=("a", "b"))
    probes = plan_probes(target)
    observations = []
    for p in probes:
        event = p.event(target)
        scopes = ["s:a"] if "a" in p.groups else []
        answer = parse_answer(event, {"response": {"claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {"scopesToAdd": scopes}}}})
        observations.append(Observation(p, event, (answer, answer)))
    right = parse_rules({"version": 1, "rules": [{"id": "a", "when": {"groups": ["a"]},
                                                    "then": {"add_scopes": ["s:a"]}}]})
    wrong = parse_rules({"version": 1, "rules": [{"id": "b", "when": {"groups": ["b"]},
                                                    "then": {"add_scopes": ["s:a"]}}]})
    assert verify(right, observations) == (2 * len(probes), [])
    answers, mismatches = verify(wrong, observations)
    assert answers == 2 * len(probes)
    labels = {m.event for m in mismatches}
    assert "groups a" in labels and "groups b" in labels and "groups a+b" not in labels
    assert "the rules give scope s:a; the handler does not" in next(m for m in mismatches
                                                                    if m.event == "groups b").differences
    assert rules_answer(right, observations[0].event).items == frozenset()


def test_probe_plan():
    clients = (ClientInfo("c1", "one", users_sign_in=True), ClientInfo("c2", "two", users_sign_in=True),
               ClientInfo("m", "machine", ("api/read", "openid"), users_sign_in=False, client_credentials=True))
    from migrate.probe.events import UserInfo

    users = (UserInfo("u1", "s1", ("g1", "g2"), (("custom:d", "x"),)), UserInfo("u2", "s2", ("g1",)))
    target = ProbeTarget(version="V3_0", groups=("g1", "g2", "g3"), clients=clients, users=users)
    probes = plan_probes(target)
    kinds: dict[str, int] = {}
    for p in probes:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    # u2's combination is "g1 alone", already probed; the machine client gets client credentials only
    assert kinds == {"baseline": 1, "group": 3, "pair": 3, "combination": 1, "attribute": 1, "user": 2,
                     "client": 4, "trigger_source": 16, "client_credentials": 1}
    assert len({p.key for p in probes}) == len(probes)
    (machine,) = [p for p in probes if p.kind == "client_credentials"]
    event = machine.event(target)
    assert event["request"]["groupConfiguration"] is None and event["request"]["scopes"] == ["api/read"]
    assert event["version"] == "3" and event["callerContext"]["clientId"] == "m"
    (alone,) = [p for p in probes if p.kind == "attribute"]
    assert alone.identity == SYNTHETIC_IDENTITY and alone.groups == () and alone.attributes == (("custom:d", "x"),)
    assert ProbeTarget().version == "V2_0" and all(p.kind != "client_credentials" for p in plan_probes(ProbeTarget()))


def test_in_process_handlers_are_fresh_modules_and_failures_are_answers():
    first = InProcessInvoker(f"{HANDLERS / 'stateful.py'}:handler")
    second = InProcessInvoker(f"{HANDLERS / 'stateful.py'}:handler")
    event = v2_event(["admins"])
    claims = [inv.invoke(event)["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
              ["claimsToAddOrOverride"]["invocation"] for inv in (first, first, second)]
    assert claims == [1, 2, 1]
    raising = InProcessInvoker(f"{HANDLERS / 'raising.py'}:handler")
    with pytest.raises(HandlerFailed, match="KeyError: 'nobody'"):
        raising.invoke(v2_event(["nobody"]))
    assert "raising_table" in sys.modules and str(HANDLERS) not in sys.path
    for invoker in (first, second, raising):
        invoker.close()
    # The handler's own modules are forgotten: the next run imports them afresh.
    assert "raising_table" not in sys.modules
    assert not [name for name in sys.modules if name.startswith("_avp_migrate_probe_")]


# --- the deployed-Lambda path: request and response shape only ---------------------------------------------------
# moto runs Lambda functions only in Docker, which this environment does not have; Stubber checks that the
# requests and responses have the shape of botocore's Lambda model. Every behavioural test above uses real
# handlers in this process.


def _stubbed_lambda() -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _body(value: Any) -> StreamingBody:
    raw = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_lambda_invoker_request_and_response_shape():
    client, stubber = _stubbed_lambda()
    event = v2_event(["admins"])
    answer = {**event, "response": {"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["x"]}}}}
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": _body(answer)},
                         {"FunctionName": "team-pretoken", "InvocationType": "RequestResponse",
                          "Payload": json.dumps(event).encode()})
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": _body({"errorType": "KeyError", "errorMessage": "'x'",
                                                      "requestId": "r", "stackTrace": []})})
    stubber.add_client_error("invoke", "ResourceNotFoundException", "Function not found: team-pretoken", 404)
    invoker = LambdaInvoker(client, "team-pretoken")
    with stubber:
        assert invoker.invoke(event) == answer
        with pytest.raises(HandlerFailed, match=r"^Unhandled function error: KeyError: 'x'$"):
            invoker.invoke(event)
        with pytest.raises(UserError, match="--function-name team-pretoken: not found"):
            invoker.invoke(event)
    stubber.assert_no_pending_responses()


def test_function_name_needs_confirmation(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    inventory = write_inventory(tmp_path / "inv.json", groups=["a", "b"], clients=[MOBILE], users=[])
    code = main(["probe", "--function-name", "team-pretoken", "--inventory", str(inventory), "--region", "us-east-1",
                 "--out", str(tmp_path / "rules.json")])
    _, stderr = capsys.readouterr()
    assert code == 1
    assert "will be invoked 32 times (16 synthetic events, each twice). It may have side effects" in stderr
    assert stderr.strip().endswith("avp-migrate: error: --function-name: refusing to invoke a deployed function "
                                   "without confirmation: pass --yes (stdin is not a terminal)")
    assert not (tmp_path / "rules.json").exists()

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["probe", "--function-name", "team-pretoken", "--groups", "a", "--region", "us-east-1"]) == 1
    stderr = capsys.readouterr().err
    assert "Invoke team-pretoken 20 times? [y/N] " in stderr
    assert stderr.endswith("avp-migrate: error: --function-name: not confirmed; the function was not invoked\n")


# --- the command line ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("handler", "message"), [
    ("missing.py:handler", "missing.py: handler file not found"),
    ("dict_lookup.py:nope", "dict_lookup.py: no function 'nope' in the file (functions defined there: "
                            "lambda_handler)"),
    ("not_a_handler.py:lambda_handler", "not_a_handler.py: 'lambda_handler' is not callable (it is dict)"),
    ("dict_lookup.py", "--handler: expected FILE.py:FUNCTION"),
])
def test_handler_errors_are_one_line(capsys, tmp_path, handler, message):
    code = main(["probe", "--handler", str(HANDLERS / handler), "--groups", "a", "--out", str(tmp_path / "r.json")])
    stdout, stderr = capsys.readouterr()
    assert code == 1 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and message in stderr
    assert not (tmp_path / "r.json").exists()


def test_a_handler_that_cannot_be_imported(capsys, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def handler(event, context)\n    return event\n")
    assert main(["probe", "--handler", f"{broken}:handler"]) == 1
    stderr = capsys.readouterr().err
    assert stderr.startswith(f"avp-migrate: error: {broken}: cannot import the handler: SyntaxError")
    assert len(stderr.strip().splitlines()) == 1


def test_unreadable_inventory(capsys, tmp_path):
    bad = tmp_path / "inventory.json"
    bad.write_text("{not json")
    handler = f"{HANDLERS / 'dict_lookup.py'}:lambda_handler"
    assert main(["probe", "--handler", handler, "--inventory", str(bad)]) == 1
    assert capsys.readouterr().err == f"avp-migrate: error: {bad}: invalid JSON at line 1 column 2: Expecting " \
                                      "property name enclosed in double quotes\n"
    assert main(["probe", "--handler", handler, "--inventory", str(tmp_path / "none.json")]) == 1
    assert capsys.readouterr().err == f"avp-migrate: error: {tmp_path / 'none.json'}: inventory snapshot not found\n"
    assert main(["probe", "--handler", handler, "--out", str(tmp_path / "no" / "rules.json")]) == 1
    assert "--out: directory does not exist" in capsys.readouterr().err
    two = tmp_path / "two.json"
    write_inventory(two, groups=["a"], users=[], clients=[])
    data = json.loads(two.read_text())
    data["user_pools"].append({**data["user_pools"][0], "id": "us-east-1_Other"})
    two.write_text(json.dumps(data))
    assert main(["probe", "--handler", handler, "--inventory", str(two)]) == 1
    assert capsys.readouterr().err == (f"avp-migrate: error: {two}: the snapshot has several user pools ({POOL_ID}, "
                                       "us-east-1_Other): choose one with --user-pool-id\n")
    assert main(["probe", "--handler", handler, "--inventory", str(two), "--user-pool-id", "nope"]) == 1
    assert "--user-pool-id: user pool 'nope' is not in the snapshot" in capsys.readouterr().err
    assert main(["probe", "--handler", handler, "--inventory", str(two), "--user-pool-id", "us-east-1_Other"]) == 0


def test_text_output_and_exit_codes(capsys, tmp_path):
    handler = f"{HANDLERS / 'dict_lookup.py'}:lambda_handler"
    report = tmp_path / "report.json"
    assert main(["probe", "--handler", handler, "--groups", "admins,auditors", "--groups", "pets-readers",
                 "--client-id", MOBILE.client_id, "--out", str(tmp_path / "rules.json"),
                 "--report", str(report)]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith(f"probed {handler} (in-process) with V2_0 events\n")
    assert "  group-auditors: when {\"groups\": [\"auditors\"]} then {\"add_scopes\": [\"MyApi/orders.read\", " \
           "\"MyApi/reports.read\"]}\n" in stdout
    assert "verification: the derived rules reproduce all " in stdout
    assert "  3 groups, 1 app client, 5 trigger sources, 0 real users\n" in stdout
    assert "  note: users were probed through one app client only: answers that depend on the client cannot " \
           "show\n" in stdout
    assert json.loads(report.read_text())["coverage"]["groups"] == ["admins", "auditors", "pets-readers"]
    assert main(["probe", "--handler", f"{HANDLERS / 'raising.py'}:handler", "--groups", "admins,contractors"]) == 2
    stdout = capsys.readouterr().out
    assert "handler errors: the handler failed for 6 events (12 calls)" in stdout
    assert "groups contractors (calls 1 and 2, error): the handler failed (KeyError: 'contractors')" in stdout
    assert stdout.rstrip().endswith("rules not written (give --out FILE)")



def test_a_handler_that_reads_a_table_per_user_is_not_called_explained(capsys, tmp_path, embedded_aws):
    """Every probed user hits the handler's "user not found" path: no rule, the same answer to every event, and
    the calls outside the event are named; the verdict is unproven (3), never "explained"."""
    inventory = write_inventory(tmp_path / "inv.json", groups=["admins", "readers"], clients=[MOBILE],
                                users=[("a", ["admins"], {}), ("b", ["readers"], {})])
    code, report = probe(capsys, tmp_path, "user_profile_table.py:handler", inventory)
    assert code == 3 and report["rules"]["rules"] == []
    kinds = finding_kinds(report)
    (outside,) = kinds["outside"]
    assert "aws dynamodb.GetItem" in outside
    (constant,) = kinds["constant"]
    assert "the same answer to all" in constant and "(nothing)" in constant
    code = main(["probe", "--handler", f"{HANDLERS / 'user_profile_table.py:handler'}", "--inventory", str(inventory),
                 "--out", str(tmp_path / "r2.json")])
    text = capsys.readouterr().out
    assert code == 3 and "every answer is explained" not in text
    assert "depends on the outside world" in text and "the same answer to every event" in text


def test_outside_calls_are_recorded_only_for_the_handlers_thread():
    import socket
    import threading

    from migrate.probe.outside import record_outside_calls

    seen_elsewhere = []

    def other_thread():
        with socket.socket() as sock:
            sock.settimeout(0.2)
            seen_elsewhere.append(sock.connect_ex(("127.0.0.1", 9)))

    with record_outside_calls() as calls:
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
        with socket.socket() as sock:
            sock.settimeout(0.2)
            sock.connect_ex(("127.0.0.1", 9))
    assert calls == ["network 127.0.0.1:9"] and seen_elsewhere
    assert socket.socket.connect_ex.__name__ == "connect_ex"  # restored
