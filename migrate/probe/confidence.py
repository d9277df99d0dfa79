"""The confidence section: what the derived rules rest on, and where they may be wrong.

Findings, one line each with the probed events that show them:

``not_additive``     more groups took an item away ("highest role wins", "contractors never get write"): no group
                     rule can express it; real users get per-user rules, other combinations are not reproduced.
``ranked``           a claim (or the group override) whose value changes with more groups, reproduced by rule
                     order: later rules win.
``attribute``        an item given by a user attribute's value (or presence).
``identity``         an item that depends on who the user is (same groups and attributes, another user), e.g. a
                     per-user table: given per user, so a user not in the snapshot is not covered.
``client``, ``trigger_source``  an item that depends on the app client or the trigger source.
``unstable``         answers that differ between two identical calls: state outside the event.
``error``            events for which the handler failed: Cognito refuses those sign-ins.
``not_expressible``  an item the rules format cannot hold (e.g. a null claim value).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from migrate.probe.answers import describe_item, describe_items
from migrate.probe.derive import Derivation, describe_term
from migrate.probe.events import USER_SOURCES, Probe, ProbeTarget
from migrate.probe.verify import CALLS_PER_EVENT, Observation

_EVIDENCE_SHOWN = 5


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    evidence: tuple[str, ...] = ()


@dataclass
class Coverage:
    """What was probed: events by kind, and the groups, clients, trigger sources and users they span."""

    event_version: str
    events: int
    calls: int
    by_kind: dict[str, int]
    groups: list[str]
    clients: list[str]
    trigger_sources: list[str]
    users: int
    users_complete: bool | None
    notes: list[str] = field(default_factory=list)


def coverage(target: ProbeTarget, probes: Sequence[Probe]) -> Coverage:
    by_kind: dict[str, int] = defaultdict(int)
    for probe in probes:
        by_kind[probe.kind] += 1
    notes = []
    if not target.groups:
        notes.append("no groups known (give --inventory or --groups): group-dependent answers cannot show")
    if not target.users:
        notes.append("no real users (give --inventory): attribute- and user-dependent answers cannot show")
    elif target.users_complete is False:
        notes.append("the snapshot lists only group members (scan --all-users lists everyone): users in no group "
                     "were not probed as themselves")
    if not target.clients:
        notes.append("no app client known (give --inventory or --client-id): a synthetic client id was used")
    elif len({p.client.client_id for p in probes if not p.is_machine}) == 1:
        notes.append("users were probed through one app client only: answers that depend on the client cannot show")
    if target.users:
        notes.append("attributes are those the snapshot holds (scan --user-attribute NAME keeps more)")
    sources = sorted({p.trigger_source for p in probes}, key=lambda s: (s not in USER_SOURCES, s))
    return Coverage(
        event_version=target.version, events=len(probes), calls=len(probes) * CALLS_PER_EVENT,
        by_kind=dict(by_kind), groups=list(target.groups),
        clients=sorted({p.client.label for p in probes}), trigger_sources=sources, users=len(target.users),
        users_complete=target.users_complete, notes=notes)


def _shown(labels: Sequence[str]) -> tuple[str, ...]:
    return tuple(labels[:_EVIDENCE_SHOWN])


def findings(derivation: Derivation, observations: Sequence[Observation]) -> list[Finding]:
    out: list[Finding] = []
    names = {o.probe.identity.sub: o.probe.identity.username for o in observations
             if o.probe.identity is not None and o.probe.identity.real}
    for result in derivation.items:
        item = describe_item(result.item)
        if result.not_expressible:
            out.append(Finding("not_expressible", f"{item}: the rules format cannot hold it "
                                                  f"({result.not_expressible})"))
            continue
        per_user = sum(1 for t in result.terms if any(lit[0] == "user" for lit in t))
        uncovered = tuple(f"not reproduced: {label}" for label in _shown(result.uncovered))
        if result.not_additive:
            message = (f"{item}: '{result.not_additive.has}' has it, '{result.not_additive.lacks}' does not (more "
                       "groups take it away, e.g. \"highest role wins\"); no group rule can express that")
            if per_user:
                message += f"; given per user for {per_user} real user{'s' if per_user != 1 else ''}"
            if result.uncovered:
                message += f"; not reproduced for {len(result.uncovered)} probed events"
            out.append(Finding("not_additive", message, (f"has it: {result.not_additive.has}",
                                                         f"lacks it: {result.not_additive.lacks}", *uncovered)))
        elif result.uncovered:
            out.append(Finding("not_additive", f"{item}: no rule explains it for {len(result.uncovered)} probed "
                                               "events", uncovered))
        if result.identity:
            out.append(Finding("identity", f"{item}: '{result.identity.has}' has it, '{result.identity.lacks}' (same "
                                           "groups and attributes, another user) does not; given per user, so users "
                                           "outside the snapshot are not covered",
                               (f"has it: {result.identity.has}", f"lacks it: {result.identity.lacks}")))
        for kind, literal_kinds in (("attribute", ("attr", "present")), ("client", ("client",)),
                                    ("trigger_source", ("source",))):
            terms = [t for t in result.terms if any(lit[0] in literal_kinds for lit in t)]
            if terms:
                out.append(Finding(kind, f"{item}: given when " + " or ".join(describe_term(t, names) for t in terms)))
    for order in derivation.orders:
        values = " < ".join(describe_item(v) for v in order.values)
        evidence = tuple(f"'{e.has}' gets a higher value than '{e.lacks}' (fewer groups)" for e in order.evidence[:3])
        if order.cyclic:
            out.append(Finding("not_additive", f"values that cannot be ranked (each beats another): {values}",
                               evidence))
        else:
            out.append(Finding("ranked", f"{values}: the highest-ranked value wins (rules ordered so that later ones "
                                         "win)", evidence))
    unstable = [o for o in observations if o.unstable and not o.failed]
    if unstable:
        varying = sorted({describe_item(i).split("=")[0] for o in unstable for i in o.unstable_items})
        out.append(Finding("unstable", f"{len(unstable)} of {len(observations)} events answered differently to "
                                       "identical calls (state outside the event: a counter, a cache, the time, a "
                                       f"table); varying: {', '.join(varying)}",
                           tuple(f"{o.probe.label}: " + " / ".join(describe_items(a.items) for a in o.answers)
                                 for o in unstable[:_EVIDENCE_SHOWN])))
    out += _outside_world(observations)
    errors: dict[str, list[str]] = defaultdict(list)
    for observation in observations:
        for answer in observation.answers:
            if not answer.ok:
                errors[answer.error or ""].append(observation.probe.label)
    for message, labels in errors.items():
        events = list(dict.fromkeys(labels))
        out.append(Finding("error", f"the handler failed for {len(events)} event{'s' if len(events) != 1 else ''} "
                                    f"({len(labels)} calls), so Cognito refuses those sign-ins: {message}",
                           _shown(events)))
    return out


def _outside_world(observations: Sequence[Observation]) -> list[Finding]:
    """Answers that depend on something the events do not carry, or that no event changed."""
    out: list[Finding] = []
    touched = [o for o in observations if o.outside]
    if touched:
        counts: dict[str, int] = defaultdict(int)
        for observation in touched:
            for call in dict.fromkeys(observation.outside):
                counts[call] += 1
        calls = ", ".join(f"{call} ({n} event{'s' if n != 1 else ''})"
                          for call, n in sorted(counts.items(), key=lambda c: (-c[1], c[0])))
        out.append(Finding("outside", f"the handler reached outside the event in {len(touched)} of "
                                      f"{len(observations)} events: {calls}; its answers depend on state this probe "
                                      "cannot vary (a table, a service, a file), so the derived rules hold only for "
                                      "that state as it was now, not for your users",
                           _shown([f"{o.probe.label}: {', '.join(dict.fromkeys(o.outside))}" for o in touched])))
    answered = [o for o in observations if not o.failed]
    distinct = {frozenset.intersection(*(a.items for a in o.answers)) for o in answered}
    if len(answered) > 1 and len(distinct) == 1:
        (items,) = distinct
        out.append(Finding("constant", f"the handler gave the same answer to all {len(answered)} events "
                                       f"({describe_items(items) or 'no change'}): nothing in the events changed it, "
                                       "so this is a rule for everyone or a fallback (a lookup that failed for every "
                                       "probed user, say), not an explanation by groups"))
    return out
