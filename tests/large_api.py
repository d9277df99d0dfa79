"""A generated API at realistic size for deploy tests: long paths, several scopes, group rules.

Seeded through :func:`migrate.embedded.seed.seed_demo` (ordinary boto3 calls against the embedded AWS), so the
scan, plan and deploy of it take exactly the paths a real account's would.
"""

from __future__ import annotations

from dataclasses import replace

from migrate.embedded.seed import DEMO, RESOURCE_SERVER, DemoClient, DemoMethod, DemoSpec, DemoUser

VERBS = ("GET", "PUT", "DELETE", "POST")


def long_path(i: int) -> str:
    """A path of 110 characters (the issue's ``/v2/organizations/{organizationId}/...``, one level deeper)."""
    return (f"/v2/organizations/{{organizationId}}/projects/{{projectId}}/collection{i:03}/{{itemId}}/details/"
            "attachments/{attachmentId}")


def large_spec(methods: int, *, scopes: int = 8, groups: int = 8) -> DemoSpec:
    """``methods`` methods, four per resource (GET, PUT, DELETE, POST), each needing one of ``scopes`` scopes;
    each group's rule grants two scopes (reads and writes of a slice of the API)."""
    scope_names = [f"area{s}.{kind}" for s in range((scopes + 1) // 2) for kind in ("read", "write")][:scopes]
    spec_methods = []
    for i in range(methods):
        verb = VERBS[i % len(VERBS)]
        resource = i // len(VERBS)
        area = resource % max(1, len(scope_names) // 2)
        kind = "read" if verb == "GET" else "write"
        scope = f"area{area}.{kind}" if f"area{area}.{kind}" in scope_names else scope_names[0]
        spec_methods.append(DemoMethod(verb, long_path(resource), (f"{RESOURCE_SERVER}/{scope}",)))
    group_names = [f"team-{g:02}" for g in range(groups)]
    rules = [{"id": name, "when": {"groups": [name]},
              "then": {"add_scopes": [f"{RESOURCE_SERVER}/{scope_names[(2 * g) % len(scope_names)]}",
                                      f"{RESOURCE_SERVER}/{scope_names[(2 * g + 1) % len(scope_names)]}"]}}
             for g, name in enumerate(group_names)]
    return replace(
        DEMO, api_name="Large", pool_name="LargeUsers",
        scopes=tuple((name, f"generated scope {name}") for name in scope_names),
        groups=tuple((name, f"generated group {name}") for name in group_names),
        users=(DemoUser("ana", (group_names[0],)), DemoUser("ben", tuple(group_names[1:3]))),
        clients=(DemoClient("app", auth_flows=("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                                "ALLOW_USER_PASSWORD_AUTH")),),
        methods=tuple(spec_methods), rules={"version": 1, "rules": rules},
        rules_parameter="/large/pretoken-rules", trigger_function="large-pretoken")
