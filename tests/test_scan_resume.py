"""`scan --resume`: a scan stopped mid-way continues from its checkpoint and writes a straight scan's snapshot."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from migrate.awsconfig import AwsSession
from migrate.cli.main import main
from migrate.errors import ExitCode
from migrate.scan import checkpoint as checkpoint_module
from migrate.scan.checkpoint import checkpoint_path

USERS, GROUPS, PER_USER = 300, 8, 2  # 600 memberships, about 75 per group: 2 pages of 60 per group


def seed_pool(region: str) -> str:
    """A pool (300 users, 8 groups, 600 memberships, 2 users in no group) and an API whose authorizer names it."""
    from moto.apigateway.models import apigateway_backends
    from moto.cognitoidp.models import cognitoidp_backends

    account = "123456789012"
    idp = cognitoidp_backends[account][region]
    pool = idp.create_user_pool("resume-pool", {})
    idp.create_resource_server(pool.id, "api", "api", [{"ScopeName": "read", "ScopeDescription": "x"}])
    for g in range(GROUPS):
        idp.create_group(pool.id, f"group-{g}", "", "", None)
    for u in range(USERS + 2):
        idp.admin_create_user(pool.id, f"user-{u:03d}", "SUPPRESS", "Temp-Passw0rd!",
                              [{"Name": "email", "Value": f"user{u}@example.com"}])
        if u < USERS:
            for k in range(PER_USER):
                idp.admin_add_user_to_group(pool.id, f"group-{(u + k * 3) % GROUPS}", f"user-{u:03d}")
    idp.create_user_pool_client(pool.id, False, {"ClientName": "web"})
    apigw = apigateway_backends[account][region]
    api = apigw.create_rest_api("resume-api", description="")
    authorizer = apigw.create_authorizer(api.id, "cognito", "COGNITO_USER_POOLS", provider_arns=[pool.arn],
                                         identity_source="method.request.header.Authorization")
    root = next(r for r in apigw.get_resources(api.id) if r.parent_id is None)
    apigw.put_method(api.id, root.id, "GET", "COGNITO_USER_POOLS", False, authorizer_id=authorizer.id,
                     authorization_scopes=["api/read"])
    return api.id


@pytest.fixture
def stop_at(monkeypatch):
    """stop_at(operation, n, error): the n-th call of the operation from now on (across the scans that follow)
    raises ``error`` (default: Ctrl-C) before it is sent, through a botocore event hook on the CLI's sessions."""
    plans: list[tuple[str, int, BaseException]] = []
    seen: dict[str, int] = {}

    def hook(model=None, **_):
        seen[model.name] = seen.get(model.name, 0) + 1
        for operation, n, error in plans:
            if operation == model.name and seen[operation] == n:
                raise error

    original = AwsSession.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.boto3_session.events.register("before-call.cognito-idp", hook)

    monkeypatch.setattr(AwsSession, "__init__", init)
    return lambda operation, n, error=None: plans.append(
        (operation, seen.get(operation, 0) + n, error or KeyboardInterrupt()))


def cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def comparable(path) -> dict:
    """A snapshot without what differs between two scans of the same account: when, and how long each part took."""
    data = json.loads(path.read_text())
    data.pop("created_at")
    for record in data["provenance"]:
        record.pop("seconds")
    return data


def straight_scan(capsys, tmp_path, api_id, *extra):
    out = tmp_path / "straight.json"
    code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out), *extra)
    assert code == 0, err
    return comparable(out)


def calls_of(snapshot: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for record in snapshot["provenance"]:
        for operation, n in record["calls"].items():
            totals[operation] = totals.get(operation, 0) + n
    return totals


def same_but_calls(resumed: dict, straight: dict) -> bool:
    for snapshot in (resumed, straight):
        for record in snapshot["provenance"]:
            record.pop("calls")
    return resumed == straight


STOPS = [
    [("ListUsersInGroup", 1)],  # before any member was read
    [("ListUsersInGroup", 6)],  # mid-way through the 3rd group, its first page read
    [("ListUsersInGroup", 4), ("ListUsersInGroup", 13)],  # stopped twice: the resumed scan stops too
    [("DescribeUserPoolClient", 1)],  # while the pool's description was read
]


def test_interrupted_scans_resume_to_the_straight_scans_snapshot(embedded_aws, capsys, tmp_path, stop_at):
    api_id = seed_pool(embedded_aws.region)
    straight = straight_scan(capsys, tmp_path, api_id)
    for case, stops in enumerate(STOPS):
        out = tmp_path / f"inventory-{case}.json"
        argv = ["scan", "--api-id", api_id, "--out", str(out)]
        for operation, n in stops:
            stop_at(operation, n)
        code, _, err = cli(capsys, *argv)
        for _ in stops:
            assert code == ExitCode.INTERRUPTED, (stops, err)
            assert err.count("\n") == 1 and err.startswith("avp-migrate: interrupted: stopped ")
            assert f"; what was read is kept in {checkpoint_path(out)}; " in err
            assert err.rstrip().endswith(f"to continue, run: avp-migrate scan --api-id {api_id} --out {out} --resume")
            assert checkpoint_path(out).exists() and not out.exists()
            code, _, err = cli(capsys, *argv, "--resume")
        assert code == 0, err
        assert not checkpoint_path(out).exists()
        resumed = comparable(out)
        calls = calls_of(resumed)
        # the calls add up over the runs: a straight scan's, plus one GetCallerIdentity per resumption (the
        # checkpoint's account is checked). (A pool description cut short is read again whole; only that reading
        # counts.)
        assert calls.pop("sts.GetCallerIdentity") == 1 + len(stops)
        expected = calls_of(straight)
        expected.pop("sts.GetCallerIdentity")
        assert calls == expected, stops
        assert same_but_calls(resumed, comparable(tmp_path / "straight.json")), stops


def test_resume_continues_list_users_with_all_users(embedded_aws, capsys, tmp_path, stop_at):
    api_id = seed_pool(embedded_aws.region)
    straight = straight_scan(capsys, tmp_path, api_id, "--all-users")
    assert len(straight["user_pools"][0]["users"]) == USERS + 2
    out = tmp_path / "inventory.json"
    stop_at("ListUsers", 3)  # the straight scan made 6 ListUsers calls (302 users, 60 a page)
    argv = ["scan", "--api-id", api_id, "--out", str(out), "--all-users"]
    assert cli(capsys, *argv)[0] == ExitCode.INTERRUPTED
    saved = json.loads(checkpoint_path(out).read_text())
    assert saved["pool"]["groups_done"] == GROUPS and saved["pool"]["list_users_token"]
    code, _, err = cli(capsys, *argv, "--resume")
    assert code == 0, err
    resumed = comparable(out)
    assert calls_of(resumed)["cognito-idp.ListUsers"] == calls_of(straight)["cognito-idp.ListUsers"]
    for snapshot in (resumed, straight):
        for record in snapshot["provenance"]:
            record.pop("calls")
    assert resumed == straight


def test_refused_pagination_token_restarts_only_that_group(embedded_aws, capsys, tmp_path, stop_at):
    api_id = seed_pool(embedded_aws.region)
    straight = straight_scan(capsys, tmp_path, api_id)
    out = tmp_path / "inventory.json"
    argv = ["scan", "--api-id", api_id, "--out", str(out)]
    stop_at("ListUsersInGroup", 6)  # group-2's 2nd page
    code, _, err = cli(capsys, *argv)
    assert code == ExitCode.INTERRUPTED and "(2 of 8 groups listed, " in err
    path = checkpoint_path(out)
    saved = json.loads(path.read_text())
    assert saved["pool"]["groups_done"] == 2 and saved["pool"]["group"]["members"]
    saved["pool"]["group"]["next_token"] = "ZXhwaXJlZA=="  # what an expired token is to Cognito: not usable
    path.write_text(json.dumps(saved))
    code, _, err = cli(capsys, *argv, "--resume")
    assert code == 0, err
    assert "note: the checkpoint's pagination token for group group-2 was refused" in err
    resumed = comparable(out)
    # the refused call, then the group again from its first page: its first page's call before the stop and
    # the refused one are the two calls more than a straight scan
    assert calls_of(resumed)["cognito-idp.ListUsersInGroup"] == calls_of(straight)["cognito-idp.ListUsersInGroup"] + 2
    for snapshot in (resumed, straight):
        for record in snapshot["provenance"]:
            record.pop("calls")
    assert resumed == straight


class HardStop(BaseException):
    """A process killed outright: nothing of ours runs after it (only the periodic checkpoint is on disk)."""


def test_aws_failure_and_hard_stop_resume_too(embedded_aws, capsys, tmp_path, stop_at, monkeypatch):
    api_id = seed_pool(embedded_aws.region)
    straight = straight_scan(capsys, tmp_path, api_id)
    # an endpoint gone: one line, exit 1, and the checkpoint kept
    out = tmp_path / "failed.json"
    argv = ["scan", "--api-id", api_id, "--out", str(out)]
    stop_at("ListUsersInGroup", 9, botocore.exceptions.EndpointConnectionError(endpoint_url=embedded_aws.moto_url))
    code, _, err = cli(capsys, *argv)
    assert code == ExitCode.ERROR and err.count("\n") == 1
    assert "cannot reach the AWS endpoint" in err
    assert err.rstrip().endswith(f"what was read is kept in {checkpoint_path(out)} (--resume continues from it)")
    code, _, err = cli(capsys, *argv, "--resume")
    assert code == 0, err
    assert same_but_calls(comparable(out), straight)

    # killed outright: only the periodic checkpoint is on disk (written after every page here)
    monkeypatch.setattr(checkpoint_module, "MIN_INTERVAL", 0.0)
    monkeypatch.setattr(checkpoint_module, "COST_FACTOR", 0)
    out = tmp_path / "killed.json"
    argv = ["scan", "--api-id", api_id, "--out", str(out)]
    stop_at("ListUsersInGroup", 11, HardStop())
    with pytest.raises(HardStop):
        main(argv)
    capsys.readouterr()
    saved = json.loads(checkpoint_path(out).read_text())
    assert saved["pool"]["groups_done"] == 5
    code, _, err = cli(capsys, *argv, "--resume")
    assert code == 0, err
    assert same_but_calls(comparable(out), comparable(tmp_path / "straight.json"))


def interrupted(capsys, tmp_path, api_id, stop_at, *extra):
    out = tmp_path / "inventory.json"
    stop_at("ListUsersInGroup", 5)
    assert cli(capsys, "scan", "--api-id", api_id, "--out", str(out), *extra)[0] == ExitCode.INTERRUPTED
    assert checkpoint_path(out).exists()
    return out


def assert_one_line_error(code, err, *fragments):
    assert code == ExitCode.ERROR
    assert err.startswith("avp-migrate: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


ANOTHER_SCAN = [
    (["--all-users"], "checkpoint of another scan (--all-users not given, this scan given)"),
    (["--stage", "prod"], "checkpoint of another scan (--stage none, this scan prod)"),
    (["--region", "eu-west-1"], "checkpoint of another scan (region us-east-1, this scan eu-west-1)"),
    (["--user-attribute", "email"], "checkpoint of another scan (--user-attribute none, this scan email)"),
    (["--endpoint-url", "http://127.0.0.1:1"], "checkpoint of another scan (endpoint http://127.0.0.1:"),
]

DAMAGES = [
    (lambda text: text[: len(text) // 2], "invalid JSON at line 1"),
    (lambda text: "[]", "not an avp-migrate scan checkpoint"),
    (lambda text: text.replace('"groups_done":', '"groups_done":"x","was":'), "damaged checkpoint at pool"),
    (lambda text: text.replace('"version":1', '"version":99'), "checkpoint version 99"),
]


def test_checkpoint_of_another_scan_or_damaged_is_refused(embedded_aws, capsys, tmp_path, stop_at):
    api_id = seed_pool(embedded_aws.region)
    out = interrupted(capsys, tmp_path, api_id, stop_at)
    path = checkpoint_path(out)
    for argv, fragment in [*ANOTHER_SCAN, (["--api-id", "other"], f"(--api-id {api_id}, this scan {api_id}, other)")]:
        code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out), "--resume", *argv)
        assert_one_line_error(code, err, fragment, str(path))
    original = path.read_text()
    saved = json.loads(original)
    saved["account_id"] = "999999999999"
    path.write_text(json.dumps(saved))
    code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out), "--resume")
    assert_one_line_error(code, err, "checkpoint of a scan of account 999999999999, these credentials are for "
                                     "account 123456789012")
    for damage, fragment in DAMAGES:
        path.write_text(damage(original))
        code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out), "--resume")
        assert_one_line_error(code, err, fragment, str(path))
    assert path.exists() and not out.exists()


def test_group_deleted_since_the_checkpoint_is_one_line(embedded_aws, capsys, tmp_path, stop_at):
    from moto.cognitoidp.models import cognitoidp_backends

    api_id = seed_pool(embedded_aws.region)
    out = interrupted(capsys, tmp_path, api_id, stop_at)  # group-2 being listed, group-3 to group-7 not yet
    backend = cognitoidp_backends["123456789012"][embedded_aws.region]
    (pool,) = backend.user_pools.values()
    backend.delete_group(pool.id, "group-5")
    code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out), "--resume")
    assert_one_line_error(code, err, f"user pool {pool.id}: group group-5 was deleted while the pool was read; scan "
                                     "again without --resume")
    assert "--resume continues" not in err and not out.exists()


def test_resume_without_checkpoint_or_of_files_is_refused(embedded_aws, capsys, tmp_path):
    out = tmp_path / "inventory.json"
    code, _, err = cli(capsys, "scan", "--out", str(out), "--resume")
    assert_one_line_error(code, err, "--resume: no checkpoint to resume")
    code, _, err = cli(capsys, "scan", "--out", str(out), "--resume", "--openapi", "x.json")
    assert_one_line_error(code, err, "--resume: only meaningful for a scan of an account")


def test_scan_without_resume_starts_over_and_says_so(embedded_aws, capsys, tmp_path, stop_at):
    api_id = seed_pool(embedded_aws.region)
    out = interrupted(capsys, tmp_path, api_id, stop_at)
    code, _, err = cli(capsys, "scan", "--api-id", api_id, "--out", str(out))
    assert code == 0
    assert err.startswith(f"note: {checkpoint_path(out)} holds a stopped scan's progress; starting over")
    assert not checkpoint_path(out).exists() and out.exists()


def test_embedded_cognito_refuses_an_unusable_token_as_cognito_does(embedded_aws, aws_clients):
    seed_pool(embedded_aws.region)
    idp = aws_clients("cognito-idp")
    pool_id = idp.list_user_pools(MaxResults=1)["UserPools"][0]["Id"]
    for operation, arguments, token in [
        ("list_users_in_group", {"GroupName": "group-0", "Limit": 60}, "NextToken"),
        ("list_users", {"Limit": 60}, "PaginationToken"),
        ("list_groups", {"Limit": 60}, "NextToken"),
    ]:
        with pytest.raises(idp.exceptions.InvalidParameterException, match="Paging marker ZXhwaXJlZA== is invalid"):
            getattr(idp, operation)(UserPoolId=pool_id, **arguments, **{token: "ZXhwaXJlZA=="})
