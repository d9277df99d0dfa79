"""From the scope regime to grants: who is given which scopes (each scope becomes a Cedar action group).

One grant per pre-token rule and principal: the rule's groups (one grant per group), its users, or any user;
``all_groups`` and ``client_ids`` become conditions; a rule that suppresses a scope for some users becomes an
``unless`` on the grants of that scope. Rules that test user attributes are not expressible on access tokens
(AVP gives an access token's principal no attributes): they are materialized as the users of the snapshot they
match today, and reported. Alongside the rules:

* ID-token routes (Cognito authorizer, no scopes) are open to every user of the pool;
* scopes an app client lets any user request through the hosted UI (latent exposure) are preserved by a grant
  conditioned on that client and on the scope being in the token, unless ``tighten``;
* client-credentials clients get their scopes on ``Client::"<client id>"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from migrate.inventory.model import User
from migrate.regime import PoolRegime, PrincipalClass
from migrate.translate.model import Finding, Grant, PrincipalRef, RoutePlan
from migrate.translate.scope_reach import ScopeReach
from pretoken_lambda.rules import Conditions, Rule, Subject

EXPOSED_NAMED = 12  # principal classes a latent-exposure finding names in its message
EXPOSED_KEPT = 200  # ... and keeps in its detail (with the full counts beside them)


def _user_conditions_only(when: Conditions) -> Conditions:
    return dataclasses.replace(when, client_ids=None, trigger_sources=None)


def _is_user_specific(when: Conditions | None) -> bool:
    return when is not None and any(v is not None for v in (when.users, when.attributes, when.attributes_present))


def _subject(user: User) -> Subject:
    return Subject(groups=frozenset(user.groups), username=user.username, sub=user.sub,
                   attributes=dict(user.attributes))


def _matching_users(regime: PoolRegime, when: Conditions) -> list[User]:
    conditions = _user_conditions_only(when)
    return [u for u in regime.pool.users if u.enabled and conditions.matches(_subject(u))]


def _routes_for(scopes: Iterable[str], routes: list[RoutePlan]) -> tuple[str, ...]:
    wanted = set(scopes)
    return tuple(r.route for r in routes if r.migrated and wanted & set(r.scopes))


class GrantBuilder:
    def __init__(self, regime: PoolRegime, routes: list[RoutePlan], *, tighten: bool,
                 reach: ScopeReach) -> None:
        self.regime = regime
        self.reach = reach
        self.routes = routes
        self.tighten = tighten
        self.used_scopes = frozenset(s for r in routes if r.migrated for s in r.scopes)
        self.grants: list[Grant] = []
        self.findings: list[Finding] = []
        self.user_sources = frozenset(f.trigger_source for f in regime.user_flows)

    def build(self) -> tuple[list[Grant], list[Finding]]:
        self._id_token_routes()
        if not self.regime.rules_known:
            trigger = self.regime.pool.pretoken_trigger
            self.findings.append(Finding(
                "rules-unknown", "blocking",
                f"user pool {self.regime.pool.id} has a pre-token trigger ({trigger.lambda_arn if trigger else '?'}) "
                "whose rules are not in the snapshot: who holds which scope cannot be known; rescan with --rules, "
                "or derive them with `avp-migrate probe`",
                routes=tuple(r.route for r in self.routes if r.migrated and r.scopes)))
        elif self.regime.rules is not None:
            if self.regime.trigger_version == "V1_0":
                self.findings.append(Finding(
                    "v1-trigger", "info", "the pre-token trigger is V1_0: it cannot change access-token scopes, "
                    "so its rules grant no scope"))
            else:
                for rule in self.regime.rules.rules:
                    self._rule(rule)
        self._hosted_ui_exposures()
        self._machine_clients()
        return self.grants, self.findings

    # --- ID-token routes ------------------------------------------------------------------------------------

    def _id_token_routes(self) -> None:
        actions = tuple(a for r in self.routes if r.migrated and r.token_use == "id" for a in r.actions.values())
        if not actions:
            return
        self.grants.append(Grant(kind="id-token", principal=PrincipalRef("any-user", label="any user"),
                                 actions=actions, note="Cognito authorizer without scopes: any ID token of the pool"))
        routes = tuple(r.route for r in self.routes if r.migrated and r.token_use == "id")
        self.findings.append(Finding(
            "id-token-route", "info", "methods without scopes take an ID token of any user of the pool today; the "
            "policy keeps them open to every signed-in user", routes=routes))

    # --- pre-token rules ------------------------------------------------------------------------------------

    def _rule(self, rule: Rule) -> None:
        when = rule.when
        if rule.then.override_groups is not None:
            self.findings.append(Finding(
                "group-override", "review",
                f"rule {rule.id!r} overrides the token's groups: AVP sees the groups in the token, not the directory; "
                "verify compares the outcome", detail={"rule": rule.id}))
        scopes = tuple(s for s in rule.then.add_scopes or () if s in self.used_scopes)
        if not scopes:
            return
        if when is not None and when.trigger_sources is not None:
            reachable = self.user_sources & set(when.trigger_sources)
            if not reachable:
                # Only client credentials (or flows no client allows): no user grant; machines are handled apart.
                return
            if reachable != self.user_sources:
                self.findings.append(Finding(
                    "flow-dependent", "review",
                    f"rule {rule.id!r} applies only to tokens from {', '.join(sorted(reachable))}; AVP cannot see how "
                    "a token was obtained, so the policy grants its scopes to those users whatever the flow "
                    "(shadow mode may show tokens from other flows allowed by AVP and refused today)",
                    routes=_routes_for(scopes, self.routes), detail={"rule": rule.id}))
        for scope_group, unless in self._by_suppressors(rule, scopes):
            base = Grant(kind="pretoken-rule", principal=PrincipalRef("any-user", label="any user"),
                         scopes=scope_group, rule_id=rule.id,
                         client_ids=tuple(when.client_ids) if when is not None and when.client_ids else (),
                         unless_groups=unless[0], unless_users=unless[1])
            for principal, also in self._principals(rule):
                self.grants.append(dataclasses.replace(base, principal=principal, also_in_groups=also))

    def _principals(self, rule: Rule) -> list[tuple[PrincipalRef, tuple[str, ...]]]:
        when = rule.when
        if when is None or (when.groups is None and when.all_groups is None and not _is_user_specific(when)):
            return [(PrincipalRef("any-user", label="any user"), ())]
        if _is_user_specific(when):
            users = _matching_users(self.regime, when)
            named = set(when.users or ())
            known = {u.username for u in self.regime.pool.users} | {u.sub for u in self.regime.pool.users}
            missing = sorted(named - known)
            if missing:
                self.findings.append(Finding(
                    "unknown-user", "review", f"rule {rule.id!r} names users not in the snapshot: "
                    f"{', '.join(missing)}; they get no policy", detail={"rule": rule.id}))
            if when.attributes is not None or when.attributes_present is not None:
                complete = "" if self.regime.pool.users_complete else (
                    " (users in no group were not scanned: rescan with --all-users)")
                self.findings.append(Finding(
                    "attribute-rule", "review",
                    f"rule {rule.id!r} tests user attributes, which AVP does not see on access tokens: materialized "
                    f"as the {len(users)} users who match today{complete}; a user who gains the attribute later gets "
                    "no access until the plan is regenerated (consider a group)",
                    routes=_routes_for(rule.then.add_scopes or (), self.routes),
                    detail={"rule": rule.id, "users": [u.username for u in users]}))
            return [(PrincipalRef("user", u.sub, u.username), ()) for u in users]
        if when.groups is not None:
            also = tuple(when.all_groups or ())
            return [(PrincipalRef("group", g, g), tuple(a for a in also if a != g)) for g in when.groups]
        first, *rest = when.all_groups  # type: ignore[misc]
        return [(PrincipalRef("group", first, first), tuple(rest))]

    def _by_suppressors(self, rule: Rule, scopes: tuple[str, ...]
                        ) -> list[tuple[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]]]:
        """Split a rule's scopes by the unless-clause their suppressing rules call for."""
        groups: dict[tuple[tuple[str, ...], tuple[str, ...]] | None, list[str]] = {}
        for scope in scopes:
            unless_groups: set[str] = set()
            unless_users: set[str] = set()
            everyone = False
            for other in self.regime.rules.rules if self.regime.rules else ():
                if scope not in (other.then.suppress_scopes or ()):
                    continue
                when = other.when
                if when is not None and (when.client_ids or when.trigger_sources or when.all_groups):
                    self.findings.append(Finding(
                        "conditional-suppression", "review",
                        f"rule {other.id!r} suppresses {scope} only for some clients, flows or group combinations; "
                        "the policy applies the suppression to its users whatever the client or flow",
                        routes=_routes_for([scope], self.routes), detail={"rule": other.id}))
                if when is None or (when.groups is None and not _is_user_specific(when) and not when.all_groups):
                    everyone = True
                elif _is_user_specific(when):
                    unless_users.update(u.sub for u in _matching_users(self.regime, when))
                elif when.groups is not None:
                    unless_groups.update(when.groups)
                elif when.all_groups:
                    unless_groups.update(when.all_groups[:1])
            key = None if everyone else (tuple(sorted(unless_groups)), tuple(sorted(unless_users)))
            groups.setdefault(key, []).append(scope)
        return [(tuple(s), key) for key, s in groups.items() if key is not None]

    # --- hosted UI: scopes any user of a client can request --------------------------------------------------

    def _hosted_ui_exposures(self) -> None:
        reach = self.reach
        order = {c.key: n for n, c in enumerate(reach.user_classes)}
        for flow in self.regime.user_flows:
            if flow.kind != "hosted-ui":
                continue
            for scope in sorted(set(flow.requested_scopes) & self.used_scopes):
                # One class per kind that holds the scope alike answers for the kind (ScopeReach).
                exposed = sorted((c for kind in reach.kinds(scope)
                                  if self._only_through(kind.representative, flow.client_id, scope)
                                  for c in kind.members), key=lambda c: order[c.key])
                routes = _routes_for([scope], self.routes)
                if not exposed:
                    self.findings.append(Finding(
                        "latent-exposure", "info",
                        f"app client {flow.client_name} ({flow.client_id}) lets any user request {scope} through the "
                        "hosted UI; every user holds it through the pre-token rules anyway", routes=routes,
                        detail={"client_id": flow.client_id, "client_name": flow.client_name, "scope": scope,
                                "exposed": []}))
                    continue
                action = ("dropped (--tighten): verify lists who loses it" if self.tighten
                          else "preserved by a policy conditioned on this client; --tighten drops it")
                # Named in full up to EXPOSED_NAMED classes; past that (a large pool: nearly every user a combination
                # of their own) the first ones and a count of classes and users keep the finding one readable line.
                users = sum(len(c.examples) for c in exposed)
                shown = ", ".join(c.label for c in exposed[:EXPOSED_NAMED])
                if len(exposed) > EXPOSED_NAMED:
                    shown += f" and {len(exposed) - EXPOSED_NAMED:,} more classes; {users:,} users in all"
                self.findings.append(Finding(
                    "latent-exposure", "review",
                    f"app client {flow.client_name} ({flow.client_id}) lets any user request {scope} through the "
                    f"hosted UI, whatever their groups ({shown} get it only this way): {action}", routes=routes,
                    detail={"client_id": flow.client_id, "client_name": flow.client_name, "scope": scope,
                            "exposed": [c.key for c in exposed[:EXPOSED_KEPT]], "exposed_classes": len(exposed),
                            "exposed_users": users, "tightened": self.tighten}))
                if not self.tighten:
                    self.grants.append(Grant(
                        kind="hosted-ui-exposure", principal=PrincipalRef("any-user", label="any user"),
                        scopes=(scope,), client_ids=(flow.client_id,), require_scope_in_token=True,
                        note=f"hosted UI of app client {flow.client_name}"))

    def _only_through(self, cls: PrincipalClass, client_id: str, scope: str) -> bool:
        tokens = self.regime.tokens(cls)
        through_client = any(t.flow.client_id == client_id and t.flow.kind == "hosted-ui" and scope in t.scopes
                             for t in tokens)
        elsewhere = any(t.flow.kind != "hosted-ui" and scope in t.scopes for t in tokens)
        return through_client and not elsewhere

    # --- machine-to-machine ---------------------------------------------------------------------------------

    def _machine_clients(self) -> None:
        for cls in self.regime.classes:
            if not cls.is_machine:
                continue
            scopes = tuple(sorted({s for t in self.regime.tokens(cls) for s in t.scopes} & self.used_scopes))
            routes = _routes_for(scopes, self.routes)
            self.findings.append(Finding(
                "machine-to-machine", "info",
                f"client-credentials client {cls.examples[0] if cls.examples else cls.client_id} ({cls.client_id}) "
                f"calls {len(routes)} endpoints with its scopes; the authorizer evaluates its tokens with IsAuthorized "
                f"on Client::\"{cls.client_id}\"", routes=routes, detail={"client_id": cls.client_id}))
            # One grant per scope, each requiring that scope in the token: a client-credentials request may ask
            # for some of the client's scopes only, and today's rule (any of the method's scopes in the token)
            # then refuses the methods of the others. A grant of all the client's scopes at once would allow them.
            principal = PrincipalRef("client", cls.client_id or "", cls.examples[0] if cls.examples else "")
            for scope in scopes:
                self.grants.append(Grant(kind="machine-to-machine", principal=principal, scopes=(scope,),
                                         require_scope_in_token=True, note="client credentials"))
