"""The inventory snapshot: strict JSON round trip, and one clear line for every kind of broken snapshot."""

from __future__ import annotations

import json

import pytest

from migrate.errors import UserError
from migrate.inventory import (
    AppClient,
    Authorizer,
    Group,
    Inventory,
    Method,
    PreTokenTrigger,
    ReadRecord,
    ResourceServer,
    RestApi,
    RuleSet,
    Scope,
    User,
    UserPool,
    inventory_to_dict,
    load_inventory,
    save_inventory,
)


def sample() -> Inventory:
    return Inventory(
        format_version=1, tool_version="0.1.0", created_at="2026-11-26T06:00:00+00:00", region="us-east-1",
        account_id="123456789012", endpoint_url="http://127.0.0.1:5000",
        apis=[RestApi(id="a1", name="MyApi", source="apigateway", stage="prod", stages=["prod"],
                      authorizers=[Authorizer(id="z", name="c", type="COGNITO_USER_POOLS",
                                              provider_arns=["arn:aws:cognito-idp:us-east-1:123456789012:userpool/"
                                                             "us-east-1_Abc"])],
                      methods=[Method(path="/pets/{petId}", http_method="GET", authorization_type="COGNITO_USER_POOLS",
                                      authorizer_id="z", authorization_scopes=["api/read"],
                                      integration_type="AWS", claims_to_backend=["email"])])],
        user_pools=[UserPool(id="us-east-1_Abc", arn="arn", name="p", region="us-east-1",
                             resource_servers=[ResourceServer("api", "api", [Scope("read", "r")])],
                             groups=[Group("g", "d", 3)],
                             users=[User("ünïcode \"quoted\"", "sub-1", ["g"], attributes={"custom:x": "1"})],
                             clients=[AppClient("c1", "web", allowed_oauth_flows=["code"],
                                                allowed_oauth_scopes=["api/read"],
                                                allowed_oauth_flows_user_pool_client=True)],
                             pretoken_trigger=PreTokenTrigger("arn:aws:lambda:us-east-1:1:function:f", "V2_0",
                                                              "PreTokenGenerationConfig", True, "ssm:/r"),
                             pretoken_rules=RuleSet("ssm:/r", "trigger", {"version": 1, "rules": []}))],
        provenance=[ReadRecord("apigateway:a1", "apigateway us-east-1 http://x", {"apigateway.GetResources": 1}, 0.1)],
        warnings=["w"])


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "inventory.json"
    save_inventory(sample(), path)
    assert load_inventory(path) == sample()
    assert json.loads(path.read_text(encoding="utf-8"))["user_pools"][0]["users"][0]["username"] == (
        "ünïcode \"quoted\"")
    method = sample().apis[0].methods[0]
    assert method.route_key == "GET /pets/{petId}" and method.backend_may_read_claims
    assert sample().apis[0].authorizers[0].user_pool_ids == ["us-east-1_Abc"]
    assert sample().user_pools[0].defined_scopes == ["api/read"]


def _broken(tmp_path, mutate):
    data = inventory_to_dict(sample())
    mutate(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UserError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["apis"][0]["methods"][0].update(http_method=42),
     "apis[0].methods[0].http_method: expected a string, got 42"),
    (lambda d: d["apis"][0]["methods"][0].update(authorization_type="MAGIC"),
     "apis[0].methods[0].authorization_type: expected one of 'NONE', 'AWS_IAM', 'CUSTOM', 'COGNITO_USER_POOLS'"),
    (lambda d: d["user_pools"][0]["users"][0].pop("sub"), "user_pools[0].users[0].sub: missing required field"),
    (lambda d: d["user_pools"][0].update(colour="blue"), "user_pools[0].colour: unknown field"),
    (lambda d: d["apis"][0].update(methods={}), "apis[0].methods: expected a list, got an object"),
    (lambda d: d["user_pools"][0]["groups"][0].update(precedence=True),
     "user_pools[0].groups[0].precedence: expected an integer"),
    (lambda d: d.update(format_version=99), "format_version 99 is not supported"),
    (lambda d: d.pop("format_version"), "not an inventory snapshot (no format_version)"),
])
def test_broken_snapshots_are_named_precisely(tmp_path, mutate, expected):
    assert expected in _broken(tmp_path, mutate)


@pytest.mark.parametrize("content, expected", [
    ("{not json", "invalid JSON at line 1 column 2"),
    ("[1, 2]", "not an inventory snapshot (expected a JSON object)"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_unreadable_snapshots(tmp_path, content, expected):
    path = tmp_path / "inventory.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_inventory(path)
    with pytest.raises(UserError, match="inventory snapshot not found"):
        load_inventory(tmp_path / "missing.json")


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "inventory.json"
    path.write_text("previous")

    def explode(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # fail at the very last step, after the temporary file has been written in full
    monkeypatch.setattr("migrate.fileio.os.replace", explode)
    with pytest.raises(OSError):
        save_inventory(sample(), path)
    assert path.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == ["inventory.json"]
