"""How requests reach Verified Permissions: the store layout.

* ``actions`` (the AVP console's layout, the default while it fits): one Cedar action per method,
  ``MyApi::Action::"get /pets/{petId}"``, member of its scopes' action groups; the resource is
  ``MyApi::Application::"MyApi"``. Readable and console-compatible, but every method costs its own schema
  entry (about 150-300 bytes with long paths), so the 100,000-byte schema quota stops it near 350-600 methods.
* ``routes``: the resource is the method itself, ``MyApi::Route::"GET /pets/{petId}"`` (the route key), and
  the action is the request verb (``MyApi::Action::"get"``, member of the group ``invoke``). The route's
  parents are its scopes (``MyApi::Scope::"MyApi/pets.read"``), or ``MyApi::RouteGroup::"id-token"`` for
  methods without scopes; Verified Permissions keeps no entities, so the authorizer sends the route entity with
  its parents in each request (``entities``; taken from ``authorizer-config.json``, which verify checks as it
  is on disk). The schema no longer grows with the API: a few hundred bytes for any number of methods.
  Decisions stay per endpoint (each request names its route: a team can later write
  ``resource == MyApi::Route::"DELETE /pets/{petId}"``), and a grant's statement names its scope as the
  resource (``resource in MyApi::Scope::"..."``), which also spreads the policies over per-resource size
  totals instead of the single 200,000-byte "unspecified" one.

``auto`` (plan's default) takes ``actions`` when its schema fits the quota and ``routes`` otherwise, and says
why in a finding.
"""

from __future__ import annotations

STORE_LAYOUTS = ("auto", "actions", "routes")
INVOKE_GROUP = "invoke"  # routes layout: the action group of every verb action
ID_TOKEN_GROUP = "id-token"  # routes layout: the route group of methods without scopes
MAX_ROUTE_PARENTS = 99  # AVP: at most 99 transitive parents per entity in a request (as for principals)


def verb_action(verb: str) -> str:
    return verb.lower()
