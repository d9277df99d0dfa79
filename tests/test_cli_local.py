"""`avp-migrate local up` as a user runs it: a separate process whose printed environment any boto3 program uses."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys

import boto3


def test_local_up_prints_a_working_environment_and_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen([sys.executable, "-m", "migrate", "local", "up", "--port", "0", "--seed", "demo"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        exported, comments = {}, []
        for line in process.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exported[name] = shlex.split(value)[0]
            elif line.startswith("#"):
                comments.append(line)
            if line.startswith("# embedded AWS running"):
                break
        assert {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"} <= set(exported)
        assert any("demo API MyApi" in c for c in comments)

        # A plain boto3 program configured only by those variables reaches both listeners.
        saved = dict(os.environ)
        try:
            os.environ.update(exported)
            session = boto3.Session()
            apis = session.client("apigateway").get_rest_apis()["items"]
            assert [a["name"] for a in apis] == ["MyApi"]
            assert session.client("verifiedpermissions").list_policy_stores()["policyStores"] == []
        finally:
            os.environ.clear()
            os.environ.update(saved)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=20)
    assert code == 0, process.stderr.read()
