"""What a long account scan has read so far, so that `scan --resume` continues it instead of starting over.

A user pool of 100,000 users takes minutes to read even at Cognito's full request rate (its UserList quota is 30
requests a second), and a scan can stop on the way: Ctrl-C, throttling that outlasts botocore's retries, an
endpoint that goes away. The scanner keeps a checkpoint file next to the snapshot (``<out>.checkpoint``) with
what was fully read:

* the account id and the API Gateway part (every API, whole);
* per user pool: its description, resource servers, groups, app clients, trigger and rules (read together,
  before the members), then the groups whose members were all listed (a prefix of the groups in name order),
  with the users read so far, and for the group being listed its members so far and the pagination token that
  continues it; with ``--all-users``, where ListUsers continues;
* pools finished whole; the provenance records and warnings of what was finished.

Writes are atomic (:mod:`migrate.fileio`) and throttled: at most one every ``MIN_INTERVAL`` seconds and never
more often than 20 times the last write took, so checkpointing costs at most about 5 % of a scan however large
the pool, and one more write when the scan stops. The checkpoint names the scan it belongs to (region, endpoint,
profile, options, tool version); ``--resume`` refuses another scan's, or a damaged one, with one line.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.fileio import atomic_write_text, read_json
from migrate.inventory.model import ReadRecord, RestApi, User, UserPool
from migrate.inventory.serde import SnapshotError, from_jsonable, to_jsonable

KIND = "avp-migrate scan checkpoint"
VERSION = 1
MIN_INTERVAL = 10.0  # seconds between two periodic writes, at least
COST_FACTOR = 20  # ... and at least this many times the last write's duration


def checkpoint_path(out: str | Path) -> Path:
    """The checkpoint of a scan writing ``out``: next to it, so a resumed scan finds it from the same command."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


@dataclass
class ScanKey:
    """What makes two scans the same scan: a checkpoint is only resumed by the scan it was made by."""

    tool_version: str
    region: str
    endpoint_url: str | None
    profile: str | None
    api_ids: list[str]
    stage: str | None
    rules_source: str | None
    all_users: bool
    user_attributes: list[str]


@dataclass
class GroupInProgress:
    """The group being listed: members read so far (not yet merged into the pool's users) and the token."""

    next_token: str
    members: list[User] = field(default_factory=list)


@dataclass
class PoolProgress:
    """A user pool part read: ``pool`` holds everything but the users; members follow in group name order."""

    pool: UserPool
    users: list[User] = field(default_factory=list)  # with the groups of the groups done
    groups_done: int = 0  # pool.groups[:groups_done] are listed whole and merged into users
    group: GroupInProgress | None = None  # pool.groups[groups_done], partly listed
    list_users_token: str | None = None  # --all-users: ListUsers continues here (groups all done)
    calls: dict[str, int] = field(default_factory=dict)  # what this part cost so far
    seconds: float = 0.0


@dataclass
class ScanCheckpoint:
    kind: str
    version: int
    key: ScanKey
    account_id: str
    apis: list[RestApi] | None = None  # None: the API Gateway part was not read whole
    pools_done: list[UserPool] = field(default_factory=list)
    pool: PoolProgress | None = None  # the pool being read
    provenance: list[ReadRecord] = field(default_factory=list)  # of the parts finished
    warnings: list[str] = field(default_factory=list)  # of the parts finished


class CheckpointFile:
    """Reads, checks, writes (throttled) and removes one scan's checkpoint."""

    def __init__(self, path: str | Path, key: ScanKey) -> None:
        self.path = Path(path)
        self.key = key
        self._last_write = time.monotonic()
        self._write_cost = 0.0
        self.writes = 0

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> ScanCheckpoint:
        """The checkpoint, if it is this scan's and whole; a one-line UserError otherwise."""
        where = str(self.path)
        data = read_json(self.path, what="scan checkpoint")
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise UserError("not an avp-migrate scan checkpoint; remove it, or run without --resume", where=where)
        if data.get("version") != VERSION:
            raise UserError(f"checkpoint version {data.get('version')!r} is not this avp-migrate's ({VERSION}); "
                            "run without --resume to start over", where=where)
        try:
            checkpoint = _decode(data)
        except SnapshotError as exc:
            raise UserError(f"damaged checkpoint at {exc}; run without --resume to start over", where=where) from None
        for name, theirs in vars(checkpoint.key).items():
            ours = getattr(self.key, name)
            if theirs != ours:
                raise UserError(f"checkpoint of another scan ({_option_name(name)} {_show(theirs)}, this scan "
                                f"{_show(ours)}); run that scan with --resume, or this one without it",
                                where=where)
        return checkpoint

    def due(self) -> bool:
        """Time for a periodic write: cheap to ask after every page."""
        return time.monotonic() - self._last_write >= max(MIN_INTERVAL, COST_FACTOR * self._write_cost)

    def write(self, checkpoint: ScanCheckpoint) -> None:
        started = time.monotonic()
        # Compact JSON: this file is for the scanner, and large pools make it large.
        atomic_write_text(self.path, json.dumps(_encode(checkpoint), separators=(",", ":"), ensure_ascii=False))
        self._last_write = time.monotonic()
        self._write_cost = self._last_write - started
        self.writes += 1

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# --- users as rows -------------------------------------------------------------------------------------------
# The generic dataclass round trip (migrate.inventory.serde) of 100,000 users takes 1.9 s to write and 1.7 s to
# read back (26 s to read before serde made one decoder per type); as rows, 0.05 s and 0.6 s, and each periodic
# write counts against the scan. Users, the bulk of a checkpoint, are rows:
# [username, sub, enabled, status, attributes, groups], checked field by field when read.


def _row(user: User) -> list[Any]:
    return [user.username, user.sub, user.enabled, user.status, user.attributes, user.groups]


def _user(row: Any, path: str) -> User:
    if not (isinstance(row, list) and len(row) == 6):
        raise SnapshotError(path, "expected a user row [username, sub, enabled, status, attributes, groups]")
    username, sub, enabled, status, attributes, groups = row
    if not (isinstance(username, str) and isinstance(sub, str) and type(enabled) is bool and isinstance(status, str)
            and isinstance(attributes, dict) and all(isinstance(v, str) for v in attributes.values())
            and isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        raise SnapshotError(path, f"malformed user row {str(row)[:80]}")
    return User(username=username, sub=sub, groups=groups, enabled=enabled, status=status, attributes=attributes)


def _encode(checkpoint: ScanCheckpoint) -> dict[str, Any]:
    light = replace(checkpoint, pools_done=[replace(pool, users=[]) for pool in checkpoint.pools_done],
                    pool=None)
    data: dict[str, Any] = to_jsonable(light)
    for encoded, pool in zip(data["pools_done"], checkpoint.pools_done, strict=True):
        encoded["users"] = [_row(u) for u in pool.users]
    progress = checkpoint.pool
    if progress is not None:
        group = progress.group
        data["pool"] = to_jsonable(replace(progress, users=[],
                                           group=replace(group, members=[]) if group is not None else None))
        data["pool"]["users"] = [_row(u) for u in progress.users]
        if group is not None:
            data["pool"]["group"]["members"] = [_row(u) for u in group.members]
    return data


def _rows(holder: Any, key: str, path: str) -> list[User]:
    """Take the user rows out of ``holder[key]`` (leaving an empty list for the generic reader)."""
    if not isinstance(holder, dict) or key not in holder:
        return []
    rows = holder[key]
    if not isinstance(rows, list):
        raise SnapshotError(f"{path}.{key}", "expected a list of user rows")
    holder[key] = []
    return [_user(row, f"{path}.{key}[{i}]") for i, row in enumerate(rows)]


def _decode(data: dict[str, Any]) -> ScanCheckpoint:
    done = data.get("pools_done")
    done_users = ([_rows(pool, "users", f"pools_done[{i}]") for i, pool in enumerate(done)]
                  if isinstance(done, list) else [])
    progress = data.get("pool")
    users = _rows(progress, "users", "pool")
    members = _rows(progress.get("group"), "members", "pool.group") if isinstance(progress, dict) else []
    checkpoint: ScanCheckpoint = from_jsonable(ScanCheckpoint, data)
    for pool, pool_users in zip(checkpoint.pools_done, done_users, strict=False):
        pool.users = pool_users
    if checkpoint.pool is not None:
        checkpoint.pool.users = users
        if checkpoint.pool.group is not None:
            checkpoint.pool.group.members = members
    return checkpoint


def _option_name(field_name: str) -> str:
    return {"tool_version": "avp-migrate version", "endpoint_url": "endpoint", "api_ids": "--api-id",
            "stage": "--stage", "rules_source": "--rules", "all_users": "--all-users",
            "user_attributes": "--user-attribute", "profile": "profile", "region": "region"}.get(field_name,
                                                                                                  field_name)


def _show(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return "given" if value else "not given"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
