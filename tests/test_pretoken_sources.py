"""Rule sources: files, SSM parameters and DynamoDB items on the embedded AWS (real boto3), and the cache."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from pretoken_lambda import sources
from pretoken_lambda.rules import parse_rules
from pretoken_lambda.sources import RulesSourceError, SourceSpec, load_rules, parse_source

FIXTURES = Path(__file__).parent / "fixtures" / "pretoken"
EXAMPLE = json.loads((FIXTURES / "rules_example.json").read_text())


def document(*scopes: str) -> dict[str, Any]:
    """A valid rules document: one rule per scope, so contents are easy to tell apart."""
    return {
        "version": 1,
        "rules": [{"id": f"r{i}", "then": {"add_scopes": [s]}} for i, s in enumerate(scopes)],
    }


def scopes_of(ruleset: Any) -> list[str]:
    return [scope for rule in ruleset.rules for scope in rule.then.add_scopes or ()]


@pytest.fixture(autouse=True)
def _fresh_cache() -> Any:
    sources.clear_cache()
    yield
    sources.clear_cache()


class CallCounter:
    """Counts AWS API calls (one per operation call) through a botocore event hook."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any = None, **_: Any) -> None:
        self.calls[model.name] += 1

    def watch_session(self, session: boto3.session.Session) -> boto3.session.Session:
        session.events.register("after-call", self)
        return session

    def watch_client(self, client: Any) -> Any:
        client.meta.events.register("after-call", self)
        return client


# --- source strings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("file:rules.json", SourceSpec("file:rules.json", "file", "rules.json")),
        ("file:/var/task/a:b.json", SourceSpec("file:/var/task/a:b.json", "file", "/var/task/a:b.json")),
        ("ssm:/avp-migrate/rules", SourceSpec("ssm:/avp-migrate/rules", "ssm", "/avp-migrate/rules")),
        ("ssm:rules", SourceSpec("ssm:rules", "ssm", "rules")),
        (
            "dynamodb:rules-table/prod",
            SourceSpec("dynamodb:rules-table/prod", "dynamodb", "rules-table", "prod"),
        ),
        ("dynamodb:t/a/b", SourceSpec("dynamodb:t/a/b", "dynamodb", "t", "a/b")),
    ],
)
def test_source_strings(text: str, spec: SourceSpec) -> None:
    assert parse_source(text) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rules.json",
            "rules.json: not a rules source: give file:<path>, ssm:<parameter name> or "
            "dynamodb:<table>/<ruleset>",
        ),
        ("s3:bucket/key", "s3:bucket/key: not a rules source"),
        ("file:", "file:: a file source names a path"),
        ("ssm:", "ssm:: a ssm source names a parameter"),
        ("dynamodb:table", "dynamodb:table: a DynamoDB source is dynamodb:<table>/<ruleset>"),
        ("dynamodb:/prod", "dynamodb:/prod: a DynamoDB source is dynamodb:<table>/<ruleset>"),
        ("dynamodb:table/", "dynamodb:table/: a DynamoDB source is dynamodb:<table>/<ruleset>"),
    ],
)
def test_bad_source_strings(text: str, message: str) -> None:
    with pytest.raises(RulesSourceError) as caught:
        parse_source(text)
    assert str(caught.value).startswith(message)


def test_max_age_must_be_whole_seconds(tmp_path: Path) -> None:
    with pytest.raises(RulesSourceError, match="max_age must be a whole number of seconds >= 0, got -1"):
        load_rules(f"file:{tmp_path}/x.json", max_age=-1)


# --- file: --------------------------------------------------------------------------------------------------


def test_file_source(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(EXAMPLE))
    assert load_rules(f"file:{path}") == parse_rules(EXAMPLE)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("{", "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ('{"version": 1,\n "rules": [],\n "rules": []}', 'invalid JSON: duplicate key "rules"'),
        (
            '{"version": 1, "rules": [{"id": "a", "then": {"add_scopes": ["x y"]}}]}',
            """invalid rules: rules[0] 'a': then.add_scopes[0]: scope contains a space: "x y\"""",
        ),
        ("[]", "invalid rules: the rules document must be a JSON object, got a list"),
        (b"\xff\xfe", "the file is not UTF-8 text"),
    ],
)
def test_file_source_errors_are_one_line_naming_the_source(
    tmp_path: Path, content: Any, message: str
) -> None:
    path = tmp_path / "rules.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(RulesSourceError) as caught:
        load_rules(f"file:{path}")
    assert str(caught.value) == f"file:{path}: {message}"
    assert caught.value.source == f"file:{path}"


def test_a_directory_is_not_a_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RulesSourceError, match="is a directory, not a rules file"):
        load_rules(f"file:{tmp_path}")


def test_invalid_rules_list_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"version": 2, "rules": [{"id": "a"}, {"id": "a", "then": {}}]}))
    with pytest.raises(RulesSourceError) as caught:
        load_rules(f"file:{path}")
    assert caught.value.problems == [
        "version: unsupported version 2 (this avp-migrate reads version 1)",
        "rules[0] 'a': then: missing (a rule needs at least one action)",
        "rules[1] 'a': id: duplicate id (also rules[0])",
        "rules[1] 'a': then: no action with an effect (give at least one of: add_scopes, suppress_scopes, "
        "id_token, access_token, override_groups)",
    ]
    assert "\n" not in str(caught.value)


def test_file_source_is_cached_for_max_age(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document("api/one")))
    first = load_rules(f"file:{path}", max_age=3600)
    path.write_text(json.dumps(document("api/two")))
    assert load_rules(f"file:{path}", max_age=3600) is first  # within max age: not read again
    assert scopes_of(load_rules(f"file:{path}", max_age=0)) == ["api/two"]  # max age 0: always read


def test_unchanged_content_is_not_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document("api/one")))
    first = load_rules(f"file:{path}", max_age=0)
    assert load_rules(f"file:{path}", max_age=0) is first


# --- ssm: ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("parameter_type", ["String", "SecureString"])
def test_ssm_source(aws_clients: Any, parameter_type: str) -> None:
    aws_clients("ssm").put_parameter(Name="/avp/rules", Value=json.dumps(EXAMPLE), Type=parameter_type)
    assert load_rules("ssm:/avp/rules") == parse_rules(EXAMPLE)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "ssm:/avp/rules: parameter not found"),
        ("not json", "ssm:/avp/rules: invalid JSON: Expecting value at line 1 column 1"),
        (
            '{"version": 1, "rules": [{"id": "a", "then": {"access_token": {"add_claims": {"iss": "me"}}}}]}',
            """ssm:/avp/rules: invalid rules: rules[0] 'a': then.access_token.add_claims.iss: claim "iss" """
            "cannot be added, overridden or suppressed (Cognito forbids it)",
        ),
    ],
)
def test_ssm_source_errors(aws_clients: Any, value: str | None, message: str) -> None:
    if value is not None:
        aws_clients("ssm").put_parameter(Name="/avp/rules", Value=value, Type="SecureString")
    with pytest.raises(RulesSourceError) as caught:
        load_rules("ssm:/avp/rules")
    assert str(caught.value) == message


def test_ssm_source_is_cached_for_max_age(aws_clients: Any) -> None:
    ssm = aws_clients("ssm")
    ssm.put_parameter(Name="/avp/rules", Value=json.dumps(document("api/one")), Type="String")
    counter = CallCounter()
    session = counter.watch_session(boto3.session.Session())
    first = load_rules("ssm:/avp/rules", max_age=1, boto3_session=session)
    ssm.put_parameter(Name="/avp/rules", Value=json.dumps(document("api/two")), Type="String", Overwrite=True)
    for _ in range(5):
        assert load_rules("ssm:/avp/rules", max_age=1, boto3_session=session) is first
    assert counter.calls == {"GetParameter": 1}
    time.sleep(1.1)  # past max age: fetched again, and the new content is parsed
    assert scopes_of(load_rules("ssm:/avp/rules", max_age=1, boto3_session=session)) == ["api/two"]
    assert counter.calls == {"GetParameter": 2}


def test_ssm_source_with_the_default_provider_is_cached(aws_clients: Any) -> None:
    # The Lambda path: Powertools' process-wide provider, configured by the environment.
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    aws_clients("ssm").put_parameter(Name="/avp/rules", Value=json.dumps(document("api/one")), Type="String")
    first = load_rules("ssm:/avp/rules", max_age=60)
    counter = CallCounter()
    counter.watch_client(DEFAULT_PROVIDERS["ssm"].client)
    assert load_rules("ssm:/avp/rules", max_age=60) is first
    assert counter.calls == {}
    sources.clear_cache()
    assert load_rules("ssm:/avp/rules", max_age=60) == first  # a new provider reads AWS again


def test_ssm_source_uses_the_client_it_is_given(aws_clients: Any) -> None:
    ssm = aws_clients("ssm")
    ssm.put_parameter(Name="/avp/rules", Value=json.dumps(document("api/one")), Type="String")
    counter = CallCounter()
    client = counter.watch_client(boto3.client("ssm", region_name="us-east-1"))
    assert scopes_of(load_rules("ssm:/avp/rules", boto3_client=client)) == ["api/one"]
    assert load_rules("ssm:/avp/rules", boto3_client=client)
    assert counter.calls == {"GetParameter": 1}


# --- dynamodb: ----------------------------------------------------------------------------------------------


@pytest.fixture
def rules_table(aws_clients: Any) -> Any:
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

    def put(ruleset: str, sort_key: str, value: Any) -> None:
        attribute = {"S": value if isinstance(value, str) else json.dumps(value)}
        if isinstance(value, int):
            attribute = {"N": str(value)}
        dynamodb.put_item(
            TableName="rules", Item={"id": {"S": ruleset}, "sk": {"S": sort_key}, "value": attribute}
        )

    return put


def test_dynamodb_source_reads_items_in_position_order(rules_table: Any) -> None:
    rules = {r["id"]: r for r in document("api/a", "api/b", "api/c", "api/d")["rules"]}
    # Written out of order, and with positions of different widths: the numeric position decides.
    rules_table("prod", "10#r3", rules["r3"])
    rules_table("prod", "0001#r0", rules["r0"])
    rules_table("prod", "2#r2", rules["r2"])
    rules_table("staging", "0001#r1", rules["r1"])
    assert [r.id for r in load_rules("dynamodb:rules/prod").rules] == ["r0", "r2", "r3"]
    assert [r.id for r in load_rules("dynamodb:rules/staging").rules] == ["r1"]


def test_dynamodb_source_round_trips_the_example(rules_table: Any) -> None:
    for position, rule in enumerate(EXAMPLE["rules"], start=1):
        rules_table("prod", f"{position:04d}#{rule['id']}", rule)
    assert load_rules("dynamodb:rules/prod") == parse_rules(EXAMPLE)


def test_dynamodb_source_errors_name_the_items(rules_table: Any) -> None:
    rules_table("prod", "0001#ok", {"id": "ok", "then": {"add_scopes": ["a/b"]}})
    rules_table("prod", "0002#bad-scope", {"id": "bad-scope", "then": {"add_scopes": ["a b"]}})
    rules_table("prod", "0003#other", {"id": "mismatch", "then": {"add_scopes": ["a/b"]}})
    rules_table("prod", "0004#broken", "{not json")
    rules_table("prod", "no-position", {"id": "no-position", "then": {"add_scopes": ["a/b"]}})
    rules_table("prod", "0005#number", 5)
    rules_table("prod", "1#again", {"id": "again", "then": {"add_scopes": ["a/c"]}})
    with pytest.raises(RulesSourceError) as caught:
        load_rules("dynamodb:rules/prod")
    assert caught.value.problems == [
        """item sk="0003#other": the rule id in sk is "other" but the rule's id is "mismatch\"""",
        """item sk="0004#broken": invalid JSON: Expecting property name enclosed in double quotes """
        "at line 1 column 2",
        """item sk="0005#number": value must be a string holding the rule as JSON, got Decimal""",
        """item sk="no-position": sk must be <zero-padded position>#<rule id>, e.g. "0001#admins\"""",
        """item sk="1#again": position 1 is also used by sk="0001#ok" (the order would be ambiguous)""",
        """item sk="0002#bad-scope" 'bad-scope': then.add_scopes[0]: scope contains a space: "a b\"""",
    ]
    assert str(caught.value).startswith("dynamodb:rules/prod: invalid rules: item sk=")


def test_dynamodb_source_without_items_or_table(rules_table: Any) -> None:
    with pytest.raises(RulesSourceError) as caught:
        load_rules("dynamodb:rules/prod")
    assert str(caught.value) == 'dynamodb:rules/prod: no items with id "prod" in table rules'
    with pytest.raises(RulesSourceError) as caught:
        load_rules("dynamodb:no-such-table/prod")
    assert str(caught.value) == "dynamodb:no-such-table/prod: table not found"


def test_dynamodb_source_is_cached_for_max_age(rules_table: Any) -> None:
    rules_table("prod", "0001#r0", document("api/one")["rules"][0])
    counter = CallCounter()
    session = counter.watch_session(boto3.session.Session())
    first = load_rules("dynamodb:rules/prod", max_age=1, boto3_session=session)
    rules_table("prod", "0001#r0", document("api/two")["rules"][0])
    for _ in range(5):
        assert load_rules("dynamodb:rules/prod", max_age=1, boto3_session=session) is first
    assert counter.calls == {"Query": 1}
    time.sleep(1.1)
    assert scopes_of(load_rules("dynamodb:rules/prod", max_age=1, boto3_session=session)) == ["api/two"]
    assert counter.calls == {"Query": 2}


@pytest.mark.parametrize("kind", ["client", "resource"])
def test_dynamodb_source_uses_the_client_it_is_given(rules_table: Any, kind: str) -> None:
    rules_table("prod", "0001#r0", document("api/one")["rules"][0])
    counter = CallCounter()
    client = counter.watch_client(boto3.client("dynamodb", region_name="us-east-1"))
    given: Any = client
    if kind == "resource":
        given = boto3.resource("dynamodb", region_name="us-east-1")
        given.meta.client = client
    assert scopes_of(load_rules("dynamodb:rules/prod", boto3_client=given)) == ["api/one"]
    assert counter.calls == {"Query": 1}


def test_clear_cache_forgets_everything(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document("api/one")))
    load_rules(f"file:{path}", max_age=3600)
    path.write_text(json.dumps(document("api/two")))
    sources.clear_cache()
    assert scopes_of(load_rules(f"file:{path}", max_age=3600)) == ["api/two"]
