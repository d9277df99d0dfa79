"""`scan --template` / `scan --terraform`: one inventory from infrastructure-as-code files, with no AWS call.

Each file is read by :mod:`migrate.scan.template` or :mod:`migrate.scan.terraform`; this module puts the reads
together the way :mod:`migrate.scan.offline` does for exports: APIs side by side (an id twice is refused), the
user pools the files define with what the files say about them, and pools that authorizers only name by ARN
entered as known by ARN only (and said so).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from migrate import __version__
from migrate.errors import UserError
from migrate.inventory.model import FORMAT_VERSION, Inventory, ReadRecord, UserPool, parse_user_pool_arn
from migrate.scan.template import TemplateRead, read_template, template_exports
from migrate.scan.terraform import read_terraform

PARAMETER_OPTION = "--parameter"


def parse_parameters(items: Sequence[str]) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"expected KEY=VALUE, got {item!r}", where=PARAMETER_OPTION)
        if key in parameters and parameters[key] != value:
            raise UserError(f"{key} given twice ({parameters[key]!r} and {value!r})", where=PARAMETER_OPTION)
        parameters[key] = value
    return parameters


def scan_iac(templates: Sequence[Path], terraform: Sequence[Path], *, parameters: Mapping[str, str],
             stage: str | None = None, rules_source: str | None = None) -> Inventory:
    if parameters and not templates:
        raise UserError("only meaningful with --template (a Terraform state or plan holds its own values)",
                        where=PARAMETER_OPTION)
    reads: list[tuple[str, TemplateRead, float]] = []
    # Stacks that import each other's exports (a pool stack, an API stack) are read together: first every
    # template's known exports and pools, then each template with the others' in hand.
    exports: dict[str, str] = {}
    pools_by_id: dict[str, str] = {}
    exported_by: dict[str, Path] = {}
    for path in templates:
        found, pools_found = template_exports(path, parameters)
        for name, value in found.items():
            if name in exports and exports[name] != value:
                raise UserError(f"export {name!r} is also exported by {exported_by[name]}", where=str(path))
            exports[name], exported_by[name] = value, path
        pools_by_id.update(pools_found)
    for path in templates:
        started = time.perf_counter()
        read = read_template(path, parameters, imports=exports, foreign_pools=pools_by_id)
        reads.append((f"template:{path}", read, time.perf_counter() - started))
    for path in terraform:
        started = time.perf_counter()
        reads.append((f"terraform:{path}", read_terraform(path), time.perf_counter() - started))
    unused = sorted(set(parameters) - {key for _, read, _ in reads for key in read.used_parameters})
    if unused:
        raise UserError(f"{', '.join(unused)}: no template refers to {'it' if len(unused) == 1 else 'them'} "
                        "(a parameter, pseudo parameter, logical id, LogicalId.Attribute or export name)",
                        where=PARAMETER_OPTION)
    apis, warnings, provenance, pools = [], [], [], []
    api_sources: dict[str, str] = {}
    pool_sources: dict[str, str] = {}
    for part, read, seconds in reads:
        for api in read.apis:
            if api.id in api_sources:
                raise UserError(f"API id {api.id!r} is also the id of an API in {api_sources[api.id]}; give "
                                f"{PARAMETER_OPTION} LOGICAL_ID=API_ID to tell them apart", where=part)
            api_sources[api.id] = part
            if stage is not None:
                if api.stages and stage not in api.stages:
                    raise UserError(f"API {api.id} has no stage {stage!r} (stages: {', '.join(api.stages)})",
                                    where="--stage")
                api.stage = stage
            apis.append(api)
        for pool in read.pools:
            if pool.id in pool_sources:
                raise UserError(f"user pool {pool.id!r} is also defined in {pool_sources[pool.id]}", where=part)
            pool_sources[pool.id] = part
            pools.append(pool)
        warnings.extend(read.warnings)
        provenance.append(ReadRecord(part=part, source=part.split(":", 1)[1], calls={}, seconds=round(seconds, 3)))
    known = {p.id for p in pools} | {p.arn for p in pools}
    for api in apis:
        for authorizer in api.authorizers:
            for arn in authorizer.provider_arns:
                parsed = parse_user_pool_arn(arn)
                if arn in known or parsed is None or parsed[2] in known:
                    continue
                pools.append(UserPool(id=parsed[2], arn=arn, region=parsed[0], known_by_arn_only=True))
                known |= {parsed[2], arn}
                warnings.append(f"user pool {parsed[2]}: named by authorizer {authorizer.name} of API {api.id} but "
                                "not defined in the files read: known only by ARN; read its template too, or scan "
                                "the account")
    _rules(pools, rules_source, warnings)
    return Inventory(format_version=FORMAT_VERSION, tool_version=__version__,
                     created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
                     region=parameters.get("AWS::Region"), account_id=parameters.get("AWS::AccountId"),
                     apis=apis, user_pools=pools, provenance=provenance, warnings=warnings)


def _rules(pools: list[UserPool], source: str | None, warnings: list[str]) -> None:
    from migrate.scan.aws import read_rules

    if source is not None:
        if not source.startswith("file:"):
            raise UserError("reading templates offline, rules are read only from file:PATH", where="--rules")
        defined = [p for p in pools if not p.known_by_arn_only]
        if len(defined) != 1:
            raise UserError(f"the files define {len(defined)} user pools; rules belong to exactly one",
                            where="--rules")
        defined[0].pretoken_rules = read_rules(source, "option")
        return
    for pool in pools:
        trigger = pool.pretoken_trigger
        if trigger is None:
            continue
        if trigger.recognised and not trigger.rules_source:
            warnings.append(f"user pool {pool.id}: its pre-token trigger is avp-migrate's pretoken_lambda, but where "
                            "it reads its rules is only known at deploy time; give them with --rules file:PATH")
        elif trigger.rules_source:
            warnings.append(f"user pool {pool.id}: its pre-token trigger is avp-migrate's pretoken_lambda, reading "
                            f"rules from {trigger.rules_source}, which an offline scan does not fetch; give them "
                            "with --rules file:PATH")
        else:
            warnings.append(f"user pool {pool.id}: pre-token trigger {trigger.lambda_arn} is not avp-migrate's "
                            "pretoken_lambda: its rules are unknown; describe them with --rules file:PATH (or derive "
                            "them with `avp-migrate probe`)")
