"""The proof of a plan folder as it is on disk: what `verify --plan` reports and deploy's gate requires.

Everything deploy ships or takes is read from the files, never from a translation's memory:

* ``schema.json`` and ``policies/*.cedar`` are what the Cedar engine decides with (:class:`~migrate.equivalence.
  Checker`), each policy read as its own file with its ``@id`` (:meth:`PlanFolder.policies`);
* ``authorizer-config.json`` (bundled in the Lambda package as is) and ``cloudformation.json``'s identity source
  (which deploy creates in the store) must be what the snapshot translates to: the checker proves the policies
  *for* that route contract, client allow-list and entity types. An edited one is not covered by the proof: each
  such edit is a reason the proof is **unproven** (named with the paths that differ).

The verdict (:attr:`Proof.status`): ``equivalent``; ``differences`` (someone gains or loses a route verb, or a
token is decided differently: shadow mode would show it, and the gate will not pass it silently); ``unproven``
(verify's own reasons, when it has them, plus the contract edits above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from migrate.equivalence import Checker, Difference, EquivalenceResult, TokenMismatch
from migrate.errors import InvalidPlan
from migrate.plan_folder import CLOUDFORMATION, CONFIG, PLAN, SCHEMA, SNAPSHOT, PlanFolder, PolicyFile, inventory_sha256
from migrate.translate import LAYOUTS, translate
from migrate.translate.cloudformation import template

Status = Literal["equivalent", "differences", "unproven"]
MAX_PATHS = 4  # paths named per edited contract file


@dataclass
class Proof:
    result: EquivalenceResult
    unproven_reasons: list[str]
    files: dict[str, str]  # sha256 of every file the proof read, by name relative to the plan folder
    inventory_sha256: str  # the snapshot's content (see plan_folder.inventory_sha256)
    policies: tuple[PolicyFile, ...]

    @property
    def differences(self) -> list[Difference]:
        return list(self.result.differences)

    @property
    def token_mismatches(self) -> list[TokenMismatch]:
        return list(self.result.token_mismatches)

    @property
    def status(self) -> Status:
        if self.result.differences or self.result.token_mismatches:
            return "differences"
        # Anything verify does not call equivalent is not equivalent here either, whatever its reason.
        if self.unproven_reasons or not self.result.equivalent:
            return "unproven"
        return "equivalent"

    def items(self) -> list[str]:
        """One line per finding, in a canonical form: what an acceptance lists and deploy compares."""
        return sorted({*map(difference_item, self.result.differences),
                       *map(mismatch_item, self.result.token_mismatches),
                       *(f"UNPROVEN {reason}" for reason in self.unproven_reasons)})

    def summary(self) -> str:
        parts = []
        if self.result.differences:
            parts.append(f"{len(self.result.differences)} difference(s)")
        if self.result.token_mismatches:
            parts.append(f"{len(self.result.token_mismatches)} token(s) decided differently")
        if self.unproven_reasons:
            parts.append(f"{len(self.unproven_reasons)} reason(s) it is unproven")
        return ", ".join(parts) or "equivalent"


def difference_item(diff: Difference) -> str:
    return f"{diff.direction.upper()} {diff.route} [{diff.verb}]: {diff.principal_label} ({diff.principal})"


def mismatch_item(mismatch: TokenMismatch) -> str:
    def word(allowed: bool) -> str:
        return "allow" if allowed else "deny"

    return (f"TOKEN {mismatch.route} [{mismatch.verb}]: {mismatch.principal} via {mismatch.flow}: today "
            f"{word(mismatch.today)}, after {word(mismatch.after)}")


def prove(folder: PlanFolder, inventory: Any, *, api_id: str | None = None, pool_id: str | None = None,
          users_detail: bool = False) -> Proof:
    """Verify the folder's files as they are against ``inventory`` (today's regime)."""
    document = folder.plan_document()
    config = folder.config()
    schema = folder.schema()
    policies = folder.policies(schema)
    identity = folder.identity_source()
    layout = document.get("layout") if document.get("layout") in LAYOUTS else "scopes"
    # The store layout the plan was made with (older plans: one action per method); the authorizer config's own
    # layout is what the checker decides with, and the contract check names any departure.
    store_layout = document.get("store_layout") if document.get("store_layout") in ("actions", "routes") \
        else "actions"
    translation = translate(inventory, api_id=api_id or config.api_id, pool_id=pool_id or config.user_pools[0].id,
                            layout=str(layout), tighten=bool(document.get("tighten")), store_layout=str(store_layout))
    planned_routes = set(config.routes)
    missing = sorted(r.route for r in translation.migrated_routes if r.route not in planned_routes)
    if missing:
        raise InvalidPlan(f"the plan does not cover {', '.join(missing)} (the snapshot has methods the plan does "
                          "not know: plan again)", where=str(folder.path))
    declared = set((schema.get(config.namespace) or {}).get("actions") or {})
    undeclared = sorted({a for r in config.routes.values() for a in r.actions.values() if a not in declared})
    if undeclared:
        raise InvalidPlan(f"{SCHEMA} declares no action {undeclared[0]!r}", where=folder.where(SCHEMA))
    # The authorizer config as deploy ships it: its actions per verb, token types, scopes and client allow-list
    # are what the authorizer enforces, so the checker decides with the file's (a hand edit is verified as
    # edited); the contract check below also names every way it departs from the snapshot's translation.
    result = Checker(translation.regime, translation.routes, namespace=config.namespace, schema=schema,
                     policies_text="\n".join(p.text for p in policies), config=config,
                     users_detail=users_detail).run()
    reasons = list(result.unproven_reasons)
    reasons += _contract(CONFIG, _normal_config(translation.authorizer_config().to_dict()),
                         _normal_config(config.to_dict()))
    planned_source = template(translation)["Resources"]["IdentitySource"]["Properties"]
    cognito = planned_source["Configuration"]["CognitoUserPoolConfiguration"]
    expected_identity = {"pool_arn": cognito["UserPoolArn"], "client_ids": sorted(cognito["ClientIds"]),
                         "principal_entity_type": planned_source["PrincipalEntityType"],
                         "group_entity_type": cognito["GroupConfiguration"]["GroupEntityType"]}
    reasons += _contract(f"{CLOUDFORMATION} (identity source)", expected_identity,
                         dict(identity, client_ids=sorted(identity["client_ids"])))
    read = [SCHEMA, CONFIG, CLOUDFORMATION, PLAN, *(p.file for p in policies)]
    if folder.file(SNAPSHOT).is_file():
        read.append(SNAPSHOT)
    return Proof(result=result, unproven_reasons=reasons, files=folder.hashes(read),
                 inventory_sha256=inventory_sha256(inventory), policies=policies)


def _normal_config(data: dict[str, Any]) -> dict[str, Any]:
    """Order that means nothing (the client allow-list) is not a difference."""
    pools = [dict(p, client_ids=sorted(p.get("client_ids") or [])) for p in data.get("user_pools") or []]
    return dict(data, user_pools=pools)


def _contract(name: str, expected: Any, actual: Any) -> list[str]:
    paths = list(_paths(expected, actual, ""))
    if not paths:
        return []
    shown = "; ".join(paths[:MAX_PATHS]) + (f"; and {len(paths) - MAX_PATHS} more" if len(paths) > MAX_PATHS else "")
    return [f"{name} differs from what the snapshot translates to ({shown}): the proof covers the snapshot's "
            "configuration, and deploy ships the file as it is"]


def _paths(expected: Any, actual: Any, path: str) -> Any:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            where = f"{path}[{key!r}]" if path.endswith("routes") or " " in str(key) else \
                f"{path}.{key}" if path else str(key)
            if key not in actual:
                yield f"{where} missing"
            elif key not in expected:
                yield f"{where} added"
            else:
                yield from _paths(expected[key], actual[key], where)
    elif expected != actual:
        yield f"{path}: {_short(actual)} on disk, {_short(expected)} planned"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
