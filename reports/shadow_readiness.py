"""Is an endpoint ready to move from shadow to avp? One pure function, shared by `report shadow` and `cutover`.

:func:`readiness` reads one route entry of ``shadow-report.json`` (or any mapping with the same keys) and the
thresholds, and says ready or not, with every reason when not. It imports nothing beyond the standard library, so
`cutover` can re-evaluate a report it reads (with the report's thresholds or stricter ones) without pulling in the
reader or pandas.

The evidence a route entry carries (see :mod:`reports.shadow_model`):

* ``decisions``: requests with a valid token for which AVP was asked (in shadow or avp mode): agreements +
  disagreements + AVP errors. Requests refused for their token (401s) say nothing about AVP and are not here.
* ``agreements``; ``disagreements``: ``{"scope_allow_avp_deny": n, "scope_deny_avp_allow": n}``.
* ``avp_errors``: AVP calls that failed (timeouts, throttling...): no answer to compare.
* ``not_asked``, ``refused`` (optional): decisions in scope mode, where AVP was not asked, and requests refused
  before a decision by reason (hints when ``decisions`` is 0).

The checks, all configurable (:class:`Thresholds`):

1. ``min_decisions``: at least this many decisions, so that "no disagreement" means something.
2. ``disagreements``: at most ``allow_disagreements`` disagreements (default 0). A disagreement the team has
   looked at and accepts (a user who should lose access, say) is "explained" by raising this allowance.
3. ``avp_error_rate``: AVP errors / decisions at most ``max_avp_error_rate``: in avp mode an error is a denial.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

SCOPE_ALLOW_AVP_DENY = "scope_allow_avp_deny"
SCOPE_DENY_AVP_ALLOW = "scope_deny_avp_allow"
DIRECTIONS = (SCOPE_ALLOW_AVP_DENY, SCOPE_DENY_AVP_ALLOW)
DIRECTION_TEXT = {SCOPE_ALLOW_AVP_DENY: "scope allows, AVP denies", SCOPE_DENY_AVP_ALLOW: "scope denies, AVP allows"}


@dataclass(frozen=True)
class Thresholds:
    min_decisions: int = 100
    max_avp_error_rate: float = 0.01
    allow_disagreements: int = 0

    def __post_init__(self) -> None:
        if self.min_decisions < 0:
            raise ValueError("min_decisions: must be 0 or more")
        if not 0.0 <= self.max_avp_error_rate <= 1.0:
            raise ValueError("max_avp_error_rate: must be between 0 and 1")
        if self.allow_disagreements < 0:
            raise ValueError("allow_disagreements: must be 0 or more")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        """The ``thresholds`` object of a shadow-report.json (missing keys take the defaults)."""
        defaults = cls()
        return cls(min_decisions=int(data.get("min_decisions", defaults.min_decisions)),
                   max_avp_error_rate=float(data.get("max_avp_error_rate", defaults.max_avp_error_rate)),
                   allow_disagreements=int(data.get("allow_disagreements", defaults.allow_disagreements)))


@dataclass(frozen=True)
class Check:
    name: str  # "min_decisions", "disagreements", "avp_error_rate"
    passed: bool
    value: float
    limit: float


@dataclass(frozen=True)
class Readiness:
    route: str
    ready: bool
    reasons: tuple[str, ...]  # why not, one sentence each; empty when ready
    checks: tuple[Check, ...]

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "reasons": list(self.reasons), "checks": [asdict(c) for c in self.checks]}


def readiness(route: Mapping[str, Any], thresholds: Thresholds) -> Readiness:
    """Ready or not, and why, for one route entry of shadow-report.json (keys: see the module docstring)."""
    name = str(route.get("route"))
    decisions = int(route.get("decisions") or 0)
    split = route.get("disagreements") or {}
    by_direction = {d: int(split.get(d) or 0) for d in DIRECTIONS}
    disagreements = sum(by_direction.values())
    errors = int(route.get("avp_errors") or 0)
    error_rate = errors / decisions if decisions else 0.0

    checks = (
        Check("min_decisions", decisions >= thresholds.min_decisions, decisions, thresholds.min_decisions),
        Check("disagreements", disagreements <= thresholds.allow_disagreements, disagreements,
              thresholds.allow_disagreements),
        Check("avp_error_rate", error_rate <= thresholds.max_avp_error_rate, round(error_rate, 6),
              thresholds.max_avp_error_rate),
    )
    reasons = []
    if not checks[0].passed:
        reasons.append(_too_few(decisions, route, thresholds.min_decisions))
    if not checks[1].passed:
        split_text = ", ".join(f"{n} {DIRECTION_TEXT[d]}" for d, n in by_direction.items() if n)
        reasons.append(f"{disagreements} disagreement{_s(disagreements)} ({split_text}); "
                       f"{thresholds.allow_disagreements} allowed")
    if not checks[2].passed:
        reasons.append(f"AVP error rate {_percent(error_rate)} ({errors} of {decisions} decisions); maximum "
                       f"{_percent(thresholds.max_avp_error_rate)}")
    return Readiness(name, not reasons, tuple(reasons), checks)


def readiness_of_report(report: Mapping[str, Any], thresholds: Thresholds | None = None) -> dict[str, Readiness]:
    """Every route of a shadow-report.json, judged with ``thresholds`` (default: the ones the report used)."""
    used = thresholds or Thresholds.from_json(report.get("thresholds") or {})
    return {str(entry["route"]): readiness(entry, used) for entry in report.get("routes", [])}


def _too_few(decisions: int, route: Mapping[str, Any], minimum: int) -> str:
    if decisions == 0:
        not_asked = int(route.get("not_asked") or 0)
        refused = route.get("refused") or {}
        if not_asked:
            hint = f": {not_asked} decision{_s(not_asked)} in scope mode, where AVP is not asked"
        elif refused:
            hint = ": every request was refused before a decision (" + ", ".join(
                f"{reason}: {n}" for reason, n in sorted(refused.items())) + ")"
        else:
            hint = ": is the route in shadow mode?"
        return f"no decision compared with AVP{hint}"
    return f"only {decisions} decision{_s(decisions)} compared with AVP (minimum {minimum})"


def _percent(rate: float) -> str:
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _s(n: int) -> str:
    return "" if n == 1 else "s"
