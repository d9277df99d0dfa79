"""Which user classes of today's regime can hold a scope, without deriving every class's tokens.

Whether a scope is in a token depends on the user's groups only through the groups that the rules adding or
suppressing that scope name: a rule's conditions read the groups only as ``groups`` (any of) and ``all_groups``
(all of) (:meth:`pretoken_lambda.rules.Conditions.matches`), and a scope is in the token exactly when it was asked
for or a matching rule adds it, and no matching rule suppresses it (:func:`pretoken_lambda.rules.evaluate`). So
group classes whose groups agree on those named groups get the scope through exactly the same flows, and one of
them answers for all. A class a rule singles out (by user name, sub or attribute) answers for itself.

Why: with varied memberships a pool has about one class per user; deriving every class's tokens to find who holds
a scope only through the hosted UI took 44 s of a 100,000-user plan, for questions a few classes per scope answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from migrate.regime import PoolRegime, PrincipalClass

_GROUP_KINDS = frozenset({"group", "group-combination", "no-group"})  # synthetic identities no rule can name


@dataclass(frozen=True)
class Kind:
    """Classes that hold a scope through the same flows; ``representative`` is one of them. The members are listed
    only when asked (the kind of the classes the scope's rules do not name can be nearly the whole pool)."""

    representative: PrincipalClass
    _members: Callable[[], tuple[PrincipalClass, ...]]

    @property
    def members(self) -> tuple[PrincipalClass, ...]:
        return self._members()


class ScopeReach:
    def __init__(self, regime: PoolRegime) -> None:
        self.regime = regime
        self.user_classes = [c for c in regime.classes if not c.is_machine]
        self._by_group: dict[str, list[int]] = {}
        for number, cls in enumerate(self.user_classes):
            if cls.kind in _GROUP_KINDS:
                for group in cls.groups:
                    self._by_group.setdefault(group, []).append(number)
        self._touching: dict[str, set[str]] = {}  # scope -> groups named by the rules that add or suppress it
        for rule in regime.rules.rules if regime.rules is not None else ():
            named = set(rule.when.groups or ()) | set(rule.when.all_groups or ()) if rule.when is not None else set()
            for scope in (*(rule.then.add_scopes or ()), *(rule.then.suppress_scopes or ())):
                self._touching.setdefault(scope, set()).update(named)

    def kinds(self, scope: str) -> Iterator[Kind]:
        """The user classes, partitioned into kinds that hold ``scope`` through the same flows."""
        named = self._touching.get(scope, set())
        touched: dict[frozenset[str], list[int]] = {}
        seen: set[int] = set()
        for group in named:
            for number in self._by_group.get(group, ()):
                if number not in seen:
                    seen.add(number)
                    touched.setdefault(self.user_classes[number].groups & named, []).append(number)
        for numbers in touched.values():
            members = tuple(self.user_classes[n] for n in numbers)
            yield Kind(members[0], lambda members=members: members)
        first = next((cls for n, cls in enumerate(self.user_classes) if cls.kind in _GROUP_KINDS and n not in seen),
                     None)
        if first is not None:
            yield Kind(first, lambda: tuple(cls for n, cls in enumerate(self.user_classes)
                                            if cls.kind in _GROUP_KINDS and n not in seen))
        for cls in self.user_classes:
            if cls.kind not in _GROUP_KINDS:
                yield Kind(cls, lambda cls=cls: (cls,))

    def obtainable(self, scope: str) -> bool:
        """Whether some user class holds ``scope`` in a token of some flow."""
        return any(scope in t.scopes for kind in self.kinds(scope) for t in self.regime.tokens(kind.representative))
