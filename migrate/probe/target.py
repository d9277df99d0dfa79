"""What the probe knows about the user pool: from the inventory snapshot and the command-line options."""

from __future__ import annotations

from collections.abc import Sequence

from migrate.errors import UserError
from migrate.inventory import AppClient, Inventory, UserPool
from migrate.probe.events import (
    DEFAULT_VERSION,
    EVENT_VERSIONS,
    PLACEHOLDER_POOL_ID,
    PLACEHOLDER_REGION,
    ClientInfo,
    ProbeTarget,
    UserInfo,
)


def choose_pool(inventory: Inventory, pool_id: str | None, *, where: str) -> UserPool | None:
    """The snapshot's user pool to probe: ``pool_id``, else the only pool (None when the snapshot has none)."""
    pools = inventory.user_pools
    if pool_id is not None:
        pool = inventory.user_pool(pool_id)
        if pool is None:
            known = ", ".join(p.id for p in pools) or "none"
            raise UserError(f"user pool {pool_id!r} is not in the snapshot (pools: {known})", where="--user-pool-id")
        return pool
    if len(pools) > 1:
        raise UserError("the snapshot has several user pools (" + ", ".join(p.id for p in pools)
                        + "): choose one with --user-pool-id", where=where)
    return pools[0] if pools else None


def _client_info(client: AppClient) -> ClientInfo:
    # A client only for machines has the client_credentials flow and no way for a user to sign in (Cognito does
    # not allow client_credentials beside the code or implicit flows in one client; refresh alone signs no one in).
    sign_in_flows = [f for f in client.explicit_auth_flows if f != "ALLOW_REFRESH_TOKEN_AUTH"]
    users = bool(client.user_oauth_flows or sign_in_flows or not client.is_client_credentials)
    return ClientInfo(client_id=client.client_id, name=client.name, allowed_scopes=tuple(client.allowed_oauth_scopes),
                      users_sign_in=users, client_credentials=client.is_client_credentials, known=True)


def build_target(*, pool: UserPool | None, groups: Sequence[str] = (), client_ids: Sequence[str] = (),
                 version: str | None = None) -> ProbeTarget:
    """The probe target: the pool's groups, clients, users and trigger version, plus the options' groups and
    clients (added after the snapshot's); ``version`` wins over the pool's trigger version."""
    if version is not None and version not in EVENT_VERSIONS:
        raise UserError(f"unknown event version {version!r} (choose {', '.join(EVENT_VERSIONS)})", where="--version")
    trigger = pool.pretoken_trigger if pool is not None else None
    event_version = version or (trigger.version if trigger is not None else None) or DEFAULT_VERSION
    all_groups = [g.name for g in pool.groups] if pool is not None else []
    all_groups += [g for g in groups if g not in all_groups]
    clients = [_client_info(c) for c in pool.clients] if pool is not None else []
    known_ids = {c.client_id for c in clients}
    # A client given only by id: whether users or machines use it is unknown, so both are probed.
    clients += [ClientInfo(client_id=c, users_sign_in=True, client_credentials=True, known=False)
                for c in dict.fromkeys(client_ids) if c not in known_ids]
    users = []
    for user in pool.users if pool is not None else ():
        if not user.enabled:
            continue  # a disabled user gets no tokens
        users.append(UserInfo(username=user.username, sub=user.sub, groups=tuple(user.groups),
                              attributes=tuple(sorted((k, v) for k, v in user.attributes.items() if k != "sub")),
                              status=user.status or "CONFIRMED"))
    return ProbeTarget(
        version=event_version,
        region=(pool.region if pool is not None and pool.region else PLACEHOLDER_REGION),
        pool_id=pool.id if pool is not None else PLACEHOLDER_POOL_ID,
        groups=tuple(all_groups), clients=tuple(clients), users=tuple(users),
        users_complete=pool.users_complete if pool is not None else None)
