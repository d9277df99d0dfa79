"""`undeploy`: put every moved method back as it was, then remove what deploy created.

Order (each step only once the previous one holds): restore each moved method's authorization type, authorizer
and scopes (in their order); deploy the stage (callers are back on the Cognito authorizer); delete the API
Gateway authorizer (nothing references it any more); delete the function (its resource policy goes with it);
delete the role (its policies first: IAM refuses to delete a role that has any); delete the mode document;
delete the policy store (everything in it goes with it) unless ``--keep-store``.

Kept on purpose, and said so: the log group (the shadow records are the evidence of the migration) and the
mode ledger's items (an audit log; the table is shared by every API).

A method that is no longer on avp-migrate's authorizer and no longer as it was before the move has been changed
by someone else since: it is left alone, with a note. Like deploy, undeploy saves ``deployment.json`` after each
change, so a failed undeploy can be run again.

**After finalize** (or when a method's original authorizer was deleted by hand) a method cannot go back: API
Gateway cannot bring a deleted authorizer back (a new one would have a new id and is not what the method had).
Such a method stays on the Lambda authorizer, so undeploy also keeps what it depends on (the API Gateway
authorizer, the function, its role, the mode document, the policy store) and ``deployment.json``, which names
them. It restores what it can (methods whose original authorizer still exists, with their original scopes from
``deployment.json``) and says exactly what it can and cannot restore before doing anything
(:attr:`ChangeSet.preamble`): the CLI prints that statement first, with or without ``--yes``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.awsconfig import AwsSession
from migrate.deploy import apigw
from migrate.deploy.changes import Change
from migrate.deploy.context import Context, is_not_found
from migrate.deploy.names import LEDGER_TABLE, Names, partition_of
from migrate.deploy.record import load_record, record_path
from migrate.deploy.runner import ChangeSet
from migrate.errors import UserError

if TYPE_CHECKING:
    from migrate.cutover.ledger import Entry


def plan_undeploy(session: AwsSession, plan_dir: str, *, keep_store: bool) -> ChangeSet:
    folder = Path(plan_dir)
    if not folder.is_dir():
        raise UserError("plan folder not found", where=str(folder))
    record = load_record(folder)
    identity = session.client("sts").get_caller_identity()
    account, caller = identity["Account"], identity["Arn"]
    if (record.account_id, record.region) != (account, session.region):
        raise UserError(f"records account {record.account_id} region {record.region}; you are in account {account} "
                        f"region {session.region} (check --profile/--region)", where=str(record_path(folder)))
    names = Names.make(api_id=record.api_id, stage=record.stage, region=record.region, account_id=account,
                       partition=partition_of(caller), function_name=record.function_name or None)
    ctx = Context(session=session, names=names, record=record, folder=folder, caller_arn=caller)
    if record.api_owner:
        # the API's own template moved the methods (patch-template): reverting that patch puts them back
        ctx.notes.append(f"the methods belong to the API's {record.api_owner} template: revert the avp-migrate "
                         "patch there to put them back on their original authorizers")
        changes, stranded, restorable = [], {}, []
    else:
        changes, stranded, restorable = _api_changes(ctx)
    finalized = _finalize_entry(ctx)
    preamble = _what_can_be_restored(ctx, finalized, stranded, restorable) if finalized or stranded else []
    if stranded:
        # the stranded methods still call the Lambda authorizer: its function, role, mode document and store stay
        _kept_notes(ctx)
        return ChangeSet(ctx=ctx, changes=changes, verb="undeploy", preamble=preamble)
    if record.stack_name:
        # the stack owns the store, the function, its role and log group, the authorizer and the mode parameter
        ctx.notes.append(f"kept what CloudFormation stack {record.stack_name} owns (store, function, authorizer, mode "
                         "parameter): delete the stack to remove them (its ledger table is retained)")
        return ChangeSet(ctx=ctx, changes=changes, verb="undeploy", preamble=preamble)
    changes += _function_changes(ctx)
    changes += _parameter_changes(ctx)
    if keep_store:
        if record.policy_store_id:
            ctx.notes.append(f"kept policy store {record.policy_store_id} (--keep-store); deployment.json keeps "
                             "naming it so the next deploy reuses it")
    else:
        changes += _store_changes(ctx)
    _kept_notes(ctx)
    return ChangeSet(ctx=ctx, changes=changes, verb="undeploy", preamble=preamble)


def _api_changes(ctx: Context) -> tuple[list[Change], dict[str, str], list[str]]:
    """The changes on the API; the routes that cannot go back (route -> their original authorizer, gone); the
    routes that will."""
    client = ctx.client("apigateway")
    record = ctx.record
    try:
        client.get_rest_api(restApiId=record.api_id)
    except Exception as exc:
        if not is_not_found(exc):
            raise
        ctx.notes.append(f"API {record.api_id} no longer exists: nothing to restore on it")
        record.methods, record.authorizer_id = {}, ""
        return [], {}, []
    live = apigw.read_methods(client, record.api_id)
    authorizers = client.get_authorizers(restApiId=record.api_id, limit=500).get("items") or []
    names = {a["id"]: a.get("name", a["id"]) for a in authorizers}
    changes: list[Change] = []
    stranded: dict[str, str] = {}
    restorable: list[str] = []
    for route, moved in list(record.methods.items()):
        found = live.get(route)
        method = (found or {}).get("method") or {}
        original = moved.original
        as_original = {"authorizationType": original.authorizationType, "authorizerId": original.authorizerId,
                       "authorizationScopes": original.authorizationScopes}
        if method.get("authorizationType") == "CUSTOM" and method.get("authorizerId") == record.authorizer_id:
            if original.authorizerId and original.authorizerId not in names:
                stranded[route] = original.authorizerId  # finalize deleted it, or someone did by hand
                continue
            restorable.append(route)
            changes.append(Change("update", f"apigateway method {route}",
                                  f"{apigw.describe_method(method, names)} -> "
                                  f"{apigw.describe_method(as_original, names)}",
                                  apply=_restorer(ctx, client, route)))
            continue
        del record.methods[route]  # nothing of ours to undo on it
        if found is None:
            ctx.notes.append(f"{route} no longer exists on the API")
        elif (method.get("authorizationType"), method.get("authorizerId"),
              list(method.get("authorizationScopes") or [])) != (original.authorizationType, original.authorizerId,
                                                                 original.authorizationScopes):
            ctx.notes.append(f"left alone: {route} was changed since deploy (now "
                             f"{apigw.describe_method(method, names)})")
    if changes or (not record.deployed_at and record.authorizer_id):
        def deploy() -> None:
            client.create_deployment(restApiId=record.api_id, stageName=record.stage,
                                     description="avp-migrate undeploy: methods back on their original authorizers")
            record.deployed_at = datetime.now(UTC).isoformat(timespec="seconds")

        changes.append(Change("create", f"apigateway deployment of stage {record.stage}",
                              "callers are back on the original authorizers", apply=deploy))
    if stranded or record.stack_name:
        pass  # the stranded methods still use it; a stack's authorizer is the stack's to delete
    elif record.authorizer_id and record.authorizer_id in names:
        def delete_authorizer() -> None:
            client.delete_authorizer(restApiId=record.api_id, authorizerId=record.authorizer_id)
            record.authorizer_id = ""

        changes.append(Change("delete", f"apigateway authorizer {names[record.authorizer_id]} "
                              f"({record.authorizer_id})", apply=delete_authorizer))
    else:
        record.authorizer_id = ""
    return changes, stranded, restorable


def _what_can_be_restored(ctx: Context, finalized: Entry | None, stranded: dict[str, str],
                          restorable: list[str]) -> list[str]:
    """The statement undeploy makes before doing anything after finalize, or when some methods cannot go back."""
    record = ctx.record
    details = (finalized.details or {}) if finalized else {}
    deleted_by_finalize = set(details.get("authorizers_deleted") or [])
    scopes_removed = details.get("scopes_removed") or {}
    lines = [("undeploy after finalize (ledger version "
              f"{finalized.version}, {finalized.at or 'unknown time'}, by {finalized.who or 'unknown'})"
              if finalized else "undeploy")
             + ": what it can and cannot restore"]
    by_authorizer: dict[str, list[str]] = {}
    for route, authorizer_id in sorted(stranded.items()):
        by_authorizer.setdefault(authorizer_id, []).append(route)
    for authorizer_id, routes in by_authorizer.items():
        how = ("deleted by finalize" if authorizer_id in deleted_by_finalize
               else "no longer on the API (deleted outside avp-migrate)")
        lines.append(f"  cannot restore: the original authorizer {authorizer_id}, {how}: API Gateway cannot bring a "
                     "deleted authorizer back")
        lines.append(f"  cannot restore: {', '.join(routes)} to authorizer {authorizer_id}: they stay on the Lambda "
                     "authorizer, in the mode the ledger gives them")
        removed = [r for r in routes if r in scopes_removed]
        if removed:
            lines.append(f"  the scopes finalize removed from {', '.join(removed)} are not put back on them either "
                         f"(deployment.json keeps each method's original scopes)")
    if not stranded:
        lines.append("  cannot restore: nothing (every moved method's original authorizer is still there)")
    else:
        kept = [f"API Gateway authorizer {record.authorizer_id}"] if record.authorizer_id else []
        kept += [f"{what} {name}" for what, name in (("function", record.function_name), ("role", record.role_name),
                                                     ("mode parameter", record.mode_parameter),
                                                     ("policy store", record.policy_store_id)) if name]
        lines.append(f"  kept, because those endpoints depend on them: {', '.join(kept) or 'nothing'}; "
                     f"{ctx.record_file} stays and names them")
    for route in restorable:
        original = record.methods[route].original
        scopes = f" [{', '.join(original.authorizationScopes)}]" if original.authorizationScopes else ""
        why = ("its original authorizer still exists" if original.authorizerId else "it had no authorizer to lose")
        if scopes:
            why += ("; finalize removed its scopes, they come back from deployment.json" if route in scopes_removed
                    else "; its scopes come from deployment.json")
        lines.append(f"  can restore: {route} to {original.authorizationType}"
                     + (f" {original.authorizerId}" if original.authorizerId else "") + f"{scopes} ({why})")
    if stranded and not restorable:
        lines.append("  can restore: nothing (no moved method's original authorizer is left)")
    if stranded:
        lines.append("  to go back to Cognito for the others: create a Cognito authorizer (the inventory snapshot has "
                     "the old one's configuration), put those methods on it with their original scopes "
                     "(deployment.json lists them), deploy the stage; undeploy then removes the rest")
    return lines


def _finalize_entry(ctx: Context) -> Entry | None:
    """The newest finalize entry of the mode ledger, if there is one (and the ledger can be read)."""
    from migrate.cutover.ledger import Ledger

    if not ctx.record.ledger_table:
        return None
    try:
        history = Ledger(ctx.client("dynamodb"), ctx.record.ledger_table, ctx.names.ledger_pk).history()
    except Exception as exc:
        if is_not_found(exc):
            return None
        raise
    return next((entry for entry in reversed(history) if entry.action == "finalize"), None)


def _restorer(ctx: Context, client: Any, route: str) -> Any:
    def restore() -> None:
        moved = ctx.record.methods[route]
        ctx.record.deployed_at = ""  # restored but not deployed yet: a re-run deploys the stage
        client.update_method(restApiId=ctx.record.api_id, resourceId=moved.resource_id,
                             httpMethod=moved.http_method, patchOperations=apigw.restore_patches(moved.original))
        del ctx.record.methods[route]

    return restore


def _function_changes(ctx: Context) -> list[Change]:
    record, lam, iam = ctx.record, ctx.client("lambda"), ctx.client("iam")
    changes: list[Change] = []
    if record.function_name and _exists(lambda: lam.get_function(FunctionName=record.function_name)):
        def delete_function() -> None:
            try:
                lam.delete_function(FunctionName=record.function_name)
            except Exception as exc:
                if not is_not_found(exc):
                    raise
            record.function_name = record.function_arn = ""

        changes.append(Change("delete", f"lambda function {record.function_name}",
                              "with its permission for API Gateway", apply=delete_function))
    else:
        record.function_name = record.function_arn = ""
    if record.role_name and _exists(lambda: iam.get_role(RoleName=record.role_name)):
        inline = list(iam.list_role_policies(RoleName=record.role_name).get("PolicyNames") or [])
        attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=record.role_name)
                    .get("AttachedPolicies") or []]

        def delete_role() -> None:
            for name in inline:
                iam.delete_role_policy(RoleName=record.role_name, PolicyName=name)
            for arn in attached:
                iam.detach_role_policy(RoleName=record.role_name, PolicyArn=arn)
            iam.delete_role(RoleName=record.role_name)
            record.role_name = ""

        changes.append(Change("delete", f"iam role {record.role_name}",
                              f"with its policies ({', '.join(inline + attached) or 'none'})", apply=delete_role))
    else:
        record.role_name = ""
    return changes


def _parameter_changes(ctx: Context) -> list[Change]:
    record, ssm = ctx.record, ctx.client("ssm")
    if not record.mode_parameter or not _exists(lambda: ssm.get_parameter(Name=record.mode_parameter)):
        record.mode_parameter = ""
        return []

    def delete() -> None:
        try:
            ssm.delete_parameter(Name=record.mode_parameter)
        except Exception as exc:
            if not is_not_found(exc):
                raise
        record.mode_parameter = ""

    return [Change("delete", f"ssm parameter {record.mode_parameter}", "the mode document", apply=delete)]


def _store_changes(ctx: Context) -> list[Change]:
    record, avp = ctx.record, ctx.client("verifiedpermissions")
    if not record.policy_store_id or not _exists(lambda: avp.get_policy_store(policyStoreId=record.policy_store_id)):
        record.policy_store_id, record.identity_source_id, record.policies = "", "", {}
        return []

    def delete() -> None:
        avp.delete_policy_store(policyStoreId=record.policy_store_id)
        record.policy_store_id, record.identity_source_id, record.policies = "", "", {}

    return [Change("delete", f"verifiedpermissions policy store {record.policy_store_id}",
                   f"with its schema, identity source and {len(record.policies)} policies", apply=delete)]


def _kept_notes(ctx: Context) -> None:
    record = ctx.record
    if record.log_group:
        ctx.notes.append(f"kept log group {record.log_group}: the shadow records (delete it when you no longer need "
                         "the evidence)")
    if record.ledger_table:
        ddb = ctx.client("dynamodb")
        try:
            count = ddb.query(TableName=LEDGER_TABLE, KeyConditionExpression="pk = :pk", Select="COUNT",
                              ExpressionAttributeValues={":pk": {"S": ctx.names.ledger_pk}}).get("Count", 0)
        except Exception as exc:
            if not is_not_found(exc):
                raise
            return
        ctx.notes.append(f"kept dynamodb table {LEDGER_TABLE} and its {count} item(s) for {ctx.names.ledger_pk}: the "
                         "mode audit log (the table is shared by every API)")


def _exists(read: Any) -> bool:
    try:
        read()
        return True
    except Exception as exc:
        if is_not_found(exc):
            return False
        raise


def finish(change_set: ChangeSet, *, keep_store: bool) -> str:
    """After a complete undeploy: remove deployment.json, or keep it naming only the kept store (or, after
    finalize, what the methods that could not go back still use)."""
    ctx = change_set.ctx
    record = ctx.record
    if record.methods:
        ctx.save()
        return f"kept {ctx.record_file}: it names what undeploy could not remove"
    if keep_store and record.policy_store_id:
        record.deployed_at = ""
        ctx.save()
        return f"kept {ctx.record_file} (it names the kept policy store)"
    if ctx.record_file.exists():
        ctx.record_file.unlink()
    return f"removed {ctx.record_file}"
