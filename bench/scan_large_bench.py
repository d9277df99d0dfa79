"""Scan at enterprise size: a user pool of 100,000 users, 2,000 groups and 400,000 memberships (opt-in: minutes).

``python -m bench scan_large_bench`` (not in the default run). ``SCAN_LARGE_USERS`` / ``SCAN_LARGE_GROUPS`` set a
smaller pool (memberships stay 4 per user) to see the curve.

The pool is seeded straight into moto's backends, as ``bench/scan_bench.py`` does; the scan then goes through
boto3 and HTTP to the embedded AWS like any scan. The embedded server runs in this process (moto's threaded
Werkzeug server), so the time is split three ways:

* **embedded server**: time spent inside moto's WSGI app, summed over requests (the scan makes one request at a
  time, so this is wall time the scan waits), and within it the time in moto's Cognito list operations;
* **scan process**: the rest of the scan's time (boto3's request building, signing, HTTP, response parsing, and
  avp-migrate's own code);
* **avp-migrate's part**, measured alone: the same scan with ListUsersInGroup's pages replayed from memory (no
  HTTP, no boto3, no moto), less the few real calls left; and, as a cross-check, sampled in the live scan (the
  scan thread's time with one of avp-migrate's frames innermost: an upper bound, as it includes waiting for the
  GIL while the server thread runs). A profiler would slow boto3 down several times and distort the split.

It also reports what the same pool costs against real Cognito at the documented request rates (see README).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

USERS = int(os.environ.get("SCAN_LARGE_USERS", "100000"))
GROUPS = int(os.environ.get("SCAN_LARGE_GROUPS", "2000"))
MEMBERSHIPS_PER_USER = 4
CLIENTS = 3
PAGE = 60  # ListUsersInGroup, ListUsers and ListGroups return at most 60 a page (Cognito API reference, Limit)
# Quotas in Amazon Cognito (https://docs.aws.amazon.com/cognito/latest/developerguide/quotas.html), user pool
# API operation categories: UserList (ListUsers, ListUsersInGroup) 30 RPS, not adjustable; UserPoolResourceRead
# (ListGroups, ListResourceServers) 20 RPS with at most 5 RPS for one operation on one pool.
USER_LIST_RPS = 30
LIST_GROUPS_RPS = 5
RESULTS = Path(__file__).parent / "results" / "scan_large.json"
_OURS = (os.sep + "migrate" + os.sep, os.sep + "pretoken_lambda" + os.sep)


def seed(region: str, users: int = USERS, groups: int = GROUPS) -> str:
    """A pool with ``users`` users, each in MEMBERSHIPS_PER_USER groups, and one API whose authorizer names it."""
    from moto.apigateway.models import apigateway_backends
    from moto.cognitoidp.models import cognitoidp_backends

    account = "123456789012"
    idp = cognitoidp_backends[account][region]
    pool = idp.create_user_pool("large-pool", {})
    idp.create_resource_server(pool.id, "api", "api", [{"ScopeName": "read", "ScopeDescription": "x"}])
    group_objects = [idp.create_group(pool.id, f"group-{g:04d}", "", "", None) for g in range(groups)]
    for u in range(users):
        user = idp.admin_create_user(pool.id, f"user-{u:06d}", "SUPPRESS", "Temp-Passw0rd!", [])
        for k in range(MEMBERSHIPS_PER_USER):
            # AdminAddUserToGroup's effect, without its two look-ups per call
            group = group_objects[(u * 7 + k * 53) % groups]
            group.users.add(user)
            user.groups.add(group)
    for c in range(CLIENTS):
        idp.create_user_pool_client(pool.id, False, {"ClientName": f"client-{c}"})
    apigw = apigateway_backends[account][region]
    api = apigw.create_rest_api("large-api", description="")
    authorizer = apigw.create_authorizer(api.id, "cognito", "COGNITO_USER_POOLS", provider_arns=[pool.arn],
                                         identity_source="method.request.header.Authorization")
    root = next(r for r in apigw.get_resources(api.id) if r.parent_id is None)
    resource_ = apigw.create_resource(api.id, root.id, "items")
    apigw.put_method(api.id, resource_.id, "GET", "COGNITO_USER_POOLS", False, authorizer_id=authorizer.id,
                     authorization_scopes=["api/read"])
    return api.id


class ServerClock:
    """Time spent inside moto's WSGI app and inside its Cognito list operations, summed over requests."""

    def __init__(self) -> None:
        self.wsgi = 0.0
        self.cognito_lists = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        from moto.cognitoidp.models import CognitoIdpBackend
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        clock = self
        original_call = DomainDispatcherApplication.__call__

        def timed_call(app: Any, environ: Any, start_response: Any) -> Any:
            started = time.perf_counter()
            try:
                # moto's responses are lists of bytes: the whole answer is made inside this call
                return original_call(app, environ, start_response)
            finally:
                with clock._lock:
                    clock.wsgi += time.perf_counter() - started
                    clock.requests += 1

        self._patch(DomainDispatcherApplication, "__call__", timed_call)
        for name in ("list_users_in_group", "list_users", "list_groups"):
            original = getattr(CognitoIdpBackend, name)

            def timed(backend: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return _original(backend, *args, **kwargs)
                finally:
                    with clock._lock:
                        clock.cognito_lists += time.perf_counter() - started

            self._patch(CognitoIdpBackend, name, timed)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self._undo.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def uninstall(self) -> None:
        for owner, name, value in reversed(self._undo):
            setattr(owner, name, value)
        self._undo.clear()


class Sampler:
    """Samples one thread's innermost Python frame: how long avp-migrate's own code runs, and where.

    Each sample stands for the wall time since the previous one: the sampler needs the GIL to look, so while the
    scan thread runs Python code it looks about once per switch interval, and while the thread waits on a socket
    about once a millisecond. Time the scan thread spends waiting for the GIL inside our code counts as ours: an
    upper bound."""

    def __init__(self, thread_id: int, interval: float = 0.001) -> None:
        self.thread_id = thread_id
        self.interval = interval
        self.total = 0.0
        self.ours: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self.thread_id)
            now = time.perf_counter()
            elapsed, last = now - last, now
            if frame is None:
                continue
            self.total += elapsed
            filename = frame.f_code.co_filename
            if any(part in filename for part in _OURS):
                key = f"{Path(filename).name}:{frame.f_code.co_name}"
                self.ours[key] = self.ours.get(key, 0.0) + elapsed

    def share_ours(self) -> float:
        return sum(self.ours.values()) / self.total if self.total else 0.0

    def top(self, count: int = 6) -> list[tuple[str, float]]:
        total = self.total or 1.0
        return [(name, round(t / total, 4)) for name, t in sorted(self.ours.items(), key=lambda kv: -kv[1])[:count]]


def real_cognito_cost(users: int, groups: int, members_per_group: list[int], all_users: bool) -> dict[str, Any]:
    """Calls and the least time they take at Cognito's documented default rates (one pool, one account)."""
    in_group = sum(max(1, -(-m // PAGE)) for m in members_per_group)
    list_users = -(-users // PAGE) if all_users else 0
    list_groups = max(1, -(-groups // PAGE))
    seconds = (in_group + list_users) / USER_LIST_RPS + list_groups / LIST_GROUPS_RPS
    return {"ListUsersInGroup": in_group, "ListUsers": list_users, "ListGroups": list_groups,
            "minimum_seconds": round(seconds, 1)}


def run_scan(region: str, api_id: str, *, all_users: bool = False) -> dict[str, Any]:
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.scan.aws import AwsScanner, ScanOptions

    clock = ServerClock()
    clock.install()
    session = AwsSession(AwsTarget(region=region))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        with Sampler(threading.get_ident()) as sampler:
            inventory = AwsScanner(session, ScanOptions(api_ids=[api_id], all_users=all_users)).scan()
    finally:
        clock.uninstall()
    total = time.perf_counter() - started
    ours = total * sampler.share_ours()
    pool = inventory.user_pools[0]
    members: dict[str, int] = {}
    for user in pool.users:
        for group in user.groups:
            members[group] = members.get(group, 0) + 1
    return {
        "all_users": all_users,
        "users": len(pool.users), "groups": len(pool.groups),
        "memberships": sum(members.values()), "clients": len(pool.clients),
        "calls": inventory.total_calls, "calls_by_operation": session.counter.snapshot(),
        "seconds": round(total, 1),
        "embedded_server_seconds": round(clock.wsgi, 1),
        "embedded_cognito_list_seconds": round(clock.cognito_lists, 1),
        "boto3_client_seconds": round(max(0.0, total - clock.wsgi - ours), 1),
        "avp_migrate_seconds": round(ours, 1),
        "avp_migrate_top_share_of_scan": sampler.top(),
        "peak_rss_growth_mib": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024),
        "real_cognito": real_cognito_cost(len(pool.users), len(pool.groups),
                                          [members.get(g.name, 0) for g in pool.groups], all_users),
    }


def replay_pages(users: int, groups: int) -> dict[tuple[str, str | None], dict[str, Any]]:
    """ListUsersInGroup's answers for the seeded layout, as boto3 returns them, keyed by (group, token)."""
    import uuid
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    records = [{"Username": f"user-{u:06d}", "Attributes": [{"Name": "sub", "Value": str(uuid.UUID(int=u + 1))}],
                "UserCreateDate": now, "UserLastModifiedDate": now, "Enabled": True,
                "UserStatus": "FORCE_CHANGE_PASSWORD"} for u in range(users)]
    members: list[list[dict[str, Any]]] = [[] for _ in range(groups)]
    for u in range(users):
        for k in range(MEMBERSHIPS_PER_USER):
            members[(u * 7 + k * 53) % groups].append(records[u])
    pages: dict[tuple[str, str | None], dict[str, Any]] = {}
    for g, listed in enumerate(members):
        name = f"group-{g:04d}"
        starts = list(range(0, len(listed), PAGE)) or [0]
        for i, start in enumerate(starts):
            page: dict[str, Any] = {"Users": listed[start:start + PAGE]}
            if i + 1 < len(starts):
                page["NextToken"] = f"{name}/{i + 1}"
            pages[(name, f"{name}/{i}" if i else None)] = page
    return pages


def run_alone(region: str, api_id: str, pages: dict[tuple[str, str | None], dict[str, Any]], *,
              checkpoint_dir: Path | None = None, trace_memory: bool = False) -> dict[str, Any]:
    """avp-migrate's own part alone: the same scan with ListUsersInGroup's pages replayed from memory (no HTTP,
    no boto3, no moto), minus the time of the few real calls left (STS, API Gateway, the pool's description).
    With ``checkpoint_dir``, checkpoints are written as often as their own cost allows (no minimum interval)."""
    import tracemalloc

    from migrate import __version__
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.scan.aws import AwsScanner, ScanOptions

    session = AwsSession(AwsTarget(region=region))
    real_calls = {"seconds": 0.0, "started": 0.0}

    def before(**_: Any) -> None:
        real_calls["started"] = time.perf_counter()

    def after(**_: Any) -> None:
        real_calls["seconds"] += time.perf_counter() - real_calls["started"]

    # before any client is made: a client copies the session's handlers when it is created
    session.boto3_session.events.register("before-call", before)
    session.boto3_session.events.register("after-call", after)
    idp = session.client("cognito-idp")
    idp.list_users_in_group = lambda GroupName, NextToken=None, **_: pages[(GroupName, NextToken)]
    extra: dict[str, Any] = {}
    if checkpoint_dir is not None:
        from migrate.scan import checkpoint as checkpoint_module

        key = checkpoint_module.ScanKey(tool_version=__version__, region=region, endpoint_url=None, profile=None,
                                        api_ids=[api_id], stage=None, rules_source=None, all_users=False,
                                        user_attributes=[])
        extra["checkpoint"] = checkpoint_module.CheckpointFile(checkpoint_dir / "alone.json.checkpoint", key)
        saved_interval, checkpoint_module.MIN_INTERVAL = checkpoint_module.MIN_INTERVAL, 0.0
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        inventory = AwsScanner(session, ScanOptions(api_ids=[api_id]), **extra).scan()
    finally:
        if checkpoint_dir is not None:
            checkpoint_module.MIN_INTERVAL = saved_interval
    total = time.perf_counter() - started
    result: dict[str, Any] = {"seconds": round(total - real_calls["seconds"], 2),
                              "memberships": sum(len(u.groups) for u in inventory.user_pools[0].users)}
    if trace_memory:
        retained, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.update(retained_mib=round(retained / 2**20), peak_mib=round(peak / 2**20))
    if checkpoint_dir is not None:
        result["checkpoint_writes"] = extra["checkpoint"].writes
    return result


def main() -> None:
    import importlib.util
    import tempfile

    from migrate.embedded import EmbeddedAws

    with EmbeddedAws(port=0) as aws:
        aws.apply_environment()
        started = time.perf_counter()
        api_id = seed(aws.region)
        seed_seconds = time.perf_counter() - started
        result = run_scan(aws.region, api_id)
        pages = replay_pages(USERS, GROUPS)
        alone = run_alone(aws.region, api_id, pages)
        alone_memory = run_alone(aws.region, api_id, pages, trace_memory=True)
        alone_checkpointed = {"seconds": 0.0, "checkpoint_writes": 0}
        if importlib.util.find_spec("migrate.scan.checkpoint") is not None:  # (avp-migrate before --resume: none)
            with tempfile.TemporaryDirectory() as directory:
                alone_checkpointed = run_alone(aws.region, api_id, pages, checkpoint_dir=Path(directory))
    figures = {"users": USERS, "groups": GROUPS, "memberships_per_user": MEMBERSHIPS_PER_USER,
               "seed_seconds": round(seed_seconds, 1), "scan": result,
               "avp_migrate_alone": {"seconds": alone["seconds"], "memberships": alone["memberships"],
                                     "retained_mib": alone_memory["retained_mib"],
                                     "peak_mib": alone_memory["peak_mib"]},
               "avp_migrate_alone_checkpointing": alone_checkpointed}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    real = result["real_cognito"]
    print(f"scan at enterprise size: {result['users']} users, {result['groups']} groups, "
          f"{result['memberships']} memberships, {result['clients']} clients (seeded in {seed_seconds:.0f} s)")
    print(f"  scan:                 {result['calls']:>6} AWS calls  {result['seconds']:7.1f} s")
    print(f"  embedded server:      {result['embedded_server_seconds']:7.1f} s "
          f"(of which moto's Cognito list operations {result['embedded_cognito_list_seconds']:.1f} s)")
    print(f"  scan process:         {result['seconds'] - result['embedded_server_seconds']:7.1f} s "
          "(boto3 request, signing, HTTP, parsing; and avp-migrate)")
    alone = figures["avp_migrate_alone"]
    print(f"  avp-migrate's part:   {alone['seconds']:7.1f} s alone (pages replayed without HTTP; sampled in the "
          f"scan: at most {result['avp_migrate_seconds']:.1f} s); traced memory {alone['retained_mib']} MiB kept "
          f"(the snapshot's users), {alone['peak_mib']} MiB at peak")
    if alone_checkpointed["checkpoint_writes"]:
        print(f"  ... checkpointing:    {alone_checkpointed['seconds']:7.1f} s alone with "
              f"{alone_checkpointed['checkpoint_writes']} checkpoint writes (as often as their cost allows)")
    print(f"  real Cognito:         {real['ListUsersInGroup']} ListUsersInGroup + {real['ListGroups']} ListGroups: "
          f"at least {real['minimum_seconds']:.0f} s at {USER_LIST_RPS} RPS (UserList quota)")
    print(f"  (figures written to {RESULTS})")


if __name__ == "__main__":
    main()
