"""The authorizer configuration (``authorizer-config.json``): written by `avp-migrate plan`, read by the Lambda
authorizer at cold start. Defined here, in the Lambda package, so both sides share one definition.

Format version 1::

    {
      "format_version": 1,
      "api": {"id": "a1b2c3", "name": "MyApi", "stage": "prod"},
      "namespace": "MyApi",
      "entity_types": {"user": "MyApi::User", "group": "MyApi::UserGroup", "client": "MyApi::Client",
                       "resource": "MyApi::Application", "action": "MyApi::Action"},
      "resource_id": "MyApi",
      "user_pools": [{"id": "us-east-1_Abc", "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc",
                      "client_ids": []}],
      "machine_clients": ["4f2...client id"],
      "default_mode": "scope",
      "routes": {
        "GET /avp": {"actions": {"GET": "get /avp"}, "scopes": ["MyApi/avp.read"], "token_use": "access",
                     "initial_mode": "scope", "machine_to_machine": false},
        "ANY /admin/{proxy+}": {"actions": {"DELETE": "delete /admin/{proxy+}", "GET": "get /admin/{proxy+}", ...},
                                "scopes": ["MyApi/admin"], "token_use": "access", ...}
      }
    }

* ``routes`` is keyed by route key (one per API Gateway method, see :mod:`authorizer.routes`); ``actions`` maps
  each request verb the method serves to its Cedar action id.
* ``scopes`` are the method's ``authorizationScopes`` today; ``token_use`` is what API Gateway's Cognito
  authorizer accepts for it today: ``access`` when it has scopes, ``id`` when it has none.
* ``user_pools[].client_ids``: an optional allow-list of app clients (empty: any client of the pool).
* ``machine_clients``: client-credentials clients; their tokens have no user and are evaluated with
  IsAuthorized on ``<client entity type>::"<client id>"``.
* ``layout`` (optional, default ``actions``): how a request is put to Verified Permissions.
  ``actions``: the console's layout, one Cedar action per method, the resource ``<resource type>::"<resource_id>"``.
  ``routes``: the action is the request verb (``get``), the resource the route itself
  (``<resource type>::"<route key>"``), sent with its ``parents`` (each ``{"type": ..., "id": ...}``: the
  method's scopes, or the group of ID-token routes) in the request's ``entities``; the schema then stays the same
  size whatever the number of methods (see migrate/translate/layouts.py).
* ``api.stage``: the stage the plan was made for. A request whose method ARN names another stage is denied
  (``stage_mismatch``): one REST API authorizer serves every stage of the API, and a stage redeployed from a
  migrated method must not be decided by rules written for another. ``api.stages`` (optional, a list that
  includes ``api.stage``) accepts several stages; readers that predate it ignore it. With neither (``stage``
  null), any stage is accepted.
* The policy store id is not in the file: deploy gives it to the function (environment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FORMAT_VERSION = 1
MODES = ("scope", "shadow", "avp")
LAYOUTS = ("actions", "routes")
TOKEN_USES = ("access", "id")


class ConfigError(ValueError):
    """The configuration document is invalid; the message names the field."""


@dataclass(frozen=True)
class PoolConfig:
    """A user pool whose tokens are accepted (client_ids: an allow-list; empty: any client)."""

    id: str
    issuer: str
    client_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteConfig:
    """One API Gateway method: its Cedar actions per verb, scopes, token use and initial mode."""

    actions: dict[str, str]  # request verb -> Cedar action id
    scopes: tuple[str, ...] = ()
    token_use: str = "access"
    initial_mode: str = "scope"
    machine_to_machine: bool = False
    parents: tuple[tuple[str, str], ...] = ()  # routes layout: the route entity's parents, (type, id)


@dataclass(frozen=True)
class EntityTypes:
    """The Cedar entity type names of the schema (namespace-qualified)."""

    user: str
    group: str
    client: str
    resource: str
    action: str


@dataclass(frozen=True)
class AuthorizerConfig:
    """authorizer-config.json, format version 1 (see the module docstring)."""

    api_id: str
    api_name: str
    stage: str | None
    namespace: str
    entity_types: EntityTypes
    resource_id: str
    user_pools: tuple[PoolConfig, ...]
    routes: dict[str, RouteConfig]
    machine_clients: tuple[str, ...] = ()
    default_mode: str = "scope"
    stages: tuple[str, ...] = ()  # more stages accepted besides ``stage`` (``api.stages``); empty: ``stage`` only
    layout: str = "actions"
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def allowed_stages(self) -> frozenset[str] | None:
        """The stages a request may name; None: any (the configuration names no stage)."""
        if self.stages:
            return frozenset(self.stages)
        return frozenset((self.stage,)) if self.stage else None

    def resource_of(self, route_key: str) -> tuple[str, str]:
        """The Cedar resource (type, id) a request on this route is put to AVP with."""
        return (self.entity_types.resource, route_key if self.layout == "routes" else self.resource_id)

    def to_dict(self) -> dict[str, Any]:
        api: dict[str, Any] = {"id": self.api_id, "name": self.api_name, "stage": self.stage}
        if self.stages:  # written only when set: a configuration without it stays byte for byte as before
            api["stages"] = list(self.stages)
        layout: dict[str, Any] = {"layout": self.layout} if self.layout != "actions" else {}
        return {
            "format_version": self.format_version,
            **layout,
            "api": api,
            "namespace": self.namespace,
            "entity_types": {"user": self.entity_types.user, "group": self.entity_types.group,
                             "client": self.entity_types.client, "resource": self.entity_types.resource,
                             "action": self.entity_types.action},
            "resource_id": self.resource_id,
            "user_pools": [{"id": p.id, "issuer": p.issuer, "client_ids": list(p.client_ids)}
                           for p in self.user_pools],
            "machine_clients": list(self.machine_clients),
            "default_mode": self.default_mode,
            "routes": {
                key: {"actions": dict(r.actions), "scopes": list(r.scopes), "token_use": r.token_use,
                      "initial_mode": r.initial_mode, "machine_to_machine": r.machine_to_machine,
                      **({"parents": [{"type": t, "id": i} for t, i in r.parents]} if self.layout == "routes" else {})}
                for key, r in self.routes.items()
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> AuthorizerConfig:
        if not isinstance(data, dict):
            raise ConfigError("authorizer config: expected a JSON object")
        if data.get("format_version") != FORMAT_VERSION:
            raise ConfigError(f"format_version: expected {FORMAT_VERSION}, got {data.get('format_version')!r}")
        api = _object(data, "api")
        types = _object(data, "entity_types")
        pools = []
        for i, raw in enumerate(_list(data, "user_pools")):
            where = f"user_pools[{i}]"
            if not isinstance(raw, dict):
                raise ConfigError(f"{where}: expected an object")
            pools.append(PoolConfig(id=_string(raw, "id", where), issuer=_string(raw, "issuer", where),
                                    client_ids=tuple(_strings(raw, "client_ids", where))))
        if not pools:
            raise ConfigError("user_pools: at least one user pool is required")
        layout = data.get("layout", "actions")
        if layout not in LAYOUTS:
            raise ConfigError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
        routes = {}
        for key, raw in _object(data, "routes").items():
            where = f"routes[{key!r}]"
            if not isinstance(raw, dict):
                raise ConfigError(f"{where}: expected an object")
            actions = raw.get("actions")
            if not isinstance(actions, dict) or not actions or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in actions.items()):
                raise ConfigError(f"{where}.actions: expected an object of verb -> action id")
            token_use = raw.get("token_use", "access")
            if token_use not in TOKEN_USES:
                raise ConfigError(f"{where}.token_use: expected one of {TOKEN_USES}, got {token_use!r}")
            mode = raw.get("initial_mode", "scope")
            if mode not in MODES:
                raise ConfigError(f"{where}.initial_mode: expected one of {MODES}, got {mode!r}")
            routes[key] = RouteConfig(actions=dict(actions), scopes=tuple(_strings(raw, "scopes", where)),
                                      token_use=token_use, initial_mode=mode,
                                      machine_to_machine=bool(raw.get("machine_to_machine", False)),
                                      parents=_parents(raw, where) if layout == "routes" else ())
        default_mode = data.get("default_mode", "scope")
        if default_mode not in MODES:
            raise ConfigError(f"default_mode: expected one of {MODES}, got {default_mode!r}")
        stage = api.get("stage")
        if stage is not None and (not isinstance(stage, str) or not stage):
            raise ConfigError("api.stage: expected a non-empty string or null")
        stages = _strings(api, "stages", "api")
        if not all(stages) or len(set(stages)) != len(stages):
            raise ConfigError("api.stages: expected distinct non-empty stage names")
        if stages and stage not in stages:
            raise ConfigError(f"api.stages: must include api.stage ({stage!r})")
        return cls(
            api_id=_string(api, "id", "api"), api_name=_string(api, "name", "api"), stage=stage,
            stages=tuple(stages),
            namespace=_string(data, "namespace", ""),
            entity_types=EntityTypes(**{k: _string(types, k, "entity_types")
                                        for k in ("user", "group", "client", "resource", "action")}),
            resource_id=_string(data, "resource_id", ""), user_pools=tuple(pools), routes=routes,
            machine_clients=tuple(_strings(data, "machine_clients", "")), default_mode=default_mode,
            layout=layout,
        )

    @classmethod
    def from_json(cls, text: str) -> AuthorizerConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"authorizer config: invalid JSON at line {exc.lineno} column {exc.colno}") from None
        return cls.from_dict(data)


def _parents(raw: dict[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for i, item in enumerate(_list(raw, "parents", where)):
        at = f"{where}.parents[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: expected an object with type and id")
        out.append((_string(item, "type", at), _string(item, "id", at)))
    return tuple(out)


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _object(data: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{_at(where, key)}: expected an object")
    return value


def _list(data: dict[str, Any], key: str, where: str = "") -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{_at(where, key)}: expected a list")
    return value


def _string(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{_at(where, key)}: expected a non-empty string")
    return value


def _strings(data: dict[str, Any], key: str, where: str) -> list[str]:
    values = _list(data, key, where)
    if not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{_at(where, key)}: expected a list of strings")
    return values
