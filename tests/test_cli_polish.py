"""The CLI behaves like the tools users already trust (issue 13): no tracebacks for user errors, JSON errors with
--output json, AWS CLI spellings, clear one-line errors for the environment (profile, ports, dead endpoints)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.cli.main import main
from migrate.inventory import save_inventory
from tests.inventory_builder import inventory, method, rule

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _snapshot(path: Path, rules: list[dict]) -> Path:
    save_inventory(inventory([method("GET", "/a", ["api/read"])], users={"alice": ["admins"]}, rules=rules), path)
    return path


@pytest.fixture
def good(tmp_path) -> Path:
    return _snapshot(tmp_path / "good.json", [rule("r1", ["api/read"], groups=["admins"])])


@pytest.fixture
def bad_rules(tmp_path) -> Path:
    return _snapshot(tmp_path / "bad.json", [{"id": "r1", "then": {"bogus": 1}}])


@pytest.fixture
def differing_plan(good, tmp_path, capsys) -> Path:
    """A plan whose only policy was deleted: verify finds a difference (exit 2)."""
    plan = tmp_path / "plan"
    assert main(["plan", str(good), "--out", str(plan)]) == 0
    capsys.readouterr()
    for file in (plan / "policies").glob("*.cedar"):
        file.unlink()
    return plan


# --- 1. no tracebacks for user errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["plan", "verify"])
def test_invalid_rules_in_the_snapshot_are_one_line(verb, bad_rules, tmp_path, capsys):
    argv = [verb, str(bad_rules)] + (["--out", str(tmp_path / "p")] if verb == "plan" else [])
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("avp-migrate: error: user pool us-east-1_TestPool1: ")
    assert 'unknown key "bogus"' in err and "file:rules.json" in err
    assert not (tmp_path / "p").exists()


def test_plan_out_naming_a_file_is_one_line(good, tmp_path, capsys):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    code, out, err = run(capsys, "plan", str(good), "--out", str(target))
    assert code == 1 and out == ""
    assert err == f"avp-migrate: error: {target}: exists and is not a folder; --out names the plan folder to write\n"
    assert target.read_text() == "keep me"


def _closed_pipe(*argv: str) -> tuple[int, str]:
    """Run the CLI with its stdout a pipe whose reader has gone (as `| head` does once it has its lines)."""
    child = subprocess.Popen([sys.executable, "-m", "migrate", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # before the child has imported anything: its first write meets a closed pipe
    err = child.stderr.read().decode()
    return child.wait(timeout=120), err


def test_output_into_a_closed_pipe_keeps_the_exit_code_and_prints_nothing(good, differing_plan):
    assert _closed_pipe("verify", str(good)) == (0, "")
    code, err = _closed_pipe("verify", str(good), "--plan", str(differing_plan))
    assert code == 2 and "Traceback" not in err and "BrokenPipe" not in err


def test_a_broken_pipe_in_the_middle_of_the_output(good, differing_plan, monkeypatch):
    class Closed:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    closed = Closed()
    monkeypatch.setattr(sys, "stdout", closed)
    assert main(["verify", str(good), "--plan", str(differing_plan)]) == 2
    assert sys.stdout is closed


# --- 2. --output json: errors are JSON too ----------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [["--output", "json"], ["--format", "json"], ["--output=json"]])
def test_json_errors(spelling, bad_rules, capsys):
    code, out, err = run(capsys, "verify", str(bad_rules), *spelling)
    assert code == 1 and out == ""
    error = json.loads(err)
    assert error["where"] == "user pool us-east-1_TestPool1" and 'unknown key "bogus"' in error["error"]


def _usage_error(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code), out, err


def test_json_usage_errors_exit_1(good, capsys):
    code, out, err = _usage_error(capsys, "verify", str(good), "--plna", "x", "--output", "json")
    assert code == 1 and out == ""
    assert json.loads(err) == {"error": "unrecognized arguments: --plna x", "where": "avp-migrate"}
    code, _, err = _usage_error(capsys, "--output", "json", "verify")
    assert code == 1 and "INVENTORY" in json.loads(err)["error"]


def test_text_errors_stay_text(good, capsys):
    code, _, err = _usage_error(capsys, "verify", str(good), "--plna", "x")
    assert code == 1 and err.startswith("usage: ")


# --- 3. --output json|text|table --------------------------------------------------------------------------------

def test_verify_output_table_draws_the_json_facts(good, differing_plan, capsys):
    code, out, _ = run(capsys, "verify", str(good), "--plan", str(differing_plan), "--output", "table")
    assert code == 2
    assert "| verdict            | differences" in out
    row = next(line for line in out.splitlines() if line.startswith("| loses"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == ["loses", "GET /a", "GET", "avp", "group admins", "alice", "app (sign-in)",
                     "no policy on disk allows it"]
    code, out, _ = run(capsys, "verify", str(good), "--plan", str(differing_plan), "--format", "json")
    assert code == 2 and json.loads(out)["differences"][0]["flows"] == ["app (sign-in)", "app (refresh)"]


def test_output_table_is_text_where_nothing_is_tabular(good, tmp_path, capsys):
    code, table, _ = run(capsys, "plan", str(good), "--out", str(tmp_path / "p1"), "--output", "table")
    code2, text, _ = run(capsys, "plan", str(good), "--out", str(tmp_path / "p1"))
    assert code == code2 == 0 and table.startswith("wrote plan for API MyApi")
    timing = re.compile(r"in [0-9.]+ s\)")
    assert timing.sub("", table) == timing.sub("", text)


def test_status_output_table(embedded_aws, tmp_path, capsys):
    from tests.test_cutover import ROUTES, deploy_state

    setup = deploy_state(tmp_path)
    code, out, err = run(capsys, "status", "--plan", str(setup.plan), "--output", "table")
    assert (code, err) == (0, "")
    assert "| in sync          | yes" in out
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")]
                                          for line in out.splitlines() if line.startswith("| ")) if cells[0]}
    assert set(ROUTES) <= set(rows)
    assert rows["GET /avp"][1:4] == ["shadow", "shadow", "shadow"] and rows["GET /avp"][4].startswith("v1 ")


# --- 4. the profile named in AWS_PROFILE -------------------------------------------------------------------------

@pytest.fixture
def no_profiles(tmp_path, monkeypatch):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config").write_text("[profile real]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def test_aws_profile_names_the_profile(no_profiles, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    code, _, err = run(capsys, "status", "--plan", str(tmp_path))
    assert code == 1
    assert err == ("avp-migrate: error: AWS_PROFILE: AWS profile not found: nosuch (not in the AWS config or "
                   "credentials file)\n")
    code, _, err = run(capsys, "status", "--plan", str(tmp_path), "--profile", "other")
    assert code == 1 and err.startswith("avp-migrate: error: --profile: AWS profile not found: other ")


# --- 5. --start -24h as written ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("window", "expected"), [
    (["--start", "-24h"], ("-24h", None)), (["--start=-24h"], ("-24h", None)),
    (["--start", "-90m", "--end", "-1h"], ("-90m", "-1h")), (["--start", "24h"], ("24h", None))])
def test_relative_times_as_written(window, expected, tmp_path, monkeypatch, capsys):
    from migrate.cli import report

    seen = {}
    monkeypatch.setattr(report, "run", lambda args: seen.update(start=args.start, end=args.end) or 0)
    code, _, err = run(capsys, "report", "shadow", "--files", str(tmp_path / "r.jsonl"), *window, "--out",
                       str(tmp_path / "out"))
    assert (code, err) == (0, "")
    assert (seen["start"], seen["end"]) == expected


def test_a_relative_time_reaches_the_report_window(tmp_path, monkeypatch, capsys):
    # End to end: a missing records file is the error (not a usage error about "-24h").
    code, _, err = run(capsys, "report", "shadow", "--files", str(tmp_path / "r.jsonl"), "--start", "-24h", "--out",
                       str(tmp_path / "out"))
    assert code == 1 and "r.jsonl" in err and "expected one argument" not in err


# --- 6. local up: a port in use, --port 0 ------------------------------------------------------------------------

def _local_up(*argv: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen([sys.executable, "-m", "migrate", "local", "up", *argv], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _taken_after_a_free_port() -> tuple[int, socket.socket]:
    """A listening socket on port P + 1 where P is free (as far as one can tell): for --port P."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        taken = socket.socket()
        try:
            taken.bind(("127.0.0.1", free + 1))
        except OSError:
            taken.close()
            continue
        taken.listen()
        return free, taken
    raise AssertionError("no two adjacent ports to test with")


@pytest.mark.parametrize("which", ["moto", "local services"])
def test_local_up_on_a_port_in_use_stops_with_one_line(which):
    free, taken = _taken_after_a_free_port()
    taken_port = taken.getsockname()[1]
    try:
        process = _local_up("--port", str(taken_port if which == "moto" else free))
        try:
            out, err = process.communicate(timeout=120)  # a bound, so that the old behaviour (running on) fails
        finally:
            process.kill()
    finally:
        taken.close()
    assert process.returncode == 1 and out == ""
    assert err == (f"avp-migrate: error: --port: cannot listen on 127.0.0.1:{taken_port}: Address already in use "
                   "(in use by another program: stop it, or pass another --port; --port 0 picks free ports)\n")


def test_local_up_port_0_prints_the_ports_it_picked():
    process = _local_up("--port", "0")
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("# embedded AWS running"):
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    ports = next(line for line in lines if line.startswith("# ports: "))
    moto, local = (int(p) for p in re.findall(r"(\d+) \(", ports))
    assert 0 not in (moto, local) and f"export AWS_ENDPOINT_URL=http://127.0.0.1:{moto}\n" in lines
    assert f"export AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS=http://127.0.0.1:{local}\n" in lines
    assert process.returncode == 0


def test_local_up_refuses_a_port_out_of_range(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["local", "up", "--port", "70000"])
    assert exited.value.code == 1 and "not a port number: 70000" in capsys.readouterr().err


# --- 7. a dead endpoint is reported at once; throttling is still retried ----------------------------------------

def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed: connection refused


def _counting(client) -> list[int]:
    sent: list[int] = []
    client.meta.events.register("before-send", lambda **_: sent.append(1))
    return sent


@pytest.fixture
def fake_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_client_config_keeps_throttling_retries_and_bounds_connects(fake_credentials):
    from migrate.awsconfig import CONNECT_TIMEOUT, MAX_ATTEMPTS, AwsSession, AwsTarget

    client = AwsSession(AwsTarget(region="us-east-1")).client("apigateway")
    config = client.meta.config
    # botocore keeps the legacy max_attempts (retries) as total_max_attempts (the first attempt too)
    assert config.retries == {"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS + 1} and MAX_ATTEMPTS == 10
    assert config.connect_timeout == CONNECT_TIMEOUT <= 5


def test_a_refused_connection_is_tried_twice_and_named(fake_credentials):
    import botocore.exceptions

    from migrate.awsconfig import CONNECT_ATTEMPTS, AwsSession, AwsTarget, describe_aws_error

    url = f"http://127.0.0.1:{_closed_port()}"
    client = AwsSession(AwsTarget(region="us-east-1", endpoint_url=url)).client("apigateway")
    sent = _counting(client)
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as raised:
        client.get_rest_apis()
    assert len(sent) == CONNECT_ATTEMPTS == 2  # not MAX_ATTEMPTS with backoff
    error = describe_aws_error(raised.value, what="scan")
    assert str(error) == (f"scan: cannot reach the AWS endpoint {url}/restapis (connection refused; check "
                          "--endpoint-url / AWS_ENDPOINT_URL, or that `avp-migrate local up` runs)")


def test_the_cli_names_a_dead_endpoint_in_one_line(fake_credentials, tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    code, out, err = run(capsys, "scan", "--api-id", "abc", "--stage", "prod", "--out", str(tmp_path / "i.json"),
                         "--endpoint-url", url, "--region", "us-east-1")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("avp-migrate: error: ") and f"cannot reach the AWS endpoint {url}/" in err
    assert "connection refused" in err and not (tmp_path / "i.json").exists()


def test_throttling_is_still_retried(fake_credentials, monkeypatch):
    """A real HTTP endpoint that throttles twice, then answers: botocore retries it (3 requests, one result)."""
    import http.server
    import threading

    import botocore.endpoint

    # botocore waits between retries (its backoff: seconds); how long is not what this test is about
    monkeypatch.setattr(botocore.endpoint.time, "sleep", lambda _seconds: None)

    from migrate.awsconfig import AwsSession, AwsTarget

    answers = [429, 429, 200]

    class Throttling(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = answers.pop(0)
            body = b'{"item": []}' if status == 200 else b'{"message": "Rate exceeded"}'
            self.send_response(status)
            if status != 200:
                self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Throttling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = AwsSession(AwsTarget(region="us-east-1", endpoint_url=url)).client("apigateway")
        sent = _counting(client)
        assert client.get_rest_apis()["items"] == []
        assert len(sent) == 3 and answers == []
    finally:
        server.shutdown()
        server.server_close()


# --- 8. iam-policy --for scan ------------------------------------------------------------------------------------

def _allows(policy: dict, action: str) -> list[dict]:
    return [s for s in policy["Statement"] if s["Effect"] == "Allow" and action in s["Action"]]


def test_iam_policy_for_scan_allows_every_call_a_real_scan_makes(embedded_aws, tmp_path, capsys):
    from migrate.embedded.seed import seed_demo
    from migrate.inventory import load_inventory
    from migrate.scan_permissions import SCAN_CALLS

    account = seed_demo(region=embedded_aws.region)
    snapshot = tmp_path / "inventory.json"
    assert main(["scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out", str(snapshot)]) == 0
    assert main(["scan", "--out", str(tmp_path / "all.json")]) == 0  # every API: GetRestApis
    capsys.readouterr()
    calls = {call for path in (snapshot, tmp_path / "all.json") for record in load_inventory(path).provenance
             for call in record.calls}
    assert {"apigateway.GetResources", "cognito-idp.DescribeUserPool", "lambda.GetFunctionConfiguration",
            "ssm.GetParameter", "apigateway.GetRestApis"} <= calls  # the demo's trigger and its rules were read
    assert calls <= set(SCAN_CALLS), f"scan makes calls the policy does not know: {calls - set(SCAN_CALLS)}"

    code, out, _ = run(capsys, "iam-policy", "--for", "scan", "--account-id", "123456789012", "--region",
                       "us-east-1")
    policy = json.loads(out)
    assert code == 0 and policy["Version"] == "2012-10-17"
    for call in calls:
        if SCAN_CALLS[call] is not None:
            assert _allows(policy, SCAN_CALLS[call]), call
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not {a for a in actions if a.split(":")[1].startswith(("Create", "Update", "Delete", "Put", "Admin")
                                                                  ) and a != "cognito-idp:AdminGetUser"}
    assert "apigateway:POST" not in actions and "apigateway:PATCH" not in actions
    assert _allows(policy, "apigateway:GET")[0]["Resource"] == ["arn:aws:apigateway:us-east-1::/restapis",
                                                                "arn:aws:apigateway:us-east-1::/restapis/*"]

    plan = tmp_path / "plan"
    assert main(["plan", str(snapshot), "--out", str(plan)]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "iam-policy", "--for", "scan", "--plan", str(plan), "--region", embedded_aws.region)
    scoped = json.loads(out)
    pool = json.loads((plan / "plan.json").read_text())["user_pool"]
    assert _allows(scoped, "apigateway:GET")[0]["Resource"] == [
        f"arn:aws:apigateway:{embedded_aws.region}::/restapis/{account.api_id}",
        f"arn:aws:apigateway:{embedded_aws.region}::/restapis/{account.api_id}/*"]
    assert _allows(scoped, "cognito-idp:ListGroups")[0]["Resource"] == [pool["arn"]]


def test_iam_policy_needs_a_plan_except_for_scan(capsys):
    code, _, err = run(capsys, "iam-policy", "--for", "deploy")
    assert code == 1 and err == "avp-migrate: error: --plan: --for deploy needs the plan folder: add --plan DIR\n"


def test_offline_commands_list_no_aws_options_and_refuse_them(capsys, good, tmp_path):
    for verb in ("plan", "verify"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        help_text = capsys.readouterr().out
        assert "--output" in help_text and "--profile" not in help_text and "--endpoint-url" not in help_text
    # after the verb: argparse does not know them; before it: refused rather than silently ignored
    with pytest.raises(SystemExit) as exited:
        main(["verify", str(good), "--plan", str(tmp_path), "--region", "eu-west-1"])
    assert exited.value.code == 1 and "unrecognized arguments: --region eu-west-1" in capsys.readouterr().err
    code, out, err = run(capsys, "--profile", "prod", "plan", str(good), "--out", str(tmp_path / "plan"))
    assert (code, out) == (1, "") and "plan never calls AWS: --profile would have no effect" in err
    assert not (tmp_path / "plan").exists()
    # report shadow takes AWS options only with a source that reads CloudWatch Logs
    records = tmp_path / "records.jsonl"
    records.write_text("")
    code, _, err = run(capsys, "report", "shadow", "--files", str(records), "--out", str(tmp_path / "r"),
                       "--endpoint-url", "http://127.0.0.1:1")
    assert code == 1 and "--files reads only files" in err and not (tmp_path / "r").exists()


def test_a_region_other_than_the_deployments_is_named_not_ignored(capsys, tmp_path):
    from migrate.deploy.record import DeploymentRecord, save_record

    record = DeploymentRecord(api_id="a1", api_name="Pets", stage="prod", region="us-east-1",
                              account_id="123456789012", policy_store_id="ps", identity_source_id="is",
                              function_name="f", function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
                              role_name="r", log_group="/aws/lambda/f", authorizer_id="au",
                              mode_parameter="/avp-migrate/a1/prod/modes", ledger_table="avp-migrate-modes",
                              deployed_at="2026-12-07T00:00:00+00:00")
    save_record(record, tmp_path)
    for argv in (["status", "--plan", str(tmp_path)], ["rollback", "GET /a", "--plan", str(tmp_path), "--yes"],
                 ["report", "shadow", "--plan", str(tmp_path), "--out", str(tmp_path / "r")]):
        code, out, err = run(capsys, *argv, "--region", "eu-west-1")
        assert (code, out) == (1, ""), argv
        assert "deployment.json records region us-east-1" in err and "--region eu-west-1 would not be used" in err


def test_plan_json_carries_every_fact_of_the_text(good, tmp_path, capsys):
    from tests.inventory_builder import hosted_client, password_client

    snapshot = tmp_path / "exposed.json"  # a hosted-UI client: a review finding to carry
    save_inventory(inventory([method("GET", "/a", ["api/read"])], users={"alice": ["admins"]},
                             rules=[rule("r1", ["api/read"], groups=["admins"])],
                             clients=[password_client(), hosted_client(["api/read"])]), snapshot)
    code, text, _ = run(capsys, "plan", str(snapshot), "--out", str(tmp_path / "p"))
    code_json, out, _ = run(capsys, "plan", str(snapshot), "--out", str(tmp_path / "p"), "--output", "json")
    assert code == code_json == 0
    data = json.loads(out)
    assert data["api"]["id"] in text and data["user_pool"]["id"] in text and data["namespace"] in text
    assert any(f["severity"] == "review" for f in data["findings"])
    for finding in data["findings"]:
        if finding["severity"] != "info":
            assert f"{finding['severity']}: {finding['message']}" in text
    assert all(f"next: {step}" in text for step in data["next_steps"]) and data["next_steps"]
    assert data["iac"] and data["iac"] in text
    assert data["equivalence"]["decisions"] > 0 and data["policies"] >= 1


def test_the_demo_says_how_to_get_avp_migrate_on_the_path(tmp_path):
    from migrate.cli.demo import path_hint

    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    script = str(venv_bin / "avp-migrate")
    hint = path_hint(script, path="/usr/bin:/bin")
    assert hint is not None and f'export PATH="{venv_bin}:$PATH"' in hint and f"source {venv_bin}/activate" in hint
    assert path_hint(script, path=f"/usr/bin:{venv_bin}") is None


def test_local_traffic_goes_only_through_the_embedded_aws(capsys, tmp_path, monkeypatch):
    from migrate.deploy.record import DeploymentRecord, save_record

    save_record(DeploymentRecord(api_id="a1", api_name="Pets", stage="prod", region="us-east-1",
                                 account_id="123456789012", policy_store_id="", identity_source_id="",
                                 function_name="f", function_arn="", role_name="", log_group="", authorizer_id="",
                                 mode_parameter="", ledger_table="", deployed_at=""), tmp_path)
    monkeypatch.delenv("AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS", raising=False)
    code, out, err = run(capsys, "local", "traffic", "--plan", str(tmp_path))
    assert (code, out) == (1, "") and "only through the embedded AWS" in err
    code, _, err = run(capsys, "local", "traffic", "--plan", str(tmp_path), "--local-url", "https://example.com")
    assert code == 1 and "only through the embedded AWS" in err
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = run(capsys, "local", "traffic", "--plan", str(tmp_path), "--local-url", f"http://127.0.0.1:{port}")
    assert code == 1 and "cannot reach the embedded AWS" in err and err.count("\n") == 1


def test_a_long_finding_stays_one_short_console_line():
    from migrate.cli.plan import MAX_CONSOLE_MESSAGE, console_text

    short = "app client web lets any user request MyApi/pets.read"
    assert console_text(short, "plan") == short
    long = "lets any user request MyApi/pets.read (" + ", ".join(f"group g{i}" for i in range(5000)) + ")"
    line = console_text(long, "plan")
    assert len(line) < MAX_CONSOLE_MESSAGE + 100 and line.startswith(long[:200])
    assert f"({len(long):,} characters: plan/report.md has it whole)" in line
