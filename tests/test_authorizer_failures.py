"""Verified Permissions down, throttling, failing or slow: shadow mode enforces exactly the scope decision, avp mode
denies (fail closed), and every failure is recorded. No test here measures time."""

from __future__ import annotations

import json
import threading

import pytest

from tests.authorizer_helpers import (
    StubAvpClient,
    closed_port_url,
    config_for,
    fake_avp,
    harness,
    hosted_ui_access_token,
    make_world,
    modes_env,
    request_event,
    s,
)


@pytest.fixture
def world(embedded_aws):
    return make_world(embedded_aws)


@pytest.fixture
def tokens(embedded_aws, world):
    return {
        "scoped": hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read")]),  # scope allows
        "unscoped": hosted_ui_access_token(embedded_aws, world, "alice", [s("scope.read")]),  # scope refuses
    }


def both_modes(tmp_path, embedded_aws, world, monkeypatch=None, endpoint=None, timeout_ms=3000, **build):
    """A shadow-mode and an avp-mode authorizer for GET /avp. The timeout is generous unless a test wants a
    timeout: an error must be classified as itself even when a busy test machine pauses this process."""
    if endpoint is not None:
        # the production client factory, pointed elsewhere the standard way (as `local up` does)
        monkeypatch.setenv("AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS", endpoint)
    return {mode: harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                          env={**modes_env({"GET /avp": mode}), "AVP_AUTHZ_AVP_TIMEOUT_MS": str(timeout_ms),
                               "AVP_AUTHZ_CACHE_SIZE": "0"}, **build)
            for mode in ("shadow", "avp")}


def check(harnesses, tokens, expected_error):
    shadow, avp = harnesses["shadow"], harnesses["avp"]
    # shadow: exactly the scope decision, whatever AVP did
    assert shadow.call(request_event("GET /avp", tokens["scoped"])).status == "ALLOW"
    assert shadow.call(request_event("GET /avp", tokens["unscoped"])).status == "401"
    for record in shadow.records():
        assert record.avp_decision is None and record.agree is None
        assert record.avp_error in expected_error, record.avp_error
        assert record.decision_source == "scope"
    # avp: fail closed, 403 (the token is fine; the decision could not be made)
    for token in tokens.values():
        result = avp.call(request_event("GET /avp", token))
        assert result.status == "DENY"
        assert result.response["context"]["decision_source"] == "avp_error"
    for record in avp.records():
        assert (record.enforced, record.decision_source) == ("DENY", "avp_error")
        assert record.avp_error in expected_error
    errors = [line for line in avp.lines() if '"level":"ERROR"' in line and "fail closed" in line]
    assert len(errors) == 2


def test_avp_down(tmp_path, embedded_aws, world, tokens, monkeypatch, capsys):
    harnesses = both_modes(tmp_path, embedded_aws, world, monkeypatch, endpoint=closed_port_url())
    check(harnesses, tokens, {"EndpointConnectionError"})
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(blob["mode"], blob["AvpErrors"]) for blob in emf] == [("shadow", [1.0])] * 2 + [("avp", [1.0])] * 2


def test_avp_throttling_is_not_retried(tmp_path, embedded_aws, world, tokens, monkeypatch):
    with fake_avp("throttle") as server:
        harnesses = both_modes(tmp_path, embedded_aws, world, monkeypatch, endpoint=server.url)
        check(harnesses, tokens, {"ThrottlingException"})
        assert server.requests == 4  # one call per request: no retry can push an answer past the deadline


def test_avp_internal_error(tmp_path, embedded_aws, world, tokens, monkeypatch):
    with fake_avp("internal") as server:
        check(both_modes(tmp_path, embedded_aws, world, monkeypatch, endpoint=server.url), tokens,
              {"InternalServerException"})
        assert server.requests == 4


def test_avp_slower_than_the_timeout_over_http(tmp_path, embedded_aws, world, tokens, monkeypatch):
    with fake_avp("slow", delay=5) as server:
        check(both_modes(tmp_path, embedded_aws, world, monkeypatch, endpoint=server.url, timeout_ms=250), tokens,
              {"Timeout", "ReadTimeoutError"})


def test_avp_slower_than_the_timeout_in_process(tmp_path, embedded_aws, world, tokens):
    release = threading.Event()

    def stall(operation, params):
        release.wait(10)  # far longer than the 250 ms timeout; released at the end of the test
        return {"decision": "ALLOW", "determiningPolicies": [], "errors": []}

    stub = StubAvpClient(stall)
    try:
        check(both_modes(tmp_path, embedded_aws, world, timeout_ms=250, avp_client_factory=lambda: stub), tokens,
              {"Timeout"})
    finally:
        release.set()


def test_avp_raising_anything_is_an_avp_error(tmp_path, embedded_aws, world, tokens):
    def explode(operation, params):
        raise RuntimeError("boom")

    check(both_modes(tmp_path, embedded_aws, world, avp_client_factory=lambda: StubAvpClient(explode)), tokens,
          {"RuntimeError"})


def test_an_avp_answer_without_a_decision_is_an_avp_error(tmp_path, embedded_aws, world, tokens):
    stub = StubAvpClient(lambda operation, params: {"decision": "MAYBE"})
    check(both_modes(tmp_path, embedded_aws, world, avp_client_factory=lambda: stub), tokens, {"InvalidResponse"})


def test_no_policy_store_configured(tmp_path, embedded_aws, world, tokens):
    harnesses = {mode: harness(tmp_path, embedded_aws, config_for(world), store_id=None,
                               env=modes_env({"GET /avp": mode})) for mode in ("shadow", "avp")}
    check(harnesses, tokens, {"NoPolicyStore"})


def test_avp_errors_are_not_cached_but_answers_are(tmp_path, embedded_aws, world, tokens):
    answers = iter([RuntimeError("first call fails"), {"decision": "DENY", "determiningPolicies": []}])

    def decide(operation, params):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stub = StubAvpClient(decide)
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id,
                env=modes_env({"GET /avp": "avp"}), avp_client_factory=lambda: stub)
    statuses = [h.call(request_event("GET /avp", tokens["scoped"])).status for _ in range(3)]
    assert statuses == ["DENY", "DENY", "DENY"]
    assert len(stub.calls) == 2  # the error was retried; the DENY was reused
    assert [(r.avp_error, r.avp_decision, r.avp_cached) for r in h.records()] == [
        ("RuntimeError", None, False), (None, "DENY", False), (None, "DENY", True)]
    assert [r.decision_source for r in h.records()] == ["avp_error", "avp", "avp"]


def test_an_unexpected_failure_inside_the_authorizer_fails_closed(tmp_path, embedded_aws, world, tokens):
    h = harness(tmp_path, embedded_aws, config_for(world), store_id=world.store_id)

    def broken():
        raise RuntimeError(f"mode store exploded near {tokens['scoped']}")

    h.authorizer.modes.current = broken
    result = h.call(request_event("GET /avp", tokens["scoped"]))
    assert result.status == "DENY"
    assert h.last().decision_source == "error"
    assert tokens["scoped"] not in h.logs.getvalue()  # the traceback was redacted
    event = request_event("GET /avp", tokens["scoped"])
    del event["methodArn"]
    assert h.call(event).status == "401"
