"""Large APIs (issue 14): a generated API at API Gateway's default resource quota (300 resources, 1,200 methods
with paths of 100+ characters, 100 scopes, 500 groups with one rule each), planned and verified.

``python -m bench large_api`` prints, per size, the store layout plan chooses, the AVP quotas as used, and the
time of translate (quotas and strict validation included) and verify. tests/test_large_api.py uses the same
generator at sizes a test can afford."""

from __future__ import annotations

import random
import time

from tests.inventory_builder import inventory, method, rule
from tests.large_api import long_path

VERBS = ("GET", "POST", "PUT", "DELETE")  # the order a resource's methods are generated in


def large_inventory(methods: int = 1_200, *, scopes: int = 100, groups: int = 500, seed: int = 14):
    rng = random.Random(seed)
    scope_names = [f"api/scope-{i:03d}" for i in range(scopes)]
    group_names = [f"team-{i:03d}" for i in range(groups)]
    planned = []
    for i in range(methods):
        resource = i // len(VERBS)
        planned.append(method(VERBS[i % len(VERBS)], long_path(resource),
                              rng.sample(scope_names, rng.choice((1, 1, 2)))))
    rules = [rule(f"grant-{g}", rng.sample(scope_names, 3), groups=[g]) for g in group_names]
    users = {f"user{i:04d}": [group_names[i % groups], group_names[(i * 7 + 3) % groups]] for i in range(groups)}
    return inventory(planned, users=users, rules=rules, groups=group_names,
                     scopes=[s.split("/")[1] for s in scope_names])


def main() -> None:
    from migrate.plan import check
    from migrate.translate import translate

    for methods, groups in ((160, 500), (1_200, 40), (1_200, 500)):
        inv = large_inventory(methods, groups=groups)
        started = time.perf_counter()
        translation = translate(inv)
        translated = time.perf_counter() - started
        started = time.perf_counter()
        result = check(translation)
        verified = time.perf_counter() - started
        quotas = ", ".join(f"{q.name.split(' (')[0]} {q.used:,}/{q.limit:,}" for q in translation.quotas)
        print(f"{methods:>5} methods, {groups} groups: {translation.store_layout} layout, "
              f"{len(translation.policies)} policies; translate {translated:.1f} s, verify {verified:.1f} s "
              f"({result.decisions:,} Cedar decisions for {result.requests:,} requests, {len(result.classes)} "
              f"principal classes): {result.verdict}")
        print(f"       quotas: {quotas}")


if __name__ == "__main__":
    main()
