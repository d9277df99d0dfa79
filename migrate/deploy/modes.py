"""The mode document (SSM) and the mode ledger (DynamoDB) as deploy leaves them.

The mode document, one SSM String parameter per API and stage, in the format :mod:`authorizer.modes` reads::

    {"version": 1, "default": "scope", "routes": {"GET /avp": "shadow", ...}}

The ledger, table ``avp-migrate-modes`` (partition key ``pk`` = ``"<api_id>#<stage>"``, sort key ``version``
(N)), holds one item per version of the document; ``cutover``/``rollback`` own every later item. Deploy creates
the table when it is missing (on-demand capacity) and writes, in the item shape :mod:`migrate.cutover.ledger`
reads and writes (same field names, same document spelling)::

    {"pk": "a1b2c3#prod", "version": 1, "document": "<the JSON text written to SSM>", "action": "deploy",
     "at": "<UTC ISO 8601>", "who": "<caller ARN>", "routes": ["GET /avp", ...],
     "from": {"GET /avp": "scope", ...}, "to": {"GET /avp": "shadow", ...}, "reason": "avp-migrate deploy ..."}

(packed past 64 KB, as :func:`migrate.cutover.ledger.ledger_item` writes every item; the item and the parameter's
tier are checked against DynamoDB's and SSM's limits when the change set is computed, so ``--dry-run`` refuses
what the apply would), with ``attribute_not_exists(version)``, so two writers can never both write one version; the
ledger item is written before the parameter, so the parameter never holds a version the ledger does not explain.

A document that already exists is never reset: a re-run of deploy would otherwise undo cut-overs. The current
document is the ledger's newest (the source of truth; SSM may lag behind while a cut-over publishes), else the
parameter's. Only routes newly selected with ``--endpoint`` that it does not list are added (as ``shadow``), as
the next version; when the parameter lags behind the ledger, deploy publishes the ledger's newest. After an
undeploy (which deletes the parameter but keeps the ledger) the next deploy starts a fresh document numbered
after the ledger's newest version instead of rewriting version 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authorizer.modes import ModeDocument, ModeDocumentError
from migrate.cutover.ledger import Entry, Ledger, document_text, ledger_item
from migrate.cutover.limits import ssm_tier
from migrate.cutover.publish import published_text
from migrate.deploy.changes import Change
from migrate.deploy.context import Context, error_code, is_not_found
from migrate.deploy.names import LEDGER_TABLE
from migrate.errors import UserError

LEDGER_KEY_SCHEMA = {("pk", "HASH"): "S", ("version", "RANGE"): "N"}


@dataclass
class ModePlan:
    document: dict[str, Any]  # what the parameter holds after this deploy
    changes: list[Change]


def plan_modes(ctx: Context, routes: list[str], mode: str, route_keys: tuple[str, ...] = ()) -> ModePlan:
    """``route_keys``: every route of the configuration (the compact spelling of a large document uses them)."""
    ddb, ssm = ctx.client("dynamodb"), ctx.client("ssm")
    changes: list[Change] = []
    table_exists = _check_table(ddb)
    if not table_exists:
        changes.append(Change("create", f"dynamodb table {LEDGER_TABLE}",
                              "pk (S) + version (N), on-demand: the mode ledger of every API",
                              apply=lambda: _create_table(ctx, ddb)))
    latest = _latest(ctx, ddb) if table_exists else None
    published = _current_document(ctx, ssm, route_keys)
    if published is not None:
        ctx.record.mode_parameter = ctx.names.mode_parameter
    if latest is not None:
        ctx.record.ledger_table = LEDGER_TABLE
    if published is None:
        # First deploy, or the first after an undeploy: a fresh document, numbered after the ledger's newest.
        base: dict[str, Any] | None = None
    elif latest is not None and int(latest.get("version") or 0) >= int(published.get("version") or 0):
        base = latest  # the ledger is the source of truth; SSM may lag behind it (a cut-over publishing)
    else:
        base = published
    newest = max(int((latest or {}).get("version") or 0), int((published or {}).get("version") or 0))
    listed = (base or {}).get("routes") or {}
    added = [r for r in routes if r not in listed]
    if base is not None and not added:
        if latest is None:  # a document the ledger does not explain (its table was emptied): record it as is
            changes.append(_ledger_change(ctx, ddb, base, {}, mode))
        elif document_text(base) != document_text(published or {}):
            changes.append(_parameter_change(ctx, ssm, base, route_keys, overwrite=True,
                                             why="SSM lags behind the ledger: publish its newest"))
        return ModePlan(base, changes)
    default = str((base or {}).get("default") or "scope")
    document = {**(base or {"default": "scope"}), "version": newest + 1,
                "routes": {**listed, **{r: mode for r in added}}}
    changes.append(_ledger_change(ctx, ddb, document, {r: default for r in added}, mode))
    changes.append(_parameter_change(ctx, ssm, document, route_keys, overwrite=published is not None, why=""))
    return ModePlan(document, changes)


def _ledger_change(ctx: Context, ddb: Any, document: dict[str, Any], before: dict[str, str], mode: str) -> Change:
    version = int(document["version"])
    text = document_text(document)
    item = _ledger_item(ctx, version, text, before, mode)  # the apply's own item: refused now if too large
    detail = f"version {version}, audit deploy: {len(before)} route(s) -> {mode}" + (
        f" ({len(item['packed']['B'])} bytes packed: {len(text)} bytes of document)" if "packed" in item else "")
    return Change("create", f"dynamodb item {LEDGER_TABLE}[pk={ctx.names.ledger_pk}, version={version}]", detail,
                  apply=lambda: _write_ledger(ctx, ddb, version, text, before, mode))


def _parameter_change(ctx: Context, ssm: Any, document: dict[str, Any], route_keys: tuple[str, ...], *,
                      overwrite: bool, why: str) -> Change:
    routes = document.get("routes") or {}
    modes = list(routes.values())
    counts = ", ".join(f"{modes.count(each)} {each}" for each in sorted(set(modes)))
    text = published_text(document, route_keys)
    ssm_tier(text, where=f"ssm parameter {ctx.names.mode_parameter}")  # the apply's own check, before any change
    return Change("update" if overwrite else "create", f"ssm parameter {ctx.names.mode_parameter}",
                  f"version {document['version']}: default {document.get('default', 'scope')}"
                  + (f", {counts}" if counts else "") + (f" ({why})" if why else ""),
                  apply=lambda: _write_parameter(ctx, ssm, text, overwrite=overwrite))


def _check_table(ddb: Any) -> bool:
    try:
        table = ddb.describe_table(TableName=LEDGER_TABLE)["Table"]
    except Exception as exc:
        if is_not_found(exc):
            return False
        raise
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions") or []}
    keys = {(k["AttributeName"], k["KeyType"]): types.get(k["AttributeName"]) for k in table.get("KeySchema") or []}
    if keys != LEDGER_KEY_SCHEMA:
        raise UserError(f"exists with another key schema ({sorted(keys)}); the mode ledger needs pk (S, HASH) and "
                        "version (N, RANGE)", where=f"dynamodb table {LEDGER_TABLE}")
    return True


def _create_table(ctx: Context, ddb: Any) -> None:
    ddb.create_table(TableName=LEDGER_TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "version", "AttributeType": "N"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "version", "KeyType": "RANGE"}])
    ctx.record.ledger_table = LEDGER_TABLE
    # A new table is CREATING for a while and refuses writes until ACTIVE (DynamoDB developer guide).
    ddb.get_waiter("table_exists").wait(TableName=LEDGER_TABLE, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def _current_document(ctx: Context, ssm: Any, route_keys: tuple[str, ...]) -> dict[str, Any] | None:
    name = ctx.names.mode_parameter
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        document = None
    try:
        parsed = ModeDocument.from_dict(document, source=f"ssm:{name}", route_keys=route_keys or None)
    except ModeDocumentError as exc:
        raise UserError(f"holds an invalid mode document ({exc}); fix or delete it",
                        where=f"ssm parameter {name}") from None
    # the readable spelling, whichever one SSM holds
    return {"version": parsed.version, "default": parsed.default, "routes": dict(parsed.routes)}


def _latest(ctx: Context, ddb: Any) -> dict[str, Any] | None:
    """The newest ledger document of this API stage (strongly consistent, read as migrate.cutover.ledger reads
    it: readable or packed)."""
    entry = Ledger(ddb, LEDGER_TABLE, ctx.names.ledger_pk).latest()
    return None if entry is None else {**entry.document, "version": entry.version}


def _ledger_item(ctx: Context, version: int, text: str, before: dict[str, str], mode: str) -> dict[str, Any]:
    """The item deploy writes, in migrate.cutover.ledger's shape (packed when large); a UserError when DynamoDB
    would refuse it. Called when the change set is computed and again when it is applied."""
    routes = tuple(before)
    reason = f"avp-migrate deploy --mode {mode}"
    details = None
    gate = ctx.record.gate
    if gate is not None and gate.acceptance is not None:  # the audit log says who deployed what unproven, and why
        accepted = gate.acceptance
        reason = f"avp-migrate deploy --mode {mode} --accept {accepted.file}: {accepted.reason}"
        details = {"acceptance": {
            "file": accepted.file, "sha256": accepted.sha256, "reason": accepted.reason,
            "accepted_by": accepted.accepted_by, "os_user": accepted.os_user, "verdict": accepted.verdict,
            "items": list(accepted.items)}}
    entry = Entry(version=version, document=json.loads(text), at=datetime.now(UTC).isoformat(timespec="seconds"),
                  who=ctx.caller_arn, action="deploy", routes=routes, before=dict(before),
                  after=dict.fromkeys(routes, mode), reason=reason, details=details)
    return ledger_item(ctx.names.ledger_pk, entry, where=f"dynamodb table {LEDGER_TABLE}")


def _write_ledger(ctx: Context, ddb: Any, version: int, text: str, before: dict[str, str], mode: str) -> None:
    ctx.record.ledger_table = LEDGER_TABLE
    item = _ledger_item(ctx, version, text, before, mode)
    try:
        ddb.put_item(TableName=LEDGER_TABLE, Item=item, ConditionExpression="attribute_not_exists(version)")
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise UserError(f"version {version} was written by someone else meanwhile (a cut-over?); run deploy "
                            "again", where=f"dynamodb table {LEDGER_TABLE}") from None
        raise


def _write_parameter(ctx: Context, ssm: Any, text: str, *, overwrite: bool) -> None:
    ctx.record.mode_parameter = ctx.names.mode_parameter
    tier = ssm_tier(text, where=f"ssm parameter {ctx.names.mode_parameter}")
    extra = {"Tier": tier} if tier != "Standard" else {}
    ssm.put_parameter(Name=ctx.names.mode_parameter, Value=text, Type="String", Overwrite=overwrite,
                      Description="avp-migrate mode document (scope/shadow/avp per route)", **extra)
