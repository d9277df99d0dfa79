"""`scan --openapi`: an inventory from API Gateway exports, with no AWS call at all.

An export says how each method is authorized, and which user pool each Cognito authorizer names, but nothing
about the pool itself (groups, members, app clients, the trigger). Those pools enter the snapshot known by ARN
only, and the snapshot says so in its warnings; pre-token rules can still be supplied with ``--rules file:...``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from migrate import __version__
from migrate.errors import UserError
from migrate.inventory.model import FORMAT_VERSION, Inventory, ReadRecord, UserPool, parse_user_pool_arn
from migrate.scan.openapi import read_api_export


def scan_exports(paths: Sequence[Path], *, user_pool_arns: Mapping[str, str], stage: str | None = None,
                 rules_source: str | None = None) -> Inventory:
    apis, warnings, provenance = [], [], []
    pool_arns: dict[str, str] = {}
    seen_ids: dict[str, Path] = {}
    for path in paths:
        started = time.perf_counter()
        result = read_api_export(path, user_pool_arns=user_pool_arns)
        if result.api.id in seen_ids:
            raise UserError(f"API id {result.api.id!r} is also the id of {seen_ids[result.api.id]}; "
                            "exports of one API twice?", where=str(path))
        seen_ids[result.api.id] = path
        if stage is not None:
            result.api.stage = stage
        apis.append(result.api)
        warnings.extend(result.warnings)
        for arn in result.user_pool_arns:
            parsed = parse_user_pool_arn(arn)
            if parsed is not None:
                pool_arns.setdefault(parsed[2], arn)
        provenance.append(ReadRecord(part=f"openapi:{path}", source=str(path), calls={},
                                     seconds=round(time.perf_counter() - started, 3)))
    pools = []
    for pool_id, arn in pool_arns.items():
        region, _, _ = parse_user_pool_arn(arn) or ("", "", "")
        pools.append(UserPool(id=pool_id, arn=arn, region=region, known_by_arn_only=True))
        warnings.append(f"user pool {pool_id}: known only by ARN (offline scan): its groups, members, app clients "
                        "and pre-token trigger were not read; scan the account for those")
    if rules_source is not None:
        _attach_rules(pools, rules_source)
    return Inventory(format_version=FORMAT_VERSION, tool_version=__version__,
                     created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
                     apis=apis, user_pools=pools, provenance=provenance, warnings=warnings)


def _attach_rules(pools: list[UserPool], source: str) -> None:
    if not source.startswith("file:"):
        raise UserError("an offline scan (--openapi) reads rules only from file:PATH", where="--rules")
    if len(pools) != 1:
        raise UserError(f"the exports name {len(pools)} user pools; rules belong to exactly one", where="--rules")
    from migrate.scan.aws import read_rules

    pools[0].pretoken_rules = read_rules(source, "option")
