"""Lambda authorizer speed: warm CPU time per request in each mode, next to the floor measured in the same run.

* Floor: one RS256 verification of the same token with the same JWT library and key object
  (``jwt.decode(token, key, algorithms=["RS256"])``). Goal: a warm decision costs at most 3x the floor,
  the AVP round trip excluded.
* Each mode is run through the real :class:`authorizer.core.Authorizer` with a REQUEST event and a real token
  from the embedded Cognito, logging and EMF metrics included (written to a sink that discards them, so the
  JSON work is counted but not a terminal's speed):

  - with the decision cache off (every request verifies the token and, in shadow/avp mode, asks AVP) and on
    (a repeated token on the same route: the common case behind API Gateway);
  - with AVP answered by an in-process stub (the AVP round trip excluded; the hand-off to the thread that bounds
    the call is included) and by the local Verified Permissions endpoint over HTTP (boto3 signing and parsing
    and the endpoint's own cedarpy work, which runs in this process, are included there).

* Cold import: ``import authorizer.handler`` in a fresh interpreter, and import plus building the authorizer
  from its environment (Powertools Logger and Metrics), minus a bare interpreter's start.

CPU time is ``time.process_time()`` (all threads of the process), median of 5 rounds.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROUNDS = 5


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def cpu_per_call(function: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call, medians over ROUNDS rounds after a warm-up."""
    for _ in range(min(calls, 50)):
        function()
    cpu, wall = [], []
    for _ in range(ROUNDS):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            function()
        cpu.append((time.process_time() - started_cpu) / calls)
        wall.append((time.perf_counter() - started_wall) / calls)
    return statistics.median(cpu), statistics.median(wall)


def cold_import_ms(code: str) -> float:
    """Milliseconds ``code`` adds to a fresh interpreter laid out like the Lambda zip: ``-S`` keeps the
    development install's import hooks out (the editable-install finder alone costs ~15 ms), and the repository
    and site-packages are put on ``sys.path`` by hand, as the zip's root is in Lambda."""
    import sysconfig

    paths = [str(Path(__file__).resolve().parents[1]), sysconfig.get_paths()["purelib"]]
    prelude = f"import sys; sys.path[:0] = {paths!r}; "

    def run(source: str) -> float:
        samples = []
        for _ in range(11):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-S", "-c", prelude + source], check=True)
            samples.append(time.perf_counter() - started)
        return statistics.median(samples)

    return (run(code) - run("pass")) * 1e3


def breakdown(sink: io.TextIOBase) -> list[tuple[str, float]]:
    """Two fixed costs inside every request, measured alone: the telemetry (one shadow record through
    Powertools Logger and one EMF object through Powertools Metrics) and the hand-off to the thread that bounds
    an AVP call."""
    from concurrent.futures import ThreadPoolExecutor

    from aws_lambda_powertools import Logger

    from authorizer.shadow import ShadowRecord
    from authorizer.telemetry import Telemetry, make_metrics

    record = ShadowRecord(
        time="2026-11-26T10:00:00.000Z", request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef", api_id="a1b2c3d4e5",
        stage="prod", route="GET /avp", action_id="get /avp", mode="shadow", modes_version=7, modes_source="ssm:x",
        principal="us-east-1_Abc|4f1c2a3b-0000-4000-8000-000000000000", groups=("avp-group",), client_id="c" * 26,
        token_use="access", scope_decision="ALLOW", avp_decision="ALLOW", agree=True, determining_policies=("p",),
        avp_latency_ms=12.3, enforced="ALLOW", decision_source="scope", policy_store_id="ps", authorizer_version="x")
    telemetry = Telemetry(logger=Logger(service="bench-telemetry", stream=sink), metrics=make_metrics("Bench"))
    with contextlib.redirect_stdout(sink):
        telemetry_cpu, _ = cpu_per_call(lambda: telemetry.decision(record), 2000)
    executor = ThreadPoolExecutor(max_workers=4)
    handoff_cpu, _ = cpu_per_call(lambda: executor.submit(dict).result(timeout=1), 2000)
    executor.shutdown()
    return [("  of which telemetry (log line + EMF)", telemetry_cpu),
            ("  of which thread hand-off (AVP calls)", handoff_cpu)]


def main() -> None:
    import jwt

    from authorizer.tokens import fetch_jwks, signing_keys
    from migrate.embedded import EmbeddedAws
    from tests.authorizer_helpers import (
        StubAvpClient,
        always,
        config_for,
        harness,
        hosted_ui_access_token,
        make_world,
        modes_env,
        request_event,
        s,
    )

    sink = _Discard()
    rows: list[tuple[str, float, float | None]] = []
    with EmbeddedAws(port=0) as aws, tempfile.TemporaryDirectory() as tmp:
        aws.apply_environment()
        world = make_world(aws)
        token = hosted_ui_access_token(aws, world, "alice", [s("avp.read")])
        key = signing_keys(fetch_jwks(f"{aws.moto_url}/{world.pool_id}/.well-known/jwks.json"))["dummy"]
        floor, _ = cpu_per_call(lambda: jwt.decode(token, key, algorithms=["RS256"]), 2000)

        def measure(label: str, mode: str, *, cache: bool, stub: bool, calls: int) -> None:
            from aws_lambda_powertools import Logger

            env = {**modes_env({"GET /avp": mode}), "AVP_AUTHZ_CACHE_SIZE": "1024" if cache else "0"}
            build: dict[str, Any] = {"logger": Logger(service=f"bench-{mode}-{cache}-{stub}", stream=sink)}
            if stub:
                client = StubAvpClient(always("ALLOW"))
                build["avp_client_factory"] = lambda: client
            h = harness(Path(tmp), aws, config_for(world), store_id=world.store_id, env=env, **build)
            event = request_event("GET /avp", f"Bearer {token}")
            with contextlib.redirect_stdout(sink):
                assert h.authorizer(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
                cpu, wall = cpu_per_call(lambda: h.authorizer(event, None), calls)
            rows.append((label, cpu, wall if not stub and mode != "scope" else None))

        measure("scope, cache off", "scope", cache=False, stub=True, calls=2000)
        measure("scope, cache hit", "scope", cache=True, stub=True, calls=2000)
        measure("shadow, AVP stub, cache off", "shadow", cache=False, stub=True, calls=2000)
        measure("shadow, AVP stub, cache hit", "shadow", cache=True, stub=True, calls=2000)
        measure("avp, AVP stub, cache off", "avp", cache=False, stub=True, calls=2000)
        measure("avp, AVP stub, cache hit", "avp", cache=True, stub=True, calls=2000)
        parts = breakdown(sink)
        measure("shadow, local AVP endpoint, cache off", "shadow", cache=False, stub=False, calls=200)
        measure("avp, local AVP endpoint, cache off", "avp", cache=False, stub=False, calls=200)

        config_json = config_for(world).to_json()

    # Measured with the embedded AWS stopped: its threads would otherwise compete with the fresh interpreters.
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "authorizer-config.json"
        config_path.write_text(config_json)
        import_ms = cold_import_ms("import authorizer.handler")
        build_ms = cold_import_ms(
            "from authorizer.handler import build_authorizer; "
            f"build_authorizer({{'AVP_AUTHZ_CONFIG_PATH': {str(config_path)!r}, "
            "'AVP_AUTHZ_MODES': '{\"version\": 1, \"routes\": {}}'})")

    print("Lambda authorizer benchmark (warm, per request; CPU = process time, all threads)")
    print(f"  {'measure':<42} {'CPU µs':>9} {'x floor':>8} {'wall µs':>9}")
    print(f"  {'floor: one RS256 jwt.decode (PyJWT ' + jwt.__version__ + ')':<42} {floor * 1e6:9.1f} {1:8.2f}")
    for label, cpu, wall in rows:
        wall_text = f"{wall * 1e6:9.1f}" if wall is not None else f"{'':>9}"
        print(f"  {label:<42} {cpu * 1e6:9.1f} {cpu / floor:8.2f} {wall_text}")
    for label, cpu in parts:
        print(f"  {label:<42} {cpu * 1e6:9.1f} {cpu / floor:8.2f}")
    print("  goal: at most 3x the floor without the AVP round trip (the 'AVP stub' and 'scope' rows)")
    print(f"  cold import of authorizer.handler:          {import_ms:8.1f} ms (over a bare interpreter)")
    print(f"  cold import + build (Logger, Metrics):      {build_ms:8.1f} ms")
    print(json.dumps({"floor_us": round(floor * 1e6, 1),
                      "rows": {label: round(cpu * 1e6, 1) for label, cpu, _ in rows},
                      "import_ms": round(import_ms, 1), "import_build_ms": round(build_ms, 1)}))


if __name__ == "__main__":
    main()
