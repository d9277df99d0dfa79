"""Calling the handler, and checking the derived rules against every answer it gave.

Each event is sent twice: two identical calls that answer differently show state outside the event (a
counter, a cache, the time, a table that changed), which no rule can reproduce.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from migrate.probe.answers import Answer, Item, differences, parse_answer, rules_answer
from migrate.probe.derive import Example, literals_of
from migrate.probe.events import Probe, ProbeTarget
from migrate.probe.invoke import HandlerFailed, Invoker
from pretoken_lambda.handler import subject_from_event
from pretoken_lambda.rules import RuleSet

CALLS_PER_EVENT = 2


@dataclass(frozen=True)
class Observation:
    """One probed event and the handler's answers to its identical calls."""

    probe: Probe
    event: dict[str, Any]
    answers: tuple[Answer, ...]
    outside: tuple[str, ...] = ()  # what the handler called outside the event, over the calls (migrate.probe.outside)

    @property
    def failed(self) -> bool:
        return any(not a.ok for a in self.answers)

    @property
    def unstable_items(self) -> frozenset[Item]:
        """Items that some calls gave and others did not (nothing when a call failed: see ``unstable``)."""
        if self.failed:
            return frozenset()
        union = frozenset().union(*(a.items for a in self.answers))
        common = frozenset.intersection(*(a.items for a in self.answers))
        return union - common

    @property
    def unstable(self) -> bool:
        return len(set(self.answers)) > 1


def _call(invoker: Invoker, event: dict[str, Any]) -> Answer:
    try:
        returned = invoker.invoke(copy.deepcopy(event))  # a handler may change the event it gets
    except HandlerFailed as exc:
        return Answer(error=str(exc))
    return parse_answer(event, returned)


def observe(invoker: Invoker, target: ProbeTarget, probes: Sequence[Probe],
            on_call: Callable[[], None] | None = None) -> list[Observation]:
    """Send every probe's event ``CALLS_PER_EVENT`` times, one right after the other."""
    observations = []
    for probe in probes:
        event = probe.event(target)
        answers, outside = [], []
        for _ in range(CALLS_PER_EVENT):
            answers.append(_call(invoker, event))
            outside += getattr(invoker, "last_outside", ())
            if on_call is not None:
                on_call()
        observations.append(Observation(probe, event, tuple(answers), tuple(outside)))
    return observations


def examples_from(observations: Sequence[Observation]) -> list[Example]:
    """The derivation's examples: events where no call failed, with the items every call gave."""
    examples = []
    for observation in observations:
        if observation.failed:
            continue
        common = frozenset.intersection(*(a.items for a in observation.answers))
        literals = literals_of(observation.probe, subject_from_event(observation.event))
        examples.append(Example(observation.probe, literals, common, observation.unstable_items))
    return examples


@dataclass(frozen=True)
class Mismatch:
    """An answer the derived rules do not reproduce."""

    event: str
    call: int  # 1 or 2
    cause: str  # "error": the handler failed; "unstable": only items that differ between calls; "not_reproduced"
    differences: tuple[str, ...]


def verify(ruleset: RuleSet, observations: Sequence[Observation]) -> tuple[int, list[Mismatch]]:
    """Evaluate ``ruleset`` on every probed event (:func:`~migrate.probe.answers.rules_answer`) and compare
    with every answer. Returns (answers compared, mismatches)."""
    mismatches: list[Mismatch] = []
    compared = 0
    for observation in observations:
        ours = rules_answer(ruleset, observation.event)
        unstable = observation.unstable_items
        for call, answer in enumerate(observation.answers, start=1):
            compared += 1
            if not answer.ok:
                mismatches.append(Mismatch(observation.probe.label, call, "error", tuple(differences(answer, ours))))
                continue
            if answer.items == ours.items:
                continue
            cause = "unstable" if (answer.items ^ ours.items) <= unstable else "not_reproduced"
            mismatches.append(Mismatch(observation.probe.label, call, cause, tuple(differences(answer, ours))))
    return compared, mismatches
