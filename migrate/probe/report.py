"""The probe's result: the derived rules, the confidence section, the verification; as JSON and as text."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from migrate.probe.confidence import Coverage, Finding
from migrate.probe.verify import Mismatch

_TEXT_MISMATCHES = 20
_KIND_WORDS = {
    "baseline": "no groups", "group": "groups alone", "pair": "pairs", "combination": "real combinations",
    "attribute": "attribute values alone", "user": "real users", "client": "per app client",
    "trigger_source": "per trigger source", "client_credentials": "client credentials",
}
_FINDING_WORDS = {
    "not_additive": "not additive over groups", "ranked": "ranked values", "attribute": "depends on attributes",
    "identity": "depends on the user", "client": "depends on the app client",
    "trigger_source": "depends on the trigger source", "unstable": "differs between identical calls",
    "error": "handler errors", "not_expressible": "not expressible",
    "outside": "depends on the outside world", "constant": "the same answer to every event",
}


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


@dataclass
class ProbeReport:
    handler: str
    coverage: Coverage
    rules: dict[str, Any]
    findings: list[Finding]
    answers: int
    mismatches: list[Mismatch]
    rules_file: str | None = None
    report_file: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> int:
        return self.answers - len(self.mismatches)

    @property
    def exit_code(self) -> int:
        """0 when the derived rules reproduce every answer, 2 when they do not, 3 (unproven) when they do but the
        handler's answers depend on calls outside the event (see migrate.errors.ExitCode)."""
        if self.mismatches:
            return 2
        return 3 if any(f.kind == "outside" for f in self.findings) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "handler": self.handler,
            "event_version": self.coverage.event_version,
            "rules_file": self.rules_file,
            "rules": self.rules,
            "coverage": {k: v for k, v in asdict(self.coverage).items() if k != "event_version"},
            "findings": [asdict(f) for f in self.findings],
            "verification": {
                "answers": self.answers,
                "reproduced": self.reproduced,
                "all_reproduced": not self.mismatches,
                "mismatches": [asdict(m) for m in self.mismatches],
            },
            "exit_code": self.exit_code,
        }

    def render_text(self) -> str:
        c = self.coverage
        kinds = ", ".join(f"{n} {_KIND_WORDS.get(k, k)}" for k, n in c.by_kind.items())
        lines = [f"probed {self.handler} with {c.event_version} events",
                 f"  {c.events} events, {c.calls} calls: {kinds}",
                 "  " + ", ".join(_count(n, what) for n, what in (
                     (len(c.groups), "group"), (len(c.clients), "app client"),
                     (len(c.trigger_sources), "trigger source"), (c.users, "real user")))]
        lines += [f"  note: {n}" for n in c.notes]
        rules = self.rules["rules"]
        lines.append(f"derived {len(rules)} rule{'s' if len(rules) != 1 else ''}:")
        for rule in rules:
            when = json.dumps(rule.get("when", {}), ensure_ascii=False)
            then = json.dumps(rule["then"], ensure_ascii=False)
            lines.append(f"  {rule['id']}: when {when} then {then}")
        lines.append("confidence:")
        if not self.findings:
            lines.append("  every answer is explained by groups, additively, and two identical calls always agreed")
        for finding in self.findings:
            lines.append(f"  {_FINDING_WORDS.get(finding.kind, finding.kind)}: {finding.message}")
            lines += [f"      {e}" for e in finding.evidence]
        if self.mismatches:
            lines.append(f"verification: the derived rules reproduce {self.reproduced} of {self.answers} answers; "
                         f"{len(self.mismatches)} not reproduced:")
            # One line per event when its calls differ from the rules in the same way.
            by_event: dict[tuple[str, str, tuple[str, ...]], list[int]] = {}
            for mismatch in self.mismatches:
                by_event.setdefault((mismatch.event, mismatch.cause, mismatch.differences), []).append(mismatch.call)
            for (event, cause, found), calls in list(by_event.items())[:_TEXT_MISMATCHES]:
                which = "call" + ("s " if len(calls) > 1 else " ") + " and ".join(map(str, calls))
                lines.append(f"  {event} ({which}, {cause.replace('_', ' ')}): " + "; ".join(found))
            if len(by_event) > _TEXT_MISMATCHES:
                lines.append(f"  ... and {len(by_event) - _TEXT_MISMATCHES} more events (--format json lists all)")
        else:
            lines.append(f"verification: the derived rules reproduce all {self.answers} answers")
        if self.rules_file:
            lines.append(f"wrote {self.rules_file} ({len(rules)} rules, rules format version 1)")
        else:
            lines.append("rules not written (give --out FILE)")
        if self.report_file:
            lines.append(f"wrote {self.report_file} (this report as JSON)")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)
