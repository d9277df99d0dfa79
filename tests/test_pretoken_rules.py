"""The rules model: parsing and validation, round trip, evaluation semantics, warnings, speed. No AWS."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from pretoken_lambda.rules import (
    CLIENT_CREDENTIALS,
    PROTECTED_CLAIM_PREFIXES,
    PROTECTED_CLAIMS,
    TRIGGER_SOURCES,
    Actions,
    Conditions,
    GroupOverride,
    Outcome,
    Rule,
    RulesError,
    RuleSet,
    Subject,
    TokenClaims,
    check_rules,
    evaluate,
    parse_rules,
    to_document,
)

FIXTURES = Path(__file__).parent / "fixtures" / "pretoken"
SUB = "a36036a8-9061-424d-a737-56d57dae7bbc"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def doc(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "rules": list(rules)}


def rule(rule_id: str = "r", **parts: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule_id}
    out.update(parts)
    out.setdefault("then", {"add_scopes": ["api/read"]})
    return out


def problems_of(document: Any) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(document)
    return caught.value.problems


# --- round trip ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rules_example.json", "rules_handler.json"])
def test_documents_round_trip_exactly(name: str) -> None:
    document = load_fixture(name)
    ruleset = parse_rules(copy.deepcopy(document))
    assert to_document(ruleset) == document
    assert parse_rules(to_document(ruleset)) == ruleset
    assert json.loads(json.dumps(to_document(ruleset))) == document  # plain JSON types only


def test_round_trip_keeps_absent_and_empty_apart() -> None:
    document = doc(
        {"id": "a", "then": {"add_scopes": ["x/y"], "suppress_scopes": []}},
        {"id": "b", "when": {}, "then": {"id_token": {"suppress_claims": ["email"]}}},
        {"id": "c", "then": {"override_groups": {"groups": []}}},
    )
    out = to_document(parse_rules(document))
    assert out["rules"][0] == document["rules"][0]
    assert out["rules"][1] == document["rules"][1]
    # override_groups is the one canonicalised part: all three keys, always.
    assert out["rules"][2]["then"]["override_groups"] == {
        "groups": [],
        "iam_roles": [],
        "preferred_role": None,
    }


def test_parsed_model_is_frozen_and_does_not_alias_the_document() -> None:
    document = load_fixture("rules_example.json")
    ruleset = parse_rules(document)
    document["rules"][0]["then"]["access_token"]["add_claims"]["tier"] = "changed"
    document["rules"][0]["when"]["groups"].append("intruders")
    then = ruleset.rules[0].then
    assert then.access_token is not None and then.access_token.add_claims["tier"] == "gold"
    assert ruleset.rules[0].when is not None and "intruders" not in ruleset.rules[0].when.groups
    with pytest.raises(AttributeError):
        ruleset.rules[0].id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        then.access_token.add_claims["tier"] = "x"  # type: ignore[index]


# --- validation: every kind of bad document -----------------------------------------------------------------

BAD_DOCUMENTS: list[tuple[str, Any, str]] = [
    ("not an object", [], "the rules document must be a JSON object, got a list"),
    ("unknown top-level key", {**doc(), "rulez": []}, 'unknown key "rulez" (allowed: version, rules)'),
    ("missing version", {"rules": []}, "version: missing (this avp-migrate reads version 1)"),
    ("unsupported version", {"version": 2, "rules": []}, "version: unsupported version 2"),
    ("version as string", {"version": "1", "rules": []}, 'version: unsupported version "1"'),
    ("version as boolean", {"version": True, "rules": []}, "version: unsupported version true"),
    ("missing rules", {"version": 1}, "rules: missing"),
    ("rules not a list", {"version": 1, "rules": {}}, "rules: must be a list of rules, got an object"),
    ("rule not an object", doc("r"), "rules[0]: a rule must be an object, got a string"),
    ("missing id", doc({"then": {"add_scopes": ["a/b"]}}), "rules[0]: id: missing"),
    ("id not a string", doc(rule(7)), "rules[0]: id: must be a string, got a number"),
    (
        "id with a space",
        doc(rule("my rule")),
        'rules[0]: id: must be 1-128 characters of A-Z a-z 0-9 _ . : - , got "my rule"',
    ),
    ("id too long", doc(rule("x" * 129)), "rules[0]: id: must be 1-128 characters"),
    ("duplicate id", doc(rule("same"), rule("same")), "rules[1] 'same': id: duplicate id (also rules[0])"),
    ("unknown rule key", doc(rule(whom={})), """rules[0] 'r': unknown key "whom\""""),
    ("description not a string", doc(rule(description=3)), "rules[0] 'r': description: must be a string"),
    ("missing then", doc({"id": "r"}), "rules[0] 'r': then: missing (a rule needs at least one action)"),
    (
        "then not an object",
        doc(rule(then=["add_scopes"])),
        "rules[0] 'r': then: must be an object of actions",
    ),
    ("empty then", doc(rule(then={})), "rules[0] 'r': then: no action with an effect"),
    (
        "then without effect",
        doc(rule(then={"add_scopes": [], "access_token": {"suppress_claims": []}})),
        "rules[0] 'r': then: no action with an effect",
    ),
    (
        "unknown action",
        doc(rule(then={"add_scope": ["a/b"]})),
        """rules[0] 'r': then: unknown key "add_scope\"""",
    ),
    ("when not an object", doc(rule(when=["groups"])), "rules[0] 'r': when: must be an object"),
    ("when null", doc(rule(when=None)), "rules[0] 'r': when: must be an object (omit it"),
    ("unknown condition", doc(rule(when={"group": ["a"]})), """rules[0] 'r': when: unknown key "group\""""),
    ("empty condition list", doc(rule(when={"groups": []})), "rules[0] 'r': when.groups: empty list"),
    (
        "condition not a list",
        doc(rule(when={"users": "alice"})),
        "rules[0] 'r': when.users: must be a list of strings, got a string",
    ),
    (
        "condition item not a string",
        doc(rule(when={"client_ids": ["a", 5]})),
        "rules[0] 'r': when.client_ids[1]: must be a string, got a number",
    ),
    (
        "condition item empty",
        doc(rule(when={"all_groups": [""]})),
        "rules[0] 'r': when.all_groups[0]: empty string",
    ),
    (
        "attributes not an object",
        doc(rule(when={"attributes": ["custom:dept"]})),
        "rules[0] 'r': when.attributes: must be an object",
    ),
    ("attributes empty", doc(rule(when={"attributes": {}})), "rules[0] 'r': when.attributes: empty object"),
    (
        "attribute value not a string",
        doc(rule(when={"attributes": {"email_verified": True}})),
        "rules[0] 'r': when.attributes.email_verified: must be a string",
    ),
    (
        "unknown trigger source",
        doc(rule(when={"trigger_sources": ["TokenGeneration_Hosted"]})),
        """rules[0] 'r': when.trigger_sources[0]: unknown trigger source "TokenGeneration_Hosted\"""",
    ),
    (
        "scope with a space",
        doc(rule("admins", then={"add_scopes": ["a b"]})),
        """rules[0] 'admins': then.add_scopes[0]: scope contains a space: "a b\"""",
    ),
    (
        "scope with a tab",
        doc(rule(then={"suppress_scopes": ["a\tb"]})),
        """rules[0] 'r': then.suppress_scopes[0]: scope contains whitespace: "a\\tb\"""",
    ),
    ("empty scope", doc(rule(then={"add_scopes": [""]})), "rules[0] 'r': then.add_scopes[0]: empty scope"),
    (
        "scope not a string",
        doc(rule(then={"add_scopes": [["a/b"]]})),
        "rules[0] 'r': then.add_scopes[0]: must be a scope, got a list",
    ),
    (
        "scopes not a list",
        doc(rule(then={"add_scopes": "a/b"})),
        "rules[0] 'r': then.add_scopes: must be a list of scopes, got a string",
    ),
    (
        "scope added and suppressed",
        doc(rule(then={"add_scopes": ["a/b"], "suppress_scopes": ["a/b"]})),
        """rules[0] 'r': then: scope "a/b" is both added and suppressed by this rule""",
    ),
    (
        "token not an object",
        doc(rule(then={"id_token": ["email"]})),
        "rules[0] 'r': then.id_token: must be an object",
    ),
    (
        "unknown token key",
        doc(rule(then={"access_token": {"add_claim": {}}})),
        """rules[0] 'r': then.access_token: unknown key "add_claim\"""",
    ),
    (
        "add_claims not an object",
        doc(rule(then={"access_token": {"add_claims": ["tier"]}})),
        "rules[0] 'r': then.access_token.add_claims: must be an object",
    ),
    (
        "null claim value",
        doc(rule(then={"access_token": {"add_claims": {"tier": None}}})),
        "rules[0] 'r': then.access_token.add_claims.tier: null value",
    ),
    (
        "scope as a claim",
        doc(rule(then={"access_token": {"add_claims": {"scope": "a/b"}}})),
        "rules[0] 'r': then.access_token.add_claims.scope: the scope claim cannot be changed as a claim",
    ),
    (
        "cognito:groups as a claim",
        doc(rule(then={"id_token": {"suppress_claims": ["cognito:groups"]}})),
        """rules[0] 'r': then.id_token.suppress_claims[0]: claim "cognito:groups" cannot be changed""",
    ),
    (
        "complex email_verified in the ID token",
        doc(rule(then={"id_token": {"add_claims": {"email_verified": [1]}}})),
        "rules[0] 'r': then.id_token.add_claims.email_verified: this ID-token claim takes a string",
    ),
    (
        "claim added and suppressed",
        doc(rule(then={"id_token": {"add_claims": {"a": "1"}, "suppress_claims": ["a"]}})),
        """rules[0] 'r': then.id_token: claim "a" is both added and suppressed by this rule""",
    ),
    (
        "empty claim name",
        doc(rule(then={"access_token": {"add_claims": {"": "x"}}})),
        "rules[0] 'r': then.access_token.add_claims.: empty claim name",
    ),
    (
        "override not an object",
        doc(rule(then={"override_groups": ["x"]})),
        "rules[0] 'r': then.override_groups: must be an object",
    ),
    (
        "override without groups",
        doc(rule(then={"override_groups": {"iam_roles": []}})),
        "rules[0] 'r': then.override_groups.groups: missing",
    ),
    (
        "override groups not a list",
        doc(rule(then={"override_groups": {"groups": "x"}})),
        "rules[0] 'r': then.override_groups.groups: must be a list of groups",
    ),
    (
        "override unknown key",
        doc(rule(then={"override_groups": {"groups": [], "roles": []}})),
        """rules[0] 'r': then.override_groups: unknown key "roles\"""",
    ),
    (
        "preferred role not a string",
        doc(rule(then={"override_groups": {"groups": [], "preferred_role": 1}})),
        "rules[0] 'r': then.override_groups.preferred_role: must be a role ARN or null",
    ),
]


@pytest.mark.parametrize(("kind", "document", "expected"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_each_bad_document_kind_is_rejected_with_a_named_problem(
    kind: str, document: Any, expected: str
) -> None:
    problems = problems_of(document)
    assert any(p.startswith(expected) for p in problems), problems
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize(
    "claim", [*sorted(PROTECTED_CLAIMS - {"scope"}), "cognito:username", "cognito:roles"]
)
@pytest.mark.parametrize("token", ["id_token", "access_token"])
def test_every_claim_cognito_forbids_is_rejected_in_add_and_suppress(claim: str, token: str) -> None:
    problems = problems_of(doc(rule(then={token: {"add_claims": {claim: "x"}, "suppress_claims": [claim]}})))
    assert any(p.startswith(f"rules[0] 'r': then.{token}.add_claims.{claim}: claim ") for p in problems), (
        problems
    )
    assert any(p.startswith(f"rules[0] 'r': then.{token}.suppress_claims[0]: claim ") for p in problems), (
        problems
    )


def test_every_problem_is_reported_at_once() -> None:
    document = {
        "version": 3,
        "extra": True,
        "rules": [
            rule("ok"),
            rule("admins", then={"add_scopes": ["a b"]}),
            {"then": {}},
            rule("ok", when={"groups": []}),
            rule("claims", then={"access_token": {"add_claims": {"sub": "me"}}}),
        ],
    }
    with pytest.raises(RulesError) as caught:
        parse_rules(document)
    problems = caught.value.problems
    assert problems == [
        'unknown key "extra" (allowed: version, rules)',
        "version: unsupported version 3 (this avp-migrate reads version 1)",
        """rules[1] 'admins': then.add_scopes[0]: scope contains a space: "a b\"""",
        "rules[2]: id: missing",
        "rules[2]: then: no action with an effect (give at least one of: add_scopes, suppress_scopes, "
        "id_token, access_token, override_groups)",
        "rules[3] 'ok': id: duplicate id (also rules[0])",
        "rules[3] 'ok': when.groups: empty list (omit the condition instead)",
        """rules[4] 'claims': then.access_token.add_claims.sub: claim "sub" cannot be added, overridden or """
        "suppressed (Cognito forbids it)",
    ]
    assert str(caught.value).startswith("8 problems in the rules document: ")


def test_where_names_the_rule_list() -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(doc(rule("x", then={})), where="ssm:/rules")
    assert caught.value.problems[0].startswith("ssm:/rules[0] 'x': then:")


def test_protected_claims_cover_the_documented_list_and_the_embedded_cognito() -> None:
    from migrate.embedded import cognito_tokens

    # Cognito developer guide, "Pre token generation Lambda trigger": claims a trigger cannot modify.
    documented = {
        "acr",
        "amr",
        "aud",
        "at_hash",
        "auth_time",
        "azp",
        "exp",
        "iat",
        "identities",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "origin_jti",
        "sub",
        "token_use",
    }
    assert documented <= PROTECTED_CLAIMS
    # Everything the embedded Cognito rejects, we reject first: a valid document never fails a sign-in there.
    assert cognito_tokens.PROTECTED_CLAIMS - {"cognito:username"} <= PROTECTED_CLAIMS
    assert set(cognito_tokens.PROTECTED_PREFIXES) == set(PROTECTED_CLAIM_PREFIXES)


def test_trigger_sources_are_the_documented_ones() -> None:
    assert {
        "TokenGeneration_HostedAuth",
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
        "TokenGeneration_RefreshTokens",
        "TokenGeneration_ClientCredentials",
    } == TRIGGER_SOURCES


# --- evaluation ---------------------------------------------------------------------------------------------

JANE = Subject(
    groups={"readers"},
    username="JaneDoe",
    sub=SUB,
    attributes={"sub": SUB, "custom:dept": "eng", "custom:tenant": "t1", "email": "j@example.com"},
    client_id="web",
    trigger_source="TokenGeneration_Authentication",
)


def matches(when: dict[str, Any], subject: Subject = JANE) -> bool:
    ruleset = parse_rules(doc(rule(when=when)))
    return evaluate(ruleset, subject).matched_rule_ids == ("r",)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ({"groups": ["readers", "writers"]}, True),
        ({"groups": ["writers"]}, False),
        ({"all_groups": ["readers"]}, True),
        ({"all_groups": ["readers", "writers"]}, False),
        ({"users": ["JaneDoe"]}, True),
        ({"users": [SUB]}, True),
        ({"users": ["janedoe"]}, False),  # exact: case matters
        ({"attributes": {"custom:dept": "eng"}}, True),
        ({"attributes": {"custom:dept": "eng", "email": "other@example.com"}}, False),
        ({"attributes": {"custom:missing": ""}}, False),
        ({"attributes_present": ["custom:tenant", "email"]}, True),
        ({"attributes_present": ["custom:empty"]}, False),
        ({"attributes_present": ["custom:absent"]}, False),
        ({"client_ids": ["web", "mobile"]}, True),
        ({"client_ids": ["mobile"]}, False),
        ({"trigger_sources": ["TokenGeneration_Authentication"]}, True),
        ({"trigger_sources": ["TokenGeneration_HostedAuth"]}, False),
        ({}, True),
        ({"groups": ["readers"], "client_ids": ["web"], "users": ["JaneDoe"]}, True),
        ({"groups": ["readers"], "client_ids": ["mobile"]}, False),
    ],
)
def test_each_condition(when: dict[str, Any], expected: bool) -> None:
    subject = Subject(
        groups=JANE.groups,
        username=JANE.username,
        sub=JANE.sub,
        attributes={**JANE.attributes, "custom:empty": ""},
        client_id=JANE.client_id,
        trigger_source=JANE.trigger_source,
    )
    assert matches(when, subject) is expected


def test_a_rule_without_when_always_applies() -> None:
    assert evaluate(parse_rules(doc(rule())), Subject()).matched_rule_ids == ("r",)


@pytest.mark.parametrize(
    "when",
    [
        {"groups": ["readers"]},
        {"all_groups": ["readers"]},
        {"users": ["m2m-client"]},
        {"attributes": {"custom:dept": "eng"}},
        {"attributes_present": ["custom:dept"]},
    ],
)
def test_user_conditions_never_match_a_client_credentials_request(when: dict[str, Any]) -> None:
    # Even a Subject built carelessly with user data: a client-credentials request has no user.
    machine = Subject(
        groups={"readers"},
        username="m2m-client",
        attributes={"custom:dept": "eng"},
        client_id="m2m-client",
        trigger_source=CLIENT_CREDENTIALS,
    )
    assert not matches(when, machine)
    assert matches({"client_ids": ["m2m-client"], "trigger_sources": [CLIENT_CREDENTIALS]}, machine)


def test_scopes_union_and_suppression_wins_whatever_the_order() -> None:
    ruleset = parse_rules(
        doc(
            rule("suppress-first", then={"suppress_scopes": ["api/admin"]}),
            rule("add-a", then={"add_scopes": ["api/read", "api/admin"]}),
            rule("add-b", when={"groups": ["readers"]}, then={"add_scopes": ["api/write", "api/read"]}),
            rule("not-matching", when={"groups": ["nobody"]}, then={"add_scopes": ["api/never"]}),
        )
    )
    outcome = evaluate(ruleset, JANE)
    assert outcome.matched_rule_ids == ("suppress-first", "add-a", "add-b")
    assert outcome.scopes_to_add == ("api/read", "api/write")
    assert outcome.scopes_to_suppress == ("api/admin",)
    assert outcome.final_scopes(["aws.cognito.signin.user.admin", "api/admin"]) == (
        "aws.cognito.signin.user.admin",
        "api/read",
        "api/write",
    )


def test_claims_later_value_wins_and_suppression_wins_over_adding() -> None:
    ruleset = parse_rules(
        doc(
            rule(
                "a",
                then={
                    "access_token": {"add_claims": {"tier": "gold", "region": "eu"}},
                    "id_token": {"suppress_claims": ["nickname"]},
                },
            ),
            rule(
                "b",
                then={
                    "access_token": {"add_claims": {"tier": "platinum"}},
                    "id_token": {"add_claims": {"nickname": "J", "tenant": "t1"}},
                },
            ),
            rule("c", then={"access_token": {"suppress_claims": ["region"]}}),
        )
    )
    outcome = evaluate(ruleset, JANE)
    assert dict(outcome.access_token.add_claims or {}) == {"tier": "platinum"}
    assert outcome.access_token.suppress_claims == ("region",)
    assert dict(outcome.id_token.add_claims or {}) == {"tenant": "t1"}
    assert outcome.id_token.suppress_claims == ("nickname",)


def test_last_group_override_wins_and_conditions_see_the_original_groups() -> None:
    ruleset = parse_rules(
        doc(
            rule(
                "to-viewers", when={"groups": ["readers"]}, then={"override_groups": {"groups": ["viewers"]}}
            ),
            rule("readers-still-read", when={"groups": ["readers"]}, then={"add_scopes": ["api/read"]}),
            rule("viewers-never-match", when={"groups": ["viewers"]}, then={"add_scopes": ["api/view"]}),
            rule(
                "to-guests",
                when={"users": ["JaneDoe"]},
                then={
                    "override_groups": {
                        "groups": ["guests"],
                        "iam_roles": ["arn:aws:iam::1:role/g"],
                        "preferred_role": "arn:aws:iam::1:role/g",
                    }
                },
            ),
        )
    )
    outcome = evaluate(ruleset, JANE)
    assert outcome.matched_rule_ids == ("to-viewers", "readers-still-read", "to-guests")
    assert outcome.group_override == GroupOverride(
        ("guests",), ("arn:aws:iam::1:role/g",), "arn:aws:iam::1:role/g"
    )
    assert outcome.final_groups(["readers"]) == ("guests",)


def test_no_override_leaves_groups_alone() -> None:
    outcome = evaluate(parse_rules(doc(rule())), JANE)
    assert outcome.group_override is None
    assert outcome.final_groups(["readers", "x"]) == ("readers", "x")


def test_nothing_matches_gives_an_empty_outcome() -> None:
    outcome = evaluate(parse_rules(doc(rule(when={"groups": ["nobody"]}))), JANE)
    assert outcome == Outcome()
    assert not outcome.has_effect


def test_rule_sets_built_in_code_evaluate_like_parsed_ones() -> None:
    built = RuleSet(
        (
            Rule("a", Actions(add_scopes=["api/read"]), Conditions(groups=["readers"])),
            Rule("b", Actions(access_token=TokenClaims({"k": "v"})), Conditions(client_ids=["web"])),
        )
    )
    parsed = parse_rules(to_document(built))
    assert parsed == built
    assert evaluate(built, JANE) == evaluate(parsed, JANE)


def _naive(ruleset: RuleSet, subject: Subject) -> tuple[str, ...]:
    return tuple(r.id for r in ruleset.rules if r.matches(subject))


def test_indexed_evaluation_matches_a_plain_scan_of_every_rule() -> None:
    # evaluate() looks only at indexed candidates; this checks that no matching rule is ever missed and the
    # order is the document's, over many random rule sets and subjects.
    rng = random.Random(20241126)
    groups, users, clients = ["g1", "g2", "g3", "g4"], ["u1", "u2", "s1", "s2"], ["c1", "c2"]
    sources = sorted(TRIGGER_SOURCES)
    for _ in range(300):
        rules = []
        for index in range(rng.randint(0, 12)):
            when: dict[str, Any] = {}
            if rng.random() < 0.4:
                when["groups"] = rng.sample(groups, rng.randint(1, 2))
            if rng.random() < 0.2:
                when["all_groups"] = rng.sample(groups, rng.randint(1, 2))
            if rng.random() < 0.3:
                when["users"] = rng.sample(users, rng.randint(1, 2))
            if rng.random() < 0.3:
                when["client_ids"] = rng.sample(clients, 1)
            if rng.random() < 0.3:
                when["trigger_sources"] = rng.sample(sources, rng.randint(1, 2))
            if rng.random() < 0.2:
                when["attributes"] = {"custom:a": rng.choice(["1", "2"])}
            parts: dict[str, Any] = {"then": {"add_scopes": [f"api/s{index}"]}}
            if when or rng.random() < 0.5:
                parts["when"] = when
            rules.append(rule(f"r{index}", **parts))
        ruleset = parse_rules(doc(*rules))
        for _ in range(10):
            machine = rng.random() < 0.2
            subject = Subject(
                groups=set(rng.sample(groups, rng.randint(0, 3))),
                username=None if machine else rng.choice(["u1", "u2", "u9"]),
                sub=None if machine else rng.choice(["s1", "s2", None]),
                attributes={} if machine else {"custom:a": rng.choice(["1", "2"])},
                client_id=rng.choice(clients),
                trigger_source=CLIENT_CREDENTIALS if machine else rng.choice(sources),
            )
            assert evaluate(ruleset, subject).matched_rule_ids == _naive(ruleset, subject)


# --- warnings -----------------------------------------------------------------------------------------------


def test_check_rules_warns_about_undefined_scopes_and_rules_that_cannot_work() -> None:
    ruleset = parse_rules(
        doc(
            rule("fine", then={"add_scopes": ["MyApi/read", "openid", "aws.cognito.signin.user.admin"]}),
            rule("typo", then={"add_scopes": ["MyApi/raed"], "suppress_scopes": ["Other/admin"]}),
            rule("machine-user", when={"groups": ["a"], "trigger_sources": [CLIENT_CREDENTIALS]}),
            rule(
                "machine-id",
                when={"trigger_sources": [CLIENT_CREDENTIALS]},
                then={"id_token": {"add_claims": {"x": "1"}}},
            ),
        )
    )
    assert check_rules(ruleset, {"MyApi/read", "MyApi/write", "api/read"}) == [
        """rules[1] 'typo': then.add_scopes[0]: scope "MyApi/raed" is not defined by any resource """
        "server of the user pool",
        """rules[1] 'typo': then.suppress_scopes[0]: scope "Other/admin" is not defined by any resource """
        "server of the user pool",
        "rules[2] 'machine-user': when: never matches: it has conditions about the user, and "
        "client-credentials requests have no user",
        "rules[3] 'machine-id': then: id_token and override_groups have no effect on client-credentials "
        "tokens (no ID token, no groups)",
    ]
    assert (
        check_rules(parse_rules(load_fixture("rules_example.json")), {"MyApi/avp.read", "MyApi/admin"}) == []
    )


# --- large rule sets (timings live in bench/pretoken_bench.py; tests never assert on time) -------------------


def test_500_rules_index_finds_every_matching_rule() -> None:
    from bench.pretoken_bench import big_ruleset, typical_subject

    ruleset = big_ruleset()
    subject = typical_subject()
    outcome = evaluate(ruleset, subject)
    assert outcome.matched_rule_ids == _naive(ruleset, subject)
    assert len(outcome.matched_rule_ids) >= 8


def test_when_all_500_rules_match_every_one_contributes() -> None:
    from bench.pretoken_bench import all_match_ruleset

    ruleset = all_match_ruleset()
    subject = Subject(groups={"x"}, username="u", sub="s", attributes={"sub": "s"})
    outcome = evaluate(ruleset, subject)
    assert len(outcome.matched_rule_ids) == 500
    assert len(outcome.scopes_to_add) == 500


def test_the_users_rules_name_and_the_attributes_they_test() -> None:
    ruleset = parse_rules({"version": 1, "rules": [
        {"id": "a", "when": {"users": ["alice", "sub-1"], "attributes": {"custom:dept": "x"}},
         "then": {"add_scopes": ["s"]}},
        {"id": "b", "when": {"attributes_present": ["custom:tenant"], "groups": ["g"]}, "then": {"add_scopes": ["s"]}},
        {"id": "c", "then": {"add_scopes": ["s"]}}]})
    assert ruleset.named_users() == {"alice", "sub-1"}
    assert ruleset.tested_attributes() == {"custom:dept", "custom:tenant"}
