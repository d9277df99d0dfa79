"""ScopeReach (migrate.translate.scope_reach) answers as deriving every class's tokens does: on random pools with
every kind of rule, for every scope, the classes that hold it through each flow."""

from __future__ import annotations

import random

from migrate.regime import PoolRegime
from migrate.translate.scope_reach import ScopeReach
from tests.test_populations import SCOPES, SEED, _random_case


def _holding(regime: PoolRegime, cls, scope: str) -> tuple[bool, ...]:
    return tuple(scope in t.scopes for t in regime.tokens(cls))


def test_one_class_per_kind_answers_for_every_class_of_its_kind():
    rng = random.Random(SEED)
    kinds_seen = classes_seen = 0
    for case in range(12):
        regime = PoolRegime.from_pool(_random_case(rng).user_pools[0])
        reach = ScopeReach(regime)
        for scope in [*SCOPES, "aws.cognito.signin.user.admin", "api/nowhere"]:
            covered = []
            for kind in reach.kinds(scope):
                expected = _holding(regime, kind.representative, scope)
                for cls in kind.members:
                    assert _holding(regime, cls, scope) == expected, f"seed {SEED}, case {case}, {scope}, {cls.key}"
                covered += [c.key for c in kind.members]
                kinds_seen += 1
            # Every user class is in exactly one kind.
            assert sorted(covered) == sorted(c.key for c in regime.classes if not c.is_machine), f"seed {SEED}"
            classes_seen += len(covered)
            direct = any(scope in t.scopes for c in regime.classes if not c.is_machine for t in regime.tokens(c))
            assert reach.obtainable(scope) == direct, f"seed {SEED}, case {case}, {scope}"
    assert kinds_seen < classes_seen  # kinds were shared: the test checked the shortcut, not class by class
