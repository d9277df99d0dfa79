"""Shadow report reader speed: 1,000,000 authorizer log lines, read and aggregated, next to pandas on the same file.

The file is what a day of a busy authorizer writes (about 1 GB): each line is a Powertools Logger line whose
``shadow`` value is the real :meth:`ShadowRecord.to_json` (the envelope is checked against a line the real
Powertools Logger writes for the same record), with one operator line (an AVP failure, JSON without a record)
per thousand. Traffic: the demo API's 13 migrated routes, 5,000 users and a client-credentials client, 24 hours
in time order; about 1 % 401s, 30 % cached AVP answers, 0.2 % AVP errors, and disagreements on two routes.

Timed, wall clock, after a warm-up read of the file (so both read from the page cache); ours the best of three
runs, pandas one run:

* ``reports.shadow_reader.read_files`` + ``reports.shadow_model.summarize``: the whole report's numbers
  (counts, exact percentiles, examples, the chart's timeline);
* ``pandas.read_json(path, lines=True)``: loading alone (no aggregation at all).

Goal (issue 6): 2 s or less, and at least 10x faster than pandas.
"""

from __future__ import annotations

import gc
import io
import json
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

RECORDS = 1_000_000
ROUNDS = 3  # ours is cheap to repeat: the best of three, against a busy machine's noise; pandas runs once
POOL = "us-east-1_e54852da5cde49bbb9ddbd33816e8730"
ROUTES = ("GET /scope", "GET /avp", "GET /pets", "POST /pets", "GET /pets/{petId}", "PUT /pets/{petId}",
          "DELETE /pets/{petId}", "GET /orders", "POST /orders", "GET /orders/{orderId}/items", "GET /reports",
          "ANY /admin/{proxy+}", "GET /profile")
WEIGHTS = (20, 8, 14, 3, 16, 2, 1, 12, 4, 6, 5, 1, 8)
GROUP_SETS = ((), ("avp-group",), ("admins",), ("orders-team", "pets-readers"), ("pets-readers", "pets-writers"),
              ("auditors", "avp-group"), ("orders-team",), ("pets-readers",))
SCOPE_MODE = ("DELETE /pets/{petId}",)  # still in scope mode: AVP not asked
DISAGREEING = {"GET /avp": "avp-group", "GET /orders": "auditors"}  # a group whose policy was left out
TOKEN_ERRORS = ("expired", "expired", "bad_signature", "missing", "wrong_client")
AVP_ERRORS = ("Timeout", "ThrottlingException", "Timeout")
POLICIES = [f"{random.Random(i).getrandbits(64):016x}Pol"[:22] for i in range(13)]
MACHINE = "f9d53369720249529e2c6ce78b"


def _templates() -> tuple[str, str, str, dict[str, object]]:
    """The text around the timestamp and the record in a decision line (Powertools puts the record between
    ``service`` and ``xray_trace_id``), and an operator line, both from the real Logger."""
    from aws_lambda_powertools import Logger

    from authorizer.shadow import LOG_KEY, LOG_MESSAGE, ShadowRecord
    from authorizer.telemetry import Telemetry

    stream = io.StringIO()
    os.environ.setdefault("_X_AMZN_TRACE_ID", "Root=1-6566f7a1-3c3e1f9d2a7b4c5d6e7f8a9b;Parent=1;Sampled=0")
    logger = Logger(service="avp-migrate-authorizer", stream=stream)
    sample = ShadowRecord(time="2026-11-26T00:00:00.000Z", request_id="r", api_id="a", stage="s", route="GET /x",
                          action_id="x", mode="shadow", modes_version=1, modes_source="ssm", principal="p")
    logger.info(LOG_MESSAGE, extra={LOG_KEY: sample.to_dict()})
    Telemetry(logger=logger, metrics=None).error("Verified Permissions failed; request denied (fail closed)",
                                                  avp_error="Timeout", detail="no answer within 300 ms",
                                                  route="GET /x", request_id="r")
    decision, operator = stream.getvalue().splitlines()
    head, found, tail = decision.partition(sample.to_json())
    assert found and head.endswith(f'"{LOG_KEY}":'), decision
    stamp = json.dumps(json.loads(decision)["timestamp"])
    before, _, middle = head.partition(stamp)
    return before, middle, tail, json.loads(operator)


def generate(path: Path, records: int = RECORDS, seed: int = 26) -> None:
    rng = random.Random(seed)
    before, middle, after, operator = _templates()
    users = [(f"{POOL}|{uuid.UUID(int=rng.getrandbits(128))}", rng.choice(GROUP_SETS)) for _ in range(5000)]
    start = datetime(2026, 11, 25, tzinfo=UTC)
    step = timedelta(days=1) / records
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            moment = start + step * i
            at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            stamp = moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}+0000"
            route = rng.choices(ROUTES, WEIGHTS)[0]
            record = _record(rng, route, at, users)
            out.write(f"{before}{json.dumps(stamp)}{middle}{record.to_json()}{after}\n")
            if i % 1000 == 999:  # an operator line: JSON, no record
                line = {**operator, "timestamp": stamp, "route": route, "request_id": str(uuid.uuid4())}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")


def _record(rng: random.Random, route: str, at: str, users: list[tuple[str, tuple[str, ...]]]) -> object:
    from authorizer.shadow import ShadowRecord

    common = dict(time=at, request_id=str(uuid.UUID(int=rng.getrandbits(128))), api_id="j72yko2iid", stage="prod",
                  route=route, action_id=route.lower(), modes_version=7, modes_source="ssm",
                  policy_store_id="PSEXAMPLEabcdefg111111", authorizer_version="0.1.0")
    mode = "scope" if route in SCOPE_MODE else "shadow"
    if rng.random() < 0.01:
        return ShadowRecord(**common, mode=mode, principal=None, token_error=rng.choice(TOKEN_ERRORS))
    machine = route == "GET /reports" and rng.random() < 0.5
    principal, groups = (MACHINE, ()) if machine else rng.choice(users)
    scope = "ALLOW" if rng.random() < 0.85 else "DENY"
    identity = dict(principal=principal, groups=groups, client_id=MACHINE if machine else "1e640495f9f645079af1421159",
                    token_use="access", client_credentials=machine, scope_decision=scope,
                    enforced="ALLOW" if scope == "ALLOW" else "UNAUTHORIZED", decision_source="scope")
    if mode == "scope":
        return ShadowRecord(**common, mode=mode, **identity)
    cached = rng.random() < 0.3
    latency = round(rng.lognormvariate(2.4, 0.45), 3)
    if rng.random() < 0.002:
        error = rng.choice(AVP_ERRORS)
        return ShadowRecord(**common, mode=mode, **identity, avp_error=error,
                            avp_latency_ms=300.0 if error == "Timeout" else latency)
    avp = scope
    if DISAGREEING.get(route) in groups and scope == "ALLOW" and rng.random() < 0.5:
        avp = "DENY"
    policies = (rng.choice(POLICIES),) if avp == "ALLOW" else ()
    return ShadowRecord(**common, mode=mode, **identity, avp_decision=avp, agree=avp == scope,
                        determining_policies=policies, avp_latency_ms=latency, avp_cached=cached)


def main() -> None:
    import pandas as pd

    from reports.shadow_model import summarize
    from reports.shadow_reader import read_files
    from reports.shadow_readiness import Thresholds
    from reports.shadow_window import Window

    with tempfile.TemporaryDirectory(prefix="shadow-bench-") as folder:
        path = Path(folder) / "authorizer.jsonl"
        started = time.perf_counter()
        generate(path)
        size = path.stat().st_size
        print(f"shadow report benchmark: {RECORDS:,} records in {size / 1e6:,.0f} MB of Powertools log lines "
              f"(generated in {time.perf_counter() - started:.1f} s), {os.cpu_count()} cores")
        with path.open("rb") as handle:  # warm the page cache for both contenders
            while handle.read(64 << 20):
                pass

        runs = []
        for _ in range(ROUNDS):
            gc.collect()
            started = time.perf_counter()
            tallies = read_files([path])
            data = summarize(tallies, thresholds=Thresholds(), window=Window(), source={"kind": "files"})
            runs.append(time.perf_counter() - started)
            assert data.lines["records"] == RECORDS, data.lines
        ours = min(runs)
        print(f"  reports.shadow_reader + summarize: {ours:6.2f} s  (best of {ROUNDS}: "
              f"{', '.join(f'{r:.2f}' for r in runs)}; {data.summary['decisions']:,} decisions, "
              f"{len(data.routes)} routes, {data.lines['skipped']:,} other lines skipped)")

        gc.collect()
        started = time.perf_counter()
        frame = pd.read_json(path, lines=True)
        theirs = time.perf_counter() - started
        print(f"  pandas.read_json(lines=True):      {theirs:6.2f} s  (loading only: {len(frame):,} rows)")
        del frame
        print(f"  ratio: {theirs / ours:.1f}x faster; goal: <= 2 s and >= 10x")


if __name__ == "__main__":
    main()
