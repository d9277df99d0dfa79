"""API Gateway's method selection (authorizer.routes), and the plan following it in both regimes: an explicit
method wins over ANY on one resource, ANY's actions are the verbs without their own method, and {proxy+} is
reached only by paths no more specific resource matches; whatever the order the methods come in."""

from __future__ import annotations

import json

import cedarpy
import pytest

from authorizer.config import AuthorizerConfig
from authorizer.core import Authorizer
from authorizer.request import AuthorizerRequest
from authorizer.routes import ANY_VERBS, method_verbs, route_candidates, select_resource, select_route, served_verbs
from migrate.errors import UserError
from migrate.plan import check
from migrate.translate import translate
from tests.inventory_builder import POOL_ID, inventory, method, rule

NS = "MyApi"
NOT_GET = tuple(v for v in ANY_VERBS if v != "GET")


# --- the rules themselves ---------------------------------------------------------------------------------------


def test_any_serves_only_the_verbs_without_their_own_method():
    assert served_verbs("ANY", ["ANY"]) == ANY_VERBS
    assert served_verbs("ANY", ["ANY", "GET", "options"]) == ("DELETE", "HEAD", "PATCH", "POST", "PUT")
    assert served_verbs("ANY", ["ANY", *ANY_VERBS]) == ()
    assert served_verbs("get", ["ANY", "GET"]) == ("GET",)
    forward = method_verbs(["ANY /", "GET /", "ANY /{proxy+}", "GET /{proxy+}", "ANY /admin"])
    backward = method_verbs(["ANY /admin", "GET /{proxy+}", "ANY /{proxy+}", "GET /", "ANY /"])
    assert forward == backward
    assert forward["ANY /"] == forward["ANY /{proxy+}"] == NOT_GET and forward["ANY /admin"] == ANY_VERBS


def test_the_most_specific_resource_wins_and_proxy_catches_only_the_rest():
    templates = ["/", "/{proxy+}", "/pets", "/pets/{petId}", "/pets/{proxy+}", "/pets/mine", "/admin/{proxy+}"]
    assert select_resource(templates, "/") == "/"
    assert select_resource(templates, "/pets") == "/pets"
    assert select_resource(templates, "/pets/mine") == "/pets/mine"  # literal before parameter
    assert select_resource(templates, "/pets/42") == "/pets/{petId}"  # parameter before greedy
    assert select_resource(templates, "/pets/42/toys") == "/pets/{proxy+}"
    assert select_resource(templates, "/admin") == "/{proxy+}"  # /admin/{proxy+} needs one segment more
    assert select_resource(templates, "/admin/a/b/c") == "/admin/{proxy+}"
    assert select_resource(templates, "/orders/7") == "/{proxy+}"
    assert select_resource(["/pets"], "/cats") is None
    assert select_resource(["/{proxy+}"], "/") is None


def test_on_the_selected_resource_an_explicit_method_wins_and_nothing_falls_back():
    keys = ["ANY /", "GET /", "GET /pets", "ANY /{proxy+}", "GET /{proxy+}"]
    assert select_route(keys, "GET", "/") == "GET /"
    assert select_route(keys, "DELETE", "/") == "ANY /"
    assert select_route(keys, "GET", "/pets") == "GET /pets"
    assert select_route(keys, "POST", "/pets") is None  # /pets is selected; it has no POST: 403, no fallback
    assert select_route(keys, "GET", "/a/b") == "GET /{proxy+}"
    assert select_route(keys, "PUT", "/a/b") == "ANY /{proxy+}"
    assert route_candidates("get", "/x") == ("GET /x", "ANY /x")


# --- the plan: ANY next to an explicit method, in both orders -----------------------------------------------------

ADMIN, READ = "api/admin", "api/read"


def _any_and_get(path: str, *, any_first: bool, get_auth: str = "COGNITO_USER_POOLS"):
    methods = [method("ANY", path, [ADMIN]),
               method("GET", path, [READ] if get_auth == "COGNITO_USER_POOLS" else None, auth=get_auth)]
    if not any_first:
        methods.reverse()
    return inventory(methods, users={"root": ["admins"], "reader": ["readers"], "both": ["admins", "readers"]},
                     rules=[rule("admins", [ADMIN], groups=["admins"]), rule("readers", [READ], groups=["readers"])])


def _cedar(translation, group: str, action: str) -> str:
    request = {"principal": f'{NS}::User::"{POOL_ID}|sub-x"', "action": f'{NS}::Action::"{action}"',
               "resource": f'{NS}::Application::"{NS}"', "context": {}}
    entities = [{"uid": {"type": f"{NS}::User", "id": f"{POOL_ID}|sub-x"}, "attrs": {},
                 "parents": [{"type": f"{NS}::UserGroup", "id": f"{POOL_ID}|{group}"}]},
                {"uid": {"type": f"{NS}::UserGroup", "id": f"{POOL_ID}|{group}"}, "attrs": {}, "parents": []}]
    policies = "\n".join(p.text for p in translation.policies)
    return cedarpy.is_authorized(request, policies, entities, schema=translation.schema_text).decision.value


@pytest.mark.parametrize("path", ["/", "/{proxy+}"])
@pytest.mark.parametrize("any_first", [True, False], ids=["ANY-first", "GET-first"])
def test_any_next_to_get_gives_get_to_the_get_method_alone(path, any_first):
    translation = translate(_any_and_get(path, any_first=any_first))
    result = check(translation)
    assert result.equivalent, result.differences

    config = translation.authorizer_config()
    assert tuple(config.routes[f"ANY {path}"].actions) == NOT_GET
    assert config.routes[f"GET {path}"].actions == {"GET": f"get {path}"}
    actions = translation.schema[NS]["actions"]
    assert actions[f"get {path}"]["memberOf"] == [{"id": READ}]
    assert all(actions[f"{v.lower()} {path}"]["memberOf"] == [{"id": ADMIN}] for v in NOT_GET)
    # holders of only the ANY method's scope never get GET; holders of the GET method's scope get only GET
    assert _cedar(translation, "admins", f"get {path}") == "Deny"
    assert _cedar(translation, "admins", f"post {path}") == "Allow"
    assert _cedar(translation, "readers", f"get {path}") == "Allow"
    assert _cedar(translation, "readers", f"delete {path}") == "Deny"
    # "both" (admins and readers) is decided through her groups' classes: counted with the users who can call.
    assert result.today[f"GET {path}"] == {"group:readers"} == result.after[f"GET {path}"]
    assert result.today[f"ANY {path}"] == {"group:admins"} == result.after[f"ANY {path}"]
    assert result.populations == 1 and result.population_users == 1
    assert result.users_today[f"GET {path}"] == 2 == result.users_after[f"GET {path}"]  # reader, both
    assert result.users_today[f"ANY {path}"] == 2 == result.users_after[f"ANY {path}"]  # root, both
    narrowed = next(f for f in translation.findings if f.code == "any-narrowed")
    assert narrowed.routes == (f"ANY {path}",) and narrowed.detail["own_methods"] == ["GET"]


@pytest.mark.parametrize("path", ["/", "/{proxy+}"])
def test_the_plan_does_not_depend_on_method_order(path):
    first, second = (translate(_any_and_get(path, any_first=flag)) for flag in (True, False))
    assert first.schema == second.schema
    assert sorted(p.text for p in first.policies) == sorted(p.text for p in second.policies)
    assert first.authorizer_config().to_dict()["routes"] == second.authorizer_config().to_dict()["routes"]


def test_a_public_get_still_takes_get_away_from_any():
    # API Gateway sends GET to the GET method whatever its authorization: the ANY method never sees a GET.
    translation = translate(_any_and_get("/", any_first=True, get_auth="NONE"))
    result = check(translation)
    assert result.equivalent, result.differences
    assert set(translation.authorizer_config().routes) == {"ANY /"}
    assert tuple(translation.authorizer_config().routes["ANY /"].actions) == NOT_GET
    assert "get /" not in translation.schema[NS]["actions"]


def test_an_any_method_every_verb_of_which_has_its_own_method_is_not_migrated():
    methods = [method("ANY", "/x", [ADMIN]), *(method(v, "/x", [READ]) for v in ANY_VERBS)]
    translation = translate(inventory(methods, users={"r": ["readers"]},
                                      rules=[rule("readers", [READ], groups=["readers"])]))
    any_route = next(r for r in translation.routes if r.route == "ANY /x")
    assert not any_route.migrated and "unreachable" in any_route.why_not_migrated
    assert "ANY /x" not in translation.authorizer_config().routes
    assert check(translation).equivalent


def test_a_method_declared_twice_is_refused():
    methods = [method("GET", "/x", [READ]), method("GET", "/x", [ADMIN])]
    with pytest.raises(UserError, match=r"declares method GET /x twice"):
        translate(inventory(methods, users={"r": ["readers"]}, rules=[rule("readers", [READ], groups=["readers"])]))


def test_proxy_scopes_never_reach_a_more_specific_resource():
    # ANY /{proxy+} takes admin, GET /pets takes read: admins get nothing on /pets, readers nothing elsewhere.
    methods = [method("ANY", "/{proxy+}", [ADMIN]), method("GET", "/pets", [READ])]
    translation = translate(inventory(methods, users={"root": ["admins"], "reader": ["readers"]},
                                      rules=[rule("admins", [ADMIN], groups=["admins"]),
                                             rule("readers", [READ], groups=["readers"])]))
    result = check(translation)
    assert result.equivalent, result.differences
    assert result.after["GET /pets"] == {"group:readers"} and result.after["ANY /{proxy+}"] == {"group:admins"}
    assert _cedar(translation, "admins", "get /pets") == "Deny"
    assert _cedar(translation, "readers", "get /{proxy+}") == "Deny"
    keys = list(translation.authorizer_config().routes)
    assert select_route(keys, "GET", "/pets") == "GET /pets"
    assert select_route(keys, "GET", "/pets/1") == "ANY /{proxy+}"


# --- the authorizer's route lookup on the plan's configuration ----------------------------------------------------


def _authorizer(config: AuthorizerConfig) -> Authorizer:
    # Only the route lookup is exercised: it reads nothing but the configuration.
    return Authorizer(config=config, verifier=None, modes=None, avp=None, cache=None,  # type: ignore[arg-type]
                      telemetry=None)  # type: ignore[arg-type]


def _lookup(authorizer: Authorizer, verb: str, resource_path: str) -> tuple[str | None, str | None]:
    request = AuthorizerRequest(method_arn=None, http_method=verb, resource_path=resource_path, request_id=None,
                                api_id=None, stage=None, authorization=())
    key, route = authorizer._route(request)
    return key, route.actions.get(verb) if route else None


@pytest.mark.parametrize("any_first", [True, False], ids=["ANY-first", "GET-first"])
def test_the_authorizer_sends_get_to_the_get_route_and_other_verbs_to_any(any_first):
    config = translate(_any_and_get("/{proxy+}", any_first=any_first)).authorizer_config()
    config = AuthorizerConfig.from_json(config.to_json())  # as the Lambda reads it
    authorizer = _authorizer(config)
    assert _lookup(authorizer, "GET", "/{proxy+}") == ("GET /{proxy+}", "get /{proxy+}")
    assert _lookup(authorizer, "POST", "/{proxy+}") == ("ANY /{proxy+}", "post /{proxy+}")
    assert _lookup(authorizer, "GET", "/nope") == (None, None)


def test_a_get_the_any_route_does_not_serve_is_refused_by_the_authorizer():
    # GET / is public (another authorizer's business): were a GET ever to arrive on ANY /, no action is found and
    # the authorizer denies (unknown_verb) rather than decide it by ANY's scopes.
    config = translate(_any_and_get("/", any_first=False, get_auth="NONE")).authorizer_config()
    authorizer = _authorizer(AuthorizerConfig.from_json(json.dumps(config.to_dict())))
    assert _lookup(authorizer, "GET", "/") == ("ANY /", None)
    assert _lookup(authorizer, "DELETE", "/") == ("ANY /", "delete /")
