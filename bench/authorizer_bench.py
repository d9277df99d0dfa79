"""Lambda authorizer cost: warm CPU time per request in each mode next to two floors measured in the same run, the
real cost of a decision-cache miss against a Verified Permissions endpoint in another process, and the cold start
of the zip deploy builds.

* Floors, on the same token and key: PyJWT's ``jwt.decode(token, key, algorithms=["RS256"])`` (what the
  authorizer called until it verified with cryptography itself) and one raw ``cryptography`` RSA verification
  (``public_key.verify(signature, signing_input, PKCS1v15(), SHA256())``), the work no RS256 check can skip.
  Goal: a warm decision costs at most 3x PyJWT's decode, the AVP round trip excluded (the "AVP stub" rows).
* Each mode through the real :class:`authorizer.core.Authorizer`, a REQUEST event and a real token from the
  embedded Cognito, logging and EMF metrics included (written to a sink that discards them): decision cache off
  (every request verifies the token and, in shadow/avp mode, asks AVP) and on (the same token on the same route);
  AVP answered by an in-process stub (the hand-off to the thread that bounds the call included).
* A cache miss against Verified Permissions for real: the embedded AWS runs in a process of its own
  (:mod:`bench.avp_endpoint`), so the CPU counted here is the authorizer's (boto3 signing and parsing, HTTP),
  not the endpoint's (cedarpy); the boto3 call alone is measured too.
* Cold start from the zip ``avp-migrate deploy`` builds (:func:`migrate.deploy.package.build_package`, pip
  dependencies, bytecode as shipped): unpacked into a folder laid out like ``/var/task``, the runtime's SDK
  (boto3, botocore, ...) after it as Lambda's runtime provides it (with bytecode), then a fresh isolated CPython of
  the runtime's version (``-I -S -B``: ``/var/task`` is read-only, nothing is written) imports
  ``authorizer.handler`` and builds the authorizer from a deployed function's environment, as the first
  invocation does. CPU time of that process from before the import to after the build (the interpreter's own
  start excluded), median of 15 runs; and the same zip with its ``.pyc`` files removed (what deploy shipped before).
* The first request after that cold start, which Lambda's cold-start latency includes: the same fresh process,
  with the embedded AWS up in its own process, answers one request on a shadow route with a valid token (the mode
  document read from SSM, which imports botocore and builds its client; the user pool's JWKS read; the token checks;
  the Verified Permissions call; the log and EMF lines): CPU of that request alone, median of 7 runs.

CPU time is ``time.process_time()`` (all threads of the process), median of 5 rounds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "avp-migrate"  # the dependency cache the tests use
ROUNDS = 5
COLD_RUNS = 15
# What a lean authorizer does not load at import + build (PyJWT's JWKS client pulled the first four).
NOT_LOADED = ("http.client", "ssl", "email", "urllib.request", "cryptography.x509", "jwt", "cffi", "pycparser",
              "aws_lambda_powertools")


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


# --- cold start from the deploy zip ---------------------------------------------------------------------------

# Run by the runtime's CPython in the unpacked zip. The clock starts before the handler's import.
_COLD = r"""
import sys, time
started = time.process_time()
sys.path[:0] = PATHS
import authorizer.handler as handler
imported = time.process_time()
handler._authorizer = handler.build_authorizer(__import__("os").environ)
built = time.process_time()
print("COLD " + __import__("json").dumps({"import": imported - started, "build": built - started,
                                          "loaded": [n for n in NOT_LOADED if n in sys.modules]}))
"""
# The same, then the first request (the event on stdin): its CPU alone, and the answer.
_FIRST = r"""
import sys, time
started = time.process_time()
import json  # after the clock starts, as in _COLD (json loads re, which the handler's import needs anyway)
sys.path[:0] = PATHS
import authorizer.handler as handler
handler._authorizer = handler.build_authorizer(__import__("os").environ)
built = time.process_time()
event = json.loads(sys.stdin.read())
answer = handler.lambda_handler(event, None)["policyDocument"]["Statement"][0]["Effect"]
done = time.process_time()
sys.stdout.flush()
print("\nCOLD " + json.dumps({"build": built - started, "first": done - built, "answer": answer}))
"""
FIRST_RUNS = 7


def runtime_sdk(compiler: Any) -> Path:
    """The SDK Lambda's Python runtime provides (boto3, botocore and their dependencies), from this environment,
    with bytecode for the runtime as the runtime's own copy has: sources copied, data files linked, compiled once
    and kept under the dependency cache."""

    import botocore

    from migrate.deploy.bytecode import cache_tag, ensure_compiled_tree
    from migrate.deploy.package_check import runtime_module_sources

    target = CACHE / f"bench-runtime-{cache_tag(compiler.version.rsplit('.', 1)[0])}-botocore{botocore.__version__}"
    if (target / ".avp-migrate-bytecode").is_file():
        return target
    building = Path(tempfile.mkdtemp(prefix=".bench-runtime-", dir=CACHE))
    for source in runtime_module_sources():
        files = [source] if source.is_file() else [p for p in source.rglob("*") if p.is_file()]
        for path in files:
            relative = path.relative_to(source.parent)
            if "__pycache__" in relative.parts:
                continue
            (building / relative).parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".py":
                shutil.copyfile(path, building / relative)
            else:
                (building / relative).symlink_to(path)
    ensure_compiled_tree(building, compiler)
    if target.exists():
        shutil.rmtree(building, ignore_errors=True)
    else:
        building.rename(target)
    return target


MODES_PARAMETER = "/avp-migrate/bench/modes"
MODES = {"version": 1, "default": "scope", "routes": {"GET /avp": "shadow"}}


def function_environment(store_id: str) -> dict[str, str]:
    """A deployed function's environment (migrate/deploy/function.py) and Lambda's own variables."""
    from migrate.deploy.package import RUNTIME

    return {
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME}",
        "AWS_LAMBDA_FUNCTION_NAME": "avp-migrate-authorizer", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AVP_AUTHZ_POLICY_STORE_ID": store_id, "AVP_AUTHZ_MODES_PARAMETER": MODES_PARAMETER,
        "AVP_AUTHZ_MODES": json.dumps(MODES),
    }


def first_request(world: dict[str, Any]) -> dict[str, Any]:
    """Import + build, then the first request, in fresh processes of the runtime's CPython, from the zip deploy
    builds, with the embedded AWS (SSM, the JWKS, Verified Permissions) up in its own process."""
    import boto3

    from migrate.deploy.bytecode import find_compiler
    from migrate.deploy.package import PYTHON_VERSION, PackageOptions, build_package
    from tests.authorizer_helpers import request_event

    compiler = find_compiler(PYTHON_VERSION)
    if compiler is None:
        return {"error": f"no CPython {PYTHON_VERSION} on this machine"}
    boto3.client("ssm").put_parameter(Name=MODES_PARAMETER, Type="String", Value=json.dumps(MODES), Overwrite=True)
    package = build_package(world["config"], PackageOptions(cache_dir=str(CACHE)))
    runtime = runtime_sdk(compiler)
    environ = {**world["environment"], **function_environment(world["store_id"]),
               "AVP_AUTHZ_JWKS_URL_TEMPLATE": world["jwks_url_template"]}
    samples = []
    with tempfile.TemporaryDirectory(prefix="avp-migrate-first-") as folder:
        task = Path(folder) / "var" / "task"
        zipfile.ZipFile(io.BytesIO(package.zip_bytes)).extractall(task)
        script = _FIRST.replace("PATHS", repr([str(task), str(runtime)]))
        for _ in range(FIRST_RUNS):
            event = request_event("GET /avp", f"Bearer {world['token']}")
            done = subprocess.run([compiler.path, "-I", "-S", "-B", "-c", script], input=json.dumps(event),
                                  capture_output=True, text=True, timeout=120, check=False, cwd=task,
                                  env={**environ, "LAMBDA_TASK_ROOT": str(task)})
            line = next((x for x in done.stdout.splitlines() if x.startswith("COLD ")), None)
            if line is None:
                raise RuntimeError(f"the first request failed: {done.stderr[-2000:]}")
            samples.append(json.loads(line[5:]))
    if any(x["answer"] != "Allow" for x in samples):
        raise RuntimeError(f"the first request was not allowed: {[x['answer'] for x in samples]}")
    return {"build_ms": statistics.median(x["build"] for x in samples) * 1e3,
            "first_ms": statistics.median(x["first"] for x in samples) * 1e3,
            "total_ms": statistics.median(x["build"] + x["first"] for x in samples) * 1e3}


def cold_start(config_json: str, store_id: str) -> dict[str, Any]:
    """Import + build CPU from the zip deploy builds, with its bytecode and without."""
    from migrate.deploy.bytecode import find_compiler
    from migrate.deploy.package import PYTHON_VERSION, RUNTIME, PackageOptions, build_package

    compiler = find_compiler(PYTHON_VERSION)
    if compiler is None:
        return {"error": f"no CPython {PYTHON_VERSION} on this machine: the cold start of {RUNTIME} is not measured"}
    package = build_package(config_json, PackageOptions(cache_dir=str(CACHE)))
    runtime = runtime_sdk(compiler)
    environ = function_environment(store_id)
    results: dict[str, Any] = {"package": package.describe(), "python": f"{compiler.version} ({compiler.path})"}
    with tempfile.TemporaryDirectory(prefix="avp-migrate-cold-") as folder:
        task = Path(folder) / "var" / "task"
        zipfile.ZipFile(io.BytesIO(package.zip_bytes)).extractall(task)
        bare = Path(folder) / "without-pyc"
        shutil.copytree(task, bare, ignore=shutil.ignore_patterns("__pycache__"))
        for label, tree, code in (("with .pyc", task, _COLD), ("without .pyc", bare, _COLD)):
            script = code.replace("PATHS", repr([str(tree), str(runtime)])).replace("NOT_LOADED", repr(NOT_LOADED))
            samples = []
            for _ in range(COLD_RUNS):
                done = subprocess.run([compiler.path, "-I", "-S", "-B", "-c", script], capture_output=True,
                                      text=True, timeout=120, check=False, cwd=tree,
                                      env={**environ, "LAMBDA_TASK_ROOT": str(tree)})
                line = next((x for x in done.stdout.splitlines() if x.startswith("COLD ")), None)
                if line is None:
                    raise RuntimeError(f"the cold start failed: {done.stderr[-2000:]}")
                samples.append(json.loads(line[5:]))
            results[label] = {"import_ms": statistics.median(x["import"] for x in samples) * 1e3,
                              "build_ms": statistics.median(x["build"] for x in samples) * 1e3,
                              "quietest_ms": min(x["build"] for x in samples) * 1e3,
                              "loaded": samples[0]["loaded"]}
    results["load"] = os.getloadavg()
    return results


def breakdown(sink: io.TextIOBase) -> list[tuple[str, float]]:
    """Two fixed costs inside every request, measured alone: the telemetry (one shadow record as a log line and
    one EMF object, authorizer/lines.py) and the hand-off to the thread that bounds an AVP call."""
    from concurrent.futures import ThreadPoolExecutor

    from authorizer.shadow import ShadowRecord
    from authorizer.telemetry import Telemetry, make_logger, make_metrics

    record = ShadowRecord(
        time="2026-11-26T10:00:00.000Z", request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef", api_id="a1b2c3d4e5",
        stage="prod", route="GET /avp", action_id="get /avp", mode="shadow", modes_version=7, modes_source="ssm:x",
        principal="us-east-1_Abc|4f1c2a3b-0000-4000-8000-000000000000", groups=("avp-group",), client_id="c" * 26,
        token_use="access", scope_decision="ALLOW", avp_decision="ALLOW", agree=True, determining_policies=("p",),
        avp_latency_ms=12.3, enforced="ALLOW", decision_source="scope", policy_store_id="ps", authorizer_version="x")
    telemetry = Telemetry(logger=make_logger("bench-telemetry", stream=sink), metrics=make_metrics("Bench"))
    with contextlib.redirect_stdout(sink):
        telemetry_cpu, _ = cpu_per_call(lambda: telemetry.decision(record), 2000)
    executor = ThreadPoolExecutor(max_workers=4)
    handoff_cpu, _ = cpu_per_call(lambda: executor.submit(dict).result(timeout=1), 2000)
    executor.shutdown()
    return [("  of which telemetry (log line + EMF)", telemetry_cpu),
            ("  of which thread hand-off (AVP calls)", handoff_cpu)]


def start_endpoint() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen([sys.executable, "-m", "bench.avp_endpoint"], cwd=ROOT, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("AVP-ENDPOINT "):
            return process, json.loads(line.split(" ", 1)[1])
    raise RuntimeError("the embedded AWS did not start")


def main() -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    from authorizer.avp import default_client_factory
    from authorizer.config import AuthorizerConfig
    from authorizer.tokens import fetch_jwks, signing_keys
    from tests.authorizer_helpers import StubAvpClient, always, harness, modes_env, request_event

    sink = _Discard()
    rows: list[tuple[str, float, float | None]] = []
    endpoint, world = start_endpoint()
    try:
        os.environ.update(world["environment"])
        token, config = world["token"], AuthorizerConfig.from_json(world["config"])
        pool_id = config.user_pools[0].id
        key = signing_keys(fetch_jwks(world["jwks_url_template"].format(pool_id=pool_id)))["dummy"]
        floor, _ = cpu_per_call(lambda: jwt.decode(token, key, algorithms=["RS256"]), 2000)
        signing_input, _, signature_text = token.rpartition(".")
        signature = jwt.utils.base64url_decode(signature_text)
        raw_input = signing_input.encode()
        raw, _ = cpu_per_call(lambda: key.verify(signature, raw_input, PKCS1v15(), SHA256()), 2000)
        fake_aws = types.SimpleNamespace(moto_url="")
        base_env = {"AVP_AUTHZ_JWKS_URL_TEMPLATE": world["jwks_url_template"]}

        with tempfile.TemporaryDirectory() as tmp:
            def build(mode: str, *, cache: bool, client: Any) -> Any:
                from authorizer.telemetry import make_logger

                env = {**base_env, **modes_env({"GET /avp": mode}), "AVP_AUTHZ_CACHE_SIZE": "1024" if cache else "0"}
                logger = make_logger(f"bench-{mode}-{cache}-{id(client)}", stream=sink)
                return harness(Path(tmp), fake_aws, config, store_id=world["store_id"], env=env, logger=logger,
                               **({"avp_client_factory": lambda: client} if client is not None else {}))

            def measure(label: str, mode: str, *, cache: bool, stub: bool, calls: int) -> None:
                h = build(mode, cache=cache, client=StubAvpClient(always("ALLOW")) if stub else None)
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
            verifier = build("scope", cache=False, client=None).authorizer.verifier
            verify_cpu, _ = cpu_per_call(lambda: verifier.verify(token, "access"), 2000)
            parts.insert(0, ("  of which the token checks (ours, complete)", verify_cpu))
            measure("shadow, AVP endpoint (other process), cache off", "shadow", cache=False, stub=False, calls=300)
            measure("avp, AVP endpoint (other process), cache off", "avp", cache=False, stub=False, calls=300)
            client = default_client_factory(3.0)()
            params = {"policyStoreId": world["store_id"], "accessToken": token,
                      "action": {"actionType": config.entity_types.action, "actionId": "get /avp"},
                      "resource": {"entityType": config.entity_types.resource, "entityId": config.resource_id}}
            assert client.is_authorized_with_token(**params)["decision"] == "ALLOW"
            call_cpu, call_wall = cpu_per_call(lambda: client.is_authorized_with_token(**params), 300)
            parts.append(("  of which the boto3 call alone (same thread)", call_cpu))
            # The local endpoint (werkzeug's server) answers every request with "Connection: close", so each call
            # above opens a TCP connection that a real endpoint's keep-alive would spare: what that costs here.
            address = urllib.parse.urlsplit(world["environment"]["AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS"])
            connect_cpu, _ = cpu_per_call(lambda: socket.create_connection((address.hostname, address.port)).close(),
                                          300)
            parts.append(("    of which a TCP connect (no keep-alive here)", connect_cpu))
        first = first_request(world)
    finally:
        if endpoint.stdin:
            endpoint.stdin.close()
        endpoint.wait(timeout=60)

    # Measured with the embedded AWS stopped: its threads would otherwise compete with the fresh interpreters.
    cold = cold_start(world["config"], world["store_id"])

    print("Lambda authorizer benchmark (warm, per request; CPU = process time, all threads)")
    print(f"  {'measure':<50} {'CPU µs':>9} {'x PyJWT':>8} {'x raw':>7} {'wall µs':>9}")
    print(f"  {'floor: PyJWT ' + jwt.__version__ + ' jwt.decode, RS256':<50} {floor * 1e6:9.1f} {1:8.2f} "
          f"{floor / raw:7.2f}")
    print(f"  {'floor: one raw cryptography RSA verify':<50} {raw * 1e6:9.1f} {raw / floor:8.2f} {1:7.2f}")
    for label, cpu, wall in rows:
        wall_text = f"{wall * 1e6:9.1f}" if wall is not None else f"{'':>9}"
        print(f"  {label:<50} {cpu * 1e6:9.1f} {cpu / floor:8.2f} {cpu / raw:7.2f} {wall_text}")
    for label, cpu in parts:
        print(f"  {label:<50} {cpu * 1e6:9.1f} {cpu / floor:8.2f} {cpu / raw:7.2f}")
    print("  goal: at most 3x PyJWT's decode without the AVP round trip (the 'scope' and 'AVP stub' rows)")
    if "error" in cold:
        print(f"  cold start: {cold['error']}")
    else:
        print(f"  cold start from the deploy zip ({cold['package']}), CPython {cold['python']}, median of "
              f"{COLD_RUNS}:")
        for label in ("with .pyc", "without .pyc"):
            figures = cold[label]
            print(f"    {label:<13} import {figures['import_ms']:6.1f} ms, import + build {figures['build_ms']:6.1f} ms"
                  f" (goal: at most 120 ms; quietest run {figures['quietest_ms']:.1f} ms); loaded of "
                  f"{', '.join(NOT_LOADED)}: {', '.join(figures['loaded']) or 'none'}")
        print(f"    load average during it: {', '.join(f'{x:.2f}' for x in cold['load'])}")
    if "error" in first:
        print(f"  first request: {first['error']}")
    else:
        print(f"  then the first request (shadow route: SSM read with botocore's client built, JWKS read, AVP call), "
              f"median of {FIRST_RUNS}: {first['first_ms']:.1f} ms; import + build + first request "
              f"{first['total_ms']:.1f} ms")
    print(json.dumps({"floor_pyjwt_us": round(floor * 1e6, 1), "floor_raw_us": round(raw * 1e6, 1),
                      "rows": {label: round(cpu * 1e6, 1) for label, cpu, _ in rows},
                      "parts": {label.strip(): round(cpu * 1e6, 1) for label, cpu in parts},
                      "boto3_call_wall_us": round(call_wall * 1e6, 1), "cold": cold,
                      "first_request": first}))


if __name__ == "__main__":
    main()
