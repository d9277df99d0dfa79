"""What the authorizer asks Verified Permissions in each store layout (the fast guard of the routes layout; the
end-to-end check against the local endpoint is test_verify_property's routes-layout test, in make test-large)."""

from __future__ import annotations

from dataclasses import replace

from authorizer.avp import AvpClient, RouteResource
from authorizer.config import EntityTypes
from tests.authorizer_helpers import (
    NS,
    StubAvpClient,
    config_for,
    harness,
    hosted_ui_access_token,
    make_world,
    modes_env,
    request_event,
    s,
)

TYPES = EntityTypes(user="NS::User", group="NS::UserGroup", client="NS::Client", resource="NS::Route",
                    action="NS::Action")


def _client(layout_resource: str = "NS::Route") -> tuple[AvpClient, StubAvpClient]:
    stub = StubAvpClient(lambda _op, _params: {"decision": "ALLOW", "determiningPolicies": [{"policyId": "p1"}]})
    types = replace(TYPES, resource=layout_resource)
    return AvpClient(policy_store_id="ps-1", entity_types=types, resource_id="NS", timeout_seconds=2,
                     client_factory=lambda: stub), stub


def test_routes_layout_requests_carry_the_route_and_its_parents():
    avp, stub = _client()
    route = RouteResource("NS::Route", "GET /pets", (("NS::Scope", "NS/pets.read"), ("NS::Scope", "NS/admin")))
    assert avp.is_authorized_with_token("token-text", "access", "get", route).decision == "ALLOW"
    assert avp.is_authorized_client("svc-id", ["NS/pets.read"], "get", route).decision == "ALLOW"
    (user_op, user), (machine_op, machine) = stub.calls
    assert (user_op, machine_op) == ("IsAuthorizedWithToken", "IsAuthorized")
    identifier = {"entityType": "NS::Route", "entityId": "GET /pets"}
    for params in (user, machine):
        assert params["resource"] == identifier
        parents = [{"entityType": "NS::Scope", "entityId": "NS/pets.read"},
                   {"entityType": "NS::Scope", "entityId": "NS/admin"}]
        assert params["entities"] == {"entityList": [{"identifier": identifier, "parents": parents}]}
        assert params["action"] == {"actionType": "NS::Action", "actionId": "get"}
    assert user["accessToken"] == "token-text" and machine["principal"] == {"entityType": "NS::Client",
                                                                            "entityId": "svc-id"}


def test_actions_layout_requests_name_the_application_and_send_no_entities():
    avp, stub = _client("NS::Application")
    avp.is_authorized_with_token("token-text", "id", "get /me")
    ((_, params),) = stub.calls
    assert params["resource"] == {"entityType": "NS::Application", "entityId": "NS"} and "entities" not in params
    assert params["identityToken"] == "token-text"


def test_in_the_routes_layout_the_decision_cache_keeps_routes_apart(embedded_aws, tmp_path):
    # Two routes share the action "get" in the routes layout: an answer cached for one must never answer the other.
    world = make_world(embedded_aws)
    base = config_for(world)
    routes = {key: replace(route, actions={verb: verb.lower() for verb in route.actions},
                           parents=tuple((f"{NS}::Scope", scope) for scope in route.scopes))
              for key, route in base.routes.items()}
    config = replace(base, layout="routes", routes=routes,
                     entity_types=replace(base.entity_types, resource=f"{NS}::Route"))
    stub = StubAvpClient(lambda _op, params: {
        "decision": "ALLOW" if params["resource"]["entityId"] == "GET /avp" else "DENY", "determiningPolicies": []})
    authorizer = harness(tmp_path, embedded_aws, config, store_id="ps-1",
                         env=modes_env({"GET /avp": "avp", "GET /scope": "avp"}), avp_client_factory=lambda: stub)
    token = hosted_ui_access_token(embedded_aws, world, "bob", [s("avp.read"), s("scope.read")])
    for _ in range(2):  # the second round is answered from the cache
        assert authorizer.call(request_event("GET /avp", f"Bearer {token}")).status == "ALLOW"
        assert authorizer.call(request_event("GET /scope", f"Bearer {token}")).status == "DENY"
    assert [params["resource"]["entityId"] for _, params in stub.calls] == ["GET /avp", "GET /scope"]
    assert all(params["entities"]["entityList"][0]["parents"] for _, params in stub.calls)
