"""`avp-migrate probe`: rules in our format derived from a pre-token handler we did not write.

The pure core: which events to send (:mod:`~migrate.probe.events`), how to read the answers
(:mod:`~migrate.probe.answers`), how rules are derived from them (:mod:`~migrate.probe.derive`), checked
against every answer (:mod:`~migrate.probe.verify`) and qualified (:mod:`~migrate.probe.confidence`). How the
handler is called is an :class:`~migrate.probe.invoke.Invoker`: a Python file in this process, or a deployed
Lambda function.
"""

from __future__ import annotations

from collections.abc import Callable

from migrate.probe.confidence import coverage, findings
from migrate.probe.derive import derive
from migrate.probe.events import ProbeTarget, plan_probes
from migrate.probe.invoke import Invoker
from migrate.probe.report import ProbeReport
from migrate.probe.verify import examples_from, observe, verify


def run_probe(invoker: Invoker, target: ProbeTarget, *, on_call: Callable[[], None] | None = None) -> ProbeReport:
    """Probe the handler behind ``invoker``, derive rules, verify them on every answer."""
    probes = plan_probes(target)
    observations = observe(invoker, target, probes, on_call)
    derivation = derive(examples_from(observations))
    answers, mismatches = verify(derivation.ruleset, observations)
    covered = coverage(target, probes)
    if not getattr(invoker, "sees_outside", False):
        covered.notes.append("the function runs in Lambda: what it calls outside the event (a table, a service) "
                             "cannot be seen from here; probe its file (--handler FILE.py:FUNCTION) to see it")
    return ProbeReport(handler=invoker.description, coverage=covered, rules=derivation.document,
                       findings=findings(derivation, observations), answers=answers, mismatches=mismatches)


__all__ = ["ProbeReport", "ProbeTarget", "plan_probes", "run_probe"]
