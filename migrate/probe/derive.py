"""Rules in our format that reproduce a handler's answers: the derivation.

Each probed event is an *example*: the literals that describe it (which conditions of a rule can hold for it:
its groups, attributes, app client, trigger source, and, for a real user, who they are) and the items the
handler answered (:mod:`migrate.probe.answers`). For every item (one scope, one claim value, one group
override, ...) the derivation looks for the simplest disjunction of *terms* (conjunctions of literals, which
are exactly a rule's ``when``) that holds on every example with the item (positives) and on none without it
(negatives):

1. the empty term (everyone), then single literals (a group, a trigger source, an app client, an attribute
   value or presence), then pairs and triples (``all_groups``, a group through one client, ...), chosen
   greedily by cost per example covered; per-user terms (``users`` with the user's sub) come last;
2. an item is *additive over groups* when no example has it while an example with a superset of its groups
   (and everything else equal) lacks it. Items that are not (e.g. "highest role wins") get no group terms:
   the rules format has no negation, so any group term would also grant them to a combination the handler
   refuses them to; their real users get per-user rules instead, and the rest is reported, never guessed;
3. a claim (or group override) whose value changes with more groups is resolved by rule order, if the values
   can be ranked ("later rule wins" in :func:`pretoken_lambda.rules.evaluate`): each value's rules must avoid
   examples with a lower-ranked value and may match those with a higher-ranked one;
4. items with the same term become one rule; rules that differ only in their trigger source or app client are
   merged into one with both.

Examples where the handler failed are left out; items that differed between two identical calls are ignored
where they differed. What this cannot explain shows up in the verification (:mod:`migrate.probe.verify`).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from migrate.probe.answers import (
    ACCESS_CLAIM,
    ACCESS_SUPPRESS,
    ADD_SCOPE,
    ID_CLAIM,
    ID_SUPPRESS,
    OVERRIDE_GROUPS,
    SUPPRESS_SCOPE,
    Item,
)
from migrate.probe.events import USER_SOURCES, Probe
from pretoken_lambda.rules import RulesError, RuleSet, Subject, parse_rules, to_document

Literal = tuple[str, ...]
Term = frozenset[Literal]
ANY_USER: Literal = ("any_user",)
# What a literal costs in a term: the lower, the simpler the explanation. Per-user literals last. An attribute's
# presence costs more than one of its values, so it wins only when it explains more examples than the values do
# (a value is more specific: less likely to grant what the handler would not).
_COST = {"any_user": 0.5, "source": 1.0, "client": 1.0, "group": 1.0, "attr": 1.2, "present": 1.5, "user": 3.0}
_MAX_TRIPLE_LITERALS = 12  # above this many literals an example's triples are not tried (combinatorics)
# Item kinds that have one value per slot (a claim has one value; the groups have one override).
_VALUED = (ID_CLAIM, ACCESS_CLAIM, OVERRIDE_GROUPS)
# A suppression wins over an add (evaluate, and Cognito), so where the handler suppresses X an add of X is moot.
_SUPPRESSED_BY = {ADD_SCOPE: SUPPRESS_SCOPE, ID_CLAIM: ID_SUPPRESS, ACCESS_CLAIM: ACCESS_SUPPRESS}


@dataclass(frozen=True)
class Example:
    probe: Probe
    literals: frozenset[Literal]
    items: frozenset[Item]  # what both calls answered
    unstable: frozenset[Item] = frozenset()  # what differed between the two calls: no evidence either way

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(lit[1] for lit in self.literals if lit[0] == "group")

    @property
    def context(self) -> frozenset[Literal]:
        """Everything but the groups: examples with the same context differ only by their groups."""
        return frozenset(lit for lit in self.literals if lit[0] != "group")

    @property
    def situation(self) -> frozenset[Literal]:
        """Everything but who the user is: examples with the same situation differ only by identity."""
        return frozenset(lit for lit in self.literals if lit[0] != "user")


def literals_of(probe: Probe, subject: Subject) -> frozenset[Literal]:
    """The literals of an event's :class:`~pretoken_lambda.rules.Subject` (``subject_from_event``): what a rule's
    conditions can test, exactly as :func:`~pretoken_lambda.rules.evaluate` sees it."""
    literals: set[Literal] = set()
    if subject.trigger_source:
        literals.add(("source", subject.trigger_source))
    if subject.client_id:
        literals.add(("client", subject.client_id))
    if subject.is_machine:
        return frozenset(literals)  # user conditions never hold for client credentials
    literals.add(ANY_USER)
    literals.update(("group", g) for g in subject.groups)
    for name, value in subject.attributes.items():
        if name == "sub":
            continue  # identity: a rule names a user by ``users``, and the synthetic sub must never be named
        literals.add(("attr", name, value))
        if value:
            literals.add(("present", name))
    if probe.identity is not None and probe.identity.real and subject.sub:
        literals.add(("user", subject.sub))
    return frozenset(literals)


def term_cost(term: Iterable[Literal]) -> float:
    return sum(_COST[lit[0]] for lit in term)


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class _Masks:
    """Examples as bit positions: a term's examples are the AND of its literals' masks (cached)."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.all = (1 << len(examples)) - 1
        self.literal: dict[Literal, int] = defaultdict(int)
        for index, example in enumerate(examples):
            for literal in example.literals:
                self.literal[literal] |= 1 << index
        self._terms: dict[Term, int] = {}

    def of(self, term: Term) -> int:
        mask = self._terms.get(term)
        if mask is None:
            mask = self.all
            for literal in term:
                mask &= self.literal.get(literal, 0)
            self._terms[term] = mask
        return mask


def _learn(examples: Sequence[Example], masks: _Masks, positives: int, negatives: int,
           exclude: frozenset[str]) -> tuple[list[Term], int]:
    """Terms that together hold on every positive and no negative, simplest first; and the positives left."""
    chosen: list[Term] = []
    uncovered = positives

    def pick(candidates: Iterable[Term]) -> None:
        nonlocal uncovered
        valid = [(term_cost(t), sorted(t), t, m) for t in candidates if not (m := masks.of(t)) & negatives]
        while uncovered:
            best: tuple[Any, ...] | None = None
            for cost, words, term, mask in valid:
                cover = (mask & uncovered).bit_count()
                # Cheapest per example explained: one "custom:tenant present" beats a rule per tenant seen.
                if cover and (best is None or (cost / cover, cost, words) < best[0]):
                    best = ((cost / cover, cost, words), term, mask)
            if best is None:
                return
            chosen.append(best[1])
            uncovered &= ~best[2]

    pick([frozenset()])
    for size in (1, 2, 3):
        if not uncovered:
            break
        candidates: set[Term] = set()
        for index in _bits(uncovered):
            literals = sorted(lit for lit in examples[index].literals if lit[0] not in exclude and lit[0] != "user")
            if size < 3 or len(literals) <= _MAX_TRIPLE_LITERALS:
                candidates.update(frozenset(c) for c in itertools.combinations(literals, size))
        pick(candidates)
    if uncovered and "user" not in exclude:
        # Per user: a user's term covers only that user's examples, so there is nothing to choose greedily
        # (and thousands of users would make the greedy scan quadratic).
        for index in list(_bits(uncovered)):
            if not uncovered >> index & 1:
                continue
            literals = examples[index].literals
            users = [lit for lit in literals if lit[0] == "user"]
            others = sorted(lit for lit in literals if lit[0] in ("client", "source"))
            for term in [frozenset(users)] + [frozenset([*users, other]) for other in others] if users else []:
                mask = masks.of(term)
                if not mask & negatives:
                    chosen.append(term)
                    uncovered &= ~mask
                    break
    # Drop terms the others make redundant (greedy choices can be superseded by later, bigger ones).
    for term in list(reversed(chosen)):
        rest = 0
        for other in chosen:
            if other is not term:
                rest |= masks.of(other)
        if not (masks.of(term) & positives) & ~rest & positives:
            chosen.remove(term)
    return chosen, uncovered


# --- results --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """Two probed events that show a finding: ``has`` got the item, ``lacks`` did not."""

    has: str
    lacks: str


@dataclass
class ItemResult:
    """How one item is explained."""

    item: Item
    terms: list[Term] = field(default_factory=list)
    priority: int = 0  # rule order for valued items (claims, group override): a higher rank comes later
    uncovered: list[str] = field(default_factory=list)  # labels of examples with the item that no term covers
    not_additive: Evidence | None = None  # more groups took the item away
    identity: Evidence | None = None  # same groups and attributes, another user: the item differs
    not_expressible: str | None = None  # the rules format cannot hold the item


@dataclass
class SlotOrder:
    """Values of one claim (or the group override) ranked so that later rules win, lowest first."""

    slot: tuple[str, ...]
    values: list[Item]
    evidence: list[Evidence] = field(default_factory=list)
    cyclic: bool = False


@dataclass
class Derivation:
    ruleset: RuleSet
    document: dict[str, Any]
    items: list[ItemResult]
    orders: list[SlotOrder]


def _slot(item: Item) -> tuple[str, ...]:
    return item[:2] if item[0] in (ID_CLAIM, ACCESS_CLAIM) else item[:1] if item[0] == OVERRIDE_GROUPS else item


def _expressible(item: Item) -> str | None:
    """Why the rules format cannot hold ``item`` (a null claim value, a list in a scalar ID-token claim...)."""
    try:
        parse_rules({"version": 1, "rules": [{"id": "x", "then": _then([item])}]})
    except RulesError as exc:
        return "; ".join(p.split(": ", 2)[-1] for p in exc.problems)
    return None


class _Neighbours:
    """Which examples differ from a given one only by more groups, or only by who the user is (bit masks)."""

    def __init__(self, examples: Sequence[Example], masks: _Masks) -> None:
        self._examples = examples
        self._masks = masks
        self._context: dict[frozenset[Literal], int] = defaultdict(int)
        self._situation: dict[frozenset[Literal], int] = defaultdict(int)
        for index, example in enumerate(examples):
            self._context[example.context] |= 1 << index
            self._situation[example.situation] |= 1 << index

    def more_groups(self, index: int) -> int:
        """Examples with the same user and everything else, in every group of example ``index`` and more."""
        example = self._examples[index]
        return self._masks.of(example.literals) & self._context[example.context] & ~(1 << index)

    def other_users(self, index: int) -> int:
        """Examples with the same groups and everything else, another user (or the synthetic one)."""
        return self._situation[self._examples[index].situation] & ~(1 << index)


def _order_slot(slot: tuple[str, ...], values: list[Item], examples: Sequence[Example],
                neighbours: _Neighbours, item_mask: Mapping[Item, int]) -> SlotOrder:
    """Rank a slot's values: ``v`` ranks above ``u`` when adding groups to an example with ``u`` gives ``v``."""
    above: dict[Item, set[Item]] = {v: set() for v in values}
    evidence: list[Evidence] = []
    for low, high in itertools.permutations(values, 2):
        for index in _bits(item_mask[low]):
            found = neighbours.more_groups(index) & item_mask[high]
            if found:
                above[low].add(high)
                evidence.append(Evidence(has=examples[next(_bits(found))].probe.label,
                                         lacks=examples[index].probe.label))
                break
    ranked: list[Item] = []
    remaining = set(values)
    while remaining:
        # Kahn's algorithm, ties by value so the output is stable: a value goes when nothing it ranks above is left.
        ready = sorted(v for v in remaining if not any(v in above[u] for u in remaining))
        if not ready:
            return SlotOrder(slot, sorted(values), evidence, cyclic=True)
        ranked.append(ready[0])
        remaining.discard(ready[0])
    return SlotOrder(slot, ranked, evidence if len(values) > 1 else [])


def _evidence(examples: Sequence[Example], positives: int, negatives: int, neighbours: _Neighbours, *,
              identity: bool) -> Evidence | None:
    """Evidence that an item is not additive over groups: a positive and a negative example, same user and
    same everything else, the negative in more groups. With ``identity``: evidence that the item depends on who
    the user is: same groups and everything else, another user."""
    for index in _bits(positives):
        found = (neighbours.other_users(index) if identity else neighbours.more_groups(index)) & negatives
        if found:
            return Evidence(has=examples[index].probe.label, lacks=examples[next(_bits(found))].probe.label)
    return None


def derive(examples: Sequence[Example]) -> Derivation:
    """The rules that reproduce ``examples`` as far as the format allows (see the module docstring)."""
    masks = _Masks(examples)
    every_item = sorted({item for e in examples for item in e.items})
    by_slot: dict[tuple[str, ...], list[Item]] = defaultdict(list)
    for item in every_item:
        if item[0] in _VALUED:
            by_slot[_slot(item)].append(item)
    item_mask = {item: 0 for item in every_item}
    unstable_mask: dict[Item, int] = defaultdict(int)
    for index, example in enumerate(examples):
        for item in example.items:
            item_mask[item] |= 1 << index
        for item in example.unstable:
            unstable_mask[item] |= 1 << index
    neighbours = _Neighbours(examples, masks)
    orders = {slot: _order_slot(slot, values, examples, neighbours, item_mask) for slot, values in by_slot.items()}
    suppressed_mask: dict[tuple[str, str], int] = defaultdict(int)
    for item, mask in item_mask.items():
        if item[0] in (SUPPRESS_SCOPE, ID_SUPPRESS, ACCESS_SUPPRESS):
            suppressed_mask[(item[0], item[1])] |= mask

    results: list[ItemResult] = []
    for item in every_item:
        result = ItemResult(item)
        results.append(result)
        result.not_expressible = _expressible(item)
        if result.not_expressible:
            continue
        positives = item_mask[item]
        dont_care = unstable_mask[item]
        if item[0] in _SUPPRESSED_BY:
            dont_care |= suppressed_mask[(_SUPPRESSED_BY[item[0]], item[1])]
        order = orders.get(_slot(item))
        if order is not None and not order.cyclic:
            result.priority = order.values.index(item)
            for higher in order.values[result.priority + 1:]:
                dont_care |= item_mask[higher]
        negatives = masks.all & ~positives & ~dont_care
        result.not_additive = _evidence(examples, positives, negatives, neighbours, identity=False)
        result.identity = _evidence(examples, positives, negatives, neighbours, identity=True)
        exclude = frozenset({"group"}) if result.not_additive else frozenset()
        result.terms, uncovered = _learn(examples, masks, positives, negatives, exclude)
        result.uncovered = [examples[i].probe.label for i in _bits(uncovered)]
    ruleset, document = _build_rules(results, examples, masks)
    return Derivation(ruleset, document, results, [o for o in orders.values() if len(o.values) > 1])


# --- rules ----------------------------------------------------------------------------------------------------


def _then(items: Iterable[Item]) -> dict[str, Any]:
    then: dict[str, Any] = {}
    for item in sorted(items):
        kind = item[0]
        if kind in (ADD_SCOPE, SUPPRESS_SCOPE):
            then.setdefault("add_scopes" if kind == ADD_SCOPE else "suppress_scopes", []).append(item[1])
        elif kind in (ID_CLAIM, ACCESS_CLAIM):
            token = then.setdefault("id_token" if kind == ID_CLAIM else "access_token", {})
            token.setdefault("add_claims", {})[item[1]] = json.loads(item[2])
        elif kind in (ID_SUPPRESS, ACCESS_SUPPRESS):
            token = then.setdefault("id_token" if kind == ID_SUPPRESS else "access_token", {})
            token.setdefault("suppress_claims", []).append(item[1])
        elif kind == OVERRIDE_GROUPS:
            then["override_groups"] = json.loads(item[1])
    return then


def _when(term: Term, sources: Sequence[str], clients: Sequence[str]) -> dict[str, Any]:
    when: dict[str, Any] = {}
    groups = sorted(lit[1] for lit in term if lit[0] == "group")
    if len(groups) == 1:
        when["groups"] = groups
    elif groups:
        when["all_groups"] = groups
    users = sorted(lit[1] for lit in term if lit[0] == "user")
    if users:
        when["users"] = users
    attributes = {lit[1]: lit[2] for lit in sorted(term) if lit[0] == "attr"}
    if attributes:
        when["attributes"] = attributes
    present = sorted(lit[1] for lit in term if lit[0] == "present")
    if present:
        when["attributes_present"] = present
    if clients:
        when["client_ids"] = list(clients)
    if sources:
        when["trigger_sources"] = list(sources)
    elif ANY_USER in term and not (groups or users or attributes or present):
        # "any user": every trigger source but client credentials (user conditions already imply it).
        when["trigger_sources"] = list(USER_SOURCES)
    return when


_ID_CHARS = re.compile(r"[^A-Za-z0-9_.:-]+")


def _rule_id(term: Term, sources: Sequence[str], clients: Sequence[str], priority: int,
             names: Mapping[str, str], client_names: Mapping[str, str]) -> str:
    parts: list[str] = []
    groups = sorted(lit[1] for lit in term if lit[0] == "group")
    if groups:
        parts.append(("group-" if len(groups) == 1 else "all-groups-") + "-".join(groups))
    parts += [f"attribute-{lit[1]}-{lit[2]}" for lit in sorted(term) if lit[0] == "attr"]
    parts += [f"has-{lit[1]}" for lit in sorted(term) if lit[0] == "present"]
    parts += [f"user-{names.get(lit[1], lit[1])}" for lit in sorted(term) if lit[0] == "user"]
    if clients:
        parts.append("client-" + "-".join(client_names.get(c) or c for c in clients))
    if sources:
        parts.append("source-" + "-".join(s.removeprefix("TokenGeneration_") for s in sources))
    if not parts:
        parts.append("all-users" if ANY_USER in term else "everyone")
    if priority:
        parts.append(f"rank{priority}")
    return _ID_CHARS.sub("_", "_".join(parts))[:120]


def _build_rules(results: Sequence[ItemResult], examples: Sequence[Example],
                 masks: _Masks) -> tuple[RuleSet, dict[str, Any]]:
    # Items with the same term (and rank) share a rule.
    grouped: dict[tuple[Term, int], list[Item]] = defaultdict(list)
    for result in results:
        for term in result.terms:
            grouped[(term, result.priority)].append(result.item)
    # Rules that differ only in one trigger source (or one app client), with the same items, are merged.
    merged: dict[tuple[Term, int, tuple[Item, ...], str], list[str]] = defaultdict(list)
    plain: list[tuple[Term, int, tuple[Item, ...], tuple[str, ...], tuple[str, ...]]] = []
    for (term, priority), items in grouped.items():
        key_items = tuple(sorted(items))
        source = [lit for lit in term if lit[0] == "source"]
        client = [lit for lit in term if lit[0] == "client"]
        if source:
            merged[(term - {source[0]}, priority, key_items, "source")].append(source[0][1])
        elif client:
            merged[(term - {client[0]}, priority, key_items, "client")].append(client[0][1])
        else:
            plain.append((term, priority, key_items, (), ()))
    for (rest, priority, items, kind), values in merged.items():
        # A term has at most one client and one source; the one not merged stays a one-value list.
        other = "client" if kind == "source" else "source"
        kept = tuple(lit[1] for lit in rest if lit[0] == other)
        core = frozenset(lit for lit in rest if lit[0] != other)
        merged_values = tuple(sorted(values))
        plain.append((core, priority, items, merged_values if kind == "source" else kept,
                      merged_values if kind == "client" else kept))
    names = {lit[1]: e.probe.identity.username for e in examples for lit in e.literals
             if lit[0] == "user" and e.probe.identity is not None}
    client_names = {e.probe.client.client_id: e.probe.client.name for e in examples if e.probe.client.name}

    def order(entry: tuple[Term, int, tuple[Item, ...], tuple[str, ...], tuple[str, ...]]) -> tuple[Any, ...]:
        term, priority, _items, sources, clients = entry
        return (priority, any(lit[0] == "user" for lit in term), term_cost(term) + len(sources) + len(clients),
                sorted(term), sources, clients)

    rules: list[dict[str, Any]] = []
    used: set[str] = set()
    for term, priority, items, sources, clients in sorted(plain, key=order):
        rule_id = _rule_id(term, sources, clients, priority, names, client_names)
        unique, number = rule_id, 2
        while unique in used:
            unique, number = f"{rule_id}-{number}", number + 1
        used.add(unique)
        matched = masks.of(term)
        for kind, values in (("source", sources), ("client", clients)):
            if values:
                any_of = 0
                for value in values:
                    any_of |= masks.literal.get((kind, value), 0)
                matched &= any_of
        rule: dict[str, Any] = {"id": unique, "description": f"derived by avp-migrate probe; holds for "
                                f"{matched.bit_count()} of {len(examples)} probed events"}
        when = _when(term, sources, clients)
        if when:
            rule["when"] = when
        rule["then"] = _then(items)
        rules.append(rule)
    ruleset = parse_rules({"version": 1, "rules": rules}, where="derived rules")
    return ruleset, to_document(ruleset)  # the canonical key order


def describe_term(term: Term, names: Mapping[str, str] | None = None) -> str:
    """A term in words: ``group admins and client web``."""
    words = []
    for lit in sorted(term):
        kind = lit[0]
        if kind == "group":
            words.append(f"group {lit[1]}")
        elif kind == "attr":
            words.append(f"{lit[1]}={lit[2]}")
        elif kind == "present":
            words.append(f"{lit[1]} present")
        elif kind == "user":
            words.append(f"user {(names or {}).get(lit[1], lit[1])}")
        elif kind == "client":
            words.append(f"client {lit[1]}")
        elif kind == "source":
            words.append(f"source {lit[1].removeprefix('TokenGeneration_')}")
        elif kind == "any_user":
            words.append("any user")
    return " and ".join(words) or "everyone"


__all__ = ["Derivation", "Evidence", "Example", "ItemResult", "SlotOrder", "derive", "describe_term", "literals_of"]
