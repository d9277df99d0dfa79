"""pretoken_lambda speed: warm time per event with 500 rules (goal: under 1 ms), and the cold import.

Measured: ``evaluate()`` on a typical subject (a few rules match) and on the worst case (all 500 match), the
whole warm handler call with the rules read from a file (cached, logging at WARNING, as in production), and
the cold import of the handler module in a fresh interpreter.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pretoken_lambda.rules import RuleSet, Subject, evaluate, parse_rules, to_document


def big_ruleset(count: int = 500) -> RuleSet:
    """A realistic large rule set: mostly per-group scope grants; some user, client, attribute rules."""
    rules = []
    for index in range(count):
        kind = index % 10
        if kind < 6:
            when: dict[str, Any] = {"groups": [f"group-{index}", f"group-{index + 1}"]}
        elif kind == 6:
            when = {"users": [f"user-{index}"]}
        elif kind == 7:
            when = {"client_ids": [f"client-{index}"], "trigger_sources": ["TokenGeneration_HostedAuth"]}
        elif kind == 8:
            when = {"attributes": {"custom:dept": f"dept-{index % 40}"}}
        else:
            when = {"all_groups": [f"group-{index}", "verified"]}
        rules.append({"id": f"rule-{index}", "when": when, "then": {
            "add_scopes": [f"api{index % 7}/scope-{index}"],
            "access_token": {"add_claims": {f"claim-{index % 13}": f"value-{index}"}}}})
    return parse_rules({"version": 1, "rules": rules})


def all_match_ruleset(count: int = 500) -> RuleSet:
    """The worst case for the index: no rule can be skipped, and every one contributes."""
    return parse_rules({"version": 1, "rules": [
        {"id": f"r{i}", **({"when": {"attributes_present": ["sub"]}} if i % 2 else {}),
         "then": {"add_scopes": [f"api/s{i}"], "access_token": {"add_claims": {f"c{i % 50}": i}}}}
        for i in range(count)]})


def typical_subject() -> Subject:
    return Subject(groups=frozenset({"group-12", "group-30", "group-31", "verified", "group-9"}),
                   username="user-16", sub="s", attributes={"custom:dept": "dept-8"}, client_id="client-7",
                   trigger_source="TokenGeneration_HostedAuth")


def per_call_seconds(function: Callable[[], Any], rounds: int = 2000) -> float:
    for _ in range(200):  # warm up
        function()
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            function()
        samples.append((time.perf_counter() - start) / rounds)
    return statistics.median(samples)


def main() -> None:
    from pretoken_lambda import handler as handler_module
    from pretoken_lambda.handler import ENV_RULES_SOURCE, build_handler

    ruleset, subject = big_ruleset(), typical_subject()
    typical = per_call_seconds(lambda: evaluate(ruleset, subject))
    worst_set = all_match_ruleset()
    worst_subject = Subject(groups=frozenset({"x"}), username="u", sub="s", attributes={"sub": "s"})
    worst = per_call_seconds(lambda: evaluate(worst_set, worst_subject), rounds=200)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rules.json"
        path.write_text(json.dumps(to_document(ruleset)))
        handler = build_handler({ENV_RULES_SOURCE: f"file:{path}"})
        event = json.loads((Path(__file__).parents[1] / "tests/fixtures/pretoken/event_v2_authentication.json")
                           .read_text())
        event.update(userName="user-16", triggerSource="TokenGeneration_HostedAuth")
        event["callerContext"]["clientId"] = "client-7"
        event["request"]["groupConfiguration"]["groupsToOverride"] = sorted(subject.groups)
        event["request"]["userAttributes"]["custom:dept"] = "dept-8"
        handler_module._get_logger().setLevel("WARNING")
        warm = per_call_seconds(lambda: handler(copy.deepcopy(event), None), rounds=1000)
        copy_cost = per_call_seconds(lambda: copy.deepcopy(event), rounds=1000)

    imports = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pretoken_lambda.handler"], check=True)
        imports.append(time.perf_counter() - started)
    bare = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    import_ms = (statistics.median(imports) - statistics.median(bare)) * 1e3

    print("pretoken_lambda benchmark (500 rules; goal: under 1 ms per warm event)")
    print(f"  evaluate(), typical subject ({len(evaluate(ruleset, subject).matched_rule_ids)} rules match): "
          f"{typical * 1e6:8.1f} µs")
    print(f"  evaluate(), all 500 rules match:                 {worst * 1e6:8.1f} µs")
    print(f"  warm handler call, file source, per event:       {(warm - copy_cost) * 1e6:8.1f} µs")
    print(f"  cold import of pretoken_lambda.handler:          {import_ms:8.1f} ms (over a bare interpreter)")


if __name__ == "__main__":
    main()
