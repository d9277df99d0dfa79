"""Scan cost: an API with 1,000 resources x 4 methods and a user pool with 200 groups and 20,000 memberships.

The account is seeded straight into moto's backends (seeding 25,000 objects through HTTP would dominate the
run and measure nothing of ours); the scans then go through boto3 and HTTP to the embedded AWS like any scan.
Two scans are compared on the same account:

* avp-migrate's scan (migrate.scan.aws.AwsScanner);
* a one-call-per-method scan, as a straightforward script would do it: GetResources with its default page
  size, then GetMethod for every method; the Cognito part the same as ours.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

RESOURCES = 1000
VERBS = ("GET", "POST", "PUT", "DELETE")
GROUPS = 200
USERS = 5000
MEMBERSHIPS_PER_USER = 4  # 5,000 users x 4 groups = 20,000 memberships
RESULTS = Path(__file__).parent / "results" / "scan.json"


def seed(region: str) -> tuple[str, str]:
    from moto.apigateway.models import apigateway_backends
    from moto.cognitoidp.models import cognitoidp_backends

    account = "123456789012"
    idp = cognitoidp_backends[account][region]
    pool = idp.create_user_pool("bench-pool", {})
    idp.create_resource_server(pool.id, "api", "api", [{"ScopeName": f"s{i}", "ScopeDescription": "x"}
                                                          for i in range(20)])
    for g in range(GROUPS):
        idp.create_group(pool.id, f"group-{g:03d}", "", "", None)
    for u in range(USERS):
        idp.admin_create_user(pool.id, f"user-{u:05d}", "SUPPRESS", "Temp-Passw0rd!", [])
        for k in range(MEMBERSHIPS_PER_USER):
            idp.admin_add_user_to_group(pool.id, f"group-{(u * 7 + k * 53) % GROUPS:03d}", f"user-{u:05d}")
    for c in range(3):
        idp.create_user_pool_client(pool.id, False, {"ClientName": f"client-{c}"})

    apigw = apigateway_backends[account][region]
    api = apigw.create_rest_api("bench-api", description="")
    authorizer = apigw.create_authorizer(api.id, "cognito", "COGNITO_USER_POOLS", provider_arns=[pool.arn],
                                         identity_source="method.request.header.Authorization")
    root = next(r for r in apigw.get_resources(api.id) if r.path_part == "/" or r.parent_id is None)
    parent = root.id
    for i in range(RESOURCES):
        # a mix of flat and nested resources, like a real API
        resource = apigw.create_resource(api.id, parent if i % 10 else root.id, f"r{i}")
        parent = resource.id if i % 10 else root.id
        for verb in VERBS:
            apigw.put_method(api.id, resource.id, verb, "COGNITO_USER_POOLS", False,
                             authorizer_id=authorizer.id, authorization_scopes=[f"api/s{i % 20}"])
    return api.id, pool.id


def naive_scan_calls(session, api_id: str) -> int:
    """GetResources (default page size) + GetMethod per method; returns the API Gateway calls made."""
    apigw = session.client("apigateway")
    before = session.counter.total
    for page in apigw.get_paginator("get_resources").paginate(restApiId=api_id):
        for resource in page["items"]:
            for verb in resource.get("resourceMethods") or {}:
                apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
    return session.counter.total - before


def main() -> None:
    from migrate.awsconfig import AwsSession, AwsTarget
    from migrate.embedded import EmbeddedAws
    from migrate.scan.aws import AwsScanner, ScanOptions

    with EmbeddedAws(port=0) as aws:
        aws.apply_environment()
        started = time.perf_counter()
        api_id, _ = seed(aws.region)
        seed_seconds = time.perf_counter() - started

        session = AwsSession(AwsTarget(region=aws.region))
        started = time.perf_counter()
        inventory = AwsScanner(session, ScanOptions(api_ids=[api_id])).scan()
        ours_seconds = time.perf_counter() - started
        ours_calls = inventory.total_calls
        pool = inventory.user_pools[0]
        memberships = sum(len(u.groups) for u in pool.users)
        methods = len(inventory.apis[0].methods)
        cognito_calls = sum(r.total_calls for r in inventory.provenance if r.part.startswith("cognito-idp"))

        naive_session = AwsSession(AwsTarget(region=aws.region))
        started = time.perf_counter()
        naive_apigw_calls = naive_scan_calls(naive_session, api_id)
        naive_seconds = time.perf_counter() - started + sum(
            r.seconds for r in inventory.provenance if r.part.startswith("cognito-idp"))
        naive_calls = naive_apigw_calls + cognito_calls

    budget = RESOURCES / 500 + GROUPS + memberships / 60 + len(pool.clients)
    figures = {
        "resources": RESOURCES + 1, "methods": methods, "groups": len(pool.groups), "memberships": memberships,
        "clients": len(pool.clients), "seed_seconds": round(seed_seconds, 1),
        "avp_migrate_scan": {"calls": ours_calls, "seconds": round(ours_seconds, 2),
                             "calls_by_operation": _by_operation(inventory)},
        "cost_formula_resources/500+groups+members/60+clients": round(budget),
        "one_call_per_method_scan": {"calls": naive_calls, "seconds": round(naive_seconds, 2)},
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"scan benchmark: {methods} methods on {RESOURCES + 1} resources, {len(pool.groups)} groups, "
          f"{memberships} memberships, {len(pool.clients)} clients")
    print(f"  avp-migrate scan:          {ours_calls:>6} AWS calls  {ours_seconds:7.2f} s")
    print(f"  cost formula:              {round(budget):>6} (resources/500 + groups + members/60 + clients)")
    print(f"  one-call-per-method scan:  {naive_calls:>6} AWS calls  {naive_seconds:7.2f} s")
    print(f"  (figures written to {RESULTS})")


def _by_operation(inventory) -> dict[str, int]:
    totals: dict[str, int] = {}
    for record in inventory.provenance:
        for operation, count in record.calls.items():
            totals[operation] = totals.get(operation, 0) + count
    return dict(sorted(totals.items()))


if __name__ == "__main__":
    main()
