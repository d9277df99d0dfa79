"""`avp-migrate plan`: translate, check, and write the plan folder.

The plan folder (all written at once: a failed plan leaves nothing behind)::

    schema.json             Cedar JSON schema (what AVP's PutSchema and CloudFormation take)
    schema.cedarschema      the same in Cedar's schema syntax, for people
    policies/NNN-*.cedar    one policy per file, formatted, annotated (@id, @kind, @rule, @scopes)
    authorizer-config.json  per route: Cedar actions, required scopes, token type today, initial mode "scope"
    cloudformation.json     the whole migration as a CloudFormation template: AVP store (STRICT), schema, identity
                            source, policies; the authorizer's function, role, log group, REQUEST authorizer and
                            permission; the mode parameter and the retained ledger table (cloudformation-policies-NN
                            .json: nested stacks of policies, past CloudFormation's 1 MB or 500 resources)
    terraform/*.tf          the same migration as a Terraform module (migrate.iac.terraform)
    plan.json               everything the reports need (format below), machine-readable
    report.md / report.html / routes.csv / report.json   the migration plan report (reports/)
    inventory.json          the inventory snapshot the plan was made from (deploy re-verifies against it)
    manifest.json           sha256 of every file above, written last (see migrate.plan_folder)

``plan.json`` (format_version 1): ``api``, ``user_pool``, ``namespace``, ``layout``, ``tighten``, ``inventory``
(path, created_at), ``summary`` (routes by status), ``routes[]`` (route, authorization_type, scopes, token_use,
actions, status, reasons, today/after: principal classes with up to 20 example users and their count ``users``,
users_today/users_after: every real user who can call it, policies, backend_claims), ``principal_classes[]``,
``populations`` (real group combinations decided through the classes of their groups, and their users),
``findings[]``, ``differences[]`` (up to 20 examples, ``users``: how many it reaches), ``token_mismatches[]``,
``quotas[]``, ``equivalence`` (equivalent, decisions, seconds), ``next_steps[]``. Every user by name:
``avp-migrate verify --users FILE``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cedarpy

from migrate import __version__
from migrate.equivalence import EXAMPLES_KEPT, Checker, Difference, EquivalenceResult
from migrate.errors import UserError
from migrate.fileio import pretty_json
from migrate.iac.terraform import keep_working_files, module_files
from migrate.inventory import inventory_to_dict
from migrate.inventory.model import Inventory
from migrate.plan_folder import PLAN_FORMAT_VERSION, SNAPSHOT, TERRAFORM_DIR, write_manifest
from migrate.translate import Translation
from migrate.translate.cloudformation import templates
from migrate.translate.render import file_name, policy_set_text
from migrate.translate.schema import schema_json

MARKER = "plan.json"


def check(translation: Translation, *, indexed: bool = True, users_detail: bool = False) -> EquivalenceResult:
    return Checker(translation.regime, translation.routes, namespace=translation.namespace,
                   schema=translation.schema, policies_text=policy_set_text(translation.policies),
                   indexed=indexed, store_layout=translation.store_layout, users_detail=users_detail).run()


def difference_cause(translation: Translation, diff: Difference) -> str:
    """``tightened`` when --tighten's dropped hosted-UI exposure explains the loss exactly (same scope, route and
    exposed class); anything else is ``unplanned``: a loss tightening does not explain is a translation problem,
    and must not hide behind the flag."""
    if not translation.tighten or diff.direction != "loses":
        return "unplanned"
    for finding in translation.findings:
        detail = finding.detail
        # Explained when every token that loses is a hosted-UI token of the tightened client (whoever holds it:
        # verify checks group combinations the translation's findings do not list).
        hosted = f"{detail.get('client_name') or detail.get('client_id')} (hosted-ui"
        if (finding.code == "latent-exposure" and detail.get("tightened") and detail.get("scope") in diff.scopes
                and diff.route in finding.routes and diff.flows and all(f.startswith(hosted) for f in diff.flows)):
            return "tightened"
    return "unplanned"


def plan_document(translation: Translation, result: EquivalenceResult, *, inventory: Inventory,
                  inventory_path: str, out: str = "PLAN_DIR") -> dict[str, Any]:
    classes = {c.key: c for c in result.classes}
    causes = {id(d): difference_cause(translation, d) for d in result.differences}

    def who(keys: set[str]) -> list[dict[str, Any]]:
        return [_who(classes[k]) for k in sorted(keys, key=lambda k: classes[k].label)]

    differences_by_route: dict[str, list[Any]] = {}
    for diff in result.differences:
        differences_by_route.setdefault(diff.route, []).append(diff)
    routes = []
    for route in translation.routes:
        findings = [f for f in translation.findings if route.route in f.routes and f.severity != "info"]
        diffs = differences_by_route.get(route.route, [])
        status, reasons = _status(route, findings, diffs, causes)
        authorizer = translation.api.authorizer(route.authorizer_id)
        routes.append({
            "route": route.route, "authorization_type": route.authorization_type, "scopes": list(route.scopes),
            "token_use": route.token_use, "actions": route.actions, "migrated": route.migrated,
            "status": status, "reasons": reasons,
            "today": who(result.today.get(route.route, set())) if route.migrated else [],
            "after": who(result.after.get(route.route, set())) if route.migrated else [],
            # Every real user who can call it (any verb), those of populations included (migrate.space).
            "users_today": result.users_today.get(route.route, 0) if route.migrated else 0,
            "users_after": result.users_after.get(route.route, 0) if route.migrated else 0,
            "policies": sorted(result.policies.get(route.route, set())),
            "backend_claims": list(route.backend_reads_claims),
            "proxy_integration": route.proxy_integration,
            "authorizer": {"id": authorizer.id, "name": authorizer.name, "type": authorizer.type}
            if authorizer else None,
        })
    summary: dict[str, int] = {"exact": 0, "needs review": 0, "blocked": 0, "unchanged": 0}
    for route in routes:
        summary[route["status"]] += 1
    api, pool = translation.api, translation.pool
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool_version": __version__,
        "api": {"id": api.id, "name": api.name, "stage": api.stage},
        "user_pool": {"id": pool.id, "arn": pool.arn, "name": pool.name},
        "namespace": translation.namespace,
        "layout": translation.layout,
        "store_layout": translation.store_layout,
        "tighten": translation.tighten,
        "inventory": {"path": inventory_path, "created_at": inventory.created_at},
        "summary": summary,
        "routes": routes,
        "principal_classes": [dict(_who(c), kind=c.kind) for c in result.classes],
        "populations": {"combinations": result.populations, "users": result.population_users},
        "policies": [{"id": p.policy_id, "file": f"policies/{file_name(i + 1, p.policy_id)}", "kind": p.kind,
                      "rule": p.rule_id, "scopes": list(p.scopes), "bytes": p.size}
                     for i, p in enumerate(translation.policies)],
        "findings": [{"code": f.code, "severity": f.severity, "message": f.message, "routes": list(f.routes),
                      "detail": f.detail} for f in translation.findings],
        "differences": [dict(asdict(d), cause=causes[id(d)]) for d in result.differences],  # examples: capped
        "token_mismatches": [asdict(m) for m in result.token_mismatches],
        "quotas": [{"name": q.name, "used": q.used, "limit": q.limit} for q in translation.quotas],
        "equivalence": {"equivalent": result.equivalent, "verdict": result.verdict,
                        "unproven_reasons": list(result.unproven_reasons), "decisions": result.decisions,
                        "requests": result.requests, "seconds": round(result.seconds, 3),
                        "classes": len(result.classes), "routes": len(result.routes)},
        "next_steps": _next_steps(translation, result, inventory_path, out),
    }


def _who(cls: Any) -> dict[str, Any]:
    """A principal class as plan.json names it: a few of its real users, and how many there are (a class such as
    "users in no group" can hold most of a pool: every route listing them all made plan files of hundreds of MB)."""
    return {"key": cls.key, "label": cls.label, "examples": list(cls.examples[:EXAMPLES_KEPT]), "users": len(cls.users)}


def _status(route: Any, findings: list[Any], diffs: list[Any], causes: dict[int, str]) -> tuple[str, list[str]]:
    if not route.migrated:
        return "unchanged", [route.why_not_migrated]
    reasons = []
    blocked = [f for f in findings if f.severity == "blocking"]
    reasons += [f.message for f in blocked]
    tightened = {d for d in diffs if causes[id(d)] == "tightened"}
    for diff in diffs:
        examples = f" (e.g. {', '.join(diff.examples[:3])})" if diff.examples else ""
        reasons.append(f"{diff.principal_label}{examples} {diff.direction} {diff.verb}"
                       + (" (tightened)" if diff in tightened else ""))
    reasons += [f.message for f in findings if f.severity == "review"]
    if blocked or any(d not in tightened for d in diffs):
        return "blocked", reasons
    if tightened or any(f.severity == "review" for f in findings):
        return "needs review", reasons
    return "exact", reasons


def _next_steps(translation: Translation, result: EquivalenceResult, inventory_path: str, out: str) -> list[str]:
    steps = [f"avp-migrate verify {inventory_path} --plan {out}"]
    if not result.equivalent and not translation.tighten:
        steps.insert(0, "review the differences above: fix the pre-token rules or the policies, then plan again")
    steps.append(f"avp-migrate deploy --plan {out} --mode shadow --dry-run")
    return steps


def write_plan(translation: Translation, result: EquivalenceResult, out: str | os.PathLike[str], *,
               inventory: Inventory, inventory_path: str) -> dict[str, Any]:
    """Write every output into a fresh temporary folder, then put it in place of ``out`` in one rename."""
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise UserError("exists and is not a folder; --out names the plan folder to write", where=str(target))
    if target.exists() and not (target / MARKER).exists() and any(target.iterdir()):
        raise UserError("exists, is not empty and holds no plan; choose another --out", where=str(target))
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"directory does not exist: {parent}", where=str(target))
    document = plan_document(translation, result, inventory=inventory, inventory_path=inventory_path,
                             out=str(out))
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        (staging / "policies").mkdir()
        (staging / "schema.json").write_text(translation.schema_text, encoding="utf-8")
        (staging / "schema.cedarschema").write_text(
            str(cedarpy.Schema.from_json_str(schema_json(translation.schema, compact=True))) + "\n", encoding="utf-8")
        for index, policy in enumerate(translation.policies, start=1):
            (staging / "policies" / file_name(index, policy.policy_id)).write_text(policy.text, encoding="utf-8")
        (staging / "authorizer-config.json").write_text(translation.authorizer_config().to_json(), encoding="utf-8")
        for name, text in templates(translation).files().items():  # the whole migration (nested when large)
            (staging / name).write_text(text, encoding="utf-8")
        (staging / TERRAFORM_DIR).mkdir()
        for name, text in module_files(translation).items():
            (staging / TERRAFORM_DIR / name).write_text(text, encoding="utf-8")
        from reports.plan_report import write_plan_report

        write_plan_report(document, staging)
        (staging / MARKER).write_text(pretty_json(document), encoding="utf-8")
        (staging / SNAPSHOT).write_text(pretty_json(inventory_to_dict(inventory)), encoding="utf-8")
        write_manifest(staging, tool_version=__version__)
        # A plan folder that has been deployed keeps its deployment record: undeploy, cutover and the next
        # deploy find what exists through it.
        deployed = target / "deployment.json"
        if deployed.exists():
            shutil.copy2(deployed, staging / "deployment.json")
        keep_working_files(target / TERRAFORM_DIR, staging / TERRAFORM_DIR)  # terraform state applied from there
        if target.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=parent))
            backup.rmdir()
            target.rename(backup)
            staging.rename(target)
            shutil.rmtree(backup)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return document
