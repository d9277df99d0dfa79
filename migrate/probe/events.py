"""The synthetic events a probe sends: who, in which groups, through which app client and trigger source.

Events are built by :func:`pretoken_lambda.events.build_event` (shared with the embedded Cognito), the documented
pre-token generation event (Cognito developer guide, "Pre token generation Lambda trigger"), so a handler sees
here exactly what it sees from the embedded Cognito.

What is probed (see :func:`plan_probes`), with the default app client and trigger source unless said otherwise:

* no groups; each group alone; each pair of groups;
* each distinct group combination and attribute set of the snapshot's real users (synthetic identity), each
  attribute value alone (no groups), and each real user as themselves (their username and sub), so that an
  answer that depends on who the user is, not on their groups or attributes, shows;
* no groups and each group alone through every other app client, and through every other trigger source;
* for ``V3_0``, a client-credentials request (no user) per app client that can make one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pretoken_lambda.events import build_event
from pretoken_lambda.rules import CLIENT_CREDENTIALS

EVENT_VERSIONS = ("V1_0", "V2_0", "V3_0")
DEFAULT_VERSION = "V2_0"
DEFAULT_SOURCE = "TokenGeneration_Authentication"
# The trigger sources of a user's tokens (Cognito developer guide, "Pre token generation Lambda trigger",
# trigger sources), the default first. Client credentials come only with V3_0 events.
USER_SOURCES = (
    DEFAULT_SOURCE,
    "TokenGeneration_HostedAuth",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
)
SIGNIN_SCOPE = "aws.cognito.signin.user.admin"
# The identity of every synthetic user: fixed, so that answers for synthetic users differ only by what the probe
# varies (groups, attributes, client, trigger source), and never a real user's.
SYNTHETIC_USERNAME = "avp-migrate-probe"
SYNTHETIC_SUB = "00000000-0000-4000-8000-00000000a7b0"
SYNTHETIC_CLIENT_ID = "avp-migrate-probe-client"
PLACEHOLDER_POOL_ID = "us-east-1_AvpProbe0"
PLACEHOLDER_REGION = "us-east-1"

Attributes = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ClientInfo:
    client_id: str
    name: str = ""
    allowed_scopes: tuple[str, ...] = ()
    users_sign_in: bool = True  # users get tokens through it (sign-in API or hosted UI)
    client_credentials: bool = False  # it gets machine tokens (client_credentials grant)
    known: bool = True  # read from a snapshot; False for --client-id or the synthetic client

    @property
    def label(self) -> str:
        return f"{self.name} ({self.client_id})" if self.name else self.client_id


@dataclass(frozen=True)
class UserInfo:
    username: str
    sub: str
    groups: tuple[str, ...] = ()
    attributes: Attributes = ()
    status: str = "CONFIRMED"


@dataclass(frozen=True)
class ProbeTarget:
    """Everything the probe knows about the user pool whose handler it probes."""

    version: str = DEFAULT_VERSION
    region: str = PLACEHOLDER_REGION
    pool_id: str = PLACEHOLDER_POOL_ID
    groups: tuple[str, ...] = ()
    clients: tuple[ClientInfo, ...] = ()
    users: tuple[UserInfo, ...] = ()
    # False when the snapshot lists only group members (users in no group are then not probed one by one).
    users_complete: bool | None = None

    @property
    def default_client(self) -> ClientInfo:
        """The app client of every probe that does not vary the client: the first users sign in with."""
        return next((c for c in self.clients if c.users_sign_in), ClientInfo(SYNTHETIC_CLIENT_ID, known=False))


@dataclass(frozen=True)
class Identity:
    username: str
    sub: str
    real: bool  # a real user of the snapshot (rules may name them); False for the synthetic user


SYNTHETIC_IDENTITY = Identity(SYNTHETIC_USERNAME, SYNTHETIC_SUB, real=False)


@dataclass(frozen=True)
class Probe:
    """One synthetic event: ``kind`` says why it is probed, ``label`` says what it is, in words."""

    kind: str  # baseline, group, pair, combination, attribute, user, client, trigger_source, client_credentials
    label: str
    client: ClientInfo
    trigger_source: str
    identity: Identity | None  # None: client credentials (no user)
    groups: tuple[str, ...] = ()
    attributes: Attributes = ()
    status: str = "CONFIRMED"
    request_scopes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[Any, ...]:
        """Two probes with the same key send the same event."""
        return (self.client.client_id, self.trigger_source, self.identity, frozenset(self.groups),
                self.attributes, self.status)

    @property
    def is_machine(self) -> bool:
        return self.trigger_source == CLIENT_CREDENTIALS

    def user_attributes(self) -> dict[str, str]:
        if self.identity is None:
            return {}
        return {"sub": self.identity.sub, "cognito:user_status": self.status, **dict(self.attributes)}

    def event(self, target: ProbeTarget) -> dict[str, Any]:
        event = build_event(
            version=target.version, trigger_source=self.trigger_source, region=target.region,
            pool_id=target.pool_id, client_id=self.client.client_id,
            username=self.identity.username if self.identity else None, user_attributes=self.user_attributes(),
            groups=list(self.groups), scopes=list(self.request_scopes))
        return event


def request_scopes(client: ClientInfo, trigger_source: str) -> tuple[str, ...]:
    """The scopes Cognito puts in ``request.scopes``: the hosted UI and client credentials issue the scopes the
    client allows (all of them when none is requested; custom scopes only for client credentials); the
    sign-in API issues only ``aws.cognito.signin.user.admin`` (Cognito developer guide, "Understanding the access
    token" and "The token endpoint"; as the embedded Cognito does)."""
    if trigger_source == CLIENT_CREDENTIALS:
        return tuple(s for s in client.allowed_scopes if "/" in s)
    if trigger_source == "TokenGeneration_HostedAuth":
        return client.allowed_scopes or ("openid",)
    return (SIGNIN_SCOPE,)


def _groups_label(groups: Sequence[str]) -> str:
    return "groups " + "+".join(groups) if groups else "no groups"


def _attributes_label(attributes: Attributes) -> str:
    return ", ".join(f"{name}={value}" for name, value in attributes)


def _user_probe(kind: str, label: str, client: ClientInfo, source: str, identity: Identity,
                groups: Iterable[str] = (), attributes: Attributes = (), status: str = "CONFIRMED") -> Probe:
    return Probe(kind=kind, label=label, client=client, trigger_source=source, identity=identity,
                 groups=tuple(groups), attributes=attributes, status=status,
                 request_scopes=request_scopes(client, source))


def plan_probes(target: ProbeTarget) -> list[Probe]:
    """Every probe for ``target``, each event once (see the module docstring), in a stable order."""
    client, source = target.default_client, DEFAULT_SOURCE
    groups = list(dict.fromkeys(target.groups))
    probes: list[Probe] = [_user_probe("baseline", "no groups", client, source, SYNTHETIC_IDENTITY)]
    probes += [_user_probe("group", _groups_label([g]), client, source, SYNTHETIC_IDENTITY, [g]) for g in groups]
    probes += [_user_probe("pair", _groups_label(pair), client, source, SYNTHETIC_IDENTITY, pair)
               for pair in itertools.combinations(groups, 2)]
    for user in target.users:
        label = _groups_label(user.groups) + (f", {_attributes_label(user.attributes)}" if user.attributes else "")
        probes.append(_user_probe("combination", label, client, source, SYNTHETIC_IDENTITY, user.groups,
                                  user.attributes))
    for name, value in sorted({pair for user in target.users for pair in user.attributes}):
        probes.append(_user_probe("attribute", f"no groups, {name}={value}", client, source, SYNTHETIC_IDENTITY,
                                  (), ((name, value),)))
    for user in target.users:
        probes.append(_user_probe("user", f"user {user.username} ({_groups_label(user.groups)})", client, source,
                                  Identity(user.username, user.sub, real=True), user.groups, user.attributes,
                                  user.status))
    for other in target.clients:
        if other.users_sign_in and other.client_id != client.client_id:
            probes += [_user_probe("client", f"client {other.label}, {_groups_label(g)}", other, source,
                                   SYNTHETIC_IDENTITY, g) for g in [[], *[[g] for g in groups]]]
    for other_source in USER_SOURCES[1:]:
        short = other_source.removeprefix("TokenGeneration_")
        probes += [_user_probe("trigger_source", f"{short}, {_groups_label(g)}", client, other_source,
                               SYNTHETIC_IDENTITY, g) for g in [[], *[[g] for g in groups]]]
    if target.version == "V3_0":
        machines = [c for c in target.clients if c.client_credentials] or [client]
        probes += [Probe(kind="client_credentials", label=f"client credentials, client {m.label}", client=m,
                         trigger_source=CLIENT_CREDENTIALS, identity=None,
                         request_scopes=request_scopes(m, CLIENT_CREDENTIALS)) for m in machines]
    unique: dict[tuple[Any, ...], Probe] = {}
    for probe in probes:
        unique.setdefault(probe.key, probe)  # the first (simplest) reason to send an event names it
    return list(unique.values())
