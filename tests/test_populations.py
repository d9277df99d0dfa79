"""Populations (migrate.space.Population) are held to deciding every real group combination as a class.

verify decides real users whose combination of groups is not a checked class through the classes of their groups
(allowed exactly when one of those is, by the disjunctive argument of migrate.space). This holds that shortcut to
the plain check on random pools: random memberships, rules of every kind (additive any-of grants, all-of grants,
suppressions, group overrides, per-user grants), clients with every flow, and policy sets with random policies
dropped (so that there are differences to attribute). For each real user, per route: whether they can call it
today and after (the counts), and in which differences they are named, must be the same either way; so must the
verdict. Seed: ``POPULATIONS_SEED=N`` repeats a run.
"""

from __future__ import annotations

import os
import random

from migrate.equivalence import Checker, EquivalenceResult
from migrate.translate import translate
from migrate.translate.render import policy_set_text
from tests.inventory_builder import POOL_ID, hosted_client, inventory, machine_client, method, password_client

SEED = int(os.environ.get("POPULATIONS_SEED", random.randrange(2**31)))
SCOPES = [f"api/s{i}" for i in range(6)]


def _random_case(rng: random.Random):
    groups = [f"g{i}" for i in range(rng.randint(3, 6))]
    methods = [method(("GET", "POST", "PUT", "DELETE")[i % 4], f"/r{i // 2}", rng.sample(SCOPES, rng.choice((1, 2))))
               for i in range(8)]
    methods.append(method("GET", "/profile"))  # no scopes: ID tokens
    rules = []
    for group in groups:
        rules.append({"id": f"grant-{group}", "when": {"groups": [group]},
                      "then": {"add_scopes": rng.sample(SCOPES, rng.choice((1, 2)))}})
    kinds = rng.sample(["all", "suppress", "override", "user", "any-of"], rng.randint(0, 3))
    if "all" in kinds:
        rules.append({"id": "both", "when": {"all_groups": rng.sample(groups, 2)},
                      "then": {"add_scopes": rng.sample(SCOPES, 1)}})
    if "suppress" in kinds:
        rules.append({"id": "hush", "when": {"groups": [rng.choice(groups)]},
                      "then": {"suppress_scopes": rng.sample(SCOPES, 1)}})
    if "override" in kinds:
        rules.append({"id": "swap", "when": {"groups": [rng.choice(groups)]},
                      "then": {"override_groups": {"groups": rng.sample(groups, 1)}}})
    if "user" in kinds:
        rules.append({"id": "one", "when": {"users": ["u0"]}, "then": {"add_scopes": rng.sample(SCOPES, 1)}})
    if "any-of" in kinds:
        rules.append({"id": "pair", "when": {"groups": rng.sample(groups, 2)},
                      "then": {"add_scopes": rng.sample(SCOPES, 1)}})
    users = {f"u{i}": sorted(rng.sample(groups, rng.choice((0, 1, 2, 2, 3)))) for i in range(25)}
    clients = [password_client(), hosted_client(["openid", SCOPES[0], SCOPES[1]]), machine_client(SCOPES[2:4])]
    return inventory(methods, users=users, rules=rules, scopes=[s.split("/")[1] for s in SCOPES], clients=clients,
                     groups=groups)


def _check(translation, policies: str, *, populations: bool) -> EquivalenceResult:
    return Checker(translation.regime, translation.routes, namespace=translation.namespace,
                   schema=translation.schema, policies_text=policies,
                   store_layout=translation.store_layout, populations=populations, users_detail=True).run()


def _reached(result: EquivalenceResult) -> set[tuple[str, ...]]:
    """Every (route, verb, direction, mode, user) of the full lists `verify --users` writes."""
    return {(d.route, d.verb, d.direction, d.mode, user)
            for d, users in zip(result.differences, result.difference_users, strict=True) for user in users}


def _perturbed(translation, rng: random.Random) -> str:
    """The plan's policies with some dropped (losses) and a grant or two widened (gains)."""
    kept = policy_set_text([p for p in translation.policies if rng.random() > 0.25])
    ns = translation.namespace
    groups = [g.name for g in translation.pool.groups]
    for number in range(rng.randint(0, 2)):
        kept += (f'\n@id("extra-{number}")\npermit (principal in {ns}::UserGroup::"{POOL_ID}|{rng.choice(groups)}", '
                 f'action in {ns}::Action::"{rng.choice(SCOPES)}", resource);\n')
    return kept


def _named(result: EquivalenceResult, users: set[str]) -> set[tuple[str, ...]]:
    return {(d.route, d.verb, d.direction, d.mode, user) for d in result.differences for user in d.examples
            if user in users}


def test_populations_decide_as_their_own_classes_would():
    rng = random.Random(SEED)
    populated = 0
    for case in range(12):
        source = _random_case(rng)
        translation = translate(source)
        policies = _perturbed(translation, rng)
        derived = _check(translation, policies, populations=True)
        plain = _check(translation, policies, populations=False)
        where = f"seed {SEED}, case {case}"
        populated += derived.populations
        assert plain.populations == 0, where
        users = {u.username for u in source.user_pools[0].users}
        assert derived.verdict == plain.verdict, where
        assert derived.users_today == plain.users_today and derived.users_after == plain.users_after, where
        assert _named(derived, users) == _named(plain, users), where
        assert derived.route_users == plain.route_users, where  # every user by name, per route
        assert _reached(derived) == _reached(plain), where
        # Every difference the plain check finds on a class with real users is found on a checked class too.
        assert {(d.route, d.verb, d.direction) for d in plain.differences} == \
            {(d.route, d.verb, d.direction) for d in derived.differences}, where
    assert populated, f"seed {SEED}: no case had a population; the test checked nothing"
