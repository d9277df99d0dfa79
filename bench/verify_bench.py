"""verify speed: a generated inventory of 500 endpoints, 200 group combinations and 3 clients.

Reports Cedar decisions per second (one process, one core) and the wall time of the whole check, with the
policy set indexed by action and principal type, next to the same check without the index (every request
evaluated against the whole policy set). In both runs identical requests are decided once and the context is
cut to what the policies test (see migrate.context_projection): the decision count is only what Cedar actually
evaluated, and the requests column is every (token, route action) pair the verdict covers. Goal: 20,000/s.
"""

from __future__ import annotations

import random
import time

from bench.generated import assemble, scoped_method
from migrate.inventory import Inventory, User

ENDPOINTS = 500
SCOPES = 60
GROUPS = 40
COMBINATIONS = 200
POOL_ID = "us-east-1_BenchPool"


def generated_inventory(seed: int = 7) -> Inventory:
    rng = random.Random(seed)
    scopes = [f"api/scope{i:02d}" for i in range(SCOPES)]
    verbs = ["GET", "POST", "PUT", "DELETE"]
    methods = []
    for i in range(ENDPOINTS):
        path = f"/area{i % 25}/items{i // 25}" + ("/{id}" if i % 3 else "")
        methods.append(scoped_method(path, verbs[i % 4], rng.sample(scopes, rng.choice((1, 1, 2)))))
    groups = [f"team-{i:02d}" for i in range(GROUPS)]
    combinations: set[tuple[str, ...]] = set()
    while len(combinations) < COMBINATIONS:
        combinations.add(tuple(sorted(rng.sample(groups, rng.choice((1, 2, 2, 3))))))
    users = [User(username=f"user{i:03d}", sub=f"sub-{i:03d}", groups=list(combo))
             for i, combo in enumerate(sorted(combinations))]
    rules = [{"id": f"grant-{g}", "when": {"groups": [g]}, "then": {"add_scopes": rng.sample(scopes, 3)}}
             for g in groups]
    rules.append({"id": "everyone", "then": {"add_scopes": [scopes[0]]}})
    return assemble(pool_id=POOL_ID, api_name="BenchApi", methods=methods, scopes=scopes, groups=groups,
                    users=users, rules=rules, hosted_scopes=[scopes[1], scopes[2]], machine_scopes=scopes[10:15])


def main() -> None:
    from migrate.plan import check
    from migrate.translate import translate

    inventory = generated_inventory()
    started = time.perf_counter()
    translation = translate(inventory)
    translate_seconds = time.perf_counter() - started
    from migrate.equivalence import Checker
    from migrate.translate.render import policy_set_text

    def every_combination() -> object:
        # Every real group combination decided as a class of its own (no populations): the space this bench
        # measured before populations, for comparison.
        return Checker(translation.regime, translation.routes, namespace=translation.namespace,
                       schema=translation.schema, policies_text=policy_set_text(translation.policies),
                       store_layout=translation.store_layout, populations=False).run()

    runs = {}
    for label, run in (("indexed", lambda: check(translation)),
                       ("without the index", lambda: check(translation, indexed=False)),
                       ("every combination", every_combination)):
        started = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - started
        runs[label] = (result, elapsed)
    classes = len(runs["indexed"][0].classes)
    actions = sum(len(r.actions) for r in translation.migrated_routes)
    print(f"verify benchmark: {ENDPOINTS} endpoints ({actions} actions), {classes} principal classes "
          f"({COMBINATIONS} group combinations), 3 clients, {len(translation.policies)} policies")
    print(f"  translate (schema, policies, strict validation): {translate_seconds:6.2f} s")
    for label, (result, elapsed) in runs.items():
        print(f"  check, {label:<18}: {result.decisions:>8,} Cedar decisions ({result.requests:,} requests) in "
              f"{elapsed:6.2f} s = {result.decisions / elapsed:>9,.0f} decisions/s "
              f"({result.requests / elapsed:,.0f} requests/s); equivalent: {result.equivalent}")


if __name__ == "__main__":
    main()
