"""The pre token generation handler: documented events in, documented responses out; end to end on the
embedded Cognito with really signed tokens."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

import pretoken_lambda.handler as handler_module
from pretoken_lambda import sources
from pretoken_lambda.handler import (
    ENV_RULES_MAX_AGE,
    ENV_RULES_SOURCE,
    ConfigError,
    build_handler,
    is_v1_event,
    subject_from_event,
)
from pretoken_lambda.rules import CLIENT_CREDENTIALS
from pretoken_lambda.sources import RulesSourceError
from tests.tokens import verified_claims

FIXTURES = Path(__file__).parent / "fixtures" / "pretoken"
RULES_FILE = FIXTURES / "rules_handler.json"
REPO = Path(__file__).parent.parent
SUB = "a36036a8-9061-424d-a737-56d57dae7bbc"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _fresh_state() -> Any:
    sources.clear_cache()
    handler_module._handler = None
    yield
    sources.clear_cache()
    handler_module._handler = None


@pytest.fixture
def handler() -> Any:
    return build_handler({ENV_RULES_SOURCE: f"file:{RULES_FILE}"})


def fixture_event(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def v2_event(
    *,
    groups: list[str] | None = None,
    username: str = "bob",
    sub: str = "b0b-sub",
    attributes: dict[str, str] | None = None,
    client_id: str = "1example23456789",
    trigger_source: str = "TokenGeneration_Authentication",
) -> dict[str, Any]:
    """The documented V2_0 example event, for another user."""
    event = fixture_event("event_v2_authentication.json")
    event["userName"] = username
    event["triggerSource"] = trigger_source
    event["callerContext"]["clientId"] = client_id
    event["request"]["userAttributes"] = {
        "sub": sub,
        "cognito:user_status": "CONFIRMED",
        **(attributes or {}),
    }
    event["request"]["groupConfiguration"]["groupsToOverride"] = list(groups or [])
    return event


def expected(
    *,
    scopes: list[str],
    suppress_scopes: list[str] | None = None,
    access_add: dict[str, Any] | None = None,
    access_suppress: list[str] | None = None,
    id_add: dict[str, Any] | None = None,
    id_suppress: list[str] | None = None,
    groups: list[str] | None = None,
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    id_part: dict[str, Any] = {}
    if id_add:
        id_part["claimsToAddOrOverride"] = id_add
    if id_suppress:
        id_part["claimsToSuppress"] = id_suppress
    if id_part:
        details["idTokenGeneration"] = id_part
    access: dict[str, Any] = {}
    if access_add:
        access["claimsToAddOrOverride"] = access_add
    if access_suppress:
        access["claimsToSuppress"] = access_suppress
    if scopes:
        access["scopesToAdd"] = scopes
    if suppress_scopes:
        access["scopesToSuppress"] = suppress_scopes
    if access:
        details["accessTokenGeneration"] = access
    if groups is not None:
        details["groupOverrideDetails"] = {
            "groupsToOverride": groups,
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    return {"claimsAndScopeOverrideDetails": details}


JANE_DETAILS = expected(
    scopes=["MyApi/read", "MyApi/profile"],
    access_add={"tier": "gold"},
    id_add={"tenant": "t1", "email_verified": "false"},
    id_suppress=["email"],
)


# --- V2_0 / V3_0 events -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        [],
        {},
        None,
        {"claimsAndScopeOverrideDetails": []},
        {"claimsAndScopeOverrideDetails": {}},
        {"claimsAndScopeOverrideDetails": None},
        "absent",
    ],
    ids=["list", "empty", "null", "details-list", "details-empty", "details-null", "absent"],
)
def test_documented_v2_event_in_every_response_shape(handler: Any, response: Any) -> None:
    event = fixture_event("event_v2_authentication.json")  # JaneDoe, with the guide's sub
    event["request"]["groupConfiguration"]["groupsToOverride"] = ["readers"]
    if response == "absent":
        del event["response"]
    else:
        event["response"] = response
    result = handler(event, None)
    assert result is event  # Cognito expects the event back
    assert result["response"] == JANE_DETAILS
    assert result["request"] == fixture_event("event_v2_authentication.json")["request"] | {
        "groupConfiguration": {
            "groupsToOverride": ["readers"],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
    }


SCENARIOS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("groups: any of", {"groups": ["writers"]}, expected(scopes=["MyApi/read", "MyApi/profile"])),
    (
        "all_groups: all present",
        {"groups": ["writers", "verified"]},
        expected(scopes=["MyApi/read", "MyApi/write", "MyApi/profile"]),
    ),
    ("all_groups: one missing", {"groups": ["verified"]}, expected(scopes=["MyApi/profile"])),
    (
        "users: by userName",
        {"username": "JaneDoe"},
        expected(scopes=["MyApi/profile"], access_add={"tier": "gold"}),
    ),
    (
        "users: by sub",
        {"username": "someone", "sub": SUB},
        expected(
            scopes=["MyApi/profile"],
            id_add={"tenant": "t1", "email_verified": "false"},
            id_suppress=["email"],
        ),
    ),
    (
        "attributes: equal",
        {"attributes": {"custom:dept": "eng"}},
        expected(scopes=["MyApi/eng", "MyApi/profile"]),
    ),
    ("attributes: different", {"attributes": {"custom:dept": "ops"}}, expected(scopes=["MyApi/profile"])),
    (
        "attributes_present: complex claim values",
        {"attributes": {"custom:tenant": "x"}},
        expected(scopes=["MyApi/profile"], access_add={"tenants": ["t1", "t2"], "limits": {"rps": 5}}),
    ),
    (
        "attributes_present: empty value",
        {"attributes": {"custom:tenant": ""}},
        expected(scopes=["MyApi/profile"]),
    ),
    (
        "client_ids",
        {"client_id": "webclient0000000"},
        expected(scopes=["MyApi/profile"], access_add={"channel": "web"}),
    ),
    (
        "trigger_sources: suppression wins over an add",
        {"groups": ["admins"], "trigger_source": "TokenGeneration_HostedAuth"},
        expected(scopes=["MyApi/profile"], suppress_scopes=["MyApi/admin"]),
    ),
    (
        "trigger_sources: other source",
        {"groups": ["admins"]},
        expected(scopes=["MyApi/admin", "MyApi/profile"]),
    ),
    (
        "a later rule's claim value wins",
        {"username": "JaneDoe", "groups": ["platinum"]},
        expected(scopes=["MyApi/profile"], access_add={"tier": "platinum"}),
    ),
    (
        "override_groups, and suppression wins over an earlier add",
        {"username": "JaneDoe", "groups": ["contractors", "readers"]},
        expected(scopes=["MyApi/read", "MyApi/profile"], access_suppress=["tier"], groups=["viewers"]),
    ),
]


@pytest.mark.parametrize(("name", "who", "details"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_every_condition_and_action_kind(
    handler: Any, name: str, who: dict[str, Any], details: dict[str, Any]
) -> None:
    assert handler(v2_event(**who), None)["response"] == details


def test_client_credentials_event_gets_access_token_changes_only(handler: Any) -> None:
    event = fixture_event("event_v3_client_credentials.json")
    event["callerContext"]["clientId"] = "m2mclient0000000"
    result = handler(event, None)
    assert result["response"] == {
        "claimsAndScopeOverrideDetails": {
            "accessTokenGeneration": {
                "claimsToAddOrOverride": {"caller": "machine"},
                "scopesToAdd": ["MyApi/machine", "MyApi/profile"],
            }
        }
    }


def test_client_credentials_event_never_matches_user_rules_whatever_it_carries(handler: Any) -> None:
    event = fixture_event("event_v3_client_credentials.json")
    # Even if the event named a user, groups and attributes, a client-credentials request has no user.
    event["userName"] = "JaneDoe"
    event["request"]["userAttributes"] = {"sub": SUB, "custom:dept": "eng", "custom:tenant": "t"}
    event["request"]["groupConfiguration"] = {"groupsToOverride": ["contractors", "readers", "admins"]}
    subject = subject_from_event(event)
    assert subject.is_machine and subject.username is None and not subject.groups
    result = handler(event, None)
    assert result["response"] == {
        "claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["MyApi/profile"]}}
    }


def test_client_credentials_ignores_id_token_and_group_actions(tmp_path: Path, caplog: Any) -> None:
    rules = {
        "version": 1,
        "rules": [
            {
                "id": "m2m",
                "when": {"trigger_sources": [CLIENT_CREDENTIALS]},
                "then": {
                    "id_token": {"add_claims": {"a": "1"}},
                    "override_groups": {"groups": []},
                    "access_token": {"add_claims": {"b": "2"}},
                },
            }
        ],
    }
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    result = build_handler({ENV_RULES_SOURCE: f"file:{path}"})(
        fixture_event("event_v3_client_credentials.json"), None
    )
    assert result["response"] == {
        "claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToAddOrOverride": {"b": "2"}}}
    }


def test_v1_labelled_event_that_carries_scopes_is_answered_as_v2(handler: Any) -> None:
    # Sample V2 events with "version": "1" circulate (e.g. Powertools' test events); scopes only exist in V2+.
    event = v2_event(username="JaneDoe", sub=SUB, groups=["readers"])
    event["version"] = "1"
    event["response"] = {"claimsOverrideDetails": None}
    assert not is_v1_event(event)
    assert handler(event, None)["response"] == JANE_DETAILS


# --- V1_0 events --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("response", [{"claimsOverrideDetails": None}, {}, [], None])
def test_v1_event_changes_the_id_token_only(handler: Any, response: Any) -> None:
    event = fixture_event("event_v1_hosted_auth.json")  # JaneDoe via the hosted UI: scope rules match too
    event["response"] = response
    assert is_v1_event(event)
    result = handler(event, None)
    assert result["response"] == {
        "claimsOverrideDetails": {
            "claimsToAddOrOverride": {"tenant": "t1", "email_verified": "false"},
            "claimsToSuppress": ["email"],
        }
    }


def test_v1_event_with_group_configuration_as_a_list_as_the_guide_shows_it() -> None:
    event = fixture_event("event_v1_hosted_auth.json")
    event["request"]["groupConfiguration"] = [event["request"]["groupConfiguration"]]
    assert subject_from_event(event).groups == {"group-A", "group-B"}


def test_v1_event_overrides_groups_when_a_rule_says_so(handler: Any) -> None:
    event = fixture_event("event_v1_hosted_auth.json")
    event["request"]["groupConfiguration"]["groupsToOverride"] = ["contractors"]
    details = handler(event, None)["response"]["claimsOverrideDetails"]
    assert details["groupOverrideDetails"] == {
        "groupsToOverride": ["viewers"],
        "iamRolesToOverride": [],
        "preferredRole": None,
    }
    assert "scopesToAdd" not in json.dumps(details) and "claimsAndScopeOverrideDetails" not in details


def test_v1_event_skips_claim_values_v1_cannot_carry(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "id": "c",
                        "then": {
                            "id_token": {"add_claims": {"text": "x", "number": 5, "list": ["a"]}},
                            "add_scopes": ["a/b"],
                        },
                    }
                ],
            }
        )
    )
    result = build_handler({ENV_RULES_SOURCE: f"file:{path}"})(
        fixture_event("event_v1_hosted_auth.json"), None
    )
    assert result["response"] == {"claimsOverrideDetails": {"claimsToAddOrOverride": {"text": "x"}}}


# --- groups are never dropped by accident; no-ops return the event as received ---------------------------


@pytest.mark.parametrize(
    "who",
    [
        {},
        {"groups": ["readers"]},
        {"groups": ["admins"], "trigger_source": "TokenGeneration_HostedAuth"},
        {"username": "JaneDoe", "groups": ["platinum", "writers", "verified"]},
        {"attributes": {"custom:dept": "eng"}},
    ],
)
def test_no_group_override_unless_a_rule_overrides(handler: Any, who: dict[str, Any]) -> None:
    result = handler(v2_event(**who), None)
    assert "groupOverrideDetails" not in json.dumps(result["response"])


@pytest.mark.parametrize(
    "name", ["event_v2_authentication.json", "event_v3_client_credentials.json", "event_v1_hosted_auth.json"]
)
def test_no_matching_rule_returns_the_event_unchanged(tmp_path: Path, name: str) -> None:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "rules": [
                    {
                        "id": "nobody",
                        "when": {"groups": ["nobody"]},
                        "then": {"override_groups": {"groups": []}},
                    }
                ],
            }
        )
    )
    event = fixture_event(name)
    before = copy.deepcopy(event)
    assert build_handler({ENV_RULES_SOURCE: f"file:{path}"})(event, None) == before


def test_response_does_not_share_claim_values_with_the_cached_rules(handler: Any) -> None:
    first = handler(v2_event(attributes={"custom:tenant": "x"}), None)
    added = first["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"][
        "claimsToAddOrOverride"
    ]
    added["tenants"].append("intruder")
    added["limits"]["rps"] = 10_000
    second = handler(v2_event(attributes={"custom:tenant": "x"}), None)
    assert second["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"][
        "claimsToAddOrOverride"
    ] == {"tenants": ["t1", "t2"], "limits": {"rps": 5}}


# --- configuration, laziness, logging -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "AVP_MIGRATE_RULES_SOURCE is not set"),
        ({ENV_RULES_SOURCE: "  "}, "AVP_MIGRATE_RULES_SOURCE is not set"),
        (
            {ENV_RULES_SOURCE: "s3://bucket/rules.json"},
            "AVP_MIGRATE_RULES_SOURCE: s3://bucket/rules.json: not a rules",
        ),
        ({ENV_RULES_SOURCE: "dynamodb:table"}, "a DynamoDB source is dynamodb:<table>/<ruleset>"),
        (
            {ENV_RULES_SOURCE: "ssm:/x", ENV_RULES_MAX_AGE: "soon"},
            "AVP_MIGRATE_RULES_MAX_AGE must be a whole number",
        ),
        (
            {ENV_RULES_SOURCE: "ssm:/x", ENV_RULES_MAX_AGE: "-5"},
            "AVP_MIGRATE_RULES_MAX_AGE must be a whole number",
        ),
    ],
)
def test_configuration_errors_are_one_clear_line(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_handler(environ)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_max_age_comes_from_the_environment() -> None:
    assert build_handler({ENV_RULES_SOURCE: "ssm:/x"}).config.max_age == 60
    assert build_handler({ENV_RULES_SOURCE: "ssm:/x", ENV_RULES_MAX_AGE: "5"}).config.max_age == 5


def test_lambda_handler_reads_the_environment_on_first_call_only(monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_RULES_SOURCE, raising=False)
    with pytest.raises(ConfigError):
        handler_module.lambda_handler(v2_event(), None)
    monkeypatch.setenv(ENV_RULES_SOURCE, f"file:{RULES_FILE}")
    first = handler_module.lambda_handler(v2_event(groups=["writers"]), None)
    assert first["response"] == expected(scopes=["MyApi/read", "MyApi/profile"])
    monkeypatch.setenv(ENV_RULES_SOURCE, f"file:{tmp_path / 'elsewhere.json'}")  # not re-read: built once
    assert handler_module.lambda_handler(v2_event(groups=["writers"]), None)["response"] == first["response"]


def run_python(code: str, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AVP_MIGRATE_")}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_the_handler_is_light_and_reads_no_environment() -> None:
    out = run_python(
        "import sys, pretoken_lambda.handler\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'boto3', 'botocore', 'aws_lambda_powertools'}))"
    )
    assert out.strip() == "[]"


def test_a_file_source_never_imports_boto3() -> None:
    code = (
        "import json, sys\n"
        "import pretoken_lambda.handler as h\n"
        "event = json.load(open('tests/fixtures/pretoken/event_v2_authentication.json'))\n"
        "h.lambda_handler(event, None)\n"
        "print('boto3' in sys.modules, 'aws_lambda_powertools.utilities.parameters' in sys.modules)"
    )
    out = run_python(code, {ENV_RULES_SOURCE: f"file:{RULES_FILE}"})
    assert out.strip().splitlines()[-1] == "False False"


def log_lines(caplog: Any) -> list[dict[str, Any]]:
    """The handler's log records, formatted as Powertools writes them to CloudWatch."""
    formatter = handler_module._get_logger().registered_formatter
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == handler_module.SERVICE_NAME]


def test_logs_matched_rule_ids_and_no_attribute_or_claim_values(handler: Any, caplog: Any) -> None:
    event = fixture_event("event_v2_authentication.json")
    event["request"]["groupConfiguration"]["groupsToOverride"] = ["readers"]
    with caplog.at_level("INFO", logger=handler_module.SERVICE_NAME):
        handler(event, None)
    lines = log_lines(caplog)
    assert [line["message"] for line in lines] == ["pre-token rules applied"]
    assert lines[0]["matched_rules"] == ["readers-read", "jane-by-name", "jane-by-sub", "everyone-profile"]
    assert lines[0]["user_sub"] == SUB and lines[0]["client_id"] == "1example23456789"
    output = json.dumps(lines)
    for secret in ("testuser@example.com", "gold", "t1", "CONFIRMED", "JaneDoe"):
        assert secret not in output


def test_a_source_failure_fails_the_invocation_and_is_logged(tmp_path: Path, caplog: Any) -> None:
    handler = build_handler({ENV_RULES_SOURCE: f"file:{tmp_path / 'missing.json'}"})
    with (
        pytest.raises(RulesSourceError) as caught,
        caplog.at_level("INFO", logger=handler_module.SERVICE_NAME),
    ):
        handler(v2_event(), None)
    assert str(caught.value) == f"file:{tmp_path / 'missing.json'}: file not found"
    errors = [line for line in log_lines(caplog) if line["level"] == "ERROR"]
    assert [e["error"] for e in errors] == [str(caught.value)]


def test_handler_with_500_rules_from_a_file_adds_every_matching_scope(tmp_path: Path) -> None:
    from bench.pretoken_bench import big_ruleset, typical_subject
    from pretoken_lambda.rules import evaluate, to_document

    ruleset = big_ruleset()
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(to_document(ruleset)))
    handler = build_handler({ENV_RULES_SOURCE: f"file:{path}"})
    subject = typical_subject()
    event = v2_event(groups=sorted(subject.groups), username=subject.username, sub=subject.sub,
                     attributes=dict(subject.attributes), client_id=subject.client_id,
                     trigger_source=subject.trigger_source)
    expected = evaluate(ruleset, subject).scopes_to_add
    details = handler(copy.deepcopy(event), None)["response"]["claimsAndScopeOverrideDetails"]
    assert len(expected) >= 8
    assert details["accessTokenGeneration"]["scopesToAdd"] == list(expected)


# --- end to end on the embedded Cognito ---------------------------------------------------------------------

PASSWORD = "Passw0rd!Passw0rd"  # a test user's password on the embedded AWS


def lambda_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"


def make_pool(idp: Any, *, trigger_arn: str, version: str = "V2_0") -> tuple[str, str]:
    """A pool with the trigger, resource server MyApi, group avp-group, and a password-auth client."""
    pool_id = idp.create_user_pool(PoolName="pool")["UserPool"]["Id"]
    # Set the trigger the way a team would on an existing pool: UpdateUserPool with LambdaConfig.
    idp.update_user_pool(
        UserPoolId=pool_id,
        LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": trigger_arn, "LambdaVersion": version}},
    )
    idp.create_resource_server(
        UserPoolId=pool_id,
        Identifier="MyApi",
        Name="My API",
        Scopes=[{"ScopeName": name, "ScopeDescription": name} for name in ("avp.read", "admin", "machine")],
    )
    idp.create_group(UserPoolId=pool_id, GroupName="avp-group")
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="web",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "MyApi/avp.read", "MyApi/admin"],
        CallbackURLs=["https://example.com/cb"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def add_user(
    idp: Any, pool_id: str, username: str, *, groups: tuple[str, ...] = (), email: str | None = None
) -> None:
    attributes = [{"Name": "email", "Value": email}] if email else []
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS", UserAttributes=attributes
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)


def sign_in(idp: Any, pool_id: str, client_id: str, username: str) -> dict[str, str]:
    return idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]




E2E_RULES = {
    "version": 1,
    "rules": [
        {
            "id": "avp-group-gets-avp-scope",
            "when": {"groups": ["avp-group"]},
            "then": {
                "add_scopes": ["MyApi/avp.read"],
                "id_token": {"add_claims": {"tenant": "t1"}, "suppress_claims": ["email"]},
            },
        },
        {
            "id": "hosted-ui-never-admin",
            "when": {"trigger_sources": ["TokenGeneration_HostedAuth"]},
            "then": {"suppress_scopes": ["MyApi/admin"]},
        },
        {
            "id": "machines",
            "when": {"trigger_sources": [CLIENT_CREDENTIALS]},
            "then": {"add_scopes": ["MyApi/machine"], "access_token": {"add_claims": {"caller": "machine"}}},
        },
        {
            "id": "contractors",
            "when": {"users": ["carol"]},
            "then": {"override_groups": {"groups": ["viewers"]}},
        },
    ],
}


@pytest.fixture
def ssm_rules(aws_clients: Any) -> str:
    aws_clients("ssm").put_parameter(
        Name="/avp-migrate/rules", Value=json.dumps(E2E_RULES), Type="SecureString"
    )
    return "ssm:/avp-migrate/rules"


def test_end_to_end_sign_in_gets_the_scope_from_the_rules(
    embedded_aws: Any, aws_clients: Any, ssm_rules: str
) -> None:
    from migrate.embedded.cognito_tokens import register_trigger

    register_trigger(lambda_arn("pretoken"), build_handler({ENV_RULES_SOURCE: ssm_rules}))
    idp = aws_clients("cognito-idp")
    pool_id, client_id = make_pool(idp, trigger_arn=lambda_arn("pretoken"))
    add_user(idp, pool_id, "alice", groups=("avp-group",), email="alice@example.com")
    add_user(idp, pool_id, "bob", email="bob@example.com")

    alice = sign_in(idp, pool_id, client_id, "alice")
    access = verified_claims(embedded_aws, alice["AccessToken"])
    assert access["scope"].split() == ["aws.cognito.signin.user.admin", "MyApi/avp.read"]
    assert access["cognito:groups"] == ["avp-group"]
    identity = verified_claims(embedded_aws, alice["IdToken"], audience=client_id)
    assert identity["tenant"] == "t1" and "email" not in identity
    assert identity["cognito:groups"] == ["avp-group"]  # no override: groups kept

    bob = sign_in(idp, pool_id, client_id, "bob")
    assert verified_claims(embedded_aws, bob["AccessToken"])["scope"] == "aws.cognito.signin.user.admin"
    assert verified_claims(embedded_aws, bob["IdToken"], audience=client_id)["email"] == "bob@example.com"


def test_end_to_end_group_override_replaces_groups_in_both_tokens(
    embedded_aws: Any, aws_clients: Any, ssm_rules: str
) -> None:
    from migrate.embedded.cognito_tokens import register_trigger

    register_trigger(lambda_arn("pretoken"), build_handler({ENV_RULES_SOURCE: ssm_rules}))
    idp = aws_clients("cognito-idp")
    pool_id, client_id = make_pool(idp, trigger_arn=lambda_arn("pretoken"))
    add_user(idp, pool_id, "carol", groups=("avp-group",))
    carol = sign_in(idp, pool_id, client_id, "carol")
    access = verified_claims(embedded_aws, carol["AccessToken"])
    identity = verified_claims(embedded_aws, carol["IdToken"], audience=client_id)
    assert access["cognito:groups"] == identity["cognito:groups"] == ["viewers"]
    assert "MyApi/avp.read" in access["scope"].split()  # conditions saw the real groups


def test_end_to_end_hosted_ui_cannot_hand_out_a_suppressed_scope(
    embedded_aws: Any, aws_clients: Any, ssm_rules: str
) -> None:
    from migrate.embedded.cognito_tokens import register_trigger

    register_trigger(lambda_arn("pretoken"), build_handler({ENV_RULES_SOURCE: ssm_rules}))
    idp = aws_clients("cognito-idp")
    pool_id, client_id = make_pool(idp, trigger_arn=lambda_arn("pretoken"))
    add_user(idp, pool_id, "bob")
    tokens = embedded_aws.tokens.hosted_ui_tokens(client_id, "bob")  # asks for every scope the client allows
    assert verified_claims(embedded_aws, tokens["access_token"])["scope"].split() == [
        "openid",
        "MyApi/avp.read",
    ]


def test_end_to_end_client_credentials_with_a_v3_trigger(
    embedded_aws: Any, aws_clients: Any, ssm_rules: str
) -> None:
    from migrate.embedded.cognito_tokens import register_trigger

    register_trigger(lambda_arn("pretoken"), build_handler({ENV_RULES_SOURCE: ssm_rules}))
    idp = aws_clients("cognito-idp")
    pool_id, _ = make_pool(idp, trigger_arn=lambda_arn("pretoken"), version="V3_0")
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="m2m",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["MyApi/avp.read"],
    )["UserPoolClient"]
    token = embedded_aws.tokens.client_credentials_token(client["ClientId"], client["ClientSecret"])
    claims = verified_claims(embedded_aws, token["access_token"])
    assert claims["scope"].split() == ["MyApi/avp.read", "MyApi/machine"]
    assert claims["caller"] == "machine" and claims["client_id"] == client["ClientId"]


def test_end_to_end_function_found_by_its_handler_reads_rules_from_dynamodb(
    embedded_aws: Any, aws_clients: Any
) -> None:
    # No register_trigger: the embedded Cognito finds the Lambda function, sees our handler, and builds it
    # from the function's own environment variables, as Lambda would run it.
    dynamodb = aws_clients("dynamodb")
    dynamodb.create_table(
        TableName="rules",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    for position, item in enumerate(E2E_RULES["rules"], start=1):
        dynamodb.put_item(
            TableName="rules",
            Item={
                "id": {"S": "prod"},
                "sk": {"S": f"{position:04d}#{item['id']}"},
                "value": {"S": json.dumps(item)},
            },
        )
    iam = aws_clients("iam")
    role = iam.create_role(
        RoleName="pretoken",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("pretoken_lambda/__init__.py", "")
    function = aws_clients("lambda").create_function(
        FunctionName="pretoken",
        Runtime="python3.11",
        Role=role,
        Handler="pretoken_lambda.handler.lambda_handler",
        Code={"ZipFile": package.getvalue()},
        Environment={"Variables": {ENV_RULES_SOURCE: "dynamodb:rules/prod", ENV_RULES_MAX_AGE: "30"}},
    )
    idp = aws_clients("cognito-idp")
    pool_id, client_id = make_pool(idp, trigger_arn=function["FunctionArn"])
    add_user(idp, pool_id, "alice", groups=("avp-group",))
    access = verified_claims(embedded_aws, sign_in(idp, pool_id, client_id, "alice")["AccessToken"])
    assert access["scope"].split() == ["aws.cognito.signin.user.admin", "MyApi/avp.read"]


def test_end_to_end_missing_rules_fail_the_sign_in(embedded_aws: Any, aws_clients: Any) -> None:
    from migrate.embedded.cognito_tokens import register_trigger

    register_trigger(lambda_arn("pretoken"), build_handler({ENV_RULES_SOURCE: "ssm:/not/there"}))
    idp = aws_clients("cognito-idp")
    pool_id, client_id = make_pool(idp, trigger_arn=lambda_arn("pretoken"))
    add_user(idp, pool_id, "alice", groups=("avp-group",))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sign_in(idp, pool_id, client_id, "alice")
    assert caught.value.response["Error"]["Code"] == "UserLambdaValidationException"
    assert "ssm:/not/there: parameter not found" in caught.value.response["Error"]["Message"]


def test_boto3_in_tests_points_at_the_embedded_aws(embedded_aws: Any) -> None:
    # The end-to-end tests rely on plain boto3 (inside Powertools) reaching the embedded AWS.
    assert boto3.session.Session().client("ssm").meta.endpoint_url == embedded_aws.moto_url
